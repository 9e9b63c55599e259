/* SPDX-License-Identifier: MIT */
/* Time, in nanoseconds: the monotonic clock every timer and rate limit
 * runs on, and the wall clock that handshake timestamps and `wg show`
 * use. */
#ifndef WGPIPE_CLOCK_H
#define WGPIPE_CLOCK_H

#include <stdint.h>
#include <time.h>

#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_MSEC 1000000ULL

static inline uint64_t wg_clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC: timers, rate limits, ages. */
static inline uint64_t wg_now_ns(void)
{
	return wg_clock_ns(CLOCK_MONOTONIC);
}

/* CLOCK_REALTIME: handshake timestamps and the time of the latest
 * handshake that `wg show` prints. */
static inline uint64_t wg_realtime_ns(void)
{
	return wg_clock_ns(CLOCK_REALTIME);
}

#endif
