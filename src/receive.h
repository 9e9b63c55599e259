/* SPDX-License-Identifier: MIT */
/*
 * Inbound: UDP datagrams -> data messages by receiver index to the
 * peer's rx queue and the crypt ring, handshake messages to the handshake
 * ring -> opened by a crypto worker -> in order, per peer: replay window,
 * keypair confirmation, roaming, timers, source-address check -> TUN.
 */
#ifndef WGPIPE_RECEIVE_H
#define WGPIPE_RECEIVE_H

#include <stdbool.h>
#include <stdint.h>

struct wg_device;
struct wg_peer;
struct batch;

/* UDP reader: b holds datagrams just received (message at buf, sender in
 * src). Sorts them by keypair and type and submits them. Takes b. */
void wg_receive_classify_batch(struct wg_device *dev, struct batch *b);
/* Crypto worker: open every packet of an rx batch in place. */
void wg_receive_decrypt_batch(struct wg_device *dev, struct batch *b);
/* What a TUN writer thread writes with: its queue, and with virtio-net
 * headers the buffers that coalesced super-packets are built in. */
struct wg_tun_writer {
	int fd;
	bool vnet_hdr;
	unsigned int gro_flags; /* 0 without GRO, else WG_GRO_* */
	bool gro;
	uint8_t *bufs[4]; /* WG_GRO_BUF_SIZE each */
};

int wg_tun_writer_init(struct wg_tun_writer *w, struct wg_device *dev,
		       unsigned int index);
void wg_tun_writer_destroy(struct wg_tun_writer *w);
/* A UDP reader that sets its writer opens and delivers small batches
 * itself while the crypto workers are idle. */
void wg_receive_set_inline_writer(struct wg_tun_writer *w);
/* TUN writer: deliver the peer's finished batches in order. */
void wg_receive_flush_peer(struct wg_peer *peer, struct wg_tun_writer *w);
/* Handshake worker: every message of a handshake batch. */
void wg_receive_handshake_batch(struct wg_device *dev, struct batch *b);

#endif
