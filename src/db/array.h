/* SPDX-License-Identifier: MPL-2.0 */
/* PostgreSQL array literals ({"a","b",NULL}) as one text parameter of a
 * statement ($1::text[], $2::bigint[]): the rows of a batch in one
 * statement instead of one statement a row. Each statement costs
 * PostgreSQL a fixed ~50 µs beside the work of its rows (tools/bench cti). */
#ifndef KTD_DB_ARRAY_H
#define KTD_DB_ARRAY_H

#include "db/db_common.h"
#include "lib/buf.h"

#include <libpq-fe.h>

struct db_array {
	struct ktd_buf b;
	size_t n;
	bool full; /* a value did not fit: db_array_text fails */
};

void db_array_init(struct db_array *a);
void db_array_deinit(struct db_array *a);
/* Appends s, or SQL NULL for NULL. */
void db_array_add(struct db_array *a, const char *s);
void db_array_add_i64(struct db_array *a, int64_t v);
/* The literal, owned by a; NULL with err (KTD_ERR_INTERNAL) when it grew
 * past its limit. */
const char *db_array_text(struct db_array *a, struct ktd_error *err);

/* A statement whose parameters are n arrays: db_arrays_init, fill each,
 * then db_query_arrays runs sql (db_query_prepared, no result: it may be
 * deferred) with $1..$n the arrays' literals and deinits them all, on
 * every path. */
void db_arrays_init(struct db_array *a, int n);
int db_query_arrays(PGconn *pg, const char *sql, struct db_array *a, int n,
                    struct ktd_error *err) KTD_ATTR_NODISCARD;

#endif
