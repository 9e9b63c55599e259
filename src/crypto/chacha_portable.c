// SPDX-License-Identifier: MIT
/*
 * ChaCha20 and Poly1305 in plain C, written from RFC 8439: the portable
 * implementation, and the scalar Poly1305 the SIMD files use for short
 * messages and tails, with the final reduction modulo p.
 *
 * Poly1305 works in radix 2^64: h = h0 + h1 2^64 + h2 2^128 with h2 small
 * (at most 4 between blocks), r = r0 + r1 2^64. Clamping clears the low
 * two bits of r1, so h1 r1 2^128 = h1 (r1 / 4) 2^130, which is congruent
 * to h1 (5 r1 / 4) = h1 s1 modulo p = 2^130 - 5.
 */
#include "aead.h"

#include <endian.h>
#include <string.h>

#if defined(__SIZEOF_INT128__)
typedef unsigned __int128 u128;
#else
#error "wgpipe needs a compiler with unsigned __int128 (a 64-bit target)"
#endif

#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE uint64_t get_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

ALWAYS_INLINE void put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

ALWAYS_INLINE void put_le64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

/* ---- ChaCha20 ---- */

#define ROTL32(v, n) ((v) << (n) | (v) >> (32 - (n)))
#define QUARTER(a, b, c, d)                                                    \
	do {                                                                   \
		a += b;                                                        \
		d = ROTL32(d ^ a, 16);                                         \
		c += d;                                                        \
		b = ROTL32(b ^ c, 12);                                         \
		a += b;                                                        \
		d = ROTL32(d ^ a, 8);                                          \
		c += d;                                                        \
		b = ROTL32(b ^ c, 7);                                          \
	} while (0)

/* One 64-byte keystream block for state words 12..15 = ctr, nonce. */
static void chacha_block(uint8_t out[static 64], const uint32_t key[8],
			 uint32_t ctr, const uint32_t nonce[3])
{
	uint32_t in[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
	uint32_t x[16];
	int i;

	memcpy(in + 4, key, 32);
	in[12] = ctr;
	memcpy(in + 13, nonce, 12);
	memcpy(x, in, sizeof(x));
	for (i = 0; i < 10; i++) {
		QUARTER(x[0], x[4], x[8], x[12]);
		QUARTER(x[1], x[5], x[9], x[13]);
		QUARTER(x[2], x[6], x[10], x[14]);
		QUARTER(x[3], x[7], x[11], x[15]);
		QUARTER(x[0], x[5], x[10], x[15]);
		QUARTER(x[1], x[6], x[11], x[12]);
		QUARTER(x[2], x[7], x[8], x[13]);
		QUARTER(x[3], x[4], x[9], x[14]);
	}
	for (i = 0; i < 16; i++)
		put_le32(out + 4 * i, x[i] + in[i]);
	aead_wipe(in, sizeof(in));
	aead_wipe(x, sizeof(x));
}

static void stream_one(const struct chacha_job *job, const uint32_t key[8])
{
	uint32_t ctr = job->ctr;
	uint8_t ks[64];
	size_t off, n, i;

	if (job->polykey)
		chacha_block(job->polykey, key, ctr++, job->nonce);
	if (job->polykey && job->key_ready)
		job->key_ready(job);
	for (off = 0; off < job->len; off += n) {
		n = job->len - off < 64 ? job->len - off : 64;
		chacha_block(ks, key, ctr++, job->nonce);
		for (i = 0; i < n; i++)
			job->dst[off + i] = job->src[off + i] ^ ks[i];
	}
	aead_wipe(ks, sizeof(ks));
}

static void stream_portable(const struct chacha_job *jobs, size_t n,
			    const uint32_t key[8])
{
	size_t i;

	for (i = 0; i < n; i++)
		stream_one(&jobs[i], key);
}

/* ---- Poly1305 ---- */

void wg_poly1305_init(struct poly1305 *st, const uint8_t key[static 32])
{
	st->r0 = get_le64(key) & 0x0ffffffc0fffffffULL;
	st->r1 = get_le64(key + 8) & 0x0ffffffc0ffffffcULL;
	st->s1 = st->r1 + (st->r1 >> 2);
	st->h0 = st->h1 = st->h2 = 0;
	st->pad0 = get_le64(key + 16);
	st->pad1 = get_le64(key + 24);
}

/* h = h * r mod p, partly reduced: h2 <= 4 after, given h2 <= 7 before. */
ALWAYS_INLINE void mul_r(const struct poly1305 *st, uint64_t h[3])
{
	u128 d0 = (u128)h[0] * st->r0 + (u128)h[1] * st->s1;
	u128 d1 =
	    (u128)h[0] * st->r1 + (u128)h[1] * st->r0 + (u128)h[2] * st->s1;
	uint64_t d2 = h[2] * st->r0, c;
	u128 t;

	d1 += (uint64_t)(d0 >> 64);
	d2 += (uint64_t)(d1 >> 64);
	/* Bits from 130 on are worth 5 times as much at bit 0. */
	c = (d2 & ~(uint64_t)3) + (d2 >> 2);
	t = (u128)(uint64_t)d0 + c;
	h[0] = (uint64_t)t;
	t = (u128)(uint64_t)d1 + (uint64_t)(t >> 64);
	h[1] = (uint64_t)t;
	h[2] = (d2 & 3) + (uint64_t)(t >> 64);
}

void wg_poly1305_blocks(struct poly1305 *st, const uint8_t *m, size_t n)
{
	uint64_t h[3] = {st->h0, st->h1, st->h2};
	u128 t;

	for (; n; n--, m += 16) {
		t = (u128)h[0] + get_le64(m);
		h[0] = (uint64_t)t;
		t = (u128)h[1] + get_le64(m + 8) + (uint64_t)(t >> 64);
		h[1] = (uint64_t)t;
		h[2] += (uint64_t)(t >> 64) + 1;
		mul_r(st, h);
	}
	st->h0 = h[0];
	st->h1 = h[1];
	st->h2 = h[2];
}

/* h mod p, given h < 2^131: fold the bits above 130, then subtract p
 * once if h + 5 reaches 2^130. No branch on the value. */
ALWAYS_INLINE void reduce_full(uint64_t h[3])
{
	uint64_t c = (h[2] & ~(uint64_t)3) + (h[2] >> 2), g0, g1, g2, mask;
	u128 t;

	t = (u128)h[0] + c;
	h[0] = (uint64_t)t;
	t = (u128)h[1] + (uint64_t)(t >> 64);
	h[1] = (uint64_t)t;
	h[2] = (h[2] & 3) + (uint64_t)(t >> 64);

	t = (u128)h[0] + 5;
	g0 = (uint64_t)t;
	t = (u128)h[1] + (uint64_t)(t >> 64);
	g1 = (uint64_t)t;
	g2 = h[2] + (uint64_t)(t >> 64);
	mask = 0 - (g2 >> 2);
	h[0] = (h[0] & ~mask) | (g0 & mask);
	h[1] = (h[1] & ~mask) | (g1 & mask);
	h[2] = (h[2] & ~mask) | ((g2 & 3) & mask);
}

void wg_poly1305_finish(struct poly1305 *st, uint8_t tag[static 16])
{
	uint64_t h[3] = {st->h0, st->h1, st->h2};
	u128 t;

	reduce_full(h);
	t = (u128)h[0] + st->pad0;
	put_le64(tag, (uint64_t)t);
	put_le64(tag + 8, h[1] + st->pad1 + (uint64_t)(t >> 64));
	aead_wipe(h, sizeof(h));
	aead_wipe(st, sizeof(*st));
}

/* Whole blocks through bulk then the scalar loop, and the partial last
 * block zero-padded. */
static void absorb_padded(struct poly1305 *st, const uint8_t *m, size_t len,
			  poly1305_bulk_fn *bulk)
{
	size_t n = len / 16, done = 0;
	uint8_t last[16] = {0};

	if (!len)
		return;
	if (bulk && n)
		done = bulk(st, m, n);
	wg_poly1305_blocks(st, m + 16 * done, n - done);
	if (len % 16) {
		memcpy(last, m + 16 * n, len % 16);
		wg_poly1305_blocks(st, last, 1);
	}
}

void wg_poly1305_aead_mac(uint8_t tag[static 16], const uint8_t key[static 32],
			  const uint8_t *ad, size_t ad_len, const uint8_t *ct,
			  size_t ct_len, poly1305_bulk_fn *bulk)
{
	struct poly1305 st;
	uint8_t lens[16];

	wg_poly1305_init(&st, key);
	absorb_padded(&st, ad, ad_len, bulk);
	absorb_padded(&st, ct, ct_len, bulk);
	put_le64(lens, ad_len);
	put_le64(lens + 8, ct_len);
	wg_poly1305_blocks(&st, lens, 1);
	wg_poly1305_finish(&st, tag);
}

static void mac_portable(uint8_t tag[static 16], const uint8_t key[static 32],
			 const uint8_t *ad, size_t ad_len, const uint8_t *ct,
			 size_t ct_len)
{
	wg_poly1305_aead_mac(tag, key, ad, ad_len, ct, ct_len, NULL);
}

const struct chacha_poly_ops wg_chacha_portable_ops = {
    .stream = stream_portable,
    .mac = mac_portable,
};
