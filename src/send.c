// SPDX-License-Identifier: MIT
#include "send.h"

#include <endian.h>
#include <string.h>
#include <sys/uio.h>

#include "device.h"
#include "log.h"
#include "peer.h"

/* The destination of an IP packet, or 0 when it is not one. */
static int packet_dst(const uint8_t *pkt, uint32_t len, const uint8_t **dst)
{
	if (len >= 20 && pkt[0] >> 4 == 4) {
		*dst = pkt + 16;
		return AF_INET;
	}
	if (len >= 40 && pkt[0] >> 4 == 6) {
		*dst = pkt + 24;
		return AF_INET6;
	}
	return 0;
}

/* Under rcu_read_lock(). */
static struct wg_peer *route(struct wg_device *dev, const struct packet *p)
{
	struct allowedips_owner *owner;
	const uint8_t *dst;
	int family = packet_dst(p->buf + WG_SLOT_HEADROOM, p->len, &dst);

	if (!family)
		return NULL;
	owner = wg_allowedips_lookup(&dev->allowedips, family, dst);
	if (!owner)
		return NULL;
	return caa_container_of(owner, struct wg_peer, allowedips);
}

static void copy_packet(struct packet *to, const struct packet *from)
{
	memcpy(to->buf + WG_SLOT_HEADROOM, from->buf + WG_SLOT_HEADROOM,
	       from->len);
	to->len = from->len;
}

/* Moves the packets of b routed to peer into a batch of their own. */
static struct batch *split_off(struct wg_device *dev, struct batch *b,
			       struct wg_peer **peers, struct wg_peer *peer)
{
	struct batch *nb = wg_batch_get(&dev->pool, BATCH_TX);
	unsigned int i;

	for (i = 0; i < b->count; i++) {
		if (peers[i] != peer)
			continue;
		if (nb)
			copy_packet(&nb->pkts[nb->count++], &b->pkts[i]);
		else
			wg_stat_add(dev, drop_pool_empty, 1);
		peers[i] = NULL;
	}
	return nb;
}

static void submit_for(struct wg_peer *peer, struct batch *b)
{
	if (!b)
		return;
	if (!b->count || !wg_peer_get_unless_zero(peer)) {
		wg_batch_release(peer->dev, b);
		return;
	}
	b->peer = peer;
	wg_send_batch(peer, b);
}

void wg_send_route_batch(struct wg_device *dev, struct batch *b)
{
	struct wg_peer *peers[WG_BATCH_MAX], *first = NULL;
	unsigned int i, n = 0, dropped = 0;

	rcu_read_lock();
	for (i = 0; i < b->count; i++) {
		peers[i] = route(dev, &b->pkts[i]);
		if (!peers[i])
			dropped++;
		else if (!first)
			first = peers[i];
	}
	if (dropped)
		wg_stat_add(dev, drop_no_peer, dropped);
	/* Usually every packet goes to one peer; others get a copy each.
	 * split_off() clears peers[i], so the peer is read before it runs
	 * (the order in which call arguments are evaluated is unspecified). */
	for (i = 0; i < b->count; i++) {
		struct wg_peer *peer = peers[i];

		if (peer && peer != first)
			submit_for(peer, split_off(dev, b, peers, peer));
	}
	for (i = 0; i < b->count; i++)
		if (peers[i] == first) {
			if (i != n)
				copy_packet(&b->pkts[n], &b->pkts[i]);
			n++;
		}
	b->count = n;
	if (first)
		submit_for(first, b);
	else
		wg_batch_release(dev, b);
	rcu_read_unlock();
}

void wg_send_want_handshake(struct wg_peer *peer)
{
	if (!__atomic_exchange_n(&peer->handshake_wanted, 1, __ATOMIC_ACQ_REL))
		wg_waitq_wake(&peer->dev->timer_wait);
}

static bool keypair_wants_rekey(struct wg_device *dev, struct wg_keypair *kp,
				uint64_t now)
{
	const struct noise_keypair *nk = &kp->noise;

	if (wg_timers_should_rekey_on_send(nk, now))
		return true;
	return dev->opt.rekey_after_time_ns && nk->i_am_the_initiator &&
	       now - nk->sending.birthdate_ns >= dev->opt.rekey_after_time_ns;
}

/* Nonces and the ordered queue in one critical section, so that queue
 * order is nonce order. False when the keypair has run out of nonces. */
static bool enqueue_with_nonces(struct wg_peer *peer, struct batch *b,
				struct wg_keypair *kp)
{
	struct wg_ordered_queue *q = &peer->tx_queue;
	uint64_t counter;
	unsigned int i;

	pthread_spin_lock(&q->lock);
	counter = __atomic_fetch_add(&kp->noise.sending_counter, b->count,
				     __ATOMIC_RELAXED);
	if (counter >= REJECT_AFTER_MESSAGES ||
	    REJECT_AFTER_MESSAGES - counter < b->count) {
		pthread_spin_unlock(&q->lock);
		return false;
	}
	for (i = 0; i < b->count; i++)
		b->pkts[i].counter = counter + i;
	b->keypair = kp;
	wg_ordered_queue_append_locked(q, b);
	pthread_spin_unlock(&q->lock);
	return true;
}

void wg_send_batch(struct wg_peer *peer, struct batch *b)
{
	struct wg_device *dev = peer->dev;
	struct wg_keypair *kp = wg_peer_current_keypair(peer);
	uint64_t now = wg_now_ns();

	if (!kp || !wg_timers_keypair_usable_for_sending(&kp->noise, now) ||
	    !enqueue_with_nonces(peer, b, kp)) {
		wg_keypair_put(kp);
		wg_peer_stage_batch(peer, b);
		wg_send_want_handshake(peer);
		return;
	}
	if (keypair_wants_rekey(dev, kp, now))
		wg_send_want_handshake(peer);
	/* Idle pipeline, few packets: seal and send right here rather than
	 * wake two threads for them (a ping, a keepalive, an ACK). */
	if (b->count <= WG_INLINE_MAX && !wg_ring_len(&dev->crypt_ring)) {
		wg_send_encrypt_batch(dev, b);
		wg_batch_set_state(b, BATCH_DONE);
		wg_send_flush_peer(peer);
		return;
	}
	/* The crypt ring is larger than the pool: it cannot be full. */
	if (!wg_ring_push(&dev->crypt_ring, b)) {
		wg_batch_set_state(b, BATCH_DEAD);
		wg_send_flush_peer(peer);
	}
}

void wg_send_keepalive(struct wg_peer *peer)
{
	struct batch *b;

	if (__atomic_load_n(&peer->staged_count, __ATOMIC_RELAXED)) {
		wg_send_staged(peer);
		return;
	}
	b = wg_batch_get(&peer->dev->pool, BATCH_TX);
	if (!b)
		return;
	b->count = 1;
	b->pkts[0].len = 0;
	b->peer = wg_peer_get(peer);
	wg_send_batch(peer, b);
}

void wg_send_staged(struct wg_peer *peer)
{
	unsigned int n = __atomic_load_n(&peer->staged_count, __ATOMIC_RELAXED);
	struct batch *b;

	/* Only what was staged on entry: a batch that is staged again
	 * (still no keypair) waits for the next handshake. */
	while (n-- && (b = wg_peer_take_staged(peer)))
		wg_send_batch(peer, b);
}

/* One message to the peer from its sticky source; forgets a source the
 * kernel no longer takes. */
static void send_from(struct wg_peer *peer, const union wg_sockaddr *ep,
		      struct wg_src *src, const void *buf, size_t len)
{
	bool had = src->family != 0;

	wg_device_send_one(peer->dev, ep, src, buf, len);
	if (had && !src->family)
		wg_peer_clear_src(peer);
}

void wg_send_handshake_initiation(struct wg_peer *peer, bool is_retry)
{
	struct wg_device *dev = peer->dev;
	struct message_handshake_initiation msg;
	union wg_sockaddr ep;
	struct wg_src src;
	uint64_t now = wg_now_ns();
	uint32_t index;
	bool ok;

	pthread_mutex_lock(&peer->timers_lock);
	ok = wg_timers_should_send_initiation(&peer->timers, now, is_retry);
	if (ok)
		wg_timers_initiation_sent(&peer->timers, now);
	pthread_mutex_unlock(&peer->timers_lock);
	if (!ok)
		return;

	pthread_rwlock_rdlock(&dev->identity_lock);
	index = wg_index_table_insert(&dev->index_table, &peer->handshake_entry);
	ok = dev->identity.has_identity &&
	     wg_noise_handshake_create_initiation(&msg, &peer->handshake, index,
						  wg_realtime_ns());
	pthread_rwlock_unlock(&dev->identity_lock);
	if (!ok)
		return;
	wg_cookie_add_mac_to_packet(&msg, sizeof(msg), &peer->cookie, now);
	wg_peer_get_endpoint(peer, &ep, &src);
	log_debug("peer %llu: sending handshake initiation",
		  (unsigned long long)peer->id);
	if (ep.sa.sa_family)
		send_from(peer, &ep, &src, &msg, sizeof(msg));

	pthread_mutex_lock(&peer->timers_lock);
	wg_timers_any_authenticated_packet_traversal(&peer->timers, now);
	wg_timers_any_authenticated_packet_sent(&peer->timers);
	wg_timers_handshake_initiated(&peer->timers, now, wg_random_u32());
	pthread_mutex_unlock(&peer->timers_lock);
}

void wg_send_encrypt_batch(struct wg_device *dev, struct batch *b)
{
	unsigned int mtu = __atomic_load_n(&dev->mtu, __ATOMIC_RELAXED);
	uint8_t *bufs[WG_BATCH_MAX];
	uint64_t counters[WG_BATCH_MAX];
	size_t lens[WG_BATCH_MAX];
	unsigned int i;

	for (i = 0; i < b->count; i++) {
		bufs[i] = b->pkts[i].buf;
		lens[i] = b->pkts[i].len;
		counters[i] = b->pkts[i].counter;
	}
	wg_noise_seal_batch(bufs, lens, counters, b->count, mtu,
			    &b->keypair->noise);
	for (i = 0; i < b->count; i++) {
		b->pkts[i].len = (uint32_t)lens[i];
		b->pkts[i].ok = true;
	}
}

/* Sends one finished batch; true when it carried data (not only a
 * keepalive). */
static void send_one_batch(struct wg_peer *peer, struct batch *b,
			   const union wg_sockaddr *ep, struct wg_src *src,
			   uint64_t *bytes, bool *data)
{
	struct wg_device *dev = peer->dev;
	struct iovec iov[WG_BATCH_MAX];
	unsigned int i, sent = 0;

	if (wg_batch_get_state(b) == BATCH_DEAD || !ep->sa.sa_family) {
		wg_stat_add(dev, drop_no_endpoint, b->count);
		return;
	}
	for (i = 0; i < b->count; i++) {
		iov[i].iov_base = b->pkts[i].buf;
		iov[i].iov_len = b->pkts[i].len;
		if (b->pkts[i].len > WG_MESSAGE_MINIMUM_LENGTH)
			*data = true;
	}
	wg_device_send(dev, ep, src, iov, b->count, &sent);
	for (i = 0; i < sent; i++)
		*bytes += b->pkts[i].len;
	if (sent < b->count)
		wg_stat_add(dev, drop_send_error, b->count - sent);
	wg_stat_add(dev, udp_tx_packets, sent);
	wg_stat_add(dev, udp_tx_batches, 1);
}

static void sent_batches(struct wg_peer *peer, uint64_t bytes, bool data)
{
	uint64_t now = wg_now_ns();

	if (!bytes)
		return;
	__atomic_fetch_add(&peer->tx_bytes, bytes, __ATOMIC_RELAXED);
	pthread_mutex_lock(&peer->timers_lock);
	wg_timers_any_authenticated_packet_traversal(&peer->timers, now);
	wg_timers_any_authenticated_packet_sent(&peer->timers);
	if (data)
		wg_timers_data_sent(&peer->timers, now, wg_random_u32());
	pthread_mutex_unlock(&peer->timers_lock);
}

void wg_send_flush_peer(struct wg_peer *peer)
{
	struct batch *b, *next;
	union wg_sockaddr ep;
	struct wg_src src;
	uint64_t bytes;
	bool data, had;

	if (!wg_ordered_queue_begin_drain(&peer->tx_queue))
		return;
	do {
		b = wg_ordered_queue_pop_finished(&peer->tx_queue);
		bytes = 0;
		data = false;
		wg_peer_get_endpoint(peer, &ep, &src);
		had = src.family != 0;
		rcu_read_lock();
		for (; b; b = next) {
			next = b->next;
			send_one_batch(peer, b, &ep, &src, &bytes, &data);
			wg_batch_release(peer->dev, b);
		}
		rcu_read_unlock();
		if (had && !src.family)
			wg_peer_clear_src(peer);
		sent_batches(peer, bytes, data);
	} while (!wg_ordered_queue_end_drain(&peer->tx_queue));
}
