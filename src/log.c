// SPDX-License-Identifier: MIT
/*
 * Logging. The level, prefix and destination are set once by main before
 * any thread starts and only read afterwards; the rate limiters are per
 * call site and protected by one mutex (logging is off the fast path).
 */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "clock.h"

static struct {
	char prefix[64];
	bool use_syslog;
	enum wg_log_level level;
} logger = { .level = WG_LOG_INFO };

static pthread_mutex_t ratelimit_lock = PTHREAD_MUTEX_INITIALIZER;

void wg_log_init(const char *ifname, bool use_syslog, enum wg_log_level level)
{
	snprintf(logger.prefix, sizeof(logger.prefix), "%s", ifname ? ifname : "");
	logger.level = level;
	wg_log_set_syslog(use_syslog);
}

void wg_log_set_syslog(bool use_syslog)
{
	logger.use_syslog = use_syslog;
	if (use_syslog)
		openlog("wgpipe", LOG_PID, LOG_DAEMON);
}

enum wg_log_level wg_log_level_from_env(const char *value)
{
	if (!value || !*value)
		return WG_LOG_INFO;
	if (!strcmp(value, "verbose") || !strcmp(value, "debug"))
		return WG_LOG_VERBOSE;
	if (!strcmp(value, "error"))
		return WG_LOG_ERROR;
	if (!strcmp(value, "silent"))
		return WG_LOG_SILENT;
	return WG_LOG_INFO;
}

bool wg_log_enabled(enum wg_log_level level)
{
	return level <= logger.level;
}

void wg_log(enum wg_log_level level, const char *fmt, ...)
{
	static const int priority[] = { LOG_ERR, LOG_INFO, LOG_DEBUG };
	static const char *const name[] = { "ERROR", "INFO", "DEBUG" };
	char line[1024];
	va_list ap;

	if (!wg_log_enabled(level) || level < WG_LOG_ERROR)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (logger.use_syslog) {
		syslog(priority[level], "%s: %s", logger.prefix, line);
		return;
	}
	fprintf(stderr, "%s: %s: %s\n", name[level], logger.prefix, line);
}

bool wg_log_ratelimit_allow(struct wg_log_ratelimit *rl, unsigned int *missed)
{
	uint64_t now = wg_now_ns();
	bool allow;

	pthread_mutex_lock(&ratelimit_lock);
	*missed = 0;
	if (now - rl->window_start_ns >= NSEC_PER_SEC) {
		*missed = rl->suppressed;
		rl->window_start_ns = now;
		rl->count = 0;
		rl->suppressed = 0;
	}
	allow = rl->count < 10;
	if (allow)
		rl->count++;
	else
		rl->suppressed++;
	pthread_mutex_unlock(&ratelimit_lock);
	return allow;
}
