// SPDX-License-Identifier: MIT
/* Thin wrappers over libsodium that fix WireGuard's choices: the nonce
 * layout, refusing all-zero Diffie-Hellman results, wiping on failure.
 * ChaCha20-Poly1305 goes to the implementation aead.c selected. */
#include "crypto.h"

#include <errno.h>

#include <sodium.h>

#include "aead.h"

int wg_crypto_init(void)
{
	/* 1 means already initialised, which is fine. */
	return sodium_init() < 0 ? -ENOSYS : 0;
}

#if defined(__x86_64__)
/* VZEROALL clears YMM0-15, and on AVX-512 parts all of ZMM0-15 too;
 * ZMM16-31 need their own stores. Without AVX, PXOR each XMM. No
 * clobber list is needed for ZMM16-31: this is an out-of-line call, and
 * every vector register is call-clobbered in the x86-64 ABI. */
void wg_crypto_wipe_registers(void)
{
	if (__builtin_cpu_supports("avx512f"))
		__asm__ volatile(
		    "vpxord %%zmm16, %%zmm16, %%zmm16\n\t"
		    "vpxord %%zmm17, %%zmm17, %%zmm17\n\t"
		    "vpxord %%zmm18, %%zmm18, %%zmm18\n\t"
		    "vpxord %%zmm19, %%zmm19, %%zmm19\n\t"
		    "vpxord %%zmm20, %%zmm20, %%zmm20\n\t"
		    "vpxord %%zmm21, %%zmm21, %%zmm21\n\t"
		    "vpxord %%zmm22, %%zmm22, %%zmm22\n\t"
		    "vpxord %%zmm23, %%zmm23, %%zmm23\n\t"
		    "vpxord %%zmm24, %%zmm24, %%zmm24\n\t"
		    "vpxord %%zmm25, %%zmm25, %%zmm25\n\t"
		    "vpxord %%zmm26, %%zmm26, %%zmm26\n\t"
		    "vpxord %%zmm27, %%zmm27, %%zmm27\n\t"
		    "vpxord %%zmm28, %%zmm28, %%zmm28\n\t"
		    "vpxord %%zmm29, %%zmm29, %%zmm29\n\t"
		    "vpxord %%zmm30, %%zmm30, %%zmm30\n\t"
		    "vpxord %%zmm31, %%zmm31, %%zmm31" ::: "memory");
	if (__builtin_cpu_supports("avx")) {
		__asm__ volatile("vzeroall" ::: "memory");
		return;
	}
	__asm__ volatile("pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\t"
			 "pxor %%xmm2, %%xmm2\n\tpxor %%xmm3, %%xmm3\n\t"
			 "pxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5\n\t"
			 "pxor %%xmm6, %%xmm6\n\tpxor %%xmm7, %%xmm7\n\t"
			 "pxor %%xmm8, %%xmm8\n\tpxor %%xmm9, %%xmm9\n\t"
			 "pxor %%xmm10, %%xmm10\n\tpxor %%xmm11, %%xmm11\n\t"
			 "pxor %%xmm12, %%xmm12\n\tpxor %%xmm13, %%xmm13\n\t"
			 "pxor %%xmm14, %%xmm14\n\tpxor %%xmm15, %%xmm15" :::
			     "memory");
}
#else
void wg_crypto_wipe_registers(void)
{
}
#endif

/* 32 zero bits, then the counter little-endian. */
void wg_aead_seal_nonce(uint8_t *dst, const uint8_t *src, size_t src_len,
			const uint8_t *ad, size_t ad_len,
			const uint8_t nonce[static WG_AEAD_NONCE_LEN],
			const uint8_t key[static WG_KEY_LEN])
{
	wg_aead_encrypt(dst, src, src_len, ad, ad_len, nonce, key);
}

bool wg_aead_open_nonce(uint8_t *dst, const uint8_t *src, size_t src_len,
			const uint8_t *ad, size_t ad_len,
			const uint8_t nonce[static WG_AEAD_NONCE_LEN],
			const uint8_t key[static WG_KEY_LEN])
{
	return wg_aead_decrypt(dst, src, src_len, ad, ad_len, nonce, key);
}

void wg_aead_seal(uint8_t *dst, const uint8_t *src, size_t src_len,
		  const uint8_t *ad, size_t ad_len, uint64_t nonce,
		  const uint8_t key[static WG_KEY_LEN])
{
	uint8_t n[WG_AEAD_NONCE_LEN];

	wg_aead_nonce(n, nonce);
	wg_aead_seal_nonce(dst, src, src_len, ad, ad_len, n, key);
}

bool wg_aead_open(uint8_t *dst, const uint8_t *src, size_t src_len,
		  const uint8_t *ad, size_t ad_len, uint64_t nonce,
		  const uint8_t key[static WG_KEY_LEN])
{
	uint8_t n[WG_AEAD_NONCE_LEN];

	wg_aead_nonce(n, nonce);
	return wg_aead_open_nonce(dst, src, src_len, ad, ad_len, n, key);
}

void wg_xaead_seal(uint8_t *dst, const uint8_t *src, size_t src_len,
		   const uint8_t *ad, size_t ad_len,
		   const uint8_t nonce[static WG_XAEAD_NONCE_LEN],
		   const uint8_t key[static WG_KEY_LEN])
{
	crypto_aead_xchacha20poly1305_ietf_encrypt(dst, NULL, src, src_len, ad,
						   ad_len, NULL, nonce, key);
}

bool wg_xaead_open(uint8_t *dst, const uint8_t *src, size_t src_len,
		   const uint8_t *ad, size_t ad_len,
		   const uint8_t nonce[static WG_XAEAD_NONCE_LEN],
		   const uint8_t key[static WG_KEY_LEN])
{
	if (src_len < WG_AUTHTAG_LEN)
		return false;
	if (!crypto_aead_xchacha20poly1305_ietf_decrypt(
		dst, NULL, NULL, src, src_len, ad, ad_len, nonce, key))
		return true;
	sodium_memzero(dst, src_len - WG_AUTHTAG_LEN);
	return false;
}

bool wg_x25519(uint8_t out[static WG_KEY_LEN],
	       const uint8_t scalar[static WG_KEY_LEN],
	       const uint8_t point[static WG_KEY_LEN])
{
	/* libsodium fails on low-order points; check the result anyway,
	 * since an all-zero secret is what WireGuard must never use. */
	if (!crypto_scalarmult(out, scalar, point) &&
	    !sodium_is_zero(out, WG_KEY_LEN))
		return true;
	sodium_memzero(out, WG_KEY_LEN);
	return false;
}

void wg_x25519_clamp(uint8_t secret[static WG_KEY_LEN])
{
	secret[0] &= 248;
	secret[31] = (secret[31] & 127) | 64;
}

void wg_x25519_generate_secret(uint8_t secret[static WG_KEY_LEN])
{
	randombytes_buf(secret, WG_KEY_LEN);
	wg_x25519_clamp(secret);
}

bool wg_x25519_public(uint8_t pub[static WG_KEY_LEN],
		      const uint8_t secret[static WG_KEY_LEN])
{
	if (!crypto_scalarmult_base(pub, secret) &&
	    !sodium_is_zero(pub, WG_KEY_LEN))
		return true;
	sodium_memzero(pub, WG_KEY_LEN);
	return false;
}

bool wg_crypto_equal(const void *a, const void *b, size_t n)
{
	return !sodium_memcmp(a, b, n);
}

bool wg_crypto_is_zero(const void *a, size_t n)
{
	return sodium_is_zero(a, n);
}

/* Every data flush draws one for its timer's jitter: one getrandom()
 * each was a system call per sendmmsg(). The numbers are indexes and
 * jitters, public once used, so a few waiting in a thread's memory give
 * nothing away. */
enum { RANDOM_AHEAD = 64 };

uint32_t wg_random_u32(void)
{
	static __thread uint32_t ahead[RANDOM_AHEAD];
	static __thread unsigned int left;

	if (!left) {
		randombytes_buf(ahead, sizeof(ahead));
		left = RANDOM_AHEAD;
	}
	return ahead[--left];
}
