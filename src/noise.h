/* SPDX-License-Identifier: MIT */
/*
 * Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s as WireGuard uses it: create and
 * consume handshake initiations and responses, derive transport keypairs,
 * seal and open transport data.
 *
 * Pure code: no I/O, clocks passed in. Each handshake carries its own
 * mutex; every function that takes a handshake locks it itself, so the
 * caller holds no lock. Indices are allocated by the caller.
 */
#ifndef WGPIPE_NOISE_H
#define WGPIPE_NOISE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "replay.h"
#include "wgpipe/wireguard.h"

struct noise_static_identity {
	uint8_t static_public[WG_KEY_LEN];
	uint8_t static_private[WG_KEY_LEN];
	bool has_identity;
};

enum noise_handshake_state {
	HANDSHAKE_ZEROED,
	HANDSHAKE_CREATED_INITIATION,
	HANDSHAKE_CONSUMED_INITIATION,
	HANDSHAKE_CREATED_RESPONSE,
	HANDSHAKE_CONSUMED_RESPONSE,
};

struct noise_handshake {
	pthread_mutex_t lock;
	enum noise_handshake_state state;
	const struct noise_static_identity *static_identity;

	uint8_t remote_static[WG_KEY_LEN];
	uint8_t precomputed_static_static[WG_KEY_LEN];
	uint8_t preshared_key[WG_KEY_LEN];

	uint8_t ephemeral_private[WG_KEY_LEN];
	uint8_t remote_ephemeral[WG_KEY_LEN];
	uint8_t hash[WG_HASH_LEN];
	uint8_t chaining_key[WG_HASH_LEN];

	/* Replay protection for initiations: the greatest TAI64N seen, and
	 * when the last initiation was consumed (monotonic ns). */
	uint8_t latest_timestamp[WG_TIMESTAMP_LEN];
	uint64_t last_initiation_consumption_ns;

	uint32_t local_index;
	uint32_t remote_index;
};

struct noise_symmetric_key {
	uint8_t key[WG_KEY_LEN];
	uint64_t birthdate_ns; /* monotonic */
	bool is_valid;
};

struct noise_keypair {
	struct noise_symmetric_key sending;
	uint64_t sending_counter; /* next nonce; shared: wg_fetch_add */
	struct noise_symmetric_key receiving;
	struct replay_counter receiving_counter;
	uint32_t local_index;
	uint32_t remote_index;
	bool i_am_the_initiator;
};

/* Lookups the daemon provides: a handshake by the initiator's static
 * public key, and one by our local index. NULL when unknown. */
typedef struct noise_handshake *(*noise_lookup_static_fn)(
	void *ctx, const uint8_t public_key[static WG_KEY_LEN]);
typedef struct noise_handshake *(*noise_lookup_index_fn)(void *ctx,
							 uint32_t index);

/* Sets the private key (clamped) and derives the public key. False when
 * the key yields no public key. */
bool wg_noise_set_static_identity_private_key(
	struct noise_static_identity *id,
	const uint8_t private_key[static WG_KEY_LEN]);

/* psk may be NULL (all zeros). */
void wg_noise_handshake_init(struct noise_handshake *hs,
			     const struct noise_static_identity *id,
			     const uint8_t peer_public[static WG_KEY_LEN],
			     const uint8_t *psk);
void wg_noise_handshake_destroy(struct noise_handshake *hs);
/* Recompute DH(our private, their public) after the identity changes.
 * A low-order peer key leaves it zero, and handshakes then fail. */
void wg_noise_precompute_static_static(struct noise_handshake *hs);
void wg_noise_set_preshared_key(struct noise_handshake *hs,
				const uint8_t *psk);
/* Forget any handshake in progress (wipes ephemeral and hash state). */
void wg_noise_handshake_clear(struct noise_handshake *hs);

/* Builds an initiation (without MACs, see cookie.h) using local_index as
 * our sender index. realtime_ns is wall-clock time for the TAI64N stamp. */
bool wg_noise_handshake_create_initiation(
	struct message_handshake_initiation *dst, struct noise_handshake *hs,
	uint32_t local_index, uint64_t realtime_ns);

/* Decrypts an initiation, finds the peer with lookup, and checks the
 * timestamp (must grow) and the flood rule (at most
 * INITIATIONS_PER_SECOND per peer, by now_ns, monotonic). On success the
 * peer's handshake holds the initiation and is returned. */
struct noise_handshake *wg_noise_handshake_consume_initiation(
	const struct message_handshake_initiation *src,
	const struct noise_static_identity *id, noise_lookup_static_fn lookup,
	void *ctx, uint64_t now_ns);

/* Builds the response to the initiation hs consumed. */
bool wg_noise_handshake_create_response(struct message_handshake_response *dst,
					struct noise_handshake *hs,
					uint32_t local_index);

/* Consumes a response to an initiation we created; lookup finds the
 * handshake by src->receiver_index. */
struct noise_handshake *wg_noise_handshake_consume_response(
	const struct message_handshake_response *src,
	const struct noise_static_identity *id, noise_lookup_index_fn lookup,
	void *ctx);

/* Derives the transport keypair from a completed handshake
 * (CREATED_RESPONSE or CONSUMED_RESPONSE) and wipes the handshake.
 * now_ns (monotonic) is the keys' birthdate. */
bool wg_noise_handshake_begin_session(struct noise_handshake *hs,
				      struct noise_keypair *kp,
				      uint64_t now_ns);
void wg_noise_keypair_clear(struct noise_keypair *kp);

/* TAI64N of a wall-clock time, nanoseconds rounded down to a power of two
 * so that the stamp leaks less about the clock. */
void wg_noise_tai64n(uint8_t out[static WG_TIMESTAMP_LEN], uint64_t realtime_ns);

/* Bytes of padding to add to a plaintext of plain_len in a tunnel of the
 * given MTU: up to a multiple of 16, never past the MTU. */
size_t wg_noise_padding(size_t plain_len, unsigned int mtu);

/*
 * Transport data, in place. buf holds a 16-byte header slot, then
 * plain_len bytes of plaintext, then room for padding and the tag
 * (wg_noise_padding() + 16 bytes). Writes the header and seals; returns
 * the message length.
 */
size_t wg_noise_seal_data(uint8_t *buf, size_t plain_len, unsigned int mtu,
			  const struct noise_keypair *kp, uint64_t counter);
/* Opens a data message of len bytes in place; on success the plaintext
 * (with its padding) starts at buf + 16 and *plain_len is its length.
 * Does not touch the replay window: the in-order stage does that. */
bool wg_noise_open_data(uint8_t *buf, size_t len,
			const struct noise_keypair *kp, size_t *plain_len);

/*
 * The same for n messages under one keypair, sharing the cipher's work.
 * Seal: lens[i] is the plaintext length in, the message length out.
 * Open: lens[i] is the message length in, the plaintext length out
 * (0 when ok[i] is false).
 */
enum { WG_NOISE_BATCH_MAX = 256 };
void wg_noise_seal_batch(uint8_t *const bufs[], size_t lens[],
			 const uint64_t counters[], size_t n, unsigned int mtu,
			 const struct noise_keypair *kp);
void wg_noise_open_batch(uint8_t *const bufs[], size_t lens[], bool ok[],
			 size_t n, const struct noise_keypair *kp);
/* Open, with the ciphertext of message i read from srcs[i] + 16 where
 * srcs[i] is given (bufs[i] holds its 16-byte header all the same, and
 * gets the plaintext), so that a message is opened where it was received
 * instead of copied first; srcs may be NULL. */
void wg_noise_open_batch_from(uint8_t *const bufs[],
			      const uint8_t *const srcs[], size_t lens[],
			      bool ok[], size_t n,
			      const struct noise_keypair *kp);

#endif
