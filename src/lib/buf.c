/* SPDX-License-Identifier: MPL-2.0 */
/* Growable bounded byte buffer. */
#include "lib_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mem.h"

void ktd_buf_init(struct ktd_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void ktd_buf_deinit(struct ktd_buf *b)
{
	ktd_free(&b->data);
	b->len = 0;
	b->cap = 0;
}

void ktd_buf_reset(struct ktd_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static int buf_reserve(struct ktd_buf *b, size_t extra)
{
	size_t need, cap;

	if (extra > b->max || b->len > b->max - extra)
		return -1;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	b->data = ktd_realloc(b->data, cap);
	b->cap = cap;
	return 0;
}

int ktd_buf_add(struct ktd_buf *b, const void *data, size_t len)
{
	if (buf_reserve(b, len) < 0)
		return -1;
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int ktd_buf_add_str(struct ktd_buf *b, const char *s)
{
	return ktd_buf_add(b, s, strlen(s));
}

int ktd_buf_printf(struct ktd_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

char *ktd_buf_steal(struct ktd_buf *b, size_t *len_r)
{
	char *p;

	if (!b->data && buf_reserve(b, 0) == 0)
		b->data[0] = '\0';
	p = b->data;
	if (len_r)
		*len_r = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}
