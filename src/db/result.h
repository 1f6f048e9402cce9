/* SPDX-License-Identifier: MPL-2.0 */
/* Typed reading of PGresult values (text format), for the query files of
 * src/db. Timestamps are selected as RFC 3339 text with the SQL function
 * ktd_rfc3339() of sql/002_directory_users.sql. */
#ifndef KTD_DB_RESULT_H
#define KTD_DB_RESULT_H

#include "db/db_common.h"

/* A copy of the value (caller frees), or NULL for SQL NULL. */
char *db_result_strdup(const PGresult *res, int row, int col);

/* A boolean column: true for "t". */
bool db_result_bool(const PGresult *res, int row, int col);

/* An integer column; 0 for SQL NULL or a value that does not parse. */
int64_t db_result_i64(const PGresult *res, int row, int col);

/* Lower-case hex of len bytes as a bytea literal ("\\x0a1b...") into out,
 * which must hold 2 * len + 3 bytes; returns out. */
const char *db_bytea_hex(const unsigned char *bytes, size_t len, char *out,
                         size_t outsz);

#endif
