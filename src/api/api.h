/* SPDX-License-Identifier: MPL-2.0 */
/* The REST API: registers every route on a router, each behind the
 * dispatcher that authenticates and authorises it (api.c). */
#ifndef KTD_API_H
#define KTD_API_H

#include "api/api_common.h"
#include "core/auth.h"

struct db_pool;
struct db_migration_set;
struct live_hub;
struct cti_group;
struct api_route;

#define KTD_API_MAX_ROUTES 128

/* A route as registered: its rules and the API it belongs to. */
struct api_bound {
	const struct api_route *route;
	struct ktd_api *api;
};

/* What handlers need; borrowed for the server's life. */
struct ktd_api {
	struct db_pool *pool;
	const struct db_migration_set *migrations;
	struct auth_config auth;
	/* Intake's threading window for contacts recorded by hand. */
	uint64_t intake_thread_window_s;
	/* [intake] subject_tag and [smtp] from ("" when not set). */
	const char *subject_tag;
	const char *mail_from;
	/* [cti]: the Generic CTI route's answers, and HMAC signatures
	 * (hmac_secret NULL: none accepted). */
	struct {
		const char *blocked_numbers;
		const char *caller_ids;
		const char *default_caller_id;
		const char *hmac_secret;
		uint64_t signature_max_age_s;
		uint64_t return_window_s;
	} cti;
	/* Single CTI events of concurrent requests, taken in together (NULL:
	 * each alone). */
	struct cti_group *cti_group;
	/* [callbacks] */
	unsigned callback_max_attempts;
	uint64_t callback_retry_after_s;
	/* The live stream: the hub (NULL: GET /api/v1/events answers 503),
	 * the most events a reconnecting client is sent, and the bytes its
	 * stream may buffer ([live] replay_max, client_buffer). */
	struct live_hub *live;
	unsigned live_replay_max;
	size_t live_buffer;
	/* Filled by ktd_api_register. */
	struct api_bound bound[KTD_API_MAX_ROUTES];
	size_t nbound;
};

/* Adds every API route to router. Returns 0 or -1 with err. */
int ktd_api_register(struct ktd_router *router, struct ktd_api *api,
                     struct ktd_error *err) KTD_ATTR_NODISCARD;

/* The OpenAPI document served at /api/v1/openapi.json (embedded at build
 * time from src/api/openapi.json). */
extern const unsigned char ktd_openapi_json[];
extern const size_t ktd_openapi_json_len;

#endif
