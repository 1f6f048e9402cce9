/* SPDX-License-Identifier: MPL-2.0 */
/* Allocation wrappers that abort on out-of-memory. */
#include "lib_common.h"

#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "mem.h"

static void *oom(size_t size)
{
	ktd_panic("out of memory allocating %zu bytes", size);
}

void *ktd_malloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	return p ? p : oom(size);
}

void *ktd_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	return p ? p : oom(n * size);
}

void *ktd_realloc(void *p, size_t size)
{
	void *q = realloc(p, size ? size : 1);

	return q ? q : oom(size);
}

char *ktd_strdup(const char *s)
{
	return ktd_strndup(s, strlen(s));
}

char *ktd_strndup(const char *s, size_t n)
{
	char *p = ktd_malloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *ktd_strdup_printf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	p = ktd_malloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void ktd_free(void *pp)
{
	void **p = pp;

	if (!p)
		return;
	free(*p);
	*p = NULL;
}
