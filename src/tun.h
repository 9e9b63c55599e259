/* SPDX-License-Identifier: MIT */
/*
 * The TUN device: one nonblocking fd per queue (IFF_MULTI_QUEUE), each
 * carrying plain IP packets (IFF_NO_PI). The kernel spreads outgoing
 * flows over the queues, so each TUN reader owns one queue; any thread
 * may write to any queue. Opening and closing are for the main thread.
 */
#ifndef WGPIPE_TUN_H
#define WGPIPE_TUN_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "offload.h"

enum { WG_TUN_MAX_QUEUES = 64 };

struct wg_tun {
	char name[IFNAMSIZ];
	int fds[WG_TUN_MAX_QUEUES];
	unsigned int nqueues; /* fds[0 .. nqueues) are open */
	bool inherited;	      /* fds[0] came from WG_TUN_FD */
	/* Every read and write starts with a struct virtio_net_hdr. */
	bool vnet_hdr;
	/* TUN_F_* the kernel accepted with TUNSETOFFLOAD. */
	unsigned int offloads;
};

/* TUN_F_USO4/6 are newer than some headers. */
enum {
	WG_TUN_F_USO4 = 0x20,
	WG_TUN_F_USO6 = 0x40,
};

/*
 * Creates the device, or attaches to an existing persistent one, with
 * nqueues queues. name may be a pattern ("wg%d"); tun->name receives the
 * kernel's name. A new device gets MTU WG_DEFAULT_MTU; an existing
 * persistent one keeps its own. A device of that name that is not
 * persistent belongs to a running process: -EBUSY, rather than joining
 * its queues. On error, tun is left closed (nqueues 0).
 */
int wg_tun_open(struct wg_tun *tun, const char *name, unsigned int nqueues);
/*
 * The same with IFF_VNET_HDR, then TUNSETOFFLOAD with as many of the
 * TUN_F_* bits in want as the kernel accepts: first all of them, then
 * without USO, then checksum offload only, then none; what it settled
 * on is in tun->offloads, and said once in the log.
 */
int wg_tun_open_offload(struct wg_tun *tun, const char *name,
			unsigned int nqueues, unsigned int want);
/* Takes ownership of an inherited TUN fd (WG_TUN_FD) as the one queue. */
int wg_tun_adopt_fd(struct wg_tun *tun, int fd);
/* The MTU of the interface of that name in our network namespace. */
int wg_tun_get_mtu(const struct wg_tun *tun, unsigned int *mtu);
/*
 * Follows the interface wherever it is: in our network namespace or
 * moved to another (ip link set IF netns NS), and renamed or not.
 * Refreshes tun->name and reads the MTU. Returns 0; -ENODEV once the
 * interface was deleted, in whatever namespace, and only then; another
 * -errno (-EAGAIN: it was moving) when it cannot be asked right now.
 */
int wg_tun_follow(struct wg_tun *tun, unsigned int *mtu);
bool wg_tun_exists(const struct wg_tun *tun);
/* Closes every queue; a non-persistent device then disappears. Safe on a
 * closed or zeroed tun. */
void wg_tun_close(struct wg_tun *tun);

/*
 * Reads up to n packets from one queue into bufs[i], their lengths into
 * lens[i], the count into *got; never waits. Returns 0 (also when
 * nothing was ready), or -errno on an error, not logged (see
 * wg_tun_read_error_is_gone()). An error met after some packets were
 * read is left for the next call. A packet longer than its buffer is
 * dropped, not truncated.
 */
int wg_tun_read_burst(int fd, struct iovec *bufs, unsigned int n, size_t *lens,
		      unsigned int *got);
/* One read of one packet (with its vnet header, if any) into buf:
 * its length, 0 for an empty read, or -errno (-EAGAIN: nothing ready). */
ssize_t wg_tun_read(int fd, void *buf, size_t len);
/*
 * Writes one packet. Returns 0 or -errno, not logged (the caller counts
 * drops): -EIO while the device is down (not gone: it may come up
 * again), -EAGAIN after waiting briefly for room, -EINVAL for a packet
 * the kernel refuses, and see wg_tun_error_is_gone().
 */
int wg_tun_write(int fd, const void *pkt, size_t len);
/* The same for a packet in pieces (a vnet header, then the packet). */
int wg_tun_writev(int fd, const struct iovec *iov, int n, size_t len);
/* True for the errors (-errno) that mean the device was deleted under
 * us: -EBADFD, -ENODEV. */
bool wg_tun_error_is_gone(int err);
/* The same for a read error, which the caller reports. */
bool wg_tun_read_error_is_gone(int err);

/*
 * A TUN writer: one queue of the device, and with virtio-net headers
 * and GRO the buffers that coalesced super-packets are built in. Each
 * thread that writes to the device (TUN writers, and UDP readers that
 * deliver batches themselves) has its own.
 */
enum {
	/* How many super-packets one wg_tun_writer_write() builds. They
	 * are written with writev() from where the packets lie
	 * (WG_GRO_SCATTER): a buffer holds headers and iovecs, a few KiB. */
	WG_TUN_WRITER_BUFS = 16,
	/* The most packets one wg_tun_writer_write() takes. */
	WG_TUN_WRITER_MAX = 256,
};
#define WG_TUN_WRITER_BUF_SIZE WG_GRO_SCATTER_BUF_SIZE(WG_TUN_WRITER_MAX)

struct wg_tun_writer {
	int fd;
	bool vnet_hdr;
	bool gro;		/* coalesce TCP (and UDP: gro_flags) runs */
	unsigned int gro_flags; /* WG_GRO_* */
	uint8_t *bufs[WG_TUN_WRITER_BUFS]; /* WG_TUN_WRITER_BUF_SIZE each */
};

/* Writes to queue index (modulo the queues); gro_wanted: coalesce where
 * the device accepted TSO. 0 or -ENOMEM. */
int wg_tun_writer_init(struct wg_tun_writer *w, const struct wg_tun *tun,
		       unsigned int index, bool gro_wanted);
void wg_tun_writer_destroy(struct wg_tun_writer *w);
/* Writes n authenticated IP packets (n <= WG_TUN_WRITER_MAX), coalescing
 * where it can; returns how many went in, and in *writes how many writes
 * carried them. The rest were refused by the device (down, full or
 * deleted) and are the caller's to count. */
unsigned int wg_tun_writer_write(struct wg_tun_writer *w,
				 const uint8_t *const *pkts,
				 const size_t *lens, unsigned int n,
				 unsigned int *writes);

#endif
