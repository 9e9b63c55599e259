/* SPDX-License-Identifier: MIT */
/*
 * udpseq: a numbered UDP stream, to see whether a tunnel reorders.
 *
 *   udpseq send [-r PACKETS_PER_S] [-b BURST] [-g SEGMENTS] HOST PORT
 *               COUNT SIZE
 *   udpseq recv [-4|-6] [-w FIRST_S] [-l SIZE] PORT COUNT TIMEOUT_MS
 *
 * Every datagram starts with its 64-bit sequence number (big-endian),
 * 0 .. COUNT-1, and the rest is a pattern made from that number, so that
 * a datagram cut, padded or corrupted on the way shows. The sender sends
 * them in order, BURST back to back (default 32), pacing bursts to
 * PACKETS_PER_S (default 50000, 0: no pacing), and prints "sent N". With
 * -g it hands the kernel SEGMENTS datagrams per send as one UDP_SEGMENT
 * super-datagram (the last of a burst may be shorter), which a TUN
 * device with USO passes on whole. The receiver prints "listening PORT",
 * waits up to FIRST_S seconds (default 30) for the first datagram, then
 * stops when all COUNT arrived or none came for TIMEOUT_MS, and prints
 *   received N reordered R duplicates D lost L malformed M
 *   socket_drops S
 * where a reordering is a datagram whose number is lower than one already
 * seen (and not a duplicate), and a malformed one has a number out of
 * range, a pattern that is not its number's, or with -l a length other
 * than SIZE; S is what the kernel dropped for a full receive buffer on
 * the receiver's own socket. Exit status 0, or 1 on a setup error.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/sock_diag.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { MAX_SIZE = 65507, RCVBUF = 16 << 20, MAX_SEGS = 64 };

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

static void die(const char *what)
{
	fprintf(stderr, "udpseq: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: udpseq send [-r PACKETS_PER_S] [-b BURST] [-g SEGMENTS] "
		"HOST PORT COUNT SIZE\n"
		"       udpseq recv [-4|-6] [-w FIRST_S] [-l SIZE] PORT COUNT "
		"TIMEOUT_MS\n");
	exit(1);
}

static uint64_t number(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-') {
		fprintf(stderr, "udpseq: not a number: '%s'\n", s);
		exit(1);
	}
	return v;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void sleep_until(uint64_t ns)
{
	struct timespec ts = {.tv_sec = ns / 1000000000ULL,
			      .tv_nsec = ns % 1000000000ULL};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = v & 0xff;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Datagram seq: its number, then bytes that depend on it. */
static void fill(uint8_t *buf, uint64_t seq, uint64_t size)
{
	put_be64(buf, seq);
	for (uint64_t i = 8; i < size; i++)
		buf[i] = (uint8_t)(seq * 131 + i);
}

static bool pattern_ok(const uint8_t *buf, uint64_t seq, size_t size)
{
	for (size_t i = 8; i < size; i++)
		if (buf[i] != (uint8_t)(seq * 131 + i))
			return false;
	return true;
}

/* Sends n datagrams from buf (size bytes each, the last one maybe
 * shorter: last) as one UDP_SEGMENT send, or one by one. */
static void send_some(int fd, const uint8_t *buf, uint64_t size, uint64_t n,
		      uint64_t last, bool gso)
{
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = (void *)buf,
			    .iov_len = (n - 1) * size + last};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	uint16_t seg = (uint16_t)size;
	struct cmsghdr *c;

	if (gso && n > 1) {
		m.msg_control = ctl.buf;
		m.msg_controllen = sizeof(ctl.buf);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(seg));
		memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	} else if (n > 1) {
		for (uint64_t i = 0; i < n; i++)
			send_some(fd, buf + i * size, size, 1,
				  i + 1 < n ? size : last, false);
		return;
	}
	while (sendmsg(fd, &m, 0) < 0) {
		/* A full queue or a route still coming up: retry. */
		if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR &&
		    errno != ECONNREFUSED && errno != ENOKEY)
			die("send");
		usleep(1000);
	}
}

static int do_send(int argc, char **argv)
{
	uint64_t rate = 50000, burst = 32, count, size, start, seq, segs = 1;
	uint64_t n, i;
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *ai;
	static uint8_t buf[MAX_SEGS * (MAX_SIZE + 1)];
	int opt, fd, rc, sndbuf = RCVBUF;

	while ((opt = getopt(argc, argv, "r:b:g:")) != -1) {
		switch (opt) {
		case 'r':
			rate = number(optarg);
			break;
		case 'b':
			burst = number(optarg);
			break;
		case 'g':
			segs = number(optarg);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 4)
		usage();
	count = number(argv[optind + 2]);
	size = number(argv[optind + 3]);
	if (size < 8 || size > MAX_SIZE || !burst || !segs || segs > MAX_SEGS ||
	    (segs > 1 && segs * size > 65000))
		usage();
	/* A run never spans two bursts: pacing stays per burst. */
	if (segs > burst)
		segs = burst;
	rc = getaddrinfo(argv[optind], argv[optind + 1], &hints, &ai);
	if (rc) {
		fprintf(stderr, "udpseq: %s: %s\n", argv[optind],
			gai_strerror(rc));
		return 1;
	}
	fd = socket(ai->ai_family, SOCK_DGRAM, 0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		die("connect");
	freeaddrinfo(ai);
	start = now_ns();
	for (seq = 0; seq < count; seq += n) {
		if (rate && seq % burst == 0)
			sleep_until(start + seq * 1000000000ULL / rate);
		n = segs;
		if (n > count - seq)
			n = count - seq;
		if (n > burst - seq % burst)
			n = burst - seq % burst;
		for (i = 0; i < n; i++)
			fill(buf + i * size, seq + i, size);
		send_some(fd, buf, size, n, size, segs > 1);
	}
	printf("sent %" PRIu64 "\n", count);
	return 0;
}

static int open_listener(int family, uint16_t port)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6,
				  .sin6_port = htons(port),
				  .sin6_addr = IN6ADDR_ANY_INIT};
	struct sockaddr_in a4 = {.sin_family = AF_INET,
				 .sin_port = htons(port)};
	int v6only = family == AF_INET6, rcvbuf = RCVBUF, fd;

	fd = socket(family == AF_INET ? AF_INET : AF_INET6, SOCK_DGRAM, 0);
	if (fd < 0)
		die("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
		       sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (family != AF_INET) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
			   sizeof(v6only));
		if (bind(fd, (struct sockaddr *)&a6, sizeof(a6)) < 0)
			die("bind");
	} else if (bind(fd, (struct sockaddr *)&a4, sizeof(a4)) < 0) {
		die("bind");
	}
	printf("listening %u\n", port);
	fflush(stdout);
	return fd;
}

/* What the kernel dropped on this socket (a full receive buffer), one
 * per datagram; 0 if the kernel does not say. */
static unsigned int socket_drops(int fd)
{
	uint32_t mem[SK_MEMINFO_VARS] = {0};
	socklen_t len = sizeof(mem);

	if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) < 0 ||
	    len <= SK_MEMINFO_DROPS * sizeof(mem[0]))
		return 0;
	return mem[SK_MEMINFO_DROPS];
}

static int do_recv(int argc, char **argv)
{
	uint64_t count, received = 0, reordered = 0, dups = 0, bad = 0;
	uint64_t max_seen = 0, want_len = 0;
	int family = AF_UNSPEC, first_s = 30, opt, fd, timeout_ms;
	static uint8_t buf[MAX_SIZE];
	uint8_t *seen;

	while ((opt = getopt(argc, argv, "46w:l:")) != -1) {
		switch (opt) {
		case '4':
			family = AF_INET;
			break;
		case '6':
			family = AF_INET6;
			break;
		case 'w':
			first_s = number(optarg);
			break;
		case 'l':
			want_len = number(optarg);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 3)
		usage();
	count = number(argv[optind + 1]);
	timeout_ms = number(argv[optind + 2]);
	seen = calloc(count / 8 + 1, 1);
	if (!seen)
		die("calloc");
	fd = open_listener(family, number(argv[optind]));
	while (received < count) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int wait = received + bad ? timeout_ms : first_s * 1000;
		ssize_t n;
		uint64_t seq;

		if (poll(&p, 1, wait) == 0)
			break;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("recv");
		if (n < 8 || (seq = get_be64(buf)) >= count ||
		    (want_len && (uint64_t)n != want_len) ||
		    !pattern_ok(buf, seq, (size_t)n)) {
			bad++;
			continue;
		}
		if (seen[seq / 8] & 1 << seq % 8) {
			dups++;
			continue;
		}
		seen[seq / 8] |= 1 << seq % 8;
		if (received && seq < max_seen)
			reordered++;
		if (seq > max_seen)
			max_seen = seq;
		received++;
	}
	printf("received %" PRIu64 " reordered %" PRIu64 " duplicates %" PRIu64
	       " lost %" PRIu64 " malformed %" PRIu64 "\n",
	       received, reordered, dups, count - received, bad);
	printf("socket_drops %u\n", socket_drops(fd));
	free(seen);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "send"))
		return do_send(argc - 1, argv + 1);
	if (!strcmp(argv[1], "recv"))
		return do_recv(argc - 1, argv + 1);
	usage();
	return 1;
}
