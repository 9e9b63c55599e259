/* SPDX-License-Identifier: MIT */
/*
 * The cross-platform configuration protocol (wireguard.com/xplatform) that
 * wg(8) speaks over /var/run/wireguard/IFNAME.sock, and the socket server
 * that answers it. The server reads requests and writes replies; the
 * parser (uapi_parse.h) and the formatter (uapi_format.h) turn them into
 * structs and back; the daemon applies a parsed request through
 * wg_uapi_ops. uapi_client.h asks for "stats", which wgpipe adds.
 *
 * Request:  "get=1\n\n"  or  "set=1\n" key=value lines "\n",
 *           or "stats=1\n\n" (ours: wgpipe show; wg(8) never sends it).
 * Reply:    get: the device's key=value lines, then "errno=0\n\n";
 *           set: "errno=N\n\n";
 *           stats: the device's counters as name=value lines, then
 *           "errno=0\n\n".
 * The sign of a failing N is chosen so that wg(8) prints the right
 * message: for set it reads a signed number and negates it (wireguard-go
 * answers "errno=-22"), for get it accepts only digits and negates them
 * itself. So a failed set answers -errno, a failed get +errno, and a
 * failed stats, which is read like get, +errno too.
 */
#ifndef WGPIPE_UAPI_H
#define WGPIPE_UAPI_H

#include <stddef.h>

#include "uapi_format.h"
#include "uapi_parse.h"

enum wg_uapi_limits {
	/* A set request is parsed as it arrives, a line at a time, and
	 * only its parsed form is kept: a million peers, each with a key,
	 * an endpoint and two allowed IPs, are about 200 MB of text. A
	 * request larger than WG_UAPI_MAX_REQUEST, or a line longer than
	 * WG_UAPI_MAX_LINE (the longest valid one is under 100 bytes), is
	 * refused (errno=-EMSGSIZE) and the connection closed. The buffer
	 * never grows past WG_UAPI_BUFFER. */
	WG_UAPI_MAX_REQUEST = 1 << 30,
	WG_UAPI_MAX_LINE = 4096,
	WG_UAPI_BUFFER = 1 << 16,
	/* A client has this long to send each request and to take each
	 * reply; a stuck client cannot hold the socket longer. */
	WG_UAPI_CLIENT_TIMEOUT_MS = 5000,
};

#define WG_UAPI_SOCKET_DIR "/var/run/wireguard"

/*
 * The daemon's side, all called on the UAPI thread, one request at a
 * time. get fills *info, which it is given zeroed (0 or -errno);
 * get_free is called after every get, even a failed one, to release what
 * get allocated. set applies a fully parsed request (0 or -errno, with
 * one line in err on failure; the server logs it). stats (may be NULL:
 * "stats=1" is then an unknown operation) returns the counters as
 * name=value lines, each ending in '\n', none empty, in *text, which the
 * server frees with free(); 0 or -errno. socket_gone (may be NULL) is
 * called once when the socket file is deleted, renamed or replaced: it
 * should only ask the daemon to shut down, and must not call
 * wg_uapi_server_stop, which joins this thread.
 */
struct wg_uapi_ops {
	int (*get)(void *ctx, struct wg_uapi_device_info *info);
	void (*get_free)(void *ctx, struct wg_uapi_device_info *info);
	int (*set)(void *ctx, const struct wg_uapi_set *set, char *err,
		   size_t errlen);
	int (*stats)(void *ctx, char **text, size_t *len);
	void (*socket_gone)(void *ctx);
};

struct wg_uapi_server;

/*
 * Serves WG_UAPI_SOCKET_DIR/IFNAME.sock on a thread named "wg-uapi",
 * one client at a time. Several requests may follow on one connection;
 * the server hangs up on a client idle or stuck for
 * WG_UAPI_CLIENT_TIMEOUT_MS, after an unknown operation (answered
 * errno=-EINVAL) and after a request over WG_UAPI_MAX_REQUEST or a line
 * over WG_UAPI_MAX_LINE (answered errno=-EMSGSIZE). A client that half-closes after its last set line
 * has the request applied, as with wireguard-go.
 *
 * Without an inherited descriptor (inherited_fd < 0) it makes the folder
 * (0755), refuses with -EADDRINUSE if a live daemon answers on the
 * socket and with -EEXIST if the path is not a socket, replaces a stale
 * socket, and binds under umask 0177, so the socket is 0600 (umask is
 * process-wide: start the server before other threads create files).
 * With inherited_fd (WG_UAPI_FD), a listening UNIX stream socket, it
 * serves that, watching and finally unlinking the path the socket is
 * bound to (none for an unnamed or abstract one); on success the server
 * owns the descriptor, on failure the caller still does. Returns 0 or
 * -errno.
 */
int wg_uapi_server_start(struct wg_uapi_server **out, const char *ifname,
			 int inherited_fd, const struct wg_uapi_ops *ops,
			 void *ctx);
/* The same at an explicit socket path whose folder exists (tests). */
int wg_uapi_server_start_at(struct wg_uapi_server **out, const char *path,
			    int inherited_fd, const struct wg_uapi_ops *ops,
			    void *ctx);
/* Stops the thread (interrupting a client in progress), closes the
 * socket and unlinks its path if it is still our socket. */
void wg_uapi_server_stop(struct wg_uapi_server *s);

/* WG_UAPI_SOCKET_DIR/IFNAME.sock into path; -EINVAL for a name that is
 * empty, too long for an interface, "." or ".." or holds a '/'. */
int wg_uapi_socket_path(char *path, size_t size, const char *ifname);

#endif
