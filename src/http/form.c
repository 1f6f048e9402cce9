/* SPDX-License-Identifier: MPL-2.0 */
/* application/x-www-form-urlencoded, strictly. */
#include "http/http_common.h"

#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "http/form.h"

/* Decodes s (n bytes) into a new string; NULL for a bad escape, a NUL
 * or invalid UTF-8. */
static char *decode(const char *s, size_t n)
{
	char *out = ktd_malloc(n + 1), *o = out;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '+') {
			*o++ = ' ';
		} else if (s[i] == '%') {
			int h, l;

			if (i + 2 >= n)
				goto bad;
			h = ktd_hex_digit(s[i + 1]);
			l = ktd_hex_digit(s[i + 2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0))
				goto bad;
			*o++ = (char)(h << 4 | l);
			i += 2;
		} else if (s[i] == '\0') {
			goto bad;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	if (!ktd_utf8_valid(out, (size_t)(o - out)))
		goto bad;
	return out;
bad:
	free(out);
	return NULL;
}

int ktd_form_parse(const char *body, size_t len, struct ktd_form *f,
                   struct ktd_error *err)
{
	const char *p = body, *end = body + len;
	size_t place = 0;

	memset(f, 0, sizeof(*f));
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));
		struct ktd_form_field *fl;

		place++;
		if (stop == p) {
			p = stop + 1;
			continue;
		}
		if (f->n == KTD_FORM_MAX_FIELDS) {
			ktd_form_clear(f);
			return ktd_error_set(err, KTD_ERR_INVALID,
			                     "form: more than %d fields",
			                     KTD_FORM_MAX_FIELDS);
		}
		fl = &f->fields[f->n];
		fl->name = decode(p, (size_t)((eq ? eq : stop) - p));
		fl->value = eq ? decode(eq + 1, (size_t)(stop - eq - 1))
		               : ktd_strdup("");
		if (!fl->name || !fl->value) {
			free(fl->name);
			free(fl->value);
			ktd_form_clear(f);
			return ktd_error_set(
			        err, KTD_ERR_INVALID,
			        "form: field %zu has a bad %%-escape, "
			        "a NUL or invalid UTF-8",
			        place);
		}
		f->n++;
		p = stop + 1;
	}
	return 0;
}

void ktd_form_clear(struct ktd_form *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->fields[i].name);
		free(f->fields[i].value);
	}
	f->n = 0;
}

const char *ktd_form_get(const struct ktd_form *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		if (strcmp(f->fields[i].name, name) == 0)
			return f->fields[i].value;
	}
	return NULL;
}
