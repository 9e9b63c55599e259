// SPDX-License-Identifier: MIT
#include "receive.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "offload.h"
#include "log.h"
#include "peer.h"
#include "secmem.h"
#include "send.h"

static uint32_t message_type(const struct packet *p)
{
	uint32_t type;

	memcpy(&type, p->buf, sizeof(type));
	return le32toh(type);
}

static bool handshake_length_ok(uint32_t type, uint32_t len)
{
	switch (type) {
	case WG_MSG_HANDSHAKE_INITIATION:
		return len == sizeof(struct message_handshake_initiation);
	case WG_MSG_HANDSHAKE_RESPONSE:
		return len == sizeof(struct message_handshake_response);
	case WG_MSG_HANDSHAKE_COOKIE:
		return len == sizeof(struct message_handshake_cookie);
	}
	return false;
}

/* Under rcu_read_lock(): a reference to the keypair a data message names,
 * or NULL. */
static struct wg_keypair *keypair_for(struct wg_device *dev,
				      const struct packet *p)
{
	const struct message_data *m = (const void *)p->buf;
	struct index_entry *e;

	e = wg_index_table_lookup(&dev->index_table, le32toh(m->key_idx),
				  INDEX_KEYPAIR);
	if (!e)
		return NULL;
	return wg_keypair_get_unless_zero(
		caa_container_of(e, struct wg_keypair, entry));
}

static void copy_datagram(struct packet *to, const struct packet *from)
{
	memcpy(to->buf, from->buf, from->len);
	to->len = from->len;
	to->src = from->src;
	to->dst = from->dst;
}

/* Set on UDP reader threads: where they write a small batch they open
 * themselves. */
static __thread struct wg_tun_writer *inline_writer;

void wg_receive_set_inline_writer(struct wg_tun_writer *w)
{
	inline_writer = w;
}

/* Appends to the peer's rx queue in arrival order, then to the crypt
 * ring, or, idle and small, opens and delivers it here. Takes b and its
 * references. */
static void submit_rx(struct wg_device *dev, struct batch *b)
{
	struct wg_peer *peer = b->peer;
	unsigned int i;

	for (i = 0; i < b->count; i++) {
		const struct message_data *m = (const void *)b->pkts[i].buf;

		b->pkts[i].counter = le64toh(m->counter);
	}
	pthread_spin_lock(&peer->rx_queue.lock);
	wg_ordered_queue_append_locked(&peer->rx_queue, b);
	pthread_spin_unlock(&peer->rx_queue.lock);
	if (inline_writer && b->count <= WG_INLINE_MAX &&
	    !wg_ring_len(&dev->crypt_ring)) {
		wg_receive_decrypt_batch(dev, b);
		wg_batch_set_state(b, BATCH_DONE);
		wg_receive_flush_peer(peer, inline_writer);
		return;
	}
	if (!wg_ring_push(&dev->crypt_ring, b)) {
		wg_batch_set_state(b, BATCH_DEAD);
		if (wg_ring_push(&dev->tun_writer_ring, wg_peer_get(peer)) ==
		    false)
			wg_peer_put(peer);
	}
}

/* Moves the data messages of keypair kp out of b into a new batch. */
static void split_keypair(struct wg_device *dev, struct batch *b,
			  struct wg_keypair **kps, struct wg_keypair *kp)
{
	struct batch *nb = wg_batch_get(&dev->pool, BATCH_RX);
	unsigned int i, n = 0;

	for (i = 0; i < b->count; i++) {
		if (kps[i] != kp)
			continue;
		if (nb)
			copy_datagram(&nb->pkts[nb->count++], &b->pkts[i]);
		kps[i] = NULL;
		n++;
	}
	if (!nb) {
		wg_stat_add(dev, drop_pool_empty, n);
		while (n--)
			wg_keypair_put(kp);
		return;
	}
	/* One reference for the batch; drop the extra per-packet ones. */
	while (--n)
		wg_keypair_put(kp);
	nb->keypair = kp;
	nb->peer = wg_peer_get(kp->peer);
	submit_rx(dev, nb);
}

/* Handshake messages may hold at most a quarter of the batch pool. The
 * ring is as deep as the pool, and a flood of initiations arrives faster
 * than workers can answer it even with cookies: without a cap it would
 * take every batch and readers would wait for one, data and all. Under
 * load begins at an eighth (see under_load()), well before the cap.
 *
 * At the cap, which message gets in would be a lottery that a flood wins:
 * a legitimate initiator, sending one initiation per REKEY_TIMEOUT, would
 * need many tries first to get a cookie, then to get in with it. So past
 * the cap, a source none of whose messages got in during the last second
 * may still queue one, in a ring of its own (at most an eighth of the
 * pool) that workers empty first. A flood from thousands of spoofed
 * addresses then gets one message a second per address through that ring
 * (all answered with cookies, the cheap way), and a peer with its own
 * address gets each of its tries in, without waiting behind the flood.
 * It is shut out only when flood addresses hold both its slots in the
 * table (see ratelimiter.h: about one run in a thousand for 4,096
 * addresses and 2^17 slots), or when the flood uses the peer's own
 * address; then it is a lottery again, as without this ring. */
enum lane { LANE_MAIN, LANE_FAIR, LANE_DROP };

static enum lane handshake_lane(struct wg_device *dev, const struct packet *p,
				uint64_t now)
{
	if (wg_ring_len(&dev->handshake_ring) < dev->pool.nbatches / 4)
		return LANE_MAIN;
	if (wg_ring_len(&dev->handshake_fair_ring) >= dev->pool.nbatches / 8 ||
	    !wg_source_recent_admit(&dev->handshake_sources, &p->src, now))
		return LANE_DROP;
	return LANE_FAIR;
}

/* hb[LANE_MAIN], hb[LANE_FAIR]: this read's batches for the two rings. */
static void to_handshake_ring(struct wg_device *dev, struct packet *p,
			      struct batch **hb, uint64_t now)
{
	enum lane lane = handshake_lane(dev, p, now);

	if (lane == LANE_DROP) {
		wg_stat_add(dev, drop_handshake, 1);
		return;
	}
	if (!hb[lane]) {
		hb[lane] = wg_batch_get(&dev->pool, BATCH_HANDSHAKE);
		if (!hb[lane]) {
			wg_stat_add(dev, drop_handshake, 1);
			return;
		}
	}
	if (lane == LANE_FAIR)
		wg_stat_add(dev, handshake_fair_queued, 1);
	copy_datagram(&hb[lane]->pkts[hb[lane]->count++], p);
}

static void push_handshakes(struct wg_device *dev, struct wg_ring *ring,
			    struct batch *hb)
{
	if (hb && !wg_ring_push(ring, hb)) {
		wg_stat_add(dev, drop_handshake, hb->count);
		wg_batch_release(dev, hb);
	}
}

void wg_receive_classify_batch(struct wg_device *dev, struct batch *b)
{
	struct wg_keypair *kps[WG_BATCH_MAX], *first = NULL;
	struct batch *hb[LANE_DROP] = { NULL, NULL }; /* by lane but DROP */
	unsigned int i, n = 0, bad = 0, unknown = 0;
	uint64_t now = 0;

	rcu_read_lock();
	for (i = 0; i < b->count; i++) {
		struct packet *p = &b->pkts[i];
		uint32_t type = p->len >= 4 ? message_type(p) : 0;

		kps[i] = NULL;
		if (type == WG_MSG_DATA && p->len >= WG_MESSAGE_MINIMUM_LENGTH) {
			kps[i] = keypair_for(dev, p);
			if (!kps[i])
				unknown++;
			else if (!first)
				first = kps[i];
		} else if (handshake_length_ok(type, p->len)) {
			if (!now)
				now = wg_now_ns();
			to_handshake_ring(dev, p, hb, now);
		} else {
			bad++;
		}
	}
	for (i = 0; i < b->count; i++)
		if (kps[i] && kps[i] != first)
			split_keypair(dev, b, kps, kps[i]);
	for (i = 0; i < b->count; i++) {
		if (kps[i] != first || !first)
			continue;
		if (i != n)
			copy_datagram(&b->pkts[n], &b->pkts[i]);
		if (n++)
			wg_keypair_put(first); /* keep one reference */
	}
	rcu_read_unlock();
	if (bad)
		wg_stat_add(dev, drop_bad_packet, bad);
	if (unknown)
		wg_stat_add(dev, drop_unknown_index, unknown);
	push_handshakes(dev, &dev->handshake_ring, hb[LANE_MAIN]);
	push_handshakes(dev, &dev->handshake_fair_ring, hb[LANE_FAIR]);
	b->count = n;
	if (!first) {
		wg_batch_release(dev, b);
		return;
	}
	b->keypair = first;
	b->peer = wg_peer_get(first->peer);
	submit_rx(dev, b);
}

void wg_receive_decrypt_batch(struct wg_device *dev, struct batch *b)
{
	const struct noise_keypair *kp = &b->keypair->noise;
	uint8_t *bufs[WG_BATCH_MAX];
	size_t lens[WG_BATCH_MAX];
	bool ok[WG_BATCH_MAX];
	unsigned int i;

	if (!wg_timers_keypair_usable_for_receiving(kp, wg_now_ns())) {
		for (i = 0; i < b->count; i++) {
			b->pkts[i].ok = false;
			b->pkts[i].len = 0;
		}
		return;
	}
	for (i = 0; i < b->count; i++) {
		bufs[i] = b->pkts[i].buf;
		lens[i] = b->pkts[i].len;
	}
	wg_noise_open_batch(bufs, lens, ok, b->count, kp);
	for (i = 0; i < b->count; i++) {
		b->pkts[i].ok = ok[i];
		b->pkts[i].len = (uint32_t)lens[i];
	}
}

/* The length an IP packet claims, and its source; 0 when malformed. */
static uint32_t inner_packet(const uint8_t *pkt, uint32_t len, int *family,
			     const uint8_t **src)
{
	uint32_t claimed;

	if (len >= 20 && pkt[0] >> 4 == 4) {
		claimed = (uint32_t)pkt[2] << 8 | pkt[3];
		*family = AF_INET;
		*src = pkt + 12;
		return claimed >= 20 && claimed <= len ? claimed : 0;
	}
	if (len >= 40 && pkt[0] >> 4 == 6) {
		claimed = ((uint32_t)pkt[4] << 8 | pkt[5]) + 40;
		*family = AF_INET6;
		*src = pkt + 8;
		return claimed <= len ? claimed : 0;
	}
	return 0;
}

struct rx_summary {
	uint64_t bytes;
	unsigned int authenticated;
	bool data;
	const struct packet *last; /* its sender is the endpoint now */
};

/* The packets of one batch that passed every check, to be written. */
struct rx_out {
	const uint8_t *pkts[WG_BATCH_MAX];
	size_t lens[WG_BATCH_MAX];
	unsigned int n;
};

/* Under rcu_read_lock(). Checks one opened packet; a good one goes to
 * out. */
static void deliver(struct wg_peer *peer, struct batch *b, struct packet *p,
		    struct rx_out *out, struct rx_summary *s)
{
	struct wg_device *dev = peer->dev;
	uint8_t *pkt = p->buf + sizeof(struct message_data);
	const uint8_t *src;
	uint32_t len;
	int family;

	if (!p->ok) {
		wg_stat_add(dev, drop_decrypt, 1);
		return;
	}
	if (!wg_replay_counter_validate(&b->keypair->noise.receiving_counter,
					p->counter)) {
		wg_stat_add(dev, drop_replay, 1);
		return;
	}
	s->authenticated++;
	s->bytes += p->len + WG_MESSAGE_MINIMUM_LENGTH;
	s->last = p;
	if (!p->len)
		return; /* keepalive */
	s->data = true;
	len = inner_packet(pkt, p->len, &family, &src);
	if (!len) {
		wg_stat_add(dev, drop_bad_packet, 1);
		return;
	}
	if (wg_allowedips_lookup(&dev->allowedips, family, src) !=
	    &peer->allowedips) {
		wg_stat_add(dev, drop_source, 1);
		return;
	}
	out->pkts[out->n] = pkt;
	out->lens[out->n++] = len;
}

int wg_tun_writer_init(struct wg_tun_writer *w, struct wg_device *dev,
		       unsigned int index)
{
	unsigned int i;

	memset(w, 0, sizeof(*w));
	w->fd = dev->tun.fds[index % dev->tun.nqueues];
	w->vnet_hdr = dev->tun.vnet_hdr;
	w->gro = w->vnet_hdr && dev->opt.tun_gro &&
		 (dev->tun.offloads & (TUN_F_TSO4 | TUN_F_TSO6));
	if (dev->tun.offloads & (WG_TUN_F_USO4 | WG_TUN_F_USO6))
		w->gro_flags = WG_GRO_UDP;
	for (i = 0; w->gro && i < sizeof(w->bufs) / sizeof(w->bufs[0]); i++) {
		w->bufs[i] = malloc(WG_GRO_BUF_SIZE);
		if (!w->bufs[i])
			return -ENOMEM;
	}
	return 0;
}

void wg_tun_writer_destroy(struct wg_tun_writer *w)
{
	unsigned int i;

	for (i = 0; i < sizeof(w->bufs) / sizeof(w->bufs[0]); i++)
		free(w->bufs[i]);
}

static void write_plain(struct wg_device *dev, struct wg_tun_writer *w,
			const struct rx_out *out)
{
	static const struct virtio_net_hdr none;
	unsigned int i, ok = 0;

	for (i = 0; i < out->n; i++) {
		struct iovec iov[2] = {
			{ (void *)&none, sizeof(none) },
			{ (void *)out->pkts[i], out->lens[i] },
		};
		int ret = w->vnet_hdr
				  ? wg_tun_writev(w->fd, iov, 2,
						  sizeof(none) + out->lens[i])
				  : wg_tun_write(w->fd, out->pkts[i],
						 out->lens[i]);

		ok += !ret;
	}
	wg_stat_add(dev, tun_tx_packets, ok);
	if (ok < out->n)
		wg_stat_add(dev, drop_send_error, out->n - ok);
}

/* GRO: in-order segments of a flow go out as one super-packet. */
static void write_coalesced(struct wg_device *dev, struct wg_tun_writer *w,
			    const struct rx_out *out)
{
	struct wg_gro_item items[WG_BATCH_MAX];
	unsigned int i, n, ok = 0, fail = 0;

	n = wg_gro_coalesce(out->pkts, out->lens, out->n, w->bufs,
			    WG_GRO_BUF_SIZE,
			    sizeof(w->bufs) / sizeof(w->bufs[0]), w->gro_flags,
			    items);
	for (i = 0; i < n; i++) {
		struct iovec iov[2] = {
			{ &items[i].hdr, sizeof(items[i].hdr) },
			{ (void *)items[i].pkt, items[i].len },
		};

		if (wg_tun_writev(w->fd, iov, 2,
				  sizeof(items[i].hdr) + items[i].len))
			fail += items[i].count;
		else
			ok += items[i].count;
	}
	wg_stat_add(dev, tun_tx_packets, ok);
	if (fail)
		wg_stat_add(dev, drop_send_error, fail);
}

/* Roaming: the endpoint follows the latest authenticated packet. Done
 * before the packets reach the TUN device, so that an answer to them
 * already goes to where they came from. */
static void roam(struct wg_peer *peer, const struct rx_summary *s)
{
	union wg_sockaddr ep;
	struct wg_src src;

	wg_peer_get_endpoint(peer, &ep, &src);
	if (memcmp(&ep, &s->last->src, sizeof(ep)) ||
	    memcmp(&src, &s->last->dst, sizeof(src)))
		wg_peer_set_endpoint(peer, &s->last->src, &s->last->dst);
}

static void received(struct wg_peer *peer, struct wg_keypair *kp,
		     struct rx_summary *s)
{
	uint64_t now = wg_now_ns();
	bool rekey, confirmed;

	__atomic_fetch_add(&peer->rx_bytes, s->bytes, __ATOMIC_RELAXED);
	confirmed = wg_peer_received_with_keypair(peer, kp);

	pthread_mutex_lock(&peer->timers_lock);
	if (confirmed) {
		wg_timers_handshake_complete(&peer->timers);
		__atomic_store_n(&peer->last_handshake_realtime_ns,
				 wg_realtime_ns(), __ATOMIC_RELAXED);
	}
	wg_timers_any_authenticated_packet_received(&peer->timers);
	wg_timers_any_authenticated_packet_traversal(&peer->timers, now);
	if (s->data)
		wg_timers_data_received(&peer->timers, now);
	rekey = wg_timers_should_rekey_on_receive(
		&kp->noise, now, peer->timers.sent_lastminute_handshake);
	if (rekey)
		peer->timers.sent_lastminute_handshake = true;
	pthread_mutex_unlock(&peer->timers_lock);
	if (confirmed)
		wg_send_staged(peer);
	if (rekey)
		wg_send_want_handshake(peer);
}

void wg_receive_flush_peer(struct wg_peer *peer, struct wg_tun_writer *w)
{
	struct wg_device *dev = peer->dev;
	struct batch *b, *next;

	if (!wg_ordered_queue_begin_drain(&peer->rx_queue))
		return;
	do {
		b = wg_ordered_queue_pop_finished(&peer->rx_queue);
		rcu_read_lock();
		for (; b; b = next) {
			struct rx_summary s = { 0 };
			struct rx_out out;
			unsigned int i;

			next = b->next;
			out.n = 0;
			if (wg_batch_get_state(b) != BATCH_DEAD)
				for (i = 0; i < b->count; i++)
					deliver(peer, b, &b->pkts[i], &out, &s);
			if (s.authenticated)
				roam(peer, &s);
			if (out.n > 1 && w->gro)
				write_coalesced(dev, w, &out);
			else if (out.n)
				write_plain(dev, w, &out);
			if (s.authenticated)
				received(peer, b->keypair, &s);
			wg_stat_add(dev, tun_tx_batches, 1);
			wg_batch_release(dev, b);
		}
		rcu_read_unlock();
	} while (!wg_ordered_queue_end_drain(&peer->rx_queue));
}

static struct noise_handshake *lookup_static(void *ctx,
					     const uint8_t key[WG_KEY_LEN])
{
	struct wg_device *dev = ctx;
	struct wg_peer *peer = wg_peer_table_lookup(&dev->peer_table, key);

	if (!peer || __atomic_load_n(&peer->dead, __ATOMIC_ACQUIRE))
		return NULL;
	return &peer->handshake;
}

static struct noise_handshake *lookup_index(void *ctx, uint32_t index)
{
	struct wg_device *dev = ctx;
	struct index_entry *e;

	e = wg_index_table_lookup(&dev->index_table, index, INDEX_HANDSHAKE);
	if (!e || __atomic_load_n(&e->peer->dead, __ATOMIC_ACQUIRE))
		return NULL;
	return &e->peer->handshake;
}

static struct wg_keypair *keypair_new(struct wg_peer *peer)
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

/* Derives and installs the keypair of a finished handshake; the keypair
 * takes over the handshake's index. */
static bool begin_session(struct wg_peer *peer, uint64_t now)
{
	struct wg_device *dev = peer->dev;
	struct wg_keypair *kp = keypair_new(peer);

	if (!kp)
		return false;
	if (!wg_noise_handshake_begin_session(&peer->handshake, &kp->noise,
					      now)) {
		wg_secmem_free(kp, sizeof(*kp));
		return false;
	}
	wg_index_table_replace(&dev->index_table, &peer->handshake_entry,
			       &kp->entry);
	wg_peer_install_keypair(peer, kp);
	pthread_mutex_lock(&peer->timers_lock);
	wg_timers_session_derived(&peer->timers, now);
	pthread_mutex_unlock(&peer->timers_lock);
	return true;
}

static void authenticated(struct wg_peer *peer, const struct packet *p,
			  uint64_t now)
{
	wg_peer_set_endpoint(peer, &p->src, &p->dst);
	pthread_mutex_lock(&peer->timers_lock);
	wg_timers_any_authenticated_packet_received(&peer->timers);
	wg_timers_any_authenticated_packet_traversal(&peer->timers, now);
	pthread_mutex_unlock(&peer->timers_lock);
}

static void consume_initiation(struct wg_device *dev, struct packet *p,
			       uint64_t now)
{
	struct message_handshake_response resp;
	struct noise_handshake *hs;
	struct wg_peer *peer;
	uint32_t index;
	bool ok;

	pthread_rwlock_rdlock(&dev->identity_lock);
	hs = wg_noise_handshake_consume_initiation((const void *)p->buf,
						   &dev->identity,
						   lookup_static, dev, now);
	if (!hs) {
		pthread_rwlock_unlock(&dev->identity_lock);
		wg_log_ratelimited(WG_LOG_VERBOSE,
				   "invalid handshake initiation dropped");
		wg_stat_add(dev, drop_handshake, 1);
		return;
	}
	peer = caa_container_of(hs, struct wg_peer, handshake);
	index = wg_index_table_insert(&dev->index_table, &peer->handshake_entry);
	ok = wg_noise_handshake_create_response(&resp, hs, index) &&
	     begin_session(peer, now);
	pthread_rwlock_unlock(&dev->identity_lock);
	if (!ok)
		return;
	authenticated(peer, p, now);
	wg_cookie_add_mac_to_packet(&resp, sizeof(resp), &peer->cookie, now);
	wg_device_send_one(dev, &p->src, &p->dst, &resp, sizeof(resp));
	pthread_mutex_lock(&peer->timers_lock);
	wg_timers_any_authenticated_packet_sent(&peer->timers);
	pthread_mutex_unlock(&peer->timers_lock);
	log_debug("peer %llu: handshake initiation answered",
		  (unsigned long long)peer->id);
}

static void consume_response(struct wg_device *dev, struct packet *p,
			     uint64_t now)
{
	struct noise_handshake *hs;
	struct wg_peer *peer;
	bool ok;

	pthread_rwlock_rdlock(&dev->identity_lock);
	hs = wg_noise_handshake_consume_response((const void *)p->buf,
						 &dev->identity, lookup_index,
						 dev);
	ok = hs && begin_session(caa_container_of(hs, struct wg_peer,
						  handshake),
				 now);
	pthread_rwlock_unlock(&dev->identity_lock);
	if (!ok) {
		wg_log_ratelimited(WG_LOG_VERBOSE,
				   "invalid handshake response dropped");
		wg_stat_add(dev, drop_handshake, 1);
		return;
	}
	peer = caa_container_of(hs, struct wg_peer, handshake);
	authenticated(peer, p, now);
	pthread_mutex_lock(&peer->timers_lock);
	wg_timers_handshake_complete(&peer->timers);
	peer->timers.sent_lastminute_handshake = false;
	pthread_mutex_unlock(&peer->timers_lock);
	__atomic_store_n(&peer->last_handshake_realtime_ns, wg_realtime_ns(),
			 __ATOMIC_RELAXED);
	log_debug("peer %llu: handshake complete",
		  (unsigned long long)peer->id);
	/* Confirm the keys to the responder at once: staged data, or a
	 * keepalive when there is none. */
	wg_send_keepalive(peer);
}

static void consume_cookie(struct wg_device *dev, struct packet *p,
			   uint64_t now)
{
	const struct message_handshake_cookie *m = (const void *)p->buf;
	struct index_entry *e;

	e = wg_index_table_lookup(&dev->index_table, le32toh(m->receiver_index),
				  INDEX_HANDSHAKE | INDEX_KEYPAIR);
	if (!e || !wg_cookie_message_consume(m, &e->peer->cookie, now))
		wg_stat_add(dev, drop_handshake, 1);
}

static bool under_load(struct wg_device *dev, uint64_t now)
{
	bool load;

	pthread_mutex_lock(&dev->load_lock);
	load = wg_cookie_under_load(&dev->load, wg_ring_len(&dev->handshake_ring),
				    dev->pool.nbatches, now);
	pthread_mutex_unlock(&dev->load_lock);
	return load;
}

static uint32_t sender_index(const struct packet *p)
{
	uint32_t index;

	/* Initiation and response both carry it right after the type. */
	memcpy(&index, p->buf + 4, sizeof(index));
	return le32toh(index);
}

/* MAC1 always; under load a valid cookie (MAC2) and the per-source
 * limit too. False when the message must go no further. */
static bool admit(struct wg_device *dev, struct packet *p, uint64_t now)
{
	bool load = under_load(dev, now);
	struct message_handshake_cookie reply;
	enum cookie_mac_state state;

	state = wg_cookie_validate_packet(&dev->cookie_checker, p->buf, p->len,
					  &p->src, load, now);
	if (state == INVALID_MAC)
		return false;
	if (!load)
		return true;
	if (state == VALID_MAC_BUT_NO_COOKIE) {
		wg_cookie_message_create(&reply, p->buf, p->len, sender_index(p),
					 &dev->cookie_checker, &p->src, now);
		wg_device_send_one(dev, &p->src, &p->dst, &reply, sizeof(reply));
		wg_stat_add(dev, handshake_cookies_sent, 1);
		return false;
	}
	if (!wg_ratelimiter_allow(&dev->ratelimiter, &p->src, now)) {
		wg_stat_add(dev, handshake_ratelimited, 1);
		return false;
	}
	return true;
}

void wg_receive_handshake_batch(struct wg_device *dev, struct batch *b)
{
	unsigned int i;

	rcu_read_lock();
	for (i = 0; i < b->count; i++) {
		struct packet *p = &b->pkts[i];
		uint32_t type = message_type(p);
		uint64_t now = wg_now_ns();

		if (type == WG_MSG_HANDSHAKE_COOKIE) {
			consume_cookie(dev, p, now);
			continue;
		}
		if (!admit(dev, p, now)) {
			wg_stat_add(dev, drop_handshake, 1);
			continue;
		}
		if (type == WG_MSG_HANDSHAKE_INITIATION)
			consume_initiation(dev, p, now);
		else
			consume_response(dev, p, now);
	}
	rcu_read_unlock();
}
