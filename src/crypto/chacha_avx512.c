// SPDX-License-Identifier: MIT
/*
 * ChaCha20 and Poly1305 with AVX-512 (F, VL, BW), written from RFC 8439
 * and the Intel intrinsics guide. Only the functions below carry the
 * target attribute; aead.c calls them only when the CPU has the
 * instructions.
 *
 * ChaCha20: sixteen blocks at once with one state word per zmm register
 * (lane i = block i), or up to twelve with one block per 128-bit lane for
 * short messages and tails. The sixteen lanes may hold blocks of several
 * messages of a batch, each lane with its own counter and nonce.
 *
 * Poly1305: eight interleaved Horner chains, each multiplied by r^8 per
 * step; at the end lane j is multiplied by r^(8-j) and the lanes are
 * summed. In 26-bit limbs with AVX-512F, or in 44-bit limbs with the
 * 52-bit multiply-adds of AVX-512 IFMA where the CPU has them (a second
 * table, wg_chacha_avx512ifma_ops, whose Poly1305 is poly1305_ifma.c).
 *
 * ChaCha20 and the 26-bit Poly1305 are written once, for AVX2 and AVX-512
 * alike, in chacha_simd.h and poly1305_simd.h; this file gives them their
 * AVX-512 words and keeps what is its own: how blocks leave the registers
 * (masked for a partial one) and filling sixteen lanes from several jobs.
 */
#include "aead.h"

#if defined(__x86_64__)

#include <immintrin.h>
#include <string.h>

#define TARGET __attribute__((target("avx512f,avx512vl,avx512bw")))
#define INLINE static inline __attribute__((always_inline)) TARGET

#define VEC_BYTES 64
typedef __m512i vec;

enum {
	/* Below this many blocks the scalar Poly1305 is faster than
	 * computing r^2..r^8. */
	POLY_VEC_MIN_BLOCKS = 24,
};

/* ---- ChaCha20 (chacha_simd.h) ---- */

#define V_ADD32 _mm512_add_epi32
#define V_XOR _mm512_xor_si512
#define V_ROL32 _mm512_rol_epi32
#define V_SHUF32(v, imm) _mm512_shuffle_epi32(v, (_MM_PERM_ENUM)(imm))
#define V_UNPACKLO32 _mm512_unpacklo_epi32
#define V_UNPACKHI32 _mm512_unpackhi_epi32
#define V_UNPACKLO64 _mm512_unpacklo_epi64
#define V_UNPACKHI64 _mm512_unpackhi_epi64
#define V_SET1_32 _mm512_set1_epi32
#define V_BCAST128 _mm512_broadcast_i32x4
#define ROW_IOTA                                                               \
	_mm512_set_epi32(0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0)
#define ROW_STEP                                                               \
	_mm512_set_epi32(0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4)

typedef __m512i ks_block;

INLINE void rows_to_blocks(__m512i *out, size_t stride, __m512i a, __m512i b,
			   __m512i c, __m512i d)
{
	__m512i p = _mm512_shuffle_i32x4(a, b, 0x44);
	__m512i q = _mm512_shuffle_i32x4(c, d, 0x44);
	__m512i r = _mm512_shuffle_i32x4(a, b, 0xee);
	__m512i s = _mm512_shuffle_i32x4(c, d, 0xee);

	out[0] = _mm512_shuffle_i32x4(p, q, 0x88);
	out[stride] = _mm512_shuffle_i32x4(p, q, 0xdd);
	out[2 * stride] = _mm512_shuffle_i32x4(r, s, 0x88);
	out[3 * stride] = _mm512_shuffle_i32x4(r, s, 0xdd);
}

INLINE void store_block(uint8_t *dst, const __m512i *b)
{
	_mm512_storeu_si512(dst, *b);
}

INLINE void xor_block(uint8_t *dst, const uint8_t *src, const __m512i *b)
{
	_mm512_storeu_si512(dst, _mm512_xor_si512(_mm512_loadu_si512(src), *b));
}

/* Fewer than 64 bytes, under a mask. */
INLINE void xor_partial(uint8_t *dst, const uint8_t *src, const __m512i *b,
			size_t n)
{
	__mmask64 k = ((__mmask64)1 << n) - 1;

	_mm512_mask_storeu_epi8(
	    dst, k, _mm512_xor_si512(_mm512_maskz_loadu_epi8(k, src), *b));
}

#include "chacha_simd.h"

/* ---- Sixteen lanes of blocks from a batch, twelve for tails ---- */

/* The last few blocks of a job, one per 128-bit lane. */
INLINE void rows_tail(const struct chacha_job *job, size_t pos,
		      const uint32_t key[8], __m512i blk[16])
{
	const struct sink s = job_sink(job);
	size_t left = (job_total(job) - pos + 63) / 64;
	uint32_t ctr = job->ctr + (uint32_t)(pos / 64);

	if (left > 8)
		chacha_rows(blk, key, ctr, job->nonce, 3);
	else if (left > 4)
		chacha_rows(blk, key, ctr, job->nonce, 2);
	else
		chacha_rows(blk, key, ctr, job->nonce, 1);
	emit(&s, pos, blk, 12);
}

/* Blocks of one job in lanes [lane, lane + count) of a 16-lane run. */
struct segment {
	const struct chacha_job *job;
	size_t pos; /* keystream offset of the first block */
	unsigned int lane, count;
};

/* Where the next block comes from: job i, keystream offset pos.
 * resume[i]: where job i continues past the whole runs already done
 * from its start (stream_avx512), 0 when none was. */
struct cursor {
	size_t i, pos;
	const size_t *resume;
};

/* Skips finished jobs and done runs; false at the end. */
INLINE bool cursor_valid(struct cursor *c, const struct chacha_job *jobs,
			 size_t n)
{
	for (;;) {
		if (c->i >= n)
			return false;
		if (c->pos == 0)
			c->pos = c->resume[c->i];
		if (c->pos < job_total(&jobs[c->i]))
			return true;
		c->i++;
		c->pos = 0;
	}
}

/* Blocks left in the job at the cursor. */
INLINE size_t cursor_left(const struct cursor *c, const struct chacha_job *job)
{
	return (job_total(job) - c->pos + 63) / 64;
}

/* Sixteen lanes' counters and nonces from the blocks at the cursor on,
 * job after job; returns the segments. Lanes past the last job are left
 * at zero and never emitted. */
INLINE unsigned int fill16(struct segment seg[16], __m512i in[4],
			   struct cursor *c, const struct chacha_job *jobs,
			   size_t n)
{
	const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7,
					      6, 5, 4, 3, 2, 1, 0);
	unsigned int lanes = 0, nseg = 0, take, k;

	in[0] = in[1] = in[2] = in[3] = _mm512_setzero_si512();
	while (lanes < 16 && cursor_valid(c, jobs, n)) {
		const struct chacha_job *job = &jobs[c->i];
		size_t left = cursor_left(c, job);
		uint32_t first = job->ctr + (uint32_t)(c->pos / 64);
		__mmask16 m;

		take = left < 16 - lanes ? (unsigned int)left : 16 - lanes;
		m = (__mmask16)(((1U << take) - 1) << lanes);
		/* Lane lanes + t gets counter first + t. */
		in[0] = _mm512_mask_add_epi32(
		    in[0], m, _mm512_set1_epi32((int)(first - lanes)), iota);
		for (k = 0; k < 3; k++)
			in[k + 1] = _mm512_mask_mov_epi32(
			    in[k + 1], m,
			    _mm512_set1_epi32((int)job->nonce[k]));
		seg[nseg++] = (struct segment){job, c->pos, lanes, take};
		lanes += take;
		c->pos += 64 * (size_t)take;
	}
	return nseg;
}

/* Sixteen blocks of a job from keystream offset pos, when it has them:
 * they need no lanes of other jobs. At the key block (pos 0 with a
 * polykey), the key block and fifteen blocks of data. */
INLINE bool whole_run(const struct chacha_job *job, size_t pos,
		      const uint32_t key[8])
{
	const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7,
					      6, 5, 4, 3, 2, 1, 0);
	const struct sink s = job_sink(job);
	const __m512i ctr = _mm512_add_epi32(
	    _mm512_set1_epi32((int)(job->ctr + (uint32_t)(pos / 64))), iota);
	const __m512i n0 = _mm512_set1_epi32((int)job->nonce[0]);
	const __m512i n1 = _mm512_set1_epi32((int)job->nonce[1]);
	const __m512i n2 = _mm512_set1_epi32((int)job->nonce[2]);
	size_t off;
	__m512i ks[16];
	int i;

	if (pos < s.skip) {
		if (s.len < 15 * CHACHA_BLOCK_LEN)
			return false;
		chacha_lanes(ks, key, ctr, n0, n1, n2);
		store_block(s.polykey, &ks[0]);
		if (job->key_ready)
			job->key_ready(job);
#pragma GCC unroll 16
		for (i = 1; i < 16; i++)
			xor_block(s.dst + 64 * (i - 1), s.src + 64 * (i - 1),
				  &ks[i]);
		return true;
	}
	off = pos - s.skip;
	if (s.len - off < 16 * CHACHA_BLOCK_LEN)
		return false;
	chacha_lanes_xor(s.dst + off, s.src + off, key, ctr, n0, n1, n2);
	return true;
}

enum { STREAM_CHUNK = 64 };

/*
 * First every job's runs of sixteen whole blocks, each job on its own
 * (whole_run), its key block in the first run with fifteen blocks of
 * data. Then what is left, the tails (and the key blocks of jobs too
 * short for a run), laid end to end over sixteen lanes, so a batch of
 * packets keeps every lane busy, one segment of lanes a job; the tail
 * of the last job, when twelve blocks or fewer, goes through rows_tail
 * instead.
 */
TARGET static void stream_avx512_chunk(const struct chacha_job *jobs, size_t n,
				       const uint32_t key[8])
{
	size_t resume[STREAM_CHUNK];
	struct cursor c = {0, 0, resume};
	struct segment seg[16];
	__m512i blk[16], in[4];
	unsigned int nseg, j;

	for (j = 0; j < n; j++) {
		size_t pos = 0;

		while (whole_run(&jobs[j], pos, key))
			pos += 16 * CHACHA_BLOCK_LEN;
		resume[j] = pos;
	}
	while (cursor_valid(&c, jobs, n)) {
		if (c.i == n - 1 &&
		    job_total(&jobs[c.i]) - c.pos <= 12 * CHACHA_BLOCK_LEN) {
			rows_tail(&jobs[c.i], c.pos, key, blk);
			break;
		}
		nseg = fill16(seg, in, &c, jobs, n);
		chacha_lanes(blk, key, in[0], in[1], in[2], in[3]);
		for (j = 0; j < nseg; j++) {
			const struct sink s = job_sink(seg[j].job);

			emit(&s, seg[j].pos, blk + seg[j].lane, seg[j].count);
		}
	}
	aead_wipe(blk, sizeof(blk));
}

TARGET static void stream_avx512(const struct chacha_job *jobs, size_t n,
				 const uint32_t key[8])
{
	size_t i, k;

	for (i = 0; i < n; i += k) {
		k = n - i < STREAM_CHUNK ? n - i : STREAM_CHUNK;
		stream_avx512_chunk(jobs + i, k, key);
	}
}

/* ---- Poly1305, eight lanes of 26-bit limbs (poly1305_simd.h) ---- */

#define V_ADD64 _mm512_add_epi64
#define V_AND _mm512_and_si512
#define V_OR _mm512_or_si512
#define V_SRL64 _mm512_srli_epi64
#define V_SLL64 _mm512_slli_epi64
#define V_MUL32 _mm512_mul_epu32
#define V_SET1_64 _mm512_set1_epi64
#define V_LANE0(x) _mm512_maskz_set1_epi64(1, x)
#define V_BCAST_LANE0(v) _mm512_broadcastq_epi64(_mm512_castsi512_si128(v))
#define V_SUM64(v) ((uint64_t)_mm512_reduce_add_epi64(v))

/* Eight 16-byte blocks, block j in lane j. */
INLINE void poly_halves(const uint8_t *p, __m512i *lo, __m512i *hi)
{
	const __m512i even = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);
	const __m512i odd = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);
	__m512i a = _mm512_loadu_si512(p), b = _mm512_loadu_si512(p + 64);

	*lo = _mm512_permutex2var_epi64(a, even, b);
	*hi = _mm512_permutex2var_epi64(a, odd, b);
}

#include "poly1305_simd.h"

/* a where mask is set, 1 elsewhere. */
INLINE struct limbs select_or_one(__mmask8 k, struct limbs a)
{
	return (struct limbs){
	    _mm512_mask_mov_epi64(_mm512_set1_epi64(1), k, a.l0),
	    _mm512_maskz_mov_epi64(k, a.l1), _mm512_maskz_mov_epi64(k, a.l2),
	    _mm512_maskz_mov_epi64(k, a.l3), _mm512_maskz_mov_epi64(k, a.l4)};
}

/*
 * Lane j gets r^(8 - j). Starting from r everywhere, lane j is multiplied
 * by r, r^2 and r^4 where bits 0, 1 and 2 of 7 - j are set.
 */
INLINE struct limbs poly_powers(const struct poly1305 *st)
{
	struct limbs t = poly_r(st);

	t = mul_by(t, select_or_one(0x55, t));
	t = mul_by(t, select_or_one(0x33, broadcast_lane0(t)));
	return mul_by(t, select_or_one(0x0f, broadcast_lane0(t)));
}

/* Poly1305 on IFMA: poly1305_ifma.c. */
const struct chacha_poly_ops wg_chacha_avx512ifma_ops = {
    .stream = stream_avx512,
    .mac = wg_poly1305_ifma_mac,
    .mac_batch = wg_poly1305_ifma_mac_batch,
};

const struct chacha_poly_ops wg_chacha_avx512_ops = {
    .stream = stream_avx512,
    .mac = poly_mac,
};

#endif
