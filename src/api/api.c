/* SPDX-License-Identifier: MPL-2.0 */
/* The API dispatcher: every route goes through it, so that authentication,
 * authorisation and the CSRF check cannot be forgotten by a handler. */
#include "api/api_common.h"

#include <stdlib.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <time.h>
#include <strings.h>

#include "lib/str.h"
#include "api/api_int.h"
#include "core/case.h"
#include "db/db_audit.h"
#include "http/json.h"
#include "db/pool.h"
#include "db/tx.h"

void api_fail(struct api_call *call, const struct ktd_error *err)
{
	ktd_http_resp_from_error(call->resp, err);
}

int64_t api_path_id(const struct api_call *call)
{
	return api_path_id_named(call, "id");
}

int64_t api_path_id_named(const struct api_call *call, const char *name)
{
	const char *s = ktd_http_req_param(call->req, name);
	uint64_t v;

	if (!s || ktd_parse_u64(s, &v) < 0 || v == 0 || v > INT64_MAX)
		return 0;
	return (int64_t)v;
}

void api_actor(const struct api_call *call, struct db_audit_actor *a)
{
	memset(a, 0, sizeof(*a));
	if (call->who.kind == AUTH_SESSION)
		a->user_id = call->who.user_id;
	else
		a->token_name = call->who.token_name;
	a->peer = call->req->peer;
}

int api_bad_param(struct api_call *call, const char *name, const char *what)
{
	ktd_http_resp_error(call->resp, 400, "invalid",
	                    "query parameter '%s' %s", name, what);
	return -1;
}

int api_query_id(struct api_call *call, const char *name, int64_t *v_r)
{
	const char *s = ktd_http_req_query(call->req, name);
	uint64_t v;

	if (!s)
		return 0;
	if (ktd_parse_u64(s, &v) < 0 || v == 0 || v > INT64_MAX)
		return api_bad_param(call, name, "must be a positive integer");
	*v_r = (int64_t)v;
	return 0;
}

int api_audit_object(struct api_call *call, const char *action,
                     const char *object_type, int64_t object_id,
                     const char *detail_json, struct ktd_error *err)
{
	struct db_audit_actor a;

	api_actor(call, &a);
	return db_audit_add_object(call->pg, &a, action, object_type, object_id,
	                           detail_json, err);
}

void api_case_actor(const struct api_call *call, struct case_actor *actor)
{
	struct db_audit_actor a;

	api_actor(call, &a);
	memset(actor, 0, sizeof(*actor));
	actor->user_id = a.user_id;
	actor->token_name = a.token_name;
	actor->peer = a.peer;
}

void api_conflict(struct api_call *call, const char *msg, const char *key,
                  json_t *current)
{
	ktd_http_resp_json(call->resp, 409,
	                   json_pack("{s:{s:s, s:s}, s:o}", "error", "code",
	                             "conflict", "message", msg, key,
	                             current ? current : json_null()));
	call->resp->error_code = "conflict";
}

json_t *api_changed_fields(json_t *body)
{
	json_t *names = json_array(), *v;
	const char *key;

	json_object_foreach (body, key, v)
		json_array_append_new(names, json_string(key));
	return json_pack("{s:o}", "fields", names);
}

int api_commit_audited(struct api_call *call, const char *action,
                       const char *object_type, int64_t object_id,
                       json_t *detail, struct ktd_error *err)
{
	char *text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
	int r;

	json_decref(detail);
	r = api_audit_object(call, action, object_type, object_id, text, err);
	free(text);
	if (r < 0 || db_tx_commit(call->pg, err) < 0) {
		db_tx_rollback(call->pg);
		return -1;
	}
	return 0;
}

json_t *api_json_text_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* 415 unless the Content-Type is type (parameters allowed). */
static int content_type_is(struct api_call *call, const char *type)
{
	const char *ct = ktd_http_req_header(call->req, "Content-Type");
	size_t len = ct ? strcspn(ct, "; \t") : 0;

	if (!ct || len != strlen(type) || strncasecmp(ct, type, len) != 0) {
		ktd_http_resp_error(call->resp, 415, "unsupported_media_type",
		                    "the body must be %s", type);
		return -1;
	}
	return 0;
}

int api_json_body(struct api_call *call, json_t **obj_r)
{
	struct ktd_error err;

	/* Only JSON: a cross-site form cannot send it without a preflight,
	 * which is part of the defence against request forgery. */
	if (content_type_is(call, "application/json") < 0)
		return -1;
	if (ktd_json_parse_object(call->req->body, call->req->body_len, obj_r,
	                          &err) < 0) {
		api_fail(call, &err);
		return -1;
	}
	return 0;
}

int api_json_body_any(struct api_call *call, json_t **root_r)
{
	struct ktd_error err;

	if (content_type_is(call, "application/json") < 0)
		return -1;
	if (ktd_json_parse(call->req->body, call->req->body_len, root_r, &err) <
	    0) {
		api_fail(call, &err);
		return -1;
	}
	return 0;
}

static bool method_is_safe(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 ||
	       strcmp(m, "OPTIONS") == 0;
}

/* Finds who asks: a bearer token in Authorization, else the session
 * cookie. A bearer token that is present but wrong is not retried as a
 * cookie. Returns 1, 0 (nobody) or -1. */
static int authenticate(struct api_call *call, struct ktd_error *err)
{
	const char *authz = ktd_http_req_header(call->req, "Authorization");
	const char *cookie;

	if (authz) {
		if (strncasecmp(authz, "Bearer ", 7) != 0)
			return 0;
		authz += 7;
		while (*authz == ' ')
			authz++;
		return auth_bearer(call->pg, authz, &call->who, err);
	}
	cookie = ktd_http_req_cookie(call->req, API_SESSION_COOKIE);
	if (!cookie)
		return 0;
	return auth_session(call->pg, &call->api->auth, cookie, &call->who,
	                    err);
}

static bool authorized(const struct api_route *rt,
                       const struct auth_principal *who)
{
	if (who->kind == AUTH_SESSION)
		return (rt->roles & API_ROLE(who->role)) != 0;
	if (rt->flags & API_SESSION)
		return false;
	return (rt->scopes & who->scopes) != 0 ||
	       (rt->scopes != 0 && (who->scopes & TOKEN_SCOPE_ADMIN));
}

/* "X-Kontaktd-Signature: t=UNIX,v1=HEX": HEX is the HMAC-SHA256, under
 * the [cti] secret, of "UNIX." followed by the body; UNIX within the
 * allowed age of now (a replay inside it is harmless: events are
 * idempotent). Returns 1 with a cti:write principal, 0 (answered 401). */
static int hmac_authenticate(struct api_call *call, const char *header)
{
	const struct ktd_api *api = call->api;
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	unsigned char got[crypto_auth_hmacsha256_BYTES];
	const char *v1, *why = NULL;
	char *end;
	long long t;
	size_t len = 0;
	time_t now = time(NULL);

	errno = 0;
	t = strncmp(header, "t=", 2) == 0 ? strtoll(header + 2, &end, 10) : -1;
	v1 = t > 0 && errno == 0 && strncmp(end, ",v1=", 4) == 0 ? end + 4
	                                                         : NULL;
	if (!v1 || strlen(v1) != 2 * sizeof(got) ||
	    sodium_hex2bin(got, sizeof(got), v1, strlen(v1), NULL, &len,
	                   NULL) != 0 ||
	    len != sizeof(got))
		why = "the header X-Kontaktd-Signature must be "
		      "t=UNIX,v1=HEX (64 hex digits)";
	else if (llabs((long long)now - t) >
	         (long long)api->cti.signature_max_age_s)
		why = "the signature's time is too far from now";
	if (!why) {
		crypto_auth_hmacsha256_init(
		        &st, (const unsigned char *)api->cti.hmac_secret,
		        strlen(api->cti.hmac_secret));
		crypto_auth_hmacsha256_update(
		        &st, (const unsigned char *)header + 2,
		        (unsigned long long)(end - header - 2));
		crypto_auth_hmacsha256_update(&st, (const unsigned char *)".",
		                              1);
		crypto_auth_hmacsha256_update(
		        &st, (const unsigned char *)call->req->body,
		        call->req->body_len);
		crypto_auth_hmacsha256_final(&st, mac);
		if (sodium_memcmp(mac, got, sizeof(mac)) != 0)
			why = "the signature does not match the body";
	}
	if (why) {
		ktd_http_resp_error(call->resp, 401, "unauthenticated", "%s",
		                    why);
		return 0;
	}
	memset(&call->who, 0, sizeof(call->who));
	call->who.kind = AUTH_TOKEN;
	call->who.scopes = TOKEN_SCOPE_CTI_WRITE;
	return 1;
}

static void api_dispatch(struct ktd_http_req *req, struct ktd_http_resp *resp,
                         void *ctx)
{
	const struct api_bound *b = ctx;
	const struct api_route *rt = b->route;
	struct api_call call;
	struct db_conn *conn = NULL;
	struct ktd_error err;
	int r;

	memset(&call, 0, sizeof(call));
	call.req = req;
	call.resp = resp;
	call.api = b->api;
	if (!(rt->flags & API_NO_DB)) {
		if (db_pool_acquire(b->api->pool, &conn, &err) < 0) {
			api_fail(&call, &err);
			return;
		}
		call.pg = db_conn_pg(conn);
	}
	if (!(rt->flags & API_PUBLIC)) {
		const char *sig =
		        ktd_http_req_header(req, "X-Kontaktd-Signature");

		if ((rt->flags & API_HMAC) && sig && b->api->cti.hmac_secret &&
		    !ktd_http_req_header(req, "Authorization")) {
			if (!hmac_authenticate(&call, sig))
				goto out;
			r = 1;
		} else {
			r = authenticate(&call, &err);
		}
		if (r < 0) {
			api_fail(&call, &err);
			goto out;
		}
		if (r == 0) {
			ktd_http_resp_error(resp, 401, "unauthenticated",
			                    "log in, or send a valid bearer "
			                    "token");
			ktd_http_resp_header(resp, "WWW-Authenticate",
			                     "Bearer realm=\"kontaktd\"");
			goto out;
		}
		if (!authorized(rt, &call.who)) {
			ktd_http_resp_error(resp, 403, "forbidden",
			                    "your %s does not allow this",
			                    call.who.kind == AUTH_SESSION
			                            ? "role"
			                            : "token's scope");
			goto out;
		}
		if (call.who.kind == AUTH_SESSION &&
		    !method_is_safe(req->method) &&
		    !auth_csrf_ok(&call.who,
		                  ktd_http_req_header(req, "X-CSRF-Token"))) {
			ktd_http_resp_error(resp, 403, "csrf",
			                    "missing or wrong X-CSRF-Token "
			                    "header");
			goto out;
		}
	}
	rt->fn(&call);
out:
	db_pool_release(b->api->pool, &conn);
}

static int register_table(struct ktd_router *router, struct ktd_api *api,
                          const struct api_route *routes, size_t n,
                          struct ktd_error *err)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct api_bound *b;

		if (api->nbound == KTD_N_ELEMENTS(api->bound))
			return ktd_error_set(err, KTD_ERR_INTERNAL,
			                     "more than %zu routes: raise "
			                     "KTD_API_MAX_ROUTES",
			                     KTD_N_ELEMENTS(api->bound));
		b = &api->bound[api->nbound++];
		b->route = &routes[i];
		b->api = api;
		if (ktd_router_add(router, routes[i].method, routes[i].pattern,
		                   api_dispatch, b, err) < 0)
			return -1;
	}
	return 0;
}

int ktd_api_register(struct ktd_router *router, struct ktd_api *api,
                     struct ktd_error *err)
{
	api_metrics_init();
	api->nbound = 0;
	if (register_table(router, api, api_health_routes, api_health_routes_n,
	                   err) < 0 ||
	    register_table(router, api, api_session_routes,
	                   api_session_routes_n, err) < 0 ||
	    register_table(router, api, api_case_routes, api_case_routes_n,
	                   err) < 0 ||
	    register_table(router, api, api_case_sub_routes,
	                   api_case_sub_routes_n, err) < 0 ||
	    register_table(router, api, api_audit_routes, api_audit_routes_n,
	                   err) < 0 ||
	    register_table(router, api, api_routing_routes,
	                   api_routing_routes_n, err) < 0 ||
	    register_table(router, api, api_cti_routes, api_cti_routes_n, err) <
	            0 ||
	    register_table(router, api, api_callback_routes,
	                   api_callback_routes_n, err) < 0 ||
	    register_table(router, api, api_events_routes, api_events_routes_n,
	                   err) < 0 ||
	    register_table(router, api, api_department_routes,
	                   api_department_routes_n, err) < 0 ||
	    register_table(router, api, api_user_routes, api_user_routes_n,
	                   err) < 0 ||
	    register_table(router, api, api_token_routes, api_token_routes_n,
	                   err) < 0)
		return -1;
	return 0;
}
