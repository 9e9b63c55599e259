// SPDX-License-Identifier: MIT
/*
 * The TUN device (tun.c), as root: opening and closing multiqueue
 * devices, a busy name, persistent devices, adopting a parent's fd,
 * packets both ways, and a device deleted under the daemon. Device names
 * carry the test process's PID, and each test's fixture removes what it
 * made, failed or not.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "testlib.h"
#include "tun.h"

enum {
	WAIT_MS = 2000,
	TUN_BUF = 2048,
};

/* True when the test may run; otherwise says why it is skipped, or fails
 * it where CI=true demands every test run. */
static bool have_tun(const char *test)
{
	const char *missing = NULL;

	if (geteuid() != 0)
		missing = "root";
	else if (access("/dev/net/tun", R_OK | W_OK))
		missing = "/dev/net/tun";
	if (!missing)
		return true;
	test_skip_or_fail("%s needs %s", test, missing);
	return false;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void assert_open_flags(int fd)
{
	ck_assert_int_ge(fd, 0);
	ck_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

/* Runs a shell command made like printf; its exit status. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[256];
	va_list ap;
	int status;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	status = system(cmd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* What a TUN test made, undone by the checked teardown even when the
 * test fails half-way. */
static struct wg_tun fixture_tun;
static char fixture_persistent[IFNAMSIZ];
static int fixture_fd = -1;
static char fixture_netns[32];

static int netlink_delete_link(const char *name)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = {
	    .nh = {.nlmsg_len = sizeof(req),
		   .nlmsg_type = RTM_DELLINK,
		   .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK},
	    .ifi = {.ifi_family = AF_UNSPEC,
		    .ifi_index = (int)if_nametoindex(name)},
	};
	struct {
		struct nlmsghdr nh;
		struct nlmsgerr err;
	} ack;
	int fd, ret = -EIO;

	if (!req.ifi.ifi_index)
		return -ENODEV;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (send(fd, &req, sizeof(req), 0) == sizeof(req) &&
	    recv(fd, &ack, sizeof(ack), 0) >= (ssize_t)sizeof(ack) &&
	    ack.nh.nlmsg_type == NLMSG_ERROR)
		ret = ack.err.error;
	close(fd);
	return ret;
}

static void tun_setup(void)
{
	fixture_tun.nqueues = 0;
	fixture_persistent[0] = '\0';
	fixture_fd = -1;
	fixture_netns[0] = '\0';
}

static void tun_teardown(void)
{
	wg_tun_close(&fixture_tun);
	if (fixture_fd >= 0)
		close(fixture_fd);
	if (fixture_persistent[0])
		netlink_delete_link(fixture_persistent);
	if (fixture_netns[0])
		sh("ip netns del %s", fixture_netns);
}

static void unique_name(char name[static IFNAMSIZ], const char *prefix)
{
	snprintf(name, IFNAMSIZ, "%s%d", prefix, (int)getpid());
}

static int ifreq_ioctl(unsigned long req, struct ifreq *ifr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	ck_assert_int_ge(fd, 0);
	ret = ioctl(fd, req, ifr) ? -errno : 0;
	close(fd);
	return ret;
}

static void set_mtu(const char *name, int mtu)
{
	struct ifreq ifr = {.ifr_mtu = mtu};

	snprintf(ifr.ifr_name, IFNAMSIZ, "%.15s", name);
	ck_assert_int_eq(ifreq_ioctl(SIOCSIFMTU, &ifr), 0);
}

/* A raw TUN fd made by hand, the way a parent process would. */
static int raw_tun(const char *name, short flags)
{
	struct ifreq ifr = {.ifr_flags = flags};
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	snprintf(ifr.ifr_name, IFNAMSIZ, "%.15s", name);
	ck_assert_msg(ioctl(fd, TUNSETIFF, &ifr) == 0, "TUNSETIFF %s: %s", name,
		      strerror(errno));
	return fd;
}

START_TEST(test_tun_arguments)
{
	struct wg_tun tun;

	ck_assert_int_eq(wg_tun_open(&tun, "wgx%d", 0), -EINVAL);
	ck_assert_int_eq(wg_tun_open(&tun, "wgx%d", WG_TUN_MAX_QUEUES + 1),
			 -EINVAL);
	ck_assert_int_eq(wg_tun_open(&tun, "", 1), -EINVAL);
	ck_assert_int_eq(wg_tun_open(&tun, "sixteen-chars-xx", 1), -EINVAL);
	ck_assert_uint_eq(tun.nqueues, 0);
	wg_tun_close(&tun);
}
END_TEST

START_TEST(test_tun_open_close)
{
	struct wg_tun *tun = &fixture_tun;
	unsigned int mtu, ifindex, q;

	if (!have_tun("TUN open/close"))
		return;
	ck_assert_int_eq(wg_tun_open(tun, "wgtst%d", 2), 0);
	ck_assert_msg(!strncmp(tun->name, "wgtst", 5) &&
			  !strchr(tun->name, '%'),
		      "name %s", tun->name);
	ck_assert_uint_eq(tun->nqueues, 2);
	ck_assert(!tun->inherited);
	for (q = 0; q < tun->nqueues; q++)
		assert_open_flags(tun->fds[q]);
	ck_assert(wg_tun_exists(tun));
	ck_assert_int_eq(wg_tun_get_mtu(tun, &mtu), 0);
	ck_assert_uint_eq(mtu, 1420);
	set_mtu(tun->name, 1280);
	ck_assert_int_eq(wg_tun_get_mtu(tun, &mtu), 0);
	ck_assert_uint_eq(mtu, 1280);

	ifindex = if_nametoindex(tun->name);
	wg_tun_close(tun);
	ck_assert_uint_eq(tun->nqueues, 0);
	/* Gone, or at most the name reused by someone else's new device. */
	ck_assert_uint_ne(if_nametoindex(tun->name), ifindex);
	ck_assert_int_eq(wg_tun_get_mtu(tun, &mtu), -ENODEV);
}
END_TEST

START_TEST(test_tun_busy_and_persistent)
{
	struct wg_tun *tun = &fixture_tun, second;
	char name[IFNAMSIZ];
	unsigned int mtu;
	int fd;

	if (!have_tun("TUN busy/persistent"))
		return;
	unique_name(name, "wgb");
	ck_assert_int_eq(wg_tun_open(tun, name, 1), 0);
	ck_assert_str_eq(tun->name, name);
	/* A second daemon must not join the first one's queues. */
	ck_assert_int_eq(wg_tun_open(&second, name, 2), -EBUSY);
	ck_assert_uint_eq(second.nqueues, 0);
	ck_assert(wg_tun_exists(tun));
	wg_tun_close(tun);

	/* A persistent device made beforehand is attached to, and keeps
	 * its MTU. */
	snprintf(fixture_persistent, IFNAMSIZ, "%s", name);
	fd = raw_tun(name, IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE);
	ck_assert_int_eq(ioctl(fd, TUNSETPERSIST, 1), 0);
	close(fd);
	set_mtu(name, 1300);
	ck_assert_int_eq(wg_tun_open(tun, name, 3), 0);
	ck_assert_int_eq(wg_tun_get_mtu(tun, &mtu), 0);
	ck_assert_uint_eq(mtu, 1300);
	ck_assert_int_eq(ioctl(tun->fds[0], TUNSETPERSIST, 0), 0);
	wg_tun_close(tun);
	ck_assert(!wg_tun_exists(tun));
	fixture_persistent[0] = '\0';

	/* An existing device of another kind. */
	ck_assert_int_eq(wg_tun_open(tun, "lo", 1), -EINVAL);
}
END_TEST

START_TEST(test_tun_adopt)
{
	struct wg_tun *tun = &fixture_tun;
	char name[IFNAMSIZ];
	uint8_t buf[TUN_BUF];
	struct iovec iov = {buf, sizeof(buf)};
	size_t len;
	unsigned int got = 7;
	int pipefd[2], fd;

	if (!have_tun("TUN adopt"))
		return;
	unique_name(name, "wga");
	fixture_fd = raw_tun(name, IFF_TUN | IFF_NO_PI);
	ck_assert_int_eq(wg_tun_adopt_fd(tun, fixture_fd), 0);
	fixture_fd = -1;
	ck_assert_str_eq(tun->name, name);
	ck_assert_uint_eq(tun->nqueues, 1);
	ck_assert(tun->inherited);
	assert_open_flags(tun->fds[0]);
	/* Nonblocking now: nothing to read returns at once. */
	ck_assert_int_eq(wg_tun_read_burst(tun->fds[0], &iov, 1, &len, &got),
			 0);
	ck_assert_uint_eq(got, 0);
	wg_tun_close(tun);
	ck_assert(!wg_tun_exists(tun));

	/* Refused, and left to the caller: a TUN with packet information,
	 * a TAP, an unattached /dev/net/tun, a pipe. */
	fixture_fd = raw_tun(name, IFF_TUN);
	ck_assert_int_eq(wg_tun_adopt_fd(tun, fixture_fd), -EINVAL);
	ck_assert_int_ge(fcntl(fixture_fd, F_GETFD), 0);
	close(fixture_fd);
	fixture_fd = raw_tun(name, IFF_TAP | IFF_NO_PI);
	ck_assert_int_eq(wg_tun_adopt_fd(tun, fixture_fd), -EINVAL);
	close(fixture_fd);
	fixture_fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	ck_assert_int_eq(wg_tun_adopt_fd(tun, fixture_fd), -EBADFD);
	close(fixture_fd);
	fixture_fd = -1;
	ck_assert_int_eq(pipe(pipefd), 0);
	fd = wg_tun_adopt_fd(tun, pipefd[0]);
	ck_assert_msg(fd == -ENOTTY || fd == -EINVAL, "pipe: %d", fd);
	ck_assert_uint_eq(tun->nqueues, 0);
	close(pipefd[0]);
	close(pipefd[1]);
}
END_TEST

/* 198.18.0.0/15 (benchmarking), a /24 per test process. */
static void tun_subnet(struct in_addr *local, struct in_addr *remote)
{
	unsigned int pid = (unsigned int)getpid();
	uint32_t base = 0xc6120000u | (pid & 0x1ff) << 8;

	local->s_addr = htonl(base | 1);
	remote->s_addr = htonl(base | 2);
}

static void configure_up(const char *name, struct in_addr local)
{
	struct ifreq ifr = {0};
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

	snprintf(ifr.ifr_name, IFNAMSIZ, "%.15s", name);
	sin->sin_family = AF_INET;
	sin->sin_addr = local;
	ck_assert_int_eq(ifreq_ioctl(SIOCSIFADDR, &ifr), 0);
	sin->sin_addr.s_addr = htonl(0xffffff00u);
	ck_assert_int_eq(ifreq_ioctl(SIOCSIFNETMASK, &ifr), 0);
	ck_assert_int_eq(ifreq_ioctl(SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	ck_assert_int_eq(ifreq_ioctl(SIOCSIFFLAGS, &ifr), 0);
}

/* Reads from every queue until an IPv4 UDP packet to dport turns up;
 * returns its UDP payload length (copied to payload) or -1. Other
 * traffic (IPv6 router solicitations and the like) is skipped. */
static long read_udp_packet(struct wg_tun *tun, uint16_t dport,
			    uint8_t *payload, size_t max, size_t bufsize)
{
	static uint8_t bufs[WG_TUN_MAX_QUEUES][8][TUN_BUF];
	uint64_t deadline = now_ms() + WAIT_MS;
	struct pollfd pfd[WG_TUN_MAX_QUEUES];
	unsigned int q, i, got;

	for (q = 0; q < tun->nqueues; q++)
		pfd[q] = (struct pollfd){tun->fds[q], POLLIN, 0};
	while (now_ms() < deadline) {
		poll(pfd, tun->nqueues, 100);
		for (q = 0; q < tun->nqueues; q++) {
			struct iovec iov[8];
			size_t lens[8];

			for (i = 0; i < 8; i++)
				iov[i] = (struct iovec){bufs[q][i], bufsize};
			ck_assert_int_eq(
			    wg_tun_read_burst(tun->fds[q], iov, 8, lens, &got),
			    0);
			for (i = 0; i < got; i++) {
				const struct iphdr *ip = iov[i].iov_base;
				const struct udphdr *udp;
				size_t hl = ip->ihl * 4u, n;

				ck_assert_uint_le(lens[i], bufsize);
				if (lens[i] < sizeof(*ip) || ip->version != 4 ||
				    ip->protocol != IPPROTO_UDP ||
				    lens[i] < hl + sizeof(*udp))
					continue;
				udp = (const void *)((const uint8_t *)ip + hl);
				if (ntohs(udp->dest) != dport)
					continue;
				n = lens[i] - hl - sizeof(*udp);
				ck_assert_uint_le(n, max);
				memcpy(payload, udp + 1, n);
				return (long)n;
			}
		}
	}
	return -1;
}

static uint16_t ip_checksum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* An IPv4 UDP packet (checksum 0: none) from src:sport to dst:dport. */
static size_t build_udp(uint8_t *pkt, struct in_addr src, uint16_t sport,
			struct in_addr dst, uint16_t dport, const void *data,
			size_t len)
{
	struct iphdr *ip = (struct iphdr *)pkt;
	struct udphdr *udp = (struct udphdr *)(ip + 1);
	size_t total = sizeof(*ip) + sizeof(*udp) + len;

	memset(pkt, 0, sizeof(*ip) + sizeof(*udp));
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons((uint16_t)total);
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->saddr = src.s_addr;
	ip->daddr = dst.s_addr;
	ip->check = ip_checksum(ip, sizeof(*ip));
	udp->source = htons(sport);
	udp->dest = htons(dport);
	udp->len = htons((uint16_t)(sizeof(*udp) + len));
	memcpy(udp + 1, data, len);
	return total;
}

static int udp_socket_on(struct in_addr addr, uint16_t *port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr = addr};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, len), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

START_TEST(test_tun_traffic)
{
	static const char out_msg[] = "out through the tunnel";
	static const char in_msg[] = "in from the tunnel";
	struct wg_tun *tun = &fixture_tun;
	struct in_addr local, remote;
	struct sockaddr_in to = {.sin_family = AF_INET};
	uint8_t pkt[TUN_BUF], payload[TUN_BUF], big[1000] = {0};
	char name[IFNAMSIZ];
	uint16_t port;
	long n;
	int ret;

	if (!have_tun("TUN traffic"))
		return;
	unique_name(name, "wgt");
	tun_subnet(&local, &remote);
	ck_assert_int_eq(wg_tun_open(tun, name, 2), 0);
	/* Down, a device takes no packets but is not gone. */
	n = (long)build_udp(pkt, remote, 7777, local, 9, in_msg,
			    sizeof(in_msg));
	ret = wg_tun_write(tun->fds[0], pkt, (size_t)n);
	ck_assert_int_eq(ret, -EIO);
	ck_assert(!wg_tun_error_is_gone(ret));
	configure_up(tun->name, local);
	fixture_fd = udp_socket_on(local, &port);

	/* Out: a datagram routed into the TUN shows up on a queue. */
	to.sin_addr = remote;
	to.sin_port = htons(5555);
	ck_assert_int_eq(sendto(fixture_fd, out_msg, sizeof(out_msg), 0,
				(struct sockaddr *)&to, sizeof(to)),
			 sizeof(out_msg));
	n = read_udp_packet(tun, 5555, payload, sizeof(payload), TUN_BUF);
	ck_assert_int_eq(n, sizeof(out_msg));
	ck_assert_mem_eq(payload, out_msg, sizeof(out_msg));

	/* A packet too large for the buffer is dropped, not cut. */
	to.sin_port = htons(5556);
	ck_assert_int_eq(sendto(fixture_fd, big, sizeof(big), 0,
				(struct sockaddr *)&to, sizeof(to)),
			 sizeof(big));
	ck_assert_int_eq(sendto(fixture_fd, out_msg, 4, 0,
				(struct sockaddr *)&to, sizeof(to)),
			 4);
	n = read_udp_packet(tun, 5556, payload, sizeof(payload), 200);
	ck_assert_int_eq(n, 4);

	/* In: a packet written to a queue reaches a local socket. */
	n = (long)build_udp(pkt, remote, 7777, local, port, in_msg,
			    sizeof(in_msg));
	ck_assert_int_eq(wg_tun_write(tun->fds[1], pkt, (size_t)n), 0);
	ck_assert_int_eq(
	    poll(&(struct pollfd){fixture_fd, POLLIN, 0}, 1, WAIT_MS), 1);
	ck_assert_int_eq(recv(fixture_fd, payload, sizeof(payload), 0),
			 sizeof(in_msg));
	ck_assert_mem_eq(payload, in_msg, sizeof(in_msg));
	/* Not an IP packet: the kernel refuses it. */
	memset(pkt, 0, 40);
	ck_assert_int_eq(wg_tun_write(tun->fds[0], pkt, 40), -EINVAL);

	/* Deleted under us: reads and writes say the device is gone. */
	ck_assert_int_eq(netlink_delete_link(tun->name), 0);
	ck_assert(!wg_tun_exists(tun));
	{
		struct iovec iov = {payload, sizeof(payload)};
		size_t len;
		unsigned int got = 9;

		ret = wg_tun_read_burst(tun->fds[0], &iov, 1, &len, &got);
		ck_assert_msg(wg_tun_error_is_gone(ret), "read: %d", ret);
		ck_assert(wg_tun_read_error_is_gone(ret));
		ck_assert_uint_eq(got, 0);
	}
	ret = wg_tun_write(tun->fds[1], pkt, (size_t)n);
	ck_assert_msg(wg_tun_error_is_gone(ret), "write: %d", ret);
	/* A read sees -EIO only during unregistration; a write also
	 * while the device is down, which is no reason to stop. */
	ck_assert(wg_tun_read_error_is_gone(-EIO));
	ck_assert(!wg_tun_error_is_gone(-EIO));
	ck_assert(!wg_tun_read_error_is_gone(-EAGAIN));
	wg_tun_close(tun);
}
END_TEST

/* The interface moved to another network namespace, renamed there, its
 * MTU changed there, moved back, and deleted there: wg_tun_follow() keeps
 * up with all of it through the queue's fd, and says -ENODEV only for the
 * deletion. */
START_TEST(test_tun_follow_namespaces)
{
	struct wg_tun *tun = &fixture_tun;
	char name[IFNAMSIZ], renamed[IFNAMSIZ];
	unsigned int mtu = 0;

	if (!have_tun("TUN in other namespaces"))
		return;
	unique_name(name, "wgf");
	unique_name(renamed, "wgr");
	snprintf(fixture_netns, sizeof(fixture_netns), "wgp-tun-%d", getpid());
	ck_assert_int_eq(sh("ip netns add %s", fixture_netns), 0);
	ck_assert_int_eq(wg_tun_open(tun, name, 2), 0);
	ck_assert_int_eq(wg_tun_follow(tun, &mtu), 0);
	ck_assert_uint_eq(mtu, 1420);

	ck_assert_int_eq(sh("ip link set %s netns %s", name, fixture_netns), 0);
	ck_assert(!wg_tun_exists(tun)); /* not here by its name any more */
	ck_assert_int_eq(wg_tun_follow(tun, &mtu), 0);
	ck_assert_uint_eq(mtu, 1420);
	ck_assert_int_eq(sh("ip -n %s link set %s mtu 9000", fixture_netns,
			    name), 0);
	ck_assert_int_eq(wg_tun_follow(tun, &mtu), 0);
	ck_assert_uint_eq(mtu, 9000);
	ck_assert_int_eq(sh("ip -n %s link set %s name %s", fixture_netns, name,
			    renamed), 0);
	ck_assert_int_eq(sh("ip -n %s link set %s mtu 65000", fixture_netns,
			    renamed), 0);
	ck_assert_int_eq(wg_tun_follow(tun, &mtu), 0);
	ck_assert_str_eq(tun->name, renamed);
	ck_assert_uint_eq(mtu, 65000);

	/* Back here (the namespace of this process), then away again. */
	ck_assert_int_eq(sh("ip -n %s link set %s netns %d", fixture_netns,
			    renamed, getpid()), 0);
	ck_assert(wg_tun_exists(tun));
	ck_assert_int_eq(wg_tun_follow(tun, &mtu), 0);
	ck_assert_uint_eq(mtu, 65000);
	ck_assert_int_eq(sh("ip link set %s netns %s", renamed, fixture_netns),
			 0);
	ck_assert_int_eq(wg_tun_follow(tun, &mtu), 0);

	ck_assert_int_eq(sh("ip -n %s link del %s", fixture_netns, renamed), 0);
	ck_assert_int_eq(wg_tun_follow(tun, &mtu), -ENODEV);
}
END_TEST

static Suite *tun_suite(void)
{
	Suite *s = suite_create("tun");
	TCase *tc = tcase_create("tun");

	tcase_add_checked_fixture(tc, tun_setup, tun_teardown);
	tcase_add_test(tc, test_tun_arguments);
	tcase_add_test(tc, test_tun_open_close);
	tcase_add_test(tc, test_tun_busy_and_persistent);
	tcase_add_test(tc, test_tun_adopt);
	tcase_add_test(tc, test_tun_traffic);
	tcase_add_test(tc, test_tun_follow_namespaces);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	wg_log_init("check_tun", false, WG_LOG_INFO);
	return test_main("check_tun", tun_suite());
}
