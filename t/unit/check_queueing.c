// SPDX-License-Identifier: MIT
/* The rings and the per-peer ordered queue. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "batch.h"
#include "device.h"
#include "handshake.h"
#include "queueing.h"
#include "testlib.h"

START_TEST(test_ring_fifo_and_timeout)
{
	struct wg_ring r;
	struct timespec a, b;
	uintptr_t i;
	long ms;

	ck_assert_int_eq(wg_ring_init(&r, 10), 0);
	for (i = 1; i <= 10; i++)
		ck_assert(wg_ring_push(&r, (void *)i));
	ck_assert_uint_eq(wg_ring_len(&r), 10);
	for (i = 1; i <= 10; i++)
		ck_assert_ptr_eq(wg_ring_pop(&r), (void *)i);
	ck_assert_ptr_null(wg_ring_pop(&r));
	clock_gettime(CLOCK_MONOTONIC, &a);
	ck_assert_ptr_null(wg_ring_pop_wait(&r, 50));
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	ck_assert_int_ge(ms, 40);
	wg_ring_destroy(&r);
}
END_TEST

static struct batch *make_batch(unsigned int seq)
{
	struct batch *b = calloc(1, sizeof(*b) + sizeof(struct packet));

	b->count = 1;
	b->pkts[0].counter = seq;
	b->state = BATCH_PENDING;
	return b;
}

START_TEST(test_ordered_stops_at_pending)
{
	struct wg_ordered_queue q;
	struct batch *b[3], *out;
	unsigned int i;

	wg_ordered_queue_init(&q);
	for (i = 0; i < 3; i++) {
		b[i] = make_batch(i);
		wg_ordered_queue_append_locked(&q, b[i]);
	}
	ck_assert(wg_ordered_queue_begin_drain(&q));
	wg_batch_set_state(b[1], BATCH_DONE);
	ck_assert_ptr_null(wg_ordered_queue_pop_finished(&q));
	wg_batch_set_state(b[0], BATCH_DONE);
	out = wg_ordered_queue_pop_finished(&q);
	ck_assert_ptr_eq(out, b[0]);
	ck_assert_ptr_eq(out->next, b[1]);
	ck_assert_ptr_null(out->next->next);
	wg_batch_set_state(b[2], BATCH_DEAD);
	ck_assert_ptr_eq(wg_ordered_queue_pop_finished(&q), b[2]);
	ck_assert_uint_eq(q.list.len, 0);
	ck_assert(wg_ordered_queue_end_drain(&q));
	for (i = 0; i < 3; i++)
		free(b[i]);
	wg_ordered_queue_destroy(&q);
}
END_TEST

START_TEST(test_second_drainer_leaves_a_note)
{
	struct wg_ordered_queue q;

	wg_ordered_queue_init(&q);
	ck_assert(wg_ordered_queue_begin_drain(&q));
	ck_assert(!wg_ordered_queue_begin_drain(&q));
	/* The note makes the drainer look once more. */
	ck_assert(!wg_ordered_queue_end_drain(&q));
	ck_assert_ptr_null(wg_ordered_queue_pop_finished(&q));
	ck_assert(wg_ordered_queue_end_drain(&q));
	/* A new drainer always looks at least once. */
	ck_assert(wg_ordered_queue_begin_drain(&q));
	ck_assert(!wg_ordered_queue_end_drain(&q));
	ck_assert_ptr_null(wg_ordered_queue_pop_finished(&q));
	ck_assert(wg_ordered_queue_end_drain(&q));
	wg_ordered_queue_destroy(&q);
}
END_TEST

/*
 * The pipeline in miniature: one producer numbers batches and appends
 * them to the ordered queue, workers finish them in any order, and
 * whoever finishes one drains; the caught_up order must be the numbering,
 * with nothing lost, doubled or delivered by two drainers at once.
 */
enum { NBATCHES = 200000, NWORKERS = 4 };

struct order_test {
	struct wg_ordered_queue q;
	struct wg_ring work;
	unsigned int *seen;
	unsigned int nseen;
	int in_drain;
	int overlap;
	int done;
};

/* q->list.len belongs to q->lock (the drainer changes it under the lock). */
static unsigned int queue_len(struct wg_ordered_queue *q)
{
	unsigned int len;

	pthread_spin_lock(&q->lock);
	len = q->list.len;
	pthread_spin_unlock(&q->lock);
	return len;
}

static void drain(struct order_test *t)
{
	struct batch *b, *next;

	if (!wg_ordered_queue_begin_drain(&t->q))
		return;
	do {
		if (__atomic_fetch_add(&t->in_drain, 1, __ATOMIC_SEQ_CST))
			__atomic_store_n(&t->overlap, 1, __ATOMIC_SEQ_CST);
		for (b = wg_ordered_queue_pop_finished(&t->q); b; b = next) {
			next = b->next;
			t->seen[t->nseen] = (unsigned int)b->pkts[0].counter;
			/* The main thread polls nseen without the drain. */
			__atomic_store_n(&t->nseen, t->nseen + 1,
					 __ATOMIC_RELEASE);
			free(b);
		}
		__atomic_fetch_sub(&t->in_drain, 1, __ATOMIC_SEQ_CST);
	} while (!wg_ordered_queue_end_drain(&t->q));
}

static void *worker(void *arg)
{
	struct order_test *t = arg;
	uint64_t seed = (uintptr_t)&seed;
	struct batch *b;

	for (;;) {
		b = wg_ring_pop_wait(&t->work, 10);
		if (!b) {
			if (__atomic_load_n(&t->done, __ATOMIC_ACQUIRE))
				break;
			continue;
		}
		if (test_random_u64(&seed) % 8 == 0)
			sched_yield();
		wg_batch_set_state(b, test_random_u64(&seed) % 16 ? BATCH_DONE
								   : BATCH_DEAD);
		drain(t);
	}
	return NULL;
}

START_TEST(test_parallel_workers_keep_order)
{
	struct order_test t = { 0 };
	pthread_t th[NWORKERS];
	unsigned int i;

	wg_ordered_queue_init(&t.q);
	ck_assert_int_eq(wg_ring_init(&t.work, NBATCHES), 0);
	t.seen = calloc(NBATCHES, sizeof(*t.seen));
	for (i = 0; i < NWORKERS; i++)
		pthread_create(&th[i], NULL, worker, &t);
	for (i = 0; i < NBATCHES; i++) {
		struct batch *b = make_batch(i);

		pthread_spin_lock(&t.q.lock);
		wg_ordered_queue_append_locked(&t.q, b);
		pthread_spin_unlock(&t.q.lock);
		ck_assert(wg_ring_push(&t.work, b));
	}
	while (queue_len(&t.q) || wg_ring_len(&t.work))
		sched_yield();
	/* A drain may still be finishing its last batch. */
	while (__atomic_load_n(&t.nseen, __ATOMIC_ACQUIRE) < NBATCHES &&
	       __atomic_load_n(&t.in_drain, __ATOMIC_ACQUIRE))
		sched_yield();
	__atomic_store_n(&t.done, 1, __ATOMIC_RELEASE);
	for (i = 0; i < NWORKERS; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(t.overlap, 0);
	ck_assert_uint_eq(t.nseen, NBATCHES);
	for (i = 0; i < NBATCHES; i++)
		ck_assert_uint_eq(t.seen[i], i);
	free(t.seen);
	wg_ring_destroy(&t.work);
	wg_ordered_queue_destroy(&t.q);
}
END_TEST

/* A handshake worker asleep on the main ring takes a batch pushed onto
 * the fair ring at once, not at its next timeout or the next main-ring
 * batch: 500 fair batches, each pushed while the worker sleeps (or is
 * about to), each taken within a second though the worker's wait has no
 * timeout. */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct lane_test {
	struct wg_device *dev;
	atomic_uint taken;
	atomic_bool stop;
};

static void *lane_worker(void *arg)
{
	struct lane_test *t = arg;

	while (!atomic_load(&t->stop))
		if (wg_handshake_next(t->dev, WG_WAIT_FOREVER))
			atomic_fetch_add(&t->taken, 1);
	return NULL;
}

START_TEST(test_fair_lane_wakes_worker)
{
	struct lane_test t = {0};
	struct batch fake;
	struct timespec d = {0, 0};
	pthread_t th;
	unsigned int i;

	t.dev = calloc(1, sizeof(*t.dev));
	ck_assert_ptr_nonnull(t.dev);
	ck_assert_int_eq(wg_ring_init(&t.dev->handshake_ring, 64), 0);
	ck_assert_int_eq(wg_ring_init(&t.dev->handshake_fair_ring, 64), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, lane_worker, &t), 0);
	for (i = 0; i < 500; i++) {
		/* lane[1] is the fair lane (handshake.c). */
		struct handshake_lanes l = {.lane = {NULL, &fake}};
		double t0 = now_s();

		/* From 0 to 2 ms: sometimes asleep, sometimes not yet. */
		d.tv_nsec = (long)(i % 21) * 100000;
		nanosleep(&d, NULL);
		wg_handshake_queue_flush(t.dev, &l);
		while (atomic_load(&t.taken) <= i)
			ck_assert_msg(now_s() - t0 < 1.0 * test_time_scale(),
				      "fair batch %u not taken in 1 s", i);
	}
	atomic_store(&t.stop, true);
	wg_waitq_wake_all(&t.dev->handshake_ring.wait);
	pthread_join(th, NULL);
	wg_ring_destroy(&t.dev->handshake_ring);
	wg_ring_destroy(&t.dev->handshake_fair_ring);
	free(t.dev);
}
END_TEST

/* Who seals or opens a batch (wg_crypt_here): its reader, or the crypto
 * workers. */
START_TEST(test_crypt_here)
{
	struct wg_device *dev = calloc(1, sizeof(*dev));
	struct batch small = {.count = WG_INLINE_MAX};
	struct batch full = {.count = WG_INLINE_MAX + 1};
	struct batch queued;

	ck_assert_ptr_nonnull(dev);
	ck_assert_int_eq(wg_ring_init(&dev->crypt_ring, 8), 0);
	dev->opt.crypto_workers = 2;
	dev->peer_count = 2;
	ck_assert_uint_eq(wg_caught_up_batches(dev, BATCH_TX), WG_CAUGHT_UP);
	ck_assert_uint_eq(wg_caught_up_batches(dev, BATCH_RX), WG_CAUGHT_UP);

	/* Workers idle. */
	ck_assert(wg_crypt_here(dev, &small, false));
	ck_assert(!wg_crypt_here(dev, &full, true));
	full.caught_up = true;
	ck_assert(wg_crypt_here(dev, &full, false));

	/* Workers with a batch queued: a reader that keeps up hands its
	 * larger batch on all the same, a small one only goes ahead when
	 * its peer has nothing else in flight. */
	ck_assert(wg_ring_push(&dev->crypt_ring, &queued));
	ck_assert(!wg_crypt_here(dev, &full, true));
	ck_assert(!wg_crypt_here(dev, &small, false));
	ck_assert(wg_crypt_here(dev, &small, true));

	/* One peer: nobody else's packets wait behind it, so a reader that
	 * keeps up does its own, whatever the workers have queued, and
	 * keeps up for longer: a UDP reader longer than a TUN reader, which
	 * a flood from a local sender can outrun. */
	dev->peer_count = 1;
	ck_assert_uint_eq(wg_caught_up_batches(dev, BATCH_TX),
			  WG_CAUGHT_UP_ONE_PEER_TX);
	ck_assert_uint_eq(wg_caught_up_batches(dev, BATCH_RX),
			  WG_CAUGHT_UP_ONE_PEER_RX);
	ck_assert(WG_CAUGHT_UP_ONE_PEER_TX > WG_CAUGHT_UP);
	ck_assert(WG_CAUGHT_UP_ONE_PEER_RX > WG_CAUGHT_UP_ONE_PEER_TX);
	ck_assert(wg_crypt_here(dev, &full, false));
	full.caught_up = false;
	ck_assert(!wg_crypt_here(dev, &full, true));

	/* No workers: the reader does it all. */
	dev->opt.crypto_workers = 0;
	dev->peer_count = 2;
	ck_assert(wg_crypt_here(dev, &full, false));
	ck_assert(wg_crypt_here(dev, &small, false));

	ck_assert_ptr_eq(wg_ring_pop(&dev->crypt_ring), &queued);
	wg_ring_destroy(&dev->crypt_ring);
	free(dev);
}
END_TEST

static Suite *queueing_suite(void)
{
	Suite *s = suite_create("queueing");
	TCase *tc;

	tc = tcase_create("ring");
	tcase_add_test(tc, test_ring_fifo_and_timeout);
	tcase_add_test(tc, test_fair_lane_wakes_worker);
	tcase_add_test(tc, test_crypt_here);
	suite_add_tcase(s, tc);
	tc = tcase_create("ordered");
	tcase_add_test(tc, test_ordered_stops_at_pending);
	tcase_add_test(tc, test_second_drainer_leaves_a_note);
	tcase_add_test(tc, test_parallel_workers_keep_order);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(queueing_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
