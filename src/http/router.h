/* SPDX-License-Identifier: MPL-2.0 */
/* URL router: patterns such as "/api/v1/cases/{id}/resolve" with named path
 * parameters, matched by segment; a path that matches with another method
 * gives "method not allowed" with the list of allowed methods. */
#ifndef KTD_HTTP_ROUTER_H
#define KTD_HTTP_ROUTER_H

#include "http/http_common.h"

#define KTD_ROUTE_MAX_PARAMS 8
#define KTD_ROUTE_MAX_SEGMENTS 16

struct ktd_http_req;
struct ktd_http_resp;

/* A route handler: reads req, fills resp. ctx is the pointer given when the
 * route was added. */
typedef void ktd_route_fn(struct ktd_http_req *req, struct ktd_http_resp *resp,
                          void *ctx);

struct ktd_route_param {
	const char *name; /* borrowed from the route */
	char value[256];  /* the path segment, percent-decoded by the server */
};

struct ktd_route_match {
	ktd_route_fn *fn;
	void *ctx;
	const char *pattern; /* borrowed from the route */
	struct ktd_route_param params[KTD_ROUTE_MAX_PARAMS];
	unsigned nparams;
	char allow[128]; /* for KTD_ROUTE_METHOD_NOT_ALLOWED: "GET, HEAD" */
};

enum ktd_route_result {
	KTD_ROUTE_FOUND,
	KTD_ROUTE_NOT_FOUND,
	KTD_ROUTE_METHOD_NOT_ALLOWED,
};

struct ktd_router;

struct ktd_router *ktd_router_create(void);
void ktd_router_destroy(struct ktd_router **router);

/* Adds a route. method is an upper-case HTTP method; a GET route also
 * answers HEAD. Returns -1 (with err) for a malformed pattern or a
 * duplicate method+pattern. */
int ktd_router_add(struct ktd_router *router, const char *method,
                   const char *pattern, ktd_route_fn *fn, void *ctx,
                   struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Matches method and path (no query string). A literal segment beats a
 * parameter at the same position ("/cases/search" before "/cases/{id}"). */
enum ktd_route_result ktd_router_match(const struct ktd_router *router,
                                       const char *method, const char *path,
                                       struct ktd_route_match *match);

/* Calls fn for every route, in the order they were added (for listings
 * such as the OpenAPI consistency check). */
typedef void ktd_router_each_fn(const char *method, const char *pattern,
                                void *arg);
void ktd_router_each(const struct ktd_router *router, ktd_router_each_fn *fn,
                     void *arg);

/* The value of a path parameter, or NULL. */
const char *ktd_route_param(const struct ktd_route_match *match,
                            const char *name);

#endif
