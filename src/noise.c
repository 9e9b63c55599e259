// SPDX-License-Identifier: MIT
/*
 * The WireGuard handshake: Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s.
 *
 * Each handshake is protected by its own mutex, taken by the functions
 * below. A message is computed on local copies of the chaining key and
 * hash and written back to the handshake only once it has fully verified
 * (or been fully built), so a forged or failed message changes nothing.
 * Every secret on the stack is wiped on the way out.
 *
 * Indices are host-order in the structures and little-endian on the wire.
 */
#include "noise.h"

#include "clock.h"
#include "crypto/aead.h"

#include <endian.h>
#include <string.h>

#include <sodium.h>

#include "crypto/blake2s.h"
#include "crypto/crypto.h"


static const char noise_construction[] =
    "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const char noise_identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";

/* The chaining key and hash every handshake starts from; written once by
 * init_constants() under constants_once, read-only afterwards. */
static uint8_t initial_chaining_key[WG_HASH_LEN];
static uint8_t initial_hash[WG_HASH_LEN];
static pthread_once_t constants_once = PTHREAD_ONCE_INIT;

static void init_constants(void)
{
	struct blake2s_state st;

	wg_blake2s(initial_chaining_key, (const uint8_t *)noise_construction,
		   NULL, WG_HASH_LEN, strlen(noise_construction), 0);
	wg_blake2s_init(&st, WG_HASH_LEN);
	wg_blake2s_update(&st, initial_chaining_key, WG_HASH_LEN);
	wg_blake2s_update(&st, (const uint8_t *)noise_identifier,
			  strlen(noise_identifier));
	wg_blake2s_final(&st, initial_hash);
}

/* hash = HASH(hash || data) */
static void mix_hash(uint8_t hash[static WG_HASH_LEN], const uint8_t *data,
		     size_t len)
{
	struct blake2s_state st;

	wg_blake2s_init(&st, WG_HASH_LEN);
	wg_blake2s_update(&st, hash, WG_HASH_LEN);
	wg_blake2s_update(&st, data, len);
	wg_blake2s_final(&st, hash);
}

/*
 * HKDF over HMAC-BLAKE2s with up to three outputs; NULL outputs end the
 * expansion early. An output may alias key: key is only read first.
 */
static void kdf(uint8_t *out1, uint8_t *out2, uint8_t *out3,
		const uint8_t key[static WG_HASH_LEN], const uint8_t *in,
		size_t in_len)
{
	uint8_t secret[WG_HASH_LEN];
	uint8_t block[WG_HASH_LEN + 1];
	uint8_t *outs[3] = {out1, out2, out3};
	size_t i, block_len = 0;

	wg_blake2s_hmac(secret, in_len ? in : block, key, in_len, WG_HASH_LEN);
	for (i = 0; i < 3 && outs[i]; i++) {
		/* T(i+1) = HMAC(secret, T(i) || i+1), T(0) empty */
		block[block_len] = (uint8_t)(i + 1);
		wg_blake2s_hmac(outs[i], block, secret, block_len + 1,
				WG_HASH_LEN);
		memcpy(block, outs[i], WG_HASH_LEN);
		block_len = WG_HASH_LEN;
	}
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(block, sizeof(block));
}

/* (ck, key) = KDF2(ck, DH(priv, pub)); key may be NULL for KDF1. False
 * when the shared secret is all zeros. */
static bool mix_dh(uint8_t ck[static WG_HASH_LEN], uint8_t *key,
		   const uint8_t priv[static WG_KEY_LEN],
		   const uint8_t pub[static WG_KEY_LEN])
{
	uint8_t dh[WG_KEY_LEN];
	bool ok = wg_x25519(dh, priv, pub);

	if (ok)
		kdf(ck, key, NULL, ck, dh, WG_KEY_LEN);
	sodium_memzero(dh, sizeof(dh));
	return ok;
}

/* The same with the peer's precomputed static-static secret. */
static bool mix_precomputed_dh(uint8_t ck[static WG_HASH_LEN],
			       uint8_t key[static WG_KEY_LEN],
			       const uint8_t dh[static WG_KEY_LEN])
{
	if (wg_crypto_is_zero(dh, WG_KEY_LEN))
		return false;
	kdf(ck, key, NULL, ck, dh, WG_KEY_LEN);
	return true;
}

/* (ck, tau, key) = KDF3(ck, psk); hash = HASH(hash || tau) */
static void mix_psk(uint8_t ck[static WG_HASH_LEN],
		    uint8_t hash[static WG_HASH_LEN],
		    uint8_t key[static WG_KEY_LEN],
		    const uint8_t psk[static WG_KEY_LEN])
{
	uint8_t tau[WG_HASH_LEN];

	kdf(ck, tau, key, ck, psk, WG_KEY_LEN);
	mix_hash(hash, tau, sizeof(tau));
	sodium_memzero(tau, sizeof(tau));
}

/* An unencrypted ephemeral enters both the chaining key and the hash. */
static void mix_ephemeral(uint8_t ck[static WG_HASH_LEN],
			  uint8_t hash[static WG_HASH_LEN],
			  const uint8_t ephemeral[static WG_KEY_LEN])
{
	kdf(ck, NULL, NULL, ck, ephemeral, WG_KEY_LEN);
	mix_hash(hash, ephemeral, WG_KEY_LEN);
}

/* dst = AEAD(key, 0, src, hash); hash = HASH(hash || dst) */
static void encrypt_and_hash(uint8_t *dst, const uint8_t *src, size_t len,
			     const uint8_t key[static WG_KEY_LEN],
			     uint8_t hash[static WG_HASH_LEN])
{
	wg_aead_seal(dst, src, len, hash, WG_HASH_LEN, 0, key);
	mix_hash(hash, dst, len + WG_AUTHTAG_LEN);
}

/* The inverse; src_len includes the tag. */
static bool decrypt_and_hash(uint8_t *dst, const uint8_t *src, size_t src_len,
			     const uint8_t key[static WG_KEY_LEN],
			     uint8_t hash[static WG_HASH_LEN])
{
	if (!wg_aead_open(dst, src, src_len, hash, WG_HASH_LEN, 0, key))
		return false;
	mix_hash(hash, src, src_len);
	return true;
}

/* Both sides start from the constants and the responder's static key. */
static void handshake_start(uint8_t ck[static WG_HASH_LEN],
			    uint8_t hash[static WG_HASH_LEN],
			    const uint8_t responder_static[static WG_KEY_LEN])
{
	pthread_once(&constants_once, init_constants);
	memcpy(ck, initial_chaining_key, WG_HASH_LEN);
	memcpy(hash, initial_hash, WG_HASH_LEN);
	mix_hash(hash, responder_static, WG_KEY_LEN);
}

/* Must hold hs->lock. Keeps the peer's keys and the replay state. */
static void handshake_zero(struct noise_handshake *hs)
{
	sodium_memzero(hs->ephemeral_private, WG_KEY_LEN);
	sodium_memzero(hs->remote_ephemeral, WG_KEY_LEN);
	sodium_memzero(hs->hash, WG_HASH_LEN);
	sodium_memzero(hs->chaining_key, WG_HASH_LEN);
	hs->local_index = 0;
	hs->remote_index = 0;
	hs->state = HANDSHAKE_ZEROED;
}

bool wg_noise_set_static_identity_private_key(
    struct noise_static_identity *id,
    const uint8_t private_key[static WG_KEY_LEN])
{
	memcpy(id->static_private, private_key, WG_KEY_LEN);
	wg_x25519_clamp(id->static_private);
	id->has_identity =
	    wg_x25519_public(id->static_public, id->static_private);
	if (!id->has_identity) {
		sodium_memzero(id->static_private, WG_KEY_LEN);
		sodium_memzero(id->static_public, WG_KEY_LEN);
	}
	return id->has_identity;
}

void wg_noise_handshake_init(struct noise_handshake *hs,
			     const struct noise_static_identity *id,
			     const uint8_t peer_public[static WG_KEY_LEN],
			     const uint8_t *psk)
{
	memset(hs, 0, sizeof(*hs));
	pthread_mutex_init(&hs->lock, NULL);
	hs->static_identity = id;
	hs->state = HANDSHAKE_ZEROED;
	memcpy(hs->remote_static, peer_public, WG_KEY_LEN);
	wg_noise_set_preshared_key(hs, psk);
	wg_noise_precompute_static_static(hs);
}

void wg_noise_handshake_destroy(struct noise_handshake *hs)
{
	pthread_mutex_destroy(&hs->lock);
	sodium_memzero(hs, sizeof(*hs));
}

void wg_noise_precompute_static_static(struct noise_handshake *hs)
{
	const struct noise_static_identity *id = hs->static_identity;

	pthread_mutex_lock(&hs->lock);
	if (!id || !id->has_identity ||
	    !wg_x25519(hs->precomputed_static_static, id->static_private,
		       hs->remote_static))
		sodium_memzero(hs->precomputed_static_static, WG_KEY_LEN);
	pthread_mutex_unlock(&hs->lock);
}

void wg_noise_set_preshared_key(struct noise_handshake *hs, const uint8_t *psk)
{
	pthread_mutex_lock(&hs->lock);
	if (psk)
		memcpy(hs->preshared_key, psk, WG_KEY_LEN);
	else
		sodium_memzero(hs->preshared_key, WG_KEY_LEN);
	pthread_mutex_unlock(&hs->lock);
}

void wg_noise_handshake_clear(struct noise_handshake *hs)
{
	pthread_mutex_lock(&hs->lock);
	handshake_zero(hs);
	pthread_mutex_unlock(&hs->lock);
}

bool wg_noise_handshake_create_initiation(
    struct message_handshake_initiation *dst, struct noise_handshake *hs,
    uint32_t local_index, uint64_t realtime_ns)
{
	const struct noise_static_identity *id = hs->static_identity;
	uint8_t ck[WG_HASH_LEN], hash[WG_HASH_LEN], key[WG_KEY_LEN];
	uint8_t ephemeral[WG_KEY_LEN], timestamp[WG_TIMESTAMP_LEN];
	bool ret = false;

	pthread_mutex_lock(&hs->lock);
	if (!id || !id->has_identity)
		goto out;
	handshake_start(ck, hash, hs->remote_static);

	/* e */
	wg_x25519_generate_secret(ephemeral);
	if (!wg_x25519_public(dst->unencrypted_ephemeral, ephemeral))
		goto out;
	mix_ephemeral(ck, hash, dst->unencrypted_ephemeral);
	/* es */
	if (!mix_dh(ck, key, ephemeral, hs->remote_static))
		goto out;
	/* s */
	encrypt_and_hash(dst->encrypted_static, id->static_public, WG_KEY_LEN,
			 key, hash);
	/* ss */
	if (!mix_precomputed_dh(ck, key, hs->precomputed_static_static))
		goto out;
	/* {t} */
	wg_noise_tai64n(timestamp, realtime_ns);
	encrypt_and_hash(dst->encrypted_timestamp, timestamp, WG_TIMESTAMP_LEN,
			 key, hash);

	dst->header.type = htole32(WG_MSG_HANDSHAKE_INITIATION);
	dst->sender_index = htole32(local_index);

	memcpy(hs->ephemeral_private, ephemeral, WG_KEY_LEN);
	memcpy(hs->chaining_key, ck, WG_HASH_LEN);
	memcpy(hs->hash, hash, WG_HASH_LEN);
	sodium_memzero(hs->remote_ephemeral, WG_KEY_LEN);
	hs->local_index = local_index;
	hs->remote_index = 0;
	hs->state = HANDSHAKE_CREATED_INITIATION;
	ret = true;
out:
	pthread_mutex_unlock(&hs->lock);
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(hash, sizeof(hash));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(ephemeral, sizeof(ephemeral));
	sodium_memzero(timestamp, sizeof(timestamp));
	return ret;
}

/* Must hold hs->lock. The flood rule: at most INITIATIONS_PER_SECOND
 * consumed initiations per peer; 0 means none consumed yet. */
static bool initiation_too_soon(const struct noise_handshake *hs,
				uint64_t now_ns)
{
	uint64_t last = hs->last_initiation_consumption_ns;

	return last && now_ns < last + NSEC_PER_SEC / INITIATIONS_PER_SECOND;
}

/*
 * The second half of consuming an initiation, once the sender's static
 * key has named a peer: ss, the timestamp, the replay and flood rules, and
 * the commit, all under the peer's lock so that two initiations racing
 * for the same peer cannot both pass the checks.
 */
static bool accept_initiation(struct noise_handshake *hs,
			      const struct message_handshake_initiation *src,
			      uint8_t ck[static WG_HASH_LEN],
			      uint8_t hash[static WG_HASH_LEN],
			      const uint8_t ephemeral[static WG_KEY_LEN],
			      uint64_t now_ns)
{
	uint8_t key[WG_KEY_LEN], timestamp[WG_TIMESTAMP_LEN];
	bool ret = false;

	pthread_mutex_lock(&hs->lock);
	/* ss */
	if (!mix_precomputed_dh(ck, key, hs->precomputed_static_static))
		goto out;
	/* {t} */
	if (!decrypt_and_hash(timestamp, src->encrypted_timestamp,
			      sizeof(src->encrypted_timestamp), key, hash))
		goto out;
	/* TAI64N is big-endian: memcmp orders it. */
	if (memcmp(timestamp, hs->latest_timestamp, WG_TIMESTAMP_LEN) <= 0)
		goto out;
	if (initiation_too_soon(hs, now_ns))
		goto out;

	memcpy(hs->remote_ephemeral, ephemeral, WG_KEY_LEN);
	memcpy(hs->latest_timestamp, timestamp, WG_TIMESTAMP_LEN);
	memcpy(hs->hash, hash, WG_HASH_LEN);
	memcpy(hs->chaining_key, ck, WG_HASH_LEN);
	sodium_memzero(hs->ephemeral_private, WG_KEY_LEN);
	hs->remote_index = le32toh(src->sender_index);
	if (now_ns > hs->last_initiation_consumption_ns)
		hs->last_initiation_consumption_ns = now_ns;
	hs->state = HANDSHAKE_CONSUMED_INITIATION;
	ret = true;
out:
	pthread_mutex_unlock(&hs->lock);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(timestamp, sizeof(timestamp));
	return ret;
}

struct noise_handshake *wg_noise_handshake_consume_initiation(
    const struct message_handshake_initiation *src,
    const struct noise_static_identity *id, noise_lookup_static_fn lookup,
    void *ctx, uint64_t now_ns)
{
	uint8_t ck[WG_HASH_LEN], hash[WG_HASH_LEN], key[WG_KEY_LEN];
	uint8_t ephemeral[WG_KEY_LEN], remote_static[WG_KEY_LEN];
	struct noise_handshake *hs = NULL;

	if (!id->has_identity ||
	    le32toh(src->header.type) != WG_MSG_HANDSHAKE_INITIATION)
		goto out;
	handshake_start(ck, hash, id->static_public);

	/* e */
	memcpy(ephemeral, src->unencrypted_ephemeral, WG_KEY_LEN);
	mix_ephemeral(ck, hash, ephemeral);
	/* es */
	if (!mix_dh(ck, key, id->static_private, ephemeral))
		goto out;
	/* s */
	if (!decrypt_and_hash(remote_static, src->encrypted_static,
			      sizeof(src->encrypted_static), key, hash))
		goto out;

	hs = lookup(ctx, remote_static);
	if (hs && !accept_initiation(hs, src, ck, hash, ephemeral, now_ns))
		hs = NULL;
out:
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(hash, sizeof(hash));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(ephemeral, sizeof(ephemeral));
	sodium_memzero(remote_static, sizeof(remote_static));
	return hs;
}

bool wg_noise_handshake_create_response(struct message_handshake_response *dst,
					struct noise_handshake *hs,
					uint32_t local_index)
{
	uint8_t ck[WG_HASH_LEN], hash[WG_HASH_LEN], key[WG_KEY_LEN];
	uint8_t ephemeral[WG_KEY_LEN];
	const uint8_t nothing[1] = {0};
	bool ret = false;

	pthread_mutex_lock(&hs->lock);
	if (hs->state != HANDSHAKE_CONSUMED_INITIATION)
		goto out;
	memcpy(ck, hs->chaining_key, WG_HASH_LEN);
	memcpy(hash, hs->hash, WG_HASH_LEN);

	/* e */
	wg_x25519_generate_secret(ephemeral);
	if (!wg_x25519_public(dst->unencrypted_ephemeral, ephemeral))
		goto out;
	mix_ephemeral(ck, hash, dst->unencrypted_ephemeral);
	/* ee */
	if (!mix_dh(ck, NULL, ephemeral, hs->remote_ephemeral))
		goto out;
	/* se */
	if (!mix_dh(ck, NULL, ephemeral, hs->remote_static))
		goto out;
	/* psk */
	mix_psk(ck, hash, key, hs->preshared_key);
	/* {} */
	encrypt_and_hash(dst->encrypted_nothing, nothing, 0, key, hash);

	dst->header.type = htole32(WG_MSG_HANDSHAKE_RESPONSE);
	dst->sender_index = htole32(local_index);
	dst->receiver_index = htole32(hs->remote_index);

	memcpy(hs->ephemeral_private, ephemeral, WG_KEY_LEN);
	memcpy(hs->chaining_key, ck, WG_HASH_LEN);
	memcpy(hs->hash, hash, WG_HASH_LEN);
	hs->local_index = local_index;
	hs->state = HANDSHAKE_CREATED_RESPONSE;
	ret = true;
out:
	pthread_mutex_unlock(&hs->lock);
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(hash, sizeof(hash));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(ephemeral, sizeof(ephemeral));
	return ret;
}

/* Verifies a response against the initiation hs created and, only if it
 * holds, records it. */
static bool accept_response(struct noise_handshake *hs,
			    const struct message_handshake_response *src,
			    const struct noise_static_identity *id)
{
	uint8_t ck[WG_HASH_LEN], hash[WG_HASH_LEN], key[WG_KEY_LEN];
	uint8_t ephemeral[WG_KEY_LEN], nothing[1];
	bool ret = false;

	pthread_mutex_lock(&hs->lock);
	if (hs->state != HANDSHAKE_CREATED_INITIATION ||
	    hs->local_index != le32toh(src->receiver_index))
		goto out;
	memcpy(ck, hs->chaining_key, WG_HASH_LEN);
	memcpy(hash, hs->hash, WG_HASH_LEN);

	/* e */
	memcpy(ephemeral, src->unencrypted_ephemeral, WG_KEY_LEN);
	mix_ephemeral(ck, hash, ephemeral);
	/* ee */
	if (!mix_dh(ck, NULL, hs->ephemeral_private, ephemeral))
		goto out;
	/* se */
	if (!mix_dh(ck, NULL, id->static_private, ephemeral))
		goto out;
	/* psk */
	mix_psk(ck, hash, key, hs->preshared_key);
	/* {} */
	if (!decrypt_and_hash(nothing, src->encrypted_nothing,
			      sizeof(src->encrypted_nothing), key, hash))
		goto out;

	memcpy(hs->remote_ephemeral, ephemeral, WG_KEY_LEN);
	memcpy(hs->chaining_key, ck, WG_HASH_LEN);
	memcpy(hs->hash, hash, WG_HASH_LEN);
	hs->remote_index = le32toh(src->sender_index);
	hs->state = HANDSHAKE_CONSUMED_RESPONSE;
	ret = true;
out:
	pthread_mutex_unlock(&hs->lock);
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(hash, sizeof(hash));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(ephemeral, sizeof(ephemeral));
	return ret;
}

struct noise_handshake *wg_noise_handshake_consume_response(
    const struct message_handshake_response *src,
    const struct noise_static_identity *id, noise_lookup_index_fn lookup,
    void *ctx)
{
	struct noise_handshake *hs;

	if (!id->has_identity ||
	    le32toh(src->header.type) != WG_MSG_HANDSHAKE_RESPONSE)
		return NULL;
	hs = lookup(ctx, le32toh(src->receiver_index));
	if (!hs || !accept_response(hs, src, id))
		return NULL;
	return hs;
}

bool wg_noise_handshake_begin_session(struct noise_handshake *hs,
				      struct noise_keypair *kp, uint64_t now_ns)
{
	uint8_t *first, *second;
	bool ret = false;

	pthread_mutex_lock(&hs->lock);
	if (hs->state != HANDSHAKE_CREATED_RESPONSE &&
	    hs->state != HANDSHAKE_CONSUMED_RESPONSE)
		goto out;
	memset(kp, 0, sizeof(*kp));
	kp->i_am_the_initiator = hs->state == HANDSHAKE_CONSUMED_RESPONSE;
	/* (T1, T2) = KDF2(ck, ""): the initiator sends with T1. */
	first = kp->i_am_the_initiator ? kp->sending.key : kp->receiving.key;
	second = kp->i_am_the_initiator ? kp->receiving.key : kp->sending.key;
	kdf(first, second, NULL, hs->chaining_key, NULL, 0);
	kp->sending.birthdate_ns = now_ns;
	kp->receiving.birthdate_ns = now_ns;
	kp->sending.is_valid = true;
	kp->receiving.is_valid = true;
	kp->sending_counter = 0;
	wg_replay_init(&kp->receiving_counter);
	kp->local_index = hs->local_index;
	kp->remote_index = hs->remote_index;
	handshake_zero(hs);
	ret = true;
out:
	pthread_mutex_unlock(&hs->lock);
	return ret;
}

void wg_noise_keypair_clear(struct noise_keypair *kp)
{
	sodium_memzero(kp, sizeof(*kp));
}

/* The largest power of two not above x (x > 0). */
static uint64_t rounddown_pow2(uint64_t x)
{
	return 1ULL << (63 - __builtin_clzll(x));
}

void wg_noise_tai64n(uint8_t out[static WG_TIMESTAMP_LEN], uint64_t realtime_ns)
{
	/* Rounding to a bit under one flood interval (2^24 ns) hides the
	 * clock's precision yet keeps stamps of allowed initiations apart. */
	uint64_t grain = rounddown_pow2(NSEC_PER_SEC / INITIATIONS_PER_SECOND);
	uint64_t secs = 0x400000000000000aULL + realtime_ns / NSEC_PER_SEC;
	uint32_t nsecs = (uint32_t)(realtime_ns % NSEC_PER_SEC / grain * grain);

	secs = htobe64(secs);
	nsecs = htobe32(nsecs);
	memcpy(out, &secs, sizeof(secs));
	memcpy(out + sizeof(secs), &nsecs, sizeof(nsecs));
}

size_t wg_noise_padding(size_t plain_len, unsigned int mtu)
{
	size_t unit = plain_len, padded;

	/* A packet over the MTU (a GSO leftover) pads its last segment. */
	if (mtu && unit > mtu)
		unit %= mtu;
	padded = (unit + WG_MESSAGE_PADDING_MULTIPLE - 1) &
		 ~(size_t)(WG_MESSAGE_PADDING_MULTIPLE - 1);
	if (mtu && padded > mtu)
		padded = mtu;
	return padded - unit;
}

size_t wg_noise_seal_data(uint8_t *buf, size_t plain_len, unsigned int mtu,
			  const struct noise_keypair *kp, uint64_t counter)
{
	struct message_data *msg = (struct message_data *)buf;
	size_t padded_len = plain_len + wg_noise_padding(plain_len, mtu);

	memset(msg->encrypted_data + plain_len, 0, padded_len - plain_len);
	msg->header.type = htole32(WG_MSG_DATA);
	msg->key_idx = htole32(kp->remote_index);
	msg->counter = htole64(counter);
	wg_aead_seal(msg->encrypted_data, msg->encrypted_data, padded_len, NULL,
		     0, counter, kp->sending.key);
	return sizeof(*msg) + padded_len + WG_AUTHTAG_LEN;
}

bool wg_noise_open_data(uint8_t *buf, size_t len,
			const struct noise_keypair *kp, size_t *plain_len)
{
	struct message_data *msg = (struct message_data *)buf;

	if (len < WG_MESSAGE_MINIMUM_LENGTH || !kp->receiving.is_valid ||
	    le32toh(msg->header.type) != WG_MSG_DATA ||
	    le32toh(msg->key_idx) != kp->local_index)
		return false;
	if (!wg_aead_open(msg->encrypted_data, msg->encrypted_data,
			  len - sizeof(*msg), NULL, 0, le64toh(msg->counter),
			  kp->receiving.key))
		return false;
	*plain_len = len - WG_MESSAGE_MINIMUM_LENGTH;
	return true;
}

/* The header and padding of one data message; returns the padded length. */
static size_t prepare_data(uint8_t *buf, size_t plain_len, unsigned int mtu,
			   const struct noise_keypair *kp, uint64_t counter)
{
	struct message_data *msg = (struct message_data *)buf;
	size_t padded_len = plain_len + wg_noise_padding(plain_len, mtu);

	memset(msg->encrypted_data + plain_len, 0, padded_len - plain_len);
	msg->header.type = htole32(WG_MSG_DATA);
	msg->key_idx = htole32(kp->remote_index);
	msg->counter = htole64(counter);
	return padded_len;
}

void wg_noise_seal_batch(uint8_t *const bufs[], size_t lens[],
			 const uint64_t counters[], size_t n, unsigned int mtu,
			 const struct noise_keypair *kp)
{
	uint8_t *data[WG_NOISE_BATCH_MAX];
	size_t i, done, k;

	for (done = 0; done < n; done += k) {
		k = n - done < WG_NOISE_BATCH_MAX ? n - done : WG_NOISE_BATCH_MAX;
		for (i = 0; i < k; i++) {
			lens[done + i] = prepare_data(bufs[done + i],
						      lens[done + i], mtu, kp,
						      counters[done + i]);
			data[i] = bufs[done + i] + sizeof(struct message_data);
		}
		wg_aead_seal_batch(kp->sending.key, &counters[done], data,
				   &lens[done], k);
		for (i = 0; i < k; i++)
			lens[done + i] += sizeof(struct message_data) +
					  WG_AUTHTAG_LEN;
	}
}

static bool data_header_ok(const uint8_t *buf, size_t len,
			   const struct noise_keypair *kp)
{
	const struct message_data *msg = (const struct message_data *)buf;

	return len >= WG_MESSAGE_MINIMUM_LENGTH && kp->receiving.is_valid &&
	       le32toh(msg->header.type) == WG_MSG_DATA &&
	       le32toh(msg->key_idx) == kp->local_index;
}

void wg_noise_open_batch_from(uint8_t *const bufs[],
			      const uint8_t *const srcs[], size_t lens[],
			      bool ok[], size_t n,
			      const struct noise_keypair *kp)
{
	uint8_t *data[WG_NOISE_BATCH_MAX];
	const uint8_t *from[WG_NOISE_BATCH_MAX];
	uint64_t counters[WG_NOISE_BATCH_MAX];
	size_t sizes[WG_NOISE_BATCH_MAX], idx[WG_NOISE_BATCH_MAX];
	bool good[WG_NOISE_BATCH_MAX];
	size_t i, k, start;

	for (start = 0; start < n;) {
		for (k = 0; start < n && k < WG_NOISE_BATCH_MAX; start++) {
			const struct message_data *msg = (const void *)bufs[start];

			ok[start] = false;
			if (!data_header_ok(bufs[start], lens[start], kp)) {
				lens[start] = 0; /* as promised: 0 when not ok */
				continue;
			}
			idx[k] = start;
			data[k] = bufs[start] + sizeof(*msg);
			from[k] = srcs && srcs[start]
				      ? srcs[start] + sizeof(*msg)
				      : NULL;
			sizes[k] = lens[start] - sizeof(*msg);
			counters[k++] = le64toh(msg->counter);
		}
		wg_aead_open_batch_from(kp->receiving.key, counters, data, from,
					sizes, good, k);
		for (i = 0; i < k; i++) {
			ok[idx[i]] = good[i];
			lens[idx[i]] = good[i] ? sizes[i] - WG_AUTHTAG_LEN : 0;
		}
	}
}

void wg_noise_open_batch(uint8_t *const bufs[], size_t lens[], bool ok[],
			 size_t n, const struct noise_keypair *kp)
{
	wg_noise_open_batch_from(bufs, NULL, lens, ok, n, kp);
}
