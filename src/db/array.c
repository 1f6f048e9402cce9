/* SPDX-License-Identifier: MPL-2.0 */
/* PostgreSQL array literals for batch parameters. */
#include "db/db_common.h"

#include <inttypes.h>
#include <stdio.h>

#include "db/array.h"
#include "db/pool.h"

/* The most arrays a statement takes (db_call_update's 17). */
#define DB_ARRAYS_MAX 24

/* A batch's largest array: 1,000 values of a few hundred bytes. */
#define ARRAY_MAX (8u << 20)

void db_array_init(struct db_array *a)
{
	ktd_buf_init(&a->b, ARRAY_MAX);
	a->n = 0;
	a->full = ktd_buf_add_str(&a->b, "{") < 0;
}

void db_array_deinit(struct db_array *a)
{
	ktd_buf_deinit(&a->b);
}

void db_array_add(struct db_array *a, const char *s)
{
	const char *p;

	a->full |= a->n > 0 && ktd_buf_add_str(&a->b, ",") < 0;
	a->n++;
	if (!s) {
		a->full |= ktd_buf_add_str(&a->b, "NULL") < 0;
		return;
	}
	/* Double-quoted, with " and \ escaped: any text, "NULL" and "" too. */
	a->full |= ktd_buf_add_str(&a->b, "\"") < 0;
	for (p = s; *p; p++) {
		if (*p == '"' || *p == '\\')
			a->full |= ktd_buf_add(&a->b, "\\", 1) < 0;
		a->full |= ktd_buf_add(&a->b, p, 1) < 0;
	}
	a->full |= ktd_buf_add_str(&a->b, "\"") < 0;
}

void db_array_add_i64(struct db_array *a, int64_t v)
{
	char t[24];

	snprintf(t, sizeof(t), "%" PRId64, v);
	db_array_add(a, t);
}

const char *db_array_text(struct db_array *a, struct ktd_error *err)
{
	if (a->full || ktd_buf_add_str(&a->b, "}") < 0) {
		ktd_error_set(err, KTD_ERR_INTERNAL,
		              "a batch parameter is larger than %u bytes",
		              ARRAY_MAX);
		return NULL;
	}
	return a->b.data;
}

void db_arrays_init(struct db_array *a, int n)
{
	int j;

	for (j = 0; j < n; j++)
		db_array_init(&a[j]);
}

int db_query_arrays(PGconn *pg, const char *sql, struct db_array *a, int n,
                    struct ktd_error *err)
{
	const char *params[DB_ARRAYS_MAX];
	int j, ret = -1;

	if (n > DB_ARRAYS_MAX) {
		ktd_error_set(err, KTD_ERR_INTERNAL,
		              "a statement of %d arrays (at most %d)", n,
		              DB_ARRAYS_MAX);
		goto out;
	}
	for (j = 0; j < n; j++)
		if (!(params[j] = db_array_text(&a[j], err)))
			goto out;
	ret = db_query_prepared(pg, sql, n, params, NULL, err);
out:
	for (j = 0; j < n; j++)
		db_array_deinit(&a[j]);
	return ret;
}
