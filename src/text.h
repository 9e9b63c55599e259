/* SPDX-License-Identifier: MIT */
/* Untrusted text (UAPI requests) quoted safely in a message. */
#ifndef WGPIPE_TEXT_H
#define WGPIPE_TEXT_H

#include <stddef.h>

enum { WG_TEXT_QUOTE_SIZE = 48 };

/*
 * Copies at most 40 characters of v into buf for a log line or an error
 * message, with anything unprintable shown as '?' and "..." after a cut;
 * returns buf. Never pass it a value that may be key material.
 */
const char *wg_text_quote(char buf[static WG_TEXT_QUOTE_SIZE], const char *v,
			  size_t n);

#endif
