// SPDX-License-Identifier: MIT
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "rcu.h"

#include "allowedips.h"
#include "testlib.h"

enum { OWNERS = 8 };

static struct allowedips_owner owners[OWNERS];

static void setup(void)
{
	int i;

	rcu_register_thread();
	for (i = 0; i < OWNERS; i++)
		wg_allowedips_owner_init(&owners[i]);
}

static void teardown(void)
{
	rcu_barrier();
	rcu_unregister_thread();
}

/* Frees the table and waits until every node has really been freed. */
static void table_destroy(struct allowedips *t)
{
	wg_allowedips_free(t);
	rcu_barrier();
}

static int owner_index(const struct allowedips_owner *o)
{
	if (!o)
		return -1;
	ck_assert(o >= owners && o < owners + OWNERS);
	return (int)(o - owners);
}

static int parse_ip(const char *s, uint8_t ip[16])
{
	int family = strchr(s, ':') ? AF_INET6 : AF_INET;

	ck_assert_msg(inet_pton(family, s, ip) == 1, "bad address %s", s);
	return family;
}

static struct allowedips_owner *lookup(struct allowedips *t, int family,
				       const uint8_t *ip)
{
	struct allowedips_owner *o;

	rcu_read_lock();
	o = wg_allowedips_lookup(t, family, ip);
	rcu_read_unlock();
	return o;
}

/* Walks print "addr/cidr addr/cidr ..." into a string. */
struct walk_text {
	char buf[1024];
	size_t len;
};

static int walk_print(void *ctx, int family, const uint8_t *ip, uint8_t cidr)
{
	struct walk_text *w = ctx;
	char addr[INET6_ADDRSTRLEN];

	ck_assert_ptr_nonnull(inet_ntop(family, ip, addr, sizeof(addr)));
	w->len += (size_t)snprintf(w->buf + w->len, sizeof(w->buf) - w->len,
				   "%s%s/%u", w->len ? " " : "", addr, cidr);
	ck_assert_uint_lt(w->len, sizeof(w->buf));
	return 0;
}

/* The fixed cases: small programs of table operations. */
enum op_kind { OP_INS, OP_RM, OP_RMO, OP_LK, OP_CNT, OP_WALK, OP_BADFAM };

struct op {
	enum op_kind kind;
	int owner;
	const char *addr;
	int cidr;
	int want; /* return code, owner index (-1: none) or count */
	const char *walk;
};

/* clang-format off */
#define INS(o, a, c) { OP_INS, (o), (a), (c), 0, NULL }
#define INS_ERR(o, a, c, e) { OP_INS, (o), (a), (c), (e), NULL }
#define RM(o, a, c, e) { OP_RM, (o), (a), (c), (e), NULL }
#define RMO(o) { OP_RMO, (o), NULL, 0, 0, NULL }
#define LK(a, o) { OP_LK, 0, (a), 0, (o), NULL }
#define CNT(n) { OP_CNT, 0, NULL, 0, (n), NULL }
#define WALK(o, s) { OP_WALK, (o), NULL, 0, 0, (s) }
#define BADFAM(f) { OP_BADFAM, 0, "10.0.0.0", 8, (f), NULL }
#define OPS(...)                                                           \
	.ops = { __VA_ARGS__ },                                            \
	.n = sizeof((struct op[]){ __VA_ARGS__ }) / sizeof(struct op)

struct aip_case {
	const char *name;
	struct op ops[24];
	size_t n;
};

static const struct aip_case cases[] = {
	{ "default routes",
	  OPS(INS(0, "0.0.0.0", 0), LK("1.2.3.4", 0),
	      LK("255.255.255.255", 0), LK("0.0.0.0", 0), LK("::1", -1),
	      INS(1, "::", 0), LK("::1", 1), LK("2001:db8::1", 1),
	      LK("::ffff:1.2.3.4", 1), LK("ffff::", 1), LK("1.2.3.4", 0),
	      INS(2, "10.0.0.0", 8), LK("10.9.9.9", 2), LK("11.0.0.0", 0),
	      CNT(3), RM(0, "0.0.0.0", 0, 0), LK("1.2.3.4", -1),
	      LK("10.9.9.9", 2), LK("::1", 1)) },
	{ "hosts: /32 and /128",
	  OPS(INS(0, "192.168.1.1", 32), LK("192.168.1.1", 0),
	      LK("192.168.1.2", -1), LK("192.168.1.0", -1),
	      LK("192.168.0.1", -1), INS(1, "2001:db8::1", 128),
	      LK("2001:db8::1", 1), LK("2001:db8::", -1),
	      LK("2001:db8::2", -1), LK("2001:db8::1:1", -1),
	      INS(2, "192.168.1.0", 31), LK("192.168.1.0", 2),
	      LK("192.168.1.1", 0), LK("192.168.1.2", -1),
	      INS(3, "255.255.255.255", 32), LK("255.255.255.255", 3),
	      LK("255.255.255.254", -1), CNT(4)) },
	{ "overlapping v4 prefixes, general first",
	  OPS(INS(0, "10.0.0.0", 8), INS(1, "10.1.0.0", 16),
	      INS(2, "10.1.2.0", 24), INS(3, "10.1.2.3", 32),
	      INS(4, "10.1.2.128", 25), LK("10.1.2.3", 3), LK("10.1.2.4", 2),
	      LK("10.1.2.127", 2), LK("10.1.2.128", 4), LK("10.1.2.255", 4),
	      LK("10.1.3.1", 1), LK("10.2.0.0", 0), LK("11.0.0.0", -1),
	      LK("9.255.255.255", -1), CNT(5)) },
	{ "overlapping v4 prefixes, specific first",
	  OPS(INS(3, "10.1.2.3", 32), INS(4, "10.1.2.128", 25),
	      INS(2, "10.1.2.0", 24), INS(1, "10.1.0.0", 16),
	      INS(0, "10.0.0.0", 8), LK("10.1.2.3", 3), LK("10.1.2.4", 2),
	      LK("10.1.2.200", 4), LK("10.1.3.1", 1), LK("10.200.0.1", 0),
	      RM(2, "10.1.2.0", 24, 0), LK("10.1.2.4", 1), LK("10.1.2.3", 3),
	      LK("10.1.2.200", 4), RM(1, "10.1.0.0", 16, 0),
	      LK("10.1.2.4", 0), LK("10.1.2.3", 3), CNT(3)) },
	{ "overlapping v6 prefixes across the 64-bit word",
	  OPS(INS(0, "2001:db8::", 32), INS(1, "2001:db8:1::", 48),
	      INS(2, "2001:db8:1::", 63), INS(3, "2001:db8:1::", 64),
	      INS(4, "2001:db8:1:0:8000::", 65),
	      INS(5, "2001:db8:1:0:8000::2", 127), LK("2001:db8:2::", 0),
	      LK("2001:db8:1:2::", 1), LK("2001:db8:1:1::", 2),
	      LK("2001:db8:1::1", 3), LK("2001:db8:1::8000:0:0:0", 4),
	      LK("2001:db8:1:0:8000::3", 5), LK("2001:db8:1:0:8000::4", 4),
	      LK("2001:db9::", -1), LK("10.0.0.1", -1), CNT(6)) },
	{ "host bits are masked off",
	  OPS(INS(0, "10.1.2.3", 8), WALK(0, "10.0.0.0/8"),
	      LK("10.200.0.0", 0), INS(1, "2001:db8::ffff", 32),
	      WALK(1, "2001:db8::/32"), LK("2001:db8:ffff::", 1),
	      INS(2, "1.2.3.4", 0), WALK(2, "0.0.0.0/0"),
	      RM(0, "10.255.255.255", 8, 0), LK("10.200.0.0", 2),
	      INS(3, "2001:db8::1:2:3:4", 80),
	      WALK(3, "2001:db8:0:0:1::/80"),
	      CNT(3)) },
	{ "remove only by the owner",
	  OPS(INS(0, "10.0.0.0", 8), RM(1, "10.0.0.0", 8, -ENOENT),
	      LK("10.0.0.1", 0), RM(0, "10.0.0.0", 16, -ENOENT),
	      RM(0, "10.0.0.0", 7, -ENOENT), RM(0, "::", 0, -ENOENT),
	      LK("10.0.0.1", 0), RM(0, "10.0.0.0", 8, 0), LK("10.0.0.1", -1),
	      RM(0, "10.0.0.0", 8, -ENOENT), CNT(0)) },
	{ "remove a branch's child, then its sibling",
	  OPS(INS(0, "10.0.0.0", 16), INS(1, "10.128.0.0", 16),
	      INS(2, "10.0.0.0", 8), RM(2, "10.0.0.0", 8, 0),
	      LK("10.0.1.1", 0), LK("10.128.1.1", 1), LK("10.64.0.0", -1),
	      RM(0, "10.0.0.0", 16, 0), LK("10.0.1.1", -1),
	      LK("10.128.1.1", 1), INS(0, "10.0.0.0", 16),
	      RM(1, "10.128.0.0", 16, 0), LK("10.0.1.1", 0),
	      LK("10.128.1.1", -1), CNT(1)) },
	{ "remove_by_owner",
	  OPS(INS(0, "10.0.0.0", 8), INS(1, "10.1.0.0", 16),
	      INS(0, "10.1.1.0", 24), INS(0, "::", 0),
	      INS(1, "2001:db8::", 32), INS(0, "2001:db8:1::", 48), RMO(0),
	      LK("10.1.1.1", 1), LK("10.2.0.0", -1), LK("::1", -1),
	      LK("2001:db8:1::1", 1), CNT(2), WALK(0, ""),
	      WALK(1, "10.1.0.0/16 2001:db8::/32"), RMO(2), CNT(2), RMO(1),
	      CNT(0), LK("10.1.1.1", -1), INS(0, "10.0.0.0", 8),
	      LK("10.1.1.1", 0)) },
	{ "walk order is insertion order",
	  OPS(INS(0, "10.3.0.0", 16), INS(0, "2001:db8::", 32),
	      INS(0, "10.1.0.0", 16), INS(1, "10.2.0.0", 16),
	      INS(0, "0.0.0.0", 0), INS(0, "10.1.128.0", 17),
	      WALK(0, "10.3.0.0/16 2001:db8::/32 10.1.0.0/16 0.0.0.0/0 "
		      "10.1.128.0/17"),
	      WALK(1, "10.2.0.0/16"), WALK(2, ""),
	      RM(0, "2001:db8::", 32, 0),
	      WALK(0, "10.3.0.0/16 10.1.0.0/16 0.0.0.0/0 10.1.128.0/17")) },
	{ "re-insert moves the owner",
	  OPS(INS(0, "10.0.0.0", 8), INS(0, "10.1.0.0", 16),
	      INS(1, "10.0.0.0", 8), LK("10.9.0.0", 1), LK("10.1.0.0", 0),
	      WALK(0, "10.1.0.0/16"), WALK(1, "10.0.0.0/8"),
	      RM(0, "10.0.0.0", 8, -ENOENT), CNT(2), INS(0, "10.2.0.0", 16),
	      INS(0, "10.1.0.0", 16), WALK(0, "10.2.0.0/16 10.1.0.0/16"),
	      INS(0, "10.1.2.3", 16), WALK(0, "10.2.0.0/16 10.1.0.0/16"),
	      CNT(3), RMO(1), LK("10.9.0.0", -1), CNT(2)) },
	{ "bad input",
	  OPS(INS_ERR(0, "10.0.0.0", 33, -EINVAL),
	      INS_ERR(0, "::", 129, -EINVAL),
	      INS_ERR(0, "10.0.0.0", 255, -EINVAL),
	      RM(0, "10.0.0.0", 33, -EINVAL), BADFAM(AF_UNIX),
	      BADFAM(AF_UNSPEC), BADFAM(AF_PACKET), CNT(0),
	      INS(0, "10.0.0.0", 32), LK("10.0.0.0", 0), CNT(1)) },
};
/* clang-format on */

static void run_op(struct allowedips *t, const struct aip_case *c, size_t i)
{
	const struct op *op = &c->ops[i];
	struct allowedips_owner *o = &owners[op->owner];
	struct walk_text w = {.len = 0};
	uint8_t ip[16];
	int family = op->addr ? parse_ip(op->addr, ip) : 0;

	switch (op->kind) {
	case OP_INS:
		ck_assert_msg(wg_allowedips_insert(t, family, ip,
						   (uint8_t)op->cidr,
						   o) == op->want,
			      "%s: op %zu: insert", c->name, i);
		break;
	case OP_RM:
		ck_assert_msg(wg_allowedips_remove(t, family, ip,
						   (uint8_t)op->cidr,
						   o) == op->want,
			      "%s: op %zu: remove", c->name, i);
		break;
	case OP_RMO:
		wg_allowedips_remove_by_owner(t, o);
		break;
	case OP_LK:
		ck_assert_msg(owner_index(lookup(t, family, ip)) == op->want,
			      "%s: op %zu: lookup %s gave owner %d", c->name, i,
			      op->addr, owner_index(lookup(t, family, ip)));
		break;
	case OP_CNT:
		ck_assert_msg(wg_allowedips_count(t) == (size_t)op->want,
			      "%s: op %zu: count %zu", c->name, i,
			      wg_allowedips_count(t));
		break;
	case OP_WALK:
		ck_assert_int_eq(
		    wg_allowedips_walk_by_owner(t, o, walk_print, &w), 0);
		ck_assert_msg(!strcmp(w.buf, op->walk),
			      "%s: op %zu: walk gave \"%s\"", c->name, i,
			      w.buf);
		break;
	case OP_BADFAM:
		ck_assert_int_eq(wg_allowedips_insert(t, op->want, ip, 8, o),
				 -EINVAL);
		ck_assert_int_eq(wg_allowedips_remove(t, op->want, ip, 8, o),
				 -EINVAL);
		ck_assert_ptr_null(lookup(t, op->want, ip));
		break;
	}
}

START_TEST(test_table)
{
	const struct aip_case *c = &cases[_i];
	struct allowedips t;
	size_t i;

	wg_allowedips_init(&t);
	for (i = 0; i < c->n; i++)
		run_op(&t, c, i);
	table_destroy(&t);
	for (i = 0; i < OWNERS; i++)
		ck_assert(cds_list_empty(&owners[i].nodes));
}
END_TEST

static int walk_stop(void *ctx, int family, const uint8_t *ip, uint8_t cidr)
{
	int *calls = ctx;

	(void)family;
	(void)ip;
	(void)cidr;
	return ++*calls == 2 ? -42 : 0;
}

START_TEST(test_walk_stops)
{
	static const char *const prefixes[] = {"10.0.0.0", "10.1.0.0",
					       "10.2.0.0"};
	struct allowedips t;
	uint8_t ip[16];
	int calls = 0;
	size_t i;

	wg_allowedips_init(&t);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(wg_allowedips_insert(&t,
						      parse_ip(prefixes[i], ip),
						      ip, 16, &owners[0]),
				 0);
	ck_assert_int_eq(
	    wg_allowedips_walk_by_owner(&t, &owners[0], walk_stop, &calls),
	    -42);
	ck_assert_int_eq(calls, 2);
	table_destroy(&t);
}
END_TEST

/*
 * Randomized comparison against a naive reference: a list of prefixes
 * scanned linearly, the longest match winning. Owner walks are compared
 * too: an owner's live prefixes ordered by when they were last inserted.
 */
struct ref_entry {
	int family;
	uint8_t ip[16];
	uint8_t cidr;
	int owner;
	bool live;
	uint64_t seq;
};

struct reference {
	struct ref_entry *e;
	size_t n;
	uint64_t clock;
};

static unsigned int ip_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static bool bits_match(const uint8_t *a, const uint8_t *b, unsigned int bits)
{
	unsigned int whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, whole))
		return false;
	return !rest || !((a[whole] ^ b[whole]) & (0xff << (8 - rest)));
}

static void mask_ip(uint8_t *ip, unsigned int len, unsigned int cidr)
{
	unsigned int i;

	for (i = 0; i < len; i++) {
		if (cidr >= 8 * (i + 1))
			continue;
		ip[i] &=
		    cidr > 8 * i ? (uint8_t)(0xff << (8 - (cidr - 8 * i))) : 0;
	}
}

static struct ref_entry *ref_find(struct reference *ref, int family,
				  const uint8_t *ip, unsigned int cidr)
{
	size_t i;

	for (i = 0; i < ref->n; i++) {
		struct ref_entry *e = &ref->e[i];

		if (e->live && e->family == family && e->cidr == cidr &&
		    !memcmp(e->ip, ip, ip_len(family)))
			return e;
	}
	return NULL;
}

static int ref_lookup(const struct reference *ref, int family,
		      const uint8_t *ip)
{
	int best = -1, owner = -1;
	size_t i;

	for (i = 0; i < ref->n; i++) {
		const struct ref_entry *e = &ref->e[i];

		if (e->live && e->family == family && (int)e->cidr > best &&
		    bits_match(e->ip, ip, e->cidr)) {
			best = e->cidr;
			owner = e->owner;
		}
	}
	return owner;
}

static void ref_insert(struct reference *ref, int family, const uint8_t *ip,
		       unsigned int cidr, int owner)
{
	struct ref_entry *e = ref_find(ref, family, ip, cidr);

	if (!e) {
		e = &ref->e[ref->n++];
		memset(e, 0, sizeof(*e));
		e->family = family;
		memcpy(e->ip, ip, ip_len(family));
		e->cidr = (uint8_t)cidr;
		e->live = true;
	}
	e->owner = owner;
	e->seq = ++ref->clock;
}

static int ref_remove(struct reference *ref, int family, const uint8_t *ip,
		      unsigned int cidr, int owner)
{
	struct ref_entry *e = ref_find(ref, family, ip, cidr);

	if (!e || e->owner != owner)
		return -ENOENT;
	e->live = false;
	return 0;
}

/* A random address, often inside (or next to) a prefix already made. */
static int random_ip(uint64_t *seed, const struct reference *ref,
		     uint8_t ip[16], unsigned int *near_cidr)
{
	int family = test_random_u64(seed) % 2 ? AF_INET6 : AF_INET;
	const struct ref_entry *e;
	unsigned int k, i;

	test_random_bytes(seed, ip, 16);
	*near_cidr = 0;
	if (!ref->n || test_random_u64(seed) % 4 == 0)
		return family;
	e = &ref->e[test_random_u64(seed) % ref->n];
	family = e->family;
	k = e->cidr + (unsigned int)(test_random_u64(seed) % 3);
	if (k > 8 * ip_len(family))
		k = 8 * ip_len(family);
	for (i = 0; i < k; i++) {
		uint8_t b = (uint8_t)(0x80 >> (i % 8));

		ip[i / 8] = (uint8_t)((ip[i / 8] & ~b) | (e->ip[i / 8] & b));
	}
	*near_cidr = e->cidr;
	return family;
}

static unsigned int random_cidr(uint64_t *seed, int family, unsigned int near)
{
	unsigned int bits = 8 * ip_len(family);
	uint64_t r = test_random_u64(seed);

	if (r % 8 == 0)
		return bits;
	if (near && r % 8 < 5) {
		int c = (int)near + (int)((r >> 8) % 17) - 8;

		return c < 0 ? 0 : c > (int)bits ? bits : (unsigned int)c;
	}
	return (unsigned int)((r >> 8) % (bits + 1));
}

struct collected {
	struct ref_entry e[8192];
	size_t n;
};

static int walk_collect(void *ctx, int family, const uint8_t *ip, uint8_t cidr)
{
	struct collected *c = ctx;

	ck_assert_uint_lt(c->n, 8192);
	c->e[c->n].family = family;
	memcpy(c->e[c->n].ip, ip, ip_len(family));
	c->e[c->n].cidr = cidr;
	c->n++;
	return 0;
}

static int by_seq(const void *a, const void *b)
{
	const struct ref_entry *x = *(const struct ref_entry *const *)a;
	const struct ref_entry *y = *(const struct ref_entry *const *)b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Compares count and every owner's walk; returns the count. */
static size_t compare_all(struct allowedips *t, struct reference *ref,
			  struct collected *got, const struct ref_entry **want)
{
	size_t live = 0, i, n;
	int o;

	for (i = 0; i < ref->n; i++)
		live += ref->e[i].live;
	ck_assert_uint_eq(wg_allowedips_count(t), live);
	for (o = 0; o < OWNERS; o++) {
		for (i = 0, n = 0; i < ref->n; i++)
			if (ref->e[i].live && ref->e[i].owner == o)
				want[n++] = &ref->e[i];
		qsort(want, n, sizeof(*want), by_seq);
		got->n = 0;
		wg_allowedips_walk_by_owner(t, &owners[o], walk_collect, got);
		ck_assert_uint_eq(got->n, n);
		for (i = 0; i < n; i++) {
			ck_assert_int_eq(got->e[i].family, want[i]->family);
			ck_assert_uint_eq(got->e[i].cidr, want[i]->cidr);
			ck_assert(!memcmp(got->e[i].ip, want[i]->ip,
					  ip_len(want[i]->family)));
		}
	}
	return live;
}

enum { RANDOM_STEPS = 16000, LOOKUPS_PER_STEP = 4 };

static void random_step(struct allowedips *t, struct reference *ref,
			uint64_t *seed)
{
	uint64_t r = test_random_u64(seed) % 1000;
	int owner = (int)(test_random_u64(seed) % OWNERS), family, j;
	unsigned int cidr, near;
	struct ref_entry *e;
	uint8_t ip[16];

	if (r < 450) {
		family = random_ip(seed, ref, ip, &near);
		cidr = random_cidr(seed, family, near);
		ck_assert_int_eq(wg_allowedips_insert(t, family, ip,
						      (uint8_t)cidr,
						      &owners[owner]),
				 0);
		mask_ip(ip, ip_len(family), cidr);
		ref_insert(ref, family, ip, cidr, owner);
	} else if (r < 600 && ref->n) {
		e = &ref->e[test_random_u64(seed) % ref->n];
		if (test_random_u64(seed) % 4)
			owner = e->owner;
		memcpy(ip, e->ip, 16);
		cidr = e->cidr;
		family = e->family;
		ck_assert_int_eq(wg_allowedips_remove(t, family, ip,
						      (uint8_t)cidr,
						      &owners[owner]),
				 ref_remove(ref, family, ip, cidr, owner));
	} else if (r < 601) {
		wg_allowedips_remove_by_owner(t, &owners[owner]);
		for (size_t i = 0; i < ref->n; i++)
			if (ref->e[i].owner == owner)
				ref->e[i].live = false;
	} else {
		for (j = 0; j < LOOKUPS_PER_STEP; j++) {
			family = random_ip(seed, ref, ip, &near);
			ck_assert_int_eq(owner_index(lookup(t, family, ip)),
					 ref_lookup(ref, family, ip));
		}
	}
}

static const uint64_t random_seeds[] = {1, 2, 0xc0ffee, 0x5eed5eed5eedULL};

START_TEST(test_random)
{
	uint64_t seed = random_seeds[_i];
	struct reference ref = {.n = 0};
	struct collected *got = malloc(sizeof(*got));
	const struct ref_entry **want = calloc(RANDOM_STEPS, sizeof(*want));
	struct allowedips t;
	size_t live, peak = 0;
	int step;

	ref.e = calloc(RANDOM_STEPS, sizeof(*ref.e));
	ck_assert(got && want && ref.e);
	wg_allowedips_init(&t);
	for (step = 1; step <= RANDOM_STEPS; step++) {
		random_step(&t, &ref, &seed);
		if (step % 2000)
			continue;
		live = compare_all(&t, &ref, got, want);
		if (live > peak)
			peak = live;
	}
	/* The table held thousands of prefixes at some point. */
	ck_assert_uint_gt(peak, 1500);
	table_destroy(&t);
	free(ref.e);
	free(want);
	free(got);
}
END_TEST

/*
 * Churn must not grow memory: branch nodes have to merge away when the
 * prefixes under them leave. (Under valgrind mallinfo2() says little and
 * this test proves nothing; valgrind's leak check covers that run.)
 */
static void churn_round(struct allowedips *t, uint64_t *seed)
{
	static uint8_t ips[2000][16];
	static int families[2000];
	static uint8_t cidrs[2000];
	int i;

	for (i = 0; i < 2000; i++) {
		families[i] = i % 2 ? AF_INET6 : AF_INET;
		test_random_bytes(seed, ips[i], 16);
		ips[i][0] = (uint8_t)(11 + i % 200);
		cidrs[i] = (uint8_t)(1 + test_random_u64(seed) %
					     (8 * ip_len(families[i])));
		ck_assert_int_eq(wg_allowedips_insert(t, families[i], ips[i],
						      cidrs[i], &owners[1]),
				 0);
	}
	for (i = 0; i < 2000; i += 2)
		wg_allowedips_remove(t, families[i], ips[i], cidrs[i],
				     &owners[1]);
	wg_allowedips_remove_by_owner(t, &owners[1]);
	rcu_barrier();
}

START_TEST(test_churn_memory)
{
	uint64_t seed = 99;
	struct allowedips t;
	size_t before, after;
	uint8_t ip[16];
	int i;

	wg_allowedips_init(&t);
	for (i = 0; i < 500; i++) {
		test_random_bytes(&seed, ip, 16);
		ip[0] = 10;
		ck_assert_int_eq(
		    wg_allowedips_insert(&t, i % 2 ? AF_INET6 : AF_INET, ip,
					 i % 2 ? 128 : 32, &owners[0]),
		    0);
	}
	churn_round(&t, &seed);
	before = mallinfo2().uordblks;
	for (i = 0; i < 20; i++)
		churn_round(&t, &seed);
	after = mallinfo2().uordblks;
	ck_assert_uint_eq(wg_allowedips_count(&t), 500);
	ck_assert_msg(after <= before + 8192,
		      "heap grew from %zu to %zu bytes over 20 rounds", before,
		      after);
	table_destroy(&t);
}
END_TEST

/* Peer h's addresses, as e2e_scale gives them: 10.64.0.0 + h, fd00:64::h. */
static void scale_ip(size_t h, int family, uint8_t ip[16])
{
	memset(ip, 0, 16);
	if (family == AF_INET) {
		ip[0] = 10;
		ip[1] = (uint8_t)(64 + h / 65536);
		ip[2] = (uint8_t)(h / 256);
		ip[3] = (uint8_t)h;
		return;
	}
	ip[0] = 0xfd;
	ip[2] = 0;
	ip[3] = 0x64;
	ip[14] = (uint8_t)(h >> 8);
	ip[15] = (uint8_t)h;
}

/*
 * A request is applied whole or not at all: after wg_allowedips_reserve(n)
 * the next n inserts take no memory from the heap (so cannot fail), here
 * at the size of 10,000 peers with a /32 and a /128 each.
 */
/* Whether mallinfo2() sees this process's heap: it does not under
 * AddressSanitizer, whose allocator keeps its own books. */
static bool heap_accounted(void)
{
	size_t before = mallinfo2().uordblks;
	void *volatile p = malloc(4096);
	bool seen = mallinfo2().uordblks > before;

	free(p);
	return seen;
}

START_TEST(test_reserve)
{
	enum { N = 10000 };
	struct allowedips t;
	size_t before, after, h;
	uint8_t ip[16];
	bool accounted = heap_accounted();

	if (!accounted)
		fprintf(stderr, "test_reserve: mallinfo2() does not see the heap "
				"(a sanitizer's allocator): heap growth not measured\n");

	wg_allowedips_init(&t);
	ck_assert_int_eq(wg_allowedips_reserve(&t, 2 * N), 0);
	ck_assert_uint_eq(wg_allowedips_spare(&t), 4 * N);
	before = mallinfo2().uordblks;
	for (h = 1; h <= N; h++) {
		scale_ip(h, AF_INET, ip);
		ck_assert_int_eq(wg_allowedips_insert(&t, AF_INET, ip, 32,
						      &owners[h % OWNERS]), 0);
		scale_ip(h, AF_INET6, ip);
		ck_assert_int_eq(wg_allowedips_insert(&t, AF_INET6, ip, 128,
						      &owners[h % OWNERS]), 0);
	}
	after = mallinfo2().uordblks;
	ck_assert_msg(!accounted || after == before,
		      "inserts from the reserve took %zd bytes from the heap",
		      (ssize_t)(after - before));
	ck_assert_uint_eq(wg_allowedips_count(&t), 2 * N);
	/* Every prefix is a new leaf: at least 2N nodes came off. */
	ck_assert_uint_le(wg_allowedips_spare(&t), 2 * N);
	urcu_memb_read_lock();
	for (h = 1; h <= N; h++) {
		scale_ip(h, AF_INET, ip);
		ck_assert_ptr_eq(wg_allowedips_lookup(&t, AF_INET, ip),
				 &owners[h % OWNERS]);
		scale_ip(h, AF_INET6, ip);
		ck_assert_ptr_eq(wg_allowedips_lookup(&t, AF_INET6, ip),
				 &owners[h % OWNERS]);
	}
	urcu_memb_read_unlock();

	/* Without a reserve, an insert does take memory: the check above
	 * can fail. */
	wg_allowedips_unreserve(&t);
	ck_assert_uint_eq(wg_allowedips_spare(&t), 0);
	before = mallinfo2().uordblks;
	scale_ip(N + 1, AF_INET, ip);
	ck_assert_int_eq(wg_allowedips_insert(&t, AF_INET, ip, 32, &owners[0]),
			 0);
	after = mallinfo2().uordblks;
	if (accounted)
		ck_assert_uint_gt(after, before);
	table_destroy(&t);
}
END_TEST

/*
 * RCU: two readers look up without locks while the writer churns. Every
 * answer must be NULL or a real owner, and two sentinel prefixes that the
 * writer never touches (10.0.0.0/8, 2001:db8::/32) must always be found,
 * even while the trie around them is rebuilt.
 */
struct rcu_stress {
	struct allowedips *t;
	atomic_bool stop;
	atomic_ulong lookups, bad_owner, sentinel_missed;
};

enum { SENTINEL = 7, CHURN_OWNERS = 6, CHURN_MAX = 2000 };

static void *reader(void *arg)
{
	struct rcu_stress *s = arg;
	uint64_t seed = (uint64_t)(uintptr_t)pthread_self();
	struct allowedips_owner *o;
	unsigned long n = 0;
	uint8_t ip[16];
	int family;

	rcu_register_thread();
	while (!atomic_load(&s->stop)) {
		test_random_bytes(&seed, ip, 16);
		family = ip[15] & 1 ? AF_INET6 : AF_INET;
		rcu_read_lock();
		o = wg_allowedips_lookup(s->t, family, ip);
		if (o && (o < owners || o >= owners + OWNERS))
			atomic_fetch_add(&s->bad_owner, 1);
		memcpy(ip, family == AF_INET ? "\x0a" : "\x20\x01\x0d\xb8",
		       family == AF_INET ? 1 : 4);
		o = wg_allowedips_lookup(s->t, family, ip);
		if (o != &owners[SENTINEL])
			atomic_fetch_add(&s->sentinel_missed, 1);
		rcu_read_unlock();
		n++;
	}
	atomic_fetch_add(&s->lookups, n);
	rcu_unregister_thread();
	return NULL;
}

struct churn_prefix {
	int family;
	uint8_t ip[16];
	uint8_t cidr;
	int owner;
};

/* A random prefix that neither holds nor lies inside a sentinel; a
 * quarter of them start right beside 10.0.0.0/8. */
static void random_churn_prefix(uint64_t *seed, struct churn_prefix *p)
{
	static const uint8_t sent6[4] = {0x20, 0x01, 0x0d, 0xb8};
	unsigned int bits, shared;

	do {
		p->family = test_random_u64(seed) % 2 ? AF_INET6 : AF_INET;
		bits = 8 * ip_len(p->family);
		test_random_bytes(seed, p->ip, 16);
		if (p->family == AF_INET && test_random_u64(seed) % 4 == 0)
			p->ip[0] = (uint8_t)(8 + test_random_u64(seed) % 8);
		p->cidr = (uint8_t)(1 + test_random_u64(seed) % bits);
		shared = p->family == AF_INET ? 8 : 32;
		if (p->cidr < shared)
			shared = p->cidr;
	} while (bits_match(
	    p->ip, p->family == AF_INET ? (const uint8_t *)"\x0a" : sent6,
	    shared));
	p->owner = (int)(test_random_u64(seed) % CHURN_OWNERS);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long churn(struct allowedips *t, double seconds)
{
	static struct churn_prefix live[CHURN_MAX];
	size_t n = 0, i;
	unsigned long ops = 0;
	uint64_t seed = 1234;
	double end = now() + seconds;

	while (ops % 256 || now() < end) {
		uint64_t r = test_random_u64(&seed) % 100;

		if (n < CHURN_MAX && (r < 50 || !n)) {
			random_churn_prefix(&seed, &live[n]);
			ck_assert_int_eq(
			    wg_allowedips_insert(t, live[n].family, live[n].ip,
						 live[n].cidr,
						 &owners[live[n].owner]),
			    0);
			n++;
		} else if (r < 99) {
			i = test_random_u64(&seed) % n;
			/* -ENOENT when a later insert took it over. */
			wg_allowedips_remove(t, live[i].family, live[i].ip,
					     live[i].cidr,
					     &owners[live[i].owner]);
			live[i] = live[--n];
		} else {
			int o = (int)(test_random_u64(&seed) % CHURN_OWNERS);

			wg_allowedips_remove_by_owner(t, &owners[o]);
			for (i = 0; i < n;)
				if (live[i].owner == o)
					live[i] = live[--n];
				else
					i++;
		}
		ops++;
	}
	return ops;
}

START_TEST(test_rcu_readers)
{
	struct allowedips t;
	struct rcu_stress s = {.t = &t};
	unsigned long ops, lookups, bad_owner, sentinel_missed;
	pthread_t readers[2];
	uint8_t ip[16];
	int i;

	wg_allowedips_init(&t);
	parse_ip("10.0.0.0", ip);
	ck_assert_int_eq(
	    wg_allowedips_insert(&t, AF_INET, ip, 8, &owners[SENTINEL]), 0);
	parse_ip("2001:db8::", ip);
	ck_assert_int_eq(
	    wg_allowedips_insert(&t, AF_INET6, ip, 32, &owners[SENTINEL]), 0);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&readers[i], NULL, reader, &s),
				 0);
	ops = churn(&t, 1.0);
	atomic_store(&s.stop, true);
	for (i = 0; i < 2; i++)
		pthread_join(readers[i], NULL);
	lookups = atomic_load(&s.lookups);
	bad_owner = atomic_load(&s.bad_owner);
	sentinel_missed = atomic_load(&s.sentinel_missed);
	ck_assert_uint_gt(ops, 1000);
	ck_assert_uint_gt(lookups, 1000);
	ck_assert_uint_eq(bad_owner, 0);
	ck_assert_uint_eq(sentinel_missed, 0);
	table_destroy(&t);
}
END_TEST

static Suite *allowedips_suite(void)
{
	Suite *s = suite_create("allowedips");
	TCase *tc = tcase_create("fixed");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_table, 0,
			    sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_walk_stops);
	suite_add_tcase(s, tc);

	tc = tcase_create("random");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_random, 0,
			    sizeof(random_seeds) / sizeof(random_seeds[0]));
	tcase_add_test(tc, test_churn_memory);
	tcase_add_test(tc, test_reserve);
	suite_add_tcase(s, tc);

	tc = tcase_create("rcu");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rcu_readers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(allowedips_suite());
	int failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
