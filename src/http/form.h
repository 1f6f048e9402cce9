/* SPDX-License-Identifier: MPL-2.0 */
/* application/x-www-form-urlencoded bodies, strictly: "+" is a space,
 * %XX must be two hex digits, the decoded names and values must be UTF-8
 * without NUL. libmicrohttpd's MHD_http_unescape() leaves a bad escape as
 * it is; a webhook body that is not what it claims should be refused
 * instead, so this is decoded here (a few lines, no state machine). */
#ifndef KTD_HTTP_FORM_H
#define KTD_HTTP_FORM_H

#include "http/http_common.h"

#define KTD_FORM_MAX_FIELDS 64

struct ktd_form_field {
	char *name;
	char *value;
};

struct ktd_form {
	struct ktd_form_field fields[KTD_FORM_MAX_FIELDS];
	size_t n;
};

/* Parses body (len bytes). Returns 0 with f filled (ktd_form_clear it),
 * or -1 with KTD_ERR_INVALID naming the field (by its place) and what is
 * wrong. Empty pairs ("a=1&&b=2") are skipped. */
int ktd_form_parse(const char *body, size_t len, struct ktd_form *f,
                   struct ktd_error *err) KTD_ATTR_NODISCARD;
void ktd_form_clear(struct ktd_form *f);

/* The first value of name, or NULL. */
const char *ktd_form_get(const struct ktd_form *f, const char *name);

#endif
