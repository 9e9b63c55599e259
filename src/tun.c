// SPDX-License-Identifier: MIT
/*
 * The TUN device. Every queue is its own fd from /dev/net/tun attached
 * to one device with TUNSETIFF; the device lives while a queue is open,
 * unless it was made persistent by someone else.
 */
#include "tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "offload.h"
#include "rtnl.h"
#include "wgpipe/wireguard.h"

#define TUN_PATH "/dev/net/tun"

enum {
	TUN_FLAGS = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE,
	/* A full TUN queue is rare (its socket buffer is huge); wait at
	 * most this many times this long for room before dropping. */
	TUN_WRITE_RETRIES = 4,
	TUN_WRITE_WAIT_MS = 1,
};

static void copy_name(char dst[static IFNAMSIZ], const char *src)
{
	size_t len = strnlen(src, IFNAMSIZ - 1);

	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* Interface ioctls (SIOC[GS]IF*) need some socket; AF_INET is always
 * there. */
static int netdev_ioctl(unsigned long req, struct ifreq *ifr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, req, ifr) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int set_mtu(const char *name, unsigned int mtu)
{
	struct ifreq ifr = {.ifr_mtu = (int)mtu};
	int ret;

	copy_name(ifr.ifr_name, name);
	ret = netdev_ioctl(SIOCSIFMTU, &ifr);
	if (ret)
		log_err("cannot set the MTU of %s to %u: %s", name, mtu,
			strerror(-ret));
	return ret;
}

/* Opens one more queue of tun->name, and learns the kernel's name. */
static int attach_queue(struct wg_tun *tun)
{
	struct ifreq ifr = {.ifr_flags = TUN_FLAGS};

	if (tun->vnet_hdr)
		ifr.ifr_flags |= IFF_VNET_HDR;
	int fd, ret;

	fd = open(TUN_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		log_err("cannot open " TUN_PATH ": %s", strerror(-ret));
		return ret;
	}
	copy_name(ifr.ifr_name, tun->name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		log_err("TUNSETIFF %s: %s%s", tun->name, strerror(-ret),
			ret == -EINVAL && if_nametoindex(tun->name)
			    ? " (an existing device must be a multi-queue "
			      "TUN without packet information)"
			    : "");
		close(fd);
		return ret;
	}
	copy_name(tun->name, ifr.ifr_name);
	tun->fds[tun->nqueues++] = fd;
	return 0;
}

/*
 * With IFF_MULTI_QUEUE, TUNSETIFF on a live device adds a queue to it
 * instead of failing, so a second daemon for one interface would
 * silently steal half the traffic of the first. A device that was there
 * before we attached and is not persistent is therefore someone else's.
 */
static int check_not_taken(const struct wg_tun *tun, unsigned int ifindex)
{
	struct ifreq ifr = {0};

	if (!ifindex || if_nametoindex(tun->name) != ifindex)
		return 0;
	if (ioctl(tun->fds[0], TUNGETIFF, &ifr) == 0 &&
	    (ifr.ifr_flags & IFF_PERSIST))
		return 0;
	log_err("TUNSETIFF %s: %s (in use by another process)", tun->name,
		strerror(EBUSY));
	return -EBUSY;
}

int wg_tun_open(struct wg_tun *tun, const char *name, unsigned int nqueues)
{
	return wg_tun_open_offload(tun, name, nqueues, 0);
}

/* TUNSETOFFLOAD is per device: one queue sets it for all. */
static void set_offloads(struct wg_tun *tun, unsigned int want)
{
	const unsigned int uso = WG_TUN_F_USO4 | WG_TUN_F_USO6;
	const unsigned int tso = TUN_F_TSO4 | TUN_F_TSO6;
	unsigned int tries[] = {want, want & ~uso, want & TUN_F_CSUM, 0};
	unsigned int i;

	for (i = 0; i < sizeof(tries) / sizeof(tries[0]); i++)
		if (!ioctl(tun->fds[0], TUNSETOFFLOAD, (unsigned long)tries[i]))
			break;
	tun->offloads = i < sizeof(tries) / sizeof(tries[0]) ? tries[i] : 0;
	if (tun->offloads == want)
		log_info("TUN %s: offloads on:%s%s%s", tun->name,
			 want & TUN_F_CSUM ? " checksum" : "",
			 want & tso ? " TSO" : "", want & uso ? " USO" : "");
	else
		log_info("TUN %s: the kernel refused some offloads; using%s%s%s",
			 tun->name,
			 tun->offloads & TUN_F_CSUM ? " checksum" : "",
			 tun->offloads & tso ? " TSO" : "",
			 tun->offloads ? "" : " none");
}

int wg_tun_open_offload(struct wg_tun *tun, const char *name,
			unsigned int nqueues, unsigned int want)
{
	unsigned int before;
	int ret;

	*tun = (struct wg_tun){.nqueues = 0, .vnet_hdr = want != 0};
	if (!nqueues || nqueues > WG_TUN_MAX_QUEUES) {
		log_err("TUN queues must be 1 to %d, not %u", WG_TUN_MAX_QUEUES,
			nqueues);
		return -EINVAL;
	}
	if (!name || !*name || strlen(name) >= IFNAMSIZ) {
		log_err("interface name must be 1 to %d characters",
			IFNAMSIZ - 1);
		return -EINVAL;
	}
	copy_name(tun->name, name);
	before = strchr(name, '%') ? 0 : if_nametoindex(name);
	ret = attach_queue(tun);
	if (ret)
		return ret;
	ret = check_not_taken(tun, before);
	if (ret)
		goto err_close_queues;
	while (tun->nqueues < nqueues) {
		ret = attach_queue(tun);
		if (ret)
			goto err_close_queues;
	}
	if (!before) {
		ret = set_mtu(tun->name, WG_DEFAULT_MTU);
		if (ret)
			goto err_close_queues;
	}
	if (tun->vnet_hdr)
		set_offloads(tun, want);
	log_debug("TUN %s: %u queue%s%s", tun->name, nqueues,
		  nqueues == 1 ? "" : "s", before ? ", existing device" : "");
	return 0;

err_close_queues:
	wg_tun_close(tun);
	return ret;
}

/*
 * TUNGETIFF cannot say whether packets carry packet information: it
 * reports IFF_NOFILTER in the bit of IFF_NO_PI. sysfs can; where it is
 * not mounted, we trust the parent.
 */
static bool has_packet_info(const char *name)
{
	char path[64];
	unsigned int flags;
	bool pi;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%.*s/tun_flags",
		 IFNAMSIZ - 1, name);
	f = fopen(path, "re");
	if (!f)
		return false;
	pi = fscanf(f, "%x", &flags) == 1 && !(flags & IFF_NO_PI);
	fclose(f);
	return pi;
}

int wg_tun_adopt_fd(struct wg_tun *tun, int fd)
{
	struct ifreq ifr = {0};
	int flags, ret;

	*tun = (struct wg_tun){.nqueues = 0};
	if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
		ret = -errno;
		log_err("WG_TUN_FD %d is not an attached TUN device: "
			"TUNGETIFF: %s",
			fd, strerror(-ret));
		return ret;
	}
	if ((ifr.ifr_flags & (IFF_TUN | IFF_TAP | IFF_VNET_HDR)) != IFF_TUN ||
	    has_packet_info(ifr.ifr_name)) {
		log_err("WG_TUN_FD %d (%.*s) must be a TUN device without "
			"packet information or virtio headers",
			fd, IFNAMSIZ, ifr.ifr_name);
		return -EINVAL;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		ret = -errno;
		log_err("WG_TUN_FD %d: fcntl: %s", fd, strerror(-ret));
		return ret;
	}
	copy_name(tun->name, ifr.ifr_name);
	tun->fds[0] = fd;
	tun->nqueues = 1;
	tun->inherited = true;
	return 0;
}

int wg_tun_get_mtu(const struct wg_tun *tun, unsigned int *mtu)
{
	struct ifreq ifr = {0};
	int ret;

	copy_name(ifr.ifr_name, tun->name);
	ret = netdev_ioctl(SIOCGIFMTU, &ifr);
	if (ret)
		return ret;
	*mtu = (unsigned int)ifr.ifr_mtu;
	return 0;
}

/* True when nsfd is the network namespace we run in. */
static bool ours(int nsfd)
{
	struct stat ns, self;

	if (fstat(nsfd, &ns) || stat("/proc/self/ns/net", &self))
		return true; /* cannot tell: ask by name here, as before */
	return ns.st_dev == self.st_dev && ns.st_ino == self.st_ino;
}

int wg_tun_follow(struct wg_tun *tun, unsigned int *mtu)
{
	struct ifreq ifr = {0};
	int nsfd, nsid, ret;

	/* Asked of the queue itself: right in any namespace, and failing
	 * only once the device is gone. */
	if (ioctl(tun->fds[0], TUNGETIFF, &ifr) < 0)
		return errno == EBADFD || errno == ENODEV ? -ENODEV : -errno;
	copy_name(tun->name, ifr.ifr_name);
	nsfd = ioctl(tun->fds[0], TUNGETDEVNETNS);
	if (nsfd < 0 || ours(nsfd)) {
		if (nsfd >= 0)
			close(nsfd);
		ret = wg_tun_get_mtu(tun, mtu);
	} else {
		nsid = wg_rtnl_nsid(nsfd);
		close(nsfd);
		ret = nsid < 0 ? nsid : wg_rtnl_link_mtu(nsid, tun->name, mtu);
	}
	/* Not found by name: moved or renamed just now; ask again later. */
	return ret == -ENODEV ? -EAGAIN : ret;
}

bool wg_tun_exists(const struct wg_tun *tun)
{
	return tun->name[0] && if_nametoindex(tun->name) != 0;
}

int wg_tun_writev(int fd, const struct iovec *iov, int n, size_t len)
{
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};
	unsigned int tries = 0;

	for (;;) {
		ssize_t w = writev(fd, iov, n);

		/* TUN takes a packet whole or not at all. */
		if (w >= 0)
			return (size_t)w == len ? 0 : -EMSGSIZE;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || tries++ == TUN_WRITE_RETRIES)
			return -errno;
		poll(&pfd, 1, TUN_WRITE_WAIT_MS);
	}
}

void wg_tun_close(struct wg_tun *tun)
{
	while (tun->nqueues)
		close(tun->fds[--tun->nqueues]);
	tun->inherited = false;
}

bool wg_tun_error_is_gone(int err)
{
	return err == -EBADFD || err == -ENODEV;
}

/* A read sees -EIO only while the device is being unregistered; a write
 * sees it whenever the device is down. */
bool wg_tun_read_error_is_gone(int err)
{
	return wg_tun_error_is_gone(err) || err == -EIO;
}

int wg_tun_read_burst(int fd, struct iovec *bufs, unsigned int n, size_t *lens,
		      unsigned int *got)
{
	unsigned int i = 0;
	uint8_t spill;

	/* A read returns at most the buffer's length, so a packet that
	 * does not fit shows up as a byte in spill. */
	while (i < n) {
		struct iovec iov[2] = {bufs[i], {&spill, 1}};
		ssize_t r = readv(fd, iov, 2);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno != EAGAIN && !i) {
			*got = 0;
			return -errno;
		}
		if (r <= 0)
			break;
		if ((size_t)r > bufs[i].iov_len) {
			wg_log_ratelimited(WG_LOG_INFO,
					   "TUN read: dropped a packet longer "
					   "than %zu bytes",
					   bufs[i].iov_len);
			continue;
		}
		lens[i++] = (size_t)r;
	}
	*got = i;
	return 0;
}

ssize_t wg_tun_read(int fd, void *buf, size_t len)
{
	ssize_t r;

	do
		r = read(fd, buf, len);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

int wg_tun_write(int fd, const void *pkt, size_t len)
{
	struct iovec iov = {.iov_base = (void *)pkt, .iov_len = len};

	return wg_tun_writev(fd, &iov, 1, len);
}

/* ------------------------------------------------------------------ */
/* The TUN writer: packets that passed every check, into the device    */

int wg_tun_writer_init(struct wg_tun_writer *w, const struct wg_tun *tun,
		       unsigned int index, bool gro_wanted)
{
	unsigned int i;

	memset(w, 0, sizeof(*w));
	w->fd = tun->fds[index % tun->nqueues];
	w->vnet_hdr = tun->vnet_hdr;
	w->gro = w->vnet_hdr && gro_wanted &&
		 (tun->offloads & (TUN_F_TSO4 | TUN_F_TSO6));
	/* Only authenticated packets are written. */
	w->gro_flags = WG_GRO_TRUSTED | WG_GRO_SCATTER;
	if (tun->offloads & (WG_TUN_F_USO4 | WG_TUN_F_USO6))
		w->gro_flags |= WG_GRO_UDP;
	for (i = 0; w->gro && i < WG_TUN_WRITER_BUFS; i++) {
		w->bufs[i] = malloc(WG_TUN_WRITER_BUF_SIZE);
		if (!w->bufs[i])
			return -ENOMEM;
	}
	return 0;
}

void wg_tun_writer_destroy(struct wg_tun_writer *w)
{
	unsigned int i;

	for (i = 0; i < WG_TUN_WRITER_BUFS; i++)
		free(w->bufs[i]);
}

/* One write per packet, each behind an empty vnet header if the device
 * wants one. */
static unsigned int write_plain(struct wg_tun_writer *w,
				const uint8_t *const *pkts,
				const size_t *lens, unsigned int n,
				unsigned int *writes)
{
	static const struct virtio_net_hdr none;
	unsigned int i, ok = 0;

	for (i = 0; i < n; i++) {
		struct iovec iov[2] = {
			{ (void *)&none, sizeof(none) },
			{ (void *)pkts[i], lens[i] },
		};
		int ret = w->vnet_hdr
				  ? wg_tun_writev(w->fd, iov, 2,
						  sizeof(none) + lens[i])
				  : wg_tun_write(w->fd, pkts[i], lens[i]);

		ok += !ret;
	}
	*writes = ok;
	return ok;
}

/* GRO: in-order segments of a flow go out as one super-packet. */
static unsigned int write_coalesced(struct wg_tun_writer *w,
				    const uint8_t *const *pkts,
				    const size_t *lens, unsigned int n,
				    unsigned int *writes)
{
	struct wg_gro_item items[WG_TUN_WRITER_MAX];
	unsigned int i, nitems, ok = 0;

	nitems = wg_gro_coalesce(pkts, lens, n, w->bufs,
				 WG_TUN_WRITER_BUF_SIZE, WG_TUN_WRITER_BUFS,
				 w->gro_flags, items);
	for (i = 0; i < nitems; i++) {
		struct iovec iov[2] = {
			{ &items[i].hdr, sizeof(items[i].hdr) },
			{ (void *)items[i].pkt, items[i].len },
		};
		const struct iovec *v = items[i].niov ? items[i].iov : iov;
		int nv = items[i].niov ? (int)items[i].niov : 2;

		if (!wg_tun_writev(w->fd, v, nv,
				   sizeof(items[i].hdr) + items[i].len)) {
			ok += items[i].count;
			++*writes;
		}
	}
	return ok;
}

unsigned int wg_tun_writer_write(struct wg_tun_writer *w,
				 const uint8_t *const *pkts,
				 const size_t *lens, unsigned int n,
				 unsigned int *writes)
{
	*writes = 0;
	if (n > 1 && w->gro)
		return write_coalesced(w, pkts, lens, n, writes);
	return write_plain(w, pkts, lens, n, writes);
}
