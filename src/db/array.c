/* SPDX-License-Identifier: MPL-2.0 */
/* PostgreSQL array literals for batch parameters. */
#include "db/db_common.h"

#include <inttypes.h>
#include <stdio.h>

#include "db/array.h"

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
