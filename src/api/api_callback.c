/* SPDX-License-Identifier: MPL-2.0 */
/* Callbacks (ring-op): GET /api/v1/callbacks (the due list, oldest due
 * first, cursor-paginated), POST /api/v1/cases/{id}/callbacks (an agent
 * asks for one), POST /api/v1/callbacks/{id}/attempts (reached or not;
 * the last failed attempt closes it not reached) and GET
 * /api/v1/callbacks/summary (requested, completed, time to callback).
 * Callbacks asked for from the IVR come in as call events (core/cti.c). */
#include "api/api_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "api/api_int.h"
#include "core/call.h"
#include "core/callback.h"
#include "core/case.h"
#include "db/db_audit.h"
#include "db/db_callback.h"
#include "db/db_case.h"
#include "db/tx.h"
#include "http/json.h"

#define CALLBACK_LIST_DEFAULT 50
#define CALLBACK_LIST_MAX 200
#define CALLBACK_TEXT_MAX 2000 /* characters of a message or a note */

/* Answers status with the JSON text (freed). */
static void answer_text(struct api_call *call, unsigned status, char *text)
{
	struct ktd_error err;
	json_t *j = json_loads(text, 0, NULL);

	free(text);
	if (!j) {
		ktd_error_set(&err, KTD_ERR_INTERNAL,
		              "callback: unreadable JSON from the database");
		api_fail(call, &err);
		return;
	}
	ktd_http_resp_json(call->resp, status, j);
}

static int get_time(struct api_call *call, const json_t *body, const char *key,
                    const char **v_r, struct ktd_error *err)
{
	(void)call;
	if (ktd_json_get_str(body, key, KTD_JSON_OPTIONAL, 64, v_r, err) < 0)
		return -1;
	if (*v_r && !case_rfc3339_valid(*v_r))
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field '%s' must be an RFC 3339 timestamp",
		                     key);
	return 0;
}

static int get_text(const json_t *body, const char *key, const char **v_r,
                    struct ktd_error *err)
{
	if (ktd_json_get_str(body, key, KTD_JSON_OPTIONAL,
	                     CALLBACK_TEXT_MAX * 4, v_r, err) < 0)
		return -1;
	if (*v_r && ktd_utf8_chars(*v_r) > CALLBACK_TEXT_MAX)
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field '%s' is longer than %d characters",
		                     key, CALLBACK_TEXT_MAX);
	return 0;
}

static void api_callback_create(struct api_call *call)
{
	static const char *const fields[] = {"number",    "message",
	                                     "due_at",    "window_from",
	                                     "window_to", NULL};
	struct db_callback_new c;
	struct db_audit_actor a;
	struct ktd_error err;
	char number[CALL_NUMBER_SIZE], *text = NULL, detail[64];
	const char *raw = NULL;
	json_t *body = NULL, *j;
	int r;

	memset(&c, 0, sizeof(c));
	c.case_id = api_path_id(call);
	if (c.case_id == 0) {
		ktd_http_resp_error(call->resp, 404, "not_found",
		                    "no such case");
		return;
	}
	if (api_json_body(call, &body) < 0)
		return;
	if (ktd_json_check_fields(body, fields, &err) < 0 ||
	    ktd_json_get_str(body, "number", KTD_JSON_OPTIONAL, 64, &raw,
	                     &err) < 0 ||
	    get_text(body, "message", &c.message, &err) < 0 ||
	    get_time(call, body, "due_at", &c.due_at, &err) < 0 ||
	    get_time(call, body, "window_from", &c.window_from, &err) < 0 ||
	    get_time(call, body, "window_to", &c.window_to, &err) < 0)
		goto fail;
	if (raw) {
		if (call_number_normalise(raw, number) != CALL_NUMBER_E164) {
			ktd_error_set(&err, KTD_ERR_UNPROCESSABLE,
			              "field 'number' is not a phone number "
			              "(+4512345678 or 12345678)");
			goto fail;
		}
		c.number = number;
	}
	c.created_by = call->who.user_id;
	if (db_tx_begin(call->pg, &err) < 0)
		goto fail;
	r = db_case_get_json(call->pg, c.case_id, false, &text, &err);
	if (r < 0)
		goto rollback;
	if (r == 0) {
		db_tx_rollback(call->pg);
		ktd_http_resp_error(call->resp, 404, "not_found",
		                    "no such case");
		json_decref(body);
		return;
	}
	free(text);
	text = NULL;
	r = db_callback_insert(call->pg, &c, &text, &err);
	if (r == 0) {
		ktd_error_set(&err, KTD_ERR_UNPROCESSABLE,
		              "field 'number' is required: the case has no "
		              "phone number");
		goto rollback;
	}
	j = r > 0 ? json_loads(text, 0, NULL) : NULL;
	if (r < 0)
		goto rollback;
	api_actor(call, &a);
	snprintf(detail, sizeof(detail),
	         "{\"callback_id\": %" JSON_INTEGER_FORMAT "}",
	         j ? json_integer_value(json_object_get(j, "id")) : 0);
	json_decref(j);
	if (db_audit_add(call->pg, &a, "update", c.case_id, detail, &err) < 0 ||
	    db_case_notify(call->pg, "case.updated", c.case_id, &err) < 0 ||
	    db_tx_commit(call->pg, &err) < 0)
		goto rollback;
	answer_text(call, 201, text);
	json_decref(body);
	return;
rollback:
	db_tx_rollback(call->pg);
	free(text);
fail:
	api_fail(call, &err);
	json_decref(body);
}

static void api_callback_attempt(struct api_call *call)
{
	static const char *const fields[] = {"result", "note", "version", NULL};
	struct callback_config cfg = {call->api->callback_max_attempts,
	                              call->api->callback_retry_after_s};
	struct case_actor actor;
	struct ktd_error err;
	const char *result = NULL, *note = NULL;
	json_int_t version = 0;
	json_t *body = NULL;
	char *text = NULL;
	int64_t id = api_path_id(call);

	if (id == 0) {
		ktd_http_resp_error(call->resp, 404, "not_found",
		                    "no such callback");
		return;
	}
	if (api_json_body(call, &body) < 0)
		return;
	if (ktd_json_check_fields(body, fields, &err) < 0 ||
	    ktd_json_get_str(body, "result", KTD_JSON_REQUIRED, 16, &result,
	                     &err) < 0 ||
	    get_text(body, "note", &note, &err) < 0 ||
	    ktd_json_get_int(body, "version", KTD_JSON_OPTIONAL, 1, INT32_MAX,
	                     &version, &err) < 0)
		goto fail;
	if (strcmp(result, "reached") != 0 &&
	    strcmp(result, "not_reached") != 0) {
		ktd_error_set(&err, KTD_ERR_UNPROCESSABLE,
		              "field 'result' must be reached or not_reached");
		goto fail;
	}
	api_case_actor(call, &actor);
	if (callback_attempt(call->pg, id, version, result, note, &actor, &cfg,
	                     &text, &err) < 0) {
		if (err.code != KTD_ERR_CONFLICT || !text)
			goto fail;
		api_conflict(call, err.msg, "callback",
		             json_loads(text, 0, NULL));
		free(text);
		json_decref(body);
		return;
	}
	answer_text(call, 201, text);
	json_decref(body);
	return;
fail:
	api_fail(call, &err);
	json_decref(body);
}

static void api_callback_list(struct api_call *call)
{
	static const char *const statuses[] = {"open", "done", "not_reached",
	                                       "cancelled", NULL};
	struct db_callback_filter f;
	struct ktd_error err;
	char *text = NULL, cursor[CASE_CURSOR_SIZE];
	const char *s;
	int64_t last_us = 0, last_id = 0;
	uint32_t limit;
	json_t *items;
	size_t i;

	memset(&f, 0, sizeof(f));
	f.limit = CALLBACK_LIST_DEFAULT;
	f.status = ktd_http_req_query(call->req, "status");
	if (!f.status) {
		f.status = "open";
	} else if (strcmp(f.status, "all") == 0) {
		f.status = NULL;
	} else {
		for (i = 0; statuses[i] && strcmp(statuses[i], f.status); i++)
			;
		if (!statuses[i]) {
			api_bad_param(call, "status",
			              "must be one of open, done, not_reached, "
			              "cancelled, all");
			return;
		}
	}
	f.due_before = ktd_http_req_query(call->req, "due_before");
	if (f.due_before && !case_rfc3339_valid(f.due_before)) {
		api_bad_param(call, "due_before",
		              "must be an RFC 3339 timestamp");
		return;
	}
	s = ktd_http_req_query(call->req, "limit");
	if (s) {
		if (ktd_parse_u32(s, &limit) < 0 || limit < 1 ||
		    limit > CALLBACK_LIST_MAX) {
			api_bad_param(call, "limit",
			              "must be an integer from 1 to 200");
			return;
		}
		f.limit = limit;
	}
	s = ktd_http_req_query(call->req, "cursor");
	if (s && case_cursor_decode(s, &f.after_us, &f.after_id) < 0) {
		api_bad_param(call, "cursor",
		              "is not a cursor this server gave out");
		return;
	}
	if (db_callback_list_json(call->pg, &f, &text, &last_us, &last_id,
	                          &err) < 0) {
		api_fail(call, &err);
		return;
	}
	items = json_loads(text, 0, NULL);
	free(text);
	if (!items) {
		ktd_error_set(&err, KTD_ERR_INTERNAL,
		              "callbacks: unreadable JSON from the database");
		api_fail(call, &err);
		return;
	}
	if (last_id)
		case_cursor_encode(last_us, last_id, cursor);
	ktd_http_resp_json(
	        call->resp, 200,
	        json_pack("{s:o, s:o}", "items", items, "next_cursor",
	                  last_id ? json_string(cursor) : json_null()));
}

static void api_callback_summary(struct api_call *call)
{
	const char *from = ktd_http_req_query(call->req, "from");
	const char *to = ktd_http_req_query(call->req, "to");
	struct ktd_error err;
	char *text = NULL;

	if (from && !case_rfc3339_valid(from)) {
		api_bad_param(call, "from", "must be an RFC 3339 timestamp");
		return;
	}
	if (to && !case_rfc3339_valid(to)) {
		api_bad_param(call, "to", "must be an RFC 3339 timestamp");
		return;
	}
	if (db_callback_summary_json(call->pg, from, to, &text, &err) < 0) {
		api_fail(call, &err);
		return;
	}
	answer_text(call, 200, text);
}

const struct api_route api_callback_routes[] = {
        {"GET", "/api/v1/callbacks", api_callback_list, 0, API_ROLES_ALL,
         TOKEN_SCOPE_READ},
        {"GET", "/api/v1/callbacks/summary", api_callback_summary, 0,
         API_ROLES_STAFF, TOKEN_SCOPE_READ},
        {"POST", "/api/v1/cases/{id}/callbacks", api_callback_create,
         API_SESSION, API_ROLES_ALL, 0},
        {"POST", "/api/v1/callbacks/{id}/attempts", api_callback_attempt,
         API_SESSION, API_ROLES_ALL, 0},
};
const size_t api_callback_routes_n = KTD_N_ELEMENTS(api_callback_routes);
