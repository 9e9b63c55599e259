// SPDX-License-Identifier: MIT
/*
 * The UAPI get formatter: a struct wg_uapi_device_info written out as the
 * key=value lines of a get reply, in wireguard-go's order. The text holds
 * the private key, so the buffer is wiped whenever it grows or goes.
 */
#include "uapi_format.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "addr.h"

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

/* Left out for an address of neither family. */
static void text_endpoint(struct text *t, const union wg_sockaddr *ep)
{
	char s[WG_SOCKADDR_STRLEN];

	if (!wg_sockaddr_format(ep, s, sizeof(s)))
		text_printf(t, "endpoint=%s\n", s);
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
