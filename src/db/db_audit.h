/* SPDX-License-Identifier: MPL-2.0 */
/* SQL on the audit_log table: who read or changed which case. */
#ifndef KTD_DB_AUDIT_H
#define KTD_DB_AUDIT_H

#include "db/db_common.h"

/* Who acted: a user, a token (by its unique name) or neither (the system,
 * a channel). peer may be NULL. */
struct db_audit_actor {
	int64_t user_id;        /* 0: not a user */
	const char *token_name; /* NULL: not a token */
	const char *peer;
};

/* Appends one row; action is one of read, create, update, forward,
 * resolve, export; case_id 0 for none; detail_json a JSON object text or
 * NULL for {}. */
int db_audit_add(PGconn *pg, const struct db_audit_actor *actor,
                 const char *action, int64_t case_id, const char *detail_json,
                 struct ktd_error *err) KTD_ATTR_NODISCARD;

#endif
