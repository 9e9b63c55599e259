/* SPDX-License-Identifier: MIT */
/*
 * Route-netlink questions about an interface that may have been moved
 * to another network namespace (ip link set IF netns NS): tun.c follows
 * its interface with them. Any thread; each call blocks briefly on the
 * kernel's answer.
 */
#ifndef WGPIPE_RTNL_H
#define WGPIPE_RTNL_H

/* Our id for the network namespace open at nsfd (assigning one if it has
 * none yet): >= 0, or -errno. */
int wg_rtnl_nsid(int nsfd);
/* The MTU of interface name in the namespace of id nsid: 0, -ENODEV when
 * there is no such interface there, or another -errno. */
int wg_rtnl_link_mtu(int nsid, const char *name, unsigned int *mtu);

#endif
