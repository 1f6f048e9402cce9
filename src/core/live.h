/* SPDX-License-Identifier: MPL-2.0 */
/* The live hub: one per process. Its thread holds a PostgreSQL connection
 * of its own that LISTENs on the events channel; on each notification it
 * reads the new rows of live_events (in id order, which is commit order)
 * and hands each event to every subscriber. The event's data was made once
 * by the writing transaction; the hub reads it once per process and the
 * subscribers share it. After the connection is lost the hub reconnects
 * with a backoff and catches up from the last id it handed out, so no
 * event is lost or repeated; with several kontaktd processes on one
 * database, each hub sees every event.
 *
 * A subscriber starts pending: the hub keeps its events while the
 * subscriber's client is brought up to date (live_replay), then
 * live_hub_activate hands them over in order. Every tick the hub drops
 * subscribers whose client has gone and checks that each subscriber's
 * credentials still hold (a logout, an expired session, a disabled user
 * or a revoked token ends its stream). Thread-safe. */
#ifndef KTD_CORE_LIVE_H
#define KTD_CORE_LIVE_H

#include "core/core_common.h"
#include "core/auth.h"

#include <libpq-fe.h>
#include <stdatomic.h>

struct db_pool_config;
struct live_hub;
struct live_sub;

#define LIVE_TYPE_SIZE 40

/* One event: "case.created", "call.offered", ... with its JSON data. */
struct live_event {
	int64_t id;
	char type[LIVE_TYPE_SIZE];
	char *data; /* a JSON object on one line; owned */
	size_t data_len;
	atomic_uint refs;
};

void live_event_ref(struct live_event *ev);
/* Drops a reference and sets *ev to NULL; accepts NULL. */
void live_event_unref(struct live_event **ev);

/* What the hub calls on a subscriber, always with the hub's lock held (so
 * never with the subscriber's own locks taken in an order that could
 * deadlock against it: a subscriber must not call the hub from these). */
struct live_sub_ops {
	/* Hands over an event; returns 0, or -1 when the subscriber cannot
	 * take it (its client has gone or is too far behind): the hub then
	 * drops it. */
	int (*deliver)(void *arg, const struct live_event *ev);
	/* True when the subscriber's client has gone. */
	bool (*gone)(void *arg);
	/* Ends the subscriber's stream; reason: "credentials",
	 * "overflow". */
	void (*end)(void *arg, const char *reason);
	/* The hub lets go of arg (after which it never touches it). */
	void (*release)(void *arg);
};

struct live_hub_config {
	/* The database, as for the pool (its strings are copied). */
	const struct db_pool_config *db;
	/* Between two checks of the subscribers (gone, credentials). */
	uint64_t tick_ms;
	/* Bytes of events kept for a pending subscriber at most. */
	size_t pending_max;
};

/* Connects, LISTENs and reads the current position (so a database that
 * cannot be reached fails the start), then starts the thread. Returns the
 * hub (caller stops it) or NULL with err. */
struct live_hub *live_hub_start(const struct live_hub_config *cfg,
                                struct ktd_error *err);

/* Stops the thread, closes its connection and releases every subscriber.
 * Accepts NULL; sets *hub to NULL. */
void live_hub_stop(struct live_hub **hub);

/* Adds a pending subscriber; takes arg (released through ops->release)
 * unless it returns NULL (the hub is stopping). cred: the credential that
 * opened the stream. position_r: the id of the last event the hub has
 * handed out; every later one will reach the subscriber. */
struct live_sub *live_hub_subscribe(struct live_hub *hub,
                                    const struct live_sub_ops *ops, void *arg,
                                    const struct auth_credential *cred,
                                    int64_t *position_r);

/* Hands the pending subscriber the events kept for it with an id above
 * after, and from now on every new one as it comes. */
void live_hub_activate(struct live_hub *hub, struct live_sub *sub,
                       int64_t after);

/* Drops a pending subscriber (its request failed). */
void live_hub_cancel(struct live_hub *hub, struct live_sub *sub);

struct live_hub_stats {
	unsigned subscribers;
	bool listening;   /* the hub's connection is up */
	uint64_t events;  /* events read since the start */
	int64_t position; /* the last event's id */
};

void live_hub_stats(struct live_hub *hub, struct live_hub_stats *st);

/* How a replay went. */
enum live_replay_result {
	LIVE_REPLAY_OK,       /* every missed event was handed to fn */
	LIVE_REPLAY_PRUNED,   /* missed events are gone ([live] retention) */
	LIVE_REPLAY_TOO_MANY, /* more were missed than a replay may send */
	LIVE_REPLAY_UNKNOWN,  /* last_seen is newer than any event here */
};

/* Called for each replayed event; returning -1 stops the replay. */
typedef int live_replay_fn(void *arg, const struct live_event *ev);

/* The outcome of a replay. */
struct live_replay_out {
	enum live_replay_result result;
	unsigned count;  /* events handed to fn */
	int64_t last_id; /* the last of them, else last_seen */
	int64_t newest;  /* the newest event id there has been */
};

/* Brings a client that has seen every event up to last_seen (its
 * Last-Event-ID) up to date: hands fn the events after it, oldest first,
 * as the database has them now (a subscriber made before the replay gets
 * every later one), when none has been pruned, there are at most max and
 * their data with overhead bytes each comes to at most max_bytes (what the
 * client's stream can hold). Borrows pg (a pool connection). Returns 0
 * with out filled, or -1 with err. */
int live_replay(PGconn *pg, int64_t last_seen, unsigned max, size_t max_bytes,
                size_t overhead, live_replay_fn *fn, void *arg,
                struct live_replay_out *out, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* The newest event id committed so far (0 when none). Borrows pg. */
int live_position(PGconn *pg, int64_t *id_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* "ok", "pruned", "too_many", "unknown". */
const char *live_replay_result_name(enum live_replay_result r);

#endif
