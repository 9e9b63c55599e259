/* SPDX-License-Identifier: MIT */
/*
 * Bulk Poly1305 in 26-bit limbs, one Horner chain per 64-bit lane, written
 * once for chacha_avx2.c (four lanes) and chacha_avx512.c (eight). Each
 * chain multiplies by r^POLY_LANES per step; at the end each lane is
 * multiplied by the power of r its last block needs and the lanes are
 * summed.
 *
 * A template: the including file first defines its vector vocabulary,
 * all of it within the target attribute,
 *
 *   vec, VEC_BYTES       the vector type and its size in bytes
 *   TARGET, INLINE       the target attribute; static always_inline TARGET
 *   POLY_VEC_MIN_BLOCKS  below this many blocks, leave all to scalar code
 *   V_ADD64, V_AND, V_OR, V_SRL64, V_SLL64   lane-wise, shifts by constants
 *   V_MUL32(a, b)        low 32 bits of each 64-bit lane, multiplied to 64
 *   V_SET1_64(x)         x in every lane; V_LANE0(x): in lane 0, zeros after
 *   V_BCAST_LANE0(v)     lane 0 of v in every lane
 *   V_SUM64(v)           the sum of the lanes, as uint64_t
 *   poly_halves(p, lo, hi)  POLY_LANES 16-byte blocks from p: low halves
 *                        to *lo, high halves to *hi, in the file's order
 *
 * then includes this header, then defines poly_powers (declared below),
 * which knows in which lane poly_halves puts which block. The header's
 * poly_mac is the mac of the file's struct chacha_poly_ops.
 */
#ifndef WGPIPE_POLY1305_SIMD_H
#define WGPIPE_POLY1305_SIMD_H

enum {
	POLY_LANES = VEC_BYTES / 8,
};

/* Five limbs of 26 bits (the top one 24, plus carries), one value per
 * 64-bit lane. */
struct limbs {
	vec l0, l1, l2, l3, l4;
};

/* h * r, lane by lane, given s = 5 r; limbs below 2^27.5 in, below
 * 2^26 + 2^9 out. */
INLINE struct limbs poly_mul(struct limbs h, struct limbs r, struct limbs s)
{
	const vec m26 = V_SET1_64((1 << 26) - 1);
	vec d0, d1, d2, d3, d4, c;

#define ADD V_ADD64
#define MUL V_MUL32
	d0 = ADD(ADD(MUL(h.l0, r.l0), MUL(h.l1, s.l4)),
		 ADD(ADD(MUL(h.l2, s.l3), MUL(h.l3, s.l2)), MUL(h.l4, s.l1)));
	d1 = ADD(ADD(MUL(h.l0, r.l1), MUL(h.l1, r.l0)),
		 ADD(ADD(MUL(h.l2, s.l4), MUL(h.l3, s.l3)), MUL(h.l4, s.l2)));
	d2 = ADD(ADD(MUL(h.l0, r.l2), MUL(h.l1, r.l1)),
		 ADD(ADD(MUL(h.l2, r.l0), MUL(h.l3, s.l4)), MUL(h.l4, s.l3)));
	d3 = ADD(ADD(MUL(h.l0, r.l3), MUL(h.l1, r.l2)),
		 ADD(ADD(MUL(h.l2, r.l1), MUL(h.l3, r.l0)), MUL(h.l4, s.l4)));
	d4 = ADD(ADD(MUL(h.l0, r.l4), MUL(h.l1, r.l3)),
		 ADD(ADD(MUL(h.l2, r.l2), MUL(h.l3, r.l1)), MUL(h.l4, r.l0)));
#undef MUL

	/* Two carry chains at once: 0->1->2->3 and 3->4->0->1. */
#define CARRY(from, to)                                                        \
	do {                                                                   \
		c = V_SRL64(from, 26);                                         \
		from = V_AND(from, m26);                                       \
		to = ADD(to, c);                                               \
	} while (0)
	CARRY(d0, d1);
	CARRY(d3, d4);
	CARRY(d1, d2);
	c = V_SRL64(d4, 26);
	d4 = V_AND(d4, m26);
	d0 = ADD(d0, ADD(c, V_SLL64(c, 2)));
	CARRY(d2, d3);
	CARRY(d0, d1);
	CARRY(d3, d4);
#undef CARRY
#undef ADD
	return (struct limbs){d0, d1, d2, d3, d4};
}

INLINE struct limbs times5(struct limbs r)
{
	return (struct limbs){
	    V_ADD64(r.l0, V_SLL64(r.l0, 2)), V_ADD64(r.l1, V_SLL64(r.l1, 2)),
	    V_ADD64(r.l2, V_SLL64(r.l2, 2)), V_ADD64(r.l3, V_SLL64(r.l3, 2)),
	    V_ADD64(r.l4, V_SLL64(r.l4, 2)),
	};
}

INLINE struct limbs add_limbs(struct limbs a, struct limbs b)
{
	return (struct limbs){V_ADD64(a.l0, b.l0), V_ADD64(a.l1, b.l1),
			      V_ADD64(a.l2, b.l2), V_ADD64(a.l3, b.l3),
			      V_ADD64(a.l4, b.l4)};
}

/* Lane 0's value in every lane. */
INLINE struct limbs broadcast_lane0(struct limbs a)
{
	return (struct limbs){V_BCAST_LANE0(a.l0), V_BCAST_LANE0(a.l1),
			      V_BCAST_LANE0(a.l2), V_BCAST_LANE0(a.l3),
			      V_BCAST_LANE0(a.l4)};
}

INLINE struct limbs mul_by(struct limbs a, struct limbs b)
{
	return poly_mul(a, b, times5(b));
}

/* r in every lane, where poly_powers starts. */
INLINE struct limbs poly_r(const struct poly1305 *st)
{
	uint64_t l[5];
	struct limbs t;

	poly1305_to_limbs(l, st->r0, st->r1, 0);
	t = (struct limbs){
	    V_SET1_64((long long)l[0]), V_SET1_64((long long)l[1]),
	    V_SET1_64((long long)l[2]), V_SET1_64((long long)l[3]),
	    V_SET1_64((long long)l[4])};
	aead_wipe(l, sizeof(l));
	return t;
}

/* Defined by the including file: in each lane, the power of r that the
 * last block in that lane needs (r^POLY_LANES in lane 0). */
INLINE struct limbs poly_powers(const struct poly1305 *st);

/* POLY_LANES 16-byte blocks as limbs, with the 2^128 bit. */
INLINE struct limbs poly_load(const uint8_t *p)
{
	const vec m26 = V_SET1_64((1 << 26) - 1);
	vec lo, hi;

	poly_halves(p, &lo, &hi);
	return (struct limbs){
	    V_AND(lo, m26),
	    V_AND(V_SRL64(lo, 26), m26),
	    V_AND(V_OR(V_SRL64(lo, 52), V_SLL64(hi, 12)), m26),
	    V_AND(V_SRL64(hi, 14), m26),
	    V_OR(V_SRL64(hi, 40), V_SET1_64(1 << 24)),
	};
}

/* A poly1305_bulk_fn: whole groups of POLY_LANES blocks, one block of
 * each group per lane. */
TARGET static size_t poly_bulk(struct poly1305 *st, const uint8_t *m, size_t n)
{
	struct limbs h, rp, sp, rn, sn;
	uint64_t l[5];
	size_t groups = n / POLY_LANES, g;

	if (n < POLY_VEC_MIN_BLOCKS)
		return 0;
	rp = poly_powers(st);
	sp = times5(rp);
	rn = broadcast_lane0(rp); /* r^POLY_LANES in every lane */
	sn = times5(rn);

	/* The h so far joins the first block. */
	poly1305_to_limbs(l, st->h0, st->h1, st->h2);
	h = add_limbs(poly_load(m), (struct limbs){V_LANE0((long long)l[0]),
						   V_LANE0((long long)l[1]),
						   V_LANE0((long long)l[2]),
						   V_LANE0((long long)l[3]),
						   V_LANE0((long long)l[4])});
	for (g = 1; g < groups; g++)
		h = add_limbs(poly_mul(h, rn, sn),
			      poly_load(m + 16 * POLY_LANES * g));
	h = poly_mul(h, rp, sp);
	l[0] = V_SUM64(h.l0);
	l[1] = V_SUM64(h.l1);
	l[2] = V_SUM64(h.l2);
	l[3] = V_SUM64(h.l3);
	l[4] = V_SUM64(h.l4);
	poly1305_from_limbs(st, l);
	aead_wipe(l, sizeof(l));
	return groups * POLY_LANES;
}

/* The ops table's mac: RFC 8439's tag, poly_bulk taking the long runs. */
static void poly_mac(uint8_t tag[static 16], const uint8_t key[static 32],
		     const uint8_t *ad, size_t ad_len, const uint8_t *ct,
		     size_t ct_len)
{
	wg_poly1305_aead_mac(tag, key, ad, ad_len, ct, ct_len, poly_bulk);
}

#endif
