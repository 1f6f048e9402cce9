/* SPDX-License-Identifier: MPL-2.0 */
/* A fixed-size pool of PostgreSQL connections shared by the HTTP worker
 * threads. Connections are made lazily and remade after the server restarts,
 * with a backoff so that a down server is not hammered: while it is down,
 * requests fail fast with KTD_ERR_UNAVAILABLE (HTTP 503). Thread-safe. */
#ifndef KTD_DB_POOL_H
#define KTD_DB_POOL_H

#include "db/db_common.h"

struct db_pool;
struct db_conn;

struct db_pool_config {
	const char *conninfo;      /* libpq conninfo string or URI */
	const char *password_file; /* NULL or "": none */
	const char *application_name;
	unsigned size;
	uint64_t acquire_timeout_ms;
	uint64_t connect_timeout_ms;
	uint64_t statement_timeout_ms; /* 0: the server's default */
};

/* Creates a pool (copies cfg; makes no connection yet). Caller destroys. */
struct db_pool *db_pool_create(const struct db_pool_config *cfg);
/* Closes every connection; all must have been released. */
void db_pool_destroy(struct db_pool **pool);

/* Borrows a healthy connection, waiting up to acquire_timeout for a free
 * one. Returns 0, or -1 with KTD_ERR_UNAVAILABLE when none can be had.
 * The connection must go back with db_pool_release on the same thread. */
int db_pool_acquire(struct db_pool *pool, struct db_conn **conn_r,
                    struct ktd_error *err) KTD_ATTR_NODISCARD;
/* Gives the connection back (rolling back an open transaction); sets
 * *conn to NULL. Accepts NULL. */
void db_pool_release(struct db_pool *pool, struct db_conn **conn);

/* Opens one connection outside the pool, for kontaktctl and migrations.
 * Returns a PGconn (caller PQfinish-es it) or NULL with err filled. */
PGconn *db_connect(const struct db_pool_config *cfg, struct ktd_error *err);

PGconn *db_conn_pg(struct db_conn *conn);

struct db_pool_stats {
	unsigned in_use, idle, closed; /* connections by state */
	bool up;             /* the last connection attempt succeeded */
	uint64_t waits;      /* acquisitions that found no free connection */
	uint64_t timeouts;   /* ... and gave up after acquire_timeout */
	uint64_t reconnects; /* connections made after the first */
};

/* Asks the server to cancel the statement running on every connection in
 * use (for a shutdown that cannot wait); their queries then fail. Returns
 * how many cancel requests were sent. */
unsigned db_pool_cancel_all(struct db_pool *pool);

/* A consistent snapshot of the pool's state and counters. */
void db_pool_stats(struct db_pool *pool, struct db_pool_stats *st);

/* Runs one parameterised statement. On success returns 0 and, when res_r
 * is not NULL, the result (caller PQclear-s it). On failure returns -1 with
 * err: KTD_ERR_UNAVAILABLE when the connection is lost, KTD_ERR_CONFLICT
 * for unique/serialisation failures, KTD_ERR_INTERNAL otherwise; the
 * SQLSTATE is copied into err->sqlstate. */
int db_query(PGconn *pg, const char *sql, int nparams,
             const char *const *params, PGresult **res_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* db_query with parameter lengths and formats (NULL: all text) and, when
 * binary_result, the result in binary format (bytea as raw bytes). */
int db_query_ex(PGconn *pg, const char *sql, int nparams,
                const char *const *params, const int *lengths,
                const int *formats, bool binary_result, PGresult **res_r,
                struct ktd_error *err) KTD_ATTR_NODISCARD;

/* How many statements db_query_prepared prepares on one connection; any
 * further ones run unnamed, as db_query. */
#define DB_PREPARED_MAX 64

/* db_query for the statements of the busiest paths: the first run on a
 * connection prepares sql as a named statement, later runs execute it by
 * name, so PostgreSQL parses and plans it once per connection rather than
 * once per run (it replans by itself after schema changes). sql must have
 * static storage: its address identifies it. Borrows pg, which must come
 * from db_connect (others run unnamed). Same returns as db_query. */
int db_query_prepared(PGconn *pg, const char *sql, int nparams,
                      const char *const *params, PGresult **res_r,
                      struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Between db_defer_begin and db_defer_end, a statement whose result the
 * caller does not take (res_r NULL) is sent and its result read with the
 * next one's that is taken, or at db_defer_end: several statements share
 * one round trip (libpq's pipeline mode). The order of the statements
 * stays; only where a failure shows moves: a failed statement's error
 * comes back from a later call (and the statements between do not run),
 * so the caller treats any failure as the failure of all of them. No
 * PQexec* of the caller's own in between. db_defer_end reads what is left
 * and returns its first failure. */
int db_defer_begin(PGconn *pg, struct ktd_error *err) KTD_ATTR_NODISCARD;
int db_defer_end(PGconn *pg, struct ktd_error *err) KTD_ATTR_NODISCARD;

/* db_query_prepared with db_query_ex's lengths, formats and binary_result. */
int db_query_prepared_ex(PGconn *pg, const char *sql, int nparams,
                         const char *const *params, const int *lengths,
                         const int *formats, bool binary_result,
                         PGresult **res_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

#endif
