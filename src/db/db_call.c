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

int db_call_event_insert(PGconn *pg, int64_t id,
                         const struct db_call_event_new *e,
                         struct ktd_error *err)
{
	static const char sql[] =
	        "INSERT INTO call_events (call_id, event, at, agent, target, "
	        " queue, cause, source) VALUES ($1, $2, $3, $4, $5, $6, $7, "
	        "$8) "
	        "ON CONFLICT DO NOTHING RETURNING id";
	char idt[24];
	const char *params[8] = {idt,       e->event, e->at,    e->agent,
	                         e->target, e->queue, e->cause, e->source};
	PGresult *res = NULL;
	int ret;

	I64(idt, id);
	if (db_query_prepared(pg, sql, 8, params, &res, err) < 0)
		return -1;
	ret = PQntuples(res) == 1;
	PQclear(res);
	return ret;
}

int db_call_has_event(PGconn *pg, int64_t id, const char *event,
                      struct ktd_error *err)
{
	static const char sql[] = "SELECT 1 FROM call_events "
	                          "WHERE call_id = $1 AND event = $2 LIMIT 1";
	char idt[24];
	const char *params[2] = {idt, event};
	PGresult *res = NULL;
	int ret;

	I64(idt, id);
	if (db_query(pg, sql, 2, params, &res, err) < 0)
		return -1;
	ret = PQntuples(res) == 1;
	PQclear(res);
	return ret;
}

int db_call_events(PGconn *pg, int64_t id, struct db_call_events *out,
                   struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT event, (extract(epoch FROM at) * 1000000)::bigint, "
	        " agent, target, queue, cause FROM call_events "
	        "WHERE call_id = $1 ORDER BY id";
	char idt[24];
	const char *params[1] = {idt};
	int i, n;

	memset(out, 0, sizeof(*out));
	I64(idt, id);
	if (db_query_prepared(pg, sql, 1, params, &out->res, err) < 0)
		return -1;
	n = PQntuples(out->res);
	out->items = ktd_calloc(n > 0 ? (size_t)n : 1, sizeof(*out->items));
	for (i = 0; i < n; i++) {
		struct db_call_event *e = &out->items[out->n];

		e->event = PQgetvalue(out->res, i, 0);
		e->at_us = db_result_i64(out->res, i, 1);
		e->agent = PQgetisnull(out->res, i, 2)
		                   ? NULL
		                   : PQgetvalue(out->res, i, 2);
		e->target = PQgetisnull(out->res, i, 3)
		                    ? NULL
		                    : PQgetvalue(out->res, i, 3);
		e->queue = PQgetisnull(out->res, i, 4)
		                   ? NULL
		                   : PQgetvalue(out->res, i, 4);
		e->cause = PQgetisnull(out->res, i, 5)
		                   ? NULL
		                   : PQgetvalue(out->res, i, 5);
		out->n++;
	}
	return 0;
}

void db_call_events_free(struct db_call_events *ev)
{
	PQclear(ev->res);
	free(ev->items);
	memset(ev, 0, sizeof(*ev));
}

/* A time in µs as a timestamptz parameter, or NULL for 0. */
static const char *us_param(int64_t us, char *buf, size_t bufsz)
{
	if (us == 0)
		return NULL;
	snprintf(buf, bufsz, "%" PRId64, us);
	return buf;
}

int db_call_update(PGconn *pg, int64_t id, const struct db_call_derived *st,
                   char prev_state_r[16], struct ktd_error *err)
{
	/* Times come as microseconds since the epoch. The contact's time is
	 * written only when an earlier event moved the start of the call. */
#define TS(n) "(to_timestamp(0) + $" #n "::bigint * interval '1 microsecond')"
	static const char sql[] =
	        "WITH old AS (SELECT id, state FROM calls WHERE id = $1), "
	        "u AS (UPDATE calls c SET state = $2, "
	        " offered_at = " TS(3) ", queued_at = " TS(
	                4) ", "
	                   " answered_at = " TS(5) ", ended_at = " TS(
	                           6) ", "
	                              " answered_by = $7, queue = $8, "
	                              "transferred_to = $9, "
	                              " transfers = $10, returns = $11, "
	                              "diversions = $12, "
	                              " callback_requested = $13, end_cause = "
	                              "$14, outcome = $15, "
	                              " wait_ms = NULLIF($16::bigint, -1), "
	                              " talk_ms = NULLIF($17::bigint, -1), "
	                              "last_event_at = now() "
	                              " FROM old WHERE c.id = old.id RETURNING "
	                              "c.contact_id), "
	                              "ct AS (UPDATE contacts "
	                              " SET occurred_at = " TS(
	                                      3) " "
	                                         " WHERE id = (SELECT "
	                                         "contact_id FROM u) "
	                                         " AND occurred_at <> " TS(
	                                                 3) ") "
	                                                    "SELECT state FROM "
	                                                    "old";
	char idt[24], off[24], que[24], ans[24], end[24], tr[16], re[16],
	        dv[16], wait[24], talk[24];
	const char *params[17];
	PGresult *res = NULL;

	I64(idt, id);
	snprintf(tr, sizeof(tr), "%u", st->transfers);
	snprintf(re, sizeof(re), "%u", st->returns);
	snprintf(dv, sizeof(dv), "%u", st->diversions);
	I64(wait, st->wait_ms);
	I64(talk, st->talk_ms);
	params[0] = idt;
	params[1] = st->state;
	params[2] = us_param(st->offered_us, off, sizeof(off));
	params[3] = us_param(st->queued_us, que, sizeof(que));
	params[4] = us_param(st->answered_us, ans, sizeof(ans));
	params[5] = us_param(st->ended_us, end, sizeof(end));
	params[6] = st->answered_by;
	params[7] = st->queue;
	params[8] = st->transferred_to;
	params[9] = tr;
	params[10] = re;
	params[11] = dv;
	params[12] = st->callback_requested ? "t" : "f";
	params[13] = st->end_cause;
	params[14] = st->outcome;
	params[15] = wait;
	params[16] = talk;
	if (db_query_prepared(pg, sql, 17, params, &res, err) < 0)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return ktd_error_set(err, KTD_ERR_NOT_FOUND, "no call %" PRId64,
		                     id);
	}
	ktd_strlcpy(prev_state_r, PQgetvalue(res, 0, 0), 16);
	PQclear(res);
	return 0;
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
