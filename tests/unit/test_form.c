/* SPDX-License-Identifier: MPL-2.0 */
/* application/x-www-form-urlencoded, strictly. */
#include "http/http_common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/form.h"

static void test_good(void **state)
{
	static const char body[] =
	        "event=newCall&from=493055571600&to=%2B4536373839"
	        "&user%5B%5D=J%C3%B8rgen+Hansen&user[]=Åse&&empty=&flag"
	        "&direction=in";
	struct ktd_form f;
	struct ktd_error err;

	(void)state;
	assert_int_equal(ktd_form_parse(body, strlen(body), &f, &err), 0);
	assert_int_equal(f.n, 8);
	assert_string_equal(ktd_form_get(&f, "event"), "newCall");
	assert_string_equal(ktd_form_get(&f, "to"), "+4536373839");
	assert_string_equal(f.fields[3].name, "user[]");
	assert_string_equal(f.fields[3].value, "Jørgen Hansen");
	assert_string_equal(f.fields[4].name, "user[]");
	assert_string_equal(f.fields[4].value, "Åse");
	assert_string_equal(ktd_form_get(&f, "empty"), "");
	assert_string_equal(ktd_form_get(&f, "flag"), "");
	assert_null(ktd_form_get(&f, "queue"));
	ktd_form_clear(&f);
	assert_int_equal(ktd_form_parse("", 0, &f, &err), 0);
	assert_int_equal(f.n, 0);
}

static void test_bad(void **state)
{
	static const char *const bad[] = {
	        "a=%",  "a=%4",   "a=%zz", "a=%00",
	        "a%=1", "a=\xff", "a=%C3", "a=1&b=%C3%28",
	};
	struct ktd_form f;
	struct ktd_error err;
	char many[1024] = "";
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(bad); i++) {
		assert_int_equal(
		        ktd_form_parse(bad[i], strlen(bad[i]), &f, &err), -1);
		assert_int_equal(f.n, 0);
	}
	assert_non_null(strstr(err.msg, "field 2"));
	for (i = 0; i < KTD_FORM_MAX_FIELDS + 1; i++)
		memcpy(many + 4 * i, "a=1&", 4);
	assert_int_equal(ktd_form_parse(many, strlen(many), &f, &err), -1);
	assert_non_null(strstr(err.msg, "more than"));
	/* A NUL byte in the raw body is refused too (the name "a\0b"). */
	assert_int_equal(ktd_form_parse("a\0b=1", 5, &f, &err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_good),
	        cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
