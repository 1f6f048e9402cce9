/* SPDX-License-Identifier: MPL-2.0 */
/* The database-free rules of cases: names, references, CPR/CVR and phone
 * numbers, RFC 3339 timestamps and the list cursor. */
#include "core/core_common.h"

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "core/case.h"

static void test_names(void **state)
{
	(void)state;
	assert_true(case_status_valid("new"));
	assert_true(case_status_valid("closed"));
	assert_false(case_status_valid("New"));
	assert_false(case_status_valid(""));
	assert_false(case_status_valid(NULL));
	assert_true(case_channel_valid("digital_post"));
	assert_true(case_channel_valid("outbound_dp"));
	assert_false(case_channel_valid("fax"));
	assert_false(case_channel_valid("phone "));
}

static void test_reference(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
	        {"2026-000123", true},
	        {"2026-1234567", true},
	        {"2026-00012", false},
	        {"2026000123", false},
	        {"26-000123", false},
	        {"2026-00012x", false},
	        {"2026-000123 ", false},
	        {"", false},
	        {"2026-000000000000000", true},
	        {"2026-0000000000000000", false},
	};
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(cases); i++)
		assert_int_equal(case_reference_valid(cases[i].s), cases[i].ok);
}

static void test_cpr_cvr_phone(void **state)
{
	(void)state;
	assert_true(case_cpr_valid("0101701234"));
	assert_false(case_cpr_valid("010170-1234"));
	assert_false(case_cpr_valid("010170123"));
	assert_false(case_cpr_valid("01017012345"));
	assert_true(case_cvr_valid("12345678"));
	assert_false(case_cvr_valid("1234567a"));
}

static void test_rfc3339(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
	        {"2026-01-31T08:15:00Z", true},
	        {"2026-01-31t08:15:00z", true},
	        {"2026-01-31T08:15:00.123456Z", true},
	        {"2026-01-31T08:15:00+01:00", true},
	        {"2026-01-31T08:15:00-05:30", true},
	        {"2024-02-29T00:00:00Z", true},
	        {"2026-02-29T00:00:00Z", false},
	        {"2100-02-29T00:00:00Z", false},
	        {"2000-02-29T00:00:00Z", true},
	        {"2026-04-31T00:00:00Z", false},
	        {"2026-13-01T00:00:00Z", false},
	        {"2026-00-01T00:00:00Z", false},
	        {"2026-01-00T00:00:00Z", false},
	        {"2026-01-01T24:00:00Z", false},
	        {"2026-01-01T00:60:00Z", false},
	        {"2026-01-01T00:00:60Z", false},
	        {"2026-01-01T00:00:00", false},
	        {"2026-01-01 00:00:00Z", false},
	        {"2026-01-01T00:00:00.Z", false},
	        {"2026-01-01T00:00:00+0100", false},
	        {"2026-01-01T00:00:00+01:00x", false},
	        {"2026-01-01T00:00:00Zx", false},
	        {"2026-01-01", false},
	        {"yesterday", false},
	        {"", false},
	};
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(cases); i++) {
		if (case_rfc3339_valid(cases[i].s) != cases[i].ok)
			fail_msg("%s: expected %d", cases[i].s, cases[i].ok);
	}
}

/* The instants PostgreSQL's timestamptz gives the same texts. */
static void test_rfc3339_us(void **state)
{
	static const struct {
		const char *s;
		int64_t us;
	} cases[] = {
	        {"1970-01-01T00:00:00Z", 0},
	        {"2026-03-02T07:04:40Z", INT64_C(1772435080000000)},
	        {"2026-03-02T07:04:40.5+01:00", INT64_C(1772431480500000)},
	        {"2024-02-29T23:59:59.999999-05:30", INT64_C(1709270999999999)},
	        {"1969-12-31T23:59:59.000001Z", -999999},
	        {"2000-03-01T00:00:00.12z", INT64_C(951868800120000)},
	        {"0001-01-01T00:00:00Z", -INT64_C(62135596800000000)},
	        {"9999-12-31T23:59:59.999999+23:59",
	         INT64_C(253402214459999999)},
	};
	int64_t us;
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(cases); i++) {
		us = 1;
		if (!case_rfc3339_us(cases[i].s, &us) || us != cases[i].us)
			fail_msg("%s: %" PRId64, cases[i].s, us);
	}
	/* Seven digits PostgreSQL rounds: not here. */
	assert_false(case_rfc3339_us("2026-01-01T00:00:00.1234567Z", &us));
	assert_false(case_rfc3339_us("2026-02-29T00:00:00Z", &us));
	assert_false(case_rfc3339_us("2026-01-01T00:00:00", &us));
}

static void test_cursor(void **state)
{
	static const int64_t pairs[][2] = {
	        {0, 1},
	        {1785000000123456, 42},
	        {999999999999999999, 999999999999999999},
	};
	static const char *const bad[] = {
	        "",           "!!!!", "MTIz", /* "123": no colon */
	        "MTIzOjA",                    /* "123:0": id 0 */
	        "OjE",                        /* ":1" */
	        "MTIzOg",                     /* "123:" */
	        "LTE6MQ",                     /* "-1:1" */
	        "MDE6MQ",                     /* "01:1": a leading zero */
	        "MTIzOjQ1Og",                 /* "123:45:" */
	        "MTIzOjQ1IA",                 /* "123:45 " */
	        "MTIzOjQ1AA",                 /* "123:45\0" */
	        "MTIzOjQ1==",                 /* padding */
	        "MTIzOjQ1+/",                 /* standard alphabet */
	};
	char out[CASE_CURSOR_SIZE];
	int64_t us, id;
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(pairs); i++) {
		case_cursor_encode(pairs[i][0], pairs[i][1], out);
		assert_null(strpbrk(out, "+/="));
		assert_int_equal(case_cursor_decode(out, &us, &id), 0);
		assert_true(us == pairs[i][0]);
		assert_true(id == pairs[i][1]);
	}
	case_cursor_encode(123, 45, out);
	assert_string_equal(out, "MTIzOjQ1");
	for (i = 0; i < KTD_N_ELEMENTS(bad); i++) {
		if (case_cursor_decode(bad[i], &us, &id) == 0)
			fail_msg("cursor '%s' was accepted", bad[i]);
	}
	memset(out, 'A', sizeof(out) - 1);
	out[sizeof(out) - 1] = '\0';
	assert_int_equal(case_cursor_decode(out, &us, &id), -1);
}

static int setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_names),
	        cmocka_unit_test(test_reference),
	        cmocka_unit_test(test_cpr_cvr_phone),
	        cmocka_unit_test(test_rfc3339),
	        cmocka_unit_test(test_rfc3339_us),
	        cmocka_unit_test(test_cursor),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
