/* SPDX-License-Identifier: MIT */
/*
 * The UDP side: a set is one IPv4 and one IPv6 (V6ONLY) socket on one
 * port. Each UDP reader owns a set; readers after the first open theirs
 * with wg_socket_set_open_like, sharing the port through SO_REUSEPORT,
 * and the kernel spreads senders over them by flow. Sockets are
 * nonblocking; any thread may send on any set, since each sendmmsg is
 * atomic per datagram. Opening, closing and the fwmark are for one
 * thread at a time (the device mutex).
 */
#ifndef WGPIPE_SOCKET_H
#define WGPIPE_SOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "addr.h"

struct wg_socket_set {
	int fd4, fd6; /* either may be -1 (family unsupported), not both */
	uint16_t port;
	uint32_t fwmark;
	/* Offloads in use: UDP_SEGMENT on send (turned off, once, if the
	 * kernel refuses it at run time) and UDP_GRO on receive. */
	int gso; /* shared: wg_read_once, wg_exchange */
	/* shared: the largest datagram sent in GSO runs; lowered when a
	 * route's MTU is smaller (larger ones go out one by one). */
	unsigned int gso_max;
	bool gro;
};

/* Largest UDP_GRO datagram a receiver must be ready for. */
enum { WG_UDP_GRO_MAX = 65535 };

/*
 * Binds 0.0.0.0:port and [::]:port; port 0 picks a random port free in
 * both families. The port is claimed exclusively: it fails with
 * -EADDRINUSE if anyone holds it, even another reuseport group. With
 * reuseport, later sets of ours may join with wg_socket_set_open_like.
 * fwmark 0 sets no mark. On error, s is closed (both fds -1).
 */
int wg_socket_set_open(struct wg_socket_set *s, uint16_t port, uint32_t fwmark,
		       bool reuseport);
/* Another set on first's port, mark and families (for reader N > 1);
 * first must have been opened with reuseport, and so must this. */
int wg_socket_set_open_like(struct wg_socket_set *s,
			    const struct wg_socket_set *first, bool reuseport);
/* Sets the mark on both sockets, or on neither. */
int wg_socket_set_fwmark(struct wg_socket_set *s, uint32_t fwmark);
/* Ask for UDP_SEGMENT sends and UDP_GRO receives; each is kept only
 * where the kernel accepts it (said once in the log). */
void wg_socket_set_offloads(struct wg_socket_set *s, bool gso, bool gro);
/* Safe on a set that failed to open; not on a zeroed one (fd 0). */
void wg_socket_set_close(struct wg_socket_set *s);

/*
 * Receives up to n datagrams without waiting; returns how many, or
 * -errno. Nothing ready gives 0, and so does a transient error that an
 * ICMP message left on the socket. The caller prepares each msg_hdr
 * with its iovec and msg_name pointing to a union wg_sockaddr, whose
 * msg_namelen is reset here; it resets msg_controllen itself if used.
 * A datagram longer than its buffer is cut and has MSG_TRUNC in
 * msg_flags.
 */
int wg_socket_recv_burst(int fd, struct mmsghdr *msgs, unsigned int n);
/*
 * Sends iov[0 .. n) as n datagrams to dst (runs of equal size as one
 * UDP_SEGMENT send where s->gso is on), on the socket of dst's family
 * (v4-mapped IPv6 goes out as IPv4). *sent counts those that left, in
 * order. Returns 0 when all did, or -errno, not logged, with
 * iov[*sent .. n) unsent: -EAGAIN after waiting about a millisecond for
 * room, -EAFNOSUPPORT without a socket of that family, and whatever the
 * route says (-ENETUNREACH, -EHOSTUNREACH, -EPERM, -EMSGSIZE ...).
 */
int wg_socket_send_burst(const struct wg_socket_set *s,
			 const union wg_sockaddr *dst, struct iovec *iov,
			 unsigned int n, unsigned int *sent);
/* The same, leaving from our address src (NULL: the kernel's choice).
 * A source no longer ours gives -EINVAL or -EADDRNOTAVAIL. *sends (when
 * not NULL) counts the messages they went out in: fewer than *sent where
 * UDP_SEGMENT joined datagrams. */
int wg_socket_send_burst_from(const struct wg_socket_set *s,
			      const union wg_sockaddr *dst,
			      const struct wg_src *src, struct iovec *iov,
			      unsigned int n, unsigned int *sent,
			      unsigned int *sends);
/* One datagram of wg_socket_send_many(): each has its own destination
 * and source, as cookie replies to a flood of initiations do. */
struct wg_datagram {
	union wg_sockaddr dst;
	struct wg_src src; /* our address to leave from; family 0: any */
	struct iovec iov;
	int err; /* set there: 0 once sent, else -errno */
};
/*
 * Sends d[0 .. n), each to its own dst from its own src, in one
 * sendmmsg per family and 64 datagrams when all goes well. A
 * datagram the kernel refuses is skipped, its err saying why, and the
 * rest still go; one whose source is no longer ours (wg_socket_src_refused)
 * goes once more without it, and its src.family is then 0. Waits about
 * a millisecond for room in a full socket buffer, as a burst does.
 * Returns how many were sent: each is one message (no UDP_SEGMENT).
 */
unsigned int wg_socket_send_many(const struct wg_socket_set *s,
				 struct wg_datagram *d, unsigned int n);
/* The errors of a send from a source address that is no longer ours
 * (or no longer routes); the send may go again without it. */
bool wg_socket_src_refused(int err);
/* Reads IP_PKTINFO / IPV6_PKTINFO from a received message's control
 * data: where it was sent to. False (and src->family 0) without one. */
bool wg_src_from_cmsg(struct wg_src *src, struct msghdr *m);
/* Control room a receiver needs for UDP_GRO and the packet info. */
enum { WG_RECV_CMSG_SPACE = 128 };
int wg_socket_send_one(const struct wg_socket_set *s,
		       const union wg_sockaddr *dst, const void *buf,
		       size_t len);

#endif
