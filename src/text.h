/* SPDX-License-Identifier: MIT */
/*
 * Untrusted text (UAPI requests): numbers read as wireguard-go reads
 * them. (No message quotes request text: any of it may hold a key.)
 */
#ifndef WGPIPE_TEXT_H
#define WGPIPE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The n characters at v as a decimal number from 0 to max: digits only,
 * at least one, leading zeros allowed, no sign or space; what Go's
 * strconv.ParseUint(v, 10, bits) accepts. False, *out untouched, if not.
 */
bool wg_text_decimal(const char *v, size_t n, uint64_t max, uint64_t *out);

#endif
