// SPDX-License-Identifier: MIT
/*
 * MAC1, MAC2 and cookie replies (WireGuard whitepaper, section 5.4.4 and
 * 5.4.7).
 *
 * mac1 proves the sender knows our public key; it is checked on every
 * handshake message. mac2 proves the sender can receive at its source
 * address: it is keyed with a cookie we handed out for that address, and
 * only demanded while the handshake queue is deep. The cookie is a MAC of
 * the address under a random secret that we replace every two minutes, so
 * we keep no per-source state.
 *
 * Locks: checker->secret_lock guards the secret and the two device keys
 * (readers compute MACs, the writer rotates the secret or replaces the
 * keys); cookie->lock guards everything in a peer's cookie state.
 */
#include "cookie.h"

#include "atomic.h"
#include "clock.h"
#include <assert.h>
#include <endian.h>
#include <string.h>

#include <sodium.h>

#include "crypto/blake2s.h"
#include "crypto/crypto.h"


static const uint8_t mac1_key_label[8] = {'m', 'a', 'c', '1',
					  '-', '-', '-', '-'};
static const uint8_t cookie_key_label[8] = {'c', 'o', 'o', 'k',
					    'i', 'e', '-', '-'};

/* HASH(label || public key): the keys both MACs and the cookie
 * encryption are made from. */
static void derive_key(uint8_t key[static WG_KEY_LEN],
		       const uint8_t label[static 8],
		       const uint8_t public_key[static WG_KEY_LEN])
{
	struct blake2s_state state;

	wg_blake2s_init(&state, WG_KEY_LEN);
	wg_blake2s_update(&state, label, 8);
	wg_blake2s_update(&state, public_key, WG_KEY_LEN);
	wg_blake2s_final(&state, key);
}

/* The macs are the last 32 bytes of every handshake message that has
 * them; mac1 covers everything before them. */
static void compute_mac1(uint8_t mac1[static WG_MAC_LEN], const void *message,
			 size_t len, const uint8_t key[static WG_KEY_LEN])
{
	len -= sizeof(struct message_macs);
	wg_blake2s(mac1, message, key, WG_MAC_LEN, len, WG_KEY_LEN);
}

/* mac2 covers everything up to itself, mac1 included. */
static void compute_mac2(uint8_t mac2[static WG_MAC_LEN], const void *message,
			 size_t len, const uint8_t cookie[static WG_COOKIE_LEN])
{
	len -= WG_MAC_LEN;
	wg_blake2s(mac2, message, cookie, WG_MAC_LEN, len, WG_COOKIE_LEN);
}

static struct message_macs *macs_of(void *message, size_t len)
{
	return (struct message_macs *)((uint8_t *)message + len -
				       sizeof(struct message_macs));
}

static const struct message_macs *const_macs_of(const void *message, size_t len)
{
	return (const struct message_macs *)((const uint8_t *)message + len -
					     sizeof(struct message_macs));
}

/* A clock that reads earlier than the birthdate has not expired it. */
static bool has_expired(uint64_t birthdate_ns, uint64_t seconds,
			uint64_t now_ns)
{
	return now_ns >= birthdate_ns &&
	       now_ns - birthdate_ns >= seconds * NSEC_PER_SEC;
}

void wg_cookie_checker_init(struct cookie_checker *checker)
{
	memset(checker, 0, sizeof(*checker));
	pthread_rwlock_init(&checker->secret_lock, NULL);
}

void wg_cookie_checker_destroy(struct cookie_checker *checker)
{
	pthread_rwlock_destroy(&checker->secret_lock);
	sodium_memzero(checker, sizeof(*checker));
}

void wg_cookie_checker_precompute_device_keys(struct cookie_checker *checker,
					      const uint8_t *local_public)
{
	pthread_rwlock_wrlock(&checker->secret_lock);
	if (local_public) {
		derive_key(checker->cookie_encryption_key, cookie_key_label,
			   local_public);
		derive_key(checker->message_mac1_key, mac1_key_label,
			   local_public);
	} else {
		sodium_memzero(checker->cookie_encryption_key, WG_KEY_LEN);
		sodium_memzero(checker->message_mac1_key, WG_KEY_LEN);
	}
	pthread_rwlock_unlock(&checker->secret_lock);
}

void wg_cookie_init(struct cookie *cookie,
		    const uint8_t remote_public[static WG_KEY_LEN])
{
	memset(cookie, 0, sizeof(*cookie));
	pthread_mutex_init(&cookie->lock, NULL);
	derive_key(cookie->cookie_decryption_key, cookie_key_label,
		   remote_public);
	derive_key(cookie->message_mac1_key, mac1_key_label, remote_public);
}

void wg_cookie_destroy(struct cookie *cookie)
{
	pthread_mutex_destroy(&cookie->lock);
	sodium_memzero(cookie, sizeof(*cookie));
}

/* The bytes a cookie stands for: address then port, as they sit in the
 * sockaddr (network order). False for a family we cannot answer. */
static bool source_bytes(uint8_t out[static 18], size_t *len,
			 const union wg_sockaddr *src)
{
	switch (src->sa.sa_family) {
	case AF_INET:
		memcpy(out, &src->in4.sin_addr, 4);
		memcpy(out + 4, &src->in4.sin_port, 2);
		*len = 6;
		return true;
	case AF_INET6:
		memcpy(out, &src->in6.sin6_addr, 16);
		memcpy(out + 16, &src->in6.sin6_port, 2);
		*len = 18;
		return true;
	default:
		return false;
	}
}

/* Must hold checker->secret_lock for writing. */
static void rotate_secret_locked(struct cookie_checker *checker,
				 uint64_t now_ns)
{
	assert(pthread_rwlock_tryrdlock(&checker->secret_lock) != 0);
	randombytes_buf(checker->secret, sizeof(checker->secret));
	checker->secret_birthdate_ns = now_ns;
	checker->secret_valid = true;
}

static bool secret_is_fresh(const struct cookie_checker *checker,
			    uint64_t now_ns)
{
	return checker->secret_valid &&
	       !has_expired(checker->secret_birthdate_ns, COOKIE_SECRET_MAX_AGE,
			    now_ns);
}

/*
 * The cookie for a source: MAC(secret, address || port). The secret is
 * replaced once it is COOKIE_SECRET_MAX_AGE old, which invalidates every
 * cookie handed out before. False (cookie zeroed) for an unknown family.
 */
static bool make_cookie(uint8_t cookie[static WG_COOKIE_LEN],
			struct cookie_checker *checker,
			const union wg_sockaddr *src, uint64_t now_ns)
{
	uint8_t input[18];
	size_t input_len;

	if (!source_bytes(input, &input_len, src)) {
		memset(cookie, 0, WG_COOKIE_LEN);
		return false;
	}

	pthread_rwlock_rdlock(&checker->secret_lock);
	if (!secret_is_fresh(checker, now_ns)) {
		/* Upgrade: another thread may have rotated it meanwhile. */
		pthread_rwlock_unlock(&checker->secret_lock);
		pthread_rwlock_wrlock(&checker->secret_lock);
		if (!secret_is_fresh(checker, now_ns))
			rotate_secret_locked(checker, now_ns);
	}
	wg_blake2s(cookie, input, checker->secret, WG_COOKIE_LEN, input_len,
		   sizeof(checker->secret));
	pthread_rwlock_unlock(&checker->secret_lock);
	return true;
}

void wg_cookie_add_mac_to_packet(void *message, size_t len,
				 struct cookie *cookie, uint64_t now_ns)
{
	struct message_macs *macs = macs_of(message, len);

	pthread_mutex_lock(&cookie->lock);
	compute_mac1(macs->mac1, message, len, cookie->message_mac1_key);
	memcpy(cookie->last_mac1_sent, macs->mac1, WG_MAC_LEN);
	cookie->have_sent_mac1 = true;

	/* Stop using a cookie a little before the responder's secret can
	 * have rotated, so that we never send a mac2 it must refuse. */
	if (cookie->is_valid &&
	    !has_expired(cookie->birthdate_ns,
			 COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY, now_ns))
		compute_mac2(macs->mac2, message, len, cookie->cookie);
	else
		memset(macs->mac2, 0, WG_MAC_LEN);
	pthread_mutex_unlock(&cookie->lock);
}

static bool mac1_is_valid(struct cookie_checker *checker, const void *message,
			  size_t len)
{
	const struct message_macs *macs = const_macs_of(message, len);
	uint8_t computed[WG_MAC_LEN];

	pthread_rwlock_rdlock(&checker->secret_lock);
	compute_mac1(computed, message, len, checker->message_mac1_key);
	pthread_rwlock_unlock(&checker->secret_lock);
	return wg_crypto_equal(computed, macs->mac1, WG_MAC_LEN);
}

enum cookie_mac_state wg_cookie_validate_packet(struct cookie_checker *checker,
						const void *message, size_t len,
						const union wg_sockaddr *src,
						bool check_cookie,
						uint64_t now_ns)
{
	const struct message_macs *macs = const_macs_of(message, len);
	enum cookie_mac_state ret = INVALID_MAC;
	uint8_t cookie[WG_COOKIE_LEN];
	uint8_t computed[WG_MAC_LEN];

	if (!mac1_is_valid(checker, message, len))
		goto out;

	ret = VALID_MAC_BUT_NO_COOKIE;
	if (!check_cookie || wg_crypto_is_zero(macs->mac2, WG_MAC_LEN))
		goto out;
	if (!make_cookie(cookie, checker, src, now_ns))
		goto out;
	compute_mac2(computed, message, len, cookie);
	if (!wg_crypto_equal(computed, macs->mac2, WG_MAC_LEN))
		goto out;
	ret = VALID_MAC_WITH_COOKIE;
out:
	sodium_memzero(cookie, sizeof(cookie));
	return ret;
}

void wg_cookie_message_create(struct message_handshake_cookie *dst,
			      const void *message, size_t len, uint32_t index,
			      struct cookie_checker *checker,
			      const union wg_sockaddr *src, uint64_t now_ns)
{
	const struct message_macs *macs = const_macs_of(message, len);
	uint8_t cookie[WG_COOKIE_LEN];

	dst->header.type = htole32(WG_MSG_HANDSHAKE_COOKIE);
	dst->receiver_index = htole32(index);
	randombytes_buf(dst->nonce, sizeof(dst->nonce));

	make_cookie(cookie, checker, src, now_ns);
	/* The mac1 we answer is the additional data, so only the sender of
	 * that message can use the reply. */
	pthread_rwlock_rdlock(&checker->secret_lock);
	wg_xaead_seal(dst->encrypted_cookie, cookie, WG_COOKIE_LEN, macs->mac1,
		      WG_MAC_LEN, dst->nonce, checker->cookie_encryption_key);
	pthread_rwlock_unlock(&checker->secret_lock);
	sodium_memzero(cookie, sizeof(cookie));
}

bool wg_cookie_message_consume(const struct message_handshake_cookie *src,
			       struct cookie *cookie, uint64_t now_ns)
{
	uint8_t plain[WG_COOKIE_LEN];
	bool ok = false;

	pthread_mutex_lock(&cookie->lock);
	if (!cookie->have_sent_mac1)
		goto out;
	if (!wg_xaead_open(plain, src->encrypted_cookie,
			   sizeof(src->encrypted_cookie),
			   cookie->last_mac1_sent, WG_MAC_LEN, src->nonce,
			   cookie->cookie_decryption_key))
		goto out;
	memcpy(cookie->cookie, plain, WG_COOKIE_LEN);
	cookie->birthdate_ns = now_ns;
	cookie->is_valid = true;
	/* One reply per mac1: a replayed reply cannot refresh the cookie. */
	cookie->have_sent_mac1 = false;
	ok = true;
out:
	pthread_mutex_unlock(&cookie->lock);
	sodium_memzero(plain, sizeof(plain));
	return ok;
}

/* Any thread: the one timestamp is read and written atomically, and
 * racing writers all store "now", so no lock is needed. */
bool wg_cookie_under_load(struct cookie_load *load, size_t queue_len,
			  size_t queue_max, uint64_t now_ns)
{
	uint64_t last;

	if (queue_len >= queue_max / 8) {
		/* 0 means never; an injected clock may well start there. */
		wg_write_once(load->last_under_load_ns, now_ns ? now_ns : 1);
		return true;
	}
	last = wg_read_once(load->last_under_load_ns);
	return last && !has_expired(last, 1, now_ns);
}
