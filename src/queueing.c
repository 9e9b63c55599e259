// SPDX-License-Identifier: MIT
#include "queueing.h"

#include "atomic.h"
#include "batch.h"
#include "clock.h"
#include "tsan.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long futex(uint32_t *uaddr, int op, uint32_t val,
		  const struct timespec *ts)
{
	return syscall(SYS_futex, uaddr, op, val, ts, NULL, 0);
}

void wg_waitq_wake(struct wg_waitq *wq)
{
	wg_full_add(wq->seq, 1);
	if (wg_full_load(wq->waiters))
		futex(&wq->seq, FUTEX_WAKE_PRIVATE, 1, NULL);
}

void wg_waitq_wake_all(struct wg_waitq *wq)
{
	wg_full_add(wq->seq, 1);
	if (wg_full_load(wq->waiters))
		futex(&wq->seq, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
}

uint32_t wg_waitq_prepare(struct wg_waitq *wq)
{
	uint32_t seq = wg_full_load(wq->seq);

	wg_full_add(wq->waiters, 1);
	return seq;
}

void wg_waitq_cancel(struct wg_waitq *wq)
{
	wg_full_add(wq->waiters, (uint32_t)-1);
}

void wg_waitq_wait(struct wg_waitq *wq, uint32_t seq, int timeout_ms)
{
	struct timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (long)(timeout_ms % 1000 * NSEC_PER_MSEC),
	};

	/* A wake between prepare and here changed seq: no sleep at all. */
	futex(&wq->seq, FUTEX_WAIT_PRIVATE, seq,
	      timeout_ms == WG_WAIT_FOREVER ? NULL : &ts);
	wg_waitq_cancel(wq);
}

int wg_ring_init(struct wg_ring *r, unsigned int min_capacity)
{
	unsigned int size = 2;

	while (size <= min_capacity)
		size <<= 1;
	r->buf = calloc(size, sizeof(*r->buf));
	if (!r->buf)
		return -ENOMEM;
	ck_ring_init(&r->ring, size);
	r->wait.seq = 0;
	r->wait.waiters = 0;
	return 0;
}

void wg_ring_destroy(struct wg_ring *r)
{
	free(r->buf);
	r->buf = NULL;
}

bool wg_ring_push(struct wg_ring *r, void *item)
{
	bool ok;

	wg_tsan_handoff(item);
	wg_tsan_ignore_begin();
	ok = ck_ring_enqueue_mpmc(&r->ring, r->buf, item);
	wg_tsan_ignore_end();
	if (!ok)
		return false;
	wg_waitq_wake(&r->wait);
	return true;
}

void *wg_ring_pop(struct wg_ring *r)
{
	void *b;
	bool ok;

	wg_tsan_ignore_begin();
	ok = ck_ring_dequeue_mpmc(&r->ring, r->buf, &b);
	wg_tsan_ignore_end();
	if (!ok)
		return NULL;
	wg_tsan_takeover(b);
	return b;
}

void *wg_ring_pop_wait(struct wg_ring *r, int timeout_ms)
{
	void *b = wg_ring_pop(r);
	uint32_t seq;

	if (b)
		return b;
	seq = wg_waitq_prepare(&r->wait);
	b = wg_ring_pop(r);
	if (b) {
		wg_waitq_cancel(&r->wait);
		return b;
	}
	wg_waitq_wait(&r->wait, seq, timeout_ms);
	return wg_ring_pop(r);
}

unsigned int wg_ring_len(struct wg_ring *r)
{
	return ck_ring_size(&r->ring);
}

void wg_batch_list_append(struct batch_list *l, struct batch *b)
{
	b->next = NULL;
	if (l->tail)
		l->tail->next = b;
	else
		l->head = b;
	l->tail = b;
	wg_write_once(l->len, l->len + 1);
}

struct batch *wg_batch_list_cut(struct batch_list *l, struct batch *last,
				unsigned int n)
{
	struct batch *first = l->head;

	l->head = last->next;
	if (!l->head)
		l->tail = NULL;
	last->next = NULL;
	wg_write_once(l->len, l->len - n);
	return first;
}

struct batch *wg_batch_list_pop(struct batch_list *l)
{
	return l->head ? wg_batch_list_cut(l, l->head, 1) : NULL;
}

void wg_ordered_queue_init(struct wg_ordered_queue *q)
{
	pthread_spin_init(&q->lock, PTHREAD_PROCESS_PRIVATE);
	q->list = (struct batch_list){ NULL, NULL, 0 };
	q->draining = 0;
	q->again = 0;
}

void wg_ordered_queue_destroy(struct wg_ordered_queue *q)
{
	pthread_spin_destroy(&q->lock);
}

bool wg_ordered_queue_append_locked(struct wg_ordered_queue *q,
				    struct batch *b)
{
	bool was_empty = !q->list.head;

	wg_batch_list_append(&q->list, b);
	return was_empty;
}

bool wg_ordered_queue_begin_drain(struct wg_ordered_queue *q)
{
	wg_full_store(q->again, 1);
	return !wg_full_exchange(q->draining, 1);
}

struct batch *wg_ordered_queue_pop_finished(struct wg_ordered_queue *q)
{
	struct batch *first = NULL, *last = NULL, *b;
	unsigned int n = 0;

	wg_full_store(q->again, 0);
	pthread_spin_lock(&q->lock);
	for (b = q->list.head; b && wg_batch_get_state(b) != BATCH_PENDING;
	     b = b->next) {
		last = b;
		n++;
	}
	if (last)
		first = wg_batch_list_cut(&q->list, last, n);
	pthread_spin_unlock(&q->lock);
	return first;
}

bool wg_ordered_queue_end_drain(struct wg_ordered_queue *q)
{
	if (wg_full_load(q->again))
		return false;
	wg_full_store(q->draining, 0);
	/* A producer may have left its note after our look but before we
	 * let go; it then saw draining set and left. Take over again. */
	if (wg_full_load(q->again) && !wg_full_exchange(q->draining, 1))
		return false;
	return true;
}

struct batch *wg_ordered_queue_take_all(struct wg_ordered_queue *q)
{
	struct batch *first = NULL;

	pthread_spin_lock(&q->lock);
	if (q->list.head)
		first = wg_batch_list_cut(&q->list, q->list.tail, q->list.len);
	pthread_spin_unlock(&q->lock);
	return first;
}
