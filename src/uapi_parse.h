/* SPDX-License-Identifier: MIT */
/*
 * The UAPI's set request, parsed: the lines wg(8) sends after "set=1",
 * checked whole and turned into a struct that settings applies. Pure
 * text in, struct out: no socket, no device, so it can be fuzzed.
 */
#ifndef WGPIPE_UAPI_PARSE_H
#define WGPIPE_UAPI_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "wgpipe/wireguard.h"

/* An allowed-IP prefix, as set requests and get replies carry it. */
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

/*
 * The same parse, a line at a time, for requests too large to hold as
 * text (wg setconf sends a million peers as one request of ~150 MB): the
 * server hands over each line as it arrives and keeps only the parsed
 * struct, which is several times smaller. init empties *out; line takes
 * one line without its '\n' and returns 0 or the first error, after
 * which *out is empty and every later line returns that error again
 * (the server still reads the rest of the request, to answer it in
 * turn); end returns 0 with *out complete, or that error. One request
 * holds at most WG_UAPI_MAX_PEER_BLOCKS public_key lines and
 * WG_UAPI_MAX_ALLOWEDIPS allowed_ip lines (-E2BIG past either).
 */
enum wg_uapi_parse_limits {
	WG_UAPI_MAX_PEER_BLOCKS = 1 << 21,
	WG_UAPI_MAX_ALLOWEDIPS = 1 << 24,
};

struct wg_uapi_parser {
	struct wg_uapi_set *set;
	struct wg_uapi_peer *peer; /* the current block; NULL before one */
	size_t peers_cap, ips_cap, n_allowedips;
	unsigned int lineno;
	int ret; /* the first error, then every line's answer */
	/* The current line's key, named in messages only once it is one we
	 * know: an unknown "key" may be a key value run together with its
	 * name, and no part of a value is ever repeated. */
	const char *key;
	size_t klen;
	bool known;
	char *err;
	size_t errlen;
};

void wg_uapi_parser_init(struct wg_uapi_parser *ps, struct wg_uapi_set *out,
			 char *err, size_t errlen);
int wg_uapi_parser_line(struct wg_uapi_parser *ps, const char *line,
			size_t len);
int wg_uapi_parser_end(struct wg_uapi_parser *ps);
/* Frees the arrays and wipes the keys; leaves *s empty. */
void wg_uapi_set_free(struct wg_uapi_set *s);

#endif
