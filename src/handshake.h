/* SPDX-License-Identifier: MIT */
/*
 * Handshake messages, both ways, and the timer rules carried out.
 *
 * In: a UDP reader sorts the handshake messages of one read into batches
 * for two rings (wg_handshake_queue, then wg_handshake_queue_flush); a
 * handshake worker takes them (wg_handshake_next) and answers each
 * (wg_handshake_process): MAC1 always, under load a cookie (MAC2) and
 * the per-source rate limit too; then the Noise handshake, a keypair for
 * the session, and for an initiation the response. The cookie replies a
 * batch calls for go out together once it is done, in one sendmmsg.
 *
 * Out: the timer thread asks the timers of every peer with one armed
 * what is due (wg_handshake_run_timers) and carries it out: an
 * initiation, a retry, a keepalive, giving up, zeroing the keys. It walks
 * only those peers, so a million configured, quiet ones cost nothing: a
 * thread that may have armed a peer's timer unlocks them with
 * wg_peer_timers_unlock(), which puts the peer on the timer thread's
 * list; the timer thread takes a peer off once nothing is armed. The data path asks for a
 * handshake with wg_handshake_want(), which only sets a flag and wakes
 * the timer thread, so a send never waits for one.
 */
#ifndef WGPIPE_HANDSHAKE_H
#define WGPIPE_HANDSHAKE_H

#include <stdint.h>

struct wg_device;
struct wg_peer;
struct batch;
struct packet;

/* This read's batches for the main ring and the fair ring (see
 * handshake.c for the lanes). Start zeroed. */
struct handshake_lanes {
	struct batch *lane[2];
};

/* UDP reader, under rcu_read_lock(): copies a handshake message (type
 * and length checked) into its lane's batch, or drops it (counted). */
void wg_handshake_queue(struct wg_device *dev, struct handshake_lanes *l,
			const struct packet *p, uint64_t now);
/* UDP reader: pushes this read's batches onto their rings. */
void wg_handshake_queue_flush(struct wg_device *dev, struct handshake_lanes *l);

/* Handshake worker: the next batch, fair ring first; waits up to
 * timeout_ms on the main ring when both are empty. */
struct batch *wg_handshake_next(struct wg_device *dev, unsigned int timeout_ms);
/* Handshake worker: answers every message of b, then releases it. */
void wg_handshake_process(struct wg_device *dev, struct batch *b);

/* Any thread: ask the timer thread for a handshake with peer (cheap). */
void wg_handshake_want(struct wg_peer *peer);
/* Timer thread, registered with RCU: carries out what the listed peers'
 * timers say is due at now; returns the earliest next deadline
 * (UINT64_MAX: none). A timer armed since the last walk is seen at the
 * next one, at the latest at housekeeping. */
uint64_t wg_handshake_run_timers(struct wg_device *dev, uint64_t now);
/* Unlocks peer->timers_lock after an event that may have armed a timer,
 * and lists the peer for the timer thread if one is. */
void wg_peer_timers_unlock(struct wg_peer *peer);
/* Shutdown, every thread stopped: lets go of the listed peers. */
void wg_handshake_timers_drain(struct wg_device *dev);

#endif
