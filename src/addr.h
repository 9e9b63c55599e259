/* SPDX-License-Identifier: MIT */
/*
 * Endpoint addresses: the type, and its text form on the UAPI socket
 * (src/addr.c), read and written the one way wg(8) expects.
 */
#ifndef WGPIPE_ADDR_H
#define WGPIPE_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/*
 * A UDP endpoint, IPv4 or IPv6; sa.sa_family says which. A v4-mapped
 * IPv6 endpoint (::ffff:a.b.c.d, set so through the UAPI) is kept as
 * given; the UDP side sends to it over IPv4.
 */
union wg_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

/*
 * Our own address that a peer's packets arrived at, so that answers leave
 * from it ("sticky" source address) on a host with several. family 0:
 * not known, the kernel picks.
 */
struct wg_src {
	int family;
	int ifindex;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	};
};

/* Room for any endpoint wg_sockaddr_format writes, and one more than the
 * longest text wg_sockaddr_parse reads: "[" + address + "%" + scope +
 * "]:" + port + NUL. */
enum { WG_SOCKADDR_STRLEN = 72 };

/*
 * Reads a numeric endpoint, as wg(8) sends it on the UAPI socket:
 * "192.0.2.1:51820", "[2001:db8::1]:51820", "[fe80::1%eth0]:51820" or
 * "[fe80::1%2]:51820" (scope by interface name or index). No host names:
 * wg(8) resolves them first. The port is decimal digits, leading zeros
 * allowed, from 0 to 65535: port 0 is accepted, as the kernel module and
 * wireguard-go accept it, though nothing can be sent to it. A v4-mapped
 * address ("[::ffff:192.0.2.1]:51820") stays IPv6, as there. Returns 0,
 * or -EINVAL for anything else (also for text of WG_SOCKADDR_STRLEN
 * characters or more), leaving *out untouched.
 */
int wg_sockaddr_parse(union wg_sockaddr *out, const char *text);
/*
 * Writes the same form back: IPv4 as "a.b.c.d:port", IPv6 as
 * "[addr]:port" or, with a scope, "[addr%index]:port" (a number, which
 * reads back whatever the interface is called by then); a v4-mapped
 * address as "[::ffff:a.b.c.d]:port". Returns 0, -ENOSPC if len is too
 * short (WG_SOCKADDR_STRLEN never is), -EAFNOSUPPORT for another family.
 */
int wg_sockaddr_format(const union wg_sockaddr *a, char *buf, size_t len);
/* Same family, address, port (and IPv6 scope), after unmapping. */
bool wg_sockaddr_equal(const union wg_sockaddr *a, const union wg_sockaddr *b);
/* Rewrites a v4-mapped IPv6 address (::ffff:a.b.c.d) as IPv4. */
void wg_sockaddr_unmap(union wg_sockaddr *a);

#endif
