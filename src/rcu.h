/* SPDX-License-Identifier: MIT */
/*
 * Our RCU flavour: liburcu's membarrier flavour (urcu-memb), chosen
 * because its read-side sections cost no memory barrier (the kernel's
 * membarrier() makes the writers pay), and because a registered thread
 * may block in a system call without going offline first, unlike QSBR:
 * our reader and writer threads sleep in poll(), recvmmsg() and futex()
 * all the time. Every thread that reads under RCU or calls call_rcu()
 * registers with rcu_register_thread().
 */
#ifndef WGPIPE_RCU_H
#define WGPIPE_RCU_H

#ifndef URCU_API_MAP
#define URCU_API_MAP
#endif
#include <urcu/urcu-memb.h>

#include "tsan.h"

#ifdef WG_TSAN
/*
 * What ThreadSanitizer cannot see in liburcu, said in terms it can (see
 * tsan.h). Defined before rculist.h so that its inline list functions
 * use them too.
 *
 * Publication: rcu_assign_pointer() is a release store, rcu_dereference()
 * an acquire load (a consume load, which x86 gives for free); liburcu
 * does them inside the library, or as volatile accesses TSan takes for
 * plain ones. CMM_LOAD_SHARED/CMM_STORE_SHARED (READ_ONCE/WRITE_ONCE,
 * used by the list unlinking) become relaxed atomics.
 *
 * Grace periods: every reader's rcu_read_unlock() releases one shared
 * object, and what runs after a grace period (synchronize_rcu()
 * returning, a call_rcu() callback starting: wg_rcu_callback()) acquires
 * it. A callback also acquires its rcu_head, released by call_rcu(), to
 * be ordered after what the writer did before handing the object over.
 * rcu_barrier() is ordered after every callback through a second object.
 */
/* Weak: one object each for the whole program, defined by the header. */
__attribute__((weak)) char wg_tsan_rcu_gp, wg_tsan_rcu_cb;

#undef rcu_dereference
#define rcu_dereference(p) __atomic_load_n(&(p), __ATOMIC_ACQUIRE)
#undef rcu_set_pointer
#define rcu_set_pointer(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#undef _CMM_LOAD_SHARED
#define _CMM_LOAD_SHARED(p) __atomic_load_n(&(p), __ATOMIC_RELAXED)
#undef _CMM_STORE_SHARED
#define _CMM_STORE_SHARED(x, v)                                      \
	__extension__({                                              \
		__typeof__(x) _wg_v = (v);                           \
		__atomic_store_n(&(x), _wg_v, __ATOMIC_RELAXED);     \
		_wg_v;                                               \
	})

#undef rcu_read_unlock
#define rcu_read_unlock()                               \
	do {                                            \
		__tsan_release(&wg_tsan_rcu_gp);        \
		urcu_memb_read_unlock();                \
	} while (0)
#undef synchronize_rcu
#define synchronize_rcu()                               \
	do {                                            \
		urcu_memb_synchronize_rcu();            \
		__tsan_acquire(&wg_tsan_rcu_gp);        \
	} while (0)
#undef call_rcu
#define call_rcu(head, func)                            \
	do {                                            \
		__tsan_release(head);                   \
		urcu_memb_call_rcu((head), (func));     \
	} while (0)
#undef rcu_barrier
#define rcu_barrier()                                   \
	do {                                            \
		urcu_memb_barrier();                    \
		__tsan_acquire(&wg_tsan_rcu_cb);        \
	} while (0)

/* First thing in every call_rcu() callback. */
#define wg_rcu_callback(head)                           \
	do {                                            \
		__tsan_acquire(head);                   \
		__tsan_acquire(&wg_tsan_rcu_gp);        \
	} while (0)
/* Last thing in every call_rcu() callback. */
#define wg_rcu_callback_done() __tsan_release(&wg_tsan_rcu_cb)
#else
#define wg_rcu_callback(head) ((void)(head))
#define wg_rcu_callback_done() ((void)0)
#endif

#include <urcu/rculist.h>
#include <urcu/rcuhlist.h>

#endif
