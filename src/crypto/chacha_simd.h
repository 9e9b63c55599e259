/* SPDX-License-Identifier: MIT */
/*
 * ChaCha20 over vector registers, written once for chacha_avx2.c and
 * chacha_avx512.c, in two forms: one block per 32-bit lane (state word i
 * of every block in register i: eight or sixteen blocks, each lane with
 * its own counter and nonce), and one block per 128-bit lane (its four
 * rows in four registers: two or four blocks a set, up to three sets).
 * Then the keystream blocks go where a job wants them (emit).
 *
 * A template: the including file first defines its vector vocabulary,
 * all of it within the target attribute,
 *
 *   vec, VEC_BYTES       the vector type and its size in bytes
 *   TARGET, INLINE       the target attribute; static always_inline TARGET
 *   V_ADD32, V_XOR       lane-wise
 *   V_ROL32(v, n)        rotate each 32-bit lane left by a constant
 *   V_SHUF32(v, imm)     _mm_shuffle_epi32 in each 128-bit lane
 *   V_UNPACKLO32, V_UNPACKHI32, V_UNPACKLO64, V_UNPACKHI64   likewise
 *   V_SET1_32(x)         x in every 32-bit lane
 *   V_BCAST128(x)        an __m128i in every 128-bit lane
 *   ROW_IOTA, ROW_STEP   word 0 of 128-bit lane L holds L, or the number
 *                        of 128-bit lanes; the other words 0
 *   ks_block             a 64-byte keystream block as the file keeps it
 *   rows_to_blocks(out, stride, a, b, c, d)
 *                        128-bit lane L of a, b, c, d (in that order) to
 *                        block out[L * stride]
 *   store_block(dst, b), xor_block(dst, src, b), xor_partial(dst, src, b, n)
 *                        a block to memory: as it is, XORed with 64 bytes
 *                        of src, or with the first n < 64
 *
 * then includes this header.
 */
#ifndef WGPIPE_CHACHA_SIMD_H
#define WGPIPE_CHACHA_SIMD_H

enum {
	CHACHA_LANES = VEC_BYTES / 4, /* blocks in the one-per-word form */
	ROW_BLOCKS = VEC_BYTES / 16,  /* blocks in a set of rows */
};

static const uint32_t sigma[4] = {0x61707865, 0x3320646e, 0x79622d32,
				  0x6b206574};

/* ---- One block per 32-bit lane: register i holds word i of each ---- */

/*
 * The state words of column i (s = 0) or diagonal i (s = 1): i,
 * 4 + (i + s) % 4, 8 + (i + 2 s) % 4 and 12 + (i + 3 s) % 4.
 */
#define WA(i, s) (i)
#define WB(i, s) (4 + ((i) + (s)) % 4)
#define WC(i, s) (8 + ((i) + 2 * (s)) % 4)
#define WD(i, s) (12 + ((i) + 3 * (s)) % 4)

/* One step of the quarter round, a += b, d = (d ^ a) <<< n, in the four
 * columns or diagonals side by side; a, b, d are among WA..WD. */
#define STEP4(x, s, a, b, d, n)                                                \
	do {                                                                   \
		x[a(0, s)] = V_ADD32(x[a(0, s)], x[b(0, s)]);                  \
		x[a(1, s)] = V_ADD32(x[a(1, s)], x[b(1, s)]);                  \
		x[a(2, s)] = V_ADD32(x[a(2, s)], x[b(2, s)]);                  \
		x[a(3, s)] = V_ADD32(x[a(3, s)], x[b(3, s)]);                  \
		x[d(0, s)] = V_ROL32(V_XOR(x[d(0, s)], x[a(0, s)]), n);        \
		x[d(1, s)] = V_ROL32(V_XOR(x[d(1, s)], x[a(1, s)]), n);        \
		x[d(2, s)] = V_ROL32(V_XOR(x[d(2, s)], x[a(2, s)]), n);        \
		x[d(3, s)] = V_ROL32(V_XOR(x[d(3, s)], x[a(3, s)]), n);        \
	} while (0)

/* A column round (s = 0) or a diagonal round (s = 1). */
#define ROUND_LANES(x, s)                                                      \
	do {                                                                   \
		STEP4(x, s, WA, WB, WD, 16);                                   \
		STEP4(x, s, WC, WD, WB, 12);                                   \
		STEP4(x, s, WA, WB, WD, 8);                                    \
		STEP4(x, s, WC, WD, WB, 7);                                    \
	} while (0)

/* Lane i of x[0..15] to block out[i]. */
INLINE void transpose(ks_block out[CHACHA_LANES], const vec x[16])
{
	vec u[4][4];
	int g, k;

	/* Within each 128-bit lane L: u[g][k] = words 4g..4g+3 of block
	 * 4L + k. */
#pragma GCC unroll 4
	for (g = 0; g < 4; g++) {
		vec t0 = V_UNPACKLO32(x[4 * g], x[4 * g + 1]);
		vec t1 = V_UNPACKHI32(x[4 * g], x[4 * g + 1]);
		vec t2 = V_UNPACKLO32(x[4 * g + 2], x[4 * g + 3]);
		vec t3 = V_UNPACKHI32(x[4 * g + 2], x[4 * g + 3]);

		u[g][0] = V_UNPACKLO64(t0, t2);
		u[g][1] = V_UNPACKHI64(t0, t2);
		u[g][2] = V_UNPACKLO64(t1, t3);
		u[g][3] = V_UNPACKHI64(t1, t3);
	}
	/* Then gather lane L of u[0..3][k] into block 4L + k. */
#pragma GCC unroll 4
	for (k = 0; k < 4; k++)
		rows_to_blocks(out + k, 4, u[0][k], u[1][k], u[2][k], u[3][k]);
}

/* CHACHA_LANES blocks, block i with counter and nonce from lane i. */
INLINE void chacha_lanes(ks_block out[CHACHA_LANES], const uint32_t key[8],
			 vec ctr, vec n0, vec n1, vec n2)
{
	vec x[16];
	int i;

	/* Fully unrolled, so that x[] lives in registers (as far as there
	 * are enough); the constant and key words are broadcast again at
	 * the end rather than kept. */
#pragma GCC unroll 16
	for (i = 0; i < 4; i++)
		x[i] = V_SET1_32((int)sigma[i]);
#pragma GCC unroll 16
	for (i = 0; i < 8; i++)
		x[4 + i] = V_SET1_32((int)key[i]);
	x[12] = ctr;
	x[13] = n0;
	x[14] = n1;
	x[15] = n2;
	for (i = 0; i < 10; i++) {
		ROUND_LANES(x, 0);
		ROUND_LANES(x, 1);
	}
#pragma GCC unroll 16
	for (i = 0; i < 4; i++)
		x[i] = V_ADD32(x[i], V_SET1_32((int)sigma[i]));
#pragma GCC unroll 16
	for (i = 0; i < 8; i++)
		x[4 + i] = V_ADD32(x[4 + i], V_SET1_32((int)key[i]));
	x[12] = V_ADD32(x[12], ctr);
	x[13] = V_ADD32(x[13], n0);
	x[14] = V_ADD32(x[14], n1);
	x[15] = V_ADD32(x[15], n2);
	transpose(out, x);
}

/* CHACHA_LANES whole blocks of one message, counters ctr.. in the
 * lanes: dst = src XOR keystream, the keystream going from the
 * transposition straight to the XOR without a trip through memory. */
INLINE void chacha_lanes_xor(uint8_t *dst, const uint8_t *src,
			     const uint32_t key[8], vec ctr, vec n0, vec n1,
			     vec n2)
{
	ks_block ks[CHACHA_LANES];
	int i;

	chacha_lanes(ks, key, ctr, n0, n1, n2);
#pragma GCC unroll 16
	for (i = 0; i < CHACHA_LANES; i++)
		xor_block(dst + 64 * i, src + 64 * i, &ks[i]);
}

/* ---- One block per 128-bit lane, rows in registers ---- */

/*
 * Each set of four registers a, b, c, d holds rows 0..3 of ROW_BLOCKS
 * blocks. Per block this is more work than one block per 32-bit lane
 * (the diagonal rotations), but nothing is wasted on blocks past the
 * end; independent sets hide each other's latency.
 *
 * A quarter round on whole rows is a column round of every block in the
 * set, or a diagonal round once the rows are diagonalized.
 */
#define ROUND_ROWS(a, b, c, d)                                                 \
	do {                                                                   \
		a = V_ADD32(a, b);                                             \
		d = V_ROL32(V_XOR(d, a), 16);                                  \
		c = V_ADD32(c, d);                                             \
		b = V_ROL32(V_XOR(b, c), 12);                                  \
		a = V_ADD32(a, b);                                             \
		d = V_ROL32(V_XOR(d, a), 8);                                   \
		c = V_ADD32(c, d);                                             \
		b = V_ROL32(V_XOR(b, c), 7);                                   \
	} while (0)

/* Rotate rows 1..3 left by one, two and three words so the diagonals
 * line up as columns, or back. */
#define SHUFFLE_ROWS(b, c, d, ib, ic, id)                                      \
	do {                                                                   \
		b = V_SHUF32(b, ib);                                           \
		c = V_SHUF32(c, ic);                                           \
		d = V_SHUF32(d, id);                                           \
	} while (0)
#define DIAGONALIZE(a, b, c, d) SHUFFLE_ROWS(b, c, d, 0x39, 0x4e, 0x93)
#define UNDIAGONALIZE(a, b, c, d) SHUFFLE_ROWS(b, c, d, 0x93, 0x4e, 0x39)

/* Blocks ctr .. ctr + ROW_BLOCKS * sets - 1, sets being 1, 2 or 3. */
INLINE void chacha_rows(ks_block *out, const uint32_t key[8], uint32_t ctr,
			const uint32_t nonce[3], int sets)
{
	const vec a0 = V_BCAST128(_mm_loadu_si128((const __m128i *)sigma));
	const vec b0 = V_BCAST128(_mm_loadu_si128((const __m128i *)key));
	const vec c0 = V_BCAST128(_mm_loadu_si128((const __m128i *)(key + 4)));
	const vec d0 =
	    V_ADD32(V_BCAST128(_mm_set_epi32((int)nonce[2], (int)nonce[1],
					     (int)nonce[0], (int)ctr)),
		    ROW_IOTA);
	const vec d1 = V_ADD32(d0, ROW_STEP);
	const vec d2 = V_ADD32(d1, ROW_STEP);
	vec a = a0, b = b0, c = c0, d = d0;
	vec e = a0, f = b0, g = c0, h = d1;
	vec i = a0, j = b0, k = c0, l = d2;
	int n;

	/* M on each set of rows in use. */
#define EACH_SET(M)                                                            \
	do {                                                                   \
		M(a, b, c, d);                                                 \
		if (sets > 1)                                                  \
			M(e, f, g, h);                                         \
		if (sets > 2)                                                  \
			M(i, j, k, l);                                         \
	} while (0)
	for (n = 0; n < 10; n++) {
		EACH_SET(ROUND_ROWS);
		EACH_SET(DIAGONALIZE);
		EACH_SET(ROUND_ROWS);
		EACH_SET(UNDIAGONALIZE);
	}
#undef EACH_SET
	rows_to_blocks(out, 1, V_ADD32(a, a0), V_ADD32(b, b0), V_ADD32(c, c0),
		       V_ADD32(d, d0));
	if (sets > 1)
		rows_to_blocks(out + ROW_BLOCKS, 1, V_ADD32(e, a0),
			       V_ADD32(f, b0), V_ADD32(g, c0), V_ADD32(h, d1));
	if (sets > 2)
		rows_to_blocks(out + 2 * ROW_BLOCKS, 1, V_ADD32(i, a0),
			       V_ADD32(j, b0), V_ADD32(k, c0), V_ADD32(l, d2));
}

/* ---- Applying keystream ---- */

/* Where a message's keystream goes: the first `skip` bytes (0 or 64) to
 * polykey, the next len bytes XORed from src into dst. */
struct sink {
	uint8_t *dst;
	const uint8_t *src;
	size_t len, skip;
	uint8_t *polykey;
	const struct chacha_job *job; /* for its key_ready */
};

INLINE struct sink job_sink(const struct chacha_job *job)
{
	return (struct sink){.dst = job->dst,
			     .src = job->src,
			     .len = job->len,
			     .skip = job->polykey ? 64 : 0,
			     .polykey = job->polykey,
			     .job = job};
}

/* Keystream bytes a job needs: the key block, then the data. */
INLINE size_t job_total(const struct chacha_job *job)
{
	return job->len + (job->polykey ? 64 : 0);
}

/* nb blocks, the first at keystream offset pos. */
INLINE void emit(const struct sink *s, size_t pos, const ks_block *blk,
		 unsigned int nb)
{
	unsigned int j;

	for (j = 0; j < nb; j++, pos += 64) {
		size_t off;

		if (pos < s->skip) {
			store_block(s->polykey, &blk[j]);
			if (s->job->key_ready)
				s->job->key_ready(s->job);
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

#endif
