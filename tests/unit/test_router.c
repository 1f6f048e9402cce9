/* SPDX-License-Identifier: MPL-2.0 */
/* Unit tests of src/http/router: matching, parameters, 404 against 405,
 * and the patterns ktd_router_add refuses. */
#include "http/http_common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/router.h"

static void handler(struct ktd_http_req *req, struct ktd_http_resp *resp,
                    void *ctx)
{
	(void)req;
	(void)resp;
	(void)ctx;
}

static void other_handler(struct ktd_http_req *req, struct ktd_http_resp *resp,
                          void *ctx)
{
	(void)req;
	(void)resp;
	(void)ctx;
}

/* The routes of the matching tests, added in this order: the parameter
 * route comes before the literal one it must lose to. */
static const char *const routes[][2] = {
        {"GET", "/"},
        {"GET", "/api/v1/cases"},
        {"POST", "/api/v1/cases"},
        {"GET", "/api/v1/cases/{id}"},
        {"DELETE", "/api/v1/cases/{id}"},
        {"GET", "/api/v1/cases/search"},
        {"POST", "/api/v1/cases/{id}/notes/{note}"},
        {"POST", "/api/v1/cases/{id}/resolve"},
        {"GET", "/api/v1/{kind}/stats"},
        {"GET", "/api/v1/cases/stats"},
        {"GET", "/healthz"},
        {"PUT", "/many"},
        {"PATCH", "/many"},
        {"GET", "/many"},
        {"DELETE", "/many"},
        {"OPTIONS", "/many"},
        {"POST", "/many"},
};

static int setup_router(void **state)
{
	struct ktd_router *r = ktd_router_create();
	struct ktd_error err;
	size_t i;

	for (i = 0; i < KTD_N_ELEMENTS(routes); i++) {
		/* ctx identifies the route: its index plus one */
		if (ktd_router_add(r, routes[i][0], routes[i][1], handler,
		                   (void *)(uintptr_t)(i + 1), &err) < 0) {
			print_error("adding %s %s: %s\n", routes[i][0],
			            routes[i][1], err.msg);
			ktd_router_destroy(&r);
			return -1;
		}
	}
	*state = r;
	return 0;
}

static int teardown_router(void **state)
{
	struct ktd_router *r = *state;

	ktd_router_destroy(&r);
	assert_null(r);
	return 0;
}

struct match_case {
	const char *method;
	const char *path;
	enum ktd_route_result result;
	const char *pattern; /* FOUND: the route that must win */
	const char *allow;   /* METHOD_NOT_ALLOWED: the Allow list */
	const char *param;   /* FOUND: "name=value" of one parameter */
};

#define FOUND KTD_ROUTE_FOUND
#define NOT_FOUND KTD_ROUTE_NOT_FOUND
#define NOT_ALLOWED KTD_ROUTE_METHOD_NOT_ALLOWED

static const struct match_case match_cases[] = {
        /* literal routes */
        {"GET", "/", FOUND, "/", NULL, NULL},
        {"GET", "/healthz", FOUND, "/healthz", NULL, NULL},
        {"GET", "/api/v1/cases", FOUND, "/api/v1/cases", NULL, NULL},
        {"POST", "/api/v1/cases", FOUND, "/api/v1/cases", NULL, NULL},
        /* parameters */
        {"GET", "/api/v1/cases/42", FOUND, "/api/v1/cases/{id}", NULL, "id=42"},
        {"DELETE", "/api/v1/cases/2026-000123", FOUND, "/api/v1/cases/{id}",
         NULL, "id=2026-000123"},
        {"GET", "/api/v1/cases/S\xc3\xb8ren", FOUND, "/api/v1/cases/{id}", NULL,
         "id=S\xc3\xb8ren"},
        {"POST", "/api/v1/cases/7/notes/3", FOUND,
         "/api/v1/cases/{id}/notes/{note}", NULL, "note=3"},
        {"POST", "/api/v1/cases/7/resolve", FOUND, "/api/v1/cases/{id}/resolve",
         NULL, "id=7"},
        {"GET", "/api/v1/calls/stats", FOUND, "/api/v1/{kind}/stats", NULL,
         "kind=calls"},
        /* a literal segment beats a parameter, whatever the order added */
        {"GET", "/api/v1/cases/search", FOUND, "/api/v1/cases/search", NULL,
         NULL},
        {"GET", "/api/v1/cases/stats", FOUND, "/api/v1/cases/stats", NULL,
         NULL},
        {"GET", "/api/v1/cases/searc", FOUND, "/api/v1/cases/{id}", NULL,
         "id=searc"},
        {"GET", "/api/v1/cases/searchx", FOUND, "/api/v1/cases/{id}", NULL,
         "id=searchx"},
        /* HEAD answers from GET routes */
        {"HEAD", "/healthz", FOUND, "/healthz", NULL, NULL},
        {"HEAD", "/api/v1/cases/42", FOUND, "/api/v1/cases/{id}", NULL,
         "id=42"},
        /* a trailing slash is ignored */
        {"GET", "/api/v1/cases/", FOUND, "/api/v1/cases", NULL, NULL},
        {"GET", "/api/v1/cases/42/", FOUND, "/api/v1/cases/{id}", NULL,
         "id=42"},
        /* 405 with the Allow list, in the order the routes were added */
        {"PUT", "/healthz", NOT_ALLOWED, NULL, "GET, HEAD", NULL},
        {"POST", "/", NOT_ALLOWED, NULL, "GET, HEAD", NULL},
        {"DELETE", "/api/v1/cases", NOT_ALLOWED, NULL, "GET, HEAD, POST", NULL},
        {"PATCH", "/api/v1/cases/42", NOT_ALLOWED, NULL, "GET, HEAD, DELETE",
         NULL},
        {"HEAD", "/api/v1/cases/1/resolve", NOT_ALLOWED, NULL, "POST", NULL},
        {"GET", "/api/v1/cases/1/notes/2", NOT_ALLOWED, NULL, "POST", NULL},
        {"TRACE", "/many", NOT_ALLOWED, NULL,
         "PUT, PATCH, GET, HEAD, DELETE, OPTIONS, POST", NULL},
        /* The most specific pattern decides, also for the method: the
         * literal "search" has only GET, so DELETE there is 405, not the
         * DELETE of "{id}". */
        {"DELETE", "/api/v1/cases/search", NOT_ALLOWED, NULL, "GET, HEAD",
         NULL},
        /* methods are case-sensitive tokens */
        {"get", "/healthz", NOT_ALLOWED, NULL, "GET, HEAD", NULL},
        /* 404 */
        {"GET", "/nothing", NOT_FOUND, NULL, NULL, NULL},
        {"GET", "/healthz/x", NOT_FOUND, NULL, NULL, NULL},
        {"GET", "/api", NOT_FOUND, NULL, NULL, NULL},
        {"GET", "/api/v1", NOT_FOUND, NULL, NULL, NULL},
        {"GET", "/API/v1/cases", NOT_FOUND, NULL, NULL, NULL},
        {"GET", "/api/v1/cases/1/notes", NOT_FOUND, NULL, NULL, NULL},
        {"GET", "/api/v1/cases/1/2/3/4", NOT_FOUND, NULL, NULL, NULL},
        /* an empty segment is never a match, not even for a parameter */
        {"GET", "/api/v1//cases", NOT_FOUND, NULL, NULL, NULL},
        {"GET", "//api/v1/cases", NOT_FOUND, NULL, NULL, NULL},
        {"GET", "/api/v1/cases//", NOT_FOUND, NULL, NULL, NULL},
        {"DELETE", "/api/v1/cases//", NOT_FOUND, NULL, NULL, NULL},
        {"POST", "/api/v1/cases//resolve", NOT_FOUND, NULL, NULL, NULL},
        {"GET", "//", NOT_FOUND, NULL, NULL, NULL},
        /* not absolute */
        {"GET", "", NOT_FOUND, NULL, NULL, NULL},
        {"GET", "healthz", NOT_FOUND, NULL, NULL, NULL},
        {"GET", "api/v1/cases", NOT_FOUND, NULL, NULL, NULL},
};

static void test_match_table(void **state)
{
	const struct ktd_router *r = *state;
	size_t i;

	for (i = 0; i < KTD_N_ELEMENTS(match_cases); i++) {
		const struct match_case *c = &match_cases[i];
		struct ktd_route_match m;
		enum ktd_route_result res;

		memset(&m, 0x5a, sizeof(m));
		res = ktd_router_match(r, c->method, c->path, &m);
		if (res != c->result)
			fail_msg("case %zu: %s %s gave %d, expected %d", i,
			         c->method, c->path, (int)res, (int)c->result);
		if (res == KTD_ROUTE_METHOD_NOT_ALLOWED &&
		    strcmp(m.allow, c->allow) != 0)
			fail_msg("case %zu: %s %s: Allow \"%s\", expected "
			         "\"%s\"",
			         i, c->method, c->path, m.allow, c->allow);
		if (res != KTD_ROUTE_FOUND)
			continue;
		if (strcmp(m.pattern, c->pattern) != 0)
			fail_msg("case %zu: %s %s went to %s, expected %s", i,
			         c->method, c->path, m.pattern, c->pattern);
		if (m.fn != handler)
			fail_msg("case %zu: wrong handler", i);
		/* ctx is the index of the route, which has the method */
		{
			size_t k = (size_t)(uintptr_t)m.ctx - 1;

			assert_true(k < KTD_N_ELEMENTS(routes));
			assert_string_equal(routes[k][1], c->pattern);
			if (strcmp(routes[k][0], c->method) != 0 &&
			    !(strcmp(c->method, "HEAD") == 0 &&
			      strcmp(routes[k][0], "GET") == 0))
				fail_msg("case %zu: %s %s went to the %s "
				         "route",
				         i, c->method, c->path, routes[k][0]);
		}
		if (c->param) {
			char name[64];
			const char *eq = strchr(c->param, '='), *v;

			snprintf(name, sizeof(name), "%.*s",
			         (int)(eq - c->param), c->param);
			v = ktd_route_param(&m, name);
			if (!v || strcmp(v, eq + 1) != 0)
				fail_msg("case %zu: param %s is %s, expected "
				         "%s",
				         i, name, v ? v : "(none)", eq + 1);
		}
	}
}

static void test_params(void **state)
{
	const struct ktd_router *r = *state;
	struct ktd_route_match m;

	assert_int_equal(ktd_router_match(r, "POST",
	                                  "/api/v1/cases/2026-7/notes/n1", &m),
	                 KTD_ROUTE_FOUND);
	assert_int_equal(m.nparams, 2);
	assert_string_equal(ktd_route_param(&m, "id"), "2026-7");
	assert_string_equal(ktd_route_param(&m, "note"), "n1");
	/* only whole names */
	assert_null(ktd_route_param(&m, "i"));
	assert_null(ktd_route_param(&m, "ids"));
	assert_null(ktd_route_param(&m, "{id}"));
	assert_null(ktd_route_param(&m, ""));
	assert_null(ktd_route_param(&m, "nope"));

	/* literal routes have none */
	assert_int_equal(ktd_router_match(r, "GET", "/api/v1/cases/search", &m),
	                 KTD_ROUTE_FOUND);
	assert_int_equal(m.nparams, 0);
	assert_null(ktd_route_param(&m, "id"));
}

/* A parameter value must fit in its 256-byte slot; a longer one is not a
 * match rather than a cut value. */
static void test_param_length(void **state)
{
	const struct ktd_router *r = *state;
	struct ktd_route_match m;
	char path[512];
	const size_t base = strlen("/api/v1/cases/");

	memcpy(path, "/api/v1/cases/", base);
	memset(path + base, 'x', 255);
	path[base + 255] = '\0';
	assert_int_equal(ktd_router_match(r, "GET", path, &m), KTD_ROUTE_FOUND);
	assert_int_equal(strlen(ktd_route_param(&m, "id")), 255);

	path[base + 256] = '\0';
	path[base + 255] = 'x';
	assert_int_equal(ktd_router_match(r, "GET", path, &m),
	                 KTD_ROUTE_NOT_FOUND);
	memset(path + base, 'x', 400);
	path[base + 400] = '\0';
	assert_int_equal(ktd_router_match(r, "GET", path, &m),
	                 KTD_ROUTE_NOT_FOUND);
}

/* Builds "/s/s/.../s" with n segments. */
static void deep_path(char *buf, size_t bufsz, unsigned n, const char *seg)
{
	unsigned i;

	buf[0] = '\0';
	for (i = 0; i < n; i++)
		snprintf(buf + strlen(buf), bufsz - strlen(buf), "/%s", seg);
}

static void test_segment_limits(void **state)
{
	struct ktd_router *r = ktd_router_create();
	struct ktd_route_match m;
	struct ktd_error err;
	char path[4096];

	(void)state;
	deep_path(path, sizeof(path), KTD_ROUTE_MAX_SEGMENTS, "a");
	assert_int_equal(ktd_router_add(r, "GET", path, handler, NULL, &err),
	                 0);
	assert_int_equal(ktd_router_match(r, "GET", path, &m), KTD_ROUTE_FOUND);
	deep_path(path, sizeof(path), KTD_ROUTE_MAX_SEGMENTS + 1, "a");
	assert_int_equal(ktd_router_match(r, "GET", path, &m),
	                 KTD_ROUTE_NOT_FOUND);
	assert_int_equal(ktd_router_add(r, "GET", path, handler, NULL, &err),
	                 -1);
	deep_path(path, sizeof(path), 100, "a");
	assert_int_equal(ktd_router_match(r, "GET", path, &m),
	                 KTD_ROUTE_NOT_FOUND);

	/* a very long path is simply not found */
	assert_int_equal(ktd_router_add(r, "GET", "/{x}", handler, NULL, &err),
	                 0);
	memset(path, 'y', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(ktd_router_match(r, "GET", path, &m),
	                 KTD_ROUTE_NOT_FOUND);
	ktd_router_destroy(&r);
}

static void test_empty_router(void **state)
{
	struct ktd_router *r = ktd_router_create();
	struct ktd_route_match m;

	(void)state;
	assert_int_equal(ktd_router_match(r, "GET", "/", &m),
	                 KTD_ROUTE_NOT_FOUND);
	assert_string_equal(m.allow, "");
	ktd_router_destroy(&r);
	ktd_router_destroy(&r);
}

/* A route may be added for HEAD on its own; the Allow list names each
 * method once. "GET" inside "TARGET" is not GET. */
static void test_allow_tokens(void **state)
{
	struct ktd_router *r = ktd_router_create();
	struct ktd_route_match m;
	struct ktd_error err;

	(void)state;
	assert_int_equal(ktd_router_add(r, "HEAD", "/h", handler, NULL, &err),
	                 0);
	assert_int_equal(
	        ktd_router_add(r, "GET", "/h", other_handler, NULL, &err), 0);
	assert_int_equal(ktd_router_add(r, "TARGET", "/t", handler, NULL, &err),
	                 0);
	assert_int_equal(
	        ktd_router_add(r, "GET", "/t", other_handler, NULL, &err), 0);
	assert_int_equal(ktd_router_match(r, "POST", "/h", &m),
	                 KTD_ROUTE_METHOD_NOT_ALLOWED);
	assert_string_equal(m.allow, "HEAD, GET");
	assert_int_equal(ktd_router_match(r, "POST", "/t", &m),
	                 KTD_ROUTE_METHOD_NOT_ALLOWED);
	assert_string_equal(m.allow, "TARGET, GET, HEAD");
	assert_int_equal(ktd_router_match(r, "GET", "/t", &m), KTD_ROUTE_FOUND);
	assert_ptr_equal(m.fn, other_handler);
	assert_int_equal(ktd_router_match(r, "HEAD", "/h", &m),
	                 KTD_ROUTE_FOUND);
	assert_ptr_equal(m.fn, handler);
	ktd_router_destroy(&r);
}

struct add_case {
	const char *method;
	const char *pattern;
	int ret;
};

static const struct add_case add_cases[] = {
        {"GET", "/ok", 0},
        {"GET", "/x{id}", 0}, /* a literal that contains a brace */
        {"GET", "/p/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}", 0},
        /* malformed */
        {"GET", "", -1},
        {"GET", "ok", -1},
        {"GET", "{id}", -1},
        {"GET", "//", -1},
        {"GET", "/a//b", -1},
        {"GET", "//a", -1},
        {"GET", "/{", -1},
        {"GET", "/{}", -1},
        {"GET", "/{id", -1},
        {"GET", "/{id}x", -1},
        {"GET", "/a/{i/d}", -1},
        {"GET", "/q/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", -1},
        {"GET", "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17", -1},
        /* duplicates of routes added above, or in the setup */
        {"GET", "/ok", -1},
        {"GET", "/ok/", -1},
        {"GET", "/api/v1/cases", -1},
        {"GET", "/api/v1/cases/{id}", -1},
        {"GET", "/api/v1/cases/{key}", -1},
        {"DELETE", "/api/v1/cases/{case_id}/", -1},
        {"POST", "/api/v1/cases/{a}/notes/{b}", -1},
        /* not duplicates: another method, a literal beside a parameter */
        {"PUT", "/ok", 0},
        {"PUT", "/api/v1/cases/{id}", 0},
        {"GET", "/api/v1/cases/{id}/notes/{note}", 0},
        {"GET", "/api/v1/{kind}/{id}", 0},
        {"GET", "/api/v1/{kind}/search", 0},
};

static unsigned count_routes(const struct ktd_router *r);

static void test_add_table(void **state)
{
	struct ktd_router *r = *state;
	size_t i;

	for (i = 0; i < KTD_N_ELEMENTS(add_cases); i++) {
		const struct add_case *c = &add_cases[i];
		struct ktd_error err;
		unsigned before = count_routes(r);
		int ret;

		memset(&err, 0, sizeof(err));
		ret = ktd_router_add(r, c->method, c->pattern, handler, NULL,
		                     &err);
		if (ret != c->ret)
			fail_msg("case %zu: add %s \"%s\" returned %d", i,
			         c->method, c->pattern, ret);
		if (ret == 0) {
			assert_int_equal(count_routes(r), before + 1);
			continue;
		}
		/* refused: an internal error naming the pattern, and the
		 * router is unchanged */
		assert_int_equal(err.code, KTD_ERR_INTERNAL);
		if (!strstr(err.msg, c->pattern))
			fail_msg("case %zu: \"%s\" does not name the pattern",
			         i, err.msg);
		assert_int_equal(count_routes(r), before);
	}
}

struct each_state {
	char list[2048];
	unsigned n;
};

static void each_cb(const char *method, const char *pattern, void *arg)
{
	struct each_state *st = arg;
	size_t len = strlen(st->list);

	snprintf(st->list + len, sizeof(st->list) - len, "%s %s\n", method,
	         pattern);
	st->n++;
}

static unsigned count_routes(const struct ktd_router *r)
{
	struct each_state st;

	memset(&st, 0, sizeof(st));
	ktd_router_each(r, each_cb, &st);
	return st.n;
}

static void test_each_order(void **state)
{
	const struct ktd_router *r = *state;
	struct each_state st;
	char want[2048] = "";
	size_t i;

	for (i = 0; i < KTD_N_ELEMENTS(routes); i++)
		snprintf(want + strlen(want), sizeof(want) - strlen(want),
		         "%s %s\n", routes[i][0], routes[i][1]);
	memset(&st, 0, sizeof(st));
	ktd_router_each(r, each_cb, &st);
	assert_int_equal(st.n, KTD_N_ELEMENTS(routes));
	assert_string_equal(st.list, want);
}

/* Many routes: the table grows, and every route is still found. */
static void test_many_routes(void **state)
{
	struct ktd_router *r = ktd_router_create();
	struct ktd_route_match m;
	struct ktd_error err;
	char path[64];
	unsigned i;

	(void)state;
	for (i = 0; i < 200; i++) {
		snprintf(path, sizeof(path), "/r%u/{id}", i);
		assert_int_equal(ktd_router_add(r, "GET", path, handler,
		                                (void *)(uintptr_t)(i + 1),
		                                &err),
		                 0);
	}
	assert_int_equal(count_routes(r), 200);
	for (i = 0; i < 200; i++) {
		snprintf(path, sizeof(path), "/r%u/x", i);
		assert_int_equal(ktd_router_match(r, "GET", path, &m),
		                 KTD_ROUTE_FOUND);
		assert_int_equal((uintptr_t)m.ctx, i + 1);
	}
	ktd_router_destroy(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_match_table, setup_router,
	                                        teardown_router),
	        cmocka_unit_test_setup_teardown(test_params, setup_router,
	                                        teardown_router),
	        cmocka_unit_test_setup_teardown(test_param_length, setup_router,
	                                        teardown_router),
	        cmocka_unit_test(test_segment_limits),
	        cmocka_unit_test(test_empty_router),
	        cmocka_unit_test(test_allow_tokens),
	        cmocka_unit_test_setup_teardown(test_add_table, setup_router,
	                                        teardown_router),
	        cmocka_unit_test_setup_teardown(test_each_order, setup_router,
	                                        teardown_router),
	        cmocka_unit_test(test_many_routes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
