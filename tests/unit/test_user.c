/* SPDX-License-Identifier: MPL-2.0 */
/* Unit tests of src/core/user: logins, names, roles and Argon2id
 * passwords. */
#include "core/core_common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "core/user.h"

static const struct {
	const char *login;
	bool ok;
} logins[] = {
        {"admin", true},
        {"anna.b", true},
        {"a_b-c.9", true},
        {"x", true},
        {"0123456789012345678901234567890123456789012345678901234567890123",
         true},
        {"01234567890123456789012345678901234567890123456789012345678901234",
         false},
        {"", false},
        {"Anna", false},
        {"anna b", false},
        {"anna@kommune", false},
        {"\xc3\xa6gir", false},
        {"a\n", false},
        {"a'; DROP TABLE users; --", false},
};

static void test_login(void **state)
{
	struct ktd_error err;
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(logins); i++) {
		int r = user_login_check(logins[i].login, &err);

		if ((r == 0) != logins[i].ok)
			fail_msg("case %zu: \"%s\" gave %d", i, logins[i].login,
			         r);
	}
	assert_int_equal(user_login_check("Anna", &err), -1);
	assert_int_equal(err.code, KTD_ERR_INVALID);
	assert_non_null(strstr(err.msg, "lower-case"));
}

static void test_name(void **state)
{
	struct ktd_error err;
	char name[512];
	size_t i;

	(void)state;
	assert_int_equal(user_name_check("", &err), 0);
	assert_int_equal(user_name_check("Anna \xc3\x86r\xc3\xb8", &err), 0);
	assert_int_equal(user_name_check(" Anna", &err), -1);
	assert_int_equal(user_name_check("Anna ", &err), -1);
	assert_int_equal(user_name_check("An\tna", &err), -1);
	assert_int_equal(user_name_check("An\x7fna", &err), -1);
	assert_int_equal(user_name_check("\xc3\x28", &err), -1);
	memset(name, 0, sizeof(name));
	for (i = 0; i < 200; i++)
		memcpy(name + 2 * i, "\xc3\xb8", 2);
	assert_int_equal(user_name_check(name, &err), 0);
	memcpy(name + 400, "x", 1);
	assert_int_equal(user_name_check(name, &err), -1);
}

static void test_role(void **state)
{
	static const char *const names[] = {"agent", "supervisor", "admin"};
	enum user_role role;
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(names); i++) {
		assert_int_equal(user_role_parse(names[i], &role), 0);
		assert_string_equal(user_role_name(role), names[i]);
	}
	assert_int_equal(user_role_parse("Admin", &role), -1);
	assert_int_equal(user_role_parse("root", &role), -1);
	assert_int_equal(user_role_parse("", &role), -1);
	assert_string_equal(user_role_name((enum user_role)7), "unknown");
}

static void test_password_check(void **state)
{
	struct ktd_error err;
	char big[USER_PASSWORD_MAX + 2];

	(void)state;
	assert_int_equal(user_password_check("123456789012", 12, &err), 0);
	assert_int_equal(user_password_check("12345678901", 11, &err), -1);
	assert_non_null(strstr(err.msg, "shorter than 12 characters"));
	/* Characters, not bytes: 11 letters æ are 22 bytes and too short. */
	assert_int_equal(user_password_check("\xc3\xa6\xc3\xa6\xc3\xa6\xc3\xa6"
	                                     "\xc3\xa6\xc3\xa6\xc3\xa6\xc3\xa6"
	                                     "\xc3\xa6\xc3\xa6\xc3\xa6",
	                                     22, &err),
	                 -1);
	assert_int_equal(
	        user_password_check("correct horse\tbattery", 21, &err), -1);
	assert_non_null(strstr(err.msg, "control character"));
	assert_int_equal(
	        user_password_check("correct horse\0battery", 21, &err), -1);
	assert_int_equal(
	        user_password_check("correct horse \xff\xfe", 16, &err), -1);
	assert_non_null(strstr(err.msg, "UTF-8"));
	memset(big, 'x', sizeof(big));
	assert_int_equal(user_password_check(big, USER_PASSWORD_MAX, &err), 0);
	assert_int_equal(user_password_check(big, USER_PASSWORD_MAX + 1, &err),
	                 -1);
	/* No message quotes the password. */
	assert_int_equal(user_password_check("s3cret", 6, &err), -1);
	assert_null(strstr(err.msg, "s3cret"));
}

static void test_password_hash_verify(void **state)
{
	static const char pw[] = "r\xc3\xb8"
	                         "dgr\xc3\xb8"
	                         "d med fl\xc3\xb8"
	                         "de";
	char hash[USER_HASH_SIZE], hash2[USER_HASH_SIZE];
	struct ktd_error err;

	(void)state;
	assert_int_equal(user_password_hash(pw, strlen(pw), hash, &err), 0);
	assert_true(strncmp(hash, "$argon2id$", 10) == 0);
	assert_null(strstr(hash, pw));
	assert_true(user_password_verify(hash, pw, strlen(pw)));
	assert_false(user_password_verify(hash, pw, strlen(pw) - 1));
	assert_false(user_password_verify(hash,
	                                  "R\xc3\xb8"
	                                  "dgr\xc3\xb8"
	                                  "d med "
	                                  "fl\xc3\xb8"
	                                  "de",
	                                  strlen(pw)));
	assert_false(user_password_verify("not a hash", pw, strlen(pw)));
	/* A fresh salt each time. */
	assert_int_equal(user_password_hash(pw, strlen(pw), hash2, &err), 0);
	assert_string_not_equal(hash, hash2);
	/* A bad password is not hashed. */
	assert_int_equal(user_password_hash("short", 5, hash, &err), -1);
	assert_int_equal(err.code, KTD_ERR_INVALID);
}

static void test_password_generate(void **state)
{
	char a[USER_PASSWORD_GENERATED_SIZE], b[USER_PASSWORD_GENERATED_SIZE];
	struct ktd_error err;
	size_t i;

	(void)state;
	user_password_generate(a, sizeof(a));
	user_password_generate(b, sizeof(b));
	assert_int_equal(strlen(a), 22);
	assert_string_not_equal(a, b);
	for (i = 0; i < strlen(a); i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
		                       "nopqrstuvwxyz0123456789-_",
		                       a[i]));
	assert_int_equal(user_password_check(a, strlen(a), &err), 0);
}

static int setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_login),
	        cmocka_unit_test(test_name),
	        cmocka_unit_test(test_role),
	        cmocka_unit_test(test_password_check),
	        cmocka_unit_test(test_password_hash_verify),
	        cmocka_unit_test(test_password_generate),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
