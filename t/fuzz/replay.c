// SPDX-License-Identifier: MIT
/*
 * The replay test of one harness, built with the normal compiler: runs
 * the harness's seeds, then every file of t/fuzz/corpus/NAME (if there
 * is one) and t/fuzz/regress/NAME (which must exist: a harness without
 * its regression inputs, or a tree where they were left out, fails), or
 * of the files and folders named on the command line, through
 * LLVMFuzzerTestOneInput. A broken invariant aborts, so the test fails;
 * it also fails when it ran nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#ifndef FUZZ_NAME
#error "build with -DFUZZ_NAME=\"name\""
#endif

static unsigned long ran;

static void run(const char *what, const uint8_t *buf, size_t len)
{
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "replay %s (%zu bytes)\n", what, len);
	LLVMFuzzerTestOneInput(buf, len);
	ran++;
}

static void run_seed(void *ctx, const char *name, const void *buf, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);

	/* A private copy, exactly len bytes: as libFuzzer passes it, so
	 * that a sanitizer sees reads past the end. */
	if (!copy)
		abort();
	memcpy(copy, buf, len);
	run(name, copy, len);
	free(copy);
}

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? 2 * cap : 4096;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		n = fread(buf + len, 1, cap - len, f);
		if (!n)
			break;
		len += n;
	}
	fclose(f);
	run_seed(NULL, path, buf, len);
	free(buf);
	return 0;
}

/* Every regular file of a folder; a missing folder is no input unless
 * it must exist. */
static int run_path(const char *path, int must_exist)
{
	struct dirent *e;
	struct stat st;
	char sub[4096];
	int ret = 0;
	DIR *d;

	if (stat(path, &st)) {
		if (!must_exist && errno == ENOENT)
			return 0;
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path);
	d = opendir(path);
	if (!d) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !strcmp(e->d_name, "README"))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (run_path(sub, 1))
			ret = -1;
	}
	closedir(d);
	return ret;
}

int main(int argc, char **argv)
{
	const char *srcdir = getenv("srcdir");
	char path[4096];
	int i, ret = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1) {
		for (i = 1; i < argc; i++)
			if (run_path(argv[i], 1))
				ret = 1;
		printf("%s: %lu inputs replayed\n", FUZZ_NAME, ran);
		return ret;
	}
	fuzz_seeds(run_seed, NULL);
	printf("%s: %lu seeds replayed\n", FUZZ_NAME, ran);
	if (!srcdir)
		srcdir = ".";
	snprintf(path, sizeof(path), "%s/t/fuzz/corpus/%s", srcdir, FUZZ_NAME);
	if (run_path(path, 0))
		ret = 1;
	snprintf(path, sizeof(path), "%s/t/fuzz/regress/%s", srcdir, FUZZ_NAME);
	if (run_path(path, 1))
		ret = 1;
	printf("%s: %lu inputs replayed in all\n", FUZZ_NAME, ran);
	return ret || !ran;
}
