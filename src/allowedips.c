// SPDX-License-Identifier: MIT
/*
 * The allowed-IPs table: one path-compressed binary trie per family.
 *
 * Invariants:
 * - A node is a prefix: key (masked to cidr, most significant bit first)
 *   and cidr. Both are fixed before the node is published and never
 *   change, so a reader only ever sees whole nodes.
 * - A child's cidr is larger than its parent's and agrees with it on the
 *   parent's cidr bits; bit[b] leads to prefixes whose bit number `cidr`
 *   is b.
 * - A node with an owner is a routed prefix. A node without one is a
 *   branch and always has two children, so n prefixes take at most
 *   2n - 1 nodes: removals merge branches away and churn does not grow
 *   the trie.
 * - Readers follow rcu_dereference()d pointers and never write. The one
 *   writer (under the device's config lock) links a fully built node with
 *   a single rcu_assign_pointer(), unlinks with one store, and frees with
 *   call_rcu(), so a reader standing on an unlinked node still finds valid
 *   children.
 * - owner_list and the owners' lists belong to the writer alone.
 */
#include "allowedips.h"

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "rcu.h"

struct allowedips_node {
	struct allowedips_owner *owner; /* RCU; NULL for a branch */
	struct allowedips_node *bit[2]; /* RCU */
	uint64_t key[2];
	uint8_t cidr, bitlen;
	struct cds_list_head owner_list;
	struct rcu_head rcu;
};

/* Keys are 128 bits in two host-order words, IPv4 in the top 32. */
static void load_key(uint64_t key[2], const void *ip, unsigned int bitlen)
{
	uint32_t v4;

	if (bitlen == 32) {
		memcpy(&v4, ip, sizeof(v4));
		key[0] = (uint64_t)be32toh(v4) << 32;
		key[1] = 0;
		return;
	}
	memcpy(key, ip, 16);
	key[0] = be64toh(key[0]);
	key[1] = be64toh(key[1]);
}

static void store_key(uint8_t *ip, const uint64_t key[2], unsigned int bitlen)
{
	uint64_t be[2] = {htobe64(key[0]), htobe64(key[1])};

	memcpy(ip, be, bitlen / 8);
}

/* The top n bits of a 64-bit word, n in 0..64. */
static uint64_t top_mask(unsigned int n)
{
	return n ? ~0ULL << (64 - n) : 0;
}

static void mask_key(uint64_t key[2], unsigned int cidr)
{
	key[0] &= cidr >= 64 ? ~0ULL : top_mask(cidr);
	key[1] &= cidr <= 64 ? 0 : top_mask(cidr - 64);
}

static bool prefix_matches(const uint64_t a[2], const uint64_t b[2],
			   unsigned int cidr)
{
	if (cidr <= 64)
		return !((a[0] ^ b[0]) & top_mask(cidr));
	return a[0] == b[0] && !((a[1] ^ b[1]) & top_mask(cidr - 64));
}

static unsigned int bit_at(const uint64_t key[2], unsigned int i)
{
	return (key[i / 64] >> (63 - i % 64)) & 1;
}

static unsigned int common_bits(const uint64_t a[2], const uint64_t b[2])
{
	if (a[0] != b[0])
		return (unsigned int)__builtin_clzll(a[0] ^ b[0]);
	if (a[1] != b[1])
		return 64 + (unsigned int)__builtin_clzll(a[1] ^ b[1]);
	return 128;
}

static struct allowedips_node **root_of(struct allowedips *t, int family,
					unsigned int *bitlen)
{
	switch (family) {
	case AF_INET:
		*bitlen = 32;
		return &t->root4;
	case AF_INET6:
		*bitlen = 128;
		return &t->root6;
	default:
		return NULL;
	}
}

/* From the reserve if there is one (see wg_allowedips_reserve()). */
static struct allowedips_node *node_new(struct allowedips *t,
					const uint64_t key[2], uint8_t cidr,
					uint8_t bitlen)
{
	struct allowedips_node *node = t->spare;

	if (node) {
		t->spare = node->bit[0];
		t->n_spare--;
		memset(node, 0, sizeof(*node));
	} else {
		node = calloc(1, sizeof(*node));
	}
	if (!node)
		return NULL;
	memcpy(node->key, key, sizeof(node->key));
	mask_key(node->key, cidr);
	node->cidr = cidr;
	node->bitlen = bitlen;
	CDS_INIT_LIST_HEAD(&node->owner_list);
	return node;
}

static void free_node_rcu(struct rcu_head *head)
{
	wg_rcu_callback(head);
	free(caa_container_of(head, struct allowedips_node, rcu));
	wg_rcu_callback_done();
}

static void free_node_later(struct allowedips_node *node)
{
	call_rcu(&node->rcu, free_node_rcu);
}

static void set_owner(struct allowedips_node *node,
		      struct allowedips_owner *owner)
{
	cds_list_del(&node->owner_list);
	cds_list_add_tail(&node->owner_list, &owner->nodes);
	rcu_assign_pointer(node->owner, owner);
}

/*
 * Follows key down past every node that is a strictly shorter prefix of
 * key/cidr (bits of key beyond cidr are never looked at). Returns the slot
 * where that stops (holding NULL, the exact prefix, or a node that is not a
 * prefix of it) and its parent's slot.
 */
static struct allowedips_node **descend(struct allowedips_node **slot,
					const uint64_t key[2],
					unsigned int cidr,
					struct allowedips_node ***pslot)
{
	struct allowedips_node *node;

	*pslot = NULL;
	while ((node = *slot) && node->cidr < cidr &&
	       prefix_matches(node->key, key, node->cidr)) {
		*pslot = slot;
		slot = &node->bit[bit_at(key, node->cidr)];
	}
	return slot;
}

static bool is_exact(const struct allowedips_node *node, const uint64_t key[2],
		     unsigned int cidr)
{
	return node && node->cidr == cidr &&
	       prefix_matches(node->key, key, cidr);
}

/*
 * Puts leaf (key/cidr) where node sits now, node being no prefix of it:
 * either above node when leaf is a prefix of node, or beside it under a
 * new branch at their first differing bit. Returns the subtree to
 * publish, or NULL when out of memory.
 */
static struct allowedips_node *join(struct allowedips *t,
				    struct allowedips_node *node,
				    struct allowedips_node *leaf)
{
	unsigned int common = common_bits(node->key, leaf->key);
	struct allowedips_node *branch;

	if (common > leaf->cidr)
		common = leaf->cidr;
	if (common == leaf->cidr) {
		leaf->bit[bit_at(node->key, common)] = node;
		return leaf;
	}
	branch = node_new(t, leaf->key, (uint8_t)common, leaf->bitlen);
	if (!branch)
		return NULL;
	branch->bit[bit_at(node->key, common)] = node;
	branch->bit[bit_at(leaf->key, common)] = leaf;
	return branch;
}

static int insert_key(struct allowedips *t, struct allowedips_node **root,
		      const uint64_t key[2], uint8_t cidr, uint8_t bitlen,
		      struct allowedips_owner *owner)
{
	struct allowedips_node **pslot, **slot, *node, *leaf, *top;

	slot = descend(root, key, cidr, &pslot);
	node = *slot;
	if (is_exact(node, key, cidr)) {
		set_owner(node, owner);
		return 0;
	}
	leaf = node_new(t, key, cidr, bitlen);
	if (!leaf)
		return -ENOMEM;
	top = node ? join(t, node, leaf) : leaf;
	if (!top) {
		free(leaf);
		return -ENOMEM;
	}
	cds_list_add_tail(&leaf->owner_list, &owner->nodes);
	leaf->owner = owner;
	rcu_assign_pointer(*slot, top);
	return 0;
}

/* Takes the prefix at *slot out of the table, merging away what it
 * leaves behind: a node with one child, or a branch with one child. */
static void unlink_node(struct allowedips_node **pslot,
			struct allowedips_node **slot)
{
	struct allowedips_node *node = *slot, *parent, *child;

	rcu_assign_pointer(node->owner, NULL);
	cds_list_del_init(&node->owner_list);
	if (node->bit[0] && node->bit[1])
		return; /* stays as a branch */
	child = node->bit[0] ? node->bit[0] : node->bit[1];
	parent = pslot ? *pslot : NULL;
	if (child || !parent || parent->owner) {
		rcu_assign_pointer(*slot, child);
		free_node_later(node);
		return;
	}
	/* A leaf under a branch: the branch's other child replaces it. */
	rcu_assign_pointer(*pslot, parent->bit[parent->bit[0] == node]);
	free_node_later(node);
	free_node_later(parent);
}

void wg_allowedips_owner_init(struct allowedips_owner *owner)
{
	CDS_INIT_LIST_HEAD(&owner->nodes);
}

void wg_allowedips_init(struct allowedips *t)
{
	t->root4 = NULL;
	t->root6 = NULL;
	t->spare = NULL;
	t->n_spare = 0;
}

/* An insert takes at most two nodes: the prefix and a branch. */
int wg_allowedips_reserve(struct allowedips *t, size_t inserts)
{
	struct allowedips_node *node;

	if (inserts > SIZE_MAX / 2)
		return -ENOMEM;
	while (t->n_spare < 2 * inserts) {
		node = malloc(sizeof(*node));
		if (!node)
			return -ENOMEM;
		node->bit[0] = t->spare;
		t->spare = node;
		t->n_spare++;
	}
	return 0;
}

/* Never seen by a reader: freed at once. */
void wg_allowedips_unreserve(struct allowedips *t)
{
	struct allowedips_node *node;

	while ((node = t->spare)) {
		t->spare = node->bit[0];
		free(node);
	}
	t->n_spare = 0;
}

size_t wg_allowedips_spare(const struct allowedips *t)
{
	return t->n_spare;
}

/* Post-order, reading the children before the node is handed to
 * call_rcu(); depth is at most 129. */
static void free_subtree(struct allowedips_node *node)
{
	if (!node)
		return;
	free_subtree(node->bit[0]);
	free_subtree(node->bit[1]);
	cds_list_del(&node->owner_list);
	free_node_later(node);
}

void wg_allowedips_free(struct allowedips *t)
{
	struct allowedips_node *root4 = t->root4, *root6 = t->root6;

	rcu_assign_pointer(t->root4, NULL);
	rcu_assign_pointer(t->root6, NULL);
	free_subtree(root4);
	free_subtree(root6);
	wg_allowedips_unreserve(t);
}

int wg_allowedips_insert(struct allowedips *t, int family, const void *ip,
			 uint8_t cidr, struct allowedips_owner *owner)
{
	unsigned int bitlen;
	struct allowedips_node **root = root_of(t, family, &bitlen);
	uint64_t key[2];

	if (!root || cidr > bitlen || !owner)
		return -EINVAL;
	load_key(key, ip, bitlen);
	return insert_key(t, root, key, cidr, (uint8_t)bitlen, owner);
}

int wg_allowedips_remove(struct allowedips *t, int family, const void *ip,
			 uint8_t cidr, struct allowedips_owner *owner)
{
	unsigned int bitlen;
	struct allowedips_node **root = root_of(t, family, &bitlen);
	struct allowedips_node **pslot, **slot;
	uint64_t key[2];

	/* A NULL owner would match a branch node, which owns nothing. */
	if (!root || cidr > bitlen || !owner)
		return -EINVAL;
	load_key(key, ip, bitlen);
	slot = descend(root, key, cidr, &pslot);
	if (!is_exact(*slot, key, cidr) || (*slot)->owner != owner)
		return -ENOENT;
	unlink_node(pslot, slot);
	return 0;
}

void wg_allowedips_remove_by_owner(struct allowedips *t,
				   struct allowedips_owner *owner)
{
	struct allowedips_node *node, *next, **root, **pslot, **slot;

	/* Unlinking frees only this node and branches, never the next
	 * node of the owner's list. */
	cds_list_for_each_entry_safe(node, next, &owner->nodes, owner_list) {
		root = node->bitlen == 32 ? &t->root4 : &t->root6;
		slot = descend(root, node->key, node->cidr, &pslot);
		unlink_node(pslot, slot);
	}
}

struct allowedips_owner *wg_allowedips_lookup(struct allowedips *t, int family,
					      const void *ip)
{
	struct allowedips_owner *found = NULL, *owner;
	struct allowedips_node *node;
	unsigned int bitlen;
	struct allowedips_node **root = root_of(t, family, &bitlen);
	uint64_t key[2];

	if (!root)
		return NULL;
	load_key(key, ip, bitlen);
	node = rcu_dereference(*root);
	while (node && prefix_matches(node->key, key, node->cidr)) {
		owner = rcu_dereference(node->owner);
		if (owner)
			found = owner;
		if (node->cidr == node->bitlen)
			break;
		node = rcu_dereference(node->bit[bit_at(key, node->cidr)]);
	}
	return found;
}

int wg_allowedips_walk_by_owner(struct allowedips *t,
				struct allowedips_owner *owner,
				int (*fn)(void *ctx, int family,
					  const uint8_t *ip, uint8_t cidr),
				void *ctx)
{
	struct allowedips_node *node;
	uint8_t ip[16];
	int ret;

	(void)t;
	cds_list_for_each_entry(node, &owner->nodes, owner_list) {
		store_key(ip, node->key, node->bitlen);
		ret = fn(ctx, node->bitlen == 32 ? AF_INET : AF_INET6, ip,
			 node->cidr);
		if (ret)
			return ret;
	}
	return 0;
}

static size_t count_subtree(const struct allowedips_node *node)
{
	if (!node)
		return 0;
	return (node->owner ? 1 : 0) + count_subtree(node->bit[0]) +
	       count_subtree(node->bit[1]);
}

size_t wg_allowedips_count(struct allowedips *t)
{
	return count_subtree(t->root4) + count_subtree(t->root6);
}
