/* SPDX-License-Identifier: MPL-2.0 */
/* POST /api/v1/cti/events: the phone system's call events in kontaktd's
 * own JSON, one object or an array of up to CTI_BATCH_MAX. Each event is
 * checked, then taken in by core/cti: a single event in a transaction of
 * its own, a batch's good events in one transaction (or, when the
 * database refuses one, each in its own), so a batch is all-or-nothing
 * per event, and every event gets its result.
 *
 * Answers: one event: 201 stored, 200 a repeat, 4xx/503 the error. A
 * batch: 200 when every event was stored or was a repeat, 207 when some
 * were refused (their results say why), 503 when the database failed for
 * some (send the batch again: what was stored is not stored twice). */
#include "api/api_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "lib/timeutil.h"
#include "api/api_int.h"
#include "core/auth.h"
#include "core/call.h"
#include "core/case.h"
#include "core/cti.h"
#include "core/cti_group.h"
#include "db/db_call.h"
#include "http/form.h"
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

/* Checks o into e, filled in for this request. */
static int prepare(struct api_call *call, json_t *o, struct cti_event *e,
                   struct numbers *n, struct ktd_error *err)
{
	memset(err, 0, sizeof(*err));
	if (parse_event(o, e, n, err) < 0)
		return -1;
	e->source = "native";
	e->token_name = call->who.token_name[0] ? call->who.token_name : NULL;
	e->peer = call->req->peer;
	return 0;
}

/* The result object of a taken-in event. */
static json_t *taken(const struct cti_event *e, const struct cti_result *r)
{
	return json_pack("{s:s, s:s, s:s?, s:I, s:I}", "status",
	                 r->duplicate ? "duplicate" : "stored", "call_id",
	                 e->call_id, "state", r->duplicate ? NULL : r->state,
	                 "case_id", (json_int_t)r->case_id, "contact_id",
	                 (json_int_t)r->contact_id);
}

/* Parses and takes in one event. Returns its result object, or NULL with
 * err. */
static json_t *one(struct api_call *call, json_t *o, struct ktd_error *err)
{
	struct cti_config cfg = {call->api->intake_thread_window_s,
	                         call->api->cti.return_window_s};
	struct cti_event e;
	struct cti_result r;
	struct numbers n;

	if (prepare(call, o, &e, &n, err) < 0 ||
	    cti_group_ingest(call->api->cti_group, call->pg, &e, &cfg, &r,
	                     err) < 0)
		return NULL;
	return taken(&e, &r);
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

/* The events of a batch body (an array of n >= 1): those that pass their
 * checks are taken in together in one transaction (cti_ingest_batch); if
 * that fails, one by one, so that only the event at fault is refused.
 * Returns the result list in the body's order. */
static json_t *batch(struct api_call *call, json_t *body, size_t *rejected,
                     size_t *retry)
{
	struct cti_config cfg = {call->api->intake_thread_window_s,
	                         call->api->cti.return_window_s};
	size_t i, k, n = json_array_size(body), ok = 0;
	struct cti_event *ev = ktd_calloc(n, sizeof(*ev));
	struct cti_result *res = ktd_calloc(n, sizeof(*res));
	struct numbers *num = ktd_calloc(n, sizeof(*num));
	struct ktd_error *errs = ktd_calloc(n, sizeof(*errs));
	size_t *at = ktd_calloc(n, sizeof(*at));
	bool *done = ktd_calloc(n, sizeof(*done));
	json_t *results = json_array(), *r, *v;
	struct ktd_error err;

	/* ev[k] is the body's event at[k]; a bad one keeps its error. */
	json_array_foreach (body, i, v) {
		if (prepare(call, v, &ev[ok], &num[ok], &errs[i]) < 0)
			continue;
		at[ok++] = i;
	}
	if (ok > 0 &&
	    cti_ingest_batch(call->pg, ev, ok, &cfg, res, &err) == 0) {
		for (k = 0; k < ok; k++)
			done[k] = true;
	} else {
		if (ok > 0) {
			char quoted[2 * KTD_ERROR_MSG_MAX + 8];

			ktd_log_info(
			        "event=cti_batch_one_by_one events=%zu "
			        "code=%s msg=%s",
			        ok, ktd_error_code_name(err.code),
			        ktd_log_quote(err.msg, quoted, sizeof(quoted)));
		}
		for (k = 0; k < ok; k++)
			done[k] = cti_ingest(call->pg, &ev[k], &cfg, &res[k],
			                     &errs[at[k]]) == 0;
	}
	for (i = 0, k = 0; i < n; i++) {
		v = json_array_get(body, i);
		if (k < ok && at[k] == i) {
			r = done[k] ? taken(&ev[k], &res[k]) : NULL;
			k++;
		} else {
			r = NULL;
		}
		if (!r) {
			r = refused(v, &errs[i]);
			if (errs[i].code == KTD_ERR_UNAVAILABLE ||
			    errs[i].code == KTD_ERR_CONFLICT)
				(*retry)++;
			else
				(*rejected)++;
		}
		json_object_set_new(r, "index", json_integer((json_int_t)i));
		json_array_append_new(results, r);
	}
	free(done);
	free(at);
	free(errs);
	free(num);
	free(res);
	free(ev);
	return results;
}

static void api_cti_events(struct api_call *call)
{
	json_t *body = NULL, *results, *r;
	struct ktd_error err;
	size_t n, rejected = 0, retry = 0;
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
	results = batch(call, body, &rejected, &retry);
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

/* --- Zammad's Generic CTI ---------------------------------------------- */

/* The body of a Generic CTI request, form-encoded or JSON, as strings. */
struct generic {
	struct ktd_form form;
	json_t *json;
};

/* The value of name, or NULL; *bad when it is there but not a string. */
static const char *generic_get(const struct generic *g, const char *name,
                               bool *bad)
{
	json_t *v;

	if (!g->json)
		return ktd_form_get(&g->form, name);
	v = json_object_get(g->json, name);
	if (v && !json_is_string(v) && !json_is_null(v))
		*bad = true;
	return json_string_value(v);
}

/* The first user named: "user" (a string, maybe a comma list), "user[]"
 * (repeated in a form; an array in JSON), or "user" as a JSON array. */
static const char *generic_first_user(const struct generic *g, char *buf,
                                      size_t bufsz)
{
	static const char *const names[] = {"user[]", "user"};
	const char *u = NULL;
	size_t i;

	for (i = 0; i < KTD_N_ELEMENTS(names) && !u; i++) {
		if (!g->json) {
			u = ktd_form_get(&g->form, names[i]);
		} else {
			json_t *v = json_object_get(g->json, names[i]);

			u = json_is_array(v)
			            ? json_string_value(json_array_get(v, 0))
			            : json_string_value(v);
		}
	}
	if (!u || !*u)
		return NULL;
	snprintf(buf, bufsz, "%.*s", (int)strcspn(u, ","), u);
	return buf[0] ? buf : NULL;
}

/* Reads and checks a Generic CTI request into e (strings borrowed from g
 * and n). */
static int generic_parse(const struct generic *g, struct cti_event *e,
                         struct numbers *n, const char **event_r, char *user,
                         size_t usersz, struct ktd_error *err)
{
	static const char *const fields[] = {
	        "event",   "from",  "to",    "direction",       "callId",
	        "call_id", "queue", "cause", "answeringNumber", "origCallId"};
	const char *v[KTD_N_ELEMENTS(fields)];
	bool bad = false;
	size_t i;

	for (i = 0; i < KTD_N_ELEMENTS(fields); i++) {
		v[i] = generic_get(g, fields[i], &bad);
		if (bad)
			return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
			                     "field '%s' must be a string",
			                     fields[i]);
		if (v[i] && (ktd_utf8_has_control(v[i]) || strlen(v[i]) > 250))
			return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
			                     "field '%s' is longer than 250 "
			                     "bytes or has a control character",
			                     fields[i]);
	}
	memset(e, 0, sizeof(*e));
	*event_r = v[0];
	if (!v[0] ||
	    (strcmp(v[0], "newCall") != 0 && strcmp(v[0], "answer") != 0 &&
	     strcmp(v[0], "hangup") != 0))
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field 'event' must be newCall, answer or "
		                     "hangup");
	e->type = strcmp(v[0], "newCall") == 0  ? CALL_EV_OFFERED
	          : strcmp(v[0], "answer") == 0 ? CALL_EV_ANSWERED
	                                        : CALL_EV_ENDED;
	e->direction = v[3];
	if (!e->direction || (strcmp(e->direction, "in") != 0 &&
	                      strcmp(e->direction, "out") != 0))
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field 'direction' must be in or out");
	e->call_id = v[4] && *v[4] ? v[4] : v[5];
	if (!e->call_id || !*e->call_id)
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field 'callId' is required");
	if (strlen(e->call_id) > CTI_ID_MAX)
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field 'callId' is longer than %d bytes",
		                     CTI_ID_MAX);
	if (v[1] && call_number_normalise(v[1], n->from) < 0)
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field 'from' is not a phone number, an "
		                     "extension or 'anonymous'");
	if (v[2] && call_number_normalise(v[2], n->to) < 0)
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field 'to' is not a phone number or an "
		                     "extension");
	e->from = v[1] ? n->from : NULL;
	e->to = v[2] ? n->to : NULL;
	e->queue = v[6] && *v[6] ? v[6] : NULL;
	if (e->queue && strlen(e->queue) > CTI_QUEUE_MAX)
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field 'queue' is longer than %d bytes",
		                     CTI_QUEUE_MAX);
	e->cause = v[7] && *v[7] ? v[7] : NULL;
	if (e->cause && strlen(e->cause) > CTI_CAUSE_MAX)
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field 'cause' is longer than %d bytes",
		                     CTI_CAUSE_MAX);
	e->agent = v[8] && *v[8] ? v[8] : generic_first_user(g, user, usersz);
	e->orig_call_id = v[9] && *v[9] ? v[9] : NULL;
	if (e->orig_call_id && strlen(e->orig_call_id) > CTI_ID_MAX)
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field 'origCallId' is longer than %d "
		                     "bytes",
		                     CTI_ID_MAX);
	return 0;
}

/* The token in the path: a token with cti:write (or admin). Returns 1,
 * or 0 with 401/403 answered, -1 with err. */
static int generic_auth(struct api_call *call, struct ktd_error *err)
{
	const char *token = ktd_http_req_param(call->req, "token");
	int r = token ? auth_bearer(call->pg, token, &call->who, err) : 0;

	if (r < 0)
		return -1;
	if (r == 0) {
		ktd_http_resp_error(call->resp, 401, "unauthenticated",
		                    "the token in the path is not a valid API "
		                    "token");
		return 0;
	}
	if (!(call->who.scopes & (TOKEN_SCOPE_CTI_WRITE | TOKEN_SCOPE_ADMIN))) {
		ktd_http_resp_error(call->resp, 403, "forbidden",
		                    "your token's scope does not allow this");
		return 0;
	}
	return 1;
}

/* The answer Zammad would give: reject a blocked caller, set the caller
 * id of an outbound call, else {}. */
static json_t *generic_answer(struct api_call *call, const char *event,
                              const struct cti_event *e, const char *to_sent)
{
	char caller_id[CALL_NUMBER_SIZE];

	if (strcmp(event, "newCall") != 0)
		return json_object();
	if (strcmp(e->direction, "in") == 0 && e->from &&
	    call_pattern_list_matches(call->api->cti.blocked_numbers, e->from))
		return json_pack("{s:s, s:s}", "action", "reject", "reason",
		                 "busy");
	if (strcmp(e->direction, "out") == 0 && e->to &&
	    (call_caller_id_for(call->api->cti.caller_ids, e->to, caller_id) ||
	     (call->api->cti.default_caller_id[0] &&
	      call_number_normalise(call->api->cti.default_caller_id,
	                            caller_id) == CALL_NUMBER_E164)))
		return json_pack("{s:s, s:s, s:s}", "action", "dial",
		                 "caller_id", caller_id, "number", to_sent);
	return json_object();
}

static void api_cti_generic(struct api_call *call)
{
	struct cti_config cfg = {call->api->intake_thread_window_s,
	                         call->api->cti.return_window_s};
	const char *ct = ktd_http_req_header(call->req, "Content-Type");
	size_t ctlen = ct ? strcspn(ct, "; \t") : 0;
	struct generic g;
	struct cti_event e;
	struct cti_result r;
	struct numbers n;
	struct ktd_error err;
	char at[40], user[256];
	const char *event = NULL, *to_sent;
	bool bad = false;
	int a;

	memset(&g, 0, sizeof(g));
	a = generic_auth(call, &err);
	if (a <= 0) {
		if (a < 0)
			api_fail(call, &err);
		return;
	}
	if (ct && ctlen == strlen("application/json") &&
	    strncasecmp(ct, "application/json", ctlen) == 0) {
		if (api_json_body(call, &g.json) < 0)
			return;
	} else if (ct && ctlen == strlen("application/x-www-form-urlencoded") &&
	           strncasecmp(ct, "application/x-www-form-urlencoded",
	                       ctlen) == 0) {
		if (ktd_form_parse(call->req->body, call->req->body_len,
		                   &g.form, &err) < 0)
			goto fail;
	} else {
		ktd_http_resp_error(call->resp, 415, "unsupported_media_type",
		                    "the body must be "
		                    "application/x-www-form-urlencoded or "
		                    "application/json");
		return;
	}
	if (generic_parse(&g, &e, &n, &event, user, sizeof(user), &err) < 0)
		goto fail;
	ktd_time_rfc3339_now(at, sizeof(at));
	e.at = at;
	e.source = "generic";
	e.once = true;
	e.token_name = call->who.token_name;
	e.peer = call->req->peer;
	if (e.type == CALL_EV_ENDED && e.cause &&
	    strcmp(e.cause, "forwarded") == 0) {
		/* Zammad's hangup "forwarded": the call went on elsewhere. */
		struct cti_event t = e;

		t.type = CALL_EV_TRANSFERRED;
		t.target = e.agent;
		t.agent = NULL;
		if (cti_group_ingest(call->api->cti_group, call->pg, &t, &cfg,
		                     &r, &err) < 0)
			goto fail;
	}
	if (cti_group_ingest(call->api->cti_group, call->pg, &e, &cfg, &r,
	                     &err) < 0)
		goto fail;
	to_sent = generic_get(&g, "to", &bad);
	ktd_http_resp_json(call->resp, 200,
	                   generic_answer(call, event, &e, to_sent));
	goto out;
fail:
	api_fail(call, &err);
out:
	ktd_form_clear(&g.form);
	json_decref(g.json);
}

/* --- closing a call by hand ------------------------------------------- */

/* POST /api/v1/calls/{call_id}/end: an agent closes a call whose end the
 * phone system never reported, like the sweeper does (outcome
 * end_unknown). 409 with the call when it has ended already. */
static void api_call_end(struct api_call *call)
{
	struct cti_config cfg = {call->api->intake_thread_window_s,
	                         call->api->cti.return_window_s};
	const char *call_id = ktd_http_req_param(call->req, "call_id");
	struct cti_event e;
	struct cti_result r;
	struct ktd_error err;
	int64_t row = 0, contact = 0, case_id = 0;
	char at[40], *text = NULL;
	json_t *j;
	int found;

	found = call_id ? db_call_find(call->pg, call_id, &row, &contact,
	                               &case_id, NULL, &err)
	                : 0;
	if (found < 0)
		goto fail;
	if (found == 0) {
		ktd_http_resp_error(call->resp, 404, "not_found",
		                    "no such call");
		return;
	}
	memset(&e, 0, sizeof(e));
	ktd_time_rfc3339_now(at, sizeof(at));
	e.call_id = call_id;
	e.type = CALL_EV_ENDED;
	e.at = at;
	e.cause = "end_unknown";
	e.source = "agent";
	e.once = true;
	e.peer = call->req->peer;
	if (cti_ingest(call->pg, &e, &cfg, &r, &err) < 0 ||
	    db_call_json(call->pg, row, &text, &err) < 0)
		goto fail;
	j = json_loads(text, 0, NULL);
	free(text);
	if (!j) {
		ktd_error_set(&err, KTD_ERR_INTERNAL,
		              "call: unreadable JSON from the database");
		goto fail;
	}
	if (r.duplicate) {
		api_conflict(call, "the call has ended already", "call", j);
		return;
	}
	ktd_log_info("event=call_ended_by_hand call_id=%.64s user=%s", call_id,
	             call->who.login);
	ktd_http_resp_json(call->resp, 200, j);
	return;
fail:
	api_fail(call, &err);
}

const struct api_route api_cti_routes[] = {
        {"POST", "/api/v1/cti/events", api_cti_events, API_HMAC, 0,
         TOKEN_SCOPE_CTI_WRITE},
        /* The token is in the path, checked by the handler. */
        {"POST", "/api/v1/cti/generic/{token}", api_cti_generic, API_PUBLIC, 0,
         0},
        {"POST", "/api/v1/calls/{call_id}/end", api_call_end, API_SESSION,
         API_ROLES_ALL, 0},
};
const size_t api_cti_routes_n = KTD_N_ELEMENTS(api_cti_routes);
