/* SPDX-License-Identifier: MPL-2.0 */
/* The rules of cases that need no database: the names of statuses and
 * channels, the forms of references, CPR/CVR numbers, phone numbers and
 * timestamps, and the opaque list cursor. */
#ifndef KTD_CORE_CASE_H
#define KTD_CORE_CASE_H

#include "core/core_common.h"
#include "db/db_case.h"

#include <libpq-fe.h>

/* Bytes of the longest cursor, with the NUL. */
#define CASE_CURSOR_SIZE 64

/* "new", "open", "forwarded", "resolved", "closed". */
bool case_status_valid(const char *s);
/* "phone", "email", "digital_post", "web", "walk_in", "note",
 * "outbound_email", "outbound_dp". */
bool case_channel_valid(const char *s);
/* "YYYY-NNNNNN" (six digits or more). */
bool case_reference_valid(const char *s);
/* Ten digits (CPR) or eight (CVR); no dash. */
bool case_cpr_valid(const char *s);
bool case_cvr_valid(const char *s);

/* An RFC 3339 date-time, "2026-01-31T08:15:00Z", with optional fraction
 * and a Z or +hh:mm offset; the date must exist. */
bool case_rfc3339_valid(const char *s);
/* The instant of a valid RFC 3339 date-time with at most six fractional
 * digits, in microseconds since the epoch, as PostgreSQL's timestamptz
 * holds it. false for anything else (more digits are rounded by
 * PostgreSQL's own rules: ask it). */
bool case_rfc3339_us(const char *s, int64_t *us_r);

/* The list cursor: the last row's created_at (microseconds since the
 * epoch) and id, as base64url text. Decoding rejects anything that
 * encoding cannot have made. */
void case_cursor_encode(int64_t created_us, int64_t id,
                        char out[CASE_CURSOR_SIZE]);
int case_cursor_decode(const char *s, int64_t *created_us_r, int64_t *id_r)
        KTD_ATTR_NODISCARD;

/* Who changes a case, for the audit log. */
struct case_actor {
	int64_t user_id;        /* 0: not a user */
	const char *token_name; /* NULL: not a token */
	const char *peer;
};

/* Changes the editable fields of case id if its version is still
 * version (optimistic concurrency), in one transaction with an audit row
 * (action update, detail {"fields": [...]}) and NOTIFY case.updated.
 * Returns 0 with the new case as JSON text in *json_r (caller frees), or
 * -1: KTD_ERR_NOT_FOUND, KTD_ERR_CONFLICT with the current case as JSON
 * text in *json_r (the version moved on), KTD_ERR_UNPROCESSABLE naming
 * department_id or assignee_id when that row does not exist. */
int case_update(PGconn *pg, int64_t id, int64_t version,
                const struct db_case_patch *p, const struct case_actor *actor,
                bool show_cpr, char **json_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

#endif
