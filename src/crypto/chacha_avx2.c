// SPDX-License-Identifier: MIT
/*
 * ChaCha20 and Poly1305 with AVX2, written from RFC 8439 and the Intel
 * intrinsics guide. Only the functions below carry the target attribute;
 * aead.c calls them only when the CPU has the instructions.
 *
 * ChaCha20: eight blocks at once with one state word per ymm register
 * (lane i = block i), or two or four blocks with one block per 128-bit
 * lane for short messages. Poly1305: four interleaved Horner chains in
 * 26-bit limbs multiplied by r^4 per step, combined at the end.
 */
#include "aead.h"

#if defined(__x86_64__)

#include <immintrin.h>
#include <string.h>

#define TARGET __attribute__((target("avx2")))
#define INLINE static inline __attribute__((always_inline)) TARGET

#define VEC_BYTES 32
typedef __m256i vec;

enum {
	/* Below this many blocks the scalar Poly1305 is faster than
	 * computing r^2..r^4. */
	POLY_VEC_MIN_BLOCKS = 16,
};

static const uint32_t sigma[4] = {0x61707865, 0x3320646e, 0x79622d32,
				  0x6b206574};

/* Rotations by 16 and 8 are byte shuffles; 12 and 7 are two shifts. */
INLINE __m256i rol256(__m256i v, int n)
{
	const __m256i r16 = _mm256_set_epi8(13, 12, 15, 14, 9, 8, 11, 10, 5, 4,
					    7, 6, 1, 0, 3, 2, 13, 12, 15, 14, 9,
					    8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2);
	const __m256i r8 = _mm256_set_epi8(14, 13, 12, 15, 10, 9, 8, 11, 6, 5,
					   4, 7, 2, 1, 0, 3, 14, 13, 12, 15, 10,
					   9, 8, 11, 6, 5, 4, 7, 2, 1, 0, 3);

	if (n == 16)
		return _mm256_shuffle_epi8(v, r16);
	if (n == 8)
		return _mm256_shuffle_epi8(v, r8);
	return _mm256_or_si256(_mm256_slli_epi32(v, n),
			       _mm256_srli_epi32(v, 32 - n));
}

#define QUARTER4(x, a0, b0, c0, d0, a1, b1, c1, d1, a2, b2, c2, d2, a3, b3,    \
		 c3, d3)                                                       \
	do {                                                                   \
		x[a0] = _mm256_add_epi32(x[a0], x[b0]);                        \
		x[a1] = _mm256_add_epi32(x[a1], x[b1]);                        \
		x[a2] = _mm256_add_epi32(x[a2], x[b2]);                        \
		x[a3] = _mm256_add_epi32(x[a3], x[b3]);                        \
		x[d0] = rol256(_mm256_xor_si256(x[d0], x[a0]), 16);            \
		x[d1] = rol256(_mm256_xor_si256(x[d1], x[a1]), 16);            \
		x[d2] = rol256(_mm256_xor_si256(x[d2], x[a2]), 16);            \
		x[d3] = rol256(_mm256_xor_si256(x[d3], x[a3]), 16);            \
		x[c0] = _mm256_add_epi32(x[c0], x[d0]);                        \
		x[c1] = _mm256_add_epi32(x[c1], x[d1]);                        \
		x[c2] = _mm256_add_epi32(x[c2], x[d2]);                        \
		x[c3] = _mm256_add_epi32(x[c3], x[d3]);                        \
		x[b0] = rol256(_mm256_xor_si256(x[b0], x[c0]), 12);            \
		x[b1] = rol256(_mm256_xor_si256(x[b1], x[c1]), 12);            \
		x[b2] = rol256(_mm256_xor_si256(x[b2], x[c2]), 12);            \
		x[b3] = rol256(_mm256_xor_si256(x[b3], x[c3]), 12);            \
		x[a0] = _mm256_add_epi32(x[a0], x[b0]);                        \
		x[a1] = _mm256_add_epi32(x[a1], x[b1]);                        \
		x[a2] = _mm256_add_epi32(x[a2], x[b2]);                        \
		x[a3] = _mm256_add_epi32(x[a3], x[b3]);                        \
		x[d0] = rol256(_mm256_xor_si256(x[d0], x[a0]), 8);             \
		x[d1] = rol256(_mm256_xor_si256(x[d1], x[a1]), 8);             \
		x[d2] = rol256(_mm256_xor_si256(x[d2], x[a2]), 8);             \
		x[d3] = rol256(_mm256_xor_si256(x[d3], x[a3]), 8);             \
		x[c0] = _mm256_add_epi32(x[c0], x[d0]);                        \
		x[c1] = _mm256_add_epi32(x[c1], x[d1]);                        \
		x[c2] = _mm256_add_epi32(x[c2], x[d2]);                        \
		x[c3] = _mm256_add_epi32(x[c3], x[d3]);                        \
		x[b0] = rol256(_mm256_xor_si256(x[b0], x[c0]), 7);             \
		x[b1] = rol256(_mm256_xor_si256(x[b1], x[c1]), 7);             \
		x[b2] = rol256(_mm256_xor_si256(x[b2], x[c2]), 7);             \
		x[b3] = rol256(_mm256_xor_si256(x[b3], x[c3]), 7);             \
	} while (0)

/* A 64-byte block as two ymm halves. */
struct block {
	__m256i lo, hi;
};

/* ---- Eight blocks: ymm register i holds word i of every block ---- */

INLINE void transpose8(struct block out[8], const __m256i x[16])
{
	__m256i u[4][4];
	int g, k;

	/* Within each 128-bit lane L: u[g][k] = words 4g..4g+3 of block
	 * 4L + k. */
#pragma GCC unroll 4
	for (g = 0; g < 4; g++) {
		__m256i t0 = _mm256_unpacklo_epi32(x[4 * g], x[4 * g + 1]);
		__m256i t1 = _mm256_unpackhi_epi32(x[4 * g], x[4 * g + 1]);
		__m256i t2 = _mm256_unpacklo_epi32(x[4 * g + 2], x[4 * g + 3]);
		__m256i t3 = _mm256_unpackhi_epi32(x[4 * g + 2], x[4 * g + 3]);

		u[g][0] = _mm256_unpacklo_epi64(t0, t2);
		u[g][1] = _mm256_unpackhi_epi64(t0, t2);
		u[g][2] = _mm256_unpacklo_epi64(t1, t3);
		u[g][3] = _mm256_unpackhi_epi64(t1, t3);
	}
#pragma GCC unroll 4
	for (k = 0; k < 4; k++) {
		out[k].lo = _mm256_permute2x128_si256(u[0][k], u[1][k], 0x20);
		out[k].hi = _mm256_permute2x128_si256(u[2][k], u[3][k], 0x20);
		out[4 + k].lo =
		    _mm256_permute2x128_si256(u[0][k], u[1][k], 0x31);
		out[4 + k].hi =
		    _mm256_permute2x128_si256(u[2][k], u[3][k], 0x31);
	}
}

INLINE void chacha8(struct block out[8], const uint32_t key[8], __m256i ctr,
		    __m256i n0, __m256i n1, __m256i n2)
{
	__m256i x[16];
	int i;

	/* Fully unrolled, so that x[] lives in registers as far as sixteen
	 * allow; the constant and key words are broadcast again at the end
	 * rather than kept. */
#pragma GCC unroll 16
	for (i = 0; i < 4; i++)
		x[i] = _mm256_set1_epi32((int)sigma[i]);
#pragma GCC unroll 16
	for (i = 0; i < 8; i++)
		x[4 + i] = _mm256_set1_epi32((int)key[i]);
	x[12] = ctr;
	x[13] = n0;
	x[14] = n1;
	x[15] = n2;
	for (i = 0; i < 10; i++) {
		QUARTER4(x, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11,
			 15);
		QUARTER4(x, 0, 5, 10, 15, 1, 6, 11, 12, 2, 7, 8, 13, 3, 4, 9,
			 14);
	}
#pragma GCC unroll 16
	for (i = 0; i < 4; i++)
		x[i] = _mm256_add_epi32(x[i], _mm256_set1_epi32((int)sigma[i]));
#pragma GCC unroll 16
	for (i = 0; i < 8; i++)
		x[4 + i] =
		    _mm256_add_epi32(x[4 + i], _mm256_set1_epi32((int)key[i]));
	x[12] = _mm256_add_epi32(x[12], ctr);
	x[13] = _mm256_add_epi32(x[13], n0);
	x[14] = _mm256_add_epi32(x[14], n1);
	x[15] = _mm256_add_epi32(x[15], n2);
	transpose8(out, x);
}

/* ---- Two or four blocks, one per 128-bit lane ---- */

#define HALF_ROUND(a, b, c, d)                                                 \
	do {                                                                   \
		a = _mm256_add_epi32(a, b);                                    \
		d = rol256(_mm256_xor_si256(d, a), 16);                        \
		c = _mm256_add_epi32(c, d);                                    \
		b = rol256(_mm256_xor_si256(b, c), 12);                        \
		a = _mm256_add_epi32(a, b);                                    \
		d = rol256(_mm256_xor_si256(d, a), 8);                         \
		c = _mm256_add_epi32(c, d);                                    \
		b = rol256(_mm256_xor_si256(b, c), 7);                         \
	} while (0)

/* Rotate rows 1..3 so the diagonals line up as columns, or back. */
#define DIAGONALIZE(b, c, d)                                                   \
	do {                                                                   \
		b = _mm256_shuffle_epi32(b, 0x39);                             \
		c = _mm256_shuffle_epi32(c, 0x4e);                             \
		d = _mm256_shuffle_epi32(d, 0x93);                             \
	} while (0)
#define UNDIAGONALIZE(b, c, d)                                                 \
	do {                                                                   \
		b = _mm256_shuffle_epi32(b, 0x93);                             \
		c = _mm256_shuffle_epi32(c, 0x4e);                             \
		d = _mm256_shuffle_epi32(d, 0x39);                             \
	} while (0)

/* Blocks ctr .. ctr + 2 * sets - 1; sets is 1 or 2 (two independent
 * chains hide each other's latency). */
INLINE void chacha_rows(struct block *out, const uint32_t key[8], uint32_t ctr,
			const uint32_t nonce[3], int sets)
{
	const __m256i a0 = _mm256_broadcastsi128_si256(
	    _mm_loadu_si128((const __m128i *)sigma));
	const __m256i b0 =
	    _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)key));
	const __m256i c0 = _mm256_broadcastsi128_si256(
	    _mm_loadu_si128((const __m128i *)(key + 4)));
	const __m256i d0 = _mm256_add_epi32(
	    _mm256_broadcastsi128_si256(_mm_set_epi32(
		(int)nonce[2], (int)nonce[1], (int)nonce[0], (int)ctr)),
	    _mm256_set_epi32(0, 0, 0, 1, 0, 0, 0, 0));
	const __m256i d1 =
	    _mm256_add_epi32(d0, _mm256_set_epi32(0, 0, 0, 2, 0, 0, 0, 2));
	__m256i a = a0, b = b0, c = c0, d = d0;
	__m256i e = a0, f = b0, g = c0, h = d1;
	int i;

	for (i = 0; i < 10; i++) {
		HALF_ROUND(a, b, c, d);
		if (sets > 1)
			HALF_ROUND(e, f, g, h);
		DIAGONALIZE(b, c, d);
		if (sets > 1)
			DIAGONALIZE(f, g, h);
		HALF_ROUND(a, b, c, d);
		if (sets > 1)
			HALF_ROUND(e, f, g, h);
		UNDIAGONALIZE(b, c, d);
		if (sets > 1)
			UNDIAGONALIZE(f, g, h);
	}
	a = _mm256_add_epi32(a, a0);
	b = _mm256_add_epi32(b, b0);
	c = _mm256_add_epi32(c, c0);
	d = _mm256_add_epi32(d, d0);
	out[0].lo = _mm256_permute2x128_si256(a, b, 0x20);
	out[0].hi = _mm256_permute2x128_si256(c, d, 0x20);
	out[1].lo = _mm256_permute2x128_si256(a, b, 0x31);
	out[1].hi = _mm256_permute2x128_si256(c, d, 0x31);
	if (sets < 2)
		return;
	e = _mm256_add_epi32(e, a0);
	f = _mm256_add_epi32(f, b0);
	g = _mm256_add_epi32(g, c0);
	h = _mm256_add_epi32(h, d1);
	out[2].lo = _mm256_permute2x128_si256(e, f, 0x20);
	out[2].hi = _mm256_permute2x128_si256(g, h, 0x20);
	out[3].lo = _mm256_permute2x128_si256(e, f, 0x31);
	out[3].hi = _mm256_permute2x128_si256(g, h, 0x31);
}

/* ---- Applying keystream ---- */

INLINE void xor_block(uint8_t *dst, const uint8_t *src, const struct block *b)
{
	__m256i lo = _mm256_loadu_si256((const __m256i *)src);
	__m256i hi = _mm256_loadu_si256((const __m256i *)(src + 32));

	_mm256_storeu_si256((__m256i *)dst, _mm256_xor_si256(lo, b->lo));
	_mm256_storeu_si256((__m256i *)(dst + 32), _mm256_xor_si256(hi, b->hi));
}

INLINE void store_block(uint8_t *dst, const struct block *b)
{
	_mm256_storeu_si256((__m256i *)dst, b->lo);
	_mm256_storeu_si256((__m256i *)(dst + 32), b->hi);
}

/* The last n < 64 bytes, through a buffer. */
INLINE void xor_partial(uint8_t *dst, const uint8_t *src, const struct block *b,
			size_t n)
{
	uint8_t ks[64];
	size_t i;

	store_block(ks, b);
	for (i = 0; i < n; i++)
		dst[i] = src[i] ^ ks[i];
	aead_wipe(ks, sizeof(ks));
}

/* Where a message's keystream goes: the first `skip` bytes (0 or 64) to
 * polykey, the next len bytes XORed from src into dst. */
struct sink {
	uint8_t *dst;
	const uint8_t *src;
	size_t len, skip;
	uint8_t *polykey;
};

INLINE void emit(const struct sink *s, size_t pos, const struct block *blk,
		 unsigned int nb)
{
	unsigned int j;

	for (j = 0; j < nb; j++, pos += 64) {
		size_t off;

		if (pos < s->skip) {
			store_block(s->polykey, &blk[j]);
			continue;
		}
		off = pos - s->skip;
		if (off >= s->len)
			return;
		if (s->len - off >= 64)
			xor_block(s->dst + off, s->src + off, &blk[j]);
		else
			xor_partial(s->dst + off, s->src + off, &blk[j],
				    s->len - off);
	}
}

/* Eight lanes fill up with the 24 blocks of an MTU-sized packet, so
 * jobs go one at a time. */
TARGET static void stream_one(const struct chacha_job *job,
			      const uint32_t key[8])
{
	const struct sink s = {job->dst, job->src, job->len,
			       job->polykey ? 64 : 0, job->polykey};
	const size_t total = job->len + s.skip;
	const uint32_t *nonce = job->nonce;
	const __m256i iota = _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0);
	uint32_t ctr = job->ctr;
	struct block blk[8];
	size_t pos;

	for (pos = 0; pos < total;) {
		size_t left = (total - pos + 63) / 64;
		unsigned int nb;

		if (left > 4) {
			chacha8(
			    blk, key,
			    _mm256_add_epi32(_mm256_set1_epi32((int)ctr), iota),
			    _mm256_set1_epi32((int)nonce[0]),
			    _mm256_set1_epi32((int)nonce[1]),
			    _mm256_set1_epi32((int)nonce[2]));
			nb = 8;
		} else if (left > 2) {
			chacha_rows(blk, key, ctr, nonce, 2);
			nb = 4;
		} else {
			chacha_rows(blk, key, ctr, nonce, 1);
			nb = 2;
		}
		emit(&s, pos, blk, nb);
		pos += 64 * (size_t)nb;
		ctr += nb;
	}
	aead_wipe(blk, sizeof(blk));
}

TARGET static void stream_avx2(const struct chacha_job *jobs, size_t n,
			       const uint32_t key[8])
{
	size_t i;

	for (i = 0; i < n; i++)
		stream_one(&jobs[i], key);
}

/* ---- Poly1305, four lanes of 26-bit limbs (poly1305_simd.h) ---- */

#define V_ADD64 _mm256_add_epi64
#define V_AND _mm256_and_si256
#define V_OR _mm256_or_si256
#define V_SRL64 _mm256_srli_epi64
#define V_SLL64 _mm256_slli_epi64
#define V_MUL32 _mm256_mul_epu32
#define V_SET1_64 _mm256_set1_epi64x
#define V_LANE0(x) _mm256_set_epi64x(0, 0, 0, x)
#define V_BCAST_LANE0(v) _mm256_permute4x64_epi64(v, 0)
#define V_SUM64 sum_lanes

INLINE uint64_t sum_lanes(__m256i v)
{
	__m128i t = _mm_add_epi64(_mm256_castsi256_si128(v),
				  _mm256_extracti128_si256(v, 1));

	return (uint64_t)_mm_cvtsi128_si64(
	    _mm_add_epi64(t, _mm_unpackhi_epi64(t, t)));
}

/* Four 16-byte blocks; the unpacks leave blocks 0, 2, 1, 3 in lanes
 * 0..3. */
INLINE void poly_halves(const uint8_t *p, __m256i *lo, __m256i *hi)
{
	__m256i a = _mm256_loadu_si256((const __m256i *)p);
	__m256i b = _mm256_loadu_si256((const __m256i *)(p + 32));

	*lo = _mm256_unpacklo_epi64(a, b);
	*hi = _mm256_unpackhi_epi64(a, b);
}

#include "poly1305_simd.h"

/* a in the 32-bit elements set in imm, the value 1 elsewhere. */
#define SELECT_OR_ONE(imm, a)                                                  \
	((struct limbs){                                                       \
	    _mm256_blend_epi32(_mm256_set1_epi64x(1), (a).l0, imm),            \
	    _mm256_blend_epi32(_mm256_setzero_si256(), (a).l1, imm),           \
	    _mm256_blend_epi32(_mm256_setzero_si256(), (a).l2, imm),           \
	    _mm256_blend_epi32(_mm256_setzero_si256(), (a).l3, imm),           \
	    _mm256_blend_epi32(_mm256_setzero_si256(), (a).l4, imm)})

/*
 * Lanes 0..3 hold blocks 0, 2, 1, 3 of each group (see poly_halves),
 * which need r^4, r^2, r^3, r^1 at the end. Starting from r everywhere,
 * lanes 0 and 1 are multiplied by r, then lanes 0 and 2 by r^2.
 */
INLINE struct limbs poly_powers(const struct poly1305 *st)
{
	struct limbs t = poly_r(st);

	t = mul_by(t, SELECT_OR_ONE(0x0f, t));
	return mul_by(t, SELECT_OR_ONE(0x33, broadcast_lane0(t)));
}

static void mac_avx2(uint8_t tag[static 16], const uint8_t key[static 32],
		     const uint8_t *ad, size_t ad_len, const uint8_t *ct,
		     size_t ct_len)
{
	wg_poly1305_aead_mac(tag, key, ad, ad_len, ct, ct_len, poly_bulk);
}

const struct chacha_poly_ops wg_chacha_avx2_ops = {
    .stream = stream_avx2,
    .mac = mac_avx2,
};

#endif
