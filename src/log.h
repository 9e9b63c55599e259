/* SPDX-License-Identifier: MIT */
/* One line per event, to stderr in the foreground and syslog in the
 * background, prefixed with the interface. Never log key material. */
#ifndef WGPIPE_LOG_H
#define WGPIPE_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum wg_log_level {
	WG_LOG_SILENT = -1,
	WG_LOG_ERROR = 0,
	WG_LOG_INFO = 1,
	WG_LOG_VERBOSE = 2,
};

/* Any thread may log; wg_log_init is called once before threads start. */
void wg_log_init(const char *ifname, bool use_syslog, enum wg_log_level level);
void wg_log_set_syslog(bool use_syslog);
enum wg_log_level wg_log_level_from_env(const char *value);
bool wg_log_enabled(enum wg_log_level level);
void wg_log(enum wg_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* For anything a remote packet can trigger: at most 10 lines a second
 * per call site, then one line saying how many were suppressed. */
struct wg_log_ratelimit {
	uint64_t window_start_ns;
	unsigned int count;
	unsigned int suppressed;
};
bool wg_log_ratelimit_allow(struct wg_log_ratelimit *rl, unsigned int *missed);

#define wg_log_ratelimited(level, ...)                                        \
	do {                                                                  \
		static struct wg_log_ratelimit rl_;                           \
		unsigned int missed_;                                         \
		if (wg_log_enabled(level) &&                                  \
		    wg_log_ratelimit_allow(&rl_, &missed_)) {                 \
			if (missed_)                                          \
				wg_log(level, "%u similar messages suppressed", \
				       missed_);                              \
			wg_log(level, __VA_ARGS__);                           \
		}                                                             \
	} while (0)

#define log_err(...) wg_log(WG_LOG_ERROR, __VA_ARGS__)
#define log_info(...) wg_log(WG_LOG_INFO, __VA_ARGS__)
#define log_debug(...) wg_log(WG_LOG_VERBOSE, __VA_ARGS__)

#endif
