// SPDX-License-Identifier: MIT
/* BLAKE2s against RFC 7693 and the reference KATs; HMAC-BLAKE2s against a
 * construction written out by hand from RFC 2104. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/blake2s.h"
#include "testlib.h"

enum {
	KAT_EXPECTED = 256,
	KAT_MAX = 512,
	KAT_MAX_IN = 256,
	RANDOM_ROUNDS = 64,
	HMAC_ROUNDS = 64,
};

struct kat {
	uint8_t in[KAT_MAX_IN];
	uint8_t key[BLAKE2S_KEY_SIZE];
	uint8_t hash[BLAKE2S_HASH_SIZE];
	size_t inlen, keylen;
};

static struct kat kats[KAT_MAX];

/* The fields of t/vectors/blake2s-kat.txt, in order. */
enum { KAT_IN, KAT_KEY, KAT_HASH };

/* Decodes case i into kats[i]; false if a field is not hex of a length
 * that fits. */
static bool decode_kat(const struct test_vectors *v, int i)
{
	struct kat *k = &kats[i];
	long in, key;

	in = test_unhex(k->in, sizeof(k->in), test_vectors_field(v, i, KAT_IN));
	key = test_unhex(k->key, sizeof(k->key),
			 test_vectors_field(v, i, KAT_KEY));
	if (in < 0 || key < 0 ||
	    test_unhex(k->hash, sizeof(k->hash),
		       test_vectors_field(v, i, KAT_HASH)) != BLAKE2S_HASH_SIZE)
		return false;
	k->inlen = (size_t)in;
	k->keylen = (size_t)key;
	return true;
}

/*
 * Number of cases read from blake2s-kat.txt into kats[], or -1 when the
 * file is unreadable, malformed, or does not hold the number of cases it
 * states; why goes to standard error.
 */
static int load_kats(void)
{
	struct test_vectors v;
	int i, count = -1;

	if (test_vectors_load(&v, "blake2s-kat.txt", "in key hash"))
		goto out;
	if (v.count != v.declared || v.count > KAT_MAX) {
		snprintf(v.error, sizeof(v.error), "%d cases, %d stated",
			 v.count, v.declared);
		goto out;
	}
	for (i = 0; i < v.count; i++) {
		if (!decode_kat(&v, i)) {
			snprintf(v.error, sizeof(v.error), "case %d: bad hex",
				 i + 1);
			goto out;
		}
	}
	count = v.count;
out:
	if (count < 0)
		fprintf(stderr, "blake2s-kat.txt: %s\n", v.error);
	test_vectors_free(&v);
	return count;
}

/* Feeds in through update() in chunks of the sizes in steps[], cycling. */
static void hash_chunked(uint8_t *out, const uint8_t *in, size_t inlen,
			 const uint8_t *key, size_t keylen, size_t outlen,
			 const size_t *steps, size_t nsteps)
{
	struct blake2s_state state;
	size_t off = 0, i = 0;

	wg_blake2s_init_key(&state, outlen, key, keylen);
	while (off < inlen) {
		size_t n = steps[i++ % nsteps];

		if (n > inlen - off)
			n = inlen - off;
		wg_blake2s_update(&state, in + off, n);
		off += n;
	}
	wg_blake2s_final(&state, out);
}

static void unhex_exact(uint8_t *out, size_t len, const char *hex)
{
	ck_assert_int_eq(test_unhex(out, len, hex), (long)len);
}

START_TEST(test_rfc7693_abc)
{
	static const char expect_hex[] = "508c5e8c327c14e2e1a72ba34eeb452f"
					 "37458b209ed63a294d999b4c86675982";
	uint8_t expect[BLAKE2S_HASH_SIZE], out[BLAKE2S_HASH_SIZE];
	struct blake2s_state state;

	unhex_exact(expect, sizeof(expect), expect_hex);
	wg_blake2s(out, (const uint8_t *)"abc", NULL, sizeof(out), 3, 0);
	ck_assert_mem_eq(out, expect, sizeof(out));

	wg_blake2s_init(&state, sizeof(out));
	wg_blake2s_update(&state, (const uint8_t *)"a", 1);
	wg_blake2s_update(&state, (const uint8_t *)"bc", 2);
	memset(out, 0, sizeof(out));
	wg_blake2s_final(&state, out);
	ck_assert_mem_eq(out, expect, sizeof(out));
}
END_TEST

/* RFC 7693 Appendix E: the self-test sequence generator. */
static void selftest_seq(uint8_t *out, size_t len, uint32_t seed)
{
	uint32_t a = 0xdead4bad * seed, b = 1, t;
	size_t i;

	for (i = 0; i < len; i++) {
		t = a + b;
		a = b;
		b = t;
		out[i] = (uint8_t)(t >> 24);
	}
}

/* RFC 7693 Appendix E: truncated outputs, keyed and unkeyed, hashed
 * together; covers every outlen path the KATs do not. */
START_TEST(test_rfc7693_selftest)
{
	static const size_t outlens[] = {16, 20, 28, 32};
	static const size_t inlens[] = {0, 3, 64, 65, 255, 1024};
	uint8_t in[1024], key[32], md[32], expect[32];
	struct blake2s_state ctx;
	size_t i, j;

	unhex_exact(expect, sizeof(expect),
		    "6a411f08ce25adcdfb02aba641451cec"
		    "53c598b24f4fc787fbdc88797f4c1dfe");
	wg_blake2s_init(&ctx, 32);
	for (i = 0; i < 4; i++) {
		size_t outlen = outlens[i];

		for (j = 0; j < 6; j++) {
			size_t inlen = inlens[j];

			selftest_seq(in, inlen, (uint32_t)inlen);
			wg_blake2s(md, in, NULL, outlen, inlen, 0);
			wg_blake2s_update(&ctx, md, outlen);
			selftest_seq(key, outlen, (uint32_t)outlen);
			wg_blake2s(md, in, key, outlen, inlen, outlen);
			wg_blake2s_update(&ctx, md, outlen);
		}
	}
	wg_blake2s_final(&ctx, md);
	ck_assert_mem_eq(md, expect, sizeof(md));
}
END_TEST

/* A file cut short, or grown, fails here. */
START_TEST(test_kat_count)
{
	int count = load_kats();

	ck_assert_int_eq(count, KAT_EXPECTED);
	fprintf(stderr, "blake2s-kat.txt: %d cases\n", count);
}
END_TEST

START_TEST(test_kat_case)
{
	static const size_t odd[] = {1, 3, 7, 13, 63, 65};
	static const size_t bytes[] = {1};
	static int count = -2;
	uint8_t out[BLAKE2S_HASH_SIZE];
	const struct kat *k = &kats[_i];

	if (count == -2)
		count = load_kats();
	ck_assert_msg(_i < count, "KAT %d missing (read %d)", _i, count);

	wg_blake2s(out, k->in, k->key, sizeof(out), k->inlen, k->keylen);
	ck_assert_mem_eq(out, k->hash, sizeof(out));
	memset(out, 0, sizeof(out));
	hash_chunked(out, k->in, k->inlen, k->key, k->keylen, sizeof(out), odd,
		     sizeof(odd) / sizeof(odd[0]));
	ck_assert_mem_eq(out, k->hash, sizeof(out));
	memset(out, 0, sizeof(out));
	hash_chunked(out, k->in, k->inlen, k->key, k->keylen, sizeof(out),
		     bytes, 1);
	ck_assert_mem_eq(out, k->hash, sizeof(out));
}
END_TEST

/* Random lengths, keys and chunkings: streaming must equal one-shot. */
START_TEST(test_stream_random)
{
	static const size_t edges[] = {0, 1, 63, 64, 65, 127, 128, 129};
	uint64_t seed = 0x5eed0000u + (uint64_t)_i;
	uint8_t in[1100], key[32], a[32], b[32];
	size_t steps[4], inlen, keylen, outlen, i;

	if (_i < 8)
		inlen = edges[_i];
	else
		inlen = test_random_u64(&seed) % sizeof(in);
	keylen = test_random_u64(&seed) % 33;
	outlen = 1 + test_random_u64(&seed) % 32;
	for (i = 0; i < 4; i++)
		steps[i] = 1 + test_random_u64(&seed) % 150;
	test_random_bytes(&seed, in, inlen);
	test_random_bytes(&seed, key, keylen);

	memset(a, 0xaa, sizeof(a));
	memset(b, 0xbb, sizeof(b));
	wg_blake2s(a, in, keylen ? key : NULL, outlen, inlen, keylen);
	hash_chunked(b, in, inlen, key, keylen, outlen, steps, 4);
	ck_assert_mem_eq(a, b, outlen);
	/* Nothing is written past outlen. */
	for (i = outlen; i < sizeof(a); i++)
		ck_assert_uint_eq(a[i], 0xaa);
}
END_TEST

/* HMAC written out from RFC 2104 with one-shot hashes of concatenations:
 * H((K' ^ opad) || H((K' ^ ipad) || m)), K' = H(K) when K is longer than
 * the 64-byte block, zero-padded otherwise. */
static void hmac_ref(uint8_t out[32], const uint8_t *in, size_t inlen,
		     const uint8_t *key, size_t keylen)
{
	uint8_t kp[64] = {0}, inner[32], outer_msg[64 + 32];
	uint8_t *inner_msg = malloc(64 + inlen);
	size_t i;

	ck_assert_ptr_nonnull(inner_msg);
	if (keylen > 64)
		wg_blake2s(kp, key, NULL, 32, keylen, 0);
	else if (keylen)
		memcpy(kp, key, keylen);
	for (i = 0; i < 64; i++) {
		inner_msg[i] = kp[i] ^ 0x36;
		outer_msg[i] = kp[i] ^ 0x5c;
	}
	if (inlen)
		memcpy(inner_msg + 64, in, inlen);
	wg_blake2s(inner, inner_msg, NULL, 32, 64 + inlen, 0);
	memcpy(outer_msg + 64, inner, 32);
	wg_blake2s(out, outer_msg, NULL, 32, sizeof(outer_msg), 0);
	free(inner_msg);
}

/* Fixed values, computed independently with Python's hmac module over
 * hashlib.blake2s, and checked here against hmac_ref as well. */
static const struct {
	const char *key, *msg, *mac;
	size_t keylen;
} hmac_fixed[] = {
    {"key", "The quick brown fox jumps over the lazy dog",
     "f93215bb90d4af4c3061cd932fb169fb8bb8a91d0b4022baea1271e1323cd9a0", 3},
    /* key = bytes 0..99: longer than a block, so hashed first. */
    {NULL, "wgpipe",
     "9f8c3d492c4b218139f12c048a94a5fd621218c7f3fe5370b89807b7b42a16e7", 100},
};

START_TEST(test_hmac_fixed)
{
	uint8_t key[100], expect[32], out[32], ref[32];
	const char *msg = hmac_fixed[_i].msg;
	size_t keylen = hmac_fixed[_i].keylen, i;

	if (hmac_fixed[_i].key)
		memcpy(key, hmac_fixed[_i].key, keylen);
	else
		for (i = 0; i < keylen; i++)
			key[i] = (uint8_t)i;
	unhex_exact(expect, sizeof(expect), hmac_fixed[_i].mac);
	wg_blake2s_hmac(out, (const uint8_t *)msg, key, strlen(msg), keylen);
	hmac_ref(ref, (const uint8_t *)msg, strlen(msg), key, keylen);
	ck_assert_mem_eq(out, expect, sizeof(out));
	ck_assert_mem_eq(ref, expect, sizeof(ref));
}
END_TEST

START_TEST(test_hmac_random)
{
	uint64_t seed = 0x4d4ac000u + (uint64_t)_i;
	uint8_t in[300], key[130], out[32], ref[32];
	size_t inlen = test_random_u64(&seed) % sizeof(in);
	size_t keylen = (size_t)_i * 2 % sizeof(key);

	test_random_bytes(&seed, in, inlen);
	test_random_bytes(&seed, key, keylen);
	wg_blake2s_hmac(out, in, key, inlen, keylen);
	hmac_ref(ref, in, inlen, key, keylen);
	ck_assert_mem_eq(out, ref, sizeof(out));
}
END_TEST

static Suite *blake2s_suite(void)
{
	Suite *s = suite_create("blake2s");
	TCase *tc;

	tc = tcase_create("rfc7693");
	tcase_add_test(tc, test_rfc7693_abc);
	tcase_add_test(tc, test_rfc7693_selftest);
	suite_add_tcase(s, tc);

	tc = tcase_create("kat");
	tcase_add_test(tc, test_kat_count);
	tcase_add_loop_test(tc, test_kat_case, 0, KAT_EXPECTED);
	suite_add_tcase(s, tc);

	tc = tcase_create("streaming");
	tcase_add_loop_test(tc, test_stream_random, 0, RANDOM_ROUNDS);
	suite_add_tcase(s, tc);

	tc = tcase_create("hmac");
	tcase_add_loop_test(tc, test_hmac_fixed, 0,
			    sizeof(hmac_fixed) / sizeof(hmac_fixed[0]));
	tcase_add_loop_test(tc, test_hmac_random, 0, HMAC_ROUNDS);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(blake2s_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
