/* SPDX-License-Identifier: MIT */
/*
 * Shared state, visible as such. A field that one thread writes while
 * another reads it is touched only through these helpers, so that the
 * helper's name says what the access promises; a plain access means the
 * field has one owner at a time (a lock, or the stage that owns a batch).
 *
 *   wg_read_once(x), wg_write_once(x, v)
 *	A value another thread may change or read at any moment: a hint,
 *	a gauge, a flag. No ordering with anything else; the compiler may
 *	neither tear nor cache the access (the kernel's READ_ONCE and
 *	WRITE_ONCE).
 *   wg_load_acquire(x), wg_store_release(x, v)
 *	Publication: whatever the writer did before the store is visible
 *	to a reader whose load saw the stored value.
 *   wg_exchange(x, v)
 *	Swaps in v and returns the old value, ordered both ways: a flag
 *	that exactly one thread takes.
 *   wg_counter_add(x, n), wg_counter_sub(x, n)
 *	Statistics and gauges: many writers, no ordering. Return the new
 *	value.
 *   wg_fetch_add(x, n)
 *	Reserves n values (nonces) and returns the first; no ordering.
 *   wg_compare_exchange(x, &old, v)
 *	Stores v if x still holds old (true), else loads x into old; no
 *	ordering: for a slot that racing threads claim.
 *   wg_full_load(x), wg_full_store(x, v), wg_full_add(x, n),
 *   wg_full_exchange(x, v)
 *	Sequentially consistent: for the hand-shakes between a sleeper and
 *	a waker (queueing.c's wait queue and drainer election), where each
 *	side stores one word and then loads the other's.
 *
 * Reference counts: wg_ref_get(), wg_ref_get_unless_zero() for an object
 * found under RCU that may already be on its way out, and wg_ref_put(),
 * true for the caller that dropped the last reference.
 */
#ifndef WGPIPE_ATOMIC_H
#define WGPIPE_ATOMIC_H

#include <stdbool.h>

#define wg_read_once(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define wg_write_once(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define wg_load_acquire(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define wg_store_release(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)
#define wg_exchange(x, v) __atomic_exchange_n(&(x), (v), __ATOMIC_ACQ_REL)
#define wg_counter_add(x, n) __atomic_add_fetch(&(x), (n), __ATOMIC_RELAXED)
#define wg_counter_sub(x, n) __atomic_sub_fetch(&(x), (n), __ATOMIC_RELAXED)
#define wg_fetch_add(x, n) __atomic_fetch_add(&(x), (n), __ATOMIC_RELAXED)
#define wg_compare_exchange(x, old, v)                                        \
	__atomic_compare_exchange_n(&(x), (old), (v), false, __ATOMIC_RELAXED, \
				    __ATOMIC_RELAXED)

#define wg_full_load(x) __atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define wg_full_store(x, v) __atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)
#define wg_full_add(x, n) __atomic_add_fetch(&(x), (n), __ATOMIC_SEQ_CST)
#define wg_full_exchange(x, v) __atomic_exchange_n(&(x), (v), __ATOMIC_SEQ_CST)

static inline void wg_ref_get(int *ref)
{
	__atomic_fetch_add(ref, 1, __ATOMIC_RELAXED);
}

/* False when the count already reached zero: the object is being freed
 * and must not be revived. */
static inline bool wg_ref_get_unless_zero(int *ref)
{
	int old = __atomic_load_n(ref, __ATOMIC_RELAXED);

	do {
		if (!old)
			return false;
	} while (!__atomic_compare_exchange_n(ref, &old, old + 1, true,
					      __ATOMIC_ACQUIRE,
					      __ATOMIC_RELAXED));
	return true;
}

/* True for the caller that dropped the last reference: it frees. */
static inline bool wg_ref_put(int *ref)
{
	return __atomic_sub_fetch(ref, 1, __ATOMIC_ACQ_REL) == 0;
}

#endif
