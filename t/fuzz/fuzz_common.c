// SPDX-License-Identifier: MIT
#include "fuzz.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

/*
 * A fixed random sequence: ChaCha20 keystream under a key made from a
 * 64-bit seed. Only for harnesses, which need the same keys every run
 * so that a saved input means the same thing when it is replayed.
 */
static uint8_t rng_key[crypto_stream_chacha20_KEYBYTES];
static uint64_t rng_block;

void fuzz_random_reset(uint64_t seed)
{
	memset(rng_key, 0, sizeof(rng_key));
	memcpy(rng_key, &seed, sizeof(seed));
	rng_block = 0;
}

static void rng_buf(void *buf, size_t size)
{
	uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];

	memcpy(nonce, &rng_block, sizeof(nonce));
	rng_block++;
	crypto_stream_chacha20(buf, size, nonce, rng_key);
}

static uint32_t rng_random(void)
{
	uint32_t r;

	rng_buf(&r, sizeof(r));
	return r;
}

static const char *rng_name(void)
{
	return "wgpipe-fuzz";
}

static randombytes_implementation fixed_rng = {
    .implementation_name = rng_name,
    .random = rng_random,
    .buf = rng_buf,
};

struct seed_dir {
	const char *dir;
	int written;
};

static void write_seed(void *ctx, const char *name, const void *buf, size_t len)
{
	struct seed_dir *sd = ctx;
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/seed-%s", sd->dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "%s: cannot write: %s\n", path,
			strerror(errno));
		exit(1);
	}
	sd->written++;
}

void fuzz_setup(void (*init)(void))
{
	struct seed_dir sd = {.dir = getenv("FUZZ_WRITE_SEEDS")};

	fuzz_random_reset(1);
	if (randombytes_set_implementation(&fixed_rng) || sodium_init() < 0) {
		fprintf(stderr, "fuzz: libsodium set-up failed\n");
		exit(1);
	}
	init();
	if (!sd.dir)
		return;
	mkdir(sd.dir, 0755);
	fuzz_seeds(write_seed, &sd);
	fprintf(stderr, "fuzz: %d seeds written to %s\n", sd.written, sd.dir);
	exit(0);
}

uint8_t fuzz_u8(struct fuzz_in *in)
{
	uint8_t v = 0;

	fuzz_bytes(in, &v, 1);
	return v;
}

uint16_t fuzz_u16(struct fuzz_in *in)
{
	uint16_t lo = fuzz_u8(in);

	return (uint16_t)(lo | fuzz_u8(in) << 8);
}

uint32_t fuzz_u32(struct fuzz_in *in)
{
	uint32_t lo = fuzz_u16(in);

	return lo | (uint32_t)fuzz_u16(in) << 16;
}

size_t fuzz_bytes(struct fuzz_in *in, void *out, size_t n)
{
	size_t k = n < in->left ? n : in->left;

	if (k)
		memcpy(out, in->p, k);
	memset((uint8_t *)out + k, 0, n - k);
	in->p += k;
	in->left -= k;
	return k;
}
