// SPDX-License-Identifier: MIT
/*
 * Inbound, in the order a datagram goes:
 *
 *   UDP reader     a burst of datagrams (recvmmsg), or with UDP_GRO runs
 *                  of them cut back into datagrams, into the slots of a
 *                  batch (wg_receive_read_udp; a data message cut from a
 *                  run leaves only its header there until it is opened
 *                  or handed on, see cut_run);
 *                  sorted: data messages by receiver index to their
 *                  keypair, one batch per keypair; handshake messages to
 *                  the handshake rings (handshake.c); the rest dropped;
 *                  each data batch appended to its peer's rx queue in
 *                  arrival order, then onto the crypt ring, or, idle and
 *                  small, opened (from the run, into the slots) and
 *                  delivered right here;
 *   crypto worker  opened in place (wg_receive_open_batch), marked done,
 *                  and the peer handed to the TUN writers;
 *   TUN writer     the peer's finished batches, in order: replay window,
 *                  keypair confirmation, roaming, timers, the allowed-IPs
 *                  source check, and what passed written to the TUN
 *                  device, coalesced where it can be (wg_receive_flush_peer,
 *                  then tun.c).
 */
#include "receive.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "device.h"
#include "handshake.h"
#include "log.h"
#include "peer.h"
#include "send.h"

_Static_assert((int)WG_TUN_WRITER_MAX >= (int)WG_BATCH_MAX,
	       "a TUN writer takes a whole batch");

static void classify_batch(struct wg_device *dev, struct batch *b,
			   struct wg_tun_writer *w);
static void open_batch(struct wg_device *dev, struct batch *b);

/* ------------------------------------------------------------------ */
/* From the UDP sockets                                                 */

#ifndef UDP_GRO
#define UDP_GRO 104
#endif

/* UDP_GRO: the kernel hands over runs of datagrams glued together,
 * each up to 64 KiB, with the size of the pieces in a control message. */
enum { GRO_BUFS = 8 };

struct wg_udp_gro {
	uint8_t *big;
	struct mmsghdr msgs[GRO_BUFS];
	struct iovec iov[GRO_BUFS];
	union wg_sockaddr src[GRO_BUFS];
	union {
		char buf[WG_RECV_CMSG_SPACE];
		struct cmsghdr align;
	} ctl[GRO_BUFS];
};

int wg_receive_reader_init(struct wg_udp_reader *r, struct wg_device *dev,
			   unsigned int index, int stop_fd)
{
	struct wg_socket_set *s = dev->sockets;

	memset(r, 0, sizeof(*r));
	r->dev = dev;
	r->stop_fd = stop_fd;
	if (s->fd4 >= 0)
		r->fds[r->nfds++] = s->fd4;
	if (s->fd6 >= 0)
		r->fds[r->nfds++] = s->fd6;
	/* Without its buffers, the reader opens nothing itself; with no
	 * crypto workers to do it instead, it cannot run. */
	r->has_writer = !wg_tun_writer_init(&r->writer, &dev->tun, index,
					    dev->opt.tun_gro);
	if (!r->has_writer && !dev->opt.crypto_workers)
		return -ENOMEM;
	if (!s->gro)
		return 0;
	r->gro = calloc(1, sizeof(*r->gro));
	if (r->gro)
		r->gro->big = malloc((size_t)GRO_BUFS * WG_UDP_GRO_MAX);
	return r->gro && r->gro->big ? 0 : -ENOMEM;
}

void wg_receive_reader_destroy(struct wg_udp_reader *r)
{
	wg_tun_writer_destroy(&r->writer);
	if (r->gro)
		free(r->gro->big);
	free(r->gro);
}

static void submit_read(struct wg_udp_reader *r, struct batch *b)
{
	struct wg_device *dev = r->dev;

	b->caught_up = r->handed_on++ < wg_caught_up_batches(dev, BATCH_RX);
	wg_batch_charge(&dev->pool, b, b->count);
	wg_stat_add(dev, udp_rx_packets, b->count);
	wg_stat_add(dev, udp_rx_batches, 1);
	classify_batch(dev, b, r->has_writer ? &r->writer : NULL);
}

/* Without UDP_GRO: each datagram straight into slots of its own, as many
 * as one of the largest at our MTU takes; returns how many came. */
static unsigned int udp_burst(struct wg_device *dev, int fd, struct batch *b,
			      bool *empty)
{
	static __thread union {
		char buf[WG_RECV_CMSG_SPACE];
		struct cmsghdr align;
	} ctl[WG_BATCH_MAX];
	struct mmsghdr msgs[WG_BATCH_MAX];
	struct iovec iov[WG_BATCH_MAX];
	unsigned int stride = wg_slots_for(wg_tx_room(wg_read_once(dev->mtu)));
	unsigned int i, n = 0, kept = 0;
	struct packet *p;
	int got;

	while ((p = wg_batch_reserve(&dev->pool, b, stride))) {
		iov[n].iov_base = p->buf;
		iov[n].iov_len = (size_t)stride * WG_SLOT_SIZE;
		msgs[n].msg_hdr = (struct msghdr){
			.msg_name = &p->src,
			.msg_namelen = sizeof(p->src),
			.msg_iov = &iov[n],
			.msg_iovlen = 1,
			.msg_control = ctl[n].buf,
			.msg_controllen = sizeof(ctl[n].buf),
		};
		n++;
	}
	got = wg_socket_recv_burst(fd, msgs, n);
	if (got > 0)
		wg_stat_add(dev, udp_rx_reads, got);
	for (i = 0; got > 0 && i < (unsigned int)got; i++) {
		p = &b->pkts[i];
		if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
			static int said;

			wg_device_too_big(dev, msgs[i].msg_len,
					  "a datagram longer than our MTU "
					  "allows, with UDP_GRO off",
					  &said);
			continue;
		}
		wg_src_from_cmsg(&p->dst, &msgs[i].msg_hdr);
		p->len = msgs[i].msg_len;
		b->pkts[kept++] = *p;
	}
	b->count = kept;
	*empty = got < (int)n;
	return kept;
}

/* Both bursts: true when the burst filled every buffer it had, so that
 * the socket may hold more. */
static bool udp_plain_burst(struct wg_udp_reader *r, int fd)
{
	struct wg_device *dev = r->dev;
	struct batch *b = wg_batch_get_wait(&dev->pool, BATCH_RX);
	bool empty = true;

	if (!b)
		return false;
	if (udp_burst(dev, fd, b, &empty)) {
		if (empty)
			r->handed_on = 0;
		submit_read(r, b);
	} else {
		wg_batch_put(&dev->pool, b);
	}
	return !empty;
}

static unsigned int gro_size(struct msghdr *m, unsigned int len)
{
	struct cmsghdr *c;
	int size;

	for (c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c))
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
			memcpy(&size, CMSG_DATA(c), sizeof(size));
			return size > 0 ? (unsigned int)size : len;
		}
	return len;
}

/* Cuts one received run into the batch's slots, handing on full
 * batches; returns the batch still being filled. A data message leaves
 * only its header in the slot and the rest where it is (p->from): it is
 * opened from there into the slot, or copied when its batch goes to the
 * crypto workers (submit_data), before the run's buffer is read into
 * again. */
static struct batch *cut_run(struct wg_udp_reader *r, struct batch *b,
			     const uint8_t *data, unsigned int len,
			     unsigned int size, const union wg_sockaddr *src,
			     const struct wg_src *dst)
{
	struct wg_device *dev = r->dev;
	unsigned int off, seg;
	struct packet *p;

	for (off = 0; off < len; off += size) {
		seg = len - off < size ? len - off : size;
		if (wg_slots_for(seg) > dev->pool.batch_size) {
			static int said;

			wg_device_too_big(dev, seg,
					  "a datagram larger than a batch "
					  "(--batch-size) holds",
					  &said);
			continue;
		}
		if (b && wg_batch_room(&dev->pool, b) < seg) {
			submit_read(r, b);
			b = NULL;
		}
		if (!b && !(b = wg_batch_get_wait(&dev->pool, BATCH_RX))) {
			wg_stat_add(dev, drop_pool_empty, 1);
			continue;
		}
		p = wg_batch_add(&dev->pool, b, seg);
		p->len = seg;
		if (seg >= WG_MESSAGE_MINIMUM_LENGTH &&
		    wg_message_type(data + off) == WG_MSG_DATA) {
			memcpy(p->buf, data + off, sizeof(struct message_data));
			p->from = data + off;
		} else {
			memcpy(p->buf, data + off, seg);
		}
		p->src = *src;
		p->dst = *dst;
	}
	return b;
}

static bool udp_gro_burst(struct wg_udp_reader *r, int fd)
{
	struct wg_udp_gro *rx = r->gro;
	struct wg_device *dev = r->dev;
	struct batch *b = NULL;
	unsigned int i, len;
	int got;

	for (i = 0; i < GRO_BUFS; i++) {
		rx->iov[i].iov_base = rx->big + (size_t)i * WG_UDP_GRO_MAX;
		rx->iov[i].iov_len = WG_UDP_GRO_MAX;
		rx->msgs[i] = (struct mmsghdr){
			.msg_hdr = {.msg_name = &rx->src[i],
				    .msg_namelen = sizeof(rx->src[i]),
				    .msg_iov = &rx->iov[i],
				    .msg_iovlen = 1,
				    .msg_control = rx->ctl[i].buf,
				    .msg_controllen = sizeof(rx->ctl[i].buf)},
		};
	}
	got = wg_socket_recv_burst(fd, rx->msgs, GRO_BUFS);
	if (got > 0)
		wg_stat_add(dev, udp_rx_reads, got);
	/* Read, and the socket is empty. (Not when nothing came: the other
	 * socket of the set may be the one that is behind.) */
	if (got > 0 && got < GRO_BUFS)
		r->handed_on = 0;
	for (i = 0; got > 0 && i < (unsigned int)got; i++) {
		struct msghdr *m = &rx->msgs[i].msg_hdr;
		struct wg_src dst;

		wg_src_from_cmsg(&dst, m);
		len = rx->msgs[i].msg_len;
		if (m->msg_flags & MSG_TRUNC || !len) {
			wg_stat_add(dev, drop_bad_packet, 1);
			continue;
		}
		b = cut_run(r, b, rx->iov[i].iov_base, len, gro_size(m, len),
			    &rx->src[i], &dst);
	}
	if (b && b->count)
		submit_read(r, b);
	else if (b)
		wg_batch_put(&dev->pool, b);
	return got == GRO_BUFS;
}

void wg_receive_read_udp(struct wg_udp_reader *r)
{
	unsigned int i, ready = r->more;

	wg_batch_wait_room(&r->dev->pool, BATCH_RX);
	/* After a burst that filled its buffers poll() would only say what
	 * we know: read that socket again at once. Only the sockets that
	 * are readable: the other family's is mostly idle. */
	if (!ready && !(ready = wg_device_wait_readable(r->dev, r->fds,
							r->nfds, r->stop_fd)))
		return;
	r->more = 0;
	for (i = 0; i < r->nfds; i++)
		if (ready & 1u << i &&
		    (r->gro ? udp_gro_burst(r, r->fds[i])
			    : udp_plain_burst(r, r->fds[i])))
			r->more |= 1u << i;
}

/* ------------------------------------------------------------------ */
/* Sorting: data by keypair, handshakes to their rings                  */

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

/* Copies into b's slots what is still in the reader's buffer (cut_run),
 * for a batch about to leave the reader. */
static void settle(struct batch *b)
{
	unsigned int i;

	for (i = 0; i < b->count; i++) {
		struct packet *p = &b->pkts[i];

		if (!p->from)
			continue;
		memcpy(p->buf + sizeof(struct message_data),
		       p->from + sizeof(struct message_data),
		       p->len - sizeof(struct message_data));
		p->from = NULL;
	}
}

/* Appends to the peer's rx queue in arrival order, then to the crypt
 * ring; or, when the reader has a TUN writer w, opens and delivers b here
 * (wg_crypt_here): a small batch if the pipeline is idle or the peer has
 * nothing else in it, a larger one while the reader keeps up (the rule
 * is wg_crypt_here's). Small batches are the quiet peer's fast lane: its
 * ping or keystroke does not queue behind another peer's bulk transfer
 * in the crypt and writer rings (a flow with no backlog is served first,
 * as fq_codel serves new flows). Takes b and its references. */
static void submit_data(struct wg_device *dev, struct batch *b,
			struct wg_tun_writer *w)
{
	struct wg_peer *peer = b->peer;
	unsigned int i;
	bool alone;

	for (i = 0; i < b->count; i++) {
		const struct message_data *m = (const void *)b->pkts[i].buf;

		b->pkts[i].counter = le64toh(m->counter);
	}
	pthread_spin_lock(&peer->rx_queue.lock);
	alone = wg_ordered_queue_append_locked(&peer->rx_queue, b);
	pthread_spin_unlock(&peer->rx_queue.lock);
	/* As on the way out (wg_send_batch): opened and written here, or
	 * by the workers (wg_crypt_here). A reader always has its writer
	 * when there are no workers (wg_receive_reader_init). */
	if (w && wg_crypt_here(dev, b, alone)) {
		open_batch(dev, b);
		/* Once b is DONE, a TUN writer draining the queue may
		 * release it, and with it the last reference of a peer
		 * removed meanwhile; the caller holds no RCU read section.
		 * This one keeps the peer until the flush is done, as
		 * route_batch's does on the way out. */
		rcu_read_lock();
		wg_batch_set_state(b, BATCH_DONE);
		wg_receive_flush_peer(peer, w);
		rcu_read_unlock();
		return;
	}
	settle(b);
	if (!wg_ring_push(&dev->crypt_ring, b)) {
		/* The writer's reference before DEAD, for the same reason. */
		wg_peer_get(peer);
		wg_batch_set_state(b, BATCH_DEAD);
		wg_peer_hand_to(&dev->tun_writer_ring, peer);
	}
}

/* Moves the data messages of keypair kp out of b into a new batch and
 * returns it, or NULL when none was kept. */
static struct batch *split_keypair(struct wg_device *dev, struct batch *b,
				   struct wg_keypair **kps,
				   struct wg_keypair *kp)
{
	struct batch *nb = wg_batch_get(&dev->pool, BATCH_RX);
	unsigned int i, kept = 0, dropped = 0;
	bool added;

	/* Each of these packets holds a reference to kp: the batch keeps
	 * the first one kept, the rest are dropped. nb has room for them
	 * all: they took no more in b. */
	for (i = 0; i < b->count; i++) {
		if (kps[i] != kp)
			continue;
		kps[i] = NULL;
		added = nb && wg_batch_add_datagram(&dev->pool, nb, &b->pkts[i]);
		if (!added)
			dropped++;
		if (added && !kept++)
			continue;
		wg_keypair_put(kp);
	}
	if (dropped)
		wg_stat_add(dev, drop_pool_empty, dropped);
	if (!kept) {
		if (nb)
			wg_batch_put(&dev->pool, nb);
		return NULL;
	}
	nb->keypair = kp;
	nb->peer = wg_peer_get(kp->peer);
	nb->caught_up = b->caught_up;
	return nb;
}

/* Sorts b's datagrams: data by the keypair they name (under RCU, each
 * with a reference), handshake messages to their lanes, the rest
 * dropped and counted. */
static struct wg_keypair *sort(struct wg_device *dev, struct batch *b,
			       struct wg_keypair **kps,
			       struct handshake_lanes *lanes)
{
	unsigned int i, bad = 0, unknown = 0;
	struct wg_keypair *first = NULL;
	uint64_t now = 0;

	for (i = 0; i < b->count; i++) {
		struct packet *p = &b->pkts[i];
		uint32_t type = p->len >= 4 ? wg_message_type(p->buf) : 0;

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
			wg_handshake_queue(dev, lanes, p, now);
		} else {
			bad++;
		}
	}
	if (bad)
		wg_stat_add(dev, drop_bad_packet, bad);
	if (unknown)
		wg_stat_add(dev, drop_unknown_index, unknown);
	return first;
}

/* UDP reader: b holds datagrams just received (message at buf, sender in
 * src). Hands each part on; takes b. */
static void classify_batch(struct wg_device *dev, struct batch *b,
			   struct wg_tun_writer *w)
{
	struct wg_keypair *kps[WG_BATCH_MAX], *first;
	struct handshake_lanes lanes = { { NULL, NULL } };
	struct batch *split[WG_BATCH_MAX];
	unsigned int i, n = 0, nsplit = 0;

	rcu_read_lock();
	first = sort(dev, b, kps, &lanes);
	/* A batch that spans a new session (or several peers) parts by
	 * keypair, each part in the order its first datagram came: b keeps
	 * the first datagram's, the others follow it. */
	for (i = 0; i < b->count; i++)
		if (kps[i] && kps[i] != first &&
		    (split[nsplit] = split_keypair(dev, b, kps, kps[i])))
			nsplit++;
	for (i = 0; i < b->count; i++) {
		if (kps[i] != first || !first)
			continue;
		/* Only the descriptors close up. */
		b->pkts[n] = b->pkts[i];
		if (n++)
			wg_keypair_put(first); /* keep one reference */
	}
	rcu_read_unlock();
	wg_handshake_queue_flush(dev, &lanes);
	b->count = n;
	if (!first) {
		wg_batch_release(&dev->pool, b);
		return;
	}
	b->keypair = first;
	b->peer = wg_peer_get(first->peer);
	submit_data(dev, b, w);
	for (i = 0; i < nsplit; i++)
		submit_data(dev, split[i], w);
}

/* ------------------------------------------------------------------ */
/* Crypto worker                                                        */

/* Opens every packet of b into its slots, in place or from where the
 * reader left it (p->from, by the reader only); a packet that fails is
 * marked. */
static void open_batch(struct wg_device *dev, struct batch *b)
{
	const struct noise_keypair *kp = &b->keypair->noise;
	uint8_t *bufs[WG_BATCH_MAX];
	const uint8_t *srcs[WG_BATCH_MAX];
	size_t lens[WG_BATCH_MAX];
	bool ok[WG_BATCH_MAX];
	unsigned int i;

	if (!wg_timers_keypair_usable_for_receiving(kp, wg_now_ns())) {
		for (i = 0; i < b->count; i++) {
			b->pkts[i].ok = false;
			b->pkts[i].len = 0;
			b->pkts[i].from = NULL;
		}
		return;
	}
	for (i = 0; i < b->count; i++) {
		bufs[i] = b->pkts[i].buf;
		srcs[i] = b->pkts[i].from;
		lens[i] = b->pkts[i].len;
	}
	wg_noise_open_batch_from(bufs, srcs, lens, ok, b->count, kp);
	for (i = 0; i < b->count; i++) {
		b->pkts[i].ok = ok[i];
		b->pkts[i].len = (uint32_t)lens[i];
		b->pkts[i].from = NULL;
	}
}

void wg_receive_open_batch(struct wg_device *dev, struct batch *b)
{
	/* Taken before the state flips: a writer may release b after. */
	struct wg_peer *peer = wg_peer_get(b->peer);

	open_batch(dev, b);
	wg_batch_set_state(b, BATCH_DONE);
	wg_peer_hand_to(&dev->tun_writer_ring, peer);
}

/* ------------------------------------------------------------------ */
/* TUN writer: checks in order, then into the device                    */

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
		wg_peer_stat_add(peer, drop_decrypt, 1);
		return;
	}
	if (!wg_replay_counter_validate(&b->keypair->noise.receiving_counter,
					p->counter)) {
		wg_stat_add(dev, drop_replay, 1);
		wg_peer_stat_add(peer, drop_replay, 1);
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
		wg_peer_stat_add(peer, drop_source, 1);
		return;
	}
	out->pkts[out->n] = pkt;
	out->lens[out->n++] = len;
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

/* Counters, key confirmation and timers. Done before the packets reach
 * the TUN device too, as the kernel module does: the local stack may
 * answer the first packet of a new session at once, and the answer must
 * find the session confirmed, not start a handshake of its own. */
static void received(struct wg_peer *peer, struct wg_keypair *kp,
		     struct rx_summary *s)
{
	uint64_t now = wg_now_ns();
	bool rekey, confirmed;

	wg_counter_add(peer->rx_bytes, s->bytes);
	wg_peer_stat_add(peer, rx_packets, s->authenticated);
	confirmed = wg_peer_received_with_keypair(peer, kp);

	pthread_mutex_lock(&peer->timers_lock);
	if (confirmed) {
		wg_timers_handshake_complete(&peer->timers);
		wg_peer_stat_add(peer, handshakes_completed, 1);
		wg_write_once(peer->last_handshake_realtime_ns,
			      wg_realtime_ns());
	}
	wg_timers_any_authenticated_packet_received(&peer->timers);
	wg_timers_any_authenticated_packet_traversal(&peer->timers, now);
	if (s->data)
		wg_timers_data_received(&peer->timers, now);
	rekey = wg_timers_should_rekey_on_receive(
		&kp->noise, now, peer->timers.sent_lastminute_handshake);
	if (rekey)
		peer->timers.sent_lastminute_handshake = true;
	wg_peer_timers_unlock(peer);
	if (confirmed)
		wg_send_session_ready(peer, false);
	if (rekey)
		wg_handshake_want(peer);
}

/* Writes what passed the checks; counts what the device refused. */
static void write_out(struct wg_device *dev, struct wg_tun_writer *w,
		      const struct rx_out *out)
{
	unsigned int ok, writes;

	if (!out->n)
		return;
	ok = wg_tun_writer_write(w, out->pkts, out->lens, out->n, &writes);
	wg_stat_add(dev, tun_tx_packets, ok);
	wg_stat_add(dev, tun_tx_writes, writes);
	if (ok < out->n)
		wg_stat_add(dev, drop_send_error, out->n - ok);
}

void wg_receive_flush_peer(struct wg_peer *peer, struct wg_tun_writer *w)
{
	struct wg_device *dev = peer->dev;
	struct batch *b, *next;

	if (!wg_ordered_queue_begin_drain(&peer->rx_queue))
		return;
	/* The batches hold the peer; once the last is released, a removed
	 * peer is kept only by this read section, so it spans the drain. */
	rcu_read_lock();
	do {
		b = wg_ordered_queue_pop_finished(&peer->rx_queue);
		for (; b; b = next) {
			struct rx_summary s = { 0 };
			struct rx_out out;
			unsigned int i;

			next = b->next;
			out.n = 0;
			if (wg_batch_get_state(b) != BATCH_DEAD)
				for (i = 0; i < b->count; i++)
					deliver(peer, b, &b->pkts[i], &out, &s);
			if (s.authenticated) {
				roam(peer, &s);
				received(peer, b->keypair, &s);
			}
			write_out(dev, w, &out);
			wg_stat_add(dev, tun_tx_batches, 1);
			wg_batch_release(&dev->pool, b);
		}
	} while (!wg_ordered_queue_end_drain(&peer->rx_queue));
	rcu_read_unlock();
}
