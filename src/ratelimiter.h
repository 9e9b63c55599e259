/* SPDX-License-Identifier: MIT */
/*
 * Per-source handshake rate limiter, applied under load: a token bucket
 * per source of PACKETS_PER_SECOND with a burst of PACKETS_BURSTABLE.
 * IPv4 sources are told apart by address, IPv6 by /64 prefix (IPv4-mapped
 * IPv6 addresses count as IPv4); ports are ignored. Memory is allocated
 * once, at init: the table holds at most max_entries sources, and while it
 * is full new sources are refused. Clocks (monotonic ns) are passed in.
 *
 * Any thread may call any function but init/uninit; each takes rl->lock.
 */
#ifndef WGPIPE_RATELIMITER_H
#define WGPIPE_RATELIMITER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct ratelimiter_entry;

struct ratelimiter {
	pthread_mutex_t lock;
	struct ratelimiter_entry **buckets; /* chains, bucket_mask + 1 */
	struct ratelimiter_entry *pool;	    /* max_entries, allocated once */
	struct ratelimiter_entry *free;	    /* unused entries of pool */
	size_t bucket_mask;
	size_t count;
	size_t max_entries;
	uint8_t hash_key[16]; /* random, so sources cannot aim at a chain */
};

/* 0 or -ENOMEM. */
int wg_ratelimiter_init(struct ratelimiter *rl, size_t max_entries);
void wg_ratelimiter_uninit(struct ratelimiter *rl);

/* True when a handshake from src may be processed now (and counts it). */
bool wg_ratelimiter_allow(struct ratelimiter *rl, const union wg_sockaddr *src,
			  uint64_t now_ns);

/* Drops the sources idle for more than a second (every one with all);
 * their buckets would be full again anyway. Call about once a second. */
void wg_ratelimiter_gc(struct ratelimiter *rl, uint64_t now_ns, bool all);

size_t wg_ratelimiter_count(struct ratelimiter *rl);

/*
 * When each source last got a handshake message into the handshake ring:
 * a fixed table of times, indexed by a keyed hash of the source (told
 * apart as above), without a lock. Two sources may share a slot; the hash
 * key is random, so no source can choose whose slot it shares.
 */
struct source_recent {
	uint64_t *last_ns; /* mask + 1 slots, atomic */
	size_t mask;
	uint8_t hash_key[16];
};

/* slots: rounded up to a power of two. 0 or -ENOMEM. */
int wg_source_recent_init(struct source_recent *sr, size_t slots);
void wg_source_recent_uninit(struct source_recent *sr);

/* True, and src's slot marked now, when that slot was last marked a
 * second or more ago (or never); false otherwise, and for a family that
 * is neither IPv4 nor IPv6. Any thread. */
bool wg_source_recent_admit(struct source_recent *sr,
			    const union wg_sockaddr *src, uint64_t now_ns);

#endif
