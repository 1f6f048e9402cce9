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

/* Outbound e-mail settings of an action that sends mail. */
struct case_mail {
	const char *from;        /* [smtp] from */
	const char *subject_tag; /* [intake] subject_tag, e.g. "Sag" */
};

/* Any status but closed, not merged → forwarded to department_id, with
 * the department's target for method copied into the forward. Method
 * email also queues, in the same transaction, an outbound_email contact
 * with an outbox row of kind forward to the department's address (from
 * mail->from; subject "Videresendt: ... [Sag reference]"; a text with the
 * case's reference, subject, citizen (never the CPR number; CPR numbers in
 * the contacts' text masked), its newest contacts' text and reason); mail
 * KTD_ERR_CONFIG when mail is NULL (no [smtp] from). Also
 * KTD_ERR_UNPROCESSABLE naming department_id (no such active department)
 * or method (the department has no target for it). Audit action
 * forward. */
int case_action_forward(PGconn *pg, int64_t id, int64_t version,
                        int64_t department_id, const char *method,
                        const char *reason, const struct case_mail *mail,
                        const struct case_actor *actor, bool show_cpr,
                        char **json_r, struct ktd_error *err)
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

/* Folds case id (a duplicate) into case into: both locked (in id order),
 * id's contacts move to into, id is closed with resolution duplicate and
 * merged_into_id. Returns 0 with case into as JSON text in *json_r. Also
 * KTD_ERR_UNPROCESSABLE naming 'into' (no such case, or id itself) and
 * KTD_ERR_CONFLICT when either case is merged already. Audit action merge
 * on both cases; NOTIFY case.updated for both. */
int case_action_merge(PGconn *pg, int64_t id, int64_t version, int64_t into,
                      const struct case_actor *actor, bool show_cpr,
                      char **json_r, struct ktd_error *err) KTD_ATTR_NODISCARD;

/* An e-mail reply to the citizen. */
struct case_reply {
	const char *to;      /* NULL: the newest sender, else the citizen's */
	const char *subject; /* NULL: "Re: " and the case's subject */
	const char *text;
	const char *from;        /* [smtp] from */
	const char *subject_tag; /* [intake] subject_tag, e.g. "Sag" */
	int64_t user_id;         /* who writes it; 0 for none */
};

/* Queues r as an outbound_email contact with an outbox row (delivered
 * later by the mail worker) on a case that is neither closed nor merged.
 * The subject carries the tag "[subject_tag reference]", the Message-ID
 * is fixed now, In-Reply-To and References thread onto the case's mail.
 * Returns 0 with the new contact as JSON text in *json_r; also
 * KTD_ERR_UNPROCESSABLE naming 'to' when there is no address to answer
 * or it is not one. Audit action reply. */
int case_action_reply(PGconn *pg, int64_t id, int64_t version,
                      const struct case_reply *r,
                      const struct case_actor *actor, bool show_cpr,
                      char **json_r, struct ktd_error *err) KTD_ATTR_NODISCARD;

/* The automatic receipt (kvittering) of a new case, from a Danish
 * template. */
struct case_receipt {
	const char *from;          /* [smtp] from */
	const char *subject_tag;   /* [intake] subject_tag */
	const char *municipality;  /* [receipt] municipality; "": none */
	const char *opening_hours; /* [receipt] opening_hours; "": none */
};

/* Inside the caller's transaction: queues the receipt of case id to
 * address to (the citizen who wrote) the way case_action_reply queues a
 * reply (outbound_email contact and outbox row, here of kind receipt,
 * In-Reply-To the case's newest inbound mail, the subject tagged with the
 * case's reference), but leaves the case's status and first response as
 * they were: a receipt is no answer. Returns 0 with *contact_id_r, -1. */
int case_receipt_queue(PGconn *pg, int64_t id, const struct case_receipt *r,
                       const char *to, int64_t *contact_id_r,
                       struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Whether s is one plain address, "name@example.dk": no display name,
 * no comments, nothing a mail header could be split on. */
bool case_mail_address_valid(const char *s);

#endif
