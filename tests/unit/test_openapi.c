/* SPDX-License-Identifier: MPL-2.0 */
/* The OpenAPI document and the router list the same operations. */
#include "lib/lib_common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <jansson.h>

#include "api/api.h"
#include "http/router.h"

struct ops {
	char items[128][160];
	size_t n;
};

static void ops_add(struct ops *ops, const char *method, const char *path)
{
	char m[16];
	size_t i;

	assert_true(ops->n < KTD_N_ELEMENTS(ops->items));
	for (i = 0; method[i] && i < sizeof(m) - 1; i++)
		m[i] = (char)(method[i] >= 'a' && method[i] <= 'z'
		                      ? method[i] - 'a' + 'A'
		                      : method[i]);
	m[i] = '\0';
	snprintf(ops->items[ops->n++], sizeof(ops->items[0]), "%s %s", m, path);
}

static bool ops_has(const struct ops *ops, const char *op)
{
	size_t i;

	for (i = 0; i < ops->n; i++) {
		if (strcmp(ops->items[i], op) == 0)
			return true;
	}
	return false;
}

static void collect_route(const char *method, const char *pattern, void *arg)
{
	ops_add(arg, method, pattern);
}

static const char *const http_methods[] = {"get",   "put",  "post",   "delete",
                                           "patch", "head", "options"};

static void collect_document(json_t *doc, struct ops *ops)
{
	json_t *paths = json_object_get(doc, "paths"), *item;
	const char *path;

	assert_non_null(paths);
	json_object_foreach (paths, path, item) {
		const char *key;
		json_t *op;

		json_object_foreach (item, key, op) {
			size_t i;
			bool is_method = false;

			for (i = 0; i < KTD_N_ELEMENTS(http_methods); i++)
				is_method |= strcmp(key, http_methods[i]) == 0;
			if (!is_method)
				continue;
			/* Every operation is named and answers something. */
			assert_non_null(json_object_get(op, "operationId"));
			assert_non_null(json_object_get(op, "responses"));
			ops_add(ops, key, path);
		}
	}
}

static void test_router_and_document_agree(void **state)
{
	struct ktd_router *router = ktd_router_create();
	struct ktd_api api;
	struct ktd_error err;
	struct ops routes = {0}, documented = {0};
	json_error_t jerr;
	json_t *doc;
	size_t i;

	memset(&api, 0, sizeof(api));
	assert_int_equal(ktd_api_register(router, &api, &err), 0);
	ktd_router_each(router, collect_route, &routes);
	assert_true(routes.n > 0);

	doc = json_loadb((const char *)ktd_openapi_json, ktd_openapi_json_len,
	                 JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		fail_msg("openapi.json line %d: %s", jerr.line, jerr.text);
	assert_string_equal(json_string_value(json_object_get(doc, "openapi")),
	                    "3.0.3");
	collect_document(doc, &documented);

	for (i = 0; i < routes.n; i++) {
		if (!ops_has(&documented, routes.items[i]))
			fail_msg("route %s is not in openapi.json",
			         routes.items[i]);
	}
	for (i = 0; i < documented.n; i++) {
		if (!ops_has(&routes, documented.items[i]))
			fail_msg("openapi.json has %s, which no route serves",
			         documented.items[i]);
	}
	json_decref(doc);
	ktd_router_destroy(&router);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_router_and_document_agree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
