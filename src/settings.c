// SPDX-License-Identifier: MIT
/*
 * Applying UAPI requests to the device. Everything runs on the UAPI
 * thread under dev->config_lock, but for reading the counters. A request
 * was fully parsed before it gets here; what can still fail (binding a
 * new port, a bad private key) is tried first, so that a failing request
 * changes nothing.
 */
#include "settings.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "crypto/crypto.h"
#include "device.h"
#include "handshake.h"
#include "log.h"
#include "peer.h"
#include "send.h"

/* The UAPI thread is the server's; it joins RCU on its first request
 * (peer removal uses call_rcu, keepalives and the counters read under
 * RCU) and leaves through a thread-specific destructor when it exits. */
static pthread_key_t rcu_key;
static pthread_once_t rcu_key_once = PTHREAD_ONCE_INIT;

static void rcu_leave(void *unused)
{
	rcu_unregister_thread();
}

static void make_rcu_key(void)
{
	pthread_key_create(&rcu_key, rcu_leave);
}

static void rcu_join(void)
{
	static __thread bool registered;

	if (registered)
		return;
	pthread_once(&rcu_key_once, make_rcu_key);
	rcu_register_thread();
	pthread_setspecific(rcu_key, &registered);
	registered = true;
}

struct walk_ctx {
	struct wg_uapi_peer_info *info;
	size_t cap;
};

static int collect_allowedip(void *ctx, int family, const uint8_t *ip,
			     uint8_t cidr)
{
	struct walk_ctx *w = ctx;
	struct wg_uapi_allowedip *a;

	if (w->info->n_allowedips == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 4;

		a = realloc(w->info->allowedips, cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		w->info->allowedips = a;
		w->cap = cap;
	}
	a = &w->info->allowedips[w->info->n_allowedips++];
	memset(a, 0, sizeof(*a));
	a->family = family;
	memcpy(a->ip, ip, family == AF_INET ? 4 : 16);
	a->cidr = cidr;
	return 0;
}

static int peer_info(struct wg_device *dev, struct wg_peer *peer,
		     struct wg_uapi_peer_info *info)
{
	struct walk_ctx w = { .info = info };
	uint64_t hs = wg_read_once(peer->last_handshake_realtime_ns);

	memcpy(info->public_key, peer->public_key, WG_KEY_LEN);
	pthread_mutex_lock(&peer->handshake.lock);
	memcpy(info->preshared_key, peer->handshake.preshared_key, WG_KEY_LEN);
	pthread_mutex_unlock(&peer->handshake.lock);
	wg_peer_get_endpoint(peer, &info->endpoint, NULL);
	info->has_endpoint = info->endpoint.sa.sa_family != 0;
	info->last_handshake_sec = (int64_t)(hs / NSEC_PER_SEC);
	info->last_handshake_nsec = (int64_t)(hs % NSEC_PER_SEC);
	info->rx_bytes = wg_read_once(peer->rx_bytes);
	info->tx_bytes = wg_read_once(peer->tx_bytes);
	pthread_mutex_lock(&peer->timers_lock);
	info->persistent_keepalive_interval =
		peer->timers.persistent_keepalive_interval;
	pthread_mutex_unlock(&peer->timers_lock);
	return wg_allowedips_walk_by_owner(&dev->allowedips, &peer->allowedips,
					   collect_allowedip, &w);
}

static void uapi_get_free(void *ctx, struct wg_uapi_device_info *info)
{
	size_t i;

	for (i = 0; i < info->n_peers; i++) {
		free(info->peers[i].allowedips);
		sodium_memzero(info->peers[i].preshared_key, WG_KEY_LEN);
	}
	free(info->peers);
	sodium_memzero(info, sizeof(*info));
}

static int uapi_get(void *ctx, struct wg_uapi_device_info *info)
{
	struct wg_device *dev = ctx;
	struct wg_peer *peer;
	size_t i = 0;
	int ret = 0;

	memset(info, 0, sizeof(*info));
	pthread_mutex_lock(&dev->config_lock);
	info->has_private_key = dev->identity.has_identity;
	memcpy(info->private_key, dev->identity.static_private, WG_KEY_LEN);
	info->listen_port = dev->listen_port;
	info->fwmark = dev->fwmark;
	info->peers = calloc(dev->peer_count ? dev->peer_count : 1,
			     sizeof(*info->peers));
	if (!info->peers) {
		ret = -ENOMEM;
		goto out;
	}
	cds_list_for_each_entry(peer, &dev->peers, list) {
		info->n_peers = ++i;
		ret = peer_info(dev, peer, &info->peers[i - 1]);
		if (ret)
			break;
	}
out:
	pthread_mutex_unlock(&dev->config_lock);
	if (ret)
		uapi_get_free(ctx, info);
	return ret;
}

static void apply_allowedips(struct wg_device *dev, struct wg_peer *peer,
			     const struct wg_uapi_peer *p)
{
	size_t i;

	if (p->replace_allowed_ips)
		wg_allowedips_remove_by_owner(&dev->allowedips,
					      &peer->allowedips);
	for (i = 0; i < p->n_allowedips; i++) {
		const struct wg_uapi_allowedip *a = &p->allowedips[i];

		if (a->remove)
			wg_allowedips_remove(&dev->allowedips, a->family, a->ip,
					     a->cidr, &peer->allowedips);
		else if (wg_allowedips_insert(&dev->allowedips, a->family,
					      a->ip, a->cidr,
					      &peer->allowedips))
			log_err("peer %llu: out of memory adding an allowed IP",
				(unsigned long long)peer->id);
	}
}

static void apply_keepalive(struct wg_peer *peer, uint16_t interval)
{
	unsigned int actions;

	pthread_mutex_lock(&peer->timers_lock);
	actions = wg_timers_set_persistent_keepalive(&peer->timers, interval,
						     wg_now_ns());
	wg_peer_timers_unlock(peer);
	if (actions & WG_ACTION_SEND_KEEPALIVE)
		wg_send_keepalive(peer);
}

static bool is_own_key(struct wg_device *dev, const uint8_t *key)
{
	return dev->identity.has_identity &&
	       !memcmp(key, dev->identity.static_public, WG_KEY_LEN);
}

static int apply_peer(struct wg_device *dev, const struct wg_uapi_peer *p)
{
	struct wg_peer *peer;
	int ret;

	if (is_own_key(dev, p->public_key))
		return 0;
	peer = wg_peer_table_lookup(&dev->peer_table, p->public_key);
	if (p->remove) {
		if (peer)
			wg_peer_remove(peer);
		return 0;
	}
	if (!peer) {
		if (p->update_only)
			return 0;
		ret = wg_peer_create(dev, p->public_key, &peer);
		if (ret)
			return ret;
	}
	if (p->has_preshared_key)
		wg_noise_set_preshared_key(&peer->handshake, p->preshared_key);
	if (p->has_endpoint)
		wg_peer_set_endpoint(peer, &p->endpoint, NULL);
	apply_allowedips(dev, peer, p);
	if (p->has_persistent_keepalive)
		apply_keepalive(peer, p->persistent_keepalive_interval);
	return 0;
}

static bool same_private_key(struct wg_device *dev, const uint8_t *key)
{
	uint8_t clamped[WG_KEY_LEN];
	bool same;

	if (!dev->identity.has_identity)
		return wg_crypto_is_zero(key, WG_KEY_LEN);
	/* The identity keeps the key clamped. */
	memcpy(clamped, key, WG_KEY_LEN);
	wg_x25519_clamp(clamped);
	same = wg_crypto_equal(dev->identity.static_private, clamped,
			       WG_KEY_LEN);
	sodium_memzero(clamped, sizeof(clamped));
	return same;
}

/* The parts that can fail, first. */
static int apply_device(struct wg_device *dev, const struct wg_uapi_set *set,
			char *err, size_t errlen)
{
	struct noise_static_identity id;
	int ret;

	if (set->has_private_key &&
	    !wg_crypto_is_zero(set->private_key, WG_KEY_LEN) &&
	    !wg_noise_set_static_identity_private_key(&id, set->private_key)) {
		sodium_memzero(&id, sizeof(id));
		snprintf(err, errlen, "private_key: not a usable key");
		return -EINVAL;
	}
	sodium_memzero(&id, sizeof(id));
	if (set->has_listen_port) {
		ret = wg_device_set_listen_port(dev, set->listen_port);
		if (ret) {
			snprintf(err, errlen, "listen_port=%u: %s",
				 set->listen_port, strerror(-ret));
			return ret;
		}
	}
	if (set->has_fwmark && set->fwmark != dev->fwmark) {
		ret = wg_socket_set_fwmark(dev->sockets, set->fwmark);
		if (ret) {
			snprintf(err, errlen, "fwmark=%u: %s", set->fwmark,
				 strerror(-ret));
			return ret;
		}
		dev->fwmark = set->fwmark;
	}
	/* wg syncconf sends the key every time: the same key must not
	 * cost the sessions. */
	if (set->has_private_key && !same_private_key(dev, set->private_key))
		wg_device_set_private_key(dev, set->private_key);
	return 0;
}

/*
 * Sets aside the memory for every peer the request may create and every
 * allowed IP it adds, before anything changes: with 10,000 peers in a
 * request, running out of memory half way must not leave half a config
 * (or none, after replace_peers). Counts high rather than low: a peer
 * named twice, our own key, or any peer when the request removes some,
 * costs a spare.
 */
static int reserve(struct wg_device *dev, const struct wg_uapi_set *set,
		   char *err, size_t errlen)
{
	size_t i, j, peers = 0, ips = 0, base;
	bool removes = set->replace_peers;
	int ret;

	/* A peer removed earlier in the request is created anew. */
	for (i = 0; i < set->n_peers; i++)
		removes |= set->peers[i].remove;
	for (i = 0; i < set->n_peers; i++) {
		const struct wg_uapi_peer *p = &set->peers[i];
		bool exists = !removes &&
			      wg_peer_table_lookup(&dev->peer_table,
						   p->public_key);

		if (p->remove)
			continue;
		peers += !exists && !p->update_only;
		for (j = 0; j < p->n_allowedips; j++)
			ips += !p->allowedips[j].remove;
	}
	/* The same high count bounds the peers the device would have:
	 * exact for wg setconf (replace_peers) and wg addconf (no removal)
	 * unless a new key is named twice. */
	base = set->replace_peers ? 0 : dev->peer_count;
	if (base + peers > WG_MAX_PEERS) {
		snprintf(err, errlen,
			 "%zu peers would exceed the limit of %u; nothing "
			 "applied",
			 base + peers, (unsigned int)WG_MAX_PEERS);
		return -ENOSPC;
	}
	ret = wg_peer_reserve(dev, peers);
	if (!ret)
		ret = wg_allowedips_reserve(&dev->allowedips, ips);
	return ret;
}

static int uapi_set(void *ctx, const struct wg_uapi_set *set, char *err,
		    size_t errlen)
{
	struct wg_device *dev = ctx;
	size_t i;
	int ret;

	rcu_join();
	pthread_mutex_lock(&dev->config_lock);
	err[0] = '\0';
	ret = reserve(dev, set, err, errlen);
	if (ret) {
		if (!err[0])
			snprintf(err, errlen, "out of memory");
		goto out;
	}
	ret = apply_device(dev, set, err, errlen);
	if (ret)
		goto out;
	if (set->replace_peers)
		wg_peer_remove_all(dev);
	/* Each new peer costs an X25519 (about 35 us here): a million take
	 * half a minute, which a daemon asked to stop does not wait out. It
	 * exits, so what was applied goes with it. */
	for (i = 0; i < set->n_peers && !ret; i++) {
		if (wg_device_stopping(dev)) {
			ret = -ESHUTDOWN;
			snprintf(err, errlen, "the daemon is stopping");
			break;
		}
		ret = apply_peer(dev, &set->peers[i]);
		if (ret)
			snprintf(err, errlen, "out of memory");
	}
out:
	wg_peer_unreserve(dev);
	wg_allowedips_unreserve(&dev->allowedips);
	pthread_mutex_unlock(&dev->config_lock);
	return ret;
}

/* No config_lock: the counters are atomics, and the socket set is read
 * under RCU. The server frees the text. */
static int uapi_stats(void *ctx, char **text, size_t *len)
{
	rcu_join();
	return wg_device_format_stats(ctx, text, len);
}

static void uapi_socket_gone(void *ctx)
{
	struct wg_device *dev = ctx;

	log_info("UAPI socket removed; shutting down");
	wg_device_request_stop(dev, 0);
}

const struct wg_uapi_ops wg_config_uapi_ops = {
	.get = uapi_get,
	.get_free = uapi_get_free,
	.set = uapi_set,
	.stats = uapi_stats,
	.socket_gone = uapi_socket_gone,
};
