/* SPDX-License-Identifier: MIT */
/*
 * The client side of the UAPI socket, for our own "stats=1" request
 * (wgpipe show): the daemon's counters, read over the protocol of
 * uapi.h.
 */
#ifndef WGPIPE_UAPI_CLIENT_H
#define WGPIPE_UAPI_CLIENT_H

#include <stddef.h>

/*
 * Connects to the socket at path, asks "stats=1", and reads the reply up
 * to its errno= line, giving the daemon WG_UAPI_CLIENT_TIMEOUT_MS for
 * each step. Returns 0 once it has a reply, with the daemon's errno=
 * value in *answer and, if that is 0, the name=value lines
 * (NUL-terminated, *len bytes, malloc'd) in *text; otherwise *text is
 * NULL. Returns -errno if the daemon could not be asked (connect's
 * error: -ENOENT for no socket, -ECONNREFUSED for a stale one),
 * -ECONNRESET if it hung up without a reply (wireguard-go does on an
 * unknown operation), -ETIMEDOUT, -EPROTO for a reply without a
 * well-formed errno= line, -EMSGSIZE for one over WG_UAPI_MAX_REQUEST.
 */
int wg_uapi_request_stats(const char *path, int *answer, char **text,
			  size_t *len);

#endif
