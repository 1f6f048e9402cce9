/* SPDX-License-Identifier: MPL-2.0 */
/* POST /api/v1/cti/events: the phone system's call events in kontaktd's
 * own JSON, one object or an array of up to CTI_BATCH_MAX. Each event is
 * checked, then taken in by core/cti in its own transaction: a batch is
 * all-or-nothing per event, and every event gets its result.
 *
 * Answers: one event: 201 stored, 200 a repeat, 4xx/503 the error. A
 * batch: 200 when every event was stored or was a repeat, 207 when some
 * were refused (their results say why), 503 when the database failed for
 * some (send the batch again: what was stored is not stored twice). */
#include "api/api_common.h"

#include <stdio.h>
#include <string.h>

#include "lib/str.h"
#include "api/api_int.h"
#include "core/call.h"
#include "core/case.h"
#include "core/cti.h"
#include "http/json.h"

#define CTI_BATCH_MAX 1000
#define CTI_ID_MAX 200    /* bytes of a call id */
#define CTI_NUMBER_MAX 64 /* bytes of a number as sent */
#define CTI_QUEUE_MAX 64
#define CTI_NAME_MAX 200 /* agent, target */
#define CTI_CAUSE_MAX 64

/* The numbers of one event, normalised. */
struct numbers {
	char from[CALL_NUMBER_SIZE];
	char to[CALL_NUMBER_SIZE];
};

static int no_control(const char *field, const char *s, struct ktd_error *err)
{
	if (s && ktd_utf8_has_control(s))
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field '%s' contains a control character",
		                     field);
	return 0;
}

static int get_line(const json_t *o, const char *field, bool required,
                    size_t max, const char **v_r, struct ktd_error *err)
{
	if (ktd_json_get_str(o, field, required, max, v_r, err) < 0 ||
	    no_control(field, *v_r, err) < 0)
		return -1;
	if (*v_r && !**v_r) {
		if (required)
			return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
			                     "field '%s' must not be empty",
			                     field);
		*v_r = NULL;
	}
	return 0;
}

static int get_number(const json_t *o, const char *field, char *out,
                      const char **v_r, struct ktd_error *err)
{
	const char *s = NULL;

	if (ktd_json_get_str(o, field, KTD_JSON_OPTIONAL, CTI_NUMBER_MAX, &s,
	                     err) < 0)
		return -1;
	*v_r = NULL;
	if (!s)
		return 0;
	if (call_number_normalise(s, out) < 0)
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field '%s' is not a phone number, an "
		                     "extension or 'anonymous'",
		                     field);
	*v_r = out;
	return 0;
}

/* Checks one event object into e (strings borrowed from o and n). */
static int parse_event(json_t *o, struct cti_event *e, struct numbers *n,
                       struct ktd_error *err)
{
	static const char *const fields[] = {
	        "call_id",   "orig_call_id", "event", "at",     "from",  "to",
	        "direction", "queue",        "agent", "target", "cause", NULL};
	const char *event = NULL;
	int t;

	memset(e, 0, sizeof(*e));
	if (!json_is_object(o))
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "an event must be a JSON object");
	if (ktd_json_check_fields(o, fields, err) < 0 ||
	    get_line(o, "call_id", KTD_JSON_REQUIRED, CTI_ID_MAX, &e->call_id,
	             err) < 0 ||
	    get_line(o, "orig_call_id", KTD_JSON_OPTIONAL, CTI_ID_MAX,
	             &e->orig_call_id, err) < 0 ||
	    ktd_json_get_str(o, "event", KTD_JSON_REQUIRED, 32, &event, err) <
	            0)
		return -1;
	t = call_event_parse(event);
	if (t < 0)
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field 'event' must be one of offered, "
		                     "queued, answered, transferred, "
		                     "transfer_returned, diverted, "
		                     "callback_requested, ended");
	e->type = (enum call_event_type)t;
	if (ktd_json_get_str(o, "at", KTD_JSON_REQUIRED, 64, &e->at, err) < 0)
		return -1;
	if (!case_rfc3339_valid(e->at))
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field 'at' must be an RFC 3339 timestamp "
		                     "(2026-01-31T08:15:00Z)");
	if (get_number(o, "from", n->from, &e->from, err) < 0 ||
	    get_number(o, "to", n->to, &e->to, err) < 0 ||
	    ktd_json_get_str(o, "direction", KTD_JSON_OPTIONAL, 8,
	                     &e->direction, err) < 0)
		return -1;
	if (e->direction && strcmp(e->direction, "in") != 0 &&
	    strcmp(e->direction, "out") != 0)
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field 'direction' must be in or out");
	if (get_line(o, "queue", KTD_JSON_OPTIONAL, CTI_QUEUE_MAX, &e->queue,
	             err) < 0 ||
	    get_line(o, "agent", KTD_JSON_OPTIONAL, CTI_NAME_MAX, &e->agent,
	             err) < 0 ||
	    get_line(o, "target", KTD_JSON_OPTIONAL, CTI_NAME_MAX, &e->target,
	             err) < 0 ||
	    get_line(o, "cause", KTD_JSON_OPTIONAL, CTI_CAUSE_MAX, &e->cause,
	             err) < 0)
		return -1;
	return 0;
}

/* Parses and takes in one event. Returns its result object, or NULL with
 * err. */
static json_t *one(struct api_call *call, json_t *o, struct ktd_error *err)
{
	struct cti_config cfg = {call->api->intake_thread_window_s};
	struct cti_event e;
	struct cti_result r;
	struct numbers n;

	memset(err, 0, sizeof(*err));
	if (parse_event(o, &e, &n, err) < 0)
		return NULL;
	e.source = "native";
	e.token_name = call->who.token_name[0] ? call->who.token_name : NULL;
	e.peer = call->req->peer;
	if (cti_ingest(call->pg, &e, &cfg, &r, err) < 0)
		return NULL;
	return json_pack("{s:s, s:s, s:s?, s:I, s:I}", "status",
	                 r.duplicate ? "duplicate" : "stored", "call_id",
	                 e.call_id, "state", r.duplicate ? NULL : r.state,
	                 "case_id", (json_int_t)r.case_id, "contact_id",
	                 (json_int_t)r.contact_id);
}

/* The result of a refused event in a batch. Database troubles are
 * logged, not shown. */
static json_t *refused(const json_t *o, const struct ktd_error *err)
{
	char quoted[2 * KTD_ERROR_MSG_MAX + 8];
	const char *msg = err->msg;

	if (err->code == KTD_ERR_INTERNAL || err->code == KTD_ERR_UNAVAILABLE) {
		ktd_log_warnx("event=cti_event_failed code=%s msg=%s",
		              ktd_error_code_name(err->code),
		              ktd_log_quote(err->msg, quoted, sizeof(quoted)));
		msg = err->code == KTD_ERR_UNAVAILABLE
		              ? "the database is unavailable: send it again"
		              : "internal error; the details are in the "
		                "server log";
	}
	return json_pack(
	        "{s:s, s:s?, s:{s:s, s:s}}", "status", "rejected", "call_id",
	        json_string_value(json_object_get(o, "call_id")), "error",
	        "code", ktd_error_code_name(err->code), "message", msg);
}

static void api_cti_events(struct api_call *call)
{
	json_t *body = NULL, *results, *r, *v;
	struct ktd_error err;
	size_t i, n, rejected = 0, retry = 0;
	unsigned status;

	if (api_json_body_any(call, &body) < 0)
		return;
	if (json_is_object(body)) {
		r = one(call, body, &err);
		if (r)
			ktd_http_resp_json(
			        call->resp,
			        strcmp(json_string_value(
			                       json_object_get(r, "status")),
			               "stored") == 0
			                ? 201
			                : 200,
			        r);
		else
			api_fail(call, &err);
		json_decref(body);
		return;
	}
	n = json_array_size(body);
	if (!json_is_array(body) || n == 0 || n > CTI_BATCH_MAX) {
		ktd_http_resp_error(call->resp, 422, "unprocessable",
		                    "the body must be one event object or an "
		                    "array of 1 to %d of them",
		                    CTI_BATCH_MAX);
		json_decref(body);
		return;
	}
	results = json_array();
	json_array_foreach (body, i, v) {
		r = one(call, v, &err);
		if (!r) {
			r = refused(v, &err);
			if (err.code == KTD_ERR_UNAVAILABLE ||
			    err.code == KTD_ERR_CONFLICT)
				retry++;
			else
				rejected++;
		}
		json_object_set_new(r, "index", json_integer((json_int_t)i));
		json_array_append_new(results, r);
	}
	json_decref(body);
	status = retry ? 503 : rejected ? 207 : 200;
	if (retry)
		ktd_http_resp_header(call->resp, "Retry-After", "1");
	ktd_http_resp_json(call->resp, status,
	                   json_pack("{s:I, s:I, s:o}", "accepted",
	                             (json_int_t)(n - rejected - retry),
	                             "rejected", (json_int_t)(rejected + retry),
	                             "results", results));
}

const struct api_route api_cti_routes[] = {
        {"POST", "/api/v1/cti/events", api_cti_events, 0, 0,
         TOKEN_SCOPE_CTI_WRITE},
};
const size_t api_cti_routes_n = KTD_N_ELEMENTS(api_cti_routes);
