/* SPDX-License-Identifier: MPL-2.0 */
/* PostgreSQL connection pool with lazy (re)connection and backoff. */
#include "db/db_common.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-events.h>

#include "lib/mem.h"
#include "lib/timeutil.h"
#include "db/pool.h"

/* Backoff between connection attempts while the server is down. */
#define POOL_BACKOFF_MIN_MS 100u
#define POOL_BACKOFF_MAX_MS 2000u
#define PASSWORD_MAX 1024

struct db_conn {
	PGconn *pg;
	/* Made at connect time, so that cancelling never touches pg from
	 * another thread (db_pool_cancel_all). Guarded by the pool's mutex. */
	PGcancel *cancel;
	bool in_use;
	bool connected_before; /* for the reconnect count */
};

/* libpq calls it as connections come and go (db_query_prepared). */
static int prep_event(PGEventId id, void *info, void *pass);

struct db_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct db_pool_config cfg; /* strings point into the owned copies */
	char *conninfo, *password_file, *application_name;
	struct db_conn *conns;
	unsigned nfree;

	/* Connection attempts are gated while the server is down. */
	uint64_t next_connect_ms;
	uint64_t backoff_ms;
	bool down;        /* the last connection failed or was lost */
	bool down_logged; /* event=db_down was logged for this outage */

	/* For db_pool_stats. */
	uint64_t waits, timeouts, reconnects;
};

static void pool_copy_config(struct db_pool *pool,
                             const struct db_pool_config *src)
{
	pool->cfg = *src;
	pool->conninfo = ktd_strdup(src->conninfo ? src->conninfo : "");
	pool->password_file =
	        ktd_strdup(src->password_file ? src->password_file : "");
	pool->application_name = ktd_strdup(
	        src->application_name ? src->application_name : "kontaktd");
	pool->cfg.conninfo = pool->conninfo;
	pool->cfg.password_file = pool->password_file;
	pool->cfg.application_name = pool->application_name;
}

struct db_pool *db_pool_create(const struct db_pool_config *cfg)
{
	struct db_pool *pool = ktd_calloc(1, sizeof(*pool));
	pthread_condattr_t ca;

	ktd_assert(cfg->size > 0);
	pthread_mutex_init(&pool->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pool->cv, &ca);
	pthread_condattr_destroy(&ca);
	pool_copy_config(pool, cfg);
	pool->conns = ktd_calloc(cfg->size, sizeof(*pool->conns));
	pool->nfree = cfg->size;
	pool->backoff_ms = POOL_BACKOFF_MIN_MS;
	return pool;
}

/* Closes conn's connection. The cancel object is swapped under the mutex,
 * as db_pool_cancel_all reads it from another thread. */
static void conn_close(struct db_pool *pool, struct db_conn *conn)
{
	PGcancel *cancel;

	pthread_mutex_lock(&pool->mu);
	cancel = conn->cancel;
	conn->cancel = NULL;
	pthread_mutex_unlock(&pool->mu);
	if (cancel)
		PQfreeCancel(cancel);
	if (conn->pg)
		PQfinish(conn->pg);
	conn->pg = NULL;
}

void db_pool_destroy(struct db_pool **poolp)
{
	struct db_pool *pool = *poolp;
	unsigned i;

	if (!pool)
		return;
	for (i = 0; i < pool->cfg.size; i++) {
		ktd_assert(!pool->conns[i].in_use);
		conn_close(pool, &pool->conns[i]);
	}
	free(pool->conns);
	free(pool->conninfo);
	free(pool->password_file);
	free(pool->application_name);
	pthread_cond_destroy(&pool->cv);
	pthread_mutex_destroy(&pool->mu);
	free(pool);
	*poolp = NULL;
}

/* Reads the password file: the first line, without its newline. */
static int read_password(const char *path, char *out, size_t outsz,
                         struct ktd_error *err)
{
	FILE *fp = fopen(path, "r");
	size_t len;

	if (!fp)
		return ktd_error_set(err, KTD_ERR_CONFIG,
		                     "cannot open password_file %s: %s", path,
		                     strerror(errno));
	if (!fgets(out, (int)outsz, fp))
		out[0] = '\0';
	fclose(fp);
	len = strcspn(out, "\r\n");
	out[len] = '\0';
	return 0;
}

/* Messages the server sends outside a query (a NOTICE, or the FATAL of a
 * server shutting down) go to the log as one line each, instead of libpq's
 * default: a bare line on stderr. */
static void log_notice(void *arg, const char *message)
{
	char msg[KTD_ERROR_MSG_MAX], quoted[2 * KTD_ERROR_MSG_MAX + 8];
	enum ktd_log_level level = KTD_LOG_WARNING;

	snprintf(msg, sizeof(msg), "%s", message);
	msg[strcspn(msg, "\n")] = '\0';
	if (strncmp(msg, "NOTICE:", 7) == 0 || strncmp(msg, "INFO:", 5) == 0 ||
	    strncmp(msg, "LOG:", 4) == 0)
		level = KTD_LOG_INFO;
	else if (strncmp(msg, "DEBUG", 5) == 0)
		level = KTD_LOG_DEBUG;
	ktd_log(level, "event=db_notice msg=%s",
	        ktd_log_quote(msg, quoted, sizeof(quoted)));
}

PGconn *db_connect(const struct db_pool_config *cfg, struct ktd_error *err)
{
	char password[PASSWORD_MAX] = "";
	char timeout[32], options[64];
	const char *keys[9], *vals[9];
	PGconn *pg;
	int n = 0;
	uint64_t secs;

	if (cfg->password_file && cfg->password_file[0] != '\0' &&
	    read_password(cfg->password_file, password, sizeof(password), err) <
	            0)
		return NULL;
	/* libpq's connect_timeout is in whole seconds; 1 is raised to 2 by
	 * libpq itself. */
	secs = cfg->connect_timeout_ms / 1000;
	snprintf(timeout, sizeof(timeout), "%llu",
	         (unsigned long long)(secs < 2 ? 2 : secs));
	/* JIT off: kontaktd's statements are short, and a plan whose cost
	 * estimate passes jit_above_cost (a search over a rare channel does)
	 * spent 10-100 ms compiling what runs in a few. */
	snprintf(options, sizeof(options),
	         "-c statement_timeout=%llu -c jit=off",
	         (unsigned long long)cfg->statement_timeout_ms);

	/* Ours first: later entries, including everything expanded from
	 * conninfo, override them. */
	keys[n] = "application_name";
	vals[n++] = cfg->application_name ? cfg->application_name : "kontaktd";
	keys[n] = "connect_timeout";
	vals[n++] = timeout;
	keys[n] = "client_encoding";
	vals[n++] = "UTF8";
	/* libpq tries GSSAPI encryption first on TCP, which loads Kerberos
	 * for every connection (and aborted in krb5 at an exit with a
	 * connection half made); conninfo's gssencmode=prefer brings it
	 * back where a server needs it. */
	keys[n] = "gssencmode";
	vals[n++] = "disable";
	keys[n] = "options";
	vals[n++] = options;
	if (password[0] != '\0') {
		keys[n] = "password";
		vals[n++] = password;
	}
	keys[n] = "dbname";
	vals[n++] = cfg->conninfo;
	keys[n] = NULL;
	vals[n] = NULL;

	pg = PQconnectdbParams(keys, vals, 1);
	explicit_bzero(password, sizeof(password));
	if (!pg) {
		ktd_error_set(err, KTD_ERR_UNAVAILABLE,
		              "database connection: out of memory");
		return NULL;
	}
	if (PQstatus(pg) != CONNECTION_OK) {
		char msg[KTD_ERROR_MSG_MAX];

		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(pg));
		msg[strcspn(msg, "\n")] = '\0';
		ktd_error_set(err, KTD_ERR_UNAVAILABLE,
		              "cannot connect to the database: %s", msg);
		PQfinish(pg);
		return NULL;
	}
	PQsetNoticeProcessor(pg, log_notice, NULL);
	/* Without it, db_query_prepared falls back to unnamed statements. */
	if (!PQregisterEventProc(pg, prep_event, "kontaktd-prepared", NULL))
		ktd_log_warnx("event=db_prepared_unavailable");
	return pg;
}

PGconn *db_conn_pg(struct db_conn *conn)
{
	return conn->pg;
}

/* True when an idle connection still works as far as can be told without
 * a round trip: a server that shut down has sent an error and closed the
 * socket, which then polls readable. */
static bool conn_alive(PGconn *pg)
{
	struct pollfd pfd;
	PGnotify *note;

	if (!pg || PQstatus(pg) != CONNECTION_OK)
		return false;
	pfd.fd = PQsocket(pg);
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (pfd.fd < 0)
		return false;
	if (poll(&pfd, 1, 0) <= 0)
		return true;
	if (!PQconsumeInput(pg))
		return false;
	while ((note = PQnotifies(pg)))
		PQfreemem(note);
	return PQstatus(pg) == CONNECTION_OK;
}

static void pool_put(struct db_pool *pool, struct db_conn *conn)
{
	pthread_mutex_lock(&pool->mu);
	conn->in_use = false;
	pool->nfree++;
	pthread_cond_signal(&pool->cv);
	pthread_mutex_unlock(&pool->mu);
}

/* Makes conn's connection anew, unless the backoff gate is closed. */
static int pool_reconnect(struct db_pool *pool, struct db_conn *conn,
                          struct ktd_error *err)
{
	uint64_t now = ktd_time_mono_ms();
	bool was_down;
	PGconn *pg;

	pthread_mutex_lock(&pool->mu);
	if (pool->down && now < pool->next_connect_ms) {
		pthread_mutex_unlock(&pool->mu);
		return ktd_error_set(
		        err, KTD_ERR_UNAVAILABLE,
		        "the database is unavailable (next "
		        "connection attempt in %llu ms)",
		        (unsigned long long)(pool->next_connect_ms - now));
	}
	/* Others wait for this attempt's outcome rather than joining it. */
	pool->next_connect_ms = now + pool->backoff_ms;
	pthread_mutex_unlock(&pool->mu);

	conn_close(pool, conn);
	pg = db_connect(&pool->cfg, err);

	pthread_mutex_lock(&pool->mu);
	was_down = pool->down_logged;
	if (!pg) {
		if (!pool->down_logged) {
			char quoted[2 * KTD_ERROR_MSG_MAX + 8];

			ktd_log_error("event=db_down msg=%s",
			              ktd_log_quote(err ? err->msg : "", quoted,
			                            sizeof(quoted)));
		}
		pool->down = true;
		pool->down_logged = true;
		pool->next_connect_ms = ktd_time_mono_ms() + pool->backoff_ms;
		pool->backoff_ms *= 2;
		if (pool->backoff_ms > POOL_BACKOFF_MAX_MS)
			pool->backoff_ms = POOL_BACKOFF_MAX_MS;
	} else {
		if (conn->connected_before)
			pool->reconnects++;
		conn->connected_before = true;
		pool->down = false;
		pool->down_logged = false;
		pool->backoff_ms = POOL_BACKOFF_MIN_MS;
		pool->next_connect_ms = 0;
	}
	pthread_mutex_unlock(&pool->mu);
	if (!pg)
		return -1;
	if (was_down)
		ktd_log_info(
		        "event=db_up msg=\"database connection restored\"");
	conn->pg = pg;
	pthread_mutex_lock(&pool->mu);
	conn->cancel = PQgetCancel(pg);
	pthread_mutex_unlock(&pool->mu);
	return 0;
}

int db_pool_acquire(struct db_pool *pool, struct db_conn **conn_r,
                    struct ktd_error *err)
{
	struct db_conn *conn = NULL;
	struct timespec deadline;
	unsigned i;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (time_t)(pool->cfg.acquire_timeout_ms / 1000);
	deadline.tv_nsec +=
	        (long)(pool->cfg.acquire_timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}

	pthread_mutex_lock(&pool->mu);
	if (pool->nfree == 0)
		pool->waits++;
	while (pool->nfree == 0 && rc == 0)
		rc = pthread_cond_timedwait(&pool->cv, &pool->mu, &deadline);
	if (pool->nfree == 0) {
		pool->timeouts++;
		pthread_mutex_unlock(&pool->mu);
		return ktd_error_set(
		        err, KTD_ERR_UNAVAILABLE,
		        "no database connection free within %llu "
		        "ms",
		        (unsigned long long)pool->cfg.acquire_timeout_ms);
	}
	/* Prefer a connection that is already open. */
	for (i = 0; i < pool->cfg.size; i++) {
		if (pool->conns[i].in_use)
			continue;
		if (!conn || (!conn->pg && pool->conns[i].pg))
			conn = &pool->conns[i];
	}
	ktd_assert(conn != NULL); /* nfree > 0 */
	conn->in_use = true;
	pool->nfree--;
	pthread_mutex_unlock(&pool->mu);

	if (!conn_alive(conn->pg) && pool_reconnect(pool, conn, err) < 0) {
		pool_put(pool, conn);
		return -1;
	}
	*conn_r = conn;
	return 0;
}

void db_pool_release(struct db_pool *pool, struct db_conn **connp)
{
	struct db_conn *conn = *connp;

	if (!conn)
		return;
	*connp = NULL;
	if (conn->pg && PQstatus(conn->pg) == CONNECTION_OK &&
	    PQtransactionStatus(conn->pg) != PQTRANS_IDLE) {
		PGresult *res = PQexec(conn->pg, "ROLLBACK");
		bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;

		PQclear(res);
		if (!ok)
			conn_close(pool, conn);
	}
	if (conn->pg && PQstatus(conn->pg) != CONNECTION_OK) {
		/* Lost while in use (the server shut down mid-query): close
		 * it now, and count the database as down until a connection
		 * succeeds again. */
		conn_close(pool, conn);
		ktd_log_warnx("event=db_connection_lost");
		pthread_mutex_lock(&pool->mu);
		pool->down = true;
		pthread_mutex_unlock(&pool->mu);
	}
	pool_put(pool, conn);
}

/* Results of statements sent in pipeline mode (db_defer_begin) that
 * may wait before they are read; more are read first. */
#define DEFER_MAX 32

/* The statements prepared on one connection, by the address of their
 * text: libpq instance data of prep_event, made when the connection is
 * made and freed with it. A connection is used by one thread at a time,
 * so it needs no lock. */
struct prep_cache {
	const char *sql[DB_PREPARED_MAX];
	unsigned n;
	/* Between db_defer_begin and db_defer_end: the results not read
	 * yet, in order; for a Prepare its statement's index, else -1. */
	bool deferring;
	int pending[DEFER_MAX];
	unsigned n_pending;
};

int db_query(PGconn *pg, const char *sql, int nparams,
             const char *const *params, PGresult **res_r, struct ktd_error *err)
{
	return db_query_ex(pg, sql, nparams, params, NULL, NULL, false, res_r,
	                   err);
}

/* Hands res to the caller (or clears it) when it succeeded; else fills
 * err from it and clears it. Takes ownership of res. */
static int query_result(PGconn *pg, PGresult *res, PGresult **res_r,
                        struct ktd_error *err)
{
	ExecStatusType st = PQresultStatus(res);
	const char *state;
	char msg[KTD_ERROR_MSG_MAX];

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (res_r)
			*res_r = res;
		else
			PQclear(res);
		return 0;
	}
	snprintf(msg, sizeof(msg), "%s",
	         res ? PQresultErrorMessage(res) : PQerrorMessage(pg));
	msg[strcspn(msg, "\n")] = '\0';
	state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (PQstatus(pg) != CONNECTION_OK)
		ktd_error_set(err, KTD_ERR_UNAVAILABLE,
		              "database connection lost: %s", msg);
	else if (state &&
	         (strcmp(state, "23505") == 0 || strcmp(state, "40001") == 0 ||
	          strcmp(state, "40P01") == 0))
		ktd_error_set(err, KTD_ERR_CONFLICT, "%s", msg);
	else if (state && strcmp(state, "57014") == 0)
		ktd_error_set(err, KTD_ERR_UNAVAILABLE,
		              "database statement timed out: %s", msg);
	else
		ktd_error_set(err, KTD_ERR_INTERNAL, "database error: %s", msg);
	if (err && state)
		snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", state);
	PQclear(res);
	return -1;
}

/* Reads the results of the statements sent while deferring, up to the
 * last sent; the last one's into *res_r when res_r. Returns the first
 * failure among them: a statement after a failed one does not run. A
 * Prepare that did not run is forgotten, with those after it (made in
 * the same pipeline, so not run either). */
static int collect(PGconn *pg, struct prep_cache *pc, PGresult **res_r,
                   struct ktd_error *err)
{
	PGresult *res, *extra;
	unsigned i;
	int ret = 0, r;

	if (PQpipelineSync(pg) != 1)
		ret = query_result(pg, NULL, NULL, err);
	for (i = 0; i < pc->n_pending; i++) {
		res = PQgetResult(pg);
		if (!res) {
			/* The connection went. */
			if (ret == 0)
				ret = query_result(pg, NULL, NULL, err);
			break;
		}
		if (pc->pending[i] >= 0 &&
		    PQresultStatus(res) != PGRES_COMMAND_OK &&
		    (unsigned)pc->pending[i] < pc->n)
			pc->n = (unsigned)pc->pending[i];
		/* A query's results end with a NULL. */
		while ((extra = PQgetResult(pg)))
			PQclear(extra);
		if (ret == 0 && i + 1 == pc->n_pending && res_r)
			ret = query_result(pg, res, res_r, err);
		else if (ret == 0)
			ret = query_result(pg, res, NULL, err);
		else
			PQclear(res);
	}
	pc->n_pending = 0;
	/* The end of the pipeline's sync. */
	while ((res = PQgetResult(pg))) {
		r = PQresultStatus(res) == PGRES_PIPELINE_SYNC;
		PQclear(res);
		if (r)
			break;
	}
	return ret;
}

/* Sent now, its result read later (db_defer_begin): unless the caller
 * wants it now (res_r), or too many wait. */
static int deferred(PGconn *pg, struct prep_cache *pc, int sent,
                    PGresult **res_r, struct ktd_error *err)
{
	if (sent != 1) {
		/* Nothing went: what was sent before is still read. */
		(void)collect(pg, pc, NULL, NULL);
		return query_result(pg, NULL, NULL, err);
	}
	pc->pending[pc->n_pending++] = -1;
	if (res_r || pc->n_pending + 2 > DEFER_MAX)
		return collect(pg, pc, res_r, err);
	return 0;
}

int db_defer_begin(PGconn *pg, struct ktd_error *err)
{
	struct prep_cache *pc = PQinstanceData(pg, prep_event);

	if (!pc)
		return 0;
	if (PQenterPipelineMode(pg) != 1)
		return query_result(pg, NULL, NULL, err);
	pc->deferring = true;
	return 0;
}

int db_defer_end(PGconn *pg, struct ktd_error *err)
{
	struct prep_cache *pc = PQinstanceData(pg, prep_event);
	int ret = 0;

	if (!pc || !pc->deferring)
		return 0;
	pc->deferring = false;
	if (pc->n_pending > 0)
		ret = collect(pg, pc, NULL, err);
	if (PQexitPipelineMode(pg) != 1 && ret == 0)
		ret = query_result(pg, NULL, NULL, err);
	return ret;
}

int db_query_ex(PGconn *pg, const char *sql, int nparams,
                const char *const *params, const int *lengths,
                const int *formats, bool binary_result, PGresult **res_r,
                struct ktd_error *err)
{
	struct prep_cache *pc = PQinstanceData(pg, prep_event);

	if (res_r)
		*res_r = NULL;
	if (pc && pc->deferring)
		return deferred(pg, pc,
		                PQsendQueryParams(pg, sql, nparams, NULL,
		                                  params, lengths, formats,
		                                  binary_result ? 1 : 0),
		                res_r, err);
	return query_result(pg,
	                    PQexecParams(pg, sql, nparams, NULL, params,
	                                 lengths, formats,
	                                 binary_result ? 1 : 0),
	                    res_r, err);
}

static int prep_event(PGEventId id, void *info, void *pass)
{
	struct prep_cache *pc;
	PGconn *pg;

	switch (id) {
	case PGEVT_REGISTER:
		pg = ((PGEventRegister *)info)->conn;
		pc = ktd_calloc(1, sizeof(*pc));
		if (!PQsetInstanceData(pg, prep_event, pc)) {
			free(pc);
			return 0;
		}
		return 1;
	case PGEVT_CONNRESET:
		/* A new session has none of the old one's statements. */
		pc = PQinstanceData(((PGEventConnReset *)info)->conn,
		                    prep_event);
		if (pc)
			pc->n = 0;
		return 1;
	case PGEVT_CONNDESTROY:
		pg = ((PGEventConnDestroy *)info)->conn;
		free(PQinstanceData(pg, prep_event));
		return 1;
	default:
		return 1;
	}
}

int db_query_prepared(PGconn *pg, const char *sql, int nparams,
                      const char *const *params, PGresult **res_r,
                      struct ktd_error *err)
{
	return db_query_prepared_ex(pg, sql, nparams, params, NULL, NULL, false,
	                            res_r, err);
}

int db_query_prepared_ex(PGconn *pg, const char *sql, int nparams,
                         const char *const *params, const int *lengths,
                         const int *formats, bool binary_result,
                         PGresult **res_r, struct ktd_error *err)
{
	struct prep_cache *pc = PQinstanceData(pg, prep_event);
	char name[16];
	unsigned i;

	if (res_r)
		*res_r = NULL;
	if (!pc)
		return db_query_ex(pg, sql, nparams, params, lengths, formats,
		                   binary_result, res_r, err);
	for (i = 0; i < pc->n && pc->sql[i] != sql; i++)
		;
	if (i == DB_PREPARED_MAX)
		/* More statements than foreseen: still correct, unnamed. */
		return db_query_ex(pg, sql, nparams, params, lengths, formats,
		                   binary_result, res_r, err);
	snprintf(name, sizeof(name), "ktd_%u", i);
	if (pc->deferring) {
		if (i == pc->n) {
			if (PQsendPrepare(pg, name, sql, nparams, NULL) != 1)
				return deferred(pg, pc, 0, NULL, err);
			pc->pending[pc->n_pending++] = (int)i;
			pc->sql[pc->n++] = sql;
		}
		return deferred(pg, pc,
		                PQsendQueryPrepared(pg, name, nparams, params,
		                                    lengths, formats,
		                                    binary_result ? 1 : 0),
		                res_r, err);
	}
	if (i == pc->n) {
		/* Not on this connection yet. Prepared statements outlive a
		 * transaction that rolls back, so once made it stays. */
		if (query_result(pg, PQprepare(pg, name, sql, nparams, NULL),
		                 NULL, err) < 0)
			return -1;
		pc->sql[pc->n++] = sql;
	}
	return query_result(pg,
	                    PQexecPrepared(pg, name, nparams, params, lengths,
	                                   formats, binary_result ? 1 : 0),
	                    res_r, err);
}

void db_pool_stats(struct db_pool *pool, struct db_pool_stats *st)
{
	unsigned i;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&pool->mu);
	for (i = 0; i < pool->cfg.size; i++) {
		if (pool->conns[i].in_use)
			st->in_use++;
		else if (pool->conns[i].pg)
			st->idle++;
		else
			st->closed++;
	}
	st->up = !pool->down;
	st->waits = pool->waits;
	st->timeouts = pool->timeouts;
	st->reconnects = pool->reconnects;
	pthread_mutex_unlock(&pool->mu);
}

unsigned db_pool_cancel_all(struct db_pool *pool)
{
	char errbuf[256];
	unsigned i, n = 0;

	pthread_mutex_lock(&pool->mu);
	for (i = 0; i < pool->cfg.size; i++) {
		struct db_conn *conn = &pool->conns[i];

		/* PQcancel is safe to call while another thread uses the
		 * connection; it opens a connection of its own. */
		if (conn->in_use && conn->cancel &&
		    PQcancel(conn->cancel, errbuf, sizeof(errbuf)))
			n++;
	}
	pthread_mutex_unlock(&pool->mu);
	return n;
}
