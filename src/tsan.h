/* SPDX-License-Identifier: MIT */
/*
 * ThreadSanitizer annotations (configure --enable-tsan); empty otherwise.
 *
 * TSan sees plain loads and stores, __atomic builtins, pthread locks and
 * the system calls it intercepts. It does not see the happens-before
 * edges our two lock-free libraries build: Concurrency Kit publishes a
 * ring slot with inline-asm fences and stores, and liburcu orders
 * readers and grace periods with membarrier() and futexes inside a
 * library that is not instrumented. Without these annotations every
 * hand-over through a ring and every call_rcu() callback would be
 * reported as a race; with them, TSan checks our code against the
 * edges the libraries really provide, and no more:
 *
 *   wg_tsan_handoff(obj)   before a pointer to obj goes into a ring
 *   wg_tsan_takeover(obj)  after it came out
 *
 * are a release and an acquire on obj itself, so a consumer is ordered
 * after the producer of the object it got, not after every user of the
 * ring. The ring's own bookkeeping is done with TSan ignoring accesses
 * (wg_tsan_ignore_begin/end): a multi-consumer dequeue reads a slot
 * before its compare-and-swap decides whether that read counts, a read
 * that races by design and is thrown away when the CAS fails.
 */
#ifndef WGPIPE_TSAN_H
#define WGPIPE_TSAN_H

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WG_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define WG_TSAN 1
#endif

#ifdef WG_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);

#define wg_tsan_handoff(obj) __tsan_release((void *)(obj))
#define wg_tsan_takeover(obj) __tsan_acquire((void *)(obj))
#define wg_tsan_ignore_begin() __tsan_ignore_thread_begin()
#define wg_tsan_ignore_end() __tsan_ignore_thread_end()
#else
#define wg_tsan_handoff(obj) ((void)(obj))
#define wg_tsan_takeover(obj) ((void)(obj))
#define wg_tsan_ignore_begin() ((void)0)
#define wg_tsan_ignore_end() ((void)0)
#endif

#endif
