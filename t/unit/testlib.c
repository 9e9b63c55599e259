// SPDX-License-Identifier: MIT
#include "testlib.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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

/* The whole file, NUL-terminated; NULL with errno set if unreadable. */
static char *read_file(const char *path, size_t *len)
{
	char *buf = NULL;
	long size;
	FILE *f = fopen(path, "rb");

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
		errno = EIO;
		goto out;
	}
	buf[size] = '\0';
	*len = (size_t)size;
out:
	fclose(f);
	return buf;
}

static int vectors_error(struct test_vectors *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->error, sizeof(v->error), fmt, ap);
	va_end(ap);
	return -1;
}

/* Cuts off the line at *p (every line ends with a newline) and moves *p
 * to the next one. */
static char *next_line(char **p, int *lineno)
{
	char *line = *p, *nl = strchr(line, '\n');

	*nl = '\0';
	*p = nl + 1;
	(*lineno)++;
	return line;
}

/* Cuts a case line into v->nfields fields at row; false if it has more
 * or fewer, or an empty one. */
static bool split_case(struct test_vectors *v, char *line, char **row)
{
	int k;

	for (k = 0; k < v->nfields; k++) {
		row[k] = strsep(&line, " ");
		if (!*row[k] || (!line) != (k == v->nfields - 1))
			return false;
	}
	return true;
}

/* N of a "cases N" line, or -1. */
static int parse_cases(const char *line)
{
	char *end;
	long n;

	if (strncmp(line, "cases ", 6) || !isdigit((unsigned char)line[6]))
		return -1;
	errno = 0;
	n = strtol(line + 6, &end, 10);
	return *end || errno || n > INT_MAX ? -1 : (int)n;
}

/* After the header: every remaining line is a case. */
static int load_cases(struct test_vectors *v, char *p, int lineno,
		      const char *path)
{
	size_t lines = 0;
	const char *c;

	for (c = p; *c; c++)
		lines += *c == '\n';
	v->fields =
	    calloc(lines ? lines * (size_t)v->nfields : 1, sizeof(*v->fields));
	if (!v->fields)
		return vectors_error(v, "%s: out of memory", path);
	while (*p) {
		char *line = next_line(&p, &lineno);

		if (!split_case(v, line, v->fields + v->count * v->nfields))
			return vectors_error(v, "%s:%d: not %d fields", path,
					     lineno, v->nfields);
		v->count++;
	}
	return 0;
}

int test_vectors_load(struct test_vectors *v, const char *name,
		      const char *fields)
{
	const char *dir = getenv("T_VECTORS");
	char path[4096], *p, *line;
	int lineno = 0;
	size_t len;

	memset(v, 0, sizeof(*v));
	v->declared = -1;
	if (!dir || !*dir)
		return vectors_error(v, "T_VECTORS is not set (make check sets "
					"it to the source tree's t/vectors)");
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	v->text = read_file(path, &len);
	if (!v->text)
		return vectors_error(v, "%s: %s", path, strerror(errno));
	if (!len || v->text[len - 1] != '\n')
		return vectors_error(v, "%s: no final newline (cut short?)",
				     path);
	p = v->text;
	do
		line = next_line(&p, &lineno);
	while (*line == '#' && *p);
	if (strncmp(line, "fields ", 7) || strcmp(line + 7, fields))
		return vectors_error(v, "%s:%d: not \"fields %s\"", path,
				     lineno, fields);
	for (v->nfields = 1; *fields; fields++)
		v->nfields += *fields == ' ';
	line = *p ? next_line(&p, &lineno) : "";
	v->declared = parse_cases(line);
	if (v->declared < 0)
		return vectors_error(v, "%s:%d: not \"cases N\"", path, lineno);
	return load_cases(v, p, lineno, path);
}

void test_vectors_free(struct test_vectors *v)
{
	free(v->fields);
	free(v->text);
	v->fields = NULL;
	v->text = NULL;
	v->count = 0;
}

const char *test_vectors_field(const struct test_vectors *v, int i, int k)
{
	const char *f = v->fields[i * v->nfields + k];

	return strcmp(f, "-") ? f : "";
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

/* ---- skips ---- */

enum { SKIP_TEXT = 4096 };

/* Shared with the forked tests; tests run one at a time. */
struct skips {
	unsigned int count;
	char text[SKIP_TEXT];
};

static struct skips *skips;

static void skip_record(const char *kind, const char *why)
{
	size_t len;

	fprintf(stderr, "skipping: %s%s\n", kind, why);
	if (!skips)
		return;
	skips->count++;
	len = strlen(skips->text);
	/* Once each: a loop test meets the same reason in every case. */
	if (strstr(skips->text, why))
		return;
	snprintf(skips->text + len, sizeof(skips->text) - len, "%s%s%s",
		 len ? "; " : "", kind, why);
}

static bool ci_true(void)
{
	const char *ci = getenv("CI");

	return ci && !strcmp(ci, "true");
}

void test_skip_or_fail(const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (ci_true())
		ck_abort_msg("CI=true, not skipping: %s", why);
	skip_record("", why);
}

void test_not_tested(const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	skip_record("not tested on this CPU: ", why);
}

int test_main(const char *name, Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	skips = mmap(NULL, sizeof(*skips), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (skips == MAP_FAILED)
		skips = NULL;
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (failed)
		return 1;
	if (skips && skips->count) {
		printf("SKIP %s: passed, but did not run (%u case%s): %s\n",
		       name, skips->count, skips->count == 1 ? "" : "s",
		       skips->text);
		return 77;
	}
	return 0;
}

double test_time_scale(void)
{
	const char *env = getenv("CK_TIMEOUT_MULTIPLIER");
	double m = env ? strtod(env, NULL) : 1;

	return m > 1 ? m : 1;
}
