/* SPDX-License-Identifier: MPL-2.0 */
/* Segment-based URL router with path parameters and 404/405 distinction. */
#include "http/http_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "http/router.h"

struct route {
	char *method;
	char *pattern;
	char *segs[KTD_ROUTE_MAX_SEGMENTS]; /* "{name}" for a parameter */
	unsigned nsegs;
	ktd_route_fn *fn;
	void *ctx;
};

struct ktd_router {
	struct route *routes;
	size_t n, cap;
};

struct ktd_router *ktd_router_create(void)
{
	return ktd_calloc(1, sizeof(struct ktd_router));
}

void ktd_router_destroy(struct ktd_router **routerp)
{
	struct ktd_router *r = *routerp;
	size_t i;
	unsigned k;

	if (!r)
		return;
	for (i = 0; i < r->n; i++) {
		free(r->routes[i].method);
		free(r->routes[i].pattern);
		for (k = 0; k < r->routes[i].nsegs; k++)
			free(r->routes[i].segs[k]);
	}
	free(r->routes);
	free(r);
	*routerp = NULL;
}

static bool seg_is_param(const char *seg)
{
	return seg[0] == '{';
}

/* Splits an absolute path into segments in place (at most max). Returns
 * the count, or -1 when the path is not absolute, has an empty segment
 * ("//") or too many segments. A trailing slash is ignored. */
static int split_path(char *path, char **segs, unsigned max)
{
	unsigned n = 0;
	char *p = path;

	if (*p != '/')
		return -1;
	p++;
	while (*p) {
		char *start = p;

		while (*p && *p != '/')
			p++;
		if (p == start)
			return -1;
		if (*p == '/')
			*p++ = '\0';
		if (n == max)
			return -1;
		segs[n++] = start;
	}
	return (int)n;
}

/* True when rt has this method and these segments, a parameter matching
 * any parameter: "/cases/{id}" and "/cases/{key}/" are the same route, and
 * the second could never be reached. */
static bool route_same(const struct route *rt, const char *method, char **segs,
                       unsigned n)
{
	unsigned k;

	if (strcmp(rt->method, method) != 0 || rt->nsegs != n)
		return false;
	for (k = 0; k < n; k++) {
		if (seg_is_param(rt->segs[k]) != seg_is_param(segs[k]))
			return false;
		if (!seg_is_param(segs[k]) && strcmp(rt->segs[k], segs[k]) != 0)
			return false;
	}
	return true;
}

int ktd_router_add(struct ktd_router *r, const char *method,
                   const char *pattern, ktd_route_fn *fn, void *ctx,
                   struct ktd_error *err)
{
	char *copy = ktd_strdup(pattern);
	char *segs[KTD_ROUTE_MAX_SEGMENTS + 1];
	struct route *rt;
	unsigned nparams = 0, k;
	size_t i;
	int n;

	n = split_path(copy, segs, KTD_ROUTE_MAX_SEGMENTS);
	if (n < 0) {
		free(copy);
		return ktd_error_set(err, KTD_ERR_INTERNAL,
		                     "route %s: not an absolute path or too "
		                     "many segments",
		                     pattern);
	}
	for (k = 0; k < (unsigned)n; k++) {
		size_t len = strlen(segs[k]);

		if (len == 0 || (seg_is_param(segs[k]) &&
		                 (len < 3 || segs[k][len - 1] != '}'))) {
			free(copy);
			return ktd_error_set(err, KTD_ERR_INTERNAL,
			                     "route %s: bad segment %u",
			                     pattern, k + 1);
		}
		if (seg_is_param(segs[k]) && ++nparams > KTD_ROUTE_MAX_PARAMS) {
			free(copy);
			return ktd_error_set(err, KTD_ERR_INTERNAL,
			                     "route %s: too many parameters",
			                     pattern);
		}
	}
	for (i = 0; i < r->n; i++) {
		if (route_same(&r->routes[i], method, segs, (unsigned)n)) {
			ktd_error_set(err, KTD_ERR_INTERNAL,
			              "route %s %s added twice (as %s)", method,
			              pattern, r->routes[i].pattern);
			free(copy);
			return -1;
		}
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 32;
		r->routes = ktd_realloc(r->routes, r->cap * sizeof(*r->routes));
	}
	rt = &r->routes[r->n++];
	memset(rt, 0, sizeof(*rt));
	rt->method = ktd_strdup(method);
	rt->pattern = ktd_strdup(pattern);
	rt->nsegs = (unsigned)n;
	for (k = 0; k < (unsigned)n; k++)
		rt->segs[k] = ktd_strdup(segs[k]);
	rt->fn = fn;
	rt->ctx = ctx;
	free(copy);
	return 0;
}

/* How well a route fits the path: -1 no match, else a score in which each
 * literal segment counts more than a parameter at the same position, so that
 * more specific routes win. */
static long route_score(const struct route *rt, char **segs, unsigned n)
{
	long score = 0;
	unsigned k;

	if (rt->nsegs != n)
		return -1;
	for (k = 0; k < n; k++) {
		score <<= 1;
		if (seg_is_param(rt->segs[k]))
			continue;
		if (strcmp(rt->segs[k], segs[k]) != 0)
			return -1;
		score |= 1;
	}
	return score;
}

static bool method_matches(const char *route_method, const char *method)
{
	return strcmp(route_method, method) == 0 ||
	       (strcmp(method, "HEAD") == 0 &&
	        strcmp(route_method, "GET") == 0);
}

static void allow_add(char *allow, size_t sz, const char *method)
{
	size_t len = strlen(allow);
	char token[16];

	snprintf(token, sizeof(token), "%s", method);
	if (strstr(allow, token)) {
		/* Compare whole tokens: "GET" must not hide in "TARGET". */
		const char *p = allow;
		size_t tl = strlen(token);

		while ((p = strstr(p, token))) {
			if ((p == allow || p[-1] == ' ') &&
			    (p[tl] == ',' || p[tl] == '\0'))
				return;
			p += tl;
		}
	}
	snprintf(allow + len, sz - len, "%s%s", len ? ", " : "", token);
}

enum ktd_route_result ktd_router_match(const struct ktd_router *r,
                                       const char *method, const char *path,
                                       struct ktd_route_match *m)
{
	char copy[2048];
	char *segs[KTD_ROUTE_MAX_SEGMENTS + 1];
	const struct route *best = NULL;
	long best_score = -1;
	bool path_known = false;
	size_t i;
	unsigned k;
	int n;

	memset(m, 0, sizeof(*m));
	if (strlen(path) >= sizeof(copy))
		return KTD_ROUTE_NOT_FOUND;
	memcpy(copy, path, strlen(path) + 1);
	n = split_path(copy, segs, KTD_ROUTE_MAX_SEGMENTS);
	if (n < 0)
		return KTD_ROUTE_NOT_FOUND;

	/* The best-scoring pattern decides; among routes with that pattern,
	 * the method decides. */
	for (i = 0; i < r->n; i++) {
		long s = route_score(&r->routes[i], segs, (unsigned)n);

		if (s > best_score)
			best_score = s;
	}
	if (best_score < 0)
		return KTD_ROUTE_NOT_FOUND;
	for (i = 0; i < r->n; i++) {
		const struct route *rt = &r->routes[i];

		if (route_score(rt, segs, (unsigned)n) != best_score)
			continue;
		path_known = true;
		allow_add(m->allow, sizeof(m->allow), rt->method);
		if (strcmp(rt->method, "GET") == 0)
			allow_add(m->allow, sizeof(m->allow), "HEAD");
		if (!best && method_matches(rt->method, method))
			best = rt;
	}
	if (!best)
		return path_known ? KTD_ROUTE_METHOD_NOT_ALLOWED
		                  : KTD_ROUTE_NOT_FOUND;
	m->fn = best->fn;
	m->ctx = best->ctx;
	m->pattern = best->pattern;
	for (k = 0; k < best->nsegs; k++) {
		struct ktd_route_param *p;
		size_t len;

		if (!seg_is_param(best->segs[k]))
			continue;
		len = strlen(segs[k]);
		if (len >= sizeof(m->params[0].value))
			return KTD_ROUTE_NOT_FOUND;
		p = &m->params[m->nparams++];
		p->name = best->segs[k];
		memcpy(p->value, segs[k], len + 1);
	}
	return KTD_ROUTE_FOUND;
}

void ktd_router_each(const struct ktd_router *r, ktd_router_each_fn *fn,
                     void *arg)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		fn(r->routes[i].method, r->routes[i].pattern, arg);
}

const char *ktd_route_param(const struct ktd_route_match *m, const char *name)
{
	unsigned i;
	size_t nl = strlen(name);

	/* Stored names keep their braces: "{id}". */
	for (i = 0; i < m->nparams; i++) {
		const char *pn = m->params[i].name;

		if (strlen(pn) == nl + 2 && strncmp(pn + 1, name, nl) == 0)
			return m->params[i].value;
	}
	return NULL;
}
