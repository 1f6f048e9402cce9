/* SPDX-License-Identifier: MPL-2.0 */
/* Clocks and HTTP dates. */
#include "lib_common.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "timeutil.h"

uint64_t ktd_time_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t ktd_time_mono_ms(void)
{
	return ktd_time_mono_us() / 1000u;
}

void ktd_time_deadline(struct timespec *ts, uint64_t ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed",
                                    "Thu", "Fri", "Sat"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void ktd_time_http_date(time_t t, char *out, size_t outsz)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, outsz, "%s, %02d %s %04d %02d:%02d:%02d GMT",
	         wdays[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
	         tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int ktd_time_parse_http_date(const char *s, time_t *t_r)
{
	char wday[4], mon[4], gmt[4];
	struct tm tm, want;
	time_t t;
	int n = 0;
	size_t i;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%3[A-Za-z], %d %3s %d %d:%d:%d %3s%n", wday, &tm.tm_mday,
	           mon, &tm.tm_year, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, gmt,
	           &n) != 8 ||
	    s[n] != '\0' || strcmp(gmt, "GMT") != 0)
		return -1;
	for (i = 0; i < KTD_N_ELEMENTS(months); i++) {
		if (strcmp(mon, months[i]) == 0)
			break;
	}
	if (i == KTD_N_ELEMENTS(months))
		return -1;
	tm.tm_mon = (int)i;
	tm.tm_year -= 1900;
	want = tm;
	errno = 0;
	t = timegm(&tm);
	if (t == (time_t)-1 && errno != 0)
		return -1;
	/* timegm() normalises fields out of range ("31 Feb" becomes 3 Mar,
	 * hour 25 the next day): a date that does not come back as written
	 * was not a date. */
	if (tm.tm_year != want.tm_year || tm.tm_mon != want.tm_mon ||
	    tm.tm_mday != want.tm_mday || tm.tm_hour != want.tm_hour ||
	    tm.tm_min != want.tm_min || tm.tm_sec != want.tm_sec)
		return -1;
	*t_r = t;
	return 0;
}

void ktd_time_rfc3339_now(char *out, size_t outsz)
{
	struct timespec ts;
	struct tm tm;
	char date[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outsz, "%s.%06ldZ", date, ts.tv_nsec / 1000);
}
