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

/* 32 zero bits, then the counter little-endian. */
static void make_nonce(uint8_t out[static WG_AEAD_NONCE_LEN], uint64_t counter)
{
	int i;

	for (i = 0; i < 4; i++)
		out[i] = 0;
	for (i = 0; i < 8; i++)
		out[4 + i] = (uint8_t)(counter >> (8 * i));
}

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

	make_nonce(n, nonce);
	wg_aead_seal_nonce(dst, src, src_len, ad, ad_len, n, key);
}

bool wg_aead_open(uint8_t *dst, const uint8_t *src, size_t src_len,
		  const uint8_t *ad, size_t ad_len, uint64_t nonce,
		  const uint8_t key[static WG_KEY_LEN])
{
	uint8_t n[WG_AEAD_NONCE_LEN];

	make_nonce(n, nonce);
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
