// SPDX-License-Identifier: MIT
/*
 * The table of every figure, and the formats it is read and written in;
 * see metrics.h. The wire format (the stats=1 reply) and the table of
 * wgpipe show use the names; JSON uses them as keys; Prometheus uses the
 * families, with base units and the _total suffix of counters, following
 * the conventions of its documentation on metric and label naming.
 */
#include "metrics.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "text.h"

/* A key in base64, as wg(8) shows it: 44 characters and a NUL. */
enum {
	WG_KEY_B64_LEN = sodium_base64_ENCODED_LEN(
	    WG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL)
};

/* clang-format off */
#define COUNTER(n, fam, help) { n, fam, NULL, NULL, WG_METRIC_COUNTER, WG_SCALE_ONE, help }
#define GAUGE(n, fam, help) { n, fam, NULL, NULL, WG_METRIC_GAUGE, WG_SCALE_ONE, help }
/* A series of a labelled family; the family's help goes on its first. */
#define LCOUNTER(n, fam, l, lv, help) { n, fam, l, lv, WG_METRIC_COUNTER, WG_SCALE_ONE, help }
#define LGAUGE(n, fam, l, lv, help) { n, fam, l, lv, WG_METRIC_GAUGE, WG_SCALE_ONE, help }

#define DROP(n, reason, help) LCOUNTER(n, "dropped_packets_total", "reason", reason, help)
#define OFFLOAD(n, which, help) LGAUGE(n, "offload_enabled", "offload", which, help)

const struct wg_metric_def wg_device_metric_defs[WG_DEVICE_METRICS] = {
	[WG_M_TUN_RX_PACKETS] = COUNTER("tun_rx_packets", "tun_rx_packets_total",
		"Packets read from the TUN device, after super-packets are cut to MTU size."),
	[WG_M_TUN_RX_BATCHES] = COUNTER("tun_rx_batches", "tun_rx_batches_total",
		"Batches filled from the TUN device."),
	[WG_M_UDP_TX_PACKETS] = COUNTER("udp_tx_packets", "udp_tx_packets_total",
		"Encrypted datagrams sent."),
	[WG_M_UDP_TX_BATCHES] = COUNTER("udp_tx_batches", "udp_tx_batches_total",
		"Batches of encrypted datagrams sent."),
	[WG_M_UDP_RX_PACKETS] = COUNTER("udp_rx_packets", "udp_rx_packets_total",
		"Datagrams received."),
	[WG_M_UDP_RX_BATCHES] = COUNTER("udp_rx_batches", "udp_rx_batches_total",
		"Receive calls that returned at least one datagram."),
	[WG_M_TUN_TX_PACKETS] = COUNTER("tun_tx_packets", "tun_tx_packets_total",
		"Decrypted packets written to the TUN device."),
	[WG_M_TUN_TX_BATCHES] = COUNTER("tun_tx_batches", "tun_tx_batches_total",
		"Decrypted batches written to the TUN device."),
	[WG_M_TUN_RX_READS] = COUNTER("tun_rx_reads", "tun_rx_reads_total",
		"Reads from the TUN device that returned a packet (a super-packet is one)."),
	[WG_M_UDP_RX_READS] = COUNTER("udp_rx_reads", "udp_rx_reads_total",
		"Messages received from the UDP sockets (a UDP_GRO run is one)."),
	[WG_M_UDP_TX_SENDS] = COUNTER("udp_tx_sends", "udp_tx_sends_total",
		"Messages sent on the UDP sockets, handshakes included (a UDP_SEGMENT run is one)."),
	[WG_M_TUN_TX_WRITES] = COUNTER("tun_tx_writes", "tun_tx_writes_total",
		"Writes to the TUN device (a coalesced super-packet is one)."),
	[WG_M_DROP_NO_PEER] = DROP("drop_no_peer", "no_peer",
		"Packets dropped, by reason (see wgpipe(8), Counters)."),
	[WG_M_DROP_NO_ENDPOINT] = DROP("drop_no_endpoint", "no_endpoint", NULL),
	[WG_M_DROP_NO_KEYPAIR] = DROP("drop_no_keypair", "no_keypair", NULL),
	[WG_M_DROP_STAGED] = DROP("drop_staged", "staged", NULL),
	[WG_M_DROP_TOO_BIG] = DROP("drop_too_big", "too_big", NULL),
	[WG_M_DROP_SEND_ERROR] = DROP("drop_send_error", "send_error", NULL),
	[WG_M_DROP_BAD_PACKET] = DROP("drop_bad_packet", "bad_packet", NULL),
	[WG_M_DROP_UNKNOWN_INDEX] = DROP("drop_unknown_index", "unknown_index", NULL),
	[WG_M_DROP_DECRYPT] = DROP("drop_decrypt", "decrypt", NULL),
	[WG_M_DROP_REPLAY] = DROP("drop_replay", "replay", NULL),
	[WG_M_DROP_SOURCE] = DROP("drop_source", "source", NULL),
	[WG_M_DROP_POOL_EMPTY] = DROP("drop_pool_empty", "pool_empty", NULL),
	[WG_M_DROP_HANDSHAKE] = DROP("drop_handshake", "handshake", NULL),
	[WG_M_HANDSHAKE_COOKIES_SENT] = COUNTER("handshake_cookies_sent",
		"handshake_cookie_replies_sent_total",
		"Cookie replies sent to initiators while under load."),
	[WG_M_HANDSHAKE_RATELIMITED] = COUNTER("handshake_ratelimited",
		"handshake_ratelimited_messages_total",
		"Handshake messages refused under load by the per-source rate limit."),
	[WG_M_HANDSHAKE_FAIR_QUEUED] = COUNTER("handshake_fair_queued",
		"handshake_fair_queued_messages_total",
		"Handshake messages queued past the ring's cap for a source with none queued."),
	[WG_M_POOL_EMPTY_EVENTS] = COUNTER("pool_empty_events",
		"pool_empty_events_total",
		"Times a thread found the batch pool empty."),
	[WG_M_TUN_RX_BATCH_FILL] = { "tun_rx_batch_fill_x100",
		"tun_rx_batch_fill_packets", NULL, NULL, WG_METRIC_GAUGE,
		WG_SCALE_HUNDREDTHS,
		"Average packets per batch read from the TUN device, since start-up." },
	[WG_M_UDP_RX_BATCH_FILL] = { "udp_rx_batch_fill_x100",
		"udp_rx_batch_fill_packets", NULL, NULL, WG_METRIC_GAUGE,
		WG_SCALE_HUNDREDTHS,
		"Average datagrams per receive call, since start-up." },
	[WG_M_INFLIGHT_TX] = LGAUGE("inflight_tx", "inflight_packets",
		"direction", "tx",
		"Packets read and not yet sent or dropped, now."),
	[WG_M_INFLIGHT_RX] = LGAUGE("inflight_rx", "inflight_packets",
		"direction", "rx", NULL),
	[WG_M_KEY_MEMORY] = { "key_memory_kib", "key_memory_bytes", NULL, NULL,
		WG_METRIC_GAUGE, WG_SCALE_KIB,
		"Memory holding key material, now." },
	[WG_M_KEY_MEMORY_LOCK_FAILURES] = COUNTER("key_memory_lock_failures",
		"key_memory_lock_failures_total",
		"Regions of key memory the kernel refused to lock."),
	[WG_M_INFLIGHT_FULL_EVENTS_TX] = LCOUNTER("inflight_full_events_tx",
		"inflight_full_events_total", "direction", "tx",
		"Times a reader found the in-flight limit reached and waited."),
	[WG_M_INFLIGHT_FULL_EVENTS_RX] = LCOUNTER("inflight_full_events_rx",
		"inflight_full_events_total", "direction", "rx", NULL),
	[WG_M_POOL_BATCHES] = GAUGE("pool_batches", "pool_batches",
		"Batches in the pool (--batches)."),
	[WG_M_POOL_FREE] = GAUGE("pool_free", "pool_free_batches",
		"Batches free in the pool, now."),
	[WG_M_PEERS_HELD] = GAUGE("peers_held", "peers_held",
		"Peers in memory, now, removed ones still held by batches included."),
	[WG_M_OFFLOAD_TUN_VNET_HDR] = OFFLOAD("offload_tun_vnet_hdr", "tun_vnet_hdr",
		"1 if the offload is in use, else 0."),
	[WG_M_OFFLOAD_TUN_TSO] = OFFLOAD("offload_tun_tso", "tun_tso", NULL),
	[WG_M_OFFLOAD_TUN_USO] = OFFLOAD("offload_tun_uso", "tun_uso", NULL),
	[WG_M_OFFLOAD_TUN_GRO] = OFFLOAD("offload_tun_gro", "tun_gro", NULL),
	[WG_M_OFFLOAD_UDP_GSO] = OFFLOAD("offload_udp_gso", "udp_gso", NULL),
	[WG_M_OFFLOAD_UDP_GRO] = OFFLOAD("offload_udp_gro", "udp_gro", NULL),
	[WG_M_CRYPTO] = { "crypto", "crypto_info", "implementation", NULL,
		WG_METRIC_NAME, WG_SCALE_ONE,
		"The ChaCha20-Poly1305 implementation in use (label), always 1." },
};

#define PDROP(n, reason, help) LCOUNTER(n, "dropped_packets_total", "reason", reason, help)

const struct wg_metric_def wg_peer_metric_defs[WG_PEER_METRICS] = {
	[WG_PM_RX_BYTES] = COUNTER("rx_bytes", "rx_bytes_total",
		"Bytes of authenticated messages received from the peer (as wg show transfer)."),
	[WG_PM_TX_BYTES] = COUNTER("tx_bytes", "tx_bytes_total",
		"Bytes of messages sent to the peer (as wg show transfer)."),
	[WG_PM_RX_PACKETS] = COUNTER("rx_packets", "rx_packets_total",
		"Authenticated data messages and keepalives received from the peer."),
	[WG_PM_TX_PACKETS] = COUNTER("tx_packets", "tx_packets_total",
		"Data messages and keepalives sent to the peer."),
	[WG_PM_DROP_DECRYPT] = PDROP("drop_decrypt", "decrypt",
		"Packets of the peer dropped, by reason (see wgpipe(8), Peer counters)."),
	[WG_PM_DROP_REPLAY] = PDROP("drop_replay", "replay", NULL),
	[WG_PM_DROP_SOURCE] = PDROP("drop_source", "source", NULL),
	[WG_PM_DROP_NO_KEYPAIR] = PDROP("drop_no_keypair", "no_keypair", NULL),
	[WG_PM_HANDSHAKES_INITIATED] = COUNTER("handshakes_initiated",
		"handshakes_initiated_total",
		"Handshake initiations sent to the peer (attempts)."),
	[WG_PM_HANDSHAKES_COMPLETED] = COUNTER("handshakes_completed",
		"handshakes_completed_total",
		"Handshakes with the peer that gave new session keys, either role."),
	[WG_PM_HANDSHAKES_REFUSED] = COUNTER("handshakes_refused",
		"handshakes_refused_total",
		"Handshake messages from the peer refused after it was identified."),
	[WG_PM_LATEST_HANDSHAKE] = GAUGE("latest_handshake_seconds",
		"latest_handshake_timestamp_seconds",
		"Unix time of the latest completed handshake, 0 for never."),
	[WG_PM_LATEST_HANDSHAKE_AGE] = GAUGE("latest_handshake_age_seconds",
		"latest_handshake_age_seconds",
		"Seconds since the latest completed handshake, +Inf for never."),
};
/* clang-format on */

struct wg_peer_metrics *wg_metrics_add_peer(struct wg_metrics *m)
{
	struct wg_peer_metrics *p;

	/* Doubling: grows at powers of two. */
	if (!(m->npeers & (m->npeers - 1))) {
		size_t cap = m->npeers ? m->npeers * 2 : 1;

		p = realloc(m->peers, cap * sizeof(*p));
		if (!p)
			return NULL;
		m->peers = p;
	}
	p = &m->peers[m->npeers++];
	memset(p, 0, sizeof(*p));
	return p;
}

void wg_metrics_free(struct wg_metrics *m)
{
	free(m->peers);
	m->peers = NULL;
	m->npeers = 0;
}

/* ------------------------------------------------------------------ */
/* The wire: name=value lines                                           */

static void write_value(FILE *f, uint64_t v)
{
	if (v == WG_METRIC_NEVER)
		fputs("never", f);
	else
		fprintf(f, "%llu", (unsigned long long)v);
}

void wg_metrics_write_device(FILE *f, const struct wg_metrics *m)
{
	size_t i;

	for (i = 0; i < WG_DEVICE_METRICS; i++) {
		fprintf(f, "%s=", wg_device_metric_defs[i].name);
		if (wg_device_metric_defs[i].type == WG_METRIC_NAME)
			fputs(m->crypto, f);
		else
			write_value(f, m->v[i]);
		fputc('\n', f);
	}
}

static void write_hex(FILE *f, const uint8_t *b, size_t n)
{
	while (n--)
		fprintf(f, "%02x", *b++);
}

void wg_metrics_write_wire(FILE *f, const struct wg_metrics *m)
{
	size_t p, i;

	wg_metrics_write_device(f, m);
	for (p = 0; p < m->npeers; p++) {
		fputs("public_key=", f);
		write_hex(f, m->peers[p].public_key, WG_KEY_LEN);
		fputc('\n', f);
		for (i = 0; i < WG_PEER_METRICS; i++) {
			fprintf(f, "%s=", wg_peer_metric_defs[i].name);
			write_value(f, m->peers[p].v[i]);
			fputc('\n', f);
		}
	}
}

/* The index of the entry named [name, name + n) in defs, or -1. */
static int find_def(const struct wg_metric_def *defs, size_t count,
		    const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < count; i++)
		if (strlen(defs[i].name) == n && !memcmp(defs[i].name, name, n))
			return (int)i;
	return -1;
}

static int read_value(const char *v, size_t n, uint64_t *out)
{
	if (n == 5 && !memcmp(v, "never", 5)) {
		*out = WG_METRIC_NEVER;
		return 0;
	}
	return wg_text_decimal(v, n, UINT64_MAX - 1, out) ? 0 : -EPROTO;
}

static int read_line(struct wg_metrics *m, struct wg_peer_metrics **peer,
		     const char *line, size_t len)
{
	const char *eq = memchr(line, '=', len), *v;
	size_t n, vn;
	int i;

	if (!eq || eq == line)
		return -EPROTO;
	n = (size_t)(eq - line);
	v = eq + 1;
	vn = len - n - 1;
	if (n == 10 && !memcmp(line, "public_key", 10)) {
		if (!(*peer = wg_metrics_add_peer(m)))
			return -ENOMEM;
		return vn == 2 * WG_KEY_LEN &&
			       !sodium_hex2bin((*peer)->public_key, WG_KEY_LEN,
					       v, vn, NULL, NULL, NULL)
			   ? 0
			   : -EPROTO;
	}
	if (*peer) {
		i = find_def(wg_peer_metric_defs, WG_PEER_METRICS, line, n);
		return i < 0 ? 0 : read_value(v, vn, &(*peer)->v[i]);
	}
	i = find_def(wg_device_metric_defs, WG_DEVICE_METRICS, line, n);
	if (i < 0)
		return 0;
	if (wg_device_metric_defs[i].type != WG_METRIC_NAME)
		return read_value(v, vn, &m->v[i]);
	if (!vn || vn >= sizeof(m->crypto))
		return -EPROTO;
	memcpy(m->crypto, v, vn);
	m->crypto[vn] = '\0';
	return 0;
}

int wg_metrics_read_wire(struct wg_metrics *m, const char *text)
{
	struct wg_peer_metrics *peer = NULL;
	const char *line, *nl;
	int ret;

	memset(m, 0, sizeof(*m));
	for (line = text; *line; line = *nl ? nl + 1 : nl) {
		nl = strchrnul(line, '\n');
		ret = read_line(m, &peer, line, (size_t)(nl - line));
		if (ret) {
			wg_metrics_free(m);
			return ret;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* wgpipe show: the table                                               */

static int widest(const struct wg_metric_def *defs, size_t n)
{
	size_t i, w = 0;

	for (i = 0; i < n; i++)
		if (strlen(defs[i].name) > w)
			w = strlen(defs[i].name);
	return (int)w;
}

static void base64_key(char out[static WG_KEY_B64_LEN],
		       const uint8_t key[static WG_KEY_LEN])
{
	sodium_bin2base64(out, WG_KEY_B64_LEN, key, WG_KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
}

void wg_metrics_print_table(FILE *f, const struct wg_metrics *m)
{
	int w = widest(wg_device_metric_defs, WG_DEVICE_METRICS);
	char key[WG_KEY_B64_LEN];
	size_t p, i;

	for (i = 0; i < WG_DEVICE_METRICS; i++) {
		fprintf(f, "%-*s  ", w, wg_device_metric_defs[i].name);
		if (wg_device_metric_defs[i].type == WG_METRIC_NAME)
			fputs(m->crypto, f);
		else
			write_value(f, m->v[i]);
		fputc('\n', f);
	}
	w = widest(wg_peer_metric_defs, WG_PEER_METRICS);
	for (p = 0; p < m->npeers; p++) {
		base64_key(key, m->peers[p].public_key);
		fprintf(f, "\npeer %s\n", key);
		for (i = 0; i < WG_PEER_METRICS; i++) {
			fprintf(f, "  %-*s  ", w, wg_peer_metric_defs[i].name);
			write_value(f, m->peers[p].v[i]);
			fputc('\n', f);
		}
	}
}

/* ------------------------------------------------------------------ */
/* JSON                                                                 */

/* A JSON string: quotes, backslashes and control characters escaped. */
static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_value(FILE *f, uint64_t v)
{
	if (v == WG_METRIC_NEVER)
		fputs("null", f);
	else
		fprintf(f, "%llu", (unsigned long long)v);
}

void wg_metrics_print_json(FILE *f, const struct wg_metrics *m,
			   const char *ifname)
{
	char key[WG_KEY_B64_LEN];
	size_t p, i;

	fputs("{\n  \"interface\": ", f);
	json_string(f, ifname);
	fputs(",\n  \"device\": {", f);
	for (i = 0; i < WG_DEVICE_METRICS; i++) {
		fprintf(f, "%s\n    \"%s\": ", i ? "," : "",
			wg_device_metric_defs[i].name);
		if (wg_device_metric_defs[i].type == WG_METRIC_NAME)
			json_string(f, m->crypto);
		else
			json_value(f, m->v[i]);
	}
	fputs("\n  },\n  \"peers\": [", f);
	for (p = 0; p < m->npeers; p++) {
		base64_key(key, m->peers[p].public_key);
		fprintf(f, "%s\n    {\n      \"public_key\": \"%s\"",
			p ? "," : "", key);
		for (i = 0; i < WG_PEER_METRICS; i++) {
			fprintf(f, ",\n      \"%s\": ",
				wg_peer_metric_defs[i].name);
			json_value(f, m->peers[p].v[i]);
		}
		fputs("\n    }", f);
	}
	fputs(m->npeers ? "\n  ]\n}\n" : "]\n}\n", f);
}

/* ------------------------------------------------------------------ */
/* Prometheus text exposition                                           */

/* A label value: backslash, double quote and newline escaped. */
static void prom_label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void prom_value(FILE *f, const struct wg_metric_def *d, uint64_t v)
{
	if (d->type == WG_METRIC_NAME)
		fputs("1", f);
	else if (v == WG_METRIC_NEVER)
		fputs("+Inf", f);
	else if (d->scale == WG_SCALE_KIB)
		fprintf(f, "%llu", (unsigned long long)v * 1024);
	else if (d->scale == WG_SCALE_HUNDREDTHS)
		fprintf(f, "%llu.%02llu", (unsigned long long)v / 100,
			(unsigned long long)v % 100);
	else
		fprintf(f, "%llu", (unsigned long long)v);
}

/* One series: name{interface=..., [public_key=...,] [label=...]} value. */
static void prom_series(FILE *f, const char *prefix,
			const struct wg_metric_def *d, const char *ifname,
			const char *key, const char *label_value, uint64_t v)
{
	fprintf(f, "%s%s{interface=\"", prefix, d->family);
	prom_label_value(f, ifname);
	if (key)
		fprintf(f, "\",public_key=\"%s", key);
	if (d->label) {
		fprintf(f, "\",%s=\"", d->label);
		prom_label_value(f, label_value);
	}
	fputs("\"} ", f);
	prom_value(f, d, v);
	fputc('\n', f);
}

static void prom_header(FILE *f, const char *prefix,
			const struct wg_metric_def *d)
{
	const char *h;

	fprintf(f, "# HELP %s%s ", prefix, d->family);
	for (h = d->help; *h; h++) {
		if (*h == '\\')
			fputs("\\\\", f);
		else if (*h == '\n')
			fputs("\\n", f);
		else
			fputc(*h, f);
	}
	fprintf(f, "\n# TYPE %s%s %s\n", prefix, d->family,
		d->type == WG_METRIC_COUNTER ? "counter" : "gauge");
}

/* A family's series are adjacent in the tables (a unit test checks), so
 * a family starts wherever the name changes. */
static bool family_starts(const struct wg_metric_def *defs, size_t i)
{
	return !i || strcmp(defs[i - 1].family, defs[i].family);
}

void wg_metrics_print_prometheus(FILE *f, const struct wg_metrics *m,
				 const char *ifname)
{
	const struct wg_metric_def *d;
	char key[WG_KEY_B64_LEN];
	size_t p, i;

	for (i = 0; i < WG_DEVICE_METRICS; i++) {
		d = &wg_device_metric_defs[i];
		if (family_starts(wg_device_metric_defs, i))
			prom_header(f, "wgpipe_", d);
		prom_series(f, "wgpipe_", d, ifname, NULL,
			    d->type == WG_METRIC_NAME ? m->crypto
						      : d->label_value,
			    m->v[i]);
	}
	/* Every peer's series of a family together, under one header. */
	for (i = 0; i < WG_PEER_METRICS; i++) {
		d = &wg_peer_metric_defs[i];
		if (family_starts(wg_peer_metric_defs, i))
			prom_header(f, "wgpipe_peer_", d);
		for (p = 0; p < m->npeers; p++) {
			base64_key(key, m->peers[p].public_key);
			prom_series(f, "wgpipe_peer_", d, ifname, key,
				    d->label_value, m->peers[p].v[i]);
		}
	}
}
