// SPDX-License-Identifier: MIT
/*
 * The UAPI set parser: the key=value lines of a set request, checked
 * line by line into a struct wg_uapi_set, all or nothing. One handler per
 * key, in two tables (device keys, then peer keys after a public_key).
 *
 * Requests carry private and preshared keys in hex, so every array that
 * may hold one is wiped before it is freed or grown, and no message
 * quotes a key's value.
 */
#include "uapi_parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "addr.h"
#include "text.h"

/* Grows an array to hold at least one more element, copying through a
 * fresh allocation so that the old contents (keys, maybe) are wiped
 * rather than left behind by realloc. */
static int grow(void **arr, size_t used, size_t *cap, size_t elem)
{
	size_t ncap = *cap ? *cap * 2 : 4;
	void *n;

	if (used < *cap)
		return 0;
	if (ncap > SIZE_MAX / elem)
		return -ENOMEM;
	n = calloc(ncap, elem);
	if (!n)
		return -ENOMEM;
	if (*arr) {
		memcpy(n, *arr, used * elem);
		sodium_memzero(*arr, *cap * elem);
		free(*arr);
	}
	*arr = n;
	*cap = ncap;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool parse_key(uint8_t key[static WG_KEY_LEN], const char *v, size_t n)
{
	size_t i;

	if (n != 2 * WG_KEY_LEN)
		return false;
	for (i = 0; i < WG_KEY_LEN; i++) {
		int hi = hexval(v[2 * i]), lo = hexval(v[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* Parsing a set request                                               */


__attribute__((format(printf, 3, 4))) static int
parse_error(struct wg_uapi_parser *ps, int ret, const char *fmt, ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (ps->errlen && ps->known)
		snprintf(ps->err, ps->errlen, "line %u (%.*s): %s", ps->lineno,
			 (int)ps->klen, ps->key, what);
	else if (ps->errlen)
		snprintf(ps->err, ps->errlen, "line %u: %s", ps->lineno, what);
	return ret;
}

/* No message repeats a value: a value is named by its length at most. */
static int want_true(struct wg_uapi_parser *ps, const char *v, size_t n, bool *flag)
{
	if (n != 4 || memcmp(v, "true", 4))
		return parse_error(ps, -EINVAL, "the only value is \"true\"");
	*flag = true;
	return 0;
}

static int want_key(struct wg_uapi_parser *ps, const char *v, size_t n,
		    uint8_t key[static WG_KEY_LEN])
{
	if (n != 2 * WG_KEY_LEN)
		return parse_error(ps, -EINVAL,
				   "want 64 hex digits, got %zu "
				   "characters",
				   n);
	if (!parse_key(key, v, n))
		return parse_error(ps, -EINVAL, "not a hex key");
	return 0;
}

static int want_dec(struct wg_uapi_parser *ps, const char *v, size_t n, uint64_t max,
		    uint64_t *out)
{
	if (!wg_text_decimal(v, n, max, out))
		return parse_error(ps, -EINVAL,
				   "want a number from 0 to %llu",
				   (unsigned long long)max);
	return 0;
}

static int dev_private_key(struct wg_uapi_parser *ps, const char *v, size_t n)
{
	ps->set->has_private_key = true;
	return want_key(ps, v, n, ps->set->private_key);
}

static int dev_listen_port(struct wg_uapi_parser *ps, const char *v, size_t n)
{
	uint64_t x = 0;
	int ret = want_dec(ps, v, n, UINT16_MAX, &x);

	ps->set->has_listen_port = true;
	ps->set->listen_port = (uint16_t)x;
	return ret;
}

static int dev_fwmark(struct wg_uapi_parser *ps, const char *v, size_t n)
{
	uint64_t x = 0;
	int ret = want_dec(ps, v, n, UINT32_MAX, &x);

	ps->set->has_fwmark = true;
	ps->set->fwmark = (uint32_t)x;
	return ret;
}

static int dev_replace_peers(struct wg_uapi_parser *ps, const char *v, size_t n)
{
	return want_true(ps, v, n, &ps->set->replace_peers);
}

static int peer_remove(struct wg_uapi_parser *ps, const char *v, size_t n)
{
	return want_true(ps, v, n, &ps->peer->remove);
}

static int peer_update_only(struct wg_uapi_parser *ps, const char *v, size_t n)
{
	return want_true(ps, v, n, &ps->peer->update_only);
}

static int peer_preshared_key(struct wg_uapi_parser *ps, const char *v, size_t n)
{
	ps->peer->has_preshared_key = true;
	return want_key(ps, v, n, ps->peer->preshared_key);
}

static int peer_endpoint(struct wg_uapi_parser *ps, const char *v, size_t n)
{
	char text[WG_SOCKADDR_STRLEN];

	ps->peer->has_endpoint = true;
	/* NUL-terminated for the parser (parse_line has refused NUL bytes);
	 * text this long is no endpoint. */
	if (n < sizeof(text)) {
		memcpy(text, v, n);
		text[n] = '\0';
		if (!wg_sockaddr_parse(&ps->peer->endpoint, text))
			return 0;
	}
	return parse_error(ps, -EINVAL, "want a.b.c.d:port or [ipv6]:port");
}

static int peer_keepalive(struct wg_uapi_parser *ps, const char *v, size_t n)
{
	uint64_t x = 0;
	int ret = want_dec(ps, v, n, UINT16_MAX, &x);

	ps->peer->has_persistent_keepalive = true;
	ps->peer->persistent_keepalive_interval = (uint16_t)x;
	return ret;
}

static int peer_replace_allowed_ips(struct wg_uapi_parser *ps, const char *v, size_t n)
{
	/* Replacing drops what earlier lines of this block added. */
	ps->peer->n_allowedips = 0;
	return want_true(ps, v, n, &ps->peer->replace_allowed_ips);
}

static void mask_prefix(struct wg_uapi_allowedip *a)
{
	unsigned int len = a->family == AF_INET ? 4 : 16, i;

	for (i = 0; i < len; i++) {
		unsigned int bits = i * 8;

		if (bits >= a->cidr)
			a->ip[i] = 0;
		else if (a->cidr - bits < 8)
			a->ip[i] &= (uint8_t)(0xff << (8 - (a->cidr - bits)));
	}
}

/* [-]addr/cidr with cidr in decimal, no leading zeros, as Go's
 * netip.ParsePrefix; no zones. Host bits are cleared. */
static bool parse_prefix(const char *v, size_t n, struct wg_uapi_allowedip *a)
{
	char buf[INET6_ADDRSTRLEN];
	const char *slash;
	uint64_t cidr;
	size_t alen;

	memset(a, 0, sizeof(*a));
	if (n && v[0] == '-') {
		a->remove = true;
		v++;
		n--;
	}
	slash = n ? memrchr(v, '/', n) : NULL;
	if (!slash)
		return false;
	alen = (size_t)(slash - v);
	n -= alen + 1;
	if (!alen || alen >= sizeof(buf) || n > 3 ||
	    (n > 1 && slash[1] == '0') ||
	    !wg_text_decimal(slash + 1, n, 128, &cidr))
		return false;
	memcpy(buf, v, alen);
	buf[alen] = '\0';
	if (memchr(buf, ':', alen)) {
		if (inet_pton(AF_INET6, buf, a->ip) != 1)
			return false;
		a->family = AF_INET6;
	} else {
		if (inet_pton(AF_INET, buf, a->ip) != 1 || cidr > 32)
			return false;
		a->family = AF_INET;
	}
	a->cidr = (uint8_t)cidr;
	mask_prefix(a);
	return true;
}

static int peer_allowed_ip(struct wg_uapi_parser *ps, const char *v, size_t n)
{
	struct wg_uapi_peer *p = ps->peer;
	struct wg_uapi_allowedip a;

	if (!parse_prefix(v, n, &a))
		return parse_error(ps, -EINVAL, "want [-]address/cidr");
	if (ps->n_allowedips == WG_UAPI_MAX_ALLOWEDIPS)
		return parse_error(ps, -E2BIG,
				   "more than %u allowed_ip lines in one "
				   "request",
				   (unsigned int)WG_UAPI_MAX_ALLOWEDIPS);
	ps->n_allowedips++;
	if (grow((void **)&p->allowedips, p->n_allowedips, &ps->ips_cap,
		 sizeof(a)))
		return parse_error(ps, -ENOMEM, "out of memory");
	p->allowedips[p->n_allowedips++] = a;
	return 0;
}

static int peer_protocol_version(struct wg_uapi_parser *ps, const char *v, size_t n)
{
	if (n != 1 || v[0] != '1')
		return parse_error(ps, -EINVAL,
				   "unsupported protocol version (only 1)");
	return 0;
}

static int peer_public_key(struct wg_uapi_parser *ps, const char *v, size_t n)
{
	struct wg_uapi_set *s = ps->set;

	if (s->n_peers == WG_UAPI_MAX_PEER_BLOCKS)
		return parse_error(ps, -E2BIG,
				   "more than %u public_key blocks in one "
				   "request",
				   (unsigned int)WG_UAPI_MAX_PEER_BLOCKS);
	if (grow((void **)&s->peers, s->n_peers, &ps->peers_cap,
		 sizeof(*s->peers)))
		return parse_error(ps, -ENOMEM, "out of memory");
	ps->peer = &s->peers[s->n_peers++];
	memset(ps->peer, 0, sizeof(*ps->peer));
	ps->ips_cap = 0;
	return want_key(ps, v, n, ps->peer->public_key);
}

struct handler {
	const char *key;
	int (*fn)(struct wg_uapi_parser *ps, const char *v, size_t n);
};

/* clang-format off */
static const struct handler device_keys[] = {
	{ "private_key", dev_private_key },
	{ "listen_port", dev_listen_port },
	{ "fwmark", dev_fwmark },
	{ "replace_peers", dev_replace_peers },
	{ NULL, NULL }
};

static const struct handler peer_keys[] = {
	{ "remove", peer_remove },
	{ "update_only", peer_update_only },
	{ "preshared_key", peer_preshared_key },
	{ "endpoint", peer_endpoint },
	{ "persistent_keepalive_interval", peer_keepalive },
	{ "replace_allowed_ips", peer_replace_allowed_ips },
	{ "allowed_ip", peer_allowed_ip },
	{ "protocol_version", peer_protocol_version },
	{ NULL, NULL }
};
/* clang-format on */

static const struct handler *find(const struct handler *t, const char *key,
				  size_t klen)
{
	for (; t->key; t++)
		if (strlen(t->key) == klen && !memcmp(t->key, key, klen))
			return t;
	return NULL;
}

static int parse_line(struct wg_uapi_parser *ps, const char *line, size_t len)
{
	const char *eq = memchr(line, '=', len), *v;
	const struct handler *h;
	bool in_peer = ps->peer != NULL;

	ps->key = line;
	ps->klen = eq ? (size_t)(eq - line) : 0;
	ps->known = false;
	if (!len)
		return parse_error(ps, -EINVAL, "empty line inside a request");
	if (!eq)
		return parse_error(ps, -EPROTO, "no '=' in the line");
	if (memchr(line, '\0', len))
		return parse_error(ps, -EINVAL, "NUL byte in the line");
	v = eq + 1;
	ps->known = true;
	if (ps->klen == 10 && !memcmp(line, "public_key", 10))
		return peer_public_key(ps, v, len - ps->klen - 1);
	h = find(in_peer ? peer_keys : device_keys, line, ps->klen);
	if (h)
		return h->fn(ps, v, len - ps->klen - 1);
	if (find(in_peer ? device_keys : peer_keys, line, ps->klen))
		return parse_error(ps, -EINVAL,
				   in_peer ? "interface key after a public_key"
					   : "peer key before any public_key");
	ps->known = false;
	return parse_error(ps, -EINVAL, "unknown key");
}

void wg_uapi_parser_init(struct wg_uapi_parser *ps, struct wg_uapi_set *out,
			 char *err, size_t errlen)
{
	memset(ps, 0, sizeof(*ps));
	ps->set = out;
	ps->err = err;
	ps->errlen = errlen;
	memset(out, 0, sizeof(*out));
	if (errlen)
		err[0] = '\0';
}

int wg_uapi_parser_line(struct wg_uapi_parser *ps, const char *line,
			size_t len)
{
	if (ps->ret)
		return ps->ret;
	/* Like Go's bufio.ScanLines: a '\r' before the end goes. */
	if (len && line[len - 1] == '\r')
		len--;
	ps->lineno++;
	ps->ret = parse_line(ps, line, len);
	if (ps->ret)
		wg_uapi_set_free(ps->set);
	return ps->ret;
}

int wg_uapi_parser_end(struct wg_uapi_parser *ps)
{
	return ps->ret;
}

int wg_uapi_parse_set(const char *body, size_t len, struct wg_uapi_set *out,
		      char *err, size_t errlen)
{
	struct wg_uapi_parser ps;
	const char *p = body, *end = body + len;
	int ret = 0;

	wg_uapi_parser_init(&ps, out, err, errlen);
	while (p < end && !ret) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;

		ret = wg_uapi_parser_line(&ps, p, (size_t)(line_end - p));
		p = nl ? nl + 1 : end;
	}
	return wg_uapi_parser_end(&ps);
}

void wg_uapi_set_free(struct wg_uapi_set *s)
{
	size_t i;

	for (i = 0; i < s->n_peers; i++)
		free(s->peers[i].allowedips);
	/* Slots past n_peers were never written; grow() wiped the old
	 * arrays when it copied them. */
	if (s->peers)
		sodium_memzero(s->peers, s->n_peers * sizeof(*s->peers));
	free(s->peers);
	sodium_memzero(s, sizeof(*s));
}
