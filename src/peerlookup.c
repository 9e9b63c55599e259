// SPDX-License-Identifier: MIT
#include "peerlookup.h"

#include <sodium.h>
#include <string.h>

#include "atomic.h"
#include "crypto/crypto.h"
#include "peer.h"

static struct cds_hlist_head *index_bucket(struct index_table *t,
					   uint32_t index)
{
	/* Indices are random, so their low bits spread well. */
	return &t->buckets[index & (WG_INDEX_BUCKETS - 1)];
}

void wg_index_table_init(struct index_table *t)
{
	pthread_mutex_init(&t->lock, NULL);
	memset(t->buckets, 0, sizeof(t->buckets));
}

static bool index_in_use(struct index_table *t, uint32_t index)
{
	struct index_entry *e;

	cds_hlist_for_each_entry_rcu_2(e, index_bucket(t, index), node)
		if (e->index == index)
			return true;
	return false;
}

uint32_t wg_index_table_insert(struct index_table *t, struct index_entry *e)
{
	uint32_t index;

	pthread_mutex_lock(&t->lock);
	if (e->hashed) {
		cds_hlist_del_rcu(&e->node);
		e->hashed = false;
	}
	do
		index = wg_random_u32();
	while (index_in_use(t, index));
	/* Lookups read index without the lock: e may be one they walk. */
	wg_write_once(e->index, index);
	cds_hlist_add_head_rcu(&e->node, index_bucket(t, index));
	e->hashed = true;
	pthread_mutex_unlock(&t->lock);
	return index;
}

void wg_index_table_replace(struct index_table *t, struct index_entry *old,
			    struct index_entry *new)
{
	pthread_mutex_lock(&t->lock);
	wg_write_once(new->index, old->index);
	if (old->hashed) {
		cds_hlist_add_head_rcu(&new->node, index_bucket(t, new->index));
		new->hashed = true;
		cds_hlist_del_rcu(&old->node);
		old->hashed = false;
	}
	pthread_mutex_unlock(&t->lock);
}

void wg_index_table_remove(struct index_table *t, struct index_entry *e)
{
	pthread_mutex_lock(&t->lock);
	if (e->hashed) {
		cds_hlist_del_rcu(&e->node);
		e->hashed = false;
	}
	pthread_mutex_unlock(&t->lock);
}

struct index_entry *wg_index_table_lookup(struct index_table *t,
					  uint32_t index, unsigned int types)
{
	struct index_entry *e;

	cds_hlist_for_each_entry_rcu_2(e, index_bucket(t, index), node)
		if (wg_read_once(e->index) == index && (e->type & types))
			return e;
	return NULL;
}

void wg_peer_table_init(struct peer_table *t)
{
	pthread_mutex_init(&t->lock, NULL);
	randombytes_buf(t->hash_key, sizeof(t->hash_key));
	memset(t->buckets, 0, sizeof(t->buckets));
}

static struct cds_hlist_head *key_bucket(struct peer_table *t,
					 const uint8_t key[static WG_KEY_LEN])
{
	uint64_t h;

	crypto_shorthash((uint8_t *)&h, key, WG_KEY_LEN, t->hash_key);
	return &t->buckets[h & (WG_PEER_BUCKETS - 1)];
}

void wg_peer_table_add(struct peer_table *t, struct wg_peer *peer)
{
	pthread_mutex_lock(&t->lock);
	cds_hlist_add_head_rcu(&peer->pubkey_node,
			       key_bucket(t, peer->public_key));
	pthread_mutex_unlock(&t->lock);
}

void wg_peer_table_del(struct peer_table *t, struct wg_peer *peer)
{
	pthread_mutex_lock(&t->lock);
	cds_hlist_del_rcu(&peer->pubkey_node);
	pthread_mutex_unlock(&t->lock);
}

struct wg_peer *wg_peer_table_lookup(struct peer_table *t,
				     const uint8_t key[static WG_KEY_LEN])
{
	struct wg_peer *peer;

	cds_hlist_for_each_entry_rcu_2(peer, key_bucket(t, key), pubkey_node)
		if (!memcmp(peer->public_key, key, WG_KEY_LEN))
			return peer;
	return NULL;
}
