// SPDX-License-Identifier: MIT
/*
 * GSO split and GRO coalescing on arbitrary virtio-net headers and
 * packets. Checksums are verified here by a naive RFC 1071 sum, never by
 * offload.c's own.
 *
 * Input: a mode byte. Split (bit 0 clear): a virtio_net_hdr (10 bytes),
 * a byte choosing the output buffer size, one giving how many buffers,
 * then the super-packet. Coalesce (bit 0 set): a flags byte, a byte
 * choosing the buffers, then packets, each a 16-bit length and its
 * bytes; with FIX_* flags the harness first makes each packet's lengths
 * and checksums right, so that the fuzzer gets past them.
 *
 * Split invariants: 0 or -EINVAL (then no packets); at most max_out
 * packets of at most out_cap bytes; GSO_NONE copies the packet (and
 * finishes its checksum); a segmented super-packet gives packets with
 * right lengths and valid IPv4 and transport checksums, whose payloads
 * (gso_size each, the last at most that) and TCP sequence numbers
 * continue each other and add up to the input's payload.
 * Coalesce invariants: items in order of their first packet, each input
 * packet in exactly one; a super-packet lies in a caller's buffer with
 * its header stored before it, splits back (wg_gso_split, as the kernel
 * would) into exactly its input packets, in their order, and each of
 * those had valid checksums.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "offload.h"

enum {
	VH = sizeof(struct virtio_net_hdr),
	MAX_OUT = 80,
	MAX_PKTS = 64,
	NBUFS = 4,
	MODE_GRO = 1 << 0,
	FIX_LEN = 1 << 1,  /* GRO: set IP lengths to the packet's */
	FIX_CSUM = 1 << 2, /* GRO: make IPv4 and transport checksums right */
	GRO_UDP = 1 << 3,  /* GRO: pass WG_GRO_UDP */
	GRO_SCATTER = 1 << 4, /* GRO: pass WG_GRO_SCATTER */
};

static uint8_t *outs[MAX_OUT];
static uint8_t *bufs[NBUFS];
static uint8_t *scratch[MAX_PKTS];
static uint8_t *flat; /* a WG_GRO_SCATTER item, as writev() writes it */
/* What the last input made: packets split, super-packets built. */
static unsigned int last_nout, last_supers;

static void self_check(void);

static void init(void)
{
	int i;

	for (i = 0; i < MAX_OUT; i++) {
		outs[i] = malloc(WG_OFFLOAD_MAX_PACKET);
		FUZZ_ASSERT(outs[i]);
	}
	for (i = 0; i < NBUFS; i++) {
		bufs[i] = malloc(WG_GRO_BUF_SIZE);
		FUZZ_ASSERT(bufs[i]);
	}
	for (i = 0; i < MAX_PKTS; i++) {
		scratch[i] = malloc(WG_OFFLOAD_MAX_PACKET);
		FUZZ_ASSERT(scratch[i]);
	}
	flat = malloc(WG_GRO_BUF_SIZE);
	FUZZ_ASSERT(flat);
	self_check();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup(init);
	return 0;
}

/* ---- a naive packet reader ---- */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void set16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

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

struct pkt_info {
	int ipv;
	size_t l4;     /* transport header offset */
	size_t hdrlen; /* through the transport header */
	uint8_t proto;
	bool df;
};

/* IPv4 or IPv6 (hop-by-hop and destination options skipped), then TCP
 * or UDP, all within len. False for anything else. */
static bool parse(const uint8_t *p, size_t len, struct pkt_info *pi)
{
	uint8_t nh;
	size_t off;

	memset(pi, 0, sizeof(*pi));
	if (len < 1)
		return false;
	pi->ipv = p[0] >> 4;
	if (pi->ipv == 4) {
		off = (size_t)(p[0] & 15) * 4;
		if (off < 20 || len < off)
			return false;
		nh = p[9];
		pi->df = p[6] & 0x40;
	} else if (pi->ipv == 6) {
		if (len < 40)
			return false;
		nh = p[6];
		off = 40;
		while (nh == 0 || nh == 60) {
			if (len < off + 8)
				return false;
			nh = p[off];
			off += ((size_t)p[off + 1] + 1) * 8;
		}
		if (len < off)
			return false;
	} else {
		return false;
	}
	pi->l4 = off;
	pi->proto = nh;
	if (nh == IPPROTO_TCP) {
		if (len < off + 20 || (size_t)(p[off + 12] >> 4) * 4 < 20)
			return false;
		pi->hdrlen = off + (size_t)(p[off + 12] >> 4) * 4;
	} else if (nh == IPPROTO_UDP) {
		pi->hdrlen = off + 8;
	} else {
		return false;
	}
	return len >= pi->hdrlen;
}

static uint32_t pseudo(const uint8_t *p, const struct pkt_info *pi, size_t len)
{
	size_t l4len = len - pi->l4;

	if (pi->ipv == 4)
		return ref_sum(p + 12, 8) + pi->proto + (uint32_t)l4len;
	return ref_sum(p + 8, 32) + pi->proto + (uint32_t)(l4len >> 16) +
	       (uint32_t)(l4len & 0xffff);
}

static size_t csum_field(const struct pkt_info *pi)
{
	return pi->l4 + (pi->proto == IPPROTO_TCP ? 16 : 6);
}

static bool l4_csum_ok(const uint8_t *p, size_t len, const struct pkt_info *pi)
{
	return ref_fold(pseudo(p, pi, len) +
			ref_sum(p + pi->l4, len - pi->l4)) == 0xffff;
}

static bool ip_ok(const uint8_t *p, size_t len, const struct pkt_info *pi)
{
	if (pi->ipv == 4)
		return get16(p + 2) == len &&
		       ref_fold(ref_sum(p, pi->l4)) == 0xffff;
	return (size_t)get16(p + 4) + 40 == len;
}

/* Lengths and checksums right, as a sender's stack would have made them. */
static void fix_packet(uint8_t *p, size_t len, unsigned int flags)
{
	struct pkt_info pi;
	size_t c;

	if (!parse(p, len, &pi) || len > 0xffff)
		return;
	if (flags & FIX_LEN) {
		if (pi.ipv == 4)
			set16(p + 2, len);
		else
			set16(p + 4, len - 40);
		if (pi.proto == IPPROTO_UDP)
			set16(p + pi.l4 + 4, len - pi.l4);
	}
	if (!(flags & FIX_CSUM))
		return;
	if (pi.ipv == 4) {
		set16(p + 10, 0);
		set16(p + 10, (uint16_t)~ref_fold(ref_sum(p, pi.l4)));
	}
	c = csum_field(&pi);
	set16(p + c, 0);
	set16(p + c, (uint16_t)~ref_fold(pseudo(p, &pi, len) +
					 ref_sum(p + pi.l4, len - pi.l4)));
}

/* ---- split ---- */

static void check_none(const struct virtio_net_hdr *h, const uint8_t *pkt,
		       size_t len, unsigned int nout, const size_t *lens)
{
	size_t at = (size_t)h->csum_start + h->csum_offset;

	FUZZ_ASSERT(nout == 1 && lens[0] == len);
	if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
		FUZZ_ASSERT(!memcmp(outs[0], pkt, len));
		return;
	}
	FUZZ_ASSERT(h->csum_start < len && at + 2 <= len);
	FUZZ_ASSERT(!memcmp(outs[0], pkt, at));
	FUZZ_ASSERT(!memcmp(outs[0] + at + 2, pkt + at + 2, len - at - 2));
	/* The field held the pseudo-header sum, summed over and then
	 * replaced: with it added back, the sum must verify. (An odd
	 * offset, in no real header, does not line up with the words.) */
	if (!(h->csum_offset & 1))
		FUZZ_ASSERT(ref_fold(ref_sum(outs[0] + h->csum_start,
					     len - h->csum_start) +
				     get16(pkt + at)) == 0xffff);
}

static void check_segments(const struct virtio_net_hdr *h, const uint8_t *pkt,
			   size_t len, unsigned int nout, const size_t *lens)
{
	struct pkt_info in, pi;
	size_t payload = 0, plen, i;
	bool tcp;

	FUZZ_ASSERT(parse(pkt, len, &in));
	tcp = in.proto == IPPROTO_TCP;
	FUZZ_ASSERT(tcp ? h->gso_type != VIRTIO_NET_HDR_GSO_UDP_L4
			: h->gso_type == VIRTIO_NET_HDR_GSO_UDP_L4);
	FUZZ_ASSERT(in.l4 == h->csum_start);
	for (i = 0; i < nout; i++) {
		FUZZ_ASSERT(parse(outs[i], lens[i], &pi));
		FUZZ_ASSERT(pi.ipv == in.ipv && pi.proto == in.proto);
		FUZZ_ASSERT(pi.hdrlen == in.hdrlen);
		FUZZ_ASSERT(ip_ok(outs[i], lens[i], &pi));
		FUZZ_ASSERT(l4_csum_ok(outs[i], lens[i], &pi));
		plen = lens[i] - pi.hdrlen;
		FUZZ_ASSERT(plen <= h->gso_size);
		FUZZ_ASSERT(plen == h->gso_size || i == nout - 1);
		FUZZ_ASSERT(!memcmp(outs[i] + pi.hdrlen,
				    pkt + in.hdrlen + payload, plen));
		if (tcp)
			FUZZ_ASSERT(
			    get32(outs[i] + pi.l4 + 4) ==
			    (uint32_t)(get32(pkt + in.l4 + 4) + payload));
		else
			FUZZ_ASSERT(get16(outs[i] + pi.l4 + 4) ==
				    lens[i] - pi.l4);
		payload += plen;
	}
	FUZZ_ASSERT(in.hdrlen + payload == len);
}

static void fuzz_split(struct fuzz_in *in)
{
	static const size_t caps[8] = {
	    1500, 9000, WG_OFFLOAD_MAX_PACKET, 60, 1280, 576, 100, 2000};
	struct virtio_net_hdr h;
	size_t out_cap, lens[MAX_OUT], len, i;
	unsigned int max_out, nout = 12345;
	uint8_t *pkt;
	int ret;

	h.flags = fuzz_u8(in);
	h.gso_type = fuzz_u8(in);
	h.hdr_len = fuzz_u16(in);
	h.gso_size = fuzz_u16(in);
	h.csum_start = fuzz_u16(in);
	h.csum_offset = fuzz_u16(in);
	out_cap = caps[fuzz_u8(in) & 7];
	max_out = fuzz_u8(in) % (MAX_OUT + 1);
	len = in->left;
	pkt = malloc(len ? len : 1);
	FUZZ_ASSERT(pkt);
	fuzz_bytes(in, pkt, len);
	for (i = 0; i < MAX_OUT; i++)
		lens[i] = 0xdead;
	ret = wg_gso_split(&h, pkt, len, outs, out_cap, lens, max_out, &nout);
	FUZZ_ASSERT(ret == 0 || ret == -EINVAL);
	if (ret) {
		FUZZ_ASSERT(nout == 0);
		goto out;
	}
	FUZZ_ASSERT(nout >= 1 && nout <= max_out);
	last_nout = nout;
	for (i = 0; i < nout; i++)
		FUZZ_ASSERT(lens[i] <= out_cap);
	for (; i < MAX_OUT; i++)
		FUZZ_ASSERT(lens[i] == 0xdead);
	if ((h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_NONE)
		check_none(&h, pkt, len, nout, lens);
	else
		check_segments(&h, pkt, len, nout, lens);
out:
	free(pkt);
}

/* ---- coalesce ---- */

/* Equal but for what splitting recomputes: checksums, and the IPv4 ID
 * when DF makes it meaningless. Both must carry valid checksums. */
static bool same_packet(const uint8_t *seg, size_t seg_len, const uint8_t *p,
			size_t len)
{
	struct pkt_info pi, si;
	size_t i, c;

	if (seg_len != len || !parse(p, len, &pi) || !parse(seg, seg_len, &si))
		return false;
	c = csum_field(&pi);
	for (i = 0; i < len; i++) {
		if (i == c || i == c + 1)
			continue;
		if (pi.ipv == 4 && (i == 10 || i == 11))
			continue;
		if (pi.ipv == 4 && pi.df && (i == 4 || i == 5))
			continue;
		if (seg[i] != p[i])
			return false;
	}
	return true;
}

/*
 * A WG_GRO_SCATTER item's pieces: the vnet header and headers in one of
 * the buffers, then payloads lying inside the inputs, as many as the
 * buffer holds; laid out in flat as writev() would write them. Returns
 * the item with pkt pointing into flat.
 */
static struct wg_gro_item flatten(const struct wg_gro_item *it,
				  const uint8_t *const *pkts,
				  const size_t *lens, unsigned int n,
				  size_t buf_cap, unsigned int nbufs)
{
	struct wg_gro_item c = *it;
	size_t off = 0;
	unsigned int v, k;
	bool ok = false;

	FUZZ_ASSERT(it->niov >= 3 && it->niov == it->count + 1);
	FUZZ_ASSERT(buf_cap > WG_GRO_SCATTER_IOV_AT &&
		    it->niov <= (buf_cap - WG_GRO_SCATTER_IOV_AT) /
				    sizeof(struct iovec));
	for (k = 0; k < nbufs; k++)
		ok |= it->iov[0].iov_base == bufs[k] &&
		      it->pkt == bufs[k] + VH &&
		      (const uint8_t *)it->iov ==
			  bufs[k] + WG_GRO_SCATTER_IOV_AT;
	FUZZ_ASSERT(ok);
	for (v = 0; v < it->niov; v++) {
		const uint8_t *p = it->iov[v].iov_base;
		size_t l = it->iov[v].iov_len;

		for (k = 0, ok = v == 0; !ok && k < n; k++)
			ok = p >= pkts[k] && p + l <= pkts[k] + lens[k];
		FUZZ_ASSERT(ok);
		FUZZ_ASSERT(off + l <= WG_GRO_BUF_SIZE);
		memcpy(flat + off, p, l);
		off += l;
	}
	FUZZ_ASSERT(off == VH + it->len);
	c.pkt = flat + VH;
	return c;
}

static void check_super(const struct wg_gro_item *it,
			const uint8_t *const *pkts, const size_t *lens,
			unsigned int n, bool *used, size_t buf_cap,
			unsigned int nbufs)
{
	size_t seg_lens[MAX_OUT];
	unsigned int nout, s, j, last = 0, k;
	struct pkt_info pi;
	bool in_buf = false;

	for (k = 0; k < nbufs; k++)
		if (it->pkt == bufs[k] + VH)
			in_buf = true;
	FUZZ_ASSERT(in_buf || (it->niov && it->pkt == flat + VH));
	FUZZ_ASSERT((it->niov || VH + it->len <= buf_cap) &&
		    it->len <= WG_OFFLOAD_MAX_PACKET);
	FUZZ_ASSERT(!memcmp(it->pkt - VH, &it->hdr, VH));
	FUZZ_ASSERT(it->hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
	FUZZ_ASSERT(it->count <= MAX_OUT);
	FUZZ_ASSERT(wg_gso_split(&it->hdr, it->pkt, it->len, outs,
				 WG_OFFLOAD_MAX_PACKET, seg_lens, MAX_OUT,
				 &nout) == 0);
	FUZZ_ASSERT(nout == it->count);
	for (s = 0; s < nout; s++) {
		j = s ? last + 1 : it->first;
		for (; j < n; j++)
			if (!used[j] &&
			    same_packet(outs[s], seg_lens[s], pkts[j], lens[j]))
				break;
		FUZZ_ASSERT(j < n);
		FUZZ_ASSERT(s || j == it->first);
		/* Nothing joins without valid checksums. */
		FUZZ_ASSERT(parse(pkts[j], lens[j], &pi));
		FUZZ_ASSERT(ip_ok(pkts[j], lens[j], &pi));
		FUZZ_ASSERT(l4_csum_ok(pkts[j], lens[j], &pi));
		used[j] = true;
		last = j;
	}
}

static void fuzz_coalesce(struct fuzz_in *in)
{
	static const size_t caps[4] = {WG_GRO_BUF_SIZE, 3000, 1600, 200};
	const uint8_t *pkts[MAX_PKTS];
	struct wg_gro_item items[MAX_PKTS];
	unsigned int flags = fuzz_u8(in), sel = fuzz_u8(in), n = 0, m, i;
	unsigned int nbufs = sel % (NBUFS + 1), total = 0;
	size_t lens[MAX_PKTS], buf_cap = caps[(sel >> 4) & 3];
	bool used[MAX_PKTS] = {0};

	while (in->left && n < MAX_PKTS) {
		size_t len = fuzz_u16(in);

		if (len > in->left)
			len = in->left;
		fuzz_bytes(in, scratch[n], len);
		fix_packet(scratch[n], len, flags);
		lens[n] = len;
		pkts[n] = scratch[n];
		n++;
	}
	m = wg_gro_coalesce(pkts, lens, n, bufs, buf_cap, nbufs,
			    (flags & GRO_UDP ? WG_GRO_UDP : 0) |
				(flags & GRO_SCATTER ? WG_GRO_SCATTER : 0),
			    items);
	FUZZ_ASSERT(m <= n);
	/* Packets the kernel takes as they are first, by index. */
	for (i = 0; i < m; i++) {
		FUZZ_ASSERT(!i || items[i].first > items[i - 1].first);
		FUZZ_ASSERT(items[i].first < n && items[i].count >= 1);
		total += items[i].count;
		if (items[i].hdr.flags || items[i].hdr.gso_type)
			continue;
		FUZZ_ASSERT(items[i].count == 1);
		FUZZ_ASSERT(items[i].pkt == pkts[items[i].first]);
		FUZZ_ASSERT(items[i].len == lens[items[i].first]);
		FUZZ_ASSERT(!used[items[i].first]);
		used[items[i].first] = true;
	}
	FUZZ_ASSERT(total == n);
	for (i = 0; i < m; i++) {
		struct wg_gro_item c = items[i];

		if (!c.hdr.flags && !c.hdr.gso_type) {
			FUZZ_ASSERT(!c.niov);
			continue;
		}
		FUZZ_ASSERT(!c.niov == !(flags & GRO_SCATTER));
		if (c.niov)
			c = flatten(&items[i], pkts, lens, n, buf_cap, nbufs);
		last_supers++;
		check_super(&c, pkts, lens, n, used, buf_cap, nbufs);
	}
	for (i = 0; i < n; i++)
		FUZZ_ASSERT(used[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};

	last_nout = last_supers = 0;
	if (fuzz_u8(&in) & MODE_GRO)
		fuzz_coalesce(&in);
	else
		fuzz_split(&in);
	return 0;
}

/* ---- seeds: well-formed flows ---- */

struct seed {
	uint8_t buf[16384];
	size_t len;
};

static void put(struct seed *s, const void *p, size_t n)
{
	FUZZ_ASSERT(s->len + n <= sizeof(s->buf));
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

static void put16le(struct seed *s, size_t v)
{
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

	put(s, b, 2);
}

/* IPv4 or IPv6 with TCP (ACK) or UDP, payload bytes, checksums right. */
static size_t make_packet(uint8_t *p, int ipv, bool tcp, uint32_t seq,
			  uint16_t id, size_t payload, uint8_t fill)
{
	size_t l4 = ipv == 4 ? 20 : 40, th = tcp ? 20 : 8;
	size_t len = l4 + th + payload;

	memset(p, 0, len);
	if (ipv == 4) {
		p[0] = 0x45;
		set16(p + 4, id);
		p[8] = 64;
		p[9] = tcp ? IPPROTO_TCP : IPPROTO_UDP;
		p[12] = 10, p[15] = 1, p[16] = 10, p[19] = 2;
	} else {
		p[0] = 0x60;
		p[6] = tcp ? IPPROTO_TCP : IPPROTO_UDP;
		p[7] = 64;
		p[8] = 0xfd, p[23] = 1, p[24] = 0xfd, p[39] = 2;
	}
	set16(p + l4, 40000);
	set16(p + l4 + 2, 5201);
	if (tcp) {
		p[l4 + 4] = (uint8_t)(seq >> 24),
		       p[l4 + 5] = (uint8_t)(seq >> 16);
		p[l4 + 6] = (uint8_t)(seq >> 8), p[l4 + 7] = (uint8_t)seq;
		p[l4 + 11] = 1;
		p[l4 + 12] = 5 << 4;
		p[l4 + 13] = 0x10;
		set16(p + l4 + 14, 512);
	}
	memset(p + l4 + th, fill, payload);
	fix_packet(p, len, FIX_LEN | FIX_CSUM);
	return len;
}

static void seed_flow(fuzz_emit_fn emit, void *ctx, const char *name, int ipv,
		      bool tcp, unsigned int flags, unsigned int npkts)
{
	static struct seed s;
	uint8_t p[1500];
	unsigned int i;
	size_t len;

	s.len = 0;
	put(&s, (uint8_t[]){MODE_GRO, (uint8_t)flags, NBUFS}, 3);
	for (i = 0; i < npkts; i++) {
		len =
		    make_packet(p, ipv, tcp, 1000 + 100 * i, (uint16_t)(7 + i),
				i == npkts - 1 ? 40 : 100, (uint8_t)i);
		put16le(&s, len);
		put(&s, p, len);
	}
	emit(ctx, name, s.buf, s.len);
}

static void seed_split(fuzz_emit_fn emit, void *ctx, const char *name, int ipv,
		       bool tcp)
{
	static struct seed s;
	uint8_t p[1500];
	size_t l4 = ipv == 4 ? 20 : 40, len;
	uint8_t type = tcp ? (ipv == 4 ? VIRTIO_NET_HDR_GSO_TCPV4
				       : VIRTIO_NET_HDR_GSO_TCPV6)
			   : VIRTIO_NET_HDR_GSO_UDP_L4;

	len = make_packet(p, ipv, tcp, 1000, 7, 1000, 0x5a);
	s.len = 0;
	put(&s, (uint8_t[]){0, VIRTIO_NET_HDR_F_NEEDS_CSUM, type}, 3);
	put16le(&s, l4 + (tcp ? 20 : 8)); /* hdr_len */
	put16le(&s, 300);		  /* gso_size */
	put16le(&s, l4);		  /* csum_start */
	put16le(&s, tcp ? 16 : 6);	  /* csum_offset */
	put(&s, (uint8_t[]){0, 16}, 2);
	put(&s, p, len);
	emit(ctx, name, s.buf, s.len);
}

void fuzz_seeds(fuzz_emit_fn emit, void *ctx)
{
	seed_flow(emit, ctx, "gro-tcp4", 4, true, 0, 4);
	seed_flow(emit, ctx, "gro-tcp6", 6, true, 0, 4);
	seed_flow(emit, ctx, "gro-udp4", 4, false, GRO_UDP, 4);
	seed_flow(emit, ctx, "gro-udp6-fix", 6, false,
		  GRO_UDP | FIX_LEN | FIX_CSUM, 3);
	seed_flow(emit, ctx, "gro-tcp4-scatter", 4, true, GRO_SCATTER, 4);
	seed_flow(emit, ctx, "gro-udp6-scatter", 6, false,
		  GRO_UDP | GRO_SCATTER, 4);
	seed_split(emit, ctx, "gso-tcp4", 4, true);
	seed_split(emit, ctx, "gso-tcp6", 6, true);
	seed_split(emit, ctx, "gso-udp4", 4, false);
	seed_split(emit, ctx, "gso-udp6", 6, false);
}

/* Each seed must reach the interesting path: a flow coalesced into one
 * super-packet, a super-packet split into several packets. */
static void expect_seed(void *ctx, const char *name, const void *buf,
			size_t len)
{
	(void)ctx;
	LLVMFuzzerTestOneInput(buf, len);
	if (!strncmp(name, "gro-", 4) ? last_supers != 1 : last_nout < 2) {
		fprintf(stderr, "seed %s: %u super-packets, %u packets\n", name,
			last_supers, last_nout);
		abort();
	}
}

static void self_check(void)
{
	fuzz_seeds(expect_seed, NULL);
}
