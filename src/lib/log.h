/* SPDX-License-Identifier: MPL-2.0 */
/* Logging: one line per event to stderr (journald takes it under systemd),
 * "ts=... level=... " followed by the caller's key=value fields. CPR numbers
 * are masked in every line before it is written. Thread-safe. */
#ifndef KTD_LOG_H
#define KTD_LOG_H

#include "lib_common.h"

enum ktd_log_level {
	KTD_LOG_FATAL = 0,
	KTD_LOG_ERROR,
	KTD_LOG_WARNING,
	KTD_LOG_INFO,
	KTD_LOG_DEBUG,
	KTD_LOG_TRACE,
};

/* Exit codes of the programs (sysexits-like, documented in the man page). */
enum ktd_exit {
	KTD_EXIT_OK = 0,
	KTD_EXIT_FAILURE = 1, /* a runtime failure, e.g. the database refused */
	KTD_EXIT_USAGE = 64,  /* bad command line */
	KTD_EXIT_CONFIG = 78, /* bad configuration */
};

/* Maximum length of one log line; longer lines are cut and end in "...". */
#define KTD_LOG_LINE_MAX 4096

void ktd_log_set_level(enum ktd_log_level level);
enum ktd_log_level ktd_log_get_level(void);
bool ktd_log_enabled(enum ktd_log_level level);

/* Parses "fatal|error|warning|warn|info|debug|trace"; returns 0 or -1. */
int ktd_log_level_parse(const char *s, enum ktd_log_level *level_r);
const char *ktd_log_level_name(enum ktd_log_level level);

/* Redirects finished lines (without the newline) to sink, for unit tests;
 * NULL restores stderr. */
typedef void ktd_log_sink_fn(enum ktd_log_level level, const char *line);
void ktd_log_set_sink(ktd_log_sink_fn *sink);

void ktd_log(enum ktd_log_level level, const char *fmt, ...)
        KTD_ATTR_FORMAT(2, 3);

#define ktd_log_error(...) ktd_log(KTD_LOG_ERROR, __VA_ARGS__)
#define ktd_log_warnx(...) ktd_log(KTD_LOG_WARNING, __VA_ARGS__)
#define ktd_log_info(...) ktd_log(KTD_LOG_INFO, __VA_ARGS__)
#define ktd_log_debug(...) ktd_log(KTD_LOG_DEBUG, __VA_ARGS__)
#define ktd_log_trace(...) ktd_log(KTD_LOG_TRACE, __VA_ARGS__)

/* Like ktd_log_warnx, with errno=<n> error="<strerror>" appended. */
void ktd_log_warn(const char *fmt, ...) KTD_ATTR_FORMAT(1, 2);

/* A startup or configuration error: logs at FATAL and exits with code at
 * once (_exit: no atexit handlers, other threads are not waited for). */
KTD_ATTR_NORETURN void ktd_fatal(enum ktd_exit code, const char *fmt, ...)
        KTD_ATTR_FORMAT(2, 3);

/* A bug: logs file:line and aborts with a core dump. */
KTD_ATTR_NORETURN void ktd_panic_at(const char *file, int line, const char *fmt,
                                    ...) KTD_ATTR_FORMAT(3, 4);
#define ktd_panic(...) ktd_panic_at(__FILE__, __LINE__, __VA_ARGS__)

/* An assertion that stays on in release builds. */
#define ktd_assert(expr)                                                       \
	do {                                                                   \
		if (!(expr))                                                   \
			ktd_panic("assertion failed: %s", #expr);              \
	} while (0)

/* Masks every CPR number (DDMMYY-NNNN or DDMMYYNNNN with a plausible date,
 * not part of a longer digit run) in s, in place, as "XXXXXX-XXXX" or
 * "XXXXXXXXXX". Returns the number of numbers masked. */
size_t ktd_log_mask_cpr(char *s);

/* Writes s into out (of size outsz) as a log value: bare when it has only
 * safe characters, else in double quotes with \" \\ \n \t and control
 * bytes escaped. Cuts long values with "...". Returns out. */
const char *ktd_log_quote(const char *s, char *out, size_t outsz);

#endif
