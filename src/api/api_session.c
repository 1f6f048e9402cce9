/* SPDX-License-Identifier: MPL-2.0 */
/* Sessions: POST /api/v1/session (log in), DELETE /api/v1/session (log
 * out), GET /api/v1/me (who am I). */
#include "api/api_common.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "http/json.h"

/* Longer input is refused before any work (no password is that long). */
#define LOGIN_FIELD_MAX 256

static void set_session_cookie(struct api_call *call, const char *token,
                               uint64_t max_age_s)
{
	char cookie[256];

	snprintf(cookie, sizeof(cookie),
	         API_SESSION_COOKIE "=%s; Path=/; Max-Age=%llu; HttpOnly; "
	                            "SameSite=Strict%s",
	         token, (unsigned long long)max_age_s,
	         call->req->tls ? "; Secure" : "");
	ktd_http_resp_header(call->resp, "Set-Cookie", cookie);
	sodium_memzero(cookie, sizeof(cookie));
}

static json_t *user_json(const struct auth_principal *p)
{
	json_t *dept =
	        p->department_id ? json_integer(p->department_id) : json_null();

	return json_pack("{s:I, s:s, s:s, s:s, s:o}", "id",
	                 (json_int_t)p->user_id, "login", p->login, "name",
	                 p->name, "role", user_role_name(p->role),
	                 "department_id", dept);
}

static void api_login(struct api_call *call)
{
	static const char *const fields[] = {"login", "password", NULL};
	const char *login = NULL, *password = NULL;
	char token[AUTH_SECRET_SIZE];
	struct auth_principal p;
	struct ktd_error err;
	json_t *body = NULL;

	if (api_json_body(call, &body) < 0)
		return;
	if (ktd_json_check_fields(body, fields, &err) < 0 ||
	    ktd_json_get_str(body, "login", KTD_JSON_REQUIRED, LOGIN_FIELD_MAX,
	                     &login, &err) < 0 ||
	    ktd_json_get_str(body, "password", KTD_JSON_REQUIRED,
	                     USER_PASSWORD_MAX, &password, &err) < 0)
		goto fail;
	if (auth_login(call->pg, &call->api->auth, login, password,
	               strlen(password), call->req->peer,
	               ktd_http_req_header(call->req, "User-Agent"), token, &p,
	               &err) < 0)
		goto fail;
	set_session_cookie(call, token, call->api->auth.session_max_age_s);
	sodium_memzero(token, sizeof(token));
	ktd_http_resp_json(call->resp, 200,
	                   json_pack("{s:o, s:s}", "user", user_json(&p),
	                             "csrf_token", p.csrf));
	json_decref(body);
	return;
fail:
	api_fail(call, &err);
	if (err.code == KTD_ERR_RATE_LIMITED) {
		char secs[24];

		snprintf(secs, sizeof(secs), "%llu",
		         (unsigned long long)call->api->auth.failure_window_s);
		ktd_http_resp_header(call->resp, "Retry-After", secs);
	}
	json_decref(body);
}

static void api_logout(struct api_call *call)
{
	const char *cookie = ktd_http_req_cookie(call->req, API_SESSION_COOKIE);
	struct ktd_error err;

	if (auth_logout(call->pg, cookie, &err) < 0) {
		api_fail(call, &err);
		return;
	}
	ktd_log_info("event=logout user=%s peer=%s", call->who.login,
	             call->req->peer);
	ktd_http_resp_header(call->resp, "Set-Cookie",
	                     API_SESSION_COOKIE "=; Path=/; Max-Age=0; "
	                                        "HttpOnly; SameSite=Strict");
	ktd_http_resp_set_body(call->resp, 204, "", "", 0);
}

static void api_me(struct api_call *call)
{
	const struct auth_principal *p = &call->who;
	json_t *j;

	if (p->kind == AUTH_TOKEN) {
		json_t *list = json_array();
		unsigned bit;

		for (bit = 1; bit & TOKEN_SCOPE_ALL; bit <<= 1) {
			if (p->scopes & bit)
				json_array_append_new(
				        list,
				        json_string(token_scope_name(bit)));
		}
		j = json_pack("{s:s, s:s, s:o}", "auth", "token", "token",
		              p->token_name, "scopes", list);
	} else {
		j = json_pack("{s:s, s:o, s:s}", "auth", "session", "user",
		              user_json(p), "csrf_token", p->csrf);
	}
	ktd_http_resp_json(call->resp, 200, j);
}

const struct api_route api_session_routes[] = {
        {"POST", "/api/v1/session", api_login, API_PUBLIC, 0, 0},
        {"DELETE", "/api/v1/session", api_logout, API_SESSION, API_ROLES_ALL,
         0},
        {"GET", "/api/v1/me", api_me, 0, API_ROLES_ALL, TOKEN_SCOPE_ALL},
};
const size_t api_session_routes_n = KTD_N_ELEMENTS(api_session_routes);
