/* SPDX-License-Identifier: MPL-2.0 */
/* The rules of cases that need no database. */
#include "core/core_common.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/tx.h"
#include "db/db_audit.h"
#include "db/db_case.h"
#include "core/case.h"

static bool in_list(const char *s, const char *const *list)
{
	size_t i;

	if (!s)
		return false;
	for (i = 0; list[i]; i++) {
		if (strcmp(s, list[i]) == 0)
			return true;
	}
	return false;
}

bool case_status_valid(const char *s)
{
	static const char *const names[] = {"new",      "open",   "forwarded",
	                                    "resolved", "closed", NULL};

	return in_list(s, names);
}

bool case_channel_valid(const char *s)
{
	static const char *const names[] = {
	        "phone", "email",          "digital_post", "web", "walk_in",
	        "note",  "outbound_email", "outbound_dp",  NULL};

	return in_list(s, names);
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool all_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
	}
	return true;
}

bool case_reference_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n >= 11 && n <= 20 && all_digits(s, 4) && s[4] == '-' &&
	       all_digits(s + 5, n - 5);
}

bool case_cpr_valid(const char *s)
{
	return s && strlen(s) == 10 && all_digits(s, 10);
}

bool case_cvr_valid(const char *s)
{
	return s && strlen(s) == 8 && all_digits(s, 8);
}

static unsigned num(const char *s, size_t n)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	return v;
}

bool case_rfc3339_valid(const char *s)
{
	static const unsigned mdays[] = {31, 28, 31, 30, 31, 30,
	                                 31, 31, 30, 31, 30, 31};
	unsigned y, mo, d, maxd;

	if (!s || strlen(s) < 20)
		return false;
	if (!all_digits(s, 4) || s[4] != '-' || !all_digits(s + 5, 2) ||
	    s[7] != '-' || !all_digits(s + 8, 2) ||
	    (s[10] != 'T' && s[10] != 't') || !all_digits(s + 11, 2) ||
	    s[13] != ':' || !all_digits(s + 14, 2) || s[16] != ':' ||
	    !all_digits(s + 17, 2))
		return false;
	y = num(s, 4);
	mo = num(s + 5, 2);
	d = num(s + 8, 2);
	if (y < 1 || mo < 1 || mo > 12 || d < 1)
		return false;
	maxd = mdays[mo - 1];
	if (mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		maxd = 29;
	if (d > maxd || num(s + 11, 2) > 23 || num(s + 14, 2) > 59 ||
	    num(s + 17, 2) > 59)
		return false;
	s += 19;
	if (*s == '.') {
		size_t n = 0;

		for (s++; is_digit(*s); s++)
			n++;
		if (n < 1 || n > 9)
			return false;
	}
	if ((s[0] == 'Z' || s[0] == 'z') && s[1] == '\0')
		return true;
	return (s[0] == '+' || s[0] == '-') && all_digits(s + 1, 2) &&
	       s[3] == ':' && all_digits(s + 4, 2) && s[6] == '\0' &&
	       num(s + 1, 2) <= 23 && num(s + 4, 2) <= 59;
}

/* Days from 1970-01-01 to the proleptic Gregorian date y-m-d. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

bool case_rfc3339_us(const char *s, int64_t *us_r)
{
	int64_t secs, frac = 0;
	size_t n = 0;
	const char *p;

	if (!case_rfc3339_valid(s))
		return false;
	secs = days_from_civil(num(s, 4), num(s + 5, 2), num(s + 8, 2)) *
	               86400 +
	       num(s + 11, 2) * 3600 + num(s + 14, 2) * 60 + num(s + 17, 2);
	p = s + 19;
	if (*p == '.') {
		for (p++; is_digit(*p); p++, n++)
			if (n < 6)
				frac = frac * 10 + (*p - '0');
		if (n > 6)
			return false;
		for (; n < 6; n++)
			frac *= 10;
	}
	if (*p == '+' || *p == '-') {
		int64_t off = num(p + 1, 2) * 3600 + num(p + 4, 2) * 60;

		secs += *p == '+' ? -off : off;
	}
	*us_r = secs * 1000000 + frac;
	return true;
}

void case_cursor_encode(int64_t created_us, int64_t id,
                        char out[CASE_CURSOR_SIZE])
{
	char plain[48];
	int n;

	n = snprintf(plain, sizeof(plain), "%" PRId64 ":%" PRId64, created_us,
	             id);
	sodium_bin2base64(out, CASE_CURSOR_SIZE, (const unsigned char *)plain,
	                  (size_t)n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* A decimal number without sign or leading zero, at most 18 digits (so
 * that it fits int64 without an overflow check). */
static int parse_part(const char *s, size_t n, int64_t *v_r)
{
	int64_t v = 0;
	size_t i;

	if (n < 1 || n > 18 || (n > 1 && s[0] == '0') || !all_digits(s, n))
		return -1;
	for (i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	*v_r = v;
	return 0;
}

int case_cursor_decode(const char *s, int64_t *created_us_r, int64_t *id_r)
{
	unsigned char plain[48];
	size_t len, n = strlen(s);
	const char *colon;
	int64_t us, id;

	if (n == 0 || n >= CASE_CURSOR_SIZE)
		return -1;
	if (sodium_base642bin(plain, sizeof(plain) - 1, s, n, NULL, &len, NULL,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		return -1;
	plain[len] = '\0';
	if (memchr(plain, '\0', len))
		return -1;
	colon = memchr(plain, ':', len);
	if (!colon)
		return -1;
	if (parse_part((const char *)plain, (size_t)(colon - (char *)plain),
	               &us) < 0 ||
	    parse_part(colon + 1, len - (size_t)(colon - (char *)plain) - 1,
	               &id) < 0 ||
	    id == 0)
		return -1;
	*created_us_r = us;
	*id_r = id;
	return 0;
}

int case_update(PGconn *pg, int64_t id, int64_t version,
                const struct db_case_patch *p, const struct case_actor *actor,
                bool show_cpr, char **json_r, struct ktd_error *err)
{
	struct db_audit_actor a;
	char detail[128];
	int r;

	*json_r = NULL;
	snprintf(detail, sizeof(detail), "{\"fields\": [%s%s%s%s\"version\"]}",
	         p->set_category ? "\"category\", " : "",
	         p->set_department ? "\"department_id\", " : "",
	         p->set_assignee ? "\"assignee_id\", " : "",
	         p->set_subject ? "\"subject\", " : "");
	if (db_tx_begin(pg, err) < 0)
		return -1;
	r = db_case_update(pg, id, version, p, show_cpr, json_r, err);
	if (r < 0) {
		if (strcmp(err->sqlstate, "23503") == 0)
			ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
			              "field '%s' names no such row",
			              strstr(err->msg, "assignee")
			                      ? "assignee_id"
			                      : "department_id");
		else if (strcmp(err->sqlstate, "23514") == 0)
			ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
			              "a value was refused by the database's "
			              "rules");
		goto fail;
	}
	if (r == 0) {
		/* Not this version: say which state won, or that there is
		 * no such case. */
		r = db_case_get_json(pg, id, show_cpr, json_r, err);
		if (r < 0)
			goto fail;
		if (r == 0)
			ktd_error_set(err, KTD_ERR_NOT_FOUND, "no such case");
		else
			ktd_error_set(err, KTD_ERR_CONFLICT,
			              "the case was changed by someone else: "
			              "it is at another version");
		db_tx_rollback(pg);
		return -1;
	}
	memset(&a, 0, sizeof(a));
	a.user_id = actor->user_id;
	a.token_name = actor->token_name;
	a.peer = actor->peer;
	if (db_audit_add(pg, &a, "update", id, detail, err) < 0 ||
	    db_case_notify(pg, "case.updated", id, err) < 0 ||
	    db_tx_commit(pg, err) < 0)
		goto fail;
	return 0;
fail:
	db_tx_rollback(pg);
	free(*json_r);
	*json_r = NULL;
	return -1;
}
