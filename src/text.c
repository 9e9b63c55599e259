// SPDX-License-Identifier: MIT
/* Untrusted text quoted safely in a message. */
#include "text.h"

#include <string.h>

const char *wg_text_quote(char buf[static WG_TEXT_QUOTE_SIZE], const char *v,
			  size_t n)
{
	size_t i, m = n > 40 ? 40 : n;

	for (i = 0; i < m; i++)
		buf[i] = v[i] >= 0x20 && v[i] < 0x7f ? v[i] : '?';
	strcpy(buf + m, n > m ? "..." : "");
	return buf;
}
