// SPDX-License-Identifier: MIT
/*
 * BLAKE2s as specified by RFC 7693, and HMAC (RFC 2104) over it.
 *
 * The last block of input is held back in state->buf until final(),
 * because it must be compressed with the finalization flag set and we
 * cannot know which block is last before final() is called.
 */
#include "blake2s.h"

#include <assert.h>
#include <string.h>

#include <sodium.h>

static const uint32_t blake2s_iv[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

static const uint8_t blake2s_sigma[10][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

static inline uint32_t ror32(uint32_t x, unsigned int n)
{
	return x >> n | x << (32 - n);
}

static inline uint32_t load_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline void store_le32(uint8_t *p, uint32_t x)
{
	p[0] = (uint8_t)x;
	p[1] = (uint8_t)(x >> 8);
	p[2] = (uint8_t)(x >> 16);
	p[3] = (uint8_t)(x >> 24);
}

static inline void mix(uint32_t v[16], int a, int b, int c, int d, uint32_t x,
		       uint32_t y)
{
	v[a] += v[b] + x;
	v[d] = ror32(v[d] ^ v[a], 16);
	v[c] += v[d];
	v[b] = ror32(v[b] ^ v[c], 12);
	v[a] += v[b] + y;
	v[d] = ror32(v[d] ^ v[a], 8);
	v[c] += v[d];
	v[b] = ror32(v[b] ^ v[c], 7);
}

static void mix_round(uint32_t v[16], const uint32_t m[16], const uint8_t *s)
{
	mix(v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
	mix(v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
	mix(v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
	mix(v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
	mix(v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
	mix(v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
	mix(v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
	mix(v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
}

/* Counts inc more bytes, then compresses one block. */
static void compress(struct blake2s_state *state, const uint8_t *block,
		     uint32_t inc)
{
	uint32_t m[16], v[16];
	int i;

	state->t[0] += inc;
	state->t[1] += state->t[0] < inc;
	for (i = 0; i < 16; i++)
		m[i] = load_le32(block + 4 * i);
	for (i = 0; i < 8; i++) {
		v[i] = state->h[i];
		v[i + 8] = blake2s_iv[i];
	}
	v[12] ^= state->t[0];
	v[13] ^= state->t[1];
	v[14] ^= state->f[0];
	v[15] ^= state->f[1];
	for (i = 0; i < 10; i++)
		mix_round(v, m, blake2s_sigma[i]);
	for (i = 0; i < 8; i++)
		state->h[i] ^= v[i] ^ v[i + 8];
	sodium_memzero(m, sizeof(m));
	sodium_memzero(v, sizeof(v));
}

static void init_param(struct blake2s_state *state, size_t outlen,
		       size_t keylen)
{
	assert(outlen >= 1 && outlen <= BLAKE2S_HASH_SIZE);
	assert(keylen <= BLAKE2S_KEY_SIZE);
	memset(state, 0, sizeof(*state));
	memcpy(state->h, blake2s_iv, sizeof(state->h));
	state->h[0] ^= 0x01010000 ^ (uint32_t)keylen << 8 ^ (uint32_t)outlen;
	state->outlen = outlen;
}

void wg_blake2s_init(struct blake2s_state *state, size_t outlen)
{
	init_param(state, outlen, 0);
}

void wg_blake2s_init_key(struct blake2s_state *state, size_t outlen,
			 const uint8_t *key, size_t keylen)
{
	init_param(state, outlen, keylen);
	if (!keylen)
		return;
	/* The key, zero-padded, is the first block; buf is wiped by final. */
	memcpy(state->buf, key, keylen);
	state->buflen = BLAKE2S_BLOCK_SIZE;
}

void wg_blake2s_update(struct blake2s_state *state, const uint8_t *in,
		       size_t inlen)
{
	size_t fill = BLAKE2S_BLOCK_SIZE - state->buflen;

	if (!inlen)
		return;
	if (inlen > fill) {
		memcpy(state->buf + state->buflen, in, fill);
		compress(state, state->buf, BLAKE2S_BLOCK_SIZE);
		state->buflen = 0;
		in += fill;
		inlen -= fill;
		while (inlen > BLAKE2S_BLOCK_SIZE) {
			compress(state, in, BLAKE2S_BLOCK_SIZE);
			in += BLAKE2S_BLOCK_SIZE;
			inlen -= BLAKE2S_BLOCK_SIZE;
		}
	}
	memcpy(state->buf + state->buflen, in, inlen);
	state->buflen += inlen;
}

void wg_blake2s_final(struct blake2s_state *state, uint8_t *out)
{
	uint8_t digest[BLAKE2S_HASH_SIZE];
	int i;

	memset(state->buf + state->buflen, 0,
	       BLAKE2S_BLOCK_SIZE - state->buflen);
	state->f[0] = 0xffffffff;
	compress(state, state->buf, (uint32_t)state->buflen);
	for (i = 0; i < 8; i++)
		store_le32(digest + 4 * i, state->h[i]);
	memcpy(out, digest, state->outlen);
	sodium_memzero(digest, sizeof(digest));
	sodium_memzero(state, sizeof(*state));
}

void wg_blake2s(uint8_t *out, const uint8_t *in, const uint8_t *key,
		size_t outlen, size_t inlen, size_t keylen)
{
	struct blake2s_state state;

	wg_blake2s_init_key(&state, outlen, key, keylen);
	wg_blake2s_update(&state, in, inlen);
	wg_blake2s_final(&state, out);
}

void wg_blake2s_hmac(uint8_t out[static BLAKE2S_HASH_SIZE], const uint8_t *in,
		     const uint8_t *key, size_t inlen, size_t keylen)
{
	uint8_t x_key[BLAKE2S_BLOCK_SIZE] = {0};
	uint8_t i_hash[BLAKE2S_HASH_SIZE];
	struct blake2s_state state;
	int i;

	if (keylen > BLAKE2S_BLOCK_SIZE)
		wg_blake2s(x_key, key, NULL, BLAKE2S_HASH_SIZE, keylen, 0);
	else if (keylen)
		memcpy(x_key, key, keylen);

	for (i = 0; i < BLAKE2S_BLOCK_SIZE; i++)
		x_key[i] ^= 0x36;
	wg_blake2s_init(&state, BLAKE2S_HASH_SIZE);
	wg_blake2s_update(&state, x_key, BLAKE2S_BLOCK_SIZE);
	wg_blake2s_update(&state, in, inlen);
	wg_blake2s_final(&state, i_hash);

	for (i = 0; i < BLAKE2S_BLOCK_SIZE; i++)
		x_key[i] ^= 0x5c ^ 0x36;
	wg_blake2s_init(&state, BLAKE2S_HASH_SIZE);
	wg_blake2s_update(&state, x_key, BLAKE2S_BLOCK_SIZE);
	wg_blake2s_update(&state, i_hash, BLAKE2S_HASH_SIZE);
	wg_blake2s_final(&state, out);

	sodium_memzero(x_key, sizeof(x_key));
	sodium_memzero(i_hash, sizeof(i_hash));
}
