/* SPDX-License-Identifier: MIT */
/* Helpers shared by the Check tests. */
#ifndef WGPIPE_TESTLIB_H
#define WGPIPE_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decode len hex digits pairs from hex into out (at most max bytes);
 * returns the byte count or -1 on bad input. */
long test_unhex(uint8_t *out, size_t max, const char *hex);

/*
 * The folder of the shared vector files: $WGPIPE_TESTDATA, set by
 * `make check` to ../shared/testdata beside the source tree. NULL when it
 * is absent; the tests that need it then print why they skip. Where
 * CI=true, an absent folder is a failure: test_testdata_required() says so.
 */
const char *test_testdata_dir(void);
bool test_testdata_required(void);
/* Reads a whole file from the vector folder, NUL-terminated; NULL if it
 * is missing. The caller frees. */
char *test_read_testdata(const char *name, size_t *len);

/* Fills buf with n bytes from a simple seeded PRNG (xorshift64*). */
void test_random_bytes(uint64_t *seed, void *buf, size_t n);
uint64_t test_random_u64(uint64_t *seed);

#endif
