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
	int64_t follow_up_of_id; /* the finished case it follows; 0: none */
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

/* A case that a contact threads onto, as intake sees it. */
struct db_case_thread {
	char status[16];
	int64_t department_id; /* 0: none */
	char reference[DB_CASE_REFERENCE_SIZE];
	int64_t resolved_age_s; /* seconds since resolved_at; -1: none */
};

/* Locks case id (FOR UPDATE) for the rest of the transaction. Returns 1
 * with *t, 0 when there is no such case, -1. */
int db_case_lock_thread(PGconn *pg, int64_t id, struct db_case_thread *t,
                        struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Locks the cases of ids (n of them; unknown ids are skipped) FOR UPDATE
 * in id order, for the rest of the transaction. 0 or -1. */
int db_case_lock_many(PGconn *pg, const int64_t *ids, size_t n,
                      struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Makes the case reference sequences of this year and the next where
 * they are missing (sql/014: a year without one numbers its cases from
 * a counter row that serialises their transactions). 0 or -1. */
int db_case_reference_prepare(PGconn *pg, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* Takes the transaction-scoped advisory locks of db_case_lock_key for all
 * n keys at once, in the order of the locks' numbers (each once): two
 * transactions that take their keys this way, before any other lock of
 * the same kind, cannot deadlock on them. 0 or -1. */
int db_case_lock_keys(PGconn *pg, const char *const *keys, size_t n,
                      struct ktd_error *err) KTD_ATTR_NODISCARD;

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

/* Records a live event of the case in the caller's transaction
 * (db_live_add): a row of live_events, and NOTIFY kontaktd {"id", "type",
 * "case_id"} at commit. */
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

/* A case as an action sees it, locked (FOR UPDATE) until the transaction
 * ends. */
struct db_case_state {
	char status[16];
	int64_t version;
	int64_t department_id; /* 0: none */
	bool merged;
};

/* Locks case id for the rest of the transaction. Returns 1 with *st, 0
 * when there is no such case, -1. */
int db_case_lock(PGconn *pg, int64_t id, struct db_case_state *st,
                 struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Sets case id resolved with resolution, resolved_at now, the first
 * response if none yet and, unless category is NULL, the category;
 * raises the version. Returns 0 with the case as JSON text in *json_r
 * (caller frees), -1. */
int db_case_resolve(PGconn *pg, int64_t id, const char *resolution,
                    const char *category, bool show_cpr, char **json_r,
                    struct ktd_error *err) KTD_ATTR_NODISCARD;

/* The forwarding target of department id for method: queue_number,
 * hunt_group_number, ivr_choice or email, NULL (*target_r "" and
 * *has_target_r false) for methods without one or a department without
 * it. Returns 1 when the department exists and is active, 0 when not,
 * -1. */
#define DB_CASE_TARGET_SIZE 256
int db_case_department_target(PGconn *pg, int64_t department_id,
                              const char *method,
                              char target_r[DB_CASE_TARGET_SIZE],
                              bool *has_target_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* A forward of a case to a department. */
struct db_case_forward {
	int64_t from_department_id; /* 0: none */
	int64_t to_department_id;
	const char *method;
	const char *target; /* NULL: none */
	const char *reason; /* NULL: "" */
	int64_t by_user_id; /* 0: nobody */
};

/* Records f in forwards and sets case id forwarded to f's department
 * with resolution forwarded and the first response if none yet; raises
 * the version. Returns 0 with the case as JSON text in *json_r and the
 * forward's id in *forward_id_r, -1. */
int db_case_forward(PGconn *pg, int64_t id, const struct db_case_forward *f,
                    bool show_cpr, char **json_r, int64_t *forward_id_r,
                    struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Sets case id open again: no resolution, no resolved_at; raises the
 * version. Returns 0 with the case as JSON text in *json_r, -1. */
int db_case_reopen(PGconn *pg, int64_t id, bool show_cpr, char **json_r,
                   struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Adds an internal note by user created_by to case id, and records it as
 * the case's newest contact and first response. Returns 0 with the
 * contact as JSON text (ktd_contact_json) in *json_r and its id in
 * *contact_id_r, -1. */
int db_case_note_add(PGconn *pg, int64_t id, const char *text,
                     int64_t created_by, char **json_r, int64_t *contact_id_r,
                     struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Folds case source into case target (both locked by the caller): moves
 * source's contacts to target, closes source as a duplicate merged into
 * target (cases merged into source before now point at target), and
 * fills target's empty citizen fields from source. Returns 0 with target
 * as JSON text in *json_r and the number of contacts moved in *moved_r,
 * -1. */
int db_case_merge(PGconn *pg, int64_t source, int64_t target, bool show_cpr,
                  char **json_r, int64_t *moved_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* A call learnt its caller's number (phone, E.164) only after it had made
 * case case_id without one. When that case holds nothing but the call's
 * contact (contact_id) and nobody has touched it, and the caller has
 * another open case within window_s, the case is merged into that one
 * (*target_r set, returns 1): the call lands in the caller's history as
 * if the number had come first. Otherwise the case gets the number if it
 * has none (returns 0). -1 on error. The caller holds the citizen lock. */
int db_case_adopt_phone(PGconn *pg, int64_t case_id, int64_t contact_id,
                        const char *phone, uint64_t window_s, int64_t *target_r,
                        struct ktd_error *err) KTD_ATTR_NODISCARD;

/* The case's forwards as a JSON array text, oldest first (caller
 * frees). */
int db_case_forwards_json(PGconn *pg, int64_t case_id, char **json_r,
                          struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Marks the newest forward of case id that has not come back as
 * returned at the time at (RFC 3339; never before the forward itself),
 * if it was made at most window_s before at (0: any time before).
 * Returns 1 when one was marked, 0 when none qualifies, -1. */
int db_case_forward_returned(PGconn *pg, int64_t id, const char *at,
                             uint64_t window_s, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* List filters; NULL or 0 for none. */
struct db_case_filter {
	const char *status;
	int64_t department_id;
	int64_t assignee_id;
	const char *channel;
	const char *created_from; /* RFC 3339, inclusive */
	const char *created_to;   /* RFC 3339, exclusive */
	const char *q;            /* websearch syntax, danish configuration */
	const char *reference;    /* exactly this case reference */
	/* Oldest first (created_at, id ascending) instead of newest first. */
	bool ascending;
	/* The cursor: rows strictly after (after_us, after_id) in the list's
	 * order; after_id 0 for the first page. */
	int64_t after_us; /* created_at, microseconds since the epoch */
	int64_t after_id;
	unsigned limit;
};

/* The cases matching f, newest (or with f->ascending oldest) first: a
 * JSON array text (caller frees), with, when there may be more, the last
 * row's (created_at in us, id) in *last_us_r and *last_id_r (else
 * *last_id_r = 0). */
int db_case_list_json(PGconn *pg, const struct db_case_filter *f, bool show_cpr,
                      char **json_r, int64_t *last_us_r, int64_t *last_id_r,
                      struct ktd_error *err) KTD_ATTR_NODISCARD;

/* What db_case_counts counts besides the total: the cases with a contact
 * on each of these channels, and those of each status. */
#define DB_CASE_COUNT_CHANNELS 5
#define DB_CASE_COUNT_STATUSES 5
extern const char *const db_case_count_channels[DB_CASE_COUNT_CHANNELS];
extern const char *const db_case_count_statuses[DB_CASE_COUNT_STATUSES];

/* Counts of the newest cap + 1 matching cases (the window): total is
 * cap + 1 when there are more than cap, and then every count is of the
 * window only. */
struct db_case_counts {
	int64_t total;
	int64_t channels[DB_CASE_COUNT_CHANNELS];
	int64_t statuses[DB_CASE_COUNT_STATUSES]; /* 0 when f names another */
	int64_t mine; /* also assigned to mine_user_id; -1: not asked */
};

/* The counts of the cases matching f (its cursor, order and limit
 * unused), over its newest cap + 1: all of them, per channel and per
 * status, and with mine_user_id (0: none) those also assigned to that
 * user. The cost is bounded by the window. Returns 0 or -1. */
int db_case_counts(PGconn *pg, const struct db_case_filter *f,
                   int64_t mine_user_id, unsigned cap,
                   struct db_case_counts *counts_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

#endif
