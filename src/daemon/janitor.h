/* SPDX-License-Identifier: MPL-2.0 */
/* The janitor: a thread that keeps the tables that only grow in check
 * (expired sessions, login failures that no longer count, live events
 * older than [live] retention) and closes calls whose end never arrived,
 * once at start and then every few minutes. */
#ifndef KTD_JANITOR_H
#define KTD_JANITOR_H

#include "daemon/daemon_common.h"

struct db_pool;
struct ktd_janitor;

struct ktd_janitor_config {
	struct db_pool *pool;
	uint64_t login_failure_window_s;
	/* Calls whose last event is older than this and that have not
	 * ended are closed as end_unknown ([cti] end_unknown_after). */
	uint64_t call_end_unknown_after_s;
	uint64_t thread_window_s;  /* [intake] thread_window */
	uint64_t live_retention_s; /* live_events are kept this long */
	uint64_t interval_ms;      /* between rounds */
};

/* Starts the thread; NULL with err if it cannot. */
struct ktd_janitor *ktd_janitor_start(const struct ktd_janitor_config *cfg,
                                      struct ktd_error *err);

/* Stops the thread (waits for a round under way) and frees. */
void ktd_janitor_stop(struct ktd_janitor **j);

#endif
