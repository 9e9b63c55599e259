// SPDX-License-Identifier: MIT
/*
 * The client of our own "stats=1" request (wgpipe show): one connection,
 * one request, one reply read up to its errno= line. Counters hold no
 * secret, so nothing here is wiped.
 */
#include "uapi_client.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "uapi.h"

/* One client may be ahead of us, stuck until the server gives up on it:
 * wait for each step twice as long as the server waits for a client. */
static int connect_socket(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 2 * WG_UAPI_CLIENT_TIMEOUT_MS / 1000};
	int fd, ret;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    connect(fd, (const struct sockaddr *)&sun, sizeof(sun))) {
		ret = errno == EAGAIN || errno == EINPROGRESS ? -ETIMEDOUT
							      : -errno;
		close(fd);
		return ret;
	}
	return fd;
}

static int send_request(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno == EAGAIN	? -ETIMEDOUT
			       : errno == EPIPE ? -ECONNRESET
						: -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads up to and including the first blank line, which ends every
 * reply; *end receives the offset of the '\n' just before it. */
static int read_reply(int fd, char **out, size_t *end)
{
	size_t cap = 4096, n = 0, from;
	char *buf = malloc(cap), *nb, *blank = NULL;
	ssize_t r;
	int ret;

	if (!buf)
		return -ENOMEM;
	while (!blank) {
		if (n == cap) {
			ret = -EMSGSIZE;
			if (cap > WG_UAPI_MAX_REQUEST)
				goto err_free;
			ret = -ENOMEM;
			nb = realloc(buf, cap * 2);
			if (!nb)
				goto err_free;
			buf = nb;
			cap *= 2;
		}
		r = recv(fd, buf + n, cap - n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			ret = !r || errno == ECONNRESET ? -ECONNRESET
			      : errno == EAGAIN		? -ETIMEDOUT
							: -errno;
			goto err_free;
		}
		/* The pair may straddle the previous read. */
		from = n ? n - 1 : 0;
		n += (size_t)r;
		blank = memmem(buf + from, n - from, "\n\n", 2);
	}
	*end = (size_t)(blank - buf);
	*out = buf;
	return 0;

err_free:
	free(buf);
	return ret;
}

/* Splits a reply into its lines and the value of its last, errno=N. */
static int parse_reply(char *buf, size_t end, int *answer, size_t *textlen)
{
	char *line = buf + end, *e;
	long v;

	while (line > buf && line[-1] != '\n')
		line--;
	buf[end] = '\0';
	if (strncmp(line, "errno=", 6))
		return -EPROTO;
	errno = 0;
	v = strtol(line + 6, &e, 10);
	if (e == line + 6 || *e || errno || v < INT_MIN || v > INT_MAX)
		return -EPROTO;
	*answer = (int)v;
	*textlen = (size_t)(line - buf);
	*line = '\0';
	return 0;
}

int wg_uapi_request_stats(const char *path, int *answer, char **text,
			  size_t *len)
{
	static const char request[] = "stats=1\n\n";
	char *buf = NULL;
	size_t end = 0;
	int fd, ret;

	*answer = 0;
	*text = NULL;
	*len = 0;
	fd = connect_socket(path);
	if (fd < 0)
		return fd;
	ret = send_request(fd, request, sizeof(request) - 1);
	if (!ret)
		ret = read_reply(fd, &buf, &end);
	close(fd);
	if (!ret)
		ret = parse_reply(buf, end, answer, len);
	if (ret || *answer) {
		free(buf);
		*len = 0;
		return ret;
	}
	*text = buf;
	return 0;
}
