/* SPDX-License-Identifier: MPL-2.0 */
/* API tokens over HTTP: GET/POST /api/v1/tokens, DELETE
 * /api/v1/tokens/{name}. A token is shown once, in the answer to POST; only
 * its SHA-256 is stored. Tokens are revoked, never deleted. */
#include "api/api_common.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "db/tx.h"
#include "db/db_token.h"
#include "http/json.h"

static const char *const create_fields[] = {"name", "scopes", NULL};

static json_t *scopes_json(const char *scopes)
{
	json_t *arr = json_array();
	const char *p = scopes;

	while (p && *p) {
		size_t n = strcspn(p, ",");

		json_array_append_new(arr, json_stringn(p, n));
		p += n;
		if (*p == ',')
			p++;
	}
	return arr;
}

static json_t *token_json(const struct db_token *t)
{
	return json_pack("{s:s, s:o, s:s, s:s, s:o, s:o}", "name", t->name,
	                 "scopes", scopes_json(t->scopes), "created_at",
	                 t->created_at, "created_by", t->created_by,
	                 "last_used_at", api_json_text_or_null(t->last_used_at),
	                 "revoked_at", api_json_text_or_null(t->revoked_at));
}

static void api_token_list(struct api_call *call)
{
	struct db_token_list list = {0};
	struct ktd_error err;
	json_t *items;
	size_t i;

	if (db_token_list(call->pg, &list, &err) < 0) {
		api_fail(call, &err);
		return;
	}
	items = json_array();
	for (i = 0; i < list.n; i++)
		json_array_append_new(items, token_json(&list.items[i]));
	db_token_list_free(&list);
	ktd_http_resp_json(call->resp, 200, json_pack("{s:o}", "items", items));
}

/* The "scopes" array of body as bits. */
static int get_scopes(json_t *body, unsigned *scopes_r, struct ktd_error *err)
{
	json_t *arr = json_object_get(body, "scopes"), *v;
	unsigned seen = 0, bits;
	size_t i;

	if (!arr || json_is_null(arr))
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field 'scopes' is required");
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field 'scopes' must be a non-empty "
		                     "array of scope names");
	json_array_foreach (arr, i, v) {
		const char *s = json_string_value(v);

		/* One name at a time: no commas smuggled into one element. */
		if (!s || strchr(s, ',') ||
		    strlen(s) != json_string_length(v) ||
		    token_scopes_parse(s, &bits, err) < 0)
			return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
			                     "field 'scopes': item %zu is not "
			                     "one of cti:write, "
			                     "digitalpost:write, read, admin",
			                     i);
		if (seen & bits)
			return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
			                     "field 'scopes': %s is listed "
			                     "twice",
			                     s);
		seen |= bits;
	}
	*scopes_r = seen;
	return 0;
}

static void api_token_create(struct api_call *call)
{
	const char *name = NULL;
	char token[TOKEN_SIZE] = "", scopes_text[TOKEN_SCOPES_TEXT_SIZE];
	char by[AUTH_LOGIN_MAX + 80], location[128];
	unsigned char hash[TOKEN_HASH_SIZE];
	struct db_token_list list = {0};
	struct ktd_error err;
	json_t *body = NULL, *j;
	unsigned scopes = 0;
	int64_t id = 0;
	size_t i;

	if (api_json_body(call, &body) < 0)
		return;
	if (ktd_json_check_fields(body, create_fields, &err) < 0 ||
	    ktd_json_get_str(body, "name", KTD_JSON_REQUIRED, TOKEN_NAME_MAX,
	                     &name, &err) < 0)
		goto fail;
	if (token_name_check(name, &err) < 0) {
		err.code = KTD_ERR_UNPROCESSABLE;
		ktd_error_prefix(&err, "field 'name': ");
		goto fail;
	}
	if (get_scopes(body, &scopes, &err) < 0)
		goto fail;
	token_scopes_format(scopes, scopes_text, sizeof(scopes_text));
	if (call->who.kind == AUTH_SESSION)
		snprintf(by, sizeof(by), "user:%s", call->who.login);
	else
		snprintf(by, sizeof(by), "token:%s", call->who.token_name);
	token_generate(token, hash);
	if (db_tx_begin(call->pg, &err) < 0 ||
	    db_token_insert(call->pg, name, hash, scopes_text, by, &id, &err) <
	            0 ||
	    api_commit_audited(call, "create", "token", id,
	                       json_pack("{s:s, s:s}", "name", name, "scopes",
	                                 scopes_text),
	                       &err) < 0 ||
	    db_token_list(call->pg, &list, &err) < 0)
		goto fail;
	for (i = 0; i < list.n; i++) {
		if (strcmp(list.items[i].name, name) == 0)
			break;
	}
	if (i == list.n) {
		ktd_error_set(&err, KTD_ERR_INTERNAL,
		              "token %s vanished after insert", name);
		goto fail;
	}
	ktd_log_info("event=token_created name=%s scopes=%s by=%s", name,
	             scopes_text, by);
	j = token_json(&list.items[i]);
	json_object_set_new(j, "token", json_string(token));
	snprintf(location, sizeof(location), "/api/v1/tokens/%s", name);
	ktd_http_resp_json(call->resp, 201, j);
	ktd_http_resp_header(call->resp, "Location", location);
	goto out;
fail:
	db_tx_rollback(call->pg);
	api_fail(call, &err);
out:
	sodium_memzero(token, sizeof(token));
	db_token_list_free(&list);
	json_decref(body);
}

static void api_token_revoke(struct api_call *call)
{
	const char *name = ktd_http_req_param(call->req, "name");
	struct ktd_error err;
	int64_t id = 0;
	bool already;
	int r;

	if (!name || token_name_check(name, &err) < 0) {
		ktd_http_resp_error(call->resp, 404, "not_found",
		                    "no such token");
		return;
	}
	if (db_tx_begin(call->pg, &err) < 0) {
		api_fail(call, &err);
		return;
	}
	r = db_token_revoke(call->pg, name, &already, &id, &err);
	if (r == 1 && !already &&
	    api_commit_audited(call, "delete", "token", id,
	                       json_pack("{s:s}", "name", name), &err) < 0)
		r = -1;
	db_tx_rollback(call->pg); /* nothing to keep when r != 1 */
	if (r < 0) {
		api_fail(call, &err);
		return;
	}
	if (r == 0) {
		ktd_http_resp_error(call->resp, 404, "not_found",
		                    "no such token");
		return;
	}
	if (!already)
		ktd_log_info("event=token_revoked name=%s by=%s", name,
		             call->who.kind == AUTH_SESSION
		                     ? call->who.login
		                     : call->who.token_name);
	ktd_http_resp_set_body(call->resp, 204, "", "", 0);
}

#define ADMIN API_ROLE(USER_ROLE_ADMIN)

const struct api_route api_token_routes[] = {
        {"GET", "/api/v1/tokens", api_token_list, 0, ADMIN, TOKEN_SCOPE_ADMIN},
        {"POST", "/api/v1/tokens", api_token_create, 0, ADMIN,
         TOKEN_SCOPE_ADMIN},
        {"DELETE", "/api/v1/tokens/{name}", api_token_revoke, 0, ADMIN,
         TOKEN_SCOPE_ADMIN},
};
const size_t api_token_routes_n = KTD_N_ELEMENTS(api_token_routes);
