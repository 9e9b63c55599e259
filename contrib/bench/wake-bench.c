// SPDX-License-Identifier: MIT
/*
 * wake-bench: what waking a sleeping thread costs on this machine, the
 * floor under every daemon's idle latency tail (idle-bench prints it).
 *
 *   wake-bench [-n COUNT] [-i INTERVAL_US] CPU_A CPU_B
 *
 * Two threads, pinned to CPU_A and CPU_B, play ping-pong over two pipes:
 * every INTERVAL_US (default 10000, idle-bench's 100 pings a second) the
 * first writes a byte and sleeps in read() until the second, asleep in
 * its own read(), has woken and written it back. Between rounds both
 * sleep, so each round wakes a thread on CPU_B and one on CPU_A, on CPUs
 * that may have gone idle. With CPU_A = CPU_B no CPU has to be woken.
 * Prints "p50 P p99 P p99.9 P max M over2ms N", round trips in ms, and
 * exits 0, or 1 with a reason on stderr.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int to_b[2], to_a[2];

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* Closes its end on the way out, so that the first thread's read() sees
 * the end rather than waiting forever. */
static void *echo(void *arg)
{
	void *ret = (void *)1;
	char c = 0;

	if (!pin(*(int *)arg)) {
		while (read(to_b[0], &c, 1) == 1 && c != 'q')
			if (write(to_a[1], &c, 1) != 1)
				break;
		ret = c == 'q' ? NULL : (void *)1;
	}
	close(to_a[1]);
	return ret;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest rank, as idle-bench's percentiles. */
static double rank(const double *v, int n, double q)
{
	int r = (int)(q / 100 * n + 0.999999);

	return v[(r < 1 ? 1 : r) - 1];
}

int main(int argc, char **argv)
{
	int n = 1000, interval_us = 10000, cpu_a, cpu_b, i, opt, over = 0;
	struct timespec gap;
	pthread_t t;
	double *rtt, t0;
	void *ret;
	char c = 'x';

	while ((opt = getopt(argc, argv, "n:i:")) != -1) {
		if (opt == 'n')
			n = atoi(optarg);
		else if (opt == 'i')
			interval_us = atoi(optarg);
		else
			goto usage;
	}
	if (argc - optind != 2 || n < 1 || interval_us < 0)
		goto usage;
	cpu_a = atoi(argv[optind]);
	cpu_b = atoi(argv[optind + 1]);
	if (!(rtt = calloc(n, sizeof(*rtt))) || pipe(to_b) || pipe(to_a)) {
		fprintf(stderr, "wake-bench: %s\n", strerror(errno));
		return 1;
	}
	if (pin(cpu_a)) {
		fprintf(stderr, "wake-bench: cannot run on CPU %d\n", cpu_a);
		return 1;
	}
	if (pthread_create(&t, NULL, echo, &cpu_b)) {
		fprintf(stderr, "wake-bench: no thread\n");
		return 1;
	}
	gap = (struct timespec){ .tv_sec = interval_us / 1000000,
				 .tv_nsec = interval_us % 1000000 * 1000L };
	for (i = 0; i < n; i++) {
		nanosleep(&gap, NULL);
		t0 = now_ms();
		if (write(to_b[1], &c, 1) != 1 || read(to_a[0], &c, 1) != 1) {
			fprintf(stderr, "wake-bench: the echo thread is gone "
					"(cannot run on CPU %d?)\n", cpu_b);
			return 1;
		}
		rtt[i] = now_ms() - t0;
		over += rtt[i] > 2;
	}
	c = 'q';
	if (write(to_b[1], &c, 1) != 1 || pthread_join(t, &ret) || ret) {
		fprintf(stderr, "wake-bench: the echo thread failed\n");
		return 1;
	}
	qsort(rtt, n, sizeof(*rtt), cmp);
	printf("p50 %.3f p99 %.3f p99.9 %.3f max %.3f over2ms %d\n",
	       rank(rtt, n, 50), rank(rtt, n, 99), rank(rtt, n, 99.9),
	       rtt[n - 1], over);
	free(rtt);
	return 0;
usage:
	fprintf(stderr, "usage: wake-bench [-n COUNT] [-i INTERVAL_US] "
			"CPU_A CPU_B\n");
	return 1;
}
