/* SPDX-License-Identifier: MPL-2.0 */
/* Unit tests of src/core/token: token format and hashing, names, scopes. */
#include "core/core_common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "core/token.h"

static void test_generate(void **state)
{
	char a[TOKEN_SIZE], b[TOKEN_SIZE];
	unsigned char ha[TOKEN_HASH_SIZE], hb[TOKEN_HASH_SIZE];
	unsigned char check[TOKEN_HASH_SIZE];
	int i;

	(void)state;
	for (i = 0; i < 200; i++) {
		token_generate(a, ha);
		assert_int_equal(strlen(a), TOKEN_LEN);
		assert_int_equal(strlen(a), 47);
		assert_true(strncmp(a, "ktd_", 4) == 0);
		assert_true(token_format_valid(a, strlen(a)));
		/* The hash is SHA-256 of the whole token, prefix included. */
		crypto_hash_sha256(check, (const unsigned char *)a, strlen(a));
		assert_memory_equal(ha, check, sizeof(check));
	}
	token_generate(b, hb);
	assert_string_not_equal(a, b);
	assert_memory_not_equal(ha, hb, sizeof(ha));
}

static void test_hash_known(void **state)
{
	/* SHA-256("abc") */
	static const unsigned char abc[TOKEN_HASH_SIZE] = {
	        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
	        0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
	        0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
	        0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
	unsigned char h[TOKEN_HASH_SIZE];

	(void)state;
	token_hash("abc", 3, h);
	assert_memory_equal(h, abc, sizeof(h));
}

static void test_format(void **state)
{
	static const char good[] =
	        "ktd_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	char t[sizeof(good)];

	(void)state;
	assert_true(token_format_valid(good, strlen(good)));
	assert_false(token_format_valid(good, strlen(good) - 1));
	assert_false(token_format_valid("ktd_", 4));
	assert_false(token_format_valid("", 0));
	memcpy(t, good, sizeof(t));
	t[0] = 'K';
	assert_false(token_format_valid(t, strlen(t)));
	memcpy(t, good, sizeof(t));
	t[10] = '+'; /* standard base64, not base64url */
	assert_false(token_format_valid(t, strlen(t)));
	t[10] = '=';
	assert_false(token_format_valid(t, strlen(t)));
	t[10] = '-';
	assert_true(token_format_valid(t, strlen(t)));
	t[10] = '_';
	assert_true(token_format_valid(t, strlen(t)));
}

static void test_name(void **state)
{
	struct ktd_error err;

	(void)state;
	assert_int_equal(token_name_check("cti", &err), 0);
	assert_int_equal(token_name_check("Telefoni-CTI_2026.v1", &err), 0);
	assert_int_equal(token_name_check("", &err), -1);
	assert_int_equal(token_name_check("has space", &err), -1);
	assert_int_equal(token_name_check("t\xc3\xa6", &err), -1);
	assert_int_equal(token_name_check("a:b", &err), -1);
	assert_int_equal(
	        token_name_check("0123456789012345678901234567890123456789"
	                         "012345678901234567890123",
	                         &err),
	        0);
	assert_int_equal(
	        token_name_check("0123456789012345678901234567890123456789"
	                         "0123456789012345678901234",
	                         &err),
	        -1);
}

static const struct {
	const char *in;
	unsigned scopes;  /* 0: refused */
	const char *text; /* formatted, or a part of the error */
} scope_cases[] = {
        {"read", TOKEN_SCOPE_READ, "read"},
        {"cti:write", TOKEN_SCOPE_CTI_WRITE, "cti:write"},
        {"read,cti:write", TOKEN_SCOPE_READ | TOKEN_SCOPE_CTI_WRITE,
         "cti:write,read"},
        {" admin , digitalpost:write ",
         TOKEN_SCOPE_ADMIN | TOKEN_SCOPE_DIGITALPOST_WRITE,
         "digitalpost:write,admin"},
        {"cti:write,digitalpost:write,read,admin", TOKEN_SCOPE_ALL,
         "cti:write,digitalpost:write,read,admin"},
        {"", 0, "empty scope"},
        {" ", 0, "empty scope"},
        {"read,", 0, "empty scope"},
        {",read", 0, "empty scope"},
        {"read,,admin", 0, "empty scope"},
        {"write", 0, "unknown scope 'write'"},
        {"READ", 0, "unknown scope 'READ'"},
        {"cti", 0, "unknown scope 'cti'"},
        {"cti:writer", 0, "unknown scope"},
        {"read,read", 0, "scope 'read' given twice"},
        {"read admin", 0, "unknown scope 'read admin'"},
};

static void test_scopes(void **state)
{
	char text[TOKEN_SCOPES_TEXT_SIZE];
	struct ktd_error err;
	unsigned scopes;
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(scope_cases); i++) {
		int r = token_scopes_parse(scope_cases[i].in, &scopes, &err);

		if (!scope_cases[i].scopes) {
			if (r != -1)
				fail_msg("case %zu: \"%s\" was accepted", i,
				         scope_cases[i].in);
			if (!strstr(err.msg, scope_cases[i].text))
				fail_msg("case %zu: error \"%s\" lacks \"%s\"",
				         i, err.msg, scope_cases[i].text);
			continue;
		}
		if (r != 0 || scopes != scope_cases[i].scopes)
			fail_msg("case %zu: \"%s\" gave %d / %#x", i,
			         scope_cases[i].in, r, scopes);
		token_scopes_format(scopes, text, sizeof(text));
		assert_string_equal(text, scope_cases[i].text);
	}
	assert_string_equal(token_scope_name(TOKEN_SCOPE_READ), "read");
	assert_null(token_scope_name(1u << 9));
	assert_string_equal(token_scopes_format(0, text, sizeof(text)), "");
}

static int setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_generate),
	        cmocka_unit_test(test_hash_known),
	        cmocka_unit_test(test_format),
	        cmocka_unit_test(test_name),
	        cmocka_unit_test(test_scopes),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
