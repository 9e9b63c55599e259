// SPDX-License-Identifier: MIT
/*
 * Handshake messages, both ways, and the timer rules carried out; see
 * handshake.h for who calls what.
 */
#include "handshake.h"

#include <endian.h>
#include <string.h>

#include "clock.h"
#include "crypto/crypto.h"
#include "device.h"
#include "log.h"
#include "peer.h"
#include "send.h"

/* ------------------------------------------------------------------ */
/* In: from the UDP reader to the handshake workers                     */

/* Handshake messages may hold at most a quarter of the batch pool. The
 * ring is as deep as the pool, and a flood of initiations arrives faster
 * than workers can answer it even with cookies: without a cap it would
 * take every batch and readers would wait for one, data and all. Under
 * load begins at an eighth (see under_load()), well before the cap.
 *
 * At the cap, which message gets in would be a lottery that a flood wins:
 * a legitimate initiator, sending one initiation per REKEY_TIMEOUT, would
 * need many tries first to get a cookie, then to get in with it. So past
 * the cap, a source none of whose messages got in during the last second
 * may still queue one, in a ring of its own (at most an eighth of the
 * pool) that workers empty first. A flood from thousands of spoofed
 * addresses then gets one message a second per address through that ring
 * (all answered with cookies, the cheap way), and a peer with its own
 * address gets each of its tries in, without waiting behind the flood.
 * It is shut out only when flood addresses hold both its slots in the
 * table (see ratelimiter.h: about one run in a thousand for 4,096
 * addresses and 2^17 slots), or when the flood uses the peer's own
 * address; then it is a lottery again, as without this ring. */
enum lane { LANE_MAIN, LANE_FAIR, LANE_DROP };

static enum lane handshake_lane(struct wg_device *dev, const struct packet *p,
				uint64_t now)
{
	if (wg_ring_len(&dev->handshake_ring) < dev->pool.nbatches / 4)
		return LANE_MAIN;
	if (wg_ring_len(&dev->handshake_fair_ring) >= dev->pool.nbatches / 8 ||
	    !wg_source_recent_admit(&dev->handshake_sources, &p->src, now))
		return LANE_DROP;
	return LANE_FAIR;
}

void wg_handshake_queue(struct wg_device *dev, struct handshake_lanes *l,
			const struct packet *p, uint64_t now)
{
	enum lane lane = handshake_lane(dev, p, now);
	struct batch *hb;

	if (lane == LANE_DROP) {
		wg_stat_add(dev, drop_handshake, 1);
		return;
	}
	if (!l->lane[lane]) {
		l->lane[lane] = wg_batch_get(&dev->pool, BATCH_HANDSHAKE);
		if (!l->lane[lane]) {
			wg_stat_add(dev, drop_handshake, 1);
			return;
		}
	}
	hb = l->lane[lane];
	/* One read's messages: they fit, as they did in its batch. */
	if (!wg_batch_add_datagram(&dev->pool, hb, p)) {
		wg_stat_add(dev, drop_handshake, 1);
		return;
	}
	if (lane == LANE_FAIR)
		wg_stat_add(dev, handshake_fair_queued, 1);
}

static void push_lane(struct wg_device *dev, struct wg_ring *ring,
		      struct batch *hb)
{
	if (hb && !wg_ring_push(ring, hb)) {
		wg_stat_add(dev, drop_handshake, hb->count);
		wg_batch_release(&dev->pool, hb);
	}
}

void wg_handshake_queue_flush(struct wg_device *dev, struct handshake_lanes *l)
{
	push_lane(dev, &dev->handshake_ring, l->lane[LANE_MAIN]);
	push_lane(dev, &dev->handshake_fair_ring, l->lane[LANE_FAIR]);
	/* Workers sleep on the main ring's wait queue only. */
	if (l->lane[LANE_FAIR])
		wg_waitq_wake(&dev->handshake_ring.wait);
	l->lane[LANE_MAIN] = l->lane[LANE_FAIR] = NULL;
}

static struct batch *handshake_pop(struct wg_device *dev)
{
	struct batch *b = wg_ring_pop(&dev->handshake_fair_ring);

	return b ? b : wg_ring_pop(&dev->handshake_ring);
}

/* The fair ring first. Workers sleep on the main ring's wait queue, which
 * a fair batch wakes too; a worker announces itself there before it
 * looks at both rings a last time, so a fair batch pushed just after its
 * first look is not left until the next main-ring batch. */
struct batch *wg_handshake_next(struct wg_device *dev, unsigned int timeout_ms)
{
	struct batch *b = handshake_pop(dev);
	uint32_t seq;

	if (b)
		return b;
	seq = wg_waitq_prepare(&dev->handshake_ring.wait);
	b = handshake_pop(dev);
	if (b) {
		wg_waitq_cancel(&dev->handshake_ring.wait);
		return b;
	}
	wg_waitq_wait(&dev->handshake_ring.wait, seq, (int)timeout_ms);
	return handshake_pop(dev);
}

/* ------------------------------------------------------------------ */
/* In: the handshake worker answers                                     */

/* The peer whose handshake a message names, found by the lookups below
 * and held (its handshake_mutex locked) until the step is done. */
struct step {
	struct wg_device *dev;
	struct wg_peer *peer;
};

/* Locks peer's handshake_mutex, unless peer is missing or dead. */
static struct noise_handshake *step_begin(struct step *st,
					  struct wg_peer *peer)
{
	if (!peer || wg_load_acquire(peer->dead))
		return NULL;
	pthread_mutex_lock(&peer->handshake_mutex);
	if (wg_load_acquire(peer->dead)) {
		pthread_mutex_unlock(&peer->handshake_mutex);
		return NULL;
	}
	st->peer = peer;
	return &peer->handshake;
}

static void step_end(struct step *st)
{
	if (st->peer)
		pthread_mutex_unlock(&st->peer->handshake_mutex);
	st->peer = NULL;
}

static struct noise_handshake *lookup_static(void *ctx,
					     const uint8_t key[WG_KEY_LEN])
{
	struct step *st = ctx;

	return step_begin(st, wg_peer_table_lookup(&st->dev->peer_table, key));
}

static struct noise_handshake *lookup_index(void *ctx, uint32_t index)
{
	struct step *st = ctx;
	struct index_entry *e;

	e = wg_index_table_lookup(&st->dev->index_table, index,
				  INDEX_HANDSHAKE);
	return step_begin(st, e ? e->peer : NULL);
}

/* Derives and installs the keypair of a finished handshake; the keypair
 * takes over the handshake's index. */
static bool begin_session(struct wg_peer *peer, uint64_t now)
{
	struct wg_device *dev = peer->dev;
	struct wg_keypair *kp = wg_keypair_new(peer);

	if (!kp)
		return false;
	if (!wg_noise_handshake_begin_session(&peer->handshake, &kp->noise,
					      now)) {
		wg_keypair_discard(kp);
		return false;
	}
	wg_index_table_replace(&dev->index_table, &peer->handshake_entry,
			       &kp->entry);
	wg_peer_install_keypair(peer, kp);
	pthread_mutex_lock(&peer->timers_lock);
	wg_timers_session_derived(&peer->timers, now);
	wg_peer_timers_unlock(peer);
	return true;
}

/* Handshake messages count in the peer's transfer totals, both ways, as
 * the kernel module and wireguard-go count them (cookie replies do not):
 * wg show on the two ends then agrees to the byte. */
static void authenticated(struct wg_peer *peer, const struct packet *p,
			  uint64_t now)
{
	wg_counter_add(peer->rx_bytes, p->len);
	wg_peer_set_endpoint(peer, &p->src, &p->dst);
	pthread_mutex_lock(&peer->timers_lock);
	wg_timers_any_authenticated_packet_received(&peer->timers);
	wg_timers_any_authenticated_packet_traversal(&peer->timers, now);
	wg_peer_timers_unlock(peer);
}

static void consume_initiation(struct wg_device *dev, struct packet *p,
			       uint64_t now)
{
	struct message_handshake_response resp;
	struct step st = { .dev = dev };
	struct noise_handshake *hs;
	struct wg_peer *peer;
	uint32_t index;
	bool ok;

	pthread_rwlock_rdlock(&dev->identity_lock);
	hs = wg_noise_handshake_consume_initiation((const void *)p->buf,
						   &dev->identity,
						   lookup_static, &st, now);
	peer = st.peer;
	ok = hs != NULL;
	if (ok) {
		index = wg_index_table_insert(&dev->index_table,
					      &peer->handshake_entry);
		ok = wg_noise_handshake_create_response(&resp, hs, index) &&
		     begin_session(peer, now);
		if (!ok)
			wg_index_table_remove(&dev->index_table,
					      &peer->handshake_entry);
	}
	step_end(&st);
	pthread_rwlock_unlock(&dev->identity_lock);
	if (!hs) {
		wg_log_ratelimited(WG_LOG_VERBOSE,
				   "invalid handshake initiation dropped");
		wg_stat_add(dev, drop_handshake, 1);
		if (peer)
			wg_peer_stat_add(peer, handshakes_refused, 1);
		return;
	}
	if (!ok)
		return;
	authenticated(peer, p, now);
	wg_cookie_add_mac_to_packet(&resp, sizeof(resp), &peer->cookie, now);
	if (!wg_device_send_one(dev, &p->src, &p->dst, &resp, sizeof(resp)))
		wg_counter_add(peer->tx_bytes, sizeof(resp));
	pthread_mutex_lock(&peer->timers_lock);
	wg_timers_any_authenticated_packet_sent(&peer->timers);
	wg_peer_timers_unlock(peer);
	log_debug("peer %llu: handshake initiation answered",
		  (unsigned long long)peer->id);
}

static void consume_response(struct wg_device *dev, struct packet *p,
			     uint64_t now)
{
	struct step st = { .dev = dev };
	struct noise_handshake *hs;
	struct wg_peer *peer;
	bool ok;

	pthread_rwlock_rdlock(&dev->identity_lock);
	hs = wg_noise_handshake_consume_response((const void *)p->buf,
						 &dev->identity, lookup_index,
						 &st);
	peer = st.peer;
	ok = hs && begin_session(peer, now);
	step_end(&st);
	pthread_rwlock_unlock(&dev->identity_lock);
	if (!ok) {
		wg_log_ratelimited(WG_LOG_VERBOSE,
				   "invalid handshake response dropped");
		wg_stat_add(dev, drop_handshake, 1);
		if (peer)
			wg_peer_stat_add(peer, handshakes_refused, 1);
		return;
	}
	authenticated(peer, p, now);
	pthread_mutex_lock(&peer->timers_lock);
	wg_timers_handshake_complete(&peer->timers);
	peer->timers.sent_lastminute_handshake = false;
	wg_peer_timers_unlock(peer);
	wg_write_once(peer->last_handshake_realtime_ns, wg_realtime_ns());
	wg_peer_stat_add(peer, handshakes_completed, 1);
	log_debug("peer %llu: handshake complete",
		  (unsigned long long)peer->id);
	/* Confirm the keys to the responder at once: staged data, or a
	 * keepalive when there is none. */
	wg_send_session_ready(peer, true);
}

static void consume_cookie(struct wg_device *dev, struct packet *p,
			   uint64_t now)
{
	const struct message_handshake_cookie *m = (const void *)p->buf;
	struct index_entry *e;

	e = wg_index_table_lookup(&dev->index_table, le32toh(m->receiver_index),
				  INDEX_HANDSHAKE | INDEX_KEYPAIR);
	if (!e || !wg_cookie_message_consume(m, &e->peer->cookie, now))
		wg_stat_add(dev, drop_handshake, 1);
}

static bool under_load(struct wg_device *dev, uint64_t now)
{
	bool load;

	pthread_mutex_lock(&dev->load_lock);
	load = wg_cookie_under_load(&dev->load, wg_ring_len(&dev->handshake_ring),
				    dev->pool.nbatches, now);
	pthread_mutex_unlock(&dev->load_lock);
	return load;
}

static uint32_t sender_index(const struct packet *p)
{
	uint32_t index;

	/* Initiation and response both carry it right after the type. */
	memcpy(&index, p->buf + 4, sizeof(index));
	return le32toh(index);
}

/* The cookie replies of one batch: a flood of initiations is answered
 * with one sendmmsg per batch, not one sendmsg per reply. Each goes back
 * to its initiation's sender, from the address it came to. They wait at
 * most for the rest of their batch (REKEY_TIMEOUT is seconds). */
enum { COOKIE_REPLIES_MAX = 64 };

struct cookie_replies {
	unsigned int n;
	struct message_handshake_cookie msg[COOKIE_REPLIES_MAX];
	struct wg_datagram d[COOKIE_REPLIES_MAX];
};

/* Sends the replies collected so far. They count in
 * handshake_cookies_sent whether or not the kernel took them, as
 * before batching; udp_tx_sends counts those it took. */
static void cookie_replies_flush(struct wg_device *dev,
				 struct cookie_replies *r)
{
	if (!r->n)
		return;
	wg_device_send_many(dev, r->d, r->n);
	wg_stat_add(dev, handshake_cookies_sent, r->n);
	r->n = 0;
}

static void cookie_reply(struct wg_device *dev, struct cookie_replies *r,
			 const struct packet *p, uint64_t now)
{
	struct message_handshake_cookie *m;

	if (r->n == COOKIE_REPLIES_MAX)
		cookie_replies_flush(dev, r);
	m = &r->msg[r->n];
	wg_cookie_message_create(m, p->buf, p->len, sender_index(p),
				 &dev->cookie_checker, &p->src, now);
	r->d[r->n++] = (struct wg_datagram){
		.dst = p->src,
		.src = p->dst,
		.iov = {.iov_base = m, .iov_len = sizeof(*m)},
	};
}

/* MAC1 always; under load a valid cookie (MAC2) and the per-source
 * limit too, or else a cookie reply, added to r. False when the message
 * must go no further. */
static bool admit(struct wg_device *dev, struct cookie_replies *r,
		  struct packet *p, uint64_t now)
{
	bool load = under_load(dev, now);
	enum cookie_mac_state state;

	state = wg_cookie_validate_packet(&dev->cookie_checker, p->buf, p->len,
					  &p->src, load, now);
	if (state == INVALID_MAC)
		return false;
	if (!load)
		return true;
	if (state == VALID_MAC_BUT_NO_COOKIE) {
		cookie_reply(dev, r, p, now);
		return false;
	}
	if (!wg_ratelimiter_allow(&dev->ratelimiter, &p->src, now)) {
		wg_stat_add(dev, handshake_ratelimited, 1);
		return false;
	}
	return true;
}

void wg_handshake_process(struct wg_device *dev, struct batch *b)
{
	struct cookie_replies replies;
	unsigned int i;

	replies.n = 0;
	rcu_read_lock();
	for (i = 0; i < b->count; i++) {
		struct packet *p = &b->pkts[i];
		uint32_t type = wg_message_type(p->buf);
		uint64_t now = wg_now_ns();

		if (type == WG_MSG_HANDSHAKE_COOKIE) {
			consume_cookie(dev, p, now);
			continue;
		}
		if (!admit(dev, &replies, p, now)) {
			wg_stat_add(dev, drop_handshake, 1);
			continue;
		}
		if (type == WG_MSG_HANDSHAKE_INITIATION)
			consume_initiation(dev, p, now);
		else
			consume_response(dev, p, now);
	}
	cookie_replies_flush(dev, &replies);
	rcu_read_unlock();
	wg_batch_release(&dev->pool, b);
}

/* ------------------------------------------------------------------ */
/* Out: the timer thread                                                */

static void timers_watch(struct wg_peer *peer);

void wg_handshake_want(struct wg_peer *peer)
{
	if (!wg_full_exchange(peer->handshake_wanted, 1)) {
		timers_watch(peer);
		wg_waitq_wake(&peer->dev->timer_wait);
	}
}

/* One message to the peer from its sticky source; forgets a source the
 * kernel no longer takes. */
static void send_from(struct wg_peer *peer, const union wg_sockaddr *ep,
		      struct wg_src *src, const void *buf, size_t len)
{
	bool had = src->family != 0;

	if (!wg_device_send_one(peer->dev, ep, src, buf, len))
		wg_counter_add(peer->tx_bytes, len);
	if (had && !src->family)
		wg_peer_clear_src(peer);
}

static void send_initiation(struct wg_peer *peer, bool is_retry)
{
	struct wg_device *dev = peer->dev;
	struct message_handshake_initiation msg;
	union wg_sockaddr ep;
	struct wg_src src;
	uint64_t now = wg_now_ns();
	uint32_t index;
	bool ok;

	pthread_mutex_lock(&peer->timers_lock);
	ok = wg_timers_should_send_initiation(&peer->timers, now, is_retry);
	if (ok)
		wg_timers_initiation_sent(&peer->timers, now);
	wg_peer_timers_unlock(peer);
	if (!ok)
		return;

	pthread_rwlock_rdlock(&dev->identity_lock);
	pthread_mutex_lock(&peer->handshake_mutex);
	ok = dev->identity.has_identity && !wg_load_acquire(peer->dead);
	if (ok) {
		index = wg_index_table_insert(&dev->index_table,
					      &peer->handshake_entry);
		ok = wg_noise_handshake_create_initiation(
		    &msg, &peer->handshake, index, wg_realtime_ns());
		if (!ok)
			wg_index_table_remove(&dev->index_table,
					      &peer->handshake_entry);
	}
	pthread_mutex_unlock(&peer->handshake_mutex);
	pthread_rwlock_unlock(&dev->identity_lock);
	if (!ok)
		return;
	wg_cookie_add_mac_to_packet(&msg, sizeof(msg), &peer->cookie, now);
	wg_peer_get_endpoint(peer, &ep, &src);
	log_debug("peer %llu: sending handshake initiation",
		  (unsigned long long)peer->id);
	if (ep.sa.sa_family) {
		send_from(peer, &ep, &src, &msg, sizeof(msg));
		wg_peer_stat_add(peer, handshakes_initiated, 1);
	}

	pthread_mutex_lock(&peer->timers_lock);
	wg_timers_any_authenticated_packet_traversal(&peer->timers, now);
	wg_timers_any_authenticated_packet_sent(&peer->timers);
	wg_timers_handshake_initiated(&peer->timers, now, wg_random_u32());
	wg_peer_timers_unlock(peer);
}

/* Carries out what peer's timers say is due; returns its next deadline. */
static uint64_t peer_timers(struct wg_peer *peer, uint64_t now)
{
	unsigned int actions;
	uint64_t next;
	bool wanted;

	wanted = wg_exchange(peer->handshake_wanted, 0);
	pthread_mutex_lock(&peer->timers_lock);
	actions = wg_timers_expire(&peer->timers, now);
	pthread_mutex_unlock(&peer->timers_lock);
	if (wanted)
		send_initiation(peer, false);
	if (actions & WG_ACTION_SEND_INITIATION)
		send_initiation(peer, true);
	if (actions & WG_ACTION_GIVE_UP)
		wg_send_purge_staged(peer);
	if (actions & WG_ACTION_SEND_KEEPALIVE)
		wg_send_keepalive(peer);
	if (actions & WG_ACTION_ZERO_KEYS) {
		log_debug("peer %llu: zeroing keys after %d s without a handshake",
			  (unsigned long long)peer->id, ZERO_KEYS_AFTER_TIME);
		wg_peer_zero_keys(peer);
	}
	pthread_mutex_lock(&peer->timers_lock);
	next = wg_timers_next_deadline(&peer->timers);
	pthread_mutex_unlock(&peer->timers_lock);
	return next;
}

/* Any thread: puts peer on the timer thread's list unless it is on it,
 * with a reference the list holds. */
static void timers_watch(struct wg_peer *peer)
{
	struct wg_device *dev = peer->dev;

	if (wg_full_load(peer->timer_listed) ||
	    wg_full_exchange(peer->timer_listed, 1))
		return;
	/* A peer being freed has nothing left to time. */
	if (!wg_peer_get_unless_zero(peer))
		return;
	pthread_mutex_lock(&dev->timer_lock);
	cds_list_add_tail(&peer->timer_node, &dev->timer_pending);
	pthread_mutex_unlock(&dev->timer_lock);
}

void wg_peer_timers_unlock(struct wg_peer *peer)
{
	bool armed = wg_timers_next_deadline(&peer->timers) != UINT64_MAX;

	pthread_mutex_unlock(&peer->timers_lock);
	if (armed)
		timers_watch(peer);
}

/*
 * Timer thread: peer, taken off its list, has nothing armed. True when it
 * may stay off; false when it must go back (the caller keeps it, and the
 * list's reference). The flag is cleared before the timers are looked at
 * once more, and timers_watch arms before it reads the flag, so a timer
 * armed meanwhile is seen by one side or the other.
 */
static bool timers_unwatch(struct wg_peer *peer)
{
	bool busy;

	wg_full_store(peer->timer_listed, 0);
	if (wg_load_acquire(peer->dead))
		return true;
	pthread_mutex_lock(&peer->timers_lock);
	busy = wg_timers_next_deadline(&peer->timers) != UINT64_MAX;
	pthread_mutex_unlock(&peer->timers_lock);
	busy = busy || wg_full_load(peer->handshake_wanted);
	/* Listed again by another thread meanwhile: its reference. */
	return !busy || wg_full_exchange(peer->timer_listed, 1);
}

uint64_t wg_handshake_run_timers(struct wg_device *dev, uint64_t now)
{
	uint64_t next = UINT64_MAX, d;
	struct wg_peer *peer, *tmp;

	pthread_mutex_lock(&dev->timer_lock);
	cds_list_splice(&dev->timer_pending, &dev->timer_active);
	CDS_INIT_LIST_HEAD(&dev->timer_pending);
	pthread_mutex_unlock(&dev->timer_lock);
	rcu_read_lock();
	cds_list_for_each_entry_safe(peer, tmp, &dev->timer_active,
				     timer_node) {
		if (!wg_load_acquire(peer->dead)) {
			d = peer_timers(peer, now);
			if (d < next)
				next = d;
			if (d != UINT64_MAX)
				continue;
		}
		cds_list_del(&peer->timer_node);
		if (timers_unwatch(peer))
			wg_peer_put(peer);
		else /* at the head: not walked again this time */
			cds_list_add(&peer->timer_node, &dev->timer_active);
	}
	rcu_read_unlock();
	return next;
}

void wg_handshake_timers_drain(struct wg_device *dev)
{
	struct wg_peer *peer, *tmp;

	cds_list_splice(&dev->timer_pending, &dev->timer_active);
	CDS_INIT_LIST_HEAD(&dev->timer_pending);
	cds_list_for_each_entry_safe(peer, tmp, &dev->timer_active,
				     timer_node) {
		cds_list_del(&peer->timer_node);
		wg_full_store(peer->timer_listed, 0);
		wg_peer_put(peer);
	}
}
