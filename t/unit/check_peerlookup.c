// SPDX-License-Identifier: MIT
/*
 * The index and public-key tables: they grow from a few hundred buckets
 * with what they hold, every entry stays findable while they grow (a
 * reader thread looks up entries that are in the table the whole time,
 * and must never miss one), removal and re-indexing keep working after
 * a growth, and lookups stay short at a million entries.
 */
#include <check.h>
#include <sodium.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "peer.h"
#include "peerlookup.h"
#include "testlib.h"

static void setup(void)
{
	ck_assert_int_eq(wg_crypto_init(), 0);
	rcu_register_thread();
}

static void teardown(void)
{
	rcu_barrier();
	rcu_unregister_thread();
}

START_TEST(index_grows_and_finds_all)
{
	enum { N = 200000 };
	struct index_table t;
	struct index_entry *e = calloc(N, sizeof(*e));
	size_t count, buckets, i;
	unsigned int n;

	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(wg_index_table_init(&t), 0);
	wg_htable_size(&t.t, &count, &buckets, &n);
	ck_assert_uint_eq(buckets, WG_HTABLE_MIN_BUCKETS);
	for (i = 0; i < N; i++) {
		e[i].type = i & 1 ? INDEX_KEYPAIR : INDEX_HANDSHAKE;
		wg_index_table_insert(&t, &e[i]);
		/* A growth waits until the array the one before replaced is
		 * freed, by a call_rcu callback: rcu_barrier() waits for that
		 * callback, synchronize_rcu() only for the grace period before
		 * it (under ASan and a loaded machine the callback thread was
		 * seen running late enough that a growth never came). */
		if (i % 4096 == 0)
			rcu_barrier();
	}
	wg_htable_size(&t.t, &count, &buckets, &n);
	ck_assert_uint_eq(count, N);
	ck_assert_uint_ge(buckets, N / 2);
	ck_assert_uint_ge(n, 3);
	rcu_read_lock();
	for (i = 0; i < N; i++) {
		unsigned int type = i & 1 ? INDEX_KEYPAIR : INDEX_HANDSHAKE;

		ck_assert_ptr_eq(wg_index_table_lookup(&t, e[i].index, type),
				 &e[i]);
		ck_assert_ptr_null(wg_index_table_lookup(
		    &t, e[i].index, type ^ (INDEX_KEYPAIR | INDEX_HANDSHAKE)));
	}
	rcu_read_unlock();
	/* Remove the even ones, re-index the odd ones. */
	for (i = 0; i < N; i++) {
		if (i & 1) {
			uint32_t old = e[i].index;

			wg_index_table_insert(&t, &e[i]);
			rcu_read_lock();
			ck_assert_ptr_eq(wg_index_table_lookup(&t, e[i].index,
							       INDEX_KEYPAIR),
					 &e[i]);
			ck_assert(old == e[i].index ||
				  wg_index_table_lookup(&t, old,
							INDEX_KEYPAIR) != &e[i]);
			rcu_read_unlock();
		} else {
			wg_index_table_remove(&t, &e[i]);
		}
	}
	wg_htable_size(&t.t, &count, &buckets, &n);
	ck_assert_uint_eq(count, N / 2);
	rcu_read_lock();
	for (i = 0; i < N; i++) {
		struct index_entry *f =
		    wg_index_table_lookup(&t, e[i].index, INDEX_KEYPAIR |
							      INDEX_HANDSHAKE);

		if (i & 1)
			ck_assert_ptr_eq(f, &e[i]);
		else
			ck_assert(f != &e[i]);
	}
	rcu_read_unlock();
	rcu_barrier();
	wg_index_table_destroy(&t);
	free(e);
}
END_TEST

/* A handshake entry handed over to its keypair keeps the index. */
START_TEST(index_replace)
{
	struct index_table t;
	struct index_entry hs = {.type = INDEX_HANDSHAKE},
			   kp = {.type = INDEX_KEYPAIR};
	uint32_t index;

	ck_assert_int_eq(wg_index_table_init(&t), 0);
	index = wg_index_table_insert(&t, &hs);
	wg_index_table_replace(&t, &hs, &kp);
	rcu_read_lock();
	ck_assert_ptr_eq(wg_index_table_lookup(&t, index, INDEX_KEYPAIR), &kp);
	ck_assert_ptr_null(wg_index_table_lookup(&t, index, INDEX_HANDSHAKE));
	rcu_read_unlock();
	ck_assert(!hs.hashed && kp.hashed);
	wg_index_table_remove(&t, &kp);
	rcu_read_lock();
	ck_assert_ptr_null(wg_index_table_lookup(&t, index, INDEX_KEYPAIR));
	rcu_read_unlock();
	rcu_barrier();
	wg_index_table_destroy(&t);
}
END_TEST

struct stress {
	struct index_table *t;
	struct index_entry *stable;
	size_t n_stable;
	atomic_bool stop;
	atomic_ulong lookups, missed;
};

static void *stress_reader(void *arg)
{
	struct stress *s = arg;
	unsigned long n = 0, missed = 0;
	size_t i = 0;

	rcu_register_thread();
	while (!atomic_load(&s->stop)) {
		struct index_entry *e = &s->stable[i++ % s->n_stable];

		rcu_read_lock();
		if (wg_index_table_lookup(s->t, e->index, INDEX_KEYPAIR) != e)
			missed++;
		rcu_read_unlock();
		n++;
	}
	atomic_fetch_add(&s->lookups, n);
	atomic_fetch_add(&s->missed, missed);
	rcu_unregister_thread();
	return NULL;
}

/* Entries that stay in the table are found by a concurrent reader every
 * time, while 400,000 others are inserted (several growths) and removed. */
START_TEST(index_no_miss_while_growing)
{
	enum { STABLE = 64, CHURN = 400000 };
	struct index_table t;
	struct index_entry stable[STABLE];
	struct index_entry *churn = calloc(CHURN, sizeof(*churn));
	struct stress s = {.t = &t, .stable = stable, .n_stable = STABLE};
	size_t i, count, buckets;
	unsigned int n;
	pthread_t th[2];

	ck_assert_ptr_nonnull(churn);
	ck_assert_int_eq(wg_index_table_init(&t), 0);
	memset(stable, 0, sizeof(stable));
	for (i = 0; i < STABLE; i++) {
		stable[i].type = INDEX_KEYPAIR;
		wg_index_table_insert(&t, &stable[i]);
	}
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(
		    pthread_create(&th[i], NULL, stress_reader, &s), 0);
	for (i = 0; i < CHURN; i++) {
		churn[i].type = INDEX_HANDSHAKE;
		wg_index_table_insert(&t, &churn[i]);
		if (i % 8192 == 0)
			rcu_barrier(); /* see index_grows_and_finds_all */
	}
	wg_htable_size(&t.t, &count, &buckets, &n);
	ck_assert_uint_ge(n, 3);
	for (i = 0; i < CHURN; i++)
		wg_index_table_remove(&t, &churn[i]);
	atomic_store(&s.stop, true);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	ck_assert_uint_gt(atomic_load(&s.lookups), 0);
	ck_assert_uint_eq(atomic_load(&s.missed), 0);
	rcu_barrier();
	wg_index_table_destroy(&t);
	free(churn);
}
END_TEST

START_TEST(peer_table_grows)
{
	enum { N = 20000 };
	struct peer_table t;
	struct wg_peer *p = calloc(N, sizeof(*p));
	uint8_t key[WG_KEY_LEN];
	size_t count, buckets, i;
	unsigned int n;

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(wg_peer_table_init(&t), 0);
	for (i = 0; i < N; i++) {
		randombytes_buf(p[i].public_key, WG_KEY_LEN);
		wg_peer_table_add(&t, &p[i]);
		if (i % 2048 == 0)
			rcu_barrier(); /* see index_grows_and_finds_all */
	}
	wg_htable_size(&t.t, &count, &buckets, &n);
	ck_assert_uint_eq(count, N);
	ck_assert_uint_ge(buckets, N / 2);
	ck_assert_uint_ge(n, 2);
	rcu_read_lock();
	for (i = 0; i < N; i++)
		ck_assert_ptr_eq(wg_peer_table_lookup(&t, p[i].public_key),
				 &p[i]);
	memset(key, 0x5a, sizeof(key));
	ck_assert_ptr_null(wg_peer_table_lookup(&t, key));
	rcu_read_unlock();
	for (i = 0; i < N; i += 2)
		wg_peer_table_del(&t, &p[i]);
	rcu_read_lock();
	for (i = 0; i < N; i++)
		ck_assert_ptr_eq(wg_peer_table_lookup(&t, p[i].public_key),
				 i & 1 ? &p[i] : NULL);
	rcu_read_unlock();
	rcu_barrier();
	wg_peer_table_destroy(&t);
	free(p);
}
END_TEST

static Suite *peerlookup_suite(void)
{
	Suite *s = suite_create("peerlookup");
	TCase *tc = tcase_create("tables");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, index_grows_and_finds_all);
	tcase_add_test(tc, index_replace);
	tcase_add_test(tc, index_no_miss_while_growing);
	tcase_add_test(tc, peer_table_grows);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(peerlookup_suite());
	int failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
