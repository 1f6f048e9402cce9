/* SPDX-License-Identifier: MPL-2.0 */
/* SQL on routing_rules, the rules by which intake picks a new case's
 * department. */
#ifndef KTD_DB_ROUTING_H
#define KTD_DB_ROUTING_H

#include "db/db_common.h"

/* A rule's fields; for a change, the set_* flags say which are given. */
struct db_routing_rule {
	const char *kind; /* to_address, queue, keyword */
	const char *pattern;
	int64_t department_id;
	int32_t priority;
	bool active;
	bool set_kind, set_pattern, set_department, set_priority, set_active;
};

/* Every rule, in the order intake tries them (active first, then by
 * priority and id), as a JSON array text (caller frees). */
int db_routing_list_json(PGconn *pg, char **json_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* Inserts r (every field). Returns 0 with the id and the rule as JSON
 * text, or -1: KTD_ERR_UNPROCESSABLE naming department_id when there is
 * no such department. */
int db_routing_insert(PGconn *pg, const struct db_routing_rule *r,
                      int64_t *id_r, char **json_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* Changes the set fields of rule id. Returns 1 with the rule as JSON
 * text, 0 when there is no such rule, -1 (as insert). */
int db_routing_update(PGconn *pg, int64_t id, const struct db_routing_rule *r,
                      char **json_r, struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Deletes rule id: 1, 0 when there is none, -1. */
int db_routing_delete(PGconn *pg, int64_t id, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

#endif
