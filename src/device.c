// SPDX-License-Identifier: MIT
/*
 * The device's lifecycle and its configuration. See device.h for locks.
 */
#include "device.h"

#include <errno.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "settings.h"
#include "clock.h"
#include "crypto/aead.h"
#include "crypto/crypto.h"
#include "event.h"
#include "handshake.h"
#include "log.h"
#include "metrics.h"
#include "peer.h"
#include "pipeline.h"
#include "secmem.h"
#include "send.h"
#include "uapi.h"

static int open_sockets(struct wg_device *dev, uint16_t port, uint32_t fwmark)
{
	struct wg_socket_set *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return -ENOMEM;
	ret = wg_socket_set_open(s, port, fwmark, false);
	if (ret) {
		free(s);
		return ret;
	}
	wg_socket_set_offloads(s, dev->opt.udp_gso, dev->opt.udp_gro);
	rcu_assign_pointer(dev->sockets, s);
	dev->listen_port = s->port;
	return 0;
}

static int init_queues(struct wg_device *dev)
{
	unsigned int n = dev->opt.pool_batches;
	int ret;

	ret = wg_batch_pool_init(&dev->pool, n, dev->opt.batch_size,
				 dev->opt.max_inflight);
	if (!ret)
		ret = wg_ring_init(&dev->crypt_ring, n);
	if (!ret)
		ret = wg_ring_init(&dev->handshake_ring, n);
	if (!ret)
		ret = wg_ring_init(&dev->handshake_fair_ring, n);
	/* Writer rings carry peer notifications: one per finished batch. */
	if (!ret)
		ret = wg_ring_init(&dev->udp_writer_ring, n);
	if (!ret)
		ret = wg_ring_init(&dev->tun_writer_ring, n);
	return ret;
}

static void destroy_queues(struct wg_device *dev)
{
	wg_ring_destroy(&dev->crypt_ring);
	wg_ring_destroy(&dev->handshake_ring);
	wg_ring_destroy(&dev->handshake_fair_ring);
	wg_ring_destroy(&dev->udp_writer_ring);
	wg_ring_destroy(&dev->tun_writer_ring);
	wg_batch_pool_destroy(&dev->pool);
}

static void init_state(struct wg_device *dev)
{
	pthread_mutex_init(&dev->config_lock, NULL);
	pthread_rwlock_init(&dev->identity_lock, NULL);
	pthread_mutex_init(&dev->load_lock, NULL);
	wg_cookie_checker_init(&dev->cookie_checker);
	wg_allowedips_init(&dev->allowedips);
	CDS_INIT_LIST_HEAD(&dev->peers);
	pthread_mutex_init(&dev->removed_lock, NULL);
	CDS_INIT_LIST_HEAD(&dev->removed_peers);
	CDS_INIT_LIST_HEAD(&dev->spare_peers);
	pthread_mutex_init(&dev->timer_lock, NULL);
	CDS_INIT_LIST_HEAD(&dev->timer_pending);
	CDS_INIT_LIST_HEAD(&dev->timer_active);
	dev->mtu = WG_DEFAULT_MTU;
	dev->stop_fd = -1;
}

static unsigned int tun_offloads_wanted(const struct wg_options *o)
{
	unsigned int want = TUN_F_CSUM;

	if (!o->tun_vnet)
		return 0;
	if (o->tun_tso)
		want |= TUN_F_TSO4 | TUN_F_TSO6;
	if (o->tun_uso)
		want |= WG_TUN_F_USO4 | WG_TUN_F_USO6;
	return want;
}

static int open_tun(struct wg_device *dev, const char *name)
{
	unsigned int queues = dev->opt.tun_readers;
	int ret;

	if (dev->opt.tun_writers > queues)
		queues = dev->opt.tun_writers;
	if (dev->opt.tun_fd >= 0)
		ret = wg_tun_adopt_fd(&dev->tun, dev->opt.tun_fd);
	else
		ret = wg_tun_open_offload(&dev->tun, name, queues,
					  tun_offloads_wanted(&dev->opt));
	if (ret)
		return ret;
	snprintf(dev->name, sizeof(dev->name), "%s", dev->tun.name);
	if (!wg_tun_get_mtu(&dev->tun, &queues))
		dev->mtu = queues;
	return 0;
}

int wg_device_create(struct wg_device **out, const char *name,
		     const struct wg_options *opt)
{
	struct wg_device *dev = wg_secmem_alloc(sizeof(*dev));
	int ret;

	if (!dev)
		return -ENOMEM;
	dev->opt = *opt;
	init_state(dev);
	snprintf(dev->name, sizeof(dev->name), "%s", name);
	dev->stop_fd = wg_event_open();
	if (dev->stop_fd < 0) {
		ret = dev->stop_fd;
		goto err_free;
	}
	ret = wg_peer_table_init(&dev->peer_table);
	if (ret)
		goto err_close_stop;
	ret = wg_index_table_init(&dev->index_table);
	if (ret)
		goto err_peer_table;
	ret = wg_ratelimiter_init(&dev->ratelimiter, 1 << 16);
	if (ret)
		goto err_index_table;
	ret = wg_source_recent_init(&dev->handshake_sources, 1 << 17);
	if (ret)
		goto err_ratelimiter;
	ret = init_queues(dev);
	if (ret) {
		log_err("cannot allocate %u batches of %u packets: %s",
			opt->pool_batches, opt->batch_size, strerror(-ret));
		goto err_queues;
	}
	ret = open_tun(dev, name);
	if (ret)
		goto err_queues;
	ret = open_sockets(dev, 0, 0);
	if (ret) {
		log_err("cannot open UDP sockets: %s", strerror(-ret));
		goto err_close_tun;
	}
	*out = dev;
	return 0;

err_close_tun:
	wg_tun_close(&dev->tun);
err_queues:
	destroy_queues(dev);
	wg_source_recent_uninit(&dev->handshake_sources);
err_ratelimiter:
	wg_ratelimiter_uninit(&dev->ratelimiter);
err_index_table:
	wg_index_table_destroy(&dev->index_table);
err_peer_table:
	wg_peer_table_destroy(&dev->peer_table);
err_close_stop:
	close(dev->stop_fd);
err_free:
	wg_secmem_free(dev, sizeof(*dev));
	return ret;
}

int wg_device_start(struct wg_device *dev)
{
	int ret;

	ret = wg_uapi_server_start(&dev->uapi, dev->name, dev->opt.uapi_fd,
				   &wg_config_uapi_ops, dev);
	if (ret) {
		log_err("cannot serve the UAPI socket %s/%s.sock: %s",
			WG_UAPI_SOCKET_DIR, dev->name, strerror(-ret));
		return ret;
	}
	/* The UAPI server already takes requests: a new listen-port
	 * restarts the UDP readers, so it must wait until they exist. */
	pthread_mutex_lock(&dev->config_lock);
	ret = wg_pipeline_start(dev);
	if (ret) {
		pthread_mutex_unlock(&dev->config_lock);
		wg_device_request_stop(dev, 1);
		return ret;
	}
	log_info("interface %s up: listening on port %u, %u tun readers, "
		 "%u udp readers, %u crypto workers, %u tun writers, "
		 "%u udp writers, batches of %u",
		 dev->name, dev->listen_port, dev->opt.tun_readers,
		 dev->opt.udp_readers, dev->opt.crypto_workers,
		 dev->opt.tun_writers, dev->opt.udp_writers,
		 dev->opt.batch_size);
	pthread_mutex_unlock(&dev->config_lock);
	return 0;
}

void wg_device_request_stop(struct wg_device *dev, int status)
{
	if (wg_exchange(dev->stopping, 1))
		return;
	dev->exit_status = status;
	/* Never cleared: every poller sees it. */
	wg_event_signal(dev->stop_fd);
	/* Threads asleep on a wait queue sleep without a timeout: each is
	 * woken. */
	wg_waitq_wake_all(&dev->timer_wait);
	wg_batch_pool_stop(&dev->pool);
	wg_waitq_wake_all(&dev->crypt_ring.wait);
	wg_waitq_wake_all(&dev->udp_writer_ring.wait);
	wg_waitq_wake_all(&dev->tun_writer_ring.wait);
	wg_waitq_wake_all(&dev->handshake_ring.wait);
}

unsigned int wg_device_wait_readable(struct wg_device *dev, const int *fds,
				     unsigned int n, int stop_fd)
{
	struct pollfd pfd[4];
	unsigned int i, ready = 0;

	for (i = 0; i < n; i++)
		pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	pfd[n] = (struct pollfd){ .fd = dev->stop_fd, .events = POLLIN };
	pfd[n + 1] = (struct pollfd){ .fd = stop_fd, .events = POLLIN };
	if (poll(pfd, n + 2, -1) < 0 && errno != EINTR)
		return 0;
	for (i = 0; i < n; i++)
		if (pfd[i].revents)
			ready |= 1u << i;
	return ready;
}

void wg_device_too_big(struct wg_device *dev, size_t len, const char *why,
		       int *said)
{
	wg_stat_add(dev, drop_too_big, 1);
	if (!wg_exchange(*said, 1))
		log_err("dropped %zu bytes: %s (counted in drop_too_big; "
			"said once)",
			len, why);
}

void wg_device_housekeeping(struct wg_device *dev, uint64_t now)
{
	unsigned int mtu;
	int ret;

	wg_ratelimiter_gc(&dev->ratelimiter, now, false);
	ret = wg_tun_follow(&dev->tun, &mtu);
	if (!ret && mtu != wg_read_once(dev->mtu)) {
		log_debug("interface %s: MTU %u", dev->tun.name, mtu);
		if (mtu > WG_MAX_MTU_IPV4)
			log_info("interface %s: MTU %u, but a UDP datagram "
				 "carries tunnel packets of at most %u bytes "
				 "over IPv4 and %u over IPv6; larger ones are "
				 "dropped (drop_too_big)",
				 dev->tun.name, mtu, WG_MAX_MTU_IPV4,
				 WG_MAX_MTU_IPV6);
		wg_write_once(dev->mtu, mtu);
	} else if (ret == -ENODEV) {
		log_info("interface %s was deleted; shutting down", dev->name);
		wg_device_request_stop(dev, 0);
	} else if (ret) {
		wg_log_ratelimited(WG_LOG_VERBOSE,
				   "interface %s: cannot read its MTU: %s",
				   dev->tun.name, strerror(-ret));
	}
}

static void drain_ring(struct wg_device *dev, struct wg_ring *r, bool peers)
{
	void *item;

	while ((item = wg_ring_pop(r))) {
		if (peers)
			wg_peer_put(item);
		else
			wg_batch_release(&dev->pool, item);
	}
}

static void release_queue(struct wg_device *dev, struct wg_ordered_queue *q)
{
	struct batch *b, *next;

	for (b = wg_ordered_queue_take_all(q); b; b = next) {
		next = b->next;
		wg_batch_release(&dev->pool, b);
	}
}

/* Releases the batches still queued: rings first, then each peer's
 * ordered queues (which hold the same in-flight batches), removed peers'
 * too: their batches are what keeps them alive. */
static void release_in_flight(struct wg_device *dev)
{
	struct wg_peer *peer;

	while (wg_ring_pop(&dev->crypt_ring))
		;
	drain_ring(dev, &dev->handshake_ring, false);
	drain_ring(dev, &dev->handshake_fair_ring, false);
	drain_ring(dev, &dev->udp_writer_ring, true);
	drain_ring(dev, &dev->tun_writer_ring, true);
	cds_list_for_each_entry(peer, &dev->peers, list) {
		release_queue(dev, &peer->tx_queue);
		release_queue(dev, &peer->rx_queue);
	}
	/* A release may hand a removed peer to call_rcu(), whose callback
	 * waits for removed_lock before it unlinks and frees: the walk
	 * stays safe. */
	pthread_mutex_lock(&dev->removed_lock);
	cds_list_for_each_entry(peer, &dev->removed_peers, removed) {
		release_queue(dev, &peer->tx_queue);
		release_queue(dev, &peer->rx_queue);
		wg_send_purge_staged(peer);
	}
	pthread_mutex_unlock(&dev->removed_lock);
}

/* After teardown every batch is back in the pool and every peer freed;
 * anything else is a leak worth a line. */
/* 0, or -EBUSY (said in the log) when a batch or a peer is unaccounted. */
static int check_released(struct wg_device *dev)
{
	unsigned int free_batches = wg_batch_pool_free(&dev->pool);
	unsigned int held = wg_read_once(dev->peers_held);

	if (free_batches != dev->pool.nbatches)
		log_err("shutdown: %u of %u batches never came back to the pool",
			dev->pool.nbatches - free_batches, dev->pool.nbatches);
	if (held)
		log_err("shutdown: %u peer%s still referenced", held,
			held == 1 ? "" : "s");
	return free_batches != dev->pool.nbatches || held ? -EBUSY : 0;
}

int wg_device_destroy(struct wg_device *dev)
{
	int ret;

	if (dev->uapi)
		wg_uapi_server_stop(dev->uapi);
	wg_device_request_stop(dev, dev->exit_status);
	wg_pipeline_stop(dev);
	wg_handshake_timers_drain(dev);
	pthread_mutex_lock(&dev->config_lock);
	release_in_flight(dev);
	wg_peer_remove_all(dev);
	wg_peer_unreserve(dev);
	wg_allowedips_free(&dev->allowedips);
	pthread_mutex_unlock(&dev->config_lock);
	rcu_barrier();
	wg_index_table_destroy(&dev->index_table);
	wg_peer_table_destroy(&dev->peer_table);
	ret = check_released(dev);
	pthread_mutex_destroy(&dev->removed_lock);
	wg_socket_set_close(dev->sockets);
	free(dev->sockets);
	wg_tun_close(&dev->tun);
	destroy_queues(dev);
	wg_source_recent_uninit(&dev->handshake_sources);
	wg_ratelimiter_uninit(&dev->ratelimiter);
	wg_cookie_checker_destroy(&dev->cookie_checker);
	close(dev->stop_fd);
	/* Wipes the identity and the cookie secrets with the rest. */
	wg_secmem_free(dev, sizeof(*dev));
	return ret;
}

int wg_device_send(struct wg_device *dev, const union wg_sockaddr *dst,
		   struct wg_src *src, struct iovec *iov, unsigned int n,
		   unsigned int *sent)
{
	struct wg_socket_set *s;
	unsigned int more, sends, more_sends;
	int ret;

	rcu_read_lock();
	s = rcu_dereference(dev->sockets);
	ret = wg_socket_send_burst_from(s, dst, src, iov, n, sent, &sends);
	if (ret && src && src->family && wg_socket_src_refused(ret)) {
		src->family = 0;
		ret = wg_socket_send_burst_from(s, dst, NULL, iov + *sent,
						n - *sent, &more, &more_sends);
		*sent += more;
		sends += more_sends;
	}
	rcu_read_unlock();
	wg_stat_add(dev, udp_tx_sends, sends);
	return ret;
}

int wg_device_send_one(struct wg_device *dev, const union wg_sockaddr *dst,
		       struct wg_src *src, const void *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	unsigned int sent = 0;
	int ret;

	ret = wg_device_send(dev, dst, src, &iov, 1, &sent);
	if (sent)
		return 0; /* perhaps on the retry without src */
	return ret ? ret : -EIO;
}

unsigned int wg_device_send_many(struct wg_device *dev, struct wg_datagram *d,
				 unsigned int n)
{
	unsigned int sent;

	rcu_read_lock();
	sent = wg_socket_send_many(rcu_dereference(dev->sockets), d, n);
	rcu_read_unlock();
	wg_stat_add(dev, udp_tx_sends, sent);
	return sent;
}

/* Must hold config_lock. Readers stop, the new set takes over, the old
 * one closes once no writer can still use it. */
int wg_device_set_listen_port(struct wg_device *dev, uint16_t port)
{
	struct wg_socket_set *old = dev->sockets, *s;
	int ret;

	if (port && port == dev->listen_port)
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	/* The old set still holds its port: moving to it is a no-op above,
	 * and any other port must be free now. */
	ret = wg_socket_set_open(s, port, dev->fwmark, false);
	if (ret) {
		free(s);
		return ret;
	}
	wg_socket_set_offloads(s, dev->opt.udp_gso, dev->opt.udp_gro);
	wg_pipeline_stop_udp_readers(dev);
	rcu_assign_pointer(dev->sockets, s);
	dev->listen_port = s->port;
	synchronize_rcu();
	wg_socket_set_close(old);
	free(old);
	return wg_pipeline_start_udp_readers(dev);
}

/* Must hold config_lock. */
int wg_device_set_private_key(struct wg_device *dev, const uint8_t *key)
{
	struct noise_static_identity id = { 0 };
	struct wg_peer *peer, *tmp;

	if (key && !wg_crypto_is_zero(key, WG_KEY_LEN) &&
	    !wg_noise_set_static_identity_private_key(&id, key))
		return -EINVAL;
	pthread_rwlock_wrlock(&dev->identity_lock);
	dev->identity = id;
	pthread_rwlock_unlock(&dev->identity_lock);
	sodium_memzero(&id, sizeof(id));
	wg_cookie_checker_precompute_device_keys(
		&dev->cookie_checker,
		dev->identity.has_identity ? dev->identity.static_public : NULL);
	cds_list_for_each_entry_safe(peer, tmp, &dev->peers, list) {
		/* A million peers take half a minute; a daemon asked to stop
		 * meanwhile has no use for the rest. */
		if (wg_device_stopping(dev))
			break;
		/* A peer with our own public key cannot exist. */
		if (dev->identity.has_identity &&
		    !memcmp(peer->public_key, dev->identity.static_public,
			    WG_KEY_LEN)) {
			wg_peer_remove(peer);
			continue;
		}
		wg_noise_precompute_static_static(&peer->handshake);
		wg_peer_expire_current_keypairs(peer);
	}
	return 0;
}

/* The device-wide counters, by the index metrics.h gives them. */
#define STAT(m, field) { m, offsetof(struct wg_stats, field) }

static const struct {
	enum wg_device_metric metric;
	size_t offset;
} stat_fields[] = {
	STAT(WG_M_TUN_RX_PACKETS, tun_rx_packets),
	STAT(WG_M_TUN_RX_BATCHES, tun_rx_batches),
	STAT(WG_M_UDP_TX_PACKETS, udp_tx_packets),
	STAT(WG_M_UDP_TX_BATCHES, udp_tx_batches),
	STAT(WG_M_UDP_RX_PACKETS, udp_rx_packets),
	STAT(WG_M_UDP_RX_BATCHES, udp_rx_batches),
	STAT(WG_M_TUN_TX_PACKETS, tun_tx_packets),
	STAT(WG_M_TUN_TX_BATCHES, tun_tx_batches),
	STAT(WG_M_TUN_RX_READS, tun_rx_reads),
	STAT(WG_M_UDP_RX_READS, udp_rx_reads),
	STAT(WG_M_UDP_TX_SENDS, udp_tx_sends),
	STAT(WG_M_TUN_TX_WRITES, tun_tx_writes),
	STAT(WG_M_DROP_NO_PEER, drop_no_peer),
	STAT(WG_M_DROP_NO_ENDPOINT, drop_no_endpoint),
	STAT(WG_M_DROP_NO_KEYPAIR, drop_no_keypair),
	STAT(WG_M_DROP_STAGED, drop_staged),
	STAT(WG_M_DROP_TOO_BIG, drop_too_big),
	STAT(WG_M_DROP_SEND_ERROR, drop_send_error),
	STAT(WG_M_DROP_BAD_PACKET, drop_bad_packet),
	STAT(WG_M_DROP_UNKNOWN_INDEX, drop_unknown_index),
	STAT(WG_M_DROP_DECRYPT, drop_decrypt),
	STAT(WG_M_DROP_REPLAY, drop_replay),
	STAT(WG_M_DROP_SOURCE, drop_source),
	STAT(WG_M_DROP_POOL_EMPTY, drop_pool_empty),
	STAT(WG_M_DROP_HANDSHAKE, drop_handshake),
	STAT(WG_M_HANDSHAKE_COOKIES_SENT, handshake_cookies_sent),
	STAT(WG_M_HANDSHAKE_RATELIMITED, handshake_ratelimited),
	STAT(WG_M_HANDSHAKE_FAIR_QUEUED, handshake_fair_queued),
};

/* Average packets per batch, in hundredths, for a stage's pair. */
static uint64_t fill(uint64_t packets, uint64_t batches)
{
	return batches ? packets * 100 / batches : 0;
}

/* What is not a struct wg_stats counter: the pool, the in-flight
 * limits, key memory, the offloads. */
static void collect_state(struct wg_device *dev, uint64_t *v)
{
	struct batch_inflight *in = dev->pool.inflight;
	struct wg_secmem_stats sm;
	struct wg_socket_set *s;

	v[WG_M_POOL_EMPTY_EVENTS] = wg_read_once(dev->pool.empty_events);
	v[WG_M_TUN_RX_BATCH_FILL] = fill(v[WG_M_TUN_RX_PACKETS],
					 v[WG_M_TUN_RX_BATCHES]);
	v[WG_M_UDP_RX_BATCH_FILL] = fill(v[WG_M_UDP_RX_PACKETS],
					 v[WG_M_UDP_RX_BATCHES]);
	v[WG_M_INFLIGHT_TX] = wg_read_once(in[BATCH_TX].packets);
	v[WG_M_INFLIGHT_RX] = wg_read_once(in[BATCH_RX].packets);
	wg_secmem_get_stats(&sm);
	v[WG_M_KEY_MEMORY] = sm.bytes_mapped / 1024;
	v[WG_M_KEY_MEMORY_LOCK_FAILURES] = sm.lock_failures;
	v[WG_M_INFLIGHT_FULL_EVENTS_TX] = wg_read_once(in[BATCH_TX].full_events);
	v[WG_M_INFLIGHT_FULL_EVENTS_RX] = wg_read_once(in[BATCH_RX].full_events);
	v[WG_M_POOL_BATCHES] = dev->pool.nbatches;
	v[WG_M_POOL_FREE] = wg_batch_pool_free(&dev->pool);
	v[WG_M_PEERS_HELD] = wg_read_once(dev->peers_held);
	v[WG_M_OFFLOAD_TUN_VNET_HDR] = dev->tun.vnet_hdr;
	v[WG_M_OFFLOAD_TUN_TSO] = !!(dev->tun.offloads & TUN_F_TSO4);
	v[WG_M_OFFLOAD_TUN_USO] = !!(dev->tun.offloads & WG_TUN_F_USO4);
	v[WG_M_OFFLOAD_TUN_GRO] = dev->tun.vnet_hdr && dev->opt.tun_gro &&
				  !!(dev->tun.offloads & TUN_F_TSO4);
	rcu_read_lock();
	s = rcu_dereference(dev->sockets);
	v[WG_M_OFFLOAD_UDP_GSO] = wg_read_once(s->gso) != 0;
	v[WG_M_OFFLOAD_UDP_GRO] = s->gro;
	rcu_read_unlock();
}

static void collect_peer(struct wg_peer *peer, struct wg_peer_metrics *pm,
			 uint64_t now_ns)
{
	const struct wg_peer_stats *st = &peer->stats;
	uint64_t hs = wg_read_once(peer->last_handshake_realtime_ns);
	uint64_t *v = pm->v;

	memcpy(pm->public_key, peer->public_key, WG_KEY_LEN);
	v[WG_PM_RX_BYTES] = wg_read_once(peer->rx_bytes);
	v[WG_PM_TX_BYTES] = wg_read_once(peer->tx_bytes);
	v[WG_PM_RX_PACKETS] = wg_read_once(st->rx_packets);
	v[WG_PM_TX_PACKETS] = wg_read_once(st->tx_packets);
	v[WG_PM_DROP_DECRYPT] = wg_read_once(st->drop_decrypt);
	v[WG_PM_DROP_REPLAY] = wg_read_once(st->drop_replay);
	v[WG_PM_DROP_SOURCE] = wg_read_once(st->drop_source);
	v[WG_PM_DROP_NO_KEYPAIR] = wg_read_once(st->drop_no_keypair);
	v[WG_PM_HANDSHAKES_INITIATED] = wg_read_once(st->handshakes_initiated);
	v[WG_PM_HANDSHAKES_COMPLETED] = wg_read_once(st->handshakes_completed);
	v[WG_PM_HANDSHAKES_REFUSED] = wg_read_once(st->handshakes_refused);
	v[WG_PM_LATEST_HANDSHAKE] = hs / NSEC_PER_SEC;
	/* A clock set back since: an age of 0 rather than a huge one. */
	v[WG_PM_LATEST_HANDSHAKE_AGE] =
		!hs ? WG_METRIC_NEVER
		    : (now_ns > hs ? now_ns - hs : 0) / NSEC_PER_SEC;
}

/* The configured peers, under RCU: a snapshot, not an atomic one. */
static int collect_peers(struct wg_device *dev, struct wg_metrics *m)
{
	uint64_t now = wg_realtime_ns();
	struct wg_peer_metrics *pm;
	struct wg_peer *peer;
	int ret = 0;

	rcu_read_lock();
	cds_list_for_each_entry_rcu(peer, &dev->peers, list) {
		if (wg_load_acquire(peer->dead))
			continue;
		pm = wg_metrics_add_peer(m);
		if (!pm) {
			ret = -ENOMEM;
			break;
		}
		collect_peer(peer, pm, now);
	}
	rcu_read_unlock();
	return ret;
}

int wg_device_collect_metrics(struct wg_device *dev, struct wg_metrics *m,
			      bool with_peers)
{
	const char *base = (const char *)&dev->stats;
	size_t i;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < sizeof(stat_fields) / sizeof(stat_fields[0]); i++)
		m->v[stat_fields[i].metric] = wg_read_once(
			*(const uint64_t *)(base + stat_fields[i].offset));
	collect_state(dev, m->v);
	snprintf(m->crypto, sizeof(m->crypto), "%s", wg_aead_name());
	if (!with_peers)
		return 0;
	return collect_peers(dev, m);
}

int wg_device_format_stats(struct wg_device *dev, char **out, size_t *len)
{
	struct wg_metrics m;
	FILE *f;
	int ret;

	ret = wg_device_collect_metrics(dev, &m, true);
	if (ret)
		goto out;
	ret = -ENOMEM;
	f = open_memstream(out, len);
	if (!f)
		goto out;
	wg_metrics_write_wire(f, &m);
	if (!fclose(f))
		ret = 0;
out:
	wg_metrics_free(&m);
	return ret;
}

void wg_device_log_stats(struct wg_device *dev)
{
	char *text = NULL, *line, *save = NULL;
	struct wg_metrics m;
	size_t len;
	FILE *f;

	wg_device_collect_metrics(dev, &m, false);
	f = open_memstream(&text, &len);
	if (!f)
		return;
	wg_metrics_write_device(f, &m);
	if (fclose(f)) {
		free(text);
		return;
	}
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (eq)
			*eq = ' ';
		log_info("counter %s", line);
	}
	free(text);
}

