/* SPDX-License-Identifier: MIT */
/*
 * What an operator can read about a running device, each figure said
 * once, in one table: its name (in the table of wgpipe show, in JSON and
 * on the wire), its Prometheus family, its type and its help text.
 *
 * The path of a figure: the daemon fills a struct wg_metrics
 * (wg_device_collect_metrics, device.c), writes it as the reply to
 * "stats=1" (the device's name=value lines, then a public_key= line
 * opening each peer's lines, as in a get reply); wgpipe show reads the
 * reply back into a struct wg_metrics and prints it as a table, as JSON
 * or in the Prometheus text exposition format. Everything here but the
 * table is pure text in, text out, so the unit tests can check every
 * format on made-up figures.
 */
#ifndef WGPIPE_METRICS_H
#define WGPIPE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "wgpipe/wireguard.h"

enum wg_metric_type {
	WG_METRIC_COUNTER, /* only grows, since start-up */
	WG_METRIC_GAUGE,   /* a value of the moment, or an average */
	WG_METRIC_NAME,	   /* a text value; Prometheus: an _info gauge of 1 */
};

/* How the value shown in the table and in JSON becomes the Prometheus
 * one, which is in base units. */
enum wg_metric_scale {
	WG_SCALE_ONE,
	WG_SCALE_KIB,	     /* KiB shown, bytes exported */
	WG_SCALE_HUNDREDTHS, /* x100 shown, the plain value exported */
};

struct wg_metric_def {
	const char *name; /* table, JSON and wire */
	/* The Prometheus family after "wgpipe_" (device) or "wgpipe_peer_"
	 * (per peer); a label that tells the family's series apart, or
	 * NULL. Series of one family are adjacent in the table. */
	const char *family;
	const char *label, *label_value;
	enum wg_metric_type type;
	enum wg_metric_scale scale;
	const char *help; /* the family's, on its first series */
};

/* The device's figures, in the order the table shows them. */
enum wg_device_metric {
	WG_M_TUN_RX_PACKETS,
	WG_M_TUN_RX_BATCHES,
	WG_M_UDP_TX_PACKETS,
	WG_M_UDP_TX_BATCHES,
	WG_M_UDP_RX_PACKETS,
	WG_M_UDP_RX_BATCHES,
	WG_M_TUN_TX_PACKETS,
	WG_M_TUN_TX_BATCHES,
	WG_M_TUN_RX_READS,
	WG_M_UDP_RX_READS,
	WG_M_UDP_TX_SENDS,
	WG_M_TUN_TX_WRITES,
	WG_M_DROP_NO_PEER,
	WG_M_DROP_NO_ENDPOINT,
	WG_M_DROP_NO_KEYPAIR,
	WG_M_DROP_STAGED,
	WG_M_DROP_TOO_BIG,
	WG_M_DROP_SEND_ERROR,
	WG_M_DROP_BAD_PACKET,
	WG_M_DROP_UNKNOWN_INDEX,
	WG_M_DROP_DECRYPT,
	WG_M_DROP_REPLAY,
	WG_M_DROP_SOURCE,
	WG_M_DROP_POOL_EMPTY,
	WG_M_DROP_HANDSHAKE,
	WG_M_HANDSHAKE_COOKIES_SENT,
	WG_M_HANDSHAKE_RATELIMITED,
	WG_M_HANDSHAKE_FAIR_QUEUED,
	WG_M_POOL_EMPTY_EVENTS,
	WG_M_TUN_RX_BATCH_FILL,
	WG_M_UDP_RX_BATCH_FILL,
	WG_M_INFLIGHT_TX,
	WG_M_INFLIGHT_RX,
	WG_M_KEY_MEMORY,
	WG_M_KEY_MEMORY_LOCK_FAILURES,
	WG_M_INFLIGHT_FULL_EVENTS_TX,
	WG_M_INFLIGHT_FULL_EVENTS_RX,
	WG_M_POOL_BATCHES,
	WG_M_POOL_FREE,
	WG_M_PEERS_HELD,
	WG_M_OFFLOAD_TUN_VNET_HDR,
	WG_M_OFFLOAD_TUN_TSO,
	WG_M_OFFLOAD_TUN_USO,
	WG_M_OFFLOAD_TUN_GRO,
	WG_M_OFFLOAD_UDP_GSO,
	WG_M_OFFLOAD_UDP_GRO,
	WG_M_CRYPTO, /* the one WG_METRIC_NAME: wg_metrics.crypto */
	WG_DEVICE_METRICS
};

/* Each peer's figures, in the order the table shows them. */
enum wg_peer_metric {
	WG_PM_RX_BYTES,
	WG_PM_TX_BYTES,
	WG_PM_RX_PACKETS,
	WG_PM_TX_PACKETS,
	WG_PM_DROP_DECRYPT,
	WG_PM_DROP_REPLAY,
	WG_PM_DROP_SOURCE,
	WG_PM_DROP_NO_KEYPAIR,
	WG_PM_HANDSHAKES_INITIATED,
	WG_PM_HANDSHAKES_COMPLETED,
	WG_PM_HANDSHAKES_REFUSED,
	WG_PM_LATEST_HANDSHAKE,	    /* Unix time in seconds, 0: never */
	WG_PM_LATEST_HANDSHAKE_AGE, /* seconds, WG_METRIC_NEVER: never */
	WG_PEER_METRICS
};

/* The age of a handshake that never happened: "never" in the table,
 * null in JSON, +Inf for Prometheus. */
#define WG_METRIC_NEVER UINT64_MAX

extern const struct wg_metric_def wg_device_metric_defs[WG_DEVICE_METRICS];
extern const struct wg_metric_def wg_peer_metric_defs[WG_PEER_METRICS];

struct wg_peer_metrics {
	uint8_t public_key[WG_KEY_LEN];
	uint64_t v[WG_PEER_METRICS];
};

struct wg_metrics {
	uint64_t v[WG_DEVICE_METRICS];
	char crypto[16];
	size_t npeers;
	struct wg_peer_metrics *peers; /* malloc'd */
};

/* A new peer at the end of m->peers, zeroed; NULL without memory. */
struct wg_peer_metrics *wg_metrics_add_peer(struct wg_metrics *m);
void wg_metrics_free(struct wg_metrics *m);

/* The stats=1 reply body: name=value lines (the device's, then each
 * peer's after its public_key= line in hex). */
void wg_metrics_write_wire(FILE *f, const struct wg_metrics *m);
/* Reads such a body (NUL-terminated) into m, which it zeroes first.
 * Names it does not know are skipped (a newer daemon). 0, -EPROTO for a
 * line that is no name=value or a value that is not one, -ENOMEM. */
int wg_metrics_read_wire(struct wg_metrics *m, const char *text);

/* The device's figures as "name=value" lines without the peers, for
 * the log (SIGHUP). */
void wg_metrics_write_device(FILE *f, const struct wg_metrics *m);

/* wgpipe show: the table (two aligned columns, then a paragraph per
 * peer), JSON (one object) or Prometheus text, every series labelled
 * with the interface, each peer's also with its public key (base64). */
void wg_metrics_print_table(FILE *f, const struct wg_metrics *m);
void wg_metrics_print_json(FILE *f, const struct wg_metrics *m,
			   const char *ifname);
void wg_metrics_print_prometheus(FILE *f, const struct wg_metrics *m,
				 const char *ifname);

#endif
