// SPDX-License-Identifier: MIT
/* The key-memory allocator: where its objects live (locked, left out of
 * core dumps, as the kernel reports in /proc/self/smaps), that a freed
 * object is zero, that threads can share it, that 30,000 objects cost a
 * handful of mappings, and that a refused mlock is counted, not fatal. */
#include <check.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "secmem.h"
#include "testlib.h"

/* The VmFlags line of the smaps entry containing p, or "" if none. */
static void vmflags_of(const void *p, char *out, size_t n)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	uintptr_t a = (uintptr_t)p, lo, hi;
	char line[512];
	bool inside = false;

	out[0] = '\0';
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		/* Field lines ("Rss:", "AnonHugePages:") never parse as
		 * two hex numbers joined by '-'. */
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			inside = a >= lo && a < hi;
		else if (inside && !strncmp(line, "VmFlags:", 8)) {
			snprintf(out, n, "%s", line + 8);
			break;
		}
	}
	fclose(f);
}

static bool has_flag(const char *flags, const char *flag)
{
	char padded[520];
	char want[8];

	snprintf(padded, sizeof(padded), " %s", flags);
	padded[strcspn(padded, "\n")] = ' ';
	snprintf(want, sizeof(want), " %s ", flag);
	return strstr(padded, want) != NULL;
}

static unsigned int count_mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	unsigned int n = 0;
	int c;

	ck_assert_ptr_nonnull(f);
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Sizes of what the daemon keeps there: tiny, a peer, a keypair, the
 * largest slab class, and the device (a mapping of its own). */
static const size_t sizes[] = {1, 32, 1032, 1224, 4096, 4097, 137248};

START_TEST(test_flags)
{
	size_t size = sizes[_i];
	uint8_t *p = wg_secmem_alloc(size);
	struct wg_secmem_stats st;
	char flags[512];

	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq((uintptr_t)p % 64, 0);
	ck_assert(all_zero(p, size));
	memset(p, 0xa5, size);
	vmflags_of(p, flags, sizeof(flags));
	ck_assert_msg(flags[0], "no smaps entry for %p", (void *)p);
	ck_assert_msg(has_flag(flags, "dd"), "not DONTDUMP: %s", flags);
	wg_secmem_get_stats(&st);
	/* Root has CAP_IPC_LOCK: locking cannot be refused there. */
	if (geteuid() == 0)
		ck_assert_uint_eq(st.lock_failures, 0);
	else if (st.lock_failures)
		test_skip_or_fail("mlock refused (not root): locking not checked");
	if (!st.lock_failures)
		ck_assert_msg(has_flag(flags, "lo"), "not locked: %s", flags);
#ifdef MADV_WIPEONFORK
	ck_assert_msg(has_flag(flags, "wf"), "not WIPEONFORK: %s", flags);
#endif
	ck_assert_uint_eq(st.objects, 1);
	wg_secmem_free(p, size);
	wg_secmem_get_stats(&st);
	ck_assert_uint_eq(st.objects, 0);
}
END_TEST

/* A freed object is zero where it lies, and comes back zero. */
START_TEST(test_wipe)
{
	enum { N = 64 };
	uint8_t *p[N], *q;
	size_t size = sizes[_i];
	int i;

	for (i = 0; i < N; i++) {
		p[i] = wg_secmem_alloc(size);
		ck_assert_ptr_nonnull(p[i]);
		memset(p[i], 0x5a ^ i, size);
	}
	for (i = 0; i < N; i += 2)
		wg_secmem_free(p[i], size);
	for (i = 0; i < N; i++)
		if (i % 2)
			ck_assert(p[i][0] == (0x5a ^ i) &&
				  p[i][size - 1] == (0x5a ^ i));
		else
			ck_assert_msg(all_zero(p[i], size),
				      "freed object %d not wiped", i);
	/* Freed memory is reused, most recently freed first. */
	q = wg_secmem_alloc(size);
	ck_assert_ptr_eq(q, p[N - 2]);
	ck_assert(all_zero(q, size));
	wg_secmem_free(q, size);
	for (i = 1; i < N; i += 2)
		wg_secmem_free(p[i], size);
}
END_TEST

struct worker {
	uint64_t seed;
	unsigned int errors;
};

/* Allocates, stamps, checks and frees in random order: an object handed
 * to two holders at once shows up as a stamp overwritten. */
static void *worker_main(void *arg)
{
	enum { SLOTS = 512, ROUNDS = 40000 };
	static const size_t wsizes[] = {64, 200, 1032, 1224, 3000};
	struct worker *w = arg;
	uint8_t *held[SLOTS] = {0};
	size_t held_size[SLOTS] = {0};
	int r, i;

	for (r = 0; r < ROUNDS; r++) {
		i = (int)(test_random_u64(&w->seed) % SLOTS);
		if (held[i]) {
			uint8_t stamp = (uint8_t)(uintptr_t)held[i];

			if (held[i][0] != stamp ||
			    held[i][held_size[i] - 1] != stamp)
				w->errors++;
			wg_secmem_free(held[i], held_size[i]);
			held[i] = NULL;
			continue;
		}
		held_size[i] = wsizes[test_random_u64(&w->seed) % 5];
		held[i] = wg_secmem_alloc(held_size[i]);
		if (!held[i] || !all_zero(held[i], held_size[i])) {
			w->errors++;
			continue;
		}
		memset(held[i], (uint8_t)(uintptr_t)held[i], held_size[i]);
	}
	for (i = 0; i < SLOTS; i++)
		wg_secmem_free(held[i], held_size[i]);
	return NULL;
}

START_TEST(test_threads)
{
	enum { THREADS = 4 };
	struct worker w[THREADS];
	pthread_t t[THREADS];
	struct wg_secmem_stats st;
	int i;

	for (i = 0; i < THREADS; i++) {
		w[i] = (struct worker){.seed = 0x9e3779b97f4a7c15ULL * (i + 1)};
		ck_assert_int_eq(pthread_create(&t[i], NULL, worker_main, &w[i]),
				 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		ck_assert_uint_eq(w[i].errors, 0);
	}
	wg_secmem_get_stats(&st);
	ck_assert_uint_eq(st.objects, 0);
}
END_TEST

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

/* 10,000 peers and 20,000 keypairs: a few dozen mappings at most (one
 * each would be 30,000 of vm.max_map_count's 65,530), no overlap. */
START_TEST(test_many)
{
	enum { PEERS = 10000, KEYPAIRS = 20000, N = PEERS + KEYPAIRS };
	uintptr_t *p = calloc(N, sizeof(*p));
	unsigned int before = count_mappings(), after;
	struct wg_secmem_stats st;
	size_t i;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < N; i++) {
		p[i] = (uintptr_t)wg_secmem_alloc(i < PEERS ? 1032 : 1224);
		ck_assert(p[i]);
	}
	after = count_mappings();
	wg_secmem_get_stats(&st);
	printf("secmem: %d objects: %llu regions, %llu KiB, maps %u -> %u\n",
	       N, (unsigned long long)st.mappings,
	       (unsigned long long)st.bytes_mapped / 1024, before, after);
	ck_assert_uint_lt(after - before, 200);
	ck_assert_uint_lt(st.mappings, 200);
	/* Slack of the size classes and chunk tails: under 20%. */
	ck_assert_uint_lt(st.bytes_mapped,
			  (PEERS * 1032ULL + KEYPAIRS * 1224ULL) * 6 / 5);
	for (i = 0; i < N; i++)
		wg_secmem_free((void *)p[i], i < PEERS ? 1032 : 1224);
	qsort(p, N, sizeof(*p), cmp_ptr);
	for (i = 1; i < N; i++)
		ck_assert_uint_ge(p[i] - p[i - 1], 1032);
	free(p);
}
END_TEST

/* Without CAP_IPC_LOCK and with RLIMIT_MEMLOCK at 0, mlock is refused:
 * the allocation still succeeds, undumpable, and the refusal is counted. */
START_TEST(test_lock_refused)
{
	struct __user_cap_header_struct hdr = {
	    .version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2] = {0};
	struct rlimit rl = {0, 0};
	struct wg_secmem_stats st;
	char flags[512];
	void *p;

	ck_assert_int_eq(syscall(SYS_capget, &hdr, d), 0);
	d[0].effective &= ~(1U << CAP_IPC_LOCK);
	ck_assert_int_eq(syscall(SYS_capset, &hdr, d), 0);
	ck_assert_int_eq(setrlimit(RLIMIT_MEMLOCK, &rl), 0);
	p = wg_secmem_alloc(1224);
	ck_assert_ptr_nonnull(p);
	wg_secmem_get_stats(&st);
	ck_assert_uint_eq(st.lock_failures, 1);
	vmflags_of(p, flags, sizeof(flags));
	ck_assert_msg(has_flag(flags, "dd") && !has_flag(flags, "lo"),
		      "flags: %s", flags);
	wg_secmem_free(p, 1224);
}
END_TEST

static Suite *secmem_suite(void)
{
	Suite *s = suite_create("secmem");
	TCase *tc = tcase_create("regions");

	tcase_add_loop_test(tc, test_flags, 0, sizeof(sizes) / sizeof(sizes[0]));
	tcase_add_test(tc, test_lock_refused);
	suite_add_tcase(s, tc);
	tc = tcase_create("wipe");
	/* The slab classes only: a large object is unmapped when freed. */
	tcase_add_loop_test(tc, test_wipe, 0, 5);
	suite_add_tcase(s, tc);
	tc = tcase_create("scale");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_threads);
	tcase_add_test(tc, test_many);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_main("check_secmem", secmem_suite());
}
