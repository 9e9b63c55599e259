// SPDX-License-Identifier: MIT
/*
 * Peers and keypairs; see peer.h for the lifetime and lock rules.
 */
#include "peer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "log.h"
#include "secmem.h"
#include "send.h"

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
	pthread_mutex_init(&peer->handshake_mutex, NULL);
	pthread_mutex_init(&peer->keypairs_lock, NULL);
	pthread_spin_init(&peer->endpoint_lock, PTHREAD_PROCESS_PRIVATE);
	pthread_mutex_init(&peer->timers_lock, NULL);
	wg_timers_init(&peer->timers);
	wg_ordered_queue_init(&peer->tx_queue);
	wg_ordered_queue_init(&peer->rx_queue);
	pthread_mutex_init(&peer->staged_lock, NULL);

	wg_peer_table_add(&dev->peer_table, peer);
	cds_list_add_tail_rcu(&peer->list, &dev->peers);
	/* Read racily on the data path (wg_crypt_here). */
	wg_write_once(dev->peer_count, dev->peer_count + 1);
	wg_counter_add(dev->peers_held, 1);
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
	wg_counter_sub(dev->peers_held, 1);
	wg_noise_handshake_destroy(&peer->handshake);
	wg_cookie_destroy(&peer->cookie);
	pthread_mutex_destroy(&peer->handshake_mutex);
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
	wg_ref_get(&peer->refcount);
	return peer;
}

struct wg_peer *wg_peer_get_unless_zero(struct wg_peer *peer)
{
	return wg_ref_get_unless_zero(&peer->refcount) ? peer : NULL;
}

void wg_peer_put(struct wg_peer *peer)
{
	if (peer && wg_ref_put(&peer->refcount))
		call_rcu(&peer->rcu, peer_free_rcu);
}

void wg_peer_hand_to(struct wg_ring *writers, struct wg_peer *peer)
{
	if (!wg_ring_push(writers, peer))
		wg_peer_put(peer);
}

/* Must hold dev->config_lock. */
void wg_peer_remove(struct wg_peer *peer)
{
	struct wg_device *dev = peer->dev;

	wg_store_release(peer->dead, 1);
	wg_peer_table_del(&dev->peer_table, peer);
	wg_allowedips_remove_by_owner(&dev->allowedips, &peer->allowedips);
	cds_list_del_rcu(&peer->list);
	wg_write_once(dev->peer_count, dev->peer_count - 1);
	pthread_mutex_lock(&peer->timers_lock);
	wg_timers_stop(&peer->timers);
	pthread_mutex_unlock(&peer->timers_lock);
	wg_peer_zero_keys(peer);
	wg_send_purge_staged(peer);
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

struct wg_keypair *wg_keypair_new(struct wg_peer *peer)
{
	struct wg_keypair *kp = wg_secmem_alloc(sizeof(*kp));

	if (!kp)
		return NULL;
	kp->peer = peer;
	kp->refcount = 1; /* the slot it is installed in */
	kp->entry.peer = peer;
	kp->entry.type = INDEX_KEYPAIR;
	return kp;
}

void wg_keypair_discard(struct wg_keypair *kp)
{
	wg_secmem_free(kp, sizeof(*kp));
}

struct wg_keypair *wg_keypair_get_unless_zero(struct wg_keypair *kp)
{
	return wg_ref_get_unless_zero(&kp->refcount) ? kp : NULL;
}

void wg_keypair_put(struct wg_keypair *kp)
{
	if (!kp || !wg_ref_put(&kp->refcount))
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

/* The slots change so that a reader never finds current empty while a
 * session stands: a sender that found it empty would stage its batch,
 * and the batches read after it, sent at once on the new keypair, would
 * overtake it. Each slot's reference moves with its pointer; the ones
 * left over are dropped once no slot points to them. */
void wg_peer_install_keypair(struct wg_peer *peer, struct wg_keypair *kp)
{
	struct wg_keypair *drop1, *drop2 = NULL;

	pthread_mutex_lock(&peer->keypairs_lock);
	drop1 = peer->previous;
	if (kp->noise.i_am_the_initiator) {
		/* A confirmed next keypair must not be lost: it becomes
		 * previous, so packets still in flight on it decrypt. */
		if (peer->next) {
			drop2 = peer->current;
			rcu_assign_pointer(peer->previous, peer->next);
			rcu_assign_pointer(peer->next, NULL);
		} else {
			rcu_assign_pointer(peer->previous, peer->current);
		}
		rcu_assign_pointer(peer->current, kp);
	} else {
		drop2 = peer->next;
		rcu_assign_pointer(peer->next, kp);
		rcu_assign_pointer(peer->previous, NULL);
	}
	pthread_mutex_unlock(&peer->keypairs_lock);
	wg_keypair_put(drop1);
	wg_keypair_put(drop2);
}

bool wg_peer_received_with_keypair(struct wg_peer *peer,
				   struct wg_keypair *kp)
{
	struct wg_keypair *drop = NULL;
	bool promoted = false;

	if (wg_load_acquire(peer->next) != kp)
		return false;
	pthread_mutex_lock(&peer->keypairs_lock);
	if (peer->next == kp) {
		drop = peer->previous;
		rcu_assign_pointer(peer->previous, peer->current);
		rcu_assign_pointer(peer->current, kp);
		rcu_assign_pointer(peer->next, NULL);
		promoted = true;
	}
	pthread_mutex_unlock(&peer->keypairs_lock);
	wg_keypair_put(drop);
	return promoted;
}

void wg_peer_zero_keys(struct wg_peer *peer)
{
	pthread_mutex_lock(&peer->handshake_mutex);
	pthread_mutex_lock(&peer->keypairs_lock);
	slot_set(&peer->current, NULL);
	slot_set(&peer->previous, NULL);
	slot_set(&peer->next, NULL);
	pthread_mutex_unlock(&peer->keypairs_lock);
	wg_index_table_remove(&peer->dev->index_table, &peer->handshake_entry);
	wg_noise_handshake_clear(&peer->handshake);
	pthread_mutex_unlock(&peer->handshake_mutex);
}

void wg_peer_expire_current_keypairs(struct wg_peer *peer)
{
	pthread_mutex_lock(&peer->keypairs_lock);
	if (peer->current)
		wg_write_once(peer->current->noise.sending_counter,
			      REJECT_AFTER_MESSAGES);
	if (peer->next)
		wg_write_once(peer->next->noise.sending_counter,
			      REJECT_AFTER_MESSAGES);
	pthread_mutex_unlock(&peer->keypairs_lock);
	pthread_mutex_lock(&peer->handshake_mutex);
	wg_index_table_remove(&peer->dev->index_table, &peer->handshake_entry);
	wg_noise_handshake_clear(&peer->handshake);
	pthread_mutex_unlock(&peer->handshake_mutex);
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

/* Must hold dev->config_lock. */
void wg_peer_remove_all(struct wg_device *dev)
{
	struct wg_peer *peer, *tmp;

	cds_list_for_each_entry_safe(peer, tmp, &dev->peers, list)
		wg_peer_remove(peer);
}
