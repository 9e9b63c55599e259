/* SPDX-License-Identifier: MIT */
/* BLAKE2s (RFC 7693), keyed and unkeyed, and the HMAC WireGuard builds
 * on it. libsodium has no BLAKE2s, so this one is ours. */
#ifndef WGPIPE_BLAKE2S_H
#define WGPIPE_BLAKE2S_H

#include <stddef.h>
#include <stdint.h>

enum blake2s_lengths {
	BLAKE2S_BLOCK_SIZE = 64,
	BLAKE2S_HASH_SIZE = 32,
	BLAKE2S_KEY_SIZE = 32,
};

struct blake2s_state {
	uint32_t h[8];
	uint32_t t[2];
	uint32_t f[2];
	uint8_t buf[BLAKE2S_BLOCK_SIZE];
	size_t buflen;
	size_t outlen;
};

/* outlen is 1..32; keylen is 0..32 (0 means unkeyed). */
void wg_blake2s_init(struct blake2s_state *state, size_t outlen);
void wg_blake2s_init_key(struct blake2s_state *state, size_t outlen,
			 const uint8_t *key, size_t keylen);
void wg_blake2s_update(struct blake2s_state *state, const uint8_t *in,
		       size_t inlen);
/* Writes state->outlen bytes and wipes the state. */
void wg_blake2s_final(struct blake2s_state *state, uint8_t *out);

/* One-shot hash: key may be NULL when keylen is 0. */
void wg_blake2s(uint8_t *out, const uint8_t *in, const uint8_t *key,
		size_t outlen, size_t inlen, size_t keylen);

/* HMAC (RFC 2104) over BLAKE2s-256, block size 64; keylen up to 64. */
void wg_blake2s_hmac(uint8_t out[static BLAKE2S_HASH_SIZE], const uint8_t *in,
		     const uint8_t *key, size_t inlen, size_t keylen);

#endif
