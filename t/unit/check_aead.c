// SPDX-License-Identifier: MIT
/*
 * Every ChaCha20-Poly1305 implementation this CPU runs, each forced in
 * turn, against libsodium: RFC 8439, every Wycheproof case, every length
 * from 0 to 2048 and random ones up to 65535 (seal and open, in place
 * and not, tampered messages refused and wiped), the batch API against
 * single calls (opened in place and from buffers of their own), and the two halves (the multi-message keystream, the
 * Poly1305 tag with worst-case inputs) on their own.
 *
 * WGPIPE_AEAD_LONG=1 multiplies the randomized rounds by 1000 (millions
 * of messages per implementation); WGPIPE_AEAD_SEED changes the seed.
 * An implementation this CPU lacks is not a failure, but the test ends
 * as a skip that names it; WGPIPE_AEAD_HIDE=ID (avx2, avx512 or
 * avx512ifma) runs as on a CPU without ID, to see that.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/aead.h"
#include "testlib.h"

enum {
	CHACHA_CASES = 325,
	MAX_LEN = 65535,
	MAX_AD = 1024,
	SWEEP_MAX = 2048,
	RANDOM_LONG_MESSAGES = 100,
	BATCH_ROUNDS = 40,
	BATCH_MAX = 256,
	BATCH_SLOT = 20000,
	MAC_RANDOM_ROUNDS = 300,
	STREAM_ROUNDS = 200,
	STREAM_MAX_JOBS = 40,
};

/* The variants under test: a name for wg_aead_select, and a variant id
 * to hide first (to reach avx512 without IFMA on a CPU that has it). */
enum variant_id {
	V_PORTABLE,
	V_AVX2,
	V_AVX512,
	V_AVX512IFMA,
	V_LIBSODIUM,
	NVARIANTS,
};

static const struct variant {
	const char *label, *name, *hide;
} variants[NVARIANTS] = {
    [V_PORTABLE] = {"portable", "portable", NULL},
    [V_AVX2] = {"avx2", "avx2", NULL},
    [V_AVX512] = {"avx512 (26-bit Poly1305)", "avx512", "avx512ifma"},
    [V_AVX512IFMA] = {"avx512 (IFMA Poly1305)", "avx512", NULL},
    [V_LIBSODIUM] = {"libsodium", "libsodium", NULL},
};

static unsigned long long_factor(void)
{
	const char *env = getenv("WGPIPE_AEAD_LONG");

	return env && !strcmp(env, "1") ? 1000 : 1;
}

static uint64_t seed_for(int what, int variant)
{
	const char *env = getenv("WGPIPE_AEAD_SEED");
	uint64_t base = env ? strtoull(env, NULL, 0) : 0x5eed0fae4dULL;

	return base ^ ((uint64_t)what << 40) ^ ((uint64_t)variant << 32) ^ 1;
}

static size_t rnd(uint64_t *seed, size_t n)
{
	return n ? (size_t)(test_random_u64(seed) % n) : 0;
}

/* Forces variant v in this test's process; false, counted as code not
 * tested (test_not_tested), when the CPU lacks it. */
static bool use_variant(int v)
{
	const struct variant *va = &variants[v];
	const char *gone = getenv("WGPIPE_AEAD_HIDE"), *hide = va->hide;

	if (gone && *gone && (!strcmp(gone, va->name) || !hide))
		hide = gone;
	wg_aead_hide(hide);
	if (wg_aead_select(va->name)) {
		ck_assert(!wg_aead_supported(va->name));
		test_not_tested("%s", va->label);
		return false;
	}
	ck_assert_str_eq(wg_aead_name(), va->name);
#if defined(__x86_64__)
	if (v == V_AVX512IFMA &&
	    wg_aead_impl()->ops != &wg_chacha_avx512ifma_ops) {
		test_not_tested("%s (no IFMA)", va->label);
		return false;
	}
	if (v == V_AVX512)
		ck_assert_ptr_eq(wg_aead_impl()->ops, &wg_chacha_avx512_ops);
#endif
	return true;
}

static void unhex_exact(uint8_t *out, size_t len, const char *hex)
{
	ck_assert_int_eq(test_unhex(out, len, hex), (long)len);
	ck_assert_uint_eq(strlen(hex), 2 * len);
}

static void counter_nonce(uint8_t n[WG_AEAD_NONCE_LEN], uint64_t counter)
{
	int i;

	memset(n, 0, 4);
	for (i = 0; i < 8; i++)
		n[4 + i] = (uint8_t)(counter >> (8 * i));
}

/* ---- Selection ---- */

START_TEST(test_select_names)
{
	static const char *const names[] = {"portable", "avx2", "avx512",
					    "libsodium"};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int rc = wg_aead_select(names[i]);

		if (wg_aead_supported(names[i])) {
			ck_assert_int_eq(rc, 0);
			ck_assert_str_eq(wg_aead_name(), names[i]);
		} else {
			ck_assert_int_eq(rc, -ENOTSUP);
		}
	}
	ck_assert(wg_aead_supported("portable"));
	ck_assert(wg_aead_supported("libsodium"));
}
END_TEST

/* auto takes the fastest the CPU has: avx512, then avx2, then
 * libsodium; and with nothing selected, the first call picks the same. */
START_TEST(test_select_auto)
{
	const char *want = wg_aead_supported("avx512") ? "avx512"
			   : wg_aead_supported("avx2") ? "avx2"
						       : "libsodium";
	const char *fork = getenv("CK_FORK");

	/* A fresh process has selected nothing yet. */
	if (!fork || strcmp(fork, "no"))
		ck_assert_str_eq(wg_aead_name(), want);
	ck_assert_int_eq(wg_aead_select("portable"), 0);
	ck_assert_int_eq(wg_aead_select("auto"), 0);
	ck_assert_str_eq(wg_aead_name(), want);
}
END_TEST

START_TEST(test_select_unknown)
{
	ck_assert_int_eq(wg_aead_select("portable"), 0);
	ck_assert_int_eq(wg_aead_select("sse9"), -EINVAL);
	ck_assert_int_eq(wg_aead_select(""), -EINVAL);
	ck_assert_int_eq(wg_aead_select("AVX2"), -EINVAL);
	ck_assert(!wg_aead_supported("sse9"));
	/* Nothing half-applied. */
	ck_assert_str_eq(wg_aead_name(), "portable");
}
END_TEST

/* A CPU without the instructions: refused with -ENOTSUP, the previous
 * choice kept, and auto falls back. */
START_TEST(test_select_missing_cpu)
{
	ck_assert_int_eq(wg_aead_select("libsodium"), 0);
	wg_aead_hide("avx2");
	ck_assert(!wg_aead_supported("avx2"));
	ck_assert_int_eq(wg_aead_select("avx2"), -ENOTSUP);
	ck_assert_str_eq(wg_aead_name(), "libsodium");

	wg_aead_hide("avx512");
	ck_assert(!wg_aead_supported("avx512"));
	ck_assert_int_eq(wg_aead_select("avx512"), -ENOTSUP);
	ck_assert_int_eq(wg_aead_select("auto"), 0);
	ck_assert_str_eq(wg_aead_name(),
			 wg_aead_supported("avx2") ? "avx2" : "libsodium");
	wg_aead_hide(NULL);
}
END_TEST

/* ---- RFC 8439 section 2.8.2, and WireGuard's nonce via crypto.c ---- */

static const char rfc_key[] =
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
static const char rfc_plain[] =
    "Ladies and Gentlemen of the class of '99: If I could offer you "
    "only one tip for the future, sunscreen would be it.";
static const char rfc_sealed[] =
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
    "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
    "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
    "3ff4def08e4b7a9de576d26586cec64b6116"
    "1ae10b594f09e26a7e902ecbd0600691";

enum { RFC_LEN = sizeof(rfc_plain) - 1 };

START_TEST(test_rfc8439)
{
	uint8_t key[WG_KEY_LEN], nonce[WG_AEAD_NONCE_LEN], aad[12];
	uint8_t sealed[RFC_LEN + WG_AUTHTAG_LEN], buf[sizeof(sealed)];

	if (!use_variant(_i))
		return;
	unhex_exact(key, sizeof(key), rfc_key);
	unhex_exact(nonce, sizeof(nonce), "070000004041424344454647");
	unhex_exact(aad, sizeof(aad), "50515253c0c1c2c3c4c5c6c7");
	unhex_exact(sealed, sizeof(sealed), rfc_sealed);
	wg_aead_encrypt(buf, (const uint8_t *)rfc_plain, RFC_LEN, aad,
			sizeof(aad), nonce, key);
	ck_assert_mem_eq(buf, sealed, sizeof(sealed));
	ck_assert(wg_aead_decrypt(buf, buf, sizeof(buf), aad, sizeof(aad),
				  nonce, key));
	ck_assert_mem_eq(buf, rfc_plain, RFC_LEN);
	/* The same through crypto.c's entry point for test vectors. */
	wg_aead_seal_nonce(buf, (const uint8_t *)rfc_plain, RFC_LEN, aad,
			   sizeof(aad), nonce, key);
	ck_assert_mem_eq(buf, sealed, sizeof(sealed));
}
END_TEST

/* Counter 0x0706050403020100 is the nonce 00000000 0001020304050607;
 * the expected value comes from Python's cryptography (OpenSSL). The
 * call goes through crypto.c, which must use the selected variant. */
START_TEST(test_counter_nonce)
{
	static const char msg[] = "WireGuard nonce layout";
	static const uint64_t counter = 0x0706050403020100ULL;
	uint8_t key[WG_KEY_LEN], expect[sizeof(msg) - 1 + WG_AUTHTAG_LEN];
	uint8_t buf[sizeof(expect)];

	if (!use_variant(_i))
		return;
	unhex_exact(key, sizeof(key), rfc_key);
	unhex_exact(expect, sizeof(expect),
		    "5f4b7994e276152113cb4a36dcb64d4c177c4d767ed1"
		    "62c095bc685c67f2601ff59b6120fcd6");
	wg_aead_seal(buf, (const uint8_t *)msg, sizeof(msg) - 1,
		     (const uint8_t *)"ad", 2, counter, key);
	ck_assert_mem_eq(buf, expect, sizeof(expect));
	ck_assert(!wg_aead_open(buf, expect, sizeof(expect),
				(const uint8_t *)"ad", 2, counter + 1, key));
	ck_assert(wg_aead_open(buf, expect, sizeof(expect),
			       (const uint8_t *)"ad", 2, counter, key));
	ck_assert_mem_eq(buf, msg, sizeof(msg) - 1);
}
END_TEST

START_TEST(test_short_input)
{
	uint8_t key[WG_KEY_LEN] = {1}, nonce[WG_AEAD_NONCE_LEN] = {0};
	uint8_t buf[WG_AUTHTAG_LEN] = {0};
	uint8_t *bufs[2] = {buf, buf};
	size_t lens[2] = {0, WG_AUTHTAG_LEN - 1};
	uint64_t counters[2] = {0, 1};
	bool ok[2] = {true, true};

	if (!use_variant(_i))
		return;
	ck_assert(!wg_aead_decrypt(buf, buf, 0, NULL, 0, nonce, key));
	ck_assert(!wg_aead_decrypt(buf, buf, WG_AUTHTAG_LEN - 1, NULL, 0, nonce,
				   key));
	wg_aead_open_batch(key, counters, bufs, lens, ok, 2);
	ck_assert(!ok[0] && !ok[1]);
}
END_TEST

/* ---- Wycheproof ---- */

/* The fields of t/vectors/wycheproof-chacha20_poly1305.txt, in order. */
enum { TC_ID, TC_RESULT, TC_KEY, TC_IV, TC_AAD, TC_MSG, TC_CT, TC_TAG };

static struct test_vectors wp;

/* In the parent before the forks: the file is read once. */
static void load_wycheproof(void)
{
	test_vectors_load(&wp, "wycheproof-chacha20_poly1305.txt",
			  "tcId result key iv aad msg ct tag");
}

static void free_wycheproof(void)
{
	test_vectors_free(&wp);
}

/* A file cut short, or grown, fails here. */
START_TEST(test_wycheproof_count)
{
	ck_assert_msg(!wp.error[0], "%s", wp.error);
	ck_assert_int_eq(wp.declared, CHACHA_CASES);
	ck_assert_int_eq(wp.count, CHACHA_CASES);
	fprintf(stderr, "wycheproof-chacha20_poly1305.txt: %d cases\n",
		wp.count);
}
END_TEST

struct hexfield {
	uint8_t *p;
	size_t len;
};

static struct hexfield get_hex(int i, int k)
{
	const char *hex = test_vectors_field(&wp, i, k);
	struct hexfield f;

	f.len = strlen(hex) / 2;
	f.p = malloc(f.len + WG_AUTHTAG_LEN + 1);
	ck_assert_ptr_nonnull(f.p);
	ck_assert_int_eq(test_unhex(f.p, f.len, hex), (long)f.len);
	return f;
}

/* Valid: seal gives ct || tag; open gives msg, in place and not.
 * Invalid: open refuses and leaves zeros. */
static void wycheproof_case(int i, const char *label)
{
	int id = atoi(test_vectors_field(&wp, i, TC_ID));
	const char *result = test_vectors_field(&wp, i, TC_RESULT);
	struct hexfield key = get_hex(i, TC_KEY), iv = get_hex(i, TC_IV);
	struct hexfield aad = get_hex(i, TC_AAD), msg = get_hex(i, TC_MSG);
	struct hexfield ct = get_hex(i, TC_CT), tag = get_hex(i, TC_TAG);
	size_t sealed_len = ct.len + tag.len;
	uint8_t *sealed = malloc(sealed_len + 1), *buf = malloc(sealed_len + 1);
	bool valid = !strcmp(result, "valid");

	ck_assert(sealed && buf && key.len == WG_KEY_LEN);
	ck_assert_msg(valid || !strcmp(result, "invalid"), "tcId %d: %s", id,
		      result);
	memcpy(sealed, ct.p, ct.len);
	memcpy(sealed + ct.len, tag.p, tag.len);
	if (iv.len != WG_AEAD_NONCE_LEN) {
		/* The API takes 12-byte nonces only: such a case cannot be
		 * opened at all, and Wycheproof marks them all invalid. */
		ck_assert_msg(!valid, "tcId %d: %zu-byte nonce valid", id,
			      iv.len);
	} else if (valid) {
		ck_assert_uint_eq(tag.len, WG_AUTHTAG_LEN);
		wg_aead_encrypt(buf, msg.p, msg.len, aad.p, aad.len, iv.p,
				key.p);
		ck_assert_msg(!memcmp(buf, sealed, sealed_len),
			      "%s: tcId %d: seal differs", label, id);
		memset(buf, 0xa5, sealed_len);
		ck_assert_msg(wg_aead_decrypt(buf, sealed, sealed_len, aad.p,
					      aad.len, iv.p, key.p),
			      "%s: tcId %d: open refused", label, id);
		ck_assert(!memcmp(buf, msg.p, msg.len));
		memcpy(buf, sealed, sealed_len);
		ck_assert(wg_aead_decrypt(buf, buf, sealed_len, aad.p, aad.len,
					  iv.p, key.p));
		ck_assert(!memcmp(buf, msg.p, msg.len));
	} else {
		memset(buf, 0xa5, sealed_len + 1);
		ck_assert_msg(!wg_aead_decrypt(buf, sealed, sealed_len, aad.p,
					       aad.len, iv.p, key.p),
			      "%s: tcId %d: open accepted", label, id);
		if (sealed_len >= WG_AUTHTAG_LEN)
			ck_assert(
			    sodium_is_zero(buf, sealed_len - WG_AUTHTAG_LEN));
	}
	free(key.p), free(iv.p), free(aad.p), free(msg.p), free(ct.p);
	free(tag.p), free(sealed), free(buf);
}

START_TEST(test_wycheproof)
{
	int i;

	if (!use_variant(_i))
		return;
	ck_assert_msg(wp.count == CHACHA_CASES, "read %d of %d cases: %s",
		      wp.count, CHACHA_CASES, wp.error);
	for (i = 0; i < wp.count; i++)
		wycheproof_case(i, variants[_i].label);
}
END_TEST

/* ---- Differential against libsodium ---- */

static uint8_t pt[MAX_LEN + 64], ref[MAX_LEN + 64], out[MAX_LEN + 64];
static uint8_t ad[MAX_AD];

enum { CANARY = 0x5c };

/* One message: seal (in place or not) equal to libsodium's, open in
 * place and not, then one flipped bit (of ciphertext, tag, AD or nonce)
 * refused with dst wiped. Nothing written past the end. */
static void check_message(uint64_t *seed, size_t len, size_t ad_len,
			  const char *label)
{
	uint8_t key[WG_KEY_LEN], nonce[WG_AEAD_NONCE_LEN];
	size_t bit;
	int what;

	test_random_bytes(seed, key, sizeof(key));
	test_random_bytes(seed, nonce, sizeof(nonce));
	test_random_bytes(seed, pt, len);
	test_random_bytes(seed, ad, ad_len);
	crypto_aead_chacha20poly1305_ietf_encrypt(ref, NULL, pt, len, ad,
						  ad_len, NULL, nonce, key);
	out[len + WG_AUTHTAG_LEN] = CANARY;
	if (rnd(seed, 2)) {
		memcpy(out, pt, len);
		wg_aead_encrypt(out, out, len, ad, ad_len, nonce, key);
	} else {
		wg_aead_encrypt(out, pt, len, ad, ad_len, nonce, key);
	}
	ck_assert_msg(!memcmp(out, ref, len + WG_AUTHTAG_LEN),
		      "%s: seal differs, len %zu, ad %zu", label, len, ad_len);
	ck_assert_uint_eq(out[len + WG_AUTHTAG_LEN], CANARY);

	memset(out, 0xa5, len);
	out[len] = CANARY;
	ck_assert_msg(wg_aead_decrypt(out, ref, len + WG_AUTHTAG_LEN, ad,
				      ad_len, nonce, key),
		      "%s: open refused, len %zu, ad %zu", label, len, ad_len);
	ck_assert_msg(!memcmp(out, pt, len), "%s: open differs, len %zu", label,
		      len);
	ck_assert_uint_eq(out[len], CANARY);
	memcpy(out, ref, len + WG_AUTHTAG_LEN);
	ck_assert(wg_aead_decrypt(out, out, len + WG_AUTHTAG_LEN, ad, ad_len,
				  nonce, key));
	ck_assert_msg(!memcmp(out, pt, len), "%s: in-place open differs",
		      label);

	memcpy(out, ref, len + WG_AUTHTAG_LEN);
	what = ad_len ? (int)rnd(seed, 3) : (int)rnd(seed, 2);
	if (what == 0) {
		bit = rnd(seed, 8 * (len + WG_AUTHTAG_LEN));
		out[bit / 8] ^= (uint8_t)(1 << bit % 8);
	} else if (what == 1) {
		nonce[rnd(seed, sizeof(nonce))] ^= 0x10;
	} else {
		ad[rnd(seed, ad_len)] ^= 0x01;
	}
	ck_assert_msg(!wg_aead_decrypt(out, out, len + WG_AUTHTAG_LEN, ad,
				       ad_len, nonce, key),
		      "%s: tampered (%d) message accepted, len %zu", label,
		      what, len);
	ck_assert(sodium_is_zero(out, len));
}

static size_t random_ad_len(uint64_t *seed)
{
	switch (rnd(seed, 4)) {
	case 0:
		return 0;
	case 1:
		return rnd(seed, 33);
	case 2:
		return rnd(seed, 300);
	default:
		return rnd(seed, MAX_AD + 1);
	}
}

/* Every length 0..2048, with random keys, nonces and AD. */
START_TEST(test_every_length)
{
	uint64_t seed = seed_for(1, _i);
	unsigned long round, rounds = long_factor();
	size_t len;

	if (!use_variant(_i))
		return;
	for (round = 0; round < rounds; round++)
		for (len = 0; len <= SWEEP_MAX; len++)
			check_message(&seed, len, random_ad_len(&seed),
				      variants[_i].label);
}
END_TEST

START_TEST(test_random_lengths)
{
	uint64_t seed = seed_for(2, _i);
	unsigned long i, n = RANDOM_LONG_MESSAGES * long_factor();

	if (!use_variant(_i))
		return;
	for (i = 0; i < n; i++)
		check_message(&seed, rnd(&seed, MAX_LEN + 1),
			      random_ad_len(&seed), variants[_i].label);
}
END_TEST

/* ---- Batches against single calls ---- */

struct batch_case {
	uint8_t *mem, *plain;
	uint8_t *src_mem, *src_copy; /* opens not in place */
	uint8_t *bufs[BATCH_MAX];
	const uint8_t *srcs[BATCH_MAX];
	size_t lens[BATCH_MAX], open_lens[BATCH_MAX];
	uint64_t counters[BATCH_MAX];
	bool ok[BATCH_MAX], spoiled[BATCH_MAX];
};

static size_t batch_len(uint64_t *seed, int shape)
{
	switch (shape) {
	case 0:
		return 1420; /* a full MTU, the common case */
	case 1:
		return rnd(seed, 2001);
	case 2:
		return rnd(seed, 80);
	default:
		return rnd(seed, 20) ? rnd(seed, 1500)
				     : rnd(seed, BATCH_SLOT - 15);
	}
}

static uint64_t batch_base(uint64_t *seed)
{
	switch (rnd(seed, 4)) {
	case 0:
		return 0;
	case 1:
		return 0xffffffffULL - rnd(seed, 64); /* words 14/15 carry */
	case 2:
		return UINT64_MAX - rnd(seed, 300);
	default:
		return test_random_u64(seed);
	}
}

static void batch_fill(struct batch_case *b, uint64_t *seed, size_t n)
{
	uint64_t base = batch_base(seed);
	int shape = (int)rnd(seed, 4);
	size_t i;

	for (i = 0; i < n; i++) {
		b->bufs[i] = b->mem + (BATCH_SLOT + 32) * i;
		b->lens[i] = batch_len(seed, shape);
		test_random_bytes(seed, b->bufs[i], b->lens[i]);
		b->bufs[i][b->lens[i] + WG_AUTHTAG_LEN] = CANARY;
		memcpy(b->plain + BATCH_SLOT * i, b->bufs[i], b->lens[i]);
		/* Consecutive, as WireGuard assigns them, or shuffled. */
		b->counters[i] =
		    rnd(seed, 4) ? base + i : test_random_u64(seed);
	}
}

/* Each sealed packet equals a single sealing by libsodium and by this
 * variant's single call (crypto.c's counter-nonce entry point). */
static void batch_check_sealed(struct batch_case *b, size_t n,
			       const uint8_t key[WG_KEY_LEN], const char *label)
{
	uint8_t nonce[WG_AEAD_NONCE_LEN];
	size_t i, len;

	for (i = 0; i < n; i++) {
		len = b->lens[i];
		counter_nonce(nonce, b->counters[i]);
		crypto_aead_chacha20poly1305_ietf_encrypt(
		    ref, NULL, b->plain + BATCH_SLOT * i, len, NULL, 0, NULL,
		    nonce, key);
		ck_assert_msg(!memcmp(b->bufs[i], ref, len + WG_AUTHTAG_LEN),
			      "%s: batch of %zu: packet %zu (len %zu) differs",
			      label, n, i, len);
		wg_aead_seal(out, b->plain + BATCH_SLOT * i, len, NULL, 0,
			     b->counters[i], key);
		ck_assert(!memcmp(out, ref, len + WG_AUTHTAG_LEN));
	}
}

/* About one packet in one_in gets a flipped bit (of ciphertext or tag)
 * or is cut below a tag's length. */
static void batch_spoil(struct batch_case *b, uint64_t *seed, size_t n,
			size_t one_in)
{
	size_t i, bit;

	for (i = 0; i < n; i++) {
		b->open_lens[i] = b->lens[i] + WG_AUTHTAG_LEN;
		b->spoiled[i] = !rnd(seed, one_in);
		if (!b->spoiled[i])
			continue;
		if (rnd(seed, 5)) {
			bit = rnd(seed, 8 * b->open_lens[i]);
			b->bufs[i][bit / 8] ^= (uint8_t)(1 << bit % 8);
		} else {
			b->open_lens[i] = rnd(seed, WG_AUTHTAG_LEN);
		}
	}
}

static void batch_check_opened(struct batch_case *b, size_t n,
			       const char *label)
{
	size_t i, plain;

	for (i = 0; i < n; i++) {
		plain = b->open_lens[i] >= WG_AUTHTAG_LEN
			    ? b->open_lens[i] - WG_AUTHTAG_LEN
			    : 0;
		ck_assert_msg(b->ok[i] == !b->spoiled[i],
			      "%s: batch of %zu: packet %zu: ok %d", label, n,
			      i, b->ok[i]);
		if (b->ok[i])
			ck_assert_msg(!memcmp(b->bufs[i],
					      b->plain + BATCH_SLOT * i, plain),
				      "%s: packet %zu opened wrong", label, i);
		else
			ck_assert(sodium_is_zero(b->bufs[i], plain));
	}
}

/*
 * For an open not in place (wg_aead_open_batch_from), about three
 * packets in four move out: the message (spoiled or not) to a buffer of
 * its own, kept twice, and its slot filled with 0xaa; the others stay,
 * opened in place in the same call.
 */
static void batch_move_out(struct batch_case *b, uint64_t *seed, size_t n)
{
	size_t i, at;

	for (i = 0; i < n; i++) {
		b->srcs[i] = NULL;
		if (!rnd(seed, 4))
			continue;
		at = (size_t)(BATCH_SLOT + 32) * i;
		memcpy(b->src_mem + at, b->bufs[i], b->open_lens[i]);
		memcpy(b->src_copy + at, b->bufs[i], b->open_lens[i]);
		memset(b->bufs[i], 0xaa, b->open_lens[i]);
		b->srcs[i] = b->src_mem + at;
	}
}

/* A message opened from elsewhere is left as it was, and its slot gets
 * the plaintext and nothing past it. */
static void batch_check_sources(struct batch_case *b, size_t n,
				const char *label)
{
	size_t i, plain, k;

	for (i = 0; i < n; i++) {
		if (!b->srcs[i])
			continue;
		ck_assert_msg(!memcmp(b->srcs[i],
				      b->src_copy + (BATCH_SLOT + 32) * i,
				      b->open_lens[i]),
			      "%s: packet %zu: its source changed", label, i);
		plain = b->open_lens[i] >= WG_AUTHTAG_LEN
			    ? b->open_lens[i] - WG_AUTHTAG_LEN
			    : 0;
		for (k = plain; k < b->open_lens[i]; k++)
			ck_assert_msg(b->bufs[i][k] == 0xaa,
				      "%s: packet %zu: byte %zu past its "
				      "plaintext written",
				      label, i, k);
	}
}

static struct batch_case *batch_new(void)
{
	struct batch_case *b = calloc(1, sizeof(*b));

	ck_assert_ptr_nonnull(b);
	b->mem = malloc((size_t)(BATCH_SLOT + 32) * BATCH_MAX);
	b->src_mem = malloc((size_t)(BATCH_SLOT + 32) * BATCH_MAX);
	b->src_copy = malloc((size_t)(BATCH_SLOT + 32) * BATCH_MAX);
	b->plain = malloc((size_t)BATCH_SLOT * BATCH_MAX);
	ck_assert(b->mem && b->src_mem && b->src_copy && b->plain);
	return b;
}

static void batch_free(struct batch_case *b)
{
	free(b->mem);
	free(b->src_mem);
	free(b->src_copy);
	free(b->plain);
	free(b);
}

/* The n packets filled in b sealed as a batch and checked, about one in
 * one_in spoiled, opened as a batch (in place, or half the time mostly
 * from buffers of their own) and checked; the canary after each packet's
 * tag untouched. */
static void batch_round(struct batch_case *b, uint64_t *seed, size_t n,
			const uint8_t key[WG_KEY_LEN], size_t one_in,
			const char *label)
{
	bool moved = rnd(seed, 2);
	size_t i;

	wg_aead_seal_batch(key, b->counters, b->bufs, b->lens, n);
	batch_check_sealed(b, n, key, label);
	batch_spoil(b, seed, n, one_in);
	memset(b->ok, 0xff, sizeof(b->ok));
	if (moved) {
		batch_move_out(b, seed, n);
		wg_aead_open_batch_from(key, b->counters, b->bufs, b->srcs,
					b->open_lens, b->ok, n);
		batch_check_sources(b, n, label);
	} else {
		wg_aead_open_batch(key, b->counters, b->bufs, b->open_lens,
				   b->ok, n);
	}
	batch_check_opened(b, n, label);
	for (i = 0; i < n; i++)
		ck_assert_msg(b->bufs[i][b->lens[i] + WG_AUTHTAG_LEN] == CANARY,
			      "%s: byte past packet %zu (len %zu)", label, i,
			      b->lens[i]);
}

START_TEST(test_batch)
{
	uint64_t seed = seed_for(3, _i);
	unsigned long round, rounds = BATCH_ROUNDS * long_factor();
	struct batch_case *b = batch_new();
	uint8_t key[WG_KEY_LEN];
	size_t n;

	if (use_variant(_i))
		for (round = 0; round < rounds; round++) {
			n = rnd(&seed, 3) ? rnd(&seed, BATCH_MAX + 1)
					  : rnd(&seed, 20);
			test_random_bytes(&seed, key, sizeof(key));
			batch_fill(b, &seed, n);
			batch_round(b, &seed, n, key, 6, variants[_i].label);
		}
	batch_free(b);
}
END_TEST

/*
 * One batch with packets of every awkward length side by side: the
 * lengths around block (16), keystream (64) and 2 KiB boundaries and
 * jumbo ones, in a random order (so several lengths share a group of
 * Poly1305 lanes), each followed by a canary. Sealed equal to
 * libsodium; opened with about one in three forged (a bit of the
 * ciphertext or tag flipped, or cut short), where only the forged
 * packets fail (and are wiped) and their neighbours open.
 */
static const size_t mixed_lens[] = {
    0,	  1,	15,   16,   17,	  31,	32,   33,   63,	  64,	65,
    127,  128,	129,  255,  256,  257,	1023, 1024, 1025, 1419, 1420,
    1421, 2047, 2048, 2049, 2050, 4095, 8920, 9000, 1420, 1420, 1420,
    1420, 1420, 1420, 1420, 1420, 0,	0,    16,   16,	  1420, 8920,
};

enum { NMIXED = sizeof(mixed_lens) / sizeof(mixed_lens[0]) };

static void mixed_fill(struct batch_case *b, uint64_t *seed, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		j = rnd(seed, i + 1); /* a shuffle of mixed_lens */
		b->lens[i] = b->lens[j];
		b->lens[j] = mixed_lens[i % NMIXED];
	}
	for (i = 0; i < n; i++) {
		b->bufs[i] = b->mem + (BATCH_SLOT + 32) * i;
		test_random_bytes(seed, b->bufs[i], b->lens[i]);
		b->bufs[i][b->lens[i] + WG_AUTHTAG_LEN] = CANARY;
		memcpy(b->plain + BATCH_SLOT * i, b->bufs[i], b->lens[i]);
		b->counters[i] = 7000 + i;
	}
}

START_TEST(test_batch_mixed)
{
	uint64_t seed = seed_for(6, _i);
	struct batch_case *b = batch_new();
	uint8_t key[WG_KEY_LEN];
	size_t n, round;

	if (use_variant(_i))
		for (round = 0; round < 8 * long_factor(); round++) {
			n = round ? 1 + rnd(&seed, 3 * NMIXED) : NMIXED;
			test_random_bytes(&seed, key, sizeof(key));
			mixed_fill(b, &seed, n);
			batch_round(b, &seed, n, key, 3, variants[_i].label);
		}
	batch_free(b);
}
END_TEST

/* ---- The halves on their own ---- */

static const struct chacha_poly_ops *variant_ops(int v)
{
	if (!use_variant(v))
		return NULL;
	/* Not a skip: libsodium's halves are not ours to test. */
	if (!wg_aead_impl()->ops)
		fprintf(stderr, "%s: no primitives of its own\n",
			variants[v].label);
	return wg_aead_impl()->ops;
}

/* The MAC input of RFC 8439 written out, for libsodium's Poly1305. */
static size_t mac_input(uint8_t *m, const uint8_t *a, size_t a_len,
			const uint8_t *c, size_t c_len)
{
	size_t n = 0;
	int i;

	memcpy(m, a, a_len);
	n = (a_len + 15) / 16 * 16;
	memset(m + a_len, 0, n - a_len);
	memcpy(m + n, c, c_len);
	memset(m + n + c_len, 0, (c_len + 15) / 16 * 16 - c_len);
	n += (c_len + 15) / 16 * 16;
	for (i = 0; i < 8; i++) {
		m[n + i] = (uint8_t)((uint64_t)a_len >> (8 * i));
		m[n + 8 + i] = (uint8_t)((uint64_t)c_len >> (8 * i));
	}
	return n + 16;
}

static uint8_t macbuf[MAX_LEN + MAX_AD + 64];

static void check_mac(const struct chacha_poly_ops *ops, const uint8_t key[32],
		      size_t a_len, size_t c_len, const char *label)
{
	uint8_t tag[16], want[16];
	size_t n = mac_input(macbuf, ad, a_len, pt, c_len);

	crypto_onetimeauth_poly1305(want, macbuf, n, key);
	ops->mac(tag, key, ad, a_len, pt, c_len);
	ck_assert_msg(!memcmp(tag, want, 16), "%s: tag differs, ad %zu, ct %zu",
		      label, a_len, c_len);
}

/* The largest r and limbs (all-ones keys and messages) stress the lazy
 * carries of every vector width; zeros and random fill the rest. */
START_TEST(test_poly1305_extremes)
{
	static const size_t ad_lens[] = {0, 1, 15, 16, 17, 130, 1000};
	const struct chacha_poly_ops *ops = variant_ops(_i);
	uint8_t key[32];
	size_t a, len;
	int fill;

	if (!ops)
		return;
	for (fill = 0; fill < 3; fill++) {
		memset(key, fill == 1 ? 0 : 0xff, sizeof(key));
		if (fill == 2)
			key[0] = 0xfe; /* r just below the maximum */
		memset(pt, fill == 1 ? 0 : 0xff, MAX_LEN);
		memset(ad, fill == 1 ? 0 : 0xff, MAX_AD);
		for (a = 0; a < sizeof(ad_lens) / sizeof(ad_lens[0]); a++)
			for (len = 0; len <= 1100; len++)
				check_mac(ops, key, ad_lens[a], len,
					  variants[_i].label);
		check_mac(ops, key, 0, 4096, variants[_i].label);
		check_mac(ops, key, MAX_AD, MAX_LEN, variants[_i].label);
	}
}
END_TEST

/* The two ciphertext blocks of test_poly1305_final_reduction: X =
 * 2^128 - 2^69 - 3 + d, little-endian, for d from -3 to 2 (bit 69 is bit
 * 5 of byte 8), or all ones for d = 7 (h = 2^130 + 2^69 - 1, which needs
 * a carry past bit 130 folded in); then the zero block. */
static void final_reduction_message(uint8_t m[32], int d)
{
	memset(m, 0xff, 16);
	if (d < 7) {
		m[0] = (uint8_t)(0xfd + d);
		m[8] = 0xdf;
	}
	memset(m + 16, 0, 16);
}

/*
 * The last step, h mod p, on h from p - 1 to 2^130 - 1: with r = 1 the
 * accumulator is the plain sum of the blocks, each plus 2^128. Two
 * ciphertext blocks X and 0 and the length block (2^69) give
 * X + 3 * 2^128 + 2^69, which X = 2^128 - 2^69 - 3 + d puts at
 * 2^130 - 3 + d.
 */
START_TEST(test_poly1305_final_reduction)
{
	const struct chacha_poly_ops *ops = variant_ops(_i);
	uint8_t key[32] = {1};
	int d;

	if (!ops)
		return;
	memset(key + 16, 0xa7, 16);
	for (d = -3; d <= 2; d++) {
		final_reduction_message(pt, d);
		check_mac(ops, key, 0, 32, variants[_i].label);
	}
}
END_TEST

/*
 * The same sums through the lanes of mac_batch, where there is one:
 * batches of 4 to 16 messages (one group of lanes or two), each with
 * its own d, and s all ones in every other message, so that adding s
 * carries out of bit 127 and is cut there.
 */
START_TEST(test_poly1305_batch_final_reduction)
{
	static const size_t counts[] = {4, 8, 14, 16};
	static const int ds[] = {-3, -2, -1, 0, 1, 2, 7};
	static uint8_t keys[16][32], tags[16][16];
	const struct chacha_poly_ops *ops = variant_ops(_i);
	struct mac_job jobs[16];
	uint8_t want[16];
	size_t c, i, n, m;

	if (!ops || !ops->mac_batch)
		return;
	for (c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		n = counts[c];
		for (i = 0; i < n; i++) {
			memset(keys[i], 0, 16);
			keys[i][0] = 1;
			memset(keys[i] + 16, i % 2 ? 0xff : 0xa7, 16);
			final_reduction_message(pt + 32 * i,
						ds[(i + c) % 7]);
			jobs[i] = (struct mac_job){pt + 32 * i, 32, keys[i],
						   tags[i]};
		}
		ops->mac_batch(jobs, n);
		for (i = 0; i < n; i++) {
			m = mac_input(macbuf, ad, 0, jobs[i].msg, 32);
			crypto_onetimeauth_poly1305(want, macbuf, m, keys[i]);
			ck_assert_msg(!memcmp(tags[i], want, 16),
				      "%s: tag %zu of %zu differs (d %d)",
				      variants[_i].label, i, n,
				      ds[(i + c) % 7]);
		}
	}
}
END_TEST

START_TEST(test_poly1305_random)
{
	uint64_t seed = seed_for(4, _i);
	unsigned long i, n = MAC_RANDOM_ROUNDS * long_factor();
	const struct chacha_poly_ops *ops = variant_ops(_i);
	uint8_t key[32];
	size_t a_len, c_len;

	if (!ops)
		return;
	for (i = 0; i < n; i++) {
		test_random_bytes(&seed, key, sizeof(key));
		a_len = random_ad_len(&seed);
		c_len = rnd(&seed, 4) ? rnd(&seed, 3000) : rnd(&seed, MAX_LEN);
		test_random_bytes(&seed, ad, a_len);
		test_random_bytes(&seed, pt, c_len);
		/* Runs of 0xff bytes too. */
		if (!rnd(&seed, 4))
			memset(pt, 0xff, rnd(&seed, c_len + 1));
		check_mac(ops, key, a_len, c_len, variants[_i].label);
	}
}
END_TEST

/*
 * The tags of a batch at once (the implementation's mac_batch, where it
 * has one: Poly1305 across packets, one per lane) against libsodium's
 * Poly1305, message by message: mixed lengths in one call, keys and
 * messages of all ones (the largest limbs) as well as random ones.
 */
START_TEST(test_poly1305_batch)
{
	uint64_t seed = seed_for(7, _i);
	const struct chacha_poly_ops *ops = variant_ops(_i);
	static uint8_t keys[WG_MAC_BATCH_MAX][32], tags[WG_MAC_BATCH_MAX][16];
	struct mac_job jobs[WG_MAC_BATCH_MAX];
	size_t n, i, off, round;
	uint8_t want[16];
	int fill;

	if (!ops || !ops->mac_batch)
		return;
	for (round = 0; round < 60 * long_factor(); round++) {
		fill = (int)rnd(&seed, 3);
		n = 1 + rnd(&seed, WG_MAC_BATCH_MAX);
		for (i = off = 0; i < n; i++) {
			jobs[i] = (struct mac_job){
			    pt + off,
			    rnd(&seed, 4) ? mixed_lens[rnd(&seed, NMIXED)]
					  : rnd(&seed, 3000),
			    keys[i], tags[i]};
			if (off + jobs[i].len > MAX_LEN)
				jobs[i].len = 0;
			if (fill)
				memset(keys[i], 0xff, 32);
			else
				test_random_bytes(&seed, keys[i], 32);
			if (fill == 1)
				memset(pt + off, 0xff, jobs[i].len);
			else
				test_random_bytes(&seed, pt + off, jobs[i].len);
			off += jobs[i].len;
		}
		ops->mac_batch(jobs, n);
		for (i = 0; i < n; i++) {
			size_t m =
			    mac_input(macbuf, ad, 0, jobs[i].msg, jobs[i].len);

			crypto_onetimeauth_poly1305(want, macbuf, m, keys[i]);
			ck_assert_msg(!memcmp(tags[i], want, 16),
				      "%s: tag %zu of %zu differs (len %zu)",
				      variants[_i].label, i, n, jobs[i].len);
		}
	}
}
END_TEST

enum { STREAM_MAX_LEN = 3100 };

struct stream_case {
	uint8_t key[32];
	uint32_t kw[8];
	struct chacha_job jobs[STREAM_MAX_JOBS];
	uint8_t src[STREAM_MAX_JOBS][STREAM_MAX_LEN];
	uint8_t dst[STREAM_MAX_JOBS][STREAM_MAX_LEN];
	uint8_t polykeys[STREAM_MAX_JOBS][64];
};

static void words_le(uint32_t *w, const uint8_t *b, size_t nwords)
{
	size_t k;

	for (k = 0; k < nwords; k++)
		w[k] = (uint32_t)b[4 * k] | (uint32_t)b[4 * k + 1] << 8 |
		       (uint32_t)b[4 * k + 2] << 16 |
		       (uint32_t)b[4 * k + 3] << 24;
}

/* n jobs of random shape: mostly short, some several KiB; with and
 * without the key block; in place or not; random counters and nonces. */
static void stream_make(struct stream_case *c, uint64_t *seed, size_t n)
{
	uint8_t nonce[12];
	size_t j, len;

	test_random_bytes(seed, c->key, sizeof(c->key));
	words_le(c->kw, c->key, 8);
	for (j = 0; j < n; j++) {
		len = rnd(seed, 3) ? rnd(seed, 200) : rnd(seed, STREAM_MAX_LEN);
		test_random_bytes(seed, c->src[j], len);
		memcpy(c->dst[j], c->src[j], len);
		test_random_bytes(seed, nonce, sizeof(nonce));
		c->jobs[j] = (struct chacha_job){
		    .dst = c->dst[j],
		    .src = rnd(seed, 2) ? c->dst[j] : c->src[j],
		    .len = len,
		    .polykey = rnd(seed, 2) ? c->polykeys[j] : NULL,
		    .ctr = (uint32_t)rnd(seed, 1U << 31),
		};
		words_le(c->jobs[j].nonce, nonce, 3);
	}
}

/* Job j's key block and data against libsodium's keystream. */
static void stream_check(const struct stream_case *c, size_t j, size_t n,
			 const char *label)
{
	static const uint8_t zeros[64];
	const struct chacha_job *job = &c->jobs[j];
	uint32_t ctr = job->ctr;
	uint8_t nonce[12], want[64];
	int k;

	for (k = 0; k < 12; k++)
		nonce[k] = (uint8_t)(job->nonce[k / 4] >> (8 * (k % 4)));
	if (job->polykey) {
		crypto_stream_chacha20_ietf_xor_ic(want, zeros, 64, nonce,
						   ctr++, c->key);
		ck_assert_msg(!memcmp(job->polykey, want, 64),
			      "%s: key block of job %zu/%zu", label, j, n);
	}
	crypto_stream_chacha20_ietf_xor_ic(ref, c->src[j], job->len, nonce, ctr,
					   c->key);
	ck_assert_msg(!memcmp(job->dst, ref, job->len),
		      "%s: job %zu/%zu (len %zu) differs", label, j, n,
		      job->len);
}

/* Random mixes of jobs in one call, so that lanes hold blocks of several
 * jobs; each equal to libsodium's keystream for its counter and nonce. */
START_TEST(test_stream_jobs)
{
	uint64_t seed = seed_for(5, _i);
	unsigned long round, rounds = STREAM_ROUNDS * long_factor();
	const struct chacha_poly_ops *ops = variant_ops(_i);
	struct stream_case *c = malloc(sizeof(*c));
	size_t j, n;

	ck_assert_ptr_nonnull(c);
	for (round = 0; ops && round < rounds; round++) {
		n = 1 + rnd(&seed, STREAM_MAX_JOBS);
		stream_make(c, &seed, n);
		ops->stream(c->jobs, n, c->kw);
		for (j = 0; j < n; j++)
			stream_check(c, j, n, variants[_i].label);
	}
	free(c);
}
END_TEST

static Suite *aead_suite(void)
{
	Suite *s = suite_create("aead");
	int timeout = long_factor() > 1 ? 36000 : 300;
	TCase *tc;

	tc = tcase_create("select");
	tcase_add_test(tc, test_select_names);
	tcase_add_test(tc, test_select_auto);
	tcase_add_test(tc, test_select_unknown);
	tcase_add_test(tc, test_select_missing_cpu);
	suite_add_tcase(s, tc);

	tc = tcase_create("vectors");
	tcase_add_loop_test(tc, test_rfc8439, 0, NVARIANTS);
	tcase_add_loop_test(tc, test_counter_nonce, 0, NVARIANTS);
	tcase_add_loop_test(tc, test_short_input, 0, NVARIANTS);
	suite_add_tcase(s, tc);

	tc = tcase_create("wycheproof");
	tcase_set_timeout(tc, timeout);
	tcase_add_unchecked_fixture(tc, load_wycheproof, free_wycheproof);
	tcase_add_test(tc, test_wycheproof_count);
	tcase_add_loop_test(tc, test_wycheproof, 0, NVARIANTS);
	suite_add_tcase(s, tc);

	tc = tcase_create("differential");
	tcase_set_timeout(tc, timeout);
	tcase_add_loop_test(tc, test_every_length, 0, NVARIANTS);
	tcase_add_loop_test(tc, test_random_lengths, 0, NVARIANTS);
	suite_add_tcase(s, tc);

	tc = tcase_create("batch");
	tcase_set_timeout(tc, timeout);
	tcase_add_loop_test(tc, test_batch, 0, NVARIANTS);
	tcase_add_loop_test(tc, test_batch_mixed, 0, NVARIANTS);
	suite_add_tcase(s, tc);

	tc = tcase_create("primitives");
	tcase_set_timeout(tc, timeout);
	tcase_add_loop_test(tc, test_poly1305_extremes, 0, NVARIANTS);
	tcase_add_loop_test(tc, test_poly1305_final_reduction, 0, NVARIANTS);
	tcase_add_loop_test(tc, test_poly1305_batch_final_reduction, 0,
			    NVARIANTS);
	tcase_add_loop_test(tc, test_poly1305_random, 0, NVARIANTS);
	tcase_add_loop_test(tc, test_poly1305_batch, 0, NVARIANTS);
	tcase_add_loop_test(tc, test_stream_jobs, 0, NVARIANTS);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (sodium_init() < 0)
		return 99;
	return test_main("check_aead", aead_suite());
}
