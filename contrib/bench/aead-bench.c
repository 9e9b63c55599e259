// SPDX-License-Identifier: MIT
/*
 * aead-bench: ChaCha20-Poly1305 throughput of every implementation this
 * CPU runs, libsodium included, and OpenSSL's EVP_chacha20_poly1305 when
 * the bench was built with libcrypto, in one run: single messages of
 * several sizes sealed and opened in place on one core, batches of
 * MTU-sized and jumbo packets, and the keystream and the tags of a batch
 * apart. See contrib/bench/README.aead.
 *
 * The machine may be shared, so each figure is timed in many short
 * windows, the implementations taking turns; the best window is the
 * figure, the median is printed beside it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#if HAVE_LIBCRYPTO
#include <openssl/evp.h>
#endif

#include "crypto/aead.h"

enum {
	MAX_LEN = 65536,
	BATCH_MAX_N = 64,
	BATCH_MAX_LEN = 8920,
	/* A batch slot: the 16-byte header, the packet, its tag, and
	 * room up to a cache line. */
	SLOT_LEN = 16 + BATCH_MAX_LEN + WG_AUTHTAG_LEN + 24,
	WINDOW_NS = 2000000,
	MAX_WINDOWS = 200,
	MAX_IMPLS = 5,
};

/* wgpipe's implementations, then OpenSSL (not a wgpipe implementation:
 * the bench calls EVP itself). */
static const char *const all_impls[MAX_IMPLS] = {"libsodium", "portable",
						 "avx2", "avx512", "openssl"};
static const size_t sizes[] = {64, 512, 1420, 8192, 65536};
enum { NSIZES = sizeof(sizes) / sizeof(sizes[0]) };

/* The batches: n packets of len bytes. */
static const struct batch_shape {
	size_t n, len;
} shapes[] = {{64, 1420}, {16, 8920}};
enum { NSHAPES = sizeof(shapes) / sizeof(shapes[0]) };

static uint8_t key[WG_KEY_LEN];
static uint8_t nonce[WG_AEAD_NONCE_LEN];
static uint8_t *work, *sealed;
static uint8_t *batch_mem, *batch_sealed;
static uint8_t *bufs[BATCH_MAX_N];
static size_t lens[BATCH_MAX_N], sealed_lens[BATCH_MAX_N];
static const uint8_t *batch_srcs[BATCH_MAX_N]; /* in batch_sealed */
static uint64_t counters[BATCH_MAX_N];
static bool oks[BATCH_MAX_N];
static size_t batch_n;

enum op {
	SEAL,
	OPEN,
	SEAL_BATCH,
	OPEN_BATCH,
	OPEN_BATCH_FROM,
	KEYSTREAM_BATCH,
	TAGS_BATCH
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- OpenSSL's EVP, one message per call, as an application would ---- */

#if HAVE_LIBCRYPTO
static EVP_CIPHER_CTX *evp_seal_ctx, *evp_open_ctx;

static void evp_setup(void)
{
	evp_seal_ctx = EVP_CIPHER_CTX_new();
	evp_open_ctx = EVP_CIPHER_CTX_new();
	if (!evp_seal_ctx || !evp_open_ctx ||
	    !EVP_EncryptInit_ex(evp_seal_ctx, EVP_chacha20_poly1305(), NULL,
				key, NULL) ||
	    !EVP_DecryptInit_ex(evp_open_ctx, EVP_chacha20_poly1305(), NULL,
				key, NULL))
		abort();
}

/* In place: len bytes at buf, the tag after them. */
static void evp_seal(uint8_t *buf, size_t len, const uint8_t *iv)
{
	int n, fin;

	if (!EVP_EncryptInit_ex(evp_seal_ctx, NULL, NULL, NULL, iv) ||
	    !EVP_EncryptUpdate(evp_seal_ctx, buf, &n, buf, (int)len) ||
	    !EVP_EncryptFinal_ex(evp_seal_ctx, buf + n, &fin) ||
	    !EVP_CIPHER_CTX_ctrl(evp_seal_ctx, EVP_CTRL_AEAD_GET_TAG,
				 WG_AUTHTAG_LEN, buf + len))
		abort();
}

/* From src (len bytes including the tag) to dst, which may be src. */
static bool evp_open(uint8_t *dst, const uint8_t *src, size_t len,
		     const uint8_t *iv)
{
	size_t mlen = len - WG_AUTHTAG_LEN;
	uint8_t tag[WG_AUTHTAG_LEN];
	int n, fin;

	memcpy(tag, src + mlen, WG_AUTHTAG_LEN);
	if (!EVP_DecryptInit_ex(evp_open_ctx, NULL, NULL, NULL, iv) ||
	    !EVP_CIPHER_CTX_ctrl(evp_open_ctx, EVP_CTRL_AEAD_SET_TAG,
				 WG_AUTHTAG_LEN, tag) ||
	    !EVP_DecryptUpdate(evp_open_ctx, dst, &n, src, (int)mlen))
		abort();
	return EVP_DecryptFinal_ex(evp_open_ctx, dst + n, &fin) == 1;
}
#define HAVE_OPENSSL true
#else
static void evp_setup(void)
{
}

static void evp_seal(uint8_t *buf, size_t len, const uint8_t *iv)
{
	abort();
}

static bool evp_open(uint8_t *dst, const uint8_t *src, size_t len,
		     const uint8_t *iv)
{
	abort();
}
#define HAVE_OPENSSL false
#endif

/* ---- The operations timed ---- */

static void seal_one(bool evp, size_t len)
{
	if (evp)
		evp_seal(work, len, nonce);
	else
		wg_aead_encrypt(work, work, len, NULL, 0, nonce, key);
}

static bool open_one(bool evp, size_t len)
{
	if (evp)
		return evp_open(work, work, len + WG_AUTHTAG_LEN, nonce);
	return wg_aead_decrypt(work, work, len + WG_AUTHTAG_LEN, NULL, 0, nonce,
			       key);
}

/* OpenSSL has no batch call: one message after the other. */
static void seal_batch(bool evp)
{
	uint8_t iv[WG_AEAD_NONCE_LEN];
	size_t i;

	if (!evp) {
		wg_aead_seal_batch(key, counters, bufs, lens, batch_n);
		return;
	}
	for (i = 0; i < batch_n; i++) {
		wg_aead_nonce(iv, counters[i]);
		evp_seal(bufs[i], lens[i], iv);
	}
}

/* In place, or from srcs (the sealed batch left as it is, as a reader
 * opens the messages of a UDP_GRO run) when it is given. */
static void open_batch(bool evp, const uint8_t *const *srcs)
{
	uint8_t iv[WG_AEAD_NONCE_LEN];
	size_t i;

	if (!evp) {
		if (srcs)
			wg_aead_open_batch_from(key, counters, bufs, srcs,
						sealed_lens, oks, batch_n);
		else
			wg_aead_open_batch(key, counters, bufs, sealed_lens,
					   oks, batch_n);
		return;
	}
	for (i = 0; i < batch_n; i++) {
		wg_aead_nonce(iv, counters[i]);
		oks[i] = evp_open(bufs[i], srcs ? srcs[i] : bufs[i],
				  sealed_lens[i], iv);
	}
}

/* ---- The two halves of a sealed batch, apart ---- */

/*
 * What wg_aead_seal_batch does, cut in two, through the implementation's
 * primitives: the keystream call (every packet's one-time key block and
 * its data, as the seal computes them) and the tags of the batch
 * (mac_batch, or one tag after the other where there is none). Only the
 * implementations with primitives of their own; libsodium's and
 * OpenSSL's cells stay empty.
 */
static struct chacha_job half_jobs[BATCH_MAX_N];
static struct mac_job half_macs[BATCH_MAX_N];
static uint8_t half_polykeys[BATCH_MAX_N][64], half_tags[BATCH_MAX_N][16];
static uint32_t key_words[8];

static void setup_halves(void)
{
	size_t i;

	for (i = 0; i < 8; i++)
		key_words[i] = (uint32_t)key[4 * i] |
			       (uint32_t)key[4 * i + 1] << 8 |
			       (uint32_t)key[4 * i + 2] << 16 |
			       (uint32_t)key[4 * i + 3] << 24;
	for (i = 0; i < batch_n; i++) {
		half_jobs[i] = (struct chacha_job){
		    .dst = bufs[i],
		    .src = bufs[i],
		    .len = lens[i],
		    .polykey = half_polykeys[i],
		    .nonce = {0, (uint32_t)counters[i],
			      (uint32_t)(counters[i] >> 32)},
		};
		half_macs[i] = (struct mac_job){bufs[i], lens[i],
						half_polykeys[i], half_tags[i]};
	}
}

static void half_batch(enum op op)
{
	const struct chacha_poly_ops *ops = wg_aead_impl()->ops;
	size_t i;

	if (op == KEYSTREAM_BATCH)
		ops->stream(half_jobs, batch_n, key_words);
	else if (ops->mac_batch)
		ops->mac_batch(half_macs, batch_n);
	else
		for (i = 0; i < batch_n; i++)
			ops->mac(half_macs[i].tag, half_macs[i].key, NULL, 0,
				 half_macs[i].msg, half_macs[i].len);
}

/* One operation; an open in place first puts the sealed message back (a
 * copy, counted in its time, for OpenSSL as for wgpipe). An open from the
 * sealed batch copies nothing. */
static void run_once(enum op op, bool evp, size_t len)
{
	size_t i;

	switch (op) {
	case SEAL:
		seal_one(evp, len);
		break;
	case OPEN:
		memcpy(work, sealed, len + WG_AUTHTAG_LEN);
		if (!open_one(evp, len))
			abort();
		break;
	case SEAL_BATCH:
		seal_batch(evp);
		break;
	case KEYSTREAM_BATCH:
	case TAGS_BATCH:
		half_batch(op);
		break;
	case OPEN_BATCH:
		for (i = 0; i < batch_n; i++)
			memcpy(bufs[i], batch_sealed + (bufs[i] - batch_mem),
			       sealed_lens[i]);
		/* fall through */
	case OPEN_BATCH_FROM:
		open_batch(evp, op == OPEN_BATCH_FROM ? batch_srcs : NULL);
		for (i = 0; i < batch_n; i++)
			if (!oks[i])
				abort();
		break;
	}
}

/* Iterations that fill about one window. */
static unsigned long calibrate(enum op op, bool evp, size_t len)
{
	unsigned long n = 1;
	uint64_t t;

	for (;;) {
		unsigned long i;

		t = now_ns();
		for (i = 0; i < n; i++)
			run_once(op, evp, len);
		t = now_ns() - t;
		if (t >= WINDOW_NS / 4 || n >= 1UL << 30)
			break;
		n *= 2;
	}
	return n * (WINDOW_NS / 4) / (t ? t : 1) * 4 + 1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct result {
	double best, median; /* GB/s */
};

/* Selects implementation i (wgpipe's by name); true for OpenSSL. */
static bool use_impl(const char *name)
{
	if (!strcmp(name, "openssl"))
		return true;
	wg_aead_select(name);
	return false;
}

/* Whether the implementation just selected (evp: OpenSSL) does op. */
static bool does(enum op op, bool evp)
{
	return op < KEYSTREAM_BATCH || (!evp && wg_aead_impl()->ops);
}

/* Times op for each implementation in turn, windows interleaved; 0 for
 * one that does not do it. */
static void measure(enum op op, size_t len, const char *const impls[],
		    int nimpls, int windows, struct result res[])
{
	static double gbs[MAX_IMPLS][MAX_WINDOWS];
	unsigned long iters[MAX_IMPLS];
	size_t bytes = op >= SEAL_BATCH ? batch_n * lens[0] : len;
	bool evp;
	int i, w;

	for (i = 0; i < nimpls; i++) {
		evp = use_impl(impls[i]);
		iters[i] = does(op, evp) ? calibrate(op, evp, len) : 0;
	}
	for (w = 0; w < windows; w++) {
		for (i = 0; i < nimpls; i++) {
			unsigned long k;
			uint64_t t;

			evp = use_impl(impls[i]);
			gbs[i][w] = 0;
			if (!iters[i])
				continue;
			t = now_ns();
			for (k = 0; k < iters[i]; k++)
				run_once(op, evp, len);
			t = now_ns() - t;
			gbs[i][w] = (double)bytes * iters[i] / (double)t;
		}
	}
	for (i = 0; i < nimpls; i++) {
		qsort(gbs[i], windows, sizeof(double), cmp_double);
		res[i].best = gbs[i][windows - 1];
		res[i].median = gbs[i][windows / 2];
	}
}

static void setup(void)
{
	work = aligned_alloc(64, MAX_LEN + 64);
	sealed = aligned_alloc(64, MAX_LEN + 64);
	batch_mem = aligned_alloc(64, BATCH_MAX_N * SLOT_LEN);
	batch_sealed = aligned_alloc(64, BATCH_MAX_N * SLOT_LEN);
	if (!work || !sealed || !batch_mem || !batch_sealed)
		abort();
	randombytes_buf(key, sizeof(key));
	randombytes_buf(nonce, sizeof(nonce));
	randombytes_buf(work, MAX_LEN + 64);
	randombytes_buf(batch_mem, BATCH_MAX_N * SLOT_LEN);
	evp_setup();
}

/* The batch of that shape, sealed by libsodium for the opens. */
static void setup_batch(const struct batch_shape *b)
{
	size_t i;

	batch_n = b->n;
	for (i = 0; i < b->n; i++) {
		/* As in a batch slot: the data after the 16-byte header. */
		bufs[i] = batch_mem + SLOT_LEN * i + 16;
		batch_srcs[i] = batch_sealed + SLOT_LEN * i + 16;
		lens[i] = b->len;
		sealed_lens[i] = b->len + WG_AUTHTAG_LEN;
		counters[i] = 1000 + i;
	}
	wg_aead_select("libsodium");
	wg_aead_seal_batch(key, counters, bufs, lens, b->n);
	memcpy(batch_sealed, batch_mem, BATCH_MAX_N * SLOT_LEN);
}

/* The sealed form the open benchmark starts from, made by libsodium. */
static void make_sealed(size_t len)
{
	crypto_aead_chacha20poly1305_ietf_encrypt(sealed, NULL, work, len, NULL,
						  0, NULL, nonce, key);
}

/* The columns; auto is the implementation auto selects. */
struct table {
	const char *impls[MAX_IMPLS];
	int nimpls, windows, auto_col, sodium_col, openssl_col;
	const char *only; /* rows whose label has this, or NULL: all */
};

static void print_header(const struct table *t)
{
	int i;

	printf("%-24s", "");
	for (i = 0; i < t->nimpls; i++)
		printf(" %17s", t->impls[i]);
	printf("   %s/sodium", t->impls[t->auto_col]);
	if (t->openssl_col >= 0)
		printf("  %s/openssl", t->impls[t->auto_col]);
	printf("\n");
}

static void print_ratio(double num, double den, const char *gap)
{
	if (num > 0 && den > 0)
		printf("%sx%.2f", gap, num / den);
	else
		printf("%s-    ", gap);
}

static void print_row(const struct table *t, const char *label, enum op op,
		      size_t len)
{
	struct result res[MAX_IMPLS];
	int i;

	if (t->only && !strstr(label, t->only))
		return;
	measure(op, len, t->impls, t->nimpls, t->windows, res);
	printf("%-24s", label);
	for (i = 0; i < t->nimpls; i++)
		if (res[i].best > 0)
			printf("  %6.3f (%6.3f)  ", res[i].best, res[i].median);
		else
			printf("  %6s  %6s   ", "-", "");
	print_ratio(res[t->auto_col].best, res[t->sodium_col].best, "   ");
	if (t->openssl_col >= 0)
		print_ratio(res[t->auto_col].best, res[t->openssl_col].best,
			    "          ");
	printf("\n");
	fflush(stdout);
}

static void make_table(struct table *t, int windows)
{
	int i;

	t->nimpls = 0;
	t->windows = windows;
	t->openssl_col = -1;
	wg_aead_select("auto");
	for (i = 0; i < MAX_IMPLS; i++) {
		const char *name = all_impls[i];

		if (!strcmp(name, "openssl") ? !HAVE_OPENSSL
					     : !wg_aead_supported(name))
			continue;
		if (!strcmp(name, wg_aead_name()))
			t->auto_col = t->nimpls;
		if (!strcmp(name, "libsodium"))
			t->sodium_col = t->nimpls;
		if (!strcmp(name, "openssl"))
			t->openssl_col = t->nimpls;
		t->impls[t->nimpls++] = name;
	}
}

int main(int argc, char **argv)
{
	int windows = argc > 1 ? atoi(argv[1]) : 15;
	struct table t;
	char label[64];
	size_t s;

	if (sodium_init() < 0 || windows < 1 || windows > MAX_WINDOWS) {
		fprintf(stderr,
			"usage: aead-bench [windows 1..%d [rows-matching]]\n",
			MAX_WINDOWS);
		return 1;
	}
	make_table(&t, windows);
	t.only = argc > 2 ? argv[2] : NULL;
	printf("ChaCha20-Poly1305, GB/s on one core: best of %d windows of "
	       "~%d ms (median)\nauto selects: %s; %s\n\n",
	       windows, WINDOW_NS / 1000000, t.impls[t.auto_col],
	       HAVE_OPENSSL ? "openssl: EVP_chacha20_poly1305, one message a "
			      "call"
			    : "OpenSSL is not built in (configure found no "
			      "libcrypto)");
	setup();
	print_header(&t);
	for (s = 0; s < NSIZES; s++) {
		snprintf(label, sizeof(label), "seal %zu", sizes[s]);
		print_row(&t, label, SEAL, sizes[s]);
	}
	for (s = 0; s < NSIZES; s++) {
		snprintf(label, sizeof(label), "open %zu", sizes[s]);
		make_sealed(sizes[s]);
		print_row(&t, label, OPEN, sizes[s]);
	}
	for (s = 0; s < NSHAPES; s++) {
		setup_batch(&shapes[s]);
		snprintf(label, sizeof(label), "seal batch %zux%zu",
			 shapes[s].n, shapes[s].len);
		print_row(&t, label, SEAL_BATCH, 0);
		snprintf(label, sizeof(label), "open batch %zux%zu",
			 shapes[s].n, shapes[s].len);
		print_row(&t, label, OPEN_BATCH, 0);
		snprintf(label, sizeof(label), "open batch from %zux%zu",
			 shapes[s].n, shapes[s].len);
		print_row(&t, label, OPEN_BATCH_FROM, 0);
	}
	/* The halves of a sealed batch of MTU-sized packets, apart. */
	setup_batch(&shapes[0]);
	setup_halves();
	snprintf(label, sizeof(label), "keystream %zux%zu", shapes[0].n,
		 shapes[0].len);
	print_row(&t, label, KEYSTREAM_BATCH, 0);
	snprintf(label, sizeof(label), "tags %zux%zu", shapes[0].n,
		 shapes[0].len);
	print_row(&t, label, TAGS_BATCH, 0);
	return 0;
}
