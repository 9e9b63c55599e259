// SPDX-License-Identifier: MIT
/*
 * Locked, undumpable memory for key material; see secmem.h.
 *
 * Each size class (multiples of 64 bytes up to SECMEM_MAX_OBJECT) carves
 * objects from SECMEM_CHUNK-sized mappings with a bump pointer and
 * reuses freed ones from a stack of pointers. The stack lives in
 * ordinary memory, outside the secret mappings, so a freed object is all
 * zero and the stack holds nothing secret. It always has room for every
 * object carved so far, so freeing never allocates and never fails.
 *
 * The classes' state is a file-static singleton, each class protected
 * by its own mutex; the statistics are relaxed atomics.
 */
#include "secmem.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "atomic.h"
#include "log.h"

enum {
	SECMEM_ALIGN = 64,
	SECMEM_CHUNK = 256 * 1024,
	SECMEM_MAX_OBJECT = 4096,
	SECMEM_CLASSES = SECMEM_MAX_OBJECT / SECMEM_ALIGN,
};

struct size_class {
	pthread_mutex_t lock;
	uint8_t *bump, *bump_end; /* the newest chunk's uncarved rest */
	void **free;		  /* stack of freed (wiped) objects */
	size_t n_free, cap_free;
};

static struct size_class classes[SECMEM_CLASSES] = {
    [0 ... SECMEM_CLASSES - 1] = {.lock = PTHREAD_MUTEX_INITIALIZER},
};
static struct wg_secmem_stats stats;
static int lock_warned;

#define stat_add(field, n) wg_counter_add(stats.field, (n))
#define stat_sub(field, n) wg_counter_sub(stats.field, (n))

static size_t page_round(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (n + page - 1) & ~(page - 1);
}

/* Locking is best effort: without CAP_IPC_LOCK the kernel refuses past
 * RLIMIT_MEMLOCK. Keys may then be swapped out; say so once. The system
 * call itself, not libc's mlock(): AddressSanitizer replaces that with
 * a no-op, and a sanitized build must lock what a normal one locks. */
static void lock_region(void *p, size_t len)
{
	int err;

	if (!syscall(SYS_mlock, p, len))
		return;
	err = errno;
	stat_add(lock_failures, 1);
	if (!wg_exchange(lock_warned, 1))
		log_err("warning: cannot lock key memory in RAM (%s); keys may "
			"be swapped to disk (raise RLIMIT_MEMLOCK)",
			strerror(err));
}

static void *map_region(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	/* A region that would be dumped with a crash is no place for
	 * keys: refuse it rather than use it. */
	if (madvise(p, len, MADV_DONTDUMP)) {
		munmap(p, len);
		return NULL;
	}
#ifdef MADV_WIPEONFORK
	/* Before Linux 4.14 this fails; nothing is lost, since the daemon
	 * forks before it holds any key. */
	(void)madvise(p, len, MADV_WIPEONFORK);
#endif
	lock_region(p, len);
	stat_add(mappings, 1);
	stat_add(bytes_mapped, len);
	return p;
}

static void unmap_region(void *p, size_t len)
{
	munmap(p, len);
	stat_sub(mappings, 1);
	stat_sub(bytes_mapped, len);
}

/* Must hold c->lock. A fresh chunk for objects of obj bytes. */
static int grow_class(struct size_class *c, size_t obj)
{
	size_t n = SECMEM_CHUNK / obj;
	void **stack;
	uint8_t *chunk;

	stack = realloc(c->free, (c->cap_free + n) * sizeof(*stack));
	if (!stack)
		return -ENOMEM;
	c->free = stack;
	chunk = map_region(SECMEM_CHUNK);
	if (!chunk)
		return -ENOMEM;
	c->cap_free += n;
	c->bump = chunk;
	c->bump_end = chunk + n * obj;
	return 0;
}

static void *class_alloc(struct size_class *c, size_t obj)
{
	void *p = NULL;

	pthread_mutex_lock(&c->lock);
	if (c->n_free)
		p = c->free[--c->n_free];
	else if (c->bump != c->bump_end || !grow_class(c, obj)) {
		p = c->bump;
		c->bump += obj;
	}
	pthread_mutex_unlock(&c->lock);
	return p;
}

void *wg_secmem_alloc(size_t size)
{
	size_t obj = (size + SECMEM_ALIGN - 1) & ~(size_t)(SECMEM_ALIGN - 1);
	void *p;

	if (!size)
		obj = SECMEM_ALIGN;
	if (obj > SECMEM_MAX_OBJECT)
		p = map_region(page_round(size));
	else
		p = class_alloc(&classes[obj / SECMEM_ALIGN - 1], obj);
	if (!p)
		return NULL;
	/* Already zero (fresh, or wiped when freed); cheap insurance. */
	memset(p, 0, obj > SECMEM_MAX_OBJECT ? size : obj);
	stat_add(objects, 1);
	return p;
}

void wg_secmem_free(void *p, size_t size)
{
	size_t obj = (size + SECMEM_ALIGN - 1) & ~(size_t)(SECMEM_ALIGN - 1);
	struct size_class *c;

	if (!p)
		return;
	if (!size)
		obj = SECMEM_ALIGN;
	stat_sub(objects, 1);
	if (obj > SECMEM_MAX_OBJECT) {
		sodium_memzero(p, size);
		unmap_region(p, page_round(size));
		return;
	}
	sodium_memzero(p, obj);
	c = &classes[obj / SECMEM_ALIGN - 1];
	pthread_mutex_lock(&c->lock);
	assert(c->n_free < c->cap_free);
	c->free[c->n_free++] = p;
	pthread_mutex_unlock(&c->lock);
}

void wg_secmem_get_stats(struct wg_secmem_stats *out)
{
	out->mappings = wg_read_once(stats.mappings);
	out->bytes_mapped = wg_read_once(stats.bytes_mapped);
	out->objects = wg_read_once(stats.objects);
	out->lock_failures = wg_read_once(stats.lock_failures);
}
