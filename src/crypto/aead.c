// SPDX-License-Identifier: MIT
/*
 * Choosing a ChaCha20-Poly1305 implementation, and the AEAD of RFC 8439
 * built on an implementation's primitives: keystream with the one-time
 * key in block 0, the tag over AD and ciphertext, and batches that share
 * the keystream work, and where they can the Poly1305 work, across
 * packets.
 *
 * The selection is a file-static pointer written by wg_aead_select before
 * the threads start (or once, racily but harmlessly, by the first caller
 * when nobody selected) and only read afterwards.
 */
#include "aead.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "atomic.h"
#include "log.h"

struct impl_entry {
	struct aead_impl impl;
	const char *id;	   /* impl.name, or a variant of it */
	const char *needs; /* what the CPU must have, for messages */
	bool (*cpu_ok)(void);
};

static bool always(void)
{
	return true;
}

#if defined(__x86_64__)
static bool cpu_avx2(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2");
}

static bool cpu_avx512(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") &&
	       __builtin_cpu_supports("avx512vl") &&
	       __builtin_cpu_supports("avx512bw");
}

static bool cpu_avx512ifma(void)
{
	return cpu_avx512() && __builtin_cpu_supports("avx512ifma");
}
#else
static bool never(void)
{
	return false;
}
#define cpu_avx2 never
#define cpu_avx512 never
#define cpu_avx512ifma never
#define wg_chacha_avx2_ops wg_chacha_portable_ops
#define wg_chacha_avx512_ops wg_chacha_portable_ops
#define wg_chacha_avx512ifma_ops wg_chacha_portable_ops
#endif

/* In the order "auto" prefers them; a name's first usable entry wins,
 * its last one says what is needed at least. */
static const struct impl_entry impls[] = {
    {{"avx512", &wg_chacha_avx512ifma_ops},
     "avx512ifma",
     "AVX-512 F, VL, BW and IFMA",
     cpu_avx512ifma},
    {{"avx512", &wg_chacha_avx512_ops},
     "avx512",
     "AVX-512 F, VL and BW",
     cpu_avx512},
    {{"avx2", &wg_chacha_avx2_ops}, "avx2", "AVX2", cpu_avx2},
    {{"libsodium", NULL}, "libsodium", "", always},
    {{"portable", &wg_chacha_portable_ops}, "portable", "", always},
};

enum { NIMPLS = sizeof(impls) / sizeof(impls[0]), AUTO_LAST = 3 };

static const struct aead_impl *current;
static const char *hidden; /* tests only */

/* Hiding a name hides all its variants. */
static bool usable(const struct impl_entry *e)
{
	if (hidden && (!strcmp(hidden, e->id) || !strcmp(hidden, e->impl.name)))
		return false;
	return e->cpu_ok();
}

/* The first usable entry of that name, or its last entry (or NULL for
 * an unknown name) in *last. */
static const struct impl_entry *find(const char *name,
				     const struct impl_entry **last)
{
	const struct impl_entry *found = NULL;
	int i;

	*last = NULL;
	for (i = 0; i < NIMPLS; i++) {
		if (strcmp(impls[i].impl.name, name))
			continue;
		*last = &impls[i];
		if (!found && usable(&impls[i]))
			found = &impls[i];
	}
	return found;
}

/* The first usable of avx512 (with IFMA or without), avx2 and libsodium
 * (portable C is slower than libsodium's own SIMD code, so it is never
 * chosen by itself). */
static const struct aead_impl *best(void)
{
	const struct impl_entry *last;
	int i;

	for (i = 0; i < AUTO_LAST; i++)
		if (usable(&impls[i]))
			return &impls[i].impl;
	return &find("libsodium", &last)->impl;
}

bool wg_aead_supported(const char *name)
{
	const struct impl_entry *last;

	return !strcmp(name, "auto") || find(name, &last);
}

/* A name's entries are adjacent: its last one needs the least. */
size_t wg_aead_list(struct wg_aead_choice *out, size_t max)
{
	size_t n = 0;
	int i;

	for (i = 0; i < NIMPLS; i++) {
		const struct impl_entry *e = &impls[i];

#if !defined(__x86_64__)
		if (e->cpu_ok == never)
			continue; /* not in this build */
#endif
		if (n && !strcmp(out[n - 1].name, e->impl.name)) {
			out[n - 1].needs = e->needs;
			out[n - 1].usable |= usable(e);
			continue;
		}
		if (n == max)
			break;
		out[n++] = (struct wg_aead_choice){ e->impl.name, e->needs,
						    usable(e) };
	}
	return n;
}

const char *wg_aead_auto_name(void)
{
	return best()->name;
}

int wg_aead_select(const char *name)
{
	const struct impl_entry *e, *last;

	if (!strcmp(name, "auto")) {
		wg_store_release(current, best());
		return 0;
	}
	e = find(name, &last);
	if (!last) {
		wg_log(WG_LOG_ERROR,
		       "unknown crypto implementation '%s' (choose auto, "
		       "avx512, avx2, portable or libsodium)",
		       name);
		return -EINVAL;
	}
	if (!e) {
		wg_log(WG_LOG_ERROR,
		       "crypto implementation '%s' needs %s, which this %s",
		       name, last->needs,
#if defined(__x86_64__)
		       "CPU does not have"
#else
		       "build (not for x86-64) does not include"
#endif
		);
		return -ENOTSUP;
	}
	wg_store_release(current, &e->impl);
	return 0;
}

const struct aead_impl *wg_aead_impl(void)
{
	const struct aead_impl *im = wg_load_acquire(current);

	if (__builtin_expect(!im, 0)) {
		im = best();
		wg_store_release(current, im);
	}
	return im;
}

const char *wg_aead_name(void)
{
	return wg_aead_impl()->name;
}

void wg_aead_hide(const char *id)
{
	hidden = id;
}

/* ---- The AEAD on an implementation's primitives ---- */

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void key_words(uint32_t w[8], const uint8_t key[static WG_KEY_LEN])
{
	int i;

	for (i = 0; i < 8; i++)
		w[i] = le32(key + 4 * i);
}

static void nonce_words(uint32_t w[3], const uint8_t n[WG_AEAD_NONCE_LEN])
{
	w[0] = le32(n);
	w[1] = le32(n + 4);
	w[2] = le32(n + 8);
}

static void seal_ops(const struct chacha_poly_ops *ops, uint8_t *dst,
		     const uint8_t *src, size_t len, const uint8_t *ad,
		     size_t ad_len, const uint32_t nonce[3],
		     const uint32_t key[8])
{
	uint8_t polykey[CHACHA_BLOCK_LEN];
	struct chacha_job job = {
	    .dst = dst,
	    .src = src,
	    .len = len,
	    .polykey = polykey,
	    .nonce = {nonce[0], nonce[1], nonce[2]},
	};

	ops->stream(&job, 1, key);
	ops->mac(dst + len, polykey, ad, ad_len, dst, len);
	aead_wipe(polykey, sizeof(polykey));
}

/* Whether two tags are equal, in constant time: the differences are
 * gathered before the one branch on the outcome. */
static bool tags_equal(const uint8_t a[static WG_AUTHTAG_LEN],
		       const uint8_t b[static WG_AUTHTAG_LEN])
{
	uint64_t a0, a1, b0, b1, d;

	memcpy(&a0, a, 8);
	memcpy(&a1, a + 8, 8);
	memcpy(&b0, b, 8);
	memcpy(&b1, b + 8, 8);
	d = (a0 ^ b0) | (a1 ^ b1);
	__asm__("" : "+r"(d));
	return d == 0;
}

/* What an open's key_ready needs to compute the tag. */
struct open_mac {
	const struct chacha_poly_ops *ops;
	uint8_t tag[WG_AUTHTAG_LEN];
	const uint8_t *ad;
	size_t ad_len;
};

/* Called between the key block and the data: the ciphertext is intact. */
static void mac_ciphertext(const struct chacha_job *job)
{
	struct open_mac *m = job->arg;

	m->ops->mac(m->tag, job->polykey, m->ad, m->ad_len, job->src, job->len);
}

/*
 * The tag must be computed over the ciphertext before dst overwrites it
 * (dst may equal src): it is computed as soon as the one-time key is
 * out of the keystream, before the first byte is decrypted, so the data
 * is read once for both; a message that does not verify is wiped.
 */
static bool open_ops(const struct chacha_poly_ops *ops, uint8_t *dst,
		     const uint8_t *src, size_t len, const uint8_t *ad,
		     size_t ad_len, const uint32_t nonce[3],
		     const uint32_t key[8])
{
	uint8_t polykey[CHACHA_BLOCK_LEN], want[WG_AUTHTAG_LEN];
	struct open_mac m = {.ops = ops, .ad = ad, .ad_len = ad_len};
	struct chacha_job job = {
	    .dst = dst,
	    .src = src,
	    .polykey = polykey,
	    .nonce = {nonce[0], nonce[1], nonce[2]},
	    .key_ready = mac_ciphertext,
	    .arg = &m,
	};
	bool ok;

	if (len < WG_AUTHTAG_LEN)
		return false;
	job.len = len - WG_AUTHTAG_LEN;
	memcpy(want, src + job.len, WG_AUTHTAG_LEN);
	ops->stream(&job, 1, key);
	ok = tags_equal(m.tag, want);
	if (!ok)
		sodium_memzero(dst, job.len);
	aead_wipe(polykey, sizeof(polykey));
	return ok;
}

void wg_aead_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
		     const uint8_t *ad, size_t ad_len,
		     const uint8_t nonce[static WG_AEAD_NONCE_LEN],
		     const uint8_t key[static WG_KEY_LEN])
{
	const struct aead_impl *im = wg_aead_impl();
	uint32_t kw[8], nw[3];

	if (!im->ops) {
		crypto_aead_chacha20poly1305_ietf_encrypt(
		    dst, NULL, src, len, ad, ad_len, NULL, nonce, key);
		return;
	}
	key_words(kw, key);
	nonce_words(nw, nonce);
	seal_ops(im->ops, dst, src, len, ad, ad_len, nw, kw);
	aead_wipe(kw, sizeof(kw));
}

bool wg_aead_decrypt(uint8_t *dst, const uint8_t *src, size_t len,
		     const uint8_t *ad, size_t ad_len,
		     const uint8_t nonce[static WG_AEAD_NONCE_LEN],
		     const uint8_t key[static WG_KEY_LEN])
{
	const struct aead_impl *im = wg_aead_impl();
	uint32_t kw[8], nw[3];
	bool ok;

	if (len < WG_AUTHTAG_LEN)
		return false;
	if (!im->ops) {
		if (!crypto_aead_chacha20poly1305_ietf_decrypt(
			dst, NULL, NULL, src, len, ad, ad_len, nonce, key))
			return true;
		sodium_memzero(dst, len - WG_AUTHTAG_LEN);
		return false;
	}
	key_words(kw, key);
	nonce_words(nw, nonce);
	ok = open_ops(im->ops, dst, src, len, ad, ad_len, nw, kw);
	aead_wipe(kw, sizeof(kw));
	return ok;
}

/* ---- Batches ---- */

enum {
	/* Packets whose keystream is computed in one call: the one-time
	 * keys wait on the stack. */
	BATCH_STEP = WG_MAC_BATCH_MAX,
};

/* WireGuard's nonce as state words 13..15. */
static void counter_words(uint32_t w[3], uint64_t counter)
{
	w[0] = 0;
	w[1] = (uint32_t)counter;
	w[2] = (uint32_t)(counter >> 32);
}

/* A packet's keystream job: from block ctr, the key block to polykey if
 * given, then len bytes from src XORed into dst. */
static struct chacha_job packet_job(uint8_t *dst, const uint8_t *src,
				    size_t len, uint8_t *polykey, uint32_t ctr,
				    uint64_t counter)
{
	struct chacha_job job = {
	    .dst = dst, .src = src, .len = len, .polykey = polykey, .ctr = ctr};

	counter_words(job.nonce, counter);
	return job;
}

struct batch_step {
	struct chacha_job jobs[BATCH_STEP];
	struct mac_job macs[BATCH_STEP];
	uint8_t polykeys[BATCH_STEP][CHACHA_BLOCK_LEN];
	uint8_t tags[BATCH_STEP][WG_AUTHTAG_LEN];
};

/* The tags of n messages, side by side where the implementation can. */
static void mac_jobs(const struct chacha_poly_ops *ops,
		     const struct mac_job *macs, size_t n)
{
	size_t i;

	if (ops->mac_batch) {
		ops->mac_batch(macs, n);
		return;
	}
	for (i = 0; i < n; i++)
		ops->mac(macs[i].tag, macs[i].key, NULL, 0, macs[i].msg,
			 macs[i].len);
}

/* Keystream for all (one-time keys and data) in one call, then tags. */
static void seal_step(const struct chacha_poly_ops *ops, struct batch_step *w,
		      const uint32_t key[8], const uint64_t counters[],
		      uint8_t *const bufs[], const size_t lens[], size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		w->jobs[i] = packet_job(bufs[i], bufs[i], lens[i],
					w->polykeys[i], 0, counters[i]);
		w->macs[i] = (struct mac_job){bufs[i], lens[i], w->polykeys[i],
					      bufs[i] + lens[i]};
	}
	ops->stream(w->jobs, n, key);
	mac_jobs(ops, w->macs, n);
}

/*
 * The tags over the ciphertexts, then the data of those that verified
 * into bufs[i]; the others are wiped. A message opened out of place
 * (srcs[i] given) gets its one-time key and its data in one keystream
 * call, as a seal does, since its ciphertext stays where it is; one
 * opened in place gets its key first and its data only once its tag has
 * been computed, in a second call.
 */
static void open_step(const struct chacha_poly_ops *ops, struct batch_step *w,
		      const uint32_t key[8], const uint64_t counters[],
		      uint8_t *const bufs[], const uint8_t *const srcs[],
		      const size_t lens[], bool ok[], size_t n)
{
	size_t i, mlen, k = 0;
	bool apart;

	for (i = 0; i < n; i++) {
		apart = srcs && srcs[i] && lens[i] >= WG_AUTHTAG_LEN;
		mlen = lens[i] >= WG_AUTHTAG_LEN ? lens[i] - WG_AUTHTAG_LEN : 0;
		w->jobs[i] = apart ? packet_job(bufs[i], srcs[i], mlen,
						w->polykeys[i], 0, counters[i])
				   : packet_job(NULL, NULL, 0, w->polykeys[i],
						0, counters[i]);
		if (lens[i] >= WG_AUTHTAG_LEN)
			w->macs[k++] =
			    (struct mac_job){apart ? srcs[i] : bufs[i], mlen,
					     w->polykeys[i], w->tags[i]};
	}
	ops->stream(w->jobs, n, key);
	mac_jobs(ops, w->macs, k);
	for (i = k = 0; i < n; i++) {
		ok[i] = false;
		if (lens[i] < WG_AUTHTAG_LEN)
			continue;
		mlen = lens[i] - WG_AUTHTAG_LEN;
		apart = srcs && srcs[i];
		ok[i] =
		    tags_equal(w->tags[i], (apart ? srcs[i] : bufs[i]) + mlen);
		if (!ok[i])
			sodium_memzero(bufs[i], mlen);
		else if (!apart)
			w->jobs[k++] = packet_job(bufs[i], bufs[i], mlen, NULL,
						  1, counters[i]);
	}
	if (k)
		ops->stream(w->jobs, k, key);
}

static void batch_ops(const struct chacha_poly_ops *ops,
		      const uint8_t key[static WG_KEY_LEN],
		      const uint64_t counters[], uint8_t *const bufs[],
		      const uint8_t *const srcs[], const size_t lens[],
		      bool ok[], size_t n)
{
	struct batch_step w;
	uint32_t kw[8];
	size_t i, k;

	key_words(kw, key);
	for (i = 0; i < n; i += k) {
		k = n - i < BATCH_STEP ? n - i : BATCH_STEP;
		if (ok)
			open_step(ops, &w, kw, counters + i, bufs + i,
				  srcs ? srcs + i : NULL, lens + i, ok + i, k);
		else
			seal_step(ops, &w, kw, counters + i, bufs + i, lens + i,
				  k);
	}
	aead_wipe(w.polykeys, sizeof(w.polykeys));
	aead_wipe(kw, sizeof(kw));
}

/* Sealed when ok is NULL, else opened (from srcs[i] where given), as in
 * batch_ops; libsodium takes the packets one at a time. */
static void batch(const uint8_t key[static WG_KEY_LEN],
		  const uint64_t counters[], uint8_t *const bufs[],
		  const uint8_t *const srcs[], const size_t lens[], bool ok[],
		  size_t n)
{
	const struct aead_impl *im = wg_aead_impl();
	uint8_t nonce[WG_AEAD_NONCE_LEN];
	size_t i;

	if (im->ops) {
		batch_ops(im->ops, key, counters, bufs, srcs, lens, ok, n);
		return;
	}
	for (i = 0; i < n; i++) {
		wg_aead_nonce(nonce, counters[i]);
		if (ok)
			ok[i] = wg_aead_decrypt(
			    bufs[i], srcs && srcs[i] ? srcs[i] : bufs[i],
			    lens[i], NULL, 0, nonce, key);
		else
			crypto_aead_chacha20poly1305_ietf_encrypt(
			    bufs[i], NULL, bufs[i], lens[i], NULL, 0, NULL,
			    nonce, key);
	}
}

void wg_aead_seal_batch(const uint8_t key[static WG_KEY_LEN],
			const uint64_t counters[], uint8_t *const bufs[],
			const size_t lens[], size_t n)
{
	batch(key, counters, bufs, NULL, lens, NULL, n);
}

void wg_aead_open_batch(const uint8_t key[static WG_KEY_LEN],
			const uint64_t counters[], uint8_t *const bufs[],
			const size_t lens[], bool ok[], size_t n)
{
	batch(key, counters, bufs, NULL, lens, ok, n);
}

void wg_aead_open_batch_from(const uint8_t key[static WG_KEY_LEN],
			     const uint64_t counters[], uint8_t *const bufs[],
			     const uint8_t *const srcs[], const size_t lens[],
			     bool ok[], size_t n)
{
	batch(key, counters, bufs, srcs, lens, ok, n);
}
