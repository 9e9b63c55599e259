// SPDX-License-Identifier: MIT
/*
 * Dropping capabilities after set-up, with the raw system calls (no
 * libcap). Linux keeps capabilities per thread and capset() changes the
 * calling thread's only, while a new thread starts with a copy of its
 * creator's: so this runs once, while main() is the only thread, and
 * every thread started afterwards (the UAPI server, the pipeline,
 * liburcu's call_rcu worker, UDP readers restarted on a port change)
 * is born with the reduced sets.
 */
#include "privs.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

#define CAP_BIT(cap) (UINT64_C(1) << (cap))

/* What later `wg set` may need: SO_MARK and SO_{RCV,SND}BUFFORCE on
 * reopened sockets; a listen port below 1024. And what key memory needs:
 * secmem.c locks a chunk whenever peers and keypairs outgrow the last
 * one, and without CAP_IPC_LOCK RLIMIT_MEMLOCK (8 MiB on Debian, which
 * root may not be allowed to lift) would stop that at ~1,600 peers. */
static const struct {
	int cap;
	const char *name;
} kept_caps[] = {
    {CAP_NET_ADMIN, "CAP_NET_ADMIN"},
    {CAP_NET_BIND_SERVICE, "CAP_NET_BIND_SERVICE"},
    {CAP_IPC_LOCK, "CAP_IPC_LOCK"},
};

struct cap_sets {
	uint64_t effective, permitted, inheritable;
};

static int get_caps(struct cap_sets *c)
{
	struct __user_cap_header_struct hdr = {
	    .version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {0};

	if (syscall(SYS_capget, &hdr, d))
		return -errno;
	c->effective = d[0].effective | (uint64_t)d[1].effective << 32;
	c->permitted = d[0].permitted | (uint64_t)d[1].permitted << 32;
	c->inheritable = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	return 0;
}

static int set_caps(const struct cap_sets *c)
{
	struct __user_cap_header_struct hdr = {
	    .version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {
	    {(uint32_t)c->effective, (uint32_t)c->permitted,
	     (uint32_t)c->inheritable},
	    {(uint32_t)(c->effective >> 32), (uint32_t)(c->permitted >> 32),
	     (uint32_t)(c->inheritable >> 32)},
	};

	return syscall(SYS_capset, &hdr, d) ? -errno : 0;
}

/* PR_CAPBSET_READ fails with EINVAL past the kernel's last capability. */
static int drop_bounding(uint64_t keep)
{
	int cap, in;

	for (cap = 0; cap < 64; cap++) {
		in = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
		if (in < 0)
			return 0;
		if (in && !(keep & CAP_BIT(cap)) &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))
			return -errno;
	}
	return 0;
}

/* Without /proc we cannot tell; main() knows it has started none. */
static int threads_now(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	int n = 1;

	if (!f)
		return 1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

static void log_kept(uint64_t keep)
{
	char kept[96] = "", missing[96] = "";
	size_t i;

	for (i = 0; i < sizeof(kept_caps) / sizeof(kept_caps[0]); i++) {
		char *to = keep & CAP_BIT(kept_caps[i].cap) ? kept : missing;

		snprintf(to + strlen(to), sizeof(kept) - strlen(to), " %s",
			 kept_caps[i].name);
	}
	log_info("privileges: keeping %s%s%s%s%s",
		 *kept ? "only" : "no capability", kept,
		 *missing ? " (not given:" : "", missing, *missing ? ")" : "");
}

static int fail(const char *step, int ret)
{
	log_err("cannot drop privileges: %s: %s", step, strerror(-ret));
	return ret;
}

/* Key memory is locked (secmem.c) as peers and keypairs come and go.
 * CAP_IPC_LOCK, kept if we have it, ignores RLIMIT_MEMLOCK; for a daemon
 * started without it, lift the limit while CAP_SYS_RESOURCE still
 * allows, else raise the soft limit to the hard one. Failing leaves
 * locking best effort, as it always is. */
static void raise_memlock(void)
{
	struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};

	if (!setrlimit(RLIMIT_MEMLOCK, &rl))
		return;
	if (getrlimit(RLIMIT_MEMLOCK, &rl))
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		log_debug("cannot raise RLIMIT_MEMLOCK: %s", strerror(errno));
}

int wg_privs_drop(void)
{
	struct cap_sets c = {0};
	uint64_t keep = 0;
	size_t i;
	int ret;

	if (threads_now() != 1)
		return fail("more than one thread is running", -EBUSY);
	raise_memlock();
	ret = get_caps(&c);
	if (ret)
		return fail("capget", ret);
	for (i = 0; i < sizeof(kept_caps) / sizeof(kept_caps[0]); i++)
		keep |= c.permitted & CAP_BIT(kept_caps[i].cap);
	/* Without CAP_SETPCAP the bounding set stays: no_new_privs keeps
	 * execve from granting what it holds beyond the permitted set. */
	if (c.effective & CAP_BIT(CAP_SETPCAP)) {
		ret = drop_bounding(keep);
		if (ret)
			return fail("PR_CAPBSET_DROP", ret);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return fail("PR_SET_NO_NEW_PRIVS", -errno);
	/* EINVAL: a kernel before 4.3, without ambient capabilities. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) &&
	    errno != EINVAL)
		return fail("PR_CAP_AMBIENT_CLEAR_ALL", -errno);
	c.effective = c.permitted = keep;
	c.inheritable = 0;
	ret = set_caps(&c);
	if (ret)
		return fail("capset", ret);
	log_kept(keep);
	return 0;
}
