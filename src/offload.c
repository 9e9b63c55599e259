// SPDX-License-Identifier: MIT
/*
 * GSO split and GRO coalesce for the TUN device: pure functions over
 * packet bytes. All multi-byte header fields are read and written a byte
 * at a time (big endian); checksums are summed in the host's order and
 * stored as they come out (RFC 1071 section 2(B): the sum does not care
 * about byte order as long as it is stored the way it was read).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "offload.h"

enum {
	IPV4_HLEN = 20,
	IPV6_HLEN = 40,
	TCP_HLEN = 20,
	UDP_HLEN = 8,
	TCP_CSUM_OFF = 16,
	UDP_CSUM_OFF = 6,
	IPV4_DF = 0x4000,
	IPV4_FRAG_MASK = 0x3fff, /* MF and the fragment offset */
	TCPF_FIN = 0x01,
	TCPF_PSH = 0x08,
	TCPF_ACK = 0x10,
	TCPF_CWR = 0x80,
	VNET_HDR_LEN = sizeof(struct virtio_net_hdr),
};

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline void put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void store_csum(uint8_t *p, uint16_t csum)
{
	memcpy(p, &csum, sizeof(csum));
}

/* Adds with the end-around carry of ones' complement arithmetic. */
static inline uint64_t add_carry(uint64_t sum, uint64_t v)
{
	sum += v;
	return sum + (sum < v);
}

static uint64_t csum_scalar(const void *buf, size_t len, uint64_t sum)
{
	const uint8_t *p = buf;
	uint64_t a = 0, b = 0, w, x;

	/* Two accumulators, so the carries of one do not wait on the other. */
	for (; len >= 16; p += 16, len -= 16) {
		memcpy(&w, p, 8);
		memcpy(&x, p + 8, 8);
		a = add_carry(a, w);
		b = add_carry(b, x);
	}
	if (len >= 8) {
		memcpy(&w, p, 8);
		a = add_carry(a, w);
		p += 8;
		len -= 8;
	}
	/* The tail, zero-padded: an odd last byte is the high half of its
	 * word, as RFC 1071 pads it. */
	x = 0;
	memcpy(&x, p, len);
	b = add_carry(b, x);
	return add_carry(add_carry(sum, a), b);
}

#if defined(__x86_64__)
#define AVX2 __attribute__((target("avx2")))

/* 32 bytes: their eight 32-bit words, zero-extended, added to the 64-bit
 * lanes of a and b. A lane gains less than 2^34 per 64 bytes, so no sum
 * of up to 2^29 bytes can carry out of it. */
static inline AVX2 __attribute__((always_inline)) void
csum_add32(__m256i v, __m256i *a, __m256i *b)
{
	const __m256i z = _mm256_setzero_si256();

	*a = _mm256_add_epi64(*a, _mm256_unpacklo_epi32(v, z));
	*b = _mm256_add_epi64(*b, _mm256_unpackhi_epi32(v, z));
}

/* The sum of the whole 32-byte blocks of src (copied to dst unless it is
 * NULL); the caller does the tail. Words are summed at the offsets the
 * scalar code sums them, so the two chain. */
static inline AVX2 __attribute__((always_inline)) uint64_t
csum_blocks_avx2(uint8_t *dst, const uint8_t *src, size_t n, uint64_t sum)
{
	__m256i a = _mm256_setzero_si256(), b = a, v, w;
	uint64_t lane[4];
	size_t i = 0;
	int k;

	for (; i + 64 <= n; i += 64) {
		v = _mm256_loadu_si256((const __m256i *)(src + i));
		w = _mm256_loadu_si256((const __m256i *)(src + i + 32));
		if (dst) {
			_mm256_storeu_si256((__m256i *)(dst + i), v);
			_mm256_storeu_si256((__m256i *)(dst + i + 32), w);
		}
		csum_add32(v, &a, &b);
		csum_add32(w, &a, &b);
	}
	if (i + 32 <= n) {
		v = _mm256_loadu_si256((const __m256i *)(src + i));
		if (dst)
			_mm256_storeu_si256((__m256i *)(dst + i), v);
		csum_add32(v, &a, &b);
	}
	_mm256_storeu_si256((__m256i *)lane, _mm256_add_epi64(a, b));
	for (k = 0; k < 4; k++)
		sum = add_carry(sum, lane[k]);
	return sum;
}

/* The sum of len bytes at src, copied to dst unless it is NULL. */
static AVX2 uint64_t csum_avx2(uint8_t *dst, const uint8_t *src, size_t len,
			       uint64_t sum)
{
	size_t whole = len & ~(size_t)31;

	sum = csum_blocks_avx2(dst, src, whole, sum);
	if (dst)
		memcpy(dst + whole, src + whole, len - whole);
	return csum_scalar(src + whole, len - whole, sum);
}
#endif

/* Below this the vector set-up costs more than it saves. */
enum { CSUM_VEC_MIN = 128 };

uint64_t wg_csum_partial(const void *buf, size_t len, uint64_t sum)
{
#if defined(__x86_64__)
	if (len >= CSUM_VEC_MIN && __builtin_cpu_supports("avx2"))
		return csum_avx2(NULL, buf, len, sum);
#endif
	return csum_scalar(buf, len, sum);
}

uint64_t wg_csum_copy(void *dst, const void *src, size_t len, uint64_t sum)
{
#if defined(__x86_64__)
	if (len >= CSUM_VEC_MIN && __builtin_cpu_supports("avx2"))
		return csum_avx2(dst, src, len, sum);
#endif
	memcpy(dst, src, len);
	return csum_scalar(dst, len, sum);
}

uint64_t wg_csum_pseudo_v4(const uint8_t saddr[static 4],
			   const uint8_t daddr[static 4], uint8_t proto,
			   uint16_t len)
{
	uint32_t s, d;

	memcpy(&s, saddr, 4);
	memcpy(&d, daddr, 4);
	return (uint64_t)s + d + htons(proto) + htons(len);
}

uint64_t wg_csum_pseudo_v6(const uint8_t saddr[static 16],
			   const uint8_t daddr[static 16], uint8_t proto,
			   uint32_t len)
{
	uint64_t w[4], sum = (uint64_t)htonl(len) + htonl(proto);
	unsigned int i;

	memcpy(w, saddr, 16);
	memcpy(w + 2, daddr, 16);
	for (i = 0; i < 4; i++)
		sum = add_carry(sum, w[i]);
	return sum;
}

/* The pseudo-header sum of the IP packet at ip. */
static uint64_t pseudo_sum(const uint8_t *ip, uint8_t ipv, uint8_t proto,
			   size_t l4len)
{
	if (ipv == 4)
		return wg_csum_pseudo_v4(ip + 12, ip + 16, proto,
					 (uint16_t)l4len);
	return wg_csum_pseudo_v6(ip + 8, ip + 24, proto, (uint32_t)l4len);
}

/* The IPv4 header checksum, made right. */
static void ipv4_set_csum(uint8_t *ip, size_t hlen)
{
	ip[10] = ip[11] = 0;
	store_csum(ip + 10, wg_csum_finish(wg_csum_partial(ip, hlen, 0)));
}

/*
 * GSO split.
 */

struct gso_plan {
	size_t ip_hlen; /* where the transport header starts: csum_start */
	size_t hlen;	/* IP and transport headers */
	size_t mss;
	size_t nseg;
	unsigned int ipv;
	uint8_t proto;
	/* Sums of the super-packet's headers without the fields that differ
	 * between segments (IPv4: total length, ID and checksum; TCP:
	 * sequence number, flags and checksum; UDP: length and checksum),
	 * so that a segment's checksums come from its own few fields and not
	 * from reading back the header just written (a store-forwarding
	 * stall for every segment). They are unfolded 64-bit sums, which
	 * may lie just under 2^64: a segment's fields go in with add_carry,
	 * never with a bare +. */
	uint64_t ip_base, l4_base;
	uint16_t id;  /* IPv4 ID of the first segment */
	uint32_t seq; /* TCP sequence number of the first segment */
	uint8_t flags;
};

/* The two bytes hi, lo as the checksum loop reads them from memory. */
static inline uint64_t word16(uint8_t hi, uint8_t lo)
{
	const uint8_t b[2] = {hi, lo};
	uint16_t v;

	memcpy(&v, b, 2);
	return v;
}

/* The per-segment sums' starting points: see struct gso_plan. */
static void gso_plan_sums(const uint8_t *pkt, struct gso_plan *p)
{
	/* An IPv4 header with options, then a TCP header with options. */
	uint8_t h[60 + 60];
	size_t l4hlen = p->hlen - p->ip_hlen;
	uint8_t *l4 = h + 60;

	p->ip_base = 0;
	if (p->ipv == 4) {
		memcpy(h, pkt, p->ip_hlen);
		p->id = get16(pkt + 4);
		h[2] = h[3] = h[4] = h[5] = h[10] = h[11] = 0;
		p->ip_base = wg_csum_partial(h, p->ip_hlen, 0);
	}
	memcpy(l4, pkt + p->ip_hlen, l4hlen);
	if (p->proto == IPPROTO_TCP) {
		p->seq = get32(l4 + 4);
		p->flags = l4[13];
		memset(l4 + 4, 0, 4);
		l4[13] = 0;
		l4[TCP_CSUM_OFF] = l4[TCP_CSUM_OFF + 1] = 0;
	} else {
		memset(l4 + 4, 0, 4); /* length and checksum */
	}
	p->l4_base = wg_csum_partial(l4, l4hlen, 0);
}

/* Steps over IPv6 hop-by-hop and destination options headers; false for
 * anything else in front of the transport header (a routing header would
 * change the pseudo-header, a fragment header cannot be segmented). */
static bool ipv6_transport(const uint8_t *pkt, size_t len, size_t *off,
			   uint8_t *proto)
{
	uint8_t nh = pkt[6];
	size_t o = IPV6_HLEN;

	while (nh == IPPROTO_HOPOPTS || nh == IPPROTO_DSTOPTS) {
		if (o + 8 > len)
			return false;
		nh = pkt[o];
		o += ((size_t)pkt[o + 1] + 1) * 8;
	}
	*off = o;
	*proto = nh;
	return true;
}

/* The IP header must agree with the vnet header: version, protocol, and
 * the transport header at csum_start. */
static int gso_check_ip(const uint8_t *pkt, size_t len, struct gso_plan *p)
{
	size_t off;
	uint8_t proto;

	if (len < IPV4_HLEN)
		return -EINVAL;
	p->ipv = pkt[0] >> 4;
	if (p->ipv == 4) {
		off = (size_t)(pkt[0] & 0xf) * 4;
		proto = pkt[9];
		if (get16(pkt + 6) & IPV4_FRAG_MASK)
			return -EINVAL;
	} else if (p->ipv == 6) {
		if (len < IPV6_HLEN || !ipv6_transport(pkt, len, &off, &proto))
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (off < IPV4_HLEN || off != p->ip_hlen || proto != p->proto)
		return -EINVAL;
	return 0;
}

static int gso_make_plan(const struct virtio_net_hdr *h, const uint8_t *pkt,
			 size_t len, struct gso_plan *p)
{
	unsigned int ipv = 0;
	size_t l4_hlen = UDP_HLEN, csum_off = UDP_CSUM_OFF;

	switch (h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
		ipv = 4;
		p->proto = IPPROTO_TCP;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		ipv = 6;
		p->proto = IPPROTO_TCP;
		break;
	case VIRTIO_NET_HDR_GSO_UDP_L4:
		if (h->gso_type & VIRTIO_NET_HDR_GSO_ECN)
			return -EINVAL;
		p->proto = IPPROTO_UDP;
		break;
	default:
		return -EINVAL;
	}
	if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || !h->gso_size)
		return -EINVAL;
	p->ip_hlen = h->csum_start;
	p->mss = h->gso_size;
	if (gso_check_ip(pkt, len, p) || (ipv && p->ipv != ipv))
		return -EINVAL;
	if (p->proto == IPPROTO_TCP) {
		if (len < p->ip_hlen + TCP_HLEN)
			return -EINVAL;
		l4_hlen = (size_t)(pkt[p->ip_hlen + 12] >> 4) * 4;
		csum_off = TCP_CSUM_OFF;
		if (l4_hlen < TCP_HLEN)
			return -EINVAL;
	}
	p->hlen = p->ip_hlen + l4_hlen;
	if (h->csum_offset != csum_off || p->hlen >= len)
		return -EINVAL;
	p->nseg = (len - p->hlen + p->mss - 1) / p->mss;
	gso_plan_sums(pkt, p);
	return 0;
}

/* Writes segment i of the super-packet to s; returns its length. */
static size_t gso_segment(const struct gso_plan *p, const uint8_t *pkt,
			  size_t len, size_t i, uint8_t *s)
{
	size_t off = p->hlen + i * p->mss;
	size_t n = len - off < p->mss ? len - off : p->mss;
	size_t seglen = p->hlen + n, l4len = seglen - p->ip_hlen;
	uint8_t *l4 = s + p->ip_hlen, *csum, flags;
	uint16_t c, id;
	uint32_t seq;
	uint64_t sum, fields;

	memcpy(s, pkt, p->hlen);
	/* The payload is summed as it is copied. It starts at an even
	 * offset of the transport header (8, or a multiple of 4), so its
	 * sum adds to the header's. */
	sum = wg_csum_copy(s + p->hlen, pkt + off, n, 0);
	if (p->ipv == 4) {
		id = (uint16_t)(p->id + i);
		put16(s + 2, seglen);
		put16(s + 4, id);
		fields = word16((uint8_t)(seglen >> 8), (uint8_t)seglen) +
			 word16((uint8_t)(id >> 8), (uint8_t)id);
		store_csum(s + 10,
			   wg_csum_finish(add_carry(p->ip_base, fields)));
	} else {
		put16(s + 4, seglen - IPV6_HLEN);
	}
	if (p->proto == IPPROTO_TCP) {
		seq = p->seq + (uint32_t)(i * p->mss);
		flags = p->flags;
		if (i)
			flags &= (uint8_t)~TCPF_CWR;
		if (i + 1 < p->nseg)
			flags &= (uint8_t) ~(TCPF_FIN | TCPF_PSH);
		put32(l4 + 4, seq);
		l4[13] = flags;
		fields = word16((uint8_t)(seq >> 24), (uint8_t)(seq >> 16)) +
			 word16((uint8_t)(seq >> 8), (uint8_t)seq) +
			 word16(0, flags);
		sum = add_carry(sum, add_carry(p->l4_base, fields));
		csum = l4 + TCP_CSUM_OFF;
	} else {
		put16(l4 + 4, l4len);
		fields = word16((uint8_t)(l4len >> 8), (uint8_t)l4len);
		sum = add_carry(sum, add_carry(p->l4_base, fields));
		csum = l4 + UDP_CSUM_OFF;
	}
	/* The pseudo-header from the super-packet's addresses, which every
	 * segment shares. */
	c = wg_csum_finish(
	    add_carry(sum, pseudo_sum(pkt, (uint8_t)p->ipv, p->proto, l4len)));
	/* RFC 768: a computed 0 is sent as all ones (0 means none). */
	if (!c && p->proto == IPPROTO_UDP)
		c = 0xffff;
	store_csum(csum, c);
	return seglen;
}

/* GSO_NONE: one packet, its checksum finished if the kernel left it. */
static int gso_none(const struct virtio_net_hdr *h, const uint8_t *pkt,
		    size_t len, uint8_t *out, size_t out_cap)
{
	size_t start = h->csum_start, field = start + h->csum_offset;
	uint16_t c;

	if (!len || len > out_cap)
		return -EINVAL;
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (start >= len || field + 2 > len))
		return -EINVAL;
	if (out != pkt)
		memcpy(out, pkt, len);
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		/* The field holds the pseudo-header sum: sum over it. A 0
		 * is stored as 0xffff, its equal in ones' complement, which
		 * UDP requires. */
		c = wg_csum_finish(
		    wg_csum_partial(out + start, len - start, 0));
		store_csum(out + field, c ? c : 0xffff);
	}
	return 0;
}

int wg_gso_measure(const struct virtio_net_hdr *h, const uint8_t *pkt,
		   size_t len, unsigned int *pieces, size_t *longest)
{
	struct gso_plan p;
	int ret;

	if (!len || h->hdr_len > len)
		return -EINVAL;
	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		*pieces = 1;
		*longest = len;
		return 0;
	}
	ret = gso_make_plan(h, pkt, len, &p);
	if (ret)
		return ret;
	*pieces = (unsigned int)p.nseg;
	*longest = p.hlen + (len - p.hlen < p.mss ? len - p.hlen : p.mss);
	return 0;
}

int wg_gso_split(const struct virtio_net_hdr *h, const uint8_t *pkt, size_t len,
		 uint8_t *const *out, size_t out_cap, size_t *out_lens,
		 unsigned int max_out, unsigned int *nout)
{
	struct gso_plan p;
	size_t i;
	int ret;

	*nout = 0;
	if (!max_out || h->hdr_len > len)
		return -EINVAL;
	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		ret = gso_none(h, pkt, len, out[0], out_cap);
		if (!ret) {
			out_lens[0] = len;
			*nout = 1;
		}
		return ret;
	}
	ret = gso_make_plan(h, pkt, len, &p);
	if (ret)
		return ret;
	if (p.nseg > max_out ||
	    p.hlen + (len - p.hlen < p.mss ? len - p.hlen : p.mss) > out_cap)
		return -EINVAL;
	for (i = 0; i < p.nseg; i++)
		out_lens[i] = gso_segment(&p, pkt, len, i, out[i]);
	*nout = (unsigned int)p.nseg;
	return 0;
}

/*
 * GRO coalesce.
 */

enum flow_level {
	FLOW_NONE,  /* not TCP or UDP (or not IP at all) */
	FLOW_ADDRS, /* addresses known, ports not (a fragment, ...) */
	FLOW_FULL,  /* TCP or UDP with both ports */
};

/* What GRO needs to know of one packet. */
struct seg {
	const uint8_t *pkt;
	size_t len;
	size_t ip_hlen; /* where the transport header starts */
	size_t hlen;	/* where the payload starts */
	uint8_t ipv, proto;
	enum flow_level level;
	bool mergeable;
};

/* A run of packets of one flow becoming one super-packet. */
struct run {
	struct seg head; /* its first packet */
	struct wg_gro_item *item;
	uint8_t *buf; /* the super-packet, once a second packet joined */
	size_t len;   /* of the super-packet so far */
	struct iovec *iov; /* WG_GRO_SCATTER: its pieces, in buf */
	unsigned int niov;
	size_t gso_size;
	uint32_t next_seq;
	uint16_t last_id;
	unsigned int nsegs;
	bool psh;
};

/* One call's state. Runs are kept in the order they opened. */
struct gro {
	struct run runs[WG_GRO_MAX_FLOWS];
	unsigned int nruns;
	uint8_t *const *bufs;
	unsigned int nbufs, next_buf;
	size_t limit; /* the largest super-packet */
	bool scatter;
	unsigned int max_iov; /* WG_GRO_SCATTER: pieces a buffer holds */
	struct wg_gro_item *items;
	unsigned int nitems;
};

static bool tcp_shape_ok(struct seg *s)
{
	const uint8_t *th = s->pkt + s->ip_hlen;

	if (s->len < s->ip_hlen + TCP_HLEN || th[12] >> 4 < 5)
		return false;
	s->hlen = s->ip_hlen + (size_t)(th[12] >> 4) * 4;
	/* Pure ACKs and anything but ACK/PSH go through alone. */
	return s->hlen < s->len && !(th[13] & ~(TCPF_ACK | TCPF_PSH));
}

static bool udp_shape_ok(struct seg *s)
{
	const uint8_t *uh = s->pkt + s->ip_hlen;

	s->hlen = s->ip_hlen + UDP_HLEN;
	/* No checksum (IPv4 allows that) means nothing to verify. */
	return s->hlen < s->len && get16(uh + 4) == s->len - s->ip_hlen &&
	       (uh[6] | uh[7]);
}

static bool checksums_ok(const struct seg *s, bool trusted)
{
	const uint8_t *p = s->pkt;
	size_t l4len = s->len - s->ip_hlen;
	uint64_t sum;

	if (s->ipv == 4 &&
	    wg_csum_fold(wg_csum_partial(p, IPV4_HLEN, 0)) != 0xffff)
		return false;
	if (trusted)
		return true;
	sum = pseudo_sum(p, s->ipv, s->proto, l4len);
	return wg_csum_fold(wg_csum_partial(p + s->ip_hlen, l4len, sum)) ==
	       0xffff;
}

/*
 * Finds the flow; the IP rules a packet must meet to be merged are in
 * ip_ok. Packets of another protocol cannot be part of a TCP or UDP flow
 * (FLOW_NONE); a fragment, or IPv6 with extension headers, might be, but
 * its ports are out of sight (FLOW_ADDRS).
 */
static void gro_parse_ip(struct seg *s, bool *ip_ok)
{
	const uint8_t *p = s->pkt;
	bool frag = false;

	*ip_ok = false;
	if (s->len >= IPV4_HLEN && p[0] >> 4 == 4 && (p[0] & 0xf) >= 5) {
		s->ipv = 4;
		s->ip_hlen = (size_t)(p[0] & 0xf) * 4;
		s->proto = p[9];
		frag = get16(p + 6) & IPV4_FRAG_MASK;
		*ip_ok =
		    !frag && s->ip_hlen == IPV4_HLEN && get16(p + 2) == s->len;
	} else if (s->len >= IPV6_HLEN && p[0] >> 4 == 6) {
		s->ipv = 6;
		s->ip_hlen = IPV6_HLEN;
		s->proto = p[6];
		*ip_ok = (size_t)get16(p + 4) + IPV6_HLEN == s->len;
		if (s->proto != IPPROTO_TCP && s->proto != IPPROTO_UDP &&
		    s->proto != IPPROTO_ICMPV6 && s->proto != IPPROTO_NONE) {
			s->level = FLOW_ADDRS;
			return;
		}
	} else {
		return;
	}
	if (s->proto != IPPROTO_TCP && s->proto != IPPROTO_UDP)
		return;
	s->level = !frag && s->ip_hlen + 4 <= s->len ? FLOW_FULL : FLOW_ADDRS;
}

static void gro_parse(struct seg *s, const uint8_t *pkt, size_t len,
		      unsigned int flags)
{
	bool ip_ok, shape_ok;

	memset(s, 0, sizeof(*s));
	s->pkt = pkt;
	s->len = len;
	gro_parse_ip(s, &ip_ok);
	if (s->level != FLOW_FULL || !ip_ok)
		return;
	if (s->proto == IPPROTO_TCP)
		shape_ok = tcp_shape_ok(s);
	else
		shape_ok = (flags & WG_GRO_UDP) && udp_shape_ok(s);
	/* Checksums last: they cost the most. */
	s->mergeable = shape_ok && checksums_ok(s, flags & WG_GRO_TRUSTED);
}

static bool same_addrs(const struct seg *a, const struct seg *b)
{
	if (a->ipv != b->ipv)
		return false;
	if (a->ipv == 4)
		return !memcmp(a->pkt + 12, b->pkt + 12, 8);
	return !memcmp(a->pkt + 8, b->pkt + 8, 32);
}

/* Both must be FLOW_FULL. */
static bool same_flow(const struct seg *a, const struct seg *b)
{
	return same_addrs(a, b) && a->proto == b->proto &&
	       !memcmp(a->pkt + a->ip_hlen, b->pkt + b->ip_hlen, 4);
}

static bool same_ip_fields(const struct run *r, const struct seg *s)
{
	const uint8_t *a = r->head.pkt, *b = s->pkt;

	if (s->ipv == 6) /* version, traffic class, flow label; hop limit */
		return !memcmp(a, b, 4) && a[7] == b[7];
	/* TOS, DF (the only flag left), TTL; the ID counts up unless DF. */
	if (a[1] != b[1] || a[6] != b[6] || a[8] != b[8])
		return false;
	return (get16(a + 6) & IPV4_DF) ||
	       get16(b + 4) == (uint16_t)(r->last_id + 1);
}

static bool same_tcp_fields(const struct run *r, const struct seg *s)
{
	const uint8_t *a = r->head.pkt + r->head.ip_hlen;
	const uint8_t *b = s->pkt + s->ip_hlen;

	/* ack number and data offset; flags (the head has no PSH, or its
	 * run would be closed); window; urgent pointer; options. */
	return get32(b + 4) == r->next_seq && !memcmp(a + 8, b + 8, 5) &&
	       (b[13] & ~TCPF_PSH) == a[13] && !memcmp(a + 14, b + 14, 2) &&
	       !memcmp(a + 18, b + 18, 2) &&
	       !memcmp(a + TCP_HLEN, b + TCP_HLEN,
		       r->head.hlen - r->head.ip_hlen - TCP_HLEN);
}

static bool gro_can_join(const struct gro *g, const struct run *r,
			 const struct seg *s)
{
	size_t plen = s->len - s->hlen;

	if (plen > r->gso_size || r->len + plen > g->limit)
		return false;
	if (!r->buf && g->next_buf == g->nbufs)
		return false;
	/* The headers' piece, the run's payloads and this one. */
	if (g->scatter && r->nsegs + 2 > g->max_iov)
		return false;
	if (!same_ip_fields(r, s))
		return false;
	if (s->proto == IPPROTO_UDP)
		return r->nsegs < WG_GRO_UDP_MAX_SEGS;
	return same_tcp_fields(r, s);
}

/* A run's buffer, when a second packet joins: the head copied whole,
 * or with WG_GRO_SCATTER its headers and the iovecs of what it has. */
static void gro_take_buf(struct gro *g, struct run *r)
{
	const struct seg *h = &r->head;

	r->buf = g->bufs[g->next_buf++];
	if (!g->scatter) {
		memcpy(r->buf + VNET_HDR_LEN, h->pkt, h->len);
		return;
	}
	memcpy(r->buf + VNET_HDR_LEN, h->pkt, h->hlen);
	r->iov = (struct iovec *)(r->buf + WG_GRO_SCATTER_IOV_AT);
	r->iov[0].iov_base = r->buf;
	r->iov[0].iov_len = VNET_HDR_LEN + h->hlen;
	r->iov[1].iov_base = (void *)(h->pkt + h->hlen);
	r->iov[1].iov_len = h->len - h->hlen;
	r->niov = 2;
}

/* Appends s; true if that ends the run. */
static bool gro_join(struct gro *g, struct run *r, const struct seg *s)
{
	size_t plen = s->len - s->hlen;

	if (!r->buf)
		gro_take_buf(g, r);
	if (g->scatter) {
		r->iov[r->niov].iov_base = (void *)(s->pkt + s->hlen);
		r->iov[r->niov++].iov_len = plen;
	} else {
		memcpy(r->buf + VNET_HDR_LEN + r->len, s->pkt + s->hlen, plen);
	}
	r->len += plen;
	r->nsegs++;
	r->item->count++;
	if (s->ipv == 4)
		r->last_id = get16(s->pkt + 4);
	if (s->proto == IPPROTO_TCP) {
		r->next_seq += (uint32_t)plen;
		r->psh = s->pkt[s->ip_hlen + 13] & TCPF_PSH;
	}
	return r->psh || plen < r->gso_size;
}

/* Turns a run of two or more into a super-packet for the TUN. */
static void gro_finish(struct run *r)
{
	const struct seg *s = &r->head;
	size_t l4len = r->len - s->ip_hlen;
	struct wg_gro_item *it = r->item;
	bool tcp = s->proto == IPPROTO_TCP;
	uint8_t *p, *l4;

	/* A run of one may have no buffer (r->buf NULL): no pointer
	 * into it before this. */
	if (r->nsegs < 2)
		return;
	p = r->buf + VNET_HDR_LEN;
	l4 = p + s->ip_hlen;
	if (s->ipv == 4) {
		put16(p + 2, r->len);
		ipv4_set_csum(p, IPV4_HLEN);
	} else {
		put16(p + 4, r->len - IPV6_HLEN);
	}
	if (tcp && r->psh)
		l4[13] |= TCPF_PSH;
	if (!tcp)
		put16(l4 + 4, l4len);
	/* What the kernel leaves for a device: the pseudo-header sum,
	 * folded but not complemented. */
	store_csum(l4 + (tcp ? TCP_CSUM_OFF : UDP_CSUM_OFF),
		   wg_csum_fold(pseudo_sum(p, s->ipv, s->proto, l4len)));
	it->hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	it->hdr.gso_type = !tcp		 ? VIRTIO_NET_HDR_GSO_UDP_L4
			   : s->ipv == 4 ? VIRTIO_NET_HDR_GSO_TCPV4
					 : VIRTIO_NET_HDR_GSO_TCPV6;
	it->hdr.hdr_len = (uint16_t)s->hlen;
	it->hdr.gso_size = (uint16_t)r->gso_size;
	it->hdr.csum_start = (uint16_t)s->ip_hlen;
	it->hdr.csum_offset = tcp ? TCP_CSUM_OFF : UDP_CSUM_OFF;
	memcpy(r->buf, &it->hdr, VNET_HDR_LEN);
	it->pkt = p;
	it->len = r->len;
	it->iov = r->iov;
	it->niov = r->niov;
}

static void gro_close(struct gro *g, unsigned int k)
{
	gro_finish(&g->runs[k]);
	g->nruns--;
	memmove(&g->runs[k], &g->runs[k + 1],
		(g->nruns - k) * sizeof(g->runs[0]));
}

/* Nothing of s's flow may join a run opened before s: that would put it
 * ahead of s. A packet whose ports we cannot see closes every run between
 * its addresses. */
static void gro_close_flow(struct gro *g, const struct seg *s)
{
	unsigned int k = 0;

	while (k < g->nruns) {
		const struct seg *h = &g->runs[k].head;

		if (s->level == FLOW_FULL
			? same_flow(h, s)
			: s->level == FLOW_ADDRS && same_addrs(h, s))
			gro_close(g, k);
		else
			k++;
	}
}

/* s becomes an item of its own, and a run others may join. */
static void gro_open(struct gro *g, const struct seg *s, unsigned int i)
{
	struct wg_gro_item *it = &g->items[g->nitems++];
	struct run *r;

	memset(it, 0, sizeof(*it));
	it->pkt = s->pkt;
	it->len = s->len;
	it->first = i;
	it->count = 1;
	/* A PSH ends a run, so one that starts with it stays alone. */
	if (!s->mergeable ||
	    (s->proto == IPPROTO_TCP && (s->pkt[s->ip_hlen + 13] & TCPF_PSH)))
		return;
	if (g->nruns == WG_GRO_MAX_FLOWS)
		gro_close(g, 0);
	r = &g->runs[g->nruns++];
	memset(r, 0, sizeof(*r));
	r->head = *s;
	r->item = it;
	r->len = s->len;
	r->gso_size = s->len - s->hlen;
	r->nsegs = 1;
	if (s->ipv == 4)
		r->last_id = get16(s->pkt + 4);
	if (s->proto == IPPROTO_TCP)
		r->next_seq =
		    get32(s->pkt + s->ip_hlen + 4) + (uint32_t)r->gso_size;
}

static int gro_find(const struct gro *g, const struct seg *s)
{
	unsigned int k;

	for (k = 0; k < g->nruns; k++)
		if (same_flow(&g->runs[k].head, s))
			return (int)k;
	return -1;
}

unsigned int wg_gro_coalesce(const uint8_t *const *pkts, const size_t *lens,
			     unsigned int n, uint8_t *const *bufs,
			     size_t buf_cap, unsigned int nbufs,
			     unsigned int flags, struct wg_gro_item *items)
{
	struct gro g = {.bufs = bufs, .nbufs = nbufs, .items = items};
	unsigned int i;

	g.scatter = flags & WG_GRO_SCATTER;
	if (g.scatter && nbufs && buf_cap > WG_GRO_SCATTER_IOV_AT) {
		size_t m = (buf_cap - WG_GRO_SCATTER_IOV_AT) /
			   sizeof(struct iovec);

		g.max_iov = m < WG_GRO_SCATTER_MAX_IOV ? (unsigned int)m
						       : WG_GRO_SCATTER_MAX_IOV;
		g.limit = WG_OFFLOAD_MAX_PACKET;
	} else if (!g.scatter && nbufs && buf_cap > VNET_HDR_LEN) {
		g.limit = buf_cap - VNET_HDR_LEN < WG_OFFLOAD_MAX_PACKET
			      ? buf_cap - VNET_HDR_LEN
			      : WG_OFFLOAD_MAX_PACKET;
	}
	for (i = 0; i < n; i++) {
		struct seg s;
		int k;

		gro_parse(&s, pkts[i], lens[i], flags);
		k = s.mergeable ? gro_find(&g, &s) : -1;
		if (k >= 0 && gro_can_join(&g, &g.runs[k], &s)) {
			if (gro_join(&g, &g.runs[k], &s))
				gro_close(&g, (unsigned int)k);
			continue;
		}
		gro_close_flow(&g, &s);
		gro_open(&g, &s, i);
	}
	while (g.nruns)
		gro_close(&g, g.nruns - 1);
	return g.nitems;
}
