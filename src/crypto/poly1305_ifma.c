// SPDX-License-Identifier: MIT
/*
 * Poly1305 with AVX-512 IFMA, eight lanes of 44-bit limbs: the MAC of
 * the avx512 implementation where the CPU has the 52-bit multiply-adds
 * (wg_chacha_avx512ifma_ops in chacha_avx512.c). Written from RFC 8439
 * and the Intel intrinsics guide; only the functions below carry the
 * target attribute, and aead.c calls them only on such a CPU.
 *
 * The lanes are filled two ways:
 *   one message: two chains of eight lanes, blocks j and j + 8 of every
 *     sixteen, each chain multiplied by r^16 a step and lane j by its own
 *     power of r at the end (wg_poly1305_ifma_mac);
 *   a batch: eight messages, one per lane, each lane with its own r and
 *     its own length, two such groups side by side so that the one's
 *     multiplications run while the other's wait (mac_batch).
 */
#include "aead.h"

#if defined(__x86_64__)

#include <immintrin.h>
#include <string.h>

#define TARGET __attribute__((target("avx512f,avx512vl,avx512bw,avx512ifma")))
#define INLINE static inline __attribute__((always_inline)) TARGET

#define V_ADD64 _mm512_add_epi64
#define V_AND _mm512_and_si512
#define V_OR _mm512_or_si512
#define V_SRL64 _mm512_srli_epi64
#define V_SLL64 _mm512_slli_epi64
#define V_SET1_64 _mm512_set1_epi64
#define V_BCAST_LANE0(v) _mm512_broadcastq_epi64(_mm512_castsi512_si128(v))
#define V_SUM64(v) ((uint64_t)_mm512_reduce_add_epi64(v))

enum {
	/* Below this many blocks the scalar Poly1305 is faster than
	 * computing r^2..r^16. */
	POLY_IFMA_MIN_BLOCKS = 16,
	/* Fewer messages than this in a batch take the one-message code:
	 * a group of lanes costs as much however few it holds. */
	LANES_MIN_MESSAGES = 4,
	/* Longer messages take the one-message code, whose two chains
	 * reach further per multiplication (fewer shuffles per block)
	 * once the setup is paid. */
	LANES_MAX_LEN = 2048,
	LANES = 8,
};

/* ---- Arithmetic modulo 2^130 - 5 in 44-bit limbs ---- */

/*
 * h = h0 + h1 2^44 + h2 2^88. A 52-bit multiply-add gives each product's
 * low 52 bits and, separately, the bits above; those land 8 bits into
 * the next limb up (10 bits past 2^130 for the top limb, so times
 * 5 * 2^10 at the bottom). Products past 2^130 use s = 20 r, since
 * 2^132 = 20 modulo p.
 */
struct limbs44 {
	__m512i l0, l1, l2;
};

/* lo[i] += the low 52 bits of h x_i, hi[i] += the bits above, lane by
 * lane. */
INLINE void madd_row(__m512i lo[3], __m512i hi[3], __m512i h, __m512i x0,
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
 * in (products below 2^95, their high parts below 2^43); out, limbs 0
 * and 1 below 2^44 + 2^15, limb 2 below 2^42 + 2^11. */
INLINE struct limbs44 mul44(struct limbs44 h, struct limbs44 r, __m512i s1,
			    __m512i s2)
{
	const __m512i m44 = V_SET1_64((1LL << 44) - 1);
	const __m512i m42 = V_SET1_64((1LL << 42) - 1);
	const __m512i z = _mm512_setzero_si512();
	__m512i lo[3] = {z, z, z}, hi[3] = {z, z, z}, c0, c1, c2;

	madd_row(lo, hi, h.l0, r.l0, r.l1, r.l2);
	madd_row(lo, hi, h.l1, s2, r.l0, r.l1);
	madd_row(lo, hi, h.l2, s1, s2, r.l0);

	lo[1] = V_ADD64(lo[1], V_SLL64(hi[0], 8));
	lo[2] = V_ADD64(lo[2], V_SLL64(hi[1], 8));
	lo[0] = V_ADD64(lo[0], V_ADD64(V_SLL64(hi[2], 12), V_SLL64(hi[2], 10)));

	/* The three carries at once, not one after the other: a shorter
	 * chain from one step to the next. */
	c0 = V_SRL64(lo[0], 44);
	c1 = V_SRL64(lo[1], 44);
	c2 = V_SRL64(lo[2], 42);
	lo[0] = V_ADD64(V_AND(lo[0], m44), V_ADD64(c2, V_SLL64(c2, 2)));
	lo[1] = V_ADD64(V_AND(lo[1], m44), c0);
	lo[2] = V_ADD64(V_AND(lo[2], m42), c1);
	return (struct limbs44){lo[0], lo[1], lo[2]};
}

INLINE __m512i times20(__m512i v)
{
	return V_ADD64(V_SLL64(v, 4), V_SLL64(v, 2));
}

INLINE struct limbs44 mul44_by(struct limbs44 a, struct limbs44 b)
{
	return mul44(a, b, times20(b.l1), times20(b.l2));
}

INLINE struct limbs44 add44(struct limbs44 a, struct limbs44 b)
{
	return (struct limbs44){V_ADD64(a.l0, b.l0), V_ADD64(a.l1, b.l1),
				V_ADD64(a.l2, b.l2)};
}

/* 2^64 radix (h2 <= 7) to 44-bit limbs. */
INLINE void to_limbs44(uint64_t l[3], uint64_t h0, uint64_t h1, uint64_t h2)
{
	const uint64_t m44 = (1ULL << 44) - 1;

	l[0] = h0 & m44;
	l[1] = (h0 >> 44 | h1 << 20) & m44;
	l[2] = h1 >> 24 | h2 << 40;
}

/* Limbs (or sums of lanes), each below 2^50, back to radix 2^64 with
 * h2 <= 4. */
INLINE void from_limbs44(struct poly1305 *st, uint64_t l[3])
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

/* 128-bit values (low and high 64 bits a lane) as 44-bit limbs. */
INLINE struct limbs44 split128(__m512i lo, __m512i hi)
{
	const __m512i m44 = V_SET1_64((1LL << 44) - 1);

	return (struct limbs44){
	    V_AND(lo, m44),
	    V_AND(V_OR(V_SRL64(lo, 44), V_SLL64(hi, 20)), m44),
	    V_SRL64(hi, 24),
	};
}

/* Sixteen-byte blocks as limbs with the 2^128 bit, from their low and
 * high halves (block j of each in lane j). */
INLINE struct limbs44 split44(__m512i lo, __m512i hi)
{
	struct limbs44 l = split128(lo, hi);

	l.l2 = V_OR(l.l2, V_SET1_64(1LL << 40));
	return l;
}

/* ---- One message: two chains of eight lanes ---- */

INLINE struct limbs44 select44_or_one(__mmask8 k, struct limbs44 a)
{
	return (struct limbs44){_mm512_mask_mov_epi64(V_SET1_64(1), k, a.l0),
				_mm512_maskz_mov_epi64(k, a.l1),
				_mm512_maskz_mov_epi64(k, a.l2)};
}

INLINE struct limbs44 broadcast44(struct limbs44 a)
{
	return (struct limbs44){V_BCAST_LANE0(a.l0), V_BCAST_LANE0(a.l1),
				V_BCAST_LANE0(a.l2)};
}

/*
 * Lane j gets r^(8 - j). Starting from r everywhere, lane j is multiplied
 * by r, r^2 and r^4 where bits 0, 1 and 2 of 7 - j are set.
 */
INLINE struct limbs44 powers44(const struct poly1305 *st)
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

/* Eight consecutive 16-byte blocks, block j in lane j. */
INLINE struct limbs44 load44(const uint8_t *p)
{
	const __m512i even = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);
	const __m512i odd = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);
	__m512i a = _mm512_loadu_si512(p), b = _mm512_loadu_si512(p + 64);

	return split44(_mm512_permutex2var_epi64(a, even, b),
		       _mm512_permutex2var_epi64(a, odd, b));
}

/* h times the powers in p, lane by lane. */
INLINE struct limbs44 mul44_pow(struct limbs44 h, const struct limbs44 *p)
{
	return mul44(h, *p, times20(p->l1), times20(p->l2));
}

/*
 * A poly1305_bulk_fn. One chain alone would wait on its own
 * multiplications, so there are two: chain a takes blocks 0..7 of each
 * sixteen, chain b blocks 8..15, each multiplied by r^16 a step; at the
 * end lane j of a is multiplied by r^(16 - j), of b by r^(8 - j). A last
 * group of eight blocks joins b after both are multiplied by r^8.
 */
TARGET static size_t poly_bulk_ifma(struct poly1305 *st, const uint8_t *m,
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

void wg_poly1305_ifma_mac(uint8_t tag[static 16], const uint8_t key[static 32],
			  const uint8_t *ad, size_t ad_len, const uint8_t *ct,
			  size_t ct_len)
{
	wg_poly1305_aead_mac(tag, key, ad, ad_len, ct, ct_len, poly_bulk_ifma);
}

/* ---- A batch: one message per lane ---- */

/*
 * Eight messages (no AD), lane i with message i's r and its own count
 * of blocks: the padded ciphertext, then the length block. Every step
 * takes one block of each lane, h = (h + block) * r; a lane past its
 * last block keeps its h. Blocks come two steps at a time, 32 bytes
 * of each message, near its end loaded under a mask that stops there
 * (the padding reads as zeros), and turned so that lane i holds
 * message i.
 *
 * The registers of a group apart from its messages, so that they stay
 * in registers.
 */
struct lanes {
	struct limbs44 h, r;
	__m512i s1, s2;
	__m512i last;	/* each lane's last step: its count of blocks - 1 */
	__m512i ct_len; /* the length block's high half */
};

struct lane_jobs {
	const struct mac_job *job[LANES];
	unsigned int count;
};

/* Each lane's 128-bit key half at offset off (0: r, 16: s), from up
 * to count jobs, as its low and high 64 bits; zeros in unused lanes.
 * This file is for x86-64 only: the key's bytes are little-endian
 * words as they are. */
INLINE void lane_key_words(__m512i *lo, __m512i *hi,
			   const struct mac_job *const jobs[],
			   unsigned int count, size_t off)
{
	uint64_t w[2][LANES] = {{0}};
	unsigned int i;

	for (i = 0; i < count; i++) {
		memcpy(&w[0][i], jobs[i]->key + off, 8);
		memcpy(&w[1][i], jobs[i]->key + off + 8, 8);
	}
	*lo = _mm512_loadu_si512(w[0]);
	*hi = _mm512_loadu_si512(w[1]);
	aead_wipe(w, sizeof(w));
}

/* A group from up to eight jobs; unused lanes have r = 0 and one
 * block. Each lane's r, clamped as RFC 8439 says, side by side. */
INLINE void lanes_init(struct lanes *g, struct lane_jobs *m,
		       const struct mac_job *const jobs[], size_t count)
{
	uint64_t last[LANES] = {0}, len[LANES] = {0};
	__m512i lo, hi;
	unsigned int i;

	m->count = count < LANES ? (unsigned int)count : LANES;
	for (i = 0; i < m->count; i++) {
		m->job[i] = jobs[i];
		len[i] = jobs[i]->len;
		last[i] = (jobs[i]->len + 15) / 16;
	}
	lane_key_words(&lo, &hi, m->job, m->count, 0);
	g->r = split128(V_AND(lo, V_SET1_64(0x0ffffffc0fffffffLL)),
			V_AND(hi, V_SET1_64(0x0ffffffc0ffffffcLL)));
	g->s1 = times20(g->r.l1);
	g->s2 = times20(g->r.l2);
	g->h = (struct limbs44){_mm512_setzero_si512(), _mm512_setzero_si512(),
				_mm512_setzero_si512()};
	g->last = _mm512_loadu_si512(last);
	g->ct_len = _mm512_loadu_si512(len);
}

/* Bytes [16 step, 16 step + 32) of message i; full: the message has
 * them all, else zeros past its end (and for a lane without one). */
INLINE __m256i lane_chunk(const struct lane_jobs *m, unsigned int i,
			  size_t step, bool full)
{
	size_t off = 16 * step, len;
	__mmask32 k;

	if (full)
		return _mm256_loadu_si256(
		    (const __m256i *)(m->job[i]->msg + off));
	if (i >= m->count || off >= m->job[i]->len)
		return _mm256_setzero_si256();
	len = m->job[i]->len - off;
	k = len >= 32 ? ~(__mmask32)0 : ((__mmask32)1 << len) - 1;
	return _mm256_maskz_loadu_epi8(k, m->job[i]->msg + off);
}

/*
 * Two blocks of every lane from step on (lane_chunk): t[0] and t[1] the
 * low and high halves of the first block, lane i for message i, t[2]
 * and t[3] of the second. Two blocks at a time, not four, so that two
 * groups' blocks and state fit in the register file.
 */
INLINE void lanes_load2(const struct lane_jobs *m, size_t step, __m512i t[4],
			bool full)
{
	__m512i z[4], lo[2], hi[2];
	unsigned int k;

	/* z[k]: message 4 (k / 2) + k % 2 in 256-bit half 0, that + 2 in
	 * half 1; each 128-bit lane one block. Both loops unrolled, or GCC
	 * keeps z[] on the stack: the tags of 64 messages of 1420 bytes
	 * took 5 % longer. */
#pragma GCC unroll 4
	for (k = 0; k < 4; k++) {
		unsigned int i = 4 * (k / 2) + k % 2;

		z[k] = _mm512_inserti64x4(
		    _mm512_castsi256_si512(lane_chunk(m, i, step, full)),
		    lane_chunk(m, i + 2, step, full), 1);
	}
	/* 128-bit lane L of lo[0]: low halves of messages 0, 1 (L = 0, 1:
	 * blocks 0, 1) or 2, 3 (L = 2, 3); lo[1] the same for 4..7. */
#pragma GCC unroll 2
	for (k = 0; k < 2; k++) {
		lo[k] = _mm512_unpacklo_epi64(z[2 * k], z[2 * k + 1]);
		hi[k] = _mm512_unpackhi_epi64(z[2 * k], z[2 * k + 1]);
	}
	t[0] = _mm512_shuffle_i64x2(lo[0], lo[1], 0x88);
	t[1] = _mm512_shuffle_i64x2(hi[0], hi[1], 0x88);
	t[2] = _mm512_shuffle_i64x2(lo[0], lo[1], 0xdd);
	t[3] = _mm512_shuffle_i64x2(hi[0], hi[1], 0xdd);
}

/* One step of every lane, the block in halves lo and hi; full: no
 * lane's last block is near. */
INLINE void lanes_step(struct lanes *g, __m512i lo, __m512i hi, size_t step,
		       bool full)
{
	const __m512i now = V_SET1_64((long long)step);
	__mmask8 live = _mm512_cmple_epu64_mask(now, g->last);
	__mmask8 last = _mm512_cmpeq_epi64_mask(now, g->last);
	struct limbs44 h;

	if (full) {
		g->h = mul44(add44(g->h, split44(lo, hi)), g->r, g->s1, g->s2);
		return;
	}
	/* The length block: zero AD length, then the ciphertext's. */
	hi = _mm512_mask_mov_epi64(hi, last, g->ct_len);
	h = mul44(add44(g->h, split44(lo, hi)), g->r, g->s1, g->s2);
	g->h.l0 = _mm512_mask_mov_epi64(g->h.l0, live, h.l0);
	g->h.l1 = _mm512_mask_mov_epi64(g->h.l1, live, h.l1);
	g->h.l2 = _mm512_mask_mov_epi64(g->h.l2, live, h.l2);
}

/* a + b with the carries of limbs 0 and 1 passed up. */
INLINE struct limbs44 add44_carry(struct limbs44 a, struct limbs44 b)
{
	const __m512i m44 = V_SET1_64((1LL << 44) - 1);
	__m512i l0 = V_ADD64(a.l0, b.l0), l1, l2;

	l1 = V_ADD64(V_ADD64(a.l1, b.l1), V_SRL64(l0, 44));
	l2 = V_ADD64(V_ADD64(a.l2, b.l2), V_SRL64(l1, 44));
	return (struct limbs44){V_AND(l0, m44), V_AND(l1, m44), l2};
}

/*
 * Each lane's h to its tag, all lanes at once: h fully reduced modulo
 * 2^130 - 5, plus s, modulo 2^128 (RFC 8439, 2.5.1). The steps leave
 * limbs below 2^45; a first pass brings them below 2^44 (limb 2 below
 * 2^42, its carry times 5 at the bottom), leaving h < 2^130 + 2^44 at
 * most. Then h - p = h + 5 - 2^130 is taken where that is not negative,
 * i.e. where h + 5 reaches 2^130.
 */
INLINE void lanes_finish(const struct lanes *g, const struct lane_jobs *m)
{
	const __m512i zero = _mm512_setzero_si512();
	const __m512i m42 = V_SET1_64((1LL << 42) - 1);
	const struct limbs44 none = {zero, zero, zero};
	const struct limbs44 five = {V_SET1_64(5), zero, zero};
	uint64_t tag[2][LANES];
	struct limbs44 h, hp;
	__m512i lo, hi, c;
	__mmask8 ge;
	unsigned int i;

	h = add44_carry(g->h, none);
	c = V_SRL64(h.l2, 42);
	h.l2 = V_AND(h.l2, m42);
	h.l0 = V_ADD64(h.l0, V_ADD64(c, V_SLL64(c, 2)));
	h = add44_carry(h, none);

	hp = add44_carry(h, five);
	ge = _mm512_test_epi64_mask(hp.l2, V_SET1_64(1LL << 42));
	h.l0 = _mm512_mask_mov_epi64(h.l0, ge, hp.l0);
	h.l1 = _mm512_mask_mov_epi64(h.l1, ge, hp.l1);
	h.l2 = _mm512_mask_mov_epi64(h.l2, ge, V_AND(hp.l2, m42));

	lane_key_words(&lo, &hi, m->job, m->count, 16);
	h = add44_carry(h, split128(lo, hi));
	lo = V_OR(h.l0, V_SLL64(h.l1, 44));
	hi = V_OR(V_SRL64(h.l1, 20), V_SLL64(h.l2, 24));
	_mm512_storeu_si512(tag[0], lo);
	_mm512_storeu_si512(tag[1], hi);
	for (i = 0; i < m->count; i++) {
		memcpy(m->job[i]->tag, &tag[0][i], 8);
		memcpy(m->job[i]->tag + 8, &tag[1][i], 8);
	}
}

/*
 * Two steps of up to sixteen messages, longest first: two groups whose
 * steps take turns, so that the one's multiplications run while the
 * other's wait (two is a constant where this is inlined); full as in
 * lanes_step, and every lane has both blocks whole.
 */
INLINE void two_steps(struct lanes *a, struct lanes *b,
		      const struct lane_jobs *ma, const struct lane_jobs *mb,
		      size_t s, bool two, bool full)
{
	__m512i ta[4], tb[4];

	lanes_load2(ma, s, ta, full);
	if (two)
		lanes_load2(mb, s, tb, full);
	lanes_step(a, ta[0], ta[1], s, full);
	if (two)
		lanes_step(b, tb[0], tb[1], s, full);
	lanes_step(a, ta[2], ta[3], s + 1, full);
	if (two)
		lanes_step(b, tb[2], tb[3], s + 1, full);
}

/* The steps while every lane has two whole blocks left go without
 * masks, when every lane has a message: the shortest is last. */
INLINE void mac_groups(const struct mac_job *const jobs[], size_t n, bool two)
{
	size_t steps = (jobs[0]->len + 15) / 16 + 1, s = 0, fast = 0;
	struct lane_jobs ma, mb;
	struct lanes a, b;

	lanes_init(&a, &ma, jobs, n);
	if (two)
		lanes_init(&b, &mb, jobs + LANES, n - LANES);
	if (n == (two ? 2 : 1) * LANES)
		fast = jobs[n - 1]->len / 32 * 2;
#pragma GCC unroll 2
	for (; s < fast; s += 2)
		two_steps(&a, &b, &ma, &mb, s, two, true);
	for (; s < steps; s += 2)
		two_steps(&a, &b, &ma, &mb, s, two, false);
	lanes_finish(&a, &ma);
	if (two)
		lanes_finish(&b, &mb);
}

TARGET static void mac_eight(const struct mac_job *const jobs[], size_t n)
{
	mac_groups(jobs, n, false);
}

TARGET static void mac_sixteen(const struct mac_job *const jobs[], size_t n)
{
	mac_groups(jobs, n, true);
}

/*
 * The groups' h and r are not wiped where they are kept: taking their
 * address would keep them in memory for the whole loop, stored and
 * reloaded at every step (9.5 against 10.4 GB/s). They stay in
 * registers, and what the compiler spills of them is in mac_sixteen's
 * frame (under 3 KiB); this zeroes a frame deeper than that, at the same
 * depth, after the batch.
 */
static __attribute__((noinline)) void wipe_lanes_frame(void)
{
	uint8_t frame[8192];

	aead_wipe(frame, sizeof(frame));
}

/* Longest first, so that a group's lanes end at about the same step. */
static void sort_by_length(const struct mac_job *order[], size_t n)
{
	size_t i, j;

	for (i = 1; i < n; i++) {
		const struct mac_job *x = order[i];

		for (j = i; j > 0 && order[j - 1]->len < x->len; j--)
			order[j] = order[j - 1];
		order[j] = x;
	}
}

void wg_poly1305_ifma_mac_batch(const struct mac_job *jobs, size_t n)
{
	const struct mac_job *order[WG_MAC_BATCH_MAX];
	size_t i, k;

	for (i = 0; i < n; i++)
		order[i] = &jobs[i];
	sort_by_length(order, n);
	for (i = 0; i < n && order[i]->len > LANES_MAX_LEN; i++)
		wg_poly1305_ifma_mac(order[i]->tag, order[i]->key, NULL, 0,
				     order[i]->msg, order[i]->len);
	for (; n - i >= LANES_MIN_MESSAGES; i += k) {
		k = n - i < 2 * LANES ? n - i : 2 * LANES;
		if (k > LANES)
			mac_sixteen(order + i, k);
		else
			mac_eight(order + i, k);
	}
	for (; i < n; i++)
		wg_poly1305_ifma_mac(order[i]->tag, order[i]->key, NULL, 0,
				     order[i]->msg, order[i]->len);
	wipe_lanes_frame();
}

#endif
