/* SPDX-License-Identifier: MIT */
/*
 * Cryptokey routing: the allowed-IPs table maps IPv4 and IPv6 prefixes
 * to the peer that owns them, by longest-prefix match.
 *
 * Readers (the data path) look up inside urcu_memb_read_lock(), the
 * membarrier flavour (<urcu/urcu-memb.h>, which declares only the
 * urcu_memb_* names), and never lock. Writers are serialised by the
 * caller's device config lock and run on a thread registered with RCU
 * (they call call_rcu()); removed nodes are freed after a grace
 * period.
 * Addresses are in network byte order: 4 bytes for AF_INET, 16 for
 * AF_INET6.
 */
#ifndef WGPIPE_ALLOWEDIPS_H
#define WGPIPE_ALLOWEDIPS_H

#include <stddef.h>
#include <stdint.h>
#include <urcu/list.h>

struct allowedips_node;

/* Embedded in a peer: its prefixes, in insertion order. Writer side. */
struct allowedips_owner {
	struct cds_list_head nodes;
};

struct allowedips {
	struct allowedips_node *root4, *root6;
	/* Writer side: nodes set aside by wg_allowedips_reserve(). */
	struct allowedips_node *spare;
	size_t n_spare;
};

void wg_allowedips_owner_init(struct allowedips_owner *owner);

void wg_allowedips_init(struct allowedips *t);
/* Empties the table; owners are left with no prefixes.
 * Must hold the device's config lock. */
void wg_allowedips_free(struct allowedips *t);

/* Adds ip/cidr for owner, masking off host bits beyond cidr. An existing
 * prefix moves to owner (to the end of its list). 0, -EINVAL for a bad
 * family or cidr or a NULL owner, -ENOMEM (the table unchanged).
 * Must hold the device's config lock. */
int wg_allowedips_insert(struct allowedips *t, int family, const void *ip,
			 uint8_t cidr, struct allowedips_owner *owner);
/* Removes ip/cidr only if owner holds it: 0, -ENOENT, or -EINVAL for a
 * bad family or cidr or a NULL owner. Must hold the device's config lock. */
int wg_allowedips_remove(struct allowedips *t, int family, const void *ip,
			 uint8_t cidr, struct allowedips_owner *owner);
/* Sets aside memory so that the next `inserts` inserts cannot fail with
 * -ENOMEM: a request is applied whole or not at all. 0 or -ENOMEM (what
 * was set aside stays for the next call). Must hold the config lock. */
int wg_allowedips_reserve(struct allowedips *t, size_t inserts);
/* Frees what is still set aside. Must hold the config lock. */
void wg_allowedips_unreserve(struct allowedips *t);
/* Nodes set aside now (for tests). */
size_t wg_allowedips_spare(const struct allowedips *t);
/* Must hold the device's config lock. */
void wg_allowedips_remove_by_owner(struct allowedips *t,
				   struct allowedips_owner *owner);

/* The owner of the longest prefix holding ip, or NULL. Caller inside
 * urcu_memb_read_lock(); the owner stays valid until the unlock. */
struct allowedips_owner *wg_allowedips_lookup(struct allowedips *t, int family,
					      const void *ip);

/* Calls fn for each prefix of owner, in insertion order; stops at and
 * returns fn's first non-zero result. fn must not change the table.
 * Must hold the device's config lock. */
int wg_allowedips_walk_by_owner(struct allowedips *t,
				struct allowedips_owner *owner,
				int (*fn)(void *ctx, int family,
					  const uint8_t *ip, uint8_t cidr),
				void *ctx);
/* Number of prefixes, by a full walk. Must hold the device's config lock. */
size_t wg_allowedips_count(struct allowedips *t);

#endif
