/* SPDX-License-Identifier: MPL-2.0 */
/* What agents do to a case: resolve, forward, add a note, reopen. Each
 * runs in one transaction that locks the case row (SELECT ... FOR
 * UPDATE), checks the transition and, when one is given, the version the
 * client saw, writes an audit row and NOTIFYs case.updated, so that of
 * two agents acting at once one wins and the other gets a conflict. */
#ifndef KTD_CORE_CASE_ACTION_H
#define KTD_CORE_CASE_ACTION_H

#include "core/core_common.h"
#include "core/case.h"

#include <libpq-fe.h>

/* "resolved_first_contact", "answered_later", "callback", "duplicate",
 * "spam": the resolutions an agent may give. */
bool case_action_resolution_valid(const char *s);
/* "queue", "hunt_group", "ivr", "callback", "direct", "email". */
bool case_action_method_valid(const char *s);

/* Common to every action: version 0 means "any version". Returns 0 with
 * the new case (case_action_note_add: the new contact) as JSON text in
 * *json_r (caller frees), or -1: KTD_ERR_NOT_FOUND; KTD_ERR_CONFLICT with
 * the current case as JSON text in *json_r when the version moved on or
 * the case's state does not allow the action. */

/* new, open or forwarded → resolved; category NULL keeps the case's.
 * Audit action resolve. */
int case_action_resolve(PGconn *pg, int64_t id, int64_t version,
                        const char *resolution, const char *category,
                        const struct case_actor *actor, bool show_cpr,
                        char **json_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* Any status but closed, not merged → forwarded to department_id, with
 * the department's target for method copied into the forward. Also
 * KTD_ERR_UNPROCESSABLE naming department_id (no such active department)
 * or method (the department has no target for it). Audit action
 * forward. */
int case_action_forward(PGconn *pg, int64_t id, int64_t version,
                        int64_t department_id, const char *method,
                        const char *reason, const struct case_actor *actor,
                        bool show_cpr, char **json_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* An internal note on any case that is not merged. Audit action update,
 * detail {"note": contact id}. */
int case_action_note_add(PGconn *pg, int64_t id, int64_t version,
                         const char *text, const struct case_actor *actor,
                         bool show_cpr, char **json_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* resolved or closed (not merged) → open. Audit action update, detail
 * {"reopen": previous status}. */
int case_action_reopen(PGconn *pg, int64_t id, int64_t version,
                       const struct case_actor *actor, bool show_cpr,
                       char **json_r, struct ktd_error *err) KTD_ATTR_NODISCARD;

#endif
