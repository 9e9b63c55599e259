// SPDX-License-Identifier: MIT
/* The libsodium wrappers against RFC 8439 and RFC 7748 (typed in), then
 * every Project Wycheproof case for ChaCha20-Poly1305, XChaCha20-Poly1305
 * and X25519 (t/vectors). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "testlib.h"

enum {
	CHACHA_CASES = 325,
	XCHACHA_CASES = 315,
	X25519_CASES = 518,
};

/* The fields of the vector files, in order; every kind starts with the
 * case's tcId and result. */
enum { TC_ID, TC_RESULT };
#define AEAD_FIELDS "tcId result key iv aad msg ct tag"
enum { AEAD_KEY = 2, AEAD_IV, AEAD_AAD, AEAD_MSG, AEAD_CT, AEAD_TAG };
#define XDH_FIELDS "tcId result public private shared"
enum { XDH_PUBLIC = 2, XDH_PRIVATE, XDH_SHARED };

static void unhex_exact(uint8_t *out, size_t len, const char *hex)
{
	ck_assert_int_eq(test_unhex(out, len, hex), (long)len);
	ck_assert_uint_eq(strlen(hex), 2 * len);
}

/* RFC 8439 section 2.8.2. */
static const char rfc8439_key[] =
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
static const char rfc8439_nonce[] = "070000004041424344454647";
static const char rfc8439_aad[] = "50515253c0c1c2c3c4c5c6c7";
static const char rfc8439_plain[] =
    "Ladies and Gentlemen of the class of '99: If I could offer you "
    "only one tip for the future, sunscreen would be it.";
static const char rfc8439_sealed[] =
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
    "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
    "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
    "3ff4def08e4b7a9de576d26586cec64b6116"
    /* tag */
    "1ae10b594f09e26a7e902ecbd0600691";

enum { RFC8439_LEN = sizeof(rfc8439_plain) - 1 };

struct rfc8439 {
	uint8_t key[WG_KEY_LEN], nonce[WG_AEAD_NONCE_LEN], aad[12];
	uint8_t sealed[RFC8439_LEN + WG_AUTHTAG_LEN];
	uint8_t buf[RFC8439_LEN + WG_AUTHTAG_LEN];
};

static void rfc8439_load(struct rfc8439 *v)
{
	ck_assert_uint_eq(RFC8439_LEN, 114);
	unhex_exact(v->key, sizeof(v->key), rfc8439_key);
	unhex_exact(v->nonce, sizeof(v->nonce), rfc8439_nonce);
	unhex_exact(v->aad, sizeof(v->aad), rfc8439_aad);
	unhex_exact(v->sealed, sizeof(v->sealed), rfc8439_sealed);
}

START_TEST(test_rfc8439_seal_open)
{
	struct rfc8439 v;

	rfc8439_load(&v);
	wg_aead_seal_nonce(v.buf, (const uint8_t *)rfc8439_plain, RFC8439_LEN,
			   v.aad, sizeof(v.aad), v.nonce, v.key);
	ck_assert_mem_eq(v.buf, v.sealed, sizeof(v.sealed));

	memset(v.buf, 0, sizeof(v.buf));
	ck_assert(wg_aead_open_nonce(v.buf, v.sealed, sizeof(v.sealed), v.aad,
				     sizeof(v.aad), v.nonce, v.key));
	ck_assert_mem_eq(v.buf, rfc8439_plain, RFC8439_LEN);
}
END_TEST

START_TEST(test_rfc8439_in_place)
{
	struct rfc8439 v;

	rfc8439_load(&v);
	memcpy(v.buf, rfc8439_plain, RFC8439_LEN);
	wg_aead_seal_nonce(v.buf, v.buf, RFC8439_LEN, v.aad, sizeof(v.aad),
			   v.nonce, v.key);
	ck_assert_mem_eq(v.buf, v.sealed, sizeof(v.sealed));
	ck_assert(wg_aead_open_nonce(v.buf, v.buf, sizeof(v.buf), v.aad,
				     sizeof(v.aad), v.nonce, v.key));
	ck_assert_mem_eq(v.buf, rfc8439_plain, RFC8439_LEN);
}
END_TEST

/* Flip one bit of the sealed text, the AD or the nonce: open fails and
 * leaves no plaintext behind, also in place. */
START_TEST(test_rfc8439_tamper)
{
	static const size_t ct_bits[] = {0, 8 * 57 + 3, 8 * 113 + 7, 8 * 114,
					 8 * 129 + 7};
	struct rfc8439 v;
	size_t bit = _i < 5 ? ct_bits[_i] : 0;

	rfc8439_load(&v);
	if (_i < 5)
		v.sealed[bit / 8] ^= (uint8_t)(1 << bit % 8);
	else if (_i == 5)
		v.aad[11] ^= 0x80;
	else
		v.nonce[0] ^= 1;
	memset(v.buf, 0xa5, sizeof(v.buf));
	ck_assert(!wg_aead_open_nonce(v.buf, v.sealed, sizeof(v.sealed), v.aad,
				      sizeof(v.aad), v.nonce, v.key));
	ck_assert(wg_crypto_is_zero(v.buf, RFC8439_LEN));

	memcpy(v.buf, v.sealed, sizeof(v.sealed));
	ck_assert(!wg_aead_open_nonce(v.buf, v.buf, sizeof(v.buf), v.aad,
				      sizeof(v.aad), v.nonce, v.key));
	ck_assert(wg_crypto_is_zero(v.buf, RFC8439_LEN));
}
END_TEST

START_TEST(test_aead_short_input)
{
	uint8_t key[WG_KEY_LEN] = {1}, buf[WG_AUTHTAG_LEN] = {0};

	ck_assert(!wg_aead_open(buf, buf, sizeof(buf) - 1, NULL, 0, 0, key));
	ck_assert(!wg_aead_open(buf, buf, 0, NULL, 0, 0, key));
}
END_TEST

/*
 * WireGuard's nonce: counter 0x0706050403020100 must become the bytes
 * 00000000 0001020304050607. The expected value was computed with
 * Python's cryptography package (OpenSSL), key and AD as shown.
 */
START_TEST(test_counter_nonce)
{
	static const char msg[] = "WireGuard nonce layout";
	static const uint64_t counter = 0x0706050403020100ULL;
	uint8_t key[WG_KEY_LEN], expect[sizeof(msg) - 1 + WG_AUTHTAG_LEN];
	uint8_t buf[sizeof(expect)];
	size_t len = sizeof(msg) - 1;

	unhex_exact(key, sizeof(key), rfc8439_key);
	unhex_exact(expect, sizeof(expect),
		    "5f4b7994e276152113cb4a36dcb64d4c177c4d767ed1"
		    "62c095bc685c67f2601ff59b6120fcd6");
	wg_aead_seal(buf, (const uint8_t *)msg, len, (const uint8_t *)"ad", 2,
		     counter, key);
	ck_assert_mem_eq(buf, expect, sizeof(expect));

	ck_assert(!wg_aead_open(buf, expect, sizeof(expect),
				(const uint8_t *)"ad", 2, counter + 1, key));
	ck_assert(wg_aead_open(buf, expect, sizeof(expect),
			       (const uint8_t *)"ad", 2, counter, key));
	ck_assert_mem_eq(buf, msg, len);
}
END_TEST

/* RFC 7748 section 5.2, the two single-iteration vectors. */
static const struct {
	const char *scalar, *u, *out;
} rfc7748_vectors[] = {
    {"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
     "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
     "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
    {"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
     "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
     "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
};

START_TEST(test_rfc7748_x25519)
{
	uint8_t scalar[WG_KEY_LEN], u[WG_KEY_LEN], expect[WG_KEY_LEN];
	uint8_t out[WG_KEY_LEN];

	unhex_exact(scalar, sizeof(scalar), rfc7748_vectors[_i].scalar);
	unhex_exact(u, sizeof(u), rfc7748_vectors[_i].u);
	unhex_exact(expect, sizeof(expect), rfc7748_vectors[_i].out);
	ck_assert(wg_x25519(out, scalar, u));
	ck_assert_mem_eq(out, expect, sizeof(out));
}
END_TEST

/* RFC 7748 section 6.1: Alice and Bob. */
START_TEST(test_rfc7748_dh)
{
	uint8_t a[WG_KEY_LEN], a_pub[WG_KEY_LEN], b[WG_KEY_LEN];
	uint8_t b_pub[WG_KEY_LEN], k[WG_KEY_LEN], out[WG_KEY_LEN];

	unhex_exact(a, sizeof(a),
		    "77076d0a7318a57d3c16c17251b26645"
		    "df4c2f87ebc0992ab177fba51db92c2a");
	unhex_exact(a_pub, sizeof(a_pub),
		    "8520f0098930a754748b7ddcb43ef75a"
		    "0dbf3a0d26381af4eba4a98eaa9b4e6a");
	unhex_exact(b, sizeof(b),
		    "5dab087e624a8a4b79e17f8b83800ee6"
		    "6f3bb1292618b6fd1c2f8b27ff88e0eb");
	unhex_exact(b_pub, sizeof(b_pub),
		    "de9edb7d7b7dc1b4d35b61c2ece43537"
		    "3f8343c85b78674dadfc7e146f882b4f");
	unhex_exact(k, sizeof(k),
		    "4a5d9d5ba4ce2de1728e3bf480350f25"
		    "e07e21c947d19e3376f09b3c1e161742");

	ck_assert(wg_x25519_public(out, a));
	ck_assert_mem_eq(out, a_pub, sizeof(out));
	ck_assert(wg_x25519_public(out, b));
	ck_assert_mem_eq(out, b_pub, sizeof(out));
	ck_assert(wg_x25519(out, a, b_pub));
	ck_assert_mem_eq(out, k, sizeof(out));
	ck_assert(wg_x25519(out, b, a_pub));
	ck_assert_mem_eq(out, k, sizeof(out));
}
END_TEST

/* A low-order point (here u = 0) gives an all-zero secret: refused. */
START_TEST(test_x25519_low_order)
{
	uint8_t secret[WG_KEY_LEN], zero[WG_KEY_LEN] = {0}, out[WG_KEY_LEN];

	wg_x25519_generate_secret(secret);
	memset(out, 0xa5, sizeof(out));
	ck_assert(!wg_x25519(out, secret, zero));
	ck_assert(wg_crypto_is_zero(out, sizeof(out)));
}
END_TEST

START_TEST(test_x25519_generate)
{
	uint8_t a[WG_KEY_LEN], b[WG_KEY_LEN], a_pub[WG_KEY_LEN];
	uint8_t b_pub[WG_KEY_LEN], ab[WG_KEY_LEN], ba[WG_KEY_LEN];

	wg_x25519_generate_secret(a);
	wg_x25519_generate_secret(b);
	ck_assert(!wg_crypto_equal(a, b, sizeof(a)));
	ck_assert_uint_eq(a[0] & 7, 0);
	ck_assert_uint_eq(a[31] & 0xc0, 0x40);
	ck_assert(wg_x25519_public(a_pub, a));
	ck_assert(wg_x25519_public(b_pub, b));
	ck_assert(wg_x25519(ab, a, b_pub));
	ck_assert(wg_x25519(ba, b, a_pub));
	ck_assert_mem_eq(ab, ba, sizeof(ab));
}
END_TEST

START_TEST(test_x25519_clamp)
{
	uint8_t s[WG_KEY_LEN];

	memset(s, 0xff, sizeof(s));
	wg_x25519_clamp(s);
	ck_assert_uint_eq(s[0], 0xf8);
	ck_assert_uint_eq(s[1], 0xff);
	ck_assert_uint_eq(s[31], 0x7f);
	memset(s, 0, sizeof(s));
	wg_x25519_clamp(s);
	ck_assert_uint_eq(s[31], 0x40);
}
END_TEST

START_TEST(test_equal_is_zero)
{
	uint8_t a[33] = {0}, b[33] = {0};

	ck_assert_int_eq(wg_crypto_init(), 0);
	ck_assert(wg_crypto_equal(a, b, sizeof(a)));
	ck_assert(wg_crypto_is_zero(a, sizeof(a)));
	b[32] = 1;
	ck_assert(!wg_crypto_equal(a, b, sizeof(a)));
	ck_assert(!wg_crypto_is_zero(b, sizeof(b)));
	ck_assert(wg_crypto_equal(a, b, 32));
}
END_TEST

/* Wycheproof: every case of a file (t/vectors), in upstream order. */
struct vectors {
	const char *file, *fields;
	int expected;
	struct test_vectors v;
};

static struct vectors chacha = {
    .file = "wycheproof-chacha20_poly1305.txt",
    .fields = AEAD_FIELDS,
    .expected = CHACHA_CASES,
};
static struct vectors xchacha = {
    .file = "wycheproof-xchacha20_poly1305.txt",
    .fields = AEAD_FIELDS,
    .expected = XCHACHA_CASES,
};
static struct vectors x25519 = {
    .file = "wycheproof-x25519.txt",
    .fields = XDH_FIELDS,
    .expected = X25519_CASES,
};

/* Runs in the parent before the forks (an unchecked fixture), so each
 * case's process starts with the files already read. */
static void load_all(void)
{
	test_vectors_load(&chacha.v, chacha.file, chacha.fields);
	test_vectors_load(&xchacha.v, xchacha.file, xchacha.fields);
	test_vectors_load(&x25519.v, x25519.file, x25519.fields);
}

static void free_all(void)
{
	test_vectors_free(&chacha.v);
	test_vectors_free(&xchacha.v);
	test_vectors_free(&x25519.v);
}

/* A file cut short, or grown, fails here. */
START_TEST(test_wycheproof_counts)
{
	struct vectors *all[] = {&chacha, &xchacha, &x25519};
	const struct vectors *v = all[_i];

	ck_assert_msg(!v->v.error[0], "%s", v->v.error);
	ck_assert_int_eq(v->v.declared, v->expected);
	ck_assert_int_eq(v->v.count, v->expected);
	fprintf(stderr, "%s: %d cases\n", v->file, v->v.count);
}
END_TEST

struct hexfield {
	uint8_t *p;
	size_t len;
};

static struct hexfield get_hex(const struct vectors *v, int i, int k)
{
	const char *hex = test_vectors_field(&v->v, i, k);
	struct hexfield f;

	f.len = strlen(hex) / 2;
	f.p = malloc(f.len + 1);
	ck_assert_ptr_nonnull(f.p);
	ck_assert_int_eq(test_unhex(f.p, f.len, hex), (long)f.len);
	return f;
}

/* Case i's tcId, and its result. */
static const char *get_case(const struct vectors *v, int i, int *id)
{
	ck_assert_msg(i < v->v.count, "%s: case %d missing (read %d): %s",
		      v->file, i, v->v.count, v->v.error);
	*id = atoi(test_vectors_field(&v->v, i, TC_ID));
	return test_vectors_field(&v->v, i, TC_RESULT);
}

/* The two AEADs differ only in nonce length; their prototypes decay to
 * the same pointer types. */
struct aead_ops {
	size_t nonce_len;
	void (*seal)(uint8_t *, const uint8_t *, size_t, const uint8_t *,
		     size_t, const uint8_t *, const uint8_t *);
	bool (*open)(uint8_t *, const uint8_t *, size_t, const uint8_t *,
		     size_t, const uint8_t *, const uint8_t *);
};

static const struct aead_ops chacha_ops = {
    WG_AEAD_NONCE_LEN, wg_aead_seal_nonce, wg_aead_open_nonce};
static const struct aead_ops xchacha_ops = {WG_XAEAD_NONCE_LEN, wg_xaead_seal,
					    wg_xaead_open};

struct aead_case {
	int id;
	const char *result;
	struct hexfield key, iv, aad, msg, ct, tag;
	uint8_t *sealed, *buf;
	size_t sealed_len;
};

static void aead_case_load(struct aead_case *c, const struct vectors *v, int i)
{
	c->result = get_case(v, i, &c->id);
	c->key = get_hex(v, i, AEAD_KEY);
	c->iv = get_hex(v, i, AEAD_IV);
	c->aad = get_hex(v, i, AEAD_AAD);
	c->msg = get_hex(v, i, AEAD_MSG);
	c->ct = get_hex(v, i, AEAD_CT);
	c->tag = get_hex(v, i, AEAD_TAG);
	ck_assert_uint_eq(c->key.len, WG_KEY_LEN);
	c->sealed_len = c->ct.len + c->tag.len;
	c->sealed = malloc(c->sealed_len + 1);
	c->buf = malloc(c->sealed_len + c->msg.len + WG_AUTHTAG_LEN);
	ck_assert(c->sealed && c->buf);
	memcpy(c->sealed, c->ct.p, c->ct.len);
	memcpy(c->sealed + c->ct.len, c->tag.p, c->tag.len);
}

static void aead_case_free(struct aead_case *c)
{
	free(c->key.p);
	free(c->iv.p);
	free(c->aad.p);
	free(c->msg.p);
	free(c->ct.p);
	free(c->tag.p);
	free(c->sealed);
	free(c->buf);
}

/* Valid: seal gives ct || tag, open gives msg, also in place. */
static void aead_check_valid(const struct aead_case *c,
			     const struct aead_ops *ops)
{
	ck_assert_uint_eq(c->tag.len, WG_AUTHTAG_LEN);
	ck_assert_uint_eq(c->msg.len + WG_AUTHTAG_LEN, c->sealed_len);
	ops->seal(c->buf, c->msg.p, c->msg.len, c->aad.p, c->aad.len, c->iv.p,
		  c->key.p);
	ck_assert_msg(!memcmp(c->buf, c->sealed, c->sealed_len),
		      "tcId %d: seal differs", c->id);
	ck_assert_msg(ops->open(c->buf, c->sealed, c->sealed_len, c->aad.p,
				c->aad.len, c->iv.p, c->key.p),
		      "tcId %d: open refused a valid case", c->id);
	ck_assert_msg(!memcmp(c->buf, c->msg.p, c->msg.len),
		      "tcId %d: open gave the wrong plaintext", c->id);
	memcpy(c->buf, c->sealed, c->sealed_len);
	ck_assert(ops->open(c->buf, c->buf, c->sealed_len, c->aad.p, c->aad.len,
			    c->iv.p, c->key.p));
	ck_assert(!memcmp(c->buf, c->msg.p, c->msg.len));
}

/* Invalid: open rejects and leaves dst zeroed. */
static void aead_check_invalid(const struct aead_case *c,
			       const struct aead_ops *ops)
{
	size_t plain = c->sealed_len >= WG_AUTHTAG_LEN
			   ? c->sealed_len - WG_AUTHTAG_LEN
			   : 0;

	memset(c->buf, 0xa5, c->sealed_len + 1);
	ck_assert_msg(!ops->open(c->buf, c->sealed, c->sealed_len, c->aad.p,
				 c->aad.len, c->iv.p, c->key.p),
		      "tcId %d: open accepted an invalid case", c->id);
	ck_assert(wg_crypto_is_zero(c->buf, plain));
}

static void aead_check_case(const struct vectors *v, int i,
			    const struct aead_ops *ops)
{
	struct aead_case c;

	aead_case_load(&c, v, i);
	if (c.iv.len != ops->nonce_len) {
		/* Our API takes only nonces of exactly nonce_len bytes, so
		 * a case with any other size cannot be opened at all: it
		 * counts as rejected. Wycheproof marks them all invalid. */
		ck_assert_msg(!strcmp(c.result, "invalid"),
			      "tcId %d: %zu-byte nonce marked %s", c.id,
			      c.iv.len, c.result);
	} else if (!strcmp(c.result, "valid")) {
		aead_check_valid(&c, ops);
	} else {
		ck_assert_msg(!strcmp(c.result, "invalid"),
			      "tcId %d: unexpected result %s", c.id, c.result);
		aead_check_invalid(&c, ops);
	}
	aead_case_free(&c);
}

START_TEST(test_wycheproof_chacha)
{
	aead_check_case(&chacha, _i, &chacha_ops);
}
END_TEST

START_TEST(test_wycheproof_xchacha)
{
	aead_check_case(&xchacha, _i, &xchacha_ops);
}
END_TEST

/*
 * Valid: the output equals shared. Acceptable (low-order or
 * non-canonical points): an all-zero shared must make wg_x25519 refuse,
 * any other must be computed like a valid case.
 */
START_TEST(test_wycheproof_x25519)
{
	struct hexfield pub, priv, shared;
	uint8_t out[WG_KEY_LEN];
	int id;
	const char *result = get_case(&x25519, _i, &id);
	bool ok;

	pub = get_hex(&x25519, _i, XDH_PUBLIC);
	priv = get_hex(&x25519, _i, XDH_PRIVATE);
	shared = get_hex(&x25519, _i, XDH_SHARED);
	ck_assert(pub.len == WG_KEY_LEN && priv.len == WG_KEY_LEN &&
		  shared.len == WG_KEY_LEN);
	ck_assert_msg(!strcmp(result, "valid") || !strcmp(result, "acceptable"),
		      "tcId %d: unexpected result %s", id, result);
	memset(out, 0xa5, sizeof(out));
	ok = wg_x25519(out, priv.p, pub.p);
	if (wg_crypto_is_zero(shared.p, WG_KEY_LEN)) {
		ck_assert_msg(strcmp(result, "valid"), "tcId %d: zero", id);
		ck_assert_msg(!ok, "tcId %d: all-zero secret accepted", id);
		ck_assert(wg_crypto_is_zero(out, sizeof(out)));
	} else {
		ck_assert_msg(ok, "tcId %d: refused", id);
		ck_assert_msg(!memcmp(out, shared.p, WG_KEY_LEN),
			      "tcId %d: wrong shared secret", id);
	}
	free(pub.p);
	free(priv.p);
	free(shared.p);
}
END_TEST

static void add_wycheproof(Suite *s)
{
	TCase *tc = tcase_create("wycheproof");

	tcase_add_unchecked_fixture(tc, load_all, free_all);
	tcase_add_loop_test(tc, test_wycheproof_counts, 0, 3);
	tcase_add_loop_test(tc, test_wycheproof_chacha, 0, CHACHA_CASES);
	tcase_add_loop_test(tc, test_wycheproof_xchacha, 0, XCHACHA_CASES);
	tcase_add_loop_test(tc, test_wycheproof_x25519, 0, X25519_CASES);
	suite_add_tcase(s, tc);
}

static Suite *crypto_suite(void)
{
	Suite *s = suite_create("crypto");
	TCase *tc;

	tc = tcase_create("aead");
	tcase_add_test(tc, test_rfc8439_seal_open);
	tcase_add_test(tc, test_rfc8439_in_place);
	tcase_add_loop_test(tc, test_rfc8439_tamper, 0, 7);
	tcase_add_test(tc, test_aead_short_input);
	tcase_add_test(tc, test_counter_nonce);
	suite_add_tcase(s, tc);

	tc = tcase_create("x25519");
	tcase_add_loop_test(tc, test_rfc7748_x25519, 0,
			    sizeof(rfc7748_vectors) /
				sizeof(rfc7748_vectors[0]));
	tcase_add_test(tc, test_rfc7748_dh);
	tcase_add_test(tc, test_x25519_low_order);
	tcase_add_test(tc, test_x25519_generate);
	tcase_add_test(tc, test_x25519_clamp);
	tcase_add_test(tc, test_equal_is_zero);
	suite_add_tcase(s, tc);

	add_wycheproof(s);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (wg_crypto_init()) {
		fprintf(stderr, "libsodium failed to initialise\n");
		return 1;
	}
	sr = srunner_create(crypto_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
