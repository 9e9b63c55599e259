// SPDX-License-Identifier: MIT
/* Untrusted text: numbers read as wireguard-go reads them, and quoted
 * safely in a message. */
#include "text.h"

#include <string.h>

bool wg_text_decimal(const char *v, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;
	size_t i;

	if (!n)
		return false;
	for (i = 0; i < n; i++) {
		uint64_t digit = (uint64_t)(v[i] - '0');

		if (v[i] < '0' || v[i] > '9')
			return false;
		/* x * 10 + digit <= max, without overflow */
		if (digit > max || x > (max - digit) / 10)
			return false;
		x = x * 10 + digit;
	}
	*out = x;
	return true;
}
