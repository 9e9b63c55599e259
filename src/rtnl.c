// SPDX-License-Identifier: MIT
/*
 * Route-netlink requests for an interface that may live in another
 * network namespace than ours. Each call opens its own NETLINK_ROUTE
 * socket (in our namespace), asks, and closes it: these run once a
 * second at most, from the timer thread.
 *
 * The kernel names another namespace to us by an id (nsid) that only
 * has meaning in ours. Moving an interface out of our namespace gives
 * the new one an id here; a namespace that has none yet gets one
 * (RTM_NEWNSID), which needs CAP_NET_ADMIN, as everything here does.
 */
#include "rtnl.h"

#include <errno.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { REPLY_BYTES = 16384 };

/* Replies are read as struct nlmsghdr, so their buffer is aligned as one. */
union reply_buf {
	struct nlmsghdr nh;
	char bytes[REPLY_BYTES];
};

struct request {
	struct nlmsghdr nh;
	union {
		struct rtgenmsg gen;
		struct ifinfomsg ifi;
	};
	char attrs[64];
};

static void put_attr(struct request *r, unsigned short type, const void *data,
		     size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)r +
					     NLMSG_ALIGN(r->nh.nlmsg_len));

	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	r->nh.nlmsg_len = NLMSG_ALIGN(r->nh.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* Sends r and reads the answer into buf: its first message, or -errno
 * (the kernel's error for the request; an acknowledgement, asked for
 * with NLM_F_ACK, comes back as -ENODATA). */
static int transact(int fd, struct request *r, union reply_buf *buf,
		    struct nlmsghdr **reply)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct nlmsghdr *nh;
	ssize_t n;

	r->nh.nlmsg_flags |= NLM_F_REQUEST;
	r->nh.nlmsg_seq = 1;
	if (sendto(fd, r, r->nh.nlmsg_len, 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) < 0)
		return -errno;
	do
		n = recv(fd, buf->bytes, sizeof(buf->bytes), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	nh = &buf->nh;
	if (!NLMSG_OK(nh, (unsigned int)n))
		return -EPROTO;
	if (nh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(nh);

		return e->error ? e->error : -ENODATA;
	}
	*reply = nh;
	return 0;
}

/* The attribute type of a reply of payload size hdr, or NULL. */
static const struct rtattr *find_attr(const struct nlmsghdr *nh, size_t hdr,
				      unsigned short type)
{
	const struct rtattr *a = (const struct rtattr *)((const char *)
							 NLMSG_DATA(nh) +
							 NLMSG_ALIGN(hdr));
	int left = (int)nh->nlmsg_len - (int)NLMSG_LENGTH(hdr);

	for (; RTA_OK(a, left); a = RTA_NEXT(a, left))
		if (a->rta_type == type)
			return a;
	return NULL;
}

static int open_rtnl(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	return fd < 0 ? -errno : fd;
}

static int get_nsid(int fd, int nsfd, union reply_buf *buf)
{
	struct request r = {
		.nh = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct rtgenmsg)),
			.nlmsg_type = RTM_GETNSID },
		.gen = { .rtgen_family = AF_UNSPEC },
	};
	const struct rtattr *a;
	struct nlmsghdr *nh;
	uint32_t ns = (uint32_t)nsfd;
	int32_t id;
	int ret;

	put_attr(&r, NETNSA_FD, &ns, sizeof(ns));
	ret = transact(fd, &r, buf, &nh);
	if (ret)
		return ret;
	a = find_attr(nh, sizeof(struct rtgenmsg), NETNSA_NSID);
	if (!a || RTA_PAYLOAD(a) < sizeof(id))
		return -EPROTO;
	memcpy(&id, RTA_DATA(a), sizeof(id));
	return id < 0 ? -ENOENT : id;
}

static int new_nsid(int fd, int nsfd, union reply_buf *buf)
{
	struct request r = {
		.nh = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct rtgenmsg)),
			.nlmsg_type = RTM_NEWNSID,
			.nlmsg_flags = NLM_F_ACK },
		.gen = { .rtgen_family = AF_UNSPEC },
	};
	struct nlmsghdr *nh;
	uint32_t ns = (uint32_t)nsfd;
	int32_t any = NETNSA_NSID_NOT_ASSIGNED;
	int ret;

	put_attr(&r, NETNSA_FD, &ns, sizeof(ns));
	put_attr(&r, NETNSA_NSID, &any, sizeof(any));
	ret = transact(fd, &r, buf, &nh);
	/* The ack is an "error" 0, which transact() makes -ENODATA. */
	return ret == -ENODATA || ret == -EEXIST ? 0 : ret;
}

int wg_rtnl_nsid(int nsfd)
{
	static __thread union reply_buf reply;
	union reply_buf *buf = &reply;
	int fd = open_rtnl(), id;

	if (fd < 0)
		return fd;
	id = get_nsid(fd, nsfd, buf);
	if (id == -ENOENT) {
		id = new_nsid(fd, nsfd, buf);
		if (!id)
			id = get_nsid(fd, nsfd, buf);
	}
	close(fd);
	return id;
}

int wg_rtnl_link_mtu(int nsid, const char *name, unsigned int *mtu)
{
	static __thread union reply_buf reply;
	struct request r = {
		.nh = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
			.nlmsg_type = RTM_GETLINK },
		.ifi = { .ifi_family = AF_UNSPEC },
	};
	uint32_t skip = RTEXT_FILTER_SKIP_STATS;
	int32_t id = nsid;
	const struct rtattr *a;
	struct nlmsghdr *nh;
	int fd, ret;

	if (strnlen(name, IFNAMSIZ) >= IFNAMSIZ)
		return -EINVAL;
	put_attr(&r, IFLA_IFNAME, name, strlen(name) + 1);
	put_attr(&r, IFLA_TARGET_NETNSID, &id, sizeof(id));
	put_attr(&r, IFLA_EXT_MASK, &skip, sizeof(skip));
	fd = open_rtnl();
	if (fd < 0)
		return fd;
	ret = transact(fd, &r, &reply, &nh);
	close(fd);
	if (ret)
		return ret;
	if (nh->nlmsg_type != RTM_NEWLINK)
		return -EPROTO;
	a = find_attr(nh, sizeof(struct ifinfomsg), IFLA_MTU);
	if (!a || RTA_PAYLOAD(a) < sizeof(uint32_t))
		return -EPROTO;
	memcpy(mtu, RTA_DATA(a), sizeof(uint32_t));
	return 0;
}
