// SPDX-License-Identifier: MIT
/*
 * Per-peer timers, after the kernel module's timers.c, as a state machine.
 *
 * Invariants:
 * - All state is in struct wg_timers, inside the peer, and the peer's
 *   lock serialises every call; nothing here is atomic or blocks.
 * - A timer is due when armed and deadline_ns <= now. Due timers fire
 *   only in wg_timers_expire(), which disarms each before acting, so a
 *   timer fires at most once per arming.
 * - While stopped (peer removed, interface down) nothing is armed and
 *   events do not arm; a dead peer never wakes the timer thread.
 * - Re-arming a timer moves its deadline (the kernel's mod_timer), except
 *   where a rule says "if not armed".
 *
 * Who calls what: the send path reports data_sent, any_authenticated_
 * packet_sent/traversal and checks the sending keypair rules; the receive
 * path reports data_received, any_authenticated_packet_received/traversal,
 * handshake_complete and session_derived and checks the receiving rules;
 * whoever sends an initiation asks should_send_initiation first and then
 * reports initiation_sent and handshake_initiated; UAPI sets the
 * persistent keepalive and stops or starts the timers; the timer thread
 * sleeps until next_deadline, calls expire and carries out its actions.
 */
#include "timers.h"

#include <string.h>

#include "atomic.h"
#include "clock.h"

static uint64_t seconds(uint64_t s)
{
	return s * NSEC_PER_SEC;
}

/* now is at least duration past birth (birth + duration <= now). */
static bool has_expired(uint64_t birth_ns, uint64_t duration_ns,
			uint64_t now_ns)
{
	return now_ns >= birth_ns && now_ns - birth_ns >= duration_ns;
}

static void arm(struct wg_timers *t, enum wg_timer which, uint64_t when_ns)
{
	if (t->stopped)
		return;
	t->deadline_ns[which] = when_ns;
	t->armed[which] = true;
}

static void disarm(struct wg_timers *t, enum wg_timer which)
{
	t->armed[which] = false;
	t->deadline_ns[which] = 0;
}

uint64_t wg_timers_jitter_ns(uint32_t random)
{
	/* Scale the u32 onto the range: no division, no value reaches the
	 * bound. */
	return ((uint64_t)random * REKEY_TIMEOUT_JITTER_MAX_MS * NSEC_PER_MSEC) >>
	       32;
}

void wg_timers_init(struct wg_timers *t)
{
	memset(t, 0, sizeof(*t));
}

void wg_timers_stop(struct wg_timers *t)
{
	int i;

	for (i = 0; i < WG_TIMER_COUNT; i++)
		disarm(t, i);
	t->need_another_keepalive = false;
	t->stopped = true;
}

unsigned int wg_timers_start(struct wg_timers *t, uint64_t now_ns)
{
	t->stopped = false;
	if (!t->persistent_keepalive_interval)
		return WG_ACTION_NONE;
	arm(t, WG_TIMER_PERSISTENT_KEEPALIVE,
	    now_ns + seconds(t->persistent_keepalive_interval));
	return WG_ACTION_SEND_KEEPALIVE;
}

unsigned int wg_timers_set_persistent_keepalive(struct wg_timers *t,
						uint16_t interval,
						uint64_t now_ns)
{
	bool turned_on = !t->persistent_keepalive_interval && interval;

	t->persistent_keepalive_interval = interval;
	if (!interval) {
		disarm(t, WG_TIMER_PERSISTENT_KEEPALIVE);
		return WG_ACTION_NONE;
	}
	arm(t, WG_TIMER_PERSISTENT_KEEPALIVE, now_ns + seconds(interval));
	return turned_on && !t->stopped ? WG_ACTION_SEND_KEEPALIVE
					: WG_ACTION_NONE;
}

void wg_timers_data_sent(struct wg_timers *t, uint64_t now_ns, uint32_t random)
{
	if (t->armed[WG_TIMER_NEW_HANDSHAKE])
		return;
	arm(t, WG_TIMER_NEW_HANDSHAKE,
	    now_ns + seconds(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) +
		wg_timers_jitter_ns(random));
}

void wg_timers_data_received(struct wg_timers *t, uint64_t now_ns)
{
	if (t->stopped)
		return;
	if (t->armed[WG_TIMER_SEND_KEEPALIVE])
		t->need_another_keepalive = true;
	else
		arm(t, WG_TIMER_SEND_KEEPALIVE,
		    now_ns + seconds(KEEPALIVE_TIMEOUT));
}

void wg_timers_any_authenticated_packet_sent(struct wg_timers *t)
{
	disarm(t, WG_TIMER_SEND_KEEPALIVE);
}

void wg_timers_any_authenticated_packet_received(struct wg_timers *t)
{
	disarm(t, WG_TIMER_NEW_HANDSHAKE);
}

void wg_timers_any_authenticated_packet_traversal(struct wg_timers *t,
						  uint64_t now_ns)
{
	if (t->persistent_keepalive_interval)
		arm(t, WG_TIMER_PERSISTENT_KEEPALIVE,
		    now_ns + seconds(t->persistent_keepalive_interval));
}

void wg_timers_handshake_initiated(struct wg_timers *t, uint64_t now_ns,
				   uint32_t random)
{
	arm(t, WG_TIMER_RETRANSMIT_HANDSHAKE,
	    now_ns + seconds(REKEY_TIMEOUT) + wg_timers_jitter_ns(random));
}

void wg_timers_handshake_complete(struct wg_timers *t)
{
	disarm(t, WG_TIMER_RETRANSMIT_HANDSHAKE);
	t->handshake_attempts = 0;
	t->sent_lastminute_handshake = false;
}

void wg_timers_session_derived(struct wg_timers *t, uint64_t now_ns)
{
	arm(t, WG_TIMER_ZERO_KEY_MATERIAL,
	    now_ns + seconds(ZERO_KEYS_AFTER_TIME));
}

bool wg_timers_should_send_initiation(struct wg_timers *t, uint64_t now_ns,
				      bool is_retry)
{
	if (!is_retry)
		t->handshake_attempts = 0;
	if (t->stopped)
		return false;
	return !t->sent_initiation_ever ||
	       has_expired(t->last_sent_handshake_ns, seconds(REKEY_TIMEOUT),
			   now_ns);
}

void wg_timers_initiation_sent(struct wg_timers *t, uint64_t now_ns)
{
	t->last_sent_handshake_ns = now_ns;
	t->sent_initiation_ever = true;
}

static unsigned int expired_retransmit_handshake(struct wg_timers *t,
						 uint64_t now_ns)
{
	if (t->handshake_attempts <= MAX_TIMER_HANDSHAKES) {
		t->handshake_attempts++;
		return WG_ACTION_SEND_INITIATION;
	}
	/* Out of retries: stop confirming a session that is not there, and
	 * let the keys die unless a timer for that already runs. */
	disarm(t, WG_TIMER_SEND_KEEPALIVE);
	if (!t->armed[WG_TIMER_ZERO_KEY_MATERIAL])
		arm(t, WG_TIMER_ZERO_KEY_MATERIAL,
		    now_ns + seconds(ZERO_KEYS_AFTER_TIME));
	return WG_ACTION_GIVE_UP;
}

static unsigned int expired_send_keepalive(struct wg_timers *t, uint64_t now_ns)
{
	if (t->need_another_keepalive) {
		t->need_another_keepalive = false;
		arm(t, WG_TIMER_SEND_KEEPALIVE,
		    now_ns + seconds(KEEPALIVE_TIMEOUT));
	}
	return WG_ACTION_SEND_KEEPALIVE;
}

static unsigned int fire(struct wg_timers *t, enum wg_timer which,
			 uint64_t now_ns)
{
	switch (which) {
	case WG_TIMER_RETRANSMIT_HANDSHAKE:
		return expired_retransmit_handshake(t, now_ns);
	case WG_TIMER_SEND_KEEPALIVE:
		return expired_send_keepalive(t, now_ns);
	case WG_TIMER_NEW_HANDSHAKE:
		/* We stopped hearing back: a fresh handshake, not a retry. */
		t->handshake_attempts = 0;
		return WG_ACTION_SEND_INITIATION;
	case WG_TIMER_ZERO_KEY_MATERIAL:
		return WG_ACTION_ZERO_KEYS;
	case WG_TIMER_PERSISTENT_KEEPALIVE:
		return t->persistent_keepalive_interval
			   ? WG_ACTION_SEND_KEEPALIVE
			   : WG_ACTION_NONE;
	case WG_TIMER_COUNT:
		break;
	}
	return WG_ACTION_NONE;
}

/* The due timer with the earliest deadline (ties in enum order), or
 * WG_TIMER_COUNT when none is due. */
static enum wg_timer earliest_due(const struct wg_timers *t, uint64_t now_ns)
{
	enum wg_timer best = WG_TIMER_COUNT;
	int i;

	for (i = 0; i < WG_TIMER_COUNT; i++) {
		if (!t->armed[i] || t->deadline_ns[i] > now_ns)
			continue;
		if (best == WG_TIMER_COUNT ||
		    t->deadline_ns[i] < t->deadline_ns[best])
			best = i;
	}
	return best;
}

unsigned int wg_timers_expire(struct wg_timers *t, uint64_t now_ns)
{
	unsigned int actions = WG_ACTION_NONE;
	enum wg_timer which;

	/* Earliest first, so that a late timer thread sees the same order
	 * as a punctual one. A timer re-armed while firing is due no earlier
	 * than now + KEEPALIVE_TIMEOUT, so this ends. */
	while ((which = earliest_due(t, now_ns)) != WG_TIMER_COUNT) {
		disarm(t, which);
		actions |= fire(t, which, now_ns);
	}
	return actions;
}

uint64_t wg_timers_next_deadline(const struct wg_timers *t)
{
	uint64_t next = UINT64_MAX;
	int i;

	for (i = 0; i < WG_TIMER_COUNT; i++)
		if (t->armed[i] && t->deadline_ns[i] < next)
			next = t->deadline_ns[i];
	return next;
}

static uint64_t sending_counter(const struct noise_keypair *kp)
{
	return wg_read_once(kp->sending_counter);
}

bool wg_timers_keypair_usable_for_sending(const struct noise_keypair *kp,
					  uint64_t now_ns)
{
	return kp && kp->sending.is_valid &&
	       !has_expired(kp->sending.birthdate_ns,
			    seconds(REJECT_AFTER_TIME), now_ns) &&
	       sending_counter(kp) < REJECT_AFTER_MESSAGES;
}

bool wg_timers_keypair_usable_for_receiving(const struct noise_keypair *kp,
					    uint64_t now_ns)
{
	return kp && kp->receiving.is_valid &&
	       !has_expired(kp->receiving.birthdate_ns,
			    seconds(REJECT_AFTER_TIME), now_ns);
}

bool wg_timers_should_rekey_on_send(const struct noise_keypair *kp,
				    uint64_t now_ns)
{
	if (!kp || !kp->sending.is_valid)
		return false;
	if (sending_counter(kp) > REKEY_AFTER_MESSAGES)
		return true;
	return kp->i_am_the_initiator &&
	       has_expired(kp->sending.birthdate_ns, seconds(REKEY_AFTER_TIME),
			   now_ns);
}

bool wg_timers_should_rekey_on_receive(const struct noise_keypair *kp,
				       uint64_t now_ns,
				       bool sent_lastminute_handshake)
{
	/* The initiator rekeys a little before the keys are rejected, so
	 * that a peer that only receives keeps a session. */
	if (!kp || !kp->sending.is_valid || sent_lastminute_handshake)
		return false;
	return kp->i_am_the_initiator &&
	       has_expired(kp->sending.birthdate_ns,
			   seconds(REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT -
				   REKEY_TIMEOUT),
			   now_ns);
}
