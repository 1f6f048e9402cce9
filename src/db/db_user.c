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

int db_user_insert(PGconn *pg, const char *login, const char *name,
                   const char *role, int64_t department_id,
                   const char *password_hash, struct ktd_error *err)
{
	static const char sql[] =
	        "INSERT INTO users (login, name, role, department_id, "
	        "password_hash) VALUES ($1, $2, $3, $4::bigint, $5)";
	char dep[24];
	const char *params[5] = {login, name, role, NULL, password_hash};

	if (department_id > 0) {
		snprintf(dep, sizeof(dep), "%" PRId64, department_id);
		params[3] = dep;
	}
	if (db_query(pg, sql, 5, params, NULL, err) < 0) {
		if (strcmp(err->sqlstate, "23505") == 0)
			return ktd_error_set(err, KTD_ERR_CONFLICT,
			                     "a user with login '%s' exists "
			                     "already",
			                     login);
		return -1;
	}
	return 0;
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
		return -1;
	ret = db_result_i64(res, 0, 0) > 0 ? 1 : 0;
	*changed_r = db_result_i64(res, 0, 1) > 0;
	PQclear(res);
	return ret;
}

int db_user_list(PGconn *pg, struct db_user_list *list_r, struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT u.id, u.login, u.name, u.role, d.name, u.disabled, "
	        "ktd_rfc3339(u.created_at) FROM users u "
	        "LEFT JOIN departments d ON d.id = u.department_id "
	        "ORDER BY u.login";
	PGresult *res = NULL;
	int i, n;

	list_r->items = NULL;
	list_r->n = 0;
	if (db_query(pg, sql, 0, NULL, &res, err) < 0)
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
	}
	list_r->n = (size_t)n;
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
