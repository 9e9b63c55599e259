/* SPDX-License-Identifier: MIT */
/*
 * ChaCha20-Poly1305 (RFC 8439) for the data path, in several
 * implementations proven equal to libsodium's: AVX-512 and AVX2 (x86-64
 * only, each compiled with function-level target attributes so the rest of
 * the binary stays baseline), portable C, and libsodium itself, the
 * reference and fallback. One is selected before the threads start
 * (wg_aead_select) or, failing that, on first use ("auto").
 *
 * Constant time: no branch or memory index depends on key, keystream,
 * plaintext or tag; only lengths and the verify outcome steer the code.
 */
#ifndef WGPIPE_AEAD_H
#define WGPIPE_AEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crypto.h"

/* "auto", "portable", "avx2", "avx512" or "libsodium". 0, -EINVAL for an
 * unknown name, -ENOTSUP when this CPU (or build) lacks the instructions;
 * both log one line saying why. Call before any thread seals or opens. */
int wg_aead_select(const char *name);
/* The implementation in use, never "auto". */
const char *wg_aead_name(void);
/* Whether this CPU and build can run the named implementation. */
bool wg_aead_supported(const char *name);

/* The implementations this build has, one per name, in the order "auto"
 * prefers them: what each needs of the CPU ("" for nothing) and whether
 * this CPU has it. Returns how many were written (at most max). */
struct wg_aead_choice {
	const char *name;
	const char *needs;
	bool usable;
};
size_t wg_aead_list(struct wg_aead_choice *out, size_t max);
/* What "auto" selects on this CPU. */
const char *wg_aead_auto_name(void);

/* One message with a full 12-byte nonce. dst receives len + 16 bytes
 * (ciphertext and tag) and may equal src. */
void wg_aead_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
		     const uint8_t *ad, size_t ad_len,
		     const uint8_t nonce[static WG_AEAD_NONCE_LEN],
		     const uint8_t key[static WG_KEY_LEN]);
/* len includes the tag. False when it does not verify (or len < 16); dst
 * (len - 16 bytes) is then wiped. dst may equal src. */
bool wg_aead_decrypt(uint8_t *dst, const uint8_t *src, size_t len,
		     const uint8_t *ad, size_t ad_len,
		     const uint8_t nonce[static WG_AEAD_NONCE_LEN],
		     const uint8_t key[static WG_KEY_LEN]);

/*
 * A batch of transport messages under one key, in place, with no AD and
 * WireGuard's nonces (32 zero bits, then counters[i] little-endian).
 * Seal: bufs[i] holds lens[i] bytes of plaintext and room for the 16-byte
 * tag after them. Open: bufs[i] holds lens[i] bytes including the tag;
 * ok[i] says whether it verified, and a packet that did not is wiped.
 * The result is the same as n single calls; the work is shared, with
 * keystream for several packets computed in the same wide registers,
 * and their tags too where the implementation has a mac_batch.
 */
void wg_aead_seal_batch(const uint8_t key[static WG_KEY_LEN],
			const uint64_t counters[], uint8_t *const bufs[],
			const size_t lens[], size_t n);
void wg_aead_open_batch(const uint8_t key[static WG_KEY_LEN],
			const uint64_t counters[], uint8_t *const bufs[],
			const size_t lens[], bool ok[], size_t n);
/* The same, not in place where srcs[i] is given: message i is read there
 * (lens[i] bytes with the tag) and its plaintext written to bufs[i],
 * which needs lens[i] - 16 bytes and must not overlap it. */
void wg_aead_open_batch_from(const uint8_t key[static WG_KEY_LEN],
			     const uint64_t counters[], uint8_t *const bufs[],
			     const uint8_t *const srcs[], const size_t lens[],
			     bool ok[], size_t n);

/* ---- Between aead.c, the implementations and the tests ---- */

enum {
	CHACHA_BLOCK_LEN = 64,
};

/* One message's keystream: blocks ctr, ctr + 1, ... under nonce. With
 * polykey, block ctr goes there (64 bytes) and the data starts at the
 * next block; then dst = src XOR keystream, len bytes (dst may equal
 * src). With key_ready too, key_ready(job) runs once the key block is in
 * polykey and before any byte of dst is written: an open in place
 * computes its tag there, over the ciphertext still in place. */
struct chacha_job {
	uint8_t *dst;
	const uint8_t *src;
	size_t len;
	uint8_t *polykey;
	uint32_t ctr;
	uint32_t nonce[3];
	void (*key_ready)(const struct chacha_job *job);
	void *arg; /* for key_ready */
};

/* Scalar Poly1305 in radix 2^64; r and h are at most 130 bits. */
struct poly1305 {
	uint64_t r0, r1, s1;
	uint64_t h0, h1, h2;
	uint64_t pad0, pad1;
};

/* Bulk Poly1305 over whole 16-byte blocks: consumes a prefix of the n
 * blocks (what its lanes take at once) and returns how many it took. */
typedef size_t poly1305_bulk_fn(struct poly1305 *st, const uint8_t *m,
				size_t n);

/* One message of a batch to authenticate: the RFC 8439 tag over len
 * bytes of ciphertext (no AD) with its one-time key. */
struct mac_job {
	const uint8_t *msg;
	size_t len;
	const uint8_t *key; /* 32 bytes */
	uint8_t *tag;	    /* 16 bytes out */
};

enum {
	/* The most jobs a mac_batch call takes. */
	WG_MAC_BATCH_MAX = 64,
};

/* What a ChaCha20-Poly1305 implementation provides; aead.c builds the
 * AEAD and the batch on top. Key and nonce come as little-endian words. */
struct chacha_poly_ops {
	/* The keystream of n jobs under one key; an implementation may
	 * compute blocks of several jobs in the same registers. */
	void (*stream)(const struct chacha_job *jobs, size_t n,
		       const uint32_t key[8]);
	/* The RFC 8439 tag over ad and ct with the one-time key. */
	void (*mac)(uint8_t tag[static 16], const uint8_t key[static 32],
		    const uint8_t *ad, size_t ad_len, const uint8_t *ct,
		    size_t ct_len);
	/* Optional: the tags of n <= WG_MAC_BATCH_MAX messages, several
	 * side by side in the same registers; NULL: mac one by one. */
	void (*mac_batch)(const struct mac_job *jobs, size_t n);
};

/* Provided by the three implementation files; the SIMD tables exist only
 * on x86-64. */
extern const struct chacha_poly_ops wg_chacha_portable_ops;
#if defined(__x86_64__)
extern const struct chacha_poly_ops wg_chacha_avx2_ops;
extern const struct chacha_poly_ops wg_chacha_avx512_ops;
/* The same with Poly1305 on AVX-512 IFMA, where the CPU has it. */
extern const struct chacha_poly_ops wg_chacha_avx512ifma_ops;

/* Poly1305 on AVX-512 IFMA (poly1305_ifma.c), for the avx512 table. */
void wg_poly1305_ifma_mac(uint8_t tag[static 16], const uint8_t key[static 32],
			  const uint8_t *ad, size_t ad_len, const uint8_t *ct,
			  size_t ct_len);
void wg_poly1305_ifma_mac_batch(const struct mac_job *jobs, size_t n);
#endif

/* Shared pieces of chacha_portable.c. */
void wg_poly1305_init(struct poly1305 *st, const uint8_t key[static 32]);
void wg_poly1305_blocks(struct poly1305 *st, const uint8_t *m, size_t n);
void wg_poly1305_finish(struct poly1305 *st, uint8_t tag[static 16]);
/* The MAC of RFC 8439 section 2.8, with bulk taking the long runs. */
void wg_poly1305_aead_mac(uint8_t tag[static 16], const uint8_t key[static 32],
			  const uint8_t *ad, size_t ad_len, const uint8_t *ct,
			  size_t ct_len, poly1305_bulk_fn *bulk);

/* Wipes a small secret on a hot path: sodium_memzero without the call;
 * the empty asm that may read the memory keeps the stores. */
static inline void aead_wipe(void *p, size_t n)
{
	memset(p, 0, n);
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

/* The SIMD Poly1305s keep h in five 26-bit limbs per lane. From radix
 * 2^64 (h2 <= 7: the top limb may reach 2^27)... */
static inline void poly1305_to_limbs(uint64_t l[5], uint64_t h0, uint64_t h1,
				     uint64_t h2)
{
	const uint64_t m = (1ULL << 26) - 1;

	l[0] = h0 & m;
	l[1] = (h0 >> 26) & m;
	l[2] = (h0 >> 52 | h1 << 12) & m;
	l[3] = (h1 >> 14) & m;
	l[4] = h1 >> 40 | h2 << 24;
}

/* ...and back, from limbs below 2^40, leaving h2 <= 4. */
static inline void poly1305_from_limbs(struct poly1305 *st, uint64_t l[5])
{
	const uint64_t m = (1ULL << 26) - 1;
	int i;

	for (i = 0; i < 4; i++) {
		l[i + 1] += l[i] >> 26;
		l[i] &= m;
	}
	l[0] += (l[4] >> 26) * 5;
	l[4] &= m;
	for (i = 0; i < 4; i++) {
		l[i + 1] += l[i] >> 26;
		l[i] &= m;
	}
	st->h0 = l[0] | l[1] << 26 | l[2] << 52;
	st->h1 = l[2] >> 12 | l[3] << 14 | l[4] << 40;
	st->h2 = l[4] >> 24;
}

/* The implementation in use; tables for the tests and the benchmark.
 * ops is NULL for libsodium. */
struct aead_impl {
	const char *name;
	const struct chacha_poly_ops *ops;
};
const struct aead_impl *wg_aead_impl(void);
/* Tests only: pretend the CPU lacks what one variant needs, by id:
 * "avx512ifma" (the avx512 implementation with Poly1305 on IFMA; hiding
 * it leaves avx512 with 26-bit limbs), "avx512", "avx2". NULL: stop. */
void wg_aead_hide(const char *id);

#endif
