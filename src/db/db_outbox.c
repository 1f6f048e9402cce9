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
	if (db_query(pg, sql, 1, params, &res, err) < 0)
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
	char case_id[24], by[24], cid[24];
	const char *pc[7] = {case_id,    o->message_id, o->from_addr,
	                     o->to_addr, o->subject,    o->body,
	                     by};
	const char *po[4] = {cid, o->kind, o->in_reply_to, o->references};
	PGresult *res = NULL;

	snprintf(case_id, sizeof(case_id), "%" PRId64, o->case_id);
	snprintf(by, sizeof(by), "%" PRId64, o->created_by);
	if (db_query(pg, sql_contact, 7, pc, &res, err) < 0)
		return -1;
	*contact_id_r = db_result_i64(res, 0, 0);
	PQclear(res);
	snprintf(cid, sizeof(cid), "%" PRId64, *contact_id_r);
	if (db_query(pg, sql_outbox, 4, po, NULL, err) < 0 ||
	    /* A receipt is the system's, not an answer. */
	    (strcmp(o->kind, "receipt") != 0 &&
	     db_query(pg, sql_case, 1, pc, NULL, err) < 0))
		return -1;
	if (!json_r)
		return 0;
	if (db_query(pg, sql_json, 1, po, &res, err) < 0)
		return -1;
	*json_r = db_result_strdup(res, 0, 0);
	PQclear(res);
	return 0;
}
