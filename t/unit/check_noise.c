// SPDX-License-Identifier: MIT
#include <check.h>
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/blake2s.h"
#include "crypto/crypto.h"
#include "noise.h"
#include "testlib.h"

#define NSEC 1000000000ULL
/* Monotonic and wall-clock times the tests start from. */
#define NOW0 (1000 * NSEC)
#define REAL0 (1700000000ULL * NSEC)
#define FLOOD_NS (NSEC / INITIATIONS_PER_SECOND)

/*
 * A party: its identity, the handshakes of the peers it knows, and the
 * index table the daemon would keep. Tests are single-threaded, so the
 * lookups read the handshakes without their locks.
 */
struct party {
	struct noise_static_identity id;
	struct noise_handshake peers[2];
	size_t npeers;
	struct {
		uint32_t index;
		struct noise_handshake *hs;
	} idx[8];
	size_t nidx;
	struct noise_keypair kp;
};

/* A and B know each other; C (a stranger to B) knows B and A. */
static struct party A, B, C;

static struct noise_handshake *
lookup_static(void *ctx, const uint8_t pub[static WG_KEY_LEN])
{
	struct party *p = ctx;
	size_t i;

	for (i = 0; i < p->npeers; i++)
		if (!memcmp(p->peers[i].remote_static, pub, WG_KEY_LEN))
			return &p->peers[i];
	return NULL;
}

static struct noise_handshake *lookup_index(void *ctx, uint32_t index)
{
	struct party *p = ctx;
	size_t i;

	for (i = 0; i < p->nidx; i++)
		if (p->idx[i].index == index)
			return p->idx[i].hs;
	return NULL;
}

/* A lookup that trusts any index: noise itself must still refuse. */
static struct noise_handshake *lookup_any(void *ctx, uint32_t index)
{
	struct party *p = ctx;

	(void)index;
	return &p->peers[0];
}

static void register_index(struct party *p, uint32_t index,
			   struct noise_handshake *hs)
{
	ck_assert_uint_lt(p->nidx, sizeof(p->idx) / sizeof(p->idx[0]));
	p->idx[p->nidx].index = index;
	p->idx[p->nidx].hs = hs;
	p->nidx++;
}

static void make_identity(struct party *p, uint64_t seed)
{
	uint8_t priv[WG_KEY_LEN];

	memset(p, 0, sizeof(*p));
	test_random_bytes(&seed, priv, sizeof(priv));
	ck_assert(wg_noise_set_static_identity_private_key(&p->id, priv));
}

static void add_peer(struct party *p, const struct party *peer,
		     const uint8_t *psk)
{
	wg_noise_handshake_init(&p->peers[p->npeers++], &p->id,
				peer->id.static_public, psk);
}

static void setup(void)
{
	make_identity(&A, 1);
	make_identity(&B, 2);
	make_identity(&C, 3);
	add_peer(&A, &B, NULL);
	add_peer(&B, &A, NULL);
	add_peer(&C, &B, NULL);
	add_peer(&C, &A, NULL);
}

static void teardown(void)
{
	struct party *parties[] = {&A, &B, &C};
	size_t i, j;

	for (i = 0; i < 3; i++)
		for (j = 0; j < parties[i]->npeers; j++)
			wg_noise_handshake_destroy(&parties[i]->peers[j]);
}

static void set_psks(const uint8_t *psk_a, const uint8_t *psk_b)
{
	wg_noise_set_preshared_key(&A.peers[0], psk_a);
	wg_noise_set_preshared_key(&B.peers[0], psk_b);
}

/* A initiates to B. */
static void make_initiation(struct message_handshake_initiation *m,
			    uint32_t index, uint64_t realtime_ns)
{
	memset(m, 0, sizeof(*m));
	ck_assert(wg_noise_handshake_create_initiation(m, &A.peers[0], index,
						       realtime_ns));
	register_index(&A, index, &A.peers[0]);
}

static struct noise_handshake *
consume_initiation(const struct message_handshake_initiation *m,
		   uint64_t now_ns)
{
	return wg_noise_handshake_consume_initiation(m, &B.id, lookup_static,
						     &B, now_ns);
}

/* B answers the initiation it consumed. */
static void make_response(struct message_handshake_response *r, uint32_t index)
{
	memset(r, 0, sizeof(*r));
	ck_assert(wg_noise_handshake_create_response(r, &B.peers[0], index));
	register_index(&B, index, &B.peers[0]);
}

static struct noise_handshake *
consume_response(const struct message_handshake_response *r)
{
	return wg_noise_handshake_consume_response(r, &A.id, lookup_index, &A);
}

/* A full handshake A -> B; A.kp and B.kp hold the session. */
static void handshake(uint32_t a_index, uint32_t b_index, uint64_t now_ns)
{
	struct message_handshake_initiation m;
	struct message_handshake_response r;

	make_initiation(&m, a_index, REAL0 + now_ns - NOW0);
	ck_assert_ptr_eq(consume_initiation(&m, now_ns), &B.peers[0]);
	make_response(&r, b_index);
	ck_assert_ptr_eq(consume_response(&r), &A.peers[0]);
	ck_assert(wg_noise_handshake_begin_session(&A.peers[0], &A.kp, now_ns));
	ck_assert(wg_noise_handshake_begin_session(&B.peers[0], &B.kp, now_ns));
}

/* Flip a different bit depending on the position, so that byte 39 (the
 * top of the ephemeral, which X25519 itself ignores) gets bit 7. */
static uint8_t flip(int i)
{
	return (uint8_t)(1u << (i % 8));
}

/* ---- the constants, against a naive reference derivation ---- */

static const char construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const char identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";

/* HASH(a || b), by concatenation. */
static void ref_hash(uint8_t out[32], const void *a, size_t alen, const void *b,
		     size_t blen)
{
	uint8_t buf[256];

	ck_assert_uint_le(alen + blen, sizeof(buf));
	memcpy(buf, a, alen);
	if (blen)
		memcpy(buf + alen, b, blen);
	wg_blake2s(out, buf, NULL, 32, alen + blen, 0);
}

/* HMAC-BLAKE2s straight from RFC 2104, on top of the plain hash. */
static void ref_hmac(uint8_t out[32], const uint8_t key[32], const void *in,
		     size_t len)
{
	uint8_t k[64], inner[32];
	size_t i;

	memset(k, 0, sizeof(k));
	memcpy(k, key, 32);
	for (i = 0; i < 64; i++)
		k[i] ^= 0x36;
	ref_hash(inner, k, 64, in, len);
	for (i = 0; i < 64; i++)
		k[i] ^= 0x36 ^ 0x5c;
	ref_hash(out, k, 64, inner, 32);
}

/* out[0..n) = KDFn(key, in), as the whitepaper spells it out. */
static void ref_kdf(uint8_t out[][32], int n, const uint8_t key[32],
		    const void *in, size_t len)
{
	uint8_t t0[32], buf[33];
	int i;

	ref_hmac(t0, key, in, len);
	buf[0] = 0x1;
	ref_hmac(out[0], t0, buf, 1);
	for (i = 1; i < n; i++) {
		memcpy(buf, out[i - 1], 32);
		buf[32] = (uint8_t)(i + 1);
		ref_hmac(out[i], t0, buf, 33);
	}
}

static void ref_dh(uint8_t out[32], const uint8_t priv[32],
		   const uint8_t pub[32])
{
	ck_assert_int_eq(crypto_scalarmult(out, priv, pub), 0);
}

static bool ref_open(uint8_t *dst, const uint8_t *src, size_t len,
		     const uint8_t key[32], const uint8_t hash[32])
{
	static const uint8_t zero_nonce[12];

	return !crypto_aead_chacha20poly1305_ietf_decrypt(
	    dst, NULL, NULL, src, len, hash, 32, zero_nonce, key);
}

START_TEST(test_initial_chaining_key)
{
	uint8_t want[32], ck[32];

	ck_assert_int_eq(test_unhex(want, sizeof(want),
				    "60e26daef327efc02ec335e2a025d2d0"
				    "16eb4206f87277f52d38d1988b78cd36"),
			 32);
	wg_blake2s(ck, (const uint8_t *)construction, NULL, 32,
		   strlen(construction), 0);
	ck_assert_mem_eq(ck, want, 32);
}
END_TEST

/*
 * Both messages and the session keys, recomputed independently (plain
 * hash, RFC 2104 HMAC, libsodium AEAD and X25519) from the wire bytes and
 * the private keys, and compared with what noise.c sent and stored. This
 * pins the constants, the order of every mix and the key split, which a
 * handshake between two copies of the same code cannot.
 */
START_TEST(test_reference_derivation)
{
	uint8_t psk[32], ck[32], h[32], k[3][32], dh[32], out[32];
	uint8_t e_i_priv[32], ts[12], want_ts[12];
	struct message_handshake_initiation m;
	struct message_handshake_response r;
	const uint8_t *p = _i ? psk : NULL;
	static const uint8_t zero[32];
	const uint64_t realtime = REAL0 + 123456789;

	memset(psk, 0xa5, sizeof(psk));
	set_psks(p, p);
	make_initiation(&m, 0x11223344, realtime);
	memcpy(e_i_priv, A.peers[0].ephemeral_private, 32);
	ck_assert_uint_eq(m.header.type, htole32(1));
	ck_assert_mem_eq((uint8_t *)&m + 4, "\x44\x33\x22\x11", 4);

	/* B's side of the initiation. */
	wg_blake2s(ck, (const uint8_t *)construction, NULL, 32,
		   strlen(construction), 0);
	ref_hash(h, ck, 32, identifier, strlen(identifier));
	ref_hash(h, h, 32, B.id.static_public, 32);
	ref_kdf(k, 1, ck, m.unencrypted_ephemeral, 32);
	memcpy(ck, k[0], 32);
	ref_hash(h, h, 32, m.unencrypted_ephemeral, 32);
	ref_dh(dh, B.id.static_private, m.unencrypted_ephemeral);
	ref_kdf(k, 2, ck, dh, 32);
	memcpy(ck, k[0], 32);
	ck_assert(ref_open(out, m.encrypted_static, 48, k[1], h));
	ck_assert_mem_eq(out, A.id.static_public, 32);
	ref_hash(h, h, 32, m.encrypted_static, 48);
	ref_dh(dh, B.id.static_private, A.id.static_public);
	ref_kdf(k, 2, ck, dh, 32);
	memcpy(ck, k[0], 32);
	ck_assert(ref_open(ts, m.encrypted_timestamp, 28, k[1], h));
	wg_noise_tai64n(want_ts, realtime);
	ck_assert_mem_eq(ts, want_ts, 12);
	ref_hash(h, h, 32, m.encrypted_timestamp, 28);
	ck_assert_mem_eq(ck, A.peers[0].chaining_key, 32);
	ck_assert_mem_eq(h, A.peers[0].hash, 32);

	/* A's side of the response. */
	ck_assert_ptr_eq(consume_initiation(&m, NOW0), &B.peers[0]);
	ck_assert_uint_eq(B.peers[0].remote_index, 0x11223344);
	make_response(&r, 0x55667788);
	ck_assert_uint_eq(r.header.type, htole32(2));
	ck_assert_mem_eq((uint8_t *)&r + 4, "\x88\x77\x66\x55\x44\x33\x22\x11",
			 8);
	ref_kdf(k, 1, ck, r.unencrypted_ephemeral, 32);
	memcpy(ck, k[0], 32);
	ref_hash(h, h, 32, r.unencrypted_ephemeral, 32);
	ref_dh(dh, e_i_priv, r.unencrypted_ephemeral);
	ref_kdf(k, 1, ck, dh, 32);
	memcpy(ck, k[0], 32);
	ref_dh(dh, A.id.static_private, r.unencrypted_ephemeral);
	ref_kdf(k, 1, ck, dh, 32);
	memcpy(ck, k[0], 32);
	ref_kdf(k, 3, ck, p ? p : zero, 32);
	memcpy(ck, k[0], 32);
	ref_hash(h, h, 32, k[1], 32);
	ck_assert(ref_open(out, r.encrypted_nothing, 16, k[2], h));
	ref_hash(h, h, 32, r.encrypted_nothing, 16);
	ck_assert_mem_eq(ck, B.peers[0].chaining_key, 32);
	ck_assert_mem_eq(h, B.peers[0].hash, 32);

	/* The transport keys: (T1, T2) = KDF2(ck, ""). */
	ck_assert_ptr_eq(consume_response(&r), &A.peers[0]);
	ck_assert(wg_noise_handshake_begin_session(&A.peers[0], &A.kp, NOW0));
	ck_assert(wg_noise_handshake_begin_session(&B.peers[0], &B.kp, NOW0));
	ref_kdf(k, 2, ck, NULL, 0);
	ck_assert_mem_eq(A.kp.sending.key, k[0], 32);
	ck_assert_mem_eq(A.kp.receiving.key, k[1], 32);
	ck_assert_mem_eq(B.kp.sending.key, k[1], 32);
	ck_assert_mem_eq(B.kp.receiving.key, k[0], 32);
}
END_TEST

/* ---- complete handshakes ---- */

static void assert_zeroed(const struct noise_handshake *hs)
{
	static const uint8_t zero[32];

	ck_assert_int_eq(hs->state, HANDSHAKE_ZEROED);
	ck_assert_mem_eq(hs->ephemeral_private, zero, 32);
	ck_assert_mem_eq(hs->remote_ephemeral, zero, 32);
	ck_assert_mem_eq(hs->hash, zero, 32);
	ck_assert_mem_eq(hs->chaining_key, zero, 32);
}

/* _i: 0 without, 1 with a preshared key. */
START_TEST(test_session)
{
	static const uint8_t zero[32];
	uint8_t psk[32], ts[12];

	memset(psk, 0x42, sizeof(psk));
	if (_i)
		set_psks(psk, psk);
	handshake(7, 9, NOW0);

	ck_assert(A.kp.i_am_the_initiator);
	ck_assert(!B.kp.i_am_the_initiator);
	ck_assert_mem_eq(A.kp.sending.key, B.kp.receiving.key, 32);
	ck_assert_mem_eq(A.kp.receiving.key, B.kp.sending.key, 32);
	ck_assert_mem_ne(A.kp.sending.key, A.kp.receiving.key, 32);
	ck_assert_uint_eq(A.kp.local_index, 7);
	ck_assert_uint_eq(A.kp.remote_index, 9);
	ck_assert_uint_eq(B.kp.local_index, 9);
	ck_assert_uint_eq(B.kp.remote_index, 7);
	ck_assert(A.kp.sending.is_valid && A.kp.receiving.is_valid);
	ck_assert(B.kp.sending.is_valid && B.kp.receiving.is_valid);
	ck_assert_uint_eq(A.kp.sending.birthdate_ns, NOW0);
	ck_assert_uint_eq(B.kp.receiving.birthdate_ns, NOW0);
	ck_assert_uint_eq(A.kp.sending_counter, 0);
	ck_assert_uint_eq(B.kp.receiving_counter.counter, 0);

	/* The handshakes are wiped but keep what outlives a session. */
	assert_zeroed(&A.peers[0]);
	assert_zeroed(&B.peers[0]);
	ck_assert_mem_eq(A.peers[0].remote_static, B.id.static_public, 32);
	ck_assert_mem_eq(B.peers[0].preshared_key, _i ? psk : zero, 32);
	ck_assert_mem_ne(B.peers[0].precomputed_static_static, zero, 32);
	wg_noise_tai64n(ts, REAL0);
	ck_assert_mem_eq(B.peers[0].latest_timestamp, ts, 12);
	ck_assert_uint_eq(B.peers[0].last_initiation_consumption_ns, NOW0);
	/* Both sides agree on the static-static secret. */
	ck_assert_mem_eq(A.peers[0].precomputed_static_static,
			 B.peers[0].precomputed_static_static, 32);

	/* A second handshake a second later gives fresh keys. */
	{
		uint8_t old[32];

		memcpy(old, A.kp.sending.key, 32);
		handshake(11, 13, NOW0 + NSEC);
		ck_assert_mem_eq(A.kp.sending.key, B.kp.receiving.key, 32);
		ck_assert_mem_ne(A.kp.sending.key, old, 32);
	}
	wg_noise_keypair_clear(&A.kp);
	ck_assert_mem_eq(A.kp.sending.key, zero, 32);
	ck_assert(!A.kp.sending.is_valid && !A.kp.receiving.is_valid);
}
END_TEST

/* _i: which side lacks or differs in the preshared key. */
START_TEST(test_psk_mismatch)
{
	uint8_t psk1[32], psk2[32], ck[32], h[32];
	struct message_handshake_initiation m;
	struct message_handshake_response r;

	memset(psk1, 1, sizeof(psk1));
	memset(psk2, 2, sizeof(psk2));
	if (_i == 0)
		set_psks(psk1, NULL);
	else if (_i == 1)
		set_psks(NULL, psk1);
	else
		set_psks(psk1, psk2);
	make_initiation(&m, 1, REAL0);
	/* The initiation does not depend on the psk... */
	ck_assert_ptr_eq(consume_initiation(&m, NOW0), &B.peers[0]);
	make_response(&r, 2);
	/* ...the response does, and changes nothing when it fails. */
	memcpy(ck, A.peers[0].chaining_key, 32);
	memcpy(h, A.peers[0].hash, 32);
	ck_assert_ptr_null(consume_response(&r));
	ck_assert_int_eq(A.peers[0].state, HANDSHAKE_CREATED_INITIATION);
	ck_assert_mem_eq(A.peers[0].chaining_key, ck, 32);
	ck_assert_mem_eq(A.peers[0].hash, h, 32);
	ck_assert(!wg_noise_handshake_begin_session(&A.peers[0], &A.kp, NOW0));
}
END_TEST

/* ---- rejection of bad handshake messages ---- */

/* The sender index is authenticated by MAC1 (cookie.c), not by Noise. */
static bool is_sender_index_byte(int i)
{
	return i >= 4 && i < 8;
}

START_TEST(test_initiation_tamper)
{
	struct message_handshake_initiation m, bad;
	static const uint8_t zero[12];
	struct noise_handshake *hs;

	make_initiation(&m, 1, REAL0);
	bad = m;
	((uint8_t *)&bad)[_i] ^= flip(_i);
	hs = consume_initiation(&bad, NOW0);
	if (is_sender_index_byte(_i)) {
		ck_assert_ptr_eq(hs, &B.peers[0]);
		ck_assert_uint_eq(B.peers[0].remote_index,
				  1 ^ (uint32_t)flip(_i) << 8 * (_i - 4));
		return;
	}
	ck_assert_msg(!hs, "initiation with byte %d flipped accepted", _i);
	ck_assert_int_eq(B.peers[0].state, HANDSHAKE_ZEROED);
	ck_assert_mem_eq(B.peers[0].latest_timestamp, zero, 12);
	ck_assert_uint_eq(B.peers[0].last_initiation_consumption_ns, 0);
	/* The genuine message still goes through. */
	ck_assert_ptr_eq(consume_initiation(&m, NOW0), &B.peers[0]);
}
END_TEST

START_TEST(test_response_tamper)
{
	struct message_handshake_initiation m;
	struct message_handshake_response r, bad;
	uint8_t ck[32], h[32];
	struct noise_handshake *hs;

	make_initiation(&m, 1, REAL0);
	ck_assert_ptr_eq(consume_initiation(&m, NOW0), &B.peers[0]);
	make_response(&r, 2);
	memcpy(ck, A.peers[0].chaining_key, 32);
	memcpy(h, A.peers[0].hash, 32);
	bad = r;
	((uint8_t *)&bad)[_i] ^= flip(_i);
	hs = consume_response(&bad);
	if (is_sender_index_byte(_i)) {
		ck_assert_ptr_eq(hs, &A.peers[0]);
		ck_assert_uint_eq(A.peers[0].remote_index,
				  2 ^ (uint32_t)flip(_i) << 8 * (_i - 4));
		return;
	}
	ck_assert_msg(!hs, "response with byte %d flipped accepted", _i);
	ck_assert_int_eq(A.peers[0].state, HANDSHAKE_CREATED_INITIATION);
	ck_assert_mem_eq(A.peers[0].chaining_key, ck, 32);
	ck_assert_mem_eq(A.peers[0].hash, h, 32);
	ck_assert_uint_eq(A.peers[0].remote_index, 0);
	ck_assert_ptr_eq(consume_response(&r), &A.peers[0]);
	ck_assert_uint_eq(A.peers[0].remote_index, 2);
}
END_TEST

START_TEST(test_replayed_initiation)
{
	struct message_handshake_initiation m;
	uint8_t h[32];

	make_initiation(&m, 1, REAL0);
	ck_assert_ptr_eq(consume_initiation(&m, NOW0), &B.peers[0]);
	memcpy(h, B.peers[0].hash, 32);
	/* Long after the flood window, the same timestamp is still old. */
	ck_assert_ptr_null(consume_initiation(&m, NOW0 + NSEC));
	ck_assert_int_eq(B.peers[0].state, HANDSHAKE_CONSUMED_INITIATION);
	ck_assert_mem_eq(B.peers[0].hash, h, 32);
	ck_assert_uint_eq(B.peers[0].last_initiation_consumption_ns, NOW0);
	/* ...and after a completed session too. */
	{
		struct message_handshake_response r;

		make_response(&r, 2);
		ck_assert_ptr_eq(consume_response(&r), &A.peers[0]);
		ck_assert(
		    wg_noise_handshake_begin_session(&B.peers[0], &B.kp, NOW0));
		ck_assert_ptr_null(consume_initiation(&m, NOW0 + 2 * NSEC));
		ck_assert_int_eq(B.peers[0].state, HANDSHAKE_ZEROED);
	}
	/* An older timestamp is refused as well. */
	make_initiation(&m, 3, REAL0 - NSEC);
	ck_assert_ptr_null(consume_initiation(&m, NOW0 + 3 * NSEC));
}
END_TEST

START_TEST(test_initiation_flood)
{
	struct message_handshake_initiation m1, m2;

	make_initiation(&m1, 1, REAL0);
	ck_assert_ptr_eq(consume_initiation(&m1, NOW0), &B.peers[0]);
	make_initiation(&m2, 2, REAL0 + NSEC / 10);
	/* Newer timestamp, but too soon. */
	ck_assert_ptr_null(consume_initiation(&m2, NOW0 + FLOOD_NS / 2));
	ck_assert_ptr_null(consume_initiation(&m2, NOW0 + FLOOD_NS - 1));
	ck_assert_uint_eq(B.peers[0].remote_index, 1);
	ck_assert_uint_eq(B.peers[0].last_initiation_consumption_ns, NOW0);
	/* The refused attempts did not move the window. */
	ck_assert_ptr_eq(consume_initiation(&m2, NOW0 + FLOOD_NS), &B.peers[0]);
	ck_assert_uint_eq(B.peers[0].remote_index, 2);
	ck_assert_uint_eq(B.peers[0].last_initiation_consumption_ns,
			  NOW0 + FLOOD_NS);
}
END_TEST

/* Two initiations inside one 2^24 ns grain carry the same stamp, so the
 * second is a replay however late it comes. */
START_TEST(test_initiation_same_grain)
{
	struct message_handshake_initiation m1, m2;
	const uint64_t grain = 1ULL << 24;
	const uint64_t t = REAL0 + 5 * grain;

	make_initiation(&m1, 1, t);
	ck_assert_ptr_eq(consume_initiation(&m1, NOW0), &B.peers[0]);
	make_initiation(&m2, 2, t + grain - 1);
	ck_assert_ptr_null(consume_initiation(&m2, NOW0 + NSEC));
	make_initiation(&m2, 3, t + grain);
	ck_assert_ptr_eq(consume_initiation(&m2, NOW0 + NSEC), &B.peers[0]);
}
END_TEST

START_TEST(test_response_to_old_initiation)
{
	struct message_handshake_initiation m1, m2;
	struct message_handshake_response r1, r2;

	make_initiation(&m1, 1, REAL0);
	ck_assert_ptr_eq(consume_initiation(&m1, NOW0), &B.peers[0]);
	make_response(&r1, 2);
	/* A gives up on index 1 and tries again; the index table still
	 * points 1 at the handshake. */
	make_initiation(&m2, 3, REAL0 + NSEC);
	ck_assert_ptr_eq(lookup_index(&A, 1), &A.peers[0]);
	ck_assert_ptr_null(consume_response(&r1));
	ck_assert_int_eq(A.peers[0].state, HANDSHAKE_CREATED_INITIATION);
	ck_assert_uint_eq(A.peers[0].local_index, 3);
	/* Even a lookup that ignores indices does not make it fit. */
	ck_assert_ptr_null(
	    wg_noise_handshake_consume_response(&r1, &A.id, lookup_any, &A));
	/* The response to the new one works. */
	ck_assert_ptr_eq(consume_initiation(&m2, NOW0 + NSEC), &B.peers[0]);
	make_response(&r2, 4);
	ck_assert_ptr_eq(consume_response(&r2), &A.peers[0]);
	ck_assert_uint_eq(A.peers[0].remote_index, 4);
	/* Once consumed, the same response is not taken twice. */
	ck_assert_ptr_null(consume_response(&r2));
}
END_TEST

START_TEST(test_response_unknown_index)
{
	struct message_handshake_initiation m;
	struct message_handshake_response r;

	make_initiation(&m, 1, REAL0);
	ck_assert_ptr_eq(consume_initiation(&m, NOW0), &B.peers[0]);
	make_response(&r, 2);
	r.receiver_index = htole32(0xdeadbeef);
	ck_assert_ptr_null(consume_response(&r));
	/* With a lookup that hands out the handshake anyway, noise itself
	 * checks that the index is the one it sent. */
	ck_assert_ptr_null(
	    wg_noise_handshake_consume_response(&r, &A.id, lookup_any, &A));
	ck_assert_int_eq(A.peers[0].state, HANDSHAKE_CREATED_INITIATION);
	r.receiver_index = htole32(1);
	ck_assert_ptr_eq(
	    wg_noise_handshake_consume_response(&r, &A.id, lookup_any, &A),
	    &A.peers[0]);
}
END_TEST

START_TEST(test_unknown_static)
{
	struct message_handshake_initiation m;

	/* C knows B, but B does not know C. */
	memset(&m, 0, sizeof(m));
	ck_assert(
	    wg_noise_handshake_create_initiation(&m, &C.peers[0], 5, REAL0));
	ck_assert_ptr_null(consume_initiation(&m, NOW0));
	ck_assert_int_eq(B.peers[0].state, HANDSHAKE_ZEROED);
	/* A's initiation for B means nothing to C, though C knows A. */
	make_initiation(&m, 1, REAL0);
	ck_assert_ptr_null(wg_noise_handshake_consume_initiation(
	    &m, &C.id, lookup_static, &C, NOW0));
	ck_assert_int_eq(C.peers[1].state, HANDSHAKE_ZEROED);
	ck_assert_ptr_eq(consume_initiation(&m, NOW0), &B.peers[0]);
}
END_TEST

START_TEST(test_low_order_points)
{
	static const uint8_t zero[32];
	struct message_handshake_initiation m;
	struct message_handshake_response r;
	struct noise_handshake hs;

	/* A peer key of all zeros gives no static-static secret. */
	wg_noise_handshake_init(&hs, &A.id, zero, NULL);
	ck_assert_mem_eq(hs.precomputed_static_static, zero, 32);
	ck_assert(!wg_noise_handshake_create_initiation(&m, &hs, 1, REAL0));
	ck_assert_int_eq(hs.state, HANDSHAKE_ZEROED);
	wg_noise_handshake_destroy(&hs);

	/* A missing static-static secret (the identity got its key after
	 * the peer was added) is refused, not used, until recomputed. */
	{
		struct noise_static_identity late;
		uint8_t priv[32];
		uint64_t seed = 4;

		memset(&late, 0, sizeof(late));
		wg_noise_handshake_init(&hs, &late, B.id.static_public, NULL);
		test_random_bytes(&seed, priv, sizeof(priv));
		ck_assert(
		    wg_noise_set_static_identity_private_key(&late, priv));
		ck_assert(
		    !wg_noise_handshake_create_initiation(&m, &hs, 1, REAL0));
		wg_noise_precompute_static_static(&hs);
		ck_assert(
		    wg_noise_handshake_create_initiation(&m, &hs, 1, REAL0));
		wg_noise_handshake_destroy(&hs);
	}
	make_initiation(&m, 1, REAL0);
	memset(B.peers[0].precomputed_static_static, 0, 32);
	ck_assert_ptr_null(consume_initiation(&m, NOW0));
	wg_noise_precompute_static_static(&B.peers[0]);
	ck_assert_ptr_eq(consume_initiation(&m, NOW0), &B.peers[0]);
	wg_noise_handshake_clear(&B.peers[0]);

	/* A zero ephemeral in an initiation or a response. */
	make_initiation(&m, 1, REAL0 + NSEC);
	memset(m.unencrypted_ephemeral, 0, 32);
	ck_assert_ptr_null(consume_initiation(&m, NOW0 + NSEC));
	make_initiation(&m, 2, REAL0 + 2 * NSEC);
	ck_assert_ptr_eq(consume_initiation(&m, NOW0 + 2 * NSEC), &B.peers[0]);
	make_response(&r, 3);
	memset(r.unencrypted_ephemeral, 0, 32);
	ck_assert_ptr_null(consume_response(&r));
	ck_assert_int_eq(A.peers[0].state, HANDSHAKE_CREATED_INITIATION);
}
END_TEST

START_TEST(test_state_machine)
{
	struct message_handshake_initiation m;
	struct message_handshake_response r;

	/* Nothing to answer or to turn into a session yet. */
	ck_assert(!wg_noise_handshake_create_response(&r, &B.peers[0], 1));
	ck_assert(!wg_noise_handshake_begin_session(&B.peers[0], &B.kp, NOW0));
	make_initiation(&m, 1, REAL0);
	ck_assert(!wg_noise_handshake_begin_session(&A.peers[0], &A.kp, NOW0));
	ck_assert(!wg_noise_handshake_create_response(&r, &A.peers[0], 1));
	ck_assert_ptr_eq(consume_initiation(&m, NOW0), &B.peers[0]);
	ck_assert(!wg_noise_handshake_begin_session(&B.peers[0], &B.kp, NOW0));
	make_response(&r, 2);
	ck_assert(!wg_noise_handshake_create_response(&r, &B.peers[0], 2));
	/* Clearing forgets the initiation: its response no longer fits. */
	wg_noise_handshake_clear(&A.peers[0]);
	assert_zeroed(&A.peers[0]);
	ck_assert_ptr_null(consume_response(&r));
	/* A handshake without an identity cannot initiate. */
	{
		struct noise_static_identity none;
		struct noise_handshake hs;

		memset(&none, 0, sizeof(none));
		wg_noise_handshake_init(&hs, &none, B.id.static_public, NULL);
		ck_assert(
		    !wg_noise_handshake_create_initiation(&m, &hs, 1, REAL0));
		ck_assert_ptr_null(wg_noise_handshake_consume_initiation(
		    &m, &none, lookup_static, &B, NOW0));
		wg_noise_handshake_destroy(&hs);
	}
}
END_TEST

START_TEST(test_static_identity)
{
	uint8_t priv[32], clamped[32], pub[32];
	struct noise_static_identity id;
	uint64_t seed = 99;

	test_random_bytes(&seed, priv, sizeof(priv));
	priv[0] |= 7;
	priv[31] |= 0x80;
	ck_assert(wg_noise_set_static_identity_private_key(&id, priv));
	memcpy(clamped, priv, 32);
	clamped[0] &= 248;
	clamped[31] = (clamped[31] & 127) | 64;
	ck_assert_mem_eq(id.static_private, clamped, 32);
	ck_assert_int_eq(crypto_scalarmult_base(pub, clamped), 0);
	ck_assert_mem_eq(id.static_public, pub, 32);
	ck_assert(id.has_identity);
}
END_TEST

/* ---- transport data ---- */

static const size_t data_sizes[] = {0,	  1,	15,   16,   17,	 100,
				    1407, 1408, 1409, 1419, 1420};

/* Seal plain_len bytes from one keypair, open with the other. */
static void transport_roundtrip(const struct noise_keypair *from,
				const struct noise_keypair *to,
				size_t plain_len, uint64_t counter,
				uint64_t seed)
{
	uint8_t plain[1500], buf[16 + 1500 + 32];
	size_t len, pad = wg_noise_padding(plain_len, WG_DEFAULT_MTU), got;
	const struct message_data *msg = (const struct message_data *)buf;
	static const uint8_t zero[16];

	test_random_bytes(&seed, plain, plain_len);
	/* Dirty the padding area: the seal must zero it. */
	memset(buf, 0xee, sizeof(buf));
	memcpy(buf + 16, plain, plain_len);
	len = wg_noise_seal_data(buf, plain_len, WG_DEFAULT_MTU, from, counter);
	ck_assert_uint_eq(len, 16 + plain_len + pad + 16);
	ck_assert_uint_eq((plain_len + pad) % 16 == 0 ||
			      plain_len + pad == WG_DEFAULT_MTU,
			  1);
	ck_assert_uint_eq(le32toh(msg->header.type), WG_MSG_DATA);
	ck_assert_uint_eq(le32toh(msg->key_idx), from->remote_index);
	ck_assert_uint_eq(le64toh(msg->counter), counter);
	if (plain_len >= 16)
		ck_assert_mem_ne(buf + 16, plain, 16);
	ck_assert(wg_noise_open_data(buf, len, to, &got));
	ck_assert_uint_eq(got, plain_len + pad);
	if (plain_len)
		ck_assert_mem_eq(buf + 16, plain, plain_len);
	if (pad)
		ck_assert_mem_eq(buf + 16 + plain_len, zero, pad);
}

START_TEST(test_transport)
{
	size_t n = data_sizes[_i];

	handshake(1, 2, NOW0);
	transport_roundtrip(&A.kp, &B.kp, n, 0, 1000 + _i);
	transport_roundtrip(&B.kp, &A.kp, n, 1, 2000 + _i);
	transport_roundtrip(&A.kp, &B.kp, n, (1ULL << 60) + _i, 3000 + _i);
}
END_TEST

enum { TAMPER_PLAIN = 33, TAMPER_LEN = 16 + 48 + 16 };

START_TEST(test_data_tamper)
{
	uint8_t buf[TAMPER_LEN], bad[TAMPER_LEN];
	size_t len, got;
	uint64_t seed = 5;

	handshake(1, 2, NOW0);
	test_random_bytes(&seed, buf + 16, TAMPER_PLAIN);
	len = wg_noise_seal_data(buf, TAMPER_PLAIN, WG_DEFAULT_MTU, &A.kp, 7);
	ck_assert_uint_eq(len, TAMPER_LEN);
	memcpy(bad, buf, len);
	bad[_i] ^= flip(_i);
	ck_assert_msg(!wg_noise_open_data(bad, len, &B.kp, &got),
		      "data with byte %d flipped opened", _i);
	ck_assert(wg_noise_open_data(buf, len, &B.kp, &got));
	ck_assert_uint_eq(got, 48);
}
END_TEST

START_TEST(test_data_malformed)
{
	uint8_t buf[64];
	size_t len, got;

	handshake(1, 2, NOW0);
	memset(buf, 0, sizeof(buf));
	len = wg_noise_seal_data(buf, 0, WG_DEFAULT_MTU, &A.kp, 0);
	ck_assert_uint_eq(len, WG_MESSAGE_MINIMUM_LENGTH);
	/* Truncated, wrong direction, or an invalidated key. */
	ck_assert(!wg_noise_open_data(buf, len - 1, &B.kp, &got));
	ck_assert(!wg_noise_open_data(buf, len, &A.kp, &got));
	B.kp.receiving.is_valid = false;
	ck_assert(!wg_noise_open_data(buf, len, &B.kp, &got));
	B.kp.receiving.is_valid = true;
	ck_assert(wg_noise_open_data(buf, len, &B.kp, &got));
	ck_assert_uint_eq(got, 0);
	/* A keypair from another session cannot open it. */
	len = wg_noise_seal_data(buf, 0, WG_DEFAULT_MTU, &A.kp, 1);
	handshake(1, 2, NOW0 + NSEC);
	ck_assert(!wg_noise_open_data(buf, len, &B.kp, &got));
}
END_TEST

/* ---- padding and timestamps ---- */

static const struct {
	size_t len;
	unsigned int mtu;
	size_t pad;
} padding_cases[] = {
    {0, 1420, 0},
    {1, 1420, 15},
    {15, 1420, 1},
    {16, 1420, 0},
    {17, 1420, 15},
    {1408, 1420, 0},
    {1409, 1420, 11},
    {1410, 1420, 10},
    {1419, 1420, 1},
    {1420, 1420, 0},
    {1280, 1280, 0},
    {1279, 1280, 1},
    {20, 24, 4},
    {23, 24, 1},
    {24, 24, 0},
    /* Larger than the MTU: the remainder is padded. */
    {1421, 1420, 15},
    {2840, 1420, 0},
    {2850, 1420, 6},
    /* No MTU known: plain multiple of 16. */
    {0, 0, 0},
    {1, 0, 15},
    {1500, 0, 4},
    {65535, 0, 1},
};

START_TEST(test_padding)
{
	ck_assert_uint_eq(
	    wg_noise_padding(padding_cases[_i].len, padding_cases[_i].mtu),
	    padding_cases[_i].pad);
}
END_TEST

static const struct {
	uint64_t realtime_ns;
	const char *hex;
} tai64n_cases[] = {
    {0, "400000000000000a00000000"},
    {1, "400000000000000a00000000"},
    {(1 << 24) - 1, "400000000000000a00000000"},
    {1 << 24, "400000000000000a01000000"},
    {NSEC - 1, "400000000000000a3b000000"},
    {NSEC, "400000000000000b00000000"},
    {1234567890ULL * NSEC + 999999999, "40000000499602dc3b000000"},
    {1700000000ULL * NSEC + 500000000, "400000006553f10a1d000000"},
};

START_TEST(test_tai64n_format)
{
	uint8_t want[12], got[12];

	ck_assert_int_eq(test_unhex(want, sizeof(want), tai64n_cases[_i].hex),
			 12);
	wg_noise_tai64n(got, tai64n_cases[_i].realtime_ns);
	ck_assert_mem_eq(got, want, 12);
}
END_TEST

/* Stamps never go backwards, advance once a grain has passed, and their
 * nanoseconds are always a multiple of 2^24. */
START_TEST(test_tai64n_monotonic)
{
	uint64_t seed = 77, t = REAL0 - 3 * NSEC;
	uint8_t prev[12], cur[12];
	uint32_t nsec;
	int i;

	wg_noise_tai64n(prev, t);
	for (i = 0; i < 20000; i++) {
		uint64_t step = test_random_u64(&seed) % (3ULL << 24);

		t += step;
		wg_noise_tai64n(cur, t);
		ck_assert_int_le(memcmp(prev, cur, 12), 0);
		if (step >= 1ULL << 24)
			ck_assert_int_lt(memcmp(prev, cur, 12), 0);
		memcpy(&nsec, cur + 8, 4);
		nsec = be32toh(nsec);
		ck_assert_uint_eq(nsec % (1u << 24), 0);
		ck_assert_uint_lt(nsec, NSEC);
		memcpy(prev, cur, 12);
	}
	ck_assert_uint_gt(t, REAL0);
}
END_TEST

/* Every test starts from fresh parties (set up in the forked child). */
static TCase *add_tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, teardown);
	suite_add_tcase(s, tc);
	return tc;
}

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *noise_suite(void)
{
	Suite *s = suite_create("noise");
	TCase *tc;

	tc = add_tcase(s, "constants");
	tcase_add_test(tc, test_initial_chaining_key);
	tcase_add_loop_test(tc, test_reference_derivation, 0, 2);

	tc = add_tcase(s, "session");
	tcase_add_loop_test(tc, test_session, 0, 2);
	tcase_add_test(tc, test_static_identity);
	tcase_add_loop_test(tc, test_psk_mismatch, 0, 3);

	tc = add_tcase(s, "tampering");
	tcase_add_loop_test(
	    tc, test_initiation_tamper, 0,
	    offsetof(struct message_handshake_initiation, macs));
	tcase_add_loop_test(tc, test_response_tamper, 0,
			    offsetof(struct message_handshake_response, macs));
	tcase_add_loop_test(tc, test_data_tamper, 0, TAMPER_LEN);

	tc = add_tcase(s, "initiation replay and flood");
	tcase_add_test(tc, test_replayed_initiation);
	tcase_add_test(tc, test_initiation_flood);
	tcase_add_test(tc, test_initiation_same_grain);

	tc = add_tcase(s, "wrong peer or state");
	tcase_add_test(tc, test_response_to_old_initiation);
	tcase_add_test(tc, test_response_unknown_index);
	tcase_add_test(tc, test_unknown_static);
	tcase_add_test(tc, test_low_order_points);
	tcase_add_test(tc, test_state_machine);

	tc = add_tcase(s, "transport");
	tcase_add_loop_test(tc, test_transport, 0, NELEM(data_sizes));
	tcase_add_test(tc, test_data_malformed);

	tc = add_tcase(s, "padding");
	tcase_add_loop_test(tc, test_padding, 0, NELEM(padding_cases));

	tc = add_tcase(s, "tai64n");
	tcase_add_loop_test(tc, test_tai64n_format, 0, NELEM(tai64n_cases));
	tcase_add_test(tc, test_tai64n_monotonic);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failures;

	if (wg_crypto_init())
		return 1;
	sr = srunner_create(noise_suite());
	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
