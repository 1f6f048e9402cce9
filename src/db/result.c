/* SPDX-License-Identifier: MPL-2.0 */
/* Typed access to text-format query results. */
#include "db/db_common.h"

#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "db/result.h"

char *db_result_strdup(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return ktd_strdup(PQgetvalue(res, row, col));
}

bool db_result_bool(const PGresult *res, int row, int col)
{
	return !PQgetisnull(res, row, col) &&
	       strcmp(PQgetvalue(res, row, col), "t") == 0;
}

int64_t db_result_i64(const PGresult *res, int row, int col)
{
	const char *s;
	char *end;
	long long v;

	if (PQgetisnull(res, row, col))
		return 0;
	s = PQgetvalue(res, row, col);
	v = strtoll(s, &end, 10);
	return (*s && !*end) ? (int64_t)v : 0;
}

const char *db_bytea_hex(const unsigned char *bytes, size_t len, char *out,
                         size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	ktd_assert(outsz >= 2 * len + 3);
	out[0] = '\\';
	out[1] = 'x';
	for (i = 0; i < len; i++) {
		out[2 + 2 * i] = hex[bytes[i] >> 4];
		out[3 + 2 * i] = hex[bytes[i] & 0x0f];
	}
	out[2 + 2 * len] = '\0';
	return out;
}
