/* SPDX-License-Identifier: MIT */
/*
 * Outbound: TUN packets -> routed by allowed-IPs -> nonces assigned and
 * appended to the peer's tx queue -> sealed by a crypto worker -> sent in
 * order by a UDP writer. Also handshake initiations and keepalives.
 */
#ifndef WGPIPE_SEND_H
#define WGPIPE_SEND_H

#include <stdbool.h>

struct wg_device;
struct wg_peer;
struct batch;

/* TUN reader: b holds packets just read (plaintext at buf + 16). Routes
 * them, splitting the batch by peer, and submits each part. Takes b. */
void wg_send_route_batch(struct wg_device *dev, struct batch *b);
/* Submits a batch of one peer (b->peer set, a reference): nonces,
 * ordered queue, crypt ring; staged if there is no usable keypair. */
void wg_send_batch(struct wg_peer *peer, struct batch *b);
void wg_send_keepalive(struct wg_peer *peer);
void wg_send_staged(struct wg_peer *peer);
void wg_send_handshake_initiation(struct wg_peer *peer, bool is_retry);
/* Asks the timer thread for a handshake (any thread, cheap). */
void wg_send_want_handshake(struct wg_peer *peer);

/* Crypto worker: seal every packet of a tx batch in place. */
void wg_send_encrypt_batch(struct wg_device *dev, struct batch *b);
/* UDP writer: send the peer's finished batches, in order. */
void wg_send_flush_peer(struct wg_peer *peer);

#endif
