/* SPDX-License-Identifier: MIT */
/*
 * Events that wake threads asleep in poll(): an eventfd that becomes
 * readable when signalled and stays so until cleared, so that every
 * poller sees it. The device's stop and the UDP readers' restart are
 * such events.
 */
#ifndef WGPIPE_EVENT_H
#define WGPIPE_EVENT_H

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* A new, unsignalled event: its fd, or -errno. */
static inline int wg_event_open(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	return fd < 0 ? -errno : fd;
}

/* Async-signal-safe. 0 or -errno. */
static inline int wg_event_signal(int fd)
{
	uint64_t one = 1;

	return write(fd, &one, sizeof(one)) < 0 ? -errno : 0;
}

/* Unsignalled again; 0 or -errno. */
static inline int wg_event_clear(int fd)
{
	uint64_t n;

	return read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN ? -errno : 0;
}

#endif
