// SPDX-License-Identifier: MIT
/* The per-source handshake rate limiter: burst, refill, what counts as one
 * source, a full table, garbage collection, and a comparison against a
 * naive reference (GCRA, the same limit stated as "earliest next time"). */
#include <arpa/inet.h>
#include <errno.h>
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "ratelimiter.h"
#include "testlib.h"

#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_MSEC 1000000ULL
#define COST (NSEC_PER_SEC / PACKETS_PER_SECOND)
#define T0 (1000 * NSEC_PER_SEC)

static union wg_sockaddr addr(const char *ip, uint16_t port)
{
	union wg_sockaddr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, ip, &a.in4.sin_addr) == 1) {
		a.in4.sin_family = AF_INET;
		a.in4.sin_port = htons(port);
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &a.in6.sin6_addr), 1);
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_port = htons(port);
	}
	return a;
}

static struct ratelimiter rl;

static void setup(void)
{
	ck_assert_int_eq(wg_crypto_init(), 0);
	ck_assert_int_eq(wg_ratelimiter_init(&rl, 1024), 0);
}

static void teardown(void)
{
	wg_ratelimiter_uninit(&rl);
}

/* Allowed handshakes from src out of n tries at one instant. */
static int allowed(const union wg_sockaddr *src, int n, uint64_t now)
{
	int i, ok = 0;

	for (i = 0; i < n; i++)
		ok += wg_ratelimiter_allow(&rl, src, now);
	return ok;
}

static const char *const one_source[] = {
    "192.0.2.1",
    "2001:db8::1",
    "::ffff:198.51.100.7",
};

START_TEST(burst_then_refused)
{
	union wg_sockaddr src = addr(one_source[_i], 51820);

	ck_assert_int_eq(allowed(&src, PACKETS_BURSTABLE, T0),
			 PACKETS_BURSTABLE);
	ck_assert(!wg_ratelimiter_allow(&rl, &src, T0));
	ck_assert(!wg_ratelimiter_allow(&rl, &src, T0));
	ck_assert_uint_eq(wg_ratelimiter_count(&rl), 1);
}
END_TEST

START_TEST(refill_at_rate)
{
	union wg_sockaddr src = addr(one_source[_i], 51820);
	uint64_t t = T0;

	ck_assert_int_eq(allowed(&src, 10, t), PACKETS_BURSTABLE);
	/* One token takes COST ns; refused tries do not spend any. */
	ck_assert(!wg_ratelimiter_allow(&rl, &src, t + COST - 1));
	ck_assert(wg_ratelimiter_allow(&rl, &src, t + COST));
	ck_assert(!wg_ratelimiter_allow(&rl, &src, t + COST));
	t += COST;
	ck_assert_int_eq(allowed(&src, 5, t + 50 * NSEC_PER_MSEC), 1);
	t += 50 * NSEC_PER_MSEC;
	ck_assert_int_eq(allowed(&src, 5, t + 3 * COST), 3);
	t += 3 * COST;
	/* A long pause refills up to the burst, no further. */
	ck_assert_int_eq(allowed(&src, 10, t + 60 * NSEC_PER_SEC),
			 PACKETS_BURSTABLE);
}
END_TEST

START_TEST(sustained_rate)
{
	union wg_sockaddr src = addr("203.0.113.9", 1);
	uint64_t ms;
	int ok = 0;

	/* A try every millisecond for 10 s: the burst, then 20 a second. */
	for (ms = 0; ms <= 10000; ms++)
		ok += wg_ratelimiter_allow(&rl, &src, T0 + ms * NSEC_PER_MSEC);
	ck_assert_int_eq(ok, PACKETS_BURSTABLE + 10 * PACKETS_PER_SECOND);
}
END_TEST

START_TEST(ipv4_sources_independent)
{
	union wg_sockaddr a = addr("192.0.2.1", 51820);
	union wg_sockaddr a_port = addr("192.0.2.1", 9);
	union wg_sockaddr b = addr("192.0.2.2", 51820);

	ck_assert_int_eq(allowed(&a, 10, T0), PACKETS_BURSTABLE);
	/* Another port is the same source... */
	ck_assert(!wg_ratelimiter_allow(&rl, &a_port, T0));
	/* ...another address is not. */
	ck_assert_int_eq(allowed(&b, 10, T0), PACKETS_BURSTABLE);
	ck_assert_uint_eq(wg_ratelimiter_count(&rl), 2);
}
END_TEST

static const struct {
	const char *a, *b;
	bool shared;
} pairs[] = {
    {"2001:db8:1:2::1", "2001:db8:1:2::2", true},
    {"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", true},
    {"2001:db8:1:2::1", "2001:db8:1:3::1", false},
    {"2001:db8:1:2::1", "2001:db9:1:2::1", false},
    {"2001:db8:1:2::1", "2001:db8:1:2:8000::", true},
    {"fe80::1", "fe80::2", true},
    {"192.0.2.1", "::ffff:192.0.2.1", true},
    {"::ffff:192.0.2.1", "::ffff:192.0.2.2", false},
    /* The same bytes in another family are another source. */
    {"192.0.2.1", "c000:0201::", false},
    {"192.0.2.1", "192.0.2.3", false},
};

START_TEST(same_source_shares_bucket)
{
	union wg_sockaddr a = addr(pairs[_i].a, 1000);
	union wg_sockaddr b = addr(pairs[_i].b, 2000);

	ck_assert_int_eq(allowed(&a, 10, T0), PACKETS_BURSTABLE);
	ck_assert_int_eq(allowed(&b, 10, T0),
			 pairs[_i].shared ? 0 : PACKETS_BURSTABLE);
	ck_assert_uint_eq(wg_ratelimiter_count(&rl), pairs[_i].shared ? 1 : 2);
}
END_TEST

START_TEST(unknown_family_refused)
{
	union wg_sockaddr src;

	memset(&src, 0, sizeof(src));
	src.sa.sa_family = AF_UNIX;
	ck_assert(!wg_ratelimiter_allow(&rl, &src, T0));
	ck_assert_uint_eq(wg_ratelimiter_count(&rl), 0);
}
END_TEST

static union wg_sockaddr nth_source(unsigned int n)
{
	union wg_sockaddr a;

	memset(&a, 0, sizeof(a));
	a.in4.sin_family = AF_INET;
	a.in4.sin_addr.s_addr = htonl(0x0a000000 | n);
	return a;
}

START_TEST(table_full_refuses_new)
{
	struct ratelimiter small;
	union wg_sockaddr src;
	unsigned int i;

	ck_assert_int_eq(wg_ratelimiter_init(&small, 4), 0);
	for (i = 0; i < 4; i++) {
		src = nth_source(i);
		ck_assert(wg_ratelimiter_allow(&small, &src, T0));
	}
	src = nth_source(4);
	ck_assert(!wg_ratelimiter_allow(&small, &src, T0));
	ck_assert(!wg_ratelimiter_allow(&small, &src, T0 + NSEC_PER_SEC));
	ck_assert_uint_eq(wg_ratelimiter_count(&small), 4);

	/* Known sources keep their buckets. */
	src = nth_source(0);
	ck_assert(wg_ratelimiter_allow(&small, &src, T0));

	/* Once idle ones are collected, there is room again. */
	src = nth_source(1);
	ck_assert(wg_ratelimiter_allow(&small, &src, T0 + 2 * NSEC_PER_SEC));
	wg_ratelimiter_gc(&small, T0 + 2 * NSEC_PER_SEC, false);
	ck_assert_uint_eq(wg_ratelimiter_count(&small), 1);
	for (i = 4; i < 7; i++) {
		src = nth_source(i);
		ck_assert(
		    wg_ratelimiter_allow(&small, &src, T0 + 2 * NSEC_PER_SEC));
	}
	src = nth_source(7);
	ck_assert(!wg_ratelimiter_allow(&small, &src, T0 + 2 * NSEC_PER_SEC));
	wg_ratelimiter_uninit(&small);
}
END_TEST

START_TEST(zero_entries_refuses_all)
{
	struct ratelimiter none;
	union wg_sockaddr src = nth_source(1);

	ck_assert_int_eq(wg_ratelimiter_init(&none, 0), 0);
	ck_assert(!wg_ratelimiter_allow(&none, &src, T0));
	ck_assert_uint_eq(wg_ratelimiter_count(&none), 0);
	wg_ratelimiter_uninit(&none);
}
END_TEST

START_TEST(gc_after_one_second)
{
	union wg_sockaddr a = addr("192.0.2.1", 1), b = addr("2001:db8::1", 1);
	const uint64_t tb = T0 + NSEC_PER_SEC / 2 + COST - 1;

	ck_assert(wg_ratelimiter_allow(&rl, &a, T0));
	ck_assert_int_eq(allowed(&b, 10, T0 + NSEC_PER_SEC / 2),
			 PACKETS_BURSTABLE);
	/* A refused try is activity too. */
	ck_assert(!wg_ratelimiter_allow(&rl, &b, tb));

	wg_ratelimiter_gc(&rl, T0 + NSEC_PER_SEC, false);
	ck_assert_uint_eq(wg_ratelimiter_count(&rl), 2);
	wg_ratelimiter_gc(&rl, T0 + NSEC_PER_SEC + 1, false);
	ck_assert_uint_eq(wg_ratelimiter_count(&rl), 1);
	wg_ratelimiter_gc(&rl, tb + NSEC_PER_SEC, false);
	ck_assert_uint_eq(wg_ratelimiter_count(&rl), 1);
	wg_ratelimiter_gc(&rl, tb + NSEC_PER_SEC + 1, false);
	ck_assert_uint_eq(wg_ratelimiter_count(&rl), 0);

	/* A collected source comes back with a full burst. */
	ck_assert_int_eq(allowed(&b, 10, T0 + 3 * NSEC_PER_SEC),
			 PACKETS_BURSTABLE);
	ck_assert_uint_eq(wg_ratelimiter_count(&rl), 1);
}
END_TEST

START_TEST(gc_all)
{
	unsigned int i;

	for (i = 0; i < 100; i++) {
		union wg_sockaddr src = nth_source(i);

		ck_assert(wg_ratelimiter_allow(&rl, &src, T0));
	}
	ck_assert_uint_eq(wg_ratelimiter_count(&rl), 100);
	wg_ratelimiter_gc(&rl, T0, false);
	ck_assert_uint_eq(wg_ratelimiter_count(&rl), 100);
	wg_ratelimiter_gc(&rl, T0, true);
	ck_assert_uint_eq(wg_ratelimiter_count(&rl), 0);
}
END_TEST

/*
 * The reference: GCRA. Each source has a theoretical arrival time tat; a
 * packet at t passes when t >= tat - (burst - 1) * cost, and then
 * tat = max(tat, t) + cost. A linear list of sources, grouped by a key
 * the test derives itself.
 */
struct ref_source {
	int group;
	uint64_t tat;
	bool seen;
};

static bool ref_allow(struct ref_source *s, uint64_t t)
{
	const uint64_t tau = (PACKETS_BURSTABLE - 1) * COST;

	if (!s->seen) {
		s->seen = true;
		s->tat = t;
	}
	if (t + tau < s->tat)
		return false;
	s->tat = (s->tat > t ? s->tat : t) + COST;
	return true;
}

static const struct {
	const char *ip;
	int group;
} ref_addrs[] = {
    {"192.0.2.1", 0},	    {"::ffff:192.0.2.1", 0}, {"192.0.2.2", 1},
    {"2001:db8:0:1::1", 2}, {"2001:db8:0:1::99", 2}, {"2001:db8:0:2::1", 3},
    {"10.1.2.3", 4},
};

enum { NREF = sizeof(ref_addrs) / sizeof(ref_addrs[0]), NGROUPS = 5 };

START_TEST(matches_reference)
{
	struct ref_source ref[NGROUPS];
	uint64_t seed = 0x5eed0000u + (uint64_t)_i, t = T0;
	int i, n, allowed_count = 0;

	memset(ref, 0, sizeof(ref));
	for (n = 0; n < 20000; n++) {
		union wg_sockaddr src;
		bool want;

		i = (int)(test_random_u64(&seed) % NREF);
		src = addr(ref_addrs[i].ip, (uint16_t)test_random_u64(&seed));
		/* Mostly bursts at one instant, sometimes gaps around a
		 * token's worth. */
		switch (test_random_u64(&seed) % 4) {
		case 0:
			t += test_random_u64(&seed) % (2 * COST);
			break;
		case 1:
			t += test_random_u64(&seed) % 1000;
			break;
		}
		want = ref_allow(&ref[ref_addrs[i].group], t);
		ck_assert_msg(wg_ratelimiter_allow(&rl, &src, t) == want,
			      "try %d from %s at %llu: want %d", n,
			      ref_addrs[i].ip, (unsigned long long)(t - T0),
			      want);
		allowed_count += want;
	}
	/* The walk must have exercised both answers. */
	ck_assert_int_gt(allowed_count, 1000);
	ck_assert_int_lt(allowed_count, 19000);
	ck_assert_uint_eq(wg_ratelimiter_count(&rl), NGROUPS);
}
END_TEST

/* Several handshake workers at once: each source's burst is handed out
 * exactly once in total, whoever asks. */
enum { NTHREADS = 4, NSOURCES = 200 };

static pthread_barrier_t start;

static void *hammer(void *arg)
{
	int *ok = arg, round, i;

	pthread_barrier_wait(&start);
	for (round = 0; round < 3; round++)
		for (i = 0; i < NSOURCES; i++) {
			union wg_sockaddr src = nth_source((unsigned int)i);

			*ok += wg_ratelimiter_allow(&rl, &src, T0);
		}
	return NULL;
}

START_TEST(concurrent_callers)
{
	pthread_t threads[NTHREADS];
	int ok[NTHREADS] = {0}, total = 0, i;

	pthread_barrier_init(&start, NULL, NTHREADS);
	for (i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(
		    pthread_create(&threads[i], NULL, hammer, &ok[i]), 0);
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(threads[i], NULL);
		total += ok[i];
	}
	pthread_barrier_destroy(&start);
	ck_assert_int_eq(total, NSOURCES * PACKETS_BURSTABLE);
	ck_assert_uint_eq(wg_ratelimiter_count(&rl), NSOURCES);
}
END_TEST

/* The recently-queued table: one admission a second per source, sources
 * told apart as by the limiter (the pairs above). 2^20 slots, so that two
 * distinct sources share one with a chance of about one in a million. */
static struct source_recent recent;

static void recent_setup(void)
{
	ck_assert_int_eq(wg_crypto_init(), 0);
	ck_assert_int_eq(wg_source_recent_init(&recent, 1 << 20), 0);
}

static void recent_teardown(void)
{
	wg_source_recent_uninit(&recent);
	ck_assert_ptr_null(recent.slots);
}

/* Times are kept to about a millisecond: a source is refused for a
 * second and at most 2 ms more. */
#define ALMOST_SEC (NSEC_PER_SEC - NSEC_PER_MSEC)
#define SEC_AND_A_BIT (NSEC_PER_SEC + 2 * NSEC_PER_MSEC)

START_TEST(recent_once_a_second)
{
	union wg_sockaddr a = addr("192.0.2.1", 1000);
	uint64_t t;

	ck_assert(wg_source_recent_admit(&recent, &a, T0));
	for (t = T0; t < T0 + ALMOST_SEC; t += 50 * NSEC_PER_MSEC)
		ck_assert(!wg_source_recent_admit(&recent, &a, t));
	ck_assert(!wg_source_recent_admit(&recent, &a, T0 + ALMOST_SEC));
	ck_assert(wg_source_recent_admit(&recent, &a, T0 + SEC_AND_A_BIT));
	ck_assert(!wg_source_recent_admit(&recent, &a,
					  T0 + SEC_AND_A_BIT + 1));
	/* The clock at 0 still marks the slot. */
	a = addr("192.0.2.9", 1);
	ck_assert(wg_source_recent_admit(&recent, &a, 0));
	ck_assert(!wg_source_recent_admit(&recent, &a, 1));
}
END_TEST

START_TEST(recent_sources_as_limiter)
{
	union wg_sockaddr a = addr(pairs[_i].a, 1000);
	union wg_sockaddr b = addr(pairs[_i].b, 2000);

	ck_assert(wg_source_recent_admit(&recent, &a, T0));
	ck_assert(wg_source_recent_admit(&recent, &b, T0 + 1) ==
		  !pairs[_i].shared);
}
END_TEST

START_TEST(recent_many_sources)
{
	union wg_sockaddr src;
	unsigned int i, in = 0;

	/* 4096 sources (a flood's spoofed ones) each get one in, but for
	 * one whose two slots both went to others (about 0.06 expected);
	 * the first of them again only a second later. */
	for (i = 0; i < 4096; i++) {
		src = nth_source(i);
		in += wg_source_recent_admit(&recent, &src, T0 + i);
	}
	ck_assert_uint_ge(in, 4090); /* refused: both slots taken */
	src = nth_source(0);
	ck_assert(!wg_source_recent_admit(&recent, &src, T0 + 4096));
	ck_assert(wg_source_recent_admit(&recent, &src, T0 + SEC_AND_A_BIT));
	memset(&src, 0, sizeof(src));
	src.sa.sa_family = AF_UNIX;
	ck_assert(!wg_source_recent_admit(&recent, &src, T0));
}
END_TEST

/* How many of 64 sources get into sr at one instant. */
static unsigned int admitted_of_64(struct source_recent *sr, uint64_t now)
{
	union wg_sockaddr src;
	unsigned int i, in = 0;

	for (i = 0; i < 64; i++) {
		src = nth_source(i);
		in += wg_source_recent_admit(sr, &src, now);
	}
	return in;
}

/* A table of 4 slots: at one instant, at most 4 sources get in, each into
 * a slot of its own, and the rest are refused until a second later. */
START_TEST(recent_table_full)
{
	struct source_recent tiny;
	unsigned int in;

	ck_assert_int_eq(wg_source_recent_init(&tiny, 3), 0);
	ck_assert_uint_eq(tiny.mask, 3);
	in = admitted_of_64(&tiny, T0);
	ck_assert_uint_ge(in, 1);
	ck_assert_uint_le(in, 4);
	ck_assert_uint_eq(admitted_of_64(&tiny, T0 + ALMOST_SEC), 0);
	ck_assert_uint_ge(admitted_of_64(&tiny, T0 + SEC_AND_A_BIT), 1);
	wg_source_recent_uninit(&tiny);
	ck_assert_int_eq(wg_source_recent_init(&tiny, (1 << 20) + 1), -EINVAL);
}
END_TEST

static Suite *ratelimiter_suite(void)
{
	Suite *s = suite_create("ratelimiter");
	TCase *tc;

	tc = tcase_create("bucket");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, burst_then_refused, 0, 3);
	tcase_add_loop_test(tc, refill_at_rate, 0, 3);
	tcase_add_test(tc, sustained_rate);
	suite_add_tcase(s, tc);

	tc = tcase_create("sources");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ipv4_sources_independent);
	tcase_add_loop_test(tc, same_source_shares_bucket, 0,
			    sizeof(pairs) / sizeof(pairs[0]));
	tcase_add_test(tc, unknown_family_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("table");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, table_full_refuses_new);
	tcase_add_test(tc, zero_entries_refuses_all);
	tcase_add_test(tc, gc_after_one_second);
	tcase_add_test(tc, gc_all);
	tcase_add_test(tc, concurrent_callers);
	suite_add_tcase(s, tc);

	tc = tcase_create("recent");
	tcase_add_checked_fixture(tc, recent_setup, recent_teardown);
	tcase_add_test(tc, recent_once_a_second);
	tcase_add_loop_test(tc, recent_sources_as_limiter, 0,
			    sizeof(pairs) / sizeof(pairs[0]));
	tcase_add_test(tc, recent_many_sources);
	tcase_add_test(tc, recent_table_full);
	suite_add_tcase(s, tc);

	tc = tcase_create("reference");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, matches_reference, 0, 8);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ratelimiter_suite());
	int failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
