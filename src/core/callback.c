/* SPDX-License-Identifier: MPL-2.0 */
/* Callback attempts. */
#include "core/core_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/tx.h"
#include "db/db_audit.h"
#include "db/db_callback.h"
#include "db/db_case.h"
#include "core/callback.h"

int callback_attempt(PGconn *pg, int64_t id, int64_t version,
                     const char *result, const char *note,
                     const struct case_actor *actor,
                     const struct callback_config *cfg, char **json_r,
                     struct ktd_error *err)
{
	struct db_audit_actor a;
	char status[16], detail[96];
	int64_t cur_version = 0, case_id = 0;
	int r;

	*json_r = NULL;
	if (db_tx_begin(pg, err) < 0)
		return -1;
	r = db_callback_lock(pg, id, status, &cur_version, &case_id, err);
	if (r == 0)
		ktd_error_set(err, KTD_ERR_NOT_FOUND, "no such callback");
	if (r <= 0)
		goto fail;
	if ((version && version != cur_version) ||
	    strcmp(status, "open") != 0) {
		if (db_callback_get_json(pg, id, json_r, err) < 0)
			goto fail;
		if (strcmp(status, "open") != 0)
			ktd_error_set(err, KTD_ERR_CONFLICT,
			              "the callback is %s: no more attempts",
			              status);
		else
			ktd_error_set(err, KTD_ERR_CONFLICT,
			              "the callback was changed by someone "
			              "else: it is at another version");
		db_tx_rollback(pg);
		return -1;
	}
	if (db_callback_attempt(pg, id, actor->user_id, result, note,
	                        cfg->max_attempts, cfg->retry_after_s, json_r,
	                        err) < 0)
		goto fail;
	memset(&a, 0, sizeof(a));
	a.user_id = actor->user_id;
	a.token_name = actor->token_name;
	a.peer = actor->peer;
	snprintf(detail, sizeof(detail),
	         "{\"callback_id\": %" PRId64 ", \"result\": \"%s\"}", id,
	         strcmp(result, "reached") == 0 ? "reached" : "not_reached");
	if (db_audit_add(pg, &a, "update", case_id, detail, err) < 0 ||
	    db_case_notify(pg, "case.updated", case_id, err) < 0 ||
	    db_tx_commit(pg, err) < 0)
		goto fail;
	return 0;
fail:
	db_tx_rollback(pg);
	free(*json_r);
	*json_r = NULL;
	return -1;
}
