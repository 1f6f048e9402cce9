/* SPDX-License-Identifier: MPL-2.0 */
/* GET /api/v1/audit: the audit log for supervisors and admins (and
 * admin-scope tokens), newest first, filtered and cursor-paginated. */
#include "api/api_common.h"

#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "api/api_int.h"
#include "core/case.h"
#include "db/db_audit.h"
#include "http/json.h"

#define AUDIT_LIST_DEFAULT 50
#define AUDIT_LIST_MAX 200

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++) {
		if (strcmp(s, *list) == 0)
			return true;
	}
	return false;
}

static int audit_filter(struct api_call *call, struct db_audit_filter *f)
{
	static const char *const actions[] = {
	        "read",   "create", "update", "forward", "resolve",
	        "export", "merge",  "reply",  "delete",  NULL};
	static const char *const objects[] = {"department", "user", "token",
	                                      "routing_rule", NULL};
	const char *s;
	int64_t us;
	uint32_t limit;

	memset(f, 0, sizeof(*f));
	f->limit = AUDIT_LIST_DEFAULT;
	if (api_query_id(call, "case_id", &f->case_id) < 0 ||
	    api_query_id(call, "user_id", &f->actor_user_id) < 0 ||
	    api_query_id(call, "object_id", &f->object_id) < 0)
		return -1;
	f->action = ktd_http_req_query(call->req, "action");
	if (f->action && !in_list(f->action, actions))
		return api_bad_param(call, "action",
		                     "must be one of read, create, update, "
		                     "forward, resolve, export, merge, reply, "
		                     "delete");
	f->object_type = ktd_http_req_query(call->req, "object_type");
	if (f->object_type && !in_list(f->object_type, objects))
		return api_bad_param(call, "object_type",
		                     "must be one of department, user, token, "
		                     "routing_rule");
	if (f->object_id && !f->object_type)
		return api_bad_param(call, "object_id",
		                     "needs object_type as well");
	f->from = ktd_http_req_query(call->req, "from");
	if (f->from && !case_rfc3339_valid(f->from))
		return api_bad_param(call, "from",
		                     "must be an RFC 3339 timestamp");
	f->to = ktd_http_req_query(call->req, "to");
	if (f->to && !case_rfc3339_valid(f->to))
		return api_bad_param(call, "to",
		                     "must be an RFC 3339 timestamp");
	s = ktd_http_req_query(call->req, "limit");
	if (s) {
		if (ktd_parse_u32(s, &limit) < 0 || limit < 1 ||
		    limit > AUDIT_LIST_MAX)
			return api_bad_param(
			        call, "limit",
			        "must be an integer from 1 to 200");
		f->limit = limit;
	}
	s = ktd_http_req_query(call->req, "cursor");
	if (s && (case_cursor_decode(s, &us, &f->before_id) < 0 || us != 0))
		return api_bad_param(call, "cursor",
		                     "is not a cursor this server gave out");
	return 0;
}

static void api_audit_list(struct api_call *call)
{
	struct db_audit_filter f;
	struct ktd_error err;
	char *text = NULL, cursor[CASE_CURSOR_SIZE];
	int64_t last_id;
	json_t *items;

	if (audit_filter(call, &f) < 0)
		return;
	if (db_audit_list_json(call->pg, &f, &text, &last_id, &err) < 0) {
		api_fail(call, &err);
		return;
	}
	items = json_loads(text, 0, NULL);
	free(text);
	if (!items) {
		ktd_error_set(&err, KTD_ERR_INTERNAL,
		              "audit list: unreadable JSON from the database");
		api_fail(call, &err);
		return;
	}
	if (last_id)
		case_cursor_encode(0, last_id, cursor);
	ktd_http_resp_json(
	        call->resp, 200,
	        json_pack("{s:o, s:o}", "items", items, "next_cursor",
	                  last_id ? json_string(cursor) : json_null()));
}

const struct api_route api_audit_routes[] = {
        {"GET", "/api/v1/audit", api_audit_list, 0, API_ROLES_STAFF,
         TOKEN_SCOPE_ADMIN},
};
const size_t api_audit_routes_n = KTD_N_ELEMENTS(api_audit_routes);
