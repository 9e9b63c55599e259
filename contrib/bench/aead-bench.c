// SPDX-License-Identifier: MIT
/*
 * aead-bench: ChaCha20-Poly1305 throughput of every implementation this
 * CPU runs, libsodium included, in one run: single messages of several
 * sizes sealed and opened in place on one core, and a batch of 64
 * packets of 1420 bytes. See contrib/bench/README.aead.
 *
 * The machine may be shared, so each figure is timed in many short
 * windows, the implementations taking turns; the best window is the
 * figure, the median is printed beside it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crypto/aead.h"

enum {
	MAX_LEN = 65536,
	BATCH_N = 64,
	BATCH_LEN = 1420,
	WINDOW_NS = 2000000,
	MAX_WINDOWS = 200,
	MAX_IMPLS = 4,
};

static const char *const all_impls[MAX_IMPLS] = {"libsodium", "portable",
						 "avx2", "avx512"};
static const size_t sizes[] = {64, 512, 1420, 8192, 65536};
enum { NSIZES = sizeof(sizes) / sizeof(sizes[0]) };

static uint8_t key[WG_KEY_LEN];
static uint8_t nonce[WG_AEAD_NONCE_LEN];
static uint8_t *work, *sealed;
static uint8_t *batch_mem, *batch_sealed;
static uint8_t *bufs[BATCH_N];
static size_t lens[BATCH_N], sealed_lens[BATCH_N];
static uint64_t counters[BATCH_N];
static bool oks[BATCH_N];

enum op { SEAL, OPEN, SEAL_BATCH, OPEN_BATCH };

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* One operation; an open first puts the sealed message back in place (a
 * copy, counted in its time: at most a few percent). */
static void run_once(enum op op, size_t len)
{
	size_t i;

	switch (op) {
	case SEAL:
		wg_aead_encrypt(work, work, len, NULL, 0, nonce, key);
		break;
	case OPEN:
		memcpy(work, sealed, len + WG_AUTHTAG_LEN);
		if (!wg_aead_decrypt(work, work, len + WG_AUTHTAG_LEN, NULL, 0,
				     nonce, key))
			abort();
		break;
	case SEAL_BATCH:
		wg_aead_seal_batch(key, counters, bufs, lens, BATCH_N);
		break;
	case OPEN_BATCH:
		for (i = 0; i < BATCH_N; i++)
			memcpy(bufs[i], batch_sealed + (bufs[i] - batch_mem),
			       sealed_lens[i]);
		wg_aead_open_batch(key, counters, bufs, sealed_lens, oks,
				   BATCH_N);
		for (i = 0; i < BATCH_N; i++)
			if (!oks[i])
				abort();
		break;
	}
}

/* Iterations that fill about one window. */
static unsigned long calibrate(enum op op, size_t len)
{
	unsigned long n = 1;
	uint64_t t;

	for (;;) {
		unsigned long i;

		t = now_ns();
		for (i = 0; i < n; i++)
			run_once(op, len);
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

/* Times op for each implementation in turn, windows interleaved. */
static void measure(enum op op, size_t len, const char *impls[], int nimpls,
		    int windows, struct result res[])
{
	static double gbs[MAX_IMPLS][MAX_WINDOWS];
	unsigned long iters[MAX_IMPLS];
	size_t bytes = op >= SEAL_BATCH ? BATCH_N * BATCH_LEN : len;
	int i, w;

	for (i = 0; i < nimpls; i++) {
		wg_aead_select(impls[i]);
		iters[i] = calibrate(op, len);
	}
	for (w = 0; w < windows; w++) {
		for (i = 0; i < nimpls; i++) {
			unsigned long k;
			uint64_t t;

			wg_aead_select(impls[i]);
			t = now_ns();
			for (k = 0; k < iters[i]; k++)
				run_once(op, len);
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
	size_t i;

	work = aligned_alloc(64, MAX_LEN + 64);
	sealed = aligned_alloc(64, MAX_LEN + 64);
	batch_mem = aligned_alloc(64, BATCH_N * 2048);
	batch_sealed = aligned_alloc(64, BATCH_N * 2048);
	if (!work || !sealed || !batch_mem || !batch_sealed)
		abort();
	randombytes_buf(key, sizeof(key));
	randombytes_buf(nonce, sizeof(nonce));
	randombytes_buf(work, MAX_LEN + 64);
	randombytes_buf(batch_mem, BATCH_N * 2048);
	for (i = 0; i < BATCH_N; i++) {
		/* As in a batch slot: the data after the 16-byte header. */
		bufs[i] = batch_mem + 2048 * i + 16;
		lens[i] = BATCH_LEN;
		sealed_lens[i] = BATCH_LEN + WG_AUTHTAG_LEN;
		counters[i] = 1000 + i;
	}
}

/* The sealed forms the open benchmarks start from, made by libsodium. */
static void make_sealed(size_t len)
{
	wg_aead_select("libsodium");
	crypto_aead_chacha20poly1305_ietf_encrypt(sealed, NULL, work, len, NULL,
						  0, NULL, nonce, key);
}

static void make_sealed_batch(void)
{
	wg_aead_select("libsodium");
	wg_aead_seal_batch(key, counters, bufs, lens, BATCH_N);
	memcpy(batch_sealed, batch_mem, BATCH_N * 2048);
}

static void print_header(const char *impls[], int nimpls)
{
	int i;

	printf("%-22s", "");
	for (i = 0; i < nimpls; i++)
		printf(" %17s", impls[i]);
	printf("\n");
}

static void print_row(const char *label, const struct result res[], int nimpls)
{
	int i;

	printf("%-22s", label);
	for (i = 0; i < nimpls; i++)
		printf("  %6.3f (%6.3f)  ", res[i].best, res[i].median);
	printf("   x%.2f\n", res[nimpls - 1].best / res[0].best);
}

int main(int argc, char **argv)
{
	const char *impls[MAX_IMPLS];
	struct result res[MAX_IMPLS];
	int nimpls = 0, windows = argc > 1 ? atoi(argv[1]) : 15;
	char label[64];
	size_t s;
	int i;

	if (sodium_init() < 0 || windows < 1 || windows > MAX_WINDOWS) {
		fprintf(stderr, "usage: aead-bench [windows 1..%d]\n",
			MAX_WINDOWS);
		return 1;
	}
	for (i = 0; i < MAX_IMPLS; i++)
		if (wg_aead_supported(all_impls[i]))
			impls[nimpls++] = all_impls[i];
	wg_aead_select("auto");
	printf("ChaCha20-Poly1305, GB/s on one core: best of %d windows of "
	       "~%d ms (median)\nauto selects: %s; last column: %s / "
	       "libsodium\n\n",
	       windows, WINDOW_NS / 1000000, wg_aead_name(), impls[nimpls - 1]);
	setup();
	print_header(impls, nimpls);
	for (s = 0; s < NSIZES; s++) {
		snprintf(label, sizeof(label), "seal %zu", sizes[s]);
		measure(SEAL, sizes[s], impls, nimpls, windows, res);
		print_row(label, res, nimpls);
	}
	for (s = 0; s < NSIZES; s++) {
		snprintf(label, sizeof(label), "open %zu", sizes[s]);
		make_sealed(sizes[s]);
		measure(OPEN, sizes[s], impls, nimpls, windows, res);
		print_row(label, res, nimpls);
	}
	measure(SEAL_BATCH, 0, impls, nimpls, windows, res);
	print_row("seal batch 64x1420", res, nimpls);
	make_sealed_batch();
	measure(OPEN_BATCH, 0, impls, nimpls, windows, res);
	print_row("open batch 64x1420", res, nimpls);
	return 0;
}
