/* SPDX-License-Identifier: MIT */
/*
 * The tables the data path reads under RCU:
 * - the index table: our 32-bit receiver index -> the handshake in flight
 *   or the keypair it named;
 * - the peer table: public key -> peer.
 * Readers hold rcu_read_lock() and take references with *_get_unless_zero
 * if they keep what they found. Writers serialise on the table's mutex.
 * Both tables grow with their contents (struct wg_htable).
 */
#ifndef WGPIPE_PEERLOOKUP_H
#define WGPIPE_PEERLOOKUP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "rcu.h"
#include <urcu/rcuhlist.h>

#include "wgpipe/wireguard.h"

struct wg_peer;

enum index_type {
	INDEX_HANDSHAKE = 1,
	INDEX_KEYPAIR = 2,
};

struct index_entry {
	struct cds_hlist_node node[2]; /* see struct wg_htable */
	struct wg_peer *peer;
	uint32_t index;
	enum index_type type;
	bool hashed;
};

/*
 * A hash table of RCU hlists that grows with what it holds, so that
 * lookups stay O(1) from one peer to the kernel module's limit of 2^20
 * (and the up to four indices each live peer holds) without a table
 * sized for a million at every start. Readers never wait: a growth
 * links every entry into a new bucket array through the entry's other
 * node (node[gen & 1] for the array of generation gen), publishes it,
 * and frees the old array after a grace period, so a reader still
 * walking the old array walks chains that nothing changes. Until that
 * grace period has passed the table does not grow again (the old links
 * are still in use); it tries at a later insert. A table never shrinks.
 */
struct wg_htable_buckets;

struct wg_htable {
	pthread_mutex_t lock;
	struct wg_htable_buckets *cur; /* RCU; replaced under lock */
	size_t count, max_buckets;
	size_t node_offset; /* of node[0] in an entry */
	uint64_t (*hash)(const struct wg_htable *t, const void *entry);
	bool retiring; /* an old array waits for its grace period */
	unsigned int grows;
};

/* Starts small (4 KiB of buckets) and grows by 4 when entries pass twice
 * the buckets. */
enum {
	WG_HTABLE_MIN_BUCKETS = 1 << 9,
	WG_INDEX_MAX_BUCKETS = 1 << 22,
	WG_PEER_MAX_BUCKETS = 1 << 21,
};

struct index_table {
	struct wg_htable t;
};

struct peer_table {
	struct wg_htable t;
	uint8_t hash_key[16];
};

/* 0 or -ENOMEM. destroy frees the buckets: the table must be empty of
 * readers (after rcu_barrier at shutdown). */
int wg_index_table_init(struct index_table *t);
void wg_index_table_destroy(struct index_table *t);
/* Gives entry a fresh random index not in use (replacing its old one). */
uint32_t wg_index_table_insert(struct index_table *t, struct index_entry *e);
/* Moves old's index to new (handshake -> keypair); old leaves the table. */
void wg_index_table_replace(struct index_table *t, struct index_entry *old,
			    struct index_entry *new);
void wg_index_table_remove(struct index_table *t, struct index_entry *e);
/* Under rcu_read_lock(); NULL unless index is there with the given type
 * (a bitmask of enum index_type). */
struct index_entry *wg_index_table_lookup(struct index_table *t,
					  uint32_t index, unsigned int types);

int wg_peer_table_init(struct peer_table *t);
void wg_peer_table_destroy(struct peer_table *t);
/* Must hold the device's config lock. */
void wg_peer_table_add(struct peer_table *t, struct wg_peer *peer);
void wg_peer_table_del(struct peer_table *t, struct wg_peer *peer);
/* Under rcu_read_lock(), or on the thread holding the config lock. */
struct wg_peer *wg_peer_table_lookup(struct peer_table *t,
				     const uint8_t key[static WG_KEY_LEN]);

/* Entries and buckets of a table, and how often it grew (tests). */
void wg_htable_size(struct wg_htable *t, size_t *count, size_t *buckets,
		    unsigned int *grows);

#endif
