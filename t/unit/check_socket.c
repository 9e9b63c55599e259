// SPDX-License-Identifier: MIT
/*
 * The UDP sockets (socket.c): socket sets on loopback (random and shared
 * ports, batched sends and receives, bursts each to its own address and
 * from its own source, errors) and, as root, fwmarks.
 * Endpoint text is check_addr's.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "socket.h"
#include "testlib.h"

enum {
	DATAGRAMS = 100,
	MAX_DATAGRAM = 9000,
	WAIT_MS = 2000,
};

/* True when the test may run; otherwise a skip, or a failure where
 * CI=true demands every test run. */
static bool have_root(const char *test)
{
	if (geteuid() == 0)
		return true;
	test_skip_or_fail("%s needs root", test);
	return false;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- UDP socket sets ---- */

static uint16_t bound_port(int fd)
{
	union wg_sockaddr a;
	socklen_t len = sizeof(a);

	ck_assert_int_eq(getsockname(fd, &a.sa, &len), 0);
	return ntohs(a.sa.sa_family == AF_INET ? a.in4.sin_port
					       : a.in6.sin6_port);
}

static void assert_open_flags(int fd)
{
	ck_assert_int_ge(fd, 0);
	ck_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

START_TEST(test_socket_random_port)
{
	struct wg_socket_set first, second, other;
	int size;
	socklen_t len = sizeof(size);

	ck_assert_int_eq(wg_socket_set_open(&first, 0, 0, true), 0);
	ck_assert_uint_ne(first.port, 0);
	assert_open_flags(first.fd4);
	assert_open_flags(first.fd6);
	ck_assert_uint_eq(bound_port(first.fd4), first.port);
	ck_assert_uint_eq(bound_port(first.fd6), first.port);
	if (have_root("a receive buffer above rmem_max (SO_RCVBUFFORCE)")) {
		ck_assert_int_eq(
		    getsockopt(first.fd4, SOL_SOCKET, SO_RCVBUF, &size, &len),
		    0);
		ck_assert_int_ge(size, 4 << 20);
	}

	ck_assert_int_eq(wg_socket_set_open_like(&second, &first, true), 0);
	ck_assert_uint_eq(second.port, first.port);
	ck_assert_uint_eq(bound_port(second.fd4), first.port);
	ck_assert_uint_eq(bound_port(second.fd6), first.port);
	ck_assert_int_ne(second.fd4, first.fd4);

	/* Anyone else asking for the port is refused, reuse or not. */
	ck_assert_int_eq(wg_socket_set_open(&other, first.port, 0, true),
			 -EADDRINUSE);
	ck_assert_int_eq(other.fd4, -1);
	ck_assert_int_eq(other.fd6, -1);
	ck_assert_int_eq(wg_socket_set_open(&other, first.port, 0, false),
			 -EADDRINUSE);
	wg_socket_set_close(&second);
	wg_socket_set_close(&first);
	ck_assert_int_eq(first.fd4, -1);
	wg_socket_set_close(&first);

	/* Without reuseport, nobody may join. */
	ck_assert_int_eq(wg_socket_set_open(&first, 0, 0, false), 0);
	ck_assert_int_eq(wg_socket_set_open_like(&second, &first, true),
			 -EADDRINUSE);
	wg_socket_set_close(&first);
}
END_TEST

/* The sets that joined with open_like really share the traffic: many
 * flows land on both. */
START_TEST(test_socket_reuseport_spread)
{
	enum { FLOWS = 32 };
	struct wg_socket_set sets[2], tx;
	union wg_sockaddr dst;
	unsigned int got[2] = {0, 0}, f, i;
	uint8_t byte = 7, buf[16];
	uint64_t deadline;

	ck_assert_int_eq(wg_socket_set_open(&sets[0], 0, 0, true), 0);
	ck_assert_int_eq(wg_socket_set_open_like(&sets[1], &sets[0], true), 0);
	ck_assert_int_eq(wg_sockaddr_parse(&dst, "127.0.0.1:1"), 0);
	dst.in4.sin_port = htons(sets[0].port);
	for (f = 0; f < FLOWS; f++) {
		ck_assert_int_eq(wg_socket_set_open(&tx, 0, 0, false), 0);
		ck_assert_int_eq(wg_socket_send_one(&tx, &dst, &byte, 1), 0);
		wg_socket_set_close(&tx);
	}
	deadline = now_ms() + WAIT_MS;
	while (got[0] + got[1] < FLOWS && now_ms() < deadline) {
		struct pollfd pfd[2] = {{sets[0].fd4, POLLIN, 0},
					{sets[1].fd4, POLLIN, 0}};

		poll(pfd, 2, 100);
		for (i = 0; i < 2; i++) {
			struct iovec iov = {buf, sizeof(buf)};
			struct mmsghdr m = {
			    .msg_hdr = {.msg_iov = &iov, .msg_iovlen = 1}};
			int r = wg_socket_recv_burst(sets[i].fd4, &m, 1);

			ck_assert_int_ge(r, 0);
			got[i] += (unsigned int)r;
		}
	}
	ck_assert_uint_eq(got[0] + got[1], FLOWS);
	ck_assert_msg(got[0] && got[1], "all %u flows went to set %d", FLOWS,
		      got[0] ? 0 : 1);
	wg_socket_set_close(&sets[1]);
	wg_socket_set_close(&sets[0]);
}
END_TEST

static uint8_t tx_bufs[DATAGRAMS][MAX_DATAGRAM];
static uint8_t rx_bufs[DATAGRAMS][MAX_DATAGRAM + 1];

static size_t datagram_size(unsigned int i)
{
	if (i == 0)
		return 0;
	if (i == 50)
		return MAX_DATAGRAM;
	if (i == 99)
		return 1472;
	return (i * 397) % 1400 + 1;
}

static const char *const loopbacks[] = {"127.0.0.1:1", "[::1]:1"};

static void set_port(union wg_sockaddr *a, uint16_t port)
{
	if (a->sa.sa_family == AF_INET)
		a->in4.sin_port = htons(port);
	else
		a->in6.sin6_port = htons(port);
}

/* Receives exactly count datagrams on fd into rx_bufs, or fails. */
static void receive_all(int fd, struct mmsghdr *msgs, union wg_sockaddr *src,
			unsigned int count)
{
	static struct iovec iov[DATAGRAMS];
	uint64_t deadline = now_ms() + WAIT_MS;
	unsigned int got = 0, i;

	while (got < count) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int r;

		ck_assert_msg(now_ms() < deadline, "got %u of %u datagrams",
			      got, count);
		poll(&pfd, 1, 100);
		for (i = got; i < count; i++) {
			iov[i] = (struct iovec){rx_bufs[i], sizeof(rx_bufs[i])};
			msgs[i] = (struct mmsghdr){
			    .msg_hdr = {.msg_name = &src[i],
					.msg_iov = &iov[i],
					.msg_iovlen = 1},
			};
		}
		r = wg_socket_recv_burst(fd, &msgs[got], count - got);
		ck_assert_int_ge(r, 0);
		got += (unsigned int)r;
	}
}

START_TEST(test_socket_send_recv)
{
	static struct mmsghdr msgs[DATAGRAMS];
	static union wg_sockaddr src[DATAGRAMS];
	struct iovec iov[DATAGRAMS];
	struct wg_socket_set rx, tx;
	union wg_sockaddr dst, from;
	unsigned int i, sent = 0;
	size_t j;
	int fd;

	ck_assert_int_eq(wg_socket_set_open(&rx, 0, 0, false), 0);
	ck_assert_int_eq(wg_socket_set_open(&tx, 0, 0, false), 0);
	ck_assert_int_eq(wg_sockaddr_parse(&dst, loopbacks[_i]), 0);
	from = dst;
	set_port(&dst, rx.port);
	set_port(&from, tx.port);
	fd = dst.sa.sa_family == AF_INET ? rx.fd4 : rx.fd6;
	ck_assert_int_eq(wg_socket_recv_burst(fd, msgs, DATAGRAMS), 0);

	for (i = 0; i < DATAGRAMS; i++) {
		for (j = 0; j < datagram_size(i); j++)
			tx_bufs[i][j] = (uint8_t)(i * 31 + j);
		iov[i] = (struct iovec){tx_bufs[i], datagram_size(i)};
	}
	ck_assert_int_eq(wg_socket_send_burst(&tx, &dst, iov, DATAGRAMS, &sent),
			 0);
	ck_assert_uint_eq(sent, DATAGRAMS);

	receive_all(fd, msgs, src, DATAGRAMS);
	for (i = 0; i < DATAGRAMS; i++) {
		ck_assert_msg(msgs[i].msg_len == datagram_size(i),
			      "datagram %u: %u bytes, sent %zu", i,
			      msgs[i].msg_len, datagram_size(i));
		ck_assert_int_eq(msgs[i].msg_hdr.msg_flags & MSG_TRUNC, 0);
		ck_assert_mem_eq(rx_bufs[i], tx_bufs[i], datagram_size(i));
		ck_assert(wg_sockaddr_equal(&src[i], &from));
	}
	ck_assert_int_eq(wg_socket_recv_burst(fd, msgs, DATAGRAMS), 0);
	wg_socket_set_close(&tx);
	wg_socket_set_close(&rx);
}
END_TEST

START_TEST(test_socket_send_errors)
{
	struct wg_socket_set rx, tx, v4only;
	union wg_sockaddr dst, mapped = {0}, src;
	struct mmsghdr msg;
	struct iovec iov = {rx_bufs[0], 64};
	unsigned int sent = 99;
	const char hello[] = "hello";

	ck_assert_int_eq(wg_socket_set_open(&rx, 0, 0, false), 0);
	ck_assert_int_eq(wg_socket_set_open(&tx, 0, 0, false), 0);

	/* A v4-mapped destination leaves through the IPv4 socket. */
	mapped.in6.sin6_family = AF_INET6;
	mapped.in6.sin6_port = htons(rx.port);
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &mapped.in6.sin6_addr);
	ck_assert_int_eq(wg_socket_send_one(&tx, &mapped, hello, 5), 0);
	receive_all(rx.fd4, &msg, &src, 1);
	ck_assert_uint_eq(msg.msg_len, 5);
	ck_assert_mem_eq(rx_bufs[0], hello, 5);

	/* The kernel's refusal comes back, with nothing counted as sent. */
	ck_assert_int_eq(wg_sockaddr_parse(&dst, "127.0.0.1:0"), 0);
	ck_assert_int_eq(wg_socket_send_burst(&tx, &dst, &iov, 1, &sent),
			 -EINVAL);
	ck_assert_uint_eq(sent, 0);

	/* No socket of the destination's family. */
	v4only = tx;
	v4only.fd6 = -1;
	ck_assert_int_eq(wg_sockaddr_parse(&dst, "[::1]:9"), 0);
	set_port(&dst, rx.port);
	ck_assert_int_eq(wg_socket_send_one(&v4only, &dst, hello, 5),
			 -EAFNOSUPPORT);
	ck_assert_int_eq(wg_socket_send_one(&tx, &dst, hello, 5), 0);
	receive_all(rx.fd6, &msg, &src, 1);

	/* A datagram larger than its buffer is cut and marked. */
	ck_assert_int_eq(wg_socket_send_one(&tx, &dst, tx_bufs[0], 100), 0);
	iov.iov_len = 10;
	msg = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov, .msg_iovlen = 1}};
	ck_assert_int_eq(poll(&(struct pollfd){rx.fd6, POLLIN, 0}, 1, WAIT_MS),
			 1);
	ck_assert_int_eq(wg_socket_recv_burst(rx.fd6, &msg, 1), 1);
	ck_assert(msg.msg_hdr.msg_flags & MSG_TRUNC);
	wg_socket_set_close(&tx);
	wg_socket_set_close(&rx);
}
END_TEST

/* ---- Datagrams each to its own address (wg_socket_send_many) ---- */

enum {
	MANY = 100,    /* more than one sendmmsg's worth */
	TO_PORT_0 = 7, /* refused by the kernel, whatever the source */
	BAD_SRC4 = 16, /* sources not ours: sent again without */
	BAD_SRC6 = 25,
};

/* addr (IPv4 or IPv6 text) and port as an endpoint. */
static void endpoint(union wg_sockaddr *a, const char *addr, uint16_t port)
{
	char text[WG_SOCKADDR_STRLEN];

	snprintf(text, sizeof(text), strchr(addr, ':') ? "[%s]:%u" : "%s:%u",
		 addr, port);
	ck_assert_int_eq(wg_sockaddr_parse(a, text), 0);
}

/* Datagram i of the mixed burst to port: IPv6 when i is odd, else IPv4
 * (v4-mapped IPv6 now and then); from 127.0.0.2, 127.0.0.3 or ::1 two
 * times in three, else the kernel's choice; with the exceptions above.
 * *from is where it must arrive from: its source when ours, else the
 * kernel's choice (loopback's first address), at from_port. */
static void many_addresses(unsigned int i, uint16_t port, uint16_t from_port,
			   struct wg_datagram *d, union wg_sockaddr *from)
{
	static const char *const v4_src[] = {NULL, "127.0.0.2", "127.0.0.3"};
	bool v6 = i % 2, mapped = i % 10 == 4;
	const char *src = v6 ? (i % 3 ? "::1" : NULL) : v4_src[i % 3];
	const char *dst = v6 ? "::1" : "127.0.0.1";

	endpoint(&d->dst, mapped ? "::ffff:127.0.0.1" : dst,
		 i == TO_PORT_0 ? 0 : port);
	if (i == BAD_SRC4 || i == BAD_SRC6)
		endpoint(from, dst, from_port);
	else
		endpoint(from, src ? src : dst, from_port);
	if (i == BAD_SRC4)
		src = "192.0.2.1";
	if (i == BAD_SRC6)
		src = "2001:db8::1";
	d->src = (struct wg_src){0};
	if (src && v6)
		d->src.family = AF_INET6;
	else if (src)
		d->src.family = AF_INET;
	if (src)
		ck_assert_int_eq(inet_pton(d->src.family, src, &d->src.v6), 1);
}

/* Receives count datagrams on fd; each must be one of the burst's, from
 * its own source, and come once. */
static void many_receive(int fd, unsigned int count,
			 const union wg_sockaddr *from, bool *seen)
{
	static struct mmsghdr msgs[MANY];
	static union wg_sockaddr src[MANY];
	unsigned int k, i;

	receive_all(fd, msgs, src, count);
	for (k = 0; k < count; k++) {
		ck_assert_uint_eq(msgs[k].msg_len, sizeof(i));
		memcpy(&i, rx_bufs[k], sizeof(i));
		ck_assert_uint_lt(i, MANY);
		ck_assert_msg(!seen[i], "datagram %u came twice", i);
		seen[i] = true;
		ck_assert_msg(wg_sockaddr_equal(&src[k], &from[i]),
			      "datagram %u from the wrong source", i);
	}
}

START_TEST(test_socket_send_many)
{
	static struct wg_datagram d[MANY];
	static union wg_sockaddr from[MANY];
	static uint32_t payload[MANY];
	bool seen[MANY] = {false};
	struct wg_socket_set rx, tx;
	unsigned int i, v4 = 0;
	int fd6;

	ck_assert_int_eq(wg_socket_set_open(&rx, 0, 0, false), 0);
	ck_assert_int_eq(wg_socket_set_open(&tx, 0, 0, false), 0);
	for (i = 0; i < MANY; i++) {
		payload[i] = i;
		many_addresses(i, rx.port, tx.port, &d[i], &from[i]);
		d[i].iov = (struct iovec){&payload[i], sizeof(payload[i])};
		d[i].err = 99;
		if (from[i].sa.sa_family == AF_INET && i != TO_PORT_0)
			v4++;
	}
	ck_assert_int_eq(d[BAD_SRC4].src.family, AF_INET);
	ck_assert_int_eq(d[BAD_SRC6].src.family, AF_INET6);
	/* All but the one to port 0; the sources not ours went again
	 * without, and are forgotten. */
	ck_assert_uint_eq(wg_socket_send_many(&tx, d, MANY), MANY - 1);
	for (i = 0; i < MANY; i++)
		ck_assert_int_eq(d[i].err, i == TO_PORT_0 ? -EINVAL : 0);
	ck_assert_int_eq(d[BAD_SRC4].src.family, 0);
	ck_assert_int_eq(d[BAD_SRC6].src.family, 0);
	ck_assert_int_eq(d[2].src.family, AF_INET);
	ck_assert_int_eq(d[3].src.family, 0);
	ck_assert_int_eq(d[1].src.family, AF_INET6);

	many_receive(rx.fd4, v4, from, seen);
	many_receive(rx.fd6, MANY - 1 - v4, from, seen);
	for (i = 0; i < MANY; i++)
		ck_assert_msg(seen[i] == (i != TO_PORT_0), "datagram %u", i);

	/* No IPv6 socket: the IPv6 datagram fails, the IPv4 one goes. */
	fd6 = tx.fd6;
	tx.fd6 = -1;
	ck_assert_uint_eq(wg_socket_send_many(&tx, d, 2), 1);
	tx.fd6 = fd6;
	ck_assert_int_eq(d[0].err, 0);
	ck_assert_int_eq(d[1].err, -EAFNOSUPPORT);
	many_receive(rx.fd4, 1, from, (bool[MANY]){false});
	wg_socket_set_close(&rx);
	wg_socket_set_close(&tx);
}
END_TEST

static uint32_t get_mark(int fd)
{
	uint32_t mark = 0;
	socklen_t len = sizeof(mark);

	ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_MARK, &mark, &len), 0);
	return mark;
}

START_TEST(test_socket_fwmark)
{
	struct wg_socket_set s, like;

	if (!have_root("fwmark"))
		return;
	ck_assert_int_eq(wg_socket_set_open(&s, 0, 0x1234, true), 0);
	ck_assert_uint_eq(get_mark(s.fd4), 0x1234);
	ck_assert_uint_eq(get_mark(s.fd6), 0x1234);
	ck_assert_int_eq(wg_socket_set_open_like(&like, &s, true), 0);
	ck_assert_uint_eq(like.fwmark, 0x1234);
	ck_assert_uint_eq(get_mark(like.fd6), 0x1234);
	ck_assert_int_eq(wg_socket_set_fwmark(&s, 0x42), 0);
	ck_assert_uint_eq(s.fwmark, 0x42);
	ck_assert_uint_eq(get_mark(s.fd4), 0x42);
	ck_assert_uint_eq(get_mark(s.fd6), 0x42);
	ck_assert_int_eq(wg_socket_set_fwmark(&s, 0), 0);
	ck_assert_uint_eq(get_mark(s.fd4), 0);
	ck_assert_uint_eq(get_mark(s.fd6), 0);
	wg_socket_set_close(&like);
	wg_socket_set_close(&s);
}
END_TEST

static Suite *socket_suite(void)
{
	Suite *s = suite_create("socket");
	TCase *tc = tcase_create("socket");
	tcase_add_test(tc, test_socket_random_port);
	tcase_add_test(tc, test_socket_reuseport_spread);
	tcase_add_loop_test(tc, test_socket_send_recv, 0,
			    sizeof(loopbacks) / sizeof(loopbacks[0]));
	tcase_add_test(tc, test_socket_send_errors);
	tcase_add_test(tc, test_socket_send_many);
	tcase_add_test(tc, test_socket_fwmark);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	wg_log_init("check_socket", false, WG_LOG_INFO);
	return test_main("check_socket", socket_suite());
}
