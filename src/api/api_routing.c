/* SPDX-License-Identifier: MPL-2.0 */
/* Intake's routing rules, for admins: GET/POST /api/v1/routing-rules,
 * PATCH/DELETE /api/v1/routing-rules/{id}. A rule sends a new case to a
 * department when the contact's to-address equals the pattern
 * (to_address), the phone queue does (queue) or the subject contains it
 * (keyword); the first active rule by priority, then id, wins. Every
 * change is in the audit log. */
#include "api/api_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "api/api_int.h"
#include "db/db_routing.h"
#include "db/tx.h"
#include "http/json.h"

#define RULE_PATTERN_MAX 254 /* characters, as sql/003 allows */
#define RULE_PRIORITY_MAX 1000000

static const char *const rule_fields[] = {
        "kind", "pattern", "department_id", "priority", "active", NULL};

/* Reads the fields of body into r; all but priority and active required
 * when creating. */
static int rule_apply(const json_t *body, bool create,
                      struct db_routing_rule *r, struct ktd_error *err)
{
	json_int_t dept = 0, prio = 100;

	if (ktd_json_get_str(body, "kind", create, 16, &r->kind, err) < 0 ||
	    ktd_json_get_str(body, "pattern", create, RULE_PATTERN_MAX * 4,
	                     &r->pattern, err) < 0 ||
	    ktd_json_get_int(body, "department_id", create, 1, INT64_MAX, &dept,
	                     err) < 0 ||
	    ktd_json_get_int(body, "priority", false, -RULE_PRIORITY_MAX,
	                     RULE_PRIORITY_MAX, &prio, err) < 0 ||
	    ktd_json_get_bool(body, "active", false, &r->active, err) < 0)
		return -1;
	r->set_kind = r->kind != NULL;
	r->set_pattern = r->pattern != NULL;
	r->set_department = dept != 0;
	r->set_priority = json_object_get(body, "priority") &&
	                  !json_is_null(json_object_get(body, "priority"));
	r->set_active = json_object_get(body, "active") &&
	                !json_is_null(json_object_get(body, "active"));
	r->department_id = dept;
	r->priority = (int32_t)prio;
	if (r->kind && strcmp(r->kind, "to_address") != 0 &&
	    strcmp(r->kind, "queue") != 0 && strcmp(r->kind, "keyword") != 0)
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field 'kind' must be one of to_address, "
		                     "queue, keyword");
	if (r->pattern &&
	    (!*r->pattern || ktd_utf8_chars(r->pattern) > RULE_PATTERN_MAX))
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field 'pattern' must be 1 to %d "
		                     "characters",
		                     RULE_PATTERN_MAX);
	if (r->pattern && ktd_utf8_has_control(r->pattern))
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field 'pattern' contains a control "
		                     "character");
	return 0;
}

/* Answers status with the rule's JSON text (freed). */
static void answer_rule(struct api_call *call, unsigned status, char *text)
{
	struct ktd_error err;
	json_t *j = json_loads(text, 0, NULL);

	free(text);
	if (!j) {
		ktd_error_set(
		        &err, KTD_ERR_INTERNAL,
		        "routing rule: unreadable JSON from the database");
		api_fail(call, &err);
		return;
	}
	ktd_http_resp_json(call->resp, status, j);
}

static void api_routing_list(struct api_call *call)
{
	struct ktd_error err;
	char *text = NULL;
	json_t *items;

	if (db_routing_list_json(call->pg, &text, &err) < 0) {
		api_fail(call, &err);
		return;
	}
	items = json_loads(text, 0, NULL);
	free(text);
	if (!items) {
		ktd_error_set(&err, KTD_ERR_INTERNAL,
		              "routing rules: unreadable JSON from the "
		              "database");
		api_fail(call, &err);
		return;
	}
	ktd_http_resp_json(call->resp, 200, json_pack("{s:o}", "items", items));
}

static void api_routing_create(struct api_call *call)
{
	struct db_routing_rule r;
	struct ktd_error err;
	json_t *body = NULL;
	char *text = NULL, location[64];
	int64_t id;

	memset(&r, 0, sizeof(r));
	r.active = true;
	if (api_json_body(call, &body) < 0)
		return;
	if (ktd_json_check_fields(body, rule_fields, &err) < 0 ||
	    rule_apply(body, true, &r, &err) < 0)
		goto fail;
	if (!r.set_priority)
		r.priority = 100;
	if (db_tx_begin(call->pg, &err) < 0)
		goto fail;
	if (db_routing_insert(call->pg, &r, &id, &text, &err) < 0 ||
	    api_audit_object(call, "create", "routing_rule", id, NULL, &err) <
	            0 ||
	    db_tx_commit(call->pg, &err) < 0) {
		db_tx_rollback(call->pg);
		free(text);
		goto fail;
	}
	snprintf(location, sizeof(location), "/api/v1/routing-rules/%" PRId64,
	         id);
	ktd_http_resp_header(call->resp, "Location", location);
	answer_rule(call, 201, text);
	json_decref(body);
	return;
fail:
	api_fail(call, &err);
	json_decref(body);
}

static void not_found(struct api_call *call)
{
	ktd_http_resp_error(call->resp, 404, "not_found",
	                    "no such routing rule");
}

static void api_routing_update(struct api_call *call)
{
	struct db_routing_rule r;
	struct ktd_error err;
	int64_t id = api_path_id(call);
	json_t *body = NULL;
	char *text = NULL;
	int n;

	memset(&r, 0, sizeof(r));
	if (id == 0) {
		not_found(call);
		return;
	}
	if (api_json_body(call, &body) < 0)
		return;
	if (ktd_json_check_fields(body, rule_fields, &err) < 0 ||
	    rule_apply(body, false, &r, &err) < 0 ||
	    db_tx_begin(call->pg, &err) < 0)
		goto fail;
	n = db_routing_update(call->pg, id, &r, &text, &err);
	if (n <= 0) {
		db_tx_rollback(call->pg);
		if (n == 0) {
			not_found(call);
			json_decref(body);
			return;
		}
		goto fail;
	}
	if (api_audit_object(call, "update", "routing_rule", id, NULL, &err) <
	            0 ||
	    db_tx_commit(call->pg, &err) < 0) {
		db_tx_rollback(call->pg);
		free(text);
		goto fail;
	}
	answer_rule(call, 200, text);
	json_decref(body);
	return;
fail:
	api_fail(call, &err);
	json_decref(body);
}

static void api_routing_delete(struct api_call *call)
{
	struct ktd_error err;
	int64_t id = api_path_id(call);
	int n = 0;

	if (id == 0) {
		not_found(call);
		return;
	}
	if (db_tx_begin(call->pg, &err) < 0)
		goto fail;
	n = db_routing_delete(call->pg, id, &err);
	if (n == 1 && (api_audit_object(call, "delete", "routing_rule", id,
	                                NULL, &err) < 0 ||
	               db_tx_commit(call->pg, &err) < 0))
		n = -1;
	if (n != 1)
		db_tx_rollback(call->pg);
	if (n < 0)
		goto fail;
	if (n == 0) {
		not_found(call);
		return;
	}
	ktd_http_resp_set_body(call->resp, 204, "", "", 0);
	return;
fail:
	api_fail(call, &err);
}

const struct api_route api_routing_routes[] = {
        {"GET", "/api/v1/routing-rules", api_routing_list, 0,
         API_ROLE(USER_ROLE_ADMIN), TOKEN_SCOPE_ADMIN},
        {"POST", "/api/v1/routing-rules", api_routing_create, 0,
         API_ROLE(USER_ROLE_ADMIN), TOKEN_SCOPE_ADMIN},
        {"PATCH", "/api/v1/routing-rules/{id}", api_routing_update, 0,
         API_ROLE(USER_ROLE_ADMIN), TOKEN_SCOPE_ADMIN},
        {"DELETE", "/api/v1/routing-rules/{id}", api_routing_delete, 0,
         API_ROLE(USER_ROLE_ADMIN), TOKEN_SCOPE_ADMIN},
};
const size_t api_routing_routes_n = KTD_N_ELEMENTS(api_routing_routes);
