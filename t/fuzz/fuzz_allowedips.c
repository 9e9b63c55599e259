// SPDX-License-Identifier: MIT
/*
 * The allowed-IPs table under random inserts, removes, removes by owner,
 * lookups and full frees, each checked against a naive reference: a
 * list of prefixes in insertion order, looked up by a linear
 * longest-prefix match. After every change the per-owner walks and the
 * count must match the reference too.
 *
 * Input: a sequence of operations, each an opcode byte and its
 * operands. Addresses come from a small pool (bytes of the input mixed
 * into a few base addresses) so that prefixes overlap often.
 *
 * At start-up the harness checks that its seeds reach each operation's
 * outcomes: prefixes inserted, moved to another owner and refused,
 * lookups that find an owner and that find none, a remove, a remove by
 * owner that took prefixes, a free of a table that held some
 * (self_check).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "rcu.h"

#include "allowedips.h"
#include "fuzz.h"

enum { OWNERS = 4, MAX_REF = 4096, MAX_OPS = 2048 };

struct ref {
	int family;
	uint8_t ip[16];
	uint8_t cidr;
	int owner;
};

static struct allowedips table;
static struct allowedips_owner owners[OWNERS];
static struct ref refs[MAX_REF];
static size_t nrefs;
static unsigned long inputs;

/* What the last input reached, for self_check. */
static struct reached {
	unsigned int inserted, moved, refused, hits, misses, removed,
	    owner_removed, freed;
	size_t most;
} last;

static void self_check(void);

static void init(void)
{
	int i;

	urcu_memb_register_thread();
	wg_allowedips_init(&table);
	for (i = 0; i < OWNERS; i++)
		wg_allowedips_owner_init(&owners[i]);
	self_check();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup(init);
	return 0;
}

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static void mask(uint8_t *ip, int family, uint8_t cidr)
{
	size_t i, len = addr_len(family);

	for (i = 0; i < len; i++) {
		if (cidr >= 8 * (i + 1))
			continue;
		if (cidr <= 8 * i)
			ip[i] = 0;
		else
			ip[i] &= (uint8_t)(0xff << (8 - (cidr - 8 * i)));
	}
}

/* Whether ip lies in prefix r (naively, bit by bit). */
static bool ref_holds(const struct ref *r, int family, const uint8_t *ip)
{
	unsigned int b;

	if (r->family != family)
		return false;
	for (b = 0; b < r->cidr; b++)
		if ((r->ip[b / 8] ^ ip[b / 8]) & (0x80 >> (b % 8)))
			return false;
	return true;
}

static struct ref *ref_find(int family, const uint8_t *ip, uint8_t cidr)
{
	size_t i;

	for (i = 0; i < nrefs; i++)
		if (refs[i].family == family && refs[i].cidr == cidr &&
		    !memcmp(refs[i].ip, ip, addr_len(family)))
			return &refs[i];
	return NULL;
}

static void ref_delete(struct ref *r)
{
	memmove(r, r + 1, (size_t)(refs + nrefs - (r + 1)) * sizeof(*r));
	nrefs--;
}

static int ref_lookup(int family, const uint8_t *ip)
{
	int best = -1, best_cidr = -1;
	size_t i;

	for (i = 0; i < nrefs; i++)
		if (ref_holds(&refs[i], family, ip) &&
		    refs[i].cidr > best_cidr) {
			best = refs[i].owner;
			best_cidr = refs[i].cidr;
		}
	return best;
}

/* An address: one of four bases, with input bytes xored in at one
 * place, so that prefixes share long runs of bits. */
static int read_addr(struct fuzz_in *in, uint8_t ip[16])
{
	static const uint8_t base[4][16] = {
	    {10, 0, 0, 0},
	    {192, 168, 1, 0},
	    {0x20, 0x01, 0x0d, 0xb8},
	    {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
	};
	uint8_t sel = fuzz_u8(in), at = fuzz_u8(in), x = fuzz_u8(in);
	int family = sel & 2 ? AF_INET6 : AF_INET;

	memcpy(ip, base[sel & 3], 16);
	ip[at % addr_len(family)] ^= x;
	if (sel & 4)
		ip[(at >> 4) % addr_len(family)] ^= fuzz_u8(in);
	/* Rarely, a family the table must refuse. */
	return (sel & 0xf8) == 0xf8 ? AF_UNIX : family;
}

static uint8_t read_cidr(struct fuzz_in *in, int family)
{
	uint8_t c = fuzz_u8(in);
	unsigned int bits = family == AF_INET6 ? 128 : 32;

	/* Mostly valid; now and then one past the end or beyond. */
	if (c >= 0xf0)
		return (uint8_t)(bits + (c & 0xf));
	return (uint8_t)(c % (bits + 1));
}

static void op_insert(struct fuzz_in *in)
{
	uint8_t ip[16], masked[16];
	int family = read_addr(in, ip), o = fuzz_u8(in) % (OWNERS + 1);
	uint8_t cidr = read_cidr(in, family);
	struct allowedips_owner *owner = o < OWNERS ? &owners[o] : NULL;
	struct ref *r;
	int ret;

	ret = wg_allowedips_insert(&table, family, ip, cidr, owner);
	if (family == AF_UNIX || cidr > 8 * addr_len(family) || !owner) {
		FUZZ_ASSERT(ret == -EINVAL);
		last.refused++;
		return;
	}
	FUZZ_ASSERT(ret == 0);
	memcpy(masked, ip, 16);
	mask(masked, family, cidr);
	r = ref_find(family, masked, cidr);
	if (r) {
		last.moved += r->owner != o;
		ref_delete(r);
	} else {
		last.inserted++;
	}
	FUZZ_ASSERT(nrefs < MAX_REF);
	r = &refs[nrefs++];
	memset(r, 0, sizeof(*r));
	r->family = family;
	memcpy(r->ip, masked, addr_len(family));
	r->cidr = cidr;
	r->owner = o;
}

static void op_remove(struct fuzz_in *in)
{
	uint8_t ip[16];
	int family = read_addr(in, ip), o = fuzz_u8(in) % (OWNERS + 1);
	uint8_t cidr = read_cidr(in, family);
	struct allowedips_owner *owner = o < OWNERS ? &owners[o] : NULL;
	struct ref *r;
	int ret;

	ret = wg_allowedips_remove(&table, family, ip, cidr, owner);
	if (family == AF_UNIX || cidr > 8 * addr_len(family) || !owner) {
		FUZZ_ASSERT(ret == -EINVAL);
		return;
	}
	mask(ip, family, cidr);
	r = ref_find(family, ip, cidr);
	if (!r || r->owner != o) {
		FUZZ_ASSERT(ret == -ENOENT);
		return;
	}
	FUZZ_ASSERT(ret == 0);
	ref_delete(r);
	last.removed++;
}

static void op_remove_by_owner(struct fuzz_in *in)
{
	int o = fuzz_u8(in) % OWNERS;
	size_t i = 0;

	wg_allowedips_remove_by_owner(&table, &owners[o]);
	while (i < nrefs)
		if (refs[i].owner == o) {
			ref_delete(&refs[i]);
			last.owner_removed++;
		} else {
			i++;
		}
}

static void op_lookup(struct fuzz_in *in)
{
	struct allowedips_owner *got;
	uint8_t ip[16];
	int family = read_addr(in, ip), want;

	urcu_memb_read_lock();
	got = wg_allowedips_lookup(&table, family, ip);
	urcu_memb_read_unlock();
	if (family == AF_UNIX) {
		FUZZ_ASSERT(!got);
		return;
	}
	want = ref_lookup(family, ip);
	if (want < 0)
		FUZZ_ASSERT(!got);
	else
		FUZZ_ASSERT(got == &owners[want]);
	if (want < 0)
		last.misses++;
	else
		last.hits++;
}

/* Lookups of every reference prefix itself and of its last address. */
static void check_prefix_lookups(void)
{
	uint8_t ip[16];
	size_t i, j;

	for (i = 0; i < nrefs; i++) {
		struct allowedips_owner *got;
		const struct ref *r = &refs[i];

		memcpy(ip, r->ip, 16);
		for (j = r->cidr; j < 8 * addr_len(r->family); j++)
			ip[j / 8] |= (uint8_t)(0x80 >> (j % 8));
		urcu_memb_read_lock();
		got = wg_allowedips_lookup(&table, r->family, r->ip);
		FUZZ_ASSERT(got == &owners[ref_lookup(r->family, r->ip)]);
		got = wg_allowedips_lookup(&table, r->family, ip);
		FUZZ_ASSERT(got == &owners[ref_lookup(r->family, ip)]);
		urcu_memb_read_unlock();
	}
}

struct walk {
	int owner;
	size_t next; /* index into refs */
};

static int walk_one(void *ctx, int family, const uint8_t *ip, uint8_t cidr)
{
	struct walk *w = ctx;

	while (w->next < nrefs && refs[w->next].owner != w->owner)
		w->next++;
	FUZZ_ASSERT(w->next < nrefs);
	FUZZ_ASSERT(refs[w->next].family == family);
	FUZZ_ASSERT(refs[w->next].cidr == cidr);
	FUZZ_ASSERT(!memcmp(refs[w->next].ip, ip, addr_len(family)));
	w->next++;
	return 0;
}

/* Each owner's prefixes, in order, and the count. */
static void check_walks(void)
{
	struct walk w;
	int o;

	for (o = 0; o < OWNERS; o++) {
		w.owner = o;
		w.next = 0;
		FUZZ_ASSERT(wg_allowedips_walk_by_owner(&table, &owners[o],
							walk_one, &w) == 0);
		while (w.next < nrefs && refs[w.next].owner != o)
			w.next++;
		FUZZ_ASSERT(w.next == nrefs);
	}
	FUZZ_ASSERT(wg_allowedips_count(&table) == nrefs);
}

static void op_free(void)
{
	wg_allowedips_free(&table);
	nrefs = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	int n;

	memset(&last, 0, sizeof(last));
	for (n = 0; in.left && n < MAX_OPS; n++) {
		switch (fuzz_u8(&in) % 8) {
		case 0:
		case 1:
		case 2:
			op_insert(&in);
			break;
		case 3:
			op_remove(&in);
			break;
		case 4:
			op_remove_by_owner(&in);
			break;
		case 5:
		case 6:
			op_lookup(&in);
			break;
		case 7:
			last.freed += nrefs > 0;
			op_free();
			break;
		}
		check_walks();
		if (nrefs > last.most)
			last.most = nrefs;
	}
	check_prefix_lookups();
	op_free();
	check_walks();
	/* Let the freed nodes go now and then: a grace period costs
	 * milliseconds, which would slow the fuzzer down tenfold. */
	if (!(++inputs % 64))
		urcu_memb_barrier();
	return 0;
}

static void put_insert(uint8_t **p, uint8_t sel, uint8_t at, uint8_t x,
		       uint8_t owner, uint8_t cidr)
{
	uint8_t op[] = {0, sel, at, x, owner, cidr};

	memcpy(*p, op, sizeof(op));
	*p += sizeof(op);
}

void fuzz_seeds(fuzz_emit_fn emit, void *ctx)
{
	uint8_t buf[512], *p = buf;
	uint8_t lookups[] = {5, 0, 3, 1, 5, 2, 15, 7, 5, 1, 2, 3};

	/* Nested IPv4 and IPv6 prefixes of different owners, lookups,
	 * a remove, a remove by owner. */
	put_insert(&p, 0, 0, 0, 0, 8);
	put_insert(&p, 0, 1, 5, 1, 16);
	put_insert(&p, 0, 2, 7, 2, 24);
	put_insert(&p, 0, 3, 9, 3, 32);
	put_insert(&p, 2, 0, 0, 0, 32);
	put_insert(&p, 2, 7, 1, 1, 64);
	put_insert(&p, 3, 15, 0, 2, 128);
	memcpy(p, lookups, sizeof(lookups));
	p += sizeof(lookups);
	*p++ = 3, *p++ = 0, *p++ = 1, *p++ = 5, *p++ = 1, *p++ = 16;
	*p++ = 4, *p++ = 2;
	memcpy(p, lookups, sizeof(lookups));
	p += sizeof(lookups);
	emit(ctx, "nested", buf, (size_t)(p - buf));
	p = buf;
	put_insert(&p, 0, 0, 0, 0, 0);
	put_insert(&p, 2, 0, 0, 1, 0);
	put_insert(&p, 0, 0, 0, 1, 0);	  /* moves to owner 1 */
	put_insert(&p, 0, 0, 0, 4, 8);	  /* no owner: -EINVAL */
	put_insert(&p, 0, 0, 0, 0, 0xf1); /* cidr 33: -EINVAL */
	memcpy(p, lookups, sizeof(lookups));
	p += sizeof(lookups);
	*p++ = 7;
	emit(ctx, "default-routes", buf, (size_t)(p - buf));
}

/* ---- the harness checks itself at start-up ---- */

/* What each seed must reach (the final free of every input aside):
 * without this, seeds whose operations were all refused would pass every
 * invariant and test nothing. */
static void expect_seed(void *ctx, const char *name, const void *buf,
			size_t len)
{
	static const struct {
		const char *name;
		struct reached at_least;
	} want[] = {
	    {"nested", {.inserted = 7, .hits = 4, .misses = 2, .removed = 1,
			.owner_removed = 2, .most = 7}},
	    {"default-routes", {.inserted = 2, .moved = 1, .refused = 2,
				.hits = 3, .freed = 1,
				.most = 2}},
	};
	const struct reached *w = NULL;
	size_t i;

	(void)ctx;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strcmp(want[i].name, name))
			w = &want[i].at_least;
	FUZZ_ASSERT(w);
	LLVMFuzzerTestOneInput(buf, len);
	if (last.inserted < w->inserted || last.moved < w->moved ||
	    last.refused < w->refused || last.hits < w->hits ||
	    last.misses < w->misses || last.removed < w->removed ||
	    last.owner_removed < w->owner_removed ||
	    last.freed < w->freed || last.most < w->most) {
		fprintf(stderr,
			"seed %s: inserted %u moved %u refused %u, lookups "
			"%u hits %u misses, removed %u, by owner %u, freed %u, "
			"at most %zu prefixes\n",
			name, last.inserted, last.moved, last.refused,
			last.hits, last.misses, last.removed,
			last.owner_removed, last.freed, last.most);
		abort();
	}
}

static void self_check(void)
{
	fuzz_seeds(expect_seed, NULL);
}
