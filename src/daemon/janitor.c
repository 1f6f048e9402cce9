/* SPDX-License-Identifier: MPL-2.0 */
/* The janitor thread. */
#include "daemon/daemon_common.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "lib/timeutil.h"
#include "core/call.h"
#include "core/cti.h"
#include "daemon/janitor.h"
#include "db/db_call.h"
#include "db/db_case.h"
#include "db/db_auth.h"
#include "db/db_live.h"
#include "db/pool.h"

/* Rows per statement; a round repeats while a batch comes back full, up
 * to ROUND_MAX_BATCHES, so that one round stays short. */
#define BATCH 5000
#define ROUND_MAX_BATCHES 20

struct ktd_janitor {
	struct ktd_janitor_config cfg;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stop;
};

/* Closes calls whose hangup never came: an "ended" event with cause
 * end_unknown, through the same path as the phone system's events.
 * Returns how many, or -1 with err. */
static int sweep_calls(struct ktd_janitor *j, PGconn *pg, struct ktd_error *err)
{
	struct cti_config cfg = {j->cfg.thread_window_s, 0};
	struct cti_event e;
	struct cti_result r;
	PGresult *res = NULL;
	char at[40];
	int i, n, closed = 0;

	if (db_call_stale(pg, j->cfg.call_end_unknown_after_s, BATCH, &res,
	                  err) < 0)
		return -1;
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		memset(&e, 0, sizeof(e));
		ktd_time_rfc3339_now(at, sizeof(at));
		e.call_id = PQgetvalue(res, i, 0);
		e.type = CALL_EV_ENDED;
		e.at = at;
		e.cause = "end_unknown";
		e.source = "sweeper";
		e.once = true;
		if (cti_ingest(pg, &e, &cfg, &r, err) < 0) {
			PQclear(res);
			return -1;
		}
		closed += !r.duplicate;
	}
	PQclear(res);
	return closed;
}

static void round_once(struct ktd_janitor *j)
{
	char quoted[2 * KTD_ERROR_MSG_MAX + 8];
	struct db_conn *conn = NULL;
	struct ktd_error err;
	int64_t sessions = 0, failures = 0, events = 0, s, f, e;
	unsigned i;
	int calls;

	if (db_pool_acquire(j->cfg.pool, &conn, &err) < 0)
		goto fail;
	for (i = 0; i < ROUND_MAX_BATCHES; i++) {
		if (db_auth_prune(db_conn_pg(conn),
		                  j->cfg.login_failure_window_s, BATCH, &s, &f,
		                  &err) < 0) {
			db_pool_release(j->cfg.pool, &conn);
			goto fail;
		}
		sessions += s;
		failures += f;
		if (s < BATCH && f < BATCH)
			break;
	}
	for (i = 0; i < ROUND_MAX_BATCHES; i++) {
		if (db_live_prune(db_conn_pg(conn), j->cfg.live_retention_s,
		                  BATCH, &e, &err) < 0) {
			db_pool_release(j->cfg.pool, &conn);
			goto fail;
		}
		events += e;
		if (e < BATCH)
			break;
	}
	calls = sweep_calls(j, db_conn_pg(conn), &err);
	if (calls >= 0 && db_case_reference_prepare(db_conn_pg(conn), &err) < 0)
		/* Not fatal: the year's cases are numbered from the counter
		 * row instead (one case-making transaction at a time). */
		ktd_log_warnx("event=case_reference_prepare_failed msg=%s",
		              ktd_log_quote(err.msg, quoted, sizeof(quoted)));
	db_pool_release(j->cfg.pool, &conn);
	if (calls < 0)
		goto fail;
	ktd_log(sessions || failures || events || calls ? KTD_LOG_INFO
	                                                : KTD_LOG_DEBUG,
	        "event=janitor sessions_deleted=%lld "
	        "login_failures_deleted=%lld live_events_deleted=%lld "
	        "calls_ended_unknown=%d",
	        (long long)sessions, (long long)failures, (long long)events,
	        calls);
	return;
fail:
	/* The database may be away; the next round tries again. */
	ktd_log_warnx("event=janitor_failed msg=%s",
	              ktd_log_quote(err.msg, quoted, sizeof(quoted)));
}

static void *run(void *arg)
{
	struct ktd_janitor *j = arg;
	struct timespec until;

	pthread_mutex_lock(&j->mu);
	while (!j->stop) {
		pthread_mutex_unlock(&j->mu);
		round_once(j);
		pthread_mutex_lock(&j->mu);
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += (time_t)(j->cfg.interval_ms / 1000);
		until.tv_nsec += (long)(j->cfg.interval_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!j->stop && pthread_cond_timedwait(&j->cond, &j->mu,
		                                          &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

struct ktd_janitor *ktd_janitor_start(const struct ktd_janitor_config *cfg,
                                      struct ktd_error *err)
{
	struct ktd_janitor *j = ktd_calloc(1, sizeof(*j));
	pthread_condattr_t ca;
	int r;

	j->cfg = *cfg;
	pthread_mutex_init(&j->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cond, &ca);
	pthread_condattr_destroy(&ca);
	r = pthread_create(&j->thread, NULL, run, j);
	if (r != 0) {
		pthread_cond_destroy(&j->cond);
		pthread_mutex_destroy(&j->mu);
		free(j);
		ktd_error_set(err, KTD_ERR_INTERNAL,
		              "cannot start the janitor thread: %s",
		              strerror(r));
		return NULL;
	}
	return j;
}

void ktd_janitor_stop(struct ktd_janitor **jp)
{
	struct ktd_janitor *j = *jp;

	if (!j)
		return;
	pthread_mutex_lock(&j->mu);
	j->stop = true;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->mu);
	pthread_join(j->thread, NULL);
	pthread_cond_destroy(&j->cond);
	pthread_mutex_destroy(&j->mu);
	free(j);
	*jp = NULL;
}
