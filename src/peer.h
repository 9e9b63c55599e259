/* SPDX-License-Identifier: MIT */
/*
 * Peers and their keypairs.
 *
 * Lifetime: a peer is created and removed by the UAPI thread under the
 * device's config lock. The device holds one reference; every batch in
 * flight holds one more. Removing a peer unpublishes it (peer table,
 * allowed-IPs, index table, device list), marks it dead, parks it on
 * the device's removed list (so shutdown finds the batches it still has
 * queued) and drops the device's reference; the last put frees it after
 * an RCU grace period.
 *
 * Keypairs: current, previous and next are RCU pointers written under
 * keypairs_lock. The send path uses only current; the receive path finds
 * keypairs through the index table. A keypair holds one reference per
 * slot it sits in and one per batch using it.
 *
 * Locks, innermost last: config lock (device) -> identity_lock ->
 * handshake_mutex -> keypairs_lock -> timers_lock -> endpoint_lock;
 * staged_lock -> tx_queue's spinlock (send.c empties staged into the
 * queue in one section); the queue spinlocks are leaves. The handshake's
 * own mutex (inside noise.c) and the index table's sit under
 * handshake_mutex.
 *
 * handshake_mutex makes each handshake step whole: a message consumed or
 * created, the index it carries entered in the index table, and the
 * keypair derived from it, with no other step of the same peer's in
 * between, whichever thread (handshake worker, timer, UAPI) takes it. A
 * step that finds the peer dead once it holds the mutex does nothing.
 */
#ifndef WGPIPE_PEER_H
#define WGPIPE_PEER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <urcu/list.h>
#include "rcu.h"

#include "addr.h"
#include "allowedips.h"
#include "atomic.h"
#include "cookie.h"
#include "noise.h"
#include "peerlookup.h"
#include "queueing.h"
#include "timers.h"

struct wg_device;

struct wg_keypair {
	struct noise_keypair noise;
	struct index_entry entry;
	struct wg_peer *peer;
	int refcount; /* shared: wg_ref_* */
	struct rcu_head rcu;
};

/* What a peer keeps while it waits for a session (send.c): its last
 * WG_MAX_STAGED_PACKETS packets, as the kernel module keeps its last 128,
 * small batches merged into the last one, in WG_MAX_STAGED_BATCHES
 * batches at most; and all peers together no more than a quarter of the
 * pool (staged_cap in send.c). */
enum { WG_MAX_STAGED_BATCHES = 4, WG_MAX_STAGED_PACKETS = 128 };

/* What wgpipe show reports per peer (metrics.h): relaxed atomics, bumped
 * beside the device-wide counters and, like them, once per batch on the
 * data path. */
struct wg_peer_stats {
	uint64_t rx_packets, tx_packets;
	uint64_t drop_decrypt, drop_replay, drop_source, drop_no_keypair;
	uint64_t handshakes_initiated, handshakes_completed;
	uint64_t handshakes_refused;
};

#define wg_peer_stat_add(peer, field, n)                                      \
	wg_counter_add((peer)->stats.field, (n))

struct wg_peer {
	struct wg_device *dev;
	uint64_t id; /* for logs: "peer 3" */
	int refcount; /* shared: wg_ref_* */
	int dead;     /* shared: wg_store_release once, wg_load_acquire */
	struct rcu_head rcu;

	uint8_t public_key[WG_KEY_LEN];
	struct cds_hlist_node pubkey_node[2]; /* the peer table's */
	struct cds_list_head list; /* dev->peers, RCU */
	struct cds_list_head removed; /* dev->removed_peers once dead */
	struct allowedips_owner allowedips;

	pthread_mutex_t handshake_mutex;
	struct noise_handshake handshake;
	struct index_entry handshake_entry;
	struct cookie cookie;

	pthread_mutex_t keypairs_lock;
	struct wg_keypair *current, *previous, *next;

	pthread_spinlock_t endpoint_lock;
	union wg_sockaddr endpoint; /* sa_family 0: none yet */
	struct wg_src endpoint_src; /* our address it talks to */

	pthread_mutex_t timers_lock;
	struct wg_timers timers;
	int handshake_wanted; /* shared, wg_exchange: asked for a handshake */
	/* On the timer thread's lists while a timer is armed or a handshake
	 * wanted (handshake.c), so that it walks those peers, not all. */
	struct cds_list_head timer_node;
	int timer_listed; /* shared: wg_full_* */

	struct wg_ordered_queue tx_queue, rx_queue;

	/* Batches waiting for a keypair (send.c). */
	pthread_mutex_t staged_lock;
	struct batch_list staged;

	uint64_t rx_bytes, tx_bytes; /* shared: wg_counter_add */
	struct wg_peer_stats stats;  /* shared: wg_peer_stat_add */
	uint64_t last_handshake_realtime_ns; /* shared; 0: never */
	unsigned int staged_packets; /* in staged; under staged_lock */
};

/* Must hold dev->config_lock. 0, or -ENOMEM when nothing is reserved. */
int wg_peer_create(struct wg_device *dev,
		   const uint8_t public_key[static WG_KEY_LEN],
		   struct wg_peer **out);
/* Sets memory aside so that the next n wg_peer_create() cannot fail: a
 * request is applied whole or not at all. 0 or -ENOMEM (what was set
 * aside stays). wg_peer_unreserve() frees what is left. Both must hold
 * dev->config_lock. */
int wg_peer_reserve(struct wg_device *dev, size_t n);
void wg_peer_unreserve(struct wg_device *dev);

/* The most peers a device has, the kernel module's limit: a set request
 * that would pass it is refused whole (-ENOSPC). */
enum { WG_MAX_PEERS = 1 << 20 };
/* Both must hold dev->config_lock. */
void wg_peer_remove(struct wg_peer *peer);
void wg_peer_remove_all(struct wg_device *dev);

struct wg_peer *wg_peer_get(struct wg_peer *peer);
/* Under rcu_read_lock(): NULL when the peer is already being freed. */
struct wg_peer *wg_peer_get_unless_zero(struct wg_peer *peer);
void wg_peer_put(struct wg_peer *peer);
/* Tells a writer pool that peer has finished work: the caller's
 * reference goes into the ring (or is dropped if it is full). */
void wg_peer_hand_to(struct wg_ring *writers, struct wg_peer *peer);

/* A keypair for peer, one reference held (for the slot it will be
 * installed in), its keys still to be derived; NULL without memory. */
struct wg_keypair *wg_keypair_new(struct wg_peer *peer);
/* Frees a keypair that was never installed (its keys wiped). */
void wg_keypair_discard(struct wg_keypair *kp);

struct wg_keypair *wg_keypair_get_unless_zero(struct wg_keypair *kp);
void wg_keypair_put(struct wg_keypair *kp);
/* A reference to the current keypair, or NULL. */
struct wg_keypair *wg_peer_current_keypair(struct wg_peer *peer);

/* Installs a keypair fresh from a handshake: as initiator it becomes
 * current at once; as responder it waits in next for the first packet. */
void wg_peer_install_keypair(struct wg_peer *peer, struct wg_keypair *kp);
/* The first packet on next confirms it: next becomes current. True when
 * that happened (the handshake is then complete for the responder). */
bool wg_peer_received_with_keypair(struct wg_peer *peer,
				   struct wg_keypair *kp);
/* Drop every keypair and the handshake in flight (keys zeroed). */
void wg_peer_zero_keys(struct wg_peer *peer);
/* Make the current keys unusable for sending, forcing a new handshake. */
void wg_peer_expire_current_keypairs(struct wg_peer *peer);

/* src may be NULL: not wanted, or (set) not known. */
void wg_peer_get_endpoint(struct wg_peer *peer, union wg_sockaddr *out,
			  struct wg_src *src);
void wg_peer_set_endpoint(struct wg_peer *peer, const union wg_sockaddr *ep,
			  const struct wg_src *src);
/* Our address src stopped working: let the kernel choose again. */
void wg_peer_clear_src(struct wg_peer *peer);

#endif
