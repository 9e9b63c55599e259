// SPDX-License-Identifier: MIT
/*
 * The thread pools: starting them, their loops, stopping them. Each loop
 * only takes the next piece of work and calls the stage that does it
 * (send.c, receive.c, handshake.c); none reads or writes a descriptor.
 *
 * Invariants:
 * - Every thread registers with RCU (memb flavour, see rcu.h) and is
 *   named "wg-STAGE/N" (pthread_setname_np), so `ps -T` and `top -H`
 *   show which stage is busy.
 * - Blocking happens only in poll() or in a wait queue's futex wait,
 *   with no timeout: a thread sleeps until it has work, and a stop is an
 *   event that wakes every sleeper (the device's stop eventfd, and
 *   wg_waitq_wake_all on every ring and wait queue). The timer thread
 *   alone sleeps until a deadline: the next timer, or housekeeping.
 * - The pipeline owns its threads' arguments; they live until the
 *   threads are joined.
 */
#include "pipeline.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "crypto/crypto.h"
#include "device.h"
#include "event.h"
#include "handshake.h"
#include "log.h"
#include "peer.h"
#include "receive.h"
#include "send.h"


/* How often the timer thread follows the interface (its MTU, its
 * namespace, its deletion) and ages the rate limiter. Packets of a new
 * MTU pass at once regardless; the MTU only pads. */
#define HOUSEKEEPING_NS (2 * NSEC_PER_SEC)

struct thread {
	pthread_t id;
	struct wg_device *dev;
	unsigned int index; /* within its pool */
};

struct wg_pipeline {
	struct thread *threads; /* every pool but the UDP readers */
	unsigned int nthreads, max_threads;
	/* The UDP readers stop and start again around a socket swap. */
	struct thread *udp;
	unsigned int n_udp;
	int udp_stopping; /* shared: wg_store_release / wg_load_acquire */
	int udp_stop_fd;  /* eventfd: readable while they are stopping */
	unsigned int next_cpu; /* --pin-threads: the next CPU, in turn */
};

static void *tun_reader(void *arg)
{
	struct thread *t = arg;
	struct wg_device *dev = t->dev;
	struct wg_tun_reader r;

	if (wg_send_reader_init(&r, dev, t->index)) {
		log_err("TUN reader: no memory for offload buffers");
		wg_device_request_stop(dev, 1);
	}
	rcu_register_thread();
	while (!wg_device_stopping(dev))
		wg_send_read_tun(&r);
	rcu_unregister_thread();
	wg_send_reader_destroy(&r);
	return NULL;
}

static void *udp_reader(void *arg)
{
	struct thread *t = arg;
	struct wg_device *dev = t->dev;
	struct wg_udp_reader r;

	if (wg_receive_reader_init(&r, dev, t->index,
				   dev->pipeline->udp_stop_fd)) {
		log_err("UDP reader: no memory for its buffers");
		wg_device_request_stop(dev, 1);
	}
	rcu_register_thread();
	while (!wg_device_stopping(dev) &&
	       !wg_load_acquire(dev->pipeline->udp_stopping))
		wg_receive_read_udp(&r);
	rcu_unregister_thread();
	wg_receive_reader_destroy(&r);
	return NULL;
}

static void *crypto_worker(void *arg)
{
	struct thread *t = arg;
	struct wg_device *dev = t->dev;
	struct batch *b;

	rcu_register_thread();
	while (!wg_device_stopping(dev)) {
		if (!(b = wg_ring_pop_wait(&dev->crypt_ring, WG_WAIT_FOREVER)))
			continue;
		if (b->dir == BATCH_TX)
			wg_send_seal_batch(dev, b);
		else
			wg_receive_open_batch(dev, b);
		/* No session key left in the cipher's registers. */
		wg_crypto_wipe_registers();
	}
	rcu_unregister_thread();
	return NULL;
}

static void *udp_writer(void *arg)
{
	struct thread *t = arg;
	struct wg_device *dev = t->dev;
	struct wg_peer *peer;

	rcu_register_thread();
	while (!wg_device_stopping(dev)) {
		if (!(peer = wg_ring_pop_wait(&dev->udp_writer_ring,
					      WG_WAIT_FOREVER)))
			continue;
		wg_send_flush_peer(peer);
		wg_peer_put(peer);
	}
	rcu_unregister_thread();
	return NULL;
}

static void *tun_writer(void *arg)
{
	struct thread *t = arg;
	struct wg_device *dev = t->dev;
	struct wg_tun_writer w;
	struct wg_peer *peer;

	if (wg_tun_writer_init(&w, &dev->tun, t->index, dev->opt.tun_gro)) {
		log_err("TUN writer: no memory for coalescing buffers");
		wg_device_request_stop(dev, 1);
	}
	rcu_register_thread();
	while (!wg_device_stopping(dev)) {
		if (!(peer = wg_ring_pop_wait(&dev->tun_writer_ring,
					      WG_WAIT_FOREVER)))
			continue;
		wg_receive_flush_peer(peer, &w);
		wg_peer_put(peer);
	}
	rcu_unregister_thread();
	wg_tun_writer_destroy(&w);
	return NULL;
}

static void *handshake_worker(void *arg)
{
	struct thread *t = arg;
	struct wg_device *dev = t->dev;
	struct batch *b;

	rcu_register_thread();
	while (!wg_device_stopping(dev)) {
		if (!(b = wg_handshake_next(dev, WG_WAIT_FOREVER)))
			continue;
		wg_handshake_process(dev, b);
		wg_crypto_wipe_registers();
	}
	rcu_unregister_thread();
	return NULL;
}

/* Milliseconds from now until deadline, rounded up, for a timed wait. */
static int wait_ms(uint64_t now, uint64_t deadline)
{
	uint64_t ms;

	if (deadline <= now)
		return 0;
	ms = (deadline - now) / NSEC_PER_MSEC + 1;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Sleeps until the earliest timer is due or housekeeping is (every
 * HOUSEKEEPING_NS), or until woken: a handshake asked for, a stop. With
 * quiet peers that is the daemon's only periodic wake-up. */
static void *timer_thread(void *arg)
{
	struct thread *t = arg;
	struct wg_device *dev = t->dev;
	uint64_t now, next, housekeeping = 0;
	uint32_t seq;

	rcu_register_thread();
	while (!wg_device_stopping(dev)) {
		seq = wg_waitq_prepare(&dev->timer_wait);
		now = wg_now_ns();
		next = wg_handshake_run_timers(dev, now);
		if (now >= housekeeping) {
			wg_device_housekeeping(dev, now);
			housekeeping = now + HOUSEKEEPING_NS;
		}
		/* Initiations sent above used the static keys. */
		wg_crypto_wipe_registers();
		if (housekeeping < next)
			next = housekeeping;
		wg_waitq_wait(&dev->timer_wait, seq, wait_ms(wg_now_ns(), next));
	}
	rcu_unregister_thread();
	return NULL;
}

/* --pin-threads: the CPUs this process may use, one per thread in the
 * order threads start (crypto workers first, so they spread out). */
static void pin(struct wg_pipeline *p, pthread_t thread, const char *name)
{
	cpu_set_t allowed, one;
	unsigned int i, n = 0, want;
	int ret;

	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		return;
	want = p->next_cpu++ % (unsigned int)CPU_COUNT(&allowed);
	for (i = 0; i < CPU_SETSIZE; i++) {
		if (!CPU_ISSET(i, &allowed) || n++ != want)
			continue;
		CPU_ZERO(&one);
		CPU_SET(i, &one);
		ret = pthread_setaffinity_np(thread, sizeof(one), &one);
		if (ret)
			log_err("cannot pin %s to CPU %u: %s", name, i,
				strerror(ret));
		else
			log_debug("%s pinned to CPU %u", name, i);
		return;
	}
}

static int spawn(struct wg_device *dev, struct thread *t, void *(*fn)(void *),
		 const char *stage, unsigned int index)
{
	char name[16];
	int ret;

	t->dev = dev;
	t->index = index;
	ret = pthread_create(&t->id, NULL, fn, t);
	if (ret) {
		log_err("cannot start a %s thread: %s", stage, strerror(ret));
		return -ret;
	}
	snprintf(name, sizeof(name), "wg-%s/%u", stage, index);
	pthread_setname_np(t->id, name);
	if (dev->opt.pin_threads)
		pin(dev->pipeline, t->id, name);
	return 0;
}

static int spawn_pool(struct wg_device *dev, void *(*fn)(void *),
		      const char *stage, unsigned int n)
{
	struct wg_pipeline *p = dev->pipeline;
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		ret = spawn(dev, &p->threads[p->nthreads], fn, stage, i);
		if (ret)
			return ret;
		p->nthreads++;
	}
	return 0;
}

int wg_pipeline_start_udp_readers(struct wg_device *dev)
{
	struct wg_pipeline *p = dev->pipeline;
	unsigned int i;
	int ret;

	/* Not started yet: wg_pipeline_start() starts them. */
	if (!p)
		return 0;
	wg_store_release(p->udp_stopping, 0);
	for (i = 0; i < dev->opt.udp_readers; i++) {
		ret = spawn(dev, &p->udp[i], udp_reader, "udprd", i);
		if (ret)
			return ret;
		p->n_udp = i + 1;
	}
	return 0;
}

void wg_pipeline_stop_udp_readers(struct wg_device *dev)
{
	struct wg_pipeline *p = dev->pipeline;
	unsigned int i;

	if (!p)
		return;
	wg_store_release(p->udp_stopping, 1);
	wg_event_signal(p->udp_stop_fd);
	for (i = 0; i < p->n_udp; i++)
		pthread_join(p->udp[i].id, NULL);
	p->n_udp = 0;
	/* Unsignalled again, for the readers that start next. */
	wg_event_clear(p->udp_stop_fd);
}

static int alloc_pipeline(struct wg_device *dev)
{
	const struct wg_options *o = &dev->opt;
	struct wg_pipeline *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->max_threads = o->crypto_workers + o->udp_writers + o->tun_writers +
			 o->handshake_workers + 1 + o->tun_readers;
	p->threads = calloc(p->max_threads, sizeof(*p->threads));
	p->udp = calloc(o->udp_readers, sizeof(*p->udp));
	p->udp_stop_fd = wg_event_open();
	dev->pipeline = p;
	if (p->udp_stop_fd < 0)
		return p->udp_stop_fd;
	return p->threads && p->udp ? 0 : -ENOMEM;
}

int wg_pipeline_start(struct wg_device *dev)
{
	const struct wg_options *o = &dev->opt;
	int ret;

	ret = alloc_pipeline(dev);
	if (!ret)
		ret = spawn_pool(dev, crypto_worker, "crypt", o->crypto_workers);
	if (!ret)
		ret = spawn_pool(dev, udp_writer, "udpwr", o->udp_writers);
	if (!ret)
		ret = spawn_pool(dev, tun_writer, "tunwr", o->tun_writers);
	if (!ret)
		ret = spawn_pool(dev, handshake_worker, "hshake",
				 o->handshake_workers);
	if (!ret)
		ret = spawn_pool(dev, timer_thread, "timer", 1);
	if (!ret)
		ret = spawn_pool(dev, tun_reader, "tunrd", o->tun_readers);
	if (!ret)
		ret = wg_pipeline_start_udp_readers(dev);
	return ret;
}

void wg_pipeline_stop(struct wg_device *dev)
{
	struct wg_pipeline *p = dev->pipeline;
	unsigned int i;

	if (!p)
		return;
	wg_pipeline_stop_udp_readers(dev);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i].id, NULL);
	free(p->threads);
	free(p->udp);
	if (p->udp_stop_fd >= 0)
		close(p->udp_stop_fd);
	free(p);
	dev->pipeline = NULL;
}
