// SPDX-License-Identifier: MIT
/*
 * Batches from their pool to their return; see batch.h for their life.
 */
#include "batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "peer.h"
#include "tsan.h"

/* The bytes of one batch's slots; the pool's region holds nbatches of
 * them, one after another. */
static size_t batch_slot_bytes(const struct batch_pool *pool)
{
	return (size_t)pool->batch_size * WG_SLOT_SIZE;
}

static size_t pool_slot_bytes(const struct batch_pool *pool)
{
	return pool->nbatches * batch_slot_bytes(pool);
}

/* Under AddressSanitizer a pooled batch's slots are poisoned (batch.h). */
#ifdef WG_ASAN
#include <sanitizer/asan_interface.h>
#define slots_free(pool, b)                                                    \
	ASAN_POISON_MEMORY_REGION((b)->slots, batch_slot_bytes(pool))
#define slots_taken(pool, b)                                                   \
	ASAN_UNPOISON_MEMORY_REGION((b)->slots, batch_slot_bytes(pool))
#else
#define slots_free(pool, b) ((void)(pool), (void)(b))
#define slots_taken(pool, b) ((void)(pool), (void)(b))
#endif

static void link_slots(struct batch_pool *pool)
{
	unsigned int i, j;

	for (i = 0; i < pool->nbatches; i++) {
		struct batch *b = (struct batch *)(pool->batches +
						   pool->batch_bytes * i);

		memset(b, 0, pool->batch_bytes);
		b->slots = pool->slots + i * batch_slot_bytes(pool);
		for (j = 0; j < pool->batch_size; j++)
			b->pkts[j].buf = b->slots + (size_t)j * WG_SLOT_SIZE;
		/* The first batch on top, the first taken. */
		pool->free[pool->nbatches - 1 - i] = b;
		slots_free(pool, b);
	}
	pool->nfree = pool->nbatches;
}

int wg_batch_pool_init(struct batch_pool *pool, unsigned int nbatches,
		       unsigned int batch_size, unsigned int max_inflight)
{
	memset(pool, 0, sizeof(*pool));
	if (!nbatches || !batch_size || batch_size > WG_BATCH_MAX)
		return -EINVAL;
	pool->batch_size = batch_size;
	pool->nbatches = nbatches;
	pool->max_inflight = max_inflight;
	pool->batch_bytes = sizeof(struct batch) +
			    batch_size * sizeof(struct packet);
	pool->batch_bytes = (pool->batch_bytes + 63) & ~(size_t)63;
	pool->free = calloc(nbatches, sizeof(*pool->free));
	pool->batches = aligned_alloc(64, pool->batch_bytes * nbatches);
	/* Populated now: the daemon takes the memory it will use at start,
	 * and its resident set does not creep up later when a burst reaches
	 * batches traffic has not used yet. */
	pool->slots = mmap(NULL, pool_slot_bytes(pool), PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (!pool->free || !pool->batches || pool->slots == MAP_FAILED) {
		if (pool->slots == MAP_FAILED)
			pool->slots = NULL;
		wg_batch_pool_destroy(pool);
		return -ENOMEM;
	}
	pthread_spin_init(&pool->lock, PTHREAD_PROCESS_PRIVATE);
	pool->lock_made = true;
	link_slots(pool);
	return 0;
}

void wg_batch_pool_destroy(struct batch_pool *pool)
{
	if (pool->slots) {
#ifdef WG_ASAN
		ASAN_UNPOISON_MEMORY_REGION(pool->slots, pool_slot_bytes(pool));
#endif
		munmap(pool->slots, pool_slot_bytes(pool));
	}
	free(pool->batches);
	free(pool->free);
	if (pool->lock_made)
		pthread_spin_destroy(&pool->lock);
	memset(pool, 0, sizeof(*pool));
}

void wg_batch_pool_stop(struct batch_pool *pool)
{
	wg_store_release(pool->stopping, 1);
	wg_waitq_wake_all(&pool->free_wait);
	wg_waitq_wake_all(&pool->inflight[BATCH_TX].room);
	wg_waitq_wake_all(&pool->inflight[BATCH_RX].room);
}

static bool stopping(struct batch_pool *pool)
{
	return wg_load_acquire(pool->stopping);
}

unsigned int wg_batch_pool_free(struct batch_pool *pool)
{
	return wg_read_once(pool->nfree);
}

struct batch *wg_batch_get(struct batch_pool *pool, enum batch_dir dir)
{
	struct batch *b = NULL;

	pthread_spin_lock(&pool->lock);
	if (pool->nfree) {
		b = pool->free[pool->nfree - 1];
		wg_write_once(pool->nfree, pool->nfree - 1);
	}
	pthread_spin_unlock(&pool->lock);
	if (!b) {
		wg_counter_add(pool->empty_events, 1);
		return NULL;
	}
	/* Ordered after the last user's wg_batch_put() (see tsan.h). */
	wg_tsan_takeover(b);
	slots_taken(pool, b);
	b->next = NULL;
	b->state = BATCH_PENDING;
	b->dir = dir;
	b->count = 0;
	b->used = 0;
	b->charged = 0;
	b->caught_up = false;
	b->peer = NULL;
	b->keypair = NULL;
	return b;
}

struct batch *wg_batch_get_wait(struct batch_pool *pool, enum batch_dir dir)
{
	struct batch *b;
	uint32_t seq;

	while (!(b = wg_batch_get(pool, dir))) {
		if (stopping(pool))
			return NULL;
		seq = wg_waitq_prepare(&pool->free_wait);
		b = wg_batch_get(pool, dir);
		if (b) {
			wg_waitq_cancel(&pool->free_wait);
			return b;
		}
		wg_waitq_wait(&pool->free_wait, seq, WG_WAIT_FOREVER);
	}
	return b;
}

/* Waiters sleep without a timeout: every return wakes one. */
void wg_batch_put(struct batch_pool *pool, struct batch *b)
{
	/* The stack has room for every batch, so it cannot be full. */
	slots_free(pool, b);
	wg_tsan_handoff(b);
	pthread_spin_lock(&pool->lock);
	pool->free[pool->nfree] = b;
	wg_write_once(pool->nfree, pool->nfree + 1);
	pthread_spin_unlock(&pool->lock);
	wg_waitq_wake(&pool->free_wait);
}

void wg_batch_release(struct batch_pool *pool, struct batch *b)
{
	wg_batch_uncharge(pool, b);
	wg_keypair_put(b->keypair);
	b->keypair = NULL;
	wg_peer_put(b->peer);
	b->peer = NULL;
	wg_batch_put(pool, b);
}

void wg_batch_charge(struct batch_pool *pool, struct batch *b, unsigned int n)
{
	b->charged += n;
	wg_counter_add(pool->inflight[b->dir].packets, n);
}

void wg_batch_uncharge(struct batch_pool *pool, struct batch *b)
{
	struct batch_inflight *f;
	unsigned int left;

	if (!b->charged || b->dir > BATCH_RX)
		return;
	f = &pool->inflight[b->dir];
	left = wg_counter_sub(f->packets, b->charged);
	b->charged = 0;
	if (left < pool->max_inflight)
		wg_waitq_wake(&f->room);
}

bool wg_batch_has_room(struct batch_pool *pool, enum batch_dir dir)
{
	return wg_read_once(pool->inflight[dir].packets) < pool->max_inflight;
}

void wg_batch_wait_room(struct batch_pool *pool, enum batch_dir dir)
{
	struct batch_inflight *f = &pool->inflight[dir];
	uint32_t seq;

	if (wg_batch_has_room(pool, dir))
		return;
	wg_counter_add(f->full_events, 1);
	while (!wg_batch_has_room(pool, dir) && !stopping(pool)) {
		seq = wg_waitq_prepare(&f->room);
		if (wg_batch_has_room(pool, dir)) {
			wg_waitq_cancel(&f->room);
			return;
		}
		wg_waitq_wait(&f->room, seq, WG_WAIT_FOREVER);
	}
}
