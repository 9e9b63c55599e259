// SPDX-License-Identifier: MIT
/*
 * MAC1, MAC2 and cookie replies between an initiator (its struct cookie
 * for the responder) and a responder (its cookie checker). The messages
 * carry random bodies: the MACs do not depend on the handshake. Where the
 * wire format matters, the test recomputes it from the whitepaper's
 * definitions with BLAKE2s and libsodium directly.
 */
#include <arpa/inet.h>
#include <check.h>
#include <endian.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>

#include <sodium.h>

#include "crypto/blake2s.h"
#include "cookie.h"
#include "crypto/crypto.h"
#include "testlib.h"

#define NSEC_PER_SEC 1000000000ULL
#define T0 (5000 * NSEC_PER_SEC)

union message {
	struct message_handshake_initiation init;
	struct message_handshake_response resp;
	uint8_t bytes[sizeof(struct message_handshake_initiation)];
};

/* One responder, one initiator that knows its public key, and a source
 * address the initiator sends from. */
static struct {
	uint64_t seed;
	uint8_t responder_public[WG_KEY_LEN];
	struct cookie_checker checker;
	struct cookie cookie;
	union message msg;
	size_t len;
	union wg_sockaddr src;
} w;

static union wg_sockaddr addr(const char *ip, uint16_t port)
{
	union wg_sockaddr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, ip, &a.in4.sin_addr) == 1) {
		a.in4.sin_family = AF_INET;
		a.in4.sin_port = htons(port);
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &a.in6.sin6_addr), 1);
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_port = htons(port);
	}
	return a;
}

static void setup(void)
{
	ck_assert_int_eq(wg_crypto_init(), 0);
	w.seed = 0xc00c1e;
	test_random_bytes(&w.seed, w.responder_public, WG_KEY_LEN);
	wg_cookie_checker_init(&w.checker);
	wg_cookie_checker_precompute_device_keys(&w.checker,
						 w.responder_public);
	wg_cookie_init(&w.cookie, w.responder_public);
	w.src = addr("192.0.2.1", 51820);
}

static void teardown(void)
{
	wg_cookie_destroy(&w.cookie);
	wg_cookie_checker_destroy(&w.checker);
}

/* A fresh initiation (kind 0) or response (kind 1) with a random body,
 * as the handshake would produce before the MACs. */
static void new_message(int kind)
{
	test_random_bytes(&w.seed, &w.msg, sizeof(w.msg));
	if (kind == 0) {
		w.msg.init.header.type = htole32(WG_MSG_HANDSHAKE_INITIATION);
		w.len = sizeof(w.msg.init);
	} else {
		w.msg.resp.header.type = htole32(WG_MSG_HANDSHAKE_RESPONSE);
		w.len = sizeof(w.msg.resp);
	}
}

static struct message_macs *macs(void)
{
	return (struct message_macs *)(w.msg.bytes + w.len -
				       sizeof(struct message_macs));
}

/* In host order, as the daemon passes it on. */
static uint32_t sender_index(void)
{
	return le32toh(w.msg.init.sender_index); /* same offset in both */
}

static enum cookie_mac_state validate(const union wg_sockaddr *src,
				      bool under_load, uint64_t now)
{
	return wg_cookie_validate_packet(&w.checker, w.msg.bytes, w.len, src,
					 under_load, now);
}

/* The initiator sends, the responder (under load) answers with a cookie
 * reply, the initiator takes it. */
static void get_cookie(int kind, uint64_t now)
{
	struct message_handshake_cookie reply;

	new_message(kind);
	wg_cookie_add_mac_to_packet(w.msg.bytes, w.len, &w.cookie, now);
	ck_assert_int_eq(validate(&w.src, true, now), VALID_MAC_BUT_NO_COOKIE);
	wg_cookie_message_create(&reply, w.msg.bytes, w.len, sender_index(),
				 &w.checker, &w.src, now);
	ck_assert(wg_cookie_message_consume(&reply, &w.cookie, now));
}

static void derive(uint8_t key[static WG_KEY_LEN], const char label[8],
		   const uint8_t public_key[static WG_KEY_LEN])
{
	uint8_t in[8 + WG_KEY_LEN];

	memcpy(in, label, 8);
	memcpy(in + 8, public_key, WG_KEY_LEN);
	wg_blake2s(key, in, NULL, WG_KEY_LEN, sizeof(in), 0);
}

START_TEST(mac1_matches_definition)
{
	uint8_t key[WG_KEY_LEN], mac1[WG_MAC_LEN];
	static const uint8_t zero[WG_MAC_LEN];

	new_message(_i);
	wg_cookie_add_mac_to_packet(w.msg.bytes, w.len, &w.cookie, T0);

	derive(key, "mac1----", w.responder_public);
	wg_blake2s(mac1, w.msg.bytes, key, WG_MAC_LEN, w.len - 32, WG_KEY_LEN);
	ck_assert_mem_eq(macs()->mac1, mac1, WG_MAC_LEN);
	/* No cookie yet: mac2 is zeros. */
	ck_assert_mem_eq(macs()->mac2, zero, WG_MAC_LEN);
	ck_assert(w.cookie.have_sent_mac1);
	ck_assert_mem_eq(w.cookie.last_mac1_sent, mac1, WG_MAC_LEN);
}
END_TEST

START_TEST(mac1_valid)
{
	new_message(_i);
	wg_cookie_add_mac_to_packet(w.msg.bytes, w.len, &w.cookie, T0);
	ck_assert_int_eq(validate(&w.src, false, T0), VALID_MAC_BUT_NO_COOKIE);
	/* Under load, a valid mac1 with no mac2 asks for a cookie. */
	ck_assert_int_eq(validate(&w.src, true, T0), VALID_MAC_BUT_NO_COOKIE);
}
END_TEST

START_TEST(mac1_covers_every_byte)
{
	size_t i;
	int bit;

	new_message(_i);
	wg_cookie_add_mac_to_packet(w.msg.bytes, w.len, &w.cookie, T0);
	/* Everything up to mac2 (the message and mac1 itself). */
	for (i = 0; i < w.len - WG_MAC_LEN; i++)
		for (bit = 0; bit < 8; bit += 7) {
			w.msg.bytes[i] ^= (uint8_t)(1 << bit);
			ck_assert_msg(validate(&w.src, false, T0) ==
					  INVALID_MAC,
				      "byte %zu bit %d", i, bit);
			w.msg.bytes[i] ^= (uint8_t)(1 << bit);
		}
	/* mac2 is not under mac1. */
	for (i = w.len - WG_MAC_LEN; i < w.len; i++) {
		w.msg.bytes[i] ^= 0x01;
		ck_assert_int_eq(validate(&w.src, false, T0),
				 VALID_MAC_BUT_NO_COOKIE);
		w.msg.bytes[i] ^= 0x01;
	}
}
END_TEST

START_TEST(mac1_wrong_responder)
{
	struct cookie_checker other;
	uint8_t other_public[WG_KEY_LEN];

	new_message(_i);
	wg_cookie_add_mac_to_packet(w.msg.bytes, w.len, &w.cookie, T0);

	wg_cookie_checker_init(&other);
	ck_assert_int_eq(wg_cookie_validate_packet(&other, w.msg.bytes, w.len,
						   &w.src, false, T0),
			 INVALID_MAC);
	memcpy(other_public, w.responder_public, WG_KEY_LEN);
	other_public[31] ^= 0x80;
	wg_cookie_checker_precompute_device_keys(&other, other_public);
	ck_assert_int_eq(wg_cookie_validate_packet(&other, w.msg.bytes, w.len,
						   &w.src, false, T0),
			 INVALID_MAC);
	/* Back to the right key, then dropped again. */
	wg_cookie_checker_precompute_device_keys(&other, w.responder_public);
	ck_assert_int_eq(wg_cookie_validate_packet(&other, w.msg.bytes, w.len,
						   &w.src, false, T0),
			 VALID_MAC_BUT_NO_COOKIE);
	wg_cookie_checker_precompute_device_keys(&other, NULL);
	ck_assert_int_eq(wg_cookie_validate_packet(&other, w.msg.bytes, w.len,
						   &w.src, false, T0),
			 INVALID_MAC);
	wg_cookie_checker_destroy(&other);
}
END_TEST

START_TEST(cookie_round_trip)
{
	uint8_t mac2[WG_MAC_LEN];

	get_cookie(_i, T0);
	ck_assert(w.cookie.is_valid);
	ck_assert(!w.cookie.have_sent_mac1);

	/* The retried handshake carries mac2, keyed by the cookie. */
	new_message(_i);
	wg_cookie_add_mac_to_packet(w.msg.bytes, w.len, &w.cookie, T0 + 1);
	wg_blake2s(mac2, w.msg.bytes, w.cookie.cookie, WG_MAC_LEN,
		   w.len - WG_MAC_LEN, WG_COOKIE_LEN);
	ck_assert_mem_eq(macs()->mac2, mac2, WG_MAC_LEN);
	ck_assert_int_eq(validate(&w.src, true, T0 + 1), VALID_MAC_WITH_COOKIE);
	/* Every byte before mac2 is under it too. */
	w.msg.bytes[w.len - WG_MAC_LEN - 1] ^= 0x40;
	ck_assert_int_eq(validate(&w.src, true, T0 + 1), INVALID_MAC);
}
END_TEST

/* The reply on the wire: type 3, the index it answers, and the cookie
 * MAC(secret, address || port) under XChaCha20-Poly1305 with the key
 * HASH("cookie--" || responder public) and mac1 as additional data. */
START_TEST(cookie_reply_matches_definition)
{
	struct message_handshake_cookie reply;
	uint8_t key[WG_KEY_LEN], cookie[WG_COOKIE_LEN], want[WG_COOKIE_LEN];
	uint8_t src_bytes[18];
	unsigned long long clen;

	new_message(0);
	wg_cookie_add_mac_to_packet(w.msg.bytes, w.len, &w.cookie, T0);
	w.src = addr(_i ? "2001:db8::7" : "198.51.100.7", 4242);
	wg_cookie_message_create(&reply, w.msg.bytes, w.len, sender_index(),
				 &w.checker, &w.src, T0);

	ck_assert_uint_eq(le32toh(reply.header.type), WG_MSG_HANDSHAKE_COOKIE);
	ck_assert_uint_eq(reply.receiver_index, w.msg.init.sender_index);
	derive(key, "cookie--", w.responder_public);
	ck_assert_int_eq(crypto_aead_xchacha20poly1305_ietf_decrypt(
			     cookie, &clen, NULL, reply.encrypted_cookie,
			     sizeof(reply.encrypted_cookie), macs()->mac1,
			     WG_MAC_LEN, reply.nonce, key),
			 0);
	ck_assert_uint_eq(clen, WG_COOKIE_LEN);

	if (_i) {
		memcpy(src_bytes, &w.src.in6.sin6_addr, 16);
		memcpy(src_bytes + 16, &w.src.in6.sin6_port, 2);
	} else {
		memcpy(src_bytes, &w.src.in4.sin_addr, 4);
		memcpy(src_bytes + 4, &w.src.in4.sin_port, 2);
	}
	wg_blake2s(want, src_bytes, w.checker.secret, WG_COOKIE_LEN,
		   _i ? 18 : 6, sizeof(w.checker.secret));
	ck_assert_mem_eq(cookie, want, WG_COOKIE_LEN);
}
END_TEST

START_TEST(nonces_differ)
{
	struct message_handshake_cookie a, b;

	new_message(0);
	wg_cookie_add_mac_to_packet(w.msg.bytes, w.len, &w.cookie, T0);
	wg_cookie_message_create(&a, w.msg.bytes, w.len, 1, &w.checker, &w.src,
				 T0);
	wg_cookie_message_create(&b, w.msg.bytes, w.len, 1, &w.checker, &w.src,
				 T0);
	ck_assert_mem_ne(a.nonce, b.nonce, WG_COOKIE_NONCE_LEN);
	ck_assert(wg_cookie_message_consume(&b, &w.cookie, T0));
}
END_TEST

START_TEST(mac2_only_under_load)
{
	get_cookie(_i, T0);
	new_message(_i);
	wg_cookie_add_mac_to_packet(w.msg.bytes, w.len, &w.cookie, T0);

	/* Not under load, mac2 is not looked at: right or wrong. */
	ck_assert_int_eq(validate(&w.src, false, T0), VALID_MAC_BUT_NO_COOKIE);
	macs()->mac2[3] ^= 0x10;
	ck_assert_int_eq(validate(&w.src, false, T0), VALID_MAC_BUT_NO_COOKIE);
	/* Under load, the wrong one earns no cookie credit. */
	ck_assert_int_eq(validate(&w.src, true, T0), VALID_MAC_BUT_NO_COOKIE);
	macs()->mac2[3] ^= 0x10;
	ck_assert_int_eq(validate(&w.src, true, T0), VALID_MAC_WITH_COOKIE);
}
END_TEST

static const struct {
	const char *ip;
	uint16_t port;
} other_sources[] = {
    {"192.0.2.2", 51820},	 /* another address */
    {"192.0.2.1", 51821},	 /* another port */
    {"10.0.0.1", 51820},	 /* far away */
    {"::ffff:192.0.2.1", 51820}, /* same IPv4, other family */
    {"2001:db8::1", 51820},
};

START_TEST(mac2_bound_to_source)
{
	union wg_sockaddr other =
	    addr(other_sources[_i].ip, other_sources[_i].port);

	get_cookie(0, T0);
	new_message(0);
	wg_cookie_add_mac_to_packet(w.msg.bytes, w.len, &w.cookie, T0);
	ck_assert_int_eq(validate(&w.src, true, T0), VALID_MAC_WITH_COOKIE);
	ck_assert_int_eq(validate(&other, true, T0), VALID_MAC_BUT_NO_COOKIE);
}
END_TEST

START_TEST(mac2_bound_to_ipv6_source)
{
	union wg_sockaddr other;

	w.src = addr("2001:db8:1:2::10", 443);
	get_cookie(1, T0);
	new_message(1);
	wg_cookie_add_mac_to_packet(w.msg.bytes, w.len, &w.cookie, T0);
	ck_assert_int_eq(validate(&w.src, true, T0), VALID_MAC_WITH_COOKIE);
	other = addr("2001:db8:1:2::11", 443);
	ck_assert_int_eq(validate(&other, true, T0), VALID_MAC_BUT_NO_COOKIE);
	other = addr("2001:db8:1:2::10", 444);
	ck_assert_int_eq(validate(&other, true, T0), VALID_MAC_BUT_NO_COOKIE);
	/* A cookie has no meaning for a family we cannot answer. */
	memset(&other, 0, sizeof(other));
	other.sa.sa_family = AF_UNIX;
	ck_assert_int_eq(validate(&other, true, T0), VALID_MAC_BUT_NO_COOKIE);
}
END_TEST

START_TEST(reply_tampering_rejected)
{
	struct message_handshake_cookie reply, bad;
	size_t i, first = offsetof(struct message_handshake_cookie, nonce);

	new_message(_i);
	wg_cookie_add_mac_to_packet(w.msg.bytes, w.len, &w.cookie, T0);
	wg_cookie_message_create(&reply, w.msg.bytes, w.len, sender_index(),
				 &w.checker, &w.src, T0);
	/* Nonce and ciphertext are authenticated; a bad reply changes
	 * nothing, so the genuine one still works afterwards. */
	for (i = first; i < sizeof(reply); i++) {
		memcpy(&bad, &reply, sizeof(bad));
		((uint8_t *)&bad)[i] ^= 0x20;
		ck_assert_msg(!wg_cookie_message_consume(&bad, &w.cookie, T0),
			      "byte %zu", i);
		ck_assert(!w.cookie.is_valid);
		ck_assert(w.cookie.have_sent_mac1);
	}
	ck_assert(wg_cookie_message_consume(&reply, &w.cookie, T0));
	/* One reply per mac1 sent: no replay. */
	ck_assert(!wg_cookie_message_consume(&reply, &w.cookie, T0));
}
END_TEST

START_TEST(reply_from_other_responder_rejected)
{
	struct message_handshake_cookie reply;
	struct cookie_checker other;
	uint8_t other_public[WG_KEY_LEN];

	new_message(0);
	wg_cookie_add_mac_to_packet(w.msg.bytes, w.len, &w.cookie, T0);
	test_random_bytes(&w.seed, other_public, WG_KEY_LEN);
	wg_cookie_checker_init(&other);
	wg_cookie_checker_precompute_device_keys(&other, other_public);
	wg_cookie_message_create(&reply, w.msg.bytes, w.len, sender_index(),
				 &other, &w.src, T0);
	ck_assert(!wg_cookie_message_consume(&reply, &w.cookie, T0));
	wg_cookie_checker_destroy(&other);
}
END_TEST

START_TEST(reply_to_older_mac1_rejected)
{
	struct message_handshake_cookie reply;

	new_message(0);
	wg_cookie_add_mac_to_packet(w.msg.bytes, w.len, &w.cookie, T0);
	wg_cookie_message_create(&reply, w.msg.bytes, w.len, sender_index(),
				 &w.checker, &w.src, T0);
	/* We have sent another message since: the reply answers the old
	 * mac1, so it is not for us any more. */
	new_message(0);
	wg_cookie_add_mac_to_packet(w.msg.bytes, w.len, &w.cookie, T0 + 1);
	ck_assert(!wg_cookie_message_consume(&reply, &w.cookie, T0 + 1));
}
END_TEST

START_TEST(consume_without_mac1_rejected)
{
	struct message_handshake_cookie reply;
	struct cookie fresh;

	new_message(0);
	wg_cookie_add_mac_to_packet(w.msg.bytes, w.len, &w.cookie, T0);
	wg_cookie_message_create(&reply, w.msg.bytes, w.len, sender_index(),
				 &w.checker, &w.src, T0);
	/* Same responder, same keys, but this state never sent a mac1. */
	wg_cookie_init(&fresh, w.responder_public);
	ck_assert(!wg_cookie_message_consume(&reply, &fresh, T0));
	ck_assert(!fresh.is_valid);
	wg_cookie_destroy(&fresh);
}
END_TEST

START_TEST(peer_cookie_expires)
{
	static const uint8_t zero[WG_MAC_LEN];
	const uint64_t life =
	    (COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY) * NSEC_PER_SEC;

	get_cookie(_i, T0);
	new_message(_i);
	wg_cookie_add_mac_to_packet(w.msg.bytes, w.len, &w.cookie,
				    T0 + life - 1);
	ck_assert_mem_ne(macs()->mac2, zero, WG_MAC_LEN);
	ck_assert_int_eq(validate(&w.src, true, T0 + life - 1),
			 VALID_MAC_WITH_COOKIE);
	new_message(_i);
	wg_cookie_add_mac_to_packet(w.msg.bytes, w.len, &w.cookie, T0 + life);
	ck_assert_mem_eq(macs()->mac2, zero, WG_MAC_LEN);
	ck_assert_int_eq(validate(&w.src, true, T0 + life),
			 VALID_MAC_BUT_NO_COOKIE);
}
END_TEST

START_TEST(secret_rotates)
{
	const uint64_t max_age = COOKIE_SECRET_MAX_AGE * NSEC_PER_SEC;
	uint8_t old_secret[WG_HASH_LEN];

	/* The checker's secret is born with the first cookie, at T0. */
	get_cookie(_i, T0);
	memcpy(old_secret, w.checker.secret, sizeof(old_secret));
	new_message(_i);
	wg_cookie_add_mac_to_packet(w.msg.bytes, w.len, &w.cookie, T0 + 1);

	ck_assert_int_eq(validate(&w.src, true, T0 + max_age - 1),
			 VALID_MAC_WITH_COOKIE);
	ck_assert_mem_eq(w.checker.secret, old_secret, sizeof(old_secret));
	ck_assert_int_eq(validate(&w.src, true, T0 + max_age),
			 VALID_MAC_BUT_NO_COOKIE);
	ck_assert_mem_ne(w.checker.secret, old_secret, sizeof(old_secret));
	ck_assert_int_eq(validate(&w.src, true, T0 + max_age + 1),
			 VALID_MAC_BUT_NO_COOKIE);

	/* A new cookie under the new secret works again. */
	get_cookie(_i, T0 + max_age + 2);
	new_message(_i);
	wg_cookie_add_mac_to_packet(w.msg.bytes, w.len, &w.cookie,
				    T0 + max_age + 2);
	ck_assert_int_eq(validate(&w.src, true, T0 + max_age + 2),
			 VALID_MAC_WITH_COOKIE);
}
END_TEST

/* Handshake workers rotating the secret at once must agree on one new
 * secret, or the cookies they hand out would not validate. Every round
 * starts past the secret's age, so all threads race to replace it. */
enum { NTHREADS = 2, NROUNDS = 10000 };

/* A spinning barrier: threads leave it within nanoseconds of each other,
 * where a sleeping one would wake them one by one. */
static unsigned int arrived, generation;

static void spin_barrier(void)
{
	unsigned int gen = __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
	unsigned int spins;

	if (__atomic_add_fetch(&arrived, 1, __ATOMIC_ACQ_REL) == NTHREADS) {
		__atomic_store_n(&arrived, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&generation, gen + 1, __ATOMIC_RELEASE);
		return;
	}
	/* Yield now and then: the machine may have fewer free cores than
	 * there are threads. */
	for (spins = 0; __atomic_load_n(&generation, __ATOMIC_ACQUIRE) == gen;
	     spins++)
		if (spins % 1024 == 1023)
			sched_yield();
}
static struct message_handshake_cookie replies[NROUNDS][NTHREADS];

static uint64_t round_time(int round)
{
	return T0 +
	       (uint64_t)(round + 1) * COOKIE_SECRET_MAX_AGE * NSEC_PER_SEC;
}

static void *answer(void *arg)
{
	int thread = (int)(intptr_t)arg, round;

	for (round = 0; round < NROUNDS; round++) {
		spin_barrier();
		wg_cookie_message_create(&replies[round][thread], w.msg.bytes,
					 w.len, 7, &w.checker, &w.src,
					 round_time(round));
	}
	return NULL;
}

static void open_reply(uint8_t cookie[static WG_COOKIE_LEN],
		       const struct message_handshake_cookie *reply,
		       const uint8_t key[static WG_KEY_LEN])
{
	ck_assert(wg_xaead_open(cookie, reply->encrypted_cookie,
				sizeof(reply->encrypted_cookie), macs()->mac1,
				WG_MAC_LEN, reply->nonce, key));
}

START_TEST(concurrent_rotation_agrees)
{
	pthread_t threads[NTHREADS];
	uint8_t key[WG_KEY_LEN], first[WG_COOKIE_LEN], cookie[WG_COOKIE_LEN];
	int i, round, disagreements = 0;

	new_message(0);
	wg_cookie_add_mac_to_packet(w.msg.bytes, w.len, &w.cookie, T0);
	for (i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_create(&threads[i], NULL, answer,
						(void *)(intptr_t)i),
				 0);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(threads[i], NULL);

	derive(key, "cookie--", w.responder_public);
	for (round = 0; round < NROUNDS; round++) {
		open_reply(first, &replies[round][0], key);
		for (i = 1; i < NTHREADS; i++) {
			open_reply(cookie, &replies[round][i], key);
			disagreements += !!memcmp(cookie, first, WG_COOKIE_LEN);
		}
	}
	ck_assert_int_eq(disagreements, 0);
	ck_assert_uint_eq(w.checker.secret_birthdate_ns,
			  round_time(NROUNDS - 1));
}
END_TEST

/* The under-load decision over a queue of 1024 (deep from 128 on): steps
 * of (queue length, milliseconds since the start, expected answer). */
static const struct {
	size_t n;
	uint64_t base_ns;
	struct {
		size_t queue_len;
		uint64_t t_ms;
		bool want;
	} step[6];
} load_runs[] = {
    /* Never under load. */
    {3, T0, {{0, 0, false}, {127, 10, false}, {127, 5000, false}}},
    /* A deep queue, then a one-second tail. */
    {4,
     T0,
     {{128, 0, true}, {0, 999, true}, {0, 1000, false}, {127, 1001, false}}},
    /* The tail runs from the last time the queue was deep. */
    {6,
     T0,
     {{1024, 0, true},
      {200, 700, true},
      {0, 1699, true},
      {0, 1700, false},
      {128, 1800, true},
      {10, 2799, true}}},
    /* A clock that starts at zero. */
    {4, 0, {{128, 0, true}, {0, 0, true}, {0, 500, true}, {0, 1500, false}}},
};

START_TEST(under_load_tail)
{
	struct cookie_load load = {0};
	size_t k;

	for (k = 0; k < load_runs[_i].n; k++)
		ck_assert_msg(wg_cookie_under_load(
				  &load, load_runs[_i].step[k].queue_len, 1024,
				  load_runs[_i].base_ns +
				      load_runs[_i].step[k].t_ms * 1000000) ==
				  load_runs[_i].step[k].want,
			      "step %zu", k);
}
END_TEST

START_TEST(under_load_boundary_ns)
{
	struct cookie_load load = {0};

	ck_assert(wg_cookie_under_load(&load, 8, 64, T0));
	ck_assert(wg_cookie_under_load(&load, 7, 64, T0 + NSEC_PER_SEC - 1));
	ck_assert(!wg_cookie_under_load(&load, 7, 64, T0 + NSEC_PER_SEC));
}
END_TEST

static Suite *cookie_suite(void)
{
	Suite *s = suite_create("cookie");
	TCase *tc;

	tc = tcase_create("mac1");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, mac1_matches_definition, 0, 2);
	tcase_add_loop_test(tc, mac1_valid, 0, 2);
	tcase_add_loop_test(tc, mac1_covers_every_byte, 0, 2);
	tcase_add_loop_test(tc, mac1_wrong_responder, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("reply");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, cookie_round_trip, 0, 2);
	tcase_add_loop_test(tc, cookie_reply_matches_definition, 0, 2);
	tcase_add_test(tc, nonces_differ);
	tcase_add_loop_test(tc, reply_tampering_rejected, 0, 2);
	tcase_add_test(tc, reply_from_other_responder_rejected);
	tcase_add_test(tc, reply_to_older_mac1_rejected);
	tcase_add_test(tc, consume_without_mac1_rejected);
	suite_add_tcase(s, tc);

	tc = tcase_create("mac2");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, mac2_only_under_load, 0, 2);
	tcase_add_loop_test(tc, mac2_bound_to_source, 0,
			    sizeof(other_sources) / sizeof(other_sources[0]));
	tcase_add_test(tc, mac2_bound_to_ipv6_source);
	suite_add_tcase(s, tc);

	tc = tcase_create("expiry");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, peer_cookie_expires, 0, 2);
	tcase_add_loop_test(tc, secret_rotates, 0, 2);
	tcase_add_test(tc, concurrent_rotation_agrees);
	suite_add_tcase(s, tc);

	tc = tcase_create("load");
	tcase_add_loop_test(tc, under_load_tail, 0,
			    sizeof(load_runs) / sizeof(load_runs[0]));
	tcase_add_test(tc, under_load_boundary_ns);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cookie_suite());
	int failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
