// SPDX-License-Identifier: MIT
/*
 * Every message type as the receive path meets it: handshake initiation
 * and response (MAC1, under load MAC2 and cookie replies, then noise),
 * cookie reply, transport data (open, then the replay window).
 *
 * Set-up, from a fixed random sequence: responder B and initiator A know
 * each other. Handshake 1 gave the session kp_a/kp_b. A then sent a
 * second initiation (I2, pending at A, which also awaits the cookie
 * reply C to it); B answered it with R2. A copy of A's handshake made a
 * third initiation I3 that B has not seen. A sealed data messages D[]
 * under kp_a. Those are the only valid messages; each input starts from
 * this state.
 *
 * Input: one flags byte, then up to MAX_MSGS messages, each a 16-bit
 * little-endian length and that many bytes, dispatched by type and
 * length as receive.c does.
 *
 * Invariants: a message accepted is one of the valid ones, in every
 * byte that is authenticated (the sender index of a handshake message is
 * not, as in WireGuard); each is accepted at most once per input; what
 * is accepted leads to the same keys on both sides; a refused message
 * changes no state.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "crypto/aead.h"
#include "cookie.h"
#include "crypto/crypto.h"
#include "fuzz.h"
#include "log.h"
#include "noise.h"
#include "replay.h"

#define NSEC 1000000000ULL
#define NOW0 (1000 * NSEC)
#define REAL0 (1700000000ULL * NSEC)
/* When fuzz inputs arrive: past the flood interval since I2. */
#define NOW_FUZZ (NOW0 + 20 * NSEC)

enum {
	FLAG_FIX_MAC1 = 1 << 0, /* recompute MAC1 of handshake messages */
	FLAG_FIX_MAC2 = 1 << 1, /* and MAC2 from the cookie A holds */
	FLAG_LOAD = 1 << 2,	/* B is under load: MAC2 required */
	FLAG_BATCH = 1 << 3,	/* open all data in one wg_noise_open_batch */
	FLAG_AEAD_SHIFT = 4,	/* 2 bits: which ChaCha20-Poly1305 */
	FLAG_OTHER_SOURCE = 1 << 6, /* from an address without a cookie */
	MAX_MSGS = 8,
	NDATA = 4,
	IDX_A1 = 0x11111111,
	IDX_B1 = 0x22222222,
	IDX_A2 = 0x33333333,
	IDX_B2 = 0x44444444,
	IDX_A3 = 0x55555555,
	IDX_B3 = 0x66666666,
	MTU = 1420,
};

struct state {
	struct noise_handshake hs_a;  /* A's handshake with B: I2 pending */
	struct noise_handshake hs_b;  /* B's handshake with A */
	struct cookie cookie_pending; /* A's, waiting for C */
	struct noise_keypair kp_b;    /* B's receiving session */
};

static struct noise_static_identity id_a, id_b;
static struct noise_handshake hs_a3;  /* A's copy that made I3 */
static struct cookie cookie_fresh;    /* A's, holding B's cookie */
static struct cookie cookie_none;     /* A's, holding none */
static struct cookie_checker checker; /* B's */
static struct state st, saved;
static struct noise_keypair kp_a, kp_b2;
static struct message_handshake_initiation msg_i3;
static struct message_handshake_response msg_r2;
static struct message_handshake_cookie msg_c;
static uint8_t data_msg[NDATA][1500];
static size_t data_len[NDATA];
static uint8_t data_plain[NDATA][1500];
static const size_t plain_len[NDATA] = {0, 1, 100, 1380};
static union wg_sockaddr src_cookie, src_other;
static const char *aead_names[4] = {"libsodium", "portable", "avx2", "avx512"};

static void self_check(void);

static struct noise_handshake *lookup_static(void *ctx,
					     const uint8_t pub[WG_KEY_LEN])
{
	(void)ctx;
	return memcmp(pub, id_a.static_public, WG_KEY_LEN) ? NULL : &st.hs_b;
}

/* The handshake awaiting a response, by our index: one at a time. */
static uint32_t pending_index;
static struct noise_handshake *pending_hs;

static struct noise_handshake *lookup_index(void *ctx, uint32_t index)
{
	(void)ctx;
	return index == pending_index ? pending_hs : NULL;
}

static void make_sockaddr(union wg_sockaddr *sa, const char *ip, int port)
{
	memset(sa, 0, sizeof(*sa));
	sa->in4.sin_family = AF_INET;
	sa->in4.sin_port = htons(port);
	inet_pton(AF_INET, ip, &sa->in4.sin_addr);
}

static void make_identity(struct noise_static_identity *id)
{
	uint8_t priv[WG_KEY_LEN];

	randombytes_buf(priv, sizeof(priv));
	FUZZ_ASSERT(wg_noise_set_static_identity_private_key(id, priv));
}

/* B consumes m and answers; returns B's response in *r. */
static void answer(const struct message_handshake_initiation *m,
		   struct message_handshake_response *r, uint32_t b_index,
		   uint64_t now)
{
	FUZZ_ASSERT(wg_noise_handshake_consume_initiation(
			m, &id_b, lookup_static, NULL, now) == &st.hs_b);
	FUZZ_ASSERT(wg_noise_handshake_create_response(r, &st.hs_b, b_index));
}

static void same_session(const struct noise_keypair *i,
			 const struct noise_keypair *r)
{
	FUZZ_ASSERT(i->i_am_the_initiator && !r->i_am_the_initiator);
	FUZZ_ASSERT(!memcmp(i->sending.key, r->receiving.key, WG_KEY_LEN));
	FUZZ_ASSERT(!memcmp(i->receiving.key, r->sending.key, WG_KEY_LEN));
	FUZZ_ASSERT(i->local_index == r->remote_index);
	FUZZ_ASSERT(i->remote_index == r->local_index);
}

static void init_data(void)
{
	int i;

	for (i = 0; i < NDATA; i++) {
		randombytes_buf(data_plain[i], plain_len[i]);
		memcpy(data_msg[i] + sizeof(struct message_data), data_plain[i],
		       plain_len[i]);
		data_len[i] = wg_noise_seal_data(data_msg[i], plain_len[i], MTU,
						 &kp_a, (uint64_t)i);
		FUZZ_ASSERT(data_len[i] <= sizeof(data_msg[i]));
	}
}

/* Handshake 1 (the session), then I2/R2 and C (pending at A), then I3. */
static void init_state(void)
{
	struct message_handshake_initiation m;
	struct message_handshake_response r;
	struct message_handshake_cookie c;

	FUZZ_ASSERT(wg_crypto_init() == 0);
	make_identity(&id_a);
	make_identity(&id_b);
	wg_noise_handshake_init(&st.hs_a, &id_a, id_b.static_public, NULL);
	wg_noise_handshake_init(&st.hs_b, &id_b, id_a.static_public, NULL);
	wg_noise_handshake_init(&hs_a3, &id_a, id_b.static_public, NULL);
	wg_cookie_checker_init(&checker);
	wg_cookie_checker_precompute_device_keys(&checker, id_b.static_public);
	wg_cookie_init(&cookie_fresh, id_b.static_public);
	wg_cookie_init(&cookie_none, id_b.static_public);
	wg_cookie_init(&st.cookie_pending, id_b.static_public);
	make_sockaddr(&src_cookie, "192.0.2.1", 51820);
	make_sockaddr(&src_other, "192.0.2.2", 51820);

	/* Handshake 1. */
	FUZZ_ASSERT(
	    wg_noise_handshake_create_initiation(&m, &st.hs_a, IDX_A1, REAL0));
	answer(&m, &r, IDX_B1, NOW0);
	pending_index = IDX_A1;
	pending_hs = &st.hs_a;
	FUZZ_ASSERT(wg_noise_handshake_consume_response(&r, &id_a, lookup_index,
							NULL) == &st.hs_a);
	FUZZ_ASSERT(wg_noise_handshake_begin_session(&st.hs_a, &kp_a, NOW0));
	FUZZ_ASSERT(wg_noise_handshake_begin_session(&st.hs_b, &st.kp_b, NOW0));
	same_session(&kp_a, &st.kp_b);
	init_data();

	/* I2, with MACs; B's cookie for src_cookie twice: once taken by
	 * cookie_fresh, once (C) left for the fuzzer. */
	FUZZ_ASSERT(wg_noise_handshake_create_initiation(&m, &st.hs_a, IDX_A2,
							 REAL0 + 10 * NSEC));
	wg_cookie_add_mac_to_packet(&m, sizeof(m), &cookie_fresh, NOW0);
	wg_cookie_message_create(&c, &m, sizeof(m), IDX_A2, &checker,
				 &src_cookie, NOW0 + 10 * NSEC);
	FUZZ_ASSERT(
	    wg_cookie_message_consume(&c, &cookie_fresh, NOW0 + 10 * NSEC));
	wg_cookie_add_mac_to_packet(&m, sizeof(m), &st.cookie_pending, NOW0);
	wg_cookie_message_create(&msg_c, &m, sizeof(m), IDX_A2, &checker,
				 &src_cookie, NOW0 + 10 * NSEC);
	answer(&m, &msg_r2, IDX_B2, NOW0 + 10 * NSEC);
	wg_cookie_add_mac_to_packet(&msg_r2, sizeof(msg_r2), &cookie_none,
				    NOW0);
	/* B's side of R2, to compare A's keys with. */
	FUZZ_ASSERT(wg_noise_handshake_begin_session(&st.hs_b, &kp_b2,
						     NOW0 + 10 * NSEC));

	/* I3, from a copy of A's handshake, not yet seen by B. */
	FUZZ_ASSERT(wg_noise_handshake_create_initiation(
	    &msg_i3, &hs_a3, IDX_A3, REAL0 + 20 * NSEC));
	wg_cookie_add_mac_to_packet(&msg_i3, sizeof(msg_i3), &cookie_none,
				    NOW0);

	pending_index = IDX_A2;
	pending_hs = &st.hs_a;
	saved = st;
	self_check();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup(init_state);
	return 0;
}

/* ---- one input ---- */

struct run {
	unsigned int flags;
	const union wg_sockaddr *src;
	bool took_i3, took_r2, took_c, took_d[NDATA];
};

/* MACs of a handshake message: as they came, or made right. */
static void fix_macs(struct run *run, void *m, size_t len)
{
	struct cookie c;

	if (!(run->flags & FLAG_FIX_MAC1))
		return;
	c = run->flags & FLAG_FIX_MAC2 ? cookie_fresh : cookie_none;
	wg_cookie_add_mac_to_packet(m, len, &c, NOW_FUZZ);
}

/* The handshake worker's admission: MAC1, under load MAC2 (or a cookie
 * reply, which must then be well formed). */
static bool admit(struct run *run, const void *m, size_t len, uint32_t sender)
{
	bool load = run->flags & FLAG_LOAD;
	struct message_handshake_cookie reply;
	enum cookie_mac_state state;

	state = wg_cookie_validate_packet(&checker, m, len, run->src, load,
					  NOW_FUZZ);
	if (state == INVALID_MAC || !load)
		return state != INVALID_MAC;
	if (state == VALID_MAC_BUT_NO_COOKIE) {
		wg_cookie_message_create(&reply, m, len, sender, &checker,
					 run->src, NOW_FUZZ);
		FUZZ_ASSERT(le32toh(reply.header.type) ==
			    WG_MSG_HANDSHAKE_COOKIE);
		FUZZ_ASSERT(le32toh(reply.receiver_index) == sender);
		return false;
	}
	/* MAC2 only verifies for the address the cookie was made for. */
	FUZZ_ASSERT(run->src == &src_cookie);
	return true;
}

static void initiation(struct run *run, struct message_handshake_initiation *m)
{
	struct message_handshake_response r;
	struct noise_handshake before = st.hs_b, *hs;
	struct noise_keypair kp_i, kp_r;

	fix_macs(run, m, sizeof(*m));
	if (!admit(run, m, sizeof(*m), le32toh(m->sender_index)))
		return;
	hs = wg_noise_handshake_consume_initiation(m, &id_b, lookup_static,
						   NULL, NOW_FUZZ);
	if (!hs) {
		FUZZ_ASSERT(!memcmp(&before, &st.hs_b, sizeof(before)));
		return;
	}
	FUZZ_ASSERT(hs == &st.hs_b);
	FUZZ_ASSERT(!run->took_i3);
	FUZZ_ASSERT(!memcmp(m->unencrypted_ephemeral,
			    msg_i3.unencrypted_ephemeral, WG_KEY_LEN));
	FUZZ_ASSERT(!memcmp(m->encrypted_static, msg_i3.encrypted_static,
			    sizeof(m->encrypted_static)));
	FUZZ_ASSERT(!memcmp(m->encrypted_timestamp, msg_i3.encrypted_timestamp,
			    sizeof(m->encrypted_timestamp)));
	run->took_i3 = true;
	/* The handshake B now holds completes with the one that sent I3
	 * (on copies: I3 may be accepted once per input only). */
	{
		struct noise_handshake b = st.hs_b, a3 = hs_a3;

		pthread_mutex_init(&b.lock, NULL);
		pthread_mutex_init(&a3.lock, NULL);
		FUZZ_ASSERT(wg_noise_handshake_create_response(&r, &b, IDX_B3));
		FUZZ_ASSERT(le32toh(r.receiver_index) ==
			    le32toh(m->sender_index));
		r.receiver_index = htole32(IDX_A3);
		pending_index = IDX_A3;
		pending_hs = &a3;
		FUZZ_ASSERT(wg_noise_handshake_consume_response(
				&r, &id_a, lookup_index, NULL) == &a3);
		pending_index = IDX_A2;
		pending_hs = &st.hs_a;
		FUZZ_ASSERT(wg_noise_handshake_begin_session(&a3, &kp_i, 1));
		FUZZ_ASSERT(wg_noise_handshake_begin_session(&b, &kp_r, 1));
		/* B answers to the sender index the initiation named. */
		FUZZ_ASSERT(kp_r.remote_index == le32toh(m->sender_index));
		kp_r.remote_index = IDX_A3;
		same_session(&kp_i, &kp_r);
		pthread_mutex_destroy(&b.lock);
		pthread_mutex_destroy(&a3.lock);
	}
}

static void response(struct run *run, struct message_handshake_response *m)
{
	struct noise_handshake before = st.hs_a, *hs;
	struct noise_keypair kp;

	fix_macs(run, m, sizeof(*m));
	if (!admit(run, m, sizeof(*m), le32toh(m->sender_index)))
		return;
	hs = wg_noise_handshake_consume_response(m, &id_a, lookup_index, NULL);
	if (!hs) {
		FUZZ_ASSERT(!memcmp(&before, &st.hs_a, sizeof(before)));
		return;
	}
	FUZZ_ASSERT(hs == &st.hs_a);
	FUZZ_ASSERT(!run->took_r2);
	FUZZ_ASSERT(m->receiver_index == msg_r2.receiver_index);
	FUZZ_ASSERT(!memcmp(m->unencrypted_ephemeral,
			    msg_r2.unencrypted_ephemeral, WG_KEY_LEN));
	FUZZ_ASSERT(!memcmp(m->encrypted_nothing, msg_r2.encrypted_nothing,
			    sizeof(m->encrypted_nothing)));
	run->took_r2 = true;
	FUZZ_ASSERT(wg_noise_handshake_begin_session(&st.hs_a, &kp, NOW_FUZZ));
	/* begin_session used the sender index B chose. */
	kp.remote_index = IDX_B2;
	same_session(&kp, &kp_b2);
}

static void cookie_reply(struct run *run,
			 const struct message_handshake_cookie *m)
{
	struct cookie before = st.cookie_pending;

	/* The daemon finds the cookie by receiver index. */
	if (le32toh(m->receiver_index) != IDX_A2 ||
	    !wg_cookie_message_consume(m, &st.cookie_pending, NOW_FUZZ)) {
		FUZZ_ASSERT(
		    !memcmp(&before, &st.cookie_pending, sizeof(before)));
		return;
	}
	FUZZ_ASSERT(!run->took_c);
	FUZZ_ASSERT(!memcmp(m->nonce, msg_c.nonce, sizeof(m->nonce)));
	FUZZ_ASSERT(!memcmp(m->encrypted_cookie, msg_c.encrypted_cookie,
			    sizeof(m->encrypted_cookie)));
	run->took_c = true;
	/* The same cookie B gave before for the same source. */
	FUZZ_ASSERT(st.cookie_pending.is_valid);
	FUZZ_ASSERT(!memcmp(st.cookie_pending.cookie, cookie_fresh.cookie,
			    WG_COOKIE_LEN));
}

/* A data message that opened: it must be one A sealed, with its
 * plaintext; the replay window then takes each counter once. orig is
 * the message as it came, buf as opened in place. */
static void opened(struct run *run, const uint8_t *orig, const uint8_t *buf,
		   size_t len, size_t plain)
{
	const struct message_data *m = (const void *)orig;
	int i;

	for (i = 0; i < NDATA; i++)
		if (data_len[i] == len && !memcmp(orig, data_msg[i], len))
			break;
	FUZZ_ASSERT(i < NDATA);
	FUZZ_ASSERT(plain == len - WG_MESSAGE_MINIMUM_LENGTH);
	FUZZ_ASSERT(plain >= plain_len[i]);
	FUZZ_ASSERT(!memcmp(buf + sizeof(*m), data_plain[i], plain_len[i]));
	if (!wg_replay_counter_validate(&st.kp_b.receiving_counter,
					le64toh(m->counter)))
		return;
	FUZZ_ASSERT(!run->took_d[i]);
	run->took_d[i] = true;
}

static void data(struct run *run, uint8_t *buf, size_t len)
{
	const struct message_data *m = (const void *)buf;
	struct replay_counter before = st.kp_b.receiving_counter;
	uint8_t *copy;
	size_t plain;

	if (le32toh(m->key_idx) != st.kp_b.local_index)
		return; /* unknown index */
	copy = malloc(len);
	FUZZ_ASSERT(copy);
	memcpy(copy, buf, len);
	if (wg_noise_open_data(buf, len, &st.kp_b, &plain))
		opened(run, copy, buf, len, plain);
	else
		FUZZ_ASSERT(!memcmp(&before, &st.kp_b.receiving_counter,
				    sizeof(before)));
	free(copy);
}

/* FLAG_BATCH: every data message of the input, whatever its index, in
 * one wg_noise_open_batch call, as a crypto worker opens a batch. */
struct data_batch {
	uint8_t *bufs[MAX_MSGS], *orig[MAX_MSGS];
	size_t lens[MAX_MSGS], n;
};

static void batch_add(struct data_batch *b, const uint8_t *buf, size_t len)
{
	b->bufs[b->n] = malloc(len);
	b->orig[b->n] = malloc(len);
	FUZZ_ASSERT(b->bufs[b->n] && b->orig[b->n]);
	memcpy(b->bufs[b->n], buf, len);
	memcpy(b->orig[b->n], buf, len);
	b->lens[b->n++] = len;
}

static void batch_open(struct run *run, struct data_batch *b)
{
	struct replay_counter before = st.kp_b.receiving_counter;
	size_t lens[MAX_MSGS], i;
	bool ok[MAX_MSGS];

	memcpy(lens, b->lens, sizeof(lens));
	wg_noise_open_batch(b->bufs, lens, ok, b->n, &st.kp_b);
	FUZZ_ASSERT(
	    !memcmp(&before, &st.kp_b.receiving_counter, sizeof(before)));
	for (i = 0; i < b->n; i++) {
		/* The contract: the plaintext length, 0 when not ok. */
		if (ok[i])
			opened(run, b->orig[i], b->bufs[i], b->lens[i],
			       lens[i]);
		else
			FUZZ_ASSERT(lens[i] == 0);
		free(b->bufs[i]);
		free(b->orig[i]);
	}
}

/* receive.c's sorting: data by length and index, handshake messages by
 * exact length, anything else dropped. */
static void dispatch(struct run *run, struct data_batch *b, uint8_t *buf,
		     size_t len)
{
	uint32_t type;

	if (len < 4)
		return;
	memcpy(&type, buf, 4);
	switch (le32toh(type)) {
	case WG_MSG_DATA:
		if (len < WG_MESSAGE_MINIMUM_LENGTH)
			break;
		if (run->flags & FLAG_BATCH)
			batch_add(b, buf, len);
		else
			data(run, buf, len);
		break;
	case WG_MSG_HANDSHAKE_INITIATION:
		if (len == sizeof(struct message_handshake_initiation))
			initiation(run, (void *)buf);
		break;
	case WG_MSG_HANDSHAKE_RESPONSE:
		if (len == sizeof(struct message_handshake_response))
			response(run, (void *)buf);
		break;
	case WG_MSG_HANDSHAKE_COOKIE:
		if (len == sizeof(struct message_handshake_cookie))
			cookie_reply(run, (void *)buf);
		break;
	}
}

static void select_aead(unsigned int i)
{
	if (!wg_aead_supported(aead_names[i]))
		i = 0;
	FUZZ_ASSERT(wg_aead_select(aead_names[i]) == 0);
}

static void run_input(const uint8_t *input, size_t size, struct run *run)
{
	struct fuzz_in in = {input, size};
	struct data_batch b = {.n = 0};
	uint8_t *buf;
	size_t len;
	int i;

	memset(run, 0, sizeof(*run));
	st = saved;
	fuzz_random_reset(2);
	run->flags = fuzz_u8(&in);
	run->src = run->flags & FLAG_OTHER_SOURCE ? &src_other : &src_cookie;
	select_aead((run->flags >> FLAG_AEAD_SHIFT) & 3);
	for (i = 0; i < MAX_MSGS && in.left; i++) {
		len = fuzz_u16(&in);
		if (len > in.left)
			len = in.left;
		/* Exactly len bytes, so that a sanitizer sees overreads. */
		buf = malloc(len ? len : 1);
		FUZZ_ASSERT(buf);
		fuzz_bytes(&in, buf, len);
		dispatch(run, &b, buf, len);
		free(buf);
	}
	if (b.n)
		batch_open(run, &b);
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size)
{
	struct run run;

	run_input(input, size, &run);
	return 0;
}

/* ---- seeds ---- */

struct seed {
	uint8_t buf[4096];
	size_t len;
};

static void seed_start(struct seed *s, unsigned int flags)
{
	s->buf[0] = (uint8_t)flags;
	s->len = 1;
}

static void seed_add(struct seed *s, const void *m, size_t len)
{
	FUZZ_ASSERT(s->len + 2 + len <= sizeof(s->buf));
	s->buf[s->len++] = (uint8_t)len;
	s->buf[s->len++] = (uint8_t)(len >> 8);
	memcpy(s->buf + s->len, m, len);
	s->len += len;
}

void fuzz_seeds(fuzz_emit_fn emit, void *ctx)
{
	struct message_handshake_initiation bare = msg_i3;
	struct seed s;
	int i;

	memset(&bare.macs, 0, sizeof(bare.macs));
	seed_start(&s, 0);
	seed_add(&s, &msg_i3, sizeof(msg_i3));
	emit(ctx, "initiation", s.buf, s.len);
	seed_start(&s, FLAG_FIX_MAC1);
	seed_add(&s, &bare, sizeof(bare));
	seed_add(&s, &bare, sizeof(bare));
	emit(ctx, "initiation-fixmac-twice", s.buf, s.len);
	seed_start(&s, FLAG_FIX_MAC1 | FLAG_FIX_MAC2 | FLAG_LOAD);
	seed_add(&s, &bare, sizeof(bare));
	emit(ctx, "initiation-load-cookie", s.buf, s.len);
	seed_start(&s, FLAG_FIX_MAC1 | FLAG_LOAD);
	seed_add(&s, &bare, sizeof(bare));
	emit(ctx, "initiation-load-nocookie", s.buf, s.len);
	seed_start(&s, FLAG_FIX_MAC1 | FLAG_FIX_MAC2 | FLAG_LOAD |
			   FLAG_OTHER_SOURCE);
	seed_add(&s, &bare, sizeof(bare));
	emit(ctx, "initiation-load-othersource", s.buf, s.len);
	seed_start(&s, 0);
	seed_add(&s, &msg_r2, sizeof(msg_r2));
	seed_add(&s, &msg_r2, sizeof(msg_r2));
	emit(ctx, "response-twice", s.buf, s.len);
	seed_start(&s, 0);
	seed_add(&s, &msg_c, sizeof(msg_c));
	seed_add(&s, &msg_c, sizeof(msg_c));
	emit(ctx, "cookie-twice", s.buf, s.len);
	seed_start(&s, 0);
	for (i = NDATA - 1; i >= 0; i--)
		seed_add(&s, data_msg[i], data_len[i]);
	seed_add(&s, data_msg[1], data_len[1]);
	emit(ctx, "data", s.buf, s.len);
	seed_start(&s, FLAG_BATCH | 1 << FLAG_AEAD_SHIFT);
	for (i = 0; i < NDATA; i++)
		seed_add(&s, data_msg[i], data_len[i]);
	emit(ctx, "data-batch-portable", s.buf, s.len);
	seed_start(&s, FLAG_BATCH | 3 << FLAG_AEAD_SHIFT);
	for (i = 0; i < NDATA; i++) {
		uint8_t bad[sizeof(data_msg[0])];

		seed_add(&s, data_msg[i], data_len[i]);
		memcpy(bad, data_msg[i], data_len[i]);
		bad[i % 2 ? 4 : data_len[i] - 1] ^= 1; /* index, or tag */
		seed_add(&s, bad, data_len[i]);
	}
	emit(ctx, "data-batch-avx512-bad", s.buf, s.len);
	seed_start(&s, FLAG_FIX_MAC1 | 2 << FLAG_AEAD_SHIFT);
	seed_add(&s, &bare, sizeof(bare));
	seed_add(&s, &msg_r2, sizeof(msg_r2));
	seed_add(&s, &msg_c, sizeof(msg_c));
	emit(ctx, "all", s.buf, s.len);
	seed_start(&s, 0);
	seed_add(&s, "\x04\0\0\0", 4);
	emit(ctx, "short", s.buf, s.len);
}

/* ---- the harness checks itself at start-up ---- */

/* What each seed must get accepted: without this, a harness that never
 * reached the crypto would pass every invariant. */
static void expect_seed(void *ctx, const char *name, const void *buf,
			size_t len)
{
	static const struct {
		const char *name;
		bool i3, r2, c, d;
	} want[] = {
	    {"initiation", true, false, false, false},
	    {"initiation-fixmac-twice", true, false, false, false},
	    {"initiation-load-cookie", true, false, false, false},
	    {"initiation-load-nocookie", false, false, false, false},
	    {"initiation-load-othersource", false, false, false, false},
	    {"response-twice", false, true, false, false},
	    {"cookie-twice", false, false, true, false},
	    {"data", false, false, false, true},
	    {"data-batch-portable", false, false, false, true},
	    {"data-batch-avx512-bad", false, false, false, true},
	    {"all", true, true, true, false},
	    {"short", false, false, false, false},
	};
	struct run run;
	size_t i;
	int d;

	(void)ctx;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strcmp(want[i].name, name))
			break;
	FUZZ_ASSERT(i < sizeof(want) / sizeof(want[0]));
	run_input(buf, len, &run);
	for (d = 0; d < NDATA; d++)
		FUZZ_ASSERT(run.took_d[d] == want[i].d);
	if (run.took_i3 != want[i].i3 || run.took_r2 != want[i].r2 ||
	    run.took_c != want[i].c) {
		fprintf(stderr, "seed %s: took i3 %d r2 %d c %d\n", name,
			run.took_i3, run.took_r2, run.took_c);
		abort();
	}
}

static void self_check(void)
{
	fuzz_seeds(expect_seed, NULL);
}
