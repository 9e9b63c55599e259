/* SPDX-License-Identifier: MIT */
/*
 * Untrusted text (UAPI requests): numbers read as wireguard-go reads
 * them, and text quoted safely in a message.
 */
#ifndef WGPIPE_TEXT_H
#define WGPIPE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { WG_TEXT_QUOTE_SIZE = 48 };

/*
 * The n characters at v as a decimal number from 0 to max: digits only,
 * at least one, leading zeros allowed, no sign or space; what Go's
 * strconv.ParseUint(v, 10, bits) accepts. False, *out untouched, if not.
 */
bool wg_text_decimal(const char *v, size_t n, uint64_t max, uint64_t *out);

/*
 * Copies at most 40 characters of v into buf for a log line or an error
 * message, with anything unprintable shown as '?' and "..." after a cut;
 * returns buf. Never pass it a value that may be key material.
 */
const char *wg_text_quote(char buf[static WG_TEXT_QUOTE_SIZE], const char *v,
			  size_t n);

#endif
