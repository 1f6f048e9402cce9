/* SPDX-License-Identifier: MPL-2.0 */
/* SQL on callbacks and callback_attempts. */
#ifndef KTD_DB_CALLBACK_H
#define KTD_DB_CALLBACK_H

#include "db/db_common.h"

/* The callback a callback_requested event asks for, on the case of call
 * row_id: to number (E.164), else the caller's number; none for a
 * withheld caller. At most one per call. Returns 1 made, 0 not (one
 * exists, or no number to call), -1. */
int db_callback_from_call(PGconn *pg, int64_t row_id, const char *number,
                          struct ktd_error *err) KTD_ATTR_NODISCARD;

struct db_callback_new {
	int64_t case_id;
	const char *number; /* E.164; NULL: the case's citizen phone */
	const char *message;
	const char *window_from; /* RFC 3339 or NULL */
	const char *window_to;
	const char *due_at; /* NULL: window_from, else now */
	int64_t created_by;
};

/* A callback asked for by an agent. Returns 1 with its JSON text, 0 when
 * no number is given and the case has none, -1 (KTD_ERR_UNPROCESSABLE
 * for values the table refuses). */
int db_callback_insert(PGconn *pg, const struct db_callback_new *c,
                       char **json_r, struct ktd_error *err) KTD_ATTR_NODISCARD;

struct db_callback_filter {
	const char *status; /* NULL: every status */
	const char *due_before;
	int64_t after_us, after_id; /* cursor on (due_at, id) */
	unsigned limit;
};

/* Callbacks by due time (oldest first) as a JSON array text; the last
 * row's (due_at µs, id) when there may be more, else *last_id_r 0. */
int db_callback_list_json(PGconn *pg, const struct db_callback_filter *f,
                          char **json_r, int64_t *last_us_r, int64_t *last_id_r,
                          struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Locks callback id: its status, version and case. Returns 1, 0 none,
 * -1. */
int db_callback_lock(PGconn *pg, int64_t id, char status_r[16],
                     int64_t *version_r, int64_t *case_id_r,
                     struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Records an attempt: reached closes it done; not_reached counts it and
 * either closes it not_reached (the max_attempts-th) or makes it due
 * again retry_after_s later. Returns 0 with the callback's JSON text. */
int db_callback_attempt(PGconn *pg, int64_t id, int64_t user_id,
                        const char *result, const char *note,
                        unsigned max_attempts, uint64_t retry_after_s,
                        char **json_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* The callback's JSON text (1), 0 when there is none, -1. */
int db_callback_get_json(PGconn *pg, int64_t id, char **json_r,
                         struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Requested / done / not reached / cancelled / open, and the mean and
 * median seconds from request to the reaching attempt, of the callbacks
 * requested in [from, to) (NULL: unbounded), as JSON text. */
int db_callback_summary_json(PGconn *pg, const char *from, const char *to,
                             char **json_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

#endif
