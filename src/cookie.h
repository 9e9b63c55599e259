/* SPDX-License-Identifier: MIT */
/*
 * MAC1/MAC2 and cookie replies: the device's cookie checker (secret that
 * rotates every COOKIE_SECRET_MAX_AGE seconds, keys derived from our
 * public key) and each peer's cookie state (keys derived from its public
 * key, the last cookie it sent us). Pure code; clocks (monotonic ns) are
 * passed in. Each structure has its own lock, taken inside.
 */
#ifndef WGPIPE_COOKIE_H
#define WGPIPE_COOKIE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "wgpipe/wireguard.h"

struct cookie_checker {
	pthread_rwlock_t secret_lock;
	uint8_t secret[WG_HASH_LEN];
	uint64_t secret_birthdate_ns;
	bool secret_valid;
	uint8_t cookie_encryption_key[WG_KEY_LEN];
	uint8_t message_mac1_key[WG_KEY_LEN];
};

struct cookie {
	pthread_mutex_t lock;
	uint64_t birthdate_ns;
	bool is_valid;
	uint8_t cookie[WG_COOKIE_LEN];
	bool have_sent_mac1;
	uint8_t last_mac1_sent[WG_MAC_LEN];
	uint8_t cookie_decryption_key[WG_KEY_LEN];
	uint8_t message_mac1_key[WG_KEY_LEN];
};

enum cookie_mac_state {
	INVALID_MAC,
	VALID_MAC_BUT_NO_COOKIE,
	VALID_MAC_WITH_COOKIE_BUT_RATELIMITED,
	VALID_MAC_WITH_COOKIE,
};

void wg_cookie_checker_init(struct cookie_checker *checker);
void wg_cookie_checker_destroy(struct cookie_checker *checker);
/* Derive the MAC1 and cookie keys from our public key (NULL: none yet). */
void wg_cookie_checker_precompute_device_keys(struct cookie_checker *checker,
					      const uint8_t *local_public);

void wg_cookie_init(struct cookie *cookie,
		    const uint8_t remote_public[static WG_KEY_LEN]);
void wg_cookie_destroy(struct cookie *cookie);

/* Fill in mac1 and, while we hold a fresh cookie from the peer, mac2 of a
 * handshake message (initiation or response) of len bytes. */
void wg_cookie_add_mac_to_packet(void *message, size_t len,
				 struct cookie *cookie, uint64_t now_ns);

/* Check mac1 and, when check_cookie (we are under load), mac2 against the
 * cookie for the source address. */
enum cookie_mac_state wg_cookie_validate_packet(struct cookie_checker *checker,
						const void *message, size_t len,
						const union wg_sockaddr *src,
						bool check_cookie,
						uint64_t now_ns);

/* Build a cookie reply to a handshake message (len bytes) from src;
 * index is that message's sender index, in host order. */
void wg_cookie_message_create(struct message_handshake_cookie *dst,
			      const void *message, size_t len, uint32_t index,
			      struct cookie_checker *checker,
			      const union wg_sockaddr *src, uint64_t now_ns);

/* Decrypt a cookie reply addressed to the peer owning cookie; false when
 * it does not answer the last mac1 we sent or fails to decrypt. */
bool wg_cookie_message_consume(const struct message_handshake_cookie *src,
			       struct cookie *cookie, uint64_t now_ns);

/* The under-load decision: under load while the handshake queue holds at
 * least queue_max / 8 messages, and for one second after. */
struct cookie_load {
	uint64_t last_under_load_ns; /* 0: never */
};
bool wg_cookie_under_load(struct cookie_load *load, size_t queue_len,
			  size_t queue_max, uint64_t now_ns);

#endif
