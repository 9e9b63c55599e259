/* SPDX-License-Identifier: MIT */
/*
 * The device: one WireGuard interface, its TUN queues, its UDP sockets,
 * its tables and its thread pools.
 *
 * Locks: config_lock serialises every configuration change (UAPI) and
 * guards listen_port, fwmark and the set of peers. identity_lock (read by
 * handshake workers, written under config_lock) guards the static
 * identity. Everything the data path reads is published under RCU.
 */
#ifndef WGPIPE_DEVICE_H
#define WGPIPE_DEVICE_H

#include <net/if.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <urcu/list.h>

#include "allowedips.h"
#include "atomic.h"
#include "batch.h"
#include "cookie.h"
#include "noise.h"
#include "peerlookup.h"
#include "queueing.h"
#include "ratelimiter.h"
#include "socket.h"
#include "tun.h"

struct wg_uapi_server;
struct wg_metrics;

/* Thread pools and pools of batches, from the command line. */
struct wg_options {
	unsigned int tun_readers;
	unsigned int udp_readers;
	unsigned int crypto_workers;
	unsigned int tun_writers;
	unsigned int udp_writers;
	unsigned int handshake_workers;
	unsigned int batch_size;
	unsigned int pool_batches;
	unsigned int max_inflight;
	/* Offloads, each on unless --no-offload turned it off. */
	bool tun_vnet;	/* virtio-net headers on the TUN device */
	bool tun_tso;	/* TSO4/TSO6 super-packets read from TUN */
	bool tun_uso;	/* USO4/USO6 super-packets read from TUN */
	bool tun_gro;	/* coalescing on TUN writes */
	bool udp_gso;	/* UDP_SEGMENT sends */
	bool udp_gro;	/* UDP_GRO receives */
	const char *crypto; /* --crypto: an implementation in aead.h */
	bool pin_threads;   /* --pin-threads: one CPU per thread, in turn */
	int tun_fd;  /* inherited (WG_TUN_FD), or -1 */
	int uapi_fd; /* inherited (WG_UAPI_FD), or -1 */
	/* Test-only (WGPIPE_TEST_REKEY_AFTER_TIME): rekey the initiator's
	 * keys after this many ns instead of REKEY_AFTER_TIME. */
	uint64_t rekey_after_time_ns;
	/* Test-only (WGPIPE_TEST_STAGED_DELAY_MS): the pause before a new
	 * session sends what was staged for it (wg_send_session_ready). */
	unsigned int staged_delay_ms;
};

/* Counters an operator can read; all updated with relaxed atomics,
 * once per batch on the data path. */
struct wg_stats {
	uint64_t tun_rx_packets, tun_rx_batches;
	uint64_t udp_rx_packets, udp_rx_batches;
	uint64_t udp_tx_packets, udp_tx_batches;
	/* System calls' worth: TUN reads (a super-packet is one), UDP
	 * messages received (a UDP_GRO run is one) and sent (a UDP_SEGMENT
	 * run is one), TUN writes (a coalesced super-packet is one). */
	uint64_t tun_rx_reads, udp_rx_reads, udp_tx_sends, tun_tx_writes;
	uint64_t tun_tx_packets, tun_tx_batches;
	uint64_t drop_no_peer, drop_no_endpoint, drop_no_keypair;
	uint64_t drop_staged, drop_too_big, drop_send_error;
	uint64_t drop_bad_packet, drop_unknown_index, drop_decrypt;
	uint64_t drop_replay, drop_source, drop_pool_empty;
	uint64_t drop_handshake, handshake_cookies_sent;
	uint64_t handshake_ratelimited, handshake_fair_queued;
};

#define wg_stat_add(dev, field, n) wg_counter_add((dev)->stats.field, (n))

/* The largest pool of each kind: TUN readers and writers have a queue of
 * the TUN device each. */
enum { WG_MAX_THREADS = WG_TUN_MAX_QUEUES };

struct wg_pipeline;

struct wg_device {
	char name[IFNAMSIZ];
	struct wg_options opt;
	struct wg_tun tun;
	unsigned int mtu; /* shared: follows the interface (housekeeping) */

	pthread_mutex_t config_lock;
	pthread_rwlock_t identity_lock;
	struct noise_static_identity identity;
	struct cookie_checker cookie_checker;
	struct ratelimiter ratelimiter;
	struct source_recent handshake_sources; /* see receive.c */
	pthread_mutex_t load_lock;
	struct cookie_load load;

	struct allowedips allowedips;
	struct peer_table peer_table;
	struct index_table index_table;
	struct cds_list_head peers; /* RCU list; written under config_lock */
	unsigned int peer_count; /* written under config_lock */
	uint64_t next_peer_id;
	/* Removed peers that batches in flight still hold (peer->removed),
	 * so that shutdown can take those batches back too. */
	pthread_mutex_t removed_lock;
	struct cds_list_head removed_peers;
	unsigned int peers_held; /* shared: allocated and not yet freed */
	/* shared, wg_counter_*: batches staged, all peers (send.c) */
	unsigned int staged_batches;
	struct cds_list_head spare_peers; /* wg_peer_reserve(); config_lock */

	struct wg_socket_set *sockets; /* RCU pointer */
	uint16_t listen_port;
	uint32_t fwmark;

	/* The batches, with the in-flight limit per direction, and the
	 * rings between the stages: see queueing.h for the table of every
	 * ring and queue. */
	struct batch_pool pool;
	struct wg_ring crypt_ring;
	struct wg_ring udp_writer_ring;
	struct wg_ring tun_writer_ring;
	struct wg_ring handshake_ring;
	struct wg_ring handshake_fair_ring;
	struct wg_waitq timer_wait; /* wakes the timer thread */
	/* The peers the timer thread walks: timer_active is its own, other
	 * threads add to timer_pending under timer_lock (handshake.c). */
	pthread_mutex_t timer_lock;
	struct cds_list_head timer_pending, timer_active;

	int stop_fd;  /* eventfd: readable once shutdown begins */
	int stopping; /* shared: wg_device_request_stop() */
	int exit_status;
	struct wg_pipeline *pipeline; /* the threads; pipeline.c */
	struct wg_uapi_server *uapi;
	struct wg_stats stats;
};

int wg_device_create(struct wg_device **out, const char *name,
		     const struct wg_options *opt);
int wg_device_start(struct wg_device *dev);
/* Blocks until a stop is requested; returns the exit status. */
int wg_device_wait(struct wg_device *dev);
/* Async-signal-safe. */
void wg_device_request_stop(struct wg_device *dev, int status);

/* The one stop check: true once a stop was requested. */
static inline bool wg_device_stopping(struct wg_device *dev)
{
	return wg_load_acquire(dev->stopping);
}

/* Whether the thread that queued b for sealing or opening does that
 * itself, rather than hand b to the crypto workers through the crypt
 * ring and wake a worker and a writer for it. alone: b is its peer's
 * only batch in flight in this direction.
 *   - No workers (--crypto-workers 0): always.
 *   - A few packets (a ping, a keepalive, an ACK): while the workers have
 *     nothing queued, or nothing else of this peer's is in flight, so
 *     that a quiet peer's packets do not wait behind another peer's bulk.
 *   - A larger batch: when its reader keeps up (b->caught_up: it found
 *     its queue empty at most WG_CAUGHT_UP batches ago, and with a
 *     single peer at most WG_CAUGHT_UP_ONE_PEER_TX (a TUN reader) or
 *     _RX (a UDP reader)), and, with more than one peer, the workers
 *     have nothing queued. A reader that keeps up
 *     costs no hand-off and no wake-up; one that falls behind hands its
 *     batches on and goes back to reading, so that other peers' packets
 *     behind them in the socket or the TUN queue are read (and a quiet
 *     one's take the lane above) while the workers seal or open the
 *     bulk. */
static inline bool wg_crypt_here(struct wg_device *dev, const struct batch *b,
				 bool alone)
{
	bool idle;

	if (!dev->opt.crypto_workers)
		return true;
	idle = !wg_ring_len(&dev->crypt_ring);
	if (b->count <= WG_INLINE_MAX)
		return alone || idle;
	return b->caught_up && (idle || wg_read_once(dev->peer_count) == 1);
}

/* How many batches a reader of direction dir (BATCH_TX: the TUN
 * device's, BATCH_RX: the sockets') may hand on after finding its queue
 * empty and still count as keeping up (WG_CAUGHT_UP). */
static inline unsigned int wg_caught_up_batches(struct wg_device *dev,
						enum batch_dir dir)
{
	if (wg_read_once(dev->peer_count) != 1)
		return WG_CAUGHT_UP;
	return dir == BATCH_TX ? WG_CAUGHT_UP_ONE_PEER_TX :
				 WG_CAUGHT_UP_ONE_PEER_RX;
}

/* Readers: sleeps until one of fds[0 .. n) is readable (n <= 2), or the
 * device stops, or stop_fd (-1: none) becomes readable; returns which of
 * fds are readable (or in error), bit i for fds[i], 0 for none. No
 * timeout: a stop is an event. */
unsigned int wg_device_wait_readable(struct wg_device *dev, const int *fds,
				     unsigned int n, int stop_fd);
/* Something too big to carry, of len bytes: counted in drop_too_big, and
 * logged once for each reason (*said, the caller's flag, one per call
 * site), with why. Any thread. */
void wg_device_too_big(struct wg_device *dev, size_t len, const char *why,
		       int *said);
/* Timer thread, every two seconds: follows the interface's MTU, notices its
 * deletion, ages the rate limiter. */
void wg_device_housekeeping(struct wg_device *dev, uint64_t now);
/* The caller is registered with RCU. 0, or -EBUSY when a batch never came
 * back to the pool or a peer is still referenced (a leak, logged). */
int wg_device_destroy(struct wg_device *dev);
/* Any thread: every figure of metrics.h, now; with_peers, each
 * configured peer's too. 0 or -ENOMEM; free with wg_metrics_free(). */
int wg_device_collect_metrics(struct wg_device *dev, struct wg_metrics *m,
			      bool with_peers);
/* Writes the device's figures to the log, one "counter NAME VALUE" line
 * each. */
void wg_device_log_stats(struct wg_device *dev);
/* The reply to stats=1 (metrics.h, the wire), malloc'd (any thread). */
int wg_device_format_stats(struct wg_device *dev, char **out, size_t *len);

/* Must hold config_lock. Rebinds the UDP sockets to port. */
int wg_device_set_listen_port(struct wg_device *dev, uint16_t port);
int wg_device_set_private_key(struct wg_device *dev, const uint8_t *key);

/* The UDP side as the data path sees it: under rcu_read_lock(). From
 * our address src where given; a src that is no longer ours is retried
 * without, and src->family is then set to 0 for the caller to forget. */
int wg_device_send(struct wg_device *dev, const union wg_sockaddr *dst,
		   struct wg_src *src, struct iovec *iov, unsigned int n,
		   unsigned int *sent);
/* One datagram, as above: 0 once it went out, else -errno. */
int wg_device_send_one(struct wg_device *dev, const union wg_sockaddr *dst,
		       struct wg_src *src, const void *buf, size_t len);
/* Datagrams each to its own address from its own source, batched
 * (wg_socket_send_many; a source no longer ours is forgotten there, in
 * d[i].src). Any thread. Returns how many went out, counted in
 * udp_tx_sends as each is a message of its own. */
unsigned int wg_device_send_many(struct wg_device *dev, struct wg_datagram *d,
				 unsigned int n);

#endif
