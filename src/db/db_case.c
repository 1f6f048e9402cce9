/* SPDX-License-Identifier: MPL-2.0 */
/* SQL on the cases table, the case counter and the routing rules. */
#include "db/db_common.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "db/array.h"
#include "db/pool.h"
#include "db/result.h"
#include "db/db_case.h"
#include "db/db_live.h"

#define I64(buf, v) snprintf(buf, sizeof(buf), "%" PRId64, (int64_t)(v))

int db_case_insert(PGconn *pg, const struct db_case_new *c, int64_t *id_r,
                   char reference_r[DB_CASE_REFERENCE_SIZE],
                   struct ktd_error *err)
{
	static const char sql[] =
	        "INSERT INTO cases (reference, subject, department_id, "
	        " citizen_name, citizen_phone, citizen_email, citizen_cpr, "
	        " citizen_cvr, last_contact_at, follow_up_of_id, "
	        " follow_up_of_reference) "
	        "VALUES (ktd_case_next_reference(), coalesce($1, ''), "
	        " NULLIF($2::bigint, 0), $3, $4, $5, $6, $7, "
	        " coalesce($8::timestamptz, now()), NULLIF($9::bigint, 0), "
	        " (SELECT reference FROM cases WHERE id = $9::bigint)) "
	        "RETURNING id, reference";
	char dept[24], fup[24];
	const char *params[9];
	PGresult *res = NULL;

	I64(dept, c->department_id);
	I64(fup, c->follow_up_of_id);
	params[0] = c->subject;
	params[1] = dept;
	params[2] = c->citizen_name;
	params[3] = c->citizen_phone;
	params[4] = c->citizen_email;
	params[5] = c->citizen_cpr;
	params[6] = c->citizen_cvr;
	params[7] = c->occurred_at;
	params[8] = fup;
	if (db_query_prepared(pg, sql, 9, params, &res, err) < 0)
		return -1;
	*id_r = db_result_i64(res, 0, 0);
	ktd_strlcpy(reference_r, PQgetvalue(res, 0, 1), DB_CASE_REFERENCE_SIZE);
	PQclear(res);
	return 0;
}

int db_case_by_reference(PGconn *pg, const char *reference, int64_t *id_r,
                         struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT coalesce(merged_into_id, id) FROM cases "
	        "WHERE reference = $1";
	PGresult *res = NULL;
	int ret = 0;

	if (db_query(pg, sql, 1, &reference, &res, err) < 0)
		return -1;
	if (PQntuples(res) == 1) {
		*id_r = db_result_i64(res, 0, 0);
		ret = 1;
	}
	PQclear(res);
	return ret;
}

int db_case_find_open(PGconn *pg, const char *phone, const char *email,
                      uint64_t window_s, int64_t *id_r, struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT id FROM cases "
	        "WHERE status IN ('new', 'open', 'forwarded') "
	        " AND merged_into_id IS NULL "
	        " AND last_contact_at >= now() - $3::bigint * interval '1 s' "
	        " AND (citizen_phone = $1 OR lower(citizen_email) = lower($2)) "
	        "ORDER BY last_contact_at DESC, id DESC LIMIT 1";
	char window[24];
	const char *params[3] = {phone, email, window};
	PGresult *res = NULL;
	int ret = 0;

	if (!phone && !email)
		return 0;
	snprintf(window, sizeof(window), "%" PRIu64, window_s);
	if (db_query_prepared(pg, sql, 3, params, &res, err) < 0)
		return -1;
	if (PQntuples(res) == 1) {
		*id_r = db_result_i64(res, 0, 0);
		ret = 1;
	}
	PQclear(res);
	return ret;
}

int db_case_route(PGconn *pg, const char *to_addr, const char *queue,
                  const char *subject, int64_t *department_id_r,
                  struct ktd_error *err)
{
	/* position() rather than LIKE: a pattern is text, not a LIKE
	 * pattern, so '%' and '_' in it match themselves. */
	static const char sql[] =
	        "SELECT r.department_id FROM routing_rules r "
	        "JOIN departments d ON d.id = r.department_id AND d.active "
	        "WHERE r.active AND ("
	        " (r.kind = 'to_address' AND lower(r.pattern) = lower($1)) OR "
	        " (r.kind = 'queue' AND r.pattern = $2) OR "
	        " (r.kind = 'keyword' AND "
	        "  position(lower(r.pattern) IN lower($3)) > 0)) "
	        "ORDER BY r.priority, r.id LIMIT 1";
	const char *params[3] = {to_addr, queue, subject};
	PGresult *res = NULL;
	int ret = 0;

	if (db_query_prepared(pg, sql, 3, params, &res, err) < 0)
		return -1;
	if (PQntuples(res) == 1) {
		*department_id_r = db_result_i64(res, 0, 0);
		ret = 1;
	}
	PQclear(res);
	return ret;
}

int db_case_touch(PGconn *pg, int64_t case_id, bool response,
                  char reference_r[DB_CASE_REFERENCE_SIZE],
                  struct ktd_error *err)
{
	static const char sql[] =
	        "UPDATE cases SET last_contact_at = greatest(last_contact_at, "
	        " now()), first_response_at = CASE WHEN $2::boolean "
	        " THEN coalesce(first_response_at, now()) "
	        " ELSE first_response_at END "
	        "WHERE id = $1 RETURNING reference";
	char id[24];
	const char *params[2] = {id, response ? "t" : "f"};
	PGresult *res = NULL;
	int ret = -1;

	I64(id, case_id);
	if (db_query_prepared(pg, sql, 2, params, &res, err) < 0)
		return -1;
	if (PQntuples(res) != 1) {
		ktd_error_set(err, KTD_ERR_NOT_FOUND, "no case %" PRId64,
		              case_id);
		goto out;
	}
	ktd_strlcpy(reference_r, PQgetvalue(res, 0, 0), DB_CASE_REFERENCE_SIZE);
	ret = 0;
out:
	PQclear(res);
	return ret;
}

int db_case_lock_key(PGconn *pg, const char *key, struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";

	return db_query_prepared(pg, sql, 1, &key, NULL, err);
}

int db_case_notify(PGconn *pg, const char *type, int64_t case_id,
                   struct ktd_error *err)
{
	return db_live_add(pg, type, case_id, 0, err);
}

int db_case_get_json(PGconn *pg, int64_t id, bool show_cpr, char **json_r,
                     struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT ktd_case_json(c, $2::boolean)::text FROM cases c "
	        "WHERE c.id = $1";
	char idt[24];
	const char *params[2] = {idt, show_cpr ? "t" : "f"};
	PGresult *res = NULL;
	int ret = 0;

	I64(idt, id);
	if (db_query(pg, sql, 2, params, &res, err) < 0)
		return -1;
	if (PQntuples(res) == 1) {
		*json_r = db_result_strdup(res, 0, 0);
		ret = 1;
	}
	PQclear(res);
	return ret;
}

int db_case_update(PGconn *pg, int64_t id, int64_t version,
                   const struct db_case_patch *p, bool show_cpr, char **json_r,
                   struct ktd_error *err)
{
	static const char sql[] =
	        "UPDATE cases c SET "
	        " category = CASE WHEN $3::boolean THEN $4 ELSE category END, "
	        " department_id = CASE WHEN $5::boolean "
	        "  THEN NULLIF($6::bigint, 0) ELSE department_id END, "
	        " assignee_id = CASE WHEN $7::boolean "
	        "  THEN NULLIF($8::bigint, 0) ELSE assignee_id END, "
	        " subject = CASE WHEN $9::boolean THEN coalesce($10, '') "
	        "  ELSE subject END, "
	        " version = version + 1 "
	        "WHERE c.id = $1 AND c.version = $2 "
	        "RETURNING ktd_case_json(c, $11::boolean)::text";
	char idt[24], vt[24], dept[24], assignee[24];
	const char *params[11];
	PGresult *res = NULL;
	int ret = 0;

	I64(idt, id);
	I64(vt, version);
	I64(dept, p->department_id);
	I64(assignee, p->assignee_id);
	params[0] = idt;
	params[1] = vt;
	params[2] = p->set_category ? "t" : "f";
	params[3] = p->category;
	params[4] = p->set_department ? "t" : "f";
	params[5] = dept;
	params[6] = p->set_assignee ? "t" : "f";
	params[7] = assignee;
	params[8] = p->set_subject ? "t" : "f";
	params[9] = p->subject;
	params[10] = show_cpr ? "t" : "f";
	if (db_query(pg, sql, 11, params, &res, err) < 0)
		return -1;
	if (PQntuples(res) == 1) {
		*json_r = db_result_strdup(res, 0, 0);
		ret = 1;
	}
	PQclear(res);
	return ret;
}

/* The list's filters, as bits of a statement's shape. */
enum {
	LF_STATUS = 1u << 0,
	LF_DEPT = 1u << 1,
	LF_ASSIGNEE = 1u << 2,
	LF_CHANNEL = 1u << 3,
	LF_FROM = 1u << 4,
	LF_TO = 1u << 5,
	LF_Q = 1u << 6,
	LF_CURSOR = 1u << 7,
	LF_REF = 1u << 8,
	LF_ASC = 1u << 9, /* oldest first */
	LF_SHAPES = 1u << 10
};

/* Page sizes whose statements are kept prepared (the front end's, the
 * default and the largest); another size is planned at every run. */
static const unsigned list_kept_limits[] = {20, 25, 50, 100};

/* Appends to a statement being built, which stays far below the
 * buffer's limit. */
#define SQL_ADD(b, ...)                                                        \
	do {                                                                   \
		if (ktd_buf_printf((b), __VA_ARGS__) < 0)                      \
			ktd_panic("case list: statement too long");            \
	} while (0)

/* The values of f's filters (not its cursor or order), for filter_sql. */
struct filter_values {
	char dept[24];
	char assignee[24];
};

/* The shape of f's filters (not its cursor or order), with their values
 * appended to params from *n on, in the order of the bits. */
static unsigned filter_shape(const struct db_case_filter *f,
                             struct filter_values *v, const char **params,
                             int *n)
{
	unsigned shape = 0;

	if (f->status) {
		shape |= LF_STATUS;
		params[(*n)++] = f->status;
	}
	if (f->department_id) {
		shape |= LF_DEPT;
		I64(v->dept, f->department_id);
		params[(*n)++] = v->dept;
	}
	if (f->assignee_id) {
		shape |= LF_ASSIGNEE;
		I64(v->assignee, f->assignee_id);
		params[(*n)++] = v->assignee;
	}
	if (f->channel) {
		shape |= LF_CHANNEL;
		params[(*n)++] = f->channel;
	}
	if (f->created_from) {
		shape |= LF_FROM;
		params[(*n)++] = f->created_from;
	}
	if (f->created_to) {
		shape |= LF_TO;
		params[(*n)++] = f->created_to;
	}
	if (f->q) {
		shape |= LF_Q;
		params[(*n)++] = f->q;
	}
	if (f->reference) {
		shape |= LF_REF;
		params[(*n)++] = f->reference;
	}
	return shape;
}

/* The conditions of shape's filters on cases c, each " AND ...", their
 * parameters numbered from *n + 1 on (filter_shape's order); *n is left
 * at the last one.
 *
 * q: a case matches when its own fields or one of its contacts match
 * (the last two lines). The line before is implied by them and indexed:
 * cases.contact_search holds the lexemes of all the case's contacts and
 * ktd_case_search_filter() the part of q an index can answer
 * (sql/006_case_perf.sql), so the planner can start from the index for a
 * rare word or walk the newest cases for a common one without probing
 * the contacts of every case.
 *
 * The EXISTS under an OR stay subplans, and PostgreSQL would rather hash
 * every matching contact first (all 110,000 Digital Post contacts, all
 * 22,000 with "byggesag") than probe the few cases a page needs. OFFSET
 * 0 keeps an EXISTS from becoming a hashed subplan: it is probed per
 * case, through contacts_case_idx or contacts_channel_case_idx. */
static void filter_sql(struct ktd_buf *b, unsigned shape, int *n)
{
	if (shape & LF_STATUS)
		SQL_ADD(b, " AND c.status = $%d", ++*n);
	if (shape & LF_DEPT)
		SQL_ADD(b, " AND c.department_id = $%d::bigint", ++*n);
	if (shape & LF_ASSIGNEE)
		SQL_ADD(b, " AND c.assignee_id = $%d::bigint", ++*n);
	if (shape & LF_CHANNEL)
		SQL_ADD(b,
		        " AND EXISTS (SELECT 1 FROM contacts ct "
		        "WHERE ct.case_id = c.id AND ct.channel = $%d OFFSET "
		        "0)",
		        ++*n);
	if (shape & LF_FROM)
		SQL_ADD(b, " AND c.created_at >= $%d::timestamptz", ++*n);
	if (shape & LF_TO)
		SQL_ADD(b, " AND c.created_at < $%d::timestamptz", ++*n);
	if (shape & LF_Q) {
		int q = ++*n;

		SQL_ADD(b,
		        " AND (ktd_case_search_filter($%d) IS NULL "
		        "OR c.search @@ ktd_case_search_filter($%d) "
		        "OR c.contact_search @@ ktd_case_search_filter($%d)) "
		        "AND (c.search @@ websearch_to_tsquery('danish', $%d) "
		        "OR EXISTS (SELECT 1 FROM contacts ct "
		        "WHERE ct.case_id = c.id "
		        "AND ct.search @@ websearch_to_tsquery('danish', $%d) "
		        "OFFSET 0))",
		        q, q, q, q, q);
	}
	if (shape & LF_REF)
		SQL_ADD(b, " AND c.reference = $%d", ++*n);
}

/* The list statement of one shape and page size. Only the request's own
 * conditions are in it: PostgreSQL then plans it once per connection
 * (db_query_prepared), where one statement for every shape ("$1 IS NULL
 * OR ...") had to be planned at every run with its values to fold the
 * absent filters away: half of PostgreSQL's time for a page (tools/bench
 * api). The page size is a literal: with a parameter LIMIT a generic plan
 * assumes a tenth of the table is wanted and walks no index.
 *
 * Parameters: $1 show_cpr, then the present filters' values in the
 * order of the bits (the cursor takes two). Oldest first walks the
 * (created_at, id) indexes of sql/003 backwards: the same plans.
 *
 * q: a case matches when its own fields or one of its contacts match
 * (the last two lines). The line before is implied by them and indexed:
 * cases.contact_search holds the lexemes of all the case's contacts and
 * ktd_case_search_filter() the part of q an index can answer
 * (sql/006_case_perf.sql), so the planner can start from the index for a
 * rare word or walk the newest cases for a common one without probing
 * the contacts of every case. Its plan depends on the words, so a
 * statement with q is never kept prepared (list_run).
 *
 * The EXISTS under an OR stay subplans, and PostgreSQL would rather hash
 * every matching contact first (all 110,000 Digital Post contacts, all
 * 22,000 with "byggesag") than probe the few cases a page needs. OFFSET
 * 0 keeps an EXISTS from becoming a hashed subplan: it is probed per
 * case, through contacts_case_idx or contacts_channel_case_idx.
 *
 * One row more than asked says whether a next page exists. The contact
 * count and the assignee's name are given to ktd_case_json(), which is
 * then inlined rather than run as a function per case (sql/006,
 * sql/011). */
static char *list_sql_build(unsigned shape, unsigned limit)
{
	const char *dir = shape & LF_ASC ? "ASC" : "DESC";
	struct ktd_buf b;
	int n = 1;

	ktd_buf_init(&b, 8192);
	SQL_ADD(&b, "WITH page AS (SELECT c, c.id, c.created_at, "
	            "c.assignee_id FROM cases c WHERE true");
	filter_sql(&b, shape, &n);
	if (shape & LF_CURSOR) {
		SQL_ADD(&b,
		        " AND (c.created_at, c.id) %s (to_timestamp(0) + "
		        "$%d::bigint * interval '1 microsecond', $%d::bigint)",
		        shape & LF_ASC ? ">" : "<", n + 1, n + 2);
		n += 2;
	}
	SQL_ADD(&b,
	        " ORDER BY c.created_at %s, c.id %s LIMIT %u), "
	        "numbered AS (SELECT p.*, row_number() OVER "
	        "(ORDER BY p.created_at %s, p.id %s) AS rn FROM page p) "
	        "SELECT coalesce(jsonb_agg(ktd_case_json(n.c, $1::boolean, "
	        "(SELECT count(*) FROM contacts ct WHERE ct.case_id = n.id), "
	        "(SELECT ktd_user_display_name(u) FROM users u "
	        "WHERE u.id = n.assignee_id)) "
	        "ORDER BY n.rn) FILTER (WHERE n.rn <= %u), '[]')::text, "
	        "count(*), "
	        "max(CASE WHEN n.rn = %u THEN (extract(epoch FROM "
	        "n.created_at) "
	        "* 1000000)::bigint END), "
	        "max(CASE WHEN n.rn = %u THEN n.id END) "
	        "FROM numbered n",
	        dir, dir, limit + 1, dir, dir, limit, limit, limit);
	return ktd_buf_steal(&b, NULL);
}

/* The kept statements, made when first wanted and never freed: their
 * addresses name them in db_query_prepared. */
static pthread_mutex_t list_sql_mu = PTHREAD_MUTEX_INITIALIZER;
static char *list_sql_kept[LF_SHAPES][KTD_N_ELEMENTS(list_kept_limits)];

/* Runs the list statement of shape and limit with params. */
static int list_run(PGconn *pg, unsigned shape, unsigned limit, int nparams,
                    const char *const *params, PGresult **res_r,
                    struct ktd_error *err)
{
	const char *sql = NULL;
	char *own;
	size_t i;
	int r;

	for (i = 0; i < KTD_N_ELEMENTS(list_kept_limits) && !(shape & LF_Q);
	     i++) {
		if (list_kept_limits[i] != limit)
			continue;
		pthread_mutex_lock(&list_sql_mu);
		if (!list_sql_kept[shape][i])
			list_sql_kept[shape][i] = list_sql_build(shape, limit);
		sql = list_sql_kept[shape][i];
		pthread_mutex_unlock(&list_sql_mu);
		return db_query_prepared(pg, sql, nparams, params, res_r, err);
	}
	own = list_sql_build(shape, limit);
	r = db_query(pg, own, nparams, params, res_r, err);
	free(own);
	return r;
}

int db_case_list_json(PGconn *pg, const struct db_case_filter *f, bool show_cpr,
                      char **json_r, int64_t *last_us_r, int64_t *last_id_r,
                      struct ktd_error *err)
{
	struct filter_values v;
	char after_us[24], after_id[24];
	const char *params[12];
	PGresult *res = NULL;
	unsigned shape;
	int n = 0;

	params[n++] = show_cpr ? "t" : "f";
	shape = filter_shape(f, &v, params, &n);
	if (f->ascending)
		shape |= LF_ASC;
	if (f->after_id) {
		shape |= LF_CURSOR;
		I64(after_us, f->after_us);
		I64(after_id, f->after_id);
		params[n++] = after_us;
		params[n++] = after_id;
	}
	if (list_run(pg, shape, f->limit, n, params, &res, err) < 0)
		return -1;
	*json_r = db_result_strdup(res, 0, 0);
	*last_id_r = 0;
	*last_us_r = 0;
	if (db_result_i64(res, 0, 1) > (int64_t)f->limit) {
		*last_us_r = db_result_i64(res, 0, 2);
		*last_id_r = db_result_i64(res, 0, 3);
	}
	PQclear(res);
	return 0;
}

const char *const db_case_count_channels[DB_CASE_COUNT_CHANNELS] = {
        "phone", "email", "digital_post", "web", "walk_in"};
const char *const db_case_count_statuses[DB_CASE_COUNT_STATUSES] = {
        "new", "open", "forwarded", "resolved", "closed"};

/* The counts are taken over a window: the newest cap + 1 cases that match
 * the filters (the list's first page of that size, through the same
 * indexes), their channels from their contacts. Each count's cost is
 * then bounded by the window, whatever the table holds: counting each
 * number up to the cap over all the matching cases instead read every
 * case of a filter (a department's forwarded cases) for a channel that
 * few of them had, 0.5 s at a million cases (tools/bench api,
 * counts+dept). When the window is full, there are more matching cases
 * than cap, and every count is of the window only: at least that many.
 *
 * The statement has the request's filters only (filter_sql), is planned
 * with their values (db_query), and takes the cap and the user after
 * them. The channels and statuses are this file's constants. */
static char *counts_sql_build(unsigned shape, int *n_r)
{
	struct ktd_buf b;
	int n = 0, i;

	ktd_buf_init(&b, 8192);
	SQL_ADD(&b, "WITH w AS MATERIALIZED (SELECT c.id, c.status, "
	            "c.assignee_id FROM cases c WHERE true");
	filter_sql(&b, shape, &n);
	SQL_ADD(&b,
	        " ORDER BY c.created_at DESC, c.id DESC "
	        "LIMIT $%d::integer + 1) SELECT (SELECT count(*) FROM w)",
	        n + 1);
	for (i = 0; i < DB_CASE_COUNT_CHANNELS; i++)
		SQL_ADD(&b,
		        ", (SELECT count(*) FROM w WHERE EXISTS (SELECT 1 "
		        "FROM contacts cc WHERE cc.case_id = w.id "
		        "AND cc.channel = '%s'))",
		        db_case_count_channels[i]);
	for (i = 0; i < DB_CASE_COUNT_STATUSES; i++)
		SQL_ADD(&b, ", (SELECT count(*) FROM w WHERE w.status = '%s')",
		        db_case_count_statuses[i]);
	SQL_ADD(&b,
	        ", CASE WHEN $%d::bigint IS NULL THEN NULL ELSE "
	        "(SELECT count(*) FROM w WHERE w.assignee_id = $%d) END",
	        n + 2, n + 2);
	*n_r = n + 2;
	return ktd_buf_steal(&b, NULL);
}

int db_case_counts(PGconn *pg, const struct db_case_filter *f,
                   int64_t mine_user_id, unsigned cap,
                   struct db_case_counts *counts_r, struct ktd_error *err)
{
	struct filter_values v;
	char capt[24], mine[24], *sql;
	const char *params[12];
	PGresult *res = NULL;
	int i, n = 0, col = 0, r;

	sql = counts_sql_build(filter_shape(f, &v, params, &n), &n);
	I64(capt, cap);
	I64(mine, mine_user_id);
	params[n - 2] = capt;
	params[n - 1] = mine_user_id ? mine : NULL;
	r = db_query(pg, sql, n, params, &res, err);
	free(sql);
	if (r < 0)
		return -1;
	counts_r->total = db_result_i64(res, 0, col++);
	for (i = 0; i < DB_CASE_COUNT_CHANNELS; i++)
		counts_r->channels[i] = db_result_i64(res, 0, col++);
	for (i = 0; i < DB_CASE_COUNT_STATUSES; i++)
		counts_r->statuses[i] = db_result_i64(res, 0, col++);
	counts_r->mine =
	        PQgetisnull(res, 0, col) ? -1 : db_result_i64(res, 0, col);
	PQclear(res);
	return 0;
}

int db_case_lock(PGconn *pg, int64_t id, struct db_case_state *st,
                 struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT status, version, coalesce(department_id, 0), "
	        " merged_into_id IS NOT NULL FROM cases WHERE id = $1 "
	        "FOR UPDATE";
	char idt[24];
	const char *params[1] = {idt};
	PGresult *res = NULL;
	int ret = 0;

	I64(idt, id);
	if (db_query(pg, sql, 1, params, &res, err) < 0)
		return -1;
	if (PQntuples(res) == 1) {
		ktd_strlcpy(st->status, PQgetvalue(res, 0, 0),
		            sizeof(st->status));
		st->version = db_result_i64(res, 0, 1);
		st->department_id = db_result_i64(res, 0, 2);
		st->merged = PQgetvalue(res, 0, 3)[0] == 't';
		ret = 1;
	}
	PQclear(res);
	return ret;
}

int db_case_lock_thread(PGconn *pg, int64_t id, struct db_case_thread *t,
                        struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT status, coalesce(department_id, 0), reference, "
	        " CASE WHEN resolved_at IS NULL THEN -1 "
	        "  ELSE greatest(0, floor(extract(epoch FROM "
	        "   now() - resolved_at)))::bigint END "
	        "FROM cases WHERE id = $1 FOR UPDATE";
	char idt[24];
	const char *params[1] = {idt};
	PGresult *res = NULL;
	int ret = 0;

	I64(idt, id);
	if (db_query_prepared(pg, sql, 1, params, &res, err) < 0)
		return -1;
	if (PQntuples(res) == 1) {
		ktd_strlcpy(t->status, PQgetvalue(res, 0, 0),
		            sizeof(t->status));
		t->department_id = db_result_i64(res, 0, 1);
		ktd_strlcpy(t->reference, PQgetvalue(res, 0, 2),
		            sizeof(t->reference));
		t->resolved_age_s = db_result_i64(res, 0, 3);
		ret = 1;
	}
	PQclear(res);
	return ret;
}

/* Runs the one-parameter sql with b's text, or fails when b overflowed. */
/* Runs sql with the n keys (or ids) as its one array parameter. */
static int lock_array(PGconn *pg, const char *sql, const char *const *keys,
                      const int64_t *ids, size_t n, struct ktd_error *err)
{
	struct db_array a;
	const char *params[1];
	size_t i;
	int ret = -1;

	if (n == 0)
		return 0;
	db_array_init(&a);
	for (i = 0; i < n; i++) {
		if (keys)
			db_array_add(&a, keys[i]);
		else
			db_array_add_i64(&a, ids[i]);
	}
	params[0] = db_array_text(&a, err);
	if (params[0])
		ret = db_query_prepared(pg, sql, 1, params, NULL, err);
	db_array_deinit(&a);
	return ret;
}

int db_case_lock_many(PGconn *pg, const int64_t *ids, size_t n,
                      struct ktd_error *err)
{
	/* In id order, so that two transactions locking overlapping sets
	 * this way cannot wait for each other. */
	static const char sql[] =
	        "SELECT count(*) FROM (SELECT id FROM cases "
	        " WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE) c";

	return lock_array(pg, sql, NULL, ids, n, err);
}

int db_case_reference_prepare(PGconn *pg, struct ktd_error *err)
{
	return db_query(pg, "SELECT ktd_case_reference_prepare()", 0, NULL,
	                NULL, err);
}

int db_case_lock_keys(PGconn *pg, const char *const *keys, size_t n,
                      struct ktd_error *err)
{
	/* By the locks' own numbers (the hashes db_case_lock_key takes),
	 * each once: every transaction that locks its keys this way takes
	 * any two of them in the same order. */
	static const char sql[] =
	        "SELECT count(pg_advisory_xact_lock(h)) FROM ("
	        " SELECT DISTINCT hashtextextended(k, 0) AS h "
	        " FROM unnest($1::text[]) k ORDER BY 1) s";

	return lock_array(pg, sql, keys, NULL, n, err);
}

/* Runs an UPDATE ... RETURNING ktd_case_json(...)::text that must touch
 * exactly one row. */
static int update_one(PGconn *pg, const char *sql, int n,
                      const char *const *params, int64_t id, char **json_r,
                      struct ktd_error *err)
{
	PGresult *res = NULL;

	if (db_query(pg, sql, n, params, &res, err) < 0)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return ktd_error_set(err, KTD_ERR_NOT_FOUND, "no case %" PRId64,
		                     id);
	}
	*json_r = db_result_strdup(res, 0, 0);
	PQclear(res);
	return 0;
}

int db_case_resolve(PGconn *pg, int64_t id, const char *resolution,
                    const char *category, bool show_cpr, char **json_r,
                    struct ktd_error *err)
{
	static const char sql[] =
	        "UPDATE cases c SET status = 'resolved', resolution = $2, "
	        " resolved_at = now(), "
	        " first_response_at = coalesce(first_response_at, now()), "
	        " category = coalesce($3, category), version = version + 1 "
	        "WHERE c.id = $1 "
	        "RETURNING ktd_case_json(c, $4::boolean)::text";
	char idt[24];
	const char *params[4] = {idt, resolution, category,
	                         show_cpr ? "t" : "f"};

	I64(idt, id);
	return update_one(pg, sql, 4, params, id, json_r, err);
}

int db_case_department_target(PGconn *pg, int64_t department_id,
                              const char *method,
                              char target_r[DB_CASE_TARGET_SIZE],
                              bool *has_target_r, struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT CASE $2::text WHEN 'queue' THEN queue_number "
	        " WHEN 'hunt_group' THEN hunt_group_number "
	        " WHEN 'ivr' THEN ivr_choice WHEN 'email' THEN email END "
	        "FROM departments WHERE id = $1 AND active";
	char idt[24];
	const char *params[2] = {idt, method};
	PGresult *res = NULL;
	int ret = 0;

	I64(idt, department_id);
	target_r[0] = '\0';
	*has_target_r = false;
	if (db_query(pg, sql, 2, params, &res, err) < 0)
		return -1;
	if (PQntuples(res) == 1) {
		if (!PQgetisnull(res, 0, 0)) {
			ktd_strlcpy(target_r, PQgetvalue(res, 0, 0),
			            DB_CASE_TARGET_SIZE);
			*has_target_r = true;
		}
		ret = 1;
	}
	PQclear(res);
	return ret;
}

int db_case_forward(PGconn *pg, int64_t id, const struct db_case_forward *f,
                    bool show_cpr, char **json_r, int64_t *forward_id_r,
                    struct ktd_error *err)
{
	static const char sql_insert[] =
	        "INSERT INTO forwards (case_id, from_department_id, "
	        " to_department_id, method, target, reason, by_user_id) "
	        "VALUES ($1, NULLIF($2::bigint, 0), $3, $4, $5, "
	        " coalesce($6, ''), NULLIF($7::bigint, 0)) RETURNING id";
	static const char sql_update[] =
	        "UPDATE cases c SET status = 'forwarded', department_id = $2, "
	        " resolution = 'forwarded', "
	        " first_response_at = coalesce(first_response_at, now()), "
	        " version = version + 1 "
	        "WHERE c.id = $1 "
	        "RETURNING ktd_case_json(c, $3::boolean)::text";
	char idt[24], from[24], to[24], by[24];
	const char *pi[7] = {idt,       from,      to, f->method,
	                     f->target, f->reason, by};
	const char *pu[3] = {idt, to, show_cpr ? "t" : "f"};
	PGresult *res = NULL;

	I64(idt, id);
	I64(from, f->from_department_id);
	I64(to, f->to_department_id);
	I64(by, f->by_user_id);
	if (db_query(pg, sql_insert, 7, pi, &res, err) < 0)
		return -1;
	*forward_id_r = db_result_i64(res, 0, 0);
	PQclear(res);
	return update_one(pg, sql_update, 3, pu, id, json_r, err);
}

int db_case_reopen(PGconn *pg, int64_t id, bool show_cpr, char **json_r,
                   struct ktd_error *err)
{
	static const char sql[] =
	        "UPDATE cases c SET status = 'open', resolution = NULL, "
	        " resolved_at = NULL, version = version + 1 "
	        "WHERE c.id = $1 "
	        "RETURNING ktd_case_json(c, $2::boolean)::text";
	char idt[24];
	const char *params[2] = {idt, show_cpr ? "t" : "f"};

	I64(idt, id);
	return update_one(pg, sql, 2, params, id, json_r, err);
}

int db_case_note_add(PGconn *pg, int64_t id, const char *text,
                     int64_t created_by, char **json_r, int64_t *contact_id_r,
                     struct ktd_error *err)
{
	static const char sql[] =
	        "WITH ct AS (INSERT INTO contacts (case_id, channel, "
	        " direction, body, created_by) "
	        " VALUES ($1, 'note', 'internal', $2, NULLIF($3::bigint, 0)) "
	        " RETURNING id, ktd_contact_json(contacts)::text AS j), "
	        "c AS (UPDATE cases SET last_contact_at = "
	        " greatest(last_contact_at, now()), "
	        " first_response_at = coalesce(first_response_at, now()) "
	        " WHERE id = $1) "
	        "SELECT ct.id, ct.j FROM ct";
	char idt[24], by[24];
	const char *params[3] = {idt, text, by};
	PGresult *res = NULL;

	I64(idt, id);
	I64(by, created_by);
	if (db_query(pg, sql, 3, params, &res, err) < 0)
		return -1;
	*contact_id_r = db_result_i64(res, 0, 0);
	*json_r = db_result_strdup(res, 0, 1);
	PQclear(res);
	return 0;
}

int db_case_merge(PGconn *pg, int64_t source, int64_t target, bool show_cpr,
                  char **json_r, int64_t *moved_r, struct ktd_error *err)
{
	/* Three statements, not one with data-modifying CTEs: the last
	 * must see the moved contacts to count them. */
	static const char sql_move[] =
	        "UPDATE contacts SET case_id = $2 WHERE case_id = $1";
	static const char sql_source[] =
	        "WITH chain AS (UPDATE cases SET merged_into_id = $2, "
	        " version = version + 1 WHERE merged_into_id = $1) "
	        "UPDATE cases SET status = 'closed', resolution = 'duplicate', "
	        " resolved_at = coalesce(resolved_at, now()), "
	        " merged_into_id = $2, version = version + 1 WHERE id = $1";
	static const char sql_target[] =
	        "UPDATE cases c SET "
	        " citizen_name = coalesce(c.citizen_name, s.citizen_name), "
	        " citizen_phone = coalesce(c.citizen_phone, s.citizen_phone), "
	        " citizen_email = coalesce(c.citizen_email, s.citizen_email), "
	        " citizen_cpr = coalesce(c.citizen_cpr, s.citizen_cpr), "
	        " citizen_cvr = coalesce(c.citizen_cvr, s.citizen_cvr), "
	        " last_contact_at = greatest(c.last_contact_at, "
	        "  s.last_contact_at), version = c.version + 1 "
	        "FROM cases s WHERE c.id = $2 AND s.id = $1 "
	        "RETURNING ktd_case_json(c, $3::boolean)::text";
	char st[24], tt[24];
	const char *params[3] = {st, tt, show_cpr ? "t" : "f"};
	PGresult *res = NULL;

	I64(st, source);
	I64(tt, target);
	if (db_query(pg, sql_move, 2, params, &res, err) < 0)
		return -1;
	*moved_r = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	if (db_query(pg, sql_source, 2, params, NULL, err) < 0)
		return -1;
	return update_one(pg, sql_target, 3, params, target, json_r, err);
}

int db_case_adopt_phone(PGconn *pg, int64_t case_id, int64_t contact_id,
                        const char *phone, uint64_t window_s, int64_t *target_r,
                        struct ktd_error *err)
{
	/* Untouched: new, nobody's, no forward, no other contact. */
	static const char sql_own[] =
	        "SELECT c.citizen_phone IS NULL, c.status = 'new' "
	        " AND c.assignee_id IS NULL AND c.merged_into_id IS NULL "
	        " AND NOT EXISTS (SELECT 1 FROM contacts ct "
	        "  WHERE ct.case_id = c.id AND ct.id <> $2) "
	        " AND NOT EXISTS (SELECT 1 FROM forwards f "
	        "  WHERE f.case_id = c.id) "
	        "FROM cases c WHERE c.id = $1 FOR UPDATE";
	static const char sql_other[] =
	        "SELECT 1 FROM cases WHERE id = $1 "
	        " AND status IN ('new', 'open', 'forwarded') "
	        " AND merged_into_id IS NULL FOR UPDATE";
	static const char sql_set[] =
	        "UPDATE cases SET citizen_phone = $2, version = version + 1 "
	        "WHERE id = $1 AND citizen_phone IS NULL";
	char idt[24], ct[24], other[24];
	const char *params[2] = {idt, ct};
	PGresult *res = NULL;
	bool no_phone, untouched;
	int64_t target = 0, moved;
	char *json = NULL;
	int r;

	I64(idt, case_id);
	I64(ct, contact_id);
	if (db_query(pg, sql_own, 2, params, &res, err) < 0)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return ktd_error_set(err, KTD_ERR_NOT_FOUND, "no case %" PRId64,
		                     case_id);
	}
	no_phone = PQgetvalue(res, 0, 0)[0] == 't';
	untouched = PQgetvalue(res, 0, 1)[0] == 't';
	PQclear(res);
	if (!no_phone)
		return 0;
	if (untouched && window_s > 0) {
		r = db_case_find_open(pg, phone, NULL, window_s, &target, err);
		if (r < 0)
			return -1;
		if (r == 1 && target != case_id) {
			const char *op[1] = {other};

			I64(other, target);
			if (db_query(pg, sql_other, 1, op, &res, err) < 0)
				return -1;
			r = PQntuples(res);
			PQclear(res);
			if (r == 1) {
				if (db_case_merge(pg, case_id, target, false,
				                  &json, &moved, err) < 0)
					return -1;
				free(json);
				*target_r = target;
				return 1;
			}
		}
	}
	params[1] = phone;
	return db_query(pg, sql_set, 2, params, NULL, err) < 0 ? -1 : 0;
}

int db_case_forwards_json(PGconn *pg, int64_t case_id, char **json_r,
                          struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT coalesce(jsonb_agg(ktd_forward_json(f) "
	        " ORDER BY f.at, f.id), '[]'::jsonb)::text "
	        "FROM forwards f WHERE f.case_id = $1";
	char idt[24];
	const char *params[1] = {idt};
	PGresult *res = NULL;

	I64(idt, case_id);
	if (db_query(pg, sql, 1, params, &res, err) < 0)
		return -1;
	*json_r = db_result_strdup(res, 0, 0);
	PQclear(res);
	return 0;
}

int db_case_forward_returned(PGconn *pg, int64_t id, const char *at,
                             uint64_t window_s, struct ktd_error *err)
{
	static const char sql[] =
	        "UPDATE forwards f SET returned_at = greatest(f.at, $2) "
	        "WHERE f.id = (SELECT id FROM forwards WHERE case_id = $1 "
	        " AND returned_at IS NULL AND at <= $2::timestamptz "
	        " AND ($3::bigint = 0 OR "
	        "  at >= $2::timestamptz - make_interval(secs => $3::bigint)) "
	        " ORDER BY at DESC, id DESC LIMIT 1)";
	char idt[24], win[24];
	const char *params[3] = {idt, at, win};
	PGresult *res = NULL;
	int ret;

	I64(idt, id);
	snprintf(win, sizeof(win), "%llu", (unsigned long long)window_s);
	if (db_query_prepared(pg, sql, 3, params, &res, err) < 0)
		return -1;
	ret = strcmp(PQcmdTuples(res), "1") == 0;
	PQclear(res);
	return ret;
}
