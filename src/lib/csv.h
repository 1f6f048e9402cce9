/* SPDX-License-Identifier: MPL-2.0 */
/* CSV (RFC 4180) reading and writing: comma-separated fields, fields in
 * double quotes may hold commas, line breaks and doubled quotes. The reader
 * works on a buffer held in memory and reports malformed records with the
 * line they start on, then carries on with the next record, so that a
 * caller can list every bad line of a file at once. */
#ifndef KTD_CSV_H
#define KTD_CSV_H

#include "lib_common.h"
#include "buf.h"
#include "error.h"

/* Limits that keep a hostile file from using much memory. */
#define KTD_CSV_MAX_FIELDS 256
#define KTD_CSV_MAX_RECORD (1024 * 1024)

struct ktd_csv_reader {
	const char *p;   /* next byte to read */
	const char *end; /* end of the data */
	unsigned line;   /* physical line (1-based) of p */
	size_t nfields;  /* fields per record, from the first; 0: none yet */
	struct ktd_buf field_data; /* the current record's fields, NUL-ended */
	size_t offsets[KTD_CSV_MAX_FIELDS];
	const char *fields[KTD_CSV_MAX_FIELDS];
};

/* One record, borrowed from the reader until its next read. */
struct ktd_csv_record {
	const char *const *fields; /* n NUL-terminated UTF-8 strings */
	size_t n;
	unsigned line; /* the line the record starts on */
};

/* Starts reading data (len bytes, which must outlive the reader). A UTF-8
 * byte order mark at the start is skipped. */
void ktd_csv_reader_init(struct ktd_csv_reader *r, const char *data,
                         size_t len);
void ktd_csv_reader_deinit(struct ktd_csv_reader *r);

/* Reads the next record into rec. Blank lines are skipped. Every record
 * must have as many fields as the first one (the header). Returns 1 for a
 * record; 0 at the end of the data; -1 for a malformed record (bad quoting,
 * invalid UTF-8, a NUL byte, a wrong number of fields, too long), with
 * rec->line set and err (KTD_ERR_INVALID) saying what is wrong: the reader
 * has skipped that record and may be called again. */
int ktd_csv_read(struct ktd_csv_reader *r, struct ktd_csv_record *rec,
                 struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Appends one record to out: fields joined with ',' and ended with CRLF;
 * a field with a comma, a quote, CR or LF, or leading or trailing space is
 * quoted. A NULL field is written empty. Returns 0 or -1 when out is full.
 */
int ktd_csv_write_record(struct ktd_buf *out, const char *const *fields,
                         size_t n) KTD_ATTR_NODISCARD;

#endif
