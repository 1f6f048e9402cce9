/* SPDX-License-Identifier: MPL-2.0 */
/* The directory: department rules, phone hours, CSV import and export. */
#include "core/core_common.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/csv.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "core/directory.h"

static const char *const day_names[DIRECTORY_DAYS] = {
        "mon", "tue", "wed", "thu", "fri", "sat", "sun",
};

/* --- phone hours -------------------------------------------------------- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char to_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Spaces, tabs and line breaks (a spreadsheet cell may hold them). */
static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	return p;
}

static void format_time(uint16_t minutes, char out[6])
{
	snprintf(out, 6, "%02u:%02u", (unsigned)(minutes / 60) % 100,
	         (unsigned)(minutes % 60));
}

/* A short quote of the text at p for a message; stops at 16 bytes, on a
 * UTF-8 boundary. */
static int quote_len(const char *p)
{
	size_t n = strnlen(p, 16);

	return (int)ktd_utf8_cut(p, n);
}

static int parse_day(const char **pp, unsigned *day_r, struct ktd_error *err)
{
	const char *p = *pp;
	char w[4];
	size_t n = 0, i;

	while (is_alpha(p[n]))
		n++;
	if (n == 3) {
		for (i = 0; i < 3; i++)
			w[i] = to_lower(p[i]);
		w[3] = '\0';
		for (i = 0; i < DIRECTORY_DAYS; i++) {
			if (strcmp(w, day_names[i]) == 0) {
				*day_r = (unsigned)i;
				*pp = p + 3;
				return 0;
			}
		}
	}
	if (n == 0)
		return ktd_error_set(err, KTD_ERR_INVALID,
		                     "expected a weekday (mon, tue, wed, thu, "
		                     "fri, sat, sun) at '%.*s'",
		                     quote_len(p), p);
	return ktd_error_set(err, KTD_ERR_INVALID,
	                     "'%.*s' is not a weekday (mon, tue, wed, thu, "
	                     "fri, sat, sun)",
	                     (int)(n > 16 ? 16 : n), p);
}

/* H:MM or HH:MM, 00:00 to 24:00. strict: exactly HH:MM (the JSON form). */
static int parse_time(const char **pp, bool strict, uint16_t *min_r,
                      struct ktd_error *err)
{
	const char *p = *pp;
	unsigned h = 0, m;
	size_t nd = 0;

	while (is_digit(p[nd]) && nd < 3)
		nd++;
	if (nd < (strict ? 2u : 1u) || nd > 2 || p[nd] != ':' ||
	    !is_digit(p[nd + 1]) || !is_digit(p[nd + 2]) || is_digit(p[nd + 3]))
		goto bad;
	h = nd == 1 ? (unsigned)(p[0] - '0')
	            : (unsigned)(p[0] - '0') * 10 + (unsigned)(p[1] - '0');
	m = (unsigned)(p[nd + 1] - '0') * 10 + (unsigned)(p[nd + 2] - '0');
	if (m > 59 || h > 24 || (h == 24 && m != 0))
		goto bad;
	*min_r = (uint16_t)(h * 60 + m);
	*pp = p + nd + 3;
	return 0;
bad:
	return ktd_error_set(err, KTD_ERR_INVALID,
	                     "expected a time HH:MM (00:00 to 24:00) at '%.*s'",
	                     quote_len(p), p);
}

static int add_range(struct directory_day *dd, uint16_t from, uint16_t to,
                     struct ktd_error *err)
{
	char a[6], b[6];

	if (from >= to) {
		format_time(from, a);
		format_time(to, b);
		return ktd_error_set(err, KTD_ERR_INVALID,
		                     "%s-%s ends before it starts", a, b);
	}
	if (dd->n == DIRECTORY_RANGES_MAX)
		return ktd_error_set(err, KTD_ERR_INVALID,
		                     "more than %d time ranges for a day",
		                     DIRECTORY_RANGES_MAX);
	dd->r[dd->n].from = from;
	dd->r[dd->n].to = to;
	dd->n++;
	return 0;
}

/* Sorts a day's ranges and refuses overlapping ones. */
static int day_finish(struct directory_day *dd, struct ktd_error *err)
{
	unsigned i, j;
	char a[6], b[6], c[6], d[6];

	for (i = 1; i < dd->n; i++) {
		struct directory_range x = dd->r[i];

		for (j = i; j > 0 && dd->r[j - 1].from > x.from; j--)
			dd->r[j] = dd->r[j - 1];
		dd->r[j] = x;
	}
	for (i = 1; i < dd->n; i++) {
		if (dd->r[i].from < dd->r[i - 1].to) {
			format_time(dd->r[i - 1].from, a);
			format_time(dd->r[i - 1].to, b);
			format_time(dd->r[i].from, c);
			format_time(dd->r[i].to, d);
			return ktd_error_set(err, KTD_ERR_INVALID,
			                     "%s-%s and %s-%s overlap", a, b, c,
			                     d);
		}
	}
	return 0;
}

/* Days of one group: "mon", "mon-thu", "mon,wed", "mon-wed,fri". */
static int parse_days(const char **pp, bool days[DIRECTORY_DAYS],
                      const bool seen[DIRECTORY_DAYS], struct ktd_error *err)
{
	const char *p = *pp;
	unsigned d1, d2, d;

	for (;;) {
		if (parse_day(&p, &d1, err) < 0)
			return -1;
		d2 = d1;
		p = skip_ws(p);
		if (*p == '-') {
			p = skip_ws(p + 1);
			if (parse_day(&p, &d2, err) < 0)
				return -1;
			if (d2 < d1)
				return ktd_error_set(
				        err, KTD_ERR_INVALID,
				        "%s-%s: a range of days runs "
				        "from Monday towards Sunday",
				        day_names[d1], day_names[d2]);
			p = skip_ws(p);
		}
		for (d = d1; d <= d2; d++) {
			if (seen[d] || days[d])
				return ktd_error_set(err, KTD_ERR_INVALID,
				                     "%s is given twice",
				                     day_names[d]);
			days[d] = true;
		}
		if (*p != ',')
			break;
		p = skip_ws(p + 1);
	}
	*pp = p;
	return 0;
}

/* Ranges of one group: "08:00-15:00" or "08:00-12:00, 13:00-15:00". */
static int parse_ranges(const char **pp, struct directory_day *dd,
                        struct ktd_error *err)
{
	const char *p = *pp;
	uint16_t from, to;

	if (!is_digit(*p))
		return ktd_error_set(
		        err, KTD_ERR_INVALID,
		        "expected times HH:MM-HH:MM after the days "
		        "at '%.*s'",
		        quote_len(p), p);
	for (;;) {
		if (parse_time(&p, false, &from, err) < 0)
			return -1;
		p = skip_ws(p);
		if (*p != '-')
			return ktd_error_set(
			        err, KTD_ERR_INVALID,
			        "expected '-' between two times at "
			        "'%.*s'",
			        quote_len(p), p);
		p = skip_ws(p + 1);
		if (parse_time(&p, false, &to, err) < 0 ||
		    add_range(dd, from, to, err) < 0)
			return -1;
		p = skip_ws(p);
		if (*p != ',')
			break;
		p = skip_ws(p + 1);
	}
	*pp = p;
	return day_finish(dd, err);
}

int directory_hours_parse(const char *text, struct directory_hours *h_r,
                          struct ktd_error *err)
{
	struct directory_hours h;
	bool seen[DIRECTORY_DAYS] = {false};
	const char *p = text;
	unsigned d;

	memset(&h, 0, sizeof(h));
	for (;;) {
		bool days[DIRECTORY_DAYS] = {false};
		struct directory_day dd;

		memset(&dd, 0, sizeof(dd));
		p = skip_ws(p);
		if (*p == '\0')
			break;
		if (*p == ';') { /* an empty group */
			p++;
			continue;
		}
		if (parse_days(&p, days, seen, err) < 0 ||
		    parse_ranges(&p, &dd, err) < 0)
			return -1;
		for (d = 0; d < DIRECTORY_DAYS; d++) {
			if (days[d]) {
				h.day[d] = dd;
				seen[d] = true;
			}
		}
		if (*p == ';')
			p++;
		else if (*p != '\0')
			return ktd_error_set(
			        err, KTD_ERR_INVALID,
			        "expected ';' or the end at '%.*s'",
			        quote_len(p), p);
	}
	*h_r = h;
	return 0;
}

static bool day_equal(const struct directory_day *a,
                      const struct directory_day *b)
{
	unsigned i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (a->r[i].from != b->r[i].from || a->r[i].to != b->r[i].to)
			return false;
	return true;
}

bool directory_hours_equal(const struct directory_hours *a,
                           const struct directory_hours *b)
{
	unsigned d;

	for (d = 0; d < DIRECTORY_DAYS; d++)
		if (!day_equal(&a->day[d], &b->day[d]))
			return false;
	return true;
}

const char *directory_hours_format(const struct directory_hours *h, char *out,
                                   size_t outsz)
{
	size_t len = 0;
	unsigned d = 0, e, i;
	char a[6], b[6];

	ktd_assert(outsz >= DIRECTORY_HOURS_TEXT_SIZE);
	out[0] = '\0';
	/* At most 7 groups of "; ddd-ddd " and 4 ranges of
	 * "hh:mm-hh:mm,": far below DIRECTORY_HOURS_TEXT_SIZE. */
	while (d < DIRECTORY_DAYS) {
		if (h->day[d].n == 0) {
			d++;
			continue;
		}
		e = d;
		while (e + 1 < DIRECTORY_DAYS &&
		       day_equal(&h->day[e + 1], &h->day[d]))
			e++;
		len += (size_t)snprintf(out + len, outsz - len, "%s%s%s%s ",
		                        len ? "; " : "", day_names[d],
		                        e > d ? "-" : "",
		                        e > d ? day_names[e] : "");
		for (i = 0; i < h->day[d].n; i++) {
			format_time(h->day[d].r[i].from, a);
			format_time(h->day[d].r[i].to, b);
			len += (size_t)snprintf(out + len, outsz - len,
			                        "%s%s-%s", i ? "," : "", a, b);
		}
		d = e + 1;
	}
	return out;
}

static int day_from_json(const char *key, json_t *ranges,
                         struct directory_day *dd, struct ktd_error *err)
{
	size_t i;
	json_t *pair;

	if (!json_is_array(ranges))
		return ktd_error_set(err, KTD_ERR_INVALID,
		                     "%s: expected an array of [\"HH:MM\", "
		                     "\"HH:MM\"] pairs",
		                     key);
	json_array_foreach (ranges, i, pair) {
		const char *s[2];
		uint16_t t[2];
		unsigned k;

		if (!json_is_array(pair) || json_array_size(pair) != 2)
			return ktd_error_set(
			        err, KTD_ERR_INVALID,
			        "%s: each range is a pair [\"HH:MM\", "
			        "\"HH:MM\"]",
			        key);
		for (k = 0; k < 2; k++) {
			s[k] = json_string_value(json_array_get(pair, k));
			if (!s[k] || strlen(s[k]) != 5 ||
			    parse_time(&s[k], true, &t[k], err) < 0)
				return ktd_error_set(err, KTD_ERR_INVALID,
				                     "%s: times are strings "
				                     "\"HH:MM\" from 00:00 to "
				                     "24:00",
				                     key);
		}
		if (add_range(dd, t[0], t[1], err) < 0) {
			ktd_error_prefix(err, "%s", key);
			return -1;
		}
	}
	if (day_finish(dd, err) < 0) {
		ktd_error_prefix(err, "%s", key);
		return -1;
	}
	return 0;
}

int directory_hours_from_json(const char *text, struct directory_hours *h_r,
                              struct ktd_error *err)
{
	struct directory_hours h;
	json_error_t jerr;
	json_t *root, *v;
	const char *key;
	unsigned d;
	int ret = -1;

	memset(&h, 0, sizeof(h));
	root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return ktd_error_set(err, KTD_ERR_INVALID,
		                     "phone hours are not JSON: %s", jerr.text);
	if (!json_is_object(root)) {
		ktd_error_set(err, KTD_ERR_INVALID,
		              "phone hours must be an object with a key per "
		              "day");
		goto out;
	}
	json_object_foreach (root, key, v) {
		for (d = 0; d < DIRECTORY_DAYS; d++)
			if (strcmp(key, day_names[d]) == 0)
				break;
		if (d == DIRECTORY_DAYS) {
			ktd_error_set(
			        err, KTD_ERR_INVALID,
			        "'%.16s' is not a weekday (mon, tue, wed, "
			        "thu, fri, sat, sun)",
			        key);
			goto out;
		}
		if (day_from_json(day_names[d], v, &h.day[d], err) < 0)
			goto out;
	}
	*h_r = h;
	ret = 0;
out:
	json_decref(root);
	return ret;
}

char *directory_hours_to_json(const struct directory_hours *h)
{
	json_t *root = json_object();
	char a[6], b[6], *text, *copy;
	unsigned d, i;

	for (d = 0; d < DIRECTORY_DAYS; d++) {
		json_t *ranges;

		if (h->day[d].n == 0)
			continue;
		ranges = json_array();
		for (i = 0; i < h->day[d].n; i++) {
			format_time(h->day[d].r[i].from, a);
			format_time(h->day[d].r[i].to, b);
			json_array_append_new(ranges, json_pack("[ss]", a, b));
		}
		json_object_set_new(root, day_names[d], ranges);
	}
	text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text)
		ktd_panic("out of memory encoding phone hours");
	copy = ktd_strdup(text);
	free(text);
	return copy;
}

/* --- fields ------------------------------------------------------------- */

int directory_name_check(const char *name, struct ktd_error *err)
{
	size_t len = strlen(name);

	if (len == 0)
		return ktd_error_set(err, KTD_ERR_INVALID, "must not be empty");
	if (!ktd_utf8_valid(name, len))
		return ktd_error_set(err, KTD_ERR_INVALID, "not valid UTF-8");
	if (ktd_utf8_has_control(name))
		return ktd_error_set(err, KTD_ERR_INVALID,
		                     "control characters are not allowed");
	if (ktd_utf8_chars(name) > DIRECTORY_NAME_MAX)
		return ktd_error_set(err, KTD_ERR_INVALID,
		                     "longer than %d characters",
		                     DIRECTORY_NAME_MAX);
	if (name[0] == ' ' || name[len - 1] == ' ')
		return ktd_error_set(err, KTD_ERR_INVALID,
		                     "leading or trailing space");
	return 0;
}

int directory_number_check(const char *s, struct ktd_error *err)
{
	const char *p = s[0] == '+' ? s + 1 : s;
	size_t n = strlen(p), i;

	for (i = 0; i < n; i++)
		if (!is_digit(p[i]))
			break;
	if (n == 0 || n > 20 || i < n)
		return ktd_error_set(err, KTD_ERR_INVALID,
		                     "'%.*s' is not a number: use 1 to 20 "
		                     "digits, optionally after a '+'",
		                     quote_len(s), s);
	return 0;
}

int directory_ivr_check(const char *s, struct ktd_error *err)
{
	size_t n = strlen(s), i;

	for (i = 0; i < n; i++)
		if (!is_digit(s[i]) && s[i] != '*' && s[i] != '#')
			break;
	if (n == 0 || n > 16 || i < n)
		return ktd_error_set(
		        err, KTD_ERR_INVALID,
		        "'%.*s' is not an IVR choice: use the keys "
		        "pressed, 1 to 16 of 0-9, '*' and '#'",
		        quote_len(s), s);
	return 0;
}

int directory_email_check(const char *s, struct ktd_error *err)
{
	size_t len = strlen(s), i;
	const char *at = strchr(s, '@');
	const char *dom = at ? at + 1 : NULL, *dot;
	bool ok = at && at > s && !strchr(dom, '@') && len <= 254 &&
	          ktd_utf8_valid(s, len) && !ktd_utf8_has_control(s);

	for (i = 0; ok && i < len; i++)
		if (s[i] == ' ')
			ok = false;
	/* A dot inside the domain, with something on either side. */
	dot = ok ? strchr(dom + (*dom ? 1 : 0), '.') : NULL;
	if (!ok || !dot || dot[1] == '\0')
		return ktd_error_set(err, KTD_ERR_INVALID,
		                     "'%.*s' is not an e-mail address "
		                     "(name@example.dk)",
		                     quote_len(s), s);
	return 0;
}

char *directory_name_fold(const char *name)
{
	char *out = ktd_strdup(name);
	unsigned char *p = (unsigned char *)out;

	for (; *p; p++) {
		if (*p >= 'A' && *p <= 'Z') {
			*p = (unsigned char)(*p - 'A' + 'a');
		} else if (*p == 0xc3 && p[1] >= 0x80 && p[1] <= 0x9e &&
		           p[1] != 0x97) {
			/* U+00C0..U+00DE (not U+00D7 x) to U+00E0..U+00FE. */
			p[1] = (unsigned char)(p[1] + 0x20);
			p++;
		}
	}
	return out;
}

/* --- CSV ---------------------------------------------------------------- */

enum column {
	COL_NAME,
	COL_PARENT,
	COL_QUEUE,
	COL_HUNT,
	COL_IVR,
	COL_EMAIL,
	COL_HOURS,
	COL_CENTRE,
	COL_PHASE,
	COL_ACTIVE,
	COL_COUNT,
};

static const char *const column_names[COL_COUNT] = {
        [COL_NAME] = "name",          [COL_PARENT] = "parent",
        [COL_QUEUE] = "queue_number", [COL_HUNT] = "hunt_group_number",
        [COL_IVR] = "ivr_choice",     [COL_EMAIL] = "email",
        [COL_HOURS] = "phone_hours",  [COL_CENTRE] = "handled_by_centre",
        [COL_PHASE] = "phase",        [COL_ACTIVE] = "active",
};

struct parse_ctx {
	directory_report_fn *report;
	void *ctx;
	unsigned problems;
};

static void problem(struct parse_ctx *pc, unsigned line, const char *field,
                    const char *fmt, ...) KTD_ATTR_FORMAT(4, 5);

static void problem(struct parse_ctx *pc, unsigned line, const char *field,
                    const char *fmt, ...)
{
	char msg[KTD_ERROR_MSG_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(msg))
		msg[ktd_utf8_cut(msg, sizeof(msg) - 1)] = '\0';
	pc->problems++;
	pc->report(pc->ctx, line, field, msg);
}

/* A copy of the field without surrounding white space; NULL when that
 * leaves nothing. */
static char *field_dup(const char *s)
{
	const char *e;

	s = skip_ws(s);
	e = s + strlen(s);
	while (e > s && strchr(" \t\r\n", e[-1]))
		e--;
	return e > s ? ktd_strndup(s, (size_t)(e - s)) : NULL;
}

static int parse_yes_no(const char *s, bool dflt, bool *v_r)
{
	if (!s) {
		*v_r = dflt;
		return 0;
	}
	if (strcasecmp(s, "ja") == 0) {
		*v_r = true;
		return 0;
	}
	if (strcasecmp(s, "nej") == 0) {
		*v_r = false;
		return 0;
	}
	return ktd_parse_bool(s, v_r);
}

/* Checks an optional text field with check(); on a problem the field is
 * dropped (so that later checks do not trip over it). */
static void check_opt(struct parse_ctx *pc, unsigned line, enum column col,
                      char **value,
                      int (*check)(const char *, struct ktd_error *))
{
	struct ktd_error err;

	if (*value && check(*value, &err) < 0) {
		problem(pc, line, column_names[col], "%s", err.msg);
		ktd_free(value);
	}
}

static void row_parse(struct parse_ctx *pc, struct directory_row *row,
                      const char *const *fields, const size_t *map)
{
	struct db_department *d = &row->dep;
	struct ktd_error err;
	char *centre, *phase, *active, *hours;
	unsigned line = row->line;
	uint32_t ph;

	d->name = field_dup(fields[map[COL_NAME]]);
	d->parent = field_dup(fields[map[COL_PARENT]]);
	d->queue_number = field_dup(fields[map[COL_QUEUE]]);
	d->hunt_group_number = field_dup(fields[map[COL_HUNT]]);
	d->ivr_choice = field_dup(fields[map[COL_IVR]]);
	d->email = field_dup(fields[map[COL_EMAIL]]);
	hours = field_dup(fields[map[COL_HOURS]]);
	centre = field_dup(fields[map[COL_CENTRE]]);
	phase = field_dup(fields[map[COL_PHASE]]);
	active = field_dup(fields[map[COL_ACTIVE]]);

	if (!d->name)
		problem(pc, line, "name", "required");
	check_opt(pc, line, COL_NAME, &d->name, directory_name_check);
	check_opt(pc, line, COL_PARENT, &d->parent, directory_name_check);
	check_opt(pc, line, COL_QUEUE, &d->queue_number,
	          directory_number_check);
	check_opt(pc, line, COL_HUNT, &d->hunt_group_number,
	          directory_number_check);
	check_opt(pc, line, COL_IVR, &d->ivr_choice, directory_ivr_check);
	check_opt(pc, line, COL_EMAIL, &d->email, directory_email_check);
	if (d->name)
		row->fold = directory_name_fold(d->name);
	if (d->parent)
		row->parent_fold = directory_name_fold(d->parent);
	if (row->fold && row->parent_fold &&
	    strcmp(row->fold, row->parent_fold) == 0)
		problem(pc, line, "parent",
		        "a department cannot be its own parent");

	if (hours && directory_hours_parse(hours, &row->hours, &err) < 0)
		problem(pc, line, "phone_hours", "%s", err.msg);
	d->phone_hours = directory_hours_to_json(&row->hours);

	if (parse_yes_no(centre, false, &d->handled_by_centre) < 0)
		problem(pc, line, "handled_by_centre",
		        "'%.*s' is not yes or no", quote_len(centre), centre);
	if (parse_yes_no(active, true, &d->active) < 0)
		problem(pc, line, "active", "'%.*s' is not yes or no",
		        quote_len(active), active);
	d->phase = 0;
	if (phase && (ktd_parse_u32(phase, &ph) < 0 || ph < 1 || ph > 3))
		problem(pc, line, "phase", "'%.*s' is not 1, 2 or 3",
		        quote_len(phase), phase);
	else if (phase)
		d->phase = ph;
	if (phase && d->phase && !d->handled_by_centre)
		problem(pc, line, "phase",
		        "must be empty when handled_by_centre is no");
	else if (!phase && d->handled_by_centre)
		problem(pc, line, "phase",
		        "required (1, 2 or 3) when handled_by_centre is yes");

	ktd_free(&hours);
	ktd_free(&centre);
	ktd_free(&phase);
	ktd_free(&active);
}

/* Maps each column to its place in the header. Returns false after
 * reporting when the header is not usable. */
static bool header_parse(struct parse_ctx *pc, const struct ktd_csv_record *rec,
                         size_t *map)
{
	bool found[COL_COUNT] = {false};
	unsigned before = pc->problems;
	size_t i, c;

	for (i = 0; i < rec->n; i++) {
		char *name = field_dup(rec->fields[i]);

		for (c = 0; name && c < COL_COUNT; c++)
			if (strcasecmp(name, column_names[c]) == 0)
				break;
		if (!name || c == COL_COUNT) {
			problem(pc, rec->line, NULL,
			        "unknown column '%.*s' in the header; the "
			        "columns are " DIRECTORY_CSV_HEADER,
			        name ? quote_len(name) : 0, name ? name : "");
		} else if (found[c]) {
			problem(pc, rec->line, NULL,
			        "column '%s' twice in the header",
			        column_names[c]);
		} else {
			found[c] = true;
			map[c] = i;
		}
		ktd_free(&name);
	}
	for (c = 0; c < COL_COUNT; c++)
		if (!found[c])
			problem(pc, rec->line, NULL,
			        "column '%s' missing from the header",
			        column_names[c]);
	return pc->problems == before;
}

struct name_at {
	const char *fold;
	const char *name;
	unsigned line;
};

static int cmp_name_at(const void *a, const void *b)
{
	const struct name_at *x = a, *y = b;
	int c = strcmp(x->fold, y->fold);

	if (c != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* Names must be unique regardless of case. */
static void check_duplicates(struct parse_ctx *pc,
                             const struct directory_rows *rows)
{
	struct name_at *v = ktd_calloc(rows->n, sizeof(*v));
	size_t n = 0, i, first = 0;

	for (i = 0; i < rows->n; i++) {
		if (!rows->items[i].fold)
			continue;
		v[n].fold = rows->items[i].fold;
		v[n].name = rows->items[i].dep.name;
		v[n].line = rows->items[i].line;
		n++;
	}
	qsort(v, n, sizeof(*v), cmp_name_at);
	for (i = 1; i < n; i++) {
		if (strcmp(v[first].fold, v[i].fold) != 0) {
			first = i;
			continue;
		}
		problem(pc, v[i].line, "name", "'%s' is on line %u already",
		        v[i].name, v[first].line);
	}
	ktd_free(&v);
}

unsigned directory_csv_parse(const char *data, size_t len,
                             struct directory_rows *rows_r,
                             directory_report_fn *report, void *ctx)
{
	struct parse_ctx pc = {report, ctx, 0};
	struct ktd_csv_reader r;
	struct ktd_csv_record rec;
	struct ktd_error err;
	size_t map[COL_COUNT], cap = 0;
	int rc;

	rows_r->items = NULL;
	rows_r->n = 0;
	rows_r->problems = 0;
	ktd_csv_reader_init(&r, data, len);
	rc = ktd_csv_read(&r, &rec, &err);
	if (rc == 0) {
		problem(&pc, 1, NULL,
		        "no header: the first line names the "
		        "columns, " DIRECTORY_CSV_HEADER);
		goto out;
	}
	if (rc < 0) {
		problem(&pc, rec.line, NULL, "header: %s", err.msg);
		goto out;
	}
	if (!header_parse(&pc, &rec, map))
		goto out;
	for (;;) {
		struct directory_row *row;

		rc = ktd_csv_read(&r, &rec, &err);
		if (rc == 0)
			break;
		if (rc < 0) {
			problem(&pc, rec.line, NULL, "%s", err.msg);
			continue;
		}
		if (rows_r->n == DIRECTORY_IMPORT_MAX_ROWS) {
			problem(&pc, rec.line, NULL,
			        "more than %d departments in one file",
			        DIRECTORY_IMPORT_MAX_ROWS);
			break;
		}
		if (rows_r->n == cap) {
			cap = cap ? 2 * cap : 64;
			rows_r->items = ktd_realloc(
			        rows_r->items, cap * sizeof(*rows_r->items));
		}
		row = &rows_r->items[rows_r->n++];
		memset(row, 0, sizeof(*row));
		row->line = rec.line;
		row_parse(&pc, row, rec.fields, map);
	}
	check_duplicates(&pc, rows_r);
out:
	ktd_csv_reader_deinit(&r);
	rows_r->problems = pc.problems;
	return pc.problems;
}

void directory_rows_free(struct directory_rows *rows)
{
	size_t i;

	for (i = 0; i < rows->n; i++) {
		db_department_clear(&rows->items[i].dep);
		ktd_free(&rows->items[i].fold);
		ktd_free(&rows->items[i].parent_fold);
	}
	ktd_free(&rows->items);
	rows->n = 0;
}

/* --- import ------------------------------------------------------------- */

/* A department of the tree the import would leave: those in the directory
 * and those in the file, each with the parent it would have. */
struct node {
	const char *fold;
	const char *parent_fold; /* NULL: none */
	const char *name;
	const struct db_department *existing; /* NULL: new */
	const struct directory_row *row;      /* NULL: not in the file */
};

static int cmp_node(const void *a, const void *b)
{
	return strcmp(((const struct node *)a)->fold,
	              ((const struct node *)b)->fold);
}

static struct node *node_find(struct node *nodes, size_t n, const char *fold)
{
	struct node key = {.fold = fold};

	return bsearch(&key, nodes, n, sizeof(*nodes), cmp_node);
}

static bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Whether the row differs from the stored department, parent aside. */
static bool row_differs(const struct directory_row *row,
                        const struct db_department *ex)
{
	const struct db_department *d = &row->dep;
	struct directory_hours h;
	struct ktd_error err;

	if (directory_hours_from_json(ex->phone_hours, &h, &err) < 0 ||
	    !directory_hours_equal(&h, &row->hours))
		return true;
	return !str_eq(d->name, ex->name) ||
	       !str_eq(d->queue_number, ex->queue_number) ||
	       !str_eq(d->hunt_group_number, ex->hunt_group_number) ||
	       !str_eq(d->ivr_choice, ex->ivr_choice) ||
	       !str_eq(d->email, ex->email) ||
	       d->handled_by_centre != ex->handled_by_centre ||
	       d->phase != ex->phase || d->active != ex->active;
}

/* Builds the tree: the stored departments, then the file's rows on top
 * (for ADD_MISSING, only the new ones). folds_r holds the stored names'
 * folds, which the nodes borrow. */
static struct node *nodes_build(const struct db_department_list *ex,
                                const struct directory_rows *rows,
                                enum directory_import_mode mode,
                                char ***folds_r, size_t *n_r)
{
	struct node *nodes = ktd_calloc(ex->n + rows->n, sizeof(*nodes));
	char **folds = ktd_calloc(2 * ex->n, sizeof(*folds));
	size_t n = 0, i, nex;
	struct node *nd;

	for (i = 0; i < ex->n; i++) {
		folds[2 * i] = directory_name_fold(ex->items[i].name);
		folds[2 * i + 1] =
		        ex->items[i].parent
		                ? directory_name_fold(ex->items[i].parent)
		                : NULL;
		nodes[n].fold = folds[2 * i];
		nodes[n].parent_fold = folds[2 * i + 1];
		nodes[n].name = ex->items[i].name;
		nodes[n].existing = &ex->items[i];
		n++;
	}
	qsort(nodes, n, sizeof(*nodes), cmp_node);
	nex = n;
	for (i = 0; i < rows->n; i++) {
		const struct directory_row *row = &rows->items[i];

		if (!row->fold) /* a bad name, reported already */
			continue;
		nd = node_find(nodes, nex, row->fold);
		if (nd && mode == DIRECTORY_IMPORT_ADD_MISSING)
			continue;
		if (!nd)
			nd = &nodes[n++];
		nd->fold = row->fold;
		nd->parent_fold = row->parent_fold;
		nd->name = row->dep.name;
		nd->row = row;
	}
	qsort(nodes, n, sizeof(*nodes), cmp_node);
	*folds_r = folds;
	*n_r = n;
	return nodes;
}

/* Checks that every parent exists and that no department would become its
 * own ancestor; reports each row at fault. */
static void check_tree(struct parse_ctx *pc, struct node *nodes, size_t n)
{
	size_t i, steps;

	for (i = 0; i < n; i++) {
		const struct node *nd = &nodes[i];
		const char *cur;

		if (!nd->row || !nd->parent_fold)
			continue;
		if (!node_find(nodes, n, nd->parent_fold)) {
			problem(pc, nd->row->line, "parent",
			        "no department named '%s' in the file or the "
			        "directory",
			        nd->row->dep.parent);
			continue;
		}
		cur = nd->parent_fold;
		for (steps = 0; cur && steps <= n; steps++) {
			const struct node *up = node_find(nodes, n, cur);

			if (strcmp(cur, nd->fold) == 0) {
				problem(pc, nd->row->line, "parent",
				        "'%s' is below '%s' (in the file or "
				        "the directory): that would make a "
				        "cycle",
				        nd->row->dep.parent, nd->name);
				break;
			}
			cur = up ? up->parent_fold : NULL;
		}
	}
}

static int write_rows(PGconn *pg, struct node *nodes, size_t n,
                      enum directory_import_mode mode,
                      struct directory_import_stats *st, struct parse_ctx *pc,
                      struct ktd_error *err)
{
	const char **names = ktd_calloc(n, sizeof(*names));
	const char **parents = ktd_calloc(n, sizeof(*parents));
	size_t np = 0, i;
	bool written;
	int ret = -1;

	for (i = 0; i < n; i++) {
		const struct node *nd = &nodes[i];
		const struct db_department *ex = nd->existing;
		bool fields, parent;
		char *f;

		if (!nd->row)
			continue;
		fields = !ex || row_differs(nd->row, ex);
		/* The node carries the row's parent now: compare the row's
		 * with the stored one. */
		f = ex && ex->parent ? directory_name_fold(ex->parent) : NULL;
		parent = !str_eq(nd->row->parent_fold, f);
		ktd_free(&f);
		if (fields &&
		    db_department_upsert(pg, &nd->row->dep,
		                         mode == DIRECTORY_IMPORT_ADD_MISSING,
		                         &written, err) < 0) {
			if (err->code == KTD_ERR_UNAVAILABLE)
				goto out;
			/* A rule of the database that the checks above
			 * missed: still the row's problem. */
			problem(pc, nd->row->line, NULL,
			        "the database refused "
			        "it: %s",
			        err->msg);
			ret = 0;
			goto out;
		}
		if (parent) {
			names[np] = nd->row->dep.name;
			parents[np++] = nd->row->dep.parent;
		}
		if (!ex)
			st->added++;
		else if (fields || parent)
			st->changed++;
		else
			st->unchanged++;
	}
	if (db_department_set_parents(pg, names, parents, np, err) < 0)
		goto out;
	ret = 0;
out:
	ktd_free(&names);
	ktd_free(&parents);
	return ret;
}

int directory_import(PGconn *pg, const struct directory_rows *rows,
                     enum directory_import_mode mode,
                     struct directory_import_stats *stats_r,
                     directory_report_fn *report, void *ctx,
                     struct ktd_error *err)
{
	struct parse_ctx pc = {report, ctx, 0};
	struct db_department_list ex = {NULL, 0};
	struct node *nodes = NULL;
	char **folds = NULL;
	size_t n = 0, i;
	int ret = -1;

	memset(stats_r, 0, sizeof(*stats_r));
	if (db_department_lock(pg, err) < 0 ||
	    db_department_list(pg, &ex, err) < 0)
		goto out;
	nodes = nodes_build(&ex, rows, mode, &folds, &n);
	check_tree(&pc, nodes, n);
	if (pc.problems > 0 || rows->problems > 0) {
		ret = (int)(pc.problems + rows->problems);
		goto out;
	}
	if (write_rows(pg, nodes, n, mode, stats_r, &pc, err) < 0)
		goto out;
	if (pc.problems > 0) {
		ret = (int)pc.problems;
		goto out;
	}
	/* Rows of the file that ADD_MISSING left out of the tree. */
	if (mode == DIRECTORY_IMPORT_ADD_MISSING)
		stats_r->unchanged = (unsigned)rows->n - stats_r->added;
	ret = 0;
out:
	for (i = 0; i < 2 * ex.n; i++)
		ktd_free(&folds[i]);
	ktd_free(&folds);
	ktd_free(&nodes);
	db_department_list_free(&ex);
	return ret;
}

/* --- export ------------------------------------------------------------- */

int directory_export_csv(PGconn *pg, struct ktd_buf *out, struct ktd_error *err)
{
	struct db_department_list list = {NULL, 0};
	char hours[DIRECTORY_HOURS_TEXT_SIZE], phase[4];
	const char *f[COL_COUNT];
	size_t i, c;
	int ret = -1;

	if (db_department_list(pg, &list, err) < 0)
		return -1;
	for (c = 0; c < COL_COUNT; c++)
		f[c] = column_names[c];
	if (ktd_csv_write_record(out, f, COL_COUNT) < 0)
		goto full;
	for (i = 0; i < list.n; i++) {
		const struct db_department *d = &list.items[i];
		struct directory_hours h;

		if (directory_hours_from_json(d->phone_hours, &h, err) < 0) {
			ktd_error_prefix(err, "department '%s'", d->name);
			goto out;
		}
		snprintf(phase, sizeof(phase), "%u", d->phase);
		f[COL_NAME] = d->name;
		f[COL_PARENT] = d->parent;
		f[COL_QUEUE] = d->queue_number;
		f[COL_HUNT] = d->hunt_group_number;
		f[COL_IVR] = d->ivr_choice;
		f[COL_EMAIL] = d->email;
		f[COL_HOURS] = directory_hours_format(&h, hours, sizeof(hours));
		f[COL_CENTRE] = d->handled_by_centre ? "yes" : "no";
		f[COL_PHASE] = d->phase ? phase : NULL;
		f[COL_ACTIVE] = d->active ? "yes" : "no";
		if (ktd_csv_write_record(out, f, COL_COUNT) < 0)
			goto full;
	}
	ret = 0;
	goto out;
full:
	ktd_error_set(err, KTD_ERR_TOO_LARGE,
	              "the directory is too large to "
	              "export");
out:
	db_department_list_free(&list);
	return ret;
}
