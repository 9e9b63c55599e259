/* SPDX-License-Identifier: MIT */
/*
 * How stages hand work to each other.
 *
 * struct wg_ring: a ck_ring of pointers (batches, or peers with work),
 * used MPMC (any reader may produce, any worker consume) with an event
 * count so that idle consumers sleep in futex() instead of spinning.
 *
 * struct wg_ordered_queue: a peer's batches in nonce (tx) or arrival (rx)
 * order. Producers append under the queue's spinlock, in the same
 * critical section that assigns nonces. Crypto workers never touch it;
 * they only flip a batch's state. One drainer at a time pops the leading
 * finished batches: wg_ordered_queue_begin_drain() elects it, and a
 * producer that finds a drain running leaves a note so that the drainer
 * looks once more before it lets go.
 *
 * Every ring and queue in wgpipe (N = --batches, the pool's size):
 *
 * dev->pool (batch.h): free batches; a stack under a spinlock (LIFO).
 *   in:   whoever releases a batch: writers, handshake workers, readers
 *         (a read that got nothing), the timer and UAPI threads (staged
 *         batches dropped, teardown).
 *   out:  TUN and UDP readers (waiting while it is dry); readers
 *         splitting a batch by peer or keypair, UDP readers filling
 *         handshake batches, and whoever sends a keepalive (timer,
 *         handshake worker, UAPI), none of which wait.
 *   size: N; it holds every batch, so it is never full. Empty: readers
 *         wait (woken by each release); the others drop what they
 *         carried, counted (drop_pool_empty, drop_handshake; a keepalive
 *         is skipped until the next timer), and pool_empty_events.
 *   gate: readers read only while their direction has fewer than
 *         --max-inflight packets charged (wg_batch_wait_room).
 *
 * dev->crypt_ring: tx and rx batches to seal or open.
 *   in:   TUN readers, UDP readers, and every caller of wg_send_batch:
 *         the timer thread (keepalives), handshake workers (the
 *         keepalive that confirms a session), TUN writers and UDP
 *         readers (staged batches sent once a session is confirmed),
 *         the UAPI thread (the first persistent keepalive).
 *   out:  crypto workers.
 *   size: above N, so it cannot be full; if a push failed anyway, the
 *         batch is marked dead and its writer drops it (drop_no_endpoint
 *         on the way out).
 *   Some batches skip it (wg_crypt_here in device.h): the thread that
 *   queued them seals or opens and writes them itself.
 *
 * dev->udp_writer_ring, dev->tun_writer_ring: a peer reference each, one
 *   per finished batch: "this peer has work".
 *   in:   crypto workers (and UDP readers, for a dead rx batch).
 *   out:  UDP writers, TUN writers, which drain that peer's queue.
 *   size: above N (one entry per batch in flight), so never full; if a
 *         push failed, the reference is dropped and the batch waits in
 *         its queue for the peer's next notification.
 *
 * dev->handshake_ring: batches of handshake messages.
 *   in:   UDP readers.  out: handshake workers.
 *   size: above N, admitted only while it holds fewer than N/4 batches;
 *         past that a message goes to the fair ring or is dropped
 *         (drop_handshake). At N/8 the device is under load (cookies).
 *
 * dev->handshake_fair_ring: the same, past the main ring's cap, one
 *   message a second per source address (handshake.c).
 *   in:   UDP readers.  out: handshake workers, before the main ring.
 *   size: admitted while it holds fewer than N/8 batches; else dropped
 *         (drop_handshake).
 *
 * peer->tx_queue (wg_ordered_queue): the peer's tx batches in nonce
 *   order, pending until sealed.
 *   in:   every caller of wg_send_batch (see the crypt ring).
 *   out:  one drainer at a time: a UDP writer, or the producer itself
 *         for an inline batch.
 *   size: unbounded as a list; bounded by the pool and the gate.
 *
 * peer->rx_queue: the peer's rx batches in arrival order.
 *   in:   UDP readers.  out: one drainer: a TUN writer, or a UDP reader
 *         for an inline batch.  size: as tx_queue.
 *
 * peer->staged (send.c): tx batches waiting for a keypair,
 *   uncharged.
 *   in:   every caller of wg_send_batch.
 *   out:  wg_send_staged, all at once into tx_queue under both locks,
 *         ahead of any batch sent after them: the handshake worker that
 *         completes a handshake, the TUN writer or UDP reader that
 *         confirms one, the timer thread (keepalive), or a sender that
 *         finds staged batches ahead of its own; the timer and UAPI
 *         threads drop them when the handshake is given up or the peer
 *         removed.
 *   size: WG_MAX_STAGED_PACKETS in WG_MAX_STAGED_BATCHES, small
 *         batches merged; the oldest packets go first (drop_staged).
 *         All peers' together: a quarter of the pool (peer.h).
 *
 * dev->timer_wait: not a ring; the timer thread's wait queue, woken by
 *   wg_handshake_want() and by a stop.
 */
#ifndef WGPIPE_QUEUEING_H
#define WGPIPE_QUEUEING_H

#include <ck_ring.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct batch;

/* A futex event count. A sleeper announces itself and reads the count
 * (wg_waitq_prepare), looks for work once more, then either finds some
 * and withdraws (wg_waitq_cancel) or sleeps until the count moves
 * (wg_waitq_wait). A waker moves the count, then wakes only when someone
 * announced itself. */
struct wg_waitq {
	uint32_t seq;	  /* shared: wg_full_* */
	uint32_t waiters; /* shared: wg_full_* */
};

/* A timeout that never comes: the sleeper waits for its wake-up. */
enum { WG_WAIT_FOREVER = -1 };

void wg_waitq_wake(struct wg_waitq *wq);
/* Wakes every sleeper: shutdown, so nobody waits out its timeout. */
void wg_waitq_wake_all(struct wg_waitq *wq);
uint32_t wg_waitq_prepare(struct wg_waitq *wq);
/* After prepare, for a sleeper that found work after all. */
void wg_waitq_cancel(struct wg_waitq *wq);
/* Sleep until woken, at most timeout_ms (or WG_WAIT_FOREVER), with the
 * value prepare returned; a wake since then returns at once. */
void wg_waitq_wait(struct wg_waitq *wq, uint32_t seq, int timeout_ms);

struct wg_ring {
	struct ck_ring ring;
	struct ck_ring_buffer *buf;
	struct wg_waitq wait;
};

int wg_ring_init(struct wg_ring *r, unsigned int min_capacity);
void wg_ring_destroy(struct wg_ring *r);
/* MPMC. False when full (callers count it). */
bool wg_ring_push(struct wg_ring *r, void *item);
/* MPMC; NULL when empty. */
void *wg_ring_pop(struct wg_ring *r);
/* Pop, sleeping up to timeout_ms (or WG_WAIT_FOREVER) when empty; NULL
 * when woken with nothing to take (a stop: wg_waitq_wake_all). */
void *wg_ring_pop_wait(struct wg_ring *r, int timeout_ms);
unsigned int wg_ring_len(struct wg_ring *r);

/* A FIFO of batches linked through ->next; its user locks it. len may
 * be peeked at without the lock (wg_read_once). */
struct batch_list {
	struct batch *head, *tail;
	unsigned int len; /* shared: written with wg_write_once */
};

void wg_batch_list_append(struct batch_list *l, struct batch *b);
/* The first batch, or NULL. */
struct batch *wg_batch_list_pop(struct batch_list *l);
/* Detaches the n batches from the head up to and including last and
 * returns the first of them, the chain ending in NULL. */
struct batch *wg_batch_list_cut(struct batch_list *l, struct batch *last,
				unsigned int n);

struct wg_ordered_queue {
	pthread_spinlock_t lock;
	struct batch_list list;
	int draining; /* shared, wg_full_*: a drainer is running */
	int again;    /* shared, wg_full_*: work finished while draining */
};

void wg_ordered_queue_init(struct wg_ordered_queue *q);
void wg_ordered_queue_destroy(struct wg_ordered_queue *q);
/* Must hold q->lock (the caller assigns nonces in the same section).
 * True when the queue was empty: b is the peer's only batch in flight in
 * this direction. */
bool wg_ordered_queue_append_locked(struct wg_ordered_queue *q,
				    struct batch *b);
/* True when the caller became the drainer and must drain until
 * wg_ordered_queue_end_drain() returns true. */
bool wg_ordered_queue_begin_drain(struct wg_ordered_queue *q);
/* Pops the leading batches that are no longer pending, as a list linked
 * through ->next. Only the drainer calls it. */
struct batch *wg_ordered_queue_pop_finished(struct wg_ordered_queue *q);
/* True when the drain is over; false when the drainer must loop again. */
bool wg_ordered_queue_end_drain(struct wg_ordered_queue *q);
/* Takes every batch (finished or not) for teardown; no drainer may run. */
struct batch *wg_ordered_queue_take_all(struct wg_ordered_queue *q);

#endif
