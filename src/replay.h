/* SPDX-License-Identifier: MIT */
/* The receive-side replay window: 8192 bits, RFC 6479 style. One
 * consumer: the in-order receive stage of a peer, so no lock. */
#ifndef WGPIPE_REPLAY_H
#define WGPIPE_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "wgpipe/wireguard.h"

struct replay_counter {
	uint64_t counter; /* one past the highest counter seen */
	uint64_t backtrack[COUNTER_BITS_TOTAL / 64];
};

void wg_replay_init(struct replay_counter *rc);
/* True (and the counter recorded) when their_counter is new, inside the
 * window and below REJECT_AFTER_MESSAGES; false otherwise. */
bool wg_replay_counter_validate(struct replay_counter *rc,
				uint64_t their_counter);

#endif
