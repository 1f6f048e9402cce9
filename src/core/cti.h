/* SPDX-License-Identifier: MPL-2.0 */
/* Call events from the phone system, whichever route brought them: each
 * event is stored once per call (a repeat changes nothing), the call's
 * state is derived again from all its events (so the order of arrival
 * does not matter), and the first event of a call makes its contact
 * through intake (threaded onto the caller's open case, or a new case).
 * One transaction per request (an event or a batch; the single events of
 * concurrent requests may share one, cti_group.h), serialised per call
 * id; set-based inside (cti.c). */
#ifndef KTD_CORE_CTI_H
#define KTD_CORE_CTI_H

#include "core/core_common.h"
#include "core/call.h"
#include "core/intake.h"

#include <libpq-fe.h>

/* One event, checked and normalised by the route that parsed it. */
struct cti_event {
	const char *call_id;
	const char *orig_call_id; /* NULL: none */
	enum call_event_type type;
	const char *at;        /* RFC 3339 */
	const char *from;      /* call_number_normalise()d; NULL: none */
	const char *to;        /* ditto */
	const char *direction; /* in, out; NULL: not told (in) */
	const char *queue;
	const char *agent;
	const char *target;
	const char *cause;
	const char *source; /* native, generic, sweeper, agent */
	/* At most one event of this type per call: a source without the
	 * event's own time (Zammad's Generic CTI stamps nothing; the time
	 * of arrival is used) would otherwise store a repeat as new. */
	bool once;
	const char *token_name; /* who posted it; NULL: kontaktd itself */
	const char *peer;
};

struct cti_config {
	uint64_t thread_window_s; /* [intake] thread_window */
	/* A new call of the caller of a case forwarded at most this long
	 * ago marks the forward returned (a "cykel-kald"); 0: never
	 * ([cti] return_window). */
	uint64_t return_window_s;
};

struct cti_result {
	int64_t case_id;
	int64_t contact_id;
	int64_t call_row_id;
	bool duplicate; /* the event was stored before: nothing changed */
	bool new_call;  /* this event made the call */
	bool returned;  /* this event marked a forward of the case returned */
	char state[16]; /* the call's state after the event */
	struct intake_result intake; /* of the event that made the call */
};

/* Takes in one event; borrows pg (no transaction open). Returns 0 with
 * out, or -1: KTD_ERR_UNPROCESSABLE for values the database refuses,
 * KTD_ERR_CONFLICT (try again), KTD_ERR_UNAVAILABLE, KTD_ERR_INTERNAL. */
int cti_ingest(PGconn *pg, const struct cti_event *e,
               const struct cti_config *cfg, struct cti_result *out,
               struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Takes in n events (of a batch) in one transaction: out[i] is events[i]'s
 * result, as if the events had come one by one in this order. All or
 * nothing: on -1 nothing of the batch was stored, and the caller takes the
 * events in one by one (cti_ingest) to learn which one failed and keep the
 * others; a deadlock with another batch is such a failure too. A batch
 * costs a few statements beside the new calls' intake, whatever its size:
 * what makes it cheaper than single events (tools/bench cti). */
int cti_ingest_batch(PGconn *pg, const struct cti_event *events, size_t n,
                     const struct cti_config *cfg, struct cti_result *out,
                     struct ktd_error *err) KTD_ATTR_NODISCARD;

#endif
