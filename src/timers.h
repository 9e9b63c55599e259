/* SPDX-License-Identifier: MIT */
/*
 * A peer's timers (handshake retransmission, keepalives, new handshakes,
 * key expiry) as a pure state machine: the caller passes the monotonic
 * clock in nanoseconds and, where the protocol wants jitter, a random
 * u32. Nothing here sleeps, starts threads or sends packets; events
 * update deadlines, and wg_timers_expire() turns due deadlines into
 * actions for the caller to carry out.
 *
 * Every function taking a struct wg_timers: must hold the peer's lock.
 */
#ifndef WGPIPE_TIMERS_H
#define WGPIPE_TIMERS_H

#include <stdbool.h>
#include <stdint.h>

#include "noise.h"
#include "wgpipe/wireguard.h"

enum wg_timer {
	WG_TIMER_RETRANSMIT_HANDSHAKE,
	WG_TIMER_SEND_KEEPALIVE,
	WG_TIMER_NEW_HANDSHAKE,
	WG_TIMER_ZERO_KEY_MATERIAL,
	WG_TIMER_PERSISTENT_KEEPALIVE,
	WG_TIMER_COUNT
};

/* What a caller must do after an event or an expiry; bit flags. */
enum wg_timer_action {
	WG_ACTION_NONE = 0,
	/* Send a handshake initiation through
	 * wg_timers_should_send_initiation(); from wg_timers_expire(), pass
	 * is_retry = true: the attempt counter is already up to date. */
	WG_ACTION_SEND_INITIATION = 1u << 0,
	/* Send a keepalive (an empty data message, or staged packets). */
	WG_ACTION_SEND_KEEPALIVE = 1u << 1,
	/* Clear the handshake and all keypairs of the peer. */
	WG_ACTION_ZERO_KEYS = 1u << 2,
	/* Handshake retries are exhausted: drop the staged packets. */
	WG_ACTION_GIVE_UP = 1u << 3,
};

struct wg_timers {
	uint64_t deadline_ns[WG_TIMER_COUNT];
	bool armed[WG_TIMER_COUNT];
	/* Retransmissions of the current handshake so far. */
	unsigned int handshake_attempts;
	/* Data arrived while a keepalive was already pending. */
	bool need_another_keepalive;
	/* A rekey from the receive path was already asked for. */
	bool sent_lastminute_handshake;
	uint16_t persistent_keepalive_interval; /* seconds, 0 = off */
	uint64_t last_sent_handshake_ns;
	bool sent_initiation_ever;
	/* Peer removed or interface down: no timer may be armed. */
	bool stopped;
};

/* Nanoseconds of jitter in [0, REKEY_TIMEOUT_JITTER_MAX_MS ms). */
uint64_t wg_timers_jitter_ns(uint32_t random);

/* A zeroed struct is a running peer with nothing armed. */
void wg_timers_init(struct wg_timers *t);
/* Disarms everything and refuses to arm until wg_timers_start(). */
void wg_timers_stop(struct wg_timers *t);
/* Interface up: timers may arm again. Returns WG_ACTION_SEND_KEEPALIVE
 * when persistent keepalive is on (and arms it, in case that keepalive
 * cannot go out). */
unsigned int wg_timers_start(struct wg_timers *t, uint64_t now_ns);

/*
 * Sets the persistent keepalive interval (seconds, 0 = off). Returns
 * WG_ACTION_SEND_KEEPALIVE when it goes from off to on while running, as
 * the kernel sends one at once; the timer is armed at now + interval
 * either way, and disarmed when the interval becomes 0.
 */
unsigned int wg_timers_set_persistent_keepalive(struct wg_timers *t,
						uint16_t interval,
						uint64_t now_ns);

/* Events, named after the kernel's, called after the fact. */
/* A data message (not a keepalive) was sent. */
void wg_timers_data_sent(struct wg_timers *t, uint64_t now_ns, uint32_t random);
/* A data message (not a keepalive) was received. */
void wg_timers_data_received(struct wg_timers *t, uint64_t now_ns);
/* Any authenticated message, keepalives and handshakes included. */
void wg_timers_any_authenticated_packet_sent(struct wg_timers *t);
void wg_timers_any_authenticated_packet_received(struct wg_timers *t);
void wg_timers_any_authenticated_packet_traversal(struct wg_timers *t,
						  uint64_t now_ns);
/* An initiation went out. */
void wg_timers_handshake_initiated(struct wg_timers *t, uint64_t now_ns,
				   uint32_t random);
/* A response to our initiation arrived, or our response was confirmed. */
void wg_timers_handshake_complete(struct wg_timers *t);
/* New transport keys exist (either role). */
void wg_timers_session_derived(struct wg_timers *t, uint64_t now_ns);

/*
 * The rate rule for initiations: false while the last one is younger than
 * REKEY_TIMEOUT (or the timers are stopped). A new handshake (!is_retry)
 * resets the attempt counter whatever the answer. On true, call
 * wg_timers_initiation_sent() before building the message, then
 * wg_timers_handshake_initiated() once it is sent.
 */
bool wg_timers_should_send_initiation(struct wg_timers *t, uint64_t now_ns,
				      bool is_retry);
void wg_timers_initiation_sent(struct wg_timers *t, uint64_t now_ns);

/*
 * Fires every armed timer whose deadline is <= now_ns, earliest first,
 * disarms it, and returns the union of their actions. A retransmission
 * past MAX_TIMER_HANDSHAKES retries gives up instead; a new-handshake
 * expiry resets the attempt counter.
 */
unsigned int wg_timers_expire(struct wg_timers *t, uint64_t now_ns);
/* Earliest armed deadline; UINT64_MAX when nothing is armed. */
uint64_t wg_timers_next_deadline(const struct wg_timers *t);

/*
 * Keypair rules; kp may be NULL (no keypair): all false. No lock needed
 * beyond keeping kp alive (RCU).
 */
/* Valid, younger than REJECT_AFTER_TIME, next nonce below
 * REJECT_AFTER_MESSAGES. */
bool wg_timers_keypair_usable_for_sending(const struct noise_keypair *kp,
					  uint64_t now_ns);
/* Valid and younger than REJECT_AFTER_TIME; the counter limit is the
 * replay window's. */
bool wg_timers_keypair_usable_for_receiving(const struct noise_keypair *kp,
					    uint64_t now_ns);
/* After sending: past REKEY_AFTER_MESSAGES, or we initiated it and it is
 * REKEY_AFTER_TIME old. */
bool wg_timers_should_rekey_on_send(const struct noise_keypair *kp,
				    uint64_t now_ns);
/*
 * After receiving: we initiated it, it is
 * REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT old, and
 * sent_lastminute_handshake (t->sent_lastminute_handshake) is still
 * false; on true the caller sets that flag and starts a new handshake.
 */
bool wg_timers_should_rekey_on_receive(const struct noise_keypair *kp,
				       uint64_t now_ns,
				       bool sent_lastminute_handshake);

#endif
