/* SPDX-License-Identifier: MIT */
/*
 * Our RCU flavour: liburcu's membarrier flavour (urcu-memb), chosen
 * because its read-side sections cost no memory barrier (the kernel's
 * membarrier() makes the writers pay), and because a registered thread
 * may block in a system call without going offline first, unlike QSBR:
 * our reader and writer threads sleep in poll(), recvmmsg() and futex()
 * all the time. Every thread that reads under RCU or calls call_rcu()
 * registers with rcu_register_thread().
 */
#ifndef WGPIPE_RCU_H
#define WGPIPE_RCU_H

#ifndef URCU_API_MAP
#define URCU_API_MAP
#endif
#include <urcu/urcu-memb.h>
#include <urcu/rculist.h>
#include <urcu/rcuhlist.h>

#endif
