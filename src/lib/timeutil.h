/* SPDX-License-Identifier: MPL-2.0 */
/* Clocks and time formatting. */
#ifndef KTD_TIMEUTIL_H
#define KTD_TIMEUTIL_H

#include "lib_common.h"

#include <time.h>

/* Monotonic clock in microseconds / milliseconds. */
uint64_t ktd_time_mono_us(void);
uint64_t ktd_time_mono_ms(void);

/* Adds ms milliseconds to the current CLOCK_REALTIME time, for timed waits. */
void ktd_time_deadline(struct timespec *ts, uint64_t ms);

/* The wall-clock time now as RFC 3339 UTC with microseconds,
 * "2026-01-31T08:15:00.123456Z", into out (>= 28 bytes). */
void ktd_time_rfc3339_now(char *out, size_t outsz);

/* Formats t as an HTTP date (RFC 9110 IMF-fixdate) into out (>= 30 bytes). */
void ktd_time_http_date(time_t t, char *out, size_t outsz);
/* Parses an IMF-fixdate; returns 0 or -1. */
int ktd_time_parse_http_date(const char *s, time_t *t_r) KTD_ATTR_NODISCARD;

#endif
