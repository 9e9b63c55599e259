// SPDX-License-Identifier: MIT
/* The batch pool: it hands out each of its batches, then none (and
 * counts that); a batch put back comes out again, for its new direction;
 * sizes it cannot hold are refused. A batch's space: packets of any size
 * up to WireGuard's largest take consecutive slots, never overlap, and
 * stop at the batch's end. Under AddressSanitizer, a pooled batch's slots
 * are poisoned and a taken batch's are not. */
#include <check.h>
#include <string.h>

#include "batch.h"

#ifdef WG_ASAN
#include <sanitizer/asan_interface.h>
#endif

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

/* The batch returned last is taken first, so a busy tunnel reuses the
 * batches still in cache; the free count follows. */
START_TEST(test_pool_lifo)
{
	struct batch_pool pool;
	struct batch *a, *b, *c;

	ck_assert_int_eq(wg_batch_pool_init(&pool, 8, 4, 1024), 0);
	ck_assert_uint_eq(wg_batch_pool_free(&pool), 8);
	a = wg_batch_get(&pool, BATCH_TX);
	b = wg_batch_get(&pool, BATCH_TX);
	c = wg_batch_get(&pool, BATCH_TX);
	ck_assert_uint_eq(wg_batch_pool_free(&pool), 5);
	wg_batch_put(&pool, b);
	wg_batch_put(&pool, a);
	wg_batch_put(&pool, c);
	ck_assert_uint_eq(wg_batch_pool_free(&pool), 8);
	ck_assert_ptr_eq(wg_batch_get(&pool, BATCH_RX), c);
	ck_assert_ptr_eq(wg_batch_get(&pool, BATCH_RX), a);
	ck_assert_ptr_eq(wg_batch_get(&pool, BATCH_RX), b);
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

/* Packets of the sizes a jumbo and a default MTU make, and the largest
 * WireGuard carries, fill a batch of 64 slots in order, each filling its
 * whole room without touching the next; the next that does not fit is
 * refused, and a batch back from the pool starts empty. */
START_TEST(test_batch_space)
{
	static const size_t plain[] = { 0, 1420, 8920, WG_MAX_PLAIN, 2002,
					WG_MAX_PLAIN };
	static const unsigned int slots[] = { 1, 1, 5, 33, 2, 33 };
	struct batch_pool pool;
	struct batch *b;
	struct packet *p;
	unsigned int i, used = 0;

	ck_assert_uint_eq(WG_MAX_PACKET_SLOTS, 33);
	ck_assert_int_eq(wg_batch_pool_init(&pool, 2, 64, 1024), 0);
	b = wg_batch_get(&pool, BATCH_TX);
	for (i = 0; i < 5; i++) {
		p = wg_batch_add(&pool, b, wg_tx_room(plain[i]));
		ck_assert_ptr_nonnull(p);
		ck_assert_ptr_eq(p->buf, b->slots + (size_t)used * WG_SLOT_SIZE);
		memset(p->buf, 0x40 + (int)i, wg_tx_room(plain[i]));
		used += slots[i];
		ck_assert_uint_eq(b->used, used);
		ck_assert_uint_eq(b->count, i + 1);
	}
	ck_assert_uint_eq(wg_batch_room(&pool, b), (64 - used) * WG_SLOT_SIZE);
	ck_assert_ptr_null(wg_batch_add(&pool, b, wg_tx_room(plain[5])));
	ck_assert_uint_eq(b->count, 5);
	for (i = 0; i < 5; i++)
		ck_assert_uint_eq(b->pkts[i].buf[wg_tx_room(plain[i]) - 1],
				  0x40 + i);
	/* The rest of the batch, to its last byte. */
	p = wg_batch_reserve(&pool, b, 64 - used);
	ck_assert_ptr_nonnull(p);
	p->buf[(64 - used) * WG_SLOT_SIZE - 1] = 1;
	ck_assert_ptr_null(wg_batch_add(&pool, b, 1));
	wg_batch_put(&pool, b);
	b = wg_batch_get(&pool, BATCH_RX);
	ck_assert_uint_eq(b->used, 0);
	ck_assert_uint_eq(b->count, 0);
	/* A 65,535-byte datagram takes 32 slots. */
	ck_assert_ptr_nonnull(wg_batch_add(&pool, b, 65535));
	ck_assert_uint_eq(b->used, 32);
	wg_batch_put(&pool, b);
	wg_batch_pool_destroy(&pool);
}
END_TEST

#ifdef WG_ASAN
static bool slots_poisoned(const struct batch_pool *pool, struct batch *b,
			   bool want)
{
	size_t n = (size_t)pool->batch_size * WG_SLOT_SIZE, i;

	for (i = 0; i < n; i += WG_SLOT_SIZE / 2)
		if (__asan_address_is_poisoned(b->slots + i) != want)
			return false;
	return __asan_address_is_poisoned(b->slots + n - 1) == want;
}

START_TEST(test_pool_poisons_free_slots)
{
	struct batch_pool pool;
	struct batch *a, *b;

	ck_assert_int_eq(wg_batch_pool_init(&pool, 4, 8, 1024), 0);
	a = wg_batch_get(&pool, BATCH_TX);
	b = wg_batch_get(&pool, BATCH_RX);
	ck_assert(slots_poisoned(&pool, a, false));
	ck_assert(slots_poisoned(&pool, b, false));
	/* The batches still in the pool: from their first slot on. */
	ck_assert(__asan_address_is_poisoned(b->slots + 8 * WG_SLOT_SIZE));
	wg_batch_put(&pool, b);
	ck_assert(slots_poisoned(&pool, b, true));
	ck_assert(slots_poisoned(&pool, a, false));
	wg_batch_release(&pool, a);
	ck_assert(slots_poisoned(&pool, a, true));
	ck_assert_ptr_eq(wg_batch_get(&pool, BATCH_RX), a);
	ck_assert(slots_poisoned(&pool, a, false));
	wg_batch_pool_destroy(&pool);
}
END_TEST
#endif

static Suite *batch_suite(void)
{
	Suite *s = suite_create("batch");
	TCase *tc = tcase_create("pool");

	tcase_add_test(tc, test_pool_exhaustion);
	tcase_add_test(tc, test_pool_lifo);
	tcase_add_test(tc, test_pool_rejects_bad_sizes);
	tcase_add_test(tc, test_batch_space);
#ifdef WG_ASAN
	tcase_add_test(tc, test_pool_poisons_free_slots);
#endif
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
