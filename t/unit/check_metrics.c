// SPDX-License-Identifier: MIT
/*
 * The metrics table and its formats (src/metrics.c): the table is whole
 * and follows Prometheus naming; the stats=1 wire format carries every
 * figure of the device and of each peer back unchanged; a malformed
 * reply is refused; the table, JSON and Prometheus printers show each
 * figure once, scaled and escaped as documented. The e2e test
 * (e2e_metrics.sh) runs the real parsers, jq and prometheus_client, on
 * a live daemon's output.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "metrics.h"
#include "testlib.h"

static const struct {
	const struct wg_metric_def *defs;
	size_t n;
	const char *what;
} tables[] = {
    {wg_device_metric_defs, WG_DEVICE_METRICS, "device"},
    {wg_peer_metric_defs, WG_PEER_METRICS, "peer"},
};

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);

	return n >= t && !strcmp(s + n - t, tail);
}

static bool snake_case(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_'))
			return false;
	return true;
}

/* Every entry filled; names unique; a family's series adjacent, its
 * help on the first and only there, its label the same on each and its
 * label values distinct; counters end in _total and nothing else does. */
START_TEST(test_table_whole)
{
	const struct wg_metric_def *defs = tables[_i].defs, *d, *e;
	size_t n = tables[_i].n, i, j;

	for (i = 0; i < n; i++) {
		d = &defs[i];
		ck_assert_msg(d->name && d->family, "%s entry %zu is empty",
			      tables[_i].what, i);
		ck_assert_msg(snake_case(d->name) && snake_case(d->family),
			      "%s: not lower-case snake_case", d->name);
		ck_assert_msg(ends_with(d->family, "_total") ==
				  (d->type == WG_METRIC_COUNTER),
			      "%s: family %s and its type disagree on _total",
			      d->name, d->family);
		ck_assert_msg(d->type != WG_METRIC_NAME ||
				  ends_with(d->family, "_info"),
			      "%s: a name's family must end in _info", d->name);
		ck_assert_msg(!d->label || d->label_value ||
				  d->type == WG_METRIC_NAME,
			      "%s: a label without a value", d->name);
		for (j = 0; j < i; j++)
			ck_assert_msg(strcmp(defs[j].name, d->name),
				      "%s: twice", d->name);
		if (i && !strcmp(defs[i - 1].family, d->family)) {
			e = &defs[i - 1];
			ck_assert_msg(!d->help, "%s: help on a later series",
				      d->name);
			ck_assert_msg(d->label && e->label &&
					  !strcmp(d->label, e->label),
				      "%s: series of %s without one label",
				      d->name, d->family);
			for (j = i; j-- && !strcmp(defs[j].family, d->family);)
				ck_assert_msg(j == i ||
						  strcmp(defs[j].label_value,
							 d->label_value),
					      "%s: label value twice", d->name);
			continue;
		}
		ck_assert_msg(d->help && *d->help, "%s: no help", d->name);
		for (j = 0; j < i; j++)
			ck_assert_msg(strcmp(defs[j].family, d->family),
				      "family %s is split", d->family);
	}
}
END_TEST

/* Made-up figures: each a different value, some that need care. */
static void fill_metrics(struct wg_metrics *m, size_t npeers, uint64_t seed)
{
	struct wg_peer_metrics *p;
	size_t i, k;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < WG_DEVICE_METRICS; i++)
		m->v[i] = test_random_u64(&seed) >> (i % 48);
	m->v[WG_M_TUN_RX_PACKETS] = UINT64_MAX - 1; /* the largest there is */
	m->v[WG_M_KEY_MEMORY] = 12;
	m->v[WG_M_TUN_RX_BATCH_FILL] = 1234;
	m->v[WG_M_UDP_RX_BATCH_FILL] = 7;
	m->v[WG_M_CRYPTO] = 0;
	strcpy(m->crypto, "avx2");
	for (k = 0; k < npeers; k++) {
		p = wg_metrics_add_peer(m);
		ck_assert_ptr_nonnull(p);
		test_random_bytes(&seed, p->public_key, sizeof(p->public_key));
		for (i = 0; i < WG_PEER_METRICS; i++)
			p->v[i] = test_random_u64(&seed) >> ((i + k) % 64);
		p->v[WG_PM_LATEST_HANDSHAKE_AGE] = k % 2 ? WG_METRIC_NEVER : 17;
	}
}

static char *print_to_text(void (*print)(FILE *, const struct wg_metrics *,
					 const char *),
			   const struct wg_metrics *m, const char *ifname)
{
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	print(f, m, ifname);
	ck_assert_int_eq(fclose(f), 0);
	return text;
}

static void write_wire(FILE *f, const struct wg_metrics *m, const char *unused)
{
	(void)unused;
	wg_metrics_write_wire(f, m);
}

static void print_table(FILE *f, const struct wg_metrics *m, const char *unused)
{
	(void)unused;
	wg_metrics_print_table(f, m);
}

/* The wire carries every figure back, for 0 to 70 peers (past several
 * doublings of the peer array). */
START_TEST(test_wire_round_trip)
{
	static const size_t npeers[] = {0, 1, 2, 5, 70};
	struct wg_metrics m, back;
	char *text;

	fill_metrics(&m, npeers[_i], 1 + _i);
	text = print_to_text(write_wire, &m, NULL);
	ck_assert_int_eq(wg_metrics_read_wire(&back, text), 0);
	ck_assert_mem_eq(back.v, m.v, sizeof(m.v));
	ck_assert_str_eq(back.crypto, "avx2");
	ck_assert_uint_eq(back.npeers, npeers[_i]);
	if (m.npeers)
		ck_assert_mem_eq(back.peers, m.peers,
				 m.npeers * sizeof(m.peers[0]));
	free(text);
	wg_metrics_free(&m);
	wg_metrics_free(&back);
}
END_TEST

struct bad_reply {
	const char *text;
	int ret;
};

/* clang-format off */
static const struct bad_reply bad_replies[] = {
	{ "tun_rx_packets=1\nno equals sign\n", -EPROTO },
	{ "=5\n", -EPROTO },
	{ "tun_rx_packets=12x\n", -EPROTO },
	{ "tun_rx_packets=-1\n", -EPROTO },
	{ "tun_rx_packets=\n", -EPROTO },
	{ "tun_rx_packets=18446744073709551615\n", -EPROTO },
	{ "crypto=\n", -EPROTO },
	{ "crypto=a-name-far-too-long-for-it\n", -EPROTO },
	{ "public_key=00\n", -EPROTO },
	{ "public_key=zz00000000000000000000000000000000000000000000000000000000000000\n", -EPROTO },
	/* Names it does not know are a newer daemon's: skipped. */
	{ "tun_rx_packets=1\nsomething_new=5\ncrypto=avx2\n", 0 },
	{ "public_key=0000000000000000000000000000000000000000000000000000000000000000\n"
	  "something_new=x\nrx_bytes=3\n", 0 },
	{ "", 0 },
};
/* clang-format on */

START_TEST(test_wire_refused)
{
	struct wg_metrics m;

	ck_assert_int_eq(wg_metrics_read_wire(&m, bad_replies[_i].text),
			 bad_replies[_i].ret);
	if (!bad_replies[_i].ret)
		wg_metrics_free(&m);
	else
		ck_assert_ptr_null(m.peers);
}
END_TEST

START_TEST(test_wire_unknown_skipped)
{
	struct wg_metrics m;

	ck_assert_int_eq(wg_metrics_read_wire(&m, bad_replies[11].text), 0);
	ck_assert_uint_eq(m.npeers, 1);
	ck_assert_uint_eq(m.peers[0].v[WG_PM_RX_BYTES], 3);
	wg_metrics_free(&m);
}
END_TEST

static size_t count_lines(const char *text, const char *prefix)
{
	const char *line;
	size_t n = 0;

	for (line = text; line && *line;
	     line = strchr(line, '\n'), line = line ? line + 1 : NULL)
		n += !strncmp(line, prefix, strlen(prefix));
	return n;
}

static void assert_has_line(const char *text, const char *line)
{
	char *want;

	ck_assert_int_ge(asprintf(&want, "\n%s\n", line), 0);
	ck_assert_msg(strstr(text, want) || !strncmp(text, line, strlen(line)),
		      "no line [%s]", line);
	free(want);
}

/* The table: the device's names in one column, then a paragraph per
 * peer under "peer KEY" with "never" for the age of no handshake. */
START_TEST(test_table)
{
	struct wg_metrics m;
	char key[64], *text, *line;

	fill_metrics(&m, 2, 7);
	text = print_to_text(print_table, &m, NULL);
	ck_assert_uint_eq(count_lines(text, "\n"), 2);
	ck_assert_uint_eq(count_lines(text, "peer "), 2);
	/* The widest name is key_memory_lock_failures, 24 characters. */
	assert_has_line(text, "tun_rx_batch_fill_x100    1234");
	assert_has_line(text, "key_memory_kib            12");
	assert_has_line(text, "crypto                    avx2");
	assert_has_line(text, "  latest_handshake_age_seconds  17");
	assert_has_line(text, "  latest_handshake_age_seconds  never");
	sodium_bin2base64(key, sizeof(key), m.peers[1].public_key, WG_KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	line = strstr(text, "\npeer ");
	ck_assert_ptr_nonnull(line);
	ck_assert_ptr_nonnull(strstr(line + 1, key));
	/* 1 name and 1 value per line, and one blank line per peer. */
	ck_assert_uint_eq(count_lines(text, ""),
			  WG_DEVICE_METRICS + 2 * (2 + WG_PEER_METRICS));
	free(text);
	wg_metrics_free(&m);
}
END_TEST

/* JSON: the interface escaped, null for a handshake that never was. */
START_TEST(test_json)
{
	struct wg_metrics m;
	char *text;

	fill_metrics(&m, 2, 9);
	m.v[WG_M_DROP_REPLAY] = 42;
	text = print_to_text(wg_metrics_print_json, &m, "w\"g\\0\x01");
	ck_assert_ptr_nonnull(
	    strstr(text, "\"interface\": \"w\\\"g\\\\0\\u0001\""));
	ck_assert_ptr_nonnull(strstr(text, "\"drop_replay\": 42,"));
	ck_assert_ptr_nonnull(strstr(text, "\"crypto\": \"avx2\""));
	ck_assert_ptr_nonnull(
	    strstr(text, "\"latest_handshake_age_seconds\": 17"));
	ck_assert_ptr_nonnull(
	    strstr(text, "\"latest_handshake_age_seconds\": null"));
	ck_assert_uint_eq(count_lines(text, "      \"public_key\": "), 2);
	free(text);
	wg_metrics_free(&m);

	fill_metrics(&m, 0, 9);
	text = print_to_text(wg_metrics_print_json, &m, "wg0");
	ck_assert_ptr_nonnull(strstr(text, "\"peers\": []\n}\n"));
	free(text);
	wg_metrics_free(&m);
}
END_TEST

/* Prometheus: a HELP and a TYPE line per family, one sample per figure,
 * base units, the labels escaped. */
START_TEST(test_prometheus)
{
	struct wg_metrics m;
	char key[64], *text, *want;
	const char *s;

	fill_metrics(&m, 3, 11);
	m.v[WG_M_DROP_REPLAY] = 42;
	m.peers[2].v[WG_PM_DROP_SOURCE] = 5;
	text = print_to_text(wg_metrics_print_prometheus, &m, "a\"b\\c");
	ck_assert_uint_eq(count_lines(text, "# HELP "),
			  count_lines(text, "# TYPE "));
	ck_assert_uint_eq(count_lines(text, "wgpipe_"),
			  WG_DEVICE_METRICS + 3 * WG_PEER_METRICS);
	assert_has_line(text, "# TYPE wgpipe_dropped_packets_total counter");
	assert_has_line(text, "wgpipe_dropped_packets_total{interface="
			      "\"a\\\"b\\\\c\",reason=\"replay\"} 42");
	assert_has_line(
	    text, "wgpipe_key_memory_bytes{interface=\"a\\\"b\\\\c\"} 12288");
	assert_has_line(text, "wgpipe_tun_rx_batch_fill_packets{interface="
			      "\"a\\\"b\\\\c\"} 12.34");
	assert_has_line(
	    text,
	    "wgpipe_udp_rx_batch_fill_packets{interface=\"a\\\"b\\\\c\"} 0.07");
	assert_has_line(text, "wgpipe_tun_rx_packets_total{interface="
			      "\"a\\\"b\\\\c\"} 18446744073709551614");
	assert_has_line(text, "wgpipe_crypto_info{interface=\"a\\\"b\\\\c\","
			      "implementation=\"avx2\"} 1");
	sodium_bin2base64(key, sizeof(key), m.peers[2].public_key, WG_KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	ck_assert_int_ge(
	    asprintf(&want,
		     "wgpipe_peer_dropped_packets_total{interface="
		     "\"a\\\"b\\\\c\",public_key=\"%s\",reason=\"source\"} 5",
		     key),
	    0);
	assert_has_line(text, want);
	free(want);
	ck_assert_int_ge(
	    asprintf(&want,
		     "wgpipe_peer_latest_handshake_age_seconds{interface="
		     "\"a\\\"b\\\\c\",public_key=\"%s\"} 17",
		     key),
	    0);
	assert_has_line(text, want);
	free(want);
	ck_assert_ptr_nonnull(strstr(text, "} +Inf\n"));
	/* Each family's header comes once, before its first sample. */
	s = strstr(text, "# HELP wgpipe_peer_dropped_packets_total ");
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_null(
	    strstr(s + 1, "# HELP wgpipe_peer_dropped_packets_total "));
	ck_assert_ptr_eq(strstr(text, "wgpipe_peer_dropped_packets_total{"),
			 strstr(s, "wgpipe_peer_dropped_packets_total{"));
	free(text);
	wg_metrics_free(&m);
}
END_TEST

static Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("table");

	tcase_add_loop_test(tc, test_table_whole, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("wire");
	tcase_add_loop_test(tc, test_wire_round_trip, 0, 5);
	tcase_add_loop_test(tc, test_wire_refused, 0,
			    sizeof(bad_replies) / sizeof(bad_replies[0]));
	tcase_add_test(tc, test_wire_unknown_skipped);
	suite_add_tcase(s, tc);

	tc = tcase_create("formats");
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_json);
	tcase_add_test(tc, test_prometheus);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	int failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
