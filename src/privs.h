/* SPDX-License-Identifier: MIT */
/*
 * What the daemon may still do once set up: CAP_NET_ADMIN and
 * CAP_NET_BIND_SERVICE, if it was given them, and no other capability.
 */
#ifndef WGPIPE_PRIVS_H
#define WGPIPE_PRIVS_H

/*
 * Drops every capability but those two from the bounding (if it holds
 * CAP_SETPCAP), permitted, effective, inheritable and ambient sets, and
 * sets no_new_privs; the user ids stay as they are. Capabilities belong
 * to threads, and this changes the caller's only: call it while the
 * process has one thread, so that every later thread inherits the
 * reduced sets. 0, or -EBUSY with more threads, or -errno of the step
 * that failed (logged).
 */
int wg_privs_drop(void);

#endif
