/* SPDX-License-Identifier: MPL-2.0 */
/* SQL on live_events: the live stream's events. */
#include "db/db_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "db/array.h"
#include "db/pool.h"
#include "db/result.h"
#include "db/db_live.h"

#define I64(buf, v) snprintf(buf, sizeof(buf), "%" PRId64, (int64_t)(v))

/* The data a client gets: the stored payload with id, type and at. */
#define EVENT_COLUMNS                                                          \
	"e.id, e.type, (e.payload || jsonb_build_object('id', e.id, "          \
	"'type', e.type, 'at', ktd_rfc3339(e.at)))::text"

int db_live_add(PGconn *pg, const char *type, int64_t case_id,
                int64_t call_row_id, struct ktd_error *err)
{
	static const char sql[] =
	        "INSERT INTO live_events (type, case_id, call_id, payload) "
	        "SELECT $1, c, k, ktd_live_payload($1, c, k) "
	        "FROM (SELECT NULLIF($2::bigint, 0) AS c, "
	        " NULLIF($3::bigint, 0) AS k) p";
	char cid[24], kid[24];
	const char *params[3] = {type, cid, kid};

	I64(cid, case_id);
	I64(kid, call_row_id);
	return db_query_prepared(pg, sql, 3, params, NULL, err);
}

int db_live_add_calls(PGconn *pg, const struct db_live_call *ev, size_t n,
                      struct ktd_error *err)
{
	static const char sql[] =
	        "INSERT INTO live_events (type, case_id, call_id, payload) "
	        "SELECT t, NULLIF(c, 0), NULLIF(k, 0), ktd_live_payload(t, "
	        " NULLIF(c, 0), NULLIF(k, 0), j::jsonb) FROM "
	        "unnest($1::text[], "
	        " $2::bigint[], "
	        " $3::bigint[], $4::text[]) WITH ORDINALITY x(t, c, k, j, o) "
	        "ORDER BY o";
	struct db_array a[4];
	size_t i;

	if (n == 0)
		return 0;
	db_arrays_init(a, 4);
	for (i = 0; i < n; i++) {
		db_array_add(&a[0], ev[i].type);
		db_array_add_i64(&a[1], ev[i].case_id);
		db_array_add_i64(&a[2], ev[i].call_row_id);
		db_array_add(&a[3], ev[i].call_json);
	}
	return db_query_arrays(pg, sql, a, 4, err);
}

void db_live_rows_free(struct db_live_rows *rows)
{
	size_t i;

	for (i = 0; i < rows->n; i++)
		free(rows->items[i].data);
	free(rows->items);
	rows->items = NULL;
	rows->n = 0;
}

/* Rows from columns id, type, data starting at col, skipping rows whose
 * id is NULL (the empty side of a LEFT JOIN). */
static void rows_fill(const PGresult *res, int col, struct db_live_rows *rows)
{
	int i, n = PQntuples(res);

	rows->n = 0;
	rows->items = ktd_calloc(n ? (size_t)n : 1, sizeof(*rows->items));
	for (i = 0; i < n; i++) {
		struct db_live_row *r = &rows->items[rows->n];

		if (PQgetisnull(res, i, col))
			continue;
		r->id = db_result_i64(res, i, col);
		ktd_strlcpy(r->type, PQgetvalue(res, i, col + 1),
		            sizeof(r->type));
		r->data_len = (size_t)PQgetlength(res, i, col + 2);
		r->data = ktd_strndup(PQgetvalue(res, i, col + 2), r->data_len);
		rows->n++;
	}
}

int db_live_read(PGconn *pg, int64_t after, unsigned limit,
                 struct db_live_rows *rows, struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT " EVENT_COLUMNS " FROM live_events e WHERE e.id > $1 "
	        "ORDER BY e.id LIMIT $2::integer";
	char a[24], l[16];
	const char *params[2] = {a, l};
	PGresult *res = NULL;

	I64(a, after);
	snprintf(l, sizeof(l), "%u", limit);
	if (db_query_prepared(pg, sql, 2, params, &res, err) < 0)
		return -1;
	rows_fill(res, 0, rows);
	PQclear(res);
	return 0;
}

int db_live_position(PGconn *pg, int64_t *id_r, struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT greatest((SELECT upto FROM live_events_pruned), "
	        " (SELECT max(id) FROM live_events), 0)";
	PGresult *res = NULL;

	if (db_query(pg, sql, 0, NULL, &res, err) < 0)
		return -1;
	*id_r = db_result_i64(res, 0, 0);
	PQclear(res);
	return 0;
}

int db_live_replay(PGconn *pg, int64_t after, int64_t upto, unsigned limit,
                   struct db_live_replay *out, struct ktd_error *err)
{
	/* One statement, one snapshot: the janitor's delete and its mark
	 * change together, so the rows and the mark agree. */
	static const char sql[] =
	        "SELECT h.upto, greatest(h.upto, "
	        "  (SELECT max(id) FROM live_events), 0), " EVENT_COLUMNS
	        " FROM (SELECT upto FROM live_events_pruned) h "
	        "LEFT JOIN LATERAL (SELECT * FROM live_events "
	        "  WHERE id > $1 AND id <= $2 ORDER BY id "
	        "  LIMIT $3::integer) e ON true "
	        "ORDER BY e.id";
	char a[24], u[24], l[16];
	const char *params[3] = {a, u, l};
	PGresult *res = NULL;

	memset(out, 0, sizeof(*out));
	I64(a, after);
	I64(u, upto);
	snprintf(l, sizeof(l), "%u", limit);
	if (db_query(pg, sql, 3, params, &res, err) < 0)
		return -1;
	if (PQntuples(res) > 0) {
		out->pruned_upto = db_result_i64(res, 0, 0);
		out->newest = db_result_i64(res, 0, 1);
	}
	rows_fill(res, 2, &out->rows);
	PQclear(res);
	return 0;
}

int db_live_prune(PGconn *pg, uint64_t retention_s, unsigned batch,
                  int64_t *deleted_r, struct ktd_error *err)
{
	/* Oldest first and in bounded batches; the mark and the delete are
	 * one statement. */
	static const char sql[] =
	        "WITH d AS (DELETE FROM live_events WHERE id IN ("
	        "  SELECT id FROM live_events "
	        "  WHERE at < now() - make_interval(secs => $1::bigint) "
	        "  ORDER BY id LIMIT $2::integer) RETURNING id), "
	        "m AS (UPDATE live_events_pruned "
	        "  SET upto = greatest(upto, (SELECT max(id) FROM d)) "
	        "  WHERE EXISTS (SELECT 1 FROM d) RETURNING 1) "
	        "SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM m)";
	char r[24], n[16];
	const char *params[2] = {r, n};
	PGresult *res = NULL;

	snprintf(r, sizeof(r), "%llu", (unsigned long long)retention_s);
	snprintf(n, sizeof(n), "%u", batch);
	if (db_query(pg, sql, 2, params, &res, err) < 0)
		return -1;
	*deleted_r = db_result_i64(res, 0, 0);
	PQclear(res);
	return 0;
}

int db_live_listen(PGconn *pg, struct ktd_error *err)
{
	/* db_live_read runs after every committed transaction that wrote
	 * events: prepared once, with its generic plan, and that plan is the
	 * primary key's index scan whatever the table held when it was made
	 * (one made on a nearly empty table scanned the whole table at every
	 * read once it had grown). Planning it each time cost 0.06 ms of
	 * PostgreSQL's ~1 ms of a single call event (tools/bench cti,
	 * pg_stat_statements). This connection runs nothing else. */
	if (db_query(pg, "SET plan_cache_mode = force_generic_plan", 0, NULL,
	             NULL, err) < 0 ||
	    db_query(pg, "SET enable_seqscan = off", 0, NULL, NULL, err) < 0)
		return -1;
	return db_query(pg, "LISTEN " DB_LIVE_CHANNEL, 0, NULL, NULL, err);
}
