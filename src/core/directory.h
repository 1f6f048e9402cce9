/* SPDX-License-Identifier: MPL-2.0 */
/* The directory (telefonbog): the rules for a department's fields, phone
 * hours in their JSON and compact text forms, and the CSV import and export
 * used by kontaktctl. Not thread-safe per object; the functions that take a
 * connection use it synchronously. */
#ifndef KTD_CORE_DIRECTORY_H
#define KTD_CORE_DIRECTORY_H

#include "core/core_common.h"
#include "lib/buf.h"
#include "db/db_department.h"

/* --- phone hours -------------------------------------------------------- */

#define DIRECTORY_DAYS 7       /* Monday first */
#define DIRECTORY_RANGES_MAX 4 /* time ranges per day */
#define DIRECTORY_HOURS_TEXT_SIZE 512

struct directory_range {
	uint16_t from, to; /* minutes after midnight, from < to <= 24:00 */
};

struct directory_day {
	unsigned n;                                     /* 0: closed */
	struct directory_range r[DIRECTORY_RANGES_MAX]; /* sorted, disjoint */
};

struct directory_hours {
	struct directory_day day[DIRECTORY_DAYS];
};

/* The compact text form, e.g. "mon-thu 08:00-15:00; fri 08:00-13:00" or
 * "mon,wed 08:00-12:00,13:00-15:30": groups separated by ';', each a list
 * of days or day ranges (mon tue wed thu fri sat sun, any case) and a list
 * of HH:MM-HH:MM ranges. Empty text: no phone hours. A day may appear in
 * one group only. Returns 0, or -1 with KTD_ERR_INVALID saying what is
 * wrong. */
int directory_hours_parse(const char *text, struct directory_hours *h_r,
                          struct ktd_error *err) KTD_ATTR_NODISCARD;

/* The canonical text form (runs of days with the same hours joined as
 * "mon-thu", groups in weekday order, "; " between them) into out of
 * DIRECTORY_HOURS_TEXT_SIZE bytes; returns out. parse(format(h)) == h. */
const char *directory_hours_format(const struct directory_hours *h, char *out,
                                   size_t outsz);

/* The JSON form stored in departments.phone_hours:
 * {"mon": [["08:00", "15:00"]], ...}, a key per open day. from_json checks
 * the shape (an object, known days, arrays of ["HH:MM", "HH:MM"] pairs)
 * and the same rules as the text form. to_json returns a new string
 * (caller ktd_free-s it). */
int directory_hours_from_json(const char *json, struct directory_hours *h_r,
                              struct ktd_error *err) KTD_ATTR_NODISCARD;
char *directory_hours_to_json(const struct directory_hours *h);

bool directory_hours_equal(const struct directory_hours *a,
                           const struct directory_hours *b);

/* --- fields ------------------------------------------------------------- */

#define DIRECTORY_NAME_MAX 200 /* characters */

/* Each returns 0, or -1 with KTD_ERR_INVALID and a message that does not
 * name the field. */
/* 1 to 200 characters of UTF-8, no control characters, no leading or
 * trailing space. */
int directory_name_check(const char *name, struct ktd_error *err)
        KTD_ATTR_NODISCARD;
/* A queue or hunt-group number: 1 to 20 digits, optionally after a '+'. */
int directory_number_check(const char *s, struct ktd_error *err)
        KTD_ATTR_NODISCARD;
/* An IVR choice: the keys pressed, 1 to 16 of 0-9, '*' and '#'. */
int directory_ivr_check(const char *s, struct ktd_error *err)
        KTD_ATTR_NODISCARD;
/* An e-mail address: local@domain.tld, no spaces, at most 254 bytes. */
int directory_email_check(const char *s, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* The key under which names are unique: the name in lower case (ASCII and
 * Latin-1 letters, so "ØKONOMI" and "økonomi" are one name, as for the
 * database's lower()). Returns a new string (caller ktd_free-s it). */
char *directory_name_fold(const char *name);

/* --- CSV import and export ---------------------------------------------- */

/* The header of the CSV form, in the order export writes it. */
#define DIRECTORY_CSV_HEADER                                                   \
	"name,parent,queue_number,hunt_group_number,ivr_choice,email,"         \
	"phone_hours,handled_by_centre,phase,active"
#define DIRECTORY_IMPORT_MAX_ROWS 10000

/* One department read from a file. */
struct directory_row {
	unsigned line;            /* where its record starts */
	struct db_department dep; /* dep.phone_hours is the JSON form */
	struct directory_hours hours;
	char *fold;        /* directory_name_fold(dep.name) */
	char *parent_fold; /* ... of dep.parent; NULL: none */
};

struct directory_rows {
	struct directory_row *items;
	size_t n;
	unsigned problems; /* found by directory_csv_parse */
};

/* Called once per problem found: line of the file (0: not tied to a line),
 * the column at fault (NULL: the record as a whole) and what is wrong. */
typedef void directory_report_fn(void *ctx, unsigned line, const char *field,
                                 const char *msg);

/* Reads a CSV file (UTF-8, a header row naming the columns of
 * DIRECTORY_CSV_HEADER in any order, RFC 4180 quoting) and checks every row
 * on its own and against the others (a name twice). Reports every problem
 * and returns how many there were; *rows_r gets the rows either way
 * (caller frees them). */
unsigned directory_csv_parse(const char *data, size_t len,
                             struct directory_rows *rows_r,
                             directory_report_fn *report, void *ctx);
void directory_rows_free(struct directory_rows *rows);

enum directory_import_mode {
	/* Add new departments, update those of the same name (regardless
	 * of case) that differ; departments not in the file stay as they
	 * are. */
	DIRECTORY_IMPORT_UPSERT,
	/* Add new departments only; existing ones are left alone. */
	DIRECTORY_IMPORT_ADD_MISSING,
};

struct directory_import_stats {
	unsigned added, changed, unchanged;
};

/* Writes rows (from directory_csv_parse) into the directory. Must run
 * inside a transaction, which the caller commits only when this returns 0:
 * the directory is locked against other writers, and parents are checked
 * against the file and the directory together (each must exist; no
 * cycles). When parsing found problems already, the rows are only checked,
 * so that one run reports everything, and nothing is written. Returns 0
 * with *stats_r filled; the number of problems (> 0), those of parsing
 * included, when the rows do not fit; or -1 with err. */
int directory_import(PGconn *pg, const struct directory_rows *rows,
                     enum directory_import_mode mode,
                     struct directory_import_stats *stats_r,
                     directory_report_fn *report, void *ctx,
                     struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Appends the whole directory to out as CSV (the header, then one record
 * per department by name), in the form directory_csv_parse reads: an
 * export imported again changes nothing. */
int directory_export_csv(PGconn *pg, struct ktd_buf *out, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

#endif
