/* SPDX-License-Identifier: MPL-2.0 */
/* SQL on the users table. */
#include "db/db_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lib/mem.h"
#include "db/pool.h"
#include "db/result.h"
#include "db/db_user.h"

/* The trigger of sql/005 that keeps an active admin says KTD01. */
static int last_admin(struct ktd_error *err)
{
	if (strcmp(err->sqlstate, "KTD01") == 0)
		ktd_error_set(err, KTD_ERR_CONFLICT,
		              "no active admin would remain: make another user "
		              "admin first");
	return -1;
}

int db_user_create(PGconn *pg, const char *login, const char *name,
                   const char *role, int64_t department_id,
                   const char *password_hash, int64_t *id_r,
                   struct ktd_error *err)
{
	static const char sql[] =
	        "INSERT INTO users (login, name, role, department_id, "
	        "password_hash) VALUES ($1, $2, $3, $4::bigint, $5) "
	        "RETURNING id";
	char dep[24];
	const char *params[5] = {login, name, role, NULL, password_hash};
	PGresult *res = NULL;

	if (department_id > 0) {
		snprintf(dep, sizeof(dep), "%" PRId64, department_id);
		params[3] = dep;
	}
	if (db_query(pg, sql, 5, params, &res, err) < 0) {
		if (strcmp(err->sqlstate, "23505") == 0)
			return ktd_error_set(err, KTD_ERR_CONFLICT,
			                     "a user with login '%s' exists "
			                     "already",
			                     login);
		if (strcmp(err->sqlstate, "23503") == 0)
			return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
			                     "field 'department_id': no such "
			                     "department");
		return -1;
	}
	if (id_r)
		*id_r = db_result_i64(res, 0, 0);
	PQclear(res);
	return 0;
}

int db_user_insert(PGconn *pg, const char *login, const char *name,
                   const char *role, int64_t department_id,
                   const char *password_hash, struct ktd_error *err)
{
	return db_user_create(pg, login, name, role, department_id,
	                      password_hash, NULL, err);
}

int db_user_update(PGconn *pg, int64_t id, const struct db_user_change *c,
                   struct ktd_error *err)
{
	static const char sql[] =
	        "WITH u AS (UPDATE users SET "
	        " name = COALESCE($2::text, name), "
	        " role = COALESCE($3::text, role), "
	        " department_id = CASE WHEN $4::boolean THEN $5::bigint "
	        "  ELSE department_id END, "
	        " disabled = COALESCE($6::boolean, disabled), "
	        " password_hash = COALESCE($7::text, password_hash), "
	        " password_changed_at = CASE WHEN $7::text IS NULL "
	        "  THEN password_changed_at ELSE now() END "
	        " WHERE id = $1::bigint RETURNING id, disabled), "
	        "s AS (DELETE FROM sessions WHERE user_id IN (SELECT id FROM u "
	        " WHERE disabled OR $7::text IS NOT NULL)) "
	        "SELECT count(*) FROM u";
	char idtext[24], dep[24];
	const char *params[7];
	PGresult *res = NULL;
	int ret;

	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	snprintf(dep, sizeof(dep), "%" PRId64, c->department_id);
	params[0] = idtext;
	params[1] = c->name;
	params[2] = c->role;
	params[3] = c->set_department ? "true" : "false";
	params[4] = c->department_id > 0 ? dep : NULL;
	params[5] = c->disabled < 0 ? NULL : c->disabled ? "true" : "false";
	params[6] = c->password_hash;
	if (db_query(pg, sql, 7, params, &res, err) < 0) {
		if (strcmp(err->sqlstate, "23503") == 0)
			return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
			                     "field 'department_id': no such "
			                     "department");
		return last_admin(err);
	}
	ret = db_result_i64(res, 0, 0) > 0 ? 1 : 0;
	PQclear(res);
	return ret;
}

int db_user_exists(PGconn *pg, const char *login, struct ktd_error *err)
{
	static const char sql[] = "SELECT 1 FROM users WHERE login = $1";
	PGresult *res = NULL;
	int ret;

	if (db_query(pg, sql, 1, &login, &res, err) < 0)
		return -1;
	ret = PQntuples(res) > 0 ? 1 : 0;
	PQclear(res);
	return ret;
}

/* A changed password or a disabled user logs the user out everywhere: the
 * sessions go in the same statement. */
int db_user_set_password(PGconn *pg, const char *login,
                         const char *password_hash, struct ktd_error *err)
{
	static const char sql[] =
	        "WITH u AS ("
	        " UPDATE users SET password_hash = $2, "
	        " password_changed_at = now() WHERE login = $1 RETURNING id), "
	        "s AS (DELETE FROM sessions WHERE user_id IN "
	        " (SELECT id FROM u)) "
	        "SELECT count(*) FROM u";
	const char *params[2] = {login, password_hash};
	PGresult *res = NULL;
	int ret;

	if (db_query(pg, sql, 2, params, &res, err) < 0)
		return -1;
	ret = db_result_i64(res, 0, 0) > 0 ? 1 : 0;
	PQclear(res);
	return ret;
}

int db_user_set_disabled(PGconn *pg, const char *login, bool disabled,
                         bool *changed_r, struct ktd_error *err)
{
	/* old.disabled is read before the update: the row's state when the
	 * statement started. */
	static const char sql[] =
	        "WITH old AS (SELECT id, disabled FROM users WHERE login = $1 "
	        " FOR UPDATE), "
	        "u AS (UPDATE users SET disabled = $2::boolean FROM old "
	        " WHERE users.id = old.id AND old.disabled <> $2::boolean "
	        " RETURNING users.id), "
	        "s AS (DELETE FROM sessions WHERE $2::boolean AND user_id IN "
	        " (SELECT id FROM old)) "
	        "SELECT (SELECT count(*) FROM old), (SELECT count(*) FROM u)";
	const char *params[2] = {login, disabled ? "true" : "false"};
	PGresult *res = NULL;
	int ret;

	*changed_r = false;
	if (db_query(pg, sql, 2, params, &res, err) < 0)
		return last_admin(err);
	ret = db_result_i64(res, 0, 0) > 0 ? 1 : 0;
	*changed_r = db_result_i64(res, 0, 1) > 0;
	PQclear(res);
	return ret;
}

int db_user_select(PGconn *pg, int64_t id, struct db_user_list *list_r,
                   struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT u.id, u.login, u.name, u.role, d.name, u.disabled, "
	        "ktd_rfc3339(u.created_at), u.department_id FROM users u "
	        "LEFT JOIN departments d ON d.id = u.department_id "
	        "WHERE $1::bigint IS NULL OR u.id = $1::bigint "
	        "ORDER BY u.login";
	char idtext[24];
	const char *param = NULL;
	PGresult *res = NULL;
	int i, n;

	list_r->items = NULL;
	list_r->n = 0;
	if (id > 0) {
		snprintf(idtext, sizeof(idtext), "%" PRId64, id);
		param = idtext;
	}
	if (db_query(pg, sql, 1, &param, &res, err) < 0)
		return -1;
	n = PQntuples(res);
	list_r->items = ktd_calloc((size_t)n, sizeof(*list_r->items));
	for (i = 0; i < n; i++) {
		struct db_user *u = &list_r->items[i];

		u->id = db_result_i64(res, i, 0);
		u->login = db_result_strdup(res, i, 1);
		u->name = db_result_strdup(res, i, 2);
		u->role = db_result_strdup(res, i, 3);
		u->department = db_result_strdup(res, i, 4);
		u->disabled = db_result_bool(res, i, 5);
		u->created_at = db_result_strdup(res, i, 6);
		u->department_id = db_result_i64(res, i, 7);
	}
	list_r->n = (size_t)n;
	PQclear(res);
	return 0;
}

int db_user_list(PGconn *pg, struct db_user_list *list_r, struct ktd_error *err)
{
	return db_user_select(pg, 0, list_r, err);
}

int db_user_active_json(PGconn *pg, char **json_r, struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, "
	        " 'name', name, 'login', login) "
	        " ORDER BY lower(ktd_user_display_name(u)), login), "
	        " '[]'::jsonb)::text "
	        "FROM users u WHERE NOT disabled";
	PGresult *res = NULL;

	if (db_query(pg, sql, 0, NULL, &res, err) < 0)
		return -1;
	*json_r = db_result_strdup(res, 0, 0);
	PQclear(res);
	return 0;
}

void db_user_list_free(struct db_user_list *list)
{
	size_t i;

	for (i = 0; i < list->n; i++) {
		struct db_user *u = &list->items[i];

		ktd_free(&u->login);
		ktd_free(&u->name);
		ktd_free(&u->role);
		ktd_free(&u->department);
		ktd_free(&u->created_at);
	}
	ktd_free(&list->items);
	list->n = 0;
}
