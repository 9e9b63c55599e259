/* SPDX-License-Identifier: MIT */
/* The primitives WireGuard uses besides BLAKE2s, all from libsodium:
 * X25519, ChaCha20-Poly1305 (RFC 8439) and XChaCha20-Poly1305. */
#ifndef WGPIPE_CRYPTO_H
#define WGPIPE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wgpipe/wireguard.h"

enum {
	WG_AEAD_NONCE_LEN = 12,
	WG_XAEAD_NONCE_LEN = 24,
};

/* WireGuard's 12-byte nonce for a counter: 32 zero bits, then the
 * counter, little-endian. */
static inline void wg_aead_nonce(uint8_t out[static WG_AEAD_NONCE_LEN],
				 uint64_t counter)
{
	int i;

	for (i = 0; i < 4; i++)
		out[i] = 0;
	for (i = 0; i < 8; i++)
		out[4 + i] = (uint8_t)(counter >> (8 * i));
}

/* sodium_init(); 0 or -errno. Call once before any other function. */
int wg_crypto_init(void);

/* ChaCha20-Poly1305 with WireGuard's nonce: 32 zero bits then the
 * little-endian 64-bit counter. dst receives src_len + 16 bytes and may
 * equal src. */
void wg_aead_seal(uint8_t *dst, const uint8_t *src, size_t src_len,
		  const uint8_t *ad, size_t ad_len, uint64_t nonce,
		  const uint8_t key[static WG_KEY_LEN]);
/* src_len includes the tag; dst receives src_len - 16 bytes and may equal
 * src. False (and dst wiped) when the tag does not verify. */
bool wg_aead_open(uint8_t *dst, const uint8_t *src, size_t src_len,
		  const uint8_t *ad, size_t ad_len, uint64_t nonce,
		  const uint8_t key[static WG_KEY_LEN]);

/* The same with a full 12-byte nonce, for test vectors. */
void wg_aead_seal_nonce(uint8_t *dst, const uint8_t *src, size_t src_len,
			const uint8_t *ad, size_t ad_len,
			const uint8_t nonce[static WG_AEAD_NONCE_LEN],
			const uint8_t key[static WG_KEY_LEN]);
bool wg_aead_open_nonce(uint8_t *dst, const uint8_t *src, size_t src_len,
			const uint8_t *ad, size_t ad_len,
			const uint8_t nonce[static WG_AEAD_NONCE_LEN],
			const uint8_t key[static WG_KEY_LEN]);

/* XChaCha20-Poly1305, used by cookie replies. */
void wg_xaead_seal(uint8_t *dst, const uint8_t *src, size_t src_len,
		   const uint8_t *ad, size_t ad_len,
		   const uint8_t nonce[static WG_XAEAD_NONCE_LEN],
		   const uint8_t key[static WG_KEY_LEN]);
bool wg_xaead_open(uint8_t *dst, const uint8_t *src, size_t src_len,
		   const uint8_t *ad, size_t ad_len,
		   const uint8_t nonce[static WG_XAEAD_NONCE_LEN],
		   const uint8_t key[static WG_KEY_LEN]);

/* X25519. False when the shared secret is all zeros (a low-order point):
 * WireGuard must refuse it. */
bool wg_x25519(uint8_t out[static WG_KEY_LEN],
	       const uint8_t scalar[static WG_KEY_LEN],
	       const uint8_t point[static WG_KEY_LEN]);
/* A random, clamped private key. */
void wg_x25519_generate_secret(uint8_t secret[static WG_KEY_LEN]);
/* False when the private key yields no public key (all zero). */
bool wg_x25519_public(uint8_t pub[static WG_KEY_LEN],
		      const uint8_t secret[static WG_KEY_LEN]);
void wg_x25519_clamp(uint8_t secret[static WG_KEY_LEN]);

/* Zeroes the calling thread's vector registers (x86-64: XMM/YMM/ZMM),
 * which keep whatever a key copy or a cipher left in them until the
 * thread next uses them, and which a core dump saves with the thread.
 * Threads that handled keys call it before they go back to waiting. */
void wg_crypto_wipe_registers(void);

/* A uniformly random 32-bit number from the system's CSPRNG, drawn 64
 * at a time per thread: for values that are public once used (session
 * indexes, timer jitter), never for keys. */
uint32_t wg_random_u32(void);

/* Constant-time comparison of n bytes: true when equal. */
bool wg_crypto_equal(const void *a, const void *b, size_t n);
bool wg_crypto_is_zero(const void *a, size_t n);

#endif
