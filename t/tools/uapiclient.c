/* SPDX-License-Identifier: MIT */
/*
 * uapiclient: send raw bytes to a UAPI socket and print the answer.
 *
 *   uapiclient [-h] [-t TIMEOUT_MS] SOCKET < request
 *
 * Writes standard input as it is to the UNIX stream socket (with -h it
 * then closes its writing side), and copies what comes back to standard
 * output until the answer is complete (a line "errno=N" followed by an
 * empty line), the daemon closes, or TIMEOUT_MS (default 5000) pass.
 * Exit status: 0 answered or closed, 2 timed out, 1 could not connect or
 * write (a daemon closing on a bad request before reading it all is
 * normal: EPIPE/ECONNRESET while writing are not errors).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char req[1 << 20];
static char ans[1 << 20];

static size_t read_all(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n;

	while (len < cap && (n = read(fd, buf + len, cap - len)) > 0)
		len += n;
	return len;
}

/* True once the buffer ends an answer: "errno=N\n\n". */
static int complete(const char *buf, size_t len)
{
	const char *p;

	if (len < 2 || buf[len - 1] != '\n' || buf[len - 2] != '\n')
		return 0;
	for (p = buf + len - 2; p > buf && p[-1] != '\n'; p--)
		;
	return !strncmp(p, "errno=", 6);
}

int main(int argc, char **argv)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int timeout_ms = 5000, half_close = 0, opt, fd;
	size_t len, off = 0, got = 0;

	while ((opt = getopt(argc, argv, "ht:")) != -1) {
		switch (opt) {
		case 'h':
			half_close = 1;
			break;
		case 't':
			timeout_ms = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 1 || strlen(argv[optind]) >= sizeof(sun.sun_path))
		goto usage;
	signal(SIGPIPE, SIG_IGN);
	strcpy(sun.sun_path, argv[optind]);
	len = read_all(0, req, sizeof(req));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "uapiclient: %s: %s\n", sun.sun_path,
			strerror(errno));
		return 1;
	}
	while (off < len) {
		ssize_t n = write(fd, req + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			break;
		if (n < 0) {
			fprintf(stderr, "uapiclient: write: %s\n",
				strerror(errno));
			return 1;
		}
		off += n;
	}
	if (half_close)
		shutdown(fd, SHUT_WR);
	while (!complete(ans, got) && got < sizeof(ans)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, timeout_ms) == 0) {
			fwrite(ans, 1, got, stdout);
			fprintf(stderr,
				"uapiclient: no complete answer within "
				"%d ms\n",
				timeout_ms);
			return 2;
		}
		n = read(fd, ans + got, sizeof(ans) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	fwrite(ans, 1, got, stdout);
	return 0;
usage:
	fprintf(stderr, "usage: uapiclient [-h] [-t TIMEOUT_MS] SOCKET\n");
	return 1;
}
