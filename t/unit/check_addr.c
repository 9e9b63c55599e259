// SPDX-License-Identifier: MIT
/*
 * Endpoint text (src/addr.c): what wg_sockaddr_parse takes and refuses,
 * what wg_sockaddr_format writes back, and that the one reads what the
 * other writes. The cases where the UAPI's parser and socket.c's once
 * disagreed are in the table with the behaviour chosen, that of the
 * kernel module and wireguard-go: port 0 taken, a v4-mapped address kept
 * as given; and leading zeros in the port as Go's strconv reads them,
 * the scope written as a number.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <string.h>

#include "addr.h"

struct addr_case {
	const char *text;
	int family;	       /* 0: refused */
	const char *formatted; /* NULL: the text itself */
};

/* clang-format off */
static const struct addr_case addr_cases[] = {
	{ "1.2.3.4:51820", AF_INET, NULL },
	{ "255.255.255.255:65535", AF_INET, NULL },
	{ "[fd00::1]:51820", AF_INET6, NULL },
	{ "[::]:1", AF_INET6, NULL },
	{ "[2001:DB8:0:0:0:0:0:1]:443", AF_INET6, "[2001:db8::1]:443" },
	/* Port 0: wg(8) sends it, the kernel and wireguard-go take it. */
	{ "0.0.0.0:0", AF_INET, NULL },
	{ "192.0.2.1:0", AF_INET, NULL },
	{ "[2001:db8::1]:0", AF_INET6, NULL },
	/* Leading zeros, as many as strconv.ParseUint takes. */
	{ "127.0.0.1:00080", AF_INET, "127.0.0.1:80" },
	{ "127.0.0.1:0000000000000080", AF_INET, "127.0.0.1:80" },
	{ "[fd00::1]:000000", AF_INET6, "[fd00::1]:0" },
	/* v4-mapped: kept as given, as the kernel and wireguard-go keep it. */
	{ "[::ffff:192.0.2.1]:51820", AF_INET6, NULL },
	{ "[::FFFF:192.0.2.1]:0", AF_INET6, "[::ffff:192.0.2.1]:0" },
	{ "[::ffff:c000:201]:7", AF_INET6, "[::ffff:192.0.2.1]:7" },
	{ "[::ffff:192.0.2.1%1]:7", AF_INET6, NULL },
	{ "[::192.0.2.1]:7", AF_INET6, NULL },
	/* The scope by name or number, written as a number ("lo" is index 1
	 * in every network namespace); 0 is none. */
	{ "[fe80::1%lo]:51820", AF_INET6, "[fe80::1%1]:51820" },
	{ "[fe80::1%1]:51820", AF_INET6, NULL },
	{ "[fe80::1%001]:51820", AF_INET6, "[fe80::1%1]:51820" },
	{ "[fe80::1%0]:1", AF_INET6, "[fe80::1]:1" },
	{ "[fe80::1%4000000000]:1", AF_INET6, NULL },
	{ "[fe80::1%4294967295]:1", AF_INET6, NULL },
	{ "", 0, NULL },
	{ ":", 0, NULL },
	{ "1.2.3.4", 0, NULL },
	{ "1.2.3.4:", 0, NULL },
	{ "1.2.3.4:65536", 0, NULL },
	{ "1.2.3.4:123456", 0, NULL },
	{ "1.2.3.4:99999999999999999999999", 0, NULL },
	{ "1.2.3.4:-1", 0, NULL },
	{ "1.2.3.4:+1", 0, NULL },
	{ "1.2.3.4:0x10", 0, NULL },
	{ "1.2.3.4: 1", 0, NULL },
	{ "1.2.3.4:1 ", 0, NULL },
	{ "1.2.3.4:1\n", 0, NULL },
	{ "1.2.3.4:1:2", 0, NULL },
	{ " 1.2.3.4:1", 0, NULL },
	{ "1.2.3:51820", 0, NULL },
	{ "1.2.3.256:51820", 0, NULL },
	{ "01.2.3.4:1", 0, NULL },
	{ "host.example:51820", 0, NULL },
	{ "fd00::1:51820", 0, NULL },
	{ "::ffff:192.0.2.1:51820", 0, NULL },
	{ "[fd00::1]", 0, NULL },
	{ "[fd00::1]:", 0, NULL },
	{ "[fd00::1]51820", 0, NULL },
	{ "[fd00::1:51820", 0, NULL },
	{ "fd00::1]:51820", 0, NULL },
	{ "[fd00::1]]:1", 0, NULL },
	{ "[fd00::1]:1:2", 0, NULL },
	{ "[1.2.3.4]:51820", 0, NULL },
	{ "[]:1", 0, NULL },
	{ "[[::1]]:1", 0, NULL },
	{ "[fd00::g]:1", 0, NULL },
	{ "[fe80::1%]:1", 0, NULL },
	{ "[fe80::1%lo%lo]:1", 0, NULL },
	{ "[fe80::1%nosuchif0]:1", 0, NULL },
	{ "[fe80::1%4294967296]:1", 0, NULL },
	{ "[fe80::1%1x]:1", 0, NULL },
	{ "[fe80::1%-1]:1", 0, NULL },
	{ "[0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:"
	  "0000:0000]:1", 0, NULL },
};
/* clang-format on */

START_TEST(test_parse_table)
{
	const struct addr_case *c = &addr_cases[_i];
	const char *want = c->formatted ? c->formatted : c->text;
	union wg_sockaddr a, b;
	char text[WG_SOCKADDR_STRLEN], again[WG_SOCKADDR_STRLEN];
	int ret;

	memset(&a, 0xa5, sizeof(a));
	ret = wg_sockaddr_parse(&a, c->text);
	if (!c->family) {
		ck_assert_msg(ret == -EINVAL, "\"%s\" parsed (%d)", c->text,
			      ret);
		ck_assert_uint_eq(a.sa.sa_family, 0xa5a5);
		return;
	}
	ck_assert_msg(ret == 0, "\"%s\" refused (%d)", c->text, ret);
	ck_assert_int_eq(a.sa.sa_family, c->family);
	ck_assert_int_eq(wg_sockaddr_format(&a, text, sizeof(text)), 0);
	ck_assert_str_eq(text, want);
	/* What it writes reads back as the same endpoint, and writes the
	 * same again. */
	ck_assert_int_eq(wg_sockaddr_parse(&b, text), 0);
	ck_assert(!memcmp(&a, &b, sizeof(a)));
	ck_assert_int_eq(wg_sockaddr_format(&b, again, sizeof(again)), 0);
	ck_assert_str_eq(again, text);
}
END_TEST

/* Text of up to WG_SOCKADDR_STRLEN - 1 characters is read; longer is
 * refused, even when only its port has leading zeros. */
START_TEST(test_parse_length)
{
	char text[WG_SOCKADDR_STRLEN + 2];
	union wg_sockaddr a;
	size_t len;

	for (len = 9; len <= WG_SOCKADDR_STRLEN + 1; len++) {
		memset(text, '0', len);
		memcpy(text, "1.2.3.4:", 8);
		text[len - 1] = '7';
		text[len] = '\0';
		if (len < WG_SOCKADDR_STRLEN) {
			ck_assert_msg(wg_sockaddr_parse(&a, text) == 0,
				      "%zu characters refused", len);
			ck_assert_uint_eq(ntohs(a.in4.sin_port), 7);
		} else {
			ck_assert_msg(wg_sockaddr_parse(&a, text) == -EINVAL,
				      "%zu characters read", len);
		}
	}
}
END_TEST

START_TEST(test_format_limits)
{
	union wg_sockaddr a = {0};
	char text[WG_SOCKADDR_STRLEN];
	size_t need;

	ck_assert_int_eq(wg_sockaddr_parse(&a, "[fd00:1:2:3:4:5:6:7]:65535"),
			 0);
	ck_assert_int_eq(wg_sockaddr_format(&a, text, sizeof(text)), 0);
	need = strlen(text) + 1;
	ck_assert_int_eq(wg_sockaddr_format(&a, text, need - 1), -ENOSPC);
	ck_assert_int_eq(wg_sockaddr_format(&a, text, need), 0);
	/* The longest form fits WG_SOCKADDR_STRLEN. */
	ck_assert_int_eq(wg_sockaddr_parse(&a, "[ffff:ffff:ffff:ffff:ffff:"
					       "ffff:ffff:ffff%4294967295]:"
					       "65535"),
			 0);
	ck_assert_int_eq(wg_sockaddr_format(&a, text, sizeof(text)), 0);
	ck_assert_str_eq(text, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
			       "%4294967295]:65535");
	a.sa.sa_family = AF_UNIX;
	ck_assert_int_eq(wg_sockaddr_format(&a, text, sizeof(text)),
			 -EAFNOSUPPORT);
}
END_TEST

/* A v4-mapped endpoint is read as the very bytes wg(8) means, and is
 * the same place as the IPv4 host, where the UDP side sends it. */
START_TEST(test_parse_mapped)
{
	union wg_sockaddr mapped, v4;
	struct in6_addr want;

	ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:192.0.2.1", &want), 1);
	ck_assert_int_eq(wg_sockaddr_parse(&mapped, "[::ffff:192.0.2.1]:0"), 0);
	ck_assert_int_eq(mapped.sa.sa_family, AF_INET6);
	ck_assert(!memcmp(&mapped.in6.sin6_addr, &want, sizeof(want)));
	ck_assert_uint_eq(mapped.in6.sin6_port, 0);
	ck_assert_uint_eq(mapped.in6.sin6_scope_id, 0);
	ck_assert_int_eq(wg_sockaddr_parse(&v4, "192.0.2.1:0"), 0);
	ck_assert(wg_sockaddr_equal(&mapped, &v4));
	wg_sockaddr_unmap(&mapped);
	ck_assert(!memcmp(&mapped, &v4, sizeof(v4)));
}
END_TEST

/* A scope naming no interface (the interface went away) is written all
 * the same, and reads back. */
START_TEST(test_format_unknown_scope)
{
	union wg_sockaddr a = {0}, b;
	char text[WG_SOCKADDR_STRLEN];

	a.in6.sin6_family = AF_INET6;
	a.in6.sin6_port = htons(51820);
	a.in6.sin6_scope_id = 4000000000u;
	ck_assert_int_eq(inet_pton(AF_INET6, "fe80::1", &a.in6.sin6_addr), 1);
	ck_assert_int_eq(wg_sockaddr_format(&a, text, sizeof(text)), 0);
	ck_assert_str_eq(text, "[fe80::1%4000000000]:51820");
	ck_assert_int_eq(wg_sockaddr_parse(&b, text), 0);
	ck_assert(!memcmp(&a, &b, sizeof(a)));
}
END_TEST

START_TEST(test_equal)
{
	union wg_sockaddr a, b, mapped = {0};

	ck_assert_int_eq(wg_sockaddr_parse(&a, "192.0.2.1:51820"), 0);
	ck_assert_int_eq(wg_sockaddr_parse(&b, "192.0.2.1:51821"), 0);
	ck_assert(!wg_sockaddr_equal(&a, &b));
	ck_assert_int_eq(wg_sockaddr_parse(&b, "192.0.2.2:51820"), 0);
	ck_assert(!wg_sockaddr_equal(&a, &b));
	/* As recvmsg on a dual-stack socket would give it. */
	mapped.in6.sin6_family = AF_INET6;
	mapped.in6.sin6_port = htons(51820);
	ck_assert_int_eq(
	    inet_pton(AF_INET6, "::ffff:192.0.2.1", &mapped.in6.sin6_addr), 1);
	ck_assert(wg_sockaddr_equal(&a, &mapped));
	ck_assert(wg_sockaddr_equal(&mapped, &a));
	ck_assert_int_eq(wg_sockaddr_parse(&b, "[::192.0.2.1]:51820"), 0);
	ck_assert(!wg_sockaddr_equal(&a, &b));
	wg_sockaddr_unmap(&mapped);
	ck_assert_int_eq(mapped.sa.sa_family, AF_INET);
	ck_assert_int_eq(ntohs(mapped.in4.sin_port), 51820);
	ck_assert(!memcmp(&mapped, &a, sizeof(a)));
	ck_assert_int_eq(wg_sockaddr_parse(&a, "[fe80::1%1]:1"), 0);
	ck_assert_int_eq(wg_sockaddr_parse(&b, "[fe80::1]:1"), 0);
	ck_assert(!wg_sockaddr_equal(&a, &b));
	b.in6.sin6_scope_id = 1;
	ck_assert(wg_sockaddr_equal(&a, &b));
	ck_assert_int_eq(wg_sockaddr_parse(&b, "[fe80::1]:2"), 0);
	b.in6.sin6_scope_id = 1;
	ck_assert(!wg_sockaddr_equal(&a, &b));
}
END_TEST

static Suite *addr_suite(void)
{
	Suite *s = suite_create("addr");
	TCase *tc = tcase_create("text");

	tcase_add_loop_test(tc, test_parse_table, 0,
			    sizeof(addr_cases) / sizeof(addr_cases[0]));
	tcase_add_test(tc, test_parse_length);
	tcase_add_test(tc, test_format_limits);
	tcase_add_test(tc, test_parse_mapped);
	tcase_add_test(tc, test_format_unknown_scope);
	suite_add_tcase(s, tc);

	tc = tcase_create("equal");
	tcase_add_test(tc, test_equal);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(addr_suite());
	int failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
