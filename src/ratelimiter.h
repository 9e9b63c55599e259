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
 * their buckets would be full again anyway. Call every second or two. */
void wg_ratelimiter_gc(struct ratelimiter *rl, uint64_t now_ns, bool all);

size_t wg_ratelimiter_count(struct ratelimiter *rl);

/*
 * Which sources got a handshake message into the handshake ring in the
 * last second, without a lock: a fixed table of slots, each holding a
 * source's tag and when it got one in. A source (told apart as above) has
 * two slots, chosen by a keyed hash (the key is random, so no source can
 * choose its slots); it may use either. It is refused while either holds
 * its tag from less than a second ago, or while both are held by other
 * sources from less than a second ago. So with N sources getting one in
 * each second, a source is shut out only when both its slots are among
 * the N taken: about (N / slots)^2.
 */
struct source_recent {
	uint64_t *slots; /* mask + 1: tag << 32 | time; shared */
	size_t mask;
	uint8_t hash_key[16];
};

/* slots: rounded up to a power of two, at most 2^20. 0, -EINVAL or
 * -ENOMEM. */
int wg_source_recent_init(struct source_recent *sr, size_t slots);
void wg_source_recent_uninit(struct source_recent *sr);

/* True, and one of src's slots marked now, when src may queue one now
 * (see above); false otherwise, and for a family that is neither IPv4
 * nor IPv6. Any thread. */
bool wg_source_recent_admit(struct source_recent *sr,
			    const union wg_sockaddr *src, uint64_t now_ns);

#endif
