/* SPDX-License-Identifier: MPL-2.0 */
/* JSON helpers on jansson: strict parsing of request bodies with errors that
 * say where, and typed field access that names the field at fault. */
#ifndef KTD_HTTP_JSON_H
#define KTD_HTTP_JSON_H

#include "http/http_common.h"

#include <jansson.h>

/* Parses a request body: UTF-8, one JSON value, no duplicate keys. Returns
 * 0 and a new reference, or -1 with KTD_ERR_INVALID and a message with the
 * line and column. */
int ktd_json_parse(const char *body, size_t len, json_t **root_r,
                   struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Like ktd_json_parse, but the value must be an object. */
int ktd_json_parse_object(const char *body, size_t len, json_t **root_r,
                          struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Serialises j compactly; returns a new string (caller frees) and its
 * length. */
char *ktd_json_dump(const json_t *j, size_t *len_r);

/* Refuses any key of obj not in allowed (a NULL-terminated list) with
 * KTD_ERR_UNPROCESSABLE "unknown field x"; a name with spaces, quotes or
 * control characters is shown quoted and escaped, a long one cut. */
int ktd_json_check_fields(json_t *obj, const char *const *allowed,
                          struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Field access. A missing or null field gives 0 and leaves *v_r as it was
 * when optional, and KTD_ERR_UNPROCESSABLE "field 'x' is required"
 * otherwise; a wrong type or an out-of-range value is
 * KTD_ERR_UNPROCESSABLE naming the field. Strings are borrowed from obj. */
#define KTD_JSON_REQUIRED true
#define KTD_JSON_OPTIONAL false
int ktd_json_get_str(const json_t *obj, const char *key, bool required,
                     size_t max_len, const char **v_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;
int ktd_json_get_int(const json_t *obj, const char *key, bool required,
                     json_int_t min, json_int_t max, json_int_t *v_r,
                     struct ktd_error *err) KTD_ATTR_NODISCARD;
int ktd_json_get_bool(const json_t *obj, const char *key, bool required,
                      bool *v_r, struct ktd_error *err) KTD_ATTR_NODISCARD;

#endif
