// SPDX-License-Identifier: MIT
#include "peerlookup.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "crypto/crypto.h"
#include "peer.h"

/* ------------------------------------------------------------------ */
/* The growing table                                                   */

struct wg_htable_buckets {
	struct rcu_head rcu;
	struct wg_htable *table; /* for the callback that retires it */
	size_t mask;
	unsigned int gen; /* entries link through node[gen & 1] */
	struct cds_hlist_head b[];
};

static struct cds_hlist_node *node_of(const struct wg_htable *t,
				      const void *entry, unsigned int gen)
{
	return (struct cds_hlist_node *)((char *)entry + t->node_offset) +
	       (gen & 1);
}

static void *entry_of(const struct wg_htable *t, struct cds_hlist_node *n,
		      unsigned int gen)
{
	return (char *)(n - (gen & 1)) - t->node_offset;
}

/*
 * cds_hlist_add_head_rcu() with the new node's next pointer stored as a
 * shared word. An index entry is taken out and put back in (a new index
 * for the same handshake) without a grace period in between, as the
 * kernel module does: a lookup still walking it may then follow it into
 * another chain and miss, never crash. liburcu's plain store of next is
 * a data race with that walk's load (TSan reported it in e2e_hsworkers).
 * Only writers, under the lock, use prev.
 */
static void add_head(struct cds_hlist_node *n, struct cds_hlist_head *head)
{
	struct cds_hlist_node *first = head->next;

	wg_write_once(n->next, first);
	n->prev = (struct cds_hlist_node *)head;
	if (first)
		first->prev = n;
	rcu_assign_pointer(head->next, n);
}

static struct wg_htable_buckets *buckets_new(size_t n, unsigned int gen)
{
	struct wg_htable_buckets *bk =
	    calloc(1, sizeof(*bk) + n * sizeof(bk->b[0]));

	if (bk) {
		bk->mask = n - 1;
		bk->gen = gen;
	}
	return bk;
}

static int htable_init(struct wg_htable *t, size_t node_offset,
		       size_t max_buckets,
		       uint64_t (*hash)(const struct wg_htable *, const void *))
{
	memset(t, 0, sizeof(*t));
	t->cur = buckets_new(WG_HTABLE_MIN_BUCKETS, 0);
	if (!t->cur)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	t->node_offset = node_offset;
	t->max_buckets = max_buckets;
	t->hash = hash;
	return 0;
}

static void htable_destroy(struct wg_htable *t)
{
	free(t->cur);
	t->cur = NULL;
	pthread_mutex_destroy(&t->lock);
}

/* Under rcu_read_lock() (or the lock): the chain for hash h. */
static struct cds_hlist_node *htable_first(struct wg_htable *t, uint64_t h,
					   unsigned int *gen)
{
	struct wg_htable_buckets *bk = rcu_dereference(t->cur);

	*gen = bk->gen;
	return rcu_dereference(bk->b[h & bk->mask].next);
}

static void retire_buckets(struct rcu_head *head)
{
	struct wg_htable_buckets *bk =
	    caa_container_of(head, struct wg_htable_buckets, rcu);
	struct wg_htable *t;

	wg_rcu_callback(head);
	t = bk->table;
	free(bk);
	/* No reader walks the old links any more: they may be reused. */
	wg_store_release(t->retiring, false);
	wg_rcu_callback_done();
}

/* Under the lock: links every entry into an array four times larger
 * and publishes it. Allocation failure only leaves the chains longer. */
static void htable_maybe_grow(struct wg_htable *t)
{
	struct wg_htable_buckets *bk = t->cur, *nb;
	size_t n = bk->mask + 1, i;

	if (t->count <= 2 * n || n >= t->max_buckets ||
	    wg_load_acquire(t->retiring))
		return;
	n = n * 4 < t->max_buckets ? n * 4 : t->max_buckets;
	nb = buckets_new(n, bk->gen + 1);
	if (!nb)
		return;
	for (i = 0; i <= bk->mask; i++) {
		struct cds_hlist_node *pos;

		for (pos = bk->b[i].next; pos; pos = pos->next) {
			void *e = entry_of(t, pos, bk->gen);

			add_head(node_of(t, e, nb->gen),
				 &nb->b[t->hash(t, e) & nb->mask]);
		}
	}
	bk->table = t;
	wg_store_release(t->retiring, true);
	rcu_assign_pointer(t->cur, nb);
	t->grows++;
	call_rcu(&bk->rcu, retire_buckets);
}

/* Under the lock. */
static void htable_add(struct wg_htable *t, void *entry)
{
	struct wg_htable_buckets *bk = t->cur;

	add_head(node_of(t, entry, bk->gen),
		 &bk->b[t->hash(t, entry) & bk->mask]);
	t->count++;
	htable_maybe_grow(t);
}

/* Under the lock; entry is in the table. */
static void htable_del(struct wg_htable *t, void *entry)
{
	cds_hlist_del_rcu(node_of(t, entry, t->cur->gen));
	t->count--;
}

void wg_htable_size(struct wg_htable *t, size_t *count, size_t *buckets,
		    unsigned int *grows)
{
	pthread_mutex_lock(&t->lock);
	*count = t->count;
	*buckets = t->cur->mask + 1;
	*grows = t->grows;
	pthread_mutex_unlock(&t->lock);
}

/* ------------------------------------------------------------------ */
/* Receiver index -> handshake or keypair                              */

/* Indices are random, so their low bits spread well. */
static uint64_t index_hash(const struct wg_htable *t, const void *entry)
{
	return ((const struct index_entry *)entry)->index;
}

int wg_index_table_init(struct index_table *t)
{
	return htable_init(&t->t, offsetof(struct index_entry, node),
			   WG_INDEX_MAX_BUCKETS, index_hash);
}

void wg_index_table_destroy(struct index_table *t)
{
	htable_destroy(&t->t);
}

static bool index_in_use(struct index_table *t, uint32_t index)
{
	struct cds_hlist_node *pos;
	unsigned int gen;

	for (pos = htable_first(&t->t, index, &gen); pos;
	     pos = rcu_dereference(pos->next)) {
		struct index_entry *e = entry_of(&t->t, pos, gen);

		if (e->index == index)
			return true;
	}
	return false;
}

uint32_t wg_index_table_insert(struct index_table *t, struct index_entry *e)
{
	uint32_t index;

	pthread_mutex_lock(&t->t.lock);
	if (e->hashed) {
		htable_del(&t->t, e);
		e->hashed = false;
	}
	do
		index = wg_random_u32();
	while (index_in_use(t, index));
	/* Lookups read index without the lock: e may be one they walk. */
	wg_write_once(e->index, index);
	htable_add(&t->t, e);
	e->hashed = true;
	pthread_mutex_unlock(&t->t.lock);
	return index;
}

void wg_index_table_replace(struct index_table *t, struct index_entry *old,
			    struct index_entry *new)
{
	pthread_mutex_lock(&t->t.lock);
	wg_write_once(new->index, old->index);
	if (old->hashed) {
		htable_add(&t->t, new);
		new->hashed = true;
		htable_del(&t->t, old);
		old->hashed = false;
	}
	pthread_mutex_unlock(&t->t.lock);
}

void wg_index_table_remove(struct index_table *t, struct index_entry *e)
{
	pthread_mutex_lock(&t->t.lock);
	if (e->hashed) {
		htable_del(&t->t, e);
		e->hashed = false;
	}
	pthread_mutex_unlock(&t->t.lock);
}

struct index_entry *wg_index_table_lookup(struct index_table *t,
					  uint32_t index, unsigned int types)
{
	struct cds_hlist_node *pos;
	unsigned int gen;

	for (pos = htable_first(&t->t, index, &gen); pos;
	     pos = rcu_dereference(pos->next)) {
		struct index_entry *e = entry_of(&t->t, pos, gen);

		if (wg_read_once(e->index) == index && (e->type & types))
			return e;
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Public key -> peer                                                  */

static uint64_t key_hash(const struct peer_table *t,
			 const uint8_t key[static WG_KEY_LEN])
{
	uint64_t h;

	crypto_shorthash((uint8_t *)&h, key, WG_KEY_LEN, t->hash_key);
	return h;
}

static uint64_t peer_hash(const struct wg_htable *t, const void *entry)
{
	return key_hash(caa_container_of(t, struct peer_table, t),
			((const struct wg_peer *)entry)->public_key);
}

int wg_peer_table_init(struct peer_table *t)
{
	int ret = htable_init(&t->t, offsetof(struct wg_peer, pubkey_node),
			      WG_PEER_MAX_BUCKETS, peer_hash);

	randombytes_buf(t->hash_key, sizeof(t->hash_key));
	return ret;
}

void wg_peer_table_destroy(struct peer_table *t)
{
	htable_destroy(&t->t);
}

void wg_peer_table_add(struct peer_table *t, struct wg_peer *peer)
{
	pthread_mutex_lock(&t->t.lock);
	htable_add(&t->t, peer);
	pthread_mutex_unlock(&t->t.lock);
}

void wg_peer_table_del(struct peer_table *t, struct wg_peer *peer)
{
	pthread_mutex_lock(&t->t.lock);
	htable_del(&t->t, peer);
	pthread_mutex_unlock(&t->t.lock);
}

struct wg_peer *wg_peer_table_lookup(struct peer_table *t,
				     const uint8_t key[static WG_KEY_LEN])
{
	struct cds_hlist_node *pos;
	unsigned int gen;

	for (pos = htable_first(&t->t, key_hash(t, key), &gen); pos;
	     pos = rcu_dereference(pos->next)) {
		struct wg_peer *peer = entry_of(&t->t, pos, gen);

		if (!memcmp(peer->public_key, key, WG_KEY_LEN))
			return peer;
	}
	return NULL;
}
