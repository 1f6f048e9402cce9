/* SPDX-License-Identifier: MPL-2.0 */
/* CSV reader and writer (RFC 4180). Hand-written because the stack has no
 * CSV library (jansson, libpq, libsodium, inih and libc offer none) and the
 * format is small; what it accepts is pinned down by tests/unit/test_csv.c.
 * Deliberately strict: a quote inside an unquoted field, text after a
 * closing quote and a bare CR are errors rather than guesses. Records may
 * end in CRLF or LF. */
#include "lib_common.h"

#include <string.h>

#include "csv.h"
#include "str.h"

enum field_end {
	FIELD_COMMA, /* another field of the record follows */
	FIELD_EOL,   /* the record ended with a line break */
	FIELD_EOF,   /* the record ended with the data */
};

void ktd_csv_reader_init(struct ktd_csv_reader *r, const char *data, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->p = data;
	r->end = data + len;
	r->line = 1;
	ktd_buf_init(&r->field_data, KTD_CSV_MAX_RECORD);
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		r->p += 3;
}

void ktd_csv_reader_deinit(struct ktd_csv_reader *r)
{
	ktd_buf_deinit(&r->field_data);
}

/* After an error: carry on after the end of the current physical line. A
 * record with a line break inside quotes may then yield a second error for
 * its remainder, which is still better than stopping at the first. */
static void skip_line(struct ktd_csv_reader *r)
{
	const char *nl = memchr(r->p, '\n', (size_t)(r->end - r->p));

	if (!nl) {
		r->p = r->end;
		return;
	}
	r->p = nl + 1;
	r->line++;
}

/* What follows a field: a comma, a line break or the end. */
static int field_end(struct ktd_csv_reader *r, enum field_end *end_r,
                     const char *what, struct ktd_error *err)
{
	if (r->p >= r->end) {
		*end_r = FIELD_EOF;
		return 0;
	}
	switch (*r->p) {
	case ',':
		r->p++;
		*end_r = FIELD_COMMA;
		return 0;
	case '\n':
		r->p++;
		r->line++;
		*end_r = FIELD_EOL;
		return 0;
	case '\r':
		if (r->p + 1 < r->end && r->p[1] == '\n') {
			r->p += 2;
			r->line++;
			*end_r = FIELD_EOL;
			return 0;
		}
		return ktd_error_set(err, KTD_ERR_INVALID,
		                     "carriage return without a line feed");
	default:
		return ktd_error_set(err, KTD_ERR_INVALID, "%s", what);
	}
}

static int add(struct ktd_csv_reader *r, const char *s, size_t n,
               struct ktd_error *err)
{
	if (ktd_buf_add(&r->field_data, s, n) < 0)
		return ktd_error_set(err, KTD_ERR_INVALID,
		                     "record longer than %d bytes",
		                     KTD_CSV_MAX_RECORD);
	return 0;
}

static int read_quoted(struct ktd_csv_reader *r, enum field_end *end_r,
                       struct ktd_error *err)
{
	unsigned open_line = r->line;
	const char *q, *s;

	r->p++; /* the opening quote */
	for (;;) {
		q = memchr(r->p, '"', (size_t)(r->end - r->p));
		if (!q) {
			r->p = r->end;
			return ktd_error_set(
			        err, KTD_ERR_INVALID,
			        "quoted field opened on line %u is "
			        "not closed",
			        open_line);
		}
		for (s = r->p; s < q; s++)
			if (*s == '\n')
				r->line++;
		if (add(r, r->p, (size_t)(q - r->p), err) < 0)
			return -1;
		r->p = q + 1;
		if (r->p < r->end && *r->p == '"') { /* "" is one quote */
			if (add(r, "\"", 1, err) < 0)
				return -1;
			r->p++;
			continue;
		}
		return field_end(r, end_r, "text after a closing quote", err);
	}
}

static int read_field(struct ktd_csv_reader *r, enum field_end *end_r,
                      struct ktd_error *err)
{
	const char *start = r->p;

	if (r->p < r->end && *r->p == '"')
		return read_quoted(r, end_r, err);
	while (r->p < r->end && *r->p != ',' && *r->p != '\n' &&
	       *r->p != '\r' && *r->p != '"')
		r->p++;
	if (add(r, start, (size_t)(r->p - start), err) < 0)
		return -1;
	if (r->p < r->end && *r->p == '"')
		return ktd_error_set(err, KTD_ERR_INVALID,
		                     "quote inside an unquoted field (quote "
		                     "the whole field and double the quote)");
	return field_end(r, end_r, "unexpected character", err);
}

/* Steps over blank lines; returns false at the end of the data. */
static bool skip_blank_lines(struct ktd_csv_reader *r)
{
	while (r->p < r->end) {
		if (*r->p == '\n') {
			r->p++;
		} else if (*r->p == '\r' && r->p + 1 < r->end &&
		           r->p[1] == '\n') {
			r->p += 2;
		} else {
			return true;
		}
		r->line++;
	}
	return false;
}

static int check_fields(struct ktd_csv_reader *r, size_t n,
                        struct ktd_error *err)
{
	size_t i, len;

	for (i = 0; i < n; i++) {
		const char *f = r->field_data.data + r->offsets[i];

		len = (i + 1 < n ? r->offsets[i + 1] - 1
		                 : r->field_data.len - 1) -
		      r->offsets[i];
		if (memchr(f, '\0', len))
			return ktd_error_set(err, KTD_ERR_INVALID,
			                     "field %zu: NUL byte", i + 1);
		if (!ktd_utf8_valid(f, len))
			return ktd_error_set(err, KTD_ERR_INVALID,
			                     "field %zu: not valid UTF-8",
			                     i + 1);
		r->fields[i] = f;
	}
	if (r->nfields == 0)
		r->nfields = n;
	else if (n != r->nfields)
		return ktd_error_set(err, KTD_ERR_INVALID,
		                     "%zu field%s, expected %zu as in the "
		                     "header",
		                     n, n == 1 ? "" : "s", r->nfields);
	return 0;
}

int ktd_csv_read(struct ktd_csv_reader *r, struct ktd_csv_record *rec,
                 struct ktd_error *err)
{
	enum field_end end = FIELD_COMMA;
	size_t n = 0;

	rec->fields = r->fields;
	rec->n = 0;
	rec->line = r->line;
	if (!skip_blank_lines(r))
		return 0;
	rec->line = r->line;
	ktd_buf_reset(&r->field_data);
	while (end == FIELD_COMMA) {
		if (n == KTD_CSV_MAX_FIELDS) {
			ktd_error_set(err, KTD_ERR_INVALID,
			              "more than %d fields",
			              KTD_CSV_MAX_FIELDS);
			goto bad;
		}
		r->offsets[n++] = r->field_data.len;
		if (read_field(r, &end, err) < 0 || add(r, "", 1, err) < 0)
			goto bad;
	}
	if (check_fields(r, n, err) < 0)
		return -1; /* the whole record was read: nothing to skip */
	rec->n = n;
	return 1;
bad:
	skip_line(r);
	return -1;
}

static bool needs_quotes(const char *s)
{
	size_t len = strlen(s);

	if (len == 0)
		return false;
	if (s[0] == ' ' || s[0] == '\t' || s[len - 1] == ' ' ||
	    s[len - 1] == '\t')
		return true;
	return strpbrk(s, ",\"\r\n") != NULL;
}

int ktd_csv_write_record(struct ktd_buf *out, const char *const *fields,
                         size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const char *f = fields[i] ? fields[i] : "";
		const char *q;

		if (i > 0 && ktd_buf_add(out, ",", 1) < 0)
			return -1;
		if (!needs_quotes(f)) {
			if (ktd_buf_add_str(out, f) < 0)
				return -1;
			continue;
		}
		if (ktd_buf_add(out, "\"", 1) < 0)
			return -1;
		for (q = strchr(f, '"'); q; q = strchr(f, '"')) {
			if (ktd_buf_add(out, f, (size_t)(q - f) + 1) < 0 ||
			    ktd_buf_add(out, "\"", 1) < 0)
				return -1;
			f = q + 1;
		}
		if (ktd_buf_add_str(out, f) < 0 ||
		    ktd_buf_add(out, "\"", 1) < 0)
			return -1;
	}
	return ktd_buf_add(out, "\r\n", 2);
}
