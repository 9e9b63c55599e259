// SPDX-License-Identifier: MIT
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "clock.h"
#include "crypto/aead.h"

struct tuning_flag {
	const char *name;
	size_t offset;
	unsigned int min, max;
	const char *help;
};

#define FLAG(n, field, lo, hi, text)                                          \
	{ n, offsetof(struct wg_options, field), lo, hi, text }

static const struct tuning_flag flags[] = {
	FLAG("tun-readers", tun_readers, 1, WG_MAX_THREADS,
	     "threads reading the TUN device (one queue each)"),
	FLAG("udp-readers", udp_readers, 1, WG_MAX_THREADS,
	     "threads receiving from the UDP sockets"),
	FLAG("crypto-workers", crypto_workers, 0, WG_MAX_THREADS,
	     "threads encrypting and decrypting batches (0: the readers)"),
	FLAG("tun-writers", tun_writers, 1, WG_MAX_THREADS,
	     "threads writing decrypted packets to the TUN device"),
	FLAG("udp-writers", udp_writers, 1, WG_MAX_THREADS,
	     "threads sending encrypted packets"),
	FLAG("handshake-workers", handshake_workers, 1, WG_MAX_THREADS,
	     "threads processing handshake messages"),
	FLAG("batch-size", batch_size, 1, WG_BATCH_MAX,
	     "packets per batch (one read or recvmmsg at most)"),
	FLAG("batches", pool_batches, 16, 65536,
	     "batches preallocated at start (memory: batches x batch-size x 2 KiB)"),
	FLAG("max-inflight", max_inflight, 64, 1 << 20,
	     "packets read but not yet sent, per direction, before readers wait"),
};

enum { NFLAGS = sizeof(flags) / sizeof(flags[0]) };

static unsigned int *field(struct wg_options *opt, const struct tuning_flag *f)
{
	return (unsigned int *)((char *)opt + f->offset);
}

void wg_options_defaults(struct wg_options *opt)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	memset(opt, 0, sizeof(*opt));
	if (cpus < 1)
		cpus = 1;
	if (cpus > WG_MAX_THREADS)
		cpus = WG_MAX_THREADS;
	opt->tun_readers = 1;
	opt->udp_readers = 1;
	/* One per CPU. With none (--crypto-workers 0) a single TCP
	 * stream took 0.7x the CPU per GB on two CPUs, but a quiet peer
	 * waits behind another's bulk (e2e_fair), and a UDP flood gets
	 * fewer datagrams through: see wgpipe(8), Sizing. */
	opt->crypto_workers = (unsigned int)cpus;
	opt->tun_writers = 1;
	opt->udp_writers = 1;
	opt->handshake_workers = 1;
	opt->batch_size = 64;
	opt->pool_batches = 128;
	opt->max_inflight = 1024;
	opt->tun_fd = -1;
	opt->uapi_fd = -1;
	opt->tun_vnet = opt->tun_tso = opt->tun_uso = opt->tun_gro = true;
	opt->udp_gso = opt->udp_gro = true;
	opt->crypto = "auto";
}

static const struct {
	const char *name;
	size_t offset;
	const char *help;
} offloads[] = {
	{ "tun", offsetof(struct wg_options, tun_vnet),
	  "virtio-net headers on the TUN device (and so tso, uso, gro)" },
	{ "tso", offsetof(struct wg_options, tun_tso),
	  "TCP super-packets read from the TUN device" },
	{ "uso", offsetof(struct wg_options, tun_uso),
	  "UDP super-packets read from the TUN device" },
	{ "gro", offsetof(struct wg_options, tun_gro),
	  "coalescing TCP and UDP segments written to the TUN device" },
	{ "udp-gso", offsetof(struct wg_options, udp_gso),
	  "one send for a run of datagrams to one endpoint" },
	{ "udp-gro", offsetof(struct wg_options, udp_gro),
	  "one receive for a run of datagrams" },
};

enum { NOFFLOADS = sizeof(offloads) / sizeof(offloads[0]) };

static const char *const cryptos[] = { "auto", "avx512", "avx2", "portable",
				       "libsodium" };

/* Refuses an unknown name, or one this CPU cannot run. */
static int check_crypto(const char *name)
{
	unsigned int i;

	for (i = 0; i < sizeof(cryptos) / sizeof(cryptos[0]); i++)
		if (!strcmp(name, cryptos[i]))
			break;
	if (i == sizeof(cryptos) / sizeof(cryptos[0])) {
		fprintf(stderr, "wgpipe: --crypto: '%s' is not one of auto, "
				"avx512, avx2, portable, libsodium\n", name);
		return -1;
	}
	if (strcmp(name, "auto") && !wg_aead_supported(name)) {
		fprintf(stderr, "wgpipe: --crypto: this CPU cannot run '%s'\n",
			name);
		return -1;
	}
	return 0;
}

static int disable_offload(struct wg_options *opt, const char *name)
{
	unsigned int i;
	bool all = !strcmp(name, "all");

	for (i = 0; i < NOFFLOADS; i++)
		if (all || !strcmp(name, offloads[i].name)) {
			*(bool *)((char *)opt + offloads[i].offset) = false;
			if (!all)
				return 0;
		}
	if (all)
		return 0;
	fprintf(stderr, "wgpipe: --no-offload: '%s' is not one of all", name);
	for (i = 0; i < NOFFLOADS; i++)
		fprintf(stderr, ", %s", offloads[i].name);
	fprintf(stderr, "\n");
	return -1;
}

/* Each flag with its value, as wg(8) shows them ("--batches N"), the
 * text in one column with the lines main.c prints around these. */
void wg_options_usage(FILE *out)
{
	struct wg_options def;
	char tag[32];
	unsigned int i;

	wg_options_defaults(&def);
	for (i = 0; i < NFLAGS; i++) {
		snprintf(tag, sizeof(tag), "%s N", flags[i].name);
		fprintf(out, "      --%-20s %s\n%29s(%u to %u, default %u)\n",
			tag, flags[i].help, "", flags[i].min, flags[i].max,
			*field(&def, &flags[i]));
	}
	fprintf(out, "      --%-20s ChaCha20-Poly1305 for the data: auto, "
		     "avx512,\n%29savx2, portable or libsodium (default auto: "
		     "the fastest\n%29sthis CPU runs)\n", "crypto NAME", "", "");
	fprintf(out, "      --%-20s pin each thread to one CPU, taking the "
		     "CPUs in turn\n", "pin-threads");
	fprintf(out, "      --%-20s turn an offload off (repeatable); NAME is "
		     "all or:\n", "no-offload NAME");
	for (i = 0; i < NOFFLOADS; i++)
		fprintf(out, "%29s%-8s %s\n", "", offloads[i].name,
			offloads[i].help);
}

static int parse_value(const struct tuning_flag *f, const char *arg,
		       unsigned int *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (!*arg || *arg == '-' || *arg == '+' || *end || errno ||
	    v < f->min || v > f->max) {
		fprintf(stderr,
			"wgpipe: --%s: '%s' is not a whole number from %u to %u\n",
			f->name, arg, f->min, f->max);
		return -1;
	}
	*out = (unsigned int)v;
	return 0;
}

/* A test-only setting from the environment: unset or empty leaves *out;
 * else a whole number from 1 to max. */
static int test_setting(const char *name, unsigned long max,
			const char *unit, unsigned long *out)
{
	const char *v = getenv(name);
	unsigned long n;
	char *end;

	if (!v || !*v)
		return 0;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || !n || n > max) {
		fprintf(stderr, "wgpipe: %s: '%s' is not a number of %s from "
				"1 to %lu\n",
			name, v, unit, max);
		return -1;
	}
	*out = n;
	return 0;
}

static int parse_test_settings(struct wg_options *opt)
{
	unsigned long secs = 0, ms = 0;

	if (test_setting("WGPIPE_TEST_REKEY_AFTER_TIME", REKEY_AFTER_TIME,
			 "seconds", &secs) ||
	    test_setting("WGPIPE_TEST_STAGED_DELAY_MS", 10000, "milliseconds",
			 &ms))
		return -1;
	opt->rekey_after_time_ns = secs * NSEC_PER_SEC;
	opt->staged_delay_ms = (unsigned int)ms;
	return 0;
}

int wg_options_parse(int argc, char **argv, struct wg_options *opt,
		     bool *foreground)
{
	struct option longopts[NFLAGS + 7];
	unsigned int i;
	int c, idx;

	wg_options_defaults(opt);
	for (i = 0; i < NFLAGS; i++)
		longopts[i] = (struct option){ flags[i].name, required_argument,
					       NULL, 0 };
	longopts[NFLAGS] = (struct option){ "foreground", no_argument, NULL, 'f' };
	longopts[NFLAGS + 1] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[NFLAGS + 2] = (struct option){ "version", no_argument, NULL, 'v' };
	longopts[NFLAGS + 3] = (struct option){ "no-offload", required_argument,
						NULL, 'O' };
	longopts[NFLAGS + 4] = (struct option){ "crypto", required_argument,
						NULL, 'C' };
	longopts[NFLAGS + 5] = (struct option){ "pin-threads", no_argument,
						NULL, 'P' };
	longopts[NFLAGS + 6] = (struct option){ 0 };
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+fhv", longopts, &idx)) != -1) {
		if (c == 'f') {
			*foreground = true;
		} else if (c == 'h') {
			return WG_OPTIONS_HELP;
		} else if (c == 'v') {
			return WG_OPTIONS_VERSION;
		} else if (c == 'P') {
			opt->pin_threads = true;
		} else if (c == 'C') {
			if (check_crypto(optarg))
				return -1;
			opt->crypto = optarg;
		} else if (c == 'O') {
			if (disable_offload(opt, optarg))
				return -1;
		} else if (c == 0) {
			if (parse_value(&flags[idx], optarg,
					field(opt, &flags[idx])))
				return -1;
		} else {
			fprintf(stderr, "wgpipe: unknown or incomplete option "
					"'%s' (try --help)\n", argv[optind - 1]);
			return -1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, optind >= argc ? "wgpipe: missing INTERFACE "
						 "(try --help)\n"
					       : "wgpipe: too many arguments "
						 "(try --help)\n");
		return -1;
	}
	if (strlen(argv[optind]) >= IFNAMSIZ || !*argv[optind]) {
		fprintf(stderr, "wgpipe: interface name '%s' must be 1 to %d "
				"characters\n", argv[optind], IFNAMSIZ - 1);
		return -1;
	}
	if (opt->pool_batches < 4 * (opt->tun_readers + opt->udp_readers)) {
		fprintf(stderr, "wgpipe: --batches %u is too few for %u readers "
				"(at least 4 per reader)\n", opt->pool_batches,
			opt->tun_readers + opt->udp_readers);
		return -1;
	}
	if (parse_test_settings(opt))
		return -1;
	if (!opt->tun_vnet)
		opt->tun_tso = opt->tun_uso = opt->tun_gro = false;
	return optind;
}
