// SPDX-License-Identifier: MIT
/*
 * UDP sockets.
 *
 * The first set of a device binds its port without SO_REUSEPORT and
 * turns it on only afterwards: bound that way, the port is never one
 * another reuseport group already holds (the kernel would happily hand
 * out or share such a port with a socket that asked for reuse from the
 * start), yet our own later sets can still join it.
 */
#include "socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "log.h"

enum {
	SOCKET_BUFFER_BYTES = 4 << 20,
	RANDOM_PORT_TRIES = 100,
	SEND_CHUNK = 64,  /* datagrams per sendmmsg */
	/* One UDP_SEGMENT send: at most this many datagrams, this many
	 * bytes of payload in all. */
	GSO_MAX_SEGS = 64,
	GSO_MAX_BYTES = 65000,
	/* A size every route carries (IPv6's minimum MTU, less headers):
	 * GSO refused for it means no GSO at all. */
	GSO_SMALL = 1200,
	SEND_WAIT_MS = 1, /* for room in a full socket buffer */
};

enum reuse {
	REUSE_NONE,
	REUSE_AFTER_BIND,  /* the first set: claim the port, then share it */
	REUSE_BEFORE_BIND, /* the sets after it: join */
};

static const char *family_name(int family)
{
	return family == AF_INET ? "IPv4" : "IPv6";
}

static int set_int(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value)) ? -errno : 0;
}

/* Forcing needs CAP_NET_ADMIN; without it the kernel caps the plain
 * request at net.core.[rw]mem_max, which is fine too. */
static void set_buffers(int fd)
{
	if (set_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, SOCKET_BUFFER_BYTES))
		set_int(fd, SOL_SOCKET, SO_RCVBUF, SOCKET_BUFFER_BYTES);
	if (set_int(fd, SOL_SOCKET, SO_SNDBUFFORCE, SOCKET_BUFFER_BYTES))
		set_int(fd, SOL_SOCKET, SO_SNDBUF, SOCKET_BUFFER_BYTES);
}

static socklen_t any_address(union wg_sockaddr *a, int family, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->sa.sa_family = (sa_family_t)family;
	if (family == AF_INET) {
		a->in4.sin_port = htons(port);
		return sizeof(a->in4);
	}
	a->in6.sin6_port = htons(port);
	return sizeof(a->in6);
}

static uint16_t port_of(const union wg_sockaddr *a)
{
	return ntohs(a->sa.sa_family == AF_INET ? a->in4.sin_port
						: a->in6.sin6_port);
}

/* Socket options set before bind; *what names the one that failed. */
static int set_options(int fd, int family, uint32_t fwmark, enum reuse reuse,
		       const char **what)
{
	*what = "IPV6_V6ONLY";
	if (family == AF_INET6 && set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1))
		return -errno;
	*what = "SO_REUSEPORT";
	if (reuse == REUSE_BEFORE_BIND &&
	    set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1))
		return -errno;
	*what = "SO_MARK";
	if (fwmark && set_int(fd, SOL_SOCKET, SO_MARK, (int)fwmark))
		return -errno;
	/* Learn where each datagram was sent, to answer from there. */
	*what = family == AF_INET ? "IP_PKTINFO" : "IPV6_RECVPKTINFO";
	if (family == AF_INET ? set_int(fd, IPPROTO_IP, IP_PKTINFO, 1)
			      : set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1))
		return -errno;
	set_buffers(fd);
	return 0;
}

/* One socket bound to *port (0: the kernel's choice, read back into
 * *port). On error, *what names the step that failed. */
static int open_one(int family, uint16_t *port, uint32_t fwmark,
		    enum reuse reuse, int *out, const char **what)
{
	union wg_sockaddr addr;
	socklen_t len = any_address(&addr, family, *port);
	int fd, ret;

	*what = "socket";
	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    IPPROTO_UDP);
	if (fd < 0)
		return -errno;
	ret = set_options(fd, family, fwmark, reuse, what);
	if (ret)
		goto err_close;
	*what = "bind";
	if (bind(fd, &addr.sa, len))
		goto err_errno;
	*what = "SO_REUSEPORT";
	if (reuse == REUSE_AFTER_BIND &&
	    set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1))
		goto err_errno;
	*what = "getsockname";
	if (getsockname(fd, &addr.sa, &len))
		goto err_errno;
	*port = port_of(&addr);
	*out = fd;
	return 0;

err_errno:
	ret = -errno;
err_close:
	close(fd);
	return ret;
}

/*
 * Opens the wanted families on one port. A family the system lacks
 * (-EAFNOSUPPORT) is skipped, unless it leaves nothing. When the port was
 * random and IPv6 cannot have IPv4's, sets *retry and returns -EADDRINUSE
 * unlogged, so that the caller tries another.
 */
static int open_set(struct wg_socket_set *s, uint16_t port, uint32_t fwmark,
		    enum reuse reuse, const bool want[2], bool *retry)
{
	static const int families[2] = {AF_INET, AF_INET6};
	int *fds[2] = {&s->fd4, &s->fd6};
	uint16_t p = port;
	const char *what;
	int i, ret = -EAFNOSUPPORT;

	*s = (struct wg_socket_set){.fd4 = -1, .fd6 = -1, .fwmark = fwmark};
	for (i = 0; i < 2; i++) {
		if (!want[i])
			continue;
		ret = open_one(families[i], &p, fwmark, reuse, fds[i], &what);
		if (ret == -EAFNOSUPPORT) {
			log_debug("UDP: no %s", family_name(families[i]));
			continue;
		}
		*retry = ret == -EADDRINUSE && !port && s->fd4 >= 0;
		if (*retry)
			goto err_close;
		if (ret) {
			log_err("UDP %s port %u: %s: %s",
				family_name(families[i]), p, what,
				strerror(-ret));
			goto err_close;
		}
	}
	if (s->fd4 < 0 && s->fd6 < 0) {
		log_err("UDP: neither IPv4 nor IPv6 is available");
		return -EAFNOSUPPORT;
	}
	s->port = p;
	return 0;

err_close:
	wg_socket_set_close(s);
	return ret;
}

int wg_socket_set_open(struct wg_socket_set *s, uint16_t port, uint32_t fwmark,
		       bool reuseport)
{
	static const bool both[2] = {true, true};
	enum reuse reuse = reuseport ? REUSE_AFTER_BIND : REUSE_NONE;
	bool retry = false;
	int tries, ret;

	for (tries = 0; tries < RANDOM_PORT_TRIES; tries++) {
		ret = open_set(s, port, fwmark, reuse, both, &retry);
		if (!retry)
			return ret;
	}
	log_err("UDP: no random port was free for both IPv4 and IPv6 in "
		"%d tries",
		RANDOM_PORT_TRIES);
	return ret;
}

int wg_socket_set_open_like(struct wg_socket_set *s,
			    const struct wg_socket_set *first, bool reuseport)
{
	const bool want[2] = {first->fd4 >= 0, first->fd6 >= 0};
	bool retry = false;

	return open_set(s, first->port, first->fwmark,
			reuseport ? REUSE_BEFORE_BIND : REUSE_NONE, want,
			&retry);
}

static int set_mark(int fd, uint32_t fwmark)
{
	return fd < 0 ? 0 : set_int(fd, SOL_SOCKET, SO_MARK, (int)fwmark);
}

int wg_socket_set_fwmark(struct wg_socket_set *s, uint32_t fwmark)
{
	int ret;

	if (fwmark == s->fwmark)
		return 0;
	ret = set_mark(s->fd4, fwmark);
	if (!ret) {
		ret = set_mark(s->fd6, fwmark);
		if (ret)
			set_mark(s->fd4, s->fwmark);
	}
	if (ret) {
		log_err("cannot set fwmark 0x%x: %s", fwmark, strerror(-ret));
		return ret;
	}
	s->fwmark = fwmark;
	return 0;
}

void wg_socket_set_close(struct wg_socket_set *s)
{
	if (s->fd4 >= 0)
		close(s->fd4);
	if (s->fd6 >= 0)
		close(s->fd6);
	s->fd4 = s->fd6 = -1;
}

/* Errors an ICMP message can leave on a socket: about an earlier send,
 * not about this receive. */
static bool is_icmp_error(int err)
{
	return err == ECONNREFUSED || err == EHOSTUNREACH ||
	       err == ENETUNREACH || err == EHOSTDOWN;
}

int wg_socket_recv_burst(int fd, struct mmsghdr *msgs, unsigned int n)
{
	unsigned int i;
	int r;

	for (i = 0; i < n; i++)
		if (msgs[i].msg_hdr.msg_name)
			msgs[i].msg_hdr.msg_namelen = sizeof(union wg_sockaddr);
	do
		r = recvmmsg(fd, msgs, n, MSG_DONTWAIT, NULL);
	while (r < 0 && errno == EINTR);
	if (r >= 0)
		return r;
	if (errno == EAGAIN)
		return 0;
	if (is_icmp_error(errno)) {
		wg_log_ratelimited(WG_LOG_VERBOSE, "UDP receive: %s (ignored)",
				   strerror(errno));
		return 0;
	}
	return -errno;
}

static int socket_for(const struct wg_socket_set *s,
		      const union wg_sockaddr *dst, union wg_sockaddr *to,
		      socklen_t *len)
{
	*to = *dst;
	wg_sockaddr_unmap(to);
	if (to->sa.sa_family == AF_INET && s->fd4 >= 0) {
		*len = sizeof(to->in4);
		return s->fd4;
	}
	if (to->sa.sa_family == AF_INET6 && s->fd6 >= 0) {
		*len = sizeof(to->in6);
		return s->fd6;
	}
	return -EAFNOSUPPORT;
}

static void wait_writable(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};

	poll(&pfd, 1, SEND_WAIT_MS);
}

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

void wg_socket_set_offloads(struct wg_socket_set *s, bool gso, bool gro)
{
	int fds[2] = {s->fd4, s->fd6}, one = 1, probe = 1200, i;

	s->gso = gso;
	s->gso_max = GSO_MAX_BYTES;
	s->gro = gro;
	for (i = 0; i < 2; i++) {
		if (fds[i] < 0)
			continue;
		/* A socket that takes a UDP_SEGMENT size takes GSO sends. */
		if (s->gso && setsockopt(fds[i], SOL_UDP, UDP_SEGMENT, &probe,
					 sizeof(probe)))
			s->gso = false;
		if (s->gso) {
			probe = 0;
			setsockopt(fds[i], SOL_UDP, UDP_SEGMENT, &probe,
				   sizeof(probe));
		}
		if (s->gro &&
		    setsockopt(fds[i], SOL_UDP, UDP_GRO, &one, sizeof(one)))
			s->gro = false;
	}
	if (gso && !s->gso)
		log_info("UDP: the kernel refuses UDP_SEGMENT; sending "
			 "datagrams one by one");
	if (gro && !s->gro)
		log_info("UDP: the kernel refuses UDP_GRO; receiving "
			 "datagrams one by one");
}

/* How many of iov[0 .. n) one UDP_SEGMENT send can carry: equal sizes
 * of at most max bytes, a shorter last one closing the run. */
static unsigned int gso_run(const struct iovec *iov, unsigned int n,
			    size_t max)
{
	size_t size = iov[0].iov_len, total = size;
	unsigned int k = 1;

	if (size > max)
		return 1;
	while (k < n && k < GSO_MAX_SEGS && total + iov[k].iov_len <=
						   GSO_MAX_BYTES) {
		if (iov[k].iov_len > size)
			break;
		total += iov[k].iov_len;
		if (iov[k++].iov_len < size)
			break;
	}
	return k;
}

/* Room for a UDP_SEGMENT size and a source address. */
struct send_ctl {
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t)) +
			 CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} ctl;
};

static struct cmsghdr *next_cmsg(struct msghdr *m, struct cmsghdr *c,
				 int level, int type, size_t len)
{
	c = c ? (struct cmsghdr *)((char *)c + CMSG_SPACE(c->cmsg_len -
							  CMSG_LEN(0)))
	      : (struct cmsghdr *)m->msg_control;
	c->cmsg_level = level;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(len);
	m->msg_controllen += CMSG_SPACE(len);
	return c;
}

/* The control messages of one send: a GSO size (0: none) and the source
 * address to send from (NULL or family 0: the kernel's choice). */
static void add_cmsgs(struct msghdr *m, struct send_ctl *ctl, uint16_t gso,
		      const struct wg_src *src, int family)
{
	struct cmsghdr *c = NULL;

	m->msg_control = ctl->ctl.buf;
	m->msg_controllen = 0;
	if (gso) {
		c = next_cmsg(m, c, SOL_UDP, UDP_SEGMENT, sizeof(gso));
		memcpy(CMSG_DATA(c), &gso, sizeof(gso));
	}
	if (src && src->family == AF_INET && family == AF_INET) {
		struct in_pktinfo pi = {.ipi_spec_dst = src->v4};

		c = next_cmsg(m, c, IPPROTO_IP, IP_PKTINFO, sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	} else if (src && src->family == AF_INET6 && family == AF_INET6) {
		struct in6_pktinfo pi = {.ipi6_addr = src->v6,
					 .ipi6_ifindex = (unsigned)src->ifindex};

		c = next_cmsg(m, c, IPPROTO_IPV6, IPV6_PKTINFO, sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	}
	if (!m->msg_controllen)
		m->msg_control = NULL;
}

struct send_job {
	const struct wg_socket_set *s;
	int fd;
	union wg_sockaddr to;
	socklen_t tolen;
	const struct wg_src *src;
	bool gso;
	size_t gso_max;
};

/* Fills msgs with up to SEND_CHUNK messages from iov (GSO runs where
 * on); returns how many messages, and in counts[] how many datagrams
 * each carries. */
static unsigned int build(struct send_job *j, struct mmsghdr *msgs,
			  struct send_ctl *ctl, unsigned int *counts,
			  struct iovec *iov, unsigned int n)
{
	unsigned int m = 0, off = 0, k;

	while (off < n && m < SEND_CHUNK) {
		k = j->gso ? gso_run(&iov[off], n - off, j->gso_max) : 1;
		msgs[m] = (struct mmsghdr){
			.msg_hdr = {.msg_name = &j->to,
				    .msg_namelen = j->tolen,
				    .msg_iov = &iov[off],
				    .msg_iovlen = k},
		};
		add_cmsgs(&msgs[m].msg_hdr, &ctl[m],
			  k > 1 ? (uint16_t)iov[off].iov_len : 0, j->src,
			  j->to.sa.sa_family);
		counts[m++] = k;
		off += k;
	}
	return m;
}

/* The kernel refused a GSO send (segs datagrams of size bytes). EMSGSIZE
 * (EINVAL on older kernels) for large datagrams means they exceed the
 * route's MTU, which UDP_SEGMENT does not fragment: such sizes go out
 * one by one from now on, fragmented by the kernel, as the kernel
 * module's and wireguard-go's datagrams are. Otherwise the route takes
 * no GSO at all (no checksum offload, say): turn it off for good. True
 * when the send is worth trying again without. */
static bool gso_refused(struct send_job *j, int err, unsigned int segs,
			size_t size)
{
	struct wg_socket_set *s = (struct wg_socket_set *)j->s;

	if (!j->gso || segs < 2 ||
	    (err != EIO && err != EINVAL && err != ENOPROTOOPT &&
	     err != EMSGSIZE))
		return false;
	if ((err == EINVAL || err == EMSGSIZE) && size > GSO_SMALL) {
		if (wg_read_once(s->gso_max) == GSO_MAX_BYTES)
			log_info("UDP: %zu-byte datagrams exceed the route's "
				 "MTU; sending such sizes one by one, "
				 "fragmented (said once)",
				 size);
		j->gso_max = size - 1;
		if (wg_read_once(s->gso_max) > j->gso_max)
			wg_write_once(s->gso_max, (unsigned int)j->gso_max);
		return true;
	}
	if (wg_exchange(s->gso, 0))
		log_info("UDP: UDP_SEGMENT failed (%s); sending datagrams "
			 "one by one from now on", strerror(err));
	j->gso = false;
	return true;
}

static int send_all(struct send_job *j, struct iovec *iov, unsigned int n,
		    unsigned int *sent, unsigned int *sends)
{
	struct mmsghdr msgs[SEND_CHUNK];
	struct send_ctl ctl[SEND_CHUNK];
	unsigned int counts[SEND_CHUNK], m, i;
	bool waited = false;
	int r;

	while (*sent < n) {
		m = build(j, msgs, ctl, counts, &iov[*sent], n - *sent);
		r = sendmmsg(j->fd, msgs, m, MSG_DONTWAIT);
		if (r > 0) {
			for (i = 0; i < (unsigned int)r; i++)
				*sent += counts[i];
			*sends += (unsigned int)r;
			waited = false;
		} else if (r < 0 && errno == EAGAIN && !waited) {
			wait_writable(j->fd);
			waited = true;
		} else if (r < 0 && gso_refused(j, errno, counts[0],
						iov[*sent].iov_len)) {
			continue; /* again, one datagram per message */
		} else if (r == 0 || errno != EINTR) {
			return r < 0 ? -errno : -EIO;
		}
	}
	return 0;
}

int wg_socket_send_burst_from(const struct wg_socket_set *s,
			      const union wg_sockaddr *dst,
			      const struct wg_src *src, struct iovec *iov,
			      unsigned int n, unsigned int *sent,
			      unsigned int *sends)
{
	struct send_job j = {.s = s, .src = src};
	unsigned int none;

	*sent = 0;
	if (!sends)
		sends = &none;
	*sends = 0;
	j.fd = socket_for(s, dst, &j.to, &j.tolen);
	if (j.fd < 0)
		return j.fd;
	j.gso = n > 1 && wg_read_once(s->gso);
	j.gso_max = wg_read_once(s->gso_max);
	return send_all(&j, iov, n, sent, sends);
}

int wg_socket_send_burst(const struct wg_socket_set *s,
			 const union wg_sockaddr *dst, struct iovec *iov,
			 unsigned int n, unsigned int *sent)
{
	return wg_socket_send_burst_from(s, dst, NULL, iov, n, sent, NULL);
}

int wg_socket_send_one(const struct wg_socket_set *s,
		       const union wg_sockaddr *dst, const void *buf,
		       size_t len)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	unsigned int sent;

	return wg_socket_send_burst(s, dst, &iov, 1, &sent);
}

/* ---- Datagrams each to its own address: wg_socket_send_many ---- */

/* A datagram not yet tried: err > 0, never 0 or a -errno. */
enum { DATAGRAM_PENDING = 1 };

bool wg_socket_src_refused(int err)
{
	return err == -EINVAL || err == -EADDRNOTAVAIL || err == -ENETUNREACH;
}

/* Up to SEND_CHUNK messages for one socket, and the datagram of each. */
struct many_chunk {
	struct mmsghdr msgs[SEND_CHUNK];
	struct send_ctl ctl[SEND_CHUNK];
	union wg_sockaddr to[SEND_CHUNK];
	struct wg_datagram *dg[SEND_CHUNK];
	unsigned int m;
};

/* Fills c with the pending datagrams of d[*next .. n) that leave through
 * fd; *next moves past those looked at. */
static void build_many(const struct wg_socket_set *s, int fd,
		       struct many_chunk *c, struct wg_datagram *d,
		       unsigned int n, unsigned int *next)
{
	struct wg_datagram *g;
	socklen_t tolen;
	unsigned int k;

	for (c->m = 0; *next < n && c->m < SEND_CHUNK; (*next)++) {
		g = &d[*next];
		k = c->m;
		if (g->err != DATAGRAM_PENDING ||
		    socket_for(s, &g->dst, &c->to[k], &tolen) != fd)
			continue;
		c->msgs[k] = (struct mmsghdr){
			.msg_hdr = {.msg_name = &c->to[k],
				    .msg_namelen = tolen,
				    .msg_iov = &g->iov,
				    .msg_iovlen = 1},
		};
		add_cmsgs(&c->msgs[k].msg_hdr, &c->ctl[k], 0, &g->src,
			  c->to[k].sa.sa_family);
		c->dg[c->m++] = g;
	}
}

/* Sends c's messages on fd; one the kernel refuses is skipped with its
 * error, and a buffer still full after a wait fails the rest. Returns
 * how many went out. */
static unsigned int send_chunk(int fd, struct many_chunk *c)
{
	unsigned int off = 0, sent = 0;
	bool waited = false;
	int r;

	while (off < c->m) {
		r = sendmmsg(fd, &c->msgs[off], c->m - off, MSG_DONTWAIT);
		if (r > 0) {
			sent += (unsigned int)r;
			while (r--)
				c->dg[off++]->err = 0;
			waited = false;
		} else if (r < 0 && errno == EINTR) {
			continue;
		} else if (r < 0 && errno == EAGAIN && !waited) {
			wait_writable(fd);
			waited = true;
		} else if (r < 0 && errno == EAGAIN) {
			while (off < c->m)
				c->dg[off++]->err = -EAGAIN;
		} else {
			c->dg[off++]->err = r < 0 ? -errno : -EIO;
		}
	}
	return sent;
}

/* Every pending datagram of d[0 .. n): the IPv4 ones, then the IPv6. */
static unsigned int send_pending(const struct wg_socket_set *s,
				 struct wg_datagram *d, unsigned int n)
{
	const int fds[2] = {s->fd4, s->fd6};
	unsigned int sent = 0, next, i;
	struct many_chunk c;

	for (i = 0; i < 2; i++) {
		for (next = 0; fds[i] >= 0 && next < n;) {
			build_many(s, fds[i], &c, d, n, &next);
			sent += send_chunk(fds[i], &c);
		}
	}
	return sent;
}

/* Pending, or -EAFNOSUPPORT without a socket of the family. */
static void mark_pending(const struct wg_socket_set *s, struct wg_datagram *d,
			 unsigned int n)
{
	union wg_sockaddr to;
	socklen_t len;
	unsigned int i;
	int fd;

	for (i = 0; i < n; i++) {
		fd = socket_for(s, &d[i].dst, &to, &len);
		d[i].err = fd < 0 ? fd : DATAGRAM_PENDING;
	}
}

/* Pending again without its source, each datagram whose source the
 * kernel refused; false when there is none. */
static bool mark_src_refused(struct wg_datagram *d, unsigned int n)
{
	unsigned int i;
	bool any = false;

	for (i = 0; i < n; i++) {
		if (d[i].src.family && wg_socket_src_refused(d[i].err)) {
			d[i].src.family = 0;
			d[i].err = DATAGRAM_PENDING;
			any = true;
		}
	}
	return any;
}

unsigned int wg_socket_send_many(const struct wg_socket_set *s,
				 struct wg_datagram *d, unsigned int n)
{
	unsigned int sent;

	mark_pending(s, d, n);
	sent = send_pending(s, d, n);
	if (sent < n && mark_src_refused(d, n))
		sent += send_pending(s, d, n);
	return sent;
}

bool wg_src_from_cmsg(struct wg_src *src, struct msghdr *m)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			*src = (struct wg_src){.family = AF_INET,
					       .ifindex = pi.ipi_ifindex,
					       .v4 = pi.ipi_addr};
			return true;
		}
		if (c->cmsg_level == IPPROTO_IPV6 &&
		    c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			*src = (struct wg_src){.family = AF_INET6,
					       .ifindex = (int)pi.ipi6_ifindex,
					       .v6 = pi.ipi6_addr};
			return true;
		}
	}
	src->family = 0;
	return false;
}
