// SPDX-License-Identifier: MIT
/*
 * The UAPI: set requests parse to the right structure or fail with a
 * message naming the line; get replies are byte-exact; a formatted reply
 * parses back to the same device; the socket server answers real
 * clients, survives bad and stuck ones, and reports its file's deletion;
 * and the stats=1 client (wgpipe show) reads replies right, or says why
 * it could not.
 * Server tests run at a socket path in a fresh temporary folder
 * (wg_uapi_server_start_at), never in /var/run/wireguard.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <grp.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "log.h"
#include "testlib.h"
#include "uapi.h"
#include "uapi_client.h"

#define PRIV "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a"
#define PRIV_UC                                                                \
	"E84B5A6D2717C1003A13B431570353DBACA9146CF150C5F8575680FEBA52027A"
#define PUB1 "b85996fecc9c7f1fc6d2572a76eda11d59bcd20be8e543b15ce4bd85a8e75a33"
#define PUB2 "58402e695ba1772b1cc9309755f043251ea77fdcf10fbe63989ceb7e19321376"
#define PUB3 "662e14fd594556f522604703340351258903b64f35553763f19426ab2a515c58"
#define PSK "188515093e952f5f22e865cef3012e72f8b5f0b598ac0309d5dacce3b70fcf52"
#define ZERO "0000000000000000000000000000000000000000000000000000000000000000"

/* ------------------------------------------------------------------ */
/* A naive dump of a parsed request, to compare against the tables.    */

struct out {
	char buf[4096];
	size_t len;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o,
						      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	o->len += (size_t)vsnprintf(o->buf + o->len, sizeof(o->buf) - o->len,
				    fmt, ap);
	va_end(ap);
	ck_assert_uint_lt(o->len, sizeof(o->buf));
}

static void put_hex(struct out *o, const uint8_t *k)
{
	int i;

	for (i = 0; i < WG_KEY_LEN; i++)
		put(o, "%02x", k[i]);
}

static void put_endpoint(struct out *o, const union wg_sockaddr *ep)
{
	char a[INET6_ADDRSTRLEN];

	if (ep->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &ep->in4.sin_addr, a, sizeof(a));
		put(o, " ep=%s:%u", a, ntohs(ep->in4.sin_port));
	} else if (ep->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &ep->in6.sin6_addr, a, sizeof(a));
		put(o, " ep=[%s]:%u", a, ntohs(ep->in6.sin6_port));
		if (ep->in6.sin6_scope_id)
			put(o, "%%%u", ep->in6.sin6_scope_id);
	} else {
		put(o, " ep=family%d", ep->sa.sa_family);
	}
}

static void put_allowedip(struct out *o, const struct wg_uapi_allowedip *a)
{
	char s[INET6_ADDRSTRLEN];

	ck_assert(a->family == AF_INET || a->family == AF_INET6);
	inet_ntop(a->family, a->ip, s, sizeof(s));
	put(o, " %c%s/%u", a->remove ? '-' : '+', s, a->cidr);
}

static const char *dump_set(struct out *o, const struct wg_uapi_set *s)
{
	size_t i, j;

	o->len = 0;
	o->buf[0] = '\0';
	if (s->has_private_key) {
		put(o, "priv=");
		put_hex(o, s->private_key);
		put(o, "\n");
	}
	if (s->has_listen_port)
		put(o, "port=%u\n", s->listen_port);
	if (s->has_fwmark)
		put(o, "fwmark=%u\n", s->fwmark);
	if (s->replace_peers)
		put(o, "replace_peers\n");
	for (i = 0; i < s->n_peers; i++) {
		const struct wg_uapi_peer *p = &s->peers[i];

		put(o, "peer=");
		put_hex(o, p->public_key);
		if (p->remove)
			put(o, " remove");
		if (p->update_only)
			put(o, " update_only");
		if (p->has_preshared_key) {
			put(o, " psk=");
			put_hex(o, p->preshared_key);
		}
		if (p->has_endpoint)
			put_endpoint(o, &p->endpoint);
		if (p->has_persistent_keepalive)
			put(o, " ka=%u", p->persistent_keepalive_interval);
		if (p->replace_allowed_ips)
			put(o, " replace_ips");
		for (j = 0; j < p->n_allowedips; j++)
			put_allowedip(o, &p->allowedips[j]);
		put(o, "\n");
	}
	return o->buf;
}

/* ------------------------------------------------------------------ */
/* Valid requests                                                       */

struct good_case {
	const char *name;
	const char *body;
	const char *want;
};

/* clang-format off */
static const struct good_case good[] = {
	{ "empty request", "", "" },
	{ "private key", "private_key=" PRIV "\n", "priv=" PRIV "\n" },
	{ "private key, upper case hex", "private_key=" PRIV_UC "\n",
	  "priv=" PRIV "\n" },
	{ "private key all zero removes it", "private_key=" ZERO "\n",
	  "priv=" ZERO "\n" },
	{ "listen_port 0", "listen_port=0\n", "port=0\n" },
	{ "listen_port 51820", "listen_port=51820\n", "port=51820\n" },
	{ "listen_port 65535", "listen_port=65535\n", "port=65535\n" },
	{ "listen_port with leading zeros", "listen_port=00080\n",
	  "port=80\n" },
	{ "fwmark 0 is off", "fwmark=0\n", "fwmark=0\n" },
	{ "fwmark max", "fwmark=4294967295\n", "fwmark=4294967295\n" },
	{ "replace_peers", "replace_peers=true\n", "replace_peers\n" },
	{ "last value wins", "listen_port=1\nlisten_port=2\n", "port=2\n" },
	{ "no newline after the last line", "listen_port=7", "port=7\n" },
	{ "CRLF line ends", "listen_port=7\r\nfwmark=9\r\n",
	  "port=7\nfwmark=9\n" },
	{ "bare peer", "public_key=" PUB1 "\n", "peer=" PUB1 "\n" },
	{ "wg setconf style",
	  "private_key=" PRIV "\nlisten_port=51820\nfwmark=4660\n"
	  "replace_peers=true\n"
	  "public_key=" PUB1 "\npreshared_key=" PSK "\n"
	  "endpoint=192.0.2.1:51820\npersistent_keepalive_interval=25\n"
	  "replace_allowed_ips=true\nallowed_ip=10.0.0.0/8\n"
	  "allowed_ip=fd00::/64\n"
	  "public_key=" PUB2 "\nendpoint=[2001:db8::1]:443\n"
	  "replace_allowed_ips=true\nallowed_ip=0.0.0.0/0\n"
	  "allowed_ip=::/0\n",
	  "priv=" PRIV "\nport=51820\nfwmark=4660\nreplace_peers\n"
	  "peer=" PUB1 " psk=" PSK " ep=192.0.2.1:51820 ka=25 replace_ips"
	  " +10.0.0.0/8 +fd00::/64\n"
	  "peer=" PUB2 " ep=[2001:db8::1]:443 replace_ips +0.0.0.0/0 +::/0\n" },
	{ "remove", "public_key=" PUB1 "\nremove=true\n",
	  "peer=" PUB1 " remove\n" },
	{ "update_only", "public_key=" PUB1 "\nupdate_only=true\n"
	  "persistent_keepalive_interval=0\n",
	  "peer=" PUB1 " update_only ka=0\n" },
	{ "zero preshared key", "public_key=" PUB1 "\npreshared_key=" ZERO "\n",
	  "peer=" PUB1 " psk=" ZERO "\n" },
	{ "protocol_version=1", "public_key=" PUB1 "\nprotocol_version=1\n",
	  "peer=" PUB1 "\n" },
	{ "keepalive max", "public_key=" PUB1
	  "\npersistent_keepalive_interval=65535\n",
	  "peer=" PUB1 " ka=65535\n" },
	{ "endpoint, IPv6 with numeric scope",
	  "public_key=" PUB1 "\nendpoint=[fe80::1%3]:51820\n",
	  "peer=" PUB1 " ep=[fe80::1]:51820%3\n" },
	{ "endpoint, IPv6 with interface scope",
	  "public_key=" PUB1 "\nendpoint=[fe80::1%lo]:1\n", NULL /* lo */ },
	/* Kept as given, as the kernel and wireguard-go keep it. */
	{ "endpoint, v4-mapped IPv6",
	  "public_key=" PUB1 "\nendpoint=[::ffff:192.0.2.9]:9\n",
	  "peer=" PUB1 " ep=[::ffff:192.0.2.9]:9\n" },
	{ "endpoint, v4-mapped IPv6 with a scope",
	  "public_key=" PUB1 "\nendpoint=[::ffff:192.0.2.9%1]:9\n",
	  "peer=" PUB1 " ep=[::ffff:192.0.2.9]:9%1\n" },
	/* wg(8) sends port 0 as given; the kernel and wireguard-go take it. */
	{ "endpoint port 0", "public_key=" PUB1 "\nendpoint=192.0.2.1:0\n",
	  "peer=" PUB1 " ep=192.0.2.1:0\n" },
	{ "endpoint port 0, IPv6",
	  "public_key=" PUB1 "\nendpoint=[2001:db8::1]:0\n",
	  "peer=" PUB1 " ep=[2001:db8::1]:0\n" },
	{ "endpoint port with leading zeros",
	  "public_key=" PUB1 "\nendpoint=192.0.2.1:000000051820\n",
	  "peer=" PUB1 " ep=192.0.2.1:51820\n" },
	{ "endpoint port 65535", "public_key=" PUB1 "\nendpoint=1.2.3.4:65535\n",
	  "peer=" PUB1 " ep=1.2.3.4:65535\n" },
	{ "allowed IPs at the edges",
	  "public_key=" PUB1 "\nallowed_ip=0.0.0.0/0\n"
	  "allowed_ip=192.0.2.7/32\nallowed_ip=::/0\n"
	  "allowed_ip=2001:db8::7/128\nallowed_ip=::ffff:10.0.0.1/128\n",
	  "peer=" PUB1 " +0.0.0.0/0 +192.0.2.7/32 +::/0 +2001:db8::7/128"
	  " +::ffff:10.0.0.1/128\n" },
	{ "allowed IP host bits are cleared",
	  "public_key=" PUB1 "\nallowed_ip=10.1.2.3/8\n"
	  "allowed_ip=192.168.255.255/20\nallowed_ip=2001:db8:ffff::1/35\n",
	  "peer=" PUB1 " +10.0.0.0/8 +192.168.240.0/20 +2001:db8:e000::/35\n" },
	{ "allowed IP removal",
	  "public_key=" PUB1 "\nallowed_ip=-10.0.0.0/8\nallowed_ip=-::/0\n"
	  "allowed_ip=192.0.2.0/24\n",
	  "peer=" PUB1 " -10.0.0.0/8 -::/0 +192.0.2.0/24\n" },
	{ "replace_allowed_ips drops the block's earlier allowed IPs",
	  "public_key=" PUB1 "\nallowed_ip=10.0.0.0/8\n"
	  "replace_allowed_ips=true\nallowed_ip=10.9.0.0/16\n",
	  "peer=" PUB1 " replace_ips +10.9.0.0/16\n" },
	{ "one key heading two blocks",
	  "public_key=" PUB1 "\nallowed_ip=10.0.0.0/8\n"
	  "public_key=" PUB2 "\nremove=true\n"
	  "public_key=" PUB1 "\nallowed_ip=-10.0.0.0/8\n",
	  "peer=" PUB1 " +10.0.0.0/8\npeer=" PUB2 " remove\n"
	  "peer=" PUB1 " -10.0.0.0/8\n" },
	{ "public key, upper case", "public_key=" PRIV_UC "\n",
	  "peer=" PRIV "\n" },
};
/* clang-format on */

START_TEST(test_parse_good)
{
	const struct good_case *c = &good[_i];
	struct wg_uapi_set s;
	char err[256];
	struct out o;
	const char *want = c->want;
	char lo[128];
	int ret;

	if (!want) {
		/* The scope by name: whatever index "lo" has here. */
		snprintf(lo, sizeof(lo), "peer=" PUB1 " ep=[fe80::1]:1%%%u\n",
			 if_nametoindex("lo"));
		want = lo;
	}
	ret = wg_uapi_parse_set(c->body, strlen(c->body), &s, err, sizeof(err));
	ck_assert_msg(ret == 0, "%s: %d (%s)", c->name, ret, err);
	ck_assert_str_eq(dump_set(&o, &s), want);
	wg_uapi_set_free(&s);
	ck_assert_uint_eq(s.n_peers, 0);
	ck_assert_ptr_null(s.peers);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Malformed requests                                                   */

struct bad_case {
	const char *name;
	const char *body;
	int ret;
	const char *msg; /* must appear in the message */
};

/* clang-format off */
#define P "public_key=" PUB1 "\n"

static const struct bad_case bad[] = {
	{ "bad hex in private key",
	  "private_key=" "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f857"
	  "5680feba52027g\n", -EINVAL, "line 1 (private_key)" },
	{ "private key too short", "private_key=" "e84b5a6d2717c1003a13b4315"
	  "70353dbaca9146cf150c5f8575680feba5202\n", -EINVAL,
	  "62 characters" },
	{ "private key too long", "private_key=" PRIV "00\n", -EINVAL,
	  "66 characters" },
	{ "private key empty", "private_key=\n", -EINVAL, "private_key" },
	{ "public key bad hex", "public_key=" "x" PUB1 "\n", -EINVAL,
	  "public_key" },
	{ "public key short", "public_key=abcd\n", -EINVAL, "4 characters" },
	{ "preshared key bad", P "preshared_key=" PSK "f\n", -EINVAL,
	  "line 2 (preshared_key)" },
	{ "listen_port 65536", "listen_port=65536\n", -EINVAL,
	  "line 1 (listen_port): want a number from 0 to 65535" },
	{ "listen_port negative", "listen_port=-1\n", -EINVAL, "listen_port" },
	{ "listen_port with plus", "listen_port=+1\n", -EINVAL, "listen_port" },
	{ "listen_port empty", "listen_port=\n", -EINVAL, "listen_port" },
	{ "listen_port not a number", "listen_port=80a\n", -EINVAL,
	  "line 1 (listen_port): want a number from 0 to 65535" },
	{ "listen_port with a space", "listen_port= 80\n", -EINVAL,
	  "listen_port" },
	{ "listen_port huge", "listen_port=99999999999999999999999\n",
	  -EINVAL, "listen_port" },
	{ "fwmark 2^32", "fwmark=4294967296\n", -EINVAL, "fwmark" },
	{ "fwmark hex", "fwmark=0x10\n", -EINVAL, "fwmark" },
	{ "keepalive 65536", P "persistent_keepalive_interval=65536\n",
	  -EINVAL, "persistent_keepalive_interval" },
	{ "allowed IP v4 /33", P "allowed_ip=10.0.0.0/33\n", -EINVAL,
	  "line 2 (allowed_ip): want [-]address/cidr" },
	{ "allowed IP v6 /129", P "allowed_ip=::/129\n", -EINVAL,
	  "line 2 (allowed_ip)" },
	{ "allowed IP without cidr", P "allowed_ip=10.0.0.1\n", -EINVAL,
	  "allowed_ip" },
	{ "allowed IP empty cidr", P "allowed_ip=10.0.0.0/\n", -EINVAL,
	  "allowed_ip" },
	{ "allowed IP cidr leading zero", P "allowed_ip=10.0.0.0/08\n",
	  -EINVAL, "allowed_ip" },
	{ "allowed IP negative cidr", P "allowed_ip=10.0.0.0/-1\n", -EINVAL,
	  "allowed_ip" },
	{ "allowed IP bad address", P "allowed_ip=10.0.0.256/8\n", -EINVAL,
	  "allowed_ip" },
	{ "allowed IP short address", P "allowed_ip=10.0.0/8\n", -EINVAL,
	  "allowed_ip" },
	{ "allowed IP with zone", P "allowed_ip=fe80::1%lo/64\n", -EINVAL,
	  "allowed_ip" },
	{ "allowed IP no address", P "allowed_ip=/8\n", -EINVAL, "allowed_ip" },
	{ "allowed IP double minus", P "allowed_ip=--10.0.0.0/8\n", -EINVAL,
	  "allowed_ip" },
	{ "allowed IP trailing space", P "allowed_ip=10.0.0.0/8 \n", -EINVAL,
	  "allowed_ip" },
	{ "allowed IP empty", P "allowed_ip=\n", -EINVAL, "allowed_ip" },
	{ "endpoint without port", P "endpoint=192.0.2.1\n", -EINVAL,
	  "line 2 (endpoint): want a.b.c.d:port or [ipv6]:port" },
	{ "endpoint empty port", P "endpoint=192.0.2.1:\n", -EINVAL,
	  "endpoint" },
	{ "endpoint port 65536", P "endpoint=192.0.2.1:65536\n", -EINVAL,
	  "endpoint" },
	/* 72 characters, the last five of them the port. */
	{ "endpoint too long", P "endpoint=192.0.2.1:"
	  "00000000000000000000000000000000000000000000000000000000051820\n",
	  -EINVAL, "line 2 (endpoint)" },
	{ "endpoint v6 without brackets", P "endpoint=2001:db8::1:51820\n",
	  -EINVAL, "endpoint" },
	{ "endpoint v6 without port", P "endpoint=[2001:db8::1]\n", -EINVAL,
	  "endpoint" },
	{ "endpoint v4 in brackets", P "endpoint=[192.0.2.1]:5\n", -EINVAL,
	  "endpoint" },
	{ "endpoint host name", P "endpoint=example.com:51820\n", -EINVAL,
	  "line 2 (endpoint)" },
	{ "endpoint empty scope", P "endpoint=[fe80::1%]:5\n", -EINVAL,
	  "endpoint" },
	{ "endpoint unknown interface", P "endpoint=[fe80::1%nosuchif0]:5\n",
	  -EINVAL, "endpoint" },
	{ "endpoint short v4", P "endpoint=1.2.3:5\n", -EINVAL, "endpoint" },
	{ "endpoint empty", P "endpoint=\n", -EINVAL, "endpoint" },
	/* An unknown key is not named: it may be a key run together with
	 * its value. */
	{ "unknown interface key", "listen_prot=1\n", -EINVAL,
	  "line 1: unknown key" },
	{ "unknown peer key", P "allowed_ips=10.0.0.0/8\n", -EINVAL,
	  "line 2: unknown key" },
	{ "a get key is not a set key", P "rx_bytes=5\n", -EINVAL,
	  "unknown key" },
	{ "line without '='", "listen_port 51820\n", -EPROTO,
	  "line 1: no '='" },
	{ "interface key after a peer", P "listen_port=1\n", -EINVAL,
	  "line 2 (listen_port): interface key after a public_key" },
	{ "private key after a peer", P "private_key=" PRIV "\n", -EINVAL,
	  "interface key after a public_key" },
	{ "peer key before any public_key", "endpoint=192.0.2.1:1\n",
	  -EINVAL, "line 1 (endpoint): peer key before any public_key" },
	{ "protocol_version=2", P "protocol_version=2\n", -EINVAL,
	  "line 2 (protocol_version): unsupported protocol version" },
	{ "protocol_version=0", P "protocol_version=0\n", -EINVAL,
	  "protocol" },
	{ "protocol_version empty", P "protocol_version=\n", -EINVAL,
	  "protocol" },
	{ "remove=false", P "remove=false\n", -EINVAL,
	  "line 2 (remove): the only value is \"true\"" },
	{ "update_only=1", P "update_only=1\n", -EINVAL, "update_only" },
	{ "replace_peers=True", "replace_peers=True\n", -EINVAL,
	  "replace_peers" },
	{ "replace_allowed_ips=false", P "replace_allowed_ips=false\n",
	  -EINVAL, "replace_allowed_ips" },
	{ "blank line inside the body", "listen_port=1\n\nfwmark=1\n",
	  -EINVAL, "line 2: empty line" },
	{ "NUL inside a line", "listen_port=1\0" "2\n", -EINVAL, "NUL" },
	{ "error after many good lines",
	  "private_key=" PRIV "\nreplace_peers=true\n" P
	  "allowed_ip=10.0.0.0/8\npublic_key=" PUB2 "\nallowed_ip=::/0\n"
	  "endpoint=bogus\n", -EINVAL, "line 7 (endpoint)" },
};
/* clang-format on */

START_TEST(test_parse_bad)
{
	const struct bad_case *c = &bad[_i];
	/* Bodies may hold a NUL: the table's strings end at the final \n. */
	size_t len = strlen(c->body);
	struct wg_uapi_set s;
	char err[256];
	int ret;

	if (strstr(c->name, "NUL"))
		len = sizeof("listen_port=1\0"
			     "2\n") -
		      1;
	memset(err, 'x', sizeof(err));
	ret = wg_uapi_parse_set(c->body, len, &s, err, sizeof(err));
	ck_assert_msg(ret == c->ret, "%s: got %d, want %d", c->name, ret,
		      c->ret);
	ck_assert_msg(strstr(err, c->msg), "%s: message \"%s\" lacks \"%s\"",
		      c->name, err, c->msg);
	ck_assert_msg(!strchr(err, '\n'), "%s: not one line", c->name);
	/* Never key material, not even a mistyped key. */
	ck_assert_msg(!strstr(err, "e84b5a6d") && !strstr(err, "b85996fe") &&
			  !strstr(err, "18851509"),
		      "%s: key material in \"%s\"", c->name, err);
	/* All or nothing: nothing of the request is left. */
	ck_assert(!s.has_private_key && !s.replace_peers && !s.n_peers &&
		  !s.peers);
	wg_uapi_set_free(&s);
}
END_TEST

/* No error message repeats any 8 consecutive characters of a key, for
 * every key-bearing field malformed in every way the parser tells apart:
 * run together with its name, one digit too long or short, a non-hex
 * digit, the value twice over, and a key put in the wrong field or
 * under an unknown name. */
static const char *const key_fields[] = { "private_key", "public_key",
					  "preshared_key" };
enum { LEAK_FORMS = 10 };

/* Malformed line number form, carrying key in field or near it. */
static void leak_line(char *out, size_t size, unsigned int form,
		      const char *field, const char *key)
{
	switch (form) {
	case 0: /* run together */
		snprintf(out, size, "%s%s=1\n", field, key);
		break;
	case 1: /* too long */
		snprintf(out, size, "%s=%s0\n", field, key);
		break;
	case 2: /* too short */
		snprintf(out, size, "%s=%.63s\n", field, key);
		break;
	case 3: /* not hex */
		snprintf(out, size, "%s=g%.63s\n", field, key);
		break;
	case 4: /* twice over */
		snprintf(out, size, "%s=%s%s\n", field, key, key);
		break;
	case 5: /* in a number field */
		snprintf(out, size, "listen_port=%s\n", key);
		break;
	case 6: /* in an endpoint */
		snprintf(out, size, "endpoint=%s:1\n", key);
		break;
	case 7: /* in an allowed IP */
		snprintf(out, size, "allowed_ip=%s/32\n", key);
		break;
	case 8: /* a bare line */
		snprintf(out, size, "%s\n", key);
		break;
	default: /* under an unknown name */
		snprintf(out, size, "x%s=%s\n", field, key);
		break;
	}
}

static void assert_no_window(const char *text, const char *key,
			     const char *what)
{
	char window[9];
	size_t i;

	for (i = 0; i + 8 <= strlen(key); i++) {
		memcpy(window, key + i, 8);
		window[8] = '\0';
		ck_assert_msg(!strstr(text, window),
			      "%s: \"%s\" repeats \"%s\" of the key", what,
			      text, window);
	}
}

START_TEST(test_parse_never_repeats_keys)
{
	const char *field = key_fields[_i / LEAK_FORMS];
	char body[512], line[400], err[256];
	struct wg_uapi_set s;
	int ret;

	/* The key-bearing field where a peer's may stand: after a peer. */
	leak_line(line, sizeof(line), (unsigned int)_i % LEAK_FORMS, field,
		  PRIV);
	snprintf(body, sizeof(body), "%s%s",
		 strcmp(field, "private_key") ? P : "", line);
	ret = wg_uapi_parse_set(body, strlen(body), &s, err, sizeof(err));
	ck_assert_msg(ret < 0, "\"%s\" was accepted", line);
	assert_no_window(err, PRIV, line);
}
END_TEST

START_TEST(test_parse_tiny_err_buffer)
{
	struct wg_uapi_set s;
	char err[8];

	ck_assert_int_eq(wg_uapi_parse_set("x=1", 3, &s, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "line 1:");
	ck_assert_int_eq(wg_uapi_parse_set("x", 1, &s, NULL, 0), -EPROTO);
}
END_TEST

/* ------------------------------------------------------------------ */
/* get formatting                                                       */

static void key(uint8_t k[WG_KEY_LEN], const char *hex)
{
	ck_assert_int_eq(test_unhex(k, WG_KEY_LEN, hex), WG_KEY_LEN);
}

static void ep4(union wg_sockaddr *ep, const char *a, uint16_t port)
{
	memset(ep, 0, sizeof(*ep));
	ep->in4.sin_family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, a, &ep->in4.sin_addr), 1);
	ep->in4.sin_port = htons(port);
}

static void ep6(union wg_sockaddr *ep, const char *a, uint16_t port,
		uint32_t scope)
{
	memset(ep, 0, sizeof(*ep));
	ep->in6.sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, a, &ep->in6.sin6_addr), 1);
	ep->in6.sin6_port = htons(port);
	ep->in6.sin6_scope_id = scope;
}

static struct wg_uapi_allowedip aip(int family, const char *a, uint8_t cidr)
{
	struct wg_uapi_allowedip r = {.family = family, .cidr = cidr};

	ck_assert_int_eq(inet_pton(family, a, r.ip), 1);
	return r;
}

/* The device every server test's stub reports, in allocated memory so
 * that valgrind sees get_free pair with get. */
static void full_device(struct wg_uapi_device_info *d)
{
	struct wg_uapi_peer_info *p = calloc(4, sizeof(*p));

	ck_assert_ptr_nonnull(p);
	memset(d, 0, sizeof(*d));
	d->has_private_key = true;
	key(d->private_key, PRIV);
	d->listen_port = 51820;
	d->fwmark = 4660;
	d->n_peers = 4;
	d->peers = p;

	key(p[0].public_key, PUB1);
	key(p[0].preshared_key, PSK);
	p[0].has_endpoint = true;
	ep4(&p[0].endpoint, "192.0.2.1", 51820);
	p[0].last_handshake_sec = 1700000000;
	p[0].last_handshake_nsec = 123456789;
	p[0].tx_bytes = 1000;
	p[0].rx_bytes = 2000;
	p[0].persistent_keepalive_interval = 25;
	p[0].n_allowedips = 2;
	p[0].allowedips = calloc(2, sizeof(*p[0].allowedips));
	ck_assert_ptr_nonnull(p[0].allowedips);
	p[0].allowedips[0] = aip(AF_INET, "10.0.0.0", 8);
	p[0].allowedips[1] = aip(AF_INET6, "fd00::", 64);

	key(p[1].public_key, PUB2);
	p[1].has_endpoint = true;
	ep6(&p[1].endpoint, "2001:db8::1", 443, 0);
	p[1].rx_bytes = UINT64_MAX;
	p[1].n_allowedips = 2;
	p[1].allowedips = calloc(2, sizeof(*p[1].allowedips));
	ck_assert_ptr_nonnull(p[1].allowedips);
	p[1].allowedips[0] = aip(AF_INET, "0.0.0.0", 0);
	p[1].allowedips[1] = aip(AF_INET6, "::", 0);

	key(p[2].public_key, PUB3);
	p[2].has_endpoint = true;
	ep6(&p[2].endpoint, "fe80::1", 51820, 3);
	p[2].persistent_keepalive_interval = 65535;

	/* No endpoint, no allowed IPs. */
	key(p[3].public_key, PRIV);
}

static void free_device(struct wg_uapi_device_info *d)
{
	size_t i;

	for (i = 0; i < d->n_peers; i++)
		free(d->peers[i].allowedips);
	free(d->peers);
	memset(d, 0, sizeof(*d));
}

/* clang-format off */
#define FULL_TEXT                                                          \
	"private_key=" PRIV "\n"                                           \
	"listen_port=51820\n"                                              \
	"fwmark=4660\n"                                                    \
	"public_key=" PUB1 "\n"                                            \
	"preshared_key=" PSK "\n"                                          \
	"protocol_version=1\n"                                             \
	"endpoint=192.0.2.1:51820\n"                                       \
	"last_handshake_time_sec=1700000000\n"                             \
	"last_handshake_time_nsec=123456789\n"                             \
	"tx_bytes=1000\n"                                                  \
	"rx_bytes=2000\n"                                                  \
	"persistent_keepalive_interval=25\n"                               \
	"allowed_ip=10.0.0.0/8\n"                                          \
	"allowed_ip=fd00::/64\n"                                           \
	"public_key=" PUB2 "\n"                                            \
	"preshared_key=" ZERO "\n"                                         \
	"protocol_version=1\n"                                             \
	"endpoint=[2001:db8::1]:443\n"                                     \
	"last_handshake_time_sec=0\n"                                      \
	"last_handshake_time_nsec=0\n"                                     \
	"tx_bytes=0\n"                                                     \
	"rx_bytes=18446744073709551615\n"                                  \
	"persistent_keepalive_interval=0\n"                                \
	"allowed_ip=0.0.0.0/0\n"                                           \
	"allowed_ip=::/0\n"                                                \
	"public_key=" PUB3 "\n"                                            \
	"preshared_key=" ZERO "\n"                                         \
	"protocol_version=1\n"                                             \
	"endpoint=[fe80::1%3]:51820\n"                                     \
	"last_handshake_time_sec=0\n"                                      \
	"last_handshake_time_nsec=0\n"                                     \
	"tx_bytes=0\n"                                                     \
	"rx_bytes=0\n"                                                     \
	"persistent_keepalive_interval=65535\n"                            \
	"public_key=" PRIV "\n"                                            \
	"preshared_key=" ZERO "\n"                                         \
	"protocol_version=1\n"                                             \
	"last_handshake_time_sec=0\n"                                      \
	"last_handshake_time_nsec=0\n"                                     \
	"tx_bytes=0\n"                                                     \
	"rx_bytes=0\n"                                                     \
	"persistent_keepalive_interval=0\n"
/* clang-format on */

static void empty_device(struct wg_uapi_device_info *d)
{
	memset(d, 0, sizeof(*d));
}

static void key_only_device(struct wg_uapi_device_info *d)
{
	memset(d, 0, sizeof(*d));
	d->has_private_key = true;
	key(d->private_key, PRIV);
}

/* The endpoints that the UAPI's parser and socket.c's once treated
 * differently: port 0, and a v4-mapped address. */
static void odd_endpoints_device(struct wg_uapi_device_info *d)
{
	struct wg_uapi_peer_info *p = calloc(3, sizeof(*p));

	ck_assert_ptr_nonnull(p);
	memset(d, 0, sizeof(*d));
	d->n_peers = 3;
	d->peers = p;
	key(p[0].public_key, PUB1);
	p[0].has_endpoint = true;
	ep4(&p[0].endpoint, "192.0.2.1", 0);
	key(p[1].public_key, PUB2);
	p[1].has_endpoint = true;
	ep6(&p[1].endpoint, "2001:db8::1", 0, 0);
	key(p[2].public_key, PUB3);
	p[2].has_endpoint = true;
	ep6(&p[2].endpoint, "::ffff:192.0.2.9", 9, 0);
}

/* clang-format off */
#define PEER_TEXT(pub, endpoint)                                           \
	"public_key=" pub "\n"                                             \
	"preshared_key=" ZERO "\n"                                         \
	"protocol_version=1\n"                                             \
	"endpoint=" endpoint "\n"                                          \
	"last_handshake_time_sec=0\n"                                      \
	"last_handshake_time_nsec=0\n"                                     \
	"tx_bytes=0\n"                                                     \
	"rx_bytes=0\n"                                                     \
	"persistent_keepalive_interval=0\n"
/* clang-format on */

static void port_only_device(struct wg_uapi_device_info *d)
{
	memset(d, 0, sizeof(*d));
	d->listen_port = 1;
	d->fwmark = UINT32_MAX;
}

struct fmt_case {
	const char *name;
	void (*fill)(struct wg_uapi_device_info *d);
	const char *want;
};

/* clang-format off */
static const struct fmt_case fmt[] = {
	{ "full device", full_device, FULL_TEXT },
	{ "nothing configured", empty_device, "" },
	{ "only a private key", key_only_device, "private_key=" PRIV "\n" },
	{ "port and fwmark", port_only_device,
	  "listen_port=1\nfwmark=4294967295\n" },
	{ "port 0 and a v4-mapped endpoint", odd_endpoints_device,
	  PEER_TEXT(PUB1, "192.0.2.1:0") PEER_TEXT(PUB2, "[2001:db8::1]:0")
	  PEER_TEXT(PUB3, "[::ffff:192.0.2.9]:9") },
};
/* clang-format on */

START_TEST(test_format)
{
	struct wg_uapi_device_info d;
	char *text;
	size_t len;

	fmt[_i].fill(&d);
	ck_assert_int_eq(wg_uapi_format_get(&d, &text, &len), 0);
	ck_assert_str_eq(text, fmt[_i].want);
	ck_assert_uint_eq(len, strlen(fmt[_i].want));
	wg_uapi_free_text(text, len);
	free_device(&d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Round trip: get text, minus the get-only keys, is a set request for
 * the same device.                                                     */

static char *get_to_set(const char *text)
{
	static const char *const get_only[] = {
	    "last_handshake_time_sec=", "last_handshake_time_nsec=",
	    "tx_bytes=", "rx_bytes=", NULL};
	char *out = malloc(strlen(text) + 1), *o = out;
	const char *p = text;

	ck_assert_ptr_nonnull(out);
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = (size_t)(nl - p) + 1, i;
		bool keep = true;

		ck_assert_ptr_nonnull(nl);
		for (i = 0; get_only[i]; i++)
			if (!strncmp(p, get_only[i], strlen(get_only[i])))
				keep = false;
		if (keep) {
			memcpy(o, p, n);
			o += n;
		}
		p += n;
	}
	*o = '\0';
	return out;
}

static void assert_same_endpoint(const union wg_sockaddr *a,
				 const union wg_sockaddr *b)
{
	ck_assert_int_eq(a->sa.sa_family, b->sa.sa_family);
	if (a->sa.sa_family == AF_INET) {
		ck_assert_uint_eq(a->in4.sin_port, b->in4.sin_port);
		ck_assert(!memcmp(&a->in4.sin_addr, &b->in4.sin_addr, 4));
	} else {
		ck_assert_uint_eq(a->in6.sin6_port, b->in6.sin6_port);
		ck_assert_uint_eq(a->in6.sin6_scope_id, b->in6.sin6_scope_id);
		ck_assert(!memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16));
	}
}

static void assert_round_trip(const struct wg_uapi_device_info *d)
{
	struct wg_uapi_set s;
	char *text, *body, err[256];
	size_t len, i, j;
	int ret;

	ck_assert_int_eq(wg_uapi_format_get(d, &text, &len), 0);
	body = get_to_set(text);
	ret = wg_uapi_parse_set(body, strlen(body), &s, err, sizeof(err));
	ck_assert_msg(ret == 0, "%s\nin:\n%s", err, body);
	ck_assert_int_eq(s.has_private_key, d->has_private_key);
	if (d->has_private_key)
		ck_assert(!memcmp(s.private_key, d->private_key, WG_KEY_LEN));
	ck_assert_int_eq(s.has_listen_port, d->listen_port != 0);
	ck_assert_uint_eq(s.listen_port, d->listen_port);
	ck_assert_int_eq(s.has_fwmark, d->fwmark != 0);
	ck_assert_uint_eq(s.fwmark, d->fwmark);
	ck_assert(!s.replace_peers);
	ck_assert_uint_eq(s.n_peers, d->n_peers);
	for (i = 0; i < d->n_peers; i++) {
		const struct wg_uapi_peer_info *a = &d->peers[i];
		const struct wg_uapi_peer *b = &s.peers[i];

		ck_assert(!memcmp(a->public_key, b->public_key, WG_KEY_LEN));
		ck_assert(b->has_preshared_key);
		ck_assert(
		    !memcmp(a->preshared_key, b->preshared_key, WG_KEY_LEN));
		ck_assert_int_eq(a->has_endpoint, b->has_endpoint);
		if (a->has_endpoint)
			assert_same_endpoint(&a->endpoint, &b->endpoint);
		ck_assert(b->has_persistent_keepalive);
		ck_assert_uint_eq(a->persistent_keepalive_interval,
				  b->persistent_keepalive_interval);
		ck_assert(!b->remove && !b->update_only &&
			  !b->replace_allowed_ips);
		ck_assert_uint_eq(a->n_allowedips, b->n_allowedips);
		for (j = 0; j < a->n_allowedips; j++) {
			const struct wg_uapi_allowedip *x = &a->allowedips[j];
			const struct wg_uapi_allowedip *y = &b->allowedips[j];

			ck_assert_int_eq(x->family, y->family);
			ck_assert_uint_eq(x->cidr, y->cidr);
			ck_assert(!y->remove);
			ck_assert(!memcmp(x->ip, y->ip,
					  x->family == AF_INET ? 4 : 16));
		}
	}
	wg_uapi_set_free(&s);
	free(body);
	wg_uapi_free_text(text, len);
}

START_TEST(test_round_trip_fixed)
{
	struct wg_uapi_device_info d;

	fmt[_i].fill(&d);
	assert_round_trip(&d);
	free_device(&d);
}
END_TEST

static void random_prefix(uint64_t *seed, struct wg_uapi_allowedip *a)
{
	unsigned int bytes, i;

	memset(a, 0, sizeof(*a));
	a->family = test_random_u64(seed) % 2 ? AF_INET : AF_INET6;
	bytes = a->family == AF_INET ? 4 : 16;
	a->cidr = (uint8_t)(test_random_u64(seed) % (bytes * 8 + 1));
	test_random_bytes(seed, a->ip, bytes);
	/* Clear the host bits, as the parser will. */
	for (i = 0; i < bytes * 8; i++)
		if (i >= a->cidr)
			a->ip[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
}

static void random_device(uint64_t *seed, struct wg_uapi_device_info *d)
{
	size_t i, j;

	memset(d, 0, sizeof(*d));
	d->has_private_key = test_random_u64(seed) % 4 != 0;
	test_random_bytes(seed, d->private_key, WG_KEY_LEN);
	d->listen_port =
	    (uint16_t)(test_random_u64(seed) % 3 ? test_random_u64(seed) : 0);
	d->fwmark =
	    (uint32_t)(test_random_u64(seed) % 3 ? 0 : test_random_u64(seed));
	d->n_peers = test_random_u64(seed) % 6;
	d->peers = calloc(d->n_peers + 1, sizeof(*d->peers));
	ck_assert_ptr_nonnull(d->peers);
	for (i = 0; i < d->n_peers; i++) {
		struct wg_uapi_peer_info *p = &d->peers[i];
		uint16_t port = (uint16_t)test_random_u64(seed);

		test_random_bytes(seed, p->public_key, WG_KEY_LEN);
		if (test_random_u64(seed) % 2)
			test_random_bytes(seed, p->preshared_key, WG_KEY_LEN);
		switch (test_random_u64(seed) % 4) {
		case 1:
			p->has_endpoint = true;
			p->endpoint.in4.sin_family = AF_INET;
			p->endpoint.in4.sin_port = htons(port);
			test_random_bytes(seed, &p->endpoint.in4.sin_addr, 4);
			break;
		case 2:
			p->has_endpoint = true;
			p->endpoint.in6.sin6_family = AF_INET6;
			p->endpoint.in6.sin6_port = htons(port);
			test_random_bytes(seed, &p->endpoint.in6.sin6_addr, 16);
			if (test_random_u64(seed) % 2)
				p->endpoint.in6.sin6_scope_id =
				    (uint32_t)test_random_u64(seed);
			break;
		case 3: /* v4-mapped */
			p->has_endpoint = true;
			p->endpoint.in6.sin6_family = AF_INET6;
			p->endpoint.in6.sin6_port = htons(port);
			p->endpoint.in6.sin6_addr.s6_addr[10] = 0xff;
			p->endpoint.in6.sin6_addr.s6_addr[11] = 0xff;
			test_random_bytes(
			    seed, &p->endpoint.in6.sin6_addr.s6_addr[12], 4);
			break;
		}
		p->last_handshake_sec = (int64_t)(test_random_u64(seed) >> 1);
		p->last_handshake_nsec =
		    (int64_t)(test_random_u64(seed) % 1000000000);
		p->rx_bytes = test_random_u64(seed);
		p->tx_bytes = test_random_u64(seed);
		p->persistent_keepalive_interval =
		    (uint16_t)test_random_u64(seed);
		p->n_allowedips = test_random_u64(seed) % 8;
		p->allowedips =
		    calloc(p->n_allowedips + 1, sizeof(*p->allowedips));
		ck_assert_ptr_nonnull(p->allowedips);
		for (j = 0; j < p->n_allowedips; j++)
			random_prefix(seed, &p->allowedips[j]);
	}
}

START_TEST(test_round_trip_random)
{
	uint64_t seed = 0x5eed0000u + (uint64_t)_i;
	int round;

	for (round = 0; round < 200; round++) {
		struct wg_uapi_device_info d;

		random_device(&seed, &d);
		assert_round_trip(&d);
		free_device(&d);
	}
}
END_TEST

/* What endpoint= in a set request becomes in the get reply, once the
 * daemon holds the parsed endpoint; the get line, set again, reads the
 * same. The cases where the UAPI's parser and socket.c's once differed. */
struct set_get_case {
	const char *set, *get;
};

static const struct set_get_case set_get[] = {
    {"192.0.2.1:51820", "192.0.2.1:51820"},
    {"192.0.2.1:0", "192.0.2.1:0"},
    {"[2001:db8::1]:0", "[2001:db8::1]:0"},
    {"[::ffff:192.0.2.9]:9", "[::ffff:192.0.2.9]:9"},
    {"[::FFFF:c000:209%01]:9", "[::ffff:192.0.2.9%1]:9"},
    {"192.0.2.1:000080", "192.0.2.1:80"},
    {"[fe80::1%lo]:51820", "[fe80::1%1]:51820"},
    {"[FE80::1%0001]:51820", "[fe80::1%1]:51820"},
};

START_TEST(test_set_get_endpoint)
{
	const struct set_get_case *c = &set_get[_i];
	struct wg_uapi_peer_info peer = {0};
	struct wg_uapi_device_info d = {.n_peers = 1, .peers = &peer};
	struct wg_uapi_set s;
	char body[256], want[128], err[256], *text;
	const char *value = c->set;
	size_t len;
	int round;

	snprintf(want, sizeof(want), "\nendpoint=%s\n", c->get);
	for (round = 0; round < 2; round++, value = c->get) {
		snprintf(body, sizeof(body),
			 "public_key=" PUB1 "\nendpoint=%s\n", value);
		ck_assert_msg(wg_uapi_parse_set(body, strlen(body), &s, err,
						sizeof(err)) == 0,
			      "endpoint=%s: %s", value, err);
		ck_assert_uint_eq(s.n_peers, 1);
		ck_assert(s.peers[0].has_endpoint);
		memcpy(peer.public_key, s.peers[0].public_key, WG_KEY_LEN);
		peer.has_endpoint = true;
		peer.endpoint = s.peers[0].endpoint;
		wg_uapi_set_free(&s);
		ck_assert_int_eq(wg_uapi_format_get(&d, &text, &len), 0);
		ck_assert_msg(strstr(text, want), "set endpoint=%s, get:\n%s",
			      value, text);
		wg_uapi_free_text(text, len);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* The server, against a stub daemon                                   */

struct stub {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int gets, get_frees, sets, stats, gone;
	int get_ret, set_ret, stats_ret;
	struct out last_set; /* dump of the last request given to set */
	size_t last_peers, last_ips; /* its peer blocks and allowed IPs */
};

static int stub_get(void *ctx, struct wg_uapi_device_info *info)
{
	struct stub *st = ctx;

	pthread_mutex_lock(&st->lock);
	st->gets++;
	pthread_mutex_unlock(&st->lock);
	if (st->get_ret)
		return st->get_ret;
	full_device(info);
	return 0;
}

static void stub_get_free(void *ctx, struct wg_uapi_device_info *info)
{
	struct stub *st = ctx;

	pthread_mutex_lock(&st->lock);
	st->get_frees++;
	pthread_mutex_unlock(&st->lock);
	free_device(info);
}

static int stub_set(void *ctx, const struct wg_uapi_set *set, char *err,
		    size_t errlen)
{
	struct stub *st = ctx;

	size_t i, ips = 0;

	for (i = 0; i < set->n_peers; i++)
		ips += set->peers[i].n_allowedips;
	pthread_mutex_lock(&st->lock);
	st->sets++;
	st->last_peers = set->n_peers;
	st->last_ips = ips;
	if (ips < 64 && set->n_peers < 16)
		dump_set(&st->last_set, set);
	pthread_mutex_unlock(&st->lock);
	if (st->set_ret)
		snprintf(err, errlen, "the stub says no");
	return st->set_ret;
}

#define STATS_TEXT "tun_rx_packets=3\ndrop_replay=0\ncrypto=portable\n"

static int stub_stats(void *ctx, char **text, size_t *len)
{
	struct stub *st = ctx;

	pthread_mutex_lock(&st->lock);
	st->stats++;
	pthread_mutex_unlock(&st->lock);
	if (st->stats_ret)
		return st->stats_ret;
	*text = strdup(STATS_TEXT);
	*len = strlen(STATS_TEXT);
	return *text ? 0 : -ENOMEM;
}

static void stub_gone(void *ctx)
{
	struct stub *st = ctx;

	pthread_mutex_lock(&st->lock);
	st->gone++;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
}

static const struct wg_uapi_ops stub_ops = {
    .get = stub_get,
    .get_free = stub_get_free,
    .set = stub_set,
    .stats = stub_stats,
    .socket_gone = stub_gone,
};

/* A daemon that predates stats=1, or chose not to answer it. */
static const struct wg_uapi_ops stub_ops_no_stats = {
    .get = stub_get,
    .get_free = stub_get_free,
    .set = stub_set,
    .socket_gone = stub_gone,
};

struct fixture {
	char dir[64];
	char path[128];
	struct stub st;
	struct wg_uapi_server *srv;
};

static void fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	strcpy(f->dir, "/tmp/check_uapi.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/wgtest0.sock", f->dir);
	pthread_mutex_init(&f->st.lock, NULL);
	pthread_cond_init(&f->st.cond, NULL);
}

static void fixture_start_ops(struct fixture *f, const struct wg_uapi_ops *ops)
{
	ck_assert_int_eq(
	    wg_uapi_server_start_at(&f->srv, f->path, -1, ops, &f->st), 0);
}

static void fixture_start(struct fixture *f)
{
	fixture_start_ops(f, &stub_ops);
}

static void fixture_done(struct fixture *f)
{
	wg_uapi_server_stop(f->srv);
	f->srv = NULL;
	unlink(f->path);
	ck_assert_int_eq(rmdir(f->dir), 0);
	pthread_cond_destroy(&f->st.cond);
	pthread_mutex_destroy(&f->st.lock);
}

static int client_connect(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 15};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	strcpy(sun.sun_path, path);
	ck_assert_msg(!connect(fd, (struct sockaddr *)&sun, sizeof(sun)),
		      "connect %s: %s", path, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		ck_assert_msg(w > 0, "send: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

/*
 * Everything the server sends until it closes (or the 15 s timeout). A
 * UNIX socket closed with bytes of ours still unread ends in ECONNRESET
 * rather than EOF, once what it sent has been read: both mean closed.
 */
static char *read_to_eof(int fd)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	ssize_t n;

	ck_assert_ptr_nonnull(buf);
	while ((n = recv(fd, buf + len, cap - len - 1, 0)) > 0) {
		len += (size_t)n;
		ck_assert_uint_lt(len, cap - 1);
	}
	ck_assert_msg(n == 0 || errno == ECONNRESET, "recv: %s",
		      n < 0 ? strerror(errno) : "");
	buf[len] = '\0';
	return buf;
}

/* One reply on a connection kept open: up to an "errno=N\n\n" line. */
static char *read_reply(int fd)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);

	ck_assert_ptr_nonnull(buf);
	for (;;) {
		ssize_t n = recv(fd, buf + len, 1, 0);
		char *p;

		ck_assert_msg(n == 1, "reply cut short: %s",
			      n < 0 ? strerror(errno) : "EOF");
		buf[++len] = '\0';
		if (len < 2 || strcmp(buf + len - 2, "\n\n"))
			continue;
		for (p = buf + len - 2; p > buf && p[-1] != '\n'; p--)
			;
		if (!strncmp(p, "errno=", 6))
			return buf;
	}
}

struct exchange {
	const char *name;
	const char *request;
	const char *reply; /* all the server sends until it hangs up */
	int get_ret, set_ret;
	int gets, sets;
	const char *last_set;
};

/* clang-format off */
static const struct exchange exchanges[] = {
	{ "get", "get=1\n\n", FULL_TEXT "errno=0\n\n", 0, 0, 1, 0, NULL },
	{ "set", "set=1\nlisten_port=4242\n\n", "errno=0\n\n", 0, 0, 0, 1,
	  "port=4242\n" },
	{ "empty set", "set=1\n\n", "errno=0\n\n", 0, 0, 0, 1, "" },
	{ "several requests on one connection",
	  "get=1\n\nset=1\nfwmark=3\n\nget=1\n\n",
	  FULL_TEXT "errno=0\n\nerrno=0\n\n" FULL_TEXT "errno=0\n\n", 0, 0, 2,
	  1, "fwmark=3\n" },
	{ "bad set, then a good one on the same connection",
	  "set=1\nlisten_port=65536\n\nset=1\nlisten_port=5\n\n",
	  "errno=-22\n\nerrno=0\n\n", 0, 0, 0, 1, "port=5\n" },
	{ "line without '='", "set=1\nlisten_port\n\n", "errno=-71\n\n", 0, 0,
	  0, 0, NULL },
	{ "set refused by the daemon", "set=1\nlisten_port=1\n\n",
	  "errno=-98\n\n", 0, -EADDRINUSE, 0, 1, "port=1\n" },
	{ "get failing in the daemon", "get=1\n\n", "errno=5\n\n", -EIO, 0,
	  1, 0, NULL },
	{ "unknown operation hangs up", "hello=1\n\nget=1\n\n",
	  "errno=-22\n\n", 0, 0, 0, 0, NULL },
	{ "get=1 with trailing bytes hangs up", "get=1\nx\nget=1\n\n",
	  "errno=22\n\n", 0, 0, 0, 0, NULL },
	{ "set closed by half-close", "set=1\nlisten_port=7\n", "errno=0\n\n",
	  0, 0, 0, 1, "port=7\n" },
	{ "operation line ending in CRLF is unknown", "set=1\r\n\r\n", "errno=-22\n\n", 0, 0, 0, 0,
	  NULL },
	{ "CR before the blank line's LF", "set=1\nlisten_port=9\r\n\r\n",
	  "errno=0\n\n", 0, 0, 0, 1, "port=9\n" },
	{ "full setconf",
	  "set=1\nprivate_key=" PRIV "\nreplace_peers=true\n"
	  "public_key=" PUB1 "\nendpoint=[2001:db8::2]:51820\n"
	  "replace_allowed_ips=true\nallowed_ip=10.0.0.0/8\n\n",
	  "errno=0\n\n", 0, 0, 0, 1,
	  "priv=" PRIV "\nreplace_peers\npeer=" PUB1
	  " ep=[2001:db8::2]:51820 replace_ips +10.0.0.0/8\n" },
};
/* clang-format on */

START_TEST(test_server_exchange)
{
	const struct exchange *x = &exchanges[_i];
	struct fixture f;
	char *reply;
	int fd;

	fixture_init(&f);
	f.st.get_ret = x->get_ret;
	f.st.set_ret = x->set_ret;
	fixture_start(&f);
	fd = client_connect(f.path);
	send_all(fd, x->request, strlen(x->request));
	shutdown(fd, SHUT_WR);
	reply = read_to_eof(fd);
	ck_assert_str_eq(reply, x->reply);
	free(reply);
	close(fd);

	pthread_mutex_lock(&f.st.lock);
	ck_assert_int_eq(f.st.gets, x->gets);
	ck_assert_int_eq(f.st.get_frees, x->gets);
	ck_assert_int_eq(f.st.sets, x->sets);
	if (x->last_set)
		ck_assert_str_eq(f.st.last_set.buf, x->last_set);
	f.st.get_ret = 0;
	pthread_mutex_unlock(&f.st.lock);

	/* Whatever happened, the next client is served. */
	fd = client_connect(f.path);
	send_all(fd, "get=1\n\n", 7);
	reply = read_reply(fd);
	ck_assert_str_eq(reply, FULL_TEXT "errno=0\n\n");
	free(reply);
	close(fd);
	fixture_done(&f);
}
END_TEST

/* stats=1, which only wgpipe show sends. */
struct stats_exchange {
	const char *name;
	const struct wg_uapi_ops *ops;
	int stats_ret;
	const char *request;
	const char *reply; /* all the server sends until it hangs up */
	int calls;	   /* of ops->stats */
};

/* clang-format off */
static const struct stats_exchange stats_exchanges[] = {
	{ "stats", &stub_ops, 0, "stats=1\n\n",
	  STATS_TEXT "errno=0\n\n", 1 },
	{ "stats among get and set on one connection", &stub_ops, 0,
	  "get=1\n\nstats=1\n\nset=1\nfwmark=1\n\nstats=1\n\n",
	  FULL_TEXT "errno=0\n\n" STATS_TEXT "errno=0\n\nerrno=0\n\n"
	  STATS_TEXT "errno=0\n\n", 2 },
	{ "stats failing in the daemon answers +errno, as get", &stub_ops,
	  -ENOMEM, "stats=1\n\n", "errno=12\n\n", 1 },
	{ "without ops->stats, stats=1 is an unknown operation",
	  &stub_ops_no_stats, 0, "stats=1\n\nget=1\n\n", "errno=-22\n\n", 0 },
	{ "stats=1 with trailing bytes hangs up", &stub_ops, 0,
	  "stats=1\nx\nget=1\n\n", "errno=22\n\n", 0 },
	{ "stats=2 is unknown", &stub_ops, 0, "stats=2\n\n",
	  "errno=-22\n\n", 0 },
};
/* clang-format on */

START_TEST(test_server_stats)
{
	const struct stats_exchange *x = &stats_exchanges[_i];
	struct fixture f;
	char *reply;
	int fd;

	fixture_init(&f);
	f.st.stats_ret = x->stats_ret;
	fixture_start_ops(&f, x->ops);
	fd = client_connect(f.path);
	send_all(fd, x->request, strlen(x->request));
	shutdown(fd, SHUT_WR);
	reply = read_to_eof(fd);
	ck_assert_str_eq(reply, x->reply);
	free(reply);
	close(fd);
	pthread_mutex_lock(&f.st.lock);
	ck_assert_int_eq(f.st.stats, x->calls);
	pthread_mutex_unlock(&f.st.lock);

	/* Whatever happened, the next client is served. */
	fd = client_connect(f.path);
	send_all(fd, "get=1\n\n", 7);
	reply = read_reply(fd);
	ck_assert_str_eq(reply, FULL_TEXT "errno=0\n\n");
	free(reply);
	close(fd);
	fixture_done(&f);
}
END_TEST

START_TEST(test_server_keeps_connection)
{
	struct fixture f;
	char *reply;
	int fd, i;

	fixture_init(&f);
	fixture_start(&f);
	fd = client_connect(f.path);
	/* Request, reply, request, reply: as wg(8) and scripts do. */
	for (i = 0; i < 3; i++) {
		send_all(fd, "set=1\nfwmark=1\n\n", 16);
		reply = read_reply(fd);
		ck_assert_str_eq(reply, "errno=0\n\n");
		free(reply);
		send_all(fd, "get=1\n\n", 7);
		reply = read_reply(fd);
		ck_assert_str_eq(reply, FULL_TEXT "errno=0\n\n");
		free(reply);
	}
	close(fd);
	fixture_done(&f);
}
END_TEST

static double elapsed(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

START_TEST(test_server_stuck_client)
{
	struct fixture f;
	struct timespec t0;
	char *reply, c;
	int stuck, fd;
	double t;

	fixture_init(&f);
	fixture_start(&f);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* A request that never ends ... */
	stuck = client_connect(f.path);
	send_all(stuck, "set=1\nlisten_port=1\n", 20);
	/* ... holds the next client back only until the timeout. */
	fd = client_connect(f.path);
	send_all(fd, "get=1\n\n", 7);
	reply = read_reply(fd);
	t = elapsed(&t0);
	ck_assert_str_eq(reply, FULL_TEXT "errno=0\n\n");
	ck_assert_msg(t > WG_UAPI_CLIENT_TIMEOUT_MS / 1000.0 - 0.5 &&
			  t < WG_UAPI_CLIENT_TIMEOUT_MS / 1000.0 +
				  3 * test_time_scale(),
		      "served after %.2f s", t);
	free(reply);
	/* The stuck one was hung up on, its request not applied. */
	ck_assert_int_eq(recv(stuck, &c, 1, 0), 0);
	ck_assert_int_eq(f.st.sets, 0);
	close(stuck);
	close(fd);
	fixture_done(&f);
}
END_TEST

START_TEST(test_server_stop_interrupts_client)
{
	struct fixture f;
	struct timespec t0;
	int stuck;

	fixture_init(&f);
	fixture_start(&f);
	stuck = client_connect(f.path);
	send_all(stuck, "set=1\n", 6);
	usleep(100 * 1000); /* let the server take it */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	wg_uapi_server_stop(f.srv);
	f.srv = NULL;
	ck_assert_msg(elapsed(&t0) < test_time_scale(), "stop took %.2f s",
		      elapsed(&t0));
	/* Stopping unlinks the socket. */
	ck_assert_int_eq(access(f.path, F_OK), -1);
	close(stuck);
	fixture_done(&f);
}
END_TEST

/* A set request is parsed as it arrives: one far larger than the
 * server's buffer (here 22 MiB, a million allowed IPs) is applied whole. */
START_TEST(test_server_streams_big_set)
{
	static const char line[] = "allowed_ip=10.0.0.0/8\n";
	const size_t per = sizeof(line) - 1, lines = 1 << 20;
	size_t n, i, sent = 0;
	struct fixture f;
	char *chunk, *reply;
	int fd;

	fixture_init(&f);
	fixture_start(&f);
	chunk = malloc(per * 4096);
	ck_assert_ptr_nonnull(chunk);
	for (n = 0; n < 4096; n++)
		memcpy(chunk + n * per, line, per);
	fd = client_connect(f.path);
	send_all(fd, "set=1\npublic_key=" PUB1 "\n", 18 + 64);
	for (i = 0; i < lines / 4096; i++) {
		send_all(fd, chunk, per * 4096);
		sent += per * 4096;
	}
	ck_assert_uint_gt(sent, 16 << 20);
	send_all(fd, "\n", 1);
	shutdown(fd, SHUT_WR);
	reply = read_to_eof(fd);
	ck_assert_str_eq(reply, "errno=0\n\n");
	ck_assert_int_eq(f.st.sets, 1);
	ck_assert_uint_eq(f.st.last_peers, 1);
	ck_assert_uint_eq(f.st.last_ips, lines);
	free(reply);
	free(chunk);
	close(fd);
	fixture_done(&f);
}
END_TEST

/* A line longer than WG_UAPI_MAX_LINE is refused, and nothing applied:
 * the server stops reading and hangs up. */
START_TEST(test_server_too_big)
{
	size_t total = 4 * WG_UAPI_BUFFER, sent = 0;
	struct fixture f;
	char *chunk, *reply;
	int fd;

	fixture_init(&f);
	fixture_start(&f);
	chunk = malloc(total);
	ck_assert_ptr_nonnull(chunk);
	memset(chunk, '1', total);
	fd = client_connect(f.path);
	send_all(fd, "set=1\npublic_key=" PUB1 "\nallowed_ip=", 18 + 64 + 11);
	/* A send fails once the server hangs up: EPIPE or ECONNRESET. */
	while (sent < total) {
		ssize_t w = send(fd, chunk + sent, total - sent, MSG_NOSIGNAL);

		if (w < 0) {
			ck_assert_msg(errno == EPIPE || errno == ECONNRESET,
				      "send: %s", strerror(errno));
			break;
		}
		sent += (size_t)w;
	}
	reply = read_to_eof(fd);
	ck_assert_str_eq(reply, "errno=-90\n\n"); /* -EMSGSIZE */
	ck_assert_int_eq(f.st.sets, 0);
	free(reply);
	free(chunk);
	close(fd);
	fixture_done(&f);
}
END_TEST

static bool wait_gone(struct stub *st, int want)
{
	struct timespec deadline;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += (time_t)(5 * test_time_scale());
	pthread_mutex_lock(&st->lock);
	while (st->gone < want &&
	       !pthread_cond_timedwait(&st->cond, &st->lock, &deadline))
		;
	ok = st->gone == want;
	pthread_mutex_unlock(&st->lock);
	return ok;
}

enum gone_how { GONE_UNLINK, GONE_RENAME, GONE_REPLACE, GONE_CHMOD };

START_TEST(test_server_socket_gone)
{
	struct fixture f;
	char other[160];
	int fd;

	fixture_init(&f);
	fixture_start(&f);
	snprintf(other, sizeof(other), "%s/other", f.dir);
	switch (_i) {
	case GONE_UNLINK:
		ck_assert_int_eq(unlink(f.path), 0);
		break;
	case GONE_RENAME:
		ck_assert_int_eq(rename(f.path, other), 0);
		break;
	case GONE_REPLACE:
		fd = open(other, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
		ck_assert_int_ge(fd, 0);
		close(fd);
		ck_assert_int_eq(rename(other, f.path), 0);
		break;
	case GONE_CHMOD:
		/* Not gone: an attribute change alone is not a deletion. */
		ck_assert_int_eq(chmod(f.path, 0600), 0);
		usleep(300 * 1000);
		ck_assert_int_eq(f.st.gone, 0);
		ck_assert_int_eq(unlink(f.path), 0);
		break;
	}
	ck_assert_msg(wait_gone(&f.st, 1), "socket_gone not called once");
	/* Only once, and stopping leaves a file that is not ours alone. */
	usleep(100 * 1000);
	ck_assert_int_eq(f.st.gone, 1);
	wg_uapi_server_stop(f.srv);
	f.srv = NULL;
	if (_i == GONE_REPLACE) {
		ck_assert_int_eq(access(f.path, F_OK), 0);
		unlink(f.path);
	}
	unlink(other);
	fixture_done(&f);
}
END_TEST

START_TEST(test_server_socket_mode)
{
	struct fixture f;
	struct stat st;
	mode_t old;

	fixture_init(&f);
	/* Even a careless caller's umask 0 gives a private socket ... */
	old = umask(0);
	fixture_start(&f);
	/* ... and leaves the caller's umask as it was. */
	ck_assert_uint_eq(umask(old), 0);
	ck_assert_int_eq(lstat(f.path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	fixture_done(&f);
}
END_TEST

/* A socket file left behind by a daemon that died. */
static void make_stale_socket(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sun.sun_path, path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	close(fd);
}

START_TEST(test_server_stale_socket)
{
	struct fixture f;
	char *reply;
	int fd;

	fixture_init(&f);
	make_stale_socket(f.path);
	fixture_start(&f);
	fd = client_connect(f.path);
	send_all(fd, "get=1\n\n", 7);
	reply = read_reply(fd);
	ck_assert_str_eq(reply, FULL_TEXT "errno=0\n\n");
	free(reply);
	close(fd);
	fixture_done(&f);
}
END_TEST

START_TEST(test_server_live_socket)
{
	struct wg_uapi_server *second = NULL;
	struct fixture f;
	struct stat a, b;
	char *reply;
	int fd;

	fixture_init(&f);
	fixture_start(&f);
	ck_assert_int_eq(lstat(f.path, &a), 0);
	ck_assert_int_eq(
	    wg_uapi_server_start_at(&second, f.path, -1, &stub_ops, &f.st),
	    -EADDRINUSE);
	ck_assert_ptr_null(second);
	/* The first daemon's socket is untouched and still answers. */
	ck_assert_int_eq(lstat(f.path, &b), 0);
	ck_assert_uint_eq(a.st_ino, b.st_ino);
	fd = client_connect(f.path);
	send_all(fd, "get=1\n\n", 7);
	reply = read_reply(fd);
	ck_assert_str_eq(reply, FULL_TEXT "errno=0\n\n");
	free(reply);
	close(fd);
	ck_assert_int_eq(f.st.gone, 0);
	fixture_done(&f);
}
END_TEST

START_TEST(test_server_not_a_socket)
{
	struct wg_uapi_server *srv = NULL;
	struct fixture f;
	int fd;

	fixture_init(&f);
	fd = open(f.path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "keep", 4), 4);
	close(fd);
	ck_assert_int_eq(
	    wg_uapi_server_start_at(&srv, f.path, -1, &stub_ops, &f.st),
	    -EEXIST);
	ck_assert_int_eq(access(f.path, F_OK), 0);
	fixture_done(&f);
}
END_TEST

START_TEST(test_server_inherited_fd)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct fixture f;
	char *reply;
	int lfd, fd;

	fixture_init(&f);
	strcpy(sun.sun_path, f.path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(lfd, 8), 0);
	/* The path given is ignored for the socket's own bound path. */
	ck_assert_int_eq(wg_uapi_server_start_at(&f.srv, "/nonexistent/x.sock",
						 lfd, &stub_ops, &f.st),
			 0);
	fd = client_connect(f.path);
	send_all(fd, "set=1\nlisten_port=11\n\n", 23);
	reply = read_reply(fd);
	ck_assert_str_eq(reply, "errno=0\n\n");
	free(reply);
	close(fd);
	ck_assert_str_eq(f.st.last_set.buf, "port=11\n");
	/* Its deletion is watched like a socket of our own. */
	ck_assert_int_eq(unlink(f.path), 0);
	ck_assert(wait_gone(&f.st, 1));
	fixture_done(&f);
	/* The server owned and closed the descriptor. */
	ck_assert_int_eq(fcntl(lfd, F_GETFD), -1);
}
END_TEST

START_TEST(test_server_inherited_abstract)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct fixture f;
	int lfd;

	fixture_init(&f);
	/* A file at the given path that is not the inherited socket's. */
	make_stale_socket(f.path);
	snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, "check_uapi.%d",
		 (int)getpid());
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(
	    bind(lfd, (struct sockaddr *)&sun,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
			     strlen(sun.sun_path + 1))),
	    0);
	ck_assert_int_eq(listen(lfd, 8), 0);
	ck_assert_int_eq(
	    wg_uapi_server_start_at(&f.srv, f.path, lfd, &stub_ops, &f.st), 0);
	wg_uapi_server_stop(f.srv);
	f.srv = NULL;
	ck_assert_int_eq(access(f.path, F_OK), 0);
	ck_assert_int_eq(f.st.gone, 0);
	fixture_done(&f);
}
END_TEST

/* In a child as nobody: connect to sun (len bytes), ask get=1 and read
 * until the server closes. Exit status: 0 closed unanswered, 1 answered,
 * 2 could not become nobody or connect. Only system calls after fork. */
static int nobody_get(const struct sockaddr_un *sun, socklen_t len)
{
	unsigned int limit = (unsigned int)(10 * test_time_scale());
	char buf[256];
	pid_t pid = fork();
	int fd, status;
	ssize_t n, got = 0;

	ck_assert_int_ge(pid, 0);
	if (!pid) {
		alarm(limit);
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(2);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (const struct sockaddr *)sun, len))
			_exit(2);
		send(fd, "get=1\n\n", 7, MSG_NOSIGNAL);
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
			got += n;
		_exit(got ? 1 : 0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/*
 * SO_PEERCRED: a client that is neither root nor the daemon's user is
 * closed on unanswered, even when the socket's mode lets it connect: a
 * file made 0666, or an inherited abstract socket (WG_UAPI_FD), which has
 * no mode at all. Root is still served on the same socket.
 */
START_TEST(test_server_refuses_other_uid)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	socklen_t len = sizeof(sun);
	struct fixture f;
	char *reply;
	int lfd = -1, fd;

	if (geteuid() != 0) {
		test_skip_or_fail("refusing another uid needs root (setuid)");
		return;
	}
	fixture_init(&f);
	if (_i == 0) {
		fixture_start(&f);
		strcpy(sun.sun_path, f.path);
		ck_assert_int_eq(chmod(f.dir, 0755), 0);
		ck_assert_int_eq(chmod(f.path, 0666), 0);
	} else {
		snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1,
			 "check_uapi.peercred.%d", (int)getpid());
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
				  strlen(sun.sun_path + 1));
		lfd = socket(AF_UNIX, SOCK_STREAM, 0);
		ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sun, len), 0);
		ck_assert_int_eq(listen(lfd, 8), 0);
		ck_assert_int_eq(wg_uapi_server_start_at(&f.srv, f.path, lfd,
							 &stub_ops, &f.st),
				 0);
	}
	ck_assert_int_eq(nobody_get(&sun, len), 0);
	ck_assert_int_eq(f.st.gets, 0);
	/* Root, on the same socket, right after. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, len), 0);
	send_all(fd, "get=1\n\n", 7);
	reply = read_reply(fd);
	ck_assert_str_eq(reply, FULL_TEXT "errno=0\n\n");
	free(reply);
	close(fd);
	ck_assert_int_eq(f.st.gets, 1);
	fixture_done(&f);
}
END_TEST

START_TEST(test_server_bad_inherited_fd)
{
	struct wg_uapi_server *srv = NULL;
	struct stub st = {0};
	int sv[2], ufd;

	/* Not listening. */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(
	    wg_uapi_server_start_at(&srv, "/x", sv[0], &stub_ops, &st),
	    -EINVAL);
	/* Not UNIX. */
	ufd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_eq(
	    wg_uapi_server_start_at(&srv, "/x", ufd, &stub_ops, &st), -EINVAL);
	/* On failure the caller still owns them. */
	ck_assert_int_ge(fcntl(sv[0], F_GETFD), 0);
	close(sv[0]);
	close(sv[1]);
	close(ufd);
	ck_assert_ptr_null(srv);
}
END_TEST

START_TEST(test_server_bad_names)
{
	static const char *const names[] = {
	    "", "..", ".", "a/b", "0123456789abcdef", NULL};
	struct wg_uapi_server *srv = NULL;
	struct stub st = {0};
	char longpath[200];
	int i;

	for (i = 0; names[i]; i++)
		ck_assert_int_eq(
		    wg_uapi_server_start(&srv, names[i], -1, &stub_ops, &st),
		    -EINVAL);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	ck_assert_int_eq(
	    wg_uapi_server_start_at(&srv, longpath, -1, &stub_ops, &st),
	    -ENAMETOOLONG);
	ck_assert_ptr_null(srv);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The client of stats=1, against the server and against fake daemons  */

START_TEST(test_client_stats)
{
	struct fixture f;
	char *text;
	size_t len;
	int answer;

	fixture_init(&f);
	fixture_start(&f);
	ck_assert_int_eq(wg_uapi_request_stats(f.path, &answer, &text, &len),
			 0);
	ck_assert_int_eq(answer, 0);
	ck_assert_ptr_nonnull(text);
	ck_assert_str_eq(text, STATS_TEXT);
	ck_assert_uint_eq(len, strlen(STATS_TEXT));
	free(text);
	/* A failure in the daemon is its answer, not ours. */
	f.st.stats_ret = -EIO;
	ck_assert_int_eq(wg_uapi_request_stats(f.path, &answer, &text, &len),
			 0);
	ck_assert_int_eq(answer, EIO);
	ck_assert_ptr_null(text);
	ck_assert_int_eq(f.st.stats, 2);
	fixture_done(&f);
}
END_TEST

START_TEST(test_client_no_stats_op)
{
	struct fixture f;
	char *text;
	size_t len;
	int answer;

	fixture_init(&f);
	fixture_start_ops(&f, &stub_ops_no_stats);
	ck_assert_int_eq(wg_uapi_request_stats(f.path, &answer, &text, &len),
			 0);
	ck_assert_int_eq(answer, -EINVAL);
	ck_assert_ptr_null(text);
	ck_assert_uint_eq(len, 0);
	fixture_done(&f);
}
END_TEST

START_TEST(test_client_no_daemon)
{
	struct fixture f;
	char *text = (char *)"unset";
	size_t len;
	int answer;

	fixture_init(&f);
	ck_assert_int_eq(wg_uapi_request_stats(f.path, &answer, &text, &len),
			 -ENOENT);
	ck_assert_ptr_null(text);
	make_stale_socket(f.path);
	ck_assert_int_eq(wg_uapi_request_stats(f.path, &answer, &text, &len),
			 -ECONNREFUSED);
	unlink(f.path);
	fixture_done(&f);
}
END_TEST

/* A daemon that reads one request and answers it with a canned reply,
 * all at once or a byte at a time, then hangs up. */
struct fake {
	int lfd;
	const char *reply;
	bool bytewise;
};

static void *fake_main(void *arg)
{
	struct fake *fk = arg;
	size_t len = 0, rlen = strlen(fk->reply), step, i;
	char buf[64];
	ssize_t n;
	int fd = accept(fk->lfd, NULL, NULL);

	if (fd < 0)
		return NULL;
	/* All of "stats=1\n\n", so that closing cannot turn into a reset. */
	while (len < 9 && (n = recv(fd, buf + len, sizeof(buf) - len, 0)) > 0)
		len += (size_t)n;
	for (i = 0; i < rlen; i += step) {
		step = fk->bytewise ? 1 : rlen;
		if (send(fd, fk->reply + i, step, MSG_NOSIGNAL) < 0)
			break;
		if (fk->bytewise)
			usleep(1000);
	}
	close(fd);
	return NULL;
}

struct client_case {
	const char *name;
	const char *reply;
	bool bytewise;
	int ret, answer;
	const char *text; /* NULL: none */
};

/* clang-format off */
static const struct client_case client_cases[] = {
	{ "lines and errno=0", "a=1\nb=two\nerrno=0\n\n", false, 0, 0,
	  "a=1\nb=two\n" },
	{ "a byte at a time", "a=1\nb=two\nerrno=0\n\n", true, 0, 0,
	  "a=1\nb=two\n" },
	{ "no lines", "errno=0\n\n", false, 0, 0, "" },
	{ "what follows the blank line is not read", "errno=0\n\nx=1\n", false,
	  0, 0, "" },
	{ "an error answer, text dropped", "a=1\nerrno=-22\n\n", true, 0, -22,
	  NULL },
	{ "hangs up without a reply (wireguard-go)", "", false, -ECONNRESET,
	  0, NULL },
	{ "hangs up in the middle", "a=1\nerr", true, -ECONNRESET, 0, NULL },
	{ "no errno line", "a=1\n\n", false, -EPROTO, 0, NULL },
	{ "errno not a number", "errno=x\n\n", false, -EPROTO, 0, NULL },
	{ "errno with trailing junk", "errno=0x\n\n", false, -EPROTO, 0, NULL },
	{ "errno out of range", "errno=99999999999\n\n", false, -EPROTO, 0,
	  NULL },
	{ "a blank line first", "\n\n", false, -EPROTO, 0, NULL },
};
/* clang-format on */

START_TEST(test_client_replies)
{
	const struct client_case *cc = &client_cases[_i];
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct fake fk = {.reply = cc->reply, .bytewise = cc->bytewise};
	struct fixture f;
	pthread_t thread;
	char *text;
	size_t len;
	int answer, ret;

	fixture_init(&f);
	strcpy(sun.sun_path, f.path);
	fk.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(fk.lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(fk.lfd, 1), 0);
	ck_assert_int_eq(pthread_create(&thread, NULL, fake_main, &fk), 0);
	ret = wg_uapi_request_stats(f.path, &answer, &text, &len);
	pthread_join(thread, NULL);
	close(fk.lfd);
	ck_assert_msg(ret == cc->ret, "%s: returned %d, want %d", cc->name, ret,
		      cc->ret);
	if (!ret)
		ck_assert_int_eq(answer, cc->answer);
	if (cc->text) {
		ck_assert_ptr_nonnull(text);
		ck_assert_str_eq(text, cc->text);
		ck_assert_uint_eq(len, strlen(cc->text));
	} else {
		ck_assert_ptr_null(text);
		ck_assert_uint_eq(len, 0);
	}
	free(text);
	unlink(f.path);
	fixture_done(&f);
}
END_TEST

START_TEST(test_client_socket_path)
{
	char path[64];

	ck_assert_int_eq(wg_uapi_socket_path(path, sizeof(path), "wg0"), 0);
	ck_assert_str_eq(path, WG_UAPI_SOCKET_DIR "/wg0.sock");
	ck_assert_int_eq(wg_uapi_socket_path(path, sizeof(path), "a/b"),
			 -EINVAL);
	ck_assert_int_eq(wg_uapi_socket_path(path, sizeof(path), ".."),
			 -EINVAL);
	ck_assert_int_eq(wg_uapi_socket_path(path, sizeof(path), ""), -EINVAL);
	ck_assert_int_eq(
	    wg_uapi_socket_path(path, sizeof(path), "0123456789abcdef"),
	    -EINVAL);
	ck_assert_int_eq(wg_uapi_socket_path(path, 10, "wg0"), -ENAMETOOLONG);
}
END_TEST

/* Bad requests are logged once each, naming the line, without keys. */
struct log_case {
	const char *request, *reply, *log;
};

/* clang-format off */
static const struct log_case log_cases[] = {
	{ "set=1\nprivate_key=" PRIV "\npublic_key=" PUB1 "\n"
	  "preshared_key=" PSK "zz\n\n",
	  "errno=-22\n\n", "line 3 (preshared_key)" },
	{ "private_key=" PRIV "\n\n", "errno=-22\n\n",
	  "unknown operation (the first line is not get=1" },
	{ "set=1\n" PSK "\n\n", "errno=-71\n\n", "line 1: no '='" },
	{ "set=1\nprivate_key=" PRIV "\nlisten_port=1\n\n", "errno=-98\n\n",
	  "failed: the stub says no" },
};
/* clang-format on */

START_TEST(test_server_logs_bad_request)
{
	const struct log_case *lc = &log_cases[_i];
	char logpath[] = "/tmp/check_uapi_log.XXXXXX", buf[4096];
	struct fixture f;
	char *reply, *p;
	int saved, logfd, fd, lines = 0;
	ssize_t n;

	logfd = mkstemp(logpath);
	ck_assert_int_ge(logfd, 0);
	unlink(logpath);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(logfd, STDERR_FILENO);
	wg_log_init("wgtest0", false, WG_LOG_ERROR);

	fixture_init(&f);
	if (strstr(lc->reply, "-98"))
		f.st.set_ret = -EADDRINUSE;
	fixture_start(&f);
	fd = client_connect(f.path);
	send_all(fd, lc->request, strlen(lc->request));
	reply = read_reply(fd);
	ck_assert_str_eq(reply, lc->reply);
	free(reply);
	close(fd);
	fixture_done(&f);

	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	wg_log_init("check_uapi", false, WG_LOG_SILENT);
	n = pread(logfd, buf, sizeof(buf) - 1, 0);
	close(logfd);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	for (p = buf; (p = strchr(p, '\n')); p++)
		lines++;
	ck_assert_msg(lines == 1, "want one log line, got:\n%s", buf);
	ck_assert_msg(strstr(buf, "wgtest0") && strstr(buf, lc->log),
		      "log lacks \"%s\": %s", lc->log, buf);
	ck_assert_msg(!strstr(buf, "e84b5a6d") && !strstr(buf, "18851509") &&
			  !strstr(buf, "b85996fe"),
		      "key material in the log: %s", buf);
}
END_TEST

static Suite *uapi_suite(void)
{
	Suite *s = suite_create("uapi");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_parse_good, 0,
			    sizeof(good) / sizeof(good[0]));
	tcase_add_loop_test(tc, test_parse_never_repeats_keys, 0,
			    3 * LEAK_FORMS);
	tcase_add_loop_test(tc, test_parse_bad, 0,
			    sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_parse_tiny_err_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("format");
	tcase_add_loop_test(tc, test_format, 0, sizeof(fmt) / sizeof(fmt[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("round trip");
	tcase_add_loop_test(tc, test_round_trip_fixed, 0,
			    sizeof(fmt) / sizeof(fmt[0]));
	tcase_add_loop_test(tc, test_round_trip_random, 0, 5);
	tcase_add_loop_test(tc, test_set_get_endpoint, 0,
			    sizeof(set_get) / sizeof(set_get[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("server");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_server_exchange, 0,
			    sizeof(exchanges) / sizeof(exchanges[0]));
	tcase_add_test(tc, test_server_keeps_connection);
	tcase_add_test(tc, test_server_stuck_client);
	tcase_add_test(tc, test_server_stop_interrupts_client);
	tcase_add_test(tc, test_server_too_big);
	tcase_add_test(tc, test_server_streams_big_set);
	tcase_add_loop_test(tc, test_server_socket_gone, GONE_UNLINK,
			    GONE_CHMOD + 1);
	tcase_add_test(tc, test_server_socket_mode);
	tcase_add_test(tc, test_server_stale_socket);
	tcase_add_test(tc, test_server_live_socket);
	tcase_add_test(tc, test_server_not_a_socket);
	tcase_add_test(tc, test_server_inherited_fd);
	tcase_add_test(tc, test_server_inherited_abstract);
	tcase_add_test(tc, test_server_bad_inherited_fd);
	tcase_add_loop_test(tc, test_server_refuses_other_uid, 0, 2);
	tcase_add_test(tc, test_server_bad_names);
	tcase_add_loop_test(tc, test_server_logs_bad_request, 0,
			    sizeof(log_cases) / sizeof(log_cases[0]));
	tcase_add_loop_test(tc, test_server_stats, 0,
			    sizeof(stats_exchanges) /
				sizeof(stats_exchanges[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("client");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_client_stats);
	tcase_add_test(tc, test_client_no_stats_op);
	tcase_add_test(tc, test_client_no_daemon);
	tcase_add_loop_test(tc, test_client_replies, 0,
			    sizeof(client_cases) / sizeof(client_cases[0]));
	tcase_add_test(tc, test_client_socket_path);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const char *level = getenv("LOG_LEVEL");

	/* Quiet unless asked: the server tests make it log on purpose. */
	wg_log_init("check_uapi", false,
		    level ? wg_log_level_from_env(level) : WG_LOG_SILENT);
	return test_main("check_uapi", uapi_suite());
}
