/* SPDX-License-Identifier: MIT */
/*
 * Batches, and their whole life.
 *
 * A batch is a fixed-size object from a pool preallocated at start. It
 * carries up to pool->batch_size packets of one peer and one keypair in
 * one direction. Its life, all of it in batch.c:
 *
 *   wg_batch_get_wait()   a reader takes it from the pool (waiting while
 *                         the pool is dry), or wg_batch_get() for a
 *                         caller that would rather drop than wait;
 *   wg_batch_charge()     the packets read into it count against their
 *                         direction's in-flight limit, which readers
 *                         check with wg_batch_wait_room() before they
 *                         read, so that a queue builds in the kernel,
 *                         where TCP sees it, and not in here;
 *   ... the stages below own it in turn: see queueing.h's table ...
 *   wg_batch_uncharge()   waiting for a handshake is not in flight
 *                         (send.c stages such batches uncharged);
 *   wg_batch_release()    its peer and keypair references are dropped,
 *                         its charge returned, and it goes back to the
 *                         pool, waking a reader that waits for one.
 *
 * Ownership moves with the pointer; one stage owns a batch at a time,
 * except that the per-peer ordered queue and the crypt ring both point to
 * a batch in flight: the crypto worker owns its packets, the queue owns
 * its link, and `state` hands the packets back (release store, acquire
 * load).
 *
 * Under AddressSanitizer (configure --enable-asan) the slots of a batch in
 * the pool are poisoned, from wg_batch_put() until a reader takes it
 * again: a stage that still reads or writes a packet after its batch went
 * back is reported where it does so, instead of sealing, opening or
 * writing to the TUN device bytes a reader is meanwhile replacing.
 */
#ifndef WGPIPE_BATCH_H
#define WGPIPE_BATCH_H

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WG_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define WG_ASAN 1
#endif

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "addr.h"
#include "atomic.h"
#include "queueing.h"

/*
 * Space: a batch owns batch_size consecutive slots of WG_SLOT_SIZE bytes,
 * and a packet takes as many consecutive slots as it needs
 * (wg_batch_add), so a batch carries many packets at the default MTU and
 * fewer, larger ones at a jumbo MTU: up to one of the largest, a 65,503
 * byte tunnel packet, in 32 slots. The memory is the same at any MTU.
 * Encryption and decryption are in place, in the packet's own slots.
 */
enum {
	/* Room before a packet for the transport header, so encryption is
	 * in place. */
	WG_SLOT_HEADROOM = 16,
	WG_SLOT_SIZE = 2048,
	/* A tx packet's room beyond its plaintext: the header before it,
	 * up to 15 bytes of padding and the 16-byte tag after it. */
	WG_SLOT_OVERHEAD = WG_SLOT_HEADROOM + 15 + 16,
	/* The largest tunnel packet WireGuard carries (a 65,535-byte UDP
	 * datagram less the data header and tag), and the slots it takes. */
	WG_MAX_PLAIN = 65503,
	WG_MAX_PACKET_SLOTS = (WG_MAX_PLAIN + WG_SLOT_OVERHEAD +
			       WG_SLOT_SIZE - 1) / WG_SLOT_SIZE,
	WG_BATCH_MAX = 256,
	/* A batch this small is sealed or opened by the thread that read
	 * it when the crypto workers have nothing queued, or when its peer
	 * has nothing else in flight (wg_crypt_here in device.h). */
	WG_INLINE_MAX = 8,
	/* A reader keeps up while it has handed on fewer batches than this
	 * since its queue was last empty: it then seals or opens larger
	 * batches itself (wg_crypt_here in device.h). Past that it has
	 * fallen behind, and hands them to the crypto workers until it
	 * finds its queue empty again. What it reads meanwhile waits for
	 * this many batches' crypto at most, about 25 us each at 64 packets
	 * of 1420 bytes: with one peer, that peer's own packets, which wait
	 * behind its earlier ones in any case (nonce order); with more, the
	 * first batch after an empty read only, so that a quiet peer's
	 * packets are not held up behind another's bulk.
	 * With one peer, a TUN reader's bound is lower than a UDP reader's:
	 * past 16 batches a sender that outruns it (a UDP flood, iperf3 -u
	 * -b 10G, on two CPUs shared by both ends) is better served by the
	 * workers. At 64 such a flood delivered 0.66-0.76x the datagrams of
	 * eeb2719 (which always handed on), at 16 0.93-1.22x (1392 B) and
	 * 1.01-1.25x (64 B) in three runs, while a TCP stream's CPU per byte
	 * and rate stayed as at 64 or better; at 8 TCP lost up to a fifth of
	 * its rate in some runs. A UDP reader's bound of 8 did not help the
	 * flood (one run: no better than 64 beside a TUN bound of 64, 0.84x
	 * 64's beside a TUN bound of 8). */
	WG_CAUGHT_UP_ONE_PEER_RX = 64,
	WG_CAUGHT_UP_ONE_PEER_TX = 16,
	WG_CAUGHT_UP = 1,
};

enum batch_state {
	BATCH_PENDING,
	BATCH_DONE,
	BATCH_DEAD,
};

enum batch_dir {
	BATCH_TX,
	BATCH_RX,
	BATCH_HANDSHAKE,
};

struct packet {
	uint8_t *buf; /* its first slot (wg_batch_add) */
	uint32_t len; /* tx: plaintext at buf + 16; rx: message at buf */
	/* rx: where the whole datagram still is, outside the batch, when
	 * only its 16-byte header was copied to buf (a data message cut
	 * from a UDP_GRO run: receive.c opens it from there, or copies it
	 * before the batch leaves its reader); NULL when it is all in buf. */
	const uint8_t *from;
	uint64_t counter;
	union wg_sockaddr src; /* rx: the sender */
	struct wg_src dst;     /* rx: our address it was sent to */
	bool ok;
};

struct wg_peer;
struct wg_keypair;

struct batch {
	struct batch *next; /* link in a peer's ordered or staged queue */
	int state;	    /* enum batch_state: wg_batch_set/get_state */
	enum batch_dir dir;
	unsigned int count; /* packets */
	unsigned int used;  /* slots they take */
	uint8_t *slots;	    /* the first of its batch_size slots */
	/* Packets this batch counts against its direction's in-flight
	 * limit (see wg_batch_uncharge). */
	unsigned int charged;
	/* Its reader was keeping up when it handed b on (WG_CAUGHT_UP), so
	 * it may seal or open b itself (wg_crypt_here in device.h). */
	bool caught_up;
	struct wg_peer *peer;	       /* a reference, or NULL */
	struct wg_keypair *keypair; /* a reference, or NULL */
	struct packet pkts[];
};

/* Packets read but not yet written out, in one direction. */
struct batch_inflight {
	unsigned int packets; /* shared: wg_counter_add/sub */
	uint64_t full_events; /* shared: a reader waited for room */
	struct wg_waitq room; /* readers waiting for packets to leave */
};

/* The free list is a stack under a spinlock: any thread takes and
 * returns batches, and the batch returned last is the first taken. A
 * busy tunnel then cycles through the few batches it keeps in flight,
 * whose slots are still in the CPU's caches, instead of through the
 * whole pool (--batches x --batch-size x 2 KiB, 16 MiB by default). It is
 * taken once or twice per batch, not per packet. */
struct batch_pool {
	pthread_spinlock_t lock;
	struct batch **free; /* under lock: free[0..nfree) */
	unsigned int nfree;  /* under lock; read racily: wg_read_once */
	bool lock_made;
	unsigned int batch_size;
	unsigned int nbatches;
	size_t batch_bytes;
	uint8_t *batches;
	uint8_t *slots;
	uint64_t empty_events;	 /* shared: a taker found the pool empty */
	struct wg_waitq free_wait; /* readers waiting for a free batch */
	unsigned int max_inflight; /* packets, per direction */
	struct batch_inflight inflight[2]; /* BATCH_TX, BATCH_RX */
	int stopping; /* shared: wg_batch_pool_stop() was called */
};

int wg_batch_pool_init(struct batch_pool *pool, unsigned int nbatches,
		       unsigned int batch_size, unsigned int max_inflight);
void wg_batch_pool_destroy(struct batch_pool *pool);
/* Shutdown: every wait below returns now and from now on. Any thread;
 * async-signal-safe. */
void wg_batch_pool_stop(struct batch_pool *pool);
/* Batches in the pool now; a snapshot while others take and put. */
unsigned int wg_batch_pool_free(struct batch_pool *pool);

/* NULL when the pool is empty (counted in empty_events). */
struct batch *wg_batch_get(struct batch_pool *pool, enum batch_dir dir);
/* Waits while the pool is dry; NULL only once the pool is stopping. */
struct batch *wg_batch_get_wait(struct batch_pool *pool, enum batch_dir dir);
/* Back to the pool, for a batch that holds no references and no charge
 * (one that was never submitted); anything else: wg_batch_release(). */
void wg_batch_put(struct batch_pool *pool, struct batch *b);
/* Drops b's references and charge, returns it to the pool and wakes a
 * reader waiting for one. */
void wg_batch_release(struct batch_pool *pool, struct batch *b);

/* Counts n more packets of b against its direction's in-flight limit. */
void wg_batch_charge(struct batch_pool *pool, struct batch *b, unsigned int n);
/* Returns b's packets to the limit. */
void wg_batch_uncharge(struct batch_pool *pool, struct batch *b);
/* Readers: true while dir is under its in-flight limit. */
bool wg_batch_has_room(struct batch_pool *pool, enum batch_dir dir);
/* Readers, before they read: wait until dir is under its limit (or the
 * pool is stopping). */
void wg_batch_wait_room(struct batch_pool *pool, enum batch_dir dir);

/* Slots that hold `bytes` bytes (at least one). */
static inline unsigned int wg_slots_for(size_t bytes)
{
	return bytes > WG_SLOT_SIZE
		       ? (unsigned int)((bytes + WG_SLOT_SIZE - 1) / WG_SLOT_SIZE)
		       : 1;
}

/* Bytes a tx packet of len bytes of plaintext needs in place. */
static inline size_t wg_tx_room(size_t len)
{
	return len + WG_SLOT_OVERHEAD;
}

/* The contiguous room left in b, in bytes. */
static inline size_t wg_batch_room(const struct batch_pool *pool,
				   const struct batch *b)
{
	return (size_t)(pool->batch_size - b->used) * WG_SLOT_SIZE;
}

/* Appends a packet in the next n slots and returns it, its buf set;
 * NULL when fewer are left. */
static inline struct packet *wg_batch_reserve(const struct batch_pool *pool,
					      struct batch *b, unsigned int n)
{
	struct packet *p;

	if (n > pool->batch_size - b->used)
		return NULL;
	p = &b->pkts[b->count++];
	p->buf = b->slots + (size_t)b->used * WG_SLOT_SIZE;
	p->from = NULL;
	b->used += n;
	return p;
}

/* Appends a packet that needs `bytes` of contiguous room (rx: the whole
 * datagram; tx: wg_tx_room()); NULL when the batch has no room for it. */
static inline struct packet *wg_batch_add(const struct batch_pool *pool,
					  struct batch *b, size_t bytes)
{
	return wg_batch_reserve(pool, b, wg_slots_for(bytes));
}

/* A received datagram into another batch, all of it in to's slots:
 * message, sender, our address. False when to has no room for it. */
static inline bool wg_batch_add_datagram(const struct batch_pool *pool,
					 struct batch *to,
					 const struct packet *from)
{
	struct packet *p = wg_batch_add(pool, to, from->len);

	if (!p)
		return false;
	memcpy(p->buf, from->from ? from->from : from->buf, from->len);
	p->len = from->len;
	p->src = from->src;
	p->dst = from->dst;
	return true;
}

static inline void wg_batch_set_state(struct batch *b, enum batch_state s)
{
	wg_store_release(b->state, (int)s);
}

static inline enum batch_state wg_batch_get_state(const struct batch *b)
{
	return (enum batch_state)wg_load_acquire(b->state);
}

#endif
