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
 *
 * Both algorithms are written once, for AVX2 and AVX-512 alike, in
 * chacha_simd.h and poly1305_simd.h; this file gives them their AVX2
 * words and keeps what is its own: the rotations, how blocks leave the
 * registers, the lane order of the Poly1305 loads, and one job at a time.
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

/* ---- ChaCha20 (chacha_simd.h) ---- */

#define V_ADD32 _mm256_add_epi32
#define V_XOR _mm256_xor_si256
#define V_ROL32 rol256
#define V_SHUF32 _mm256_shuffle_epi32
#define V_UNPACKLO32 _mm256_unpacklo_epi32
#define V_UNPACKHI32 _mm256_unpackhi_epi32
#define V_UNPACKLO64 _mm256_unpacklo_epi64
#define V_UNPACKHI64 _mm256_unpackhi_epi64
#define V_SET1_32 _mm256_set1_epi32
#define V_BCAST128 _mm256_broadcastsi128_si256
#define ROW_IOTA _mm256_set_epi32(0, 0, 0, 1, 0, 0, 0, 0)
#define ROW_STEP _mm256_set_epi32(0, 0, 0, 2, 0, 0, 0, 2)

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

/* A 64-byte block as two ymm halves. */
typedef struct {
	__m256i lo, hi;
} ks_block;

INLINE void rows_to_blocks(ks_block *out, size_t stride, __m256i a, __m256i b,
			   __m256i c, __m256i d)
{
	out[0].lo = _mm256_permute2x128_si256(a, b, 0x20);
	out[0].hi = _mm256_permute2x128_si256(c, d, 0x20);
	out[stride].lo = _mm256_permute2x128_si256(a, b, 0x31);
	out[stride].hi = _mm256_permute2x128_si256(c, d, 0x31);
}

INLINE void store_block(uint8_t *dst, const ks_block *b)
{
	_mm256_storeu_si256((__m256i *)dst, b->lo);
	_mm256_storeu_si256((__m256i *)(dst + 32), b->hi);
}

INLINE void xor_block(uint8_t *dst, const uint8_t *src, const ks_block *b)
{
	__m256i lo = _mm256_loadu_si256((const __m256i *)src);
	__m256i hi = _mm256_loadu_si256((const __m256i *)(src + 32));

	_mm256_storeu_si256((__m256i *)dst, _mm256_xor_si256(lo, b->lo));
	_mm256_storeu_si256((__m256i *)(dst + 32), _mm256_xor_si256(hi, b->hi));
}

/* Fewer than 64 bytes, through a buffer. */
INLINE void xor_partial(uint8_t *dst, const uint8_t *src, const ks_block *b,
			size_t n)
{
	uint8_t ks[64];
	size_t i;

	store_block(ks, b);
	for (i = 0; i < n; i++)
		dst[i] = src[i] ^ ks[i];
	aead_wipe(ks, sizeof(ks));
}

#include "chacha_simd.h"

/* Eight lanes fill up with the 24 blocks of an MTU-sized packet, so
 * jobs go one at a time. */
TARGET static void stream_one(const struct chacha_job *job,
			      const uint32_t key[8])
{
	const struct sink s = job_sink(job);
	const size_t total = job_total(job);
	const uint32_t *nonce = job->nonce;
	const __m256i iota = _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0);
	uint32_t ctr = job->ctr;
	ks_block blk[8];
	size_t pos;

	for (pos = 0; pos < total;) {
		size_t left = (total - pos + 63) / 64;
		unsigned int nb;

		if (left > 4) {
			chacha_lanes(
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

const struct chacha_poly_ops wg_chacha_avx2_ops = {
    .stream = stream_avx2,
    .mac = poly_mac,
};

#endif
