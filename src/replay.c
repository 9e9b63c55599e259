// SPDX-License-Identifier: MIT
/*
 * Replay window after RFC 6479: a ring of 64-bit words, 8192 bits, of
 * which one word is always the partly filled "current" one, so 8128
 * counters behind the newest are remembered.
 *
 * Bits are indexed by counter + 1, so that rc->counter (one past the
 * highest counter accepted) starts at 0 and counter 0 is accepted first.
 * Moving ahead clears only the words skipped over, never more than the
 * whole ring, so the cost of a big jump is bounded.
 */
#include "replay.h"

#include <string.h>

enum {
	WORD_BITS = 64,
	WORD_SHIFT = 6,
	WORDS = COUNTER_BITS_TOTAL / WORD_BITS,
};

_Static_assert((WORDS & (WORDS - 1)) == 0, "the ring is a power of two");

void wg_replay_init(struct replay_counter *rc)
{
	memset(rc, 0, sizeof(*rc));
}

/* Clears the words between the current one and the one holding pos. */
static void advance(struct replay_counter *rc, uint64_t pos)
{
	uint64_t cur = rc->counter >> WORD_SHIFT;
	uint64_t skip = (pos >> WORD_SHIFT) - cur;
	uint64_t i;

	if (skip > WORDS)
		skip = WORDS;
	for (i = 1; i <= skip; i++)
		rc->backtrack[(cur + i) & (WORDS - 1)] = 0;
	rc->counter = pos;
}

bool wg_replay_counter_validate(struct replay_counter *rc,
				uint64_t their_counter)
{
	uint64_t pos, bit, *word;

	if (their_counter >= REJECT_AFTER_MESSAGES)
		return false;
	/* No overflow: REJECT_AFTER_MESSAGES leaves more than a window of
	 * room below UINT64_MAX. */
	pos = their_counter + 1;
	if (pos + COUNTER_WINDOW_SIZE < rc->counter)
		return false;
	if (pos > rc->counter)
		advance(rc, pos);
	word = &rc->backtrack[(pos >> WORD_SHIFT) & (WORDS - 1)];
	bit = 1ULL << (pos & (WORD_BITS - 1));
	if (*word & bit)
		return false;
	*word |= bit;
	return true;
}
