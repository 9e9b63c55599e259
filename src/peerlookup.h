/* SPDX-License-Identifier: MIT */
/*
 * The tables the data path reads under RCU:
 * - the index table: our 32-bit receiver index -> the handshake in flight
 *   or the keypair it named;
 * - the peer table: public key -> peer.
 * Readers hold rcu_read_lock() and take references with *_get_unless_zero
 * if they keep what they found. Writers serialise on the table's mutex.
 */
#ifndef WGPIPE_PEERLOOKUP_H
#define WGPIPE_PEERLOOKUP_H

#include <pthread.h>
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
	struct cds_hlist_node node;
	struct wg_peer *peer;
	uint32_t index;
	enum index_type type;
	bool hashed;
};

/*
 * Fixed sizes, chosen for 10,000 peers and more. The index table is
 * searched for every packet received; a live peer holds up to four
 * indices (a handshake and three keypairs), so 10,000 live peers make
 * chains of 1.2 entries on average at worst. The peer table is searched
 * per handshake message: 0.6 at 10,000 peers. Together 384 KiB.
 */
enum {
	WG_INDEX_BUCKETS = 1 << 15,
	WG_PEER_BUCKETS = 1 << 14,
};

struct index_table {
	pthread_mutex_t lock;
	struct cds_hlist_head buckets[WG_INDEX_BUCKETS];
};

struct peer_table {
	pthread_mutex_t lock;
	uint8_t hash_key[16];
	struct cds_hlist_head buckets[WG_PEER_BUCKETS];
};

void wg_index_table_init(struct index_table *t);
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

void wg_peer_table_init(struct peer_table *t);
/* Must hold the device's config lock. */
void wg_peer_table_add(struct peer_table *t, struct wg_peer *peer);
void wg_peer_table_del(struct peer_table *t, struct wg_peer *peer);
/* Under rcu_read_lock(). */
struct wg_peer *wg_peer_table_lookup(struct peer_table *t,
				     const uint8_t key[static WG_KEY_LEN]);

#endif
