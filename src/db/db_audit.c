/* SPDX-License-Identifier: MPL-2.0 */
/* SQL on the audit_log table. */
#include "db/db_common.h"

#include <inttypes.h>
#include <stdio.h>

#include "db/pool.h"
#include "db/db_audit.h"

int db_audit_add(PGconn *pg, const struct db_audit_actor *actor,
                 const char *action, int64_t case_id, const char *detail_json,
                 struct ktd_error *err)
{
	/* A token is named, not numbered, in the principal; names are
	 * unique, so the lookup is exact. */
	static const char sql[] =
	        "INSERT INTO audit_log (actor_user_id, actor_token_id, action, "
	        " case_id, peer, detail) "
	        "VALUES (NULLIF($1::bigint, 0), "
	        " (SELECT id FROM api_tokens WHERE name = $2), $3, "
	        " NULLIF($4::bigint, 0), left($5, 64), "
	        " coalesce($6::jsonb, '{}'::jsonb))";
	char uid[24], cid[24];
	const char *params[6];

	snprintf(uid, sizeof(uid), "%" PRId64, actor->user_id);
	snprintf(cid, sizeof(cid), "%" PRId64, case_id);
	params[0] = uid;
	params[1] = actor->token_name;
	params[2] = action;
	params[3] = cid;
	params[4] = actor->peer;
	params[5] = detail_json;
	return db_query(pg, sql, 6, params, NULL, err);
}
