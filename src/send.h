/* SPDX-License-Identifier: MIT */
/*
 * Outbound: TUN packets -> routed by allowed-IPs -> nonces assigned and
 * appended to the peer's tx queue -> sealed by a crypto worker -> sent in
 * order by a UDP writer. See send.c for the path step by step.
 */
#ifndef WGPIPE_SEND_H
#define WGPIPE_SEND_H

#include <stdbool.h>
#include <stdint.h>

struct wg_device;
struct wg_peer;
struct batch;

/* What a TUN reader thread reads with: its queue of the TUN device, and
 * with virtio-net headers a buffer for one super-packet and spare slots
 * for one cut into more pieces than a batch holds. */
struct wg_tun_reader {
	struct wg_device *dev;
	int fd;
	uint8_t *super; /* vnet header + 64 KiB */
	uint8_t *spare; /* SPARE_SLOTS x WG_SLOT_SIZE */
	/* Batches handed on since a read found the queue empty. */
	unsigned int handed_on;
	/* The last burst stopped before the queue was empty: no poll()
	 * before the next. */
	bool more;
};

/* TUN reader: reads from queue index (modulo the queues). 0 or -ENOMEM. */
int wg_send_reader_init(struct wg_tun_reader *r, struct wg_device *dev,
			unsigned int index);
void wg_send_reader_destroy(struct wg_tun_reader *r);
/* TUN reader: waits for in-flight room and for packets (or a stop), then
 * reads what is there and sends it on its way. */
void wg_send_read_tun(struct wg_tun_reader *r);

/* Any thread: submits a batch of one peer (b->peer set, a reference):
 * nonces, ordered queue, crypt ring; staged if there is no usable
 * keypair. Takes b. */
void wg_send_batch(struct wg_peer *peer, struct batch *b);
/* Any thread: the staged batches, or else an empty data message. */
void wg_send_keepalive(struct wg_peer *peer);
/* Any thread: the batches staged while there was no keypair. */
void wg_send_staged(struct wg_peer *peer);
/* Any thread, once a new session can send: the batches staged for it;
 * with confirm (the initiator's), a keepalive when there are none, to
 * confirm the keys to the responder. */
void wg_send_session_ready(struct wg_peer *peer, bool confirm);
/* Any thread: drops the staged batches (counted). */
void wg_send_purge_staged(struct wg_peer *peer);

/* Crypto worker: seals every packet of a tx batch in place, marks it
 * done and hands its peer to the UDP writers. */
void wg_send_seal_batch(struct wg_device *dev, struct batch *b);
/* UDP writer: sends the peer's finished batches, in order. */
void wg_send_flush_peer(struct wg_peer *peer);

#endif
