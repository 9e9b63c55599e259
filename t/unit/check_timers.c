// SPDX-License-Identifier: MIT
/*
 * The per-peer timer rules, on a fake clock: every rule at its boundary
 * (one nanosecond early does nothing, on time fires), the retry series up
 * to giving up, keepalives, key expiry, the initiation rate rule, the
 * keypair rules, and simulated minutes of a peer's life.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "timers.h"

#define MS(x) ((uint64_t)(x)*1000000ULL)
#define S(x) ((uint64_t)(x)*1000000000ULL)
/* A clock that does not start at zero, so "never" and "at 0" differ. */
#define T0 S(1000)
#define JITTER_MAX MS(REKEY_TIMEOUT_JITTER_MAX_MS)

static const uint32_t some_random = 0x9e3779b9;

/* ---- jitter ---- */

static const struct {
	uint32_t random;
	uint64_t jitter_ns;
} jitter_cases[] = {
    {0, 0},
    {1, 0},
    {13, 1}, /* 13 * 334e6 / 2^32 = 1.01 */
    {1u << 30, 83500000},
    {1u << 31, 167000000},
    {3u << 30, 250500000},
    {UINT32_MAX, 333999999},
};

START_TEST(test_jitter_table)
{
	ck_assert_uint_eq(wg_timers_jitter_ns(jitter_cases[_i].random),
			  jitter_cases[_i].jitter_ns);
}
END_TEST

START_TEST(test_jitter_bounds_and_spread)
{
	uint64_t seed = 1, sum = 0, lo = UINT64_MAX, hi = 0;
	const int n = 100000;
	int i;

	for (i = 0; i < n; i++) {
		uint64_t j =
		    wg_timers_jitter_ns((uint32_t)test_random_u64(&seed));

		ck_assert_uint_lt(j, JITTER_MAX);
		sum += j;
		lo = j < lo ? j : lo;
		hi = j > hi ? j : hi;
	}
	/* Uniform over [0, 334 ms): extremes near both ends, mean near the
	 * middle (167 ms, standard error ~0.3 ms). */
	ck_assert_uint_lt(lo, MS(1));
	ck_assert_uint_gt(hi, MS(333));
	ck_assert_uint_gt(sum / n, MS(165));
	ck_assert_uint_lt(sum / n, MS(169));
}
END_TEST

START_TEST(test_jitter_monotonic)
{
	uint64_t prev = 0;
	uint64_t r;

	for (r = 0; r <= UINT32_MAX; r += 65537) {
		uint64_t j = wg_timers_jitter_ns((uint32_t)r);

		ck_assert_uint_ge(j, prev);
		prev = j;
	}
}
END_TEST

/* ---- each timer at its deadline ---- */

static void ev_data_sent(struct wg_timers *t, uint64_t now, uint32_t r)
{
	wg_timers_data_sent(t, now, r);
}

static void ev_data_received(struct wg_timers *t, uint64_t now, uint32_t r)
{
	(void)r;
	wg_timers_data_received(t, now);
}

static void ev_handshake_initiated(struct wg_timers *t, uint64_t now,
				   uint32_t r)
{
	wg_timers_handshake_initiated(t, now, r);
}

static void ev_session_derived(struct wg_timers *t, uint64_t now, uint32_t r)
{
	(void)r;
	wg_timers_session_derived(t, now);
}

/* Persistent keepalive configured earlier; the traversal pushes it. */
static void ev_traversal(struct wg_timers *t, uint64_t now, uint32_t r)
{
	(void)r;
	wg_timers_set_persistent_keepalive(t, 25, now - S(10));
	wg_timers_any_authenticated_packet_traversal(t, now);
}

static void ev_set_persistent(struct wg_timers *t, uint64_t now, uint32_t r)
{
	(void)r;
	ck_assert_uint_eq(wg_timers_set_persistent_keepalive(t, 7, now),
			  WG_ACTION_SEND_KEEPALIVE);
}

static const struct {
	const char *name;
	void (*event)(struct wg_timers *t, uint64_t now, uint32_t r);
	enum wg_timer timer;
	uint64_t delay_ns;
	bool jittered;
	unsigned int action;
} deadline_cases[] = {
    {"data sent", ev_data_sent, WG_TIMER_NEW_HANDSHAKE, S(15), true,
     WG_ACTION_SEND_INITIATION},
    {"data received", ev_data_received, WG_TIMER_SEND_KEEPALIVE, S(10), false,
     WG_ACTION_SEND_KEEPALIVE},
    {"handshake initiated", ev_handshake_initiated,
     WG_TIMER_RETRANSMIT_HANDSHAKE, S(5), true, WG_ACTION_SEND_INITIATION},
    {"session derived", ev_session_derived, WG_TIMER_ZERO_KEY_MATERIAL, S(540),
     false, WG_ACTION_ZERO_KEYS},
    {"traversal", ev_traversal, WG_TIMER_PERSISTENT_KEEPALIVE, S(25), false,
     WG_ACTION_SEND_KEEPALIVE},
    {"persistent keepalive set", ev_set_persistent,
     WG_TIMER_PERSISTENT_KEEPALIVE, S(7), false, WG_ACTION_SEND_KEEPALIVE},
};

START_TEST(test_deadline_table)
{
	const __typeof__(deadline_cases[0]) *c = &deadline_cases[_i];
	uint64_t when = T0 + c->delay_ns;
	struct wg_timers t;
	int i;

	if (c->jittered)
		when += wg_timers_jitter_ns(some_random);
	wg_timers_init(&t);
	c->event(&t, T0, some_random);
	for (i = 0; i < WG_TIMER_COUNT; i++)
		ck_assert_msg(t.armed[i] == (i == (int)c->timer),
			      "%s: timer %d armed %d", c->name, i, t.armed[i]);
	ck_assert_uint_eq(t.deadline_ns[c->timer], when);
	ck_assert_uint_eq(wg_timers_next_deadline(&t), when);

	ck_assert_uint_eq(wg_timers_expire(&t, when - 1), WG_ACTION_NONE);
	ck_assert_msg(t.armed[c->timer], "%s fired early", c->name);
	ck_assert_uint_eq(wg_timers_expire(&t, when), c->action);
	ck_assert_msg(!t.armed[c->timer], "%s still armed", c->name);
	ck_assert_uint_eq(wg_timers_next_deadline(&t), UINT64_MAX);
	ck_assert_uint_eq(wg_timers_expire(&t, when + S(3600)), WG_ACTION_NONE);
}
END_TEST

/* A late timer thread still fires the timer, once. */
START_TEST(test_late_expiry_fires_once)
{
	struct wg_timers t;

	wg_timers_init(&t);
	wg_timers_session_derived(&t, T0);
	ck_assert_uint_eq(wg_timers_expire(&t, T0 + S(5000)),
			  WG_ACTION_ZERO_KEYS);
	ck_assert_uint_eq(wg_timers_expire(&t, T0 + S(5000)), WG_ACTION_NONE);
}
END_TEST

/* ---- events ---- */

START_TEST(test_data_sent_keeps_first_deadline)
{
	struct wg_timers t;

	wg_timers_init(&t);
	wg_timers_data_sent(&t, T0, 0);
	wg_timers_data_sent(&t, T0 + S(3), UINT32_MAX);
	ck_assert_uint_eq(t.deadline_ns[WG_TIMER_NEW_HANDSHAKE], T0 + S(15));
}
END_TEST

START_TEST(test_received_cancels_new_handshake)
{
	struct wg_timers t;

	wg_timers_init(&t);
	wg_timers_data_sent(&t, T0, some_random);
	wg_timers_any_authenticated_packet_received(&t);
	ck_assert(!t.armed[WG_TIMER_NEW_HANDSHAKE]);
	ck_assert_uint_eq(wg_timers_next_deadline(&t), UINT64_MAX);
	ck_assert_uint_eq(wg_timers_expire(&t, T0 + S(100)), WG_ACTION_NONE);
	/* Sending again arms it afresh. */
	wg_timers_data_sent(&t, T0 + S(100), 0);
	ck_assert_uint_eq(wg_timers_next_deadline(&t), T0 + S(115));
}
END_TEST

START_TEST(test_sent_cancels_keepalive)
{
	struct wg_timers t;

	wg_timers_init(&t);
	wg_timers_data_received(&t, T0);
	wg_timers_any_authenticated_packet_sent(&t);
	ck_assert(!t.armed[WG_TIMER_SEND_KEEPALIVE]);
	ck_assert_uint_eq(wg_timers_expire(&t, T0 + S(100)), WG_ACTION_NONE);
}
END_TEST

START_TEST(test_traversal_without_interval)
{
	struct wg_timers t;

	wg_timers_init(&t);
	wg_timers_any_authenticated_packet_traversal(&t, T0);
	ck_assert(!t.armed[WG_TIMER_PERSISTENT_KEEPALIVE]);
	ck_assert_uint_eq(wg_timers_next_deadline(&t), UINT64_MAX);
}
END_TEST

START_TEST(test_rearm_moves_deadline)
{
	struct wg_timers t;

	wg_timers_init(&t);
	wg_timers_handshake_initiated(&t, T0, UINT32_MAX);
	wg_timers_handshake_initiated(&t, T0 + S(2), 0);
	ck_assert_uint_eq(t.deadline_ns[WG_TIMER_RETRANSMIT_HANDSHAKE],
			  T0 + S(7));
	wg_timers_session_derived(&t, T0);
	wg_timers_session_derived(&t, T0 + S(100));
	ck_assert_uint_eq(t.deadline_ns[WG_TIMER_ZERO_KEY_MATERIAL],
			  T0 + S(640));
}
END_TEST

START_TEST(test_handshake_complete)
{
	struct wg_timers t;

	wg_timers_init(&t);
	wg_timers_handshake_initiated(&t, T0, some_random);
	t.handshake_attempts = 7;
	t.sent_lastminute_handshake = true;
	wg_timers_handshake_complete(&t);
	ck_assert(!t.armed[WG_TIMER_RETRANSMIT_HANDSHAKE]);
	ck_assert_uint_eq(t.handshake_attempts, 0);
	ck_assert(!t.sent_lastminute_handshake);
	ck_assert_uint_eq(wg_timers_expire(&t, T0 + S(100)), WG_ACTION_NONE);
}
END_TEST

START_TEST(test_next_deadline_is_earliest)
{
	struct wg_timers t;

	wg_timers_init(&t);
	ck_assert_uint_eq(wg_timers_next_deadline(&t), UINT64_MAX);
	wg_timers_session_derived(&t, T0);		 /* T0 + 540 */
	wg_timers_data_sent(&t, T0, 0);			 /* T0 + 15 */
	wg_timers_data_received(&t, T0 + S(2));		 /* T0 + 12 */
	wg_timers_handshake_initiated(&t, T0 + S(9), 0); /* T0 + 14 */
	ck_assert_uint_eq(wg_timers_next_deadline(&t), T0 + S(12));
	ck_assert_uint_eq(wg_timers_expire(&t, T0 + S(12)),
			  WG_ACTION_SEND_KEEPALIVE);
	ck_assert_uint_eq(wg_timers_next_deadline(&t), T0 + S(14));
	ck_assert_uint_eq(wg_timers_expire(&t, T0 + S(15)),
			  WG_ACTION_SEND_INITIATION);
	ck_assert_uint_eq(wg_timers_next_deadline(&t), T0 + S(540));
}
END_TEST

static void arm_everything(struct wg_timers *t, uint64_t now)
{
	wg_timers_set_persistent_keepalive(t, 25, now);
	wg_timers_data_sent(t, now, 0);
	wg_timers_data_received(t, now);
	wg_timers_handshake_initiated(t, now, 0);
	wg_timers_session_derived(t, now);
}

START_TEST(test_stop_and_start)
{
	struct wg_timers t;
	int i;

	wg_timers_init(&t);
	arm_everything(&t, T0);
	for (i = 0; i < WG_TIMER_COUNT; i++)
		ck_assert(t.armed[i]);

	wg_timers_stop(&t);
	ck_assert_uint_eq(wg_timers_next_deadline(&t), UINT64_MAX);
	arm_everything(&t, T0 + S(1));
	wg_timers_data_received(&t, T0 + S(1));
	wg_timers_any_authenticated_packet_traversal(&t, T0 + S(1));
	ck_assert_uint_eq(wg_timers_next_deadline(&t), UINT64_MAX);
	ck_assert(!t.need_another_keepalive);
	ck_assert_uint_eq(wg_timers_expire(&t, T0 + S(10000)), WG_ACTION_NONE);
	ck_assert(!wg_timers_should_send_initiation(&t, T0 + S(10000), false));

	/* Interface up: persistent keepalive goes out at once, and timers
	 * arm again. */
	ck_assert_uint_eq(wg_timers_start(&t, T0 + S(20000)),
			  WG_ACTION_SEND_KEEPALIVE);
	ck_assert_uint_eq(wg_timers_next_deadline(&t), T0 + S(20025));
	ck_assert(wg_timers_should_send_initiation(&t, T0 + S(20000), false));
	wg_timers_data_received(&t, T0 + S(20000));
	ck_assert_uint_eq(wg_timers_next_deadline(&t), T0 + S(20010));
}
END_TEST

START_TEST(test_start_without_persistent_keepalive)
{
	struct wg_timers t;

	wg_timers_init(&t);
	wg_timers_stop(&t);
	ck_assert_uint_eq(wg_timers_start(&t, T0), WG_ACTION_NONE);
	ck_assert_uint_eq(wg_timers_next_deadline(&t), UINT64_MAX);
}
END_TEST

/* Both handshake timers due in one call: the later one decides the
 * attempt counter, as if each had fired on time. */
START_TEST(test_expire_in_deadline_order)
{
	struct wg_timers t;

	wg_timers_init(&t);
	t.handshake_attempts = 5;
	wg_timers_handshake_initiated(&t, T0, 0); /* T0 + 5 */
	wg_timers_data_sent(&t, T0, 0);		  /* T0 + 15 */
	ck_assert_uint_eq(wg_timers_expire(&t, T0 + S(20)),
			  WG_ACTION_SEND_INITIATION);
	ck_assert_uint_eq(t.handshake_attempts, 0);

	wg_timers_init(&t);
	t.handshake_attempts = 5;
	wg_timers_data_sent(&t, T0, 0);			  /* T0 + 15 */
	wg_timers_handshake_initiated(&t, T0 + S(12), 0); /* T0 + 17 */
	ck_assert_uint_eq(wg_timers_expire(&t, T0 + S(20)),
			  WG_ACTION_SEND_INITIATION);
	ck_assert_uint_eq(t.handshake_attempts, 1);
}
END_TEST

/* ---- handshake retries ---- */

/* Jitter sources for the retry series: none, the most, a random mix. */
static uint32_t retry_random(int mode, uint64_t *seed)
{
	switch (mode) {
	case 0:
		return 0;
	case 1:
		return UINT32_MAX;
	default:
		return (uint32_t)test_random_u64(seed);
	}
}

/* Sends an initiation the way the daemon does; false if rate-limited. */
static bool initiate(struct wg_timers *t, uint64_t now, bool is_retry,
		     uint32_t random)
{
	if (!wg_timers_should_send_initiation(t, now, is_retry))
		return false;
	wg_timers_initiation_sent(t, now);
	wg_timers_handshake_initiated(t, now, random);
	return true;
}

START_TEST(test_retries_until_give_up)
{
	uint64_t seed = 42, now = T0, jitter_sum, spent;
	unsigned int initiations = 1, actions;
	struct wg_timers t;
	uint32_t r;

	wg_timers_init(&t);
	r = retry_random(_i, &seed);
	ck_assert(initiate(&t, now, false, r));
	jitter_sum = wg_timers_jitter_ns(r);
	for (;;) {
		now = wg_timers_next_deadline(&t);
		ck_assert_uint_ne(now, UINT64_MAX);
		actions = wg_timers_expire(&t, now);
		if (actions != WG_ACTION_SEND_INITIATION)
			break;
		ck_assert_uint_eq(t.handshake_attempts, initiations);
		r = retry_random(_i, &seed);
		/* A retry always passes the rate rule. */
		ck_assert(initiate(&t, now, true, r));
		jitter_sum += wg_timers_jitter_ns(r);
		initiations++;
		ck_assert_uint_le(initiations, 100);
	}
	/* The kernel's count: the first initiation and 19 retries, 20
	 * attempts, then it gives up on the 20th expiry. */
	ck_assert_uint_eq(actions, WG_ACTION_GIVE_UP);
	ck_assert_uint_eq(initiations, MAX_TIMER_HANDSHAKES + 2);
	ck_assert_uint_eq(initiations, 20);
	ck_assert_uint_eq(t.handshake_attempts, MAX_TIMER_HANDSHAKES + 1);
	spent = now - T0;
	ck_assert_uint_eq(spent, initiations * S(REKEY_TIMEOUT) + jitter_sum);
	/* About REKEY_ATTEMPT_TIME: past it, and within two more timeouts
	 * plus the jitter. */
	ck_assert_uint_ge(spent, S(REKEY_ATTEMPT_TIME));
	ck_assert_uint_lt(spent, S(REKEY_ATTEMPT_TIME + 2 * REKEY_TIMEOUT) +
				     initiations * JITTER_MAX);
	if (_i == 0)
		ck_assert_uint_eq(spent, S(100));

	/* Given up: nothing more is retried; the keys die in 540 s. */
	ck_assert(!t.armed[WG_TIMER_RETRANSMIT_HANDSHAKE]);
	ck_assert(t.armed[WG_TIMER_ZERO_KEY_MATERIAL]);
	ck_assert_uint_eq(wg_timers_next_deadline(&t), now + S(540));
	ck_assert_uint_eq(wg_timers_expire(&t, now + S(540) - 1),
			  WG_ACTION_NONE);
	ck_assert_uint_eq(wg_timers_expire(&t, now + S(540)),
			  WG_ACTION_ZERO_KEYS);
	ck_assert_uint_eq(wg_timers_next_deadline(&t), UINT64_MAX);
}
END_TEST

static const struct {
	unsigned int attempts_before;
	unsigned int action;
	unsigned int attempts_after;
} retry_cases[] = {
    {0, WG_ACTION_SEND_INITIATION, 1},
    {1, WG_ACTION_SEND_INITIATION, 2},
    {MAX_TIMER_HANDSHAKES - 1, WG_ACTION_SEND_INITIATION, MAX_TIMER_HANDSHAKES},
    {MAX_TIMER_HANDSHAKES, WG_ACTION_SEND_INITIATION, MAX_TIMER_HANDSHAKES + 1},
    {MAX_TIMER_HANDSHAKES + 1, WG_ACTION_GIVE_UP, MAX_TIMER_HANDSHAKES + 1},
    {MAX_TIMER_HANDSHAKES + 5, WG_ACTION_GIVE_UP, MAX_TIMER_HANDSHAKES + 5},
};

START_TEST(test_retry_table)
{
	struct wg_timers t;

	wg_timers_init(&t);
	t.handshake_attempts = retry_cases[_i].attempts_before;
	wg_timers_handshake_initiated(&t, T0, 0);
	ck_assert_uint_eq(wg_timers_expire(&t, T0 + S(5)),
			  retry_cases[_i].action);
	ck_assert_uint_eq(t.handshake_attempts, retry_cases[_i].attempts_after);
	ck_assert_uint_eq(t.armed[WG_TIMER_ZERO_KEY_MATERIAL],
			  retry_cases[_i].action == WG_ACTION_GIVE_UP);
}
END_TEST

START_TEST(test_give_up_keeps_zero_deadline_and_cancels_keepalive)
{
	struct wg_timers t;

	wg_timers_init(&t);
	wg_timers_session_derived(&t, T0); /* keys die at T0 + 540 */
	wg_timers_data_received(&t, T0);   /* keepalive at T0 + 10 */
	t.handshake_attempts = MAX_TIMER_HANDSHAKES + 1;
	wg_timers_handshake_initiated(&t, T0, 0);
	ck_assert_uint_eq(wg_timers_expire(&t, T0 + S(5)), WG_ACTION_GIVE_UP);
	ck_assert(!t.armed[WG_TIMER_SEND_KEEPALIVE]);
	ck_assert_uint_eq(t.deadline_ns[WG_TIMER_ZERO_KEY_MATERIAL],
			  T0 + S(540));
	ck_assert_uint_eq(wg_timers_next_deadline(&t), T0 + S(540));
}
END_TEST

START_TEST(test_complete_stops_retries)
{
	uint64_t now = T0;
	struct wg_timers t;
	int i;

	wg_timers_init(&t);
	ck_assert(initiate(&t, now, false, 0));
	for (i = 0; i < 3; i++) {
		now = wg_timers_next_deadline(&t);
		ck_assert_uint_eq(wg_timers_expire(&t, now),
				  WG_ACTION_SEND_INITIATION);
		ck_assert(initiate(&t, now, true, 0));
	}
	ck_assert_uint_eq(t.handshake_attempts, 3);
	wg_timers_handshake_complete(&t);
	ck_assert_uint_eq(t.handshake_attempts, 0);
	ck_assert_uint_eq(wg_timers_next_deadline(&t), UINT64_MAX);
}
END_TEST

START_TEST(test_new_handshake_after_give_up)
{
	struct wg_timers t;

	wg_timers_init(&t);
	t.handshake_attempts = MAX_TIMER_HANDSHAKES + 1;
	ck_assert(initiate(&t, T0, false, 0));
	ck_assert_uint_eq(t.handshake_attempts, 0);
	ck_assert_uint_eq(wg_timers_expire(&t, T0 + S(5)),
			  WG_ACTION_SEND_INITIATION);
	ck_assert_uint_eq(t.handshake_attempts, 1);
}
END_TEST

/* ---- keepalives ---- */

START_TEST(test_need_another_keepalive)
{
	struct wg_timers t;

	wg_timers_init(&t);
	wg_timers_data_received(&t, T0);
	ck_assert(!t.need_another_keepalive);
	wg_timers_data_received(&t, T0 + S(3));
	ck_assert(t.need_another_keepalive);
	/* The second arrival did not move the deadline. */
	ck_assert_uint_eq(wg_timers_next_deadline(&t), T0 + S(10));

	ck_assert_uint_eq(wg_timers_expire(&t, T0 + S(10)),
			  WG_ACTION_SEND_KEEPALIVE);
	ck_assert(!t.need_another_keepalive);
	ck_assert(t.armed[WG_TIMER_SEND_KEEPALIVE]);
	ck_assert_uint_eq(wg_timers_next_deadline(&t), T0 + S(20));
	ck_assert_uint_eq(wg_timers_expire(&t, T0 + S(20) - 1), WG_ACTION_NONE);
	ck_assert_uint_eq(wg_timers_expire(&t, T0 + S(20)),
			  WG_ACTION_SEND_KEEPALIVE);
	ck_assert(!t.armed[WG_TIMER_SEND_KEEPALIVE]);
	ck_assert_uint_eq(wg_timers_next_deadline(&t), UINT64_MAX);
}
END_TEST

/*
 * One-way stream: data arrives every second for a minute, we send none.
 * Our keepalive (an authenticated packet) cancels the re-armed timer as
 * it goes out, so the next one is 10 s after the next arrival.
 */
START_TEST(test_one_way_stream_keepalives)
{
	static const uint64_t expected[] = {10, 21, 32, 43, 54, 65};
	uint64_t next_data = T0, now, sent_at[16];
	unsigned int n = 0, actions;
	struct wg_timers t;

	wg_timers_init(&t);
	for (;;) {
		uint64_t deadline = wg_timers_next_deadline(&t);

		now = next_data < deadline ? next_data : deadline;
		if (now == UINT64_MAX)
			break;
		if (now == next_data) {
			wg_timers_any_authenticated_packet_received(&t);
			wg_timers_any_authenticated_packet_traversal(&t, now);
			wg_timers_data_received(&t, now);
			next_data =
			    now + S(1) < T0 + S(60) ? now + S(1) : UINT64_MAX;
		}
		actions = wg_timers_expire(&t, now);
		ck_assert_uint_eq(actions & ~WG_ACTION_SEND_KEEPALIVE, 0);
		if (actions & WG_ACTION_SEND_KEEPALIVE) {
			ck_assert_uint_lt(n, 16);
			sent_at[n++] = now;
			wg_timers_any_authenticated_packet_traversal(&t, now);
			wg_timers_any_authenticated_packet_sent(&t);
		}
	}
	ck_assert_uint_eq(n, sizeof(expected) / sizeof(expected[0]));
	for (n = 0; n < sizeof(expected) / sizeof(expected[0]); n++)
		ck_assert_uint_eq(sent_at[n], T0 + S(expected[n]));
}
END_TEST

START_TEST(test_persistent_keepalive_rearms)
{
	struct wg_timers t;

	wg_timers_init(&t);
	ck_assert_uint_eq(wg_timers_set_persistent_keepalive(&t, 25, T0),
			  WG_ACTION_SEND_KEEPALIVE);
	/* That keepalive goes out at T0; a packet at T0 + 10 pushes the
	 * next one to T0 + 35. */
	wg_timers_any_authenticated_packet_traversal(&t, T0);
	ck_assert_uint_eq(wg_timers_next_deadline(&t), T0 + S(25));
	wg_timers_any_authenticated_packet_traversal(&t, T0 + S(10));
	ck_assert_uint_eq(wg_timers_next_deadline(&t), T0 + S(35));
	ck_assert_uint_eq(wg_timers_expire(&t, T0 + S(35) - 1), WG_ACTION_NONE);
	ck_assert_uint_eq(wg_timers_expire(&t, T0 + S(35)),
			  WG_ACTION_SEND_KEEPALIVE);
	ck_assert_uint_eq(wg_timers_next_deadline(&t), UINT64_MAX);
	wg_timers_any_authenticated_packet_traversal(&t, T0 + S(35));
	ck_assert_uint_eq(wg_timers_next_deadline(&t), T0 + S(60));
}
END_TEST

static const struct {
	uint16_t from, to;
	bool stopped;
	unsigned int action;
	bool armed;
} persistent_cases[] = {
    {0, 25, false, WG_ACTION_SEND_KEEPALIVE, true},
    {25, 30, false, WG_ACTION_NONE, true},
    {25, 0, false, WG_ACTION_NONE, false},
    {0, 0, false, WG_ACTION_NONE, false},
    {0, 25, true, WG_ACTION_NONE, false},
    {0, 65535, false, WG_ACTION_SEND_KEEPALIVE, true},
};

START_TEST(test_set_persistent_table)
{
	const __typeof__(persistent_cases[0]) *c = &persistent_cases[_i];
	struct wg_timers t;

	wg_timers_init(&t);
	wg_timers_set_persistent_keepalive(&t, c->from, T0 - S(1));
	if (c->stopped)
		wg_timers_stop(&t);
	ck_assert_uint_eq(wg_timers_set_persistent_keepalive(&t, c->to, T0),
			  c->action);
	ck_assert_uint_eq(t.persistent_keepalive_interval, c->to);
	ck_assert_uint_eq(t.armed[WG_TIMER_PERSISTENT_KEEPALIVE], c->armed);
	ck_assert_uint_eq(wg_timers_next_deadline(&t),
			  c->armed ? T0 + S(c->to) : UINT64_MAX);
}
END_TEST

START_TEST(test_persistent_expiry_when_turned_off)
{
	struct wg_timers t;

	wg_timers_init(&t);
	wg_timers_set_persistent_keepalive(&t, 25, T0);
	/* Cleared behind the setter's back: the expiry still checks. */
	t.persistent_keepalive_interval = 0;
	ck_assert_uint_eq(wg_timers_expire(&t, T0 + S(25)), WG_ACTION_NONE);
	ck_assert_uint_eq(wg_timers_next_deadline(&t), UINT64_MAX);
}
END_TEST

/* An idle peer with persistent keepalive 25 for ten minutes: one
 * keepalive when it is set, then one every 25 s. */
START_TEST(test_ten_idle_minutes_persistent)
{
	unsigned int n = 0, actions;
	uint64_t now = T0;
	struct wg_timers t;

	wg_timers_init(&t);
	actions = wg_timers_set_persistent_keepalive(&t, 25, now);
	for (;;) {
		ck_assert_uint_eq(actions, WG_ACTION_SEND_KEEPALIVE);
		ck_assert_uint_eq(now, T0 + n * S(25));
		n++;
		wg_timers_any_authenticated_packet_traversal(&t, now);
		wg_timers_any_authenticated_packet_sent(&t);
		now = wg_timers_next_deadline(&t);
		if (now > T0 + S(600))
			break;
		actions = wg_timers_expire(&t, now);
	}
	ck_assert_uint_eq(n, 25);
}
END_TEST

/* ---- zeroing keys ---- */

START_TEST(test_zero_keys_after_540s)
{
	struct wg_timers t;

	wg_timers_init(&t);
	wg_timers_session_derived(&t, T0);
	ck_assert_uint_eq(S(ZERO_KEYS_AFTER_TIME), S(540));
	ck_assert_uint_eq(wg_timers_expire(&t, T0 + S(540) - 1),
			  WG_ACTION_NONE);
	ck_assert_uint_eq(wg_timers_expire(&t, T0 + S(540)),
			  WG_ACTION_ZERO_KEYS);
}
END_TEST

START_TEST(test_new_session_postpones_zeroing)
{
	struct wg_timers t;

	wg_timers_init(&t);
	wg_timers_session_derived(&t, T0);
	wg_timers_session_derived(&t, T0 + S(120));
	ck_assert_uint_eq(wg_timers_expire(&t, T0 + S(540)), WG_ACTION_NONE);
	ck_assert_uint_eq(wg_timers_expire(&t, T0 + S(660) - 1),
			  WG_ACTION_NONE);
	ck_assert_uint_eq(wg_timers_expire(&t, T0 + S(660)),
			  WG_ACTION_ZERO_KEYS);
}
END_TEST

/* ---- the initiation rate rule ---- */

START_TEST(test_first_initiation_at_clock_zero)
{
	struct wg_timers t;

	wg_timers_init(&t);
	ck_assert(wg_timers_should_send_initiation(&t, 0, false));
	wg_timers_initiation_sent(&t, 0);
	ck_assert(!wg_timers_should_send_initiation(&t, 0, false));
	ck_assert(!wg_timers_should_send_initiation(&t, S(5) - 1, false));
	ck_assert(wg_timers_should_send_initiation(&t, S(5), false));
}
END_TEST

static const struct {
	uint64_t since_last;
	bool allowed;
} rate_cases[] = {
    {0, false},	  {1, false},	    {MS(334), false}, {S(5) - 1, false},
    {S(5), true}, {S(5) + 1, true}, {S(100), true},
};

START_TEST(test_rate_table)
{
	struct wg_timers t;
	int retry;

	for (retry = 0; retry < 2; retry++) {
		wg_timers_init(&t);
		wg_timers_initiation_sent(&t, T0);
		ck_assert_uint_eq(
		    wg_timers_should_send_initiation(
			&t, T0 + rate_cases[_i].since_last, retry),
		    rate_cases[_i].allowed);
	}
}
END_TEST

START_TEST(test_rate_attempt_counter)
{
	struct wg_timers t;

	wg_timers_init(&t);
	wg_timers_initiation_sent(&t, T0);
	t.handshake_attempts = 4;
	/* A retry keeps the count whatever the answer. */
	ck_assert(!wg_timers_should_send_initiation(&t, T0 + S(1), true));
	ck_assert_uint_eq(t.handshake_attempts, 4);
	ck_assert(wg_timers_should_send_initiation(&t, T0 + S(6), true));
	ck_assert_uint_eq(t.handshake_attempts, 4);
	/* A new handshake resets it even when refused. */
	ck_assert(!wg_timers_should_send_initiation(&t, T0 + S(1), false));
	ck_assert_uint_eq(t.handshake_attempts, 0);
}
END_TEST

/* The data path asks for a handshake on every packet while it has no key:
 * one initiation per REKEY_TIMEOUT goes out. */
START_TEST(test_rate_under_a_burst)
{
	uint64_t now, sent[8];
	unsigned int n = 0;
	struct wg_timers t;

	wg_timers_init(&t);
	for (now = T0; now <= T0 + S(12); now += MS(1)) {
		if (!wg_timers_should_send_initiation(&t, now, false))
			continue;
		ck_assert_uint_lt(n, 8);
		sent[n++] = now;
		wg_timers_initiation_sent(&t, now);
	}
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(sent[0], T0);
	ck_assert_uint_eq(sent[1], T0 + S(5));
	ck_assert_uint_eq(sent[2], T0 + S(10));
}
END_TEST

/* ---- keypair rules ---- */

enum kp_rule { USABLE_SEND, USABLE_RECV, REKEY_SEND, REKEY_RECV };

static const struct {
	const char *name;
	enum kp_rule rule;
	bool initiator, valid, lastminute;
	uint64_t age_ns, counter;
	bool expected;
} kp_cases[] = {
    {"send: new", USABLE_SEND, true, true, false, 0, 0, true},
    {"send: just young", USABLE_SEND, false, true, false, S(180) - 1, 0, true},
    {"send: reject time", USABLE_SEND, false, true, false, S(180), 0, false},
    {"send: initiator, reject time", USABLE_SEND, true, true, false, S(180), 0,
     false},
    {"send: last nonce", USABLE_SEND, true, true, false, 0,
     REJECT_AFTER_MESSAGES - 1, true},
    {"send: reject messages", USABLE_SEND, true, true, false, 0,
     REJECT_AFTER_MESSAGES, false},
    {"send: counter wrapped", USABLE_SEND, true, true, false, 0, UINT64_MAX,
     false},
    {"send: invalid", USABLE_SEND, true, false, false, 0, 0, false},

    {"recv: just young", USABLE_RECV, false, true, false, S(180) - 1, 0, true},
    {"recv: reject time", USABLE_RECV, false, true, false, S(180), 0, false},
    {"recv: counter is not ours", USABLE_RECV, true, true, false, 0, UINT64_MAX,
     true},
    {"recv: invalid", USABLE_RECV, true, false, false, 0, 0, false},

    {"rekey send: initiator young", REKEY_SEND, true, true, false, S(120) - 1,
     0, false},
    {"rekey send: initiator at time", REKEY_SEND, true, true, false, S(120), 0,
     true},
    {"rekey send: responder at time", REKEY_SEND, false, true, false, S(120), 0,
     false},
    {"rekey send: responder old", REKEY_SEND, false, true, false, S(179), 0,
     false},
    {"rekey send: at message limit", REKEY_SEND, false, true, false, 0,
     REKEY_AFTER_MESSAGES, false},
    {"rekey send: past message limit", REKEY_SEND, false, true, false, 0,
     REKEY_AFTER_MESSAGES + 1, true},
    {"rekey send: invalid", REKEY_SEND, true, false, false, S(150),
     REKEY_AFTER_MESSAGES + 1, false},

    {"rekey recv: young", REKEY_RECV, true, true, false, S(165) - 1, 0, false},
    {"rekey recv: at time", REKEY_RECV, true, true, false, S(165), 0, true},
    {"rekey recv: already sent", REKEY_RECV, true, true, true, S(165), 0,
     false},
    {"rekey recv: responder", REKEY_RECV, false, true, false, S(170), 0, false},
    {"rekey recv: invalid", REKEY_RECV, true, false, false, S(170), 0, false},
};

static void make_keypair(struct noise_keypair *kp, uint64_t birth,
			 bool initiator, bool valid, uint64_t counter)
{
	memset(kp, 0, sizeof(*kp));
	kp->sending.birthdate_ns = birth;
	kp->receiving.birthdate_ns = birth;
	kp->sending.is_valid = valid;
	kp->receiving.is_valid = valid;
	kp->sending_counter = counter;
	kp->i_am_the_initiator = initiator;
}

static bool apply_rule(enum kp_rule rule, const struct noise_keypair *kp,
		       uint64_t now, bool lastminute)
{
	switch (rule) {
	case USABLE_SEND:
		return wg_timers_keypair_usable_for_sending(kp, now);
	case USABLE_RECV:
		return wg_timers_keypair_usable_for_receiving(kp, now);
	case REKEY_SEND:
		return wg_timers_should_rekey_on_send(kp, now);
	case REKEY_RECV:
		return wg_timers_should_rekey_on_receive(kp, now, lastminute);
	}
	return false;
}

START_TEST(test_keypair_table)
{
	const __typeof__(kp_cases[0]) *c = &kp_cases[_i];
	struct noise_keypair *kp = malloc(sizeof(*kp));

	ck_assert_ptr_nonnull(kp);
	make_keypair(kp, T0, c->initiator, c->valid, c->counter);
	ck_assert_msg(apply_rule(c->rule, kp, T0 + c->age_ns, c->lastminute) ==
			  c->expected,
		      "%s: expected %d", c->name, c->expected);
	free(kp);
}
END_TEST

START_TEST(test_keypair_null)
{
	ck_assert(!wg_timers_keypair_usable_for_sending(NULL, T0));
	ck_assert(!wg_timers_keypair_usable_for_receiving(NULL, T0));
	ck_assert(!wg_timers_should_rekey_on_send(NULL, T0));
	ck_assert(!wg_timers_should_rekey_on_receive(NULL, T0, false));
}
END_TEST

/* Each direction has its own validity: the sending key can be retired
 * while the receiving one still works. */
START_TEST(test_keypair_directions)
{
	struct noise_keypair *kp = malloc(sizeof(*kp));

	ck_assert_ptr_nonnull(kp);
	make_keypair(kp, T0, true, true, 0);
	kp->sending.is_valid = false;
	ck_assert(!wg_timers_keypair_usable_for_sending(kp, T0));
	ck_assert(wg_timers_keypair_usable_for_receiving(kp, T0));
	kp->sending.is_valid = true;
	kp->receiving.is_valid = false;
	ck_assert(wg_timers_keypair_usable_for_sending(kp, T0));
	ck_assert(!wg_timers_keypair_usable_for_receiving(kp, T0));
	/* Birthdates are read per direction too. */
	kp->receiving.is_valid = true;
	kp->receiving.birthdate_ns = T0 + S(10);
	ck_assert(!wg_timers_keypair_usable_for_sending(kp, T0 + S(180)));
	ck_assert(wg_timers_keypair_usable_for_receiving(kp, T0 + S(180)));
	free(kp);
}
END_TEST

/* ---- a simulated peer ---- */

/*
 * Our side is the initiator and follows the kernel's send and receive
 * paths; the remote answers initiations 20 ms later and echoes each data
 * packet 30 ms later, until it dies.
 */
struct sim {
	struct wg_timers t;
	struct noise_keypair kp;
	uint64_t now, seed, remote_dies;
	uint64_t response_at, echo_at; /* UINT64_MAX: none in flight */
	unsigned int staged;
	unsigned int data_sent, echoes, keepalives, timer_keepalives;
	unsigned int handshakes, give_ups, zero_keys;
	unsigned int initiations;
	uint64_t initiation_at[64], give_up_at, zero_keys_at;
};

static uint32_t sim_random(struct sim *s)
{
	return (uint32_t)test_random_u64(&s->seed);
}

static bool remote_alive(const struct sim *s)
{
	return s->now < s->remote_dies;
}

static void sim_initiate(struct sim *s, bool is_retry)
{
	if (!wg_timers_should_send_initiation(&s->t, s->now, is_retry))
		return;
	wg_timers_initiation_sent(&s->t, s->now);
	ck_assert_uint_lt(s->initiations, 64);
	s->initiation_at[s->initiations++] = s->now;
	wg_timers_any_authenticated_packet_traversal(&s->t, s->now);
	wg_timers_any_authenticated_packet_sent(&s->t);
	wg_timers_handshake_initiated(&s->t, s->now, sim_random(s));
	if (remote_alive(s))
		s->response_at = s->now + MS(20);
}

static void sim_transmit(struct sim *s, bool is_data)
{
	s->kp.sending_counter++;
	if (is_data) {
		s->data_sent++;
		wg_timers_data_sent(&s->t, s->now, sim_random(s));
		if (remote_alive(s)) {
			ck_assert_uint_eq(s->echo_at, UINT64_MAX);
			s->echo_at = s->now + MS(30);
		}
	} else {
		s->keepalives++;
	}
	wg_timers_any_authenticated_packet_traversal(&s->t, s->now);
	wg_timers_any_authenticated_packet_sent(&s->t);
	if (wg_timers_should_rekey_on_send(&s->kp, s->now))
		sim_initiate(s, false);
}

/* Sends what is staged, or a keepalive when nothing is. */
static void sim_send_staged(struct sim *s, bool keepalive_if_empty)
{
	if (!wg_timers_keypair_usable_for_sending(&s->kp, s->now)) {
		sim_initiate(s, false);
		return;
	}
	if (!s->staged && keepalive_if_empty)
		sim_transmit(s, false);
	for (; s->staged; s->staged--)
		sim_transmit(s, true);
}

static void sim_receive_response(struct sim *s)
{
	s->response_at = UINT64_MAX;
	s->handshakes++;
	make_keypair(&s->kp, s->now, true, true, 0);
	wg_timers_session_derived(&s->t, s->now);
	wg_timers_handshake_complete(&s->t);
	sim_send_staged(s, true);
	wg_timers_any_authenticated_packet_received(&s->t);
	wg_timers_any_authenticated_packet_traversal(&s->t, s->now);
}

static void sim_receive_echo(struct sim *s)
{
	s->echo_at = UINT64_MAX;
	if (!wg_timers_keypair_usable_for_receiving(&s->kp, s->now))
		return;
	s->echoes++;
	wg_timers_any_authenticated_packet_received(&s->t);
	wg_timers_any_authenticated_packet_traversal(&s->t, s->now);
	wg_timers_data_received(&s->t, s->now);
	if (wg_timers_should_rekey_on_receive(&s->kp, s->now,
					      s->t.sent_lastminute_handshake)) {
		s->t.sent_lastminute_handshake = true;
		sim_initiate(s, false);
	}
}

static void sim_timers(struct sim *s)
{
	unsigned int actions = wg_timers_expire(&s->t, s->now);

	if (actions & WG_ACTION_GIVE_UP) {
		s->give_ups++;
		s->give_up_at = s->now;
		s->staged = 0;
	}
	if (actions & WG_ACTION_ZERO_KEYS) {
		s->zero_keys++;
		s->zero_keys_at = s->now;
		memset(&s->kp, 0, sizeof(s->kp));
	}
	if (actions & WG_ACTION_SEND_INITIATION)
		sim_initiate(s, true);
	if (actions & WG_ACTION_SEND_KEEPALIVE) {
		s->timer_keepalives++;
		sim_send_staged(s, true);
	}
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/*
 * Pings every second for 130 s; the remote dies at 125 s; we watch for
 * twelve minutes. Expected, from the rules: a handshake at 0, a rekey at
 * 121 s (first ping after the 120 s-old key), no keepalives from the
 * timers (we always talk first), a new handshake 15 s + jitter after the
 * first unanswered ping, 20 attempts and a give-up, and the keys zeroed
 * 540 s after the last session, after which nothing is armed.
 */
START_TEST(test_twelve_minutes_of_an_initiator)
{
	const uint64_t end = T0 + S(720), first_lost = T0 + S(125);
	uint64_t next_ping = T0, ping_end = T0 + S(130), deadline;
	struct sim *s = calloc(1, sizeof(*s));
	unsigned int i;

	ck_assert_ptr_nonnull(s);
	wg_timers_init(&s->t);
	s->seed = 7;
	s->remote_dies = first_lost;
	s->response_at = s->echo_at = UINT64_MAX;
	for (;;) {
		deadline = wg_timers_next_deadline(&s->t);
		s->now = min_u64(min_u64(next_ping, deadline),
				 min_u64(s->response_at, s->echo_at));
		if (s->now > end)
			break;
		if (s->now == s->response_at)
			sim_receive_response(s);
		if (s->now == s->echo_at)
			sim_receive_echo(s);
		if (s->now == next_ping) {
			s->staged++;
			sim_send_staged(s, false);
			next_ping += S(1);
			if (next_ping >= ping_end)
				next_ping = UINT64_MAX;
		}
		sim_timers(s);
	}
	ck_assert_uint_eq(s->now, UINT64_MAX); /* nothing left to wake for */

	ck_assert_uint_eq(s->data_sent, 130);
	ck_assert_uint_eq(s->echoes, 125);
	ck_assert_uint_eq(s->handshakes, 2);
	ck_assert_uint_eq(s->keepalives, 1); /* confirming the rekey */
	ck_assert_uint_eq(s->timer_keepalives, 0);
	ck_assert(!s->t.sent_lastminute_handshake);

	ck_assert_uint_eq(s->initiations, 2 + MAX_TIMER_HANDSHAKES + 2);
	ck_assert_uint_eq(s->initiation_at[0], T0);
	ck_assert_uint_eq(s->initiation_at[1], T0 + S(121));
	ck_assert_uint_ge(s->initiation_at[2], first_lost + S(15));
	ck_assert_uint_lt(s->initiation_at[2], first_lost + S(15) + JITTER_MAX);
	for (i = 3; i < s->initiations; i++) {
		uint64_t gap = s->initiation_at[i] - s->initiation_at[i - 1];

		ck_assert_uint_ge(gap, S(5));
		ck_assert_uint_lt(gap, S(5) + JITTER_MAX);
	}
	ck_assert_uint_eq(s->give_ups, 1);
	ck_assert_uint_ge(s->give_up_at - s->initiation_at[s->initiations - 1],
			  S(5));
	ck_assert_uint_lt(s->give_up_at - s->initiation_at[s->initiations - 1],
			  S(5) + JITTER_MAX);

	ck_assert_uint_eq(s->zero_keys, 1);
	ck_assert_uint_eq(s->zero_keys_at, T0 + S(121 + 540) + MS(20));
	ck_assert(!s->kp.sending.is_valid);
	free(s);
}
END_TEST

static Suite *timers_suite(void)
{
	Suite *s = suite_create("timers");
	TCase *tc;

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
	tc = tcase_create("jitter");
	tcase_add_loop_test(tc, test_jitter_table, 0, N(jitter_cases));
	tcase_add_test(tc, test_jitter_bounds_and_spread);
	tcase_add_test(tc, test_jitter_monotonic);
	suite_add_tcase(s, tc);

	tc = tcase_create("deadlines");
	tcase_add_loop_test(tc, test_deadline_table, 0, N(deadline_cases));
	tcase_add_test(tc, test_late_expiry_fires_once);
	suite_add_tcase(s, tc);

	tc = tcase_create("events");
	tcase_add_test(tc, test_data_sent_keeps_first_deadline);
	tcase_add_test(tc, test_received_cancels_new_handshake);
	tcase_add_test(tc, test_sent_cancels_keepalive);
	tcase_add_test(tc, test_traversal_without_interval);
	tcase_add_test(tc, test_rearm_moves_deadline);
	tcase_add_test(tc, test_handshake_complete);
	tcase_add_test(tc, test_next_deadline_is_earliest);
	tcase_add_test(tc, test_stop_and_start);
	tcase_add_test(tc, test_start_without_persistent_keepalive);
	tcase_add_test(tc, test_expire_in_deadline_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("retries");
	tcase_add_loop_test(tc, test_retries_until_give_up, 0, 3);
	tcase_add_loop_test(tc, test_retry_table, 0, N(retry_cases));
	tcase_add_test(tc,
		       test_give_up_keeps_zero_deadline_and_cancels_keepalive);
	tcase_add_test(tc, test_complete_stops_retries);
	tcase_add_test(tc, test_new_handshake_after_give_up);
	suite_add_tcase(s, tc);

	tc = tcase_create("keepalive");
	tcase_add_test(tc, test_need_another_keepalive);
	tcase_add_test(tc, test_one_way_stream_keepalives);
	tcase_add_test(tc, test_persistent_keepalive_rearms);
	tcase_add_loop_test(tc, test_set_persistent_table, 0,
			    N(persistent_cases));
	tcase_add_test(tc, test_persistent_expiry_when_turned_off);
	tcase_add_test(tc, test_ten_idle_minutes_persistent);
	suite_add_tcase(s, tc);

	tc = tcase_create("zero_keys");
	tcase_add_test(tc, test_zero_keys_after_540s);
	tcase_add_test(tc, test_new_session_postpones_zeroing);
	suite_add_tcase(s, tc);

	tc = tcase_create("initiation_rate");
	tcase_add_test(tc, test_first_initiation_at_clock_zero);
	tcase_add_loop_test(tc, test_rate_table, 0, N(rate_cases));
	tcase_add_test(tc, test_rate_attempt_counter);
	tcase_add_test(tc, test_rate_under_a_burst);
	suite_add_tcase(s, tc);

	tc = tcase_create("keypair");
	tcase_add_loop_test(tc, test_keypair_table, 0, N(kp_cases));
	tcase_add_test(tc, test_keypair_null);
	tcase_add_test(tc, test_keypair_directions);
	suite_add_tcase(s, tc);

	tc = tcase_create("scenario");
	tcase_add_test(tc, test_twelve_minutes_of_an_initiator);
	suite_add_tcase(s, tc);
#undef N
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(timers_suite());
	int failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
