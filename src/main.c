// SPDX-License-Identifier: MIT
/*
 * wgpipe [-f|--foreground] [options] INTERFACE
 * wgpipe show [--json | --prometheus] INTERFACE
 *
 * Forks into the background unless told not to; the parent exits 0 only
 * once the interface and the UAPI socket exist, and otherwise prints the
 * child's reason and exits 1. "show" asks a running daemon for its
 * counters over the UAPI socket and prints them (metrics.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/aead.h"
#include "crypto/crypto.h"
#include "peer.h"
#include "device.h"
#include "log.h"
#include "metrics.h"
#include "options.h"
#include "privs.h"
#include "uapi.h"
#include "uapi_client.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: wgpipe [-f|--foreground] [options] INTERFACE\n"
		"       wgpipe show [--json | --prometheus] INTERFACE\n"
		"       wgpipe -h|--help\n"
		"       wgpipe -v|--version\n"
		"\n"
		"Userspace WireGuard daemon; configure it with wg(8) or wg-quick(8).\n"
		"\"wgpipe show\" prints the counters of the daemon running INTERFACE:\n"
		"a table, JSON, or the Prometheus text format.\n"
		"\n"
		"  -f, --foreground           stay in the foreground, log to stderr\n");
	wg_options_usage(out);
	fprintf(out,
		"  -h, --help                 show this help\n"
		"  -v, --version              show the version and the build's options\n"
		"\n"
		"Environment: WG_PROCESS_FOREGROUND=1, LOG_LEVEL=error|info|verbose,\n"
		"WG_TUN_FD, WG_UAPI_FD (inherited descriptors).\n"
		"See wgpipe(8).\n");
}

/* One line saying why wgpipe show got no counters from path. */
static void show_failed(const char *ifname, const char *path, int ret,
			int answer)
{
	if (ret == -ENOENT || ret == -ECONNREFUSED)
		fprintf(stderr, "wgpipe: no wgpipe running for %s (%s: %s)\n",
			ifname, path, strerror(-ret));
	else if (ret == -ECONNRESET)
		fprintf(stderr, "wgpipe: the daemon on %s hung up on stats=1; "
				"is it wgpipe?\n", path);
	else if (ret == -EPROTO)
		fprintf(stderr, "wgpipe: the daemon on %s answered stats=1 "
				"without an errno= line; is it wgpipe?\n", path);
	else if (ret)
		fprintf(stderr, "wgpipe: cannot ask %s: %s\n", path,
			strerror(-ret));
	else if (answer == -EINVAL)
		fprintf(stderr, "wgpipe: the daemon on %s does not know "
				"stats=1 (errno=%d); is it wgpipe?\n", path,
			answer);
	else
		fprintf(stderr, "wgpipe: the daemon on %s gave no counters: "
				"%s\n", path, strerror(abs(answer)));
}

enum show_format { SHOW_TABLE, SHOW_JSON, SHOW_PROMETHEUS };

/* wgpipe show [--json | --prometheus] INTERFACE: 0 once the counters are
 * printed, else 1 after one line saying why not. */
static int show(const char *ifname, enum show_format format)
{
	struct wg_metrics m;
	char path[128], *text;
	size_t len;
	int answer, ret;

	if (wg_uapi_socket_path(path, sizeof(path), ifname)) {
		fprintf(stderr, "wgpipe: show: '%s' is no interface name\n",
			ifname);
		return 1;
	}
	ret = wg_uapi_request_stats(path, &answer, &text, &len);
	if (ret || answer) {
		show_failed(ifname, path, ret, answer);
		return 1;
	}
	ret = wg_metrics_read_wire(&m, text);
	free(text);
	if (ret) {
		fprintf(stderr, "wgpipe: the daemon on %s answered stats=1 "
				"with a line that is no name=value\n", path);
		return 1;
	}
	if (format == SHOW_JSON)
		wg_metrics_print_json(stdout, &m, ifname);
	else if (format == SHOW_PROMETHEUS)
		wg_metrics_print_prometheus(stdout, &m, ifname);
	else
		wg_metrics_print_table(stdout, &m);
	wg_metrics_free(&m);
	return fflush(stdout) ? 1 : 0;
}

/* argv[1] is "show". */
static int show_main(int argc, char **argv)
{
	enum show_format format = SHOW_TABLE;

	if (argc == 4 && !strcmp(argv[2], "--json"))
		format = SHOW_JSON;
	else if (argc == 4 && !strcmp(argv[2], "--prometheus"))
		format = SHOW_PROMETHEUS;
	else if (argc != 3 || argv[2][0] == '-') {
		fprintf(stderr, "Usage: wgpipe show [--json | --prometheus] "
				"INTERFACE\n");
		return 1;
	}
	return show(argv[argc - 1], format);
}

/* wgpipe --version: the version, and the data path's ChaCha20-Poly1305
 * implementations this build has, with what each needs and whether this
 * CPU has it. */
static void version(void)
{
	struct wg_aead_choice c[8];
	size_t i, n = wg_aead_list(c, 8);

	printf("wgpipe %s\n", PACKAGE_VERSION);
	printf("ChaCha20-Poly1305 implementations (--crypto):\n");
	for (i = 0; i < n; i++)
		printf("  %-10s %-36s %s\n", c[i].name,
		       *c[i].needs ? c[i].needs : "any CPU",
		       c[i].usable ? "usable here" : "not on this CPU");
	printf("--crypto auto chooses on this CPU: %s\n", wg_aead_auto_name());
}

/* The child tells the parent how start-up went: one status byte, then a
 * message. */
static int ready_fd = -1;

static void report_ready(int status, const char *msg)
{
	char buf[512];
	size_t len;

	if (ready_fd < 0)
		return;
	buf[0] = (char)status;
	snprintf(buf + 1, sizeof(buf) - 1, "%s", msg ? msg : "");
	len = 1 + strlen(buf + 1);
	if (write(ready_fd, buf, len) < 0)
		status = 1;
	close(ready_fd);
	ready_fd = -1;
}

static int wait_for_child(int fd)
{
	char buf[512];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	if (n <= 0) {
		fprintf(stderr, "wgpipe: the daemon exited during start-up\n");
		return 1;
	}
	buf[n] = '\0';
	if (buf[0]) {
		fprintf(stderr, "wgpipe: %s\n", buf + 1);
		return 1;
	}
	return 0;
}

static int daemonize(void)
{
	int fds[2];
	pid_t pid;

	if (pipe(fds)) {
		perror("wgpipe: pipe");
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		perror("wgpipe: fork");
		return -1;
	}
	if (pid > 0) {
		close(fds[1]);
		exit(wait_for_child(fds[0]));
	}
	close(fds[0]);
	ready_fd = fds[1];
	if (setsid() < 0)
		return -1;
	return 0;
}

static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

static int inherited_fd(const char *name)
{
	const char *v = getenv(name);
	char *end;
	long fd;

	if (!v || !*v)
		return -1;
	errno = 0;
	fd = strtol(v, &end, 10);
	if (errno || *end || fd < 0 || fd > INT_MAX)
		return -2;
	return (int)fd;
}

/* Signals are read from a signalfd by the main thread only (every thread
 * blocks them), which sleeps until one comes or the device stops: no
 * periodic wake-up. */
static int run(struct wg_device *dev)
{
	struct signalfd_siginfo info;
	struct pollfd pfd[2];
	sigset_t set;
	int sfd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		log_err("signalfd: %s", strerror(errno));
		wg_device_request_stop(dev, 1);
		return dev->exit_status;
	}
	pfd[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = dev->stop_fd, .events = POLLIN };
	while (!wg_device_stopping(dev)) {
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (read(sfd, &info, sizeof(info)) != sizeof(info))
			continue;
		if (info.ssi_signo == SIGTERM || info.ssi_signo == SIGINT) {
			log_info("signal %u: shutting down", info.ssi_signo);
			wg_device_request_stop(dev, 0);
		} else {
			wg_device_log_stats(dev);
		}
	}
	close(sfd);
	return dev->exit_status;
}

static void block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static bool want_foreground(bool flag)
{
	const char *env = getenv("WG_PROCESS_FOREGROUND");

	return flag || (env && !strcmp(env, "1"));
}

int main(int argc, char **argv)
{
	struct wg_options opt;
	struct wg_device *dev;
	const char *ifname;
	bool foreground = false;
	int ret;

	if (argc >= 3 && !strcmp(argv[1], "show"))
		return show_main(argc, argv);
	ret = wg_options_parse(argc, argv, &opt, &foreground);
	if (ret == WG_OPTIONS_HELP) {
		usage(stdout);
		return 0;
	}
	if (ret == WG_OPTIONS_VERSION) {
		version();
		return 0;
	}
	if (ret < 0)
		return 1;
	ifname = argv[ret];
	opt.tun_fd = inherited_fd("WG_TUN_FD");
	opt.uapi_fd = inherited_fd("WG_UAPI_FD");
	if (opt.tun_fd == -2 || opt.uapi_fd == -2) {
		fprintf(stderr, "wgpipe: WG_TUN_FD and WG_UAPI_FD must be "
				"descriptor numbers\n");
		return 1;
	}
	if (geteuid() != 0 && opt.tun_fd < 0)
		fprintf(stderr, "wgpipe: warning: not running as root; creating "
				"%s will likely fail\n", ifname);
	foreground = want_foreground(foreground);
	wg_log_init(ifname, false, wg_log_level_from_env(getenv("LOG_LEVEL")));
	if (wg_crypto_init()) {
		fprintf(stderr, "wgpipe: libsodium failed to initialise\n");
		return 1;
	}
	if (wg_aead_select(opt.crypto))
		return 1;
	log_info("data-path ChaCha20-Poly1305: %s", wg_aead_name());
	if (!foreground && daemonize())
		return 1;
	block_signals();
	umask(077);
	rcu_register_thread();
	ret = wg_device_create(&dev, ifname, &opt);
	if (ret) {
		char msg[256];

		snprintf(msg, sizeof(msg), "cannot create interface %s: %s",
			 ifname, strerror(-ret));
		log_err("%s", msg);
		report_ready(1, msg);
		return 1;
	}
	/* The TUN device and the UDP sockets exist; no thread does yet. */
	if (wg_privs_drop()) {
		report_ready(1, "cannot drop privileges (see the log)");
		wg_device_destroy(dev);
		return 1;
	}
	ret = wg_device_start(dev);
	if (ret) {
		report_ready(1, "cannot start the daemon (see the log)");
		wg_device_destroy(dev);
		return 1;
	}
	if (!foreground) {
		wg_log_set_syslog(true);
		detach_stdio();
	}
	report_ready(0, NULL);
	ret = run(dev);
	/* A leak at teardown fails the exit status, for the tests to see. */
	if (wg_device_destroy(dev) && !ret)
		ret = 1;
	log_info("interface %s removed", ifname);
	rcu_unregister_thread();
	return ret;
}
