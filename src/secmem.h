/* SPDX-License-Identifier: MIT */
/*
 * Memory for key material: the device's identity, peers (handshake
 * state, PSK, cookie keys) and keypairs (session keys).
 *
 * It comes from large anonymous mappings that are locked in RAM (never
 * swapped; best effort: a refused mlock is logged once and counted),
 * left out of core dumps (MADV_DONTDUMP) and, where the kernel has it,
 * wiped in a forked child (MADV_WIPEONFORK). Objects are carved from
 * those mappings in size classes, so 10,000 peers with three keypairs
 * each cost a few dozen mappings, not one per object (vm.max_map_count).
 * Every object is wiped when freed; slab memory is reused, never
 * returned to the kernel. Objects larger than a slab class get a mapping
 * of their own, unmapped when freed.
 *
 * Thread-safe: any thread may allocate and free (keypairs are freed from
 * call_rcu callbacks). One mutex per size class.
 */
#ifndef WGPIPE_SECMEM_H
#define WGPIPE_SECMEM_H

#include <stddef.h>
#include <stdint.h>

/* Zeroed memory, aligned to 64 bytes; NULL when out of memory. */
void *wg_secmem_alloc(size_t size);
/* Wipes and frees p, which wg_secmem_alloc(size) returned; p may be NULL. */
void wg_secmem_free(void *p, size_t size);

struct wg_secmem_stats {
	uint64_t mappings;	/* live mmap'd regions (slab chunks, large) */
	uint64_t bytes_mapped;	/* their total size */
	uint64_t objects;	/* live objects */
	uint64_t lock_failures; /* regions mlock refused */
};
void wg_secmem_get_stats(struct wg_secmem_stats *out);

#endif
