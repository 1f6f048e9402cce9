/* SPDX-License-Identifier: MPL-2.0 */
/* SQL of the live stream's events (table live_events, sql/008): writing an
 * event in the caller's transaction, reading events after an id, the
 * replay of a reconnecting client, pruning, and LISTEN. Event ids grow in
 * commit order (see the migration), so "every event after id N" is never
 * missing one that commits later. */
#ifndef KTD_DB_LIVE_H
#define KTD_DB_LIVE_H

#include "db/db_common.h"

/* The NOTIFY channel of every event. */
#define DB_LIVE_CHANNEL "kontaktd"
#define DB_LIVE_TYPE_SIZE 40

/* Records an event in the caller's transaction: a live_events row whose
 * data (the case; for call events the call, and for call.offered and
 * call.answered the caller's open and recent cases) is made now. The row
 * gets its final id, and the NOTIFY goes out, at commit. case_id and
 * call_row_id (calls.id) may be 0. */
int db_live_add(PGconn *pg, const char *type, int64_t case_id,
                int64_t call_row_id, struct ktd_error *err) KTD_ATTR_NODISCARD;

/* A call's event for db_live_add_calls (or a case's: call_row_id 0,
 * call_json NULL). */
struct db_live_call {
	const char *type; /* call.offered, ... */
	int64_t case_id;
	int64_t call_row_id;
	/* The call as it was at this event, as a JSON object of calls
	 * columns (state, offered_at, ...) laid over the stored row: a batch
	 * writes a call's events at its end, when the row holds the last. */
	const char *call_json;
};

/* Records n call events as db_live_add does, in one statement and in
 * their order. */
int db_live_add_calls(PGconn *pg, const struct db_live_call *ev, size_t n,
                      struct ktd_error *err) KTD_ATTR_NODISCARD;

struct db_live_row {
	int64_t id;
	char type[DB_LIVE_TYPE_SIZE];
	char *data; /* the event's JSON object, one line; owned */
	size_t data_len;
};

struct db_live_rows {
	struct db_live_row *items;
	size_t n;
};

/* Frees the rows' data (those still set) and the array. */
void db_live_rows_free(struct db_live_rows *rows);

/* Events with an id above after, oldest first, at most limit. On the live
 * hub's connection (db_live_listen sets it up for this statement). */
int db_live_read(PGconn *pg, int64_t after, unsigned limit,
                 struct db_live_rows *rows, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* The newest event id there has been (0 when none): the position of a
 * stream that starts now. */
int db_live_position(PGconn *pg, int64_t *id_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* What a client that has seen every event up to after needs, in one
 * snapshot: the highest pruned id (after must not be below it), the
 * newest id there has been (after must not be above it), and the events
 * in (after, upto], oldest first, at most limit. */
struct db_live_replay {
	int64_t pruned_upto;
	int64_t newest;
	struct db_live_rows rows;
};
int db_live_replay(PGconn *pg, int64_t after, int64_t upto, unsigned limit,
                   struct db_live_replay *out, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* Deletes at most batch events older than retention_s (oldest first) and
 * raises the pruned mark. Returns 0 with how many went, or -1. */
int db_live_prune(PGconn *pg, uint64_t retention_s, unsigned batch,
                  int64_t *deleted_r, struct ktd_error *err) KTD_ATTR_NODISCARD;

/* LISTEN on DB_LIVE_CHANNEL, on the live hub's own connection, which it
 * sets up for db_live_read. */
int db_live_listen(PGconn *pg, struct ktd_error *err) KTD_ATTR_NODISCARD;

#endif
