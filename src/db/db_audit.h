/* SPDX-License-Identifier: MPL-2.0 */
/* SQL on the audit_log table: who read or changed which case, and who
 * changed the directory, users, tokens and routing rules. */
#ifndef KTD_DB_AUDIT_H
#define KTD_DB_AUDIT_H

#include "db/db_common.h"

/* Who acted: a user, a token (by its unique name) or neither (the system,
 * a channel, kontaktctl). peer may be NULL. */
struct db_audit_actor {
	int64_t user_id;        /* 0: not a user */
	const char *token_name; /* NULL: not a token */
	const char *peer;
};

/* Appends one row about a case; action is one of read, create, update,
 * forward, resolve, export, merge, reply; case_id 0 for none;
 * detail_json a JSON object text or NULL for {}. */
int db_audit_add(PGconn *pg, const struct db_audit_actor *actor,
                 const char *action, int64_t case_id, const char *detail_json,
                 struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Appends one row about another object: object_type department, user,
 * token or routing_rule; action create, update or delete. */
int db_audit_add_object(PGconn *pg, const struct db_audit_actor *actor,
                        const char *action, const char *object_type,
                        int64_t object_id, const char *detail_json,
                        struct ktd_error *err) KTD_ATTR_NODISCARD;

/* The same, naming the object: a user by login, a token by name, a
 * department by name (any case). KTD_ERR_NOT_FOUND when there is none. */
int db_audit_add_named(PGconn *pg, const struct db_audit_actor *actor,
                       const char *action, const char *object_type,
                       const char *name, const char *detail_json,
                       struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Filters of the audit list; NULL or 0 for none. */
struct db_audit_filter {
	int64_t case_id;
	int64_t actor_user_id;
	const char *action;
	const char *object_type;
	int64_t object_id;
	const char *from;  /* RFC 3339, inclusive */
	const char *to;    /* RFC 3339, exclusive */
	int64_t before_id; /* the cursor: rows with a smaller id */
	unsigned limit;
};

/* The rows matching f, newest first, as a JSON array text (caller frees);
 * *last_id_r is the last row's id when there may be more, else 0. */
int db_audit_list_json(PGconn *pg, const struct db_audit_filter *f,
                       char **json_r, int64_t *last_id_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

#endif
