// SPDX-License-Identifier: MIT
/*
 * Peers and keypairs; see peer.h for the lifetime and lock rules.
 */
#include "peer.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "device.h"
#include "log.h"
#include "secmem.h"

static uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t wg_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t wg_realtime_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

uint32_t wg_random_u32(void)
{
	return randombytes_random();
}

/* Reserved peers wait on dev->spare_peers, linked through ->list. */
int wg_peer_reserve(struct wg_device *dev, size_t n)
{
	struct wg_peer *peer;
	struct cds_list_head *pos;
	size_t have = 0;

	cds_list_for_each(pos, &dev->spare_peers)
		have++;
	for (; have < n; have++) {
		peer = wg_secmem_alloc(sizeof(*peer));
		if (!peer)
			return -ENOMEM;
		cds_list_add(&peer->list, &dev->spare_peers);
	}
	return 0;
}

void wg_peer_unreserve(struct wg_device *dev)
{
	struct wg_peer *peer, *tmp;

	cds_list_for_each_entry_safe(peer, tmp, &dev->spare_peers, list) {
		cds_list_del(&peer->list);
		wg_secmem_free(peer, sizeof(*peer));
	}
}

static struct wg_peer *peer_alloc(struct wg_device *dev)
{
	struct wg_peer *peer;

	if (cds_list_empty(&dev->spare_peers))
		return wg_secmem_alloc(sizeof(struct wg_peer));
	peer = cds_list_first_entry(&dev->spare_peers, struct wg_peer, list);
	cds_list_del(&peer->list);
	memset(peer, 0, sizeof(*peer));
	return peer;
}

int wg_peer_create(struct wg_device *dev,
		   const uint8_t public_key[static WG_KEY_LEN],
		   struct wg_peer **out)
{
	struct wg_peer *peer = peer_alloc(dev);

	if (!peer)
		return -ENOMEM;
	peer->dev = dev;
	peer->id = ++dev->next_peer_id;
	peer->refcount = 1;
	memcpy(peer->public_key, public_key, WG_KEY_LEN);
	wg_allowedips_owner_init(&peer->allowedips);
	wg_noise_handshake_init(&peer->handshake, &dev->identity, public_key,
				NULL);
	peer->handshake_entry.peer = peer;
	peer->handshake_entry.type = INDEX_HANDSHAKE;
	wg_cookie_init(&peer->cookie, public_key);
	pthread_mutex_init(&peer->keypairs_lock, NULL);
	pthread_spin_init(&peer->endpoint_lock, PTHREAD_PROCESS_PRIVATE);
	pthread_mutex_init(&peer->timers_lock, NULL);
	wg_timers_init(&peer->timers);
	wg_ordered_queue_init(&peer->tx_queue);
	wg_ordered_queue_init(&peer->rx_queue);
	pthread_mutex_init(&peer->staged_lock, NULL);

	wg_peer_table_add(&dev->peer_table, peer);
	cds_list_add_tail_rcu(&peer->list, &dev->peers);
	dev->peer_count++;
	__atomic_fetch_add(&dev->peers_held, 1, __ATOMIC_RELAXED);
	*out = peer;
	return 0;
}

static void peer_free_rcu(struct rcu_head *head)
{
	struct wg_peer *peer = caa_container_of(head, struct wg_peer, rcu);
	struct wg_device *dev = peer->dev;

	wg_rcu_callback(head);
	if (peer->dead) {
		pthread_mutex_lock(&dev->removed_lock);
		cds_list_del(&peer->removed);
		pthread_mutex_unlock(&dev->removed_lock);
	}
	__atomic_fetch_sub(&dev->peers_held, 1, __ATOMIC_RELAXED);
	wg_noise_handshake_destroy(&peer->handshake);
	wg_cookie_destroy(&peer->cookie);
	pthread_mutex_destroy(&peer->keypairs_lock);
	pthread_spin_destroy(&peer->endpoint_lock);
	pthread_mutex_destroy(&peer->timers_lock);
	pthread_mutex_destroy(&peer->staged_lock);
	wg_ordered_queue_destroy(&peer->tx_queue);
	wg_ordered_queue_destroy(&peer->rx_queue);
	wg_secmem_free(peer, sizeof(*peer));
	wg_rcu_callback_done();
}

struct wg_peer *wg_peer_get(struct wg_peer *peer)
{
	__atomic_fetch_add(&peer->refcount, 1, __ATOMIC_RELAXED);
	return peer;
}

struct wg_peer *wg_peer_get_unless_zero(struct wg_peer *peer)
{
	int old = __atomic_load_n(&peer->refcount, __ATOMIC_RELAXED);

	do {
		if (!old)
			return NULL;
	} while (!__atomic_compare_exchange_n(&peer->refcount, &old, old + 1,
					      true, __ATOMIC_ACQUIRE,
					      __ATOMIC_RELAXED));
	return peer;
}

void wg_peer_put(struct wg_peer *peer)
{
	if (peer && __atomic_sub_fetch(&peer->refcount, 1, __ATOMIC_ACQ_REL) == 0)
		call_rcu(&peer->rcu, peer_free_rcu);
}

/* Must hold dev->config_lock. */
void wg_peer_remove(struct wg_peer *peer)
{
	struct wg_device *dev = peer->dev;

	__atomic_store_n(&peer->dead, 1, __ATOMIC_RELEASE);
	wg_peer_table_del(&dev->peer_table, peer);
	wg_allowedips_remove_by_owner(&dev->allowedips, &peer->allowedips);
	cds_list_del_rcu(&peer->list);
	dev->peer_count--;
	pthread_mutex_lock(&peer->timers_lock);
	wg_timers_stop(&peer->timers);
	pthread_mutex_unlock(&peer->timers_lock);
	wg_peer_zero_keys(peer);
	wg_peer_purge_staged(peer);
	pthread_mutex_lock(&dev->removed_lock);
	cds_list_add_tail(&peer->removed, &dev->removed_peers);
	pthread_mutex_unlock(&dev->removed_lock);
	log_debug("peer %llu removed", (unsigned long long)peer->id);
	wg_peer_put(peer);
}

static void keypair_free_rcu(struct rcu_head *head)
{
	struct wg_keypair *kp = caa_container_of(head, struct wg_keypair, rcu);

	wg_rcu_callback(head);
	wg_noise_keypair_clear(&kp->noise);
	wg_secmem_free(kp, sizeof(*kp));
	wg_rcu_callback_done();
}

struct wg_keypair *wg_keypair_get_unless_zero(struct wg_keypair *kp)
{
	int old = __atomic_load_n(&kp->refcount, __ATOMIC_RELAXED);

	do {
		if (!old)
			return NULL;
	} while (!__atomic_compare_exchange_n(&kp->refcount, &old, old + 1,
					      true, __ATOMIC_ACQUIRE,
					      __ATOMIC_RELAXED));
	return kp;
}

void wg_keypair_put(struct wg_keypair *kp)
{
	if (!kp || __atomic_sub_fetch(&kp->refcount, 1, __ATOMIC_ACQ_REL))
		return;
	wg_index_table_remove(&kp->peer->dev->index_table, &kp->entry);
	call_rcu(&kp->rcu, keypair_free_rcu);
}

struct wg_keypair *wg_peer_current_keypair(struct wg_peer *peer)
{
	struct wg_keypair *kp;

	rcu_read_lock();
	kp = rcu_dereference(peer->current);
	if (kp)
		kp = wg_keypair_get_unless_zero(kp);
	rcu_read_unlock();
	return kp;
}

/* Must hold peer->keypairs_lock. Swaps *slot for kp, dropping the old. */
static void slot_set(struct wg_keypair **slot, struct wg_keypair *kp)
{
	struct wg_keypair *old = *slot;

	rcu_assign_pointer(*slot, kp);
	if (old)
		wg_keypair_put(old);
}

void wg_peer_install_keypair(struct wg_peer *peer, struct wg_keypair *kp)
{
	pthread_mutex_lock(&peer->keypairs_lock);
	if (kp->noise.i_am_the_initiator) {
		/* A confirmed next keypair must not be lost: it becomes
		 * previous, so packets still in flight on it decrypt. */
		if (peer->next) {
			struct wg_keypair *next = peer->next;

			rcu_assign_pointer(peer->next, NULL);
			slot_set(&peer->previous, next);
			slot_set(&peer->current, NULL);
		} else {
			struct wg_keypair *cur = peer->current;

			rcu_assign_pointer(peer->current, NULL);
			slot_set(&peer->previous, cur);
		}
		slot_set(&peer->current, kp);
	} else {
		slot_set(&peer->next, kp);
		slot_set(&peer->previous, NULL);
	}
	pthread_mutex_unlock(&peer->keypairs_lock);
}

bool wg_peer_received_with_keypair(struct wg_peer *peer,
				   struct wg_keypair *kp)
{
	bool promoted = false;

	if (__atomic_load_n(&peer->next, __ATOMIC_ACQUIRE) != kp)
		return false;
	pthread_mutex_lock(&peer->keypairs_lock);
	if (peer->next == kp) {
		struct wg_keypair *cur = peer->current;

		rcu_assign_pointer(peer->current, NULL);
		slot_set(&peer->previous, cur);
		rcu_assign_pointer(peer->next, NULL);
		rcu_assign_pointer(peer->current, kp);
		promoted = true;
	}
	pthread_mutex_unlock(&peer->keypairs_lock);
	return promoted;
}

void wg_peer_zero_keys(struct wg_peer *peer)
{
	pthread_mutex_lock(&peer->keypairs_lock);
	slot_set(&peer->current, NULL);
	slot_set(&peer->previous, NULL);
	slot_set(&peer->next, NULL);
	pthread_mutex_unlock(&peer->keypairs_lock);
	wg_index_table_remove(&peer->dev->index_table, &peer->handshake_entry);
	wg_noise_handshake_clear(&peer->handshake);
}

void wg_peer_expire_current_keypairs(struct wg_peer *peer)
{
	pthread_mutex_lock(&peer->keypairs_lock);
	if (peer->current)
		__atomic_store_n(&peer->current->noise.sending_counter,
				 REJECT_AFTER_MESSAGES, __ATOMIC_RELAXED);
	if (peer->next)
		__atomic_store_n(&peer->next->noise.sending_counter,
				 REJECT_AFTER_MESSAGES, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&peer->keypairs_lock);
	wg_noise_handshake_clear(&peer->handshake);
}

void wg_peer_get_endpoint(struct wg_peer *peer, union wg_sockaddr *out,
			  struct wg_src *src)
{
	pthread_spin_lock(&peer->endpoint_lock);
	*out = peer->endpoint;
	if (src)
		*src = peer->endpoint_src;
	pthread_spin_unlock(&peer->endpoint_lock);
}

void wg_peer_set_endpoint(struct wg_peer *peer, const union wg_sockaddr *ep,
			  const struct wg_src *src)
{
	pthread_spin_lock(&peer->endpoint_lock);
	peer->endpoint = *ep;
	if (src)
		peer->endpoint_src = *src;
	else
		peer->endpoint_src.family = 0;
	pthread_spin_unlock(&peer->endpoint_lock);
}

void wg_peer_clear_src(struct wg_peer *peer)
{
	pthread_spin_lock(&peer->endpoint_lock);
	peer->endpoint_src.family = 0;
	pthread_spin_unlock(&peer->endpoint_lock);
}

void wg_batch_release(struct wg_device *dev, struct batch *b)
{
	wg_batch_uncharge(dev, b);
	wg_keypair_put(b->keypair);
	b->keypair = NULL;
	wg_peer_put(b->peer);
	b->peer = NULL;
	wg_batch_put(&dev->pool, b);
	wg_waitq_wake(&dev->pool_wait);
}

/* Under staged_lock. The senders peek at the count without the lock
 * (wg_send_staged), so every change is an atomic store. */
static void staged_count_add(struct wg_peer *peer, int n)
{
	__atomic_store_n(&peer->staged_count, peer->staged_count + n,
			 __ATOMIC_RELAXED);
}

void wg_peer_stage_batch(struct wg_peer *peer, struct batch *b)
{
	struct batch *dropped = NULL;

	/* Waiting for a handshake is not in flight: readers go on. */
	wg_batch_uncharge(peer->dev, b);
	pthread_mutex_lock(&peer->staged_lock);
	if (peer->staged_count >= WG_MAX_STAGED_BATCHES) {
		dropped = peer->staged_head;
		peer->staged_head = dropped->next;
		if (!peer->staged_head)
			peer->staged_tail = NULL;
		staged_count_add(peer, -1);
	}
	b->next = NULL;
	if (peer->staged_tail)
		peer->staged_tail->next = b;
	else
		peer->staged_head = b;
	peer->staged_tail = b;
	staged_count_add(peer, 1);
	pthread_mutex_unlock(&peer->staged_lock);
	if (dropped) {
		wg_stat_add(peer->dev, drop_staged, dropped->count);
		wg_batch_release(peer->dev, dropped);
	}
	/* A sender that found the peer before its removal may stage after
	 * wg_peer_remove() purged: nothing would ever send or free that
	 * batch, nor the peer it holds. The remover marks the peer dead
	 * before it purges under staged_lock, so one of us sees the other. */
	if (__atomic_load_n(&peer->dead, __ATOMIC_ACQUIRE))
		wg_peer_purge_staged(peer);
}

struct batch *wg_peer_take_staged(struct wg_peer *peer)
{
	struct batch *b;

	pthread_mutex_lock(&peer->staged_lock);
	b = peer->staged_head;
	if (b) {
		peer->staged_head = b->next;
		if (!peer->staged_head)
			peer->staged_tail = NULL;
		staged_count_add(peer, -1);
		b->next = NULL;
	}
	pthread_mutex_unlock(&peer->staged_lock);
	return b;
}

void wg_peer_purge_staged(struct wg_peer *peer)
{
	struct batch *b;

	while ((b = wg_peer_take_staged(peer))) {
		wg_stat_add(peer->dev, drop_staged, b->count);
		wg_batch_release(peer->dev, b);
	}
}
