// SPDX-License-Identifier: MIT
/*
 * Thread loops. Invariants:
 * - A reader hands on whatever one burst returned; it never waits to
 *   fill a batch.
 * - Rings carry batches (to crypto and handshake workers) or peers with a
 *   reference (to writers: "this peer has finished work").
 * - Blocking happens only in poll() or in a ring's futex wait, both with
 *   a timeout, so a stop request is seen within ~200 ms.
 */
#include "pipeline.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <netinet/udp.h>
#include <sys/uio.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "device.h"
#include "offload.h"
#include "log.h"
#include "peer.h"
#include "receive.h"
#include "send.h"

#ifndef UDP_GRO
#define UDP_GRO 104
#endif

enum { POLL_MS = 200, TUN_ERROR_PAUSE_MS = 10 };

struct thread_arg {
	struct wg_device *dev;
	unsigned int index;
};

static struct thread_arg args[8 * WG_MAX_THREADS];
static pthread_mutex_t args_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int nargs;

static bool stopping(struct wg_device *dev)
{
	return __atomic_load_n(&dev->stopping, __ATOMIC_ACQUIRE);
}

/* A free batch, waiting for one while the pool is dry. */
static struct batch *get_batch(struct wg_device *dev, enum batch_dir dir)
{
	struct batch *b;
	uint32_t seq;

	while (!(b = wg_batch_get(&dev->pool, dir))) {
		if (stopping(dev))
			return NULL;
		seq = wg_waitq_prepare(&dev->pool_wait);
		b = wg_batch_get(&dev->pool, dir);
		if (b) {
			__atomic_fetch_sub(&dev->pool_wait.waiters, 1,
					   __ATOMIC_SEQ_CST);
			return b;
		}
		wg_waitq_wait(&dev->pool_wait, seq, 50);
	}
	return b;
}

static bool wait_readable(struct wg_device *dev, int *fds, unsigned int n)
{
	struct pollfd pfd[3];
	unsigned int i;

	for (i = 0; i < n; i++)
		pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	pfd[n] = (struct pollfd){ .fd = dev->stop_fd, .events = POLLIN };
	if (poll(pfd, n + 1, POLL_MS) < 0 && errno != EINTR)
		return false;
	for (i = 0; i < n; i++)
		if (pfd[i].revents)
			return true;
	return false;
}

static void submit_tx(struct wg_device *dev, struct batch *b)
{
	wg_batch_charge(dev, b, b->count);
	wg_stat_add(dev, tun_rx_packets, b->count);
	wg_stat_add(dev, tun_rx_batches, 1);
	wg_send_route_batch(dev, b);
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

/* Plain packets: read straight into the slots. */
static void tun_plain_burst(struct wg_device *dev, int fd)
{
	struct iovec iov[WG_BATCH_MAX];
	size_t lens[WG_BATCH_MAX];
	unsigned int i, got;
	struct batch *b = get_batch(dev, BATCH_TX);
	int ret;

	if (!b)
		return;
	for (i = 0; i < dev->pool.batch_size; i++) {
		iov[i].iov_base = b->pkts[i].buf + WG_SLOT_HEADROOM;
		iov[i].iov_len = WG_SLOT_MAX_PLAIN;
	}
	ret = wg_tun_read_burst(fd, iov, dev->pool.batch_size, lens, &got);
	for (i = 0; i < got; i++)
		b->pkts[i].len = (uint32_t)lens[i];
	b->count = got;
	if (got)
		submit_tx(dev, b);
	else
		wg_batch_put(&dev->pool, b);
	tun_gone(dev, ret);
}

/*
 * virtio-net headers: a read may be a TSO/USO super-packet, cut here
 * into MTU-sized packets, straight into the slots of the batch being
 * filled. A super-packet with more pieces than a batch has slots (a tiny
 * MSS, or a small --batch-size) is cut into spare slots first and then
 * spread over as many batches as it takes.
 */
enum { SPARE_SLOTS = 512 };

struct tun_rx {
	uint8_t *super;	 /* vnet header + 64 KiB */
	uint8_t *spare;	 /* SPARE_SLOTS x WG_SLOT_SIZE */
};

static unsigned int max_pieces(const struct virtio_net_hdr *h, size_t len)
{
	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE || !h->gso_size)
		return 1;
	return (unsigned int)(len / h->gso_size) + 1;
}

static struct batch *split_into(struct wg_device *dev, struct batch *b,
				const struct virtio_net_hdr *h,
				const uint8_t *pkt, size_t len)
{
	uint8_t *out[WG_BATCH_MAX];
	size_t lens[WG_BATCH_MAX];
	unsigned int room = dev->pool.batch_size - b->count, i, n;

	for (i = 0; i < room; i++)
		out[i] = b->pkts[b->count + i].buf + WG_SLOT_HEADROOM;
	if (wg_gso_split(h, pkt, len, out, WG_SLOT_MAX_PLAIN, lens, room, &n)) {
		wg_stat_add(dev, drop_bad_packet, 1);
		return b;
	}
	for (i = 0; i < n; i++)
		b->pkts[b->count + i].len = (uint32_t)lens[i];
	b->count += n;
	return b;
}

static struct batch *split_spread(struct wg_device *dev, struct batch *b,
				  struct tun_rx *rx,
				  const struct virtio_net_hdr *h,
				  const uint8_t *pkt, size_t len)
{
	uint8_t *out[SPARE_SLOTS];
	size_t lens[SPARE_SLOTS];
	unsigned int i, n;

	for (i = 0; i < SPARE_SLOTS; i++)
		out[i] = rx->spare + (size_t)i * WG_SLOT_SIZE;
	if (wg_gso_split(h, pkt, len, out, WG_SLOT_MAX_PLAIN, lens,
			 SPARE_SLOTS, &n)) {
		wg_stat_add(dev, drop_bad_packet, 1);
		return b;
	}
	for (i = 0; i < n; i++) {
		if (!b && !(b = get_batch(dev, BATCH_TX)))
			return NULL;
		memcpy(b->pkts[b->count].buf + WG_SLOT_HEADROOM, out[i], lens[i]);
		b->pkts[b->count++].len = (uint32_t)lens[i];
		if (b->count == dev->pool.batch_size) {
			submit_tx(dev, b);
			b = NULL;
		}
	}
	return b;
}

static void tun_vnet_burst(struct wg_device *dev, int fd, struct tun_rx *rx)
{
	const struct virtio_net_hdr *h = (const void *)rx->super;
	const size_t hlen = sizeof(*h);
	struct batch *b = NULL;
	unsigned int need;
	ssize_t r;

	/* Read until the queue is empty or the in-flight limit is hit. */
	while (__atomic_load_n(&dev->inflight[BATCH_TX].packets,
			       __ATOMIC_RELAXED) < dev->opt.max_inflight) {
		r = read(fd, rx->super, hlen + WG_OFFLOAD_MAX_PACKET);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			if (errno != EAGAIN)
				tun_gone(dev, -errno);
			break;
		}
		if ((size_t)r <= hlen)
			continue;
		need = max_pieces(h, (size_t)r - hlen);
		if (b && dev->pool.batch_size - b->count < need) {
			submit_tx(dev, b);
			b = NULL;
		}
		if (!b && !(b = get_batch(dev, BATCH_TX)))
			break;
		if (need > dev->pool.batch_size)
			b = split_spread(dev, b, rx, h, rx->super + hlen,
					 (size_t)r - hlen);
		else
			b = split_into(dev, b, h, rx->super + hlen,
				       (size_t)r - hlen);
		if (b && b->count == dev->pool.batch_size) {
			submit_tx(dev, b);
			b = NULL;
		}
	}
	if (b && b->count)
		submit_tx(dev, b);
	else if (b)
		wg_batch_put(&dev->pool, b);
}

static void *tun_reader(void *arg)
{
	struct thread_arg *a = arg;
	struct wg_device *dev = a->dev;
	int fd = dev->tun.fds[a->index % dev->tun.nqueues];
	struct tun_rx rx = { 0 };

	if (dev->tun.vnet_hdr) {
		rx.super = malloc(sizeof(struct virtio_net_hdr) +
				  WG_OFFLOAD_MAX_PACKET);
		rx.spare = malloc((size_t)SPARE_SLOTS * WG_SLOT_SIZE);
		if (!rx.super || !rx.spare) {
			log_err("TUN reader: no memory for offload buffers");
			wg_device_request_stop(dev, 1);
		}
	}
	rcu_register_thread();
	while (!stopping(dev)) {
		wg_inflight_wait(dev, BATCH_TX);
		if (!wait_readable(dev, &fd, 1))
			continue;
		if (dev->tun.vnet_hdr && rx.super && rx.spare)
			tun_vnet_burst(dev, fd, &rx);
		else if (!dev->tun.vnet_hdr)
			tun_plain_burst(dev, fd);
	}
	rcu_unregister_thread();
	free(rx.super);
	free(rx.spare);
	return NULL;
}

static int udp_burst(struct wg_device *dev, int fd, struct batch *b)
{
	static __thread union {
		char buf[WG_RECV_CMSG_SPACE];
		struct cmsghdr align;
	} ctl[WG_BATCH_MAX];
	struct mmsghdr msgs[WG_BATCH_MAX];
	struct iovec iov[WG_BATCH_MAX];
	unsigned int i, n = dev->pool.batch_size;
	int got;

	memset(msgs, 0, sizeof(msgs[0]) * n);
	for (i = 0; i < n; i++) {
		iov[i].iov_base = b->pkts[i].buf;
		iov[i].iov_len = WG_SLOT_SIZE;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &b->pkts[i].src;
		msgs[i].msg_hdr.msg_namelen = sizeof(b->pkts[i].src);
		msgs[i].msg_hdr.msg_control = ctl[i].buf;
		msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
	}
	got = wg_socket_recv_burst(fd, msgs, n);
	if (got <= 0)
		return got;
	for (i = 0; i < (unsigned int)got; i++) {
		wg_src_from_cmsg(&b->pkts[i].dst, &msgs[i].msg_hdr);
		b->pkts[i].len = msgs[i].msg_len;
		/* Too long for a slot: never one of ours. */
		if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
			b->pkts[i].len = 0;
	}
	return got;
}

/* UDP_GRO: the kernel hands over runs of datagrams glued together,
 * each up to 64 KiB, with the size of the pieces in a control message. */
enum { GRO_BUFS = 8 };

struct gro_rx {
	uint8_t *big;
	struct mmsghdr msgs[GRO_BUFS];
	struct iovec iov[GRO_BUFS];
	union wg_sockaddr src[GRO_BUFS];
	union {
		char buf[WG_RECV_CMSG_SPACE];
		struct cmsghdr align;
	} ctl[GRO_BUFS];
};

static void submit_rx(struct wg_device *dev, struct batch *b)
{
	wg_batch_charge(dev, b, b->count);
	wg_stat_add(dev, udp_rx_packets, b->count);
	wg_stat_add(dev, udp_rx_batches, 1);
	wg_receive_classify_batch(dev, b);
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
 * batches; returns the batch still being filled. */
static struct batch *cut_run(struct wg_device *dev, struct batch *b,
			     const uint8_t *data, unsigned int len,
			     unsigned int size, const union wg_sockaddr *src,
			     const struct wg_src *dst)
{
	unsigned int off, seg;
	struct packet *p;

	for (off = 0; off < len; off += size) {
		seg = len - off < size ? len - off : size;
		if (!b && !(b = get_batch(dev, BATCH_RX))) {
			wg_stat_add(dev, drop_pool_empty, 1);
			continue;
		}
		p = &b->pkts[b->count++];
		p->len = seg <= WG_SLOT_SIZE ? seg : 0;
		memcpy(p->buf, data + off, p->len);
		p->src = *src;
		p->dst = *dst;
		if (b->count == dev->pool.batch_size) {
			submit_rx(dev, b);
			b = NULL;
		}
	}
	return b;
}

static void udp_gro_burst(struct wg_device *dev, int fd, struct gro_rx *rx)
{
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
	for (i = 0; got > 0 && i < (unsigned int)got; i++) {
		struct msghdr *m = &rx->msgs[i].msg_hdr;
		struct wg_src dst;

		wg_src_from_cmsg(&dst, m);
		len = rx->msgs[i].msg_len;
		if (m->msg_flags & MSG_TRUNC || !len) {
			wg_stat_add(dev, drop_bad_packet, 1);
			continue;
		}
		b = cut_run(dev, b, rx->iov[i].iov_base, len, gro_size(m, len),
			    &rx->src[i], &dst);
	}
	if (b && b->count)
		submit_rx(dev, b);
	else if (b)
		wg_batch_put(&dev->pool, b);
}

static void udp_plain_burst(struct wg_device *dev, int fd)
{
	struct batch *b = get_batch(dev, BATCH_RX);
	int got;

	if (!b)
		return;
	got = udp_burst(dev, fd, b);
	b->count = got > 0 ? (unsigned int)got : 0;
	if (b->count)
		submit_rx(dev, b);
	else
		wg_batch_put(&dev->pool, b);
}

static void *udp_reader(void *arg)
{
	struct thread_arg *a = arg;
	struct wg_device *dev = a->dev;
	struct wg_socket_set *s = dev->sockets;
	struct gro_rx *rx = NULL;
	struct wg_tun_writer w;
	int fds[2], n = 0, i;

	if (s->fd4 >= 0)
		fds[n++] = s->fd4;
	if (s->fd6 >= 0)
		fds[n++] = s->fd6;
	if (s->gro) {
		rx = calloc(1, sizeof(*rx));
		if (rx)
			rx->big = malloc((size_t)GRO_BUFS * WG_UDP_GRO_MAX);
		if (!rx || !rx->big) {
			log_err("UDP reader: no memory for UDP_GRO buffers");
			wg_device_request_stop(dev, 1);
		}
	}
	if (!wg_tun_writer_init(&w, dev, a->index))
		wg_receive_set_inline_writer(&w);
	rcu_register_thread();
	while (!stopping(dev) &&
	       !__atomic_load_n(&dev->udp_stopping, __ATOMIC_ACQUIRE)) {
		wg_inflight_wait(dev, BATCH_RX);
		if (!wait_readable(dev, fds, (unsigned int)n))
			continue;
		for (i = 0; i < n; i++) {
			if (rx && rx->big)
				udp_gro_burst(dev, fds[i], rx);
			else
				udp_plain_burst(dev, fds[i]);
		}
	}
	rcu_unregister_thread();
	wg_receive_set_inline_writer(NULL);
	wg_tun_writer_destroy(&w);
	if (rx)
		free(rx->big);
	free(rx);
	return NULL;
}

/* Tells a writer pool that peer has finished work. */
static void notify_writer(struct wg_ring *ring, struct wg_peer *peer)
{
	if (!wg_ring_push(ring, wg_peer_get(peer)))
		wg_peer_put(peer);
}

static void *crypto_worker(void *arg)
{
	struct thread_arg *a = arg;
	struct wg_device *dev = a->dev;
	struct wg_peer *peer;
	struct batch *b;
	bool tx;

	rcu_register_thread();
	while (!stopping(dev)) {
		if (!(b = wg_ring_pop_wait(&dev->crypt_ring, POLL_MS)))
			continue;
		/* Read before the state flips: a writer may free b after. */
		peer = b->peer;
		tx = b->dir == BATCH_TX;
		wg_peer_get(peer);
		if (tx)
			wg_send_encrypt_batch(dev, b);
		else
			wg_receive_decrypt_batch(dev, b);
		wg_batch_set_state(b, BATCH_DONE);
		notify_writer(tx ? &dev->udp_writer_ring : &dev->tun_writer_ring,
			      peer);
		wg_peer_put(peer);
		/* No session key left in the cipher's registers. */
		wg_crypto_wipe_registers();
	}
	rcu_unregister_thread();
	return NULL;
}

static void *udp_writer(void *arg)
{
	struct thread_arg *a = arg;
	struct wg_device *dev = a->dev;
	struct wg_peer *peer;

	rcu_register_thread();
	while (!stopping(dev)) {
		if (!(peer = wg_ring_pop_wait(&dev->udp_writer_ring, POLL_MS)))
			continue;
		wg_send_flush_peer(peer);
		wg_peer_put(peer);
	}
	rcu_unregister_thread();
	return NULL;
}

static void *tun_writer(void *arg)
{
	struct thread_arg *a = arg;
	struct wg_device *dev = a->dev;
	struct wg_tun_writer w;
	struct wg_peer *peer;

	if (wg_tun_writer_init(&w, dev, a->index)) {
		log_err("TUN writer: no memory for coalescing buffers");
		wg_device_request_stop(dev, 1);
	}
	rcu_register_thread();
	while (!stopping(dev)) {
		if (!(peer = wg_ring_pop_wait(&dev->tun_writer_ring, POLL_MS)))
			continue;
		wg_receive_flush_peer(peer, &w);
		wg_peer_put(peer);
	}
	rcu_unregister_thread();
	wg_tun_writer_destroy(&w);
	return NULL;
}

static void *handshake_worker(void *arg)
{
	struct thread_arg *a = arg;
	struct wg_device *dev = a->dev;
	struct batch *b;

	rcu_register_thread();
	while (!stopping(dev)) {
		/* The fair ring first (see receive.c). A fair batch pushed
		 * while this sleeps on an empty main ring waits out the poll;
		 * rare, since that ring fills only while the main one is at
		 * its cap. */
		b = wg_ring_pop(&dev->handshake_fair_ring);
		if (!b && !(b = wg_ring_pop_wait(&dev->handshake_ring, POLL_MS)))
			continue;
		wg_receive_handshake_batch(dev, b);
		wg_batch_release(dev, b);
		wg_crypto_wipe_registers();
	}
	rcu_unregister_thread();
	return NULL;
}

static uint64_t peer_timers(struct wg_peer *peer, uint64_t now)
{
	unsigned int actions;
	uint64_t next;
	bool wanted;

	wanted = __atomic_exchange_n(&peer->handshake_wanted, 0,
				     __ATOMIC_ACQ_REL);
	pthread_mutex_lock(&peer->timers_lock);
	actions = wg_timers_expire(&peer->timers, now);
	pthread_mutex_unlock(&peer->timers_lock);
	if (wanted)
		wg_send_handshake_initiation(peer, false);
	if (actions & WG_ACTION_SEND_INITIATION)
		wg_send_handshake_initiation(peer, true);
	if (actions & WG_ACTION_GIVE_UP)
		wg_peer_purge_staged(peer);
	if (actions & WG_ACTION_SEND_KEEPALIVE)
		wg_send_keepalive(peer);
	if (actions & WG_ACTION_ZERO_KEYS) {
		log_debug("peer %llu: zeroing keys after %d s without a handshake",
			  (unsigned long long)peer->id, ZERO_KEYS_AFTER_TIME);
		wg_peer_zero_keys(peer);
	}
	pthread_mutex_lock(&peer->timers_lock);
	next = wg_timers_next_deadline(&peer->timers);
	pthread_mutex_unlock(&peer->timers_lock);
	return next;
}

/* Once a second: housekeeping that follows the outside world. */
static void housekeeping(struct wg_device *dev, uint64_t now)
{
	unsigned int mtu;

	wg_ratelimiter_gc(&dev->ratelimiter, now, false);
	if (!wg_tun_get_mtu(&dev->tun, &mtu))
		__atomic_store_n(&dev->mtu, mtu, __ATOMIC_RELAXED);
	else if (!wg_tun_exists(&dev->tun)) {
		log_info("interface %s was deleted; shutting down", dev->name);
		wg_device_request_stop(dev, 0);
	}
}

static void *timer_thread(void *arg)
{
	struct thread_arg *a = arg;
	struct wg_device *dev = a->dev;
	uint64_t now, next, d, last_housekeeping = 0;
	struct wg_peer *peer;
	uint32_t seq;

	rcu_register_thread();
	while (!stopping(dev)) {
		seq = wg_waitq_prepare(&dev->timer_wait);
		now = wg_now_ns();
		next = now + 1000000000ULL;
		rcu_read_lock();
		cds_list_for_each_entry_rcu(peer, &dev->peers, list) {
			if (__atomic_load_n(&peer->dead, __ATOMIC_ACQUIRE))
				continue;
			d = peer_timers(peer, now);
			if (d < next)
				next = d;
		}
		rcu_read_unlock();
		if (now - last_housekeeping >= 1000000000ULL) {
			housekeeping(dev, now);
			last_housekeeping = now;
		}
		/* Initiations sent above used the static keys. */
		wg_crypto_wipe_registers();
		now = wg_now_ns();
		wg_waitq_wait(&dev->timer_wait, seq,
			      next > now ? (unsigned int)((next - now) / 1000000 + 1)
					 : 0);
	}
	rcu_unregister_thread();
	return NULL;
}

/* --pin-threads: the CPUs this process may use, one per thread in the
 * order threads start (crypto workers first, so they spread out). */
static void pin(struct wg_device *dev, pthread_t thread, const char *name)
{
	static unsigned int next;
	cpu_set_t allowed, one;
	unsigned int i, n = 0, want;
	int ret;

	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		return;
	want = __atomic_fetch_add(&next, 1, __ATOMIC_RELAXED) %
	       (unsigned int)CPU_COUNT(&allowed);
	for (i = 0; i < CPU_SETSIZE; i++) {
		if (!CPU_ISSET(i, &allowed) || n++ != want)
			continue;
		CPU_ZERO(&one);
		CPU_SET(i, &one);
		ret = pthread_setaffinity_np(thread, sizeof(one), &one);
		if (ret)
			log_err("cannot pin %s to CPU %u: %s", name, i,
				strerror(ret));
		else
			log_debug("%s pinned to CPU %u", name, i);
		return;
	}
}

static int spawn(struct wg_device *dev, pthread_t *slot, void *(*fn)(void *),
		 const char *stage, unsigned int index)
{
	struct thread_arg *a;
	char name[16];
	int ret;

	pthread_mutex_lock(&args_lock);
	a = &args[nargs++ % (8 * WG_MAX_THREADS)];
	pthread_mutex_unlock(&args_lock);
	a->dev = dev;
	a->index = index;
	ret = pthread_create(slot, NULL, fn, a);
	if (ret) {
		log_err("cannot start a %s thread: %s", stage, strerror(ret));
		return -ret;
	}
	snprintf(name, sizeof(name), "wg-%s/%u", stage, index);
	pthread_setname_np(*slot, name);
	if (dev->opt.pin_threads)
		pin(dev, *slot, name);
	return 0;
}

static int spawn_pool(struct wg_device *dev, void *(*fn)(void *),
		      const char *stage, unsigned int n)
{
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		ret = spawn(dev, &dev->threads[dev->nthreads], fn, stage, i);
		if (ret)
			return ret;
		dev->nthreads++;
	}
	return 0;
}

int wg_pipeline_start_udp_readers(struct wg_device *dev)
{
	unsigned int i;
	int ret;

	__atomic_store_n(&dev->udp_stopping, 0, __ATOMIC_RELEASE);
	for (i = 0; i < dev->opt.udp_readers; i++) {
		ret = spawn(dev, &dev->udp_threads[i], udp_reader, "udprd", i);
		if (ret)
			return ret;
		dev->n_udp_threads = i + 1;
	}
	return 0;
}

void wg_pipeline_stop_udp_readers(struct wg_device *dev)
{
	unsigned int i;

	__atomic_store_n(&dev->udp_stopping, 1, __ATOMIC_RELEASE);
	for (i = 0; i < dev->n_udp_threads; i++)
		pthread_join(dev->udp_threads[i], NULL);
	dev->n_udp_threads = 0;
}

int wg_pipeline_start(struct wg_device *dev)
{
	const struct wg_options *o = &dev->opt;
	int ret;

	ret = spawn_pool(dev, crypto_worker, "crypt", o->crypto_workers);
	if (!ret)
		ret = spawn_pool(dev, udp_writer, "udpwr", o->udp_writers);
	if (!ret)
		ret = spawn_pool(dev, tun_writer, "tunwr", o->tun_writers);
	if (!ret)
		ret = spawn_pool(dev, handshake_worker, "hshake",
				 o->handshake_workers);
	if (!ret)
		ret = spawn_pool(dev, timer_thread, "timer", 1);
	if (!ret)
		ret = spawn_pool(dev, tun_reader, "tunrd", o->tun_readers);
	if (!ret)
		ret = wg_pipeline_start_udp_readers(dev);
	return ret;
}

void wg_pipeline_stop(struct wg_device *dev)
{
	unsigned int i;

	wg_pipeline_stop_udp_readers(dev);
	for (i = 0; i < dev->nthreads; i++)
		pthread_join(dev->threads[i], NULL);
	dev->nthreads = 0;
}
