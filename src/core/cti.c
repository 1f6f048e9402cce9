/* SPDX-License-Identifier: MPL-2.0 */
/* Call events: store once, derive the call, make its contact. */
#include "core/core_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "db/tx.h"
#include "db/db_call.h"
#include "db/db_callback.h"
#include "db/db_case.h"
#include "db/db_live.h"
#include "core/cti.h"
#include "core/intake.h"

/* The first event of a call: its contact (through intake) and its row. */
static int make_call(PGconn *pg, const struct cti_event *e,
                     const struct cti_config *cfg, struct cti_result *out,
                     struct intake_result *ir, struct ktd_error *err)
{
	struct intake_contact in;
	struct intake_config icfg = {cfg->thread_window_s};
	struct db_call_new c;
	bool inbound = !e->direction || strcmp(e->direction, "in") == 0;
	const char *citizen = inbound ? e->from : e->to;

	memset(&in, 0, sizeof(in));
	in.channel = "phone";
	in.direction = inbound ? "in" : "out";
	in.external_id = e->call_id;
	in.occurred_at = e->at;
	in.from_addr = e->from;
	in.to_addr = e->to;
	in.queue = e->queue;
	/* Only a real outside number is the citizen's: not an extension,
	 * not a withheld one. */
	in.citizen_phone = citizen && citizen[0] == '+' ? citizen : NULL;
	in.actor_token_name = e->token_name;
	in.peer = e->peer;
	if (intake_submit_tx(pg, &in, &icfg, ir, err) < 0)
		return -1;
	out->case_id = ir->case_id;
	out->contact_id = ir->contact_id;
	memset(&c, 0, sizeof(c));
	c.contact_id = ir->contact_id;
	c.call_id = e->call_id;
	c.orig_call_id = e->orig_call_id;
	c.direction = in.direction;
	c.from_number = e->from;
	c.to_number = e->to;
	c.offered_at = e->at;
	out->new_call = true;
	return db_call_insert(pg, &c, &out->call_row_id, err);
}

/* Derives the call from all its events and stores the result. */
static int derive(PGconn *pg, struct cti_result *out, char prev[16],
                  struct ktd_error *err)
{
	struct db_call_events rows;
	struct call_event *ev;
	struct call_state st;
	struct db_call_derived d;
	size_t i, n = 0;
	int r;

	if (db_call_events(pg, out->call_row_id, &rows, err) < 0)
		return -1;
	ev = ktd_calloc(rows.n ? rows.n : 1, sizeof(*ev));
	for (i = 0; i < rows.n; i++) {
		int t = call_event_parse(rows.items[i].event);

		if (t < 0)
			continue; /* the table's CHECK allows no other */
		ev[n].type = (enum call_event_type)t;
		ev[n].at_us = rows.items[i].at_us;
		ev[n].agent = rows.items[i].agent;
		ev[n].target = rows.items[i].target;
		ev[n].queue = rows.items[i].queue;
		ev[n].cause = rows.items[i].cause;
		n++;
	}
	call_derive(ev, n, &st);
	memset(&d, 0, sizeof(d));
	d.state = st.state;
	d.offered_us = st.offered_us;
	d.queued_us = st.queued_us;
	d.answered_us = st.answered_us;
	d.ended_us = st.ended_us;
	d.answered_by = st.answered_by;
	d.queue = st.queue;
	d.transferred_to = st.transferred_to;
	d.transfers = st.transfers;
	d.returns = st.returns;
	d.diversions = st.diversions;
	d.callback_requested = st.callback_requested;
	d.end_cause = st.end_cause;
	d.outcome = st.outcome;
	d.wait_ms = st.wait_ms;
	d.talk_ms = st.talk_ms;
	r = db_call_update(pg, out->call_row_id, &d, prev, err);
	ktd_strlcpy(out->state, st.state, sizeof(out->state));
	free(ev);
	db_call_events_free(&rows);
	return r;
}

/* Whether e tells the call something it does not know (most events
 * repeat the numbers: then db_call_fill is not needed). */
static bool adds_to(const struct cti_event *e, const struct db_call_known *k)
{
	return (e->from && !k->from) || (e->to && !k->to) ||
	       (e->orig_call_id && !k->orig_call_id) ||
	       (e->direction && strcmp(e->direction, k->direction) != 0);
}

/* A later event brought the citizen's number that the call's first event
 * lacked (an answer or hangup that arrived before the offer): the call
 * joins the caller's history now. Returns 1 when it moved to the caller's
 * open case (the case it had made is closed as merged into that one), 0,
 * -1. */
static int learn_caller(PGconn *pg, const struct cti_event *e,
                        const struct db_call_known *known,
                        const struct cti_config *cfg, struct cti_result *out,
                        struct ktd_error *err)
{
	struct intake_config icfg = {cfg->thread_window_s};
	const char *dir = e->direction ? e->direction : known->direction;
	bool inbound = strcmp(dir, "out") != 0;
	const char *citizen = inbound ? e->from : e->to;
	bool knew = inbound ? known->from : known->to;
	int64_t from_case = out->case_id, target = 0;
	int r;

	if (knew || !citizen || citizen[0] != '+')
		return 0;
	r = intake_learn_phone(pg, out->case_id, out->contact_id, citizen,
	                       &icfg, &target, err);
	if (r != 1)
		return r;
	out->case_id = target;
	if (db_case_notify(pg, "case.updated", from_case, err) < 0)
		return -1;
	return 1;
}

/* Takes in e inside the caller's transaction, which holds the call's lock.
 * A repeat returns 0 with out->duplicate: it may have filled numbers the
 * call lacked, nothing else (cti_ingest rolls that back). */
static int ingest_tx(PGconn *pg, const struct cti_event *e,
                     const struct cti_config *cfg, struct cti_result *out,
                     struct ktd_error *err)
{
	struct intake_result *ir = &out->intake;
	struct db_call_event_new ne;
	struct db_call_known known;
	char prev[16] = "", type[32];
	bool rethreaded = false;
	int r;

	memset(out, 0, sizeof(*out));
	r = db_call_find(pg, e->call_id, &out->call_row_id, &out->contact_id,
	                 &out->case_id, &known, err);
	if (r < 0)
		return -1;
	if (r == 0 && make_call(pg, e, cfg, out, ir, err) < 0)
		return -1;
	if (r == 1 && adds_to(e, &known)) {
		/* Threads the call first: db_call_fill gives the number to
		 * the case the call is on then. */
		r = learn_caller(pg, e, &known, cfg, out, err);
		if (r < 0)
			return -1;
		rethreaded = r == 1;
		if (db_call_fill(pg, out->call_row_id, e->from, e->to,
		                 e->direction, e->orig_call_id, err) < 0)
			return -1;
	}

	memset(&ne, 0, sizeof(ne));
	ne.event = call_event_name(e->type);
	ne.at = e->at;
	ne.agent = e->agent;
	ne.target = e->target;
	ne.queue = e->queue;
	ne.cause = e->cause;
	ne.source = e->source;
	/* r: 1 stored, 0 a repeat. */
	r = 0;
	if (e->once && !out->new_call)
		r = db_call_has_event(pg, out->call_row_id, ne.event, err);
	if (r == 0)
		r = db_call_event_insert(pg, out->call_row_id, &ne, err);
	else if (r == 1)
		r = 0;
	if (r < 0)
		return -1;
	if (r == 0) {
		/* The same event again: nothing to change. (A new call
		 * cannot get here: its first event is new.) */
		out->duplicate = true;
		return 0;
	}
	/* A forward that came back: said so by the phone system, or the
	 * caller is back on the case's line soon after the forward. */
	if (e->type == CALL_EV_TRANSFER_RETURNED ||
	    (((out->new_call && !ir->new_case && !ir->duplicate) ||
	      rethreaded) &&
	     cfg->return_window_s > 0)) {
		r = db_case_forward_returned(
		        pg, out->case_id, e->at,
		        e->type == CALL_EV_TRANSFER_RETURNED
		                ? 0
		                : cfg->return_window_s,
		        err);
		if (r < 0)
			return -1;
		out->returned = r == 1;
	}
	/* The IVR asked for a callback: a task, once per call, to the
	 * number given (target) or the caller's. */
	if (e->type == CALL_EV_CALLBACK_REQUESTED) {
		char number[CALL_NUMBER_SIZE];
		bool given =
		        e->target && call_number_normalise(e->target, number) ==
		                             CALL_NUMBER_E164;

		r = db_callback_from_call(pg, out->call_row_id,
		                          given ? number : NULL, err);
		if (r < 0)
			return -1;
	}
	if (derive(pg, out, prev, err) < 0)
		return -1;
	if ((out->returned || rethreaded) &&
	    db_case_notify(pg, "case.updated", out->case_id, err) < 0)
		return -1;
	if (out->new_call || strcmp(prev, out->state) != 0) {
		/* The live event carries the call (and the screen pop). */
		snprintf(type, sizeof(type), "call.%s", out->state);
		if (db_live_add(pg, type, out->case_id, out->call_row_id, err) <
		    0)
			return -1;
	}
	return 0;
}

/* The log line of a committed event that made a call. */
static void log_new_call(const struct cti_result *out)
{
	if (out->new_call && !out->intake.duplicate) {
		struct intake_contact in = {.channel = "phone"};

		intake_log(&in, &out->intake);
	}
}

int cti_ingest(PGconn *pg, const struct cti_event *e,
               const struct cti_config *cfg, struct cti_result *out,
               struct ktd_error *err)
{
	char key[256];

	memset(out, 0, sizeof(*out));
	if (db_tx_begin(pg, err) < 0)
		return -1;
	/* Every event of one call waits here for the one before it. */
	snprintf(key, sizeof(key), "cti:%s", e->call_id);
	if (db_case_lock_key(pg, key, err) < 0 ||
	    ingest_tx(pg, e, cfg, out, err) < 0)
		goto fail;
	if (out->duplicate) {
		db_tx_rollback(pg);
		return 0;
	}
	if (db_tx_commit(pg, err) < 0) {
		intake_explain(err);
		return -1;
	}
	log_new_call(out);
	return 0;
fail:
	db_tx_rollback(pg);
	intake_explain(err);
	return -1;
}

int cti_ingest_batch(PGconn *pg, const struct cti_event *events, size_t n,
                     const struct cti_config *cfg, struct cti_result *out,
                     struct ktd_error *err)
{
	const char **keys;
	char(*bufs)[256];
	size_t i;
	int ret = -1;

	keys = ktd_calloc(n ? n : 1, sizeof(*keys));
	bufs = ktd_calloc(n ? n : 1, sizeof(*bufs));
	for (i = 0; i < n; i++) {
		snprintf(bufs[i], sizeof(bufs[i]), "cti:%s", events[i].call_id);
		keys[i] = bufs[i];
	}
	if (db_tx_begin(pg, err) < 0)
		goto out;
	/* Every call of the batch locked at once, in one order for all
	 * batches: two batches never wait for each other in a circle over
	 * their calls. */
	if (db_case_lock_keys(pg, keys, n, err) < 0)
		goto fail;
	for (i = 0; i < n; i++)
		if (ingest_tx(pg, &events[i], cfg, &out[i], err) < 0)
			goto fail;
	if (db_tx_commit(pg, err) < 0)
		goto fail_committed;
	for (i = 0; i < n; i++)
		log_new_call(&out[i]);
	ret = 0;
	goto out;
fail:
	db_tx_rollback(pg);
fail_committed:
	intake_explain(err);
out:
	free(bufs);
	free(keys);
	return ret;
}
