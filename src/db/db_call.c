/* SPDX-License-Identifier: MPL-2.0 */
/* SQL on calls and call_events. */
#include "db/db_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "db/pool.h"
#include "db/result.h"
#include "db/array.h"
#include "db/db_call.h"

#define I64(buf, v) snprintf(buf, sizeof(buf), "%" PRId64, (int64_t)(v))

int db_call_find(PGconn *pg, const char *call_id, int64_t *id_r,
                 int64_t *contact_id_r, int64_t *case_id_r,
                 struct db_call_known *known_r, struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT c.id, c.contact_id, ct.case_id, "
	        " c.from_number IS NOT NULL, c.to_number IS NOT NULL, "
	        " c.orig_call_id IS NOT NULL, c.direction FROM calls c "
	        "JOIN contacts ct ON ct.id = c.contact_id WHERE c.call_id = $1";
	PGresult *res = NULL;
	int ret = 0;

	if (db_query_prepared(pg, sql, 1, &call_id, &res, err) < 0)
		return -1;
	if (PQntuples(res) == 1) {
		*id_r = db_result_i64(res, 0, 0);
		*contact_id_r = db_result_i64(res, 0, 1);
		*case_id_r = db_result_i64(res, 0, 2);
		if (known_r) {
			known_r->from = db_result_bool(res, 0, 3);
			known_r->to = db_result_bool(res, 0, 4);
			known_r->orig_call_id = db_result_bool(res, 0, 5);
			ktd_strlcpy(known_r->direction, PQgetvalue(res, 0, 6),
			            sizeof(known_r->direction));
		}
		ret = 1;
	}
	PQclear(res);
	return ret;
}

int db_call_insert(PGconn *pg, const struct db_call_new *c, int64_t *id_r,
                   struct ktd_error *err)
{
	static const char sql[] =
	        "INSERT INTO calls (contact_id, call_id, orig_call_id, "
	        " direction, from_number, to_number, offered_at) "
	        "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";
	char cid[24];
	const char *params[7] = {cid,          c->call_id,     c->orig_call_id,
	                         c->direction, c->from_number, c->to_number,
	                         c->offered_at};
	PGresult *res = NULL;

	I64(cid, c->contact_id);
	if (db_query_prepared(pg, sql, 7, params, &res, err) < 0)
		return -1;
	*id_r = db_result_i64(res, 0, 0);
	PQclear(res);
	return 0;
}

int db_call_fill(PGconn *pg, int64_t id, const char *from, const char *to,
                 const char *direction, const char *orig_call_id,
                 struct ktd_error *err)
{
	/* Most events repeat what the call knows already: then nothing is
	 * written (the contact and case follow the call, so they are in
	 * step already). */
	static const char sql[] =
	        "WITH c AS (UPDATE calls SET "
	        " from_number = coalesce(from_number, $2), "
	        " to_number = coalesce(to_number, $3), "
	        " direction = coalesce($4, direction), "
	        " orig_call_id = coalesce(orig_call_id, $5) WHERE id = $1 "
	        " AND (from_number IS NULL AND $2::text IS NOT NULL "
	        "  OR to_number IS NULL AND $3::text IS NOT NULL "
	        "  OR direction <> coalesce($4::text, direction) "
	        "  OR orig_call_id IS NULL AND $5::text IS NOT NULL) "
	        " RETURNING contact_id, direction, from_number, to_number), "
	        "ct AS (UPDATE contacts SET "
	        " from_addr = coalesce(from_addr, c.from_number), "
	        " to_addr = coalesce(to_addr, c.to_number), "
	        " direction = c.direction FROM c "
	        " WHERE contacts.id = c.contact_id "
	        " RETURNING contacts.case_id, CASE c.direction "
	        "  WHEN 'in' THEN c.from_number ELSE c.to_number END AS phone) "
	        "UPDATE cases SET citizen_phone = ct.phone FROM ct "
	        "WHERE cases.id = ct.case_id AND cases.citizen_phone IS NULL "
	        " AND ct.phone LIKE '+%'";
	char idt[24];
	const char *params[5] = {idt, from, to, direction, orig_call_id};

	if (!from && !to && !direction && !orig_call_id)
		return 0;
	I64(idt, id);
	return db_query_prepared(pg, sql, 5, params, NULL, err);
}

int db_call_times(PGconn *pg, const char *const *at, size_t n, int64_t *us_r,
                  struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT (extract(epoch FROM a::timestamptz) * 1000000)::bigint "
	        "FROM unnest($1::text[]) WITH ORDINALITY t(a, o) ORDER BY o";
	struct db_array a;
	const char *params[1];
	PGresult *res = NULL;
	size_t i;
	int ret = -1;

	db_array_init(&a);
	for (i = 0; i < n; i++)
		db_array_add(&a, at[i]);
	params[0] = db_array_text(&a, err);
	if (params[0] &&
	    db_query_prepared(pg, sql, 1, params, &res, err) == 0) {
		if ((size_t)PQntuples(res) == n) {
			for (i = 0; i < n; i++)
				us_r[i] = db_result_i64(res, (int)i, 0);
			ret = 0;
		} else {
			ktd_error_set(err, KTD_ERR_INTERNAL,
			              "%d times for %zu events", PQntuples(res),
			              n);
		}
		PQclear(res);
	}
	db_array_deinit(&a);
	return ret;
}

/* A text column, NULL for SQL NULL. */
static const char *col_str(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

int db_call_load(PGconn *pg, const char *const *call_ids, size_t n,
                 struct db_call_load *out, struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT c.call_id, c.id, c.contact_id, ct.case_id, "
	        " c.from_number IS NOT NULL, c.to_number IS NOT NULL, "
	        " c.orig_call_id IS NOT NULL, c.direction, c.state, "
	        " e.event, (extract(epoch FROM e.at) * 1000000)::bigint, "
	        " e.agent, e.target, e.queue, e.cause, "
	        " (extract(epoch FROM ct.occurred_at) * 1000000)::bigint "
	        "FROM calls c JOIN contacts ct ON ct.id = c.contact_id "
	        "LEFT JOIN call_events e ON e.call_id = c.id "
	        "WHERE c.call_id = ANY($1::text[]) ORDER BY c.id, e.id";
	struct db_array a;
	const char *params[1];
	size_t i;
	int k, rows;

	memset(out, 0, sizeof(*out));
	db_array_init(&a);
	for (i = 0; i < n; i++)
		db_array_add(&a, call_ids[i]);
	params[0] = db_array_text(&a, err);
	if (!params[0] ||
	    db_query_prepared(pg, sql, 1, params, &out->res, err) < 0) {
		db_array_deinit(&a);
		return -1;
	}
	db_array_deinit(&a);
	rows = PQntuples(out->res);
	out->items =
	        ktd_calloc(rows > 0 ? (size_t)rows : 1, sizeof(*out->items));
	for (k = 0; k < rows; k++) {
		struct db_call_loaded *l = &out->items[out->n++];
		const PGresult *res = out->res;

		l->call_id = PQgetvalue(res, k, 0);
		l->id = db_result_i64(res, k, 1);
		l->contact_id = db_result_i64(res, k, 2);
		l->case_id = db_result_i64(res, k, 3);
		l->known.from = db_result_bool(res, k, 4);
		l->known.to = db_result_bool(res, k, 5);
		l->known.orig_call_id = db_result_bool(res, k, 6);
		ktd_strlcpy(l->known.direction, PQgetvalue(res, k, 7),
		            sizeof(l->known.direction));
		l->state = PQgetvalue(res, k, 8);
		l->contact_at_us = db_result_i64(res, k, 15);
		l->has_event = !PQgetisnull(res, k, 9);
		if (!l->has_event)
			continue;
		l->ev.event = PQgetvalue(res, k, 9);
		l->ev.at_us = db_result_i64(res, k, 10);
		l->ev.agent = col_str(res, k, 11);
		l->ev.target = col_str(res, k, 12);
		l->ev.queue = col_str(res, k, 13);
		l->ev.cause = col_str(res, k, 14);
	}
	return 0;
}

void db_call_load_free(struct db_call_load *l)
{
	PQclear(l->res);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

int db_call_events_add(PGconn *pg, const struct db_call_event_new *ev, size_t n,
                       struct ktd_error *err)
{
	/* Nothing is read back: deferred (db_defer_begin), it goes with the
	 * COMMIT after it (sql/015's ktd_expect_rows). */
	static const char sql[] =
	        "WITH i AS (INSERT INTO call_events (call_id, event, at, "
	        " agent, target, queue, cause, source) "
	        "SELECT k, e, a::timestamptz, g, t, q, c, s FROM unnest("
	        " $1::bigint[], $2::text[], $3::text[], $4::text[], "
	        " $5::text[], $6::text[], $7::text[], $8::text[]) "
	        " WITH ORDINALITY x(k, e, a, g, t, q, c, s, o) ORDER BY o "
	        "ON CONFLICT DO NOTHING RETURNING 1) "
	        "SELECT ktd_expect_rows((SELECT count(*) FROM i), "
	        " cardinality($1::bigint[]), 'call events stored at the same "
	        "moment by a writer without the call''s lock')";
	struct db_array a[8];
	size_t i;

	db_arrays_init(a, 8);
	for (i = 0; i < n; i++) {
		db_array_add_i64(&a[0], ev[i].call_row_id);
		db_array_add(&a[1], ev[i].event);
		db_array_add(&a[2], ev[i].at);
		db_array_add(&a[3], ev[i].agent);
		db_array_add(&a[4], ev[i].target);
		db_array_add(&a[5], ev[i].queue);
		db_array_add(&a[6], ev[i].cause);
		db_array_add(&a[7], ev[i].source);
	}
	return db_query_arrays(pg, sql, a, 8, err);
}

/* A time in µs, or NULL for 0. */
static void add_us(struct db_array *a, int64_t us)
{
	if (us == 0)
		db_array_add(a, NULL);
	else
		db_array_add_i64(a, us);
}

/* The contacts of the calls whose offer moved away from their contact's
 * time (an earlier event came late): the contact gets the offer's time.
 * Its own statement, sent only then: an UPDATE of contacts, even of no
 * row, runs the statement trigger that keeps the cases' words
 * (sql/006), 0.06 ms of every single call event when it rode along. */
static int contacts_move(PGconn *pg, const struct db_call_derived *d, size_t n,
                         struct ktd_error *err)
{
	static const char sql[] =
	        "UPDATE contacts SET occurred_at = to_timestamp(0) + "
	        " x.t * interval '1 microsecond' "
	        "FROM unnest($1::bigint[], $2::bigint[]) x(id, t) "
	        "WHERE contacts.id = x.id";
	struct db_array a[2];
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		k += d[i].offered_us != d[i].contact_at_us;
	if (k == 0)
		return 0;
	db_arrays_init(a, 2);
	for (i = 0; i < n; i++) {
		if (d[i].offered_us == d[i].contact_at_us)
			continue;
		db_array_add_i64(&a[0], d[i].contact_id);
		db_array_add_i64(&a[1], d[i].offered_us);
	}
	return db_query_arrays(pg, sql, a, 2, err);
}

int db_call_update(PGconn *pg, const struct db_call_derived *d, size_t n,
                   struct ktd_error *err)
{
	/* Times come as microseconds since the epoch. */
#define TS(x) "(to_timestamp(0) + " x " * interval '1 microsecond')"
	static const char sql[] =
	        "UPDATE calls c SET state = v.state, "
	        " offered_at = " TS(
	                "v.off") ", "
	                         " queued_at = " TS(
	                                 "v.que") ", "
	                                          " answered_at = " TS(
	                                                  "v.ans") ", "
	                                                           " ended_at "
	                                                           "= " TS("v."
	                                                                   "fi"
	                                                                   "n") ", "
	                                                                        " answered_by = v.by, queue = v.queue, transferred_to = v.tr, "
	                                                                        " transfers = v.transfers, returns = v.returns, "
	                                                                        " diversions = v.diversions, callback_requested = v.cb, "
	                                                                        " end_cause = v.cause, outcome = v.outcome, "
	                                                                        " wait_ms = NULLIF(v.wait, -1), talk_ms = NULLIF(v.talk, -1), "
	                                                                        " last_event_at = now() "
	                                                                        "FROM unnest($1::bigint[], $2::text[], $3::bigint[], "
	                                                                        " $4::bigint[], $5::bigint[], $6::bigint[], $7::text[], "
	                                                                        " $8::text[], $9::text[], $10::integer[], $11::integer[], "
	                                                                        " $12::integer[], $13::boolean[], $14::text[], $15::text[], "
	                                                                        " $16::bigint[], $17::bigint[]) "
	                                                                        " v(id, state, off, que, ans, fin, by, queue, tr, transfers, "
	                                                                        " returns, diversions, cb, cause, outcome, wait, talk) "
	                                                                        "WHERE c.id = v.id";
#undef TS
	struct db_array a[17];
	size_t i;

	db_arrays_init(a, 17);
	for (i = 0; i < n; i++) {
		db_array_add_i64(&a[0], d[i].id);
		db_array_add(&a[1], d[i].state);
		add_us(&a[2], d[i].offered_us);
		add_us(&a[3], d[i].queued_us);
		add_us(&a[4], d[i].answered_us);
		add_us(&a[5], d[i].ended_us);
		db_array_add(&a[6], d[i].answered_by);
		db_array_add(&a[7], d[i].queue);
		db_array_add(&a[8], d[i].transferred_to);
		db_array_add_i64(&a[9], d[i].transfers);
		db_array_add_i64(&a[10], d[i].returns);
		db_array_add_i64(&a[11], d[i].diversions);
		db_array_add(&a[12], d[i].callback_requested ? "t" : "f");
		db_array_add(&a[13], d[i].end_cause);
		db_array_add(&a[14], d[i].outcome);
		db_array_add_i64(&a[15], d[i].wait_ms);
		db_array_add_i64(&a[16], d[i].talk_ms);
	}
	if (db_query_arrays(pg, sql, a, 17, err) < 0)
		return -1;
	return contacts_move(pg, d, n, err);
}

int db_call_stale(PGconn *pg, uint64_t older_than_s, unsigned limit,
                  PGresult **res_r, struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT call_id FROM calls WHERE outcome IS NULL "
	        " AND last_event_at < now() - make_interval(secs => "
	        "$1::bigint) "
	        "ORDER BY last_event_at LIMIT $2::integer";
	char older[24], n[16];
	const char *params[2] = {older, n};

	snprintf(older, sizeof(older), "%llu",
	         (unsigned long long)older_than_s);
	snprintf(n, sizeof(n), "%u", limit);
	return db_query(pg, sql, 2, params, res_r, err);
}

int db_call_json(PGconn *pg, int64_t id, char **json_r, struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT ktd_call_json(c)::text FROM calls c WHERE c.id = $1";
	char idt[24];
	const char *params[1] = {idt};
	PGresult *res = NULL;

	I64(idt, id);
	if (db_query(pg, sql, 1, params, &res, err) < 0)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return ktd_error_set(err, KTD_ERR_NOT_FOUND, "no call %" PRId64,
		                     id);
	}
	*json_r = db_result_strdup(res, 0, 0);
	PQclear(res);
	return 0;
}
