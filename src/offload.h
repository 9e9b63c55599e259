/* SPDX-License-Identifier: MIT */
/*
 * TUN offloads, the packet-processing half (no I/O, no allocation, no
 * shared state: every function here is reentrant).
 *
 * Out of the TUN (IFF_VNET_HDR, TUNSETOFFLOAD CSUM|TSO4|TSO6|USO4|USO6)
 * comes a struct virtio_net_hdr and a super-packet of up to 64 KiB;
 * wg_gso_split() cuts it into the packets the kernel would have put on
 * the wire. Into the TUN go packets decrypted from one peer, in order;
 * wg_gro_coalesce() joins in-order TCP segments (and, if the caller
 * allows it, UDP datagrams) of one flow into super-packets that the
 * kernel takes with a virtio_net_hdr, as its own GRO would.
 *
 * The virtio_net_hdr fields are in host byte order, which is what a TUN
 * device uses unless told otherwise (TUNSETVNETLE/BE), and its size is
 * sizeof(struct virtio_net_hdr), the TUN default (TUNSETVNETHDRSZ).
 */
#ifndef WGPIPE_OFFLOAD_H
#define WGPIPE_OFFLOAD_H

#include <linux/virtio_net.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* UDP segmentation (USO) is newer than some kernel headers we build on. */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

enum {
	/* The largest IP packet either direction deals in. */
	WG_OFFLOAD_MAX_PACKET = 65535,
	/* A coalescing buffer that holds any super-packet: the vnet
	 * header, then the packet. */
	WG_GRO_BUF_SIZE = sizeof(struct virtio_net_hdr) + WG_OFFLOAD_MAX_PACKET,
	/* How many runs wg_gro_coalesce keeps open at once: flows whose
	 * packets interleave beyond this merge less, never wrongly. */
	WG_GRO_MAX_FLOWS = 8,
	/* The most datagrams in one UDP super-packet (the kernel's oldest
	 * UDP_MAX_SEGMENTS, which it checks on a TUN write). */
	WG_GRO_UDP_MAX_SEGS = 64,
	/* WG_GRO_SCATTER: where in a buffer the iovecs start; before
	 * them, the vnet header and the first packet's headers (at most
	 * 60 + 60 bytes: mergeable packets carry no IPv6 extensions). */
	WG_GRO_SCATTER_IOV_AT = 192,
	/* The most pieces of one super-packet: the kernel's UIO_MAXIOV. */
	WG_GRO_SCATTER_MAX_IOV = 1024,
};

/* A WG_GRO_SCATTER buffer big enough for super-packets of up to n
 * input packets. */
#define WG_GRO_SCATTER_BUF_SIZE(n) \
	(WG_GRO_SCATTER_IOV_AT + ((size_t)(n) + 1) * sizeof(struct iovec))

/*
 * The Internet checksum (RFC 1071), 8 bytes at a time. Sums are kept
 * unfolded in a uint64_t and chained: sum = wg_csum_partial(a, n, sum).
 * Every piece but the last must have an even length. The 16-bit results
 * are in the packet's byte order: store them with memcpy, no htons.
 */
uint64_t wg_csum_partial(const void *buf, size_t len, uint64_t sum);
/* Copies len bytes from src to dst (not overlapping) and returns
 * wg_csum_partial(dst, len, sum), in one pass over the bytes. */
uint64_t wg_csum_copy(void *dst, const void *src, size_t len, uint64_t sum);
/* The pseudo-header sums (RFC 768/793, RFC 8200 section 8.1); len is
 * the transport header plus payload. */
uint64_t wg_csum_pseudo_v4(const uint8_t saddr[static 4],
			   const uint8_t daddr[static 4], uint8_t proto,
			   uint16_t len);
uint64_t wg_csum_pseudo_v6(const uint8_t saddr[static 16],
			   const uint8_t daddr[static 16], uint8_t proto,
			   uint32_t len);

/* The ones' complement sum folded to 16 bits (0xffff: verified). */
static inline uint16_t wg_csum_fold(uint64_t sum)
{
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)sum;
}

/* The value for a checksum field: the complement of the folded sum. */
static inline uint16_t wg_csum_finish(uint64_t sum)
{
	return (uint16_t)~wg_csum_fold(sum);
}

/*
 * Splits what one TUN read returned (h, then len bytes at pkt) into
 * packets written to out[0 .. *nout), each at most out_cap bytes, their
 * lengths in out_lens. Returns 0, or -EINVAL (*nout 0, nothing written)
 * for anything malformed or that does not fit max_out buffers of out_cap
 * bytes. Never reads or writes out of bounds. The out buffers must not
 * overlap pkt, but for the one case below.
 *
 * - GSO_NONE: one packet, copied as is; with NEEDS_CSUM its checksum
 *   is finished (sum from csum_start to the end, stored at csum_start +
 *   csum_offset; a 0 is stored as 0xffff). out[0] may be pkt itself,
 *   to do this in place.
 * - GSO_TCPV4, GSO_TCPV6 (with or without GSO_ECN), GSO_UDP_L4: NEEDS_CSUM
 *   is required, csum_start is where the transport header starts, and
 *   every gso_size bytes of payload become one packet carrying a copy of
 *   the headers with the IPv4 total length, ID (+1 per packet) and header
 *   checksum, the IPv6 payload length, the TCP sequence number, the UDP
 *   length, and a full transport checksum made right. TCP keeps FIN and
 *   PSH on the last packet only and CWR on the first only. IPv6
 *   hop-by-hop and destination options headers are carried along; other
 *   extension headers are refused. hdr_len is only a hint (the kernel
 *   may report the whole linear part there): it must lie within the
 *   packet, the headers' real length is read from the packet.
 * - GSO_UDP (UFO, IP fragmentation) and unknown types: -EINVAL.
 */
int wg_gso_split(const struct virtio_net_hdr *h, const uint8_t *pkt, size_t len,
		 uint8_t *const *out, size_t out_cap, size_t *out_lens,
		 unsigned int max_out, unsigned int *nout);
/*
 * What wg_gso_split() would make of a read, before any buffer is laid
 * out: how many packets, and the longest one's length (every packet but
 * the last is that long). Returns 0, or -EINVAL where the plan already
 * fails; wg_gso_split() may still refuse the read for a reason found
 * while cutting it (a GSO_NONE checksum field out of bounds).
 */
int wg_gso_measure(const struct virtio_net_hdr *h, const uint8_t *pkt,
		   size_t len, unsigned int *pieces, size_t *longest);

enum wg_gro_flags {
	/* The TUN accepted USO: UDP datagrams may be coalesced too. */
	WG_GRO_UDP = 1 << 0,
	/* The packets were authenticated (their Poly1305 tags verified):
	 * their transport checksums are trusted, not verified, as the
	 * kernel module marks such packets CHECKSUM_UNNECESSARY. */
	WG_GRO_TRUSTED = 1 << 1,
	/* Super-packets are not copied together. A buffer holds only the
	 * vnet header and the first packet's headers, followed (at
	 * WG_GRO_SCATTER_IOV_AT) by the iovecs of the item's pieces: those
	 * headers, then each packet's payload where it lies. A buffer
	 * of buf_cap bytes takes runs of up to
	 * (buf_cap - WG_GRO_SCATTER_IOV_AT) / sizeof(struct iovec) - 1
	 * packets, at most WG_GRO_SCATTER_MAX_IOV - 1. */
	WG_GRO_SCATTER = 1 << 2,
};

/* One packet to write to the TUN: the vnet header, then len bytes. */
struct wg_gro_item {
	struct virtio_net_hdr hdr;
	/* An input packet itself (hdr all zero: GSO_NONE, no NEEDS_CSUM),
	 * or a super-packet built in one of the caller's buffers, in which
	 * case hdr is also stored just before it: writing
	 * (pkt - sizeof(hdr), sizeof(hdr) + len) writes the item. */
	const uint8_t *pkt;
	size_t len;
	unsigned int first; /* index of its first input packet */
	unsigned int count; /* how many input packets it carries */
	/* A super-packet built with WG_GRO_SCATTER: writev(iov, niov)
	 * writes the item (vnet header and len bytes); pkt then points to
	 * its headers alone. Otherwise niov is 0. */
	const struct iovec *iov;
	unsigned int niov;
};

/*
 * Coalesces n IP packets (pkts[i], lens[i]), decrypted from one peer and
 * in the order they arrived, into items[], which must have room for n;
 * returns how many items were written, ordered by their first packet.
 * Every input packet is in exactly one item, and packets of one flow keep
 * their order (packets of different flows may pass each other, as with
 * the kernel's GRO).
 *
 * A super-packet is built in bufs[0 .. nbufs), each buf_cap bytes
 * (WG_GRO_BUF_SIZE holds the largest); when they run out, the rest go
 * out uncoalesced. Inputs are only read, and must stay valid while the
 * items are used.
 *
 * TCP segments join when they are of one flow (addresses, ports), each
 * starts where the previous ended, their headers are otherwise identical
 * (IPv4: TOS, TTL, DF, no options, not a fragment, the ID one more than
 * the previous unless DF is set; IPv6: traffic class, flow label, hop
 * limit, no extension headers; TCP: ack number, window, urgent pointer,
 * options bytes), flags are ACK and PSH only (PSH ends a run), all carry
 * gso_size bytes of payload but the last, which may carry less and ends
 * the run, and the whole stays within WG_OFFLOAD_MAX_PACKET and buf_cap.
 * UDP datagrams (with WG_GRO_UDP) follow the same rules without sequence
 * numbers, at most WG_GRO_UDP_MAX_SEGS to a run. A packet joins only
 * once its IPv4 header checksum and its transport checksum verified
 * (the kernel trusts a super-packet's checksum: a bad one must never be
 * merged into one), and the IP length must match len exactly; a UDP
 * datagram without checksum never joins. With WG_GRO_TRUSTED the
 * transport checksum is not verified: a segment its sender sent with a
 * bad one is then merged, as the kernel module would deliver it; the
 * IPv4 header checksum, which the kernel verifies on every packet, still
 * is. The result carries NEEDS_CSUM,
 * csum_start/csum_offset and the pseudo-header sum in its checksum field.
 */
unsigned int wg_gro_coalesce(const uint8_t *const *pkts, const size_t *lens,
			     unsigned int n, uint8_t *const *bufs,
			     size_t buf_cap, unsigned int nbufs,
			     unsigned int flags, struct wg_gro_item *items);

#endif
