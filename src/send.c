// SPDX-License-Identifier: MIT
/*
 * Outbound, in the order a packet goes:
 *
 *   TUN reader     a burst from the TUN device; super-packets (TSO/USO)
 *                  cut into MTU-sized packets, straight into the slots
 *                  of a batch (wg_send_read_tun);
 *                  routed by allowed-IPs, one batch per peer;
 *                  nonces assigned and the batch appended to the peer's
 *                  tx queue in one critical section, so queue order is
 *                  nonce order (wg_send_batch); without a usable keypair
 *                  the batch is staged and a handshake asked for, and
 *                  behind staged batches it goes after them;
 *                  then onto the crypt ring, or, idle and small, sealed
 *                  and sent right here;
 *   crypto worker  sealed in place (wg_send_seal_batch), marked done, and
 *                  the peer handed to the UDP writers;
 *   UDP writer     the peer's finished batches sent in order, as
 *                  UDP_SEGMENT runs where possible (wg_send_flush_peer,
 *                  then device.c and socket.c).
 *
 * Keepalives and staged batches take the same path from wg_send_batch.
 */
#include "send.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "clock.h"
#include "crypto/crypto.h"
#include "device.h"
#include "handshake.h"
#include "log.h"
#include "offload.h"
#include "peer.h"

static void route_batch(struct wg_device *dev, struct batch *b);

/* ------------------------------------------------------------------ */
/* From the TUN device                                                  */

enum {
	TUN_ERROR_PAUSE_MS = 10,
	/* Where a super-packet with more pieces than a batch has slots
	 * (a tiny MSS, or a small --batch-size) is cut first, to be spread
	 * over as many batches as it takes. */
	SPARE_SLOTS = 512,
};

static void submit_tx(struct wg_tun_reader *r, struct batch *b)
{
	struct wg_device *dev = r->dev;

	b->caught_up = r->handed_on++ < wg_caught_up_batches(dev, BATCH_TX);
	wg_batch_charge(&dev->pool, b, b->count);
	wg_stat_add(dev, tun_rx_packets, b->count);
	wg_stat_add(dev, tun_rx_batches, 1);
	route_batch(dev, b);
}

/* A read error: the end when the device was deleted (wg-quick down
 * does that), else a counted-down complaint and a pause, so that an
 * error that persists cannot spin the reader. */
static void tun_gone(struct wg_device *dev, int ret)
{
	if (!ret)
		return;
	if (wg_tun_read_error_is_gone(ret)) {
		log_info("interface %s was deleted (TUN read: %s); shutting down",
			 dev->name, strerror(-ret));
		wg_device_request_stop(dev, 0);
		return;
	}
	wg_log_ratelimited(WG_LOG_ERROR, "TUN read: %s", strerror(-ret));
	poll(NULL, 0, TUN_ERROR_PAUSE_MS);
}

/* Plain packets (no virtio-net header): each read straight into the
 * next free slots, with room for one at the current MTU at least. */
static void tun_plain_burst(struct wg_tun_reader *r)
{
	struct wg_device *dev = r->dev;
	struct batch_pool *pool = &dev->pool;
	size_t want = wg_tx_room(wg_read_once(dev->mtu));
	struct batch *b = wg_batch_get_wait(pool, BATCH_TX);
	unsigned int got = 0;
	struct iovec iov;
	size_t len;
	int ret = 0;

	r->more = false;
	if (!b)
		return;
	while (wg_batch_room(pool, b) >= want) {
		iov.iov_base = b->slots + (size_t)b->used * WG_SLOT_SIZE +
			       WG_SLOT_HEADROOM;
		iov.iov_len = wg_batch_room(pool, b) - WG_SLOT_OVERHEAD;
		ret = wg_tun_read_burst(r->fd, &iov, 1, &len, &got);
		if (ret || !got) {
			if (!ret)
				r->handed_on = 0; /* the queue is empty */
			break;
		}
		wg_stat_add(dev, tun_rx_reads, 1);
		wg_batch_add(pool, b, wg_tx_room(len))->len = (uint32_t)len;
	}
	r->more = !ret && got;
	if (b->count)
		submit_tx(r, b);
	else
		wg_batch_put(pool, b);
	tun_gone(dev, ret);
}

/* Cuts one read into the n_slots slots at buf, stride slots apart;
 * returns how many packets, their lengths in lens, or 0 when the read
 * is malformed (counted). */
static unsigned int cut(struct wg_device *dev, const struct virtio_net_hdr *h,
			const uint8_t *pkt, size_t len, uint8_t *buf,
			unsigned int n_slots, unsigned int stride, size_t *lens)
{
	uint8_t *out[SPARE_SLOTS];
	unsigned int i, n, max = n_slots / stride;

	for (i = 0; i < max; i++)
		out[i] = buf + (size_t)i * stride * WG_SLOT_SIZE +
			 WG_SLOT_HEADROOM;
	if (wg_gso_split(h, pkt, len, out,
			 (size_t)stride * WG_SLOT_SIZE - WG_SLOT_OVERHEAD, lens,
			 max, &n)) {
		wg_stat_add(dev, drop_bad_packet, 1);
		return 0;
	}
	return n;
}

/* Pieces cut into the spare slots, copied into as many batches as they
 * take; returns the batch still being filled. */
static struct batch *spread(struct wg_tun_reader *r, struct batch *b,
			    const struct virtio_net_hdr *h, const uint8_t *pkt,
			    size_t len, unsigned int stride)
{
	struct wg_device *dev = r->dev;
	size_t lens[SPARE_SLOTS];
	unsigned int i, n;
	struct packet *p;

	n = cut(dev, h, pkt, len, r->spare, SPARE_SLOTS, stride, lens);
	for (i = 0; i < n; i++) {
		if (b && wg_batch_room(&dev->pool, b) < wg_tx_room(lens[i])) {
			submit_tx(r, b);
			b = NULL;
		}
		if (!b && !(b = wg_batch_get_wait(&dev->pool, BATCH_TX)))
			return NULL;
		/* A fresh batch holds a piece: stride <= batch_size. */
		p = wg_batch_add(&dev->pool, b, wg_tx_room(lens[i]));
		memcpy(p->buf + WG_SLOT_HEADROOM,
		       r->spare + (size_t)i * stride * WG_SLOT_SIZE +
			       WG_SLOT_HEADROOM,
		       lens[i]);
		p->len = (uint32_t)lens[i];
	}
	return b;
}

/*
 * virtio-net headers: a read may be a TSO/USO super-packet, cut here into
 * packets of the MTU, straight into the slots of the batch being filled,
 * each packet as many slots as the longest piece needs. A read with more
 * pieces than a batch holds is cut into spare slots first and spread
 * over as many batches as it takes. Returns the batch being filled.
 */
static struct batch *cut_read(struct wg_tun_reader *r, struct batch *b,
			      const struct virtio_net_hdr *h,
			      const uint8_t *pkt, size_t len)
{
	struct wg_device *dev = r->dev;
	struct batch_pool *pool = &dev->pool;
	unsigned int pieces, stride, i, n;
	size_t longest, lens[WG_BATCH_MAX];

	if (wg_gso_measure(h, pkt, len, &pieces, &longest)) {
		wg_stat_add(dev, drop_bad_packet, 1);
		return b;
	}
	stride = wg_slots_for(wg_tx_room(longest));
	if (longest > WG_MAX_PLAIN) {
		static int said;

		wg_device_too_big(dev, longest,
				  "a tunnel packet larger than WireGuard "
				  "carries",
				  &said);
		return b;
	}
	if (stride > pool->batch_size) {
		static int said;

		wg_device_too_big(dev, longest,
				  "a tunnel packet larger than a batch "
				  "(--batch-size) holds",
				  &said);
		return b;
	}
	if ((unsigned long)pieces * stride > pool->batch_size)
		return spread(r, b, h, pkt, len, stride);
	if (b && (pool->batch_size - b->used) < pieces * stride) {
		submit_tx(r, b);
		b = NULL;
	}
	if (!b && !(b = wg_batch_get_wait(pool, BATCH_TX)))
		return NULL;
	n = cut(dev, h, pkt, len, b->slots + (size_t)b->used * WG_SLOT_SIZE,
		pool->batch_size - b->used, stride, lens);
	for (i = 0; i < n; i++)
		wg_batch_reserve(pool, b, stride)->len = (uint32_t)lens[i];
	return b;
}

static void tun_vnet_burst(struct wg_tun_reader *r)
{
	const struct virtio_net_hdr *h = (const void *)r->super;
	const size_t hlen = sizeof(*h);
	struct wg_device *dev = r->dev;
	struct batch *b = NULL;
	ssize_t len;

	/* Read until the queue is empty or the in-flight limit is hit. */
	r->more = true;
	while (wg_batch_has_room(&dev->pool, BATCH_TX)) {
		len = wg_tun_read(r->fd, r->super, hlen + WG_OFFLOAD_MAX_PACKET);
		if (len < 0) {
			r->more = false;
			if (len == -EAGAIN)
				r->handed_on = 0; /* the queue is empty */
			else
				tun_gone(dev, (int)len);
			break;
		}
		wg_stat_add(dev, tun_rx_reads, 1);
		if ((size_t)len <= hlen)
			continue;
		b = cut_read(r, b, h, r->super + hlen, (size_t)len - hlen);
		if (b && b->used == dev->pool.batch_size) {
			submit_tx(r, b);
			b = NULL;
		}
	}
	if (b && b->count)
		submit_tx(r, b);
	else if (b)
		wg_batch_put(&dev->pool, b);
}

int wg_send_reader_init(struct wg_tun_reader *r, struct wg_device *dev,
			unsigned int index)
{
	memset(r, 0, sizeof(*r));
	r->dev = dev;
	r->fd = dev->tun.fds[index % dev->tun.nqueues];
	if (!dev->tun.vnet_hdr)
		return 0;
	r->super = malloc(sizeof(struct virtio_net_hdr) + WG_OFFLOAD_MAX_PACKET);
	r->spare = malloc((size_t)SPARE_SLOTS * WG_SLOT_SIZE);
	return r->super && r->spare ? 0 : -ENOMEM;
}

void wg_send_reader_destroy(struct wg_tun_reader *r)
{
	free(r->super);
	free(r->spare);
}

void wg_send_read_tun(struct wg_tun_reader *r)
{
	struct wg_device *dev = r->dev;

	wg_batch_wait_room(&dev->pool, BATCH_TX);
	/* A burst cut short by a full batch or the in-flight limit left
	 * packets behind: poll() would only say so. */
	if (!r->more && !wg_device_wait_readable(dev, &r->fd, 1, -1))
		return;
	if (dev->tun.vnet_hdr)
		tun_vnet_burst(r);
	else
		tun_plain_burst(r);
}

/* ------------------------------------------------------------------ */
/* Routing: one batch per peer                                          */

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

/* A tx packet into another batch, with its room to be sealed in place;
 * false when to is full. */
static bool copy_packet(const struct batch_pool *pool, struct batch *to,
			const struct packet *from)
{
	struct packet *p = wg_batch_add(pool, to, wg_tx_room(from->len));

	if (!p)
		return false;
	memcpy(p->buf + WG_SLOT_HEADROOM, from->buf + WG_SLOT_HEADROOM,
	       from->len);
	p->len = from->len;
	return true;
}

/* Moves the packets of b routed to peer into a batch of their own (they
 * fit: they took no more room in b). */
static struct batch *split_off(struct wg_device *dev, struct batch *b,
			       struct wg_peer **peers, struct wg_peer *peer)
{
	struct batch *nb = wg_batch_get(&dev->pool, BATCH_TX);
	unsigned int i;

	for (i = 0; i < b->count; i++) {
		if (peers[i] != peer)
			continue;
		if (!nb || !copy_packet(&dev->pool, nb, &b->pkts[i]))
			wg_stat_add(dev, drop_pool_empty, 1);
		peers[i] = NULL;
	}
	if (nb)
		nb->caught_up = b->caught_up;
	return nb;
}

static void submit_for(struct wg_peer *peer, struct batch *b)
{
	if (!b)
		return;
	if (!b->count || !wg_peer_get_unless_zero(peer)) {
		wg_batch_release(&peer->dev->pool, b);
		return;
	}
	b->peer = peer;
	wg_send_batch(peer, b);
}

static void route_batch(struct wg_device *dev, struct batch *b)
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
	/* The first peer's packets stay where they are; only their
	 * descriptors close up. */
	for (i = 0; i < b->count; i++)
		if (peers[i] == first)
			b->pkts[n++] = b->pkts[i];
	b->count = n;
	if (first)
		submit_for(first, b);
	else
		wg_batch_release(&dev->pool, b);
	rcu_read_unlock();
}

/* ------------------------------------------------------------------ */
/* Nonces, the ordered queue, and the crypt ring                        */

static void stage(struct wg_peer *peer, struct batch *b);
static struct batch *staged_pop(struct wg_peer *peer);
static void staged_unshare(struct wg_device *dev, unsigned int n);
static void seal(struct wg_device *dev, struct batch *b);

static bool keypair_wants_rekey(struct wg_device *dev, struct wg_keypair *kp,
				uint64_t now)
{
	const struct noise_keypair *nk = &kp->noise;

	if (wg_timers_should_rekey_on_send(nk, now))
		return true;
	return dev->opt.rekey_after_time_ns && nk->i_am_the_initiator &&
	       now - nk->sending.birthdate_ns >= dev->opt.rekey_after_time_ns;
}

/* Nonces for b's packets from kp; false when kp has run out of them.
 * Must hold the tx queue's lock, so that queue order is nonce order. */
static bool assign_nonces(struct batch *b, struct wg_keypair *kp)
{
	uint64_t counter;
	unsigned int i;

	counter = wg_fetch_add(kp->noise.sending_counter, b->count);
	if (counter >= REJECT_AFTER_MESSAGES ||
	    REJECT_AFTER_MESSAGES - counter < b->count)
		return false;
	for (i = 0; i < b->count; i++)
		b->pkts[i].counter = counter + i;
	b->keypair = kp;
	return true;
}

/* NO_KEYPAIR: none usable, or it has run out of nonces. */
enum enqueued { ENQUEUED, NO_KEYPAIR, BEHIND_STAGED };

/* Nonces and the ordered queue in one critical section. A batch may not
 * pass the staged ones: while any are staged it is refused
 * (BEHIND_STAGED), and wg_send_staged empties staged in one section of
 * the same lock, so a sender that finds none staged here also finds the
 * ones staged before it already queued. *alone tells whether b is the
 * peer's only tx batch in flight. */
static enum enqueued enqueue_with_nonces(struct wg_peer *peer,
					 struct batch *b,
					 struct wg_keypair *kp, bool *alone)
{
	struct wg_ordered_queue *q = &peer->tx_queue;
	enum enqueued ret = ENQUEUED;

	pthread_spin_lock(&q->lock);
	if (wg_read_once(peer->staged.len))
		ret = BEHIND_STAGED;
	else if (!assign_nonces(b, kp))
		ret = NO_KEYPAIR;
	else
		*alone = wg_ordered_queue_append_locked(q, b);
	pthread_spin_unlock(&q->lock);
	return ret;
}

/* b is queued with its nonces: sealed and sent right here, or by the
 * workers (wg_crypt_here). */
static void dispatch(struct wg_peer *peer, struct batch *b, bool alone)
{
	struct wg_device *dev = peer->dev;

	if (wg_crypt_here(dev, b, alone)) {
		seal(dev, b);
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

void wg_send_batch(struct wg_peer *peer, struct batch *b)
{
	struct wg_device *dev = peer->dev;
	struct wg_keypair *kp = wg_peer_current_keypair(peer);
	uint64_t now = wg_now_ns();
	enum enqueued ret = NO_KEYPAIR;
	bool alone = false;

	if (kp && wg_timers_keypair_usable_for_sending(&kp->noise, now)) {
		ret = enqueue_with_nonces(peer, b, kp, &alone);
		/* Staged batches go first: sent now, then b after them. */
		if (ret == BEHIND_STAGED) {
			wg_send_staged(peer);
			ret = enqueue_with_nonces(peer, b, kp, &alone);
		}
	}
	if (ret != ENQUEUED) {
		wg_keypair_put(kp);
		stage(peer, b);
		if (ret == BEHIND_STAGED)
			wg_send_staged(peer);
		else
			wg_handshake_want(peer);
		return;
	}
	if (keypair_wants_rekey(dev, kp, now))
		wg_handshake_want(peer);
	dispatch(peer, b, alone);
}

void wg_send_keepalive(struct wg_peer *peer)
{
	struct batch *b;

	if (wg_read_once(peer->staged.len)) {
		wg_send_staged(peer);
		return;
	}
	b = wg_batch_get(&peer->dev->pool, BATCH_TX);
	if (!b)
		return;
	wg_batch_add(&peer->dev->pool, b, wg_tx_room(0))->len = 0;
	b->peer = wg_peer_get(peer);
	wg_send_batch(peer, b);
}

void wg_send_session_ready(struct wg_peer *peer, bool confirm)
{
	unsigned int ms = peer->dev->opt.staged_delay_ms;
	unsigned int staged = wg_read_once(peer->staged.len);

	/* Test-only: a wider window for senders to race the staged
	 * batches (e2e_order looks for the line). */
	if (ms && staged) {
		log_info("peer %llu: %u staged batches wait %u ms "
			 "(WGPIPE_TEST_STAGED_DELAY_MS)",
			 (unsigned long long)peer->id, staged, ms);
		poll(NULL, 0, (int)ms);
	}
	if (confirm)
		wg_send_keepalive(peer);
	else
		wg_send_staged(peer);
}

/*
 * The staged batches, oldest first, queued in one section under
 * staged_lock and the tx queue's lock: nothing staged meanwhile, and no
 * sender's batch between them (enqueue_with_nonces). With no usable
 * keypair they stay, and a handshake is asked for.
 */
void wg_send_staged(struct wg_peer *peer)
{
	struct wg_ordered_queue *q = &peer->tx_queue;
	struct batch *queued[WG_MAX_STAGED_BATCHES], *b;
	bool alone[WG_MAX_STAGED_BATCHES], want = false;
	struct wg_keypair *kp;
	uint64_t now = wg_now_ns();
	unsigned int i, n = 0;

	if (!wg_read_once(peer->staged.len))
		return;
	kp = wg_peer_current_keypair(peer);
	if (!kp || !wg_timers_keypair_usable_for_sending(&kp->noise, now)) {
		wg_keypair_put(kp);
		wg_handshake_want(peer);
		return;
	}
	pthread_mutex_lock(&peer->staged_lock);
	pthread_spin_lock(&q->lock);
	while (n < WG_MAX_STAGED_BATCHES && (b = peer->staged.head)) {
		if (!assign_nonces(b, kp)) {
			want = true;
			break;
		}
		staged_pop(peer);
		/* One reference per batch; the first is the one we hold. */
		if (n)
			wg_ref_get(&kp->refcount);
		alone[n] = wg_ordered_queue_append_locked(q, b);
		queued[n++] = b;
	}
	pthread_spin_unlock(&q->lock);
	pthread_mutex_unlock(&peer->staged_lock);
	staged_unshare(peer->dev, n);
	if (!n)
		wg_keypair_put(kp);
	else if (keypair_wants_rekey(peer->dev, kp, now))
		want = true;
	if (want)
		wg_handshake_want(peer);
	for (i = 0; i < n; i++)
		dispatch(peer, queued[i], alone[i]);
}

/* ------------------------------------------------------------------ */
/* Staged: batches waiting for a keypair                                */

/* All peers' staged batches together may take a quarter of the pool:
 * traffic to peers that cannot be reached (a ping sweep over a hub's
 * allowed IPs) must not hold the batches that every other peer's
 * traffic needs. */
static unsigned int staged_cap(const struct wg_device *dev)
{
	return dev->pool.nbatches / 4;
}

/* Takes a place in all peers' share (staged_cap) for one more staged
 * batch; false when the share is taken. The batch gives the place back
 * when it leaves the staged lists for good (staged_unshare). */
static bool staged_share(struct wg_device *dev)
{
	if (wg_counter_add(dev->staged_batches, 1) <= staged_cap(dev))
		return true;
	wg_counter_sub(dev->staged_batches, 1);
	return false;
}

static void staged_unshare(struct wg_device *dev, unsigned int n)
{
	if (n)
		wg_counter_sub(dev->staged_batches, n);
}

/* Must hold staged_lock. */
static void staged_append(struct wg_peer *peer, struct batch *b)
{
	wg_batch_list_append(&peer->staged, b);
	peer->staged_packets += b->count;
}

/* Must hold staged_lock: the oldest staged batch, or NULL. */
static struct batch *staged_pop(struct wg_peer *peer)
{
	struct batch *b = wg_batch_list_pop(&peer->staged);

	if (b)
		peer->staged_packets -= b->count;
	return b;
}

/* Must hold staged_lock. Copies b's packets into the last staged batch
 * when all of them fit there (b is then left empty for the caller to
 * release); false, and nothing copied, when not. */
static bool staged_merge(struct wg_peer *peer, struct batch *b)
{
	struct batch_pool *pool = &peer->dev->pool;
	struct batch *tail = peer->staged.tail;
	unsigned int i, slots = 0;
	struct packet *from, *to;

	if (!tail)
		return false;
	for (i = 0; i < b->count; i++)
		slots += wg_slots_for(wg_tx_room(b->pkts[i].len));
	if (slots > pool->batch_size - tail->used)
		return false;
	for (i = 0; i < b->count; i++) {
		from = &b->pkts[i];
		to = wg_batch_add(pool, tail, wg_tx_room(from->len));
		memcpy(to->buf + WG_SLOT_HEADROOM,
		       from->buf + WG_SLOT_HEADROOM, from->len);
		to->len = from->len;
	}
	peer->staged_packets += b->count;
	return true;
}

/* Must hold staged_lock. Drops the first n packets of the oldest staged
 * batch, which has more; their slots stay taken until it is sent. */
static void staged_trim(struct wg_peer *peer, unsigned int n)
{
	struct batch *b = peer->staged.head;

	memmove(b->pkts, b->pkts + n, (b->count - n) * sizeof(b->pkts[0]));
	b->count -= n;
	peer->staged_packets -= n;
}

/* n staged packets that could not be kept: the device's count and the
 * peer's share of it. */
static void staged_count_drops(struct wg_peer *peer, unsigned int n)
{
	wg_stat_add(peer->dev, drop_staged, n);
	wg_peer_stat_add(peer, drop_no_keypair, n);
}

/* Drops what could not be kept, counted. */
static void staged_drop(struct wg_peer *peer, struct batch *b)
{
	staged_count_drops(peer, b->count);
	wg_batch_release(&peer->dev->pool, b);
}

/*
 * b waits for a keypair: merged into the last staged batch when it fits,
 * else staged as a batch of its own. That takes the place of the peer's
 * oldest when the peer has WG_MAX_STAGED_BATCHES or all peers have their
 * share of the pool (staged_cap), and b is dropped when the share is
 * taken and the peer has none to give. Then the oldest packets go while
 * more than WG_MAX_STAGED_PACKETS wait. The senders peek at the count
 * without staged_lock (wg_send_staged).
 */
static void stage(struct wg_peer *peer, struct batch *b)
{
	struct wg_device *dev = peer->dev;
	struct batch *drop[WG_MAX_STAGED_BATCHES + 1], *merged = NULL;
	unsigned int i, n = 0, excess, trimmed = 0;
	bool full;

	/* Waiting for a handshake is not in flight: readers go on. Whoever
	 * sends it later is no reader that has just read it: the workers
	 * seal it if it is large (wg_crypt_here). */
	wg_batch_uncharge(&dev->pool, b);
	b->caught_up = false;
	pthread_mutex_lock(&peer->staged_lock);
	if (staged_merge(peer, b)) {
		merged = b;
	} else {
		/* b takes the oldest's share when there is no other. */
		full = peer->staged.len >= WG_MAX_STAGED_BATCHES ||
		       !staged_share(dev);
		if (full && !peer->staged.len) {
			drop[n++] = b;
		} else {
			if (full)
				drop[n++] = staged_pop(peer);
			staged_append(peer, b);
		}
	}
	while (peer->staged_packets > WG_MAX_STAGED_PACKETS) {
		excess = peer->staged_packets - WG_MAX_STAGED_PACKETS;
		if (peer->staged.head->count > excess) {
			staged_trim(peer, excess);
			trimmed += excess;
			break;
		}
		drop[n++] = staged_pop(peer);
		staged_unshare(dev, 1);
	}
	pthread_mutex_unlock(&peer->staged_lock);
	if (trimmed)
		staged_count_drops(peer, trimmed);
	if (merged)
		wg_batch_release(&dev->pool, merged);
	for (i = 0; i < n; i++)
		staged_drop(peer, drop[i]);
	/* A sender that found the peer before its removal may stage after
	 * wg_peer_remove() purged: nothing would ever send or free that
	 * batch, nor the peer it holds. The remover marks the peer dead
	 * before it purges under staged_lock, so one of us sees the other. */
	if (wg_load_acquire(peer->dead))
		wg_send_purge_staged(peer);
}

static struct batch *take_staged(struct wg_peer *peer)
{
	struct batch *b;

	pthread_mutex_lock(&peer->staged_lock);
	b = staged_pop(peer);
	pthread_mutex_unlock(&peer->staged_lock);
	if (b)
		staged_unshare(peer->dev, 1);
	return b;
}

void wg_send_purge_staged(struct wg_peer *peer)
{
	struct batch *b;

	while ((b = take_staged(peer)))
		staged_drop(peer, b);
}

/* ------------------------------------------------------------------ */
/* Crypto worker                                                        */

/* Seals every packet of b in place, padded for the MTU of the moment. */
static void seal(struct wg_device *dev, struct batch *b)
{
	unsigned int mtu = wg_read_once(dev->mtu);
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

void wg_send_seal_batch(struct wg_device *dev, struct batch *b)
{
	/* Taken before the state flips: a writer may release b after. */
	struct wg_peer *peer = wg_peer_get(b->peer);

	seal(dev, b);
	wg_batch_set_state(b, BATCH_DONE);
	wg_peer_hand_to(&dev->udp_writer_ring, peer);
}

/* ------------------------------------------------------------------ */
/* UDP writer                                                           */

/* Sends one finished batch, adding to *bytes what left and setting *data
 * when it carried data (not only a keepalive). */
/* The largest message a UDP datagram to ep carries: 65,535 bytes less
 * the UDP header and, to an IPv4 address (v4-mapped ones too), the IPv4
 * header; IPv6's payload length leaves out its own header. */
static size_t max_message(const union wg_sockaddr *ep)
{
	if (ep->sa.sa_family == AF_INET6 &&
	    !IN6_IS_ADDR_V4MAPPED(&ep->in6.sin6_addr))
		return 65535 - 8;
	return 65535 - 20 - 8;
}

/* Sends one finished batch, adding to *bytes what left and setting *data
 * when it carried data (not only a keepalive). */
static void send_one_batch(struct wg_peer *peer, struct batch *b,
			   const union wg_sockaddr *ep, struct wg_src *src,
			   uint64_t *bytes, bool *data)
{
	struct wg_device *dev = peer->dev;
	struct iovec iov[WG_BATCH_MAX];
	unsigned int i, n = 0, sent = 0;
	size_t max;

	if (wg_batch_get_state(b) == BATCH_DEAD || !ep->sa.sa_family) {
		wg_stat_add(dev, drop_no_endpoint, b->count);
		return;
	}
	max = max_message(ep);
	for (i = 0; i < b->count; i++) {
		if (b->pkts[i].len > max) {
			static int said;

			wg_device_too_big(dev, b->pkts[i].len,
					  "a message larger, with its padding, "
					  "than a UDP datagram to the peer's "
					  "endpoint carries",
					  &said);
			continue;
		}
		iov[n].iov_base = b->pkts[i].buf;
		iov[n++].iov_len = b->pkts[i].len;
		if (b->pkts[i].len > WG_MESSAGE_MINIMUM_LENGTH)
			*data = true;
	}
	if (n)
		wg_device_send(dev, ep, src, iov, n, &sent);
	for (i = 0; i < sent; i++)
		*bytes += iov[i].iov_len;
	if (sent < n)
		wg_stat_add(dev, drop_send_error, n - sent);
	wg_stat_add(dev, udp_tx_packets, sent);
	wg_peer_stat_add(peer, tx_packets, sent);
	wg_stat_add(dev, udp_tx_batches, 1);
}

static void sent_batches(struct wg_peer *peer, uint64_t bytes, bool data)
{
	uint64_t now = wg_now_ns();

	if (!bytes)
		return;
	wg_counter_add(peer->tx_bytes, bytes);
	pthread_mutex_lock(&peer->timers_lock);
	wg_timers_any_authenticated_packet_traversal(&peer->timers, now);
	wg_timers_any_authenticated_packet_sent(&peer->timers);
	if (data)
		wg_timers_data_sent(&peer->timers, now, wg_random_u32());
	wg_peer_timers_unlock(peer);
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
	/* The batches hold the peer; once the last is released, a removed
	 * peer is kept only by this read section, so it spans the drain. */
	rcu_read_lock();
	do {
		b = wg_ordered_queue_pop_finished(&peer->tx_queue);
		bytes = 0;
		data = false;
		wg_peer_get_endpoint(peer, &ep, &src);
		had = src.family != 0;
		for (; b; b = next) {
			next = b->next;
			send_one_batch(peer, b, &ep, &src, &bytes, &data);
			wg_batch_release(&peer->dev->pool, b);
		}
		if (had && !src.family)
			wg_peer_clear_src(peer);
		sent_batches(peer, bytes, data);
	} while (!wg_ordered_queue_end_drain(&peer->tx_queue));
	rcu_read_unlock();
}
