// SPDX-License-Identifier: MIT
/*
 * Endpoint text: the one parser and the one formatter of "host:port" that
 * the UAPI set and get use; and the unmapping and the comparison that the
 * UDP side uses.
 */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

void wg_sockaddr_unmap(union wg_sockaddr *a)
{
	struct sockaddr_in in4 = {.sin_family = AF_INET};

	if (a->sa.sa_family != AF_INET6 ||
	    !IN6_IS_ADDR_V4MAPPED(&a->in6.sin6_addr))
		return;
	in4.sin_port = a->in6.sin6_port;
	memcpy(&in4.sin_addr, &a->in6.sin6_addr.s6_addr[12], 4);
	memset(a, 0, sizeof(*a));
	a->in4 = in4;
}

/* An interface index ("2") or name ("eth0"), as getnameinfo writes it
 * for wg(8); an index of 0 is no scope. */
static bool parse_scope(const char *text, uint32_t *scope)
{
	uint64_t v;

	if (wg_text_decimal(text, strlen(text), UINT32_MAX, &v)) {
		*scope = (uint32_t)v;
		return true;
	}
	*scope = if_nametoindex(text);
	return *scope != 0;
}

/* host is "addr" or "addr%scope", and writable. */
static bool parse_ipv6(struct sockaddr_in6 *in6, char *host)
{
	char *percent = strchr(host, '%');

	in6->sin6_family = AF_INET6;
	if (percent) {
		*percent = '\0';
		if (!parse_scope(percent + 1, &in6->sin6_scope_id))
			return false;
	}
	return inet_pton(AF_INET6, host, &in6->sin6_addr) == 1;
}

/* "[host]:port" or "host:port" into host (room for WG_SOCKADDR_STRLEN)
 * and *port: the bracketed host ends at the first ']', the other at the
 * last ':'. */
static bool split(const char *text, char *host, const char **port)
{
	const char *start = text, *end;

	if (text[0] == '[') {
		start++;
		end = strchr(start, ']');
		if (!end || end[1] != ':')
			return false;
		*port = end + 2;
	} else {
		end = strrchr(text, ':');
		if (!end)
			return false;
		*port = end + 1;
	}
	memcpy(host, start, (size_t)(end - start));
	host[end - start] = '\0';
	return true;
}

int wg_sockaddr_parse(union wg_sockaddr *out, const char *text)
{
	char host[WG_SOCKADDR_STRLEN];
	union wg_sockaddr a;
	const char *port;
	uint64_t portnum;

	memset(&a, 0, sizeof(a)); /* all of it, not just the first member */
	if (strnlen(text, WG_SOCKADDR_STRLEN) == WG_SOCKADDR_STRLEN ||
	    !split(text, host, &port) ||
	    !wg_text_decimal(port, strlen(port), UINT16_MAX, &portnum))
		return -EINVAL;
	if (text[0] == '[') {
		if (!parse_ipv6(&a.in6, host))
			return -EINVAL;
		a.in6.sin6_port = htons((uint16_t)portnum);
	} else {
		if (inet_pton(AF_INET, host, &a.in4.sin_addr) != 1)
			return -EINVAL;
		a.in4.sin_family = AF_INET;
		a.in4.sin_port = htons((uint16_t)portnum);
	}
	*out = a;
	return 0;
}

int wg_sockaddr_format(const union wg_sockaddr *a, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	int n;

	switch (a->sa.sa_family) {
	case AF_INET:
		inet_ntop(AF_INET, &a->in4.sin_addr, host, sizeof(host));
		n = snprintf(buf, len, "%s:%u", host, ntohs(a->in4.sin_port));
		break;
	case AF_INET6:
		inet_ntop(AF_INET6, &a->in6.sin6_addr, host, sizeof(host));
		if (a->in6.sin6_scope_id)
			n = snprintf(buf, len, "[%s%%%u]:%u", host,
				     a->in6.sin6_scope_id,
				     ntohs(a->in6.sin6_port));
		else
			n = snprintf(buf, len, "[%s]:%u", host,
				     ntohs(a->in6.sin6_port));
		break;
	default:
		return -EAFNOSUPPORT;
	}
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

bool wg_sockaddr_equal(const union wg_sockaddr *a, const union wg_sockaddr *b)
{
	union wg_sockaddr x = *a, y = *b;

	wg_sockaddr_unmap(&x);
	wg_sockaddr_unmap(&y);
	if (x.sa.sa_family != y.sa.sa_family)
		return false;
	if (x.sa.sa_family == AF_INET)
		return x.in4.sin_port == y.in4.sin_port &&
		       x.in4.sin_addr.s_addr == y.in4.sin_addr.s_addr;
	if (x.sa.sa_family == AF_INET6)
		return x.in6.sin6_port == y.in6.sin6_port &&
		       x.in6.sin6_scope_id == y.in6.sin6_scope_id &&
		       !memcmp(&x.in6.sin6_addr, &y.in6.sin6_addr,
			       sizeof(x.in6.sin6_addr));
	return false;
}
