/* SPDX-License-Identifier: MIT */
/*
 * Inbound: UDP datagrams -> data messages by receiver index to the
 * peer's rx queue and the crypt ring, handshake messages to the handshake
 * rings -> opened by a crypto worker -> in order, per peer: replay window,
 * keypair confirmation, roaming, timers, source-address check -> TUN.
 * See receive.c for the path step by step.
 */
#ifndef WGPIPE_RECEIVE_H
#define WGPIPE_RECEIVE_H

#include <stdbool.h>

#include "tun.h"

struct wg_device;
struct wg_peer;
struct batch;
struct wg_udp_gro;

/* What a UDP reader thread reads with: the sockets of the set it started
 * with, UDP_GRO buffers where the socket has UDP_GRO on, and a TUN writer
 * for the batches it opens and delivers itself (wg_crypt_here). */
struct wg_udp_reader {
	struct wg_device *dev;
	int fds[2];
	unsigned int nfds;
	int stop_fd; /* readable: stop reading (the sockets are swapped) */
	struct wg_udp_gro *gro; /* or NULL */
	struct wg_tun_writer writer;
	bool has_writer;
	/* Batches handed on since a burst found the sockets empty. */
	unsigned int handed_on;
	/* Bit i: the last burst from fds[i] filled its buffers, so the next
	 * reads it without a poll() first. */
	unsigned int more;
};

/* UDP reader: index picks the TUN queue it writes to; stop_fd, once
 * readable, ends a wait for datagrams. 0, or -ENOMEM for the UDP_GRO
 * buffers. */
int wg_receive_reader_init(struct wg_udp_reader *r, struct wg_device *dev,
			   unsigned int index, int stop_fd);
void wg_receive_reader_destroy(struct wg_udp_reader *r);
/* UDP reader: waits for in-flight room and for datagrams (or a stop),
 * then reads a burst from each socket and sends it on its way. */
void wg_receive_read_udp(struct wg_udp_reader *r);

/* Crypto worker: opens every packet of an rx batch in place, marks it
 * done and hands its peer to the TUN writers. */
void wg_receive_open_batch(struct wg_device *dev, struct batch *b);
/* TUN writer (or a UDP reader with its writer): delivers the peer's
 * finished batches in order. */
void wg_receive_flush_peer(struct wg_peer *peer, struct wg_tun_writer *w);

#endif
