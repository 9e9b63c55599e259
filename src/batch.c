// SPDX-License-Identifier: MIT
#include "batch.h"
#include "tsan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static unsigned int round_pow2(unsigned int n)
{
	unsigned int p = 2;

	while (p < n)
		p <<= 1;
	return p;
}

int wg_batch_pool_init(struct batch_pool *pool, unsigned int nbatches,
		       unsigned int batch_size)
{
	unsigned int ring_size = round_pow2(nbatches + 1), i, j;

	memset(pool, 0, sizeof(*pool));
	if (!nbatches || !batch_size || batch_size > WG_BATCH_MAX)
		return -EINVAL;
	pool->batch_size = batch_size;
	pool->nbatches = nbatches;
	pool->batch_bytes = sizeof(struct batch) +
			    batch_size * sizeof(struct packet);
	pool->batch_bytes = (pool->batch_bytes + 63) & ~(size_t)63;
	pool->ring_buf = calloc(ring_size, sizeof(*pool->ring_buf));
	pool->batches = aligned_alloc(64, pool->batch_bytes * nbatches);
	/* Populated now: the daemon takes the memory it will use at start,
	 * and its resident set does not creep up later as the free ring
	 * cycles through batches traffic has not used yet. */
	pool->slots = mmap(NULL, (size_t)nbatches * batch_size * WG_SLOT_SIZE,
			   PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (!pool->ring_buf || !pool->batches || pool->slots == MAP_FAILED) {
		if (pool->slots == MAP_FAILED)
			pool->slots = NULL;
		wg_batch_pool_destroy(pool);
		return -ENOMEM;
	}
	ck_ring_init(&pool->ring, ring_size);
	for (i = 0; i < nbatches; i++) {
		struct batch *b = (struct batch *)(pool->batches +
						   pool->batch_bytes * i);

		memset(b, 0, pool->batch_bytes);
		for (j = 0; j < batch_size; j++)
			b->pkts[j].buf = pool->slots +
					 ((size_t)i * batch_size + j) *
						 WG_SLOT_SIZE;
		ck_ring_enqueue_mpmc(&pool->ring, pool->ring_buf, b);
	}
	return 0;
}

void wg_batch_pool_destroy(struct batch_pool *pool)
{
	if (pool->slots)
		munmap(pool->slots, (size_t)pool->nbatches * pool->batch_size *
					    WG_SLOT_SIZE);
	free(pool->batches);
	free(pool->ring_buf);
	memset(pool, 0, sizeof(*pool));
}

struct batch *wg_batch_get(struct batch_pool *pool, enum batch_dir dir)
{
	struct batch *b;
	bool ok;

	wg_tsan_ignore_begin();
	ok = ck_ring_dequeue_mpmc(&pool->ring, pool->ring_buf, &b);
	wg_tsan_ignore_end();
	if (!ok) {
		__atomic_fetch_add(&pool->empty_events, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	/* Ordered after the last user's wg_batch_put() (see tsan.h). */
	wg_tsan_takeover(b);
	b->next = NULL;
	b->state = BATCH_PENDING;
	b->dir = dir;
	b->count = 0;
	b->charged = 0;
	b->peer = NULL;
	b->keypair = NULL;
	return b;
}

void wg_batch_put(struct batch_pool *pool, struct batch *b)
{
	/* The ring holds every batch, so it cannot be full. */
	wg_tsan_handoff(b);
	wg_tsan_ignore_begin();
	ck_ring_enqueue_mpmc(&pool->ring, pool->ring_buf, b);
	wg_tsan_ignore_end();
}

unsigned int wg_batch_pool_free(struct batch_pool *pool)
{
	return ck_ring_size(&pool->ring);
}
