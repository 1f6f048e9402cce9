/* SPDX-License-Identifier: MPL-2.0 */
/* Call events: store once, derive the call, make its contact.
 *
 * Every event is taken in as part of a batch (one event alone is a batch
 * of one), in one transaction, set-based: the batch's calls and all their
 * stored events are read in one statement; each event is then checked
 * for a repeat and the call derived in memory, in the batch's order; the
 * new events, the calls' derived states and the calls' live events are
 * written with one statement each at the end. Only what is rare or makes
 * something new (a new call's contact through intake, a returned forward,
 * a callback, a number learnt late) runs as its own statements on the
 * way. PostgreSQL spends a fixed ~50 µs on every statement beside the
 * work of its rows; an event cost ~8 of them before (tools/bench cti). */
#include "core/core_common.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "db/pool.h"
#include "db/tx.h"
#include "db/db_call.h"
#include "db/db_callback.h"
#include "db/db_case.h"
#include "db/db_live.h"
#include "core/case.h"
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
	in.locks_held = true; /* lock_new_calls */
	in.live_later = true; /* finish */
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

/* One call of a batch. */
struct bcall {
	const char *call_id; /* its first event's */
	size_t first;        /* its first event */
	int64_t row_id;      /* 0: not made yet */
	int64_t contact_id, case_id;
	/* The contact's time as stored (INT64_MIN: not known). */
	int64_t contact_at_us;
	struct db_call_known known;
	char state[16];        /* as stored before the batch, then as derived */
	struct call_event *ev; /* stored and new events */
	size_t nev, cap;
	bool touched;         /* the batch stored an event of it */
	struct call_state st; /* derived from ev, once touched */
};

/* A live event written at the end of the batch: a call's, with the call
 * as this event left it, or (call_row_id 0) a new call's case's. */
struct blive {
	char type[32];
	int64_t case_id, call_row_id;
	struct call_state st;
};

struct batch {
	PGconn *pg;
	const struct cti_config *cfg;
	const struct cti_event *events;
	size_t n;
	struct cti_result *out;
	int64_t *at_us;      /* of events[i], as PostgreSQL stores it */
	size_t *call_of;     /* events[i] is of calls[call_of[i]] */
	struct bcall *calls; /* by call_id */
	size_t ncalls;
	struct db_call_event_new *add; /* the new events, in order */
	size_t nadd;
	struct blive *live;
	size_t nlive;
	struct db_call_load loaded; /* owns the stored events' strings */
};

/* An event's place in the batch, sorted by its call. */
struct by_call {
	const char *call_id;
	size_t i;
};

static int cmp_by_call(const void *a, const void *b)
{
	const struct by_call *x = a, *y = b;
	int c = strcmp(x->call_id, y->call_id);

	return c ? c : (x->i > y->i) - (x->i < y->i);
}

static int cmp_call_id(const void *key, const void *elem)
{
	return strcmp(key, ((const struct bcall *)elem)->call_id);
}

/* The batch's calls, each once, sorted by call_id. */
static void group(struct batch *b)
{
	struct by_call *s = ktd_calloc(b->n, sizeof(*s));
	size_t i;

	for (i = 0; i < b->n; i++) {
		s[i].call_id = b->events[i].call_id;
		s[i].i = i;
	}
	qsort(s, b->n, sizeof(*s), cmp_by_call);
	b->calls = ktd_calloc(b->n, sizeof(*b->calls));
	for (i = 0; i < b->n; i++) {
		if (b->ncalls == 0 || strcmp(b->calls[b->ncalls - 1].call_id,
		                             s[i].call_id) != 0) {
			b->calls[b->ncalls].call_id = s[i].call_id;
			b->calls[b->ncalls++].first = s[i].i;
		}
		b->call_of[s[i].i] = b->ncalls - 1;
	}
	free(s);
}

static void push_event(struct bcall *bc, const struct call_event *ev)
{
	if (bc->nev == bc->cap) {
		bc->cap = bc->cap ? 2 * bc->cap : 8;
		bc->ev = ktd_realloc(bc->ev, bc->cap * sizeof(*bc->ev));
	}
	bc->ev[bc->nev++] = *ev;
}

/* The stored calls of the batch with their events. */
static int load(struct batch *b, struct ktd_error *err)
{
	const char **ids = ktd_calloc(b->ncalls, sizeof(*ids));
	size_t i;
	int r;

	for (i = 0; i < b->ncalls; i++)
		ids[i] = b->calls[i].call_id;
	r = db_call_load(b->pg, ids, b->ncalls, &b->loaded, err);
	free(ids);
	if (r < 0)
		return -1;
	for (i = 0; i < b->loaded.n; i++) {
		const struct db_call_loaded *l = &b->loaded.items[i];
		struct bcall *bc = bsearch(l->call_id, b->calls, b->ncalls,
		                           sizeof(*bc), cmp_call_id);
		struct call_event ev;
		int t;

		if (!bc)
			continue; /* cannot be: asked for by call_id */
		if (bc->row_id == 0) {
			bc->row_id = l->id;
			bc->contact_id = l->contact_id;
			bc->case_id = l->case_id;
			bc->contact_at_us = l->contact_at_us;
			bc->known = l->known;
			ktd_strlcpy(bc->state, l->state, sizeof(bc->state));
		}
		if (!l->has_event || (t = call_event_parse(l->ev.event)) < 0)
			continue; /* the table's CHECK allows no other */
		ev.type = (enum call_event_type)t;
		ev.at_us = l->ev.at_us;
		ev.agent = l->ev.agent;
		ev.target = l->ev.target;
		ev.queue = l->ev.queue;
		ev.cause = l->ev.cause;
		push_event(bc, &ev);
	}
	return 0;
}

static bool same_text(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* The intake locks of the calls the batch makes (their first events make
 * them), all in one statement: the contact's and the citizen's, which
 * intake would take one by one. After the calls' locks, in one order for
 * all batches. */
static int lock_new_calls(struct batch *b, struct ktd_error *err)
{
	char(*bufs)[INTAKE_KEY_SIZE] = ktd_calloc(2 * b->ncalls, sizeof(*bufs));
	const char **keys = ktd_calloc(2 * b->ncalls, sizeof(*keys));
	size_t i, n = 0;
	int r;

	for (i = 0; i < b->ncalls; i++) {
		const struct cti_event *e = &b->events[b->calls[i].first];
		bool inbound = !e->direction || strcmp(e->direction, "in") == 0;
		const char *citizen = inbound ? e->from : e->to;

		if (b->calls[i].row_id != 0)
			continue;
		if (intake_key_external("phone", e->call_id, bufs[n])) {
			keys[n] = bufs[n];
			n++;
		}
		/* make_call's citizen_phone. */
		if (citizen && citizen[0] == '+' &&
		    intake_key_citizen("phone", citizen, bufs[n])) {
			keys[n] = bufs[n];
			n++;
		}
	}
	r = db_case_lock_keys(b->pg, keys, n, err);
	free(keys);
	free(bufs);
	return r;
}

/* Whether ev is stored already: the same event at the same time by the
 * same agent to the same target (call_events_identity_idx), or, for an
 * event a call has once, any of its type. */
static bool is_repeat(const struct bcall *bc, const struct call_event *ev,
                      bool once)
{
	size_t i;

	for (i = 0; i < bc->nev; i++) {
		const struct call_event *o = &bc->ev[i];

		if (o->type != ev->type)
			continue;
		if (once ||
		    (o->at_us == ev->at_us && same_text(o->agent, ev->agent) &&
		     same_text(o->target, ev->target)))
			return true;
	}
	return false;
}

/* The call of events[i]: the stored one, or made now by its first event.
 * *rethreaded_r: the event's number moved the call to the caller's open
 * case. */
static int find_call(struct batch *b, size_t i, bool *rethreaded_r,
                     struct ktd_error *err)
{
	const struct cti_event *e = &b->events[i];
	struct bcall *bc = &b->calls[b->call_of[i]];
	struct cti_result *out = &b->out[i];
	int r;

	*rethreaded_r = false;
	if (bc->row_id == 0) {
		if (make_call(b->pg, e, b->cfg, out, &out->intake, err) < 0)
			return -1;
		if (out->intake.live_type[0]) {
			struct blive *lv = &b->live[b->nlive++];

			ktd_strlcpy(lv->type, out->intake.live_type,
			            sizeof(lv->type));
			lv->case_id = out->case_id;
		}
		bc->row_id = out->call_row_id;
		bc->contact_id = out->contact_id;
		bc->case_id = out->case_id;
		/* A contact intake made now has the event's time; one it found
		 * made before has its own. */
		bc->contact_at_us =
		        out->intake.duplicate ? INT64_MIN : b->at_us[i];
		bc->known.from = e->from != NULL;
		bc->known.to = e->to != NULL;
		bc->known.orig_call_id = e->orig_call_id != NULL;
		ktd_strlcpy(bc->known.direction,
		            e->direction ? e->direction : "in",
		            sizeof(bc->known.direction));
		return 0;
	}
	out->call_row_id = bc->row_id;
	out->contact_id = bc->contact_id;
	out->case_id = bc->case_id;
	if (!adds_to(e, &bc->known))
		return 0;
	/* Threads the call first: db_call_fill gives the number to the case
	 * the call is on then. */
	r = learn_caller(b->pg, e, &bc->known, b->cfg, out, err);
	if (r < 0)
		return -1;
	*rethreaded_r = r == 1;
	if (db_call_fill(b->pg, bc->row_id, e->from, e->to, e->direction,
	                 e->orig_call_id, err) < 0)
		return -1;
	bc->case_id = out->case_id;
	bc->known.from |= e->from != NULL;
	bc->known.to |= e->to != NULL;
	bc->known.orig_call_id |= e->orig_call_id != NULL;
	if (e->direction)
		ktd_strlcpy(bc->known.direction, e->direction,
		            sizeof(bc->known.direction));
	return 0;
}

/* Takes in events[i]: a repeat leaves out->duplicate and changes
 * nothing more. */
static int take(struct batch *b, size_t i, struct ktd_error *err)
{
	const struct cti_event *e = &b->events[i];
	struct bcall *bc = &b->calls[b->call_of[i]];
	struct cti_result *out = &b->out[i];
	struct db_call_event_new *ne;
	struct call_event ev;
	bool rethreaded;
	int r;

	memset(out, 0, sizeof(*out));
	if (find_call(b, i, &rethreaded, err) < 0)
		return -1;
	ev.type = e->type;
	ev.at_us = b->at_us[i];
	ev.agent = e->agent;
	ev.target = e->target;
	ev.queue = e->queue;
	ev.cause = e->cause;
	/* (The event that made the call is its first.) */
	if (!out->new_call && is_repeat(bc, &ev, e->once)) {
		out->duplicate = true;
		return 0;
	}
	push_event(bc, &ev);
	bc->touched = true;
	ne = &b->add[b->nadd++];
	ne->call_row_id = bc->row_id;
	ne->event = call_event_name(e->type);
	ne->at = e->at;
	ne->agent = e->agent;
	ne->target = e->target;
	ne->queue = e->queue;
	ne->cause = e->cause;
	ne->source = e->source;

	/* A forward that came back: said so by the phone system, or the
	 * caller is back on the case's line soon after the forward. */
	if (e->type == CALL_EV_TRANSFER_RETURNED ||
	    (((out->new_call && !out->intake.new_case &&
	       !out->intake.duplicate) ||
	      rethreaded) &&
	     b->cfg->return_window_s > 0)) {
		r = db_case_forward_returned(
		        b->pg, bc->case_id, e->at,
		        e->type == CALL_EV_TRANSFER_RETURNED
		                ? 0
		                : b->cfg->return_window_s,
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

		if (db_callback_from_call(b->pg, bc->row_id,
		                          given ? number : NULL, err) < 0)
			return -1;
	}
	call_derive(bc->ev, bc->nev, &bc->st);
	ktd_strlcpy(out->state, bc->st.state, sizeof(out->state));
	if ((out->returned || rethreaded) &&
	    db_case_notify(b->pg, "case.updated", bc->case_id, err) < 0)
		return -1;
	if (out->new_call || strcmp(bc->state, bc->st.state) != 0) {
		/* The live event carries the call (and the screen pop). */
		struct blive *lv = &b->live[b->nlive++];

		snprintf(lv->type, sizeof(lv->type), "call.%s", bc->st.state);
		lv->case_id = bc->case_id;
		lv->call_row_id = bc->row_id;
		lv->st = bc->st;
	}
	ktd_strlcpy(bc->state, bc->st.state, sizeof(bc->state));
	return 0;
}

/* A time in µs since the epoch as RFC 3339 (UTC, µs), JSON null for 0. */
static json_t *json_time(int64_t us)
{
	char buf[64];
	struct tm tm;
	time_t t;
	int64_t frac;

	if (us == 0)
		return json_null();
	frac = us % 1000000;
	if (frac < 0)
		frac += 1000000;
	t = (time_t)((us - frac) / 1000000);
	gmtime_r(&t, &tm);
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
	         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	         tm.tm_min, tm.tm_sec, (int)frac);
	return json_string(buf);
}

/* A duration in ms, JSON null for unknown (-1). */
static json_t *json_ms(int64_t ms)
{
	return ms < 0 ? json_null() : json_integer((json_int_t)ms);
}

/* The call as st left it, as calls columns in JSON text (caller frees). */
static char *state_json(const struct call_state *st)
{
	json_t *o = json_pack(
	        "{s:s, s:o, s:o, s:o, s:o, s:s?, s:s?, s:s?, s:I, s:I, s:I, "
	        "s:b, s:s?, s:s?, s:o, s:o}",
	        "state", st->state, "offered_at", json_time(st->offered_us),
	        "queued_at", json_time(st->queued_us), "answered_at",
	        json_time(st->answered_us), "ended_at", json_time(st->ended_us),
	        "answered_by", st->answered_by, "queue", st->queue,
	        "transferred_to", st->transferred_to, "transfers",
	        (json_int_t)st->transfers, "returns", (json_int_t)st->returns,
	        "diversions", (json_int_t)st->diversions, "callback_requested",
	        st->callback_requested, "end_cause", st->end_cause, "outcome",
	        st->outcome, "wait_ms", json_ms(st->wait_ms), "talk_ms",
	        json_ms(st->talk_ms));
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

/* The calls' derived states, for db_call_update. */
static struct db_call_derived *derived(const struct batch *b, size_t *n_r)
{
	struct db_call_derived *d = ktd_calloc(b->ncalls, sizeof(*d));
	size_t i, k = 0;

	for (i = 0; i < b->ncalls; i++) {
		const struct bcall *bc = &b->calls[i];
		const struct call_state *st = &bc->st;

		if (!bc->touched)
			continue;
		d[k].id = bc->row_id;
		d[k].contact_id = bc->contact_id;
		d[k].contact_at_us = bc->contact_at_us;
		d[k].state = st->state;
		d[k].offered_us = st->offered_us;
		d[k].queued_us = st->queued_us;
		d[k].answered_us = st->answered_us;
		d[k].ended_us = st->ended_us;
		d[k].answered_by = st->answered_by;
		d[k].queue = st->queue;
		d[k].transferred_to = st->transferred_to;
		d[k].transfers = st->transfers;
		d[k].returns = st->returns;
		d[k].diversions = st->diversions;
		d[k].callback_requested = st->callback_requested;
		d[k].end_cause = st->end_cause;
		d[k].outcome = st->outcome;
		d[k].wait_ms = st->wait_ms;
		d[k].talk_ms = st->talk_ms;
		k++;
	}
	*n_r = k;
	return d;
}

/* Writes what the batch's events changed (the calls' derived states, the
 * calls' live events, the new events) and commits, in one round trip:
 * deferred, the COMMIT's result read with all of theirs. A new event
 * stored meanwhile by another writer fails the events' statement, and the
 * COMMIT after it does not run (the caller rolls back). */
static int finish(struct batch *b, struct ktd_error *err)
{
	struct db_call_derived *d;
	struct db_live_call *lc;
	struct ktd_error later;
	char **texts;
	size_t i, k;
	int r = -1;

	lc = ktd_calloc(b->nlive ? b->nlive : 1, sizeof(*lc));
	texts = ktd_calloc(b->nlive ? b->nlive : 1, sizeof(*texts));
	for (i = 0; i < b->nlive; i++) {
		lc[i].type = b->live[i].type;
		lc[i].case_id = b->live[i].case_id;
		lc[i].call_row_id = b->live[i].call_row_id;
		if (lc[i].call_row_id == 0)
			continue; /* a case's: no call */
		lc[i].call_json = texts[i] = state_json(&b->live[i].st);
		if (!texts[i]) {
			ktd_error_set(err, KTD_ERR_INTERNAL,
			              "a call's live event cannot be written");
			goto out;
		}
	}
	d = derived(b, &k);
	if (db_defer_begin(b->pg, err) < 0) {
		free(d);
		goto out;
	}
	if ((k > 0 && db_call_update(b->pg, d, k, err) < 0) ||
	    db_live_add_calls(b->pg, lc, b->nlive, err) < 0 ||
	    db_call_events_add(b->pg, b->add, b->nadd, err) < 0 ||
	    db_tx_commit(b->pg, err) < 0) {
		/* err says what failed first. */
		if (db_defer_end(b->pg, &later) < 0)
			ktd_log_debug("event=cti_finish_failed");
		free(d);
		goto out;
	}
	free(d);
	r = db_defer_end(b->pg, err);
out:
	for (i = 0; i < b->nlive; i++)
		free(texts[i]);
	free(texts);
	free(lc);
	return r;
}

/* The log line of a committed event that made a call. */
static void log_new_call(const struct cti_result *out)
{
	if (out->new_call && !out->intake.duplicate) {
		struct intake_contact in = {.channel = "phone"};

		intake_log(&in, &out->intake);
	}
}

/* The events' times as PostgreSQL stores them: worked out here, or (for
 * a time with more than six fractional digits, which PostgreSQL rounds)
 * asked of PostgreSQL, one statement for all. */
static int times(struct batch *b, struct ktd_error *err)
{
	const char **at;
	size_t i;
	int r;

	for (i = 0; i < b->n; i++)
		if (!case_rfc3339_us(b->events[i].at, &b->at_us[i]))
			break;
	if (i == b->n)
		return 0;
	at = ktd_calloc(b->n, sizeof(*at));
	for (i = 0; i < b->n; i++)
		at[i] = b->events[i].at;
	r = db_call_times(b->pg, at, b->n, b->at_us, err);
	free(at);
	return r;
}

/* The batch's work in its transaction, committed when any event was new
 * (*stored_r); else the transaction is left open (the caller rolls it
 * back). */
static int ingest_tx(struct batch *b, bool *stored_r, struct ktd_error *err)
{
	const char **keys = ktd_calloc(b->ncalls, sizeof(*keys));
	char(*bufs)[256] = ktd_calloc(b->ncalls, sizeof(*bufs));
	size_t i;
	int r = -1;

	for (i = 0; i < b->ncalls; i++) {
		snprintf(bufs[i], sizeof(bufs[i]), "cti:%s",
		         b->calls[i].call_id);
		keys[i] = bufs[i];
	}
	/* Every call of the batch locked at once, in one order for all
	 * batches: two batches never wait for each other in a circle over
	 * their calls, and every event of a call waits for the batch before
	 * it. */
	if (db_case_lock_keys(b->pg, keys, b->ncalls, err) < 0 ||
	    times(b, err) < 0 || load(b, err) < 0) {
		struct ktd_error later;

		/* err says what failed first. */
		if (db_defer_end(b->pg, &later) < 0)
			ktd_log_debug("event=cti_load_failed");
		goto out;
	}
	/* BEGIN, the locks and the reading of the calls went in one round
	 * trip (begin). */
	if (db_defer_end(b->pg, err) < 0 || lock_new_calls(b, err) < 0)
		goto out;
	for (i = 0; i < b->n; i++)
		if (take(b, i, err) < 0)
			goto out;
	*stored_r = b->nadd > 0;
	r = b->nadd > 0 ? finish(b, err) : 0;
out:
	free(bufs);
	free(keys);
	return r;
}

/* BEGIN, with generic plans for the transaction; returns with the
 * statements deferred (db_defer_begin), so that BEGIN goes with the
 * batch's locks and the reading of its calls, in one round trip
 * (ingest_tx ends the deferring). The batch's statements take arrays,
 * whose length a custom plan knows and a generic one does not:
 * PostgreSQL kept choosing custom plans for the reading of the calls and
 * their update and so planned them anew at every execution, ~0.4 ms of a
 * single event's 2 ms (PostgreSQL's log_min_duration_statement: the time
 * went to "bind"). Their generic plans are the same index scans. */
static int begin(PGconn *pg, struct ktd_error *err)
{
	struct ktd_error later;

	if (db_defer_begin(pg, err) < 0)
		return -1;
	if (db_tx_begin(pg, err) < 0 ||
	    db_query_prepared(pg,
	                      "SET LOCAL plan_cache_mode = force_generic_plan",
	                      0, NULL, NULL, err) < 0) {
		/* err says what failed first. */
		if (db_defer_end(pg, &later) < 0)
			ktd_log_debug("event=cti_begin_failed");
		return -1;
	}
	return 0;
}

int cti_ingest_batch(PGconn *pg, const struct cti_event *events, size_t n,
                     const struct cti_config *cfg, struct cti_result *out,
                     struct ktd_error *err)
{
	struct batch b;
	bool stored = false;
	size_t i;
	int ret = -1;

	if (n == 0)
		return 0;
	memset(&b, 0, sizeof(b));
	b.pg = pg;
	b.cfg = cfg;
	b.events = events;
	b.n = n;
	b.out = out;
	b.at_us = ktd_calloc(n, sizeof(*b.at_us));
	b.call_of = ktd_calloc(n, sizeof(*b.call_of));
	b.add = ktd_calloc(n, sizeof(*b.add));
	/* At most a call's event and a new case's for each event. */
	b.live = ktd_calloc(2 * n, sizeof(*b.live));
	group(&b);
	if (begin(pg, err) < 0)
		goto out;
	if (ingest_tx(&b, &stored, err) < 0) {
		db_tx_rollback(pg);
		intake_explain(err);
		goto out;
	}
	if (!stored) {
		/* Repeats only: not even a number they filled is kept. */
		db_tx_rollback(pg);
		ret = 0;
		goto out;
	}
	/* Committed by finish. */
	for (i = 0; i < n; i++)
		log_new_call(&out[i]);
	ret = 0;
out:
	for (i = 0; i < b.ncalls; i++)
		free(b.calls[i].ev);
	free(b.calls);
	db_call_load_free(&b.loaded);
	free(b.live);
	free(b.add);
	free(b.call_of);
	free(b.at_us);
	return ret;
}

int cti_ingest(PGconn *pg, const struct cti_event *e,
               const struct cti_config *cfg, struct cti_result *out,
               struct ktd_error *err)
{
	return cti_ingest_batch(pg, e, 1, cfg, out, err);
}
