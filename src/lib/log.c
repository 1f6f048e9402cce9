/* SPDX-License-Identifier: MPL-2.0 */
/* Line-oriented key=value logging with CPR masking. */
#include "lib_common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "str.h"

static _Atomic int log_level = KTD_LOG_INFO;
static ktd_log_sink_fn *_Atomic log_sink;

static const char *const level_names[] = {
        [KTD_LOG_FATAL] = "fatal",     [KTD_LOG_ERROR] = "error",
        [KTD_LOG_WARNING] = "warning", [KTD_LOG_INFO] = "info",
        [KTD_LOG_DEBUG] = "debug",     [KTD_LOG_TRACE] = "trace",
};

void ktd_log_set_level(enum ktd_log_level level)
{
	atomic_store(&log_level, (int)level);
}

enum ktd_log_level ktd_log_get_level(void)
{
	return (enum ktd_log_level)atomic_load(&log_level);
}

bool ktd_log_enabled(enum ktd_log_level level)
{
	return (int)level <= atomic_load(&log_level);
}

int ktd_log_level_parse(const char *s, enum ktd_log_level *level_r)
{
	size_t i;

	if (strcmp(s, "warn") == 0) {
		*level_r = KTD_LOG_WARNING;
		return 0;
	}
	for (i = 0; i < KTD_N_ELEMENTS(level_names); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*level_r = (enum ktd_log_level)i;
			return 0;
		}
	}
	return -1;
}

const char *ktd_log_level_name(enum ktd_log_level level)
{
	if ((size_t)level >= KTD_N_ELEMENTS(level_names))
		return "unknown";
	return level_names[level];
}

void ktd_log_set_sink(ktd_log_sink_fn *sink)
{
	atomic_store(&log_sink, sink);
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int two_digits(const char *p)
{
	return (p[0] - '0') * 10 + (p[1] - '0');
}

/* A CPR number starts with a date DDMMYY; checking it keeps most other
 * ten-digit numbers (ids, amounts) readable in the logs. */
static bool cpr_date_plausible(const char *p)
{
	int dd = two_digits(p), mm = two_digits(p + 2);

	return dd >= 1 && dd <= 31 && mm >= 1 && mm <= 12;
}

size_t ktd_log_mask_cpr(char *s)
{
	size_t n = 0;
	char *p = s;

	while (*p) {
		size_t run = 0, k;
		bool dash;

		if (!is_digit(*p) || (p > s && is_digit(p[-1]))) {
			p++;
			continue;
		}
		while (is_digit(p[run]))
			run++;
		dash = false;
		if (run == 6 && p[6] == '-') {
			for (k = 7; k < 11 && is_digit(p[k]); k++)
				;
			if (k == 11 && !is_digit(p[11]))
				dash = true;
		}
		if ((run == 10 || dash) && cpr_date_plausible(p)) {
			size_t len = dash ? 11 : 10;

			for (k = 0; k < len; k++) {
				if (p[k] != '-')
					p[k] = 'X';
			}
			n++;
			p += len;
			continue;
		}
		p += run;
	}
	return n;
}

static bool log_value_safe(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f)
			return false;
	}
	return true;
}

/* The length of the well-formed UTF-8 character at s, or 0. */
static size_t utf8_char_len(const char *s)
{
	unsigned char c = (unsigned char)*s;
	size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;

	if (n == 0 || strnlen(s, n) < n || !ktd_utf8_valid(s, n))
		return 0;
	return n;
}

const char *ktd_log_quote(const char *s, char *out, size_t outsz)
{
	size_t o = 0;

	if (outsz < 8) {
		if (outsz > 0)
			out[0] = '\0';
		return out;
	}
	if (!s)
		s = "";
	if (log_value_safe(s)) {
		size_t len = strlen(s);

		if (len < outsz) {
			memcpy(out, s, len + 1);
			return out;
		}
	}
	out[o++] = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];
		size_t elen;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			elen = 2;
		} else if (c == '\n') {
			memcpy(esc, "\\n", 2);
			elen = 2;
		} else if (c == '\t') {
			memcpy(esc, "\\t", 2);
			elen = 2;
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", c);
			elen = 4;
		} else if (c >= 0x80) {
			/* A whole UTF-8 character is kept; a stray byte (a
			 * request path need not be UTF-8) is escaped, so that
			 * log lines stay valid UTF-8. */
			elen = utf8_char_len(s);
			if (elen > 0) {
				memcpy(esc, s, elen);
				s += elen - 1;
			} else {
				snprintf(esc, sizeof(esc), "\\x%02x", c);
				elen = 4;
			}
		} else {
			esc[0] = (char)c;
			elen = 1;
		}
		/* Leave room for "...", the closing quote and the NUL. */
		if (o + elen + 5 > outsz) {
			/* Never cut inside a UTF-8 character: quoted values
			 * also end up in JSON error bodies, which must be
			 * valid UTF-8. */
			o = 1 + ktd_utf8_cut(out + 1, o - 1);
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(out + o, esc, elen);
		o += elen;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

static void log_emit(enum ktd_log_level level, const char *fmt, va_list ap,
                     const char *suffix)
{
	char line[KTD_LOG_LINE_MAX + 2];
	struct timespec ts;
	struct tm tm;
	size_t len;
	int n;
	ktd_log_sink_fn *sink;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, KTD_LOG_LINE_MAX,
	             "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s ",
	             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	             tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
	             ktd_log_level_name(level));
	len = n > 0 ? (size_t)n : 0;
	n = vsnprintf(line + len, KTD_LOG_LINE_MAX - len, fmt, ap);
	if (n > 0)
		len += (size_t)n;
	if (suffix && len < KTD_LOG_LINE_MAX) {
		n = snprintf(line + len, KTD_LOG_LINE_MAX - len, "%s", suffix);
		if (n > 0)
			len += (size_t)n;
	}
	if (len >= KTD_LOG_LINE_MAX) {
		size_t k;

		len = KTD_LOG_LINE_MAX - 1;
		/* The masking below cannot recognise a CPR number that the
		 * cut leaves half shown, so hide the digits of whatever
		 * number the cut falls in. */
		for (k = len - 3;
		     k > 0 && (is_digit(line[k - 1]) || line[k - 1] == '-');
		     k--) {
			if (is_digit(line[k - 1]))
				line[k - 1] = 'X';
		}
		memcpy(line + len - 3, "...", 3);
	}
	line[len] = '\0';
	ktd_log_mask_cpr(line);

	sink = atomic_load(&log_sink);
	if (sink) {
		sink(level, line);
		return;
	}
	line[len++] = '\n';
	/* One write per line keeps lines from different threads whole. */
	if (write(STDERR_FILENO, line, len) < 0) {
		/* Nowhere left to report it. */
	}
}

void ktd_log(enum ktd_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!ktd_log_enabled(level))
		return;
	va_start(ap, fmt);
	log_emit(level, fmt, ap, NULL);
	va_end(ap);
}

void ktd_log_warn(const char *fmt, ...)
{
	char suffix[256], quoted[200];
	int saved = errno;
	va_list ap;

	if (!ktd_log_enabled(KTD_LOG_WARNING))
		return;
	snprintf(suffix, sizeof(suffix), " errno=%d error=%s", saved,
	         ktd_log_quote(strerror(saved), quoted, sizeof(quoted)));
	va_start(ap, fmt);
	log_emit(KTD_LOG_WARNING, fmt, ap, suffix);
	va_end(ap);
	errno = saved;
}

void ktd_fatal(enum ktd_exit code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(KTD_LOG_FATAL, fmt, ap, NULL);
	va_end(ap);
	/* _exit, not exit: other threads (the pool's, the channel workers')
	 * may be inside a library whose exit-time destructors would run
	 * under them. Seen: libpq's Kerberos mutex aborting a kontaktd that
	 * failed to start, turning exit code 78 into SIGABRT. */
	fflush(NULL);
	_exit((int)code);
}

void ktd_panic_at(const char *file, int line, const char *fmt, ...)
{
	char suffix[256];
	va_list ap;

	snprintf(suffix, sizeof(suffix), " panic_at=%s:%d", file, line);
	va_start(ap, fmt);
	log_emit(KTD_LOG_FATAL, fmt, ap, suffix);
	va_end(ap);
	abort();
}
