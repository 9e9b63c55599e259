/* SPDX-License-Identifier: MIT */
/*
 * How stages hand batches to each other.
 *
 * struct wg_ring: a ck_ring of pointers (batches, or peers with work),
 * used MPMC (any reader may produce, any worker consume) with an event
 * count so that idle consumers sleep in futex()
 * instead of spinning. Rings are sized above the batch pool, so an
 * enqueue never finds one full; back-pressure is the pool running dry.
 *
 * struct wg_ordered_queue: a peer's batches in nonce (tx) or arrival (rx)
 * order. Producers append under a short per-batch spinlock, in the same
 * critical section that assigns nonces. Crypto workers never touch it;
 * they only flip a batch's state. One drainer at a time pops the leading
 * finished batches: wg_ordered_queue_begin_drain() elects it, and a
 * producer that finds a drain running leaves a note so that the drainer
 * looks once more before it lets go.
 */
#ifndef WGPIPE_QUEUEING_H
#define WGPIPE_QUEUEING_H

#include <ck_ring.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "batch.h"

struct wg_waitq {
	uint32_t seq;
	uint32_t waiters;
};

void wg_waitq_wake(struct wg_waitq *wq);
/* Wakes every sleeper: shutdown, so nobody waits out its timeout. */
void wg_waitq_wake_all(struct wg_waitq *wq);
/* Sleep until woken, at most timeout_ms; call after finding the queue
 * empty with the seq value read before looking (wg_waitq_prepare). */
uint32_t wg_waitq_prepare(struct wg_waitq *wq);
void wg_waitq_wait(struct wg_waitq *wq, uint32_t seq, unsigned int timeout_ms);

struct wg_ring {
	struct ck_ring ring;
	struct ck_ring_buffer *buf;
	struct wg_waitq wait;
};

int wg_ring_init(struct wg_ring *r, unsigned int min_capacity);
void wg_ring_destroy(struct wg_ring *r);
/* MPMC. False when full (callers count it). */
bool wg_ring_push(struct wg_ring *r, void *item);
/* MPMC; NULL when empty. */
void *wg_ring_pop(struct wg_ring *r);
/* Pop, sleeping up to timeout_ms when empty. */
void *wg_ring_pop_wait(struct wg_ring *r, unsigned int timeout_ms);
unsigned int wg_ring_len(struct wg_ring *r);

struct wg_ordered_queue {
	pthread_spinlock_t lock;
	struct batch *head, *tail;
	unsigned int len;
	int draining; /* atomic: a drainer is running */
	int again;    /* atomic: finished work arrived while draining */
};

void wg_ordered_queue_init(struct wg_ordered_queue *q);
void wg_ordered_queue_destroy(struct wg_ordered_queue *q);
/* Must hold q->lock (the caller assigns nonces in the same section). */
void wg_ordered_queue_append_locked(struct wg_ordered_queue *q,
				    struct batch *b);
/* True when the caller became the drainer and must drain until
 * wg_ordered_queue_end_drain() returns true. */
bool wg_ordered_queue_begin_drain(struct wg_ordered_queue *q);
/* Pops the leading batches that are no longer pending, as a list linked
 * through ->next. Only the drainer calls it. */
struct batch *wg_ordered_queue_pop_finished(struct wg_ordered_queue *q);
/* True when the drain is over; false when the drainer must loop again. */
bool wg_ordered_queue_end_drain(struct wg_ordered_queue *q);
/* Takes every batch (finished or not) for teardown; no drainer may run. */
struct batch *wg_ordered_queue_take_all(struct wg_ordered_queue *q);

#endif
