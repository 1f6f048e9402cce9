/* SPDX-License-Identifier: MPL-2.0 */
/* SQL on the cases table, the case counter and the routing rules. Cases
 * leave the database as JSON text built by ktd_case_json() (sql/003), so
 * that the list, the single case and later the live events agree. */
#ifndef KTD_DB_CASE_H
#define KTD_DB_CASE_H

#include "db/db_common.h"

#define DB_CASE_REFERENCE_SIZE 24

/* A new case; NULL strings are stored as NULL. */
struct db_case_new {
	const char *subject;
	int64_t department_id; /* 0: none */
	const char *citizen_name;
	const char *citizen_phone;
	const char *citizen_email;
	const char *citizen_cpr;
	const char *citizen_cvr;
	const char *occurred_at; /* RFC 3339 or NULL: when the case began */
};

/* Inserts a case with the next reference of the year, status new.
 * Locks the year's counter row until the transaction ends. */
int db_case_insert(PGconn *pg, const struct db_case_new *c, int64_t *id_r,
                   char reference_r[DB_CASE_REFERENCE_SIZE],
                   struct ktd_error *err) KTD_ATTR_NODISCARD;

/* The case with this reference, or the case it was merged into. Returns
 * 1, 0 or -1. */
int db_case_by_reference(PGconn *pg, const char *reference, int64_t *id_r,
                         struct ktd_error *err) KTD_ATTR_NODISCARD;

/* The newest case still being worked (new, open, forwarded; not merged)
 * whose citizen phone is phone or (case-insensitively) e-mail is email
 * (either may be NULL) and whose last contact is at most window_s seconds
 * old. Returns 1, 0 or -1. */
int db_case_find_open(PGconn *pg, const char *phone, const char *email,
                      uint64_t window_s, int64_t *id_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* The department of the first active routing rule that matches. Returns 1
 * with *department_id_r, 0 when none matches, -1. */
int db_case_route(PGconn *pg, const char *to_addr, const char *queue,
                  const char *subject, int64_t *department_id_r,
                  struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Records a new contact on the case: last_contact_at, and for an outbound
 * or internal contact by an agent the first response. Returns the case's
 * reference too. */
int db_case_touch(PGconn *pg, int64_t case_id, bool response,
                  char reference_r[DB_CASE_REFERENCE_SIZE],
                  struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Takes a transaction-scoped advisory lock on a key, so that concurrent
 * transactions with the same key run one after the other. */
int db_case_lock_key(PGconn *pg, const char *key, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* NOTIFY kontaktd {"type": type, "case_id": id}, delivered at commit. */
int db_case_notify(PGconn *pg, const char *type, int64_t case_id,
                   struct ktd_error *err) KTD_ATTR_NODISCARD;

/* The case as a JSON object text (caller frees). Returns 1, 0 or -1. */
int db_case_get_json(PGconn *pg, int64_t id, bool show_cpr, char **json_r,
                     struct ktd_error *err) KTD_ATTR_NODISCARD;

/* A change of a case's editable fields: each set_* says whether the field
 * changes (a NULL or 0 value then clears it). */
struct db_case_patch {
	bool set_category, set_department, set_assignee, set_subject;
	const char *category;
	int64_t department_id;
	int64_t assignee_id;
	const char *subject;
};

/* Applies p if the case's version is still version, raising the version.
 * Returns 1 with the new case as JSON text in *json_r (caller frees), 0
 * when no case with this id has this version, -1 (a foreign key failure
 * keeps SQLSTATE 23503 and its message names the constraint). */
int db_case_update(PGconn *pg, int64_t id, int64_t version,
                   const struct db_case_patch *p, bool show_cpr, char **json_r,
                   struct ktd_error *err) KTD_ATTR_NODISCARD;

/* List filters; NULL or 0 for none. */
struct db_case_filter {
	const char *status;
	int64_t department_id;
	int64_t assignee_id;
	const char *channel;
	const char *created_from; /* RFC 3339, inclusive */
	const char *created_to;   /* RFC 3339, exclusive */
	const char *q;            /* websearch syntax, danish configuration */
	/* The cursor: rows strictly before (after_us, after_id) in the
	 * order created_at DESC, id DESC; after_id 0 for the first page. */
	int64_t after_us; /* created_at, microseconds since the epoch */
	int64_t after_id;
	unsigned limit;
};

/* The cases matching f, newest first: a JSON array text (caller frees),
 * with, when there may be more, the last row's (created_at in µs, id) in
 * *last_us_r and *last_id_r (else *last_id_r = 0). */
int db_case_list_json(PGconn *pg, const struct db_case_filter *f, bool show_cpr,
                      char **json_r, int64_t *last_us_r, int64_t *last_id_r,
                      struct ktd_error *err) KTD_ATTR_NODISCARD;

#endif
