/* SPDX-License-Identifier: MPL-2.0 */
/* The directory over HTTP: GET/POST /api/v1/departments, GET/PATCH
 * /api/v1/departments/{id}. The rules for each field are core/directory's;
 * a department is never deleted, only made inactive. */
#include "api/api_common.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "api/api_int.h"
#include "core/directory.h"
#include "db/db_department.h"
#include "db/tx.h"
#include "http/json.h"

/* Longer text is refused before it is looked at. */
#define DEP_FIELD_MAX 1024
#define DEP_QUERY_MAX 200

static const char *const dep_fields[] = {"name",
                                         "parent_id",
                                         "queue_number",
                                         "hunt_group_number",
                                         "ivr_choice",
                                         "email",
                                         "phone_hours",
                                         "handled_by_centre",
                                         "phase",
                                         "active",
                                         NULL};

typedef int dep_check_fn(const char *s, struct ktd_error *err);

/* Turns the message of a core check into one that names the field. */
static int field_error(struct ktd_error *err, const char *key)
{
	err->code = KTD_ERR_UNPROCESSABLE;
	ktd_error_prefix(err, "field '%s': ", key);
	return -1;
}

/* A nullable text field: absent leaves *field, null clears it. */
static int apply_text(json_t *body, const char *key, dep_check_fn *check,
                      char **field, struct ktd_error *err)
{
	json_t *v = json_object_get(body, key);
	const char *s = NULL;

	if (!v)
		return 0;
	if (json_is_null(v)) {
		ktd_free(field);
		return 0;
	}
	if (ktd_json_get_str(body, key, KTD_JSON_REQUIRED, DEP_FIELD_MAX, &s,
	                     err) < 0)
		return -1;
	if (check(s, err) < 0)
		return field_error(err, key);
	ktd_free(field);
	*field = ktd_strdup(s);
	return 0;
}

static int apply_name(json_t *body, bool create, struct db_department *d,
                      struct ktd_error *err)
{
	const char *s = NULL;

	if (!create && !json_object_get(body, "name"))
		return 0;
	if (ktd_json_get_str(body, "name", KTD_JSON_REQUIRED, DEP_FIELD_MAX, &s,
	                     err) < 0)
		return -1;
	if (directory_name_check(s, err) < 0)
		return field_error(err, "name");
	ktd_free(&d->name);
	d->name = ktd_strdup(s);
	return 0;
}

static int apply_hours(json_t *body, struct db_department *d,
                       struct ktd_error *err)
{
	json_t *v = json_object_get(body, "phone_hours");
	struct directory_hours h;
	char *text;
	int r;

	if (!v)
		return 0;
	if (!json_is_object(v))
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field 'phone_hours' must be an object "
		                     "such as {\"mon\": [[\"08:00\", "
		                     "\"15:00\"]]}");
	text = json_dumps(v, JSON_COMPACT);
	if (!text)
		return ktd_error_set(err, KTD_ERR_INTERNAL,
		                     "out of memory encoding phone hours");
	r = directory_hours_from_json(text, &h, err);
	free(text);
	if (r < 0)
		return field_error(err, "phone_hours");
	ktd_free(&d->phone_hours);
	d->phone_hours = directory_hours_to_json(&h);
	return 0;
}

/* Applies the fields of body to d (the defaults when creating, else the
 * stored department) and checks the result as a whole. */
static int dep_apply(json_t *body, bool create, struct db_department *d,
                     struct ktd_error *err)
{
	json_t *v;
	json_int_t i;

	if (ktd_json_check_fields(body, dep_fields, err) < 0 ||
	    apply_name(body, create, d, err) < 0 ||
	    apply_text(body, "queue_number", directory_number_check,
	               &d->queue_number, err) < 0 ||
	    apply_text(body, "hunt_group_number", directory_number_check,
	               &d->hunt_group_number, err) < 0 ||
	    apply_text(body, "ivr_choice", directory_ivr_check, &d->ivr_choice,
	               err) < 0 ||
	    apply_text(body, "email", directory_email_check, &d->email, err) <
	            0 ||
	    apply_hours(body, d, err) < 0)
		return -1;
	if (json_object_get(body, "handled_by_centre") &&
	    ktd_json_get_bool(body, "handled_by_centre", KTD_JSON_REQUIRED,
	                      &d->handled_by_centre, err) < 0)
		return -1;
	if (json_object_get(body, "active") &&
	    ktd_json_get_bool(body, "active", KTD_JSON_REQUIRED, &d->active,
	                      err) < 0)
		return -1;
	v = json_object_get(body, "phase");
	if (v && json_is_null(v)) {
		d->phase = 0;
	} else if (v) {
		if (ktd_json_get_int(body, "phase", KTD_JSON_REQUIRED, 1, 3, &i,
		                     err) < 0)
			return -1;
		d->phase = (unsigned)i;
	}
	v = json_object_get(body, "parent_id");
	if (v && json_is_null(v)) {
		d->parent_id = 0;
	} else if (v) {
		if (ktd_json_get_int(body, "parent_id", KTD_JSON_REQUIRED, 1,
		                     INT64_MAX, &i, err) < 0)
			return -1;
		d->parent_id = (int64_t)i;
		if (d->parent_id == d->id)
			return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
			                     "field 'parent_id': a department "
			                     "cannot be its own parent");
	}
	if ((d->phase != 0) != d->handled_by_centre)
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field 'phase': a phase (1-3) is set "
		                     "exactly when handled_by_centre is true");
	return 0;
}

static json_t *dep_json(const struct db_department *d)
{
	json_t *hours =
	        json_loads(d->phone_hours ? d->phone_hours : "{}", 0, NULL);

	return json_pack(
	        "{s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:o, "
	        "s:b, s:b}",
	        "id", (json_int_t)d->id, "name", d->name, "parent_id",
	        d->parent_id ? json_integer(d->parent_id) : json_null(),
	        "parent", api_json_text_or_null(d->parent), "queue_number",
	        api_json_text_or_null(d->queue_number), "hunt_group_number",
	        api_json_text_or_null(d->hunt_group_number), "ivr_choice",
	        api_json_text_or_null(d->ivr_choice), "email",
	        api_json_text_or_null(d->email), "phone_hours",
	        hours ? hours : json_object(), "handled_by_centre",
	        d->handled_by_centre, "phase",
	        d->phase ? json_integer(d->phase) : json_null(), "active",
	        d->active, "open_now", d->open_now);
}

static void not_found(struct api_call *call)
{
	ktd_http_resp_error(call->resp, 404, "not_found", "no such department");
}

/* "true" or "false" in the query parameter name into *v_r (-1 absent). */
static int query_bool(struct api_call *call, const char *name, int *v_r)
{
	const char *s = ktd_http_req_query(call->req, name);

	*v_r = -1;
	if (!s)
		return 0;
	if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
		*v_r = s[0] == 't';
		return 0;
	}
	ktd_http_resp_error(call->resp, 400, "invalid",
	                    "query parameter '%s' must be true or false", name);
	return -1;
}

static void api_department_list(struct api_call *call)
{
	struct db_department_filter f = {0};
	struct db_department_list list = {0};
	struct ktd_error err;
	json_t *items;
	size_t i;

	f.q = ktd_http_req_query(call->req, "q");
	if (f.q && (strlen(f.q) > DEP_QUERY_MAX ||
	            !ktd_utf8_valid(f.q, strlen(f.q)))) {
		ktd_http_resp_error(call->resp, 400, "invalid",
		                    "query parameter 'q' must be UTF-8 of at "
		                    "most %d bytes",
		                    DEP_QUERY_MAX);
		return;
	}
	if (f.q && !*f.q)
		f.q = NULL;
	if (query_bool(call, "active", &f.active) < 0 ||
	    query_bool(call, "handled_by_centre", &f.handled_by_centre) < 0)
		return;
	if (db_department_select(call->pg, &f, &list, &err) < 0) {
		api_fail(call, &err);
		return;
	}
	items = json_array();
	for (i = 0; i < list.n; i++)
		json_array_append_new(items, dep_json(&list.items[i]));
	db_department_list_free(&list);
	ktd_http_resp_json(call->resp, 200, json_pack("{s:o}", "items", items));
}

/* Answers with department id (status 200 or 201). Returns 0, or -1 with
 * err (nothing answered). */
static int answer_one(struct api_call *call, int64_t id, unsigned status,
                      struct ktd_error *err)
{
	struct db_department_filter f = {
	        .active = -1, .handled_by_centre = -1, .id = id};
	struct db_department_list list = {0};

	if (db_department_select(call->pg, &f, &list, err) < 0)
		return -1;
	if (list.n == 0) {
		not_found(call);
	} else {
		ktd_http_resp_json(call->resp, status,
		                   dep_json(&list.items[0]));
	}
	db_department_list_free(&list);
	return 0;
}

static void api_department_get(struct api_call *call)
{
	int64_t id = api_path_id(call);
	struct ktd_error err;

	if (id == 0) {
		not_found(call);
		return;
	}
	if (answer_one(call, id, 200, &err) < 0)
		api_fail(call, &err);
}

static void api_department_create(struct api_call *call)
{
	struct db_department d = {0};
	struct ktd_error err;
	json_t *body = NULL;
	int64_t id;
	char location[64];

	if (api_json_body(call, &body) < 0)
		return;
	d.active = true;
	d.phone_hours = ktd_strdup("{}");
	if (dep_apply(body, true, &d, &err) < 0 ||
	    db_tx_begin(call->pg, &err) < 0 ||
	    db_department_insert(call->pg, &d, &id, &err) < 0 ||
	    api_commit_audited(call, "create", "department", id,
	                       json_pack("{s:s}", "name", d.name), &err) < 0)
		goto fail;
	ktd_log_info("event=department_created id=%" PRId64 " by=%s", id,
	             call->who.kind == AUTH_SESSION ? call->who.login
	                                            : call->who.token_name);
	snprintf(location, sizeof(location), "/api/v1/departments/%" PRId64,
	         id);
	if (answer_one(call, id, 201, &err) < 0)
		goto fail;
	ktd_http_resp_header(call->resp, "Location", location);
	goto out;
fail:
	db_tx_rollback(call->pg);
	api_fail(call, &err);
out:
	db_department_clear(&d);
	json_decref(body);
}

static void api_department_update(struct api_call *call)
{
	struct db_department_filter f = {
	        .active = -1, .handled_by_centre = -1, .lock = true};
	struct db_department_list list = {0};
	struct ktd_error err;
	json_t *body = NULL;
	bool in_tx = false;
	int r;

	f.id = api_path_id(call);
	if (api_json_body(call, &body) < 0)
		return;
	if (f.id == 0) {
		not_found(call);
		goto out;
	}
	if (db_tx_begin(call->pg, &err) < 0)
		goto fail;
	in_tx = true;
	if (db_department_select(call->pg, &f, &list, &err) < 0)
		goto fail;
	if (list.n == 0) {
		not_found(call);
		goto out;
	}
	if (dep_apply(body, false, &list.items[0], &err) < 0)
		goto fail;
	r = db_department_update(call->pg, &list.items[0], &err);
	if (r < 0)
		goto fail;
	if (api_commit_audited(call, "update", "department", f.id,
	                       api_changed_fields(body), &err) < 0)
		goto fail;
	in_tx = false;
	ktd_log_info("event=department_updated id=%" PRId64 " by=%s", f.id,
	             call->who.kind == AUTH_SESSION ? call->who.login
	                                            : call->who.token_name);
	if (answer_one(call, f.id, 200, &err) < 0)
		goto fail;
	goto out;
fail:
	api_fail(call, &err);
out:
	if (in_tx)
		db_tx_rollback(call->pg);
	db_department_list_free(&list);
	json_decref(body);
}

#define READERS (TOKEN_SCOPE_READ | TOKEN_SCOPE_ADMIN)

const struct api_route api_department_routes[] = {
        {"GET", "/api/v1/departments", api_department_list, 0, API_ROLES_ALL,
         READERS},
        {"POST", "/api/v1/departments", api_department_create, 0,
         API_ROLE(USER_ROLE_ADMIN), TOKEN_SCOPE_ADMIN},
        {"GET", "/api/v1/departments/{id}", api_department_get, 0,
         API_ROLES_ALL, READERS},
        {"PATCH", "/api/v1/departments/{id}", api_department_update, 0,
         API_ROLE(USER_ROLE_ADMIN), TOKEN_SCOPE_ADMIN},
};
const size_t api_department_routes_n = KTD_N_ELEMENTS(api_department_routes);
