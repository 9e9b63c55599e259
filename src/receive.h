/* SPDX-License-Identifier: MIT */
/*
 * Inbound: UDP datagrams -> data messages by receiver index to the
 * peer's rx queue and the crypt ring, handshake messages to the handshake
 * ring -> opened by a crypto worker -> in order, per peer: replay window,
 * keypair confirmation, roaming, timers, source-address check -> TUN.
 */
#ifndef WGPIPE_RECEIVE_H
#define WGPIPE_RECEIVE_H

struct wg_device;
struct wg_peer;
struct batch;

/* UDP reader: b holds datagrams just received (message at buf, sender in
 * src). Sorts them by keypair and type and submits them. Takes b. */
void wg_receive_classify_batch(struct wg_device *dev, struct batch *b);
/* Crypto worker: open every packet of an rx batch in place. */
void wg_receive_decrypt_batch(struct wg_device *dev, struct batch *b);
/* TUN writer: deliver the peer's finished batches in order. */
void wg_receive_flush_peer(struct wg_peer *peer, int tun_fd);
/* Handshake worker: every message of a handshake batch. */
void wg_receive_handshake_batch(struct wg_device *dev, struct batch *b);

#endif
