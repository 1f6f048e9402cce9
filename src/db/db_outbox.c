/* SPDX-License-Identifier: MPL-2.0 */
/* SQL on outbound e-mail (contacts of channel outbound_email + outbox). */
#include "db/db_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/pool.h"
#include "db/result.h"
#include "db/db_outbox.h"
#include "db/db_case.h"
#include "db/tx.h"

int db_outbox_context(PGconn *pg, int64_t case_id,
                      struct db_outbox_context *ctx, struct ktd_error *err)
{
	static const char sql[] =
	        "WITH last_in AS (SELECT external_id, from_addr FROM contacts "
	        " WHERE case_id = $1 AND channel = 'email' AND direction = "
	        "'in' "
	        " ORDER BY occurred_at DESC, id DESC LIMIT 1), "
	        "chain AS (SELECT external_id, occurred_at, id FROM contacts "
	        " WHERE case_id = $1 AND channel IN ('email', "
	        "'outbound_email') "
	        " AND external_id LIKE '<%>' "
	        " ORDER BY occurred_at DESC, id DESC LIMIT 20) "
	        "SELECT c.reference, c.subject, c.citizen_email, "
	        " (SELECT external_id FROM last_in), "
	        " (SELECT from_addr FROM last_in), "
	        " (SELECT string_agg(external_id, ' ' ORDER BY occurred_at, "
	        "id) "
	        "  FROM chain) "
	        "FROM cases c WHERE c.id = $1";
	char id[24];
	const char *params[1] = {id};
	PGresult *res = NULL;

	memset(ctx, 0, sizeof(*ctx));
	snprintf(id, sizeof(id), "%" PRId64, case_id);
	if (db_query_prepared(pg, sql, 1, params, &res, err) < 0)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return ktd_error_set(err, KTD_ERR_NOT_FOUND, "no case %" PRId64,
		                     case_id);
	}
	ctx->reference = db_result_strdup(res, 0, 0);
	ctx->subject = db_result_strdup(res, 0, 1);
	ctx->citizen_email = db_result_strdup(res, 0, 2);
	ctx->in_reply_to = db_result_strdup(res, 0, 3);
	ctx->sender = db_result_strdup(res, 0, 4);
	ctx->references = db_result_strdup(res, 0, 5);
	PQclear(res);
	return 0;
}

void db_outbox_context_free(struct db_outbox_context *ctx)
{
	free(ctx->reference);
	free(ctx->subject);
	free(ctx->citizen_email);
	free(ctx->in_reply_to);
	free(ctx->sender);
	free(ctx->references);
	memset(ctx, 0, sizeof(*ctx));
}

int db_outbox_queue(PGconn *pg, const struct db_outbound *o,
                    int64_t *contact_id_r, char **json_r, struct ktd_error *err)
{
	static const char sql_contact[] =
	        "INSERT INTO contacts (case_id, channel, direction, "
	        " external_id, from_addr, to_addr, subject, body, created_by) "
	        "VALUES ($1, 'outbound_email', 'out', $2, $3, $4, $5, $6, "
	        " NULLIF($7::bigint, 0)) RETURNING id";
	static const char sql_outbox[] =
	        "INSERT INTO outbox (contact_id, kind, in_reply_to, "
	        " references_hdr) VALUES ($1, $2, $3, $4)";
	static const char sql_case[] =
	        "UPDATE cases SET status = CASE status WHEN 'new' THEN 'open' "
	        " ELSE status END, "
	        " first_response_at = coalesce(first_response_at, now()), "
	        " last_contact_at = greatest(last_contact_at, now()), "
	        " version = version + 1 WHERE id = $1";
	static const char sql_json[] =
	        "SELECT ktd_contact_json(ct)::text FROM contacts ct "
	        "WHERE ct.id = $1";
	static const char sql_notify[] = "NOTIFY " DB_OUTBOX_CHANNEL;
	char case_id[24], by[24], cid[24];
	const char *pc[7] = {case_id,    o->message_id, o->from_addr,
	                     o->to_addr, o->subject,    o->body,
	                     by};
	const char *po[4] = {cid, o->kind, o->in_reply_to, o->references};
	PGresult *res = NULL;

	snprintf(case_id, sizeof(case_id), "%" PRId64, o->case_id);
	snprintf(by, sizeof(by), "%" PRId64, o->created_by);
	if (db_query_prepared(pg, sql_contact, 7, pc, &res, err) < 0)
		return -1;
	*contact_id_r = db_result_i64(res, 0, 0);
	PQclear(res);
	snprintf(cid, sizeof(cid), "%" PRId64, *contact_id_r);
	if (db_query_prepared(pg, sql_outbox, 4, po, NULL, err) < 0 ||
	    /* A receipt is the system's, not an answer. */
	    (strcmp(o->kind, "receipt") != 0 &&
	     db_query(pg, sql_case, 1, pc, NULL, err) < 0) ||
	    db_query_prepared(pg, sql_notify, 0, NULL, NULL, err) < 0)
		return -1;
	if (!json_r)
		return 0;
	if (db_query(pg, sql_json, 1, po, &res, err) < 0)
		return -1;
	*json_r = db_result_strdup(res, 0, 0);
	PQclear(res);
	return 0;
}

int db_outbox_claim(PGconn *pg, unsigned limit, uint64_t lease_s,
                    PGresult **res_r, struct ktd_error *err)
{
	/* SKIP LOCKED: of several kontaktd processes, each takes other
	 * rows; the lease (next_attempt_at moved on) keeps them apart
	 * after this statement's transaction ends. */
	static const char sql[] =
	        "WITH due AS (SELECT id FROM outbox "
	        " WHERE status = 'queued' AND next_attempt_at <= now() "
	        " ORDER BY next_attempt_at, id LIMIT $1 "
	        " FOR UPDATE SKIP LOCKED) "
	        "UPDATE outbox o SET attempts = o.attempts + 1, "
	        " next_attempt_at = now() + make_interval(secs => $2::bigint) "
	        "FROM due, contacts ct "
	        "WHERE o.id = due.id AND ct.id = o.contact_id "
	        "RETURNING o.id, o.contact_id, ct.case_id, o.kind, o.attempts, "
	        " o.in_reply_to, o.references_hdr, ct.external_id, "
	        " ct.from_addr, ct.to_addr, ct.subject, ct.body, "
	        " extract(epoch FROM ct.occurred_at)::bigint";
	char n[24], lease[24];
	const char *params[2] = {n, lease};

	snprintf(n, sizeof(n), "%u", limit);
	snprintf(lease, sizeof(lease), "%" PRIu64, lease_s);
	return db_query_prepared(pg, sql, 2, params, res_r, err);
}

/* Runs sql (parameters $1 the row's id, then extra) and the case's live
 * event in one transaction. */
static int record(PGconn *pg, const char *sql, int64_t id, int64_t case_id,
                  int nextra, const char *const *extra, struct ktd_error *err)
{
	char sid[24];
	const char *params[3] = {sid, NULL, NULL};
	int i;

	snprintf(sid, sizeof(sid), "%" PRId64, id);
	for (i = 0; i < nextra && i < 2; i++)
		params[i + 1] = extra[i];
	if (db_tx_begin(pg, err) < 0)
		return -1;
	if (db_query_prepared(pg, sql, 1 + nextra, params, NULL, err) < 0 ||
	    db_case_notify(pg, "case.updated", case_id, err) < 0 ||
	    db_tx_commit(pg, err) < 0) {
		db_tx_rollback(pg);
		return -1;
	}
	return 0;
}

int db_outbox_sent(PGconn *pg, int64_t id, int64_t case_id,
                   struct ktd_error *err)
{
	static const char sql[] =
	        "UPDATE outbox SET status = 'sent', sent_at = now(), "
	        " last_error = NULL WHERE id = $1 AND status = 'queued'";

	return record(pg, sql, id, case_id, 0, NULL, err);
}

int db_outbox_defer(PGconn *pg, int64_t id, int64_t case_id, uint64_t delay_s,
                    const char *error, struct ktd_error *err)
{
	static const char sql[] =
	        "UPDATE outbox SET next_attempt_at = now() + "
	        " make_interval(secs => $2::bigint), last_error = left($3, "
	        "2000) WHERE id = $1 AND status = 'queued'";
	char delay[24];
	const char *extra[2] = {delay, error};

	snprintf(delay, sizeof(delay), "%" PRIu64, delay_s);
	return record(pg, sql, id, case_id, 2, extra, err);
}

int db_outbox_fail(PGconn *pg, int64_t id, int64_t case_id, const char *error,
                   struct ktd_error *err)
{
	static const char sql[] =
	        "UPDATE outbox SET status = 'failed', last_error = left($2, "
	        "2000) WHERE id = $1 AND status = 'queued'";
	const char *extra[1] = {error};

	return record(pg, sql, id, case_id, 1, extra, err);
}

int db_outbox_summary(PGconn *pg, int64_t case_id,
                      struct db_outbox_summary *sum, struct ktd_error *err)
{
	static const char sql_case[] =
	        "SELECT reference, subject, citizen_name, citizen_phone, "
	        " citizen_email FROM cases WHERE id = $1";
	static const char sql_contacts[] =
	        "SELECT * FROM (SELECT ktd_rfc3339(occurred_at) AS at, "
	        " channel, direction, from_addr, subject, "
	        " left(body, $2::integer), occurred_at, id "
	        " FROM contacts WHERE case_id = $1 AND body <> '' "
	        " ORDER BY occurred_at DESC, id DESC LIMIT $3::integer) c "
	        "ORDER BY occurred_at, id";
	char id[24], textmax[24], limit[24];
	const char *params[3] = {id, textmax, limit};
	PGresult *res = NULL;
	int i, n;

	memset(sum, 0, sizeof(*sum));
	snprintf(id, sizeof(id), "%" PRId64, case_id);
	snprintf(textmax, sizeof(textmax), "%d", DB_OUTBOX_SUMMARY_TEXT);
	snprintf(limit, sizeof(limit), "%d", DB_OUTBOX_SUMMARY_CONTACTS);
	if (db_query(pg, sql_case, 1, params, &res, err) < 0)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return ktd_error_set(err, KTD_ERR_NOT_FOUND, "no case %" PRId64,
		                     case_id);
	}
	sum->reference = db_result_strdup(res, 0, 0);
	sum->subject = db_result_strdup(res, 0, 1);
	sum->citizen_name = db_result_strdup(res, 0, 2);
	sum->citizen_phone = db_result_strdup(res, 0, 3);
	sum->citizen_email = db_result_strdup(res, 0, 4);
	PQclear(res);
	if (db_query(pg, sql_contacts, 3, params, &res, err) < 0) {
		db_outbox_summary_free(sum);
		return -1;
	}
	n = PQntuples(res);
	for (i = 0; i < n && i < DB_OUTBOX_SUMMARY_CONTACTS; i++) {
		sum->contacts[i].occurred_at = db_result_strdup(res, i, 0);
		sum->contacts[i].channel = db_result_strdup(res, i, 1);
		sum->contacts[i].direction = db_result_strdup(res, i, 2);
		sum->contacts[i].from = db_result_strdup(res, i, 3);
		sum->contacts[i].subject = db_result_strdup(res, i, 4);
		sum->contacts[i].text = db_result_strdup(res, i, 5);
		sum->n++;
	}
	PQclear(res);
	return 0;
}

void db_outbox_summary_free(struct db_outbox_summary *sum)
{
	size_t i;

	free(sum->reference);
	free(sum->subject);
	free(sum->citizen_name);
	free(sum->citizen_phone);
	free(sum->citizen_email);
	for (i = 0; i < sum->n; i++) {
		free(sum->contacts[i].occurred_at);
		free(sum->contacts[i].channel);
		free(sum->contacts[i].direction);
		free(sum->contacts[i].from);
		free(sum->contacts[i].subject);
		free(sum->contacts[i].text);
	}
	memset(sum, 0, sizeof(*sum));
}
