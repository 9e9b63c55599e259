/* SPDX-License-Identifier: MIT */
/* The device's side of the UAPI: a get snapshot, and set requests
 * applied under the config lock. */
#ifndef WGPIPE_SETTINGS_H
#define WGPIPE_SETTINGS_H

#include "uapi.h"

extern const struct wg_uapi_ops wg_config_uapi_ops;

#endif
