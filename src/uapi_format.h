/* SPDX-License-Identifier: MIT */
/*
 * The UAPI's get reply: a snapshot of the device, as the daemon fills it
 * in, written out as the key=value lines wg(8) reads. Pure struct in,
 * text out, so it can be fuzzed against the parser.
 */
#ifndef WGPIPE_UAPI_FORMAT_H
#define WGPIPE_UAPI_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "uapi_parse.h" /* struct wg_uapi_allowedip, shared by both */
#include "wgpipe/wireguard.h"

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
 * peer public_key, preshared_key, protocol_version=1, endpoint (if any,
 * as wg_sockaddr_format writes it), last_handshake_time_sec,
 * last_handshake_time_nsec, tx_bytes, rx_bytes,
 * persistent_keepalive_interval and its allowed_ip lines; the order of
 * wireguard-go. *out is NUL-terminated and holds the private key: release
 * it with wg_uapi_free_text. Returns 0 or -ENOMEM.
 */
int wg_uapi_format_get(const struct wg_uapi_device_info *info, char **out,
		       size_t *len);
void wg_uapi_free_text(char *text, size_t len);

#endif
