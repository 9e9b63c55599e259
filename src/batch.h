/* SPDX-License-Identifier: MIT */
/*
 * Batches: fixed-size objects from a pool preallocated at start. A batch
 * carries up to pool->batch_size packets of one peer and one keypair in
 * one direction. Ownership moves with the pointer; one stage owns a batch
 * at a time, except that the per-peer ordered queue and the crypt ring
 * both point to a batch in flight: the crypto worker owns its packets,
 * the queue owns its link, and `state` hands the packets back.
 */
#ifndef WGPIPE_BATCH_H
#define WGPIPE_BATCH_H

#include <ck_ring.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

enum {
	/* Room before a packet for the transport header, so encryption is
	 * in place. */
	WG_SLOT_HEADROOM = 16,
	WG_SLOT_SIZE = 2048,
	/* The largest tunnel packet a slot holds: what remains after the
	 * header, padding to 16 and the tag. */
	WG_SLOT_MAX_PLAIN = WG_SLOT_SIZE - WG_SLOT_HEADROOM - 16 - 16,
	WG_BATCH_MAX = 256,
	/* A batch this small is sealed or opened by the thread that read
	 * it when the crypto workers have nothing queued. */
	WG_INLINE_MAX = 8,
};

enum batch_state {
	BATCH_PENDING,
	BATCH_DONE,
	BATCH_DEAD,
};

enum batch_dir {
	BATCH_TX,
	BATCH_RX,
	BATCH_HANDSHAKE,
};

struct packet {
	uint8_t *buf; /* WG_SLOT_SIZE bytes */
	uint32_t len; /* tx: plaintext at buf + 16; rx: message at buf */
	uint64_t counter;
	union wg_sockaddr src; /* rx: the sender */
	struct wg_src dst;     /* rx: our address it was sent to */
	bool ok;
};

struct wg_peer;
struct wg_keypair;

struct batch {
	struct batch *next; /* link in a peer's ordered queue */
	int state;	    /* enum batch_state; release store / acquire load */
	enum batch_dir dir;
	unsigned int count;
	/* Packets this batch counts against its direction's in-flight
	 * limit (see wg_batch_uncharge). */
	unsigned int charged;
	struct wg_peer *peer;	       /* a reference, or NULL */
	struct wg_keypair *keypair; /* a reference, or NULL */
	struct packet pkts[];
};

/* Multi-producer, multi-consumer free list (ck_ring MPMC): any thread
 * takes and returns batches. */
struct batch_pool {
	struct ck_ring ring;
	struct ck_ring_buffer *ring_buf;
	unsigned int batch_size;
	unsigned int nbatches;
	size_t batch_bytes;
	uint8_t *batches;
	uint8_t *slots;
	uint64_t empty_events; /* atomic: a taker found the pool empty */
};

int wg_batch_pool_init(struct batch_pool *pool, unsigned int nbatches,
		       unsigned int batch_size);
void wg_batch_pool_destroy(struct batch_pool *pool);
/* NULL when the pool is empty (counted). */
struct batch *wg_batch_get(struct batch_pool *pool, enum batch_dir dir);
/* Batches in the pool now; a snapshot while others take and put. */
unsigned int wg_batch_pool_free(struct batch_pool *pool);
/* The batch must hold no references (see wg_batch_release in queueing). */
void wg_batch_put(struct batch_pool *pool, struct batch *b);

static inline void wg_batch_set_state(struct batch *b, enum batch_state s)
{
	__atomic_store_n(&b->state, s, __ATOMIC_RELEASE);
}

static inline enum batch_state wg_batch_get_state(const struct batch *b)
{
	return __atomic_load_n(&b->state, __ATOMIC_ACQUIRE);
}

#endif
