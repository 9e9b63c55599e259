// SPDX-License-Identifier: MIT
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long test_unhex(uint8_t *out, size_t max, const char *hex)
{
	size_t n = strlen(hex), i;

	if (n % 2 || n / 2 > max)
		return -1;
	for (i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (long)i;
}

const char *test_testdata_dir(void)
{
	const char *dir = getenv("WGPIPE_TESTDATA");
	struct stat st;

	if (!dir || stat(dir, &st) || !S_ISDIR(st.st_mode))
		return NULL;
	return dir;
}

bool test_testdata_required(void)
{
	const char *ci = getenv("CI");

	return ci && !strcmp(ci, "true");
}

char *test_read_testdata(const char *name, size_t *len)
{
	const char *dir = test_testdata_dir();
	char path[4096];
	char *buf = NULL;
	long size;
	FILE *f;

	if (!dir)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET))
		goto out;
	buf = malloc((size_t)size + 1);
	if (!buf)
		goto out;
	if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[size] = '\0';
	if (len)
		*len = (size_t)size;
out:
	fclose(f);
	return buf;
}

uint64_t test_random_u64(uint64_t *seed)
{
	uint64_t x = *seed ? *seed : 0x9e3779b97f4a7c15ULL;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*seed = x;
	return x * 0x2545f4914f6cdd1dULL;
}

void test_random_bytes(uint64_t *seed, void *buf, size_t n)
{
	uint8_t *p = buf;

	while (n) {
		uint64_t r = test_random_u64(seed);
		size_t k = n < 8 ? n : 8;

		memcpy(p, &r, k);
		p += k;
		n -= k;
	}
}
