// SPDX-License-Identifier: MIT
/* The batch pool: it hands out each of its batches, then none (and
 * counts that); a batch put back comes out again, for its new direction;
 * sizes it cannot hold are refused. */
#include <check.h>

#include "batch.h"

START_TEST(test_pool_exhaustion)
{
	struct batch_pool pool;
	struct batch *got[16];
	unsigned int i;

	ck_assert_int_eq(wg_batch_pool_init(&pool, 16, 8, 1024), 0);
	for (i = 0; i < 16; i++) {
		got[i] = wg_batch_get(&pool, BATCH_TX);
		ck_assert_ptr_nonnull(got[i]);
		ck_assert_uint_eq(got[i]->count, 0);
		/* Every slot is its own WG_SLOT_SIZE buffer. */
		got[i]->pkts[7].buf[WG_SLOT_SIZE - 1] = 0xaa;
	}
	ck_assert_ptr_null(wg_batch_get(&pool, BATCH_TX));
	ck_assert_uint_eq(pool.empty_events, 1);
	wg_batch_put(&pool, got[3]);
	ck_assert_ptr_eq(wg_batch_get(&pool, BATCH_RX), got[3]);
	ck_assert_int_eq(got[3]->dir, BATCH_RX);
	wg_batch_pool_destroy(&pool);
}
END_TEST

START_TEST(test_pool_rejects_bad_sizes)
{
	struct batch_pool pool;

	ck_assert_int_ne(wg_batch_pool_init(&pool, 0, 8, 1024), 0);
	ck_assert_int_ne(wg_batch_pool_init(&pool, 8, 0, 1024), 0);
	ck_assert_int_ne(wg_batch_pool_init(&pool, 8, WG_BATCH_MAX + 1, 1024), 0);
}
END_TEST

static Suite *batch_suite(void)
{
	Suite *s = suite_create("batch");
	TCase *tc = tcase_create("pool");

	tcase_add_test(tc, test_pool_exhaustion);
	tcase_add_test(tc, test_pool_rejects_bad_sizes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(batch_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
