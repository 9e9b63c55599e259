// SPDX-License-Identifier: MIT
/*
 * The cross-platform UAPI: parser, formatter and socket server, and the
 * client of our own "stats=1" request (wgpipe show).
 *
 * The server is one thread ("wg-uapi") polling three descriptors: the
 * listening socket, an eventfd that asks it to stop, and an inotify watch
 * on the socket file (deleting the file is how a user asks a userspace
 * WireGuard daemon to go away). Clients are served one at a time, each
 * request and each reply bounded by WG_UAPI_CLIENT_TIMEOUT_MS, and every
 * wait also watches the stop eventfd, so neither a stuck client nor a
 * slow one can hold up shutdown. The thread owns all of the server's
 * mutable state; wg_uapi_server_stop touches it only after joining.
 *
 * Requests carry private and preshared keys in hex, so every buffer that
 * may hold one is wiped before it is freed or grown.
 */
#include "uapi.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "log.h"

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */

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

/* Decimal digits only, as Go's strconv.ParseUint(v, 10, bits). */
static bool parse_dec(const char *v, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;
	size_t i;

	if (!n)
		return false;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		if (x > (max - (uint64_t)(v[i] - '0')) / 10)
			return false;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	*out = x;
	return true;
}

/* Copies at most 40 characters of untrusted text for a log line, with
 * anything unprintable shown as '?'. */
static const char *echo(char buf[static 48], const char *v, size_t n)
{
	size_t i, m = n > 40 ? 40 : n;

	for (i = 0; i < m; i++)
		buf[i] = v[i] >= 0x20 && v[i] < 0x7f ? v[i] : '?';
	strcpy(buf + m, n > m ? "..." : "");
	return buf;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* Parsing a set request                                               */

struct parse {
	struct wg_uapi_set *set;
	struct wg_uapi_peer *peer; /* the current block; NULL before one */
	size_t peers_cap, ips_cap;
	unsigned int lineno;
	const char *key; /* of the current line, for messages */
	size_t klen;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int
parse_error(struct parse *ps, int ret, const char *fmt, ...)
{
	char what[160], k[48];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (ps->errlen && ps->klen)
		snprintf(ps->err, ps->errlen, "line %u (%s): %s", ps->lineno,
			 echo(k, ps->key, ps->klen), what);
	else if (ps->errlen)
		snprintf(ps->err, ps->errlen, "line %u: %s", ps->lineno, what);
	return ret;
}

static int want_true(struct parse *ps, const char *v, size_t n, bool *flag)
{
	char e[48];

	if (n != 4 || memcmp(v, "true", 4))
		return parse_error(ps, -EINVAL,
				   "the only value is \"true\", "
				   "not \"%s\"",
				   echo(e, v, n));
	*flag = true;
	return 0;
}

static int want_key(struct parse *ps, const char *v, size_t n,
		    uint8_t key[static WG_KEY_LEN])
{
	/* Never echo the value: it may be a key with one typo. */
	if (n != 2 * WG_KEY_LEN)
		return parse_error(ps, -EINVAL,
				   "want 64 hex digits, got %zu "
				   "characters",
				   n);
	if (!parse_key(key, v, n))
		return parse_error(ps, -EINVAL, "not a hex key");
	return 0;
}

static int want_dec(struct parse *ps, const char *v, size_t n, uint64_t max,
		    uint64_t *out)
{
	char e[48];

	if (!parse_dec(v, n, max, out))
		return parse_error(ps, -EINVAL,
				   "want a number from 0 to %llu, "
				   "not \"%s\"",
				   (unsigned long long)max, echo(e, v, n));
	return 0;
}

static int dev_private_key(struct parse *ps, const char *v, size_t n)
{
	ps->set->has_private_key = true;
	return want_key(ps, v, n, ps->set->private_key);
}

static int dev_listen_port(struct parse *ps, const char *v, size_t n)
{
	uint64_t x = 0;
	int ret = want_dec(ps, v, n, UINT16_MAX, &x);

	ps->set->has_listen_port = true;
	ps->set->listen_port = (uint16_t)x;
	return ret;
}

static int dev_fwmark(struct parse *ps, const char *v, size_t n)
{
	uint64_t x = 0;
	int ret = want_dec(ps, v, n, UINT32_MAX, &x);

	ps->set->has_fwmark = true;
	ps->set->fwmark = (uint32_t)x;
	return ret;
}

static int dev_replace_peers(struct parse *ps, const char *v, size_t n)
{
	return want_true(ps, v, n, &ps->set->replace_peers);
}

static int peer_remove(struct parse *ps, const char *v, size_t n)
{
	return want_true(ps, v, n, &ps->peer->remove);
}

static int peer_update_only(struct parse *ps, const char *v, size_t n)
{
	return want_true(ps, v, n, &ps->peer->update_only);
}

static int peer_preshared_key(struct parse *ps, const char *v, size_t n)
{
	ps->peer->has_preshared_key = true;
	return want_key(ps, v, n, ps->peer->preshared_key);
}

/* A numeric scope ("%2") or an interface name ("%eth0"), as getnameinfo
 * writes it for wg(8). */
static bool parse_scope(const char *scope, uint32_t *id)
{
	uint64_t x = 0;

	if (parse_dec(scope, strlen(scope), UINT32_MAX, &x)) {
		*id = (uint32_t)x;
		return true;
	}
	*id = if_nametoindex(scope);
	return *id != 0;
}

/* "a.b.c.d:port" or "[v6]:port" or "[v6%scope]:port"; numeric only, wg(8)
 * resolves names before it sends them. Port 0 cannot be sent to. */
static bool parse_endpoint(const char *v, size_t n, union wg_sockaddr *ep)
{
	char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 16], *host, *port, *p;
	uint64_t portnum;

	if (!n || n >= sizeof(buf) || memchr(v, '\0', n))
		return false;
	memcpy(buf, v, n);
	buf[n] = '\0';
	memset(ep, 0, sizeof(*ep));
	if (buf[0] == '[') {
		host = buf + 1;
		p = strchr(host, ']');
		if (!p || p[1] != ':')
			return false;
		*p = '\0';
		port = p + 2;
		p = strchr(host, '%');
		if (p) {
			*p++ = '\0';
			if (!parse_scope(p, &ep->in6.sin6_scope_id))
				return false;
		}
		if (inet_pton(AF_INET6, host, &ep->in6.sin6_addr) != 1)
			return false;
		ep->in6.sin6_family = AF_INET6;
	} else {
		p = strrchr(buf, ':');
		if (!p)
			return false;
		*p = '\0';
		host = buf;
		port = p + 1;
		if (inet_pton(AF_INET, host, &ep->in4.sin_addr) != 1)
			return false;
		ep->in4.sin_family = AF_INET;
	}
	if (!parse_dec(port, strlen(port), UINT16_MAX, &portnum) || !portnum)
		return false;
	/* sin_port and sin6_port share their offset. */
	ep->in4.sin_port = htons((uint16_t)portnum);
	return true;
}

static int peer_endpoint(struct parse *ps, const char *v, size_t n)
{
	char e[48];

	ps->peer->has_endpoint = true;
	if (!parse_endpoint(v, n, &ps->peer->endpoint))
		return parse_error(ps, -EINVAL,
				   "want a.b.c.d:port or "
				   "[ipv6]:port, not \"%s\"",
				   echo(e, v, n));
	return 0;
}

static int peer_keepalive(struct parse *ps, const char *v, size_t n)
{
	uint64_t x = 0;
	int ret = want_dec(ps, v, n, UINT16_MAX, &x);

	ps->peer->has_persistent_keepalive = true;
	ps->peer->persistent_keepalive_interval = (uint16_t)x;
	return ret;
}

static int peer_replace_allowed_ips(struct parse *ps, const char *v, size_t n)
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
	    (n > 1 && slash[1] == '0') || !parse_dec(slash + 1, n, 128, &cidr))
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

static int peer_allowed_ip(struct parse *ps, const char *v, size_t n)
{
	struct wg_uapi_peer *p = ps->peer;
	struct wg_uapi_allowedip a;
	char e[48];

	if (!parse_prefix(v, n, &a))
		return parse_error(ps, -EINVAL,
				   "want [-]address/cidr, not "
				   "\"%s\"",
				   echo(e, v, n));
	if (grow((void **)&p->allowedips, p->n_allowedips, &ps->ips_cap,
		 sizeof(a)))
		return parse_error(ps, -ENOMEM, "out of memory");
	p->allowedips[p->n_allowedips++] = a;
	return 0;
}

static int peer_protocol_version(struct parse *ps, const char *v, size_t n)
{
	char e[48];

	if (n != 1 || v[0] != '1')
		return parse_error(ps, -EINVAL,
				   "unsupported protocol version "
				   "\"%s\"",
				   echo(e, v, n));
	return 0;
}

static int peer_public_key(struct parse *ps, const char *v, size_t n)
{
	struct wg_uapi_set *s = ps->set;

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
	int (*fn)(struct parse *ps, const char *v, size_t n);
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

static int parse_line(struct parse *ps, const char *line, size_t len)
{
	const char *eq = memchr(line, '=', len), *v;
	const struct handler *h;
	bool in_peer = ps->peer != NULL;

	/* Without '=' the line might be a bare key: do not echo it. */
	ps->key = line;
	ps->klen = eq ? (size_t)(eq - line) : 0;
	if (!len)
		return parse_error(ps, -EINVAL, "empty line inside a request");
	if (!eq)
		return parse_error(ps, -EPROTO, "no '=' in the line");
	if (memchr(line, '\0', len))
		return parse_error(ps, -EINVAL, "NUL byte in the line");
	v = eq + 1;
	if (ps->klen == 10 && !memcmp(line, "public_key", 10))
		return peer_public_key(ps, v, len - ps->klen - 1);
	h = find(in_peer ? peer_keys : device_keys, line, ps->klen);
	if (h)
		return h->fn(ps, v, len - ps->klen - 1);
	if (find(in_peer ? device_keys : peer_keys, line, ps->klen))
		return parse_error(ps, -EINVAL,
				   in_peer ? "interface key after a public_key"
					   : "peer key before any public_key");
	return parse_error(ps, -EINVAL, "unknown key");
}

int wg_uapi_parse_set(const char *body, size_t len, struct wg_uapi_set *out,
		      char *err, size_t errlen)
{
	struct parse ps = {.set = out, .err = err, .errlen = errlen};
	const char *p = body, *end = body + len;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (errlen)
		err[0] = '\0';
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;

		/* Like Go's bufio.ScanLines: a '\r' before the end goes. */
		if (line_end > p && line_end[-1] == '\r')
			line_end--;
		ps.lineno++;
		ret = parse_line(&ps, p, (size_t)(line_end - p));
		if (ret)
			break;
		p = nl ? nl + 1 : end;
	}
	if (ret)
		wg_uapi_set_free(out);
	return ret;
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

/* ------------------------------------------------------------------ */
/* Formatting a get reply                                               */

struct text {
	char *p;
	size_t len, cap;
	bool oom;
};

static bool text_reserve(struct text *t, size_t more)
{
	size_t need = t->len + more + 1, cap = t->cap ? t->cap : 1024;
	char *n;

	if (t->oom)
		return false;
	if (need <= t->cap)
		return true;
	while (cap < need)
		cap *= 2;
	n = malloc(cap);
	if (!n) {
		t->oom = true;
		return false;
	}
	if (t->p) {
		memcpy(n, t->p, t->len + 1);
		sodium_memzero(t->p, t->cap);
		free(t->p);
	} else {
		n[0] = '\0';
	}
	t->p = n;
	t->cap = cap;
	return true;
}

__attribute__((format(printf, 2, 3))) static void
text_printf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !text_reserve(t, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(t->p + t->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

/* Written straight into the buffer: no copy of a key on the stack. */
static void text_key(struct text *t, const char *name,
		     const uint8_t key[static WG_KEY_LEN])
{
	static const char hex[] = "0123456789abcdef";
	size_t nlen = strlen(name), i;
	char *o;

	if (!text_reserve(t, nlen + 2 + 2 * WG_KEY_LEN))
		return;
	o = t->p + t->len;
	memcpy(o, name, nlen);
	o += nlen;
	*o++ = '=';
	for (i = 0; i < WG_KEY_LEN; i++) {
		*o++ = hex[key[i] >> 4];
		*o++ = hex[key[i] & 0xf];
	}
	*o++ = '\n';
	*o = '\0';
	t->len = (size_t)(o - t->p);
}

static void text_endpoint(struct text *t, const union wg_sockaddr *ep)
{
	char a[INET6_ADDRSTRLEN];

	if (ep->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &ep->in4.sin_addr, a, sizeof(a));
		text_printf(t, "endpoint=%s:%u\n", a, ntohs(ep->in4.sin_port));
	} else if (ep->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &ep->in6.sin6_addr, a, sizeof(a));
		if (ep->in6.sin6_scope_id)
			text_printf(t, "endpoint=[%s%%%u]:%u\n", a,
				    ep->in6.sin6_scope_id,
				    ntohs(ep->in6.sin6_port));
		else
			text_printf(t, "endpoint=[%s]:%u\n", a,
				    ntohs(ep->in6.sin6_port));
	}
}

static void text_allowedip(struct text *t, const struct wg_uapi_allowedip *a)
{
	char s[INET6_ADDRSTRLEN];

	if (a->family != AF_INET && a->family != AF_INET6)
		return;
	inet_ntop(a->family, a->ip, s, sizeof(s));
	text_printf(t, "allowed_ip=%s/%u\n", s, a->cidr);
}

static void text_peer(struct text *t, const struct wg_uapi_peer_info *p)
{
	size_t i;

	text_key(t, "public_key", p->public_key);
	text_key(t, "preshared_key", p->preshared_key);
	text_printf(t, "protocol_version=1\n");
	if (p->has_endpoint)
		text_endpoint(t, &p->endpoint);
	text_printf(
	    t,
	    "last_handshake_time_sec=%lld\n"
	    "last_handshake_time_nsec=%lld\n"
	    "tx_bytes=%llu\nrx_bytes=%llu\n"
	    "persistent_keepalive_interval=%u\n",
	    (long long)p->last_handshake_sec, (long long)p->last_handshake_nsec,
	    (unsigned long long)p->tx_bytes, (unsigned long long)p->rx_bytes,
	    p->persistent_keepalive_interval);
	for (i = 0; i < p->n_allowedips; i++)
		text_allowedip(t, &p->allowedips[i]);
}

int wg_uapi_format_get(const struct wg_uapi_device_info *info, char **out,
		       size_t *len)
{
	struct text t = {0};
	size_t i;

	text_reserve(&t, 0);
	if (info->has_private_key)
		text_key(&t, "private_key", info->private_key);
	if (info->listen_port)
		text_printf(&t, "listen_port=%u\n", info->listen_port);
	if (info->fwmark)
		text_printf(&t, "fwmark=%u\n", info->fwmark);
	for (i = 0; i < info->n_peers; i++)
		text_peer(&t, &info->peers[i]);
	if (t.oom) {
		wg_uapi_free_text(t.p, t.cap);
		*out = NULL;
		*len = 0;
		return -ENOMEM;
	}
	*out = t.p;
	*len = t.len;
	return 0;
}

void wg_uapi_free_text(char *text, size_t len)
{
	if (!text)
		return;
	sodium_memzero(text, len);
	free(text);
}

/* ------------------------------------------------------------------ */
/* The server                                                           */

struct wg_uapi_server {
	int listen_fd, stop_fd, inotify_fd;
	bool watching; /* path/dev/ino name our socket file */
	bool gone_reported;
	dev_t dev;
	ino_t ino;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const struct wg_uapi_ops *ops;
	void *ctx;
	pthread_t thread;
};

/* One connection; buf may hold keys and is wiped when it goes. */
struct client {
	struct wg_uapi_server *s;
	int fd;
	char *buf;
	size_t len, cap;
	bool eof;
	uint64_t deadline_ms;
};

/* Waits for events on the client, giving up at the deadline (-ETIMEDOUT)
 * or when the server is asked to stop (-ECANCELED). */
static int client_wait(struct client *c, short events)
{
	struct pollfd pfd[2] = {
	    {.fd = c->fd, .events = events},
	    {.fd = c->s->stop_fd, .events = POLLIN},
	};

	for (;;) {
		uint64_t now = now_ms();
		int n;

		if (now >= c->deadline_ms)
			return -ETIMEDOUT;
		n = poll(pfd, 2, (int)(c->deadline_ms - now));
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n <= 0)
			continue;
		if (pfd[1].revents)
			return -ECANCELED;
		if (pfd[0].revents)
			return 0;
	}
}

/* Doubles the receive buffer, copying through a fresh allocation so no
 * request text (keys) is left behind in freed memory. */
static int client_grow(struct client *c)
{
	size_t cap = c->cap ? c->cap * 2 : 4096;
	char *n;

	/* Room for the largest request, its "set=1\n" and a little more. */
	if (c->cap >= WG_UAPI_MAX_REQUEST + 4096)
		return -EMSGSIZE;
	if (cap > WG_UAPI_MAX_REQUEST + 4096)
		cap = WG_UAPI_MAX_REQUEST + 4096;
	n = malloc(cap);
	if (!n)
		return -ENOMEM;
	if (c->buf) {
		memcpy(n, c->buf, c->len);
		sodium_memzero(c->buf, c->cap);
		free(c->buf);
	}
	c->buf = n;
	c->cap = cap;
	return 0;
}

static int client_fill(struct client *c)
{
	ssize_t n;
	int ret;

	if (c->len == c->cap) {
		ret = client_grow(c);
		if (ret)
			return ret;
	}
	for (;;) {
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (n > 0) {
			c->len += (size_t)n;
			return 0;
		}
		if (n == 0) {
			c->eof = true;
			return 0;
		}
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		ret = client_wait(c, POLLIN);
		if (ret)
			return ret;
	}
}

static int client_send(struct client *c, const char *p, size_t n)
{
	c->deadline_ms = now_ms() + WG_UAPI_CLIENT_TIMEOUT_MS;
	while (n) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
		int ret;

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		ret = client_wait(c, POLLOUT);
		if (ret)
			return ret;
	}
	return 0;
}

static int client_send_errno(struct client *c, int value)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "errno=%d\n\n", value);

	return client_send(c, line, (size_t)n);
}

/* Drops the first n bytes of the buffer, wiping the tail it vacates. */
static void client_consume(struct client *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	sodium_memzero(c->buf + c->len - n, n);
	c->len -= n;
}

/* Consumes "OP=1\n\n" (oplen bytes before the first '\n'), answering
 * errno=EINVAL and hanging up if the blank line is missing. */
static int take_bare_request(struct client *c, size_t oplen)
{
	int ret;

	while (c->len < oplen + 2) {
		if (c->eof)
			return -ENODATA;
		ret = client_fill(c);
		if (ret)
			return ret;
	}
	if (c->buf[oplen + 1] != '\n') {
		log_err("UAPI: %.*s not followed by a blank line", (int)oplen,
			c->buf);
		client_send_errno(c, EINVAL);
		return -EINVAL;
	}
	client_consume(c, oplen + 2);
	return 0;
}

static int do_get(struct client *c)
{
	const struct wg_uapi_ops *ops = c->s->ops;
	struct wg_uapi_device_info info;
	char *text = NULL;
	size_t len = 0;
	int ret;

	ret = take_bare_request(c, 5);
	if (ret)
		return ret;
	memset(&info, 0, sizeof(info));
	ret = ops->get(c->s->ctx, &info);
	if (!ret)
		ret = wg_uapi_format_get(&info, &text, &len);
	ops->get_free(c->s->ctx, &info);
	sodium_memzero(&info, sizeof(info));
	if (ret) {
		log_err("UAPI: get failed: %s", strerror(-ret));
		return client_send_errno(c, -ret);
	}
	ret = client_send(c, text, len);
	wg_uapi_free_text(text, len);
	return ret ? ret : client_send_errno(c, 0);
}

/* Counters hold no secret: plain free(). */
static int do_stats(struct client *c)
{
	const struct wg_uapi_ops *ops = c->s->ops;
	char *text = NULL;
	size_t len = 0;
	int ret;

	ret = take_bare_request(c, 7);
	if (ret)
		return ret;
	ret = ops->stats(c->s->ctx, &text, &len);
	if (ret) {
		log_err("UAPI: stats failed: %s", strerror(-ret));
		return client_send_errno(c, -ret);
	}
	ret = client_send(c, text, len);
	free(text);
	return ret ? ret : client_send_errno(c, 0);
}

/* Finds the blank line ending a set body that starts at offset 6.
 * Returns 0 with the body's end and the bytes to consume, or -errno. */
static int read_set_body(struct client *c, size_t *end, size_t *consume)
{
	size_t scan = 6; /* start of the first line not yet seen whole */
	int ret;

	for (;;) {
		char *nl = memchr(c->buf + scan, '\n', c->len - scan);

		if (nl) {
			size_t n = (size_t)(nl - (c->buf + scan));

			if (!n || (n == 1 && c->buf[scan] == '\r')) {
				*end = scan;
				*consume = scan + n + 1;
				return 0;
			}
			scan += n + 1;
			continue;
		}
		if (c->len - 6 > WG_UAPI_MAX_REQUEST)
			return -EMSGSIZE;
		if (c->eof) {
			/* A client that half-closes after its last line
			 * gets the request applied, as wireguard-go does. */
			*end = *consume = c->len;
			return 0;
		}
		ret = client_fill(c);
		if (ret)
			return ret;
	}
}

static int do_set(struct client *c)
{
	const struct wg_uapi_ops *ops = c->s->ops;
	struct wg_uapi_set set;
	size_t end = 0, consume = 0;
	char err[256];
	int ret;

	ret = read_set_body(c, &end, &consume);
	if (ret == -EMSGSIZE || ret == -ENOMEM) {
		log_err("UAPI: set request refused: %s", strerror(-ret));
		client_send_errno(c, ret);
	}
	if (ret)
		return ret;
	ret = wg_uapi_parse_set(c->buf + 6, end - 6, &set, err, sizeof(err));
	if (ret) {
		log_err("UAPI: set request refused: %s", err);
	} else {
		err[0] = '\0';
		ret = ops->set(c->s->ctx, &set, err, sizeof(err));
		if (ret)
			log_err("UAPI: set request failed: %s",
				err[0] ? err : strerror(-ret));
		else
			log_debug("UAPI: set request applied");
		wg_uapi_set_free(&set);
	}
	client_consume(c, consume);
	return client_send_errno(c, ret);
}

/* The operation line, "get=1" say, without its '\n'. */
static bool is_op(const struct client *c, const char *nl, const char *op)
{
	size_t n = strlen(op);

	return nl && (size_t)(nl - c->buf) == n && !memcmp(c->buf, op, n);
}

/* Serves one request: 0 to go on with the next, -errno to hang up. */
static int client_request(struct client *c)
{
	char *nl, *eq, e[48];
	int ret;

	c->deadline_ms = now_ms() + WG_UAPI_CLIENT_TIMEOUT_MS;
	while (!(nl = c->len ? memchr(c->buf, '\n', c->len) : NULL)) {
		if (c->len > 16)
			break;
		if (c->eof)
			return -ENODATA;
		ret = client_fill(c);
		if (ret)
			return ret;
	}
	if (is_op(c, nl, "get=1"))
		ret = do_get(c);
	else if (is_op(c, nl, "set=1"))
		ret = do_set(c);
	else if (is_op(c, nl, "stats=1") && c->s->ops->stats)
		ret = do_stats(c);
	else {
		/* Name only what precedes '=': the line could be a config
		 * line sent without "set=1", key and all. */
		eq = memchr(c->buf, '=', nl ? (size_t)(nl - c->buf) : c->len);
		log_err("UAPI: unknown operation \"%s\"",
			echo(e, c->buf, eq ? (size_t)(eq - c->buf) : 0));
		client_send_errno(c, -EINVAL);
		return -EINVAL;
	}
	if (!ret && c->eof && !c->len)
		return -ENODATA;
	return ret;
}

static void serve_client(struct wg_uapi_server *s, int fd)
{
	struct client c = {.s = s, .fd = fd};
	int ret;

	do
		ret = client_request(&c);
	while (!ret);
	/* An idle connection timing out between requests is normal. */
	if (ret == -ETIMEDOUT && c.len)
		log_err("UAPI: client timed out in the middle of a request");
	else if (ret == -ETIMEDOUT)
		log_debug("UAPI: closing an idle connection");
	if (c.buf) {
		sodium_memzero(c.buf, c.cap);
		free(c.buf);
	}
	/* Copies of keys pass through vector registers, and would sit
	 * there, in any core dump, until the next client. */
	wg_crypto_wipe_registers();
	close(fd);
}

/* Called on any event of the watch: the socket is gone when its path no
 * longer names the file we bound (unlinked, renamed, replaced). */
static void check_gone(struct wg_uapi_server *s)
{
	struct stat st;

	if (s->gone_reported)
		return;
	if (!lstat(s->path, &st) && st.st_dev == s->dev && st.st_ino == s->ino)
		return;
	s->gone_reported = true;
	log_info("UAPI: socket %s was removed", s->path);
	if (s->ops->socket_gone)
		s->ops->socket_gone(s->ctx);
}

static void drain_inotify(struct wg_uapi_server *s)
{
	char buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(s->inotify_fd, buf, sizeof(buf)) > 0)
		;
	check_gone(s);
	if (s->gone_reported) {
		close(s->inotify_fd);
		s->inotify_fd = -1;
	}
}

/* The socket file's 0600 mode is the first gate; this is the second, for
 * a file whose mode was loosened and for an inherited listener
 * (WG_UAPI_FD) whose file we never created. The credentials are the
 * client's at connect(), as the kernel recorded them. */
static bool client_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) ||
	    len != sizeof(cred)) {
		wg_log_ratelimited(WG_LOG_VERBOSE,
				   "UAPI: refusing a client: no credentials: %s",
				   strerror(errno));
		return false;
	}
	if (cred.uid == 0 || cred.uid == geteuid())
		return true;
	wg_log_ratelimited(WG_LOG_VERBOSE,
			   "UAPI: refusing a client with uid %u (pid %d)",
			   (unsigned int)cred.uid, (int)cred.pid);
	return false;
}

static void accept_client(struct wg_uapi_server *s, int *backoff_ms)
{
	int fd =
	    accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd >= 0) {
		if (client_allowed(fd))
			serve_client(s, fd);
		else
			close(fd);
		return;
	}
	if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED ||
	    errno == EPROTO)
		return;
	/* Out of descriptors or memory: leave the listener alone for a
	 * moment rather than spin on it. */
	wg_log_ratelimited(WG_LOG_ERROR, "UAPI: accept: %s", strerror(errno));
	*backoff_ms = 100;
}

static void *server_main(void *arg)
{
	struct wg_uapi_server *s = arg;
	int backoff_ms = 0;

	if (s->watching)
		check_gone(s);
	for (;;) {
		struct pollfd pfd[3] = {
		    {.fd = s->stop_fd, .events = POLLIN},
		    {.fd = backoff_ms ? -1 : s->listen_fd, .events = POLLIN},
		    {.fd = s->inotify_fd, .events = POLLIN},
		};
		int n = poll(pfd, 3, backoff_ms ? backoff_ms : -1);

		backoff_ms = 0;
		if (n < 0 && errno != EINTR) {
			wg_log_ratelimited(WG_LOG_ERROR, "UAPI: poll: %s",
					   strerror(errno));
			nanosleep(&(struct timespec){.tv_nsec = 100000000},
				  NULL);
			continue;
		}
		if (n <= 0)
			continue;
		if (pfd[0].revents)
			break;
		if (pfd[2].revents)
			drain_inotify(s);
		if (pfd[1].revents)
			accept_client(s, &backoff_ms);
	}
	return NULL;
}

/* bind() makes the file 0777 & ~umask: under 0177 it is 0600, for root
 * alone (wg(8) needs to write to it, never to execute it). */
static int bind_private(int fd, const struct sockaddr_un *sun)
{
	mode_t old = umask(0177);
	int ret = bind(fd, (const struct sockaddr *)sun, sizeof(*sun));

	ret = ret ? -errno : 0;
	umask(old);
	return ret;
}

/* Something is at the path: another daemon's live socket (refuse), a
 * stale socket (remove it), or not a socket at all (refuse, touch
 * nothing). */
static int clear_stale(const struct sockaddr_un *sun)
{
	struct stat st;
	int fd, ret;

	if (lstat(sun->sun_path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) ? -errno
								      : 0;
	close(fd);
	if (!ret || ret == -EAGAIN || ret == -EINPROGRESS)
		return -EADDRINUSE;
	if (ret != -ECONNREFUSED && ret != -ENOENT)
		return ret;
	log_info("UAPI: removing stale socket %s", sun->sun_path);
	if (unlink(sun->sun_path) && errno != ENOENT)
		return -errno;
	return 0;
}

static int open_listener(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd, ret;

	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = bind_private(fd, &sun);
	if (ret == -EADDRINUSE) {
		ret = clear_stale(&sun);
		if (!ret)
			ret = bind_private(fd, &sun);
	}
	if (!ret && listen(fd, 64))
		ret = -errno;
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

/* An inherited descriptor must be a listening UNIX stream socket; its
 * bound path, if it has one, is the file to watch and to unlink. */
static int adopt_listener(struct wg_uapi_server *s, int fd)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof(int);
	int v;

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len))
		return -errno;
	if (v != AF_UNIX)
		return -EINVAL;
	len = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len))
		return -errno;
	if (!v)
		return -EINVAL;
	len = sizeof(sun);
	memset(&sun, 0, sizeof(sun));
	if (getsockname(fd, (struct sockaddr *)&sun, &len))
		return -errno;
	/* An unnamed or abstract socket has no file: nothing to watch or
	 * unlink, whatever the path given. */
	s->path[0] = '\0';
	if (len > offsetof(struct sockaddr_un, sun_path) && sun.sun_path[0] &&
	    strnlen(sun.sun_path, sizeof(sun.sun_path)) < sizeof(s->path))
		strcpy(s->path, sun.sun_path);
	v = fcntl(fd, F_GETFL);
	if (v < 0 || fcntl(fd, F_SETFL, v | O_NONBLOCK) ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC))
		return -errno;
	s->listen_fd = fd;
	return 0;
}

static int watch_path(struct wg_uapi_server *s)
{
	struct stat st;

	if (!s->path[0] || lstat(s->path, &st) || !S_ISSOCK(st.st_mode))
		return 0; /* nothing of ours to watch */
	s->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->inotify_fd < 0)
		return -errno;
	/* Unlinking a bound socket file changes its link count
	 * (IN_ATTRIB); the inode itself lives on while we hold it. */
	if (inotify_add_watch(s->inotify_fd, s->path,
			      IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF) < 0)
		return -errno;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->watching = true;
	return 0;
}

static int start_thread(struct wg_uapi_server *s)
{
	sigset_t all, old;
	int ret;

	/* Signals are for the main thread; this one must never take one. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&s->thread, NULL, server_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!ret)
		pthread_setname_np(s->thread, "wg-uapi");
	return ret;
}

int wg_uapi_server_start_at(struct wg_uapi_server **out, const char *path,
			    int inherited_fd, const struct wg_uapi_ops *ops,
			    void *ctx)
{
	struct wg_uapi_server *s;
	int ret;

	if (!ops || !ops->get || !ops->get_free || !ops->set || !path)
		return -EINVAL;
	if (strlen(path) >= sizeof(s->path))
		return -ENAMETOOLONG;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ops = ops;
	s->ctx = ctx;
	s->inotify_fd = -1;
	strcpy(s->path, path);
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->stop_fd < 0) {
		ret = -errno;
		goto err_free;
	}
	if (inherited_fd >= 0) {
		ret = adopt_listener(s, inherited_fd);
	} else {
		ret = open_listener(path);
		s->listen_fd = ret;
		ret = ret < 0 ? ret : 0;
	}
	if (ret)
		goto err_close_stop;
	ret = watch_path(s);
	if (ret)
		goto err_close_listener;
	ret = start_thread(s);
	if (ret)
		goto err_close_listener;
	log_info("UAPI: listening on %s", s->path[0] ? s->path : "(inherited)");
	*out = s;
	return 0;

err_close_listener:
	if (s->inotify_fd >= 0)
		close(s->inotify_fd);
	if (inherited_fd < 0) {
		close(s->listen_fd);
		unlink(s->path);
	}
err_close_stop:
	close(s->stop_fd);
err_free:
	free(s);
	return ret;
}

static int make_dir(const char *dir)
{
	char buf[sizeof(WG_UAPI_SOCKET_DIR)], *p, c;

	strcpy(buf, dir);
	for (p = buf + 1;; p++) {
		if (*p != '/' && *p)
			continue;
		c = *p;
		*p = '\0';
		/* 0755 whatever the daemon's umask, as wireguard-go makes it:
		 * wg(8) lists the folder as any user. */
		if (!mkdir(buf, 0755))
			chmod(buf, 0755);
		else if (errno != EEXIST)
			return -errno;
		*p = c;
		if (!c)
			return 0;
	}
}

int wg_uapi_socket_path(char *path, size_t size, const char *ifname)
{
	int n;

	if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ ||
	    strchr(ifname, '/') || !strcmp(ifname, ".") ||
	    !strcmp(ifname, ".."))
		return -EINVAL;
	n = snprintf(path, size, "%s/%s.sock", WG_UAPI_SOCKET_DIR, ifname);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int wg_uapi_server_start(struct wg_uapi_server **out, const char *ifname,
			 int inherited_fd, const struct wg_uapi_ops *ops,
			 void *ctx)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int ret;

	ret = wg_uapi_socket_path(path, sizeof(path), ifname);
	if (ret)
		return ret;
	if (inherited_fd < 0) {
		ret = make_dir(WG_UAPI_SOCKET_DIR);
		if (ret) {
			log_err("UAPI: cannot create %s: %s",
				WG_UAPI_SOCKET_DIR, strerror(-ret));
			return ret;
		}
	}
	ret = wg_uapi_server_start_at(out, path, inherited_fd, ops, ctx);
	if (ret)
		log_err("UAPI: cannot listen on %s: %s", path, strerror(-ret));
	return ret;
}

void wg_uapi_server_stop(struct wg_uapi_server *s)
{
	uint64_t one = 1;
	struct stat st;

	if (!s)
		return;
	/* Not from socket_gone: this joins the thread that calls it. */
	assert(!pthread_equal(pthread_self(), s->thread));
	if (write(s->stop_fd, &one, sizeof(one)) != sizeof(one))
		log_err("UAPI: cannot signal the server thread: %s",
			strerror(errno));
	pthread_join(s->thread, NULL);
	close(s->listen_fd);
	if (s->inotify_fd >= 0)
		close(s->inotify_fd);
	close(s->stop_fd);
	/* Unlink only our own file, not a newer daemon's socket. */
	if (s->watching && !lstat(s->path, &st) && st.st_dev == s->dev &&
	    st.st_ino == s->ino)
		unlink(s->path);
	free(s);
}

/* ------------------------------------------------------------------ */
/* The client of stats=1                                                */

/* One client may be ahead of us, stuck until the server gives up on it:
 * wait for each step twice as long as the server waits for a client. */
static int connect_socket(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 2 * WG_UAPI_CLIENT_TIMEOUT_MS / 1000};
	int fd, ret;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    connect(fd, (const struct sockaddr *)&sun, sizeof(sun))) {
		ret = errno == EAGAIN || errno == EINPROGRESS ? -ETIMEDOUT
							      : -errno;
		close(fd);
		return ret;
	}
	return fd;
}

static int send_request(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno == EAGAIN	? -ETIMEDOUT
			       : errno == EPIPE ? -ECONNRESET
						: -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads up to and including the first blank line, which ends every
 * reply; *end receives the offset of the '\n' just before it. */
static int read_reply(int fd, char **out, size_t *end)
{
	size_t cap = 4096, n = 0, from;
	char *buf = malloc(cap), *nb, *blank = NULL;
	ssize_t r;
	int ret;

	if (!buf)
		return -ENOMEM;
	while (!blank) {
		if (n == cap) {
			ret = -EMSGSIZE;
			if (cap > WG_UAPI_MAX_REQUEST)
				goto err_free;
			ret = -ENOMEM;
			nb = realloc(buf, cap * 2);
			if (!nb)
				goto err_free;
			buf = nb;
			cap *= 2;
		}
		r = recv(fd, buf + n, cap - n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			ret = !r || errno == ECONNRESET ? -ECONNRESET
			      : errno == EAGAIN		? -ETIMEDOUT
							: -errno;
			goto err_free;
		}
		/* The pair may straddle the previous read. */
		from = n ? n - 1 : 0;
		n += (size_t)r;
		blank = memmem(buf + from, n - from, "\n\n", 2);
	}
	*end = (size_t)(blank - buf);
	*out = buf;
	return 0;

err_free:
	free(buf);
	return ret;
}

/* Splits a reply into its lines and the value of its last, errno=N. */
static int parse_reply(char *buf, size_t end, int *answer, size_t *textlen)
{
	char *line = buf + end, *e;
	long v;

	while (line > buf && line[-1] != '\n')
		line--;
	buf[end] = '\0';
	if (strncmp(line, "errno=", 6))
		return -EPROTO;
	errno = 0;
	v = strtol(line + 6, &e, 10);
	if (e == line + 6 || *e || errno || v < INT_MIN || v > INT_MAX)
		return -EPROTO;
	*answer = (int)v;
	*textlen = (size_t)(line - buf);
	*line = '\0';
	return 0;
}

int wg_uapi_request_stats(const char *path, int *answer, char **text,
			  size_t *len)
{
	static const char request[] = "stats=1\n\n";
	char *buf = NULL;
	size_t end = 0;
	int fd, ret;

	*answer = 0;
	*text = NULL;
	*len = 0;
	fd = connect_socket(path);
	if (fd < 0)
		return fd;
	ret = send_request(fd, request, sizeof(request) - 1);
	if (!ret)
		ret = read_reply(fd, &buf, &end);
	close(fd);
	if (!ret)
		ret = parse_reply(buf, end, answer, len);
	if (ret || *answer) {
		free(buf);
		*len = 0;
		return ret;
	}
	*text = buf;
	return 0;
}
