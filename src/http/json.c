/* SPDX-License-Identifier: MPL-2.0 */
/* JSON parsing and field access with precise errors. */
#include "http/http_common.h"

#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "http/json.h"

int ktd_json_parse(const char *body, size_t len, json_t **root_r,
                   struct ktd_error *err)
{
	json_error_t jerr;
	json_t *root;

	if (!body || len == 0)
		return ktd_error_set(err, KTD_ERR_INVALID,
		                     "the request body is empty; expected "
		                     "JSON");
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	                  &jerr);
	if (!root)
		return ktd_error_set(err, KTD_ERR_INVALID,
		                     "invalid JSON at line %d, column %d: %s",
		                     jerr.line, jerr.column, jerr.text);
	*root_r = root;
	return 0;
}

int ktd_json_parse_object(const char *body, size_t len, json_t **root_r,
                          struct ktd_error *err)
{
	json_t *root;

	if (ktd_json_parse(body, len, &root, err) < 0)
		return -1;
	if (!json_is_object(root)) {
		json_decref(root);
		return ktd_error_set(err, KTD_ERR_INVALID,
		                     "expected a JSON object");
	}
	*root_r = root;
	return 0;
}

char *ktd_json_dump(const json_t *j, size_t *len_r)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

	if (!text)
		ktd_panic("json_dumps failed");
	if (len_r)
		*len_r = strlen(text);
	return text;
}

int ktd_json_check_fields(json_t *obj, const char *const *allowed,
                          struct ktd_error *err)
{
	const char *key;
	json_t *value;

	json_object_foreach (obj, key, value) {
		const char *const *a;

		(void)value;
		for (a = allowed; *a; a++) {
			if (strcmp(*a, key) == 0)
				break;
		}
		if (!*a) {
			char shown[80];

			return ktd_error_set(
			        err, KTD_ERR_UNPROCESSABLE, "unknown field %s",
			        ktd_log_quote(key, shown, sizeof(shown)));
		}
	}
	return 0;
}

/* The field's value, or NULL when absent or null (after the required
 * check). Returns -1 for a missing required field. */
static int get_field(const json_t *obj, const char *key, bool required,
                     json_t **v_r, struct ktd_error *err)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v)) {
		*v_r = NULL;
		if (required)
			return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
			                     "field '%s' is required", key);
		return 0;
	}
	*v_r = v;
	return 0;
}

int ktd_json_get_str(const json_t *obj, const char *key, bool required,
                     size_t max_len, const char **v_r, struct ktd_error *err)
{
	json_t *v;
	size_t len;

	if (get_field(obj, key, required, &v, err) < 0)
		return -1;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field '%s' must be a string", key);
	len = json_string_length(v);
	/* jansson accepts \u0000 escapes; text fields never hold NUL. */
	if (strlen(json_string_value(v)) != len)
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field '%s' contains a NUL character",
		                     key);
	if (len > max_len)
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field '%s' is longer than %zu bytes", key,
		                     max_len);
	*v_r = json_string_value(v);
	return 0;
}

int ktd_json_get_int(const json_t *obj, const char *key, bool required,
                     json_int_t min, json_int_t max, json_int_t *v_r,
                     struct ktd_error *err)
{
	json_t *v;
	json_int_t i;

	if (get_field(obj, key, required, &v, err) < 0)
		return -1;
	if (!v)
		return 0;
	if (!json_is_integer(v))
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field '%s' must be an integer", key);
	i = json_integer_value(v);
	if (i < min || i > max)
		return ktd_error_set(
		        err, KTD_ERR_UNPROCESSABLE,
		        "field '%s' must be between %" JSON_INTEGER_FORMAT
		        " and %" JSON_INTEGER_FORMAT,
		        key, min, max);
	*v_r = i;
	return 0;
}

int ktd_json_get_bool(const json_t *obj, const char *key, bool required,
                      bool *v_r, struct ktd_error *err)
{
	json_t *v;

	if (get_field(obj, key, required, &v, err) < 0)
		return -1;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field '%s' must be true or false", key);
	*v_r = json_is_true(v);
	return 0;
}
