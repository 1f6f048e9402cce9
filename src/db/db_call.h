/* SPDX-License-Identifier: MPL-2.0 */
/* SQL on calls and call_events. */
#ifndef KTD_DB_CALL_H
#define KTD_DB_CALL_H

#include "db/db_common.h"

/* What a call knows of its numbers (what db_call_fill could add). */
struct db_call_known {
	bool from, to, orig_call_id;
	char direction[4]; /* "in" or "out" */
};

/* The call with the phone system's call_id: its row id, contact and
 * case, and what it knows (known_r may be NULL). Returns 1, 0 when there
 * is none, -1. */
int db_call_find(PGconn *pg, const char *call_id, int64_t *id_r,
                 int64_t *contact_id_r, int64_t *case_id_r,
                 struct db_call_known *known_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

struct db_call_new {
	int64_t contact_id;
	const char *call_id;
	const char *orig_call_id; /* NULL: none */
	const char *direction;    /* in, out */
	const char *from_number;  /* normalised; NULL: none */
	const char *to_number;
	const char *offered_at; /* RFC 3339 */
};

int db_call_insert(PGconn *pg, const struct db_call_new *c, int64_t *id_r,
                   struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Fills what a later event tells about the call (an offer that arrives
 * after the answer, say): numbers and orig_call_id where the call has
 * none, the direction when given; the same on its contact, and the case's
 * citizen phone if the case has none. NULL arguments change nothing. */
int db_call_fill(PGconn *pg, int64_t id, const char *from, const char *to,
                 const char *direction, const char *orig_call_id,
                 struct ktd_error *err) KTD_ATTR_NODISCARD;

/* The times of n events (RFC 3339 texts) as PostgreSQL stores them, in
 * microseconds since the epoch, into us_r[n]. */
int db_call_times(PGconn *pg, const char *const *at, size_t n, int64_t *us_r,
                  struct ktd_error *err) KTD_ATTR_NODISCARD;

/* One stored event; the strings point into the result. */
struct db_call_event {
	const char *event;
	int64_t at_us; /* microseconds since the epoch */
	const char *agent;
	const char *target;
	const char *queue;
	const char *cause;
};

/* A row of db_call_load: a call, and one of its events (has_event false
 * for a call without events). Strings point into the result. */
struct db_call_loaded {
	const char *call_id;
	int64_t id, contact_id, case_id;
	int64_t contact_at_us; /* the contact's time (occurred_at) */
	struct db_call_known known;
	const char *state;
	bool has_event;
	struct db_call_event ev;
};

struct db_call_load {
	PGresult *res;
	struct db_call_loaded *items;
	size_t n;
};

/* The calls of the n phone-system call ids that exist, each with all its
 * events in the order they arrived: rows by call, then event. */
int db_call_load(PGconn *pg, const char *const *call_ids, size_t n,
                 struct db_call_load *out, struct ktd_error *err)
        KTD_ATTR_NODISCARD;
void db_call_load_free(struct db_call_load *l);

/* One event to store; strings NULL for none. */
struct db_call_event_new {
	int64_t call_row_id;
	const char *event;
	const char *at; /* RFC 3339 */
	const char *agent;
	const char *target;
	const char *queue;
	const char *cause;
	const char *source; /* native, generic, sweeper, agent */
};

/* Stores n new events in one statement, in their order. One that was
 * stored before (by a writer without the call's lock) fails it, as
 * KTD_ERR_CONFLICT. Reads nothing back: it can be deferred. */
int db_call_events_add(PGconn *pg, const struct db_call_event_new *ev, size_t n,
                       struct ktd_error *err) KTD_ATTR_NODISCARD;

/* A call's derived state (core/call.h's call_state, as stored). Times in
 * µs since the epoch, 0 for none; durations in ms, -1 for unknown. */
struct db_call_derived {
	int64_t id; /* the call's row */
	/* Its contact and the contact's time as stored: moved to offered_us
	 * when they differ. */
	int64_t contact_id, contact_at_us;
	const char *state;
	int64_t offered_us, queued_us, answered_us, ended_us;
	const char *answered_by;
	const char *queue;
	const char *transferred_to;
	unsigned transfers, returns, diversions;
	bool callback_requested;
	const char *end_cause;
	const char *outcome;
	int64_t wait_ms, talk_ms;
};

/* Writes the derived state of n calls (each once), in one statement, and
 * the times of those of their contacts whose offer moved, in another
 * (only when one did). */
int db_call_update(PGconn *pg, const struct db_call_derived *d, size_t n,
                   struct ktd_error *err) KTD_ATTR_NODISCARD;

/* The call ids of at most limit calls not ended whose last event is
 * older than older_than_s, oldest first: a PGresult of one column
 * (caller PQclear-s it). */
int db_call_stale(PGconn *pg, uint64_t older_than_s, unsigned limit,
                  PGresult **res_r, struct ktd_error *err) KTD_ATTR_NODISCARD;

/* The call as JSON text (ktd_call_json), caller frees. */
int db_call_json(PGconn *pg, int64_t id, char **json_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

#endif
