/* SPDX-License-Identifier: MPL-2.0 */
/* SQL on the departments table. */
#include "db/db_common.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "db/pool.h"
#include "db/result.h"
#include "db/db_department.h"

void db_department_clear(struct db_department *d)
{
	ktd_free(&d->name);
	ktd_free(&d->parent);
	ktd_free(&d->queue_number);
	ktd_free(&d->hunt_group_number);
	ktd_free(&d->ivr_choice);
	ktd_free(&d->email);
	ktd_free(&d->phone_hours);
}

int db_department_lock(PGconn *pg, struct ktd_error *err)
{
	return db_query(pg,
	                "LOCK TABLE departments IN SHARE ROW EXCLUSIVE MODE", 0,
	                NULL, NULL, err);
}

int db_department_list(PGconn *pg, struct db_department_list *list_r,
                       struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT d.id, d.name, p.name, d.queue_number, "
	        "d.hunt_group_number, d.ivr_choice, d.email, "
	        "d.phone_hours::text, d.handled_by_centre, d.phase, d.active "
	        "FROM departments d LEFT JOIN departments p "
	        "ON p.id = d.parent_id ORDER BY d.name COLLATE \"C\"";
	PGresult *res = NULL;
	int i, n;

	list_r->items = NULL;
	list_r->n = 0;
	if (db_query(pg, sql, 0, NULL, &res, err) < 0)
		return -1;
	n = PQntuples(res);
	list_r->items = ktd_calloc((size_t)n, sizeof(*list_r->items));
	for (i = 0; i < n; i++) {
		struct db_department *d = &list_r->items[i];

		d->id = db_result_i64(res, i, 0);
		d->name = db_result_strdup(res, i, 1);
		d->parent = db_result_strdup(res, i, 2);
		d->queue_number = db_result_strdup(res, i, 3);
		d->hunt_group_number = db_result_strdup(res, i, 4);
		d->ivr_choice = db_result_strdup(res, i, 5);
		d->email = db_result_strdup(res, i, 6);
		d->phone_hours = db_result_strdup(res, i, 7);
		d->handled_by_centre = db_result_bool(res, i, 8);
		d->phase = (unsigned)db_result_i64(res, i, 9);
		d->active = db_result_bool(res, i, 10);
	}
	list_r->n = (size_t)n;
	PQclear(res);
	return 0;
}

void db_department_list_free(struct db_department_list *list)
{
	size_t i;

	for (i = 0; i < list->n; i++)
		db_department_clear(&list->items[i]);
	ktd_free(&list->items);
	list->n = 0;
}

int db_department_find(PGconn *pg, const char *name, int64_t *id_r,
                       struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT id FROM departments WHERE lower(name) = lower($1)";
	PGresult *res = NULL;
	int ret = 0;

	if (db_query(pg, sql, 1, &name, &res, err) < 0)
		return -1;
	if (PQntuples(res) > 0) {
		*id_r = db_result_i64(res, 0, 0);
		ret = 1;
	}
	PQclear(res);
	return ret;
}

#define UPSERT_INSERT                                                          \
	"INSERT INTO departments (name, queue_number, hunt_group_number, "     \
	"ivr_choice, email, phone_hours, handled_by_centre, phase, active) "   \
	"VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::boolean, $8::smallint, "   \
	"$9::boolean) "

int db_department_upsert(PGconn *pg, const struct db_department *d,
                         bool insert_only, bool *written_r,
                         struct ktd_error *err)
{
	static const char sql_upsert[] = UPSERT_INSERT
	        "ON CONFLICT ((lower(name))) DO UPDATE SET "
	        "name = EXCLUDED.name, queue_number = EXCLUDED.queue_number, "
	        "hunt_group_number = EXCLUDED.hunt_group_number, "
	        "ivr_choice = EXCLUDED.ivr_choice, email = EXCLUDED.email, "
	        "phone_hours = EXCLUDED.phone_hours, "
	        "handled_by_centre = EXCLUDED.handled_by_centre, "
	        "phase = EXCLUDED.phase, active = EXCLUDED.active "
	        "WHERE (departments.name, departments.queue_number, "
	        "departments.hunt_group_number, departments.ivr_choice, "
	        "departments.email, departments.phone_hours, "
	        "departments.handled_by_centre, departments.phase, "
	        "departments.active) IS DISTINCT FROM (EXCLUDED.name, "
	        "EXCLUDED.queue_number, EXCLUDED.hunt_group_number, "
	        "EXCLUDED.ivr_choice, EXCLUDED.email, EXCLUDED.phone_hours, "
	        "EXCLUDED.handled_by_centre, EXCLUDED.phase, EXCLUDED.active) "
	        "RETURNING id";
	static const char sql_insert[] = UPSERT_INSERT
	        "ON CONFLICT ((lower(name))) DO NOTHING RETURNING id";
	char phase[8];
	const char *params[9];
	PGresult *res = NULL;

	snprintf(phase, sizeof(phase), "%u", d->phase);
	params[0] = d->name;
	params[1] = d->queue_number;
	params[2] = d->hunt_group_number;
	params[3] = d->ivr_choice;
	params[4] = d->email;
	params[5] = d->phone_hours ? d->phone_hours : "{}";
	params[6] = d->handled_by_centre ? "true" : "false";
	params[7] = d->phase ? phase : NULL;
	params[8] = d->active ? "true" : "false";
	*written_r = false;
	if (db_query(pg, insert_only ? sql_insert : sql_upsert, 9, params, &res,
	             err) < 0)
		return -1;
	*written_r = PQntuples(res) > 0;
	PQclear(res);
	return 0;
}

int db_department_set_parents(PGconn *pg, const char *const *names,
                              const char *const *parents, size_t n,
                              struct ktd_error *err)
{
	/* The pairs travel as one JSON parameter, which needs no quoting
	 * rules of our own. */
	static const char sql[] =
	        "UPDATE departments d SET parent_id = p.id "
	        "FROM jsonb_to_recordset($1::jsonb) AS u(name text, "
	        "parent text) "
	        "LEFT JOIN departments p ON lower(p.name) = lower(u.parent) "
	        "WHERE lower(d.name) = lower(u.name) "
	        "AND d.parent_id IS DISTINCT FROM p.id";
	json_t *arr = NULL;
	char *text = NULL;
	size_t i;
	int ret = -1;

	if (n == 0)
		return 0;
	arr = json_array();
	for (i = 0; i < n; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "name", json_string(names[i]));
		json_object_set_new(o, "parent",
		                    parents[i] ? json_string(parents[i])
		                               : json_null());
		json_array_append_new(arr, o);
	}
	text = json_dumps(arr, JSON_COMPACT);
	if (!text) {
		ktd_error_set(err, KTD_ERR_INTERNAL,
		              "out of memory encoding department parents");
		goto out;
	}
	if (db_query(pg, sql, 1, (const char *const *)&text, NULL, err) < 0)
		goto out;
	ret = 0;
out:
	free(text);
	json_decref(arr);
	return ret;
}

int db_department_select(PGconn *pg, const struct db_department_filter *f,
                         struct db_department_list *list_r,
                         struct ktd_error *err)
{
	/* The weekday key and the time of day in local time; a range
	 * "to" of "24:00" compares after every "HH:MM" of the day. */
	static const char sql[] =
	        "WITH now_local AS (SELECT lower(to_char(t, 'dy')) AS dy, "
	        " to_char(t, 'HH24:MI') AS hm FROM (SELECT now() AT TIME ZONE "
	        " 'Europe/Copenhagen' AS t) x) "
	        "SELECT d.id, d.name, p.name, d.queue_number, "
	        "d.hunt_group_number, d.ivr_choice, d.email, "
	        "d.phone_hours::text, d.handled_by_centre, d.phase, d.active, "
	        "d.parent_id, EXISTS (SELECT 1 FROM now_local n, "
	        " jsonb_array_elements(CASE WHEN jsonb_typeof(d.phone_hours "
	        " -> n.dy) = 'array' THEN d.phone_hours -> n.dy ELSE '[]' END) "
	        " r WHERE r ->> 0 <= n.hm AND n.hm < r ->> 1) "
	        "FROM departments d LEFT JOIN departments p "
	        "ON p.id = d.parent_id "
	        "WHERE ($1::text IS NULL OR "
	        " strpos(lower(d.name), lower($1::text)) > 0) "
	        "AND ($2::boolean IS NULL OR d.active = $2::boolean) "
	        "AND ($3::boolean IS NULL OR d.handled_by_centre = "
	        "$3::boolean) "
	        "AND ($4::bigint IS NULL OR d.id = $4::bigint) "
	        "ORDER BY d.name COLLATE \"C\"";
	static const char sql_lock[] =
	        "SELECT id FROM departments WHERE id = $1::bigint FOR UPDATE";
	char id[24];
	const char *params[4];
	PGresult *res = NULL;
	int i, n;

	list_r->items = NULL;
	list_r->n = 0;
	snprintf(id, sizeof(id), "%" PRId64, f->id);
	params[0] = f->q;
	params[1] = f->active < 0 ? NULL : f->active ? "true" : "false";
	params[2] = f->handled_by_centre < 0 ? NULL
	            : f->handled_by_centre   ? "true"
	                                     : "false";
	params[3] = f->id > 0 ? id : NULL;
	if (f->lock && f->id > 0 &&
	    db_query(pg, sql_lock, 1, &params[3], NULL, err) < 0)
		return -1;
	if (db_query(pg, sql, 4, params, &res, err) < 0)
		return -1;
	n = PQntuples(res);
	list_r->items = ktd_calloc((size_t)n, sizeof(*list_r->items));
	for (i = 0; i < n; i++) {
		struct db_department *d = &list_r->items[i];

		d->id = db_result_i64(res, i, 0);
		d->name = db_result_strdup(res, i, 1);
		d->parent = db_result_strdup(res, i, 2);
		d->queue_number = db_result_strdup(res, i, 3);
		d->hunt_group_number = db_result_strdup(res, i, 4);
		d->ivr_choice = db_result_strdup(res, i, 5);
		d->email = db_result_strdup(res, i, 6);
		d->phone_hours = db_result_strdup(res, i, 7);
		d->handled_by_centre = db_result_bool(res, i, 8);
		d->phase = (unsigned)db_result_i64(res, i, 9);
		d->active = db_result_bool(res, i, 10);
		d->parent_id = db_result_i64(res, i, 11);
		d->open_now = db_result_bool(res, i, 12);
	}
	list_r->n = (size_t)n;
	PQclear(res);
	return 0;
}

/* The errors of a write, in the words of the API's fields. */
static int write_error(const struct db_department *d, struct ktd_error *err)
{
	if (strcmp(err->sqlstate, "23505") == 0)
		return ktd_error_set(err, KTD_ERR_CONFLICT,
		                     "a department named '%s' exists already",
		                     d->name);
	if (strcmp(err->sqlstate, "23503") == 0)
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field 'parent_id': no such department");
	if (strcmp(err->sqlstate, "23514") == 0 && strstr(err->msg, "ancestor"))
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field 'parent_id': the department would "
		                     "be its own ancestor");
	return -1;
}

static void write_params(const struct db_department *d, char *phase,
                         size_t phasesz, char *parent, size_t parentsz,
                         const char *params[10])
{
	snprintf(phase, phasesz, "%u", d->phase);
	snprintf(parent, parentsz, "%" PRId64, d->parent_id);
	params[0] = d->name;
	params[1] = d->queue_number;
	params[2] = d->hunt_group_number;
	params[3] = d->ivr_choice;
	params[4] = d->email;
	params[5] = d->phone_hours ? d->phone_hours : "{}";
	params[6] = d->handled_by_centre ? "true" : "false";
	params[7] = d->phase ? phase : NULL;
	params[8] = d->active ? "true" : "false";
	params[9] = d->parent_id > 0 ? parent : NULL;
}

int db_department_insert(PGconn *pg, const struct db_department *d,
                         int64_t *id_r, struct ktd_error *err)
{
	static const char sql[] =
	        "INSERT INTO departments (name, queue_number, "
	        "hunt_group_number, ivr_choice, email, phone_hours, "
	        "handled_by_centre, phase, active, parent_id) "
	        "VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::boolean, "
	        "$8::smallint, $9::boolean, $10::bigint) RETURNING id";
	char phase[8], parent[24];
	const char *params[10];
	PGresult *res = NULL;

	write_params(d, phase, sizeof(phase), parent, sizeof(parent), params);
	if (db_query(pg, sql, 10, params, &res, err) < 0)
		return write_error(d, err);
	*id_r = db_result_i64(res, 0, 0);
	PQclear(res);
	return 0;
}

int db_department_update(PGconn *pg, const struct db_department *d,
                         struct ktd_error *err)
{
	static const char sql[] =
	        "UPDATE departments SET name = $1, queue_number = $2, "
	        "hunt_group_number = $3, ivr_choice = $4, email = $5, "
	        "phone_hours = $6::jsonb, handled_by_centre = $7::boolean, "
	        "phase = $8::smallint, active = $9::boolean, "
	        "parent_id = $10::bigint WHERE id = $11::bigint";
	char phase[8], parent[24], id[24];
	const char *params[11];
	PGresult *res = NULL;
	int ret;

	write_params(d, phase, sizeof(phase), parent, sizeof(parent), params);
	snprintf(id, sizeof(id), "%" PRId64, d->id);
	params[10] = id;
	if (db_query(pg, sql, 11, params, &res, err) < 0)
		return write_error(d, err);
	ret = strcmp(PQcmdTuples(res), "0") == 0 ? 0 : 1;
	PQclear(res);
	return ret;
}
