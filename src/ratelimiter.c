// SPDX-License-Identifier: MIT
/*
 * Token buckets measured in nanoseconds: a bucket fills at one token per
 * nanosecond up to TOKEN_MAX, and a handshake costs PACKET_COST, so the
 * sustained rate is PACKETS_PER_SECOND and the burst PACKETS_BURSTABLE.
 * A refused handshake costs nothing, so a flooding source gets through at
 * exactly the sustained rate, no less.
 *
 * The table is a fixed pool of entries chained into a power-of-two
 * number of buckets (at least one per entry), hashed with SipHash under a
 * random key. One mutex guards it all: only handshake workers and the
 * timer thread come here, and each visit is a few dozen nanoseconds.
 */
#include "ratelimiter.h"

#include "atomic.h"
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "clock.h"
#include "wgpipe/wireguard.h"


enum {
	SOURCE_KEY_LEN = 9, /* family tag, then 4 (IPv4) or 8 (IPv6) bytes */
	SOURCE_IPV4 = 4,
	SOURCE_IPV6 = 6,
};

static const uint64_t PACKET_COST = NSEC_PER_SEC / PACKETS_PER_SECOND;
static const uint64_t TOKEN_MAX =
    NSEC_PER_SEC / PACKETS_PER_SECOND * PACKETS_BURSTABLE;

_Static_assert(sizeof(((struct ratelimiter *)0)->hash_key) ==
		   crypto_shorthash_KEYBYTES,
	       "hash_key fits crypto_shorthash");

struct ratelimiter_entry {
	struct ratelimiter_entry *next;
	uint64_t last_time_ns;
	uint64_t tokens;
	uint8_t key[SOURCE_KEY_LEN];
};

/* What tells sources apart: the IPv4 address, or the /64 of an IPv6 one.
 * False for a family we do not know. */
static bool source_key(uint8_t key[static SOURCE_KEY_LEN],
		       const union wg_sockaddr *src)
{
	const struct in6_addr *a6 = &src->in6.sin6_addr;

	memset(key, 0, SOURCE_KEY_LEN);
	switch (src->sa.sa_family) {
	case AF_INET:
		key[0] = SOURCE_IPV4;
		memcpy(key + 1, &src->in4.sin_addr, 4);
		return true;
	case AF_INET6:
		/* A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d;
		 * by /64 they would all share one bucket. */
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			key[0] = SOURCE_IPV4;
			memcpy(key + 1, a6->s6_addr + 12, 4);
		} else {
			key[0] = SOURCE_IPV6;
			memcpy(key + 1, a6->s6_addr, 8);
		}
		return true;
	default:
		return false;
	}
}

static uint64_t key_hash(const uint8_t key[static SOURCE_KEY_LEN],
			 const uint8_t hash_key[static crypto_shorthash_KEYBYTES])
{
	uint8_t out[crypto_shorthash_BYTES];
	uint64_t h;

	crypto_shorthash(out, key, SOURCE_KEY_LEN, hash_key);
	memcpy(&h, out, sizeof(h));
	return h;
}

static struct ratelimiter_entry **
bucket_of(struct ratelimiter *rl, const uint8_t key[static SOURCE_KEY_LEN])
{
	return &rl->buckets[key_hash(key, rl->hash_key) & rl->bucket_mask];
}

int wg_ratelimiter_init(struct ratelimiter *rl, size_t max_entries)
{
	size_t nbuckets = 1, i;

	memset(rl, 0, sizeof(*rl));
	while (nbuckets < max_entries) {
		if (nbuckets > SIZE_MAX / 2)
			return -ENOMEM;
		nbuckets *= 2;
	}
	rl->buckets = calloc(nbuckets, sizeof(*rl->buckets));
	if (!rl->buckets)
		return -ENOMEM;
	if (max_entries) {
		rl->pool = calloc(max_entries, sizeof(*rl->pool));
		if (!rl->pool)
			goto err_free_buckets;
	}

	for (i = 0; i < max_entries; i++) {
		rl->pool[i].next = rl->free;
		rl->free = &rl->pool[i];
	}
	rl->bucket_mask = nbuckets - 1;
	rl->max_entries = max_entries;
	randombytes_buf(rl->hash_key, sizeof(rl->hash_key));
	pthread_mutex_init(&rl->lock, NULL);
	return 0;

err_free_buckets:
	free(rl->buckets);
	rl->buckets = NULL;
	return -ENOMEM;
}

void wg_ratelimiter_uninit(struct ratelimiter *rl)
{
	pthread_mutex_destroy(&rl->lock);
	/* Source addresses are not key material, but neither do they
	 * belong in freed memory. */
	if (rl->pool)
		sodium_memzero(rl->pool, rl->max_entries * sizeof(*rl->pool));
	free(rl->pool);
	free(rl->buckets);
	memset(rl, 0, sizeof(*rl));
}

/* Caller holds the table's lock. Spends one packet's worth of tokens if the
 * bucket, refilled for the time since the last visit, holds that many. */
static bool take_token(struct ratelimiter_entry *entry, uint64_t now_ns)
{
	uint64_t elapsed = 0;

	if (now_ns > entry->last_time_ns) {
		elapsed = now_ns - entry->last_time_ns;
		entry->last_time_ns = now_ns;
	}
	if (elapsed >= TOKEN_MAX - entry->tokens)
		entry->tokens = TOKEN_MAX;
	else
		entry->tokens += elapsed;

	if (entry->tokens < PACKET_COST)
		return false;
	entry->tokens -= PACKET_COST;
	return true;
}

/* Must hold rl->lock. A new source starts with a full bucket, less the
 * packet that brought it here. False when the table is full. */
static bool add_source(struct ratelimiter *rl,
		       struct ratelimiter_entry **bucket,
		       const uint8_t key[static SOURCE_KEY_LEN],
		       uint64_t now_ns)
{
	struct ratelimiter_entry *entry = rl->free;

	assert(pthread_mutex_trylock(&rl->lock) == EBUSY);
	if (!entry)
		return false;
	rl->free = entry->next;
	memcpy(entry->key, key, SOURCE_KEY_LEN);
	entry->last_time_ns = now_ns;
	entry->tokens = TOKEN_MAX - PACKET_COST;
	entry->next = *bucket;
	*bucket = entry;
	rl->count++;
	return true;
}

bool wg_ratelimiter_allow(struct ratelimiter *rl, const union wg_sockaddr *src,
			  uint64_t now_ns)
{
	uint8_t key[SOURCE_KEY_LEN];
	struct ratelimiter_entry **bucket, *entry;
	bool ret;

	if (!source_key(key, src))
		return false;

	pthread_mutex_lock(&rl->lock);
	bucket = bucket_of(rl, key);
	for (entry = *bucket; entry; entry = entry->next)
		if (!memcmp(entry->key, key, SOURCE_KEY_LEN))
			break;
	if (entry)
		ret = take_token(entry, now_ns);
	else
		ret = add_source(rl, bucket, key, now_ns);
	pthread_mutex_unlock(&rl->lock);
	return ret;
}

static bool is_idle(const struct ratelimiter_entry *entry, uint64_t now_ns)
{
	return now_ns > entry->last_time_ns &&
	       now_ns - entry->last_time_ns > NSEC_PER_SEC;
}

void wg_ratelimiter_gc(struct ratelimiter *rl, uint64_t now_ns, bool all)
{
	struct ratelimiter_entry **link, *entry;
	size_t i;

	pthread_mutex_lock(&rl->lock);
	for (i = 0; i <= rl->bucket_mask; i++) {
		link = &rl->buckets[i];
		while ((entry = *link)) {
			if (!all && !is_idle(entry, now_ns)) {
				link = &entry->next;
				continue;
			}
			*link = entry->next;
			entry->next = rl->free;
			rl->free = entry;
			rl->count--;
		}
	}
	pthread_mutex_unlock(&rl->lock);
}

size_t wg_ratelimiter_count(struct ratelimiter *rl)
{
	size_t count;

	pthread_mutex_lock(&rl->lock);
	count = rl->count;
	pthread_mutex_unlock(&rl->lock);
	return count;
}

/* Times in the table: units of 2^20 ns (about 1.05 ms) in 32 bits, which
 * wrap after 52 days; a slot's age is their difference modulo 2^32. A
 * second is 953.7 units: rounded up. */
enum { RECENT_SHIFT = 20, RECENT_UNITS = 954, RECENT_MAX_SLOTS = 1 << 20 };

int wg_source_recent_init(struct source_recent *sr, size_t slots)
{
	size_t n = 1;

	memset(sr, 0, sizeof(*sr));
	if (slots > RECENT_MAX_SLOTS)
		return -EINVAL;
	while (n < slots)
		n *= 2;
	sr->slots = calloc(n, sizeof(*sr->slots));
	if (!sr->slots)
		return -ENOMEM;
	sr->mask = n - 1;
	randombytes_buf(sr->hash_key, sizeof(sr->hash_key));
	return 0;
}

void wg_source_recent_uninit(struct source_recent *sr)
{
	free(sr->slots);
	sodium_memzero(sr, sizeof(*sr));
}

static bool recent(uint64_t slot, uint32_t now)
{
	return slot && (uint32_t)(now - (uint32_t)slot) < RECENT_UNITS;
}

bool wg_source_recent_admit(struct source_recent *sr,
			    const union wg_sockaddr *src, uint64_t now_ns)
{
	uint8_t key[SOURCE_KEY_LEN];
	uint32_t now = (uint32_t)(now_ns >> RECENT_SHIFT);
	uint64_t h, tag, *slot[2], v[2];
	int i;

	if (!source_key(key, src))
		return false;
	/* Slots from bits 0-19 and 20-39, a 24-bit tag (never 0) above. */
	h = key_hash(key, sr->hash_key);
	slot[0] = &sr->slots[h & sr->mask];
	slot[1] = &sr->slots[(h >> 20) & sr->mask];
	tag = (h >> 40) | 1 << 24;
	for (i = 0; i < 2; i++) {
		v[i] = wg_read_once(*slot[i]);
		if (v[i] >> 32 == tag && recent(v[i], now))
			return false;
	}
	/* Two readers racing for one slot: one of them wins it. */
	for (i = 0; i < 2; i++)
		if (!recent(v[i], now) &&
		    wg_compare_exchange(*slot[i], &v[i], tag << 32 | now))
			return true;
	return false;
}
