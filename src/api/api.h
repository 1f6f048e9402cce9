/* SPDX-License-Identifier: MPL-2.0 */
/* The REST API: registers every route on a router. */
#ifndef KTD_API_H
#define KTD_API_H

#include "api/api_common.h"

struct db_pool;
struct db_migration_set;

/* What handlers need; borrowed for the server's life. */
struct ktd_api {
	struct db_pool *pool;
	const struct db_migration_set *migrations;
};

/* Adds every API route to router. Returns 0 or -1 with err. */
int ktd_api_register(struct ktd_router *router, struct ktd_api *api,
                     struct ktd_error *err) KTD_ATTR_NODISCARD;

/* GET /metrics (api_metrics.c); ktd_api_register sets its start time. */
void ktd_api_metrics_init(void);
void ktd_api_metrics(struct ktd_http_req *req, struct ktd_http_resp *resp,
                     void *ctx);

/* The OpenAPI document served at /api/v1/openapi.json (embedded at build
 * time from src/api/openapi.json). */
extern const unsigned char ktd_openapi_json[];
extern const size_t ktd_openapi_json_len;

#endif
