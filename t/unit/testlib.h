/* SPDX-License-Identifier: MIT */
/* Helpers shared by the Check tests. */
#ifndef WGPIPE_TESTLIB_H
#define WGPIPE_TESTLIB_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decode len hex digits pairs from hex into out (at most max bytes);
 * returns the byte count or -1 on bad input. */
long test_unhex(uint8_t *out, size_t max, const char *hex);

/*
 * A known-answer file of t/vectors (see its README), in the folder that
 * `make check` names in $T_VECTORS: a "fields" line, a "cases N" line,
 * then N case lines of space-separated fields, hex with "-" for empty.
 */
struct test_vectors {
	char *text;    /* the file, its case lines cut into fields */
	char **fields; /* count rows of nfields */
	int nfields;
	int count;	 /* case lines read */
	int declared;	 /* N of the "cases N" line */
	char error[256]; /* why test_vectors_load failed, else "" */
};

/*
 * Reads T_VECTORS/name, whose fields line must be "fields " + fields.
 * 0, or -1 with v->error saying what is wrong: T_VECTORS unset, the file
 * missing or unreadable, a line malformed or the last one cut short. The
 * counts are left for the caller to check against what it expects.
 */
int test_vectors_load(struct test_vectors *v, const char *name,
		      const char *fields);
void test_vectors_free(struct test_vectors *v);
/* Field k of case i, "" for an empty one ("-" in the file). */
const char *test_vectors_field(const struct test_vectors *v, int i, int k);

/* Fills buf with n bytes from a simple seeded PRNG (xorshift64*). */
void test_random_bytes(uint64_t *seed, void *buf, size_t n);
uint64_t test_random_u64(uint64_t *seed);

/*
 * Skips that show in the totals. Check runs each test in a child
 * process; what the children skip is kept in memory shared with the
 * parent, which test_main sets up before srunner_run_all (so no thread
 * may start before it either).
 *
 * test_main runs the suite and returns the status automake reads: 1 if a
 * test failed, else 77 (skip) if part of a test did not run, saying on
 * stdout what ("SKIP check_NAME: ..."), else 0.
 */
int test_main(const char *name, Suite *s);

/* Part of a test needs what this machine lacks (root, /dev/net/tun):
 * with CI=true that fails the test, otherwise it is a skip. The caller
 * returns from the test after it. */
void test_skip_or_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Code this CPU cannot run (an AVX-512 implementation): never a failure,
 * even with CI=true, but a skip that says what was not tested. */
void test_not_tested(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* How many times slower than a plain build the tests run: Check's
 * CK_TIMEOUT_MULTIPLIER (contrib/debian-setup sets 5 for the sanitizer
 * builds), at least 1. Time limits inside a test are multiplied by it. */
double test_time_scale(void);

#endif
