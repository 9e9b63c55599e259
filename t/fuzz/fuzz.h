/* SPDX-License-Identifier: MIT */
/*
 * What the fuzz harnesses share. Each harness (fuzz_NAME.c) defines
 * LLVMFuzzerTestOneInput and fuzz_seeds, and builds two ways: with
 * clang -fsanitize=fuzzer for `make fuzz`, and with the normal compiler
 * and t/fuzz/replay.c for t/fuzz/check_fuzz_NAME, which replays the seeds
 * and every committed input through the same code.
 *
 * A broken invariant aborts (FUZZ_ASSERT), which both libFuzzer and the
 * replay test report as a failure.
 */
#ifndef WGPIPE_FUZZ_H
#define WGPIPE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_ASSERT(cond)                                                      \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: invariant broken: %s\n",       \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Seed inputs: each harness hands its hand-made inputs to emit. */
typedef void (*fuzz_emit_fn)(void *ctx, const char *name, const void *buf,
			     size_t len);
void fuzz_seeds(fuzz_emit_fn emit, void *ctx);

/*
 * Shared set-up, called from each LLVMFuzzerInitialize: makes
 * libsodium's random bytes a fixed sequence (before sodium_init), so
 * that keys, ephemerals and the inputs that depend on them are the same
 * in every run; then calls the harness's init; then, with
 * FUZZ_WRITE_SEEDS=DIR in the environment, writes the seeds there as
 * files and exits.
 */
void fuzz_setup(void (*init)(void));
/* Restart the fixed random sequence (for a harness that wants the same
 * bytes for every input). */
void fuzz_random_reset(uint64_t seed);

/* Reads little-endian integers from the input, zeros past its end. */
struct fuzz_in {
	const uint8_t *p;
	size_t left;
};

uint8_t fuzz_u8(struct fuzz_in *in);
uint16_t fuzz_u16(struct fuzz_in *in);
uint32_t fuzz_u32(struct fuzz_in *in);
/* Copies up to n bytes (zero-filling the rest); returns how many were
 * there. */
size_t fuzz_bytes(struct fuzz_in *in, void *out, size_t n);

#endif
