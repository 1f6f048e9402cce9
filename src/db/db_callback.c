/* SPDX-License-Identifier: MPL-2.0 */
/* SQL on callbacks and callback_attempts. */
#include "db/db_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lib/str.h"
#include "db/pool.h"
#include "db/result.h"
#include "db/db_callback.h"

#define I64(buf, v) snprintf(buf, sizeof(buf), "%" PRId64, (int64_t)(v))

int db_callback_from_call(PGconn *pg, int64_t row_id, const char *number,
                          struct ktd_error *err)
{
	static const char sql[] =
	        "INSERT INTO callbacks (case_id, call_row_id, number) "
	        "SELECT ct.case_id, c.id, coalesce($2, c.from_number) "
	        "FROM calls c JOIN contacts ct ON ct.id = c.contact_id "
	        "WHERE c.id = $1 AND coalesce($2, c.from_number) ~ '^\\+' "
	        "ON CONFLICT (call_row_id) DO NOTHING RETURNING id";
	char idt[24];
	const char *params[2] = {idt, number};
	PGresult *res = NULL;
	int ret;

	I64(idt, row_id);
	if (db_query(pg, sql, 2, params, &res, err) < 0)
		return -1;
	ret = PQntuples(res) == 1;
	PQclear(res);
	return ret;
}

int db_callback_insert(PGconn *pg, const struct db_callback_new *c,
                       char **json_r, struct ktd_error *err)
{
	static const char sql[] =
	        "INSERT INTO callbacks AS cb (case_id, number, message, "
	        " window_from, window_to, due_at, created_by) "
	        "SELECT id, coalesce($2, citizen_phone), coalesce($3, ''), "
	        " $4::timestamptz, $5::timestamptz, "
	        " coalesce($6::timestamptz, $4::timestamptz, now()), "
	        " NULLIF($7::bigint, 0) "
	        "FROM cases WHERE id = $1 "
	        " AND coalesce($2, citizen_phone) IS NOT NULL "
	        "RETURNING ktd_callback_json(cb)::text";
	char cid[24], by[24];
	const char *params[7] = {
	        cid,          c->number, c->message, c->window_from,
	        c->window_to, c->due_at, by};
	PGresult *res = NULL;
	int ret = 0;

	I64(cid, c->case_id);
	I64(by, c->created_by);
	if (db_query(pg, sql, 7, params, &res, err) < 0) {
		if (strcmp(err->sqlstate, "23514") == 0)
			return ktd_error_set(
			        err, KTD_ERR_UNPROCESSABLE,
			        "a value was refused: the number "
			        "must be E.164 and window_to after "
			        "window_from");
		return -1;
	}
	if (PQntuples(res) == 1) {
		*json_r = db_result_strdup(res, 0, 0);
		ret = 1;
	}
	PQclear(res);
	return ret;
}

int db_callback_list_json(PGconn *pg, const struct db_callback_filter *f,
                          char **json_r, int64_t *last_us_r, int64_t *last_id_r,
                          struct ktd_error *err)
{
	static const char sql[] =
	        "WITH page AS (SELECT c AS row, c.due_at, c.id, "
	        "  (extract(epoch FROM c.due_at) * 1000000)::bigint AS due_us "
	        " FROM callbacks c "
	        " WHERE ($1::text IS NULL OR c.status = $1) "
	        " AND ($2::timestamptz IS NULL OR c.due_at < $2) "
	        " AND ($3::bigint = 0 OR (c.due_at, c.id) > "
	        "  (to_timestamp(0) + $4::bigint * interval '1 microsecond', "
	        "   $3::bigint)) "
	        " ORDER BY c.due_at, c.id LIMIT $5::integer + 1), "
	        "shown AS (SELECT * FROM page ORDER BY due_at, id LIMIT $5) "
	        "SELECT coalesce((SELECT jsonb_agg(ktd_callback_json(s.row) "
	        "  ORDER BY s.due_at, s.id) FROM shown s), '[]')::text, "
	        " (SELECT count(*) FROM page), "
	        " (SELECT due_us FROM shown ORDER BY due_at DESC, id DESC "
	        "  LIMIT 1), "
	        " (SELECT id FROM shown ORDER BY due_at DESC, id DESC LIMIT 1)";
	char aid[24], aus[24], lim[16];
	const char *params[5] = {f->status, f->due_before, aid, aus, lim};
	PGresult *res = NULL;

	I64(aid, f->after_id);
	I64(aus, f->after_us);
	snprintf(lim, sizeof(lim), "%u", f->limit);
	if (db_query(pg, sql, 5, params, &res, err) < 0)
		return -1;
	*json_r = db_result_strdup(res, 0, 0);
	*last_id_r = 0;
	if (db_result_i64(res, 0, 1) > (int64_t)f->limit) {
		*last_us_r = db_result_i64(res, 0, 2);
		*last_id_r = db_result_i64(res, 0, 3);
	}
	PQclear(res);
	return 0;
}

int db_callback_lock(PGconn *pg, int64_t id, char status_r[16],
                     int64_t *version_r, int64_t *case_id_r,
                     struct ktd_error *err)
{
	static const char sql[] = "SELECT status, version, case_id "
	                          "FROM callbacks WHERE id = $1 FOR UPDATE";
	char idt[24];
	const char *params[1] = {idt};
	PGresult *res = NULL;
	int ret = 0;

	I64(idt, id);
	if (db_query(pg, sql, 1, params, &res, err) < 0)
		return -1;
	if (PQntuples(res) == 1) {
		ktd_strlcpy(status_r, PQgetvalue(res, 0, 0), 16);
		*version_r = db_result_i64(res, 0, 1);
		*case_id_r = db_result_i64(res, 0, 2);
		ret = 1;
	}
	PQclear(res);
	return ret;
}

int db_callback_attempt(PGconn *pg, int64_t id, int64_t user_id,
                        const char *result, const char *note,
                        unsigned max_attempts, uint64_t retry_after_s,
                        char **json_r, struct ktd_error *err)
{
	static const char sql_attempt[] =
	        "INSERT INTO callback_attempts (callback_id, by_user_id, "
	        " result, note) VALUES ($1, NULLIF($2::bigint, 0), $3, "
	        " coalesce($4, ''))";
	static const char sql_update[] =
	        "UPDATE callbacks c SET attempts = attempts + 1, "
	        " last_attempt_at = now(), version = version + 1, "
	        " status = CASE WHEN $2 = 'reached' THEN 'done' "
	        "  WHEN attempts + 1 >= $3::integer THEN 'not_reached' "
	        "  ELSE 'open' END, "
	        " completed_at = CASE WHEN $2 = 'reached' "
	        "  OR attempts + 1 >= $3::integer THEN now() END, "
	        " due_at = CASE WHEN $2 <> 'reached' "
	        "  AND attempts + 1 < $3::integer "
	        "  THEN now() + make_interval(secs => $4::bigint) "
	        "  ELSE due_at END "
	        "WHERE c.id = $1 RETURNING ktd_callback_json(c)::text";
	char idt[24], uid[24], max[16], retry[24];
	const char *pa[4] = {idt, uid, result, note};
	const char *pu[4] = {idt, result, max, retry};
	PGresult *res = NULL;

	I64(idt, id);
	I64(uid, user_id);
	snprintf(max, sizeof(max), "%u", max_attempts);
	snprintf(retry, sizeof(retry), "%llu",
	         (unsigned long long)retry_after_s);
	if (db_query(pg, sql_attempt, 4, pa, NULL, err) < 0 ||
	    db_query(pg, sql_update, 4, pu, &res, err) < 0)
		return -1;
	*json_r = db_result_strdup(res, 0, 0);
	PQclear(res);
	return 0;
}

int db_callback_get_json(PGconn *pg, int64_t id, char **json_r,
                         struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT ktd_callback_json(c)::text FROM callbacks c "
	        "WHERE c.id = $1";
	char idt[24];
	const char *params[1] = {idt};
	PGresult *res = NULL;
	int ret = 0;

	I64(idt, id);
	if (db_query(pg, sql, 1, params, &res, err) < 0)
		return -1;
	if (PQntuples(res) == 1) {
		*json_r = db_result_strdup(res, 0, 0);
		ret = 1;
	}
	PQclear(res);
	return ret;
}

int db_callback_summary_json(PGconn *pg, const char *from, const char *to,
                             char **json_r, struct ktd_error *err)
{
	static const char sql[] =
	        "WITH c AS (SELECT * FROM callbacks "
	        " WHERE ($1::timestamptz IS NULL OR created_at >= $1) "
	        " AND ($2::timestamptz IS NULL OR created_at < $2)), "
	        "t AS (SELECT extract(epoch FROM a.at - c.created_at) AS s "
	        " FROM c JOIN callback_attempts a ON a.callback_id = c.id "
	        " AND a.result = 'reached') "
	        "SELECT jsonb_build_object("
	        " 'requested', (SELECT count(*) FROM c), "
	        " 'done', (SELECT count(*) FROM c WHERE status = 'done'), "
	        " 'not_reached', "
	        "  (SELECT count(*) FROM c WHERE status = 'not_reached'), "
	        " 'cancelled', "
	        "  (SELECT count(*) FROM c WHERE status = 'cancelled'), "
	        " 'open', (SELECT count(*) FROM c WHERE status = 'open'), "
	        " 'attempts', (SELECT coalesce(sum(attempts), 0) FROM c), "
	        " 'mean_seconds_to_callback', "
	        "  (SELECT round(avg(s)::numeric, 1) FROM t), "
	        " 'median_seconds_to_callback', (SELECT round(("
	        "  percentile_cont(0.5) WITHIN GROUP (ORDER BY s))::numeric, "
	        "  1) FROM t))::text";
	const char *params[2] = {from, to};
	PGresult *res = NULL;

	if (db_query(pg, sql, 2, params, &res, err) < 0)
		return -1;
	*json_r = db_result_strdup(res, 0, 0);
	PQclear(res);
	return 0;
}
