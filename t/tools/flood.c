/* SPDX-License-Identifier: MIT */
/*
 * flood: the three floods of t/e2e/e2e_flood.sh, from inside the attacker's
 * network namespace, over IPv4 or IPv6 (the family of the addresses given).
 *
 *   flood garbage HOST PORT SECONDS
 *   flood init -k PUBKEY [-n SOURCES] [-c IFACE [-m]] SRCBASE DST PORT SECONDS
 *   flood replay [-l LEN] [-c COPIES] [-d DELAY_MS] [-x] IFACE DST PORT COUNT
 *
 * garbage: datagrams of 1..1400 random bytes to HOST PORT, 64 per
 *   sendmmsg, as fast as one thread can, for SECONDS. Prints
 *   "garbage sent N seconds S pps R".
 * init: handshake initiations (148 bytes, random body, MAC1 valid for
 *   PUBKEY, the victim's public key, MAC2 zero) in IP/UDP packets built
 *   by hand on a raw socket, so that each comes from another source, in
 *   turn: IPv4 SRCBASE+1 .. SRCBASE+SOURCES (default 4096); IPv6 the
 *   /64s that follow SRCBASE's, SRCBASE/64 + 1 .. + SOURCES, each time
 *   with a random interface identifier (a victim keys IPv6 sources by
 *   /64, as the kernel's rate limiter does). Source ports vary. The
 *   victim must route SRCBASE's network back to us for its answers. With
 *   -c IFACE, cookie replies (type 3, 64 bytes) arriving on IFACE from
 *   PORT whose receiver index is one of our sender indexes are counted.
 *   With -m as well, the first MAX_COOKIES of them are opened (the cookie
 *   key is derived from the public key, so anyone can) and every other
 *   initiation then goes out from one of those (address, port) pairs
 *   with a valid MAC2: what a botnet of real hosts could do, and what the
 *   per-source rate limiter is for. Prints "init sent N seconds S pps R
 *   sources K cookies C with_mac2 M".
 * replay: captures COUNT transport data messages (type 4, of LEN bytes
 *   if -l) that leave through IFACE for DST PORT (an AF_PACKET socket;
 *   super-packets of UDP GSO are cut at their segment size), waits
 *   DELAY_MS (default 500), and sends each again, COPIES times (default
 *   3) with DELAY_MS between rounds, with its original source address
 *   and port. Prints "replay captured N injected M". With -x, each copy
 *   has the last byte of its tag flipped: it must fail authentication
 *   rather than the replay check.
 * Exit status 0, or 1 with a reason on stderr.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if_arp.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
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

#include <sodium.h>

#include "crypto/blake2s.h"

enum {
	VLEN = 64, /* datagrams per sendmmsg */
	GARBAGE_MAX = 1400,
	INIT_LEN = 148,
	COOKIE_LEN = 64,
	NINITS = 64, /* distinct initiations, sent in turn */
	KEY_LEN = 32,
	MAC_LEN = 16,
	UDP_HDR = sizeof(struct udphdr),
	MAX_HDRS = sizeof(struct ip6_hdr) + UDP_HDR, /* IPv4's are shorter */
	MAX_MSG = 1500,
	CAPTURE_BUF = 65536 + sizeof(struct virtio_net_hdr),
	COOKIE = 16,
	MAX_COOKIES = 16,
};

/* An address of either family; port in host order. */
struct endpoint {
	sa_family_t family;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	};
	uint16_t port;
};

static uint64_t rng = 0x853c49e6748fea9bULL;

static void die(const char *what)
{
	fprintf(stderr, "flood: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: flood garbage HOST PORT SECONDS\n"
	    "       flood init -k PUBKEY [-n SOURCES] [-c IFACE [-m]] "
	    "SRCBASE DST PORT SECONDS\n"
	    "       flood replay [-l LEN] [-c COPIES] [-d DELAY_MS] [-x] IFACE "
	    "DST PORT COUNT\n"
	    "addresses are IPv4 or IPv6, all of one family\n");
	exit(1);
}

static unsigned long number(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || end == s || *end || *s == '-') {
		fprintf(stderr, "flood: not a number: '%s'\n", s);
		exit(1);
	}
	return v;
}

static struct endpoint address(const char *s)
{
	struct endpoint e = {.family = AF_INET};

	if (inet_pton(AF_INET, s, &e.v4) == 1)
		return e;
	e.family = AF_INET6;
	if (inet_pton(AF_INET6, s, &e.v6) == 1)
		return e;
	fprintf(stderr, "flood: not an IP address: '%s'\n", s);
	exit(1);
}

static bool same_address(const struct endpoint *a, const struct endpoint *b)
{
	if (a->family != b->family)
		return false;
	if (a->family == AF_INET)
		return a->v4.s_addr == b->v4.s_addr;
	return !memcmp(&a->v6, &b->v6, sizeof(a->v6));
}

/* The address for sendto on a raw socket: the port stays 0 there. */
static socklen_t raw_sockaddr(const struct endpoint *e,
			      struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (e->family == AF_INET) {
		struct sockaddr_in *sin = (void *)ss;

		sin->sin_family = AF_INET;
		sin->sin_addr = e->v4;
		return sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (void *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = e->v6;
		return sizeof(*sin6);
	}
}

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(unsigned long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Sends what it can of n messages; a full queue is not an error, the
 * point is to send as fast as the kernel takes them. */
static unsigned int send_some(int fd, struct mmsghdr *m, unsigned int n)
{
	int ret = sendmmsg(fd, m, n, 0);

	if (ret >= 0)
		return ret;
	if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR ||
	    errno == ECONNREFUSED)
		return 0;
	die("sendmmsg");
	return 0;
}

/* --- packets by hand -------------------------------------------------- */

/* The Internet checksum's running sum (RFC 1071) of n bytes, taken as
 * big-endian 16-bit words; fold() ends it. */
static uint32_t csum_add(uint32_t sum, const void *data, size_t n)
{
	const uint8_t *p = data;

	for (; n > 1; p += 2, n -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (n)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* A raw socket that takes whole IP packets (IPPROTO_RAW implies the
 * header comes with the data, raw(7); IPv6 names it IPV6_HDRINCL). */
static int open_raw(sa_family_t family)
{
	int fd, one = 1, sndbuf = 4 << 20;

	fd = socket(family, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0)
		die("raw socket");
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_HDRINCL, &one, sizeof(one)))
		die("IPV6_HDRINCL");
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf));
	return fd;
}

/* Writes IP and UDP headers from src to dst and then msg into p (room
 * for MAX_HDRS + len); returns the packet's length. IPv4: the kernel
 * fills in the IP checksum (IP_HDRINCL) and the UDP checksum stays 0,
 * which IPv4 allows. IPv6 forbids a zero UDP checksum and does no
 * checksum of its own: the UDP one is computed, over the pseudo-header
 * (addresses, UDP length, next header) and the datagram. */
static size_t build_packet(uint8_t *p, const struct endpoint *src,
			   const struct endpoint *dst, const uint8_t *msg,
			   size_t len)
{
	size_t ip_len = src->family == AF_INET ? sizeof(struct iphdr)
					       : sizeof(struct ip6_hdr);
	struct udphdr *udp = (void *)(p + ip_len);
	uint32_t sum;

	memset(p, 0, ip_len + UDP_HDR);
	udp->source = htons(src->port);
	udp->dest = htons(dst->port);
	udp->len = htons(UDP_HDR + len);
	memcpy(p + ip_len + UDP_HDR, msg, len);
	if (src->family == AF_INET) {
		struct iphdr *ip = (void *)p;

		ip->version = 4;
		ip->ihl = 5;
		ip->ttl = 64;
		ip->protocol = IPPROTO_UDP;
		ip->tot_len = htons(ip_len + UDP_HDR + len);
		ip->saddr = src->v4.s_addr;
		ip->daddr = dst->v4.s_addr;
	} else {
		struct ip6_hdr *ip6 = (void *)p;

		ip6->ip6_flow = htonl(6u << 28);
		ip6->ip6_plen = htons(UDP_HDR + len);
		ip6->ip6_nxt = IPPROTO_UDP;
		ip6->ip6_hlim = 64;
		ip6->ip6_src = src->v6;
		ip6->ip6_dst = dst->v6;
		sum = csum_add(0, &ip6->ip6_src, 2 * sizeof(struct in6_addr));
		sum += UDP_HDR + len + IPPROTO_UDP;
		sum = csum_add(sum, udp, UDP_HDR + len);
		udp->check = htons(fold(sum) ? fold(sum) : 0xffff);
	}
	return ip_len + UDP_HDR + len;
}

/* A UDP datagram seen in an IPv4 or IPv6 packet. */
struct datagram {
	struct endpoint src, dst;
	const uint8_t *msg;
	size_t len;
};

/* The UDP datagram in the n bytes of an IP packet at p, if it is one.
 * IPv6: UDP must follow the fixed header, as it does in what a
 * WireGuard implementation sends. */
static bool parse_udp(const uint8_t *p, size_t n, struct datagram *d)
{
	const struct udphdr *udp;
	size_t ip_len;

	if (n >= sizeof(struct iphdr) && p[0] >> 4 == 4) {
		const struct iphdr *ip = (const void *)p;

		ip_len = ip->ihl * 4u;
		if (ip->protocol != IPPROTO_UDP || ip_len < sizeof(*ip))
			return false;
		d->src = (struct endpoint){.family = AF_INET};
		d->dst = d->src;
		d->src.v4.s_addr = ip->saddr;
		d->dst.v4.s_addr = ip->daddr;
	} else if (n >= sizeof(struct ip6_hdr) && p[0] >> 4 == 6) {
		const struct ip6_hdr *ip6 = (const void *)p;

		ip_len = sizeof(*ip6);
		if (ip6->ip6_nxt != IPPROTO_UDP)
			return false;
		d->src = (struct endpoint){.family = AF_INET6};
		d->dst = d->src;
		d->src.v6 = ip6->ip6_src;
		d->dst.v6 = ip6->ip6_dst;
	} else {
		return false;
	}
	if (n < ip_len + UDP_HDR)
		return false;
	udp = (const void *)(p + ip_len);
	d->src.port = ntohs(udp->source);
	d->dst.port = ntohs(udp->dest);
	d->msg = p + ip_len + UDP_HDR;
	d->len = n - ip_len - UDP_HDR;
	return true;
}

static uint16_t ethertype(sa_family_t family)
{
	return htons(family == AF_INET ? ETH_P_IP : ETH_P_IPV6);
}

/* What we send shows only on ETH_P_ALL sockets: outgoing (vnet, then
 * with link headers) or incoming IP packets of one family. */
static int open_capture(const char *ifname, bool vnet, sa_family_t family)
{
	uint16_t proto = vnet ? htons(ETH_P_ALL) : ethertype(family);
	struct sockaddr_ll ll = {.sll_family = AF_PACKET,
				 .sll_protocol = proto};
	int fd, one = 1, rcvbuf = 16 << 20;

	ll.sll_ifindex = if_nametoindex(ifname);
	if (!ll.sll_ifindex)
		die(ifname);
	/* The kernel hands out virtio_net_hdr on SOCK_RAW only; then the
	 * link header comes along (Ethernet: veth). */
	fd = socket(AF_PACKET, vnet ? SOCK_RAW : SOCK_DGRAM, proto);
	if (fd < 0)
		die("AF_PACKET socket");
	if (vnet &&
	    setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)))
		die("PACKET_VNET_HDR");
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&ll, sizeof(ll)))
		die("bind AF_PACKET");
	return fd;
}

/* --- garbage ---------------------------------------------------------- */

static int do_garbage(int argc, char **argv)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *ai;
	static uint8_t pool[1 << 20];
	struct mmsghdr m[VLEN];
	struct iovec iov[VLEN];
	uint64_t sent = 0;
	double start, end, t;
	int fd, rc, sndbuf = 4 << 20;
	unsigned int i;

	if (argc != 4)
		usage();
	rc = getaddrinfo(argv[1], argv[2], &hints, &ai);
	if (rc) {
		fprintf(stderr, "flood: %s: %s\n", argv[1], gai_strerror(rc));
		return 1;
	}
	fd = socket(ai->ai_family, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		die("socket");
	freeaddrinfo(ai);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf));
	randombytes_buf(pool, sizeof(pool));
	memset(m, 0, sizeof(m));
	start = now_s();
	end = start + number(argv[3]);
	for (t = start; t < end; t = now_s()) {
		/* Fresh lengths and offsets each time: a filter cannot
		 * learn them. The bytes repeat, which costs the victim the
		 * same. */
		for (rc = 0; rc < 16; rc++) {
			for (i = 0; i < VLEN; i++) {
				uint64_t r = rnd();

				iov[i].iov_len = 1 + r % GARBAGE_MAX;
				iov[i].iov_base =
				    pool +
				    (r >> 32) % (sizeof(pool) - GARBAGE_MAX);
				m[i].msg_hdr.msg_iov = &iov[i];
				m[i].msg_hdr.msg_iovlen = 1;
			}
			sent += send_some(fd, m, VLEN);
		}
	}
	t -= start;
	printf("garbage sent %" PRIu64 " seconds %.1f pps %.0f\n", sent, t,
	       sent / t);
	return 0;
}

/* --- init ------------------------------------------------------------- */

/* A source the victim gave a cookie to. */
struct cookie_source {
	struct endpoint from;
	uint8_t cookie[COOKIE];
};

struct init_flood {
	uint8_t mac1_key[KEY_LEN];
	uint8_t cookie_key[KEY_LEN];
	uint8_t msgs[NINITS][INIT_LEN];
	uint32_t index[NINITS];
	int cookie_fd;
	bool use_cookies;
	uint64_t cookies, with_mac2;
	struct endpoint base, dst;
	uint32_t nspoof, next;
	struct cookie_source src[MAX_COOKIES];
	unsigned int nsrc;
};

/* mac1 key = HASH("mac1----" || responder's static public key), cookie
 * key = HASH("cookie--" || the same). */
static void mac_keys(struct init_flood *f, const char *b64)
{
	uint8_t in[8 + KEY_LEN] = "mac1----";
	size_t len;

	if (sodium_base642bin(in + 8, KEY_LEN, b64, strlen(b64), NULL, &len,
			      NULL, sodium_base64_VARIANT_ORIGINAL) ||
	    len != KEY_LEN) {
		fprintf(stderr, "flood: bad public key '%s'\n", b64);
		exit(1);
	}
	wg_blake2s(f->mac1_key, in, NULL, KEY_LEN, sizeof(in), 0);
	memcpy(in, "cookie--", 8);
	wg_blake2s(f->cookie_key, in, NULL, KEY_LEN, sizeof(in), 0);
}

/* A cookie reply: nonce (24) at 8, encrypted cookie (16 + tag) at 32,
 * with the mac1 of the initiation it answers as associated data. Keeps
 * the cookie for the (address, port) the reply went to. */
static void open_cookie(struct init_flood *f, const struct datagram *d,
			unsigned int k)
{
	const uint8_t *mac1 = f->msgs[k] + INIT_LEN - 2 * MAC_LEN;
	struct cookie_source *cs = &f->src[f->nsrc];

	if (!f->use_cookies || f->nsrc == MAX_COOKIES)
		return;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		cs->cookie, NULL, NULL, d->msg + 32, COOKIE + 16, mac1, MAC_LEN,
		d->msg + 8, f->cookie_key))
		return;
	cs->from = d->dst;
	f->nsrc++;
}

/* An initiation with a random body (sender index included) and a valid
 * MAC1; MAC2 zero. */
static void build_init(struct init_flood *f, unsigned int k)
{
	uint8_t *msg = f->msgs[k];
	const size_t mac_off = INIT_LEN - 2 * MAC_LEN;

	randombytes_buf(msg, INIT_LEN);
	msg[0] = 1;
	msg[1] = msg[2] = msg[3] = 0;
	memcpy(&f->index[k], msg + 4, 4);
	wg_blake2s(msg + mac_off, msg, f->mac1_key, MAC_LEN, mac_off, KEY_LEN);
	memset(msg + mac_off + MAC_LEN, 0, MAC_LEN);
}

/* The next spoofed source, in turn: IPv4 base + 1 + i; IPv6 the /64 of
 * base + 1 + i, with a random interface identifier. */
static void next_spoofed(struct init_flood *f, struct endpoint *src)
{
	uint32_t i = f->next;
	uint64_t net, iid;

	f->next = (f->next + 1) % f->nspoof;
	*src = f->base;
	src->port = 1024 + rnd() % 60000;
	if (src->family == AF_INET) {
		src->v4.s_addr = htonl(ntohl(f->base.v4.s_addr) + 1 + i);
		return;
	}
	memcpy(&net, f->base.v6.s6_addr, 8);
	net = htobe64(be64toh(net) + 1 + i);
	iid = rnd();
	memcpy(src->v6.s6_addr, &net, 8);
	memcpy(src->v6.s6_addr + 8, &iid, 8);
}

static void count_cookies(struct init_flood *f)
{
	static uint8_t buf[2048];
	struct datagram d;
	ssize_t n;
	uint32_t idx;

	while ((n = recv(f->cookie_fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		if (!parse_udp(buf, n, &d) || d.src.port != f->dst.port ||
		    d.len != COOKIE_LEN || d.msg[0] != 3)
			continue;
		memcpy(&idx, d.msg + 4, 4);
		for (unsigned int k = 0; k < NINITS; k++)
			if (f->index[k] == idx) {
				f->cookies++;
				open_cookie(f, &d, k);
				break;
			}
	}
}

/* The initiation in msg from a source that holds a cookie, with mac2 =
 * MAC(cookie, message up to mac2). */
static void with_mac2(struct init_flood *f, uint8_t *msg, unsigned int k,
		      struct endpoint *src)
{
	const struct cookie_source *cs = &f->src[(k / 2) % f->nsrc];
	const size_t mac2_off = INIT_LEN - MAC_LEN;

	*src = cs->from;
	wg_blake2s(msg + mac2_off, msg, cs->cookie, MAC_LEN, mac2_off, COOKIE);
	f->with_mac2++;
}

static int do_init(int argc, char **argv)
{
	static struct init_flood f = {.cookie_fd = -1};
	struct sockaddr_storage dst;
	socklen_t dst_len;
	struct mmsghdr m[VLEN];
	struct iovec iov[VLEN];
	static uint8_t out[VLEN][MAX_HDRS + INIT_LEN];
	unsigned long nsrc = 4096;
	const char *key = NULL, *cif = NULL;
	uint64_t sent = 0;
	double start, end, t;
	int opt, fd;
	unsigned int i, k = 0;

	while ((opt = getopt(argc, argv, "k:n:c:m")) != -1) {
		switch (opt) {
		case 'k':
			key = optarg;
			break;
		case 'n':
			nsrc = number(optarg);
			break;
		case 'c':
			cif = optarg;
			break;
		case 'm':
			f.use_cookies = true;
			break;
		default:
			usage();
		}
	}
	if (!key || argc - optind != 4 || !nsrc || nsrc > 1 << 20 ||
	    (f.use_cookies && !cif))
		usage();
	f.base = address(argv[optind]);
	f.dst = address(argv[optind + 1]);
	if (f.base.family != f.dst.family)
		usage();
	f.dst.port = number(argv[optind + 2]);
	f.nspoof = nsrc;
	dst_len = raw_sockaddr(&f.dst, &dst);
	mac_keys(&f, key);
	for (k = 0; k < NINITS; k++)
		build_init(&f, k);
	fd = open_raw(f.dst.family);
	if (cif)
		f.cookie_fd = open_capture(cif, false, f.dst.family);
	memset(m, 0, sizeof(m));
	for (i = 0; i < VLEN; i++) {
		iov[i].iov_base = out[i];
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
		m[i].msg_hdr.msg_name = &dst;
		m[i].msg_hdr.msg_namelen = dst_len;
	}
	start = now_s();
	end = start + number(argv[optind + 3]);
	for (t = start, k = 0; t < end; t = now_s()) {
		for (i = 0; i < VLEN; i++, k++) {
			uint8_t msg[INIT_LEN];
			struct endpoint src;

			memcpy(msg, f.msgs[k % NINITS], INIT_LEN);
			if (f.nsrc && k % 2)
				with_mac2(&f, msg, k, &src);
			else
				next_spoofed(&f, &src);
			iov[i].iov_len =
			    build_packet(out[i], &src, &f.dst, msg, INIT_LEN);
		}
		sent += send_some(fd, m, VLEN);
		if (f.cookie_fd >= 0)
			count_cookies(&f);
	}
	t -= start;
	if (f.cookie_fd >= 0) {
		sleep_ms(200); /* the last answers */
		count_cookies(&f);
	}
	printf("init sent %" PRIu64 " seconds %.1f pps %.0f sources %lu "
	       "cookies %" PRIu64 " with_mac2 %" PRIu64 "\n",
	       sent, t, sent / t, sent < nsrc ? (unsigned long)sent : nsrc,
	       f.cookies, f.with_mac2);
	return 0;
}

/* --- replay ----------------------------------------------------------- */

struct captured {
	struct endpoint src;
	uint16_t len;
	uint8_t msg[MAX_MSG];
};

static unsigned long ncaptured, want_len;
static struct captured *cap;
static bool corrupt; /* -x */

/* Keeps a data message of the wanted length. */
static void keep(const struct endpoint *src, const uint8_t *msg, size_t len,
		 unsigned long count)
{
	struct captured *c;

	if (ncaptured >= count || len < 32 || len > MAX_MSG || msg[0] != 4 ||
	    msg[1] || msg[2] || msg[3] || (want_len && len != want_len))
		return;
	c = &cap[ncaptured++];
	c->src = *src;
	c->len = len;
	memcpy(c->msg, msg, len);
}

static void capture(int fd, const struct endpoint *dst, unsigned long count)
{
	static uint8_t buf[CAPTURE_BUF];
	uint16_t proto = ethertype(dst->family);
	double give_up = now_s() + 30;

	while (ncaptured < count) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		const struct virtio_net_hdr *vh = (const void *)buf;
		const uint8_t *pkt = buf + sizeof(*vh) + ETH_HLEN;
		struct datagram d;
		size_t seg;
		ssize_t n;

		if (now_s() > give_up) {
			fprintf(stderr,
				"flood: captured only %lu of %lu data "
				"messages in 30 s\n",
				ncaptured, count);
			exit(1);
		}
		if (poll(&p, 1, 1000) <= 0)
			continue;
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from,
			     &fl);
		if (n < (ssize_t)(sizeof(*vh) + ETH_HLEN) ||
		    from.sll_pkttype != PACKET_OUTGOING ||
		    from.sll_hatype != ARPHRD_ETHER ||
		    from.sll_protocol != proto)
			continue;
		n -= sizeof(*vh) + ETH_HLEN;
		if (!parse_udp(pkt, n, &d) || d.dst.port != dst->port ||
		    !same_address(&d.dst, dst))
			continue;
		/* UDP GSO: equal segments of gso_size, the last may be
		 * shorter. */
		seg = vh->gso_type != VIRTIO_NET_HDR_GSO_NONE && vh->gso_size
			  ? vh->gso_size
			  : d.len;
		for (size_t off = 0; off < d.len; off += seg)
			keep(&d.src, d.msg + off,
			     d.len - off < seg ? d.len - off : seg, count);
	}
}

static uint64_t inject(int fd, const struct endpoint *dst)
{
	static uint8_t pkt[MAX_HDRS + MAX_MSG];
	struct sockaddr_storage to;
	socklen_t to_len = raw_sockaddr(dst, &to);
	uint64_t sent = 0;

	for (unsigned long i = 0; i < ncaptured; i++) {
		const struct captured *c = &cap[i];
		size_t len = build_packet(pkt, &c->src, dst, c->msg, c->len);

		while (sendto(fd, pkt, len, 0, (struct sockaddr *)&to, to_len) <
		       0) {
			if (errno != ENOBUFS && errno != EAGAIN &&
			    errno != EINTR)
				die("sendto");
			sleep_ms(1);
		}
		sent++;
	}
	return sent;
}

static int do_replay(int argc, char **argv)
{
	unsigned long copies = 3, delay = 500, count;
	struct endpoint dst;
	uint64_t injected = 0;
	int opt, cfd, fd;

	while ((opt = getopt(argc, argv, "l:c:d:x")) != -1) {
		switch (opt) {
		case 'x':
			corrupt = true;
			break;
		case 'l':
			want_len = number(optarg);
			break;
		case 'c':
			copies = number(optarg);
			break;
		case 'd':
			delay = number(optarg);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 4)
		usage();
	dst = address(argv[optind + 1]);
	dst.port = number(argv[optind + 2]);
	count = number(argv[optind + 3]);
	cap = calloc(count ? count : 1, sizeof(*cap));
	if (!cap)
		die("calloc");
	/* Raw socket first: once capturing, we want no delay. */
	fd = open_raw(dst.family);
	cfd = open_capture(argv[optind], true, dst.family);
	capture(cfd, &dst, count);
	close(cfd);
	/* Before any checksum is computed over it: the copy must reach
	 * the victim and fail there, not in the kernel's UDP check. */
	for (unsigned long i = 0; corrupt && i < ncaptured; i++)
		cap[i].msg[cap[i].len - 1] ^= 0x80;
	for (unsigned long r = 0; r < copies; r++) {
		sleep_ms(delay);
		injected += inject(fd, &dst);
	}
	printf("replay captured %lu injected %" PRIu64 "\n", ncaptured,
	       injected);
	free(cap);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (sodium_init() < 0) {
		fprintf(stderr, "flood: sodium_init failed\n");
		return 1;
	}
	rng ^= (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL;
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "garbage"))
		return do_garbage(argc - 1, argv + 1);
	if (!strcmp(argv[1], "init"))
		return do_init(argc - 1, argv + 1);
	if (!strcmp(argv[1], "replay"))
		return do_replay(argc - 1, argv + 1);
	usage();
	return 1;
}
