// SPDX-License-Identifier: MIT
/*
 * The UAPI socket server: one thread ("wg-uapi") polling three
 * descriptors: the listening socket, an eventfd that asks it to stop, and
 * an inotify watch on the socket file (deleting the file is how a user
 * asks a userspace WireGuard daemon to go away). Clients are served one
 * at a time, each request and each reply bounded by
 * WG_UAPI_CLIENT_TIMEOUT_MS, and every wait also watches the stop
 * eventfd, so neither a stuck client nor a slow one can hold up shutdown.
 * The thread owns all of the server's mutable state; wg_uapi_server_stop
 * touches it only after joining. Requests are parsed by uapi_parse.c and
 * get replies written by uapi_format.c.
 *
 * Requests carry private and preshared keys in hex, so every buffer that
 * may hold one is wiped before it is freed or grown.
 */
#include "uapi.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "clock.h"
#include "crypto/crypto.h"
#include "log.h"
#include "text.h"

static uint64_t now_ms(void)
{
	return wg_now_ns() / NSEC_PER_MSEC;
}

struct wg_uapi_server {
	int listen_fd, stop_fd, inotify_fd;
	bool watching; /* path/dev/ino name our socket file */
	bool gone_reported;
	dev_t dev;
	ino_t ino;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const struct wg_uapi_ops *ops;
	void *ctx;
	pthread_t thread;
};

/* One connection; buf may hold keys and is wiped when it goes. */
struct client {
	struct wg_uapi_server *s;
	int fd;
	char *buf;
	size_t len, cap;
	bool eof;
	uint64_t deadline_ms;
};

/* Waits for events on the client, giving up at the deadline (-ETIMEDOUT)
 * or when the server is asked to stop (-ECANCELED). */
static int client_wait(struct client *c, short events)
{
	struct pollfd pfd[2] = {
	    {.fd = c->fd, .events = events},
	    {.fd = c->s->stop_fd, .events = POLLIN},
	};

	for (;;) {
		uint64_t now = now_ms();
		int n;

		if (now >= c->deadline_ms)
			return -ETIMEDOUT;
		n = poll(pfd, 2, (int)(c->deadline_ms - now));
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n <= 0)
			continue;
		if (pfd[1].revents)
			return -ECANCELED;
		if (pfd[0].revents)
			return 0;
	}
}

/* Doubles the receive buffer, copying through a fresh allocation so no
 * request text (keys) is left behind in freed memory. */
static int client_grow(struct client *c)
{
	size_t cap = c->cap ? c->cap * 2 : 4096;
	char *n;

	/* Room for the longest line and more: set requests are parsed a
	 * line at a time, and the other requests are one short line. */
	if (c->cap >= WG_UAPI_BUFFER)
		return -EMSGSIZE;
	if (cap > WG_UAPI_BUFFER)
		cap = WG_UAPI_BUFFER;
	n = malloc(cap);
	if (!n)
		return -ENOMEM;
	if (c->buf) {
		memcpy(n, c->buf, c->len);
		sodium_memzero(c->buf, c->cap);
		free(c->buf);
	}
	c->buf = n;
	c->cap = cap;
	return 0;
}

static int client_fill(struct client *c)
{
	ssize_t n;
	int ret;

	if (c->len == c->cap) {
		ret = client_grow(c);
		if (ret)
			return ret;
	}
	for (;;) {
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (n > 0) {
			c->len += (size_t)n;
			return 0;
		}
		if (n == 0) {
			c->eof = true;
			return 0;
		}
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		ret = client_wait(c, POLLIN);
		if (ret)
			return ret;
	}
}

static int client_send(struct client *c, const char *p, size_t n)
{
	c->deadline_ms = now_ms() + WG_UAPI_CLIENT_TIMEOUT_MS;
	while (n) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
		int ret;

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		ret = client_wait(c, POLLOUT);
		if (ret)
			return ret;
	}
	return 0;
}

static int client_send_errno(struct client *c, int value)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "errno=%d\n\n", value);

	return client_send(c, line, (size_t)n);
}

/* Drops the first n bytes of the buffer, wiping the tail it vacates. */
static void client_consume(struct client *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	sodium_memzero(c->buf + c->len - n, n);
	c->len -= n;
}

/* Consumes "OP=1\n\n" (oplen bytes before the first '\n'), answering
 * errno=EINVAL and hanging up if the blank line is missing. */
static int take_bare_request(struct client *c, size_t oplen)
{
	int ret;

	while (c->len < oplen + 2) {
		if (c->eof)
			return -ENODATA;
		ret = client_fill(c);
		if (ret)
			return ret;
	}
	if (c->buf[oplen + 1] != '\n') {
		log_err("UAPI: %.*s not followed by a blank line", (int)oplen,
			c->buf);
		client_send_errno(c, EINVAL);
		return -EINVAL;
	}
	client_consume(c, oplen + 2);
	return 0;
}

static int do_get(struct client *c)
{
	const struct wg_uapi_ops *ops = c->s->ops;
	struct wg_uapi_device_info info;
	char *text = NULL;
	size_t len = 0;
	int ret;

	ret = take_bare_request(c, 5);
	if (ret)
		return ret;
	memset(&info, 0, sizeof(info));
	ret = ops->get(c->s->ctx, &info);
	if (!ret)
		ret = wg_uapi_format_get(&info, &text, &len);
	ops->get_free(c->s->ctx, &info);
	sodium_memzero(&info, sizeof(info));
	if (ret) {
		log_err("UAPI: get failed: %s", strerror(-ret));
		return client_send_errno(c, -ret);
	}
	ret = client_send(c, text, len);
	wg_uapi_free_text(text, len);
	return ret ? ret : client_send_errno(c, 0);
}

/* Counters hold no secret: plain free(). */
static int do_stats(struct client *c)
{
	const struct wg_uapi_ops *ops = c->s->ops;
	char *text = NULL;
	size_t len = 0;
	int ret;

	ret = take_bare_request(c, 7);
	if (ret)
		return ret;
	ret = ops->stats(c->s->ctx, &text, &len);
	if (ret) {
		log_err("UAPI: stats failed: %s", strerror(-ret));
		return client_send_errno(c, -ret);
	}
	ret = client_send(c, text, len);
	free(text);
	return ret ? ret : client_send_errno(c, 0);
}

/*
 * Hands a set request's lines to the parser as they arrive, dropping each
 * from the buffer once parsed, up to the blank line that ends the request
 * (or the end of the stream: a client that half-closes after its last
 * line gets the request applied, as wireguard-go does). Only a partial
 * line is ever held as text, so the request may be far larger than the
 * buffer; a line over WG_UAPI_MAX_LINE or a request over
 * WG_UAPI_MAX_REQUEST is -EMSGSIZE. The parser keeps its first error and
 * ignores the lines after it; the request is still read to its end.
 */
static int stream_set_body(struct client *c, struct wg_uapi_parser *ps)
{
	size_t done = 6, total = 0; /* "set=1\n" */
	int ret;

	while (c->cap < WG_UAPI_BUFFER) {
		ret = client_grow(c);
		if (ret)
			return ret;
	}
	for (;;) {
		char *line = c->buf + done;
		char *nl = memchr(line, '\n', c->len - done);

		if (nl) {
			size_t n = (size_t)(nl - line);

			done += n + 1;
			if (!n || (n == 1 && line[0] == '\r')) {
				client_consume(c, done);
				return 0;
			}
			if (n > WG_UAPI_MAX_LINE)
				return -EMSGSIZE;
			wg_uapi_parser_line(ps, line, n);
			continue;
		}
		total += done;
		client_consume(c, done);
		done = 0;
		if (c->len > WG_UAPI_MAX_LINE ||
		    total + c->len > WG_UAPI_MAX_REQUEST)
			return -EMSGSIZE;
		if (c->eof) {
			if (c->len)
				wg_uapi_parser_line(ps, c->buf, c->len);
			client_consume(c, c->len);
			return 0;
		}
		ret = client_fill(c);
		if (ret)
			return ret;
	}
}

static int do_set(struct client *c)
{
	const struct wg_uapi_ops *ops = c->s->ops;
	struct wg_uapi_parser ps;
	struct wg_uapi_set set;
	char err[256];
	int ret;

	wg_uapi_parser_init(&ps, &set, err, sizeof(err));
	ret = stream_set_body(c, &ps);
	if (ret) {
		wg_uapi_set_free(&set);
		if (ret == -EMSGSIZE || ret == -ENOMEM) {
			log_err("UAPI: set request refused: %s",
				ret == -EMSGSIZE ? "a line or the request is "
						   "too long"
						 : strerror(-ret));
			client_send_errno(c, ret);
		}
		return ret;
	}
	ret = wg_uapi_parser_end(&ps);
	if (ret) {
		log_err("UAPI: set request refused: %s", err);
	} else {
		err[0] = '\0';
		ret = ops->set(c->s->ctx, &set, err, sizeof(err));
		if (ret)
			log_err("UAPI: set request failed: %s",
				err[0] ? err : strerror(-ret));
		else
			log_debug("UAPI: set request applied");
		wg_uapi_set_free(&set);
	}
	return client_send_errno(c, ret);
}

/* The operation line, "get=1" say, without its '\n'. */
static bool is_op(const struct client *c, const char *nl, const char *op)
{
	size_t n = strlen(op);

	return nl && (size_t)(nl - c->buf) == n && !memcmp(c->buf, op, n);
}

/* Serves one request: 0 to go on with the next, -errno to hang up. */
static int client_request(struct client *c)
{
	char *nl;
	int ret;

	c->deadline_ms = now_ms() + WG_UAPI_CLIENT_TIMEOUT_MS;
	while (!(nl = c->len ? memchr(c->buf, '\n', c->len) : NULL)) {
		if (c->len > 16)
			break;
		if (c->eof)
			return -ENODATA;
		ret = client_fill(c);
		if (ret)
			return ret;
	}
	if (is_op(c, nl, "get=1"))
		ret = do_get(c);
	else if (is_op(c, nl, "set=1"))
		ret = do_set(c);
	else if (is_op(c, nl, "stats=1") && c->s->ops->stats)
		ret = do_stats(c);
	else {
		/* Nothing of the line is repeated: it could be a config
		 * line sent without "set=1", key and all. */
		log_err("UAPI: unknown operation (the first line is not "
			"get=1, set=1 or stats=1)");
		client_send_errno(c, -EINVAL);
		return -EINVAL;
	}
	if (!ret && c->eof && !c->len)
		return -ENODATA;
	return ret;
}

static void serve_client(struct wg_uapi_server *s, int fd)
{
	struct client c = {.s = s, .fd = fd};
	int ret;

	do
		ret = client_request(&c);
	while (!ret);
	/* An idle connection timing out between requests is normal. */
	if (ret == -ETIMEDOUT && c.len)
		log_err("UAPI: client timed out in the middle of a request");
	else if (ret == -ETIMEDOUT)
		log_debug("UAPI: closing an idle connection");
	if (c.buf) {
		sodium_memzero(c.buf, c.cap);
		free(c.buf);
	}
	/* Copies of keys pass through vector registers, and would sit
	 * there, in any core dump, until the next client. */
	wg_crypto_wipe_registers();
	close(fd);
}

/* Called on any event of the watch: the socket is gone when its path no
 * longer names the file we bound (unlinked, renamed, replaced). */
static void check_gone(struct wg_uapi_server *s)
{
	struct stat st;

	if (s->gone_reported)
		return;
	if (!lstat(s->path, &st) && st.st_dev == s->dev && st.st_ino == s->ino)
		return;
	s->gone_reported = true;
	log_info("UAPI: socket %s was removed", s->path);
	if (s->ops->socket_gone)
		s->ops->socket_gone(s->ctx);
}

static void drain_inotify(struct wg_uapi_server *s)
{
	char buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(s->inotify_fd, buf, sizeof(buf)) > 0)
		;
	check_gone(s);
	if (s->gone_reported) {
		close(s->inotify_fd);
		s->inotify_fd = -1;
	}
}

/* The socket file's 0600 mode is the first gate; this is the second, for
 * a file whose mode was loosened and for an inherited listener
 * (WG_UAPI_FD) whose file we never created. The credentials are the
 * client's at connect(), as the kernel recorded them. */
static bool client_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) ||
	    len != sizeof(cred)) {
		wg_log_ratelimited(WG_LOG_VERBOSE,
				   "UAPI: refusing a client: no credentials: %s",
				   strerror(errno));
		return false;
	}
	if (cred.uid == 0 || cred.uid == geteuid())
		return true;
	wg_log_ratelimited(WG_LOG_VERBOSE,
			   "UAPI: refusing a client with uid %u (pid %d)",
			   (unsigned int)cred.uid, (int)cred.pid);
	return false;
}

static void accept_client(struct wg_uapi_server *s, int *backoff_ms)
{
	int fd =
	    accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd >= 0) {
		if (client_allowed(fd))
			serve_client(s, fd);
		else
			close(fd);
		return;
	}
	if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED ||
	    errno == EPROTO)
		return;
	/* Out of descriptors or memory: leave the listener alone for a
	 * moment rather than spin on it. */
	wg_log_ratelimited(WG_LOG_ERROR, "UAPI: accept: %s", strerror(errno));
	*backoff_ms = 100;
}

static void *server_main(void *arg)
{
	struct wg_uapi_server *s = arg;
	int backoff_ms = 0;

	if (s->watching)
		check_gone(s);
	for (;;) {
		struct pollfd pfd[3] = {
		    {.fd = s->stop_fd, .events = POLLIN},
		    {.fd = backoff_ms ? -1 : s->listen_fd, .events = POLLIN},
		    {.fd = s->inotify_fd, .events = POLLIN},
		};
		int n = poll(pfd, 3, backoff_ms ? backoff_ms : -1);

		backoff_ms = 0;
		if (n < 0 && errno != EINTR) {
			wg_log_ratelimited(WG_LOG_ERROR, "UAPI: poll: %s",
					   strerror(errno));
			nanosleep(&(struct timespec){
					  .tv_nsec = 100 * NSEC_PER_MSEC },
				  NULL);
			continue;
		}
		if (n <= 0)
			continue;
		if (pfd[0].revents)
			break;
		if (pfd[2].revents)
			drain_inotify(s);
		if (pfd[1].revents)
			accept_client(s, &backoff_ms);
	}
	return NULL;
}

/* bind() makes the file 0777 & ~umask: under 0177 it is 0600, for root
 * alone (wg(8) needs to write to it, never to execute it). */
static int bind_private(int fd, const struct sockaddr_un *sun)
{
	mode_t old = umask(0177);
	int ret = bind(fd, (const struct sockaddr *)sun, sizeof(*sun));

	ret = ret ? -errno : 0;
	umask(old);
	return ret;
}

/* Something is at the path: another daemon's live socket (refuse), a
 * stale socket (remove it), or not a socket at all (refuse, touch
 * nothing). */
static int clear_stale(const struct sockaddr_un *sun)
{
	struct stat st;
	int fd, ret;

	if (lstat(sun->sun_path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) ? -errno
								      : 0;
	close(fd);
	if (!ret || ret == -EAGAIN || ret == -EINPROGRESS)
		return -EADDRINUSE;
	if (ret != -ECONNREFUSED && ret != -ENOENT)
		return ret;
	log_info("UAPI: removing stale socket %s", sun->sun_path);
	if (unlink(sun->sun_path) && errno != ENOENT)
		return -errno;
	return 0;
}

static int open_listener(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd, ret;

	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = bind_private(fd, &sun);
	if (ret == -EADDRINUSE) {
		ret = clear_stale(&sun);
		if (!ret)
			ret = bind_private(fd, &sun);
	}
	if (!ret && listen(fd, 64))
		ret = -errno;
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

/* An inherited descriptor must be a listening UNIX stream socket; its
 * bound path, if it has one, is the file to watch and to unlink. */
static int adopt_listener(struct wg_uapi_server *s, int fd)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof(int);
	int v;

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len))
		return -errno;
	if (v != AF_UNIX)
		return -EINVAL;
	len = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len))
		return -errno;
	if (!v)
		return -EINVAL;
	len = sizeof(sun);
	memset(&sun, 0, sizeof(sun));
	if (getsockname(fd, (struct sockaddr *)&sun, &len))
		return -errno;
	/* An unnamed or abstract socket has no file: nothing to watch or
	 * unlink, whatever the path given. */
	s->path[0] = '\0';
	if (len > offsetof(struct sockaddr_un, sun_path) && sun.sun_path[0] &&
	    strnlen(sun.sun_path, sizeof(sun.sun_path)) < sizeof(s->path))
		strcpy(s->path, sun.sun_path);
	v = fcntl(fd, F_GETFL);
	if (v < 0 || fcntl(fd, F_SETFL, v | O_NONBLOCK) ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC))
		return -errno;
	s->listen_fd = fd;
	return 0;
}

static int watch_path(struct wg_uapi_server *s)
{
	struct stat st;

	if (!s->path[0] || lstat(s->path, &st) || !S_ISSOCK(st.st_mode))
		return 0; /* nothing of ours to watch */
	s->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->inotify_fd < 0)
		return -errno;
	/* Unlinking a bound socket file changes its link count
	 * (IN_ATTRIB); the inode itself lives on while we hold it. */
	if (inotify_add_watch(s->inotify_fd, s->path,
			      IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF) < 0)
		return -errno;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->watching = true;
	return 0;
}

static int start_thread(struct wg_uapi_server *s)
{
	sigset_t all, old;
	int ret;

	/* Signals are for the main thread; this one must never take one. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&s->thread, NULL, server_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!ret)
		pthread_setname_np(s->thread, "wg-uapi");
	return ret;
}

int wg_uapi_server_start_at(struct wg_uapi_server **out, const char *path,
			    int inherited_fd, const struct wg_uapi_ops *ops,
			    void *ctx)
{
	struct wg_uapi_server *s;
	int ret;

	if (!ops || !ops->get || !ops->get_free || !ops->set || !path)
		return -EINVAL;
	if (strlen(path) >= sizeof(s->path))
		return -ENAMETOOLONG;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ops = ops;
	s->ctx = ctx;
	s->inotify_fd = -1;
	strcpy(s->path, path);
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->stop_fd < 0) {
		ret = -errno;
		goto err_free;
	}
	if (inherited_fd >= 0) {
		ret = adopt_listener(s, inherited_fd);
	} else {
		ret = open_listener(path);
		s->listen_fd = ret;
		ret = ret < 0 ? ret : 0;
	}
	if (ret)
		goto err_close_stop;
	ret = watch_path(s);
	if (ret)
		goto err_close_listener;
	ret = start_thread(s);
	if (ret)
		goto err_close_listener;
	log_info("UAPI: listening on %s", s->path[0] ? s->path : "(inherited)");
	*out = s;
	return 0;

err_close_listener:
	if (s->inotify_fd >= 0)
		close(s->inotify_fd);
	if (inherited_fd < 0) {
		close(s->listen_fd);
		unlink(s->path);
	}
err_close_stop:
	close(s->stop_fd);
err_free:
	free(s);
	return ret;
}

static int make_dir(const char *dir)
{
	char buf[sizeof(WG_UAPI_SOCKET_DIR)], *p, c;

	strcpy(buf, dir);
	for (p = buf + 1;; p++) {
		if (*p != '/' && *p)
			continue;
		c = *p;
		*p = '\0';
		/* 0755 whatever the daemon's umask, as wireguard-go makes it:
		 * wg(8) lists the folder as any user. */
		if (!mkdir(buf, 0755))
			chmod(buf, 0755);
		else if (errno != EEXIST)
			return -errno;
		*p = c;
		if (!c)
			return 0;
	}
}

int wg_uapi_socket_path(char *path, size_t size, const char *ifname)
{
	int n;

	if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ ||
	    strchr(ifname, '/') || !strcmp(ifname, ".") ||
	    !strcmp(ifname, ".."))
		return -EINVAL;
	n = snprintf(path, size, "%s/%s.sock", WG_UAPI_SOCKET_DIR, ifname);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int wg_uapi_server_start(struct wg_uapi_server **out, const char *ifname,
			 int inherited_fd, const struct wg_uapi_ops *ops,
			 void *ctx)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int ret;

	ret = wg_uapi_socket_path(path, sizeof(path), ifname);
	if (ret)
		return ret;
	if (inherited_fd < 0) {
		ret = make_dir(WG_UAPI_SOCKET_DIR);
		if (ret) {
			log_err("UAPI: cannot create %s: %s",
				WG_UAPI_SOCKET_DIR, strerror(-ret));
			return ret;
		}
	}
	ret = wg_uapi_server_start_at(out, path, inherited_fd, ops, ctx);
	if (ret)
		log_err("UAPI: cannot listen on %s: %s", path, strerror(-ret));
	return ret;
}

void wg_uapi_server_stop(struct wg_uapi_server *s)
{
	uint64_t one = 1;
	struct stat st;

	if (!s)
		return;
	/* Not from socket_gone: this joins the thread that calls it. */
	assert(!pthread_equal(pthread_self(), s->thread));
	if (write(s->stop_fd, &one, sizeof(one)) != sizeof(one))
		log_err("UAPI: cannot signal the server thread: %s",
			strerror(errno));
	pthread_join(s->thread, NULL);
	close(s->listen_fd);
	if (s->inotify_fd >= 0)
		close(s->inotify_fd);
	close(s->stop_fd);
	/* Unlink only our own file, not a newer daemon's socket. */
	if (s->watching && !lstat(s->path, &st) && st.st_dev == s->dev &&
	    st.st_ino == s->ino)
		unlink(s->path);
	free(s);
}
