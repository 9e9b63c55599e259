/* SPDX-License-Identifier: MIT */
/*
 * flood: the three floods of t/e2e/e2e_flood.sh, from inside the attacker's
 * network namespace.
 *
 *   flood garbage HOST PORT SECONDS
 *   flood init -k PUBKEY [-n SOURCES] [-c IFACE [-m]] SRCBASE DST PORT SECONDS
 *   flood replay [-l LEN] [-c COPIES] [-d DELAY_MS] [-x] IFACE DST PORT COUNT
 *
 * garbage: datagrams of 1..1400 random bytes to HOST PORT, 64 per
 *   sendmmsg, as fast as one thread can, for SECONDS. Prints
 *   "garbage sent N seconds S pps R".
 * init: handshake initiations (148 bytes, random body, MAC1 valid for
 *   PUBKEY, the victim's public key, MAC2 zero) in IPv4/UDP packets built
 *   by hand on a raw socket, so that each comes from another address:
 *   SRCBASE+1 .. SRCBASE+SOURCES (default 4096) in turn, source ports
 *   varying. The victim must route SRCBASE's network back to us for its
 *   answers. With -c IFACE, cookie replies (type 3, 64 bytes) arriving on
 *   IFACE from PORT whose receiver index is one of our sender indexes are
 *   counted. With -m as well, the first MAX_COOKIES of them are opened
 *   (the cookie key is derived from the public key, so anyone can) and
 *   every other initiation then goes out from one of those (address,
 *   port) pairs with a valid MAC2: what a botnet of real hosts could do,
 *   and what the per-source rate limiter is for. Prints "init sent N
 *   seconds S pps R sources K cookies C with_mac2 M".
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
	HDRS = sizeof(struct iphdr) + sizeof(struct udphdr),
	MAX_MSG = 1500,
	CAPTURE_BUF = 65536 + sizeof(struct virtio_net_hdr),
	COOKIE = 16,
	MAX_COOKIES = 16,
};

static uint64_t rng = 0x853c49e6748fea9bULL;

static void die(const char *what)
{
	fprintf(stderr, "flood: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: flood garbage HOST PORT SECONDS\n"
		"       flood init -k PUBKEY [-n SOURCES] [-c IFACE] SRCBASE "
		"DST PORT SECONDS\n"
		"       flood replay [-l LEN] [-c COPIES] [-d DELAY_MS] [-x] IFACE "
		"DST PORT COUNT\n");
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

static struct in_addr ipv4(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1) {
		fprintf(stderr, "flood: not an IPv4 address: '%s'\n", s);
		exit(1);
	}
	return a;
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
	uint32_t addr;
	uint16_t port;
	uint8_t cookie[COOKIE];
};

struct init_flood {
	uint8_t mac1_key[KEY_LEN];
	uint8_t cookie_key[KEY_LEN];
	uint8_t pkts[NINITS][HDRS + INIT_LEN];
	uint32_t index[NINITS];
	int cookie_fd;
	bool use_cookies;
	uint64_t cookies, with_mac2;
	uint16_t port;
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
static void open_cookie(struct init_flood *f, const struct iphdr *ip,
			const struct udphdr *udp, const uint8_t *msg,
			unsigned int k)
{
	const uint8_t *mac1 = f->pkts[k] + HDRS + INIT_LEN - 2 * MAC_LEN;
	struct cookie_source *cs = &f->src[f->nsrc];

	if (!f->use_cookies || f->nsrc == MAX_COOKIES)
		return;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		cs->cookie, NULL, NULL, msg + 32, COOKIE + 16, mac1, MAC_LEN,
		msg + 8, f->cookie_key))
		return;
	cs->addr = ip->daddr;
	cs->port = udp->dest;
	f->nsrc++;
}

/* IPv4 and UDP headers around an initiation; the source is filled in
 * per packet. The kernel completes the IP checksum (IP_HDRINCL); the UDP
 * checksum stays 0, which IPv4 allows. */
static void build_init(struct init_flood *f, unsigned int k, struct in_addr dst)
{
	uint8_t *p = f->pkts[k];
	struct iphdr *ip = (void *)p;
	struct udphdr *udp = (void *)(p + sizeof(*ip));
	uint8_t *msg = p + HDRS;
	const size_t mac_off = INIT_LEN - 2 * MAC_LEN;

	memset(p, 0, HDRS);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->tot_len = htons(HDRS + INIT_LEN);
	ip->daddr = dst.s_addr;
	udp->dest = htons(f->port);
	udp->len = htons(sizeof(*udp) + INIT_LEN);
	randombytes_buf(msg, INIT_LEN);
	msg[0] = 1;
	msg[1] = msg[2] = msg[3] = 0;
	memcpy(&f->index[k], msg + 4, 4);
	wg_blake2s(msg + mac_off, msg, f->mac1_key, MAC_LEN, mac_off, KEY_LEN);
	memset(msg + mac_off + MAC_LEN, 0, MAC_LEN);
}

/* What we send shows only on ETH_P_ALL sockets: outgoing (vnet, then
 * with link headers) or incoming IPv4. */
static int open_capture(const char *ifname, bool vnet)
{
	uint16_t proto = htons(vnet ? ETH_P_ALL : ETH_P_IP);
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

/* The UDP payload of an IPv4 packet from/to port (0: any), or NULL. */
static const uint8_t *udp_payload(const uint8_t *p, size_t n, uint16_t sport,
				  uint16_t dport, size_t *len)
{
	const struct iphdr *ip = (const void *)p;
	const struct udphdr *udp;
	size_t ihl;

	if (n < sizeof(*ip) || ip->version != 4 || ip->protocol != IPPROTO_UDP)
		return NULL;
	ihl = ip->ihl * 4u;
	if (ihl < sizeof(*ip) || n < ihl + sizeof(*udp))
		return NULL;
	udp = (const void *)(p + ihl);
	if ((sport && ntohs(udp->source) != sport) ||
	    (dport && ntohs(udp->dest) != dport))
		return NULL;
	*len = n - ihl - sizeof(*udp);
	return p + ihl + sizeof(*udp);
}

static void count_cookies(struct init_flood *f)
{
	static uint8_t buf[2048];
	const uint8_t *msg;
	ssize_t n;
	size_t len;
	uint32_t idx;

	while ((n = recv(f->cookie_fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		msg = udp_payload(buf, n, f->port, 0, &len);
		if (!msg || len != COOKIE_LEN || msg[0] != 3)
			continue;
		memcpy(&idx, msg + 4, 4);
		for (unsigned int k = 0; k < NINITS; k++)
			if (f->index[k] == idx) {
				const struct iphdr *ip = (const void *)buf;

				f->cookies++;
				open_cookie(f, ip,
					    (const void *)(buf + ip->ihl * 4),
					    msg, k);
				break;
			}
	}
}

/* Sends the initiation in p from a source that holds a cookie, with
 * mac2 = MAC(cookie, message up to mac2). */
static void with_mac2(struct init_flood *f, uint8_t *p, unsigned int k)
{
	const struct cookie_source *cs = &f->src[(k / 2) % f->nsrc];
	struct iphdr *ip = (void *)p;
	struct udphdr *udp = (void *)(p + sizeof(*ip));
	uint8_t *msg = p + HDRS;
	const size_t mac2_off = INIT_LEN - MAC_LEN;

	ip->saddr = cs->addr;
	udp->source = cs->port;
	wg_blake2s(msg + mac2_off, msg, cs->cookie, MAC_LEN, mac2_off, COOKIE);
	f->with_mac2++;
}

static int do_init(int argc, char **argv)
{
	static struct init_flood f = {.cookie_fd = -1};
	struct sockaddr_in dst = {.sin_family = AF_INET};
	struct mmsghdr m[VLEN];
	struct iovec iov[VLEN];
	static uint8_t out[VLEN][HDRS + INIT_LEN];
	unsigned long nsrc = 4096;
	const char *key = NULL, *cif = NULL;
	uint32_t base, next = 0;
	uint64_t sent = 0;
	double start, end, t;
	int opt, fd, sndbuf = 4 << 20;
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
	base = ntohl(ipv4(argv[optind]).s_addr);
	dst.sin_addr = ipv4(argv[optind + 1]);
	f.port = number(argv[optind + 2]);
	mac_keys(&f, key);
	for (k = 0; k < NINITS; k++)
		build_init(&f, k, dst.sin_addr);
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0)
		die("raw socket");
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf));
	if (cif)
		f.cookie_fd = open_capture(cif, false);
	memset(m, 0, sizeof(m));
	for (i = 0; i < VLEN; i++) {
		iov[i].iov_base = out[i];
		iov[i].iov_len = sizeof(out[i]);
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
		m[i].msg_hdr.msg_name = &dst;
		m[i].msg_hdr.msg_namelen = sizeof(dst);
	}
	start = now_s();
	end = start + number(argv[optind + 3]);
	for (t = start, k = 0; t < end; t = now_s()) {
		for (i = 0; i < VLEN; i++, k++) {
			struct iphdr *ip = (void *)out[i];
			struct udphdr *udp = (void *)(out[i] + sizeof(*ip));

			memcpy(out[i], f.pkts[k % NINITS], sizeof(out[i]));
			if (f.nsrc && k % 2) {
				with_mac2(&f, out[i], k);
				continue;
			}
			ip->saddr = htonl(base + 1 + next);
			udp->source = htons(1024 + rnd() % 60000);
			next = (next + 1) % nsrc;
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
	uint32_t saddr;
	uint16_t sport;
	uint16_t len;
	uint8_t msg[MAX_MSG];
};

static unsigned long ncaptured, want_len;
static struct captured *cap;
static bool corrupt; /* -x */

/* Keeps a data message of the wanted length. */
static void keep(const struct iphdr *ip, const struct udphdr *udp,
		 const uint8_t *msg, size_t len, unsigned long count)
{
	struct captured *c;

	if (ncaptured >= count || len < 32 || len > MAX_MSG || msg[0] != 4 ||
	    msg[1] || msg[2] || msg[3] || (want_len && len != want_len))
		return;
	c = &cap[ncaptured++];
	c->saddr = ip->saddr;
	c->sport = udp->source;
	c->len = len;
	memcpy(c->msg, msg, len);
}

static void capture(int fd, struct in_addr dst, uint16_t port,
		    unsigned long count)
{
	static uint8_t buf[CAPTURE_BUF];
	double give_up = now_s() + 30;

	while (ncaptured < count) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		const struct virtio_net_hdr *vh = (const void *)buf;
		const uint8_t *pkt = buf + sizeof(*vh) + ETH_HLEN, *msg;
		const struct iphdr *ip = (const void *)pkt;
		size_t len, seg;
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
		    from.sll_protocol != htons(ETH_P_IP))
			continue;
		n -= sizeof(*vh) + ETH_HLEN;
		msg = udp_payload(pkt, n, 0, port, &len);
		if (!msg || ip->daddr != dst.s_addr)
			continue;
		/* UDP GSO: equal segments of gso_size, the last may be
		 * shorter. */
		seg = vh->gso_type != VIRTIO_NET_HDR_GSO_NONE && vh->gso_size
			  ? vh->gso_size
			  : len;
		for (size_t off = 0; off < len; off += seg)
			keep(ip, (const void *)(pkt + ip->ihl * 4), msg + off,
			     len - off < seg ? len - off : seg, count);
	}
}

static uint64_t inject(int fd, struct in_addr dst, uint16_t port)
{
	static uint8_t pkt[HDRS + MAX_MSG];
	struct iphdr *ip = (void *)pkt;
	struct udphdr *udp = (void *)(pkt + sizeof(*ip));
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr = dst};
	uint64_t sent = 0;

	for (unsigned long i = 0; i < ncaptured; i++) {
		const struct captured *c = &cap[i];

		memset(pkt, 0, HDRS);
		ip->version = 4;
		ip->ihl = 5;
		ip->ttl = 64;
		ip->protocol = IPPROTO_UDP;
		ip->tot_len = htons(HDRS + c->len);
		ip->saddr = c->saddr;
		ip->daddr = dst.s_addr;
		udp->source = c->sport;
		udp->dest = htons(port);
		udp->len = htons(sizeof(*udp) + c->len);
		memcpy(pkt + HDRS, c->msg, c->len);
		if (corrupt)
			pkt[HDRS + c->len - 1] ^= 0x80;
		while (sendto(fd, pkt, HDRS + c->len, 0, (struct sockaddr *)&to,
			      sizeof(to)) < 0) {
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
	struct in_addr dst;
	uint64_t injected = 0;
	uint16_t port;
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
	dst = ipv4(argv[optind + 1]);
	port = number(argv[optind + 2]);
	count = number(argv[optind + 3]);
	cap = calloc(count ? count : 1, sizeof(*cap));
	if (!cap)
		die("calloc");
	/* Raw socket first: once capturing, we want no delay. */
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0)
		die("raw socket");
	cfd = open_capture(argv[optind], true);
	capture(cfd, dst, port, count);
	close(cfd);
	for (unsigned long r = 0; r < copies; r++) {
		sleep_ms(delay);
		injected += inject(fd, dst, port);
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
