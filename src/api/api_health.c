/* SPDX-License-Identifier: MPL-2.0 */
/* Liveness (/healthz), readiness (/readyz) and the OpenAPI document. */
#include "api/api_common.h"

#include <jansson.h>

#include "api/api_int.h"
#include "db/migrate.h"
#include "db/pool.h"

/* Alive: the process answers. Says nothing of the database on purpose, so
 * that a database outage does not get the daemon restarted. */
static void api_healthz(struct api_call *call)
{
	ktd_http_resp_json(call->resp, 200,
	                   json_pack("{s:s, s:s}", "status", "ok", "version",
	                             PACKAGE_VERSION));
}

static const char *migrate_state_name(enum db_migrate_state s)
{
	switch (s) {
	case DB_MIGRATE_CURRENT:
		return "current";
	case DB_MIGRATE_PENDING:
		return "pending";
	case DB_MIGRATE_CHANGED:
		return "changed";
	case DB_MIGRATE_UNKNOWN:
		return "unknown";
	}
	return "unknown";
}

/* Ready: the database answers and its schema is the one this build
 * expects. */
static void api_readyz(struct api_call *call)
{
	struct ktd_http_resp *resp = call->resp;
	struct ktd_api *api = call->api;
	struct db_migrate_status st;
	struct db_conn *conn = NULL;
	struct ktd_error err;
	char quoted[2 * KTD_ERROR_MSG_MAX + 8];
	json_t *body;

	ktd_error_clear(&err);
	if (db_pool_acquire(api->pool, &conn, &err) < 0 ||
	    db_migrate_status(db_conn_pg(conn), api->migrations, &st, &err) <
	            0) {
		db_pool_release(api->pool, &conn);
		ktd_log_warnx("event=not_ready reason=database msg=%s",
		              ktd_log_quote(err.msg, quoted, sizeof(quoted)));
		body = json_pack("{s:{s:s, s:s}, s:s, s:s}", "error", "code",
		                 "not_ready", "message",
		                 "the database is unreachable", "status",
		                 "not_ready", "database", "unavailable");
		ktd_http_resp_json(resp, 503, body);
		resp->error_code = "not_ready";
		ktd_http_resp_header(resp, "Retry-After", "2");
		return;
	}
	db_pool_release(api->pool, &conn);
	if (st.state != DB_MIGRATE_CURRENT) {
		body = json_pack("{s:{s:s, s:s}, s:s, s:s, s:s}", "error",
		                 "code", "not_ready", "message", st.detail,
		                 "status", "not_ready", "database", "ok",
		                 "migrations", migrate_state_name(st.state));
		ktd_http_resp_json(resp, 503, body);
		resp->error_code = "not_ready";
		return;
	}
	ktd_http_resp_json(
	        resp, 200,
	        json_pack("{s:s, s:s, s:s, s:I}", "status", "ready", "database",
	                  "ok", "migrations", "current", "schema_version",
	                  (json_int_t)(api->migrations->n
	                                       ? api->migrations
	                                                 ->items[api->migrations
	                                                                 ->n -
	                                                         1]
	                                                 .version
	                                       : 0)));
}

static void api_openapi(struct api_call *call)
{
	struct ktd_http_resp *resp = call->resp;

	ktd_http_resp_set_body(resp, 200, "application/json; charset=utf-8",
	                       ktd_openapi_json, ktd_openapi_json_len);
	ktd_http_resp_header(resp, "Cache-Control", "no-cache");
}

/* Liveness, readiness, metrics and the document are public and take no
 * connection from the pool up front: readiness takes its own, so that it
 * can say what went wrong. */
const struct api_route api_health_routes[] = {
        {"GET", "/healthz", api_healthz, API_PUBLIC | API_NO_DB, 0, 0},
        {"GET", "/readyz", api_readyz, API_PUBLIC | API_NO_DB, 0, 0},
        {"GET", "/api/v1/openapi.json", api_openapi, API_PUBLIC | API_NO_DB, 0,
         0},
        {"GET", "/metrics", api_metrics, API_PUBLIC | API_NO_DB, 0, 0},
};
const size_t api_health_routes_n = KTD_N_ELEMENTS(api_health_routes);
