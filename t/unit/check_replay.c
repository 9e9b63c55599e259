// SPDX-License-Identifier: MIT
#include <check.h>
#include <stdlib.h>

#include "replay.h"
#include "testlib.h"

enum { W = COUNTER_WINDOW_SIZE };

/* Every counter of [first, last], in increasing order, must give ok. */
struct step {
	uint64_t first, last;
	bool ok;
};

/* clang-format off */
#define ONE(c, res) { (c), (c), (res) }
#define RANGE(a, b, res) { (a), (b), (res) }
#define STEPS(...)                                                         \
	.steps = { __VA_ARGS__ },                                          \
	.n = sizeof((struct step[]){ __VA_ARGS__ }) / sizeof(struct step)

struct replay_case {
	const char *name;
	struct step steps[12];
	size_t n;
};

#define BIG (1ULL << 40)
#define R REJECT_AFTER_MESSAGES

static const struct replay_case cases[] = {
	{ "in order", STEPS(RANGE(0, 200, true)) },
	{ "zero first, then duplicate", STEPS(ONE(0, true), ONE(0, false)) },
	{ "out of order inside the window",
	  STEPS(ONE(10, true), ONE(5, true), ONE(7, true), ONE(5, false),
		ONE(10, false), ONE(9, true), ONE(0, true), ONE(11, true),
		ONE(0, false), RANGE(1, 4, true)) },
	{ "duplicates",
	  STEPS(ONE(3, true), ONE(3, false), ONE(4, true), ONE(3, false),
		ONE(4, false), ONE(1000, true), ONE(4, false),
		ONE(1000, false)) },
	{ "old edge: highest - W in, highest - W - 1 out",
	  STEPS(ONE(10000, true), ONE(10000 - W - 1, false),
		ONE(10000 - W, true), ONE(10000 - W, false),
		ONE(10000 - W + 1, true)) },
	{ "old edge from the start: W then 0",
	  STEPS(ONE(W, true), ONE(0, true), ONE(W + 1, true), ONE(1, true),
		ONE(2, true)) },
	{ "old edge moves by one",
	  STEPS(ONE(W, true), ONE(W + 1, true), ONE(0, false),
		ONE(1, true)) },
	{ "new edge: a jump of exactly W keeps the old highest",
	  STEPS(ONE(100, true), ONE(100 + W, true), ONE(100, false),
		ONE(99, false), ONE(101, true), ONE(100 + W + 1, true),
		ONE(101, false), ONE(102, true), ONE(100 + W - 1, true),
		ONE(102 + 2 * W, true), ONE(102 + W, true),
		ONE(101 + W, false)) },
	{ "too old",
	  STEPS(ONE(20000, true), ONE(0, false), ONE(20000 - W - 1, false),
		ONE(20000 - W - 100, false), ONE(20000 - 2 * W, false),
		ONE(20000 - W, true)) },
	{ "across the 64-bit word boundary",
	  STEPS(ONE(62, true), ONE(63, true), ONE(64, true), ONE(62, false),
		ONE(63, false), ONE(64, false), ONE(0, true), ONE(127, true),
		ONE(128, true), ONE(126, true), ONE(63, false),
		ONE(65, true)) },
	{ "across the bitmap wrap (bit index modulo 8192)",
	  STEPS(ONE(0, true), ONE(5, true), ONE(8191, true), ONE(0, false),
		ONE(62, false), ONE(63, true), ONE(8190, true), ONE(8192, true),
		ONE(8191, false), ONE(64, true), ONE(8192 + 5, true),
		ONE(8192 + 64, true)) },
	{ "aliased counters one bitmap apart",
	  STEPS(RANGE(100, 163, true), ONE(100 + 8192, true),
		RANGE(100 + 8192 - W, 100 + 8192 - 1, true),
		ONE(100 + 8192 - W - 1, false), RANGE(101 + 8192, 163 + 8192,
							true)) },
	{ "a full bitmap, then a jump of exactly one bitmap",
	  STEPS(RANGE(0, 8191, true), ONE(8191 + 8192, true),
		RANGE(8191 + 8192 - W, 8191 + 8192 - 1, true),
		ONE(8191 + 8192 - W - 1, false), ONE(8191, false)) },
	{ "a big jump clears the whole bitmap",
	  STEPS(RANGE(0, 8191, true), ONE(BIG, true),
		RANGE(BIG - W, BIG - 1, true), ONE(BIG - W - 1, false),
		ONE(5, false), RANGE(BIG + 1, BIG + 100, true),
		ONE(BIG, false)) },
	{ "REJECT_AFTER_MESSAGES - 1 in, REJECT_AFTER_MESSAGES out",
	  STEPS(ONE(R, false), ONE(UINT64_MAX, false), ONE(0, true),
		ONE(R - 1, true), ONE(R, false), ONE(R - 1, false),
		ONE(R - 2, true), ONE(R - 1 - W, true), ONE(R - 2 - W, false),
		ONE(UINT64_MAX, false), ONE(R + 1, false)) },
};
/* clang-format on */

START_TEST(test_table)
{
	const struct replay_case *c = &cases[_i];
	struct replay_counter rc;
	size_t s;

	wg_replay_init(&rc);
	for (s = 0; s < c->n; s++) {
		const struct step *st = &c->steps[s];
		uint64_t v = st->first;

		for (;;) {
			bool got = wg_replay_counter_validate(&rc, v);

			ck_assert_msg(got == st->ok,
				      "%s: step %zu, counter %llu: got %d",
				      c->name, s, (unsigned long long)v, got);
			if (v == st->last)
				break;
			v++;
		}
	}
}
END_TEST

/*
 * The naive reference: every counter ever accepted in an open-addressing
 * set, plus the highest. A counter is new when it is below
 * REJECT_AFTER_MESSAGES, not in the set, and at most W behind the highest.
 */
enum { SET_BITS = 20, OPS = 200000 };

struct reference {
	uint64_t *slots; /* counter + 1; 0 is empty */
	uint64_t highest;
	bool any;
};

static bool set_insert(struct reference *ref, uint64_t c)
{
	size_t mask = ((size_t)1 << SET_BITS) - 1;
	size_t i = (size_t)((c * 0x9e3779b97f4a7c15ULL) >> (64 - SET_BITS));

	for (;; i = (i + 1) & mask) {
		if (ref->slots[i] == c + 1)
			return false;
		if (!ref->slots[i]) {
			ref->slots[i] = c + 1;
			return true;
		}
	}
}

static bool ref_validate(struct reference *ref, uint64_t c)
{
	if (c >= REJECT_AFTER_MESSAGES)
		return false;
	if (ref->any && c + W < ref->highest)
		return false;
	if (!set_insert(ref, c))
		return false;
	if (!ref->any || c > ref->highest)
		ref->highest = c;
	ref->any = true;
	return true;
}

static uint64_t pick_counter(uint64_t *seed, const struct reference *ref,
			     const uint64_t recent[16])
{
	uint64_t r = test_random_u64(seed), h = ref->highest;
	uint64_t d = test_random_u64(seed);

	switch (r % 100) {
	case 0 ... 44:
		return h + d % 70;
	case 45 ... 74:
		d %= W + 300;
		return d > h ? d % (h + 1) : h - d;
	case 75 ... 79: /* right around the old edge */
		return h - W - 2 + d % 5;
	case 80 ... 89:
		return recent[d % 16];
	case 90 ... 97:
		return h + d % 20000;
	case 98:
		return h + d % (1ULL << 34);
	default:
		return d % 4 ? h + 8192 * (d % 4) : h + 8191;
	}
}

static const uint64_t seeds[] = {1, 0xdeadbeef, 42, 0x123456789abcdefULL, 7};

START_TEST(test_random)
{
	uint64_t seed = seeds[_i], recent[16] = {0};
	struct reference ref = {0};
	struct replay_counter rc;
	unsigned long accepted = 0;
	int op;

	ref.slots = calloc((size_t)1 << SET_BITS, sizeof(*ref.slots));
	ck_assert_ptr_nonnull(ref.slots);
	wg_replay_init(&rc);
	/* The last seed runs into REJECT_AFTER_MESSAGES. */
	if (_i == 4)
		ck_assert(wg_replay_counter_validate(&rc, R - 300000) &&
			  ref_validate(&ref, R - 300000));
	for (op = 0; op < OPS; op++) {
		uint64_t c = pick_counter(&seed, &ref, recent);
		bool want = ref_validate(&ref, c);
		bool got = wg_replay_counter_validate(&rc, c);

		ck_assert_msg(got == want,
			      "seed %d op %d: counter %llu (highest %llu): "
			      "got %d, want %d",
			      _i, op, (unsigned long long)c,
			      (unsigned long long)ref.highest, got, want);
		if (got)
			recent[accepted++ % 16] = c;
	}
	ck_assert_uint_eq(rc.counter, ref.highest + 1);
	/* Both outcomes must have been exercised plenty (the last seed
	 * soon hits the limit, after which all ahead is refused). */
	ck_assert_uint_gt(accepted, _i == 4 ? OPS / 50 : OPS / 4);
	ck_assert_uint_lt(accepted, OPS - OPS / 10);
	free(ref.slots);
}
END_TEST

static Suite *replay_suite(void)
{
	Suite *s = suite_create("replay");
	TCase *tc = tcase_create("table");

	tcase_add_loop_test(tc, test_table, 0,
			    sizeof(cases) / sizeof(cases[0]));
	suite_add_tcase(s, tc);
	tc = tcase_create("random");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_random, 0,
			    sizeof(seeds) / sizeof(seeds[0]));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(replay_suite());
	int failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
