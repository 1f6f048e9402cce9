/* SPDX-License-Identifier: MPL-2.0 */
/* The live hub: LISTEN, read new events, fan them out to subscribers. */
#include "core/core_common.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "lib/timeutil.h"
#include "core/live.h"
#include "db/db_live.h"
#include "db/pool.h"

/* Events read per statement. */
#define FETCH_BATCH 256
/* Between connection attempts while the database is away. */
#define BACKOFF_MIN_MS 100u
#define BACKOFF_MAX_MS 5000u

enum sub_state {
	SUB_PENDING, /* its client is being brought up to date */
	SUB_ACTIVE,  /* gets every event as it comes */
};

struct live_sub {
	const struct live_sub_ops *ops;
	void *arg;
	struct auth_credential cred;
	enum sub_state state;
	/* Events up to this id have reached the client another way. */
	int64_t after;
	/* SUB_PENDING: the events kept for it. */
	struct live_event **pending;
	size_t npending, cap, pending_bytes;
	bool overflow;
	struct live_sub *next;
};

struct live_hub {
	struct live_hub_config cfg;
	struct db_pool_config db;
	char *conninfo, *password_file, *application_name;

	pthread_mutex_t mu;
	/* Guarded by mu. */
	struct live_sub *subs;
	unsigned nsubs;
	int64_t position;
	bool stopping;

	/* The thread's own. */
	pthread_t thread;
	PGconn *pg;
	int wake[2];
	bool down_logged;

	atomic_bool listening;
	atomic_ullong events;
};

void live_event_ref(struct live_event *ev)
{
	atomic_fetch_add(&ev->refs, 1);
}

void live_event_unref(struct live_event **evp)
{
	struct live_event *ev = *evp;

	if (!ev)
		return;
	*evp = NULL;
	if (atomic_fetch_sub(&ev->refs, 1) == 1) {
		free(ev->data);
		free(ev);
	}
}

/* A new event from a row, taking its data. */
static struct live_event *event_from_row(struct db_live_row *row)
{
	struct live_event *ev = ktd_calloc(1, sizeof(*ev));

	atomic_init(&ev->refs, 1);
	ev->id = row->id;
	ktd_strlcpy(ev->type, row->type, sizeof(ev->type));
	ev->data = row->data;
	ev->data_len = row->data_len;
	row->data = NULL;
	return ev;
}

static void sub_destroy(struct live_sub *sub)
{
	size_t i;

	for (i = 0; i < sub->npending; i++)
		live_event_unref(&sub->pending[i]);
	free(sub->pending);
	sub->ops->release(sub->arg);
	free(sub);
}

/* Takes sub out of the list; called with mu held. */
static void sub_unlink(struct live_hub *hub, struct live_sub *sub)
{
	struct live_sub **pp;

	for (pp = &hub->subs; *pp; pp = &(*pp)->next) {
		if (*pp == sub) {
			*pp = sub->next;
			hub->nsubs--;
			return;
		}
	}
}

static void pending_add(struct live_hub *hub, struct live_sub *sub,
                        struct live_event *ev)
{
	if (sub->overflow)
		return;
	if (sub->pending_bytes + ev->data_len > hub->cfg.pending_max) {
		sub->overflow = true;
		return;
	}
	if (sub->npending == sub->cap) {
		sub->cap = sub->cap ? 2 * sub->cap : 16;
		sub->pending = ktd_realloc(sub->pending,
		                           sub->cap * sizeof(*sub->pending));
	}
	live_event_ref(ev);
	sub->pending[sub->npending++] = ev;
	sub->pending_bytes += ev->data_len;
}

/* Hands ev to every subscriber; called with mu held. */
static void fan_out(struct live_hub *hub, struct live_event *ev)
{
	struct live_sub **pp = &hub->subs, *sub;

	while ((sub = *pp) != NULL) {
		if (sub->state == SUB_PENDING) {
			pending_add(hub, sub, ev);
		} else if (ev->id > sub->after &&
		           sub->ops->deliver(sub->arg, ev) < 0) {
			*pp = sub->next;
			hub->nsubs--;
			sub_destroy(sub);
			continue;
		}
		pp = &sub->next;
	}
}

static void hub_lost(struct live_hub *hub, const struct ktd_error *err)
{
	char quoted[2 * KTD_ERROR_MSG_MAX + 8];

	PQfinish(hub->pg);
	hub->pg = NULL;
	atomic_store(&hub->listening, false);
	if (!hub->down_logged)
		ktd_log_warnx("event=live_db_lost msg=%s "
		              "action=\"reconnecting; no event is lost\"",
		              ktd_log_quote(err->msg, quoted, sizeof(quoted)));
	hub->down_logged = true;
}

/* Reads every event after the position and fans each out. Notifications
 * that came meanwhile are consumed: the read covers them. */
static int hub_fetch(struct live_hub *hub, struct ktd_error *err)
{
	struct db_live_rows rows;
	PGnotify *note;
	bool more;
	size_t i;

	do {
		uint64_t t0 = ktd_time_mono_us(), read_us;

		if (db_live_read(hub->pg, hub->position, FETCH_BATCH, &rows,
		                 err) < 0)
			return -1;
		read_us = ktd_time_mono_us() - t0;
		for (i = 0; i < rows.n; i++) {
			struct live_event *ev = event_from_row(&rows.items[i]);
			unsigned subs;

			t0 = ktd_time_mono_us();
			pthread_mutex_lock(&hub->mu);
			fan_out(hub, ev);
			hub->position = ev->id;
			subs = hub->nsubs;
			pthread_mutex_unlock(&hub->mu);
			atomic_fetch_add(&hub->events, 1);
			ktd_log_debug(
			        "event=live_event id=%lld type=%s "
			        "bytes=%zu subscribers=%u batch=%zu "
			        "read_us=%llu fan_out_us=%llu",
			        (long long)ev->id, ev->type, ev->data_len, subs,
			        rows.n, (unsigned long long)read_us,
			        (unsigned long long)(ktd_time_mono_us() - t0));
			live_event_unref(&ev);
		}
		more = rows.n == FETCH_BATCH;
		db_live_rows_free(&rows);
		while ((note = PQnotifies(hub->pg)) != NULL) {
			PQfreemem(note);
			more = true;
		}
	} while (more);
	return 0;
}

/* Connects and LISTENs. */
static int hub_connect(struct live_hub *hub, struct ktd_error *err)
{
	hub->pg = db_connect(&hub->db, err);
	if (!hub->pg)
		return -1;
	if (db_live_listen(hub->pg, err) < 0) {
		PQfinish(hub->pg);
		hub->pg = NULL;
		return -1;
	}
	atomic_store(&hub->listening, true);
	return 0;
}

/* Waits up to ms for the wake pipe; returns false when stopping. */
static bool hub_wait(struct live_hub *hub, int pg_fd, uint64_t ms,
                     bool *pg_ready_r)
{
	struct pollfd pfd[2];
	char drain[64];
	nfds_t n = 1;
	bool stopping;

	pfd[0].fd = hub->wake[0];
	pfd[0].events = POLLIN;
	pfd[0].revents = 0;
	if (pg_fd >= 0) {
		pfd[1].fd = pg_fd;
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		n = 2;
	}
	if (poll(pfd, n, ms > 60000 ? 60000 : (int)ms) < 0 && errno != EINTR)
		ktd_log_warn("event=live_poll");
	if (pfd[0].revents & POLLIN) {
		while (read(hub->wake[0], drain, sizeof(drain)) > 0)
			;
	}
	if (pg_ready_r)
		*pg_ready_r = n == 2 && (pfd[1].revents != 0);
	pthread_mutex_lock(&hub->mu);
	stopping = hub->stopping;
	pthread_mutex_unlock(&hub->mu);
	return !stopping;
}

/* Drops subscribers whose client has gone and ends those whose
 * credentials no longer hold. */
static int hub_tick(struct live_hub *hub, struct ktd_error *err)
{
	struct live_sub **subs = NULL, **pp, *sub;
	struct auth_credential *creds = NULL;
	bool *valid = NULL;
	size_t n = 0, i;
	int ret = 0;

	pthread_mutex_lock(&hub->mu);
	pp = &hub->subs;
	while ((sub = *pp) != NULL) {
		if (sub->state == SUB_ACTIVE && sub->ops->gone(sub->arg)) {
			*pp = sub->next;
			hub->nsubs--;
			sub_destroy(sub);
			continue;
		}
		pp = &sub->next;
	}
	/* Active subscribers leave the list only on this thread, so the
	 * pointers stay good while the lock is let go for the query. */
	subs = ktd_calloc(hub->nsubs ? hub->nsubs : 1, sizeof(*subs));
	creds = ktd_calloc(hub->nsubs ? hub->nsubs : 1, sizeof(*creds));
	for (sub = hub->subs; sub; sub = sub->next) {
		if (sub->state != SUB_ACTIVE)
			continue;
		subs[n] = sub;
		creds[n++] = sub->cred;
	}
	pthread_mutex_unlock(&hub->mu);
	if (n == 0 || !hub->pg)
		goto out;
	valid = ktd_calloc(n, sizeof(*valid));
	if (auth_still_valid(hub->pg, creds, n, valid, err) < 0) {
		ret = -1;
		goto out;
	}
	pthread_mutex_lock(&hub->mu);
	for (i = 0; i < n; i++) {
		if (valid[i])
			continue;
		subs[i]->ops->end(subs[i]->arg, "credentials");
		sub_unlink(hub, subs[i]);
		sub_destroy(subs[i]);
	}
	pthread_mutex_unlock(&hub->mu);
out:
	free(subs);
	free(creds);
	free(valid);
	return ret;
}

static void *hub_run(void *arg)
{
	struct live_hub *hub = arg;
	uint64_t backoff = BACKOFF_MIN_MS;
	uint64_t next_tick = ktd_time_mono_ms() + hub->cfg.tick_ms;
	struct ktd_error err;

	for (;;) {
		uint64_t now = ktd_time_mono_ms();
		bool ready = false;

		if (!hub->pg) {
			if (hub_connect(hub, &err) < 0) {
				if (!hub_wait(hub, -1, backoff, NULL))
					break;
				backoff = backoff * 2 > BACKOFF_MAX_MS
				                  ? BACKOFF_MAX_MS
				                  : backoff * 2;
				continue;
			}
			backoff = BACKOFF_MIN_MS;
			if (hub->down_logged)
				ktd_log_info("event=live_db_up position=%lld "
				             "msg=\"listening again; catching "
				             "up\"",
				             (long long)hub->position);
			hub->down_logged = false;
			/* What was committed while the connection was away. */
			if (hub_fetch(hub, &err) < 0) {
				hub_lost(hub, &err);
				continue;
			}
		}
		if (!hub_wait(hub, PQsocket(hub->pg),
		              next_tick > now ? next_tick - now : 0, &ready))
			break;
		if (ready) {
			if (!PQconsumeInput(hub->pg)) {
				ktd_error_set(&err, KTD_ERR_UNAVAILABLE, "%s",
				              PQerrorMessage(hub->pg));
				err.msg[strcspn(err.msg, "\n")] = '\0';
				hub_lost(hub, &err);
				continue;
			}
			if (hub_fetch(hub, &err) < 0) {
				hub_lost(hub, &err);
				continue;
			}
		}
		if (ktd_time_mono_ms() >= next_tick) {
			next_tick = ktd_time_mono_ms() + hub->cfg.tick_ms;
			if (hub_tick(hub, &err) < 0)
				hub_lost(hub, &err);
		}
	}
	PQfinish(hub->pg);
	hub->pg = NULL;
	return NULL;
}

static void hub_free(struct live_hub *hub)
{
	if (hub->wake[0] >= 0)
		close(hub->wake[0]);
	if (hub->wake[1] >= 0)
		close(hub->wake[1]);
	PQfinish(hub->pg);
	pthread_mutex_destroy(&hub->mu);
	free(hub->conninfo);
	free(hub->password_file);
	free(hub->application_name);
	free(hub);
}

struct live_hub *live_hub_start(const struct live_hub_config *cfg,
                                struct ktd_error *err)
{
	struct live_hub *hub = ktd_calloc(1, sizeof(*hub));
	int r;

	hub->cfg = *cfg;
	hub->db = *cfg->db;
	hub->conninfo = ktd_strdup(cfg->db->conninfo ? cfg->db->conninfo : "");
	hub->password_file = ktd_strdup(
	        cfg->db->password_file ? cfg->db->password_file : "");
	/* Its own name, so that it is told apart in pg_stat_activity. */
	hub->application_name = ktd_strdup("kontaktd-live");
	hub->db.conninfo = hub->conninfo;
	hub->db.password_file = hub->password_file;
	hub->db.application_name = hub->application_name;
	hub->cfg.db = &hub->db;
	pthread_mutex_init(&hub->mu, NULL);
	atomic_init(&hub->listening, false);
	atomic_init(&hub->events, 0);
	hub->wake[0] = hub->wake[1] = -1;
	if (pipe2(hub->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		ktd_error_set(err, KTD_ERR_INTERNAL, "pipe: %s",
		              strerror(errno));
		goto fail;
	}
	if (hub_connect(hub, err) < 0 ||
	    db_live_position(hub->pg, &hub->position, err) < 0)
		goto fail;
	r = pthread_create(&hub->thread, NULL, hub_run, hub);
	if (r != 0) {
		ktd_error_set(err, KTD_ERR_INTERNAL,
		              "cannot start the live thread: %s", strerror(r));
		goto fail;
	}
	ktd_log_info("event=live_listening position=%lld",
	             (long long)hub->position);
	return hub;
fail:
	hub_free(hub);
	return NULL;
}

void live_hub_stop(struct live_hub **hubp)
{
	struct live_hub *hub = *hubp;
	struct live_sub *sub;

	if (!hub)
		return;
	pthread_mutex_lock(&hub->mu);
	hub->stopping = true;
	pthread_mutex_unlock(&hub->mu);
	if (write(hub->wake[1], "x", 1) < 0 && errno != EAGAIN)
		ktd_log_warn("event=live_wake");
	pthread_join(hub->thread, NULL);
	while ((sub = hub->subs) != NULL) {
		hub->subs = sub->next;
		sub_destroy(sub);
	}
	hub_free(hub);
	*hubp = NULL;
}

struct live_sub *live_hub_subscribe(struct live_hub *hub,
                                    const struct live_sub_ops *ops, void *arg,
                                    const struct auth_credential *cred,
                                    int64_t *position_r)
{
	struct live_sub *sub = ktd_calloc(1, sizeof(*sub));

	sub->ops = ops;
	sub->arg = arg;
	sub->cred = *cred;
	sub->state = SUB_PENDING;
	pthread_mutex_lock(&hub->mu);
	if (hub->stopping) {
		pthread_mutex_unlock(&hub->mu);
		free(sub);
		return NULL;
	}
	sub->next = hub->subs;
	hub->subs = sub;
	hub->nsubs++;
	*position_r = hub->position;
	pthread_mutex_unlock(&hub->mu);
	return sub;
}

void live_hub_activate(struct live_hub *hub, struct live_sub *sub,
                       int64_t after)
{
	bool drop = false;
	size_t i;

	pthread_mutex_lock(&hub->mu);
	sub->after = after;
	if (sub->overflow) {
		/* More came during the replay than a client may lag. */
		sub->ops->end(sub->arg, "overflow");
		drop = true;
	}
	for (i = 0; i < sub->npending && !drop; i++) {
		if (sub->pending[i]->id > after &&
		    sub->ops->deliver(sub->arg, sub->pending[i]) < 0)
			drop = true;
	}
	for (i = 0; i < sub->npending; i++)
		live_event_unref(&sub->pending[i]);
	sub->npending = 0;
	sub->pending_bytes = 0;
	sub->state = SUB_ACTIVE;
	if (drop) {
		sub_unlink(hub, sub);
		sub_destroy(sub);
	}
	pthread_mutex_unlock(&hub->mu);
}

void live_hub_cancel(struct live_hub *hub, struct live_sub *sub)
{
	pthread_mutex_lock(&hub->mu);
	sub_unlink(hub, sub);
	sub_destroy(sub);
	pthread_mutex_unlock(&hub->mu);
}

void live_hub_stats(struct live_hub *hub, struct live_hub_stats *st)
{
	pthread_mutex_lock(&hub->mu);
	st->subscribers = hub->nsubs;
	st->position = hub->position;
	pthread_mutex_unlock(&hub->mu);
	st->listening = atomic_load(&hub->listening);
	st->events = atomic_load(&hub->events);
}

int live_position(PGconn *pg, int64_t *id_r, struct ktd_error *err)
{
	return db_live_position(pg, id_r, err);
}

const char *live_replay_result_name(enum live_replay_result r)
{
	switch (r) {
	case LIVE_REPLAY_OK:
		return "ok";
	case LIVE_REPLAY_PRUNED:
		return "pruned";
	case LIVE_REPLAY_TOO_MANY:
		return "too_many";
	case LIVE_REPLAY_UNKNOWN:
		return "unknown";
	}
	return "unknown";
}

int live_replay(PGconn *pg, int64_t last_seen, unsigned max, size_t max_bytes,
                size_t overhead, live_replay_fn *fn, void *arg,
                struct live_replay_out *out, struct ktd_error *err)
{
	struct db_live_replay rp;
	size_t i, bytes = 0;

	memset(out, 0, sizeof(*out));
	out->result = LIVE_REPLAY_OK;
	out->last_id = last_seen;
	if (db_live_replay(pg, last_seen, INT64_MAX, max + 1, &rp, err) < 0)
		return -1;
	out->newest = rp.newest;
	if (last_seen < rp.pruned_upto)
		out->result = LIVE_REPLAY_PRUNED;
	else if (last_seen > rp.newest)
		out->result = LIVE_REPLAY_UNKNOWN;
	else if (rp.rows.n > max)
		out->result = LIVE_REPLAY_TOO_MANY;
	for (i = 0; out->result == LIVE_REPLAY_OK && i < rp.rows.n; i++) {
		bytes += rp.rows.items[i].data_len + overhead;
		if (bytes > max_bytes)
			out->result = LIVE_REPLAY_TOO_MANY;
	}
	for (i = 0; out->result == LIVE_REPLAY_OK && i < rp.rows.n; i++) {
		struct live_event ev;

		memset(&ev, 0, sizeof(ev));
		ev.id = rp.rows.items[i].id;
		ktd_strlcpy(ev.type, rp.rows.items[i].type, sizeof(ev.type));
		ev.data = rp.rows.items[i].data;
		ev.data_len = rp.rows.items[i].data_len;
		if (fn(arg, &ev) < 0)
			break;
		out->count++;
		out->last_id = ev.id;
	}
	db_live_rows_free(&rp.rows);
	return 0;
}
