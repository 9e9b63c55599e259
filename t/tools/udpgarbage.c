/* SPDX-License-Identifier: MIT */
/*
 * udpgarbage: hostile datagrams for a WireGuard listen port.
 *
 *   udpgarbage [-k PUBKEY] HOST PORT MODE ROUNDS [SEED]
 *
 * MODE is one of
 *   random    datagrams of 1..1500 random bytes, first byte random
 *   trunc     every length short of a full message for types 1..4
 *             (type 1: 1..147, type 2: 1..91, type 3: 1..63, type 4:
 *             1..31), header well formed, body random
 *   oversize  65507-byte datagrams, once as type 4 and once random
 *   forged    well-sized messages with random bodies: initiation (148),
 *             response (92), cookie reply (64), transport data (32..1472)
 *   all       each of the above in turn
 * each repeated ROUNDS times. With -k (the target's base64 public key,
 * which is public) forged initiations and responses carry a valid MAC1,
 * so they get past the cheap check and cost the target a Diffie-Hellman
 * before they fail. Prints "sent N datagrams". Sending errors other than
 * a full buffer are fatal (exit 1).
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/blake2s.h"

enum { MAX_SIZE = 65507, KEY_LEN = 32, MAC_LEN = 16 };

static uint8_t buf[MAX_SIZE];
static uint64_t rng = 0x853c49e6748fea9bULL;
static uint64_t sent;
static int fd;
static bool have_mac1_key;
static uint8_t mac1_key[KEY_LEN];

/* mac1 key = HASH("mac1----" || responder's static public key). */
static void set_mac1_key(const char *b64)
{
	uint8_t in[8 + KEY_LEN] = "mac1----";
	size_t len;

	if (sodium_base642bin(in + 8, KEY_LEN, b64, strlen(b64), NULL, &len,
			      NULL, sodium_base64_VARIANT_ORIGINAL) ||
	    len != KEY_LEN) {
		fprintf(stderr, "udpgarbage: bad public key '%s'\n", b64);
		exit(1);
	}
	wg_blake2s(mac1_key, in, NULL, KEY_LEN, sizeof(in), 0);
	have_mac1_key = true;
}

/* The two MACs close a handshake message: mac1 valid, mac2 zero. */
static void seal_macs(size_t n)
{
	size_t off = n - 2 * MAC_LEN;

	wg_blake2s(buf + off, buf, mac1_key, MAC_LEN, off, KEY_LEN);
	memset(buf + off + MAC_LEN, 0, MAC_LEN);
}

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static void fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = rnd() >> 56;
}

static void emit(size_t n)
{
	while (send(fd, buf, n, 0) < 0) {
		if (errno == ECONNREFUSED) /* ICMP from an earlier one */
			continue;
		if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
			fprintf(stderr, "udpgarbage: send %zu bytes: %s\n", n,
				strerror(errno));
			exit(1);
		}
		usleep(1000);
	}
	sent++;
}

/* A WireGuard header: type, then three reserved zero bytes. */
static void message(uint8_t type, size_t n)
{
	fill_random(buf, n);
	buf[0] = type;
	if (n > 1)
		memset(buf + 1, 0, n < 4 ? n - 1 : 3);
}

static void mode_random(void)
{
	for (int i = 0; i < 200; i++) {
		size_t n = 1 + rnd() % 1500;

		fill_random(buf, n);
		emit(n);
	}
}

static const size_t full_size[5] = {0, 148, 92, 64, 32};

static void mode_trunc(void)
{
	for (int type = 1; type <= 4; type++)
		for (size_t n = 1; n < full_size[type]; n++) {
			message(type, n);
			emit(n);
		}
}

static void mode_oversize(void)
{
	message(4, MAX_SIZE);
	emit(MAX_SIZE);
	fill_random(buf, MAX_SIZE);
	emit(MAX_SIZE);
}

static void mode_forged(void)
{
	for (int i = 0; i < 50; i++)
		for (int type = 1; type <= 4; type++) {
			size_t n = full_size[type];

			/* Transport data: header, padded payload, tag. */
			if (type == 4)
				n = 32 + 16 * (rnd() % 90);
			message(type, n);
			if (have_mac1_key && (type == 1 || type == 2))
				seal_macs(n);
			emit(n);
		}
}

int main(int argc, char **argv)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *ai;
	const char *mode;
	long rounds;
	int rc;

	if (argc > 2 && !strcmp(argv[1], "-k")) {
		set_mac1_key(argv[2]);
		argc -= 2;
		argv += 2;
	}
	if (argc < 5 || argc > 6) {
		fprintf(stderr, "usage: udpgarbage [-k PUBKEY] HOST PORT "
				"random|trunc|oversize|forged|all ROUNDS "
				"[SEED]\n");
		return 1;
	}
	mode = argv[3];
	rounds = atol(argv[4]);
	if (argc == 6)
		rng ^= strtoull(argv[5], NULL, 0) * 0x9e3779b97f4a7c15ULL;
	if (!rng)
		rng = 1;
	rc = getaddrinfo(argv[1], argv[2], &hints, &ai);
	if (rc) {
		fprintf(stderr, "udpgarbage: %s: %s\n", argv[1],
			gai_strerror(rc));
		return 1;
	}
	fd = socket(ai->ai_family, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		fprintf(stderr, "udpgarbage: socket: %s\n", strerror(errno));
		return 1;
	}
	freeaddrinfo(ai);
	for (long r = 0; r < rounds; r++) {
		bool all = !strcmp(mode, "all");

		if (all || !strcmp(mode, "random"))
			mode_random();
		if (all || !strcmp(mode, "trunc"))
			mode_trunc();
		if (all || !strcmp(mode, "oversize"))
			mode_oversize();
		if (all || !strcmp(mode, "forged"))
			mode_forged();
		if (!all && strcmp(mode, "random") && strcmp(mode, "trunc") &&
		    strcmp(mode, "oversize") && strcmp(mode, "forged")) {
			fprintf(stderr, "udpgarbage: unknown mode '%s'\n",
				mode);
			return 1;
		}
	}
	printf("sent %" PRIu64 " datagrams\n", sent);
	return 0;
}
