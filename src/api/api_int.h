/* SPDX-License-Identifier: MPL-2.0 */
/* What the resource files of src/api share: the call a handler gets, the
 * access rules of a route, and body/error helpers. */
#ifndef KTD_API_INT_H
#define KTD_API_INT_H

#include "api/api_common.h"
#include "api/api.h"
#include "core/auth.h"
#include "core/token.h"
#include "core/user.h"

#include <jansson.h>
#include <libpq-fe.h>

/* One request as a handler sees it. */
struct api_call {
	struct ktd_http_req *req;
	struct ktd_http_resp *resp;
	struct ktd_api *api;
	/* The request's database connection (NULL for API_NO_DB routes),
	 * borrowed from the pool until the handler returns. */
	PGconn *pg;
	/* Who asks, when the route is not API_PUBLIC. */
	struct auth_principal who;
};

typedef void api_fn(struct api_call *call);

/* Route flags. */
#define API_PUBLIC 0x1u  /* no authentication */
#define API_NO_DB 0x2u   /* the handler needs no database connection */
#define API_SESSION 0x4u /* browser sessions only, not bearer tokens */
/* An HMAC signature with [cti] hmac_secret_file authenticates too, as a
 * principal with the cti:write scope. */
#define API_HMAC 0x8u

#define API_ROLE(r) (1u << (r))
#define API_ROLES_ALL                                                          \
	(API_ROLE(USER_ROLE_AGENT) | API_ROLE(USER_ROLE_SUPERVISOR) |          \
	 API_ROLE(USER_ROLE_ADMIN))
#define API_ROLES_STAFF                                                        \
	(API_ROLE(USER_ROLE_SUPERVISOR) | API_ROLE(USER_ROLE_ADMIN))

/* A route and who may use it: a session whose role is in roles, or a token
 * with a scope in scopes (the admin scope passes wherever tokens may go). */
struct api_route {
	const char *method;
	const char *pattern;
	api_fn *fn;
	unsigned flags;
	unsigned roles;
	unsigned scopes;
};

/* The routes of each resource file. */
extern const struct api_route api_health_routes[];
extern const size_t api_health_routes_n;
extern const struct api_route api_session_routes[];
extern const size_t api_session_routes_n;
extern const struct api_route api_case_routes[];
extern const size_t api_case_routes_n;
extern const struct api_route api_department_routes[];
extern const size_t api_department_routes_n;
extern const struct api_route api_user_routes[];
extern const size_t api_user_routes_n;
extern const struct api_route api_token_routes[];
extern const size_t api_token_routes_n;
extern const struct api_route api_case_sub_routes[];
extern const size_t api_case_sub_routes_n;
extern const struct api_route api_audit_routes[];
extern const size_t api_audit_routes_n;
extern const struct api_route api_routing_routes[];
extern const size_t api_routing_routes_n;
extern const struct api_route api_callback_routes[];
extern const size_t api_callback_routes_n;
extern const struct api_route api_cti_routes[];
extern const size_t api_cti_routes_n;
extern const struct api_route api_events_routes[];
extern const size_t api_events_routes_n;

/* GET /metrics (api_metrics.c). */
void api_metrics_init(void);
void api_metrics(struct api_call *call);

/* The request body as a JSON object: 415 unless the Content-Type is
 * application/json, 400 for bad JSON. Returns 0, or -1 with the error
 * answered already. */
int api_json_body(struct api_call *call, json_t **obj_r) KTD_ATTR_NODISCARD;

/* The same for a body that may be any JSON value (an object or an array
 * of them, say). */
int api_json_body_any(struct api_call *call, json_t **root_r)
        KTD_ATTR_NODISCARD;

/* The path parameter {id} as a positive integer; 0 when it is missing or
 * not one (callers answer 404 then). */
int64_t api_path_id(const struct api_call *call);
/* The same for the path parameter name ("contact_id"). */
int64_t api_path_id_named(const struct api_call *call, const char *name);

struct db_audit_actor;
struct case_actor;
/* The same as a core case_actor (borrowed strings). */
void api_case_actor(const struct api_call *call, struct case_actor *actor);

/* Answers 409 {"error": {"code": "conflict", "message": msg}, key:
 * current} with the current state of what was acted on (taken; NULL
 * answers null). */
void api_conflict(struct api_call *call, const char *msg, const char *key,
                  json_t *current);
/* Who makes this call, for the audit log (borrowed strings). */
void api_actor(const struct api_call *call, struct db_audit_actor *a);

/* Writes the audit row of a change to a department, user, token or
 * routing rule by this call's principal (in the caller's transaction). */
int api_audit_object(struct api_call *call, const char *action,
                     const char *object_type, int64_t object_id,
                     const char *detail_json, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* {"fields": [the keys of body]}: what a change touched, for the audit
 * row, without the values (a password may be among them). */
json_t *api_changed_fields(json_t *body);

/* The end of an audited change begun with db_tx_begin: writes the audit
 * row (detail: a JSON object, taken; NULL for {}) and commits, or rolls
 * back. Returns 0 or -1 with err. */
int api_commit_audited(struct api_call *call, const char *action,
                       const char *object_type, int64_t object_id,
                       json_t *detail, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* Answers 400 "query parameter 'name' what"; returns -1. */
int api_bad_param(struct api_call *call, const char *name, const char *what);
/* An optional positive integer query parameter into *v_r (untouched when
 * absent). Returns 0, or -1 with 400 answered. */
int api_query_id(struct api_call *call, const char *name, int64_t *v_r)
        KTD_ATTR_NODISCARD;

/* A JSON string of s, or null for NULL. */
json_t *api_json_text_or_null(const char *s);

/* Answers err (status from its code). */
void api_fail(struct api_call *call, const struct ktd_error *err);

/* The session cookie's name. */
#define API_SESSION_COOKIE "ktd_session"

#endif
