// SPDX-License-Identifier: MIT
/*
 * Untrusted text (src/text.c): decimal numbers read exactly as Go's
 * strconv.ParseUint reads them, bounds included.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

struct decimal_case {
	const char *text;
	size_t n; /* 0: strlen(text) */
	uint64_t max;
	bool ok;
	uint64_t value;
};

/* clang-format off */
static const struct decimal_case decimal_cases[] = {
	{ "0", 0, 0, true, 0 },
	{ "1", 0, 0, false, 0 },
	{ "65535", 0, UINT16_MAX, true, 65535 },
	{ "65536", 0, UINT16_MAX, false, 0 },
	{ "4294967295", 0, UINT32_MAX, true, 4294967295u },
	{ "4294967296", 0, UINT32_MAX, false, 0 },
	{ "18446744073709551615", 0, UINT64_MAX, true, UINT64_MAX },
	{ "18446744073709551616", 0, UINT64_MAX, false, 0 },
	{ "99999999999999999999", 0, UINT64_MAX, false, 0 },
	{ "128", 0, 128, true, 128 },
	{ "129", 0, 128, false, 0 },
	{ "000000000000000000000000000000000000000051820", 0, UINT16_MAX,
	  true, 51820 },
	{ "1234", 2, UINT16_MAX, true, 12 },
	{ "", 0, UINT16_MAX, false, 0 },
	{ "+1", 0, UINT16_MAX, false, 0 },
	{ "-1", 0, UINT16_MAX, false, 0 },
	{ " 1", 0, UINT16_MAX, false, 0 },
	{ "1 ", 0, UINT16_MAX, false, 0 },
	{ "0x10", 0, UINT16_MAX, false, 0 },
	{ "1e3", 0, UINT16_MAX, false, 0 },
	{ "1_000", 0, UINT16_MAX, false, 0 },
};
/* clang-format on */

START_TEST(test_decimal)
{
	const struct decimal_case *c = &decimal_cases[_i];
	size_t n = c->n ? c->n : strlen(c->text);
	uint64_t v = 0xa5a5a5a5a5a5a5a5u;
	bool ok = wg_text_decimal(c->text, n, c->max, &v);

	ck_assert_msg(ok == c->ok, "\"%.*s\" (max %llu): %s", (int)n, c->text,
		      (unsigned long long)c->max, ok ? "read" : "refused");
	ck_assert_uint_eq(v, c->ok ? c->value : 0xa5a5a5a5a5a5a5a5u);
}
END_TEST

/* Every value 0..70000 against max 65535, as its decimal text. */
START_TEST(test_decimal_all_ports)
{
	char text[16];
	uint64_t v;
	unsigned int i;

	for (i = 0; i <= 70000; i++) {
		snprintf(text, sizeof(text), "%u", i);
		ck_assert_int_eq(
		    wg_text_decimal(text, strlen(text), UINT16_MAX, &v),
		    i <= UINT16_MAX);
		if (i <= UINT16_MAX)
			ck_assert_uint_eq(v, i);
	}
}
END_TEST

static Suite *text_suite(void)
{
	Suite *s = suite_create("text");
	TCase *tc = tcase_create("decimal");

	tcase_add_loop_test(tc, test_decimal, 0,
			    sizeof(decimal_cases) / sizeof(decimal_cases[0]));
	tcase_add_test(tc, test_decimal_all_ports);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(text_suite());
	int failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
