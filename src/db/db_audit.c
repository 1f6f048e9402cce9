/* SPDX-License-Identifier: MPL-2.0 */
/* SQL on the audit_log table. */
#include "db/db_common.h"

#include <inttypes.h>
#include <stdio.h>

#include "db/pool.h"
#include "db/result.h"
#include "db/db_audit.h"

#define I64(buf, v) snprintf(buf, sizeof(buf), "%" PRId64, (int64_t)(v))

static int add(PGconn *pg, const struct db_audit_actor *actor,
               const char *action, int64_t case_id, const char *object_type,
               int64_t object_id, const char *detail_json,
               struct ktd_error *err)
{
	/* A token is named, not numbered, in the principal; names are
	 * unique, so the lookup is exact. */
	static const char sql[] =
	        "INSERT INTO audit_log (actor_user_id, actor_token_id, action, "
	        " case_id, peer, detail, object_type, object_id) "
	        "VALUES (NULLIF($1::bigint, 0), "
	        " (SELECT id FROM api_tokens WHERE name = $2), $3, "
	        " NULLIF($4::bigint, 0), left($5, 64), "
	        " coalesce($6::jsonb, '{}'::jsonb), $7::text, "
	        " CASE WHEN $7::text IS NOT NULL THEN $8::bigint END)";
	char uid[24], cid[24], oid[24];
	const char *params[8];

	I64(uid, actor->user_id);
	I64(cid, case_id);
	I64(oid, object_id);
	params[0] = uid;
	params[1] = actor->token_name;
	params[2] = action;
	params[3] = cid;
	params[4] = actor->peer;
	params[5] = detail_json;
	params[6] = object_type;
	params[7] = oid;
	return db_query_prepared(pg, sql, 8, params, NULL, err);
}

int db_audit_add(PGconn *pg, const struct db_audit_actor *actor,
                 const char *action, int64_t case_id, const char *detail_json,
                 struct ktd_error *err)
{
	return add(pg, actor, action, case_id, NULL, 0, detail_json, err);
}

int db_audit_add_object(PGconn *pg, const struct db_audit_actor *actor,
                        const char *action, const char *object_type,
                        int64_t object_id, const char *detail_json,
                        struct ktd_error *err)
{
	return add(pg, actor, action, 0, object_type, object_id, detail_json,
	           err);
}

int db_audit_add_named(PGconn *pg, const struct db_audit_actor *actor,
                       const char *action, const char *object_type,
                       const char *name, const char *detail_json,
                       struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT CASE $1::text "
	        " WHEN 'user' THEN (SELECT id FROM users WHERE login = $2) "
	        " WHEN 'token' THEN (SELECT id FROM api_tokens WHERE name = "
	        "$2) "
	        " WHEN 'department' THEN (SELECT id FROM departments "
	        "  WHERE lower(name) = lower($2)) END";
	const char *params[2] = {object_type, name};
	PGresult *res = NULL;
	int64_t id;

	if (db_query(pg, sql, 2, params, &res, err) < 0)
		return -1;
	id = db_result_i64(res, 0, 0);
	PQclear(res);
	if (id == 0)
		return ktd_error_set(err, KTD_ERR_NOT_FOUND,
		                     "no %s '%s' to audit", object_type, name);
	return add(pg, actor, action, 0, object_type, id, detail_json, err);
}

int db_audit_list_json(PGconn *pg, const struct db_audit_filter *f,
                       char **json_r, int64_t *last_id_r, struct ktd_error *err)
{
	/* One more row than asked tells whether there is a next page. */
	static const char sql[] =
	        "WITH page AS (SELECT a.* FROM audit_log a "
	        " WHERE ($1::bigint IS NULL OR a.case_id = $1) "
	        " AND ($2::bigint IS NULL OR a.actor_user_id = $2) "
	        " AND ($3::text IS NULL OR a.action = $3) "
	        " AND ($4::text IS NULL OR a.object_type = $4) "
	        " AND ($5::bigint IS NULL OR a.object_id = $5) "
	        " AND ($6::timestamptz IS NULL OR a.at >= $6) "
	        " AND ($7::timestamptz IS NULL OR a.at < $7) "
	        " AND ($8::bigint IS NULL OR a.id < $8) "
	        " ORDER BY a.id DESC LIMIT $9::integer + 1) "
	        "SELECT coalesce((SELECT jsonb_agg(ktd_audit_json(p) "
	        "  ORDER BY p.id DESC) FROM (SELECT * FROM page "
	        "  ORDER BY id DESC LIMIT $9) p), '[]'::jsonb)::text, "
	        " (SELECT count(*) FROM page), "
	        " (SELECT min(id) FROM (SELECT id FROM page "
	        "  ORDER BY id DESC LIMIT $9) l)";
	char cid[24], uid[24], oid[24], before[24], limit[16];
	const char *params[9];
	PGresult *res = NULL;

	I64(cid, f->case_id);
	I64(uid, f->actor_user_id);
	I64(oid, f->object_id);
	I64(before, f->before_id);
	snprintf(limit, sizeof(limit), "%u", f->limit);
	params[0] = f->case_id ? cid : NULL;
	params[1] = f->actor_user_id ? uid : NULL;
	params[2] = f->action;
	params[3] = f->object_type;
	params[4] = f->object_id ? oid : NULL;
	params[5] = f->from;
	params[6] = f->to;
	params[7] = f->before_id ? before : NULL;
	params[8] = limit;
	if (db_query(pg, sql, 9, params, &res, err) < 0)
		return -1;
	*json_r = db_result_strdup(res, 0, 0);
	*last_id_r = db_result_i64(res, 0, 1) > (int64_t)f->limit
	                     ? db_result_i64(res, 0, 2)
	                     : 0;
	PQclear(res);
	return 0;
}
