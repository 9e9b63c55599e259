// SPDX-License-Identifier: MIT
/*
 * GSO split and GRO coalesce on crafted packets. Every expectation is
 * built here from scratch (headers written field by field, checksums by
 * a deliberately naive routine over big-endian 16-bit words), never by
 * the code under test.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "offload.h"
#include "testlib.h"

enum {
	TF_FIN = 0x01,
	TF_SYN = 0x02,
	TF_RST = 0x04,
	TF_PSH = 0x08,
	TF_ACK = 0x10,
	TF_URG = 0x20,
	TF_ECE = 0x40,
	TF_CWR = 0x80,
	VH = sizeof(struct virtio_net_hdr),
	SLOT = 2048,
	MAX_SEGS = 64,
	BIG = 70000,
};

/* ---- The naive reference ---- */

static uint32_t ref_sum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t ref_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint32_t ref_pseudo(const uint8_t *ip, int ipv, uint8_t proto,
			   size_t l4len)
{
	if (ipv == 4)
		return ref_sum(ip + 12, 8) + proto + (uint32_t)l4len;
	return ref_sum(ip + 8, 32) + proto + (uint32_t)(l4len >> 16) +
	       (uint32_t)(l4len & 0xffff);
}

static void wr16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, v >> 16);
	wr16(p + 2, v);
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Both checksums of an IP packet whose transport header is at ih. */
static bool ref_verify(const uint8_t *p, size_t len, size_t ih, uint8_t proto)
{
	int ipv = p[0] >> 4;

	if (ipv == 4 &&
	    ref_fold(ref_sum(p, (size_t)(p[0] & 0xf) * 4)) != 0xffff)
		return false;
	return ref_fold(ref_pseudo(p, ipv, proto, len - ih) +
			ref_sum(p + ih, len - ih)) == 0xffff;
}

static uint8_t *dup_exact(const uint8_t *p, size_t len)
{
	uint8_t *d = malloc(len ? len : 1);

	ck_assert_ptr_nonnull(d);
	memcpy(d, p, len);
	return d;
}

static size_t first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n && a[i] == b[i]; i++)
		;
	return i;
}

/* ---- Packets built field by field ---- */

struct spec {
	int ipv;
	uint8_t proto;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint8_t tos, ttl; /* IPv6: traffic class, hop limit */
	uint16_t id;
	bool df, mf;
	uint8_t ipopt; /* IPv4 option bytes (NOPs), a multiple of 4 */
	uint32_t flowlabel;
	bool has_ext; /* IPv6: one 8-byte extension header of type ext */
	uint8_t ext;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win, urg;
	uint8_t opt[40];
	uint8_t optlen;
};

enum csum_mode {
	CS_FULL,    /* a complete checksum (UDP: 0 sent as 0xffff) */
	CS_PARTIAL, /* the pseudo-header sum, as the kernel hands it */
	CS_ANY0,    /* complete, and 0 sent as 0xffff whatever the protocol */
};

static void spec_init(struct spec *s, int ipv, uint8_t proto)
{
	static const uint8_t a6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0,
				       0,    0, 0, 0, 0, 0, 0, 1};

	memset(s, 0, sizeof(*s));
	s->ipv = ipv;
	s->proto = proto;
	if (ipv == 4) {
		memcpy(s->src, (uint8_t[]){10, 0, 0, 1}, 4);
		memcpy(s->dst, (uint8_t[]){10, 0, 0, 2}, 4);
	} else {
		memcpy(s->src, a6, 16);
		memcpy(s->dst, a6, 16);
		s->dst[15] = 2;
	}
	s->sport = 40000;
	s->dport = 443;
	s->ttl = 64;
	s->df = true;
	s->id = 0x1234;
	s->seq = 0x10000000;
	s->ack = 0x20000000;
	s->flags = TF_ACK;
	s->win = 512;
}

static void spec_timestamps(struct spec *s, uint32_t tsval, uint32_t tsecr)
{
	s->opt[0] = 1; /* NOP, NOP, timestamps */
	s->opt[1] = 1;
	s->opt[2] = 8;
	s->opt[3] = 10;
	wr32(s->opt + 4, tsval);
	wr32(s->opt + 8, tsecr);
	s->optlen = 12;
}

static size_t ip_hlen_of(const struct spec *s)
{
	if (s->ipv == 4)
		return 20 + (size_t)s->ipopt;
	return 40 + (s->has_ext ? 8 : 0);
}

static size_t l4_hlen_of(const struct spec *s)
{
	return s->proto == IPPROTO_TCP ? 20 + (size_t)s->optlen : 8;
}

static size_t csum_off_of(uint8_t proto)
{
	return proto == IPPROTO_TCP ? 16 : proto == IPPROTO_UDP ? 6 : 2;
}

static void build_ip(const struct spec *s, size_t total, uint8_t *out)
{
	size_t ih = ip_hlen_of(s);

	if (s->ipv == 4) {
		out[0] = (uint8_t)(0x40 | ih / 4);
		out[1] = s->tos;
		wr16(out + 2, (uint32_t)total);
		wr16(out + 4, s->id);
		wr16(out + 6, (s->df ? 0x4000 : 0) | (s->mf ? 0x2000 : 0));
		out[8] = s->ttl;
		out[9] = s->proto;
		memcpy(out + 12, s->src, 4);
		memcpy(out + 16, s->dst, 4);
		memset(out + 20, 1, s->ipopt);
		wr16(out + 10, (uint16_t)~ref_fold(ref_sum(out, ih)));
		return;
	}
	out[0] = (uint8_t)(0x60 | s->tos >> 4);
	out[1] = (uint8_t)(s->tos << 4 | (s->flowlabel >> 16 & 0xf));
	wr16(out + 2, s->flowlabel);
	wr16(out + 4, (uint32_t)(total - 40));
	out[6] = s->has_ext ? s->ext : s->proto;
	out[7] = s->ttl;
	memcpy(out + 8, s->src, 16);
	memcpy(out + 24, s->dst, 16);
	if (s->has_ext) { /* next header, length 0 (8 bytes), PadN */
		out[40] = s->proto;
		out[42] = 1;
		out[43] = 4;
	}
}

static size_t build(const struct spec *s, const uint8_t *pl, size_t plen,
		    uint8_t *out, enum csum_mode m)
{
	size_t ih = ip_hlen_of(s), lh = l4_hlen_of(s), l4len = lh + plen;
	uint8_t *l4 = out + ih;
	uint32_t pseudo;
	uint16_t c;

	memset(out, 0, ih + lh);
	build_ip(s, ih + l4len, out);
	wr16(l4, s->sport);
	wr16(l4 + 2, s->dport);
	if (s->proto == IPPROTO_TCP) {
		wr32(l4 + 4, s->seq);
		wr32(l4 + 8, s->ack);
		l4[12] = (uint8_t)(lh / 4 << 4);
		l4[13] = s->flags;
		wr16(l4 + 14, s->win);
		wr16(l4 + 18, s->urg);
		memcpy(l4 + 20, s->opt, s->optlen);
	} else if (s->proto == IPPROTO_UDP) {
		wr16(l4 + 4, (uint32_t)l4len);
	} else { /* ICMP echo request: type, code, checksum, id, seq */
		memset(l4, 0, 4);
		l4[0] = 8;
		wr16(l4 + 4, s->sport);
		wr16(l4 + 6, s->dport);
	}
	memcpy(l4 + lh, pl, plen);
	pseudo = s->proto == IPPROTO_ICMP
		     ? 0
		     : ref_pseudo(out, s->ipv, s->proto, l4len);
	if (m == CS_PARTIAL) {
		c = ref_fold(pseudo);
	} else {
		c = (uint16_t)~ref_fold(pseudo + ref_sum(l4, l4len));
		if (!c && (m == CS_ANY0 || s->proto == IPPROTO_UDP))
			c = 0xffff;
	}
	wr16(l4 + csum_off_of(s->proto), c);
	return ih + l4len;
}

static void fill_payload(uint8_t *p, size_t n, uint64_t seed)
{
	test_random_bytes(&seed, p, n);
}

static void make_vnet(struct virtio_net_hdr *h, const struct spec *s,
		      uint16_t mss, bool ecn)
{
	bool tcp = s->proto == IPPROTO_TCP;

	memset(h, 0, sizeof(*h));
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->gso_type = !tcp	    ? VIRTIO_NET_HDR_GSO_UDP_L4
		      : s->ipv == 4 ? VIRTIO_NET_HDR_GSO_TCPV4
				    : VIRTIO_NET_HDR_GSO_TCPV6;
	if (ecn)
		h->gso_type |= VIRTIO_NET_HDR_GSO_ECN;
	h->hdr_len = (uint16_t)(ip_hlen_of(s) + l4_hlen_of(s));
	h->gso_size = mss;
	h->csum_start = (uint16_t)ip_hlen_of(s);
	h->csum_offset = (uint16_t)csum_off_of(s->proto);
}

/* Segment i of nseg of a super-packet, as the kernel would have sent it. */
static size_t expected_segment(const struct spec *super, const uint8_t *pl,
			       size_t plen, size_t mss, size_t i, size_t nseg,
			       uint8_t *out)
{
	struct spec s = *super;
	size_t off = i * mss, n = plen - off < mss ? plen - off : mss;

	s.id = (uint16_t)(super->id + i);
	s.seq = super->seq + (uint32_t)(i * mss);
	if (i)
		s.flags &= (uint8_t)~TF_CWR;
	if (i + 1 < nseg)
		s.flags &= (uint8_t) ~(TF_FIN | TF_PSH);
	return build(&s, pl + off, n, out, CS_FULL);
}

/* ---- Checksum helpers against the reference ---- */

static void check_sum_of(const uint8_t *p, size_t n)
{
	uint16_t got = wg_csum_fold(wg_csum_partial(p, n, 0));
	uint16_t want = ref_fold(ref_sum(p, n));
	uint8_t w[2] = {(uint8_t)(want >> 8), (uint8_t)want};

	ck_assert_msg(!memcmp(&got, w, 2), "length %zu: got %04x want %04x", n,
		      got, want);
}

START_TEST(test_csum)
{
	uint64_t seed = 0xc5c5 + (uint64_t)_i;
	static uint8_t buf[BIG];
	size_t n, off, cut;

	test_random_bytes(&seed, buf, sizeof(buf));
	if (_i == 0) /* all ones: the most carries */
		memset(buf, 0xff, sizeof(buf));
	for (off = 0; off < 8; off++)
		for (n = 0; n < 300; n++)
			check_sum_of(buf + off, n);
	check_sum_of(buf, 65535);
	check_sum_of(buf + 3, 65536);
	/* Pieces chain as long as all but the last are of even length. */
	for (cut = 0; cut < 200; cut += 2) {
		uint64_t s = wg_csum_partial(buf + 1, cut, 0);

		ck_assert_uint_eq(
		    wg_csum_fold(wg_csum_partial(buf + 1 + cut, 301 - cut, s)),
		    wg_csum_fold(wg_csum_partial(buf + 1, 301, 0)));
	}
}
END_TEST

/* wg_csum_copy: the bytes land unchanged, and the sum is the one
 * wg_csum_partial gives over them, at every length and alignment of
 * either side (the vector path takes 128 bytes and more). */
START_TEST(test_csum_copy)
{
	uint64_t seed = 0xc0b1 + (uint64_t)_i, got, want;
	static uint8_t src[BIG], dst[BIG];
	size_t n, so, d_o, i;
	static const size_t lens[] = {1400, 1448, 8192, 8880, 65535, 65536};

	test_random_bytes(&seed, src, sizeof(src));
	if (_i == 0)
		memset(src, 0xff, sizeof(src));
	for (so = 0; so < 4; so++)
		for (d_o = 0; d_o < 3; d_o++)
			for (n = 0; n < 400; n++) {
				memset(dst, 0xa5, n + 8);
				got = wg_csum_copy(dst + d_o, src + so, n, 7);
				ck_assert_msg(!memcmp(dst + d_o, src + so, n),
					      "length %zu: bytes differ", n);
				ck_assert_uint_eq(dst[d_o + n], 0xa5);
				want = ref_sum(src + so, n);
				ck_assert_uint_eq(wg_csum_fold(got),
						  wg_csum_fold(wg_csum_partial(
						      src + so, n, 7)));
				ck_assert_uint_eq(
				    wg_csum_fold(wg_csum_copy(dst, src + so, n, 0)),
				    htons(ref_fold(want)));
			}
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		n = lens[i];
		got = wg_csum_copy(dst + 1, src + 2, n, 0);
		ck_assert(!memcmp(dst + 1, src + 2, n));
		ck_assert_uint_eq(wg_csum_fold(got),
				  htons(ref_fold(ref_sum(src + 2, n))));
	}
}
END_TEST

START_TEST(test_csum_pseudo)
{
	uint64_t seed = 0x9e11 + (uint64_t)_i;
	unsigned int k;

	for (k = 0; k < 2000; k++) {
		uint8_t ip[40], w[2];
		uint8_t proto = (uint8_t)test_random_u64(&seed);
		uint32_t len = (uint32_t)test_random_u64(&seed);
		uint16_t got, want;

		test_random_bytes(&seed, ip, sizeof(ip));
		if (k & 1) {
			len &= 0xffff;
			got = wg_csum_fold(wg_csum_pseudo_v4(
			    ip + 12, ip + 16, proto, (uint16_t)len));
			want = ref_fold(ref_pseudo(ip, 4, proto, len));
		} else {
			got = wg_csum_fold(
			    wg_csum_pseudo_v6(ip + 8, ip + 24, proto, len));
			want = ref_fold(ref_pseudo(ip, 6, proto, len));
		}
		wr16(w, want);
		ck_assert_msg(!memcmp(&got, w, 2), "case %u", k);
	}
}
END_TEST

/* ---- GSO split: super-packets against segments built from scratch ---- */

/* The ones' complement sum of n bytes as 64-bit words in memory order,
 * the last one zero-padded. */
static uint64_t words_sum(const uint8_t *p, size_t n)
{
	uint64_t sum = 0, w;
	size_t i;

	for (i = 0; i < n; i += 8) {
		w = 0;
		memcpy(&w, p + i, n - i < 8 ? n - i : 8);
		sum += w;
		sum += sum < w;
	}
	return sum;
}

/*
 * Picks the IPv4 destination address and the TCP timestamps so that each
 * header, without the fields that differ between segments (IPv4: total
 * length, ID, checksum; TCP: sequence number, flags, checksum), sums as
 * 64-bit words to just under 2^64. A splitter that sums the header once
 * and adds each segment's fields to that must carry the overflow around.
 * (So on a little-endian machine; elsewhere the case is an ordinary one.)
 */
static void aim_near_wrap(struct spec *s)
{
	const uint64_t target = UINT64_MAX - 0x7ff;
	uint8_t pkt[128], pl[1] = {0}, *l4;
	size_t ih;
	uint64_t v;

	/* The address word near 2^64, and no DF bit to carry it over. */
	memset(s->src, 0xff, 4);
	memset(s->dst, 0, 4);
	s->df = false;
	spec_timestamps(s, 0, 0);
	build(s, pl, 0, pkt, CS_PARTIAL);
	ih = ip_hlen_of(s);
	memset(pkt + 2, 0, 4);
	memset(pkt + 10, 0, 2);
	v = target - words_sum(pkt, ih);
	ck_assert_uint_lt(v, (uint64_t)1 << 32);
	memcpy(s->dst, &v, 4);
	l4 = pkt + ih;
	memset(l4 + 4, 0, 4);
	l4[13] = 0;
	memset(l4 + 16, 0, 2);
	v = target - words_sum(l4, l4_hlen_of(s));
	memcpy(s->opt + 4, &v, 8);
}

struct split_case {
	const char *name;
	int ipv;
	uint8_t proto;
	size_t plen;
	uint16_t mss;
	uint8_t flags; /* 0: ACK */
	bool ts, ext, ecn, nodf, hdrlen_whole, udp_zero, near_wrap;
	uint8_t ipopt;
	uint16_t id;
	uint32_t seq;
};

#define TCP IPPROTO_TCP
#define SPLIT(n, v, p, l, m)                                                   \
	.name = (n), .ipv = (v), .proto = (p), .plen = (l), .mss = (m)
#define UDP IPPROTO_UDP

static const struct split_case split_cases[] = {
    {SPLIT("TCPv4, three full segments", 4, TCP, 3 * 1448, 1448), .ts = true},
    {SPLIT("TCPv4, a shorter last one, PSH", 4, TCP, 5000, 1448),
     .flags = TF_ACK | TF_PSH},
    {SPLIT("TCPv4, one segment keeps every flag", 4, TCP, 1000, 1448),
     .flags = TF_ACK | TF_PSH | TF_FIN | TF_CWR},
    {SPLIT("TCPv4, CWR first only, FIN and PSH last only (GSO_ECN)", 4, TCP,
	   4000, 1000),
     .flags = TF_ACK | TF_PSH | TF_FIN | TF_CWR | TF_ECE, .ecn = true},
    {SPLIT("TCPv4 with IP options", 4, TCP, 3000, 1200), .ipopt = 8},
    {SPLIT("TCPv4, ID and sequence number wrap", 4, TCP, 5000, 1000),
     .id = 0xfffe, .seq = 0xfffff000},
    {SPLIT("TCPv4, odd MSS", 4, TCP, 3500, 1001), .ts = true},
    {SPLIT("TCPv4 without DF", 4, TCP, 3000, 1000), .nodf = true},
    {SPLIT("TCPv4, headers that sum to just under 2^64", 4, TCP, 3000, 1000),
     .near_wrap = true},
    {SPLIT("TCPv4, 64 KiB", 4, TCP, 65535 - 52, 1448), .ts = true},
    {SPLIT("TCPv4, hdr_len reports the whole linear part", 4, TCP, 3000, 1000),
     .hdrlen_whole = true},
    {SPLIT("TCPv6, three full segments", 6, TCP, 3 * 1428, 1428), .ts = true},
    {SPLIT("TCPv6, a shorter last one, FIN and PSH", 6, TCP, 5000, 1440),
     .flags = TF_ACK | TF_FIN | TF_PSH},
    {SPLIT("TCPv6, CWR (GSO_ECN)", 6, TCP, 3000, 1000),
     .flags = TF_ACK | TF_CWR, .ecn = true},
    {SPLIT("TCPv6 behind a hop-by-hop options header", 6, TCP, 4000, 1380),
     .ext = true},
    {SPLIT("TCPv6, 64 KiB of payload length", 6, TCP, 65535 - 20, 1440)},
    {SPLIT("UDPv4, three datagrams", 4, UDP, 4200, 1400)},
    {SPLIT("UDPv4, a shorter last one", 4, UDP, 3000, 1400)},
    {SPLIT("UDPv4, odd size", 4, UDP, 2500, 999)},
    {SPLIT("UDPv4, 64 KiB", 4, UDP, 65535 - 28, 1472)},
    {SPLIT("UDPv6, a shorter last one", 6, UDP, 5000, 1232)},
    {SPLIT("UDPv6, a single datagram", 6, UDP, 1000, 1232)},
    {SPLIT("UDPv6 behind a destination options header", 6, UDP, 3000, 1000),
     .ext = true},
    {SPLIT("UDPv4, a checksum that computes to 0 is sent as 0xffff", 4, UDP,
	   3000, 1000),
     .udp_zero = true},
    {SPLIT("UDPv6, a checksum that computes to 0 is sent as 0xffff", 6, UDP,
	   3000, 1000),
     .udp_zero = true},
};

static void split_spec(const struct split_case *c, struct spec *s)
{
	spec_init(s, c->ipv, c->proto);
	if (c->flags)
		s->flags = c->flags;
	if (c->ts)
		spec_timestamps(s, 0xdeadbeef, 0x01020304);
	s->ipopt = c->ipopt;
	s->has_ext = c->ext;
	s->ext = c->proto == TCP ? IPPROTO_HOPOPTS : IPPROTO_DSTOPTS;
	if (c->id)
		s->id = c->id;
	if (c->seq)
		s->seq = c->seq;
	s->df = !c->nodf;
	if (c->near_wrap)
		aim_near_wrap(s);
}

/* Sets the last two bytes of segment 0's payload so that its UDP
 * checksum computes to 0. */
static void craft_zero_csum(const struct spec *sp, uint8_t *pl, size_t plen,
			    size_t mss, uint8_t *scratch)
{
	size_t nseg = (plen + mss - 1) / mss, ih = ip_hlen_of(sp);
	uint16_t f;

	ck_assert(plen > mss && !(mss & 1));
	pl[mss - 2] = pl[mss - 1] = 0;
	expected_segment(sp, pl, plen, mss, 0, nseg, scratch);
	f = rd16(scratch + ih + 6);
	wr16(pl + mss - 2, f);
	expected_segment(sp, pl, plen, mss, 0, nseg, scratch);
	/* ~0xffff is 0: only the mapping of a 0 can give it. */
	ck_assert_uint_eq(rd16(scratch + ih + 6), 0xffff);
}

START_TEST(test_split)
{
	const struct split_case *c = &split_cases[_i];
	size_t nseg = (c->plen + c->mss - 1) / c->mss, hl, len, maxseg, i;
	size_t lens[MAX_SEGS];
	uint8_t *pl = malloc(c->plen), *want = malloc(SLOT), *big = malloc(BIG);
	uint8_t *super, *out[MAX_SEGS];
	struct virtio_net_hdr h;
	unsigned int nout = 99;
	struct spec sp;

	ck_assert(pl && want && big);
	ck_assert_uint_le(nseg, MAX_SEGS);
	split_spec(c, &sp);
	fill_payload(pl, c->plen, (uint64_t)_i + 1);
	if (c->udp_zero)
		craft_zero_csum(&sp, pl, c->plen, c->mss, want);
	len = build(&sp, pl, c->plen, big, CS_PARTIAL);
	super = dup_exact(big, len);
	hl = ip_hlen_of(&sp) + l4_hlen_of(&sp);
	make_vnet(&h, &sp, c->mss, c->ecn);
	if (c->hdrlen_whole)
		h.hdr_len = (uint16_t)len;
	/* Exactly the room needed: max_out segments of maxseg bytes. */
	maxseg = hl + (c->plen < c->mss ? c->plen : c->mss);
	for (i = 0; i < nseg; i++)
		ck_assert_ptr_nonnull(out[i] = malloc(maxseg));
	ck_assert_int_eq(wg_gso_split(&h, super, len, out, maxseg, lens,
				      (unsigned int)nseg, &nout),
			 0);
	ck_assert_uint_eq(nout, nseg);
	/* What the reader lays its slots out by, before cutting. */
	{
		unsigned int pieces = 0;
		size_t longest = 0;

		ck_assert_int_eq(wg_gso_measure(&h, super, len, &pieces,
						&longest),
				 0);
		ck_assert_uint_eq(pieces, nseg);
		ck_assert_uint_eq(longest, maxseg);
	}
	for (i = 0; i < nseg; i++) {
		size_t wl =
		    expected_segment(&sp, pl, c->plen, c->mss, i, nseg, want);

		ck_assert_msg(lens[i] == wl,
			      "%s: segment %zu is %zu bytes, "
			      "want %zu",
			      c->name, i, lens[i], wl);
		ck_assert_msg(!memcmp(out[i], want, wl),
			      "%s: segment %zu differs at byte %zu", c->name, i,
			      first_diff(out[i], want, wl));
		free(out[i]);
	}
	free(super);
	free(big);
	free(want);
	free(pl);
}
END_TEST

/* GSO_NONE: one packet, its checksum finished or left alone. */
struct none_case {
	const char *name;
	int ipv;
	uint8_t proto;
	bool needs_csum, in_place, zero;
};

static const struct none_case none_cases[] = {
    {"TCPv4, NEEDS_CSUM", 4, TCP, true, false, false},
    {"TCPv4, NEEDS_CSUM, in place", 4, TCP, true, true, false},
    {"TCPv6, NEEDS_CSUM", 6, TCP, true, false, false},
    {"UDPv6, NEEDS_CSUM", 6, UDP, true, false, false},
    {"UDPv4, NEEDS_CSUM, in place", 4, UDP, true, true, false},
    {"ICMPv4, NEEDS_CSUM", 4, IPPROTO_ICMP, true, false, false},
    {"TCPv4, a checksum that computes to 0 is stored as 0xffff", 4, TCP, true,
     false, true},
    {"UDPv6, a checksum that computes to 0 is stored as 0xffff", 6, UDP, true,
     true, true},
    {"TCPv6 without NEEDS_CSUM is copied as is", 6, TCP, false, false, false},
    {"UDPv4 without NEEDS_CSUM is copied as is", 4, UDP, false, false, false},
    {"TCPv4 without NEEDS_CSUM, in place", 4, TCP, false, true, false},
};

START_TEST(test_split_none)
{
	const struct none_case *c = &none_cases[_i];
	uint8_t pl[778], big[SLOT], want[SLOT], *pkt, *out[1];
	struct virtio_net_hdr h = {0};
	unsigned int nout = 99;
	size_t len, outlen = 0, field;
	struct spec sp;

	spec_init(&sp, c->ipv, c->proto);
	fill_payload(pl, sizeof(pl), (uint64_t)_i + 100);
	field = ip_hlen_of(&sp) + csum_off_of(c->proto);
	if (c->zero) { /* the last two bytes make the checksum 0 */
		pl[sizeof(pl) - 2] = pl[sizeof(pl) - 1] = 0;
		build(&sp, pl, sizeof(pl), want, CS_FULL);
		memcpy(pl + sizeof(pl) - 2, want + field, 2);
		build(&sp, pl, sizeof(pl), want, CS_ANY0);
		ck_assert_uint_eq(rd16(want + field), 0xffff);
	}
	len = build(&sp, pl, sizeof(pl), big,
		    c->needs_csum ? CS_PARTIAL : CS_FULL);
	if (c->needs_csum) {
		h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h.csum_start = (uint16_t)ip_hlen_of(&sp);
		h.csum_offset = (uint16_t)csum_off_of(c->proto);
		build(&sp, pl, sizeof(pl), want, CS_ANY0);
	} else {
		/* Whatever is there stays there. */
		wr16(big + field, 0xdead);
		memcpy(want, big, len);
	}
	pkt = dup_exact(big, len);
	out[0] = c->in_place ? pkt : malloc(len);
	ck_assert_int_eq(
	    wg_gso_split(&h, pkt, len, out, len, &outlen, 1, &nout), 0);
	ck_assert_uint_eq(nout, 1);
	ck_assert_uint_eq(outlen, len);
	ck_assert_msg(!memcmp(out[0], want, len), "%s: differs at byte %zu",
		      c->name, first_diff(out[0], want, len));
	if (!c->in_place)
		free(out[0]);
	free(pkt);
}
END_TEST

/* ---- Malformed input: -EINVAL, and nothing read or written outside ---- */

enum base {
	B_TCP4,
	B_TCP6,
	B_UDP4,
	B_UDP6,
	B_TCP6_HBH,
	B_TCP6_ROUTING,
	B_TCP6_FRAGMENT,
};

enum mutation {
	M_NONE,
	M_HDRLEN_BEYOND,
	M_GSO_SIZE_0,
	M_CSTART_AT_END,
	M_CSTART_FFFF,
	M_CSTART_PLUS4,
	M_CSTART_0,
	M_COFF,
	M_NO_NEEDS_CSUM,
	M_TYPE_TCPV6,
	M_TYPE_TCPV4,
	M_TYPE_UDP_L4,
	M_TYPE_UFO,
	M_TYPE_2,
	M_TYPE_6,
	M_TYPE_7F,
	M_ECN_UDP,
	M_ECN_NONE,
	M_MAX_OUT_SHORT,
	M_MAX_OUT_0,
	M_OUT_CAP_SHORT,
	M_DOFF_4,
	M_DOFF_BEYOND,
	M_NO_PAYLOAD,
	M_LEN_19,
	M_LEN_0,
	M_L4_CUT,
	M_V6_CUT,
	M_IHL_4,
	M_VERSION_5,
	M_MF,
	M_FRAG_OFF,
	M_PROTO,
	M_EXT_HUGE,
	M_EXT_CHAIN_OFF,
	M_EXT_CUT,
	M_NONE_TOO_BIG,
	M_NONE_CSUM_AT_END,
	M_NONE_COFF_BEYOND,
	M_NONE_LEN_0,
};

struct bad_case {
	const char *name;
	enum base base;
	enum mutation m;
	int ret;
};

static const struct bad_case bad_cases[] = {
    {"the TCPv4 base is valid", B_TCP4, M_NONE, 0},
    {"the TCPv6 base is valid", B_TCP6, M_NONE, 0},
    {"the UDPv4 base is valid", B_UDP4, M_NONE, 0},
    {"the UDPv6 base is valid", B_UDP6, M_NONE, 0},
    {"the hop-by-hop base is valid", B_TCP6_HBH, M_NONE, 0},
    {"hdr_len beyond the packet", B_TCP4, M_HDRLEN_BEYOND, -EINVAL},
    {"gso_size 0 with TCPV4", B_TCP4, M_GSO_SIZE_0, -EINVAL},
    {"gso_size 0 with UDP_L4", B_UDP6, M_GSO_SIZE_0, -EINVAL},
    {"csum_start at the end", B_TCP4, M_CSTART_AT_END, -EINVAL},
    {"csum_start 0xffff", B_TCP6, M_CSTART_FFFF, -EINVAL},
    {"csum_start off the transport header", B_TCP4, M_CSTART_PLUS4, -EINVAL},
    {"csum_start 0", B_UDP4, M_CSTART_0, -EINVAL},
    {"csum_offset not TCP's", B_TCP4, M_COFF, -EINVAL},
    {"csum_offset not UDP's", B_UDP4, M_COFF, -EINVAL},
    {"GSO without NEEDS_CSUM", B_TCP6, M_NO_NEEDS_CSUM, -EINVAL},
    {"TCPV6 on an IPv4 packet", B_TCP4, M_TYPE_TCPV6, -EINVAL},
    {"TCPV4 on an IPv6 packet", B_TCP6, M_TYPE_TCPV4, -EINVAL},
    {"TCPV4 on a UDP packet", B_UDP4, M_TYPE_TCPV4, -EINVAL},
    {"UDP_L4 on a TCP packet", B_TCP4, M_TYPE_UDP_L4, -EINVAL},
    {"UFO (GSO_UDP)", B_UDP4, M_TYPE_UFO, -EINVAL},
    {"GSO type 2", B_TCP4, M_TYPE_2, -EINVAL},
    {"GSO type 6", B_TCP6, M_TYPE_6, -EINVAL},
    {"GSO type 0x7f", B_TCP4, M_TYPE_7F, -EINVAL},
    {"ECN on UDP_L4", B_UDP4, M_ECN_UDP, -EINVAL},
    {"ECN on GSO_NONE", B_TCP4, M_ECN_NONE, -EINVAL},
    {"one segment too many for max_out", B_TCP4, M_MAX_OUT_SHORT, -EINVAL},
    {"one segment too many for max_out, UDP", B_UDP6, M_MAX_OUT_SHORT, -EINVAL},
    {"max_out 0", B_TCP4, M_MAX_OUT_0, -EINVAL},
    {"a segment one byte larger than out_cap", B_TCP6, M_OUT_CAP_SHORT,
     -EINVAL},
    {"a datagram one byte larger than out_cap", B_UDP4, M_OUT_CAP_SHORT,
     -EINVAL},
    {"TCP data offset 4", B_TCP4, M_DOFF_4, -EINVAL},
    {"TCP header beyond the packet", B_TCP6, M_DOFF_BEYOND, -EINVAL},
    {"headers only, no payload", B_TCP4, M_NO_PAYLOAD, -EINVAL},
    {"UDP header only", B_UDP6, M_NO_PAYLOAD, -EINVAL},
    {"19 bytes", B_TCP4, M_LEN_19, -EINVAL},
    {"0 bytes", B_UDP4, M_LEN_0, -EINVAL},
    {"TCP header cut short", B_TCP4, M_L4_CUT, -EINVAL},
    {"UDP header cut short", B_UDP6, M_L4_CUT, -EINVAL},
    {"IPv6 header cut short", B_TCP6, M_V6_CUT, -EINVAL},
    {"IPv4 header length 16", B_TCP4, M_IHL_4, -EINVAL},
    {"IP version 5", B_TCP4, M_VERSION_5, -EINVAL},
    {"IP version 5 on UDP_L4", B_UDP4, M_VERSION_5, -EINVAL},
    {"an IPv4 fragment (MF)", B_TCP4, M_MF, -EINVAL},
    {"an IPv4 fragment (offset)", B_UDP4, M_FRAG_OFF, -EINVAL},
    {"IPv4 protocol not the GSO type's", B_TCP4, M_PROTO, -EINVAL},
    {"IPv6 next header not the GSO type's", B_UDP6, M_PROTO, -EINVAL},
    {"IPv6 routing header", B_TCP6_ROUTING, M_NONE, -EINVAL},
    {"IPv6 fragment header", B_TCP6_FRAGMENT, M_NONE, -EINVAL},
    {"IPv6 extension header running off the packet", B_TCP6_HBH, M_EXT_HUGE,
     -EINVAL},
    {"IPv6 extension header chain running off the packet", B_TCP6_HBH,
     M_EXT_CHAIN_OFF, -EINVAL},
    {"IPv6 extension header cut short", B_TCP6_HBH, M_EXT_CUT, -EINVAL},
    {"GSO_NONE larger than out_cap", B_TCP4, M_NONE_TOO_BIG, -EINVAL},
    {"GSO_NONE, csum_start at the last byte", B_TCP4, M_NONE_CSUM_AT_END,
     -EINVAL},
    {"GSO_NONE, csum_offset beyond the packet", B_UDP6, M_NONE_COFF_BEYOND,
     -EINVAL},
    {"GSO_NONE, 0 bytes", B_TCP4, M_NONE_LEN_0, -EINVAL},
};

static size_t build_base(enum base b, struct spec *sp, uint8_t *out)
{
	uint8_t pl[3000];

	spec_init(sp, b == B_TCP4 || b == B_UDP4 ? 4 : 6,
		  b == B_UDP4 || b == B_UDP6 ? UDP : TCP);
	sp->has_ext = b >= B_TCP6_HBH;
	sp->ext = b == B_TCP6_HBH	? IPPROTO_HOPOPTS
		  : b == B_TCP6_ROUTING ? IPPROTO_ROUTING
					: IPPROTO_FRAGMENT;
	fill_payload(pl, sizeof(pl), 7);
	return build(sp, pl, sizeof(pl), out, CS_PARTIAL);
}

/* Applies m; the packet is then len bytes. */
static void mutate(enum mutation m, const struct spec *sp, uint8_t *pkt,
		   size_t *len, struct virtio_net_hdr *h, size_t *out_cap,
		   unsigned int *max_out)
{
	size_t ih = h->csum_start;
	bool tcp = sp->proto == TCP;

	switch (m) {
	case M_NONE:
		break;
	case M_HDRLEN_BEYOND:
		h->hdr_len = (uint16_t)(*len + 1);
		break;
	case M_GSO_SIZE_0:
		h->gso_size = 0;
		break;
	case M_CSTART_AT_END:
		h->csum_start = (uint16_t)*len;
		break;
	case M_CSTART_FFFF:
		h->csum_start = 0xffff;
		break;
	case M_CSTART_PLUS4:
		h->csum_start += 4;
		break;
	case M_CSTART_0:
		h->csum_start = 0;
		break;
	case M_COFF:
		h->csum_offset = tcp ? 6 : 16;
		break;
	case M_NO_NEEDS_CSUM:
		h->flags = 0;
		break;
	case M_TYPE_TCPV6:
		h->gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
		break;
	case M_TYPE_TCPV4:
		h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		break;
	case M_TYPE_UDP_L4:
		h->gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
		break;
	case M_TYPE_UFO:
		h->gso_type = VIRTIO_NET_HDR_GSO_UDP;
		break;
	case M_TYPE_2:
		h->gso_type = 2;
		break;
	case M_TYPE_6:
		h->gso_type = 6;
		break;
	case M_TYPE_7F:
		h->gso_type = 0x7f;
		break;
	case M_ECN_UDP:
		h->gso_type =
		    VIRTIO_NET_HDR_GSO_UDP_L4 | VIRTIO_NET_HDR_GSO_ECN;
		break;
	case M_ECN_NONE:
		h->gso_type = VIRTIO_NET_HDR_GSO_ECN;
		break;
	case M_MAX_OUT_SHORT:
		(*max_out)--;
		break;
	case M_MAX_OUT_0:
		*max_out = 0;
		break;
	case M_OUT_CAP_SHORT:
		(*out_cap)--;
		break;
	case M_DOFF_4:
		pkt[ih + 12] = 0x40;
		break;
	case M_DOFF_BEYOND:
		pkt[ih + 12] = 0xf0;
		*len = ih + 40;
		break;
	case M_NO_PAYLOAD:
		*len = ih + l4_hlen_of(sp);
		break;
	case M_LEN_19:
		*len = 19;
		break;
	case M_LEN_0:
	case M_NONE_LEN_0:
		*len = 0;
		break;
	case M_L4_CUT:
		*len = ih + 5;
		break;
	case M_V6_CUT:
		*len = 39;
		break;
	case M_IHL_4:
		pkt[0] = 0x44;
		break;
	case M_VERSION_5:
		pkt[0] = (uint8_t)(0x50 | (pkt[0] & 0xf));
		break;
	case M_MF:
		pkt[6] |= 0x20;
		break;
	case M_FRAG_OFF:
		pkt[7] = 1;
		break;
	case M_PROTO:
		pkt[sp->ipv == 4 ? 9 : 6] = tcp ? UDP : TCP;
		break;
	case M_EXT_HUGE:
		pkt[41] = 255;
		break;
	case M_EXT_CHAIN_OFF: /* another header follows, beyond the end */
		pkt[40] = IPPROTO_DSTOPTS;
		pkt[41] = 255;
		*len = 2000;
		break;
	case M_EXT_CUT:
		*len = 41;
		break;
	case M_NONE_TOO_BIG:
		*out_cap = *len - 1;
		break;
	case M_NONE_CSUM_AT_END:
		h->csum_start = (uint16_t)(*len - 1);
		h->csum_offset = 0;
		break;
	case M_NONE_COFF_BEYOND:
		h->csum_offset = (uint16_t)*len;
		break;
	}
	if (m >= M_NONE_TOO_BIG) { /* these are about GSO_NONE */
		h->gso_type = VIRTIO_NET_HDR_GSO_NONE;
		h->gso_size = 0;
		if (m == M_NONE_TOO_BIG)
			h->flags = 0;
	}
	/* hdr_len is a hint; keep it from masking the check under test. */
	if (m != M_HDRLEN_BEYOND && h->hdr_len > *len)
		h->hdr_len = (uint16_t)*len;
}

START_TEST(test_split_malformed)
{
	const struct bad_case *c = &bad_cases[_i];
	uint8_t big[SLOT * 2], *pkt, **out;
	size_t len, out_cap, lens[MAX_SEGS];
	struct virtio_net_hdr h;
	unsigned int max_out, nout = 99, i;
	struct spec sp;
	int ret;

	len = build_base(c->base, &sp, big);
	make_vnet(&h, &sp, 1000, false);
	max_out = 3; /* 3000 bytes of payload in 1000-byte segments */
	out_cap = ip_hlen_of(&sp) + l4_hlen_of(&sp) + 1000;
	mutate(c->m, &sp, big, &len, &h, &out_cap, &max_out);
	/* Exactly-sized buffers, so that valgrind sees any overrun. */
	pkt = dup_exact(big, len);
	out = calloc(max_out + 1, sizeof(*out));
	ck_assert_ptr_nonnull(out);
	for (i = 0; i < max_out; i++) {
		ck_assert_ptr_nonnull(out[i] = malloc(out_cap));
		memset(out[i], 0x5a, out_cap);
	}
	ret = wg_gso_split(&h, pkt, len, out, out_cap, lens, max_out, &nout);
	ck_assert_msg(ret == c->ret, "%s: got %d, want %d", c->name, ret,
		      c->ret);
	if (ret)
		ck_assert_uint_eq(nout, 0);
	else
		ck_assert_uint_eq(nout, max_out);
	for (i = 0; i < max_out; i++) {
		size_t k;

		for (k = 0; ret && k < out_cap; k++) /* nothing written */
			ck_assert_uint_eq(out[i][k], 0x5a);
		free(out[i]);
	}
	free(out);
	free(pkt);
}
END_TEST

/* wg_gso_measure() agrees with what wg_gso_split() did: a read it
 * measured as pieces packets of at most longest bytes was cut into
 * exactly that, and a read it refuses was refused. */
static void check_measure(const struct virtio_net_hdr *h, const uint8_t *pkt,
			  size_t len, int split_ret, const size_t *lens,
			  unsigned int nout)
{
	unsigned int pieces = 0, i;
	size_t longest = 0, max = 0;
	int ret = wg_gso_measure(h, pkt, len, &pieces, &longest);

	ck_assert_msg(ret == 0 || ret == -EINVAL, "measure: ret %d", ret);
	if (ret) {
		ck_assert_int_ne(split_ret, 0);
		return;
	}
	if (split_ret)
		return; /* too many pieces for the test's buffers, say */
	for (i = 0; i < nout; i++)
		max = lens[i] > max ? lens[i] : max;
	ck_assert_uint_eq(pieces, nout);
	ck_assert_uint_eq(longest, max);
	for (i = 0; i + 1 < nout; i++)
		ck_assert_uint_eq(lens[i], longest);
}

/* Random mutations of valid super-packets: 0 or -EINVAL, and what comes
 * out is within bounds and carries valid checksums. */
START_TEST(test_split_fuzz)
{
	uint64_t seed = 0xf022 + (uint64_t)_i;
	static uint8_t big[BIG], pl[8000];
	unsigned int iter, accepted = 0, refused = 0;

	for (iter = 0; iter < 2500; iter++) {
		enum { NOUT = 16, CAP = 1600 };
		uint64_t r = test_random_u64(&seed);
		struct virtio_net_hdr h;
		struct spec sp;
		uint8_t *pkt, *out[NOUT];
		size_t len, lens[NOUT], plen = 1 + r % 8000, ih;
		uint16_t mss = (uint16_t)(plen / 12 + 1 + (r >> 16) % 1500);
		unsigned int nout, k, i;
		uint8_t proto;
		int ret;

		spec_init(&sp, r >> 32 & 1 ? 6 : 4, r >> 33 & 1 ? UDP : TCP);
		if (r >> 34 & 1)
			spec_timestamps(&sp, (uint32_t)r, 7);
		sp.has_ext = sp.ipv == 6 && !(r >> 35 & 3);
		fill_payload(pl, plen, r);
		len = build(&sp, pl, plen, big, CS_PARTIAL);
		make_vnet(&h, &sp, mss, false);
		for (k = 0; k < (r >> 40) % 4; k++) {
			uint64_t q = test_random_u64(&seed);

			big[q % (len < 80 ? len : 80)] ^= (uint8_t)(q >> 8);
		}
		if (r >> 44 & 1) { /* scribble over one vnet field */
			uint64_t q = test_random_u64(&seed);

			((uint8_t *)&h)[q % VH] ^= (uint8_t)(q >> 8);
		}
		if (!(r >> 46 & 7))
			len = test_random_u64(&seed) % (len + 1);
		pkt = dup_exact(big, len);
		for (i = 0; i < NOUT; i++)
			out[i] = malloc(CAP);
		ret = wg_gso_split(&h, pkt, len, out, CAP, lens, NOUT, &nout);
		ck_assert_msg(ret == 0 || ret == -EINVAL, "ret %d", ret);
		check_measure(&h, pkt, len, ret, lens, nout);
		if (ret) {
			refused++;
			ck_assert_uint_eq(nout, 0);
		} else {
			accepted++;
			ck_assert_uint_le(nout, NOUT);
		}
		ih = h.csum_start;
		proto = (h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) ==
				VIRTIO_NET_HDR_GSO_UDP_L4
			    ? UDP
			    : TCP;
		for (i = 0; !ret && i < nout; i++) {
			ck_assert_uint_le(lens[i], CAP);
			if (h.gso_type == VIRTIO_NET_HDR_GSO_NONE)
				continue;
			ck_assert_msg(ref_verify(out[i], lens[i], ih, proto),
				      "iteration %u: segment %u checksum", iter,
				      i);
		}
		for (i = 0; i < NOUT; i++)
			free(out[i]);
		free(pkt);
	}
	/* Both outcomes must have been exercised. */
	ck_assert_uint_gt(accepted, 250);
	ck_assert_uint_gt(refused, 250);
}
END_TEST

/* ---- GRO coalesce ---- */

enum flow_id { FA, FB, FC, FD, FE, FU, FV, FI, FX };

static const struct flow {
	int ipv;
	uint8_t proto;
	uint8_t dst_last;
	uint16_t sport;
	bool nodf, ts;
} flows[] = {
    [FA] = {4, TCP, 2, 1000, false, true},  /* v4, DF, timestamps */
    [FB] = {4, TCP, 2, 1001, false, true},  /* FA's other port */
    [FC] = {6, TCP, 2, 1000, false, false}, /* v6 */
    [FD] = {4, TCP, 2, 1002, true, false},  /* v4 without DF */
    [FE] = {4, TCP, 3, 1000, false, false}, /* FA's other address */
    [FU] = {4, UDP, 2, 3000, false, false},
    [FV] = {6, UDP, 2, 3000, false, false},
    [FI] = {4, IPPROTO_ICMP, 2, 0, false, false},
    [FX] = {0, 0, 0, 0, false, false}, /* not IP */
};

enum gro_mut {
	G_BAD_IPCSUM = 1 << 0,
	G_BAD_L4CSUM = 1 << 1,
	G_TTL = 1 << 2, /* IPv6: hop limit */
	G_TOS = 1 << 3, /* IPv6: traffic class */
	G_ID_JUMP = 1 << 4,
	G_OPT = 1 << 5,
	G_ACK = 1 << 6,
	G_WIN = 1 << 7,
	G_URGPTR = 1 << 8,
	G_IPOPT = 1 << 9,
	G_PAD = 1 << 10,
	G_UDP_NOCSUM = 1 << 11,
	G_FLOWLABEL = 1 << 12,
	G_FRAG = 1 << 13,
	G_DF_OFF = 1 << 14,
};

struct gp {
	uint8_t flow;
	uint32_t seq; /* from the flow's first byte */
	uint16_t plen;
	uint8_t flags;
	unsigned int mut;
};

/* nth: how many packets of its flow came before it. */
static void gp_spec(const struct gp *g, unsigned int nth, struct spec *s)
{
	const struct flow *f = &flows[g->flow];

	spec_init(s, f->ipv, f->proto);
	s->dst[f->ipv == 4 ? 3 : 15] = f->dst_last;
	s->sport = f->sport;
	s->df = !f->nodf && !(g->mut & G_DF_OFF);
	if (f->ts)
		spec_timestamps(s, 0x01020304 + !!(g->mut & G_OPT), 0x0a0b0c0d);
	s->seq += g->seq;
	s->flags = g->flags;
	s->id = (uint16_t)(100 + nth + (g->mut & G_ID_JUMP ? 7 : 0));
	s->ttl = g->mut & G_TTL ? 63 : 64;
	s->tos = g->mut & G_TOS ? 0x10 : 0;
	s->ack += !!(g->mut & G_ACK);
	s->win += !!(g->mut & G_WIN);
	s->urg = g->mut & G_URGPTR ? 1 : 0;
	s->ipopt = g->mut & G_IPOPT ? 4 : 0;
	s->mf = g->mut & G_FRAG;
	s->flowlabel = g->mut & G_FLOWLABEL ? 5 : 0;
}

/* A flow's bytes depend on their position only, so that consecutive
 * segments carry one stream. */
static void gp_payload(const struct gp *g, uint8_t *pl)
{
	uint32_t j, at;

	for (j = 0; j < g->plen; j++) {
		at = g->seq + j;
		pl[j] = (uint8_t)(g->flow * 31 + at * 7 + (at >> 8));
	}
}

static size_t gp_build(const struct gp *g, unsigned int nth, uint8_t *out)
{
	uint8_t pl[SLOT];
	struct spec s;
	size_t len, ih;

	if (g->flow == FX) { /* something that is not IP */
		memset(out, 0x0f, g->plen);
		return g->plen;
	}
	gp_spec(g, nth, &s);
	gp_payload(g, pl);
	ih = ip_hlen_of(&s);
	if (g->mut & G_UDP_NOCSUM) {
		/* Make the sum of the datagram with a 0 checksum field
		 * 0xffff, so that only the rule "0 is no checksum" stops
		 * it from verifying. */
		ck_assert(g->plen >= 2 && !(g->plen & 1));
		pl[g->plen - 2] = pl[g->plen - 1] = 0;
		len = build(&s, pl, g->plen, out, CS_FULL);
		memcpy(pl + g->plen - 2, out + ih + 6, 2);
		len = build(&s, pl, g->plen, out, CS_FULL);
		ck_assert_uint_eq(rd16(out + ih + 6), 0xffff);
	}
	len = build(&s, pl, g->plen, out, CS_FULL);
	if (g->mut & G_BAD_IPCSUM)
		out[10] ^= 1;
	if (g->mut & G_BAD_L4CSUM)
		out[ih + csum_off_of(s.proto)] ^= 0x40;
	if (g->mut & G_UDP_NOCSUM)
		out[ih + 6] = out[ih + 7] = 0;
	if (g->mut & G_PAD) {
		/* 0xfffd makes up for the 2 the length adds to the
		 * pseudo-header: the transport checksum still verifies
		 * over the longer packet, only the IP length tells. */
		wr16(out + len, 0xfffd);
		len += 2;
		ck_assert(ref_verify(out, len, ih, s.proto));
	}
	return len;
}

struct gro_run_ctx {
	const struct gp *gps;
	unsigned int n;
	uint8_t *pkts[128];
	size_t lens[128];
	uint8_t **bufs;
	unsigned int nbufs;
	size_t buf_cap;
	struct wg_gro_item items[128];
	unsigned int nitems;
};

static void gro_run(struct gro_run_ctx *x, unsigned int flags)
{
	unsigned int i, j, nth;
	uint8_t tmp[SLOT];

	ck_assert_uint_le(x->n, 128);
	for (i = 0; i < x->n; i++) {
		for (nth = 0, j = 0; j < i; j++)
			nth += x->gps[j].flow == x->gps[i].flow;
		x->lens[i] = gp_build(&x->gps[i], nth, tmp);
		x->pkts[i] = dup_exact(tmp, x->lens[i]);
	}
	x->bufs = calloc(x->nbufs + 1, sizeof(*x->bufs));
	for (i = 0; i < x->nbufs; i++)
		ck_assert_ptr_nonnull(x->bufs[i] = malloc(x->buf_cap));
	x->nitems =
	    wg_gro_coalesce((const uint8_t *const *)x->pkts, x->lens, x->n,
			    x->bufs, x->buf_cap, x->nbufs, flags, x->items);
}

static void gro_free(struct gro_run_ctx *x)
{
	unsigned int i;

	for (i = 0; i < x->n; i++)
		free(x->pkts[i]);
	for (i = 0; i < x->nbufs; i++)
		free(x->bufs[i]);
	free(x->bufs);
}

/* "0,2|1,3": items of packets 0 and 2, then 1 and 3. */
static unsigned int parse_groups(const char *want, unsigned int g[][128],
				 unsigned int *cnt)
{
	unsigned int ng = 0;
	const char *p = want;

	cnt[0] = 0;
	while (*p) {
		char *end;

		g[ng][cnt[ng]++] = (unsigned int)strtoul(p, &end, 10);
		p = end;
		if (*p == '|') {
			cnt[++ng] = 0;
		}
		if (*p)
			p++;
	}
	return ng + 1;
}

static void describe_items(const struct gro_run_ctx *x, char *s, size_t n)
{
	unsigned int k;
	size_t o = 0;

	s[0] = 0;
	for (k = 0; k < x->nitems && o < n; k++)
		o += (size_t)snprintf(s + o, n - o, "%s%u+%u", k ? " " : "",
				      x->items[k].first, x->items[k].count);
}

/* The super-packet of packets g[0 .. cnt), built from scratch. */
static void check_merged(const struct gro_run_ctx *x, const char *name,
			 const struct wg_gro_item *it, const unsigned int *g,
			 unsigned int cnt)
{
	static uint8_t pl[BIG], want[BIG];
	const struct gp *first = &x->gps[g[0]];
	struct virtio_net_hdr h;
	size_t plen = 0, len;
	unsigned int j, nth = 0;
	struct spec s;
	bool inside = false;

	for (j = 0; j < g[0]; j++)
		nth += x->gps[j].flow == first->flow;
	gp_spec(first, nth, &s);
	for (j = 0; j < cnt; j++) {
		gp_payload(&x->gps[g[j]], pl + plen);
		plen += x->gps[g[j]].plen;
	}
	s.flags |= x->gps[g[cnt - 1]].flags & TF_PSH;
	len = build(&s, pl, plen, want, CS_PARTIAL);
	make_vnet(&h, &s, first->plen, false);
	ck_assert_msg(it->len == len, "%s: item of %u is %zu bytes, want %zu",
		      name, g[0], it->len, len);
	ck_assert_msg(!memcmp(it->pkt, want, len),
		      "%s: item of %u differs at byte %zu", name, g[0],
		      first_diff(it->pkt, want, len));
	ck_assert_msg(!memcmp(&it->hdr, &h, VH), "%s: vnet header of %u", name,
		      g[0]);
	for (j = 0; j < x->nbufs; j++)
		inside |= it->pkt == x->bufs[j] + VH;
	ck_assert_msg(inside, "%s: item of %u not in a buffer", name, g[0]);
	ck_assert(!memcmp(it->pkt - VH, &h, VH));
}

static void check_gro(struct gro_run_ctx *x, const char *name, const char *want)
{
	static unsigned int g[128][128];
	unsigned int cnt[128], ng, k;
	static const struct virtio_net_hdr zero;
	char got[1024];

	ng = parse_groups(want, g, cnt);
	describe_items(x, got, sizeof(got));
	ck_assert_msg(x->nitems == ng, "%s: got items %s, want %s", name, got,
		      want);
	for (k = 0; k < ng; k++) {
		const struct wg_gro_item *it = &x->items[k];

		ck_assert_msg(it->first == g[k][0] && it->count == cnt[k],
			      "%s: got items %s, want %s", name, got, want);
		if (cnt[k] > 1) {
			check_merged(x, name, it, g[k], cnt[k]);
			continue;
		}
		ck_assert_msg(it->pkt == x->pkts[it->first] &&
				  it->len == x->lens[it->first],
			      "%s: item %u is not its packet", name, k);
		ck_assert_msg(!memcmp(&it->hdr, &zero, VH),
			      "%s: item %u has a vnet header", name, k);
	}
}

struct gro_case {
	const char *name;
	struct gp pkts[12];
	unsigned int n;
	const char *want;
	unsigned int flags;
	int nbufs;	/* 0: eight, -1: none */
	size_t buf_cap; /* 0: WG_GRO_BUF_SIZE */
};

#define P(f, s, l)                                                             \
	{                                                                      \
		(f), (s), (l), TF_ACK, 0                                       \
	}
#define PF(f, s, l, fl)                                                        \
	{                                                                      \
		(f), (s), (l), (fl), 0                                         \
	}
#define PM(f, s, l, m)                                                         \
	{                                                                      \
		(f), (s), (l), TF_ACK, (m)                                     \
	}
#define PKTS(...)                                                              \
	.pkts = {__VA_ARGS__},                                                 \
	.n = sizeof((struct gp[]){__VA_ARGS__}) / sizeof(struct gp)

/* clang-format off */
static const struct gro_case gro_cases[] = {
	{ "TCPv4 in order", PKTS(P(FA, 0, 1000), P(FA, 1000, 1000),
	  P(FA, 2000, 1000)), "0,1,2" },
	{ "TCPv6 in order", PKTS(P(FC, 0, 1200), P(FC, 1200, 1200),
	  P(FC, 2400, 1200), P(FC, 3600, 1200)), "0,1,2,3" },
	{ "TCPv4 without DF, IDs counting up", PKTS(P(FD, 0, 800),
	  P(FD, 800, 800)), "0,1" },
	{ "a shorter one ends the run", PKTS(P(FA, 0, 1000), P(FA, 1000, 1000),
	  P(FA, 2000, 500), P(FA, 2500, 1000)), "0,1,2|3" },
	{ "a larger one cannot join", PKTS(P(FA, 0, 500), P(FA, 500, 1000),
	  P(FA, 1500, 1000)), "0|1,2" },
	{ "out of order", PKTS(P(FA, 0, 1000), P(FA, 2000, 1000),
	  P(FA, 1000, 1000)), "0|1|2" },
	{ "a gap", PKTS(P(FA, 0, 1000), P(FA, 1500, 1000)), "0|1" },
	{ "a retransmission", PKTS(P(FA, 0, 1000), P(FA, 1000, 1000),
	  P(FA, 1000, 1000)), "0,1|2" },
	{ "other ports are another flow", PKTS(P(FA, 0, 1000), P(FB, 0, 1000),
	  P(FA, 1000, 1000), P(FB, 1000, 1000)), "0,2|1,3" },
	{ "another address is another flow", PKTS(P(FA, 0, 1000),
	  P(FE, 1000, 1000), P(FA, 1000, 1000)), "0,2|1" },
	{ "IPv4 and IPv6 interleaved", PKTS(P(FA, 0, 1000), P(FC, 0, 1000),
	  P(FA, 1000, 1000), P(FC, 1000, 1000)), "0,2|1,3" },
	{ "PSH ends a run", PKTS(P(FA, 0, 1000), PF(FA, 1000, 1000,
	  TF_ACK | TF_PSH), P(FA, 2000, 1000), P(FA, 3000, 1000)),
	  "0,1|2,3" },
	{ "a run that starts with PSH is one packet", PKTS(
	  PF(FA, 0, 1000, TF_ACK | TF_PSH), P(FA, 1000, 1000),
	  P(FA, 2000, 1000)), "0|1,2" },
	{ "SYN is never merged", PKTS(P(FA, 0, 1000),
	  PF(FA, 1000, 1000, TF_ACK | TF_SYN), P(FA, 2000, 1000)), "0|1|2" },
	{ "FIN is never merged", PKTS(P(FA, 0, 1000), P(FA, 1000, 1000),
	  PF(FA, 2000, 1000, TF_ACK | TF_FIN)), "0,1|2" },
	{ "RST is never merged", PKTS(P(FA, 0, 1000),
	  PF(FA, 1000, 1000, TF_ACK | TF_RST)), "0|1" },
	{ "URG is never merged", PKTS(P(FA, 0, 1000),
	  PF(FA, 1000, 1000, TF_ACK | TF_URG)), "0|1" },
	{ "CWR is never merged", PKTS(PF(FA, 0, 1000, TF_ACK | TF_CWR),
	  P(FA, 1000, 1000), P(FA, 2000, 1000)), "0|1,2" },
	{ "ECE is never merged", PKTS(P(FA, 0, 1000),
	  PF(FA, 1000, 1000, TF_ACK | TF_ECE)), "0|1" },
	{ "SYN on both", PKTS(PF(FA, 0, 1000, TF_ACK | TF_SYN),
	  PF(FA, 1000, 1000, TF_ACK | TF_SYN)), "0|1" },
	{ "FIN on both", PKTS(PF(FA, 0, 1000, TF_ACK | TF_FIN),
	  PF(FA, 1000, 1000, TF_ACK | TF_FIN)), "0|1" },
	{ "RST on both", PKTS(PF(FA, 0, 1000, TF_ACK | TF_RST),
	  PF(FA, 1000, 1000, TF_ACK | TF_RST)), "0|1" },
	{ "URG on both", PKTS(PF(FA, 0, 1000, TF_ACK | TF_URG),
	  PF(FA, 1000, 1000, TF_ACK | TF_URG)), "0|1" },
	{ "ECE on both", PKTS(PF(FA, 0, 1000, TF_ACK | TF_ECE),
	  PF(FA, 1000, 1000, TF_ACK | TF_ECE)), "0|1" },
	{ "CWR on both", PKTS(PF(FC, 0, 1000, TF_ACK | TF_CWR),
	  PF(FC, 1000, 1000, TF_ACK | TF_CWR)), "0|1" },
	{ "ACK then no ACK", PKTS(P(FA, 0, 1000), PF(FA, 1000, 1000, 0)),
	  "0|1" },
	{ "TCP options differ", PKTS(P(FA, 0, 1000),
	  PM(FA, 1000, 1000, G_OPT)), "0|1" },
	{ "ack numbers differ", PKTS(P(FA, 0, 1000),
	  PM(FA, 1000, 1000, G_ACK)), "0|1" },
	{ "windows differ", PKTS(P(FA, 0, 1000), PM(FA, 1000, 1000, G_WIN)),
	  "0|1" },
	{ "urgent pointers differ", PKTS(P(FA, 0, 1000),
	  PM(FA, 1000, 1000, G_URGPTR)), "0|1" },
	{ "TTLs differ", PKTS(P(FA, 0, 1000), PM(FA, 1000, 1000, G_TTL)),
	  "0|1" },
	{ "TOS differs", PKTS(P(FA, 0, 1000), PM(FA, 1000, 1000, G_TOS)),
	  "0|1" },
	{ "DF differs", PKTS(P(FA, 0, 1000), PM(FA, 1000, 1000, G_DF_OFF)),
	  "0|1" },
	{ "without DF the ID must count up", PKTS(P(FD, 0, 1000),
	  P(FD, 1000, 1000), PM(FD, 2000, 1000, G_ID_JUMP), P(FD, 3000, 1000)),
	  "0,1|2|3" },
	{ "with DF the ID is free", PKTS(P(FA, 0, 1000),
	  PM(FA, 1000, 1000, G_ID_JUMP), P(FA, 2000, 1000)), "0,1,2" },
	{ "IPv4 options", PKTS(P(FA, 0, 1000), PM(FA, 1000, 1000, G_IPOPT),
	  P(FA, 2000, 1000)), "0|1|2" },
	{ "a fragment closes the runs between its addresses", PKTS(
	  P(FA, 0, 1000), P(FB, 0, 1000), PM(FA, 1000, 1000, G_FRAG),
	  P(FA, 2000, 1000), P(FB, 1000, 1000), P(FC, 0, 1000),
	  P(FC, 1000, 1000)), "0|1|2|3|4|5,6" },
	{ "a bad IPv4 header checksum", PKTS(P(FA, 0, 1000),
	  PM(FA, 1000, 1000, G_BAD_IPCSUM), P(FA, 2000, 1000)), "0|1|2" },
	{ "a bad TCP checksum first", PKTS(PM(FA, 0, 1000, G_BAD_L4CSUM),
	  P(FA, 1000, 1000), P(FA, 2000, 1000)), "0|1,2" },
	{ "a bad TCP checksum last", PKTS(P(FA, 0, 1000), P(FA, 1000, 1000),
	  PM(FA, 2000, 1000, G_BAD_L4CSUM)), "0,1|2" },
	{ "a bad TCPv6 checksum", PKTS(P(FC, 0, 1000),
	  PM(FC, 1000, 1000, G_BAD_L4CSUM), P(FC, 2000, 1000)), "0|1|2" },
	{ "IPv4 length short of the packet", PKTS(P(FA, 0, 1002),
	  PM(FA, 1002, 1000, G_PAD)), "0|1" },
	{ "IPv6 length short of the packet", PKTS(P(FC, 0, 1002),
	  PM(FC, 1002, 1000, G_PAD)), "0|1" },
	{ "a pure ACK of the flow closes its run", PKTS(P(FA, 0, 1000),
	  P(FA, 1000, 0), P(FA, 1000, 1000), P(FA, 2000, 1000)), "0|1|2,3" },
	{ "a pure ACK of another flow does not", PKTS(P(FA, 0, 1000),
	  P(FB, 0, 0), P(FA, 1000, 1000)), "0,2|1" },
	{ "ICMP in between does not", PKTS(P(FA, 0, 1000), P(FI, 0, 56),
	  P(FA, 1000, 1000)), "0,2|1" },
	{ "not IP in between does not", PKTS(P(FA, 0, 1000), P(FX, 0, 30),
	  P(FA, 1000, 1000)), "0,2|1" },
	{ "IPv6 flow labels differ", PKTS(P(FC, 0, 1000),
	  PM(FC, 1000, 1000, G_FLOWLABEL)), "0|1" },
	{ "IPv6 traffic classes differ", PKTS(P(FC, 0, 1000),
	  PM(FC, 1000, 1000, G_TOS)), "0|1" },
	{ "IPv6 hop limits differ", PKTS(P(FC, 0, 1000),
	  PM(FC, 1000, 1000, G_TTL)), "0|1" },
	{ "one buffer for two flows", PKTS(P(FA, 0, 1000), P(FB, 0, 1000),
	  P(FA, 1000, 1000), P(FB, 1000, 1000)), "0,2|1|3", .nbufs = 1 },
	{ "no buffers", PKTS(P(FA, 0, 1000), P(FA, 1000, 1000)), "0|1",
	  .nbufs = -1 },
	{ "a small buffer caps the run", PKTS(P(FA, 0, 1000),
	  P(FA, 1000, 1000), P(FA, 2000, 1000), P(FA, 3000, 1000)), "0,1|2,3",
	  .nbufs = 2, .buf_cap = VH + 52 + 2000 },
	{ "UDP is left alone without WG_GRO_UDP", PKTS(P(FU, 0, 1000),
	  P(FU, 1000, 1000)), "0|1" },
	{ "UDPv4", PKTS(P(FU, 0, 1200), P(FU, 1200, 1200), P(FU, 2400, 1200),
	  P(FU, 3600, 800), P(FU, 4400, 1200)), "0,1,2,3|4",
	  .flags = WG_GRO_UDP },
	{ "UDPv6", PKTS(P(FV, 0, 1232), P(FV, 1232, 1232),
	  P(FV, 2464, 1232)), "0,1,2", .flags = WG_GRO_UDP },
	{ "UDP, a larger one cannot join", PKTS(P(FU, 0, 500),
	  P(FU, 500, 1000), P(FU, 1500, 1000)), "0|1,2", .flags = WG_GRO_UDP },
	{ "UDP, a bad checksum", PKTS(P(FU, 0, 1000),
	  PM(FU, 1000, 1000, G_BAD_L4CSUM), P(FU, 2000, 1000)), "0|1|2",
	  .flags = WG_GRO_UDP },
	{ "UDP without a checksum", PKTS(P(FU, 0, 1000),
	  PM(FU, 1000, 1000, G_UDP_NOCSUM), P(FU, 2000, 1000)), "0|1|2",
	  .flags = WG_GRO_UDP },
	{ "UDP, a bad IPv4 header checksum", PKTS(
	  PM(FU, 0, 1000, G_BAD_IPCSUM), P(FU, 1000, 1000)), "0|1",
	  .flags = WG_GRO_UDP },
	{ "TCP and UDP interleaved", PKTS(P(FA, 0, 1000), P(FU, 0, 1000),
	  P(FA, 1000, 1000), P(FU, 1000, 1000)), "0,2|1,3",
	  .flags = WG_GRO_UDP },
};
/* clang-format on */

START_TEST(test_gro)
{
	const struct gro_case *c = &gro_cases[_i];
	struct gro_run_ctx *x = calloc(1, sizeof(*x));

	ck_assert_ptr_nonnull(x);
	x->gps = c->pkts;
	x->n = c->n;
	x->nbufs = c->nbufs < 0 ? 0u : c->nbufs ? (unsigned int)c->nbufs : 8u;
	x->buf_cap = c->buf_cap ? c->buf_cap : WG_GRO_BUF_SIZE;
	gro_run(x, c->flags);
	check_gro(x, c->name, c->want);
	gro_free(x);
	free(x);
}
END_TEST

/* Long runs: the 64 KiB limit for TCP, 64 datagrams for UDP. */
struct long_case {
	const char *name;
	uint8_t flow;
	uint16_t plen;
	unsigned int n, first_run;
};

static const struct long_case long_cases[] = {
    /* 52 + 46 * 1400 = 64452; one more would pass 65535. */
    {"TCPv4 stops at 64 KiB", FA, 1400, 50, 46},
    /* 40 + 20 + 47 * 1392 = 65484 */
    {"TCPv6 stops at 64 KiB", FC, 1392, 60, 47},
    {"UDP stops at 64 datagrams", FU, 500, 70, 64},
    {"TCP goes beyond 64 segments", FA, 500, 70, 70},
};

START_TEST(test_gro_long)
{
	const struct long_case *c = &long_cases[_i];
	struct gro_run_ctx *x = calloc(1, sizeof(*x));
	struct gp *gps = calloc(c->n, sizeof(*gps));
	char want[1024];
	size_t o = 0;
	unsigned int i;

	ck_assert(x && gps);
	for (i = 0; i < c->n; i++) {
		gps[i] = (struct gp){c->flow, i * c->plen, c->plen, TF_ACK, 0};
		o += (size_t)snprintf(want + o, sizeof(want) - o, "%s%u",
				      !i		  ? ""
				      : i == c->first_run ? "|"
							  : ",",
				      i);
	}
	x->gps = gps;
	x->n = c->n;
	x->nbufs = 2;
	x->buf_cap = WG_GRO_BUF_SIZE;
	gro_run(x, WG_GRO_UDP);
	check_gro(x, c->name, want);
	gro_free(x);
	free(gps);
	free(x);
}
END_TEST

/* ---- Randomized: split, interleave, coalesce, split again ---- */

struct rt_flow {
	struct spec sp;
	struct virtio_net_hdr h;
	uint8_t *segs[MAX_SEGS];
	size_t lens[MAX_SEGS];
	unsigned int nseg, next;
};

static void rt_make_flow(uint64_t *seed, unsigned int f, struct rt_flow *rf,
			 uint8_t *big, uint8_t *pl)
{
	uint64_t r = test_random_u64(seed), q = test_random_u64(seed);
	size_t mss = 200 + r % 1261, nseg = 1 + (r >> 12) % 16, plen, len;
	unsigned int nout, i;

	spec_init(&rf->sp, r >> 20 & 1 ? 6 : 4, (r >> 21 & 3) ? TCP : UDP);
	rf->sp.sport = (uint16_t)(1000 + f);
	rf->sp.tos = (uint8_t)q;
	rf->sp.ttl = (uint8_t)(q >> 8);
	rf->sp.id = (uint16_t)(q >> 16);
	rf->sp.seq = (uint32_t)(q >> 32);
	rf->sp.df = r >> 23 & 1;
	rf->sp.flowlabel = (uint32_t)(r >> 24 & 0xfffff);
	if (r >> 44 & 1)
		spec_timestamps(&rf->sp, (uint32_t)q, (uint32_t)r);
	rf->sp.flags = TF_ACK;
	if (!(r >> 45 & 3))
		rf->sp.flags |= TF_PSH;
	if (!(r >> 47 & 7))
		rf->sp.flags |= TF_FIN;
	if (!(r >> 50 & 7))
		rf->sp.flags |= TF_CWR;
	plen = (nseg - 1) * mss + 1 + (r >> 53) % mss;
	fill_payload(pl, plen, q);
	len = build(&rf->sp, pl, plen, big, CS_PARTIAL);
	make_vnet(&rf->h, &rf->sp, (uint16_t)mss,
		  rf->sp.proto == TCP && (rf->sp.flags & TF_CWR));
	for (i = 0; i < MAX_SEGS; i++)
		rf->segs[i] = malloc(SLOT);
	ck_assert_int_eq(wg_gso_split(&rf->h, big, len, rf->segs, SLOT,
				      rf->lens, MAX_SEGS, &nout),
			 0);
	ck_assert_uint_eq(nout, nseg);
	rf->nseg = nout;
	rf->next = 0;
}

/*
 * A WG_GRO_SCATTER item laid out as writev() would write it, into flat
 * (vnet header, then the packet). Its first piece must be the vnet
 * header and headers in one of bufs[], every other piece a payload lying
 * inside one of the n inputs (nothing copied), and the pieces must add
 * up to the item's length.
 */
static void flatten_scatter(const struct wg_gro_item *it, uint8_t *const *bufs,
			    unsigned int nbufs, const uint8_t *const *in,
			    const size_t *inlen, unsigned int n, uint8_t *flat)
{
	const uint8_t *b0 = it->iov[0].iov_base;
	size_t off = 0;
	unsigned int v, k;
	bool ok = false;

	ck_assert_uint_ge(it->niov, 3);
	ck_assert_uint_eq(it->niov, it->count + 1);
	for (k = 0; k < nbufs; k++)
		ok |= b0 == bufs[k];
	ck_assert_msg(ok, "the headers' piece is not in a buffer");
	ck_assert(it->pkt == b0 + VH);
	ck_assert(!memcmp(b0, &it->hdr, VH));
	for (v = 0; v < it->niov; v++) {
		const uint8_t *p = it->iov[v].iov_base;
		size_t l = it->iov[v].iov_len;

		for (k = 0, ok = v == 0; !ok && k < n; k++)
			ok = p >= in[k] && p + l <= in[k] + inlen[k];
		ck_assert_msg(ok, "piece %u lies outside the inputs", v);
		ck_assert_uint_le(off + l, VH + WG_OFFLOAD_MAX_PACKET);
		memcpy(flat + off, p, l);
		off += l;
	}
	ck_assert_uint_eq(off, VH + it->len);
}

START_TEST(test_roundtrip)
{
	/* Up to 3 flows; now and then 10, more than the runs kept open. */
	enum { NF = 10, NIN = NF * MAX_SEGS };
	static uint8_t big[BIG], pl[BIG];
	uint64_t seed = 0x707 + (uint64_t)_i;
	struct rt_flow *fl = calloc(NF, sizeof(*fl));
	struct wg_gro_item *items = calloc(NIN, sizeof(*items));
	uint8_t *bufs[4], *out[MAX_SEGS], *flat = malloc(VH + BIG);
	unsigned int iter, merged = 0, scattered = 0, i;

	ck_assert(fl && items && flat);
	for (i = 0; i < 4; i++)
		bufs[i] = malloc(WG_GRO_BUF_SIZE);
	for (i = 0; i < MAX_SEGS; i++)
		out[i] = malloc(SLOT);
	for (iter = 0; iter < 150; iter++) {
		const uint8_t *in[NIN];
		size_t inlen[NIN], olens[MAX_SEGS];
		unsigned int inflow[NIN], nf, n = 0, left = 0, nitems, k, f;
		uint64_t r = test_random_u64(&seed);
		/* Half the time the pieces are listed, not copied
		 * (WG_GRO_SCATTER), in buffers that hold 1 to 40 of them
		 * or any number. */
		bool scatter = r >> 50 & 1;
		size_t cap =
		    r & 1	? WG_GRO_BUF_SIZE
		    : scatter ? WG_GRO_SCATTER_IOV_AT +
				    (1 + (r >> 8) % 40) * sizeof(struct iovec)
			      : VH + 3000 + (r >> 8) % 20000;

		nf = r >> 40 & 3 ? 1 + (unsigned int)(r >> 42) % 3 : NF;
		for (f = 0; f < nf; f++) {
			rt_make_flow(&seed, f, &fl[f], big, pl);
			left += fl[f].nseg;
		}
		/* Interleave, each flow in its own order. */
		while (left) {
			f = (unsigned int)(test_random_u64(&seed) % nf);
			if (fl[f].next == fl[f].nseg)
				continue;
			in[n] = fl[f].segs[fl[f].next];
			inlen[n] = fl[f].lens[fl[f].next++];
			inflow[n++] = f;
			left--;
		}
		for (f = 0; f < nf; f++)
			fl[f].next = 0;
		nitems = wg_gro_coalesce(
		    in, inlen, n, bufs, cap, (unsigned int)(r >> 20) % 5,
		    WG_GRO_UDP | (scatter ? WG_GRO_SCATTER : 0), items);
		ck_assert_uint_le(nitems, n);
		for (k = 0; k < nitems; k++) {
			const struct wg_gro_item *it = &items[k];
			const uint8_t *pkt = it->pkt;
			unsigned int nout;

			ck_assert(!k || it->first > items[k - 1].first);
			f = inflow[it->first];
			merged += it->count > 1;
			ck_assert_uint_eq(it->niov != 0,
					  scatter && it->count > 1);
			if (it->niov) {
				flatten_scatter(it, bufs, 4, in, inlen, n,
						flat);
				pkt = flat + VH;
				scattered++;
			}
			ck_assert_int_eq(wg_gso_split(&it->hdr, pkt, it->len,
						      out, SLOT, olens,
						      MAX_SEGS, &nout),
					 0);
			ck_assert_uint_eq(nout, it->count);
			for (i = 0; i < nout; i++) {
				struct rt_flow *rf = &fl[f];

				ck_assert_uint_lt(rf->next, rf->nseg);
				ck_assert_uint_eq(olens[i], rf->lens[rf->next]);
				ck_assert_msg(
				    !memcmp(out[i], rf->segs[rf->next],
					    olens[i]),
				    "iteration %u, flow %u, segment "
				    "%u differs at %zu",
				    iter, f, rf->next,
				    first_diff(out[i], rf->segs[rf->next],
					       olens[i]));
				rf->next++;
			}
		}
		for (f = 0; f < nf; f++) {
			ck_assert_uint_eq(fl[f].next, fl[f].nseg);
			for (i = 0; i < MAX_SEGS; i++)
				free(fl[f].segs[i]);
		}
	}
	/* GRO must really have merged, both ways, or this proved
	 * nothing. */
	ck_assert_uint_gt(merged, 100);
	ck_assert_uint_gt(scattered, 30);
	for (i = 0; i < 4; i++)
		free(bufs[i]);
	for (i = 0; i < MAX_SEGS; i++)
		free(out[i]);
	free(flat);
	free(items);
	free(fl);
}
END_TEST

/* Equal, but for the ID (and so the header checksum) of IPv4 with DF,
 * which GRO need not keep (RFC 6864). */
static bool same_segment(const uint8_t *a, const uint8_t *b, size_t len)
{
	if (len < 20 || a[0] >> 4 != 4 || !(a[6] & 0x40))
		return !memcmp(a, b, len);
	return !memcmp(a, b, 4) && !memcmp(a + 6, b + 6, 4) &&
	       !memcmp(a + 12, b + 12, len - 12);
}

/* The pristine segment that out is, or -1. */
static int find_segment(const struct rt_flow *rf, uint8_t *const *pristine,
			const uint8_t *out, size_t len)
{
	unsigned int j;

	for (j = 0; j < rf->nseg; j++)
		if (rf->lens[j] == len && same_segment(pristine[j], out, len))
			return (int)j;
	return -1;
}

/* The security rule: a packet with one corrupted byte is never part of a
 * merged item. Whatever a merged item splits back into must be pristine
 * segments that were not corrupted. */
/* Authenticated packets (WG_GRO_TRUSTED): a segment its sender sent with
 * a bad transport checksum is merged with its flow, as the kernel module
 * would deliver it, where without the flag it goes alone; a bad IPv4
 * header checksum still keeps a segment out, as the kernel would drop
 * it. */
START_TEST(test_gro_trusted)
{
	static uint8_t big[BIG], pl[BIG];
	uint64_t seed = 0x7a57 + (uint64_t)_i;
	struct rt_flow *rf = calloc(1, sizeof(*rf));
	struct wg_gro_item items[MAX_SEGS];
	uint8_t *bufs[8];
	unsigned int i, n, mid, tries = 0;
	size_t at;

	ck_assert_ptr_nonnull(rf);
	for (i = 0; i < 8; i++)
		bufs[i] = malloc(WG_GRO_BUF_SIZE);
	/* A flow that coalesces whole, of three segments or more. */
	for (;;) {
		ck_assert_uint_lt(tries++, 1000);
		rt_make_flow(&seed, 0, rf, big, pl);
		if (rf->nseg >= 3 &&
		    wg_gro_coalesce((const uint8_t *const *)rf->segs, rf->lens,
				    rf->nseg, bufs, WG_GRO_BUF_SIZE, 8,
				    WG_GRO_UDP, items) == 1)
			break;
		for (i = 0; i < MAX_SEGS; i++)
			free(rf->segs[i]);
	}
	mid = rf->nseg / 2;
	at = rf->lens[mid] - 1; /* the last payload byte */
	rf->segs[mid][at] ^= 0x5a;
	n = wg_gro_coalesce((const uint8_t *const *)rf->segs, rf->lens,
			    rf->nseg, bufs, WG_GRO_BUF_SIZE, 8, WG_GRO_UDP,
			    items);
	ck_assert_uint_ge(n, 2);
	n = wg_gro_coalesce((const uint8_t *const *)rf->segs, rf->lens,
			    rf->nseg, bufs, WG_GRO_BUF_SIZE, 8,
			    WG_GRO_UDP | WG_GRO_TRUSTED, items);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(items[0].count, rf->nseg);
	if (rf->sp.ipv == 4) {
		rf->segs[mid][10] ^= 0x01; /* the IPv4 header checksum */
		n = wg_gro_coalesce((const uint8_t *const *)rf->segs,
				    rf->lens, rf->nseg, bufs, WG_GRO_BUF_SIZE,
				    8, WG_GRO_UDP | WG_GRO_TRUSTED, items);
		ck_assert_uint_ge(n, 2);
	}
	for (i = 0; i < MAX_SEGS; i++)
		free(rf->segs[i]);
	for (i = 0; i < 8; i++)
		free(bufs[i]);
	free(rf);
}
END_TEST

START_TEST(test_gro_corrupt)
{
	static uint8_t big[BIG], pl[BIG];
	uint64_t seed = 0xbad + (uint64_t)_i;
	struct rt_flow *rf = calloc(1, sizeof(*rf));
	struct wg_gro_item items[MAX_SEGS];
	uint8_t *bufs[8], *pristine[MAX_SEGS], *out[MAX_SEGS];
	unsigned int iter, i, merged = 0, corrupted = 0;

	ck_assert_ptr_nonnull(rf);
	for (i = 0; i < 8; i++)
		bufs[i] = malloc(WG_GRO_BUF_SIZE);
	for (i = 0; i < MAX_SEGS; i++) {
		pristine[i] = malloc(SLOT);
		out[i] = malloc(SLOT);
	}
	for (iter = 0; iter < 300; iter++) {
		bool bad[MAX_SEGS] = {false};
		unsigned int nitems, k, next = 0, nout;
		size_t olens[MAX_SEGS];

		rt_make_flow(&seed, 0, rf, big, pl);
		for (i = 0; i < rf->nseg; i++) {
			uint64_t q = test_random_u64(&seed);
			size_t at;

			memcpy(pristine[i], rf->segs[i], rf->lens[i]);
			if (q % 4)
				continue;
			/* IPv6's first word and hop limit are covered by no
			 * checksum, as in the kernel. */
			do
				at = (size_t)(test_random_u64(&seed) %
					      rf->lens[i]);
			while (rf->sp.ipv == 6 && (at < 4 || at == 7));
			rf->segs[i][at] ^= (uint8_t)(1 + (q >> 8) % 255);
			bad[i] = true;
			corrupted++;
		}
		nitems = wg_gro_coalesce((const uint8_t *const *)rf->segs,
					 rf->lens, rf->nseg, bufs,
					 WG_GRO_BUF_SIZE, 8, WG_GRO_UDP, items);
		for (k = 0; k < nitems; k++) {
			next += items[k].count;
			if (items[k].count < 2)
				continue;
			merged++;
			ck_assert_int_eq(wg_gso_split(&items[k].hdr,
						      items[k].pkt,
						      items[k].len, out, SLOT,
						      olens, MAX_SEGS, &nout),
					 0);
			ck_assert_uint_eq(nout, items[k].count);
			for (i = 0; i < nout; i++) {
				int j = find_segment(rf, pristine, out[i],
						     olens[i]);

				ck_assert_msg(j >= 0 && !bad[j],
					      "iteration %u: item %u, segment "
					      "%u: %s",
					      iter, k, i,
					      j < 0 ? "not an original"
						    : "corrupt, merged");
			}
		}
		ck_assert_uint_eq(next, rf->nseg);
		for (i = 0; i < MAX_SEGS; i++)
			free(rf->segs[i]);
	}
	ck_assert_uint_gt(merged, 50);
	ck_assert_uint_gt(corrupted, 200);
	for (i = 0; i < 8; i++)
		free(bufs[i]);
	for (i = 0; i < MAX_SEGS; i++) {
		free(pristine[i]);
		free(out[i]);
	}
	free(rf);
}
END_TEST

/* Garbage and cut packets: no crash, every packet in one item, merged
 * items well formed. */
START_TEST(test_gro_fuzz)
{
	enum { N = 48 };
	static uint8_t big[BIG], pl[BIG];
	uint64_t seed = 0xf0f0 + (uint64_t)_i;
	struct rt_flow *rf = calloc(1, sizeof(*rf));
	struct wg_gro_item items[N];
	uint8_t *bufs[2], *out[MAX_SEGS];
	unsigned int iter, i;

	ck_assert_ptr_nonnull(rf);
	for (i = 0; i < 2; i++)
		bufs[i] = malloc(WG_GRO_BUF_SIZE);
	for (i = 0; i < MAX_SEGS; i++)
		out[i] = malloc(SLOT);
	for (iter = 0; iter < 200; iter++) {
		const uint8_t *in[N];
		uint8_t *own[N];
		size_t lens[N], olens[MAX_SEGS];
		unsigned int n = 0, nitems, k, next = 0, nout;

		rt_make_flow(&seed, 0, rf, big, pl);
		while (n < N) {
			uint64_t q = test_random_u64(&seed);
			uint8_t tmp[SLOT];
			size_t len;

			if (q & 1 && n < rf->nseg) { /* cut or scribbled */
				len = rf->lens[n];
				memcpy(tmp, rf->segs[n], len);
				if (q >> 1 & 1)
					len = (size_t)(q >> 8) % (len + 1);
				if (q >> 2 & 1 && len)
					tmp[(q >> 24) % len] ^=
					    (uint8_t)(q >> 40);
			} else { /* random, mostly looking like IP */
				len = (size_t)(q >> 8) % 120;
				test_random_bytes(&seed, tmp, len);
				if (len && q >> 3 & 1)
					tmp[0] =
					    (uint8_t)(q >> 4 & 1 ? 0x45 : 0x60);
			}
			own[n] = dup_exact(tmp, len);
			in[n] = own[n];
			lens[n++] = len;
		}
		nitems = wg_gro_coalesce(in, lens, n, bufs, WG_GRO_BUF_SIZE, 2,
					 WG_GRO_UDP, items);
		for (k = 0; k < nitems; k++) {
			ck_assert(!k || items[k].first > items[k - 1].first);
			next += items[k].count;
			if (items[k].count < 2)
				continue;
			ck_assert_int_eq(wg_gso_split(&items[k].hdr,
						      items[k].pkt,
						      items[k].len, out, SLOT,
						      olens, MAX_SEGS, &nout),
					 0);
			ck_assert_uint_eq(nout, items[k].count);
		}
		ck_assert_uint_eq(next, n);
		for (i = 0; i < n; i++)
			free(own[i]);
		for (i = 0; i < MAX_SEGS; i++)
			free(rf->segs[i]);
	}
	for (i = 0; i < 2; i++)
		free(bufs[i]);
	for (i = 0; i < MAX_SEGS; i++)
		free(out[i]);
	free(rf);
}
END_TEST

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static Suite *offload_suite(void)
{
	Suite *s = suite_create("offload");
	TCase *tc = tcase_create("checksum");

	tcase_add_loop_test(tc, test_csum, 0, 3);
	tcase_add_loop_test(tc, test_csum_copy, 0, 3);
	tcase_add_loop_test(tc, test_csum_pseudo, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("split");
	tcase_add_loop_test(tc, test_split, 0, NELEM(split_cases));
	tcase_add_loop_test(tc, test_split_none, 0, NELEM(none_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("split malformed");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_split_malformed, 0, NELEM(bad_cases));
	tcase_add_loop_test(tc, test_split_fuzz, 0, 4);
	suite_add_tcase(s, tc);

	tc = tcase_create("coalesce");
	tcase_add_loop_test(tc, test_gro, 0, NELEM(gro_cases));
	tcase_add_loop_test(tc, test_gro_long, 0, NELEM(long_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("random");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_roundtrip, 0, 4);
	tcase_add_loop_test(tc, test_gro_corrupt, 0, 3);
	tcase_add_loop_test(tc, test_gro_trusted, 0, 8);
	tcase_add_loop_test(tc, test_gro_fuzz, 0, 3);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(offload_suite());
	int failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
