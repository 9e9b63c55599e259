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
 * table, wg_chacha_avx512ifma_ops, with its own target attribute).
 *
 * ChaCha20 and the 26-bit Poly1305 are written once, for AVX2 and AVX-512
 * alike, in chacha_simd.h and poly1305_simd.h; this file gives them their
 * AVX-512 words and keeps what is its own: how blocks leave the registers
 * (masked for a partial one), filling sixteen lanes from several jobs, and
 * the IFMA Poly1305.
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

/* Where the next block comes from: job i, keystream offset pos. */
struct cursor {
	size_t i, pos;
};

/* Skips finished jobs; false at the end. */
INLINE bool cursor_valid(struct cursor *c, const struct chacha_job *jobs,
			 size_t n)
{
	while (c->i < n && c->pos >= job_total(&jobs[c->i])) {
		c->i++;
		c->pos = 0;
	}
	return c->i < n;
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
		size_t left = (job_total(job) - c->pos + 63) / 64;
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

/*
 * Jobs are laid end to end over sixteen lanes, so a batch of packets
 * keeps every lane busy; the tail of the last job, when twelve blocks or
 * fewer, goes through rows_tail instead.
 */
TARGET static void stream_avx512(const struct chacha_job *jobs, size_t n,
				 const uint32_t key[8])
{
	struct cursor c = {0, 0};
	struct segment seg[16];
	__m512i blk[16], in[4];
	unsigned int nseg, j;

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

/* ---- Poly1305 with AVX-512 IFMA: eight lanes of 44-bit limbs ---- */

/*
 * h = h0 + h1 2^44 + h2 2^88. A 52-bit multiply-add gives each product's
 * low 52 bits and, separately, the bits above; those land 8 bits into
 * the next limb up (10 bits past 2^130 for the top limb, so times
 * 5 * 2^10 at the bottom). Products past 2^130 use s = 20 r, since
 * 2^132 = 20 modulo p.
 */
#define TARGET_IFMA                                                            \
	__attribute__((target("avx512f,avx512vl,avx512bw,avx512ifma")))
#define INLINE_IFMA static inline __attribute__((always_inline)) TARGET_IFMA

enum {
	/* Setup is cheaper than with 26-bit limbs. */
	POLY_IFMA_MIN_BLOCKS = 16,
};

struct limbs44 {
	__m512i l0, l1, l2;
};

/* lo[i] += the low 52 bits of h x_i, hi[i] += the bits above, lane by
 * lane. */
INLINE_IFMA void madd_row(__m512i lo[3], __m512i hi[3], __m512i h, __m512i x0,
			  __m512i x1, __m512i x2)
{
	lo[0] = _mm512_madd52lo_epu64(lo[0], h, x0);
	hi[0] = _mm512_madd52hi_epu64(hi[0], h, x0);
	lo[1] = _mm512_madd52lo_epu64(lo[1], h, x1);
	hi[1] = _mm512_madd52hi_epu64(hi[1], h, x1);
	lo[2] = _mm512_madd52lo_epu64(lo[2], h, x2);
	hi[2] = _mm512_madd52hi_epu64(hi[2], h, x2);
}

/* h * r lane by lane, given s1 = 20 r1, s2 = 20 r2; limbs below 2^46
 * in; out, limb 0 below 2^44 + 2^15, limb 1 below 2^44 + 2^10, limb 2
 * below 2^42. */
INLINE_IFMA struct limbs44 mul44(struct limbs44 h, struct limbs44 r, __m512i s1,
				 __m512i s2)
{
	const __m512i m44 = V_SET1_64((1LL << 44) - 1);
	const __m512i m42 = V_SET1_64((1LL << 42) - 1);
	const __m512i z = _mm512_setzero_si512();
	__m512i lo[3] = {z, z, z}, hi[3] = {z, z, z}, c;

	madd_row(lo, hi, h.l0, r.l0, r.l1, r.l2);
	madd_row(lo, hi, h.l1, s2, r.l0, r.l1);
	madd_row(lo, hi, h.l2, s1, s2, r.l0);

	lo[1] = V_ADD64(lo[1], V_SLL64(hi[0], 8));
	lo[2] = V_ADD64(lo[2], V_SLL64(hi[1], 8));
	lo[0] = V_ADD64(lo[0], V_ADD64(V_SLL64(hi[2], 12), V_SLL64(hi[2], 10)));

	c = V_SRL64(lo[0], 44);
	lo[0] = V_AND(lo[0], m44);
	lo[1] = V_ADD64(lo[1], c);
	c = V_SRL64(lo[1], 44);
	lo[1] = V_AND(lo[1], m44);
	lo[2] = V_ADD64(lo[2], c);
	c = V_SRL64(lo[2], 42);
	lo[2] = V_AND(lo[2], m42);
	/* Limb 0 may stay up to 2^15 over 44 bits: inputs may have 52. */
	lo[0] = V_ADD64(lo[0], V_ADD64(c, V_SLL64(c, 2)));
	return (struct limbs44){lo[0], lo[1], lo[2]};
}

INLINE_IFMA __m512i times20(__m512i v)
{
	return V_ADD64(V_SLL64(v, 4), V_SLL64(v, 2));
}

INLINE_IFMA struct limbs44 mul44_by(struct limbs44 a, struct limbs44 b)
{
	return mul44(a, b, times20(b.l1), times20(b.l2));
}

INLINE_IFMA struct limbs44 select44_or_one(__mmask8 k, struct limbs44 a)
{
	return (struct limbs44){_mm512_mask_mov_epi64(V_SET1_64(1), k, a.l0),
				_mm512_maskz_mov_epi64(k, a.l1),
				_mm512_maskz_mov_epi64(k, a.l2)};
}

INLINE_IFMA struct limbs44 broadcast44(struct limbs44 a)
{
	return (struct limbs44){V_BCAST_LANE0(a.l0), V_BCAST_LANE0(a.l1),
				V_BCAST_LANE0(a.l2)};
}

/* 2^64 radix (h2 <= 7) to 44-bit limbs. */
INLINE_IFMA void to_limbs44(uint64_t l[3], uint64_t h0, uint64_t h1,
			    uint64_t h2)
{
	const uint64_t m44 = (1ULL << 44) - 1;

	l[0] = h0 & m44;
	l[1] = (h0 >> 44 | h1 << 20) & m44;
	l[2] = h1 >> 24 | h2 << 40;
}

/* Lane j gets r^(8 - j), as in poly_powers. */
INLINE_IFMA struct limbs44 powers44(const struct poly1305 *st)
{
	uint64_t l[3];
	struct limbs44 t;

	to_limbs44(l, st->r0, st->r1, 0);
	t = (struct limbs44){V_SET1_64((long long)l[0]),
			     V_SET1_64((long long)l[1]),
			     V_SET1_64((long long)l[2])};
	aead_wipe(l, sizeof(l));
	t = mul44_by(t, select44_or_one(0x55, t));
	t = mul44_by(t, select44_or_one(0x33, broadcast44(t)));
	return mul44_by(t, select44_or_one(0x0f, broadcast44(t)));
}

/* Eight 16-byte blocks, block j in lane j, with the 2^128 bit. */
INLINE_IFMA struct limbs44 load44(const uint8_t *p)
{
	const __m512i m44 = V_SET1_64((1LL << 44) - 1);
	__m512i lo, hi;

	poly_halves(p, &lo, &hi);
	return (struct limbs44){
	    V_AND(lo, m44),
	    V_AND(V_OR(V_SRL64(lo, 44), V_SLL64(hi, 20)), m44),
	    V_OR(V_SRL64(hi, 24), V_SET1_64(1LL << 40)),
	};
}

/* Sums of lanes (each below 2^48) back to radix 2^64, h2 <= 4. */
INLINE_IFMA void from_limbs44(struct poly1305 *st, uint64_t l[3])
{
	const uint64_t m44 = (1ULL << 44) - 1, m42 = (1ULL << 42) - 1;

	l[1] += l[0] >> 44;
	l[0] &= m44;
	l[2] += l[1] >> 44;
	l[1] &= m44;
	l[0] += (l[2] >> 42) * 5;
	l[2] &= m42;
	l[1] += l[0] >> 44;
	l[0] &= m44;
	l[2] += l[1] >> 44;
	l[1] &= m44;
	st->h0 = l[0] | l[1] << 44;
	st->h1 = l[1] >> 20 | l[2] << 24;
	st->h2 = l[2] >> 40;
}

INLINE_IFMA struct limbs44 add44(struct limbs44 a, struct limbs44 b)
{
	return (struct limbs44){V_ADD64(a.l0, b.l0), V_ADD64(a.l1, b.l1),
				V_ADD64(a.l2, b.l2)};
}

/* h times the powers in p, lane by lane. */
INLINE_IFMA struct limbs44 mul44_pow(struct limbs44 h, const struct limbs44 *p)
{
	return mul44(h, *p, times20(p->l1), times20(p->l2));
}

/*
 * Two chains of eight lanes, sixteen blocks a step, each chain multiplied
 * by r^16: one chain alone would wait on its own multiplications. Chain
 * a takes blocks 0..7 of each sixteen, chain b blocks 8..15; at the end
 * lane j of a is multiplied by r^(16 - j), of b by r^(8 - j). A last
 * group of eight blocks joins b after both are multiplied by r^8.
 */
TARGET_IFMA static size_t poly_bulk_ifma(struct poly1305 *st, const uint8_t *m,
					 size_t n)
{
	struct limbs44 a, b, rp, rp16, r8, r16;
	uint64_t l[3];
	size_t groups = n / 16, g;

	if (n < POLY_IFMA_MIN_BLOCKS)
		return 0;
	rp = powers44(st);
	r8 = broadcast44(rp);
	rp16 = mul44_by(rp, r8);
	r16 = broadcast44(rp16);

	/* The h so far joins the first block. */
	to_limbs44(l, st->h0, st->h1, st->h2);
	a = load44(m);
	a.l0 = _mm512_mask_add_epi64(a.l0, 1, a.l0, V_SET1_64((long long)l[0]));
	a.l1 = _mm512_mask_add_epi64(a.l1, 1, a.l1, V_SET1_64((long long)l[1]));
	a.l2 = _mm512_mask_add_epi64(a.l2, 1, a.l2, V_SET1_64((long long)l[2]));
	b = load44(m + 128);
	for (g = 1; g < groups; g++) {
		a = add44(mul44_pow(a, &r16), load44(m + 256 * g));
		b = add44(mul44_pow(b, &r16), load44(m + 256 * g + 128));
	}
	if (n % 16 >= 8) {
		a = mul44_pow(a, &r8);
		b = add44(mul44_pow(b, &r8), load44(m + 256 * groups));
	}
	a = add44(mul44_pow(a, &rp16), mul44_pow(b, &rp));
	l[0] = V_SUM64(a.l0);
	l[1] = V_SUM64(a.l1);
	l[2] = V_SUM64(a.l2);
	from_limbs44(st, l);
	aead_wipe(l, sizeof(l));
	return n / 8 * 8;
}

static void mac_ifma(uint8_t tag[static 16], const uint8_t key[static 32],
		     const uint8_t *ad, size_t ad_len, const uint8_t *ct,
		     size_t ct_len)
{
	wg_poly1305_aead_mac(tag, key, ad, ad_len, ct, ct_len, poly_bulk_ifma);
}

const struct chacha_poly_ops wg_chacha_avx512ifma_ops = {
    .stream = stream_avx512,
    .mac = mac_ifma,
};

const struct chacha_poly_ops wg_chacha_avx512_ops = {
    .stream = stream_avx512,
    .mac = poly_mac,
};

#endif
