/* SPDX-License-Identifier: MPL-2.0 */
/* Users over HTTP: GET/POST /api/v1/users, GET/PATCH /api/v1/users/{id},
 * and GET /api/v1/assignees (names only, for every role).
 * Password hashes never leave the database; a user is never deleted, only
 * disabled. Disabling a user or setting a new password ends the user's
 * sessions (db_user_update). */
#include "api/api_common.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "api/api_int.h"
#include "db/tx.h"
#include "db/db_user.h"
#include "http/json.h"

static const char *const create_fields[] = {"login",         "name",     "role",
                                            "department_id", "password", NULL};
static const char *const update_fields[] = {
        "name", "role", "department_id", "disabled", "password", NULL};

static json_t *user_json(const struct db_user *u)
{
	return json_pack(
	        "{s:I, s:s, s:s, s:s, s:o, s:o, s:b, s:s}", "id",
	        (json_int_t)u->id, "login", u->login, "name", u->name, "role",
	        u->role, "department_id",
	        u->department_id ? json_integer(u->department_id) : json_null(),
	        "department",
	        u->department ? json_string(u->department) : json_null(),
	        "disabled", u->disabled, "created_at", u->created_at);
}

static void not_found(struct api_call *call)
{
	ktd_http_resp_error(call->resp, 404, "not_found", "no such user");
}

static int field_error(struct ktd_error *err, const char *key)
{
	err->code = KTD_ERR_UNPROCESSABLE;
	ktd_error_prefix(err, "field '%s': ", key);
	return -1;
}

/* name, role and department_id, when present in body. */
static int get_common(json_t *body, const char **name_r, const char **role_r,
                      bool *set_dep_r, int64_t *dep_r, struct ktd_error *err)
{
	enum user_role role;
	json_t *v;
	json_int_t i;

	if (ktd_json_get_str(body, "name", KTD_JSON_OPTIONAL, USER_NAME_MAX * 4,
	                     name_r, err) < 0)
		return -1;
	if (*name_r && user_name_check(*name_r, err) < 0)
		return field_error(err, "name");
	if (ktd_json_get_str(body, "role", KTD_JSON_OPTIONAL, 32, role_r, err) <
	    0)
		return -1;
	if (*role_r && user_role_parse(*role_r, &role) < 0)
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field 'role' must be agent, supervisor "
		                     "or admin");
	v = json_object_get(body, "department_id");
	*set_dep_r = v != NULL;
	*dep_r = 0;
	if (v && !json_is_null(v)) {
		if (ktd_json_get_int(body, "department_id", KTD_JSON_REQUIRED,
		                     1, INT64_MAX, &i, err) < 0)
			return -1;
		*dep_r = (int64_t)i;
	}
	return 0;
}

/* Checks and hashes the "password" field, when present. */
static int get_password(json_t *body, bool required,
                        char hash_r[USER_HASH_SIZE], bool *set_r,
                        struct ktd_error *err)
{
	const char *pw = NULL;

	*set_r = false;
	if (ktd_json_get_str(body, "password", required, USER_PASSWORD_MAX, &pw,
	                     err) < 0)
		return -1;
	if (!pw)
		return 0;
	if (user_password_hash(pw, strlen(pw), hash_r, err) < 0)
		return err->code == KTD_ERR_INVALID
		               ? field_error(err, "password")
		               : -1;
	*set_r = true;
	return 0;
}

/* Answers with user id. Returns 0, or -1 with err (nothing answered). */
static int answer_one(struct api_call *call, int64_t id, unsigned status,
                      struct ktd_error *err)
{
	struct db_user_list list = {0};

	if (db_user_select(call->pg, id, &list, err) < 0)
		return -1;
	if (list.n == 0)
		not_found(call);
	else
		ktd_http_resp_json(call->resp, status,
		                   user_json(&list.items[0]));
	db_user_list_free(&list);
	return 0;
}

static void api_user_list(struct api_call *call)
{
	struct db_user_list list = {0};
	struct ktd_error err;
	json_t *items;
	size_t i;

	if (db_user_select(call->pg, 0, &list, &err) < 0) {
		api_fail(call, &err);
		return;
	}
	items = json_array();
	for (i = 0; i < list.n; i++)
		json_array_append_new(items, user_json(&list.items[i]));
	db_user_list_free(&list);
	ktd_http_resp_json(call->resp, 200, json_pack("{s:o}", "items", items));
}

static void api_user_get(struct api_call *call)
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

static const char *who(const struct api_call *call)
{
	return call->who.kind == AUTH_SESSION ? call->who.login
	                                      : call->who.token_name;
}

static void api_user_create(struct api_call *call)
{
	const char *login = NULL, *name = NULL, *role = NULL;
	char hash[USER_HASH_SIZE] = "", location[64];
	struct ktd_error err;
	json_t *body = NULL;
	bool set_dep, set_pw;
	int64_t dep, id;

	if (api_json_body(call, &body) < 0)
		return;
	if (ktd_json_check_fields(body, create_fields, &err) < 0 ||
	    ktd_json_get_str(body, "login", KTD_JSON_REQUIRED, USER_LOGIN_MAX,
	                     &login, &err) < 0)
		goto fail;
	if (user_login_check(login, &err) < 0) {
		field_error(&err, "login");
		goto fail;
	}
	if (get_common(body, &name, &role, &set_dep, &dep, &err) < 0)
		goto fail;
	if (!role) {
		ktd_error_set(&err, KTD_ERR_UNPROCESSABLE,
		              "field 'role' is required");
		goto fail;
	}
	if (get_password(body, KTD_JSON_REQUIRED, hash, &set_pw, &err) < 0 ||
	    db_tx_begin(call->pg, &err) < 0 ||
	    db_user_create(call->pg, login, name ? name : "", role, dep, hash,
	                   &id, &err) < 0 ||
	    api_commit_audited(
	            call, "create", "user", id,
	            json_pack("{s:s, s:s}", "login", login, "role", role),
	            &err) < 0)
		goto fail;
	ktd_log_info("event=user_created user=%s role=%s by=%s", login, role,
	             who(call));
	snprintf(location, sizeof(location), "/api/v1/users/%" PRId64, id);
	if (answer_one(call, id, 201, &err) < 0)
		goto fail;
	ktd_http_resp_header(call->resp, "Location", location);
	goto out;
fail:
	db_tx_rollback(call->pg);
	api_fail(call, &err);
out:
	sodium_memzero(hash, sizeof(hash));
	json_decref(body);
}

static void api_user_update(struct api_call *call)
{
	struct db_user_change c = {.disabled = -1};
	char hash[USER_HASH_SIZE] = "";
	struct ktd_error err;
	json_t *body = NULL;
	int64_t id = api_path_id(call);
	bool set_pw, disabled;
	int r;

	if (api_json_body(call, &body) < 0)
		return;
	if (id == 0) {
		not_found(call);
		goto out;
	}
	if (ktd_json_check_fields(body, update_fields, &err) < 0 ||
	    get_common(body, &c.name, &c.role, &c.set_department,
	               &c.department_id, &err) < 0)
		goto fail;
	if (json_object_get(body, "disabled")) {
		if (ktd_json_get_bool(body, "disabled", KTD_JSON_REQUIRED,
		                      &disabled, &err) < 0)
			goto fail;
		c.disabled = disabled;
	}
	if (get_password(body, KTD_JSON_OPTIONAL, hash, &set_pw, &err) < 0)
		goto fail;
	if (set_pw)
		c.password_hash = hash;
	if (db_tx_begin(call->pg, &err) < 0)
		goto fail;
	r = db_user_update(call->pg, id, &c, &err);
	if (r < 0)
		goto fail;
	if (r == 0) {
		db_tx_rollback(call->pg);
		not_found(call);
		goto out;
	}
	if (api_commit_audited(call, "update", "user", id,
	                       api_changed_fields(body), &err) < 0)
		goto fail;
	ktd_log_info("event=user_updated id=%" PRId64 "%s%s by=%s", id,
	             c.disabled == 1 ? " disabled=true" : "",
	             set_pw ? " password=changed" : "", who(call));
	if (answer_one(call, id, 200, &err) < 0)
		goto fail;
	goto out;
fail:
	db_tx_rollback(call->pg);
	api_fail(call, &err);
out:
	sodium_memzero(hash, sizeof(hash));
	json_decref(body);
}

/* GET /api/v1/assignees: the active users' ids, names and logins, for
 * every role (an agent picks an assignee and reads names in the inbox);
 * nothing else of a user, which GET /api/v1/users keeps to staff. */
static void api_user_assignees(struct api_call *call)
{
	struct ktd_error err;
	struct ktd_buf body;
	char *items = NULL;

	if (db_user_active_json(call->pg, &items, &err) < 0) {
		api_fail(call, &err);
		return;
	}
	ktd_buf_init(&body, strlen(items) + 16);
	if (ktd_buf_add_str(&body, "{\"items\":") < 0 ||
	    ktd_buf_add_str(&body, items) < 0 ||
	    ktd_buf_add_str(&body, "}") < 0)
		ktd_panic("assignees: the body outgrew its computed size");
	ktd_http_resp_set_body(call->resp, 200,
	                       "application/json; charset=utf-8", body.data,
	                       body.len);
	ktd_buf_deinit(&body);
	free(items);
}

#define ADMIN API_ROLE(USER_ROLE_ADMIN)

const struct api_route api_user_routes[] = {
        {"GET", "/api/v1/assignees", api_user_assignees, 0, API_ROLES_ALL,
         TOKEN_SCOPE_READ},
        {"GET", "/api/v1/users", api_user_list, 0, API_ROLES_STAFF,
         TOKEN_SCOPE_ADMIN},
        {"POST", "/api/v1/users", api_user_create, 0, ADMIN, TOKEN_SCOPE_ADMIN},
        {"GET", "/api/v1/users/{id}", api_user_get, 0, API_ROLES_STAFF,
         TOKEN_SCOPE_ADMIN},
        {"PATCH", "/api/v1/users/{id}", api_user_update, 0, ADMIN,
         TOKEN_SCOPE_ADMIN},
};
const size_t api_user_routes_n = KTD_N_ELEMENTS(api_user_routes);
