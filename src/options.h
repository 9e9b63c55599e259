/* SPDX-License-Identifier: MIT */
/* The command line: tuning flags, their defaults and valid ranges. One
 * table drives parsing, --help and the check that the man page lists
 * every flag. */
#ifndef WGPIPE_OPTIONS_H
#define WGPIPE_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>

#include "device.h"

enum {
	WG_OPTIONS_HELP = -100,
	WG_OPTIONS_VERSION = -101,
};

/* Fills opt with defaults, then the flags. Returns the index in argv of
 * INTERFACE, WG_OPTIONS_HELP / WG_OPTIONS_VERSION, or -1 after printing
 * one line saying what was wrong. */
int wg_options_parse(int argc, char **argv, struct wg_options *opt,
		     bool *foreground);
void wg_options_defaults(struct wg_options *opt);
void wg_options_usage(FILE *out);

#endif
