// SPDX-License-Identifier: MIT
/*
 * The UAPI set parser on arbitrary request bodies.
 *
 * Invariants: it returns 0, -EPROTO, -EINVAL or -ENOMEM; on failure the
 * request is empty and the error is one line that never holds a key
 * given in the request; on success every field is in range (prefixes
 * masked), a body without a final '\n' means the same with one, and the
 * parsed device formatted as a get reply parses back (minus the get-only
 * keys) to the same device.
 *
 * At start-up the harness checks that its seeds get where they should:
 * parsed, with the peers, prefixes and endpoints they hold, through the
 * round trip and the final-newline comparison, or refused as they
 * should be (self_check).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "log.h"
#include "uapi_format.h"
#include "uapi_parse.h"

static void self_check(void);

/* What the last input reached, for self_check. */
static struct reached {
	int ret;
	size_t peers, allowedips, endpoints;
	bool round_trip, newline_compared;
} last;

static void init(void)
{
	wg_log_init("fuzz", false, WG_LOG_ERROR);
	self_check();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup(init);
	return 0;
}

static bool is_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

static void check_prefix(const struct wg_uapi_allowedip *a)
{
	unsigned int bits = a->family == AF_INET ? 32 : 128, b;

	FUZZ_ASSERT(a->family == AF_INET || a->family == AF_INET6);
	FUZZ_ASSERT(a->cidr <= bits);
	for (b = a->cidr; b < bits; b++)
		FUZZ_ASSERT(!(a->ip[b / 8] & (0x80 >> (b % 8))));
	if (a->family == AF_INET)
		FUZZ_ASSERT(is_zero(a->ip + 4, 12));
}

static void check_parsed(const struct wg_uapi_set *s)
{
	size_t i, j;

	FUZZ_ASSERT(!s->n_peers == !s->peers);
	for (i = 0; i < s->n_peers; i++) {
		const struct wg_uapi_peer *p = &s->peers[i];

		FUZZ_ASSERT(!p->n_allowedips || p->allowedips);
		for (j = 0; j < p->n_allowedips; j++)
			check_prefix(&p->allowedips[j]);
		if (!p->has_endpoint)
			continue;
		FUZZ_ASSERT(p->endpoint.sa.sa_family == AF_INET ||
			    p->endpoint.sa.sa_family == AF_INET6);
	}
}

static void count_parsed(const struct wg_uapi_set *s)
{
	size_t i;

	last.peers = s->n_peers;
	for (i = 0; i < s->n_peers; i++) {
		last.allowedips += s->peers[i].n_allowedips;
		last.endpoints += s->peers[i].has_endpoint;
	}
}

/* The device a get would describe after applying s to nothing. */
static void to_info(const struct wg_uapi_set *s, struct wg_uapi_device_info *d)
{
	size_t i, j;

	memset(d, 0, sizeof(*d));
	d->has_private_key =
	    s->has_private_key && !is_zero(s->private_key, WG_KEY_LEN);
	memcpy(d->private_key, s->private_key, WG_KEY_LEN);
	d->listen_port = s->listen_port;
	d->fwmark = s->fwmark;
	d->n_peers = s->n_peers;
	d->peers = calloc(s->n_peers + 1, sizeof(*d->peers));
	FUZZ_ASSERT(d->peers);
	for (i = 0; i < s->n_peers; i++) {
		const struct wg_uapi_peer *p = &s->peers[i];
		struct wg_uapi_peer_info *q = &d->peers[i];

		memcpy(q->public_key, p->public_key, WG_KEY_LEN);
		if (p->has_preshared_key)
			memcpy(q->preshared_key, p->preshared_key, WG_KEY_LEN);
		q->has_endpoint = p->has_endpoint;
		q->endpoint = p->endpoint;
		q->persistent_keepalive_interval =
		    p->persistent_keepalive_interval;
		q->last_handshake_sec = (int64_t)i;
		q->rx_bytes = i;
		q->allowedips =
		    calloc(p->n_allowedips + 1, sizeof(*q->allowedips));
		FUZZ_ASSERT(q->allowedips);
		for (j = 0; j < p->n_allowedips; j++)
			if (!p->allowedips[j].remove)
				q->allowedips[q->n_allowedips++] =
				    p->allowedips[j];
	}
}

static void free_info(struct wg_uapi_device_info *d)
{
	size_t i;

	for (i = 0; i < d->n_peers; i++)
		free(d->peers[i].allowedips);
	free(d->peers);
}

/* A get reply without its get-only lines is a set request. */
static char *get_to_set(const char *text, size_t len)
{
	static const char *const get_only[] = {
	    "last_handshake_time_sec=", "last_handshake_time_nsec=",
	    "tx_bytes=", "rx_bytes=", NULL};
	char *out = malloc(len + 1), *o = out;
	const char *p = text, *end = text + len;

	FUZZ_ASSERT(out);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n, i;
		bool keep = true;

		FUZZ_ASSERT(nl);
		n = (size_t)(nl - p) + 1;
		for (i = 0; get_only[i]; i++)
			if (!strncmp(p, get_only[i], strlen(get_only[i])))
				keep = false;
		if (keep) {
			memcpy(o, p, n);
			o += n;
		}
		p += n;
	}
	*o = '\0';
	return out;
}

static void same_endpoint(const union wg_sockaddr *a,
			  const union wg_sockaddr *b)
{
	FUZZ_ASSERT(a->sa.sa_family == b->sa.sa_family);
	if (a->sa.sa_family == AF_INET) {
		FUZZ_ASSERT(a->in4.sin_port == b->in4.sin_port);
		FUZZ_ASSERT(!memcmp(&a->in4.sin_addr, &b->in4.sin_addr, 4));
	} else {
		FUZZ_ASSERT(a->in6.sin6_port == b->in6.sin6_port);
		FUZZ_ASSERT(a->in6.sin6_scope_id == b->in6.sin6_scope_id);
		FUZZ_ASSERT(!memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16));
	}
}

static void same_device(const struct wg_uapi_device_info *d,
			const struct wg_uapi_set *s)
{
	size_t i, j;

	FUZZ_ASSERT(s->has_private_key == d->has_private_key);
	if (d->has_private_key)
		FUZZ_ASSERT(
		    !memcmp(s->private_key, d->private_key, WG_KEY_LEN));
	FUZZ_ASSERT(s->has_listen_port == (d->listen_port != 0));
	FUZZ_ASSERT(s->listen_port == d->listen_port);
	FUZZ_ASSERT(s->has_fwmark == (d->fwmark != 0));
	FUZZ_ASSERT(s->fwmark == d->fwmark);
	FUZZ_ASSERT(!s->replace_peers);
	FUZZ_ASSERT(s->n_peers == d->n_peers);
	for (i = 0; i < d->n_peers; i++) {
		const struct wg_uapi_peer_info *a = &d->peers[i];
		const struct wg_uapi_peer *b = &s->peers[i];

		FUZZ_ASSERT(!memcmp(a->public_key, b->public_key, WG_KEY_LEN));
		FUZZ_ASSERT(b->has_preshared_key);
		FUZZ_ASSERT(
		    !memcmp(a->preshared_key, b->preshared_key, WG_KEY_LEN));
		FUZZ_ASSERT(a->has_endpoint == b->has_endpoint);
		if (a->has_endpoint)
			same_endpoint(&a->endpoint, &b->endpoint);
		FUZZ_ASSERT(b->has_persistent_keepalive);
		FUZZ_ASSERT(a->persistent_keepalive_interval ==
			    b->persistent_keepalive_interval);
		FUZZ_ASSERT(!b->remove && !b->update_only &&
			    !b->replace_allowed_ips);
		FUZZ_ASSERT(a->n_allowedips == b->n_allowedips);
		for (j = 0; j < a->n_allowedips; j++) {
			const struct wg_uapi_allowedip *x = &a->allowedips[j];
			const struct wg_uapi_allowedip *y = &b->allowedips[j];

			FUZZ_ASSERT(x->family == y->family);
			FUZZ_ASSERT(x->cidr == y->cidr);
			FUZZ_ASSERT(!y->remove);
			FUZZ_ASSERT(!memcmp(x->ip, y->ip, 16));
		}
	}
}

/* Formats s as a get reply (allocated). */
static char *format(const struct wg_uapi_set *s, size_t *len)
{
	struct wg_uapi_device_info d;
	char *text;

	to_info(s, &d);
	FUZZ_ASSERT(wg_uapi_format_get(&d, &text, len) == 0);
	FUZZ_ASSERT(strlen(text) == *len);
	free_info(&d);
	return text;
}

static void round_trip(const struct wg_uapi_set *s)
{
	struct wg_uapi_device_info d;
	struct wg_uapi_set s2;
	char *text, *body, err[256];
	size_t len;
	int ret;

	to_info(s, &d);
	FUZZ_ASSERT(wg_uapi_format_get(&d, &text, &len) == 0);
	body = get_to_set(text, len);
	ret = wg_uapi_parse_set(body, strlen(body), &s2, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "%s\nin:\n%s", err, body);
		FUZZ_ASSERT(ret == 0);
	}
	same_device(&d, &s2);
	last.round_trip = true;
	wg_uapi_set_free(&s2);
	free(body);
	wg_uapi_free_text(text, len);
	free_info(&d);
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

/* The error names its line ("line N"): when that line sets a key, no 8
 * hex digits of the value may appear in the error. */
static void check_no_key_in(const char *err, const char *body, size_t len)
{
	static const char *const keys[] = {
	    "private_key=", "preshared_key=", NULL};
	const char *p = body, *end = body + len, *nl, *v;
	unsigned long lineno;
	char frag[9];
	size_t i, k, kl;

	FUZZ_ASSERT(!strncmp(err, "line ", 5));
	lineno = strtoul(err + 5, NULL, 10);
	FUZZ_ASSERT(lineno >= 1);
	for (; lineno > 1; lineno--) {
		nl = memchr(p, '\n', (size_t)(end - p));
		FUZZ_ASSERT(nl);
		p = nl + 1;
	}
	nl = memchr(p, '\n', (size_t)(end - p));
	for (k = 0; keys[k]; k++) {
		kl = strlen(keys[k]);
		v = p + kl;
		if ((size_t)((nl ? nl : end) - p) < kl + 8 ||
		    memcmp(p, keys[k], kl))
			continue;
		for (i = 0; i < 8 && is_hex(v[i]); i++)
			frag[i] = v[i];
		frag[i] = '\0';
		if (i == 8)
			FUZZ_ASSERT(!strcasestr(err, frag));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	struct wg_uapi_set s, s2;
	char err[256], err2[256], *t1, *t2;
	size_t l1, l2;
	int ret, ret2;

	memset(err, 'x', sizeof(err));
	memset(&last, 0, sizeof(last));
	ret = wg_uapi_parse_set(body, size, &s, err, sizeof(err));
	last.ret = ret;
	FUZZ_ASSERT(ret == 0 || ret == -EPROTO || ret == -EINVAL ||
		    ret == -ENOMEM);
	FUZZ_ASSERT(memchr(err, '\0', sizeof(err)));
	if (ret) {
		FUZZ_ASSERT(!s.n_peers && !s.peers && !s.has_private_key);
		FUZZ_ASSERT(err[0] && !strchr(err, '\n'));
		check_no_key_in(err, body, size);
		wg_uapi_set_free(&s);
		return 0;
	}
	check_parsed(&s);
	count_parsed(&s);
	round_trip(&s);
	/* Without a final newline, the same as with one. */
	if (size && body[size - 1] != '\n') {
		char *with = malloc(size + 1);

		FUZZ_ASSERT(with);
		memcpy(with, body, size);
		with[size] = '\n';
		ret2 =
		    wg_uapi_parse_set(with, size + 1, &s2, err2, sizeof(err2));
		FUZZ_ASSERT(ret2 == 0);
		t1 = format(&s, &l1);
		t2 = format(&s2, &l2);
		FUZZ_ASSERT(l1 == l2 && !memcmp(t1, t2, l1));
		FUZZ_ASSERT(s.replace_peers == s2.replace_peers);
		last.newline_compared = true;
		wg_uapi_free_text(t1, l1);
		wg_uapi_free_text(t2, l2);
		wg_uapi_set_free(&s2);
		free(with);
	}
	wg_uapi_set_free(&s);
	FUZZ_ASSERT(!s.n_peers && !s.peers);
	return 0;
}

#define PRIV "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a"
#define PUB1 "b85996fecc9c7f1fc6d2572a76eda11d59bcd20be8e543b15ce4bd85a8e75a33"
#define PUB2 "58402e695ba1772b1cc9309755f043251ea77fdcf10fbe63989ceb7e19321376"
#define PSK "188515093e952f5f22e865cef3012e72f8b5f0b598ac0309d5dacce3b70fcf52"

void fuzz_seeds(fuzz_emit_fn emit, void *ctx)
{
	static const struct {
		const char *name, *body;
	} seeds[] = {
	    {"full",
	     "private_key=" PRIV "\nlisten_port=51820\nfwmark=4660\n"
	     "replace_peers=true\n"
	     "public_key=" PUB1 "\npreshared_key=" PSK "\n"
	     "endpoint=192.0.2.1:51820\npersistent_keepalive_interval=25\n"
	     "replace_allowed_ips=true\nallowed_ip=10.0.0.0/8\n"
	     "allowed_ip=fd00::1/64\nprotocol_version=1\n"
	     "public_key=" PUB2 "\nupdate_only=true\n"
	     "endpoint=[fe80::1%2]:1\nallowed_ip=-10.1.0.0/16\n"},
	    {"remove", "public_key=" PUB1 "\nremove=true\n"},
	    {"odd-endpoints",
	     "public_key=" PUB1 "\nendpoint=[::ffff:192.0.2.1]:0\n"
	     "public_key=" PUB2 "\nendpoint=[fe80::1%lo]:00051820\n"},
	    {"crlf-no-final-newline",
	     "listen_port=0\r\nprivate_key=" PRIV "\r\npublic_key=" PUB1
	     "\r\nendpoint=[2001:db8::1]:65535"},
	    {"bad-key", "private_key=" PRIV "zz\n"},
	    {"no-equals", "private_key\n"},
	    {"empty-line", "listen_port=1\n\nfwmark=0\n"},
	    {"zero-key",
	     "private_key=" PRIV "\nprivate_key="
	     "0000000000000000000000000000000000000000000000000000000000000000"
	     "\n"},
	};
	size_t i;

	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		emit(ctx, seeds[i].name, seeds[i].body, strlen(seeds[i].body));
}

/* ---- the harness checks itself at start-up ---- */

/* What each seed must reach: without this, seeds the parser refused
 * early would pass every invariant and test nothing. */
static void expect_seed(void *ctx, const char *name, const void *buf,
			size_t len)
{
	static const struct {
		const char *name;
		int ret;
		size_t peers, allowedips, endpoints;
		bool newline_compared;
	} want[] = {
	    {"full", 0, 2, 3, 2, false},
	    {"remove", 0, 1, 0, 0, false},
	    {"odd-endpoints", 0, 2, 0, 2, false},
	    {"crlf-no-final-newline", 0, 1, 0, 1, true},
	    {"bad-key", -EINVAL, 0, 0, 0, false},
	    {"no-equals", -EPROTO, 0, 0, 0, false},
	    {"empty-line", -EINVAL, 0, 0, 0, false},
	    {"zero-key", 0, 0, 0, 0, false},
	};
	size_t i;

	(void)ctx;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strcmp(want[i].name, name))
			break;
	FUZZ_ASSERT(i < sizeof(want) / sizeof(want[0]));
	LLVMFuzzerTestOneInput(buf, len);
	if (last.ret != want[i].ret || last.peers != want[i].peers ||
	    last.allowedips != want[i].allowedips ||
	    last.endpoints != want[i].endpoints ||
	    last.round_trip != !want[i].ret ||
	    last.newline_compared != want[i].newline_compared) {
		fprintf(stderr,
			"seed %s: returned %d, %zu peers, %zu allowed IPs, "
			"%zu endpoints, round trip %d, final newline "
			"compared %d\n",
			name, last.ret, last.peers, last.allowedips,
			last.endpoints, last.round_trip, last.newline_compared);
		abort();
	}
}

static void self_check(void)
{
	fuzz_seeds(expect_seed, NULL);
}
