/* SPDX-License-Identifier: MIT */
/*
 * The cross-platform configuration protocol (wireguard.com/xplatform) that
 * wg(8) speaks over /var/run/wireguard/IFNAME.sock: a parser for "set",
 * a formatter for "get", the socket server, and a client for "stats",
 * which wgpipe adds. Nothing here touches the device; the daemon applies
 * a parsed request through wg_uapi_ops.
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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "wgpipe/wireguard.h"

enum wg_uapi_limits {
	/* A request larger than this is refused (errno=-EMSGSIZE) and the
	 * connection closed; 10,000 peers with a few allowed IPs each take
	 * about 3 MiB. */
	WG_UAPI_MAX_REQUEST = 16 << 20,
	/* A client has this long to send each request and to take each
	 * reply; a stuck client cannot hold the socket longer. */
	WG_UAPI_CLIENT_TIMEOUT_MS = 5000,
};

#define WG_UAPI_SOCKET_DIR "/var/run/wireguard"

struct wg_uapi_allowedip {
	int family;	/* AF_INET or AF_INET6 */
	uint8_t ip[16]; /* network order; host bits beyond cidr are zero */
	uint8_t cidr;
	bool remove; /* "allowed_ip=-prefix": remove rather than add */
};

/*
 * One "public_key=" block of a set request, fields as given. Apply in
 * order: remove (then nothing else matters), update_only (skip the block
 * if the peer does not exist yet), preshared_key (all zero: none),
 * endpoint, persistent_keepalive_interval, replace_allowed_ips (drop the
 * peer's current allowed IPs), then allowedips in order, adding or
 * removing each. The same key may head several blocks; apply them in
 * turn. A peer whose key is the device's own public key is ignored, as in
 * wireguard-go.
 */
struct wg_uapi_peer {
	uint8_t public_key[WG_KEY_LEN];
	bool remove, update_only, replace_allowed_ips;
	bool has_preshared_key;
	uint8_t preshared_key[WG_KEY_LEN];
	bool has_endpoint;
	union wg_sockaddr endpoint;
	bool has_persistent_keepalive;
	uint16_t persistent_keepalive_interval;
	size_t n_allowedips;
	struct wg_uapi_allowedip *allowedips;
};

/*
 * A whole set request. has_private_key with an all-zero key means "remove
 * the private key"; fwmark 0 means off; replace_peers drops every peer
 * before the peer blocks are applied.
 */
struct wg_uapi_set {
	bool has_private_key;
	uint8_t private_key[WG_KEY_LEN];
	bool has_listen_port;
	uint16_t listen_port;
	bool has_fwmark;
	uint32_t fwmark;
	bool replace_peers;
	size_t n_peers;
	struct wg_uapi_peer *peers;
};

/*
 * Parses the body of a set request: the lines after "set=1\n", up to and
 * excluding the blank line (a last line without '\n' is accepted, and a
 * '\r' before a '\n' is dropped). All or nothing: every line is checked
 * before it returns 0, so a bad request changes nothing. On failure *out
 * is left empty (wg_uapi_set_free on it is harmless) and err receives one
 * line naming the bad line, never key material. Returns -EPROTO for a
 * line without '=' (as wireguard-go), -EINVAL for an unknown key or a bad
 * value, -ENOMEM. Keys are 64 hex digits, either case.
 */
int wg_uapi_parse_set(const char *body, size_t len, struct wg_uapi_set *out,
		      char *err, size_t errlen);
/* Frees the arrays and wipes the keys; leaves *s empty. */
void wg_uapi_set_free(struct wg_uapi_set *s);

struct wg_uapi_peer_info {
	uint8_t public_key[WG_KEY_LEN];
	uint8_t preshared_key[WG_KEY_LEN]; /* all zero: none */
	bool has_endpoint;
	union wg_sockaddr endpoint;
	int64_t last_handshake_sec; /* wall clock; 0 0 = never */
	int64_t last_handshake_nsec;
	uint64_t rx_bytes, tx_bytes;
	uint16_t persistent_keepalive_interval;
	size_t n_allowedips;
	struct wg_uapi_allowedip *allowedips;
};

struct wg_uapi_device_info {
	bool has_private_key;
	uint8_t private_key[WG_KEY_LEN];
	uint16_t listen_port; /* 0: not bound, line left out */
	uint32_t fwmark;      /* 0: off, line left out */
	size_t n_peers;
	struct wg_uapi_peer_info *peers;
};

/*
 * Formats the reply to get, without the final "errno=0\n\n": private_key
 * (if any), listen_port (if nonzero), fwmark (if nonzero), then for each
 * peer public_key, preshared_key, protocol_version=1, endpoint (if any;
 * IPv6 as [addr%scope]:port), last_handshake_time_sec,
 * last_handshake_time_nsec, tx_bytes, rx_bytes,
 * persistent_keepalive_interval and its allowed_ip lines; the order of
 * wireguard-go. *out is NUL-terminated and holds the private key: release
 * it with wg_uapi_free_text. Returns 0 or -ENOMEM.
 */
int wg_uapi_format_get(const struct wg_uapi_device_info *info, char **out,
		       size_t *len);
void wg_uapi_free_text(char *text, size_t len);

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
 * errno=-EINVAL) and after a request over WG_UAPI_MAX_REQUEST (answered
 * errno=-EMSGSIZE). A client that half-closes after its last set line
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

/*
 * The client of "stats=1" (wgpipe show): connects to the socket at path,
 * asks, and reads the reply up to its errno= line, giving the daemon
 * WG_UAPI_CLIENT_TIMEOUT_MS for each step. Returns 0 once it has a
 * reply, with the daemon's errno= value in *answer and, if that is 0,
 * the name=value lines (NUL-terminated, *len bytes, malloc'd) in *text;
 * otherwise *text is NULL. Returns -errno if the daemon could not be
 * asked (connect's error: -ENOENT for no socket, -ECONNREFUSED for a
 * stale one), -ECONNRESET if it hung up without a reply (wireguard-go
 * does on an unknown operation), -ETIMEDOUT, -EPROTO for a reply
 * without a well-formed errno= line, -EMSGSIZE for one over
 * WG_UAPI_MAX_REQUEST.
 */
int wg_uapi_request_stats(const char *path, int *answer, char **text,
			  size_t *len);

#endif
