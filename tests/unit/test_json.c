/* SPDX-License-Identifier: MPL-2.0 */
/* Unit tests of src/http/json (strict parsing, typed field access), of the
 * error response helpers in src/http/request.h and of struct ktd_error. */
#include "http/http_common.h"

#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/str.h"
#include "http/json.h"
#include "http/request.h"

/* --- parsing ------------------------------------------------------------ */

struct parse_case {
	const char *body;
	int ret;
	const char *msg; /* a part of the message, for ret == -1 */
};

static const struct parse_case parse_cases[] = {
        {"{}", 0, NULL},
        {"{\"a\":1,\"b\":[true,null,\"x\"]}", 0, NULL},
        {" \n{ \"a\" : { \"b\" : {} } }\n ", 0, NULL},
        {"[]", 0, NULL},
        {"42", 0, NULL},
        {"\"text\"", 0, NULL},
        {"null", 0, NULL},
        {"{\"name\":\"\xc3\xa6\xc3\xb8\xc3\xa5\"}", 0, NULL},
        {"{\"a\":{\"x\":1},\"b\":{\"x\":2}}", 0, NULL},
        /* errors say where */
        {"{", -1, "line 1, column 1"},
        {"{\n  \"a\": tru\n}", -1, "line 2, column 10"},
        {"{} x", -1, "line 1, column 4"},
        {"{\"a\":1}\n\n}", -1, "line 3, column 1"},
        {"[1,]", -1, "line 1, column 4"},
        {"{\"a\" 1}", -1, "line 1, column 6"},
        {"'x'", -1, "line 1, column 1"},
        {"{\"a\": \"x\ny\"}", -1, "line 1, column 8"},
        {"99999999999999999999", -1, "too big integer"},
        /* duplicate keys, at any depth */
        {"{\"a\":1,\"a\":2}", -1, "duplicate object key"},
        {"{\"o\":{\"k\":1,\"k\":1}}", -1, "duplicate object key"},
        /* not UTF-8, or NUL */
        {"\xff", -1, "invalid JSON at line 1"},
        {"{\"a\":\"\xc3\"}", -1, "invalid JSON at line 1"},
        {"{\"a\":\"\xed\xa0\x80\"}", -1, "invalid JSON at line 1"},
        {"{\"a\":\"\\u0000\"}", -1, "invalid JSON at line 1"},
};

static void test_parse_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct ktd_error err;
		json_t *root = NULL;
		int r;

		memset(&err, 0, sizeof(err));
		r = ktd_json_parse(c->body, strlen(c->body), &root, &err);
		if (r != c->ret)
			fail_msg("case %zu: parse(%s) returned %d (%s)", i,
			         c->body, r, err.msg);
		if (r == 0) {
			assert_non_null(root);
			json_decref(root);
			continue;
		}
		assert_null(root);
		assert_int_equal(err.code, KTD_ERR_INVALID);
		if (!strstr(err.msg, c->msg))
			fail_msg("case %zu: message \"%s\" lacks \"%s\"", i,
			         err.msg, c->msg);
		if (!ktd_utf8_valid(err.msg, strlen(err.msg)))
			fail_msg("case %zu: message is not UTF-8", i);
	}
}

static void test_parse_len(void **state)
{
	struct ktd_error err;
	json_t *root = NULL;

	(void)state;
	/* Only len bytes are read: no NUL terminator is needed. */
	assert_int_equal(ktd_json_parse("{}garbage", 2, &root, &err), 0);
	assert_true(json_is_object(root));
	json_decref(root);
	root = NULL;
	assert_int_equal(ktd_json_parse("[1, 2]", 4, &root, &err), -1);
	assert_int_equal(err.code, KTD_ERR_INVALID);
	/* A NUL byte in the body is not the end of it. */
	assert_int_equal(ktd_json_parse("{}\0", 3, &root, &err), -1);
	assert_int_equal(ktd_json_parse("{\"a\":\"x\0\"}", 10, &root, &err),
	                 -1);
	assert_null(root);
}

static void test_parse_empty(void **state)
{
	struct ktd_error err;
	json_t *root = NULL;

	(void)state;
	memset(&err, 0, sizeof(err));
	assert_int_equal(ktd_json_parse("", 0, &root, &err), -1);
	assert_int_equal(err.code, KTD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "empty"));
	memset(&err, 0, sizeof(err));
	assert_int_equal(ktd_json_parse(NULL, 0, &root, &err), -1);
	assert_int_equal(err.code, KTD_ERR_INVALID);
	assert_int_equal(ktd_json_parse_object("{}", 0, &root, &err), -1);
	assert_int_equal(err.code, KTD_ERR_INVALID);
	/* Whitespace alone is no JSON either. */
	assert_int_equal(ktd_json_parse(" \n", 2, &root, &err), -1);
	assert_int_equal(err.code, KTD_ERR_INVALID);
	assert_null(root);
}

static void test_parse_object(void **state)
{
	static const char *const not_objects[] = {
	        "[]", "[{}]", "1", "\"{}\"", "null", "true",
	};
	struct ktd_error err;
	json_t *root = NULL;
	size_t i;

	(void)state;
	assert_int_equal(ktd_json_parse_object("{\"a\":1}", 7, &root, &err), 0);
	assert_true(json_is_object(root));
	assert_int_equal(json_integer_value(json_object_get(root, "a")), 1);
	json_decref(root);

	for (i = 0; i < KTD_N_ELEMENTS(not_objects); i++) {
		root = NULL;
		memset(&err, 0, sizeof(err));
		if (ktd_json_parse_object(not_objects[i],
		                          strlen(not_objects[i]), &root,
		                          &err) != -1)
			fail_msg("case %zu: %s taken for an object", i,
			         not_objects[i]);
		assert_null(root);
		assert_int_equal(err.code, KTD_ERR_INVALID);
		assert_string_equal(err.msg, "expected a JSON object");
	}
	/* A parse error stays a parse error. */
	assert_int_equal(ktd_json_parse_object("{\"a\"", 4, &root, &err), -1);
	assert_non_null(strstr(err.msg, "line 1, column"));
}

static void test_dump(void **state)
{
	json_t *j =
	        json_pack("{s:i, s:[b, n, s]}", "a", 1, "b", 1, "x\"\xc3\xa6");
	size_t len = 0;
	char *text;

	(void)state;
	assert_non_null(j);
	text = ktd_json_dump(j, &len);
	assert_string_equal(text,
	                    "{\"a\":1,\"b\":[true,null,\"x\\\"\xc3\xa6\"]}");
	assert_int_equal(len, strlen(text));
	free(text);
	json_decref(j);

	j = json_string("scalar");
	text = ktd_json_dump(j, NULL);
	assert_string_equal(text, "\"scalar\"");
	free(text);
	json_decref(j);
}

/* --- field access --------------------------------------------------------- */

static json_t *load_obj(const char *text)
{
	struct ktd_error err;
	json_t *root = NULL;

	if (ktd_json_parse_object(text, strlen(text), &root, &err) < 0)
		fail_msg("test data %s: %s", text, err.msg);
	return root;
}

static void test_check_fields(void **state)
{
	static const char *const allowed[] = {"subject", "body", "priority",
	                                      NULL};
	static const char *const none[] = {NULL};
	struct ktd_error err;
	json_t *o;

	(void)state;
	o = load_obj("{\"subject\":\"x\",\"priority\":2}");
	assert_int_equal(ktd_json_check_fields(o, allowed, &err), 0);
	json_decref(o);

	o = load_obj("{}");
	assert_int_equal(ktd_json_check_fields(o, allowed, &err), 0);
	assert_int_equal(ktd_json_check_fields(o, none, &err), 0);
	json_decref(o);

	o = load_obj("{\"subject\":\"x\",\"sbject\":\"y\"}");
	memset(&err, 0, sizeof(err));
	assert_int_equal(ktd_json_check_fields(o, allowed, &err), -1);
	assert_int_equal(err.code, KTD_ERR_UNPROCESSABLE);
	assert_true(ktd_str_has_prefix(err.msg, "unknown field "));
	assert_non_null(strstr(err.msg, "sbject"));
	json_decref(o);

	/* A prefix of an allowed name is not allowed. */
	o = load_obj("{\"sub\":1}");
	assert_int_equal(ktd_json_check_fields(o, allowed, &err), -1);
	assert_non_null(strstr(err.msg, "sub"));
	json_decref(o);

	o = load_obj("{\"a\":1}");
	assert_int_equal(ktd_json_check_fields(o, none, &err), -1);
	json_decref(o);

	/* A name with odd characters is shown escaped, on one line. */
	o = load_obj("{\"bad\\nname \\\"x\\\"\":1}");
	assert_int_equal(ktd_json_check_fields(o, allowed, &err), -1);
	assert_null(strchr(err.msg, '\n'));
	assert_non_null(strstr(err.msg, "bad\\nname \\\"x\\\""));
	json_decref(o);
}

static void test_get_str(void **state)
{
	json_t *o = load_obj("{\"name\":\"Jens\",\"empty\":\"\",\"n\":null,"
	                     "\"num\":5,\"arr\":[],"
	                     "\"da\":\"\xc3\xa6\xc3\xb8\"}");
	struct ktd_error err;
	const char *v;

	(void)state;
	v = NULL;
	assert_int_equal(
	        ktd_json_get_str(o, "name", KTD_JSON_REQUIRED, 100, &v, &err),
	        0);
	assert_string_equal(v, "Jens");
	assert_int_equal(
	        ktd_json_get_str(o, "empty", KTD_JSON_REQUIRED, 100, &v, &err),
	        0);
	assert_string_equal(v, "");

	/* missing or null: required is an error, optional keeps *v_r */
	memset(&err, 0, sizeof(err));
	assert_int_equal(
	        ktd_json_get_str(o, "title", KTD_JSON_REQUIRED, 100, &v, &err),
	        -1);
	assert_int_equal(err.code, KTD_ERR_UNPROCESSABLE);
	assert_string_equal(err.msg, "field 'title' is required");
	assert_int_equal(
	        ktd_json_get_str(o, "n", KTD_JSON_REQUIRED, 100, &v, &err), -1);
	assert_string_equal(err.msg, "field 'n' is required");
	v = "kept";
	assert_int_equal(
	        ktd_json_get_str(o, "title", KTD_JSON_OPTIONAL, 100, &v, &err),
	        0);
	assert_string_equal(v, "kept");
	assert_int_equal(
	        ktd_json_get_str(o, "n", KTD_JSON_OPTIONAL, 100, &v, &err), 0);
	assert_string_equal(v, "kept");

	/* wrong type, even when optional */
	assert_int_equal(
	        ktd_json_get_str(o, "num", KTD_JSON_OPTIONAL, 100, &v, &err),
	        -1);
	assert_int_equal(err.code, KTD_ERR_UNPROCESSABLE);
	assert_string_equal(err.msg, "field 'num' must be a string");
	assert_int_equal(
	        ktd_json_get_str(o, "arr", KTD_JSON_REQUIRED, 100, &v, &err),
	        -1);
	assert_non_null(strstr(err.msg, "'arr'"));
	assert_string_equal(v, "kept");

	/* max_len counts bytes */
	assert_int_equal(
	        ktd_json_get_str(o, "name", KTD_JSON_REQUIRED, 4, &v, &err), 0);
	assert_int_equal(
	        ktd_json_get_str(o, "name", KTD_JSON_REQUIRED, 3, &v, &err),
	        -1);
	assert_int_equal(err.code, KTD_ERR_UNPROCESSABLE);
	assert_string_equal(err.msg, "field 'name' is longer than 3 bytes");
	assert_int_equal(
	        ktd_json_get_str(o, "da", KTD_JSON_REQUIRED, 4, &v, &err), 0);
	assert_int_equal(
	        ktd_json_get_str(o, "da", KTD_JSON_REQUIRED, 3, &v, &err), -1);
	assert_non_null(strstr(err.msg, "'da'"));

	/* An embedded NUL (only possible in values built in code, as the
	 * parser refuses \u0000) is refused. */
	assert_int_equal(json_object_set_new(o, "nul", json_stringn("a\0b", 3)),
	                 0);
	v = "kept";
	assert_int_equal(
	        ktd_json_get_str(o, "nul", KTD_JSON_OPTIONAL, 100, &v, &err),
	        -1);
	assert_int_equal(err.code, KTD_ERR_UNPROCESSABLE);
	assert_string_equal(err.msg, "field 'nul' contains a NUL character");
	assert_string_equal(v, "kept");
	json_decref(o);
}

static void test_get_int(void **state)
{
	json_t *o = load_obj("{\"age\":42,\"zero\":0,\"neg\":-5,\"real\":1.0,"
	                     "\"str\":\"5\",\"t\":true,\"n\":null,"
	                     "\"big\":9223372036854775807,"
	                     "\"small\":-9223372036854775808}");
	struct ktd_error err;
	json_int_t v;

	(void)state;
	v = -1;
	assert_int_equal(
	        ktd_json_get_int(o, "age", KTD_JSON_REQUIRED, 0, 150, &v, &err),
	        0);
	assert_int_equal(v, 42);
	/* both bounds are inclusive */
	assert_int_equal(
	        ktd_json_get_int(o, "age", KTD_JSON_REQUIRED, 42, 42, &v, &err),
	        0);
	assert_int_equal(
	        ktd_json_get_int(o, "zero", KTD_JSON_REQUIRED, 0, 1, &v, &err),
	        0);
	assert_int_equal(v, 0);

	v = 7;
	memset(&err, 0, sizeof(err));
	assert_int_equal(ktd_json_get_int(o, "age", KTD_JSON_REQUIRED, 43, 150,
	                                  &v, &err),
	                 -1);
	assert_int_equal(err.code, KTD_ERR_UNPROCESSABLE);
	assert_string_equal(err.msg, "field 'age' must be between 43 and 150");
	assert_int_equal(
	        ktd_json_get_int(o, "age", KTD_JSON_REQUIRED, 0, 41, &v, &err),
	        -1);
	assert_int_equal(
	        ktd_json_get_int(o, "neg", KTD_JSON_REQUIRED, 0, 10, &v, &err),
	        -1);
	assert_string_equal(err.msg, "field 'neg' must be between 0 and 10");
	assert_int_equal(v, 7);

	assert_int_equal(ktd_json_get_int(o, "big", KTD_JSON_REQUIRED,
	                                  LLONG_MIN, LLONG_MAX, &v, &err),
	                 0);
	assert_true(v == LLONG_MAX);
	assert_int_equal(ktd_json_get_int(o, "small", KTD_JSON_REQUIRED,
	                                  LLONG_MIN, LLONG_MAX, &v, &err),
	                 0);
	assert_true(v == LLONG_MIN);
	assert_int_equal(ktd_json_get_int(o, "big", KTD_JSON_REQUIRED, 0,
	                                  INT32_MAX, &v, &err),
	                 -1);

	/* not integers */
	assert_int_equal(
	        ktd_json_get_int(o, "real", KTD_JSON_REQUIRED, 0, 10, &v, &err),
	        -1);
	assert_string_equal(err.msg, "field 'real' must be an integer");
	assert_int_equal(
	        ktd_json_get_int(o, "str", KTD_JSON_OPTIONAL, 0, 10, &v, &err),
	        -1);
	assert_string_equal(err.msg, "field 'str' must be an integer");
	assert_int_equal(
	        ktd_json_get_int(o, "t", KTD_JSON_REQUIRED, 0, 10, &v, &err),
	        -1);
	assert_non_null(strstr(err.msg, "'t'"));

	/* missing */
	v = 7;
	assert_int_equal(
	        ktd_json_get_int(o, "nope", KTD_JSON_REQUIRED, 0, 10, &v, &err),
	        -1);
	assert_string_equal(err.msg, "field 'nope' is required");
	assert_int_equal(
	        ktd_json_get_int(o, "nope", KTD_JSON_OPTIONAL, 0, 10, &v, &err),
	        0);
	assert_int_equal(
	        ktd_json_get_int(o, "n", KTD_JSON_OPTIONAL, 0, 10, &v, &err),
	        0);
	assert_int_equal(v, 7);
	json_decref(o);
}

static void test_get_bool(void **state)
{
	json_t *o = load_obj("{\"t\":true,\"f\":false,\"one\":1,"
	                     "\"s\":\"true\",\"n\":null}");
	struct ktd_error err;
	bool v;

	(void)state;
	v = false;
	assert_int_equal(ktd_json_get_bool(o, "t", KTD_JSON_REQUIRED, &v, &err),
	                 0);
	assert_true(v);
	assert_int_equal(ktd_json_get_bool(o, "f", KTD_JSON_REQUIRED, &v, &err),
	                 0);
	assert_false(v);

	v = true;
	memset(&err, 0, sizeof(err));
	assert_int_equal(
	        ktd_json_get_bool(o, "one", KTD_JSON_REQUIRED, &v, &err), -1);
	assert_int_equal(err.code, KTD_ERR_UNPROCESSABLE);
	assert_string_equal(err.msg, "field 'one' must be true or false");
	assert_int_equal(ktd_json_get_bool(o, "s", KTD_JSON_OPTIONAL, &v, &err),
	                 -1);
	assert_string_equal(err.msg, "field 's' must be true or false");
	assert_int_equal(ktd_json_get_bool(o, "x", KTD_JSON_REQUIRED, &v, &err),
	                 -1);
	assert_string_equal(err.msg, "field 'x' is required");
	assert_int_equal(ktd_json_get_bool(o, "x", KTD_JSON_OPTIONAL, &v, &err),
	                 0);
	assert_int_equal(ktd_json_get_bool(o, "n", KTD_JSON_OPTIONAL, &v, &err),
	                 0);
	assert_true(v);
	json_decref(o);
}

/* --- struct ktd_error -------------------------------------------------- */

static void test_error_set_prefix(void **state)
{
	struct ktd_error err;

	(void)state;
	memset(&err, 0, sizeof(err));
	memcpy(err.sqlstate, "40001", 6);
	assert_int_equal(
	        ktd_error_set(&err, KTD_ERR_NOT_FOUND, "case %d %s", 7, "gone"),
	        -1);
	assert_int_equal(err.code, KTD_ERR_NOT_FOUND);
	assert_string_equal(err.msg, "case 7 gone");
	assert_string_equal(err.sqlstate, "");

	ktd_error_prefix(&err, "%s", "001_base.sql");
	assert_string_equal(err.msg, "001_base.sql: case 7 gone");
	assert_int_equal(err.code, KTD_ERR_NOT_FOUND);

	ktd_error_clear(&err);
	assert_int_equal(err.code, KTD_ERR_NONE);
	assert_string_equal(err.msg, "");

	/* NULL is accepted everywhere. */
	assert_int_equal(ktd_error_set(NULL, KTD_ERR_IO, "x"), -1);
	ktd_error_prefix(NULL, "x");
	ktd_error_clear(NULL);
}

static void test_error_cut(void **state)
{
	struct ktd_error err;
	char big[2 * KTD_ERROR_MSG_MAX];
	size_t i, len;

	(void)state;
	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	ktd_error_set(&err, KTD_ERR_INVALID, "%s", big);
	assert_int_equal(strlen(err.msg), KTD_ERROR_MSG_MAX - 1);

	/* A cut message stays valid UTF-8, whatever the byte alignment
	 * of the multi-byte characters at the cut. */
	for (i = 0; i < 4; i++) {
		size_t o = i;

		memset(big, 'x', i);
		while (o + 2 < sizeof(big)) {
			memcpy(big + o, "\xc3\xa6", 2);
			o += 2;
		}
		big[o] = '\0';
		ktd_error_set(&err, KTD_ERR_INVALID, "%s", big);
		len = strlen(err.msg);
		assert_true(len >= KTD_ERROR_MSG_MAX - 2);
		if (!ktd_utf8_valid(err.msg, len))
			fail_msg("alignment %zu: cut message is not UTF-8", i);

		ktd_error_set(&err, KTD_ERR_INVALID, "%s", big + 300 + i % 2);
		ktd_error_prefix(&err, "%s", "prefix with \xe2\x82\xac");
		len = strlen(err.msg);
		assert_true(ktd_utf8_valid(err.msg, len));
		assert_memory_equal(err.msg, "prefix with \xe2\x82\xac: ", 17);
	}
}

struct code_case {
	enum ktd_err_code code;
	const char *name;
};

static const struct code_case code_cases[] = {
        {KTD_ERR_NONE, "ok"},
        {KTD_ERR_INTERNAL, "internal_error"},
        {KTD_ERR_INVALID, "bad_request"},
        {KTD_ERR_UNPROCESSABLE, "unprocessable"},
        {KTD_ERR_NOT_FOUND, "not_found"},
        {KTD_ERR_CONFLICT, "conflict"},
        {KTD_ERR_TOO_LARGE, "payload_too_large"},
        {KTD_ERR_UNSUPPORTED, "unsupported_media_type"},
        {KTD_ERR_UNAUTHENTICATED, "unauthenticated"},
        {KTD_ERR_FORBIDDEN, "forbidden"},
        {KTD_ERR_RATE_LIMITED, "rate_limited"},
        {KTD_ERR_UNAVAILABLE, "unavailable"},
        {KTD_ERR_CONFIG, "config_error"},
        {KTD_ERR_IO, "io_error"},
        {(enum ktd_err_code)999, "internal_error"},
};

static void test_error_code_name(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(code_cases); i++)
		assert_string_equal(ktd_error_code_name(code_cases[i].code),
		                    code_cases[i].name);
}

/* --- error responses ------------------------------------------------------ */

static char logged[KTD_LOG_LINE_MAX + 16];
static unsigned nlogged;

static void capture_sink(enum ktd_log_level level, const char *line)
{
	(void)level;
	snprintf(logged, sizeof(logged), "%s", line);
	nlogged++;
}

static int log_setup(void **state)
{
	(void)state;
	logged[0] = '\0';
	nlogged = 0;
	ktd_log_set_level(KTD_LOG_INFO);
	ktd_log_set_sink(capture_sink);
	return 0;
}

static int log_teardown(void **state)
{
	(void)state;
	ktd_log_set_sink(NULL);
	return 0;
}

static const char *resp_header(const struct ktd_http_resp *resp,
                               const char *name)
{
	unsigned i;

	for (i = 0; i < resp->nheaders; i++) {
		if (strcasecmp(resp->headers[i].name, name) == 0)
			return resp->headers[i].value;
	}
	return NULL;
}

/* Checks that the body is exactly {"error":{"code":code,"message":...}}
 * and returns the message (borrowed from *root_r, which the caller
 * releases). */
static const char *error_body(const struct ktd_http_resp *resp,
                              const char *code, json_t **root_r)
{
	json_error_t jerr;
	json_t *root, *e;

	assert_non_null(resp->body);
	assert_int_equal(resp->body_len, strlen(resp->body));
	assert_string_equal(resp->content_type,
	                    "application/json; charset=utf-8");
	root = json_loadb(resp->body, resp->body_len, JSON_REJECT_DUPLICATES,
	                  &jerr);
	if (!root)
		fail_msg("body is not JSON: %s: %s", jerr.text, resp->body);
	assert_int_equal(json_object_size(root), 1);
	e = json_object_get(root, "error");
	assert_true(json_is_object(e));
	assert_int_equal(json_object_size(e), 2);
	assert_true(json_is_string(json_object_get(e, "code")));
	assert_string_equal(json_string_value(json_object_get(e, "code")),
	                    code);
	assert_true(json_is_string(json_object_get(e, "message")));
	assert_string_equal(resp->error_code, code);
	*root_r = root;
	return json_string_value(json_object_get(e, "message"));
}

static void test_resp_error_exact(void **state)
{
	struct ktd_http_resp resp;

	(void)state;
	ktd_http_resp_init(&resp);
	ktd_http_resp_error(&resp, 404, "not_found", "no case %d", 7);
	assert_int_equal(resp.status, 404);
	assert_string_equal(resp.body, "{\"error\":{\"code\":\"not_found\","
	                               "\"message\":\"no case 7\"}}");
	assert_int_equal(resp.body_len, strlen(resp.body));
	assert_string_equal(resp.content_type,
	                    "application/json; charset=utf-8");
	assert_string_equal(resp.error_code, "not_found");

	/* A second error replaces the first; quotes and UTF-8 survive. */
	ktd_http_resp_error(&resp, 400, "bad_request", "field \"%s\" %s", "x",
	                    "\xc3\xa6\xc3\xb8\xc3\xa5");
	assert_int_equal(resp.status, 400);
	assert_string_equal(resp.body,
	                    "{\"error\":{\"code\":\"bad_request\",\"message\":"
	                    "\"field \\\"x\\\" \xc3\xa6\xc3\xb8\xc3\xa5\"}}");
	ktd_http_resp_deinit(&resp);
	assert_null(resp.body);
}

struct status_case {
	enum ktd_err_code code;
	unsigned status;
};

static const struct status_case status_cases[] = {
        {KTD_ERR_NONE, 200},
        {KTD_ERR_INVALID, 400},
        {KTD_ERR_UNAUTHENTICATED, 401},
        {KTD_ERR_FORBIDDEN, 403},
        {KTD_ERR_NOT_FOUND, 404},
        {KTD_ERR_CONFLICT, 409},
        {KTD_ERR_TOO_LARGE, 413},
        {KTD_ERR_UNSUPPORTED, 415},
        {KTD_ERR_UNPROCESSABLE, 422},
        {KTD_ERR_RATE_LIMITED, 429},
        {KTD_ERR_UNAVAILABLE, 503},
        {KTD_ERR_INTERNAL, 500},
        {KTD_ERR_CONFIG, 500},
        {KTD_ERR_IO, 500},
        {(enum ktd_err_code)999, 500},
};

static void test_status_for(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(status_cases); i++) {
		if (ktd_http_status_for(status_cases[i].code) !=
		    status_cases[i].status)
			fail_msg("case %zu: code %d gave %u, expected %u", i,
			         (int)status_cases[i].code,
			         ktd_http_status_for(status_cases[i].code),
			         status_cases[i].status);
	}
}

/* Client errors pass their message on; the status follows the code. */
static void test_resp_from_error_client(void **state)
{
	static const enum ktd_err_code codes[] = {
	        KTD_ERR_INVALID,   KTD_ERR_UNPROCESSABLE, KTD_ERR_NOT_FOUND,
	        KTD_ERR_CONFLICT,  KTD_ERR_TOO_LARGE,     KTD_ERR_UNSUPPORTED,
	        KTD_ERR_FORBIDDEN, KTD_ERR_RATE_LIMITED,
	};
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(codes); i++) {
		struct ktd_http_resp resp;
		struct ktd_error err;
		json_t *root;
		const char *msg;

		ktd_error_set(&err, codes[i], "field 'x' is \"odd\" (%zu)", i);
		ktd_http_resp_init(&resp);
		ktd_http_resp_from_error(&resp, &err);
		assert_int_equal(resp.status, ktd_http_status_for(codes[i]));
		msg = error_body(&resp, ktd_error_code_name(codes[i]), &root);
		assert_string_equal(msg, err.msg);
		assert_int_equal(resp.nheaders, 0);
		json_decref(root);
		ktd_http_resp_deinit(&resp);
	}
	assert_int_equal(nlogged, 0);
}

/* Internal errors are logged, and their text never reaches the client. */
static void test_resp_from_error_internal(void **state)
{
	static const enum ktd_err_code codes[] = {
	        KTD_ERR_INTERNAL,
	        KTD_ERR_CONFIG,
	        KTD_ERR_IO,
	};
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(codes); i++) {
		struct ktd_http_resp resp;
		struct ktd_error err;
		json_t *root;
		const char *msg;

		ktd_error_set(&err, codes[i],
		              "db.internal:5432: relation cases: secret-%zu",
		              i);
		nlogged = 0;
		ktd_http_resp_init(&resp);
		ktd_http_resp_from_error(&resp, &err);
		assert_int_equal(resp.status, 500);
		msg = error_body(&resp, ktd_error_code_name(codes[i]), &root);
		assert_string_equal(msg, "internal error; the details are in "
		                         "the server log");
		assert_null(strstr(resp.body, "secret"));
		assert_null(strstr(resp.body, "db.internal"));
		assert_null(strstr(resp.body, "relation"));
		/* ...but the log has them. */
		assert_int_equal(nlogged, 1);
		assert_non_null(strstr(logged, " level=error "));
		assert_non_null(strstr(logged, "event=internal_error"));
		assert_non_null(strstr(logged, "secret-"));
		json_decref(root);
		ktd_http_resp_deinit(&resp);
	}
}

static void test_resp_from_error_unavailable(void **state)
{
	struct ktd_http_resp resp;
	struct ktd_error err;
	const char *msg, *retry;
	json_t *root;
	uint32_t secs;

	(void)state;
	ktd_error_set(&err, KTD_ERR_UNAVAILABLE,
	              "could not connect to server db.internal port 5432");
	ktd_http_resp_init(&resp);
	ktd_http_resp_from_error(&resp, &err);
	assert_int_equal(resp.status, 503);
	msg = error_body(&resp, "unavailable", &root);
	assert_null(strstr(resp.body, "db.internal"));
	assert_null(strstr(resp.body, "5432"));
	assert_null(strstr(msg, "connect"));
	assert_non_null(strstr(msg, "temporarily unavailable"));
	retry = resp_header(&resp, "Retry-After");
	assert_non_null(retry);
	assert_int_equal(ktd_parse_u32(retry, &secs), 0);
	assert_true(secs >= 1 && secs <= 60);
	assert_int_equal(nlogged, 1);
	assert_non_null(strstr(logged, "db.internal"));
	json_decref(root);
	ktd_http_resp_deinit(&resp);
	assert_int_equal(resp.nheaders, 0);
}

/* Whatever a client sends, the error it gets back is a well-formed JSON
 * body: in particular a long non-ASCII field name, cut for the message at
 * any byte alignment, must not leave half a UTF-8 character that jansson
 * then refuses to encode. */
static void test_error_bodies_always_json(void **state)
{
	static const char *const allowed[] = {"subject", NULL};
	static const char *const units[] = {
	        "\xc3\xa6",
	        "\xe2\x82\xac",
	        "\xf0\x9f\x98\x80",
	        "a\xc3\xa6",
	};
	static const char *const bodies[] = {
	        "{\"a\":\"\xc3\xa6\xc3\xa6\xc3\xa6\xc3\xa6\xc3\xa6\xc3\xa6"
	        "\xc3\xa6\xc3\xa6\xc3\xa6\xc3\xa6\xc3\xa6",
	        "[\"\xc3\xa6\xc3\xa6\xc3\xa6\xc3\xa6\xc3\xa6\xc3\xa6\xc3\xa6"
	        "\xc3\xa6\xc3\xa6\xc3\xa6\" x",
	        "{\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\":1,"
	        "\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\":2}",
	        "\xe2\x82",
	};
	size_t i, pad;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(bodies) + KTD_N_ELEMENTS(units); i++) {
		for (pad = 0; pad < 4; pad++) {
			struct ktd_http_resp resp;
			struct ktd_error err;
			json_t *o = NULL, *root;
			char body[512];
			const char *msg;
			size_t k;
			int r;

			if (i < KTD_N_ELEMENTS(bodies)) {
				if (pad > 0)
					break;
				snprintf(body, sizeof(body), "%s", bodies[i]);
			} else {
				/* {"<pad x><unit><unit>...":1}, where the
				 * unit is cut for the message */
				const char *unit =
				        units[i - KTD_N_ELEMENTS(bodies)];

				snprintf(body, sizeof(body), "{\"%.*s",
				         (int)pad, "xxx");
				for (k = 0; k < 40; k++)
					snprintf(body + strlen(body),
					         sizeof(body) - strlen(body),
					         "%s", unit);
				snprintf(body + strlen(body),
				         sizeof(body) - strlen(body), "\":1}");
			}
			r = ktd_json_parse_object(body, strlen(body), &o, &err);
			if (r == 0) {
				r = ktd_json_check_fields(o, allowed, &err);
				json_decref(o);
			}
			assert_int_equal(r, -1);
			ktd_http_resp_init(&resp);
			ktd_http_resp_from_error(&resp, &err);
			msg = error_body(&resp, ktd_error_code_name(err.code),
			                 &root);
			if (strcmp(msg, err.msg) != 0)
				fail_msg("body %zu/%zu: message changed", i,
				         pad);
			json_decref(root);
			ktd_http_resp_deinit(&resp);
		}
	}
}

static void test_resp_basics(void **state)
{
	struct ktd_http_resp resp;
	unsigned i;

	(void)state;
	ktd_http_resp_init(&resp);
	assert_int_equal(resp.status, 500);
	assert_null(resp.body);
	assert_int_equal(resp.fd, -1);
	assert_int_equal(resp.nheaders, 0);

	ktd_http_resp_set_body(&resp, 200, "text/plain", "a\0b", 3);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.body_len, 3);
	assert_memory_equal(resp.body, "a\0b", 4);
	assert_string_equal(resp.content_type, "text/plain");
	ktd_http_resp_set_body(&resp, 204, "text/plain", NULL, 0);
	assert_int_equal(resp.body_len, 0);
	assert_string_equal(resp.body, "");

	ktd_http_resp_json(&resp, 201, json_pack("{s:s}", "id", "2026-1"));
	assert_int_equal(resp.status, 201);
	assert_string_equal(resp.body, "{\"id\":\"2026-1\"}");
	assert_string_equal(resp.content_type,
	                    "application/json; charset=utf-8");

	for (i = 0; i < KTD_HTTP_MAX_HEADERS; i++)
		ktd_http_resp_header(&resp, "X-N", "v");
	assert_int_equal(resp.nheaders, KTD_HTTP_MAX_HEADERS);

	/* The response owns its file descriptor. */
	resp.fd = open("/dev/null", O_RDONLY);
	assert_true(resp.fd >= 0);
	ktd_http_resp_deinit(&resp);
	assert_int_equal(resp.fd, -1);
	assert_null(resp.body);
	assert_int_equal(resp.nheaders, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_table),
	        cmocka_unit_test(test_parse_len),
	        cmocka_unit_test(test_parse_empty),
	        cmocka_unit_test(test_parse_object),
	        cmocka_unit_test(test_dump),
	        cmocka_unit_test(test_check_fields),
	        cmocka_unit_test(test_get_str),
	        cmocka_unit_test(test_get_int),
	        cmocka_unit_test(test_get_bool),
	        cmocka_unit_test(test_error_set_prefix),
	        cmocka_unit_test(test_error_cut),
	        cmocka_unit_test(test_error_code_name),
	        cmocka_unit_test(test_status_for),
	        cmocka_unit_test_setup_teardown(test_resp_error_exact,
	                                        log_setup, log_teardown),
	        cmocka_unit_test_setup_teardown(test_resp_from_error_client,
	                                        log_setup, log_teardown),
	        cmocka_unit_test_setup_teardown(test_resp_from_error_internal,
	                                        log_setup, log_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_resp_from_error_unavailable, log_setup,
	                log_teardown),
	        cmocka_unit_test_setup_teardown(test_error_bodies_always_json,
	                                        log_setup, log_teardown),
	        cmocka_unit_test(test_resp_basics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
