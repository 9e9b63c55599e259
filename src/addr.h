/* SPDX-License-Identifier: MIT */
#ifndef WGPIPE_ADDR_H
#define WGPIPE_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

/* A UDP endpoint, IPv4 or IPv6; sa.sa_family says which. */
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

#endif
