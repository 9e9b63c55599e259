/* SPDX-License-Identifier: MIT */
/*
 * xfer: a deterministic TCP bulk transfer for the end-to-end tests.
 *
 *   xfer send [-r BYTES_PER_S] [-t SECONDS] HOST PORT BYTES SEED
 *   xfer recv [-4|-6] [-w ACCEPT_S] [-i IDLE_S] [-s SEED] PORT
 *
 * The sender writes BYTES (0: until -t runs out or SIGUSR1 comes) of a
 * pseudo-random stream drawn from SEED and prints what it sent:
 *   sent BYTES checksum HEX seconds S mbit R
 * The receiver listens once (dual-stack unless -4), prints "listening PORT"
 * as soon as it does, reads until EOF and prints:
 *   received BYTES checksum HEX maxgap_ms G seconds S mbit R
 * The checksum is FNV-1a-64 over the stream's 64-bit words in order (see
 * struct hasher), so equal lines
 * mean the same bytes arrived in the same order. maxgap_ms is the longest
 * wait between two reads once data flowed: a stall shows there. With -s
 * the receiver also regenerates the stream and reports the first offset
 * that differs (first_mismatch OFF), how many bytes differ and the first
 * runs of them (mismatch_bytes N ranges OFF+LEN...), and the 16 bytes
 * from the first, got and wanted (mismatch_got HEX want HEX).
 * Exit status 0, or 1 with a one-line reason on stderr.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { CHUNK = 64 * 1024 };

static const uint64_t FNV_OFFSET = 0xcbf29ce484222325ULL;
static const uint64_t FNV_PRIME = 0x100000001b3ULL;

static void die(const char *what)
{
	fprintf(stderr, "xfer: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: xfer send [-r BYTES_PER_S] [-t SECONDS] HOST PORT "
		"BYTES SEED\n"
		"       xfer recv [-4|-6] [-w ACCEPT_S] [-i IDLE_S] [-s SEED] "
		"PORT\n");
	exit(1);
}

static uint64_t number(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-') {
		fprintf(stderr, "xfer: not a number: '%s'\n", s);
		exit(1);
	}
	return v;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* splitmix64: the stream is a function of the seed and the offset only. */
static uint64_t next_word(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Fills a CHUNK-sized buffer (a multiple of 8) with the next words. */
static void fill(uint64_t *state, uint8_t *buf)
{
	for (size_t i = 0; i < CHUNK; i += 8) {
		uint64_t w = next_word(state);

		memcpy(buf + i, &w, 8);
	}
}

/*
 * FNV-1a over 64-bit little-endian words (a final partial word is
 * zero-padded and the length mixed in): byte-wise FNV would cap the tool
 * below the tunnel's speed. Reads split the stream anywhere, so up to 7
 * bytes wait in pend for the rest of their word.
 */
struct hasher {
	uint64_t h, len;
	uint8_t pend[8];
	size_t npend;
};

static void hash_update(struct hasher *s, const uint8_t *p, size_t n)
{
	uint64_t w;

	s->len += n;
	while (s->npend && n) {
		s->pend[s->npend++] = *p++;
		n--;
		if (s->npend == 8) {
			memcpy(&w, s->pend, 8);
			s->h = (s->h ^ w) * FNV_PRIME;
			s->npend = 0;
		}
	}
	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		s->h = (s->h ^ w) * FNV_PRIME;
	}
	memcpy(s->pend, p, n);
	s->npend = n;
}

static uint64_t hash_final(struct hasher *s)
{
	uint64_t w = 0;

	if (s->npend) {
		memcpy(&w, s->pend, s->npend);
		s->h = (s->h ^ w) * FNV_PRIME;
	}
	return (s->h ^ s->len) * FNV_PRIME;
}

static int connect_to(const char *host, const char *port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
	struct addrinfo *res, *ai;
	double deadline = now() + 15;
	int fd, rc;

	rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		fprintf(stderr, "xfer: %s port %s: %s\n", host, port,
			gai_strerror(rc));
		exit(1);
	}
	/* The listener may come up a moment after us: retry refusals. */
	for (;;) {
		for (ai = res; ai; ai = ai->ai_next) {
			fd = socket(ai->ai_family, ai->ai_socktype, 0);
			if (fd < 0)
				continue;
			if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
				freeaddrinfo(res);
				return fd;
			}
			close(fd);
		}
		if (errno != ECONNREFUSED || now() > deadline)
			die("connect");
		usleep(100 * 1000);
	}
}

static void pace(double start, uint64_t sent, uint64_t rate)
{
	double ahead = (double)sent / rate - (now() - start);

	if (ahead > 0)
		usleep(ahead * 1e6);
}

static volatile sig_atomic_t stop_sending;

static void on_usr1(int sig)
{
	(void)sig;
	stop_sending = 1;
}

static int do_send(int argc, char **argv)
{
	uint64_t rate = 0, limit, total = 0, state;
	struct hasher h = {.h = FNV_OFFSET};
	double seconds = 0, start, el;
	static uint8_t buf[CHUNK];
	int opt, fd;

	while ((opt = getopt(argc, argv, "r:t:")) != -1) {
		switch (opt) {
		case 'r':
			rate = number(optarg);
			break;
		case 't':
			seconds = atof(optarg);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 4)
		usage();
	limit = number(argv[optind + 2]);
	state = number(argv[optind + 3]);
	if (!limit && seconds <= 0)
		usage();
	/* The stream ends after the chunk being written when it comes. */
	sigaction(SIGUSR1, &(struct sigaction){ .sa_handler = on_usr1 }, NULL);
	fd = connect_to(argv[optind], argv[optind + 1]);
	start = now();
	while (!limit || total < limit) {
		size_t n = CHUNK, off = 0;

		if (stop_sending || (seconds > 0 && now() - start >= seconds))
			break;
		fill(&state, buf);
		if (limit && limit - total < n)
			n = limit - total;
		while (off < n) {
			ssize_t w = write(fd, buf + off, n - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				die("write");
			off += w;
		}
		hash_update(&h, buf, n);
		total += n;
		if (rate)
			pace(start, total, rate);
	}
	/* Half-close and wait for the receiver's close: it has read it all. */
	if (shutdown(fd, SHUT_WR) < 0)
		die("shutdown");
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	el = now() - start;
	printf("sent %" PRIu64 " checksum %016" PRIx64 " seconds %.3f "
	       "mbit %.1f\n",
	       total, hash_final(&h), el, total * 8 / 1e6 / el);
	close(fd);
	return 0;
}

static int listen_on(int family, uint16_t port)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6,
				  .sin6_port = htons(port),
				  .sin6_addr = IN6ADDR_ANY_INIT};
	struct sockaddr_in a4 = {.sin_family = AF_INET,
				 .sin_port = htons(port)};
	int one = 1, v6only = family == AF_INET6;
	int fd = socket(family == AF_INET ? AF_INET : AF_INET6, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family != AF_INET) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
			   sizeof(v6only));
		if (bind(fd, (struct sockaddr *)&a6, sizeof(a6)) < 0)
			die("bind");
	} else if (bind(fd, (struct sockaddr *)&a4, sizeof(a4)) < 0) {
		die("bind");
	}
	if (listen(fd, 1) < 0)
		die("listen");
	printf("listening %u\n", port);
	fflush(stdout);
	return fd;
}

static int wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int rc;

	do
		rc = poll(&p, 1, timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		die("poll");
	return rc;
}

enum { BAD_RANGES = 4, BAD_SHOW = 16 };

/* Compares received bytes against the regenerated stream. */
struct verify {
	bool on;
	uint64_t state, off, first_bad, bad_bytes;
	uint8_t ref[CHUNK];
	size_t have, used;
	/* The first BAD_RANGES runs of differing bytes (offset, length),
	 * and the bytes at the first one, got and wanted. */
	uint64_t range_off[BAD_RANGES], range_len[BAD_RANGES];
	unsigned int nranges;
	uint8_t got[BAD_SHOW], want[BAD_SHOW];
	size_t nshow;
};

static void note_bad(struct verify *v, uint64_t off, uint8_t got, uint8_t want)
{
	unsigned int r = v->nranges;

	if (v->first_bad == UINT64_MAX)
		v->first_bad = off;
	v->bad_bytes++;
	if (r && v->range_off[r - 1] + v->range_len[r - 1] == off)
		v->range_len[r - 1]++;
	else if (r < BAD_RANGES) {
		v->range_off[r] = off;
		v->range_len[r] = 1;
		v->nranges++;
	}
	if (off - v->first_bad < BAD_SHOW && v->nshow < BAD_SHOW) {
		v->got[v->nshow] = got;
		v->want[v->nshow++] = want;
	}
}

/* Every byte is compared: how much differs, and where, tells a shifted
 * segment from a damaged one. */
static void verify(struct verify *v, const uint8_t *p, size_t n)
{
	while (v->on && n) {
		size_t k;

		if (v->used == v->have) {
			fill(&v->state, v->ref);
			v->have = CHUNK;
			v->used = 0;
		}
		k = v->have - v->used < n ? v->have - v->used : n;
		if (memcmp(p, v->ref + v->used, k))
			for (size_t i = 0; i < k; i++)
				if (p[i] != v->ref[v->used + i])
					note_bad(v, v->off + i, p[i],
						 v->ref[v->used + i]);
		v->used += k;
		v->off += k;
		p += k;
		n -= k;
	}
}

static void print_bad(const struct verify *v)
{
	unsigned int r;
	size_t i;

	printf("first_mismatch %" PRIu64 "\n", v->first_bad);
	printf("mismatch_bytes %" PRIu64 " ranges", v->bad_bytes);
	for (r = 0; r < v->nranges; r++)
		printf(" %" PRIu64 "+%" PRIu64, v->range_off[r],
		       v->range_len[r]);
	printf("\nmismatch_got ");
	for (i = 0; i < v->nshow; i++)
		printf("%02x", v->got[i]);
	printf(" want ");
	for (i = 0; i < v->nshow; i++)
		printf("%02x", v->want[i]);
	printf("\n");
}

static int do_recv(int argc, char **argv)
{
	int family = AF_UNSPEC, accept_s = 60, idle_s = 30, opt, lfd, fd;
	static struct verify v = {.first_bad = UINT64_MAX};
	static uint8_t buf[CHUNK];
	uint64_t total = 0;
	struct hasher h = {.h = FNV_OFFSET};
	double start = 0, last = 0, maxgap = 0, el;

	while ((opt = getopt(argc, argv, "46w:i:s:")) != -1) {
		switch (opt) {
		case '4':
			family = AF_INET;
			break;
		case '6':
			family = AF_INET6;
			break;
		case 'w':
			accept_s = number(optarg);
			break;
		case 'i':
			idle_s = number(optarg);
			break;
		case 's':
			v.on = true;
			v.state = number(optarg);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1)
		usage();
	lfd = listen_on(family, number(argv[optind]));
	if (!wait_readable(lfd, accept_s * 1000)) {
		fprintf(stderr, "xfer: no connection within %d s\n", accept_s);
		return 1;
	}
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept");
	close(lfd);
	for (;;) {
		ssize_t n;

		if (!wait_readable(fd, idle_s * 1000)) {
			fprintf(stderr,
				"xfer: stalled: no data for %d s after "
				"%" PRIu64 " bytes\n",
				idle_s, total);
			return 1;
		}
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read");
		if (n == 0)
			break;
		if (!start) {
			start = last = now();
		} else {
			double t = now();

			if (t - last > maxgap)
				maxgap = t - last;
			last = t;
		}
		hash_update(&h, buf, n);
		verify(&v, buf, n);
		total += n;
	}
	el = start ? now() - start : 0;
	printf("received %" PRIu64 " checksum %016" PRIx64 " maxgap_ms %.0f "
	       "seconds %.3f mbit %.1f\n",
	       total, hash_final(&h), maxgap * 1000, el,
	       el > 0 ? total * 8 / 1e6 / el : 0.0);
	if (v.on && v.first_bad != UINT64_MAX)
		print_bad(&v);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "send"))
		return do_send(argc - 1, argv + 1);
	if (!strcmp(argv[1], "recv"))
		return do_recv(argc - 1, argv + 1);
	usage();
	return 1;
}
