/* SPDX-License-Identifier: MIT */
/*
 * WireGuard wire format and protocol constants (protocol version 1).
 *
 * Everything here crosses a boundary: it is what goes on the wire, and
 * what the timers and limits of every WireGuard implementation agree on.
 * Multi-byte integers on the wire are little-endian.
 */
#ifndef WGPIPE_WIREGUARD_H
#define WGPIPE_WIREGUARD_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

enum wg_sizes {
	WG_KEY_LEN = 32,
	WG_HASH_LEN = 32,
	WG_AUTHTAG_LEN = 16,
	WG_TIMESTAMP_LEN = 12,
	WG_COOKIE_LEN = 16,
	WG_COOKIE_NONCE_LEN = 24,
	WG_MAC_LEN = 16,
	WG_MESSAGE_PADDING_MULTIPLE = 16,
};

enum wg_message_type {
	WG_MSG_INVALID = 0,
	WG_MSG_HANDSHAKE_INITIATION = 1,
	WG_MSG_HANDSHAKE_RESPONSE = 2,
	WG_MSG_HANDSHAKE_COOKIE = 3,
	WG_MSG_DATA = 4,
};

/* Times in seconds, from the whitepaper and the kernel module. */
enum wg_timing {
	REKEY_AFTER_TIME = 120,
	REJECT_AFTER_TIME = 180,
	REKEY_ATTEMPT_TIME = 90,
	REKEY_TIMEOUT = 5,
	KEEPALIVE_TIMEOUT = 10,
	COOKIE_SECRET_MAX_AGE = 120,
	COOKIE_SECRET_LATENCY = 5,
	/* Keys are zeroed after this long without a new handshake. */
	ZERO_KEYS_AFTER_TIME = REJECT_AFTER_TIME * 3,
	/* Retries before giving up: REKEY_ATTEMPT_TIME / REKEY_TIMEOUT. */
	MAX_TIMER_HANDSHAKES = REKEY_ATTEMPT_TIME / REKEY_TIMEOUT,
	/* Jitter added to REKEY_TIMEOUT, in milliseconds (up to 1/3 s). */
	REKEY_TIMEOUT_JITTER_MAX_MS = 334,
	/* At most this many initiations per second are consumed per peer. */
	INITIATIONS_PER_SECOND = 50,
	/* Per-source handshake limit under load (IPv6 by /64). */
	PACKETS_PER_SECOND = 20,
	PACKETS_BURSTABLE = 5,
};

/* Counter limits; 64-bit, so plain constants rather than enum members. */
#define REKEY_AFTER_MESSAGES (1ULL << 60)
#define REJECT_AFTER_MESSAGES (UINT64_MAX - (1ULL << 13) - 1)

/* Replay window: 8192 bits, of which 8128 counters are usable. */
enum wg_replay {
	COUNTER_BITS_TOTAL = 8192,
	COUNTER_REDUNDANT_BITS = 64,
	COUNTER_WINDOW_SIZE = COUNTER_BITS_TOTAL - COUNTER_REDUNDANT_BITS,
};

enum wg_mtu {
	WG_DEFAULT_MTU = 1420,
	/* The largest tunnel MTU whose every packet, padded, fits one UDP
	 * datagram: 65,535 less the IPv4 (20) and UDP (8) headers and the
	 * 32 bytes WireGuard adds; IPv6's payload length leaves out its own
	 * header. */
	WG_MAX_MTU_IPV4 = 65535 - 20 - 8 - 32,
	WG_MAX_MTU_IPV6 = 65535 - 8 - 32,
	WG_DEFAULT_PERSISTENT_KEEPALIVE = 0,
};

struct message_header {
	/* type is one byte followed by three zero bytes; as a le32 it is
	 * the type number itself. */
	uint32_t type;
} __attribute__((packed));

struct message_macs {
	uint8_t mac1[WG_MAC_LEN];
	uint8_t mac2[WG_MAC_LEN];
} __attribute__((packed));

struct message_handshake_initiation {
	struct message_header header;
	uint32_t sender_index;
	uint8_t unencrypted_ephemeral[WG_KEY_LEN];
	uint8_t encrypted_static[WG_KEY_LEN + WG_AUTHTAG_LEN];
	uint8_t encrypted_timestamp[WG_TIMESTAMP_LEN + WG_AUTHTAG_LEN];
	struct message_macs macs;
} __attribute__((packed));

struct message_handshake_response {
	struct message_header header;
	uint32_t sender_index;
	uint32_t receiver_index;
	uint8_t unencrypted_ephemeral[WG_KEY_LEN];
	uint8_t encrypted_nothing[WG_AUTHTAG_LEN];
	struct message_macs macs;
} __attribute__((packed));

struct message_handshake_cookie {
	struct message_header header;
	uint32_t receiver_index;
	uint8_t nonce[WG_COOKIE_NONCE_LEN];
	uint8_t encrypted_cookie[WG_COOKIE_LEN + WG_AUTHTAG_LEN];
} __attribute__((packed));

struct message_data {
	struct message_header header;
	uint32_t key_idx;
	uint64_t counter;
	uint8_t encrypted_data[];
} __attribute__((packed));

_Static_assert(sizeof(struct message_handshake_initiation) == 148,
	       "initiation is 148 bytes");
_Static_assert(sizeof(struct message_handshake_response) == 92,
	       "response is 92 bytes");
_Static_assert(sizeof(struct message_handshake_cookie) == 64,
	       "cookie reply is 64 bytes");
_Static_assert(sizeof(struct message_data) == 16,
	       "data header is 16 bytes");

/* Length of a transport message carrying plain_len bytes of plaintext. */
static inline unsigned int wg_message_data_len(unsigned int padded_len)
{
	return sizeof(struct message_data) + padded_len + WG_AUTHTAG_LEN;
}

/* A keepalive is a data message with no payload: 32 bytes. */
enum { WG_MESSAGE_MINIMUM_LENGTH = sizeof(struct message_data) + WG_AUTHTAG_LEN };

/* The type of the message that starts at buf (at least 4 bytes). */
static inline uint32_t wg_message_type(const void *buf)
{
	uint32_t type;

	memcpy(&type, buf, sizeof(type));
	return le32toh(type);
}

#endif
