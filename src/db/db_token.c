/* SPDX-License-Identifier: MPL-2.0 */
/* SQL on the api_tokens table. */
#include "db/db_common.h"

#include <string.h>

#include "lib/mem.h"
#include "db/pool.h"
#include "db/result.h"
#include "db/db_token.h"

int db_token_insert(PGconn *pg, const char *name,
                    const unsigned char hash[DB_TOKEN_HASH_SIZE],
                    const char *scopes, const char *created_by, int64_t *id_r,
                    struct ktd_error *err)
{
	static const char sql[] =
	        "INSERT INTO api_tokens (name, token_hash, scopes, created_by) "
	        "VALUES ($1, $2::bytea, string_to_array($3, ','), $4) "
	        "RETURNING id";
	char hex[2 * DB_TOKEN_HASH_SIZE + 3];
	const char *params[4] = {name, hex, scopes, created_by};
	PGresult *res = NULL;

	db_bytea_hex(hash, DB_TOKEN_HASH_SIZE, hex, sizeof(hex));
	if (db_query(pg, sql, 4, params, &res, err) < 0) {
		/* Two random 256-bit tokens do not collide: a unique
		 * violation is the name. */
		if (strcmp(err->sqlstate, "23505") == 0)
			return ktd_error_set(
			        err, KTD_ERR_CONFLICT,
			        "a token named '%s' exists already", name);
		return -1;
	}
	if (id_r)
		*id_r = db_result_i64(res, 0, 0);
	PQclear(res);
	return 0;
}

int db_token_revoke(PGconn *pg, const char *name, bool *already_r,
                    int64_t *id_r, struct ktd_error *err)
{
	static const char sql[] =
	        "WITH old AS (SELECT id, revoked_at FROM api_tokens "
	        " WHERE name = $1 FOR UPDATE), "
	        "u AS (UPDATE api_tokens SET revoked_at = now() FROM old "
	        " WHERE api_tokens.id = old.id AND old.revoked_at IS NULL "
	        " RETURNING api_tokens.id) "
	        "SELECT (SELECT count(*) FROM old), (SELECT count(*) FROM u), "
	        " (SELECT min(id) FROM old)";
	PGresult *res = NULL;
	int ret;

	*already_r = false;
	if (db_query(pg, sql, 1, &name, &res, err) < 0)
		return -1;
	ret = db_result_i64(res, 0, 0) > 0 ? 1 : 0;
	*already_r = ret == 1 && db_result_i64(res, 0, 1) == 0;
	if (id_r)
		*id_r = db_result_i64(res, 0, 2);
	PQclear(res);
	return ret;
}

int db_token_list(PGconn *pg, struct db_token_list *list_r,
                  struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT name, array_to_string(scopes, ','), "
	        "ktd_rfc3339(created_at), created_by, "
	        "ktd_rfc3339(last_used_at), ktd_rfc3339(revoked_at) "
	        "FROM api_tokens ORDER BY name";
	PGresult *res = NULL;
	int i, n;

	list_r->items = NULL;
	list_r->n = 0;
	if (db_query(pg, sql, 0, NULL, &res, err) < 0)
		return -1;
	n = PQntuples(res);
	list_r->items = ktd_calloc((size_t)n, sizeof(*list_r->items));
	for (i = 0; i < n; i++) {
		struct db_token *t = &list_r->items[i];

		t->name = db_result_strdup(res, i, 0);
		t->scopes = db_result_strdup(res, i, 1);
		t->created_at = db_result_strdup(res, i, 2);
		t->created_by = db_result_strdup(res, i, 3);
		t->last_used_at = db_result_strdup(res, i, 4);
		t->revoked_at = db_result_strdup(res, i, 5);
	}
	list_r->n = (size_t)n;
	PQclear(res);
	return 0;
}

void db_token_list_free(struct db_token_list *list)
{
	size_t i;

	for (i = 0; i < list->n; i++) {
		struct db_token *t = &list->items[i];

		ktd_free(&t->name);
		ktd_free(&t->scopes);
		ktd_free(&t->created_at);
		ktd_free(&t->created_by);
		ktd_free(&t->last_used_at);
		ktd_free(&t->revoked_at);
	}
	ktd_free(&list->items);
	list->n = 0;
}
