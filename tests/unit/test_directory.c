/* SPDX-License-Identifier: MPL-2.0 */
/* Unit tests of src/core/directory: phone hours in text and JSON, the
 * department field rules, name folding and the CSV parsing of the
 * directory (without a database). */
#include "core/core_common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "core/directory.h"

struct hours_case {
	const char *in;
	const char *out; /* canonical text; NULL: refused */
	const char *err; /* for a refusal: a part of the message */
};

static const struct hours_case hours_cases[] = {
        {"", "", NULL},
        {"   ", "", NULL},
        {";", "", NULL},
        {"mon 08:00-15:00", "mon 08:00-15:00", NULL},
        {"mon-thu 08:00-15:00; fri 08:00-13:00",
         "mon-thu 08:00-15:00; fri 08:00-13:00", NULL},
        {"MON-Thu 8:00-15:00;fri 08:00 - 13:00;",
         "mon-thu 08:00-15:00; fri 08:00-13:00", NULL},
        /* days with the same hours are joined when they are a run */
        {"mon 08:00-15:00; tue 08:00-15:00; wed 08:00-15:00",
         "mon-wed 08:00-15:00", NULL},
        {"mon,wed 09:00-12:00", "mon 09:00-12:00; wed 09:00-12:00", NULL},
        {"fri 08:00-13:00; mon-thu 08:00-15:00",
         "mon-thu 08:00-15:00; fri 08:00-13:00", NULL},
        {"mon-sun 00:00-24:00", "mon-sun 00:00-24:00", NULL},
        {"sat-sun 10:00-12:00", "sat-sun 10:00-12:00", NULL},
        /* several ranges, sorted */
        {"mon 13:00-15:00, 08:00-12:00", "mon 08:00-12:00,13:00-15:00", NULL},
        {"mon-fri 08:00-10:00,10:00-12:00", "mon-fri 08:00-10:00,10:00-12:00",
         NULL},
        {"tue 01:00-02:00,03:00-04:00,05:00-06:00,07:00-08:00",
         "tue 01:00-02:00,03:00-04:00,05:00-06:00,07:00-08:00", NULL},
        /* refused */
        {"mox 08:00-15:00", NULL, "'mox' is not a weekday"},
        {"monday 08:00-15:00", NULL, "'monday' is not a weekday"},
        {"08:00-15:00", NULL, "expected a weekday"},
        {"mon", NULL, "expected times"},
        {"mon 08:00", NULL, "expected '-'"},
        {"mon 08:00-", NULL, "expected a time"},
        {"mon 8-15", NULL, "expected a time"},
        {"mon 25:00-26:00", NULL, "expected a time"},
        {"mon 08:60-09:00", NULL, "expected a time"},
        {"mon 24:30-24:45", NULL, "expected a time"},
        {"mon 008:00-09:00", NULL, "expected a time"},
        {"mon 08:000-09:00", NULL, "expected a time"},
        {"mon 15:00-08:00", NULL, "15:00-08:00 ends before it starts"},
        {"mon 08:00-08:00", NULL, "ends before it starts"},
        {"mon 08:00-12:00,11:00-13:00", NULL, "overlap"},
        {"thu-mon 08:00-12:00", NULL, "from Monday towards Sunday"},
        {"mon 08:00-12:00; mon 13:00-14:00", NULL, "mon is given twice"},
        {"mon-wed 08:00-12:00; tue 13:00-14:00", NULL, "tue is given twice"},
        {"mon,mon 08:00-12:00", NULL, "given twice"},
        {"tue 01:00-02:00,03:00-04:00,05:00-06:00,07:00-08:00,09:00-10:00",
         NULL, "more than 4 time ranges"},
        {"mon 08:00-12:00 fri", NULL, "expected ';' or the end"},
        {"mon 08:00-12:00 \xc3\xa6", NULL, "expected ';'"},
        {"man 08:00-12:00", NULL, "not a weekday"},
};

static void test_hours_text(void **state)
{
	char text[DIRECTORY_HOURS_TEXT_SIZE];
	struct directory_hours h, h2;
	struct ktd_error err;
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(hours_cases); i++) {
		const struct hours_case *c = &hours_cases[i];
		int r = directory_hours_parse(c->in, &h, &err);

		if (!c->out) {
			if (r != -1)
				fail_msg("case %zu: \"%s\" was accepted", i,
				         c->in);
			if (!strstr(err.msg, c->err))
				fail_msg("case %zu: error \"%s\" lacks \"%s\"",
				         i, err.msg, c->err);
			continue;
		}
		if (r != 0)
			fail_msg("case %zu: \"%s\" refused: %s", i, c->in,
			         err.msg);
		directory_hours_format(&h, text, sizeof(text));
		if (strcmp(text, c->out) != 0)
			fail_msg(
			        "case %zu: \"%s\" gave \"%s\", expected \"%s\"",
			        i, c->in, text, c->out);
		/* The canonical form reads back as the same hours. */
		assert_int_equal(directory_hours_parse(text, &h2, &err), 0);
		assert_true(directory_hours_equal(&h, &h2));
	}
}

static void test_hours_json(void **state)
{
	struct directory_hours h, h2;
	struct ktd_error err;
	char *json;

	(void)state;
	assert_int_equal(directory_hours_parse("mon-thu 08:00-15:00; fri "
	                                       "08:00-12:00,12:30-13:00",
	                                       &h, &err),
	                 0);
	json = directory_hours_to_json(&h);
	assert_string_equal(json, "{\"mon\":[[\"08:00\",\"15:00\"]],"
	                          "\"tue\":[[\"08:00\",\"15:00\"]],"
	                          "\"wed\":[[\"08:00\",\"15:00\"]],"
	                          "\"thu\":[[\"08:00\",\"15:00\"]],"
	                          "\"fri\":[[\"08:00\",\"12:00\"],"
	                          "[\"12:30\",\"13:00\"]]}");
	assert_int_equal(directory_hours_from_json(json, &h2, &err), 0);
	assert_true(directory_hours_equal(&h, &h2));
	ktd_free(&json);

	/* No hours: an empty object. */
	memset(&h, 0, sizeof(h));
	json = directory_hours_to_json(&h);
	assert_string_equal(json, "{}");
	ktd_free(&json);

	/* PostgreSQL's jsonb text, with spaces and its own key order; an
	 * empty array is a closed day. */
	assert_int_equal(
	        directory_hours_from_json("{\"fri\": [[\"08:00\", \"13:00\"]], "
	                                  "\"mon\": [[\"13:00\", \"15:00\"], "
	                                  "[\"08:00\", \"12:00\"]], \"sat\": "
	                                  "[]}",
	                                  &h, &err),
	        0);
	assert_int_equal(h.day[0].n, 2);
	assert_int_equal(h.day[0].r[0].from, 8 * 60);
	assert_int_equal(h.day[4].n, 1);
	assert_int_equal(h.day[5].n, 0);
}

static const struct {
	const char *json;
	const char *err;
} bad_json[] = {
        {"", "not JSON"},
        {"[]", "must be an object"},
        {"{\"mon\": 1}", "mon: expected an array"},
        {"{\"monday\": []}", "'monday' is not a weekday"},
        {"{\"mon\": [[\"08:00\"]]}", "mon: each range is a pair"},
        {"{\"mon\": [[\"08:00\", \"09:00\", \"10:00\"]]}", "pair"},
        {"{\"mon\": [\"08:00-09:00\"]}", "pair"},
        {"{\"mon\": [[\"8:00\", \"09:00\"]]}", "mon: times are strings"},
        {"{\"mon\": [[\"08:00\", 900]]}", "times are strings"},
        {"{\"mon\": [[\"08:00\", \"25:00\"]]}", "times are strings"},
        {"{\"mon\": [[\"09:00\", \"08:00\"]]}", "mon: 09:00-08:00 ends"},
        {"{\"mon\": [[\"08:00\", \"10:00\"], [\"09:00\", \"11:00\"]]}",
         "mon: 08:00-10:00 and 09:00-11:00 overlap"},
        {"{\"mon\": [], \"mon\": []}", "not JSON"},
};

static void test_hours_json_bad(void **state)
{
	struct directory_hours h;
	struct ktd_error err;
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(bad_json); i++) {
		if (directory_hours_from_json(bad_json[i].json, &h, &err) != -1)
			fail_msg("case %zu: %s was accepted", i,
			         bad_json[i].json);
		if (!strstr(err.msg, bad_json[i].err))
			fail_msg("case %zu: error \"%s\" lacks \"%s\"", i,
			         err.msg, bad_json[i].err);
	}
}

static void test_fields(void **state)
{
	struct ktd_error err;
	char name[256], big[512];
	size_t i;

	(void)state;
	assert_int_equal(directory_name_check("Borgerservice", &err), 0);
	assert_int_equal(directory_name_check("\xc3\x98konomisk team", &err),
	                 0);
	assert_int_equal(directory_name_check("", &err), -1);
	assert_int_equal(directory_name_check(" x", &err), -1);
	assert_int_equal(directory_name_check("x ", &err), -1);
	assert_int_equal(directory_name_check("a\tb", &err), -1);
	assert_int_equal(directory_name_check("a\xc2\x85"
	                                      "b",
	                                      &err),
	                 -1);
	assert_int_equal(directory_name_check("\xc3", &err), -1);
	/* 200 characters, each two bytes, pass; 201 do not. */
	memset(name, 0, sizeof(name));
	for (i = 0; i < 100; i++)
		memcpy(name + 2 * i, "\xc3\xa6", 2);
	assert_int_equal(directory_name_check(name, &err), 0);
	memset(big, 0, sizeof(big));
	for (i = 0; i < 201; i++)
		memcpy(big + 2 * i, "\xc3\xa6", 2);
	assert_int_equal(directory_name_check(big, &err), -1);
	assert_non_null(strstr(err.msg, "longer than 200"));

	assert_int_equal(directory_number_check("7100", &err), 0);
	assert_int_equal(directory_number_check("+4536377000", &err), 0);
	assert_int_equal(directory_number_check("12345678901234567890", &err),
	                 0);
	assert_int_equal(directory_number_check("123456789012345678901", &err),
	                 -1);
	assert_int_equal(directory_number_check("+", &err), -1);
	assert_int_equal(directory_number_check("36 37 70 00", &err), -1);
	assert_int_equal(directory_number_check("12a", &err), -1);
	assert_int_equal(directory_number_check("++1", &err), -1);

	assert_int_equal(directory_ivr_check("3", &err), 0);
	assert_int_equal(directory_ivr_check("31*#", &err), 0);
	assert_int_equal(directory_ivr_check("1234567890123456", &err), 0);
	assert_int_equal(directory_ivr_check("12345678901234567", &err), -1);
	assert_int_equal(directory_ivr_check("3-1", &err), -1);

	assert_int_equal(directory_email_check("a@kommune.example", &err), 0);
	assert_int_equal(directory_email_check("b\xc3\xb8rn@k.dk", &err), 0);
	assert_int_equal(directory_email_check("a@b", &err), -1);
	assert_int_equal(directory_email_check("@b.dk", &err), -1);
	assert_int_equal(directory_email_check("a@.dk", &err), -1);
	assert_int_equal(directory_email_check("a@b.", &err), -1);
	assert_int_equal(directory_email_check("a@@b.dk", &err), -1);
	assert_int_equal(directory_email_check("a b@c.dk", &err), -1);
	assert_int_equal(directory_email_check("ab", &err), -1);
}

static void test_name_fold(void **state)
{
	static const char *const pairs[][2] = {
	        {"Borgerservice", "borgerservice"},
	        {"\xc3\x98KONOMI \xc3\x86\xc3\x85", /* ØKONOMI ÆÅ */
	         "\xc3\xb8konomi \xc3\xa6\xc3\xa5"},
	        {"\xc3\xb8\xc3\xa6\xc3\xa5", "\xc3\xb8\xc3\xa6\xc3\xa5"},
	        {"\xc3\x97", "\xc3\x97"}, /* the multiplication sign stays */
	        {"\xc3\x9c"
	         "ber",
	         "\xc3\xbc"
	         "ber"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(pairs); i++) {
		char *f = directory_name_fold(pairs[i][0]);

		assert_string_equal(f, pairs[i][1]);
		ktd_free(&f);
	}
}

/* --- CSV ---------------------------------------------------------------- */

struct collected {
	struct ktd_buf text;
};

static void collect(void *ctx, unsigned line, const char *field,
                    const char *msg)
{
	struct collected *c = ctx;

	assert_int_equal(ktd_buf_printf(&c->text, "%u: %s%s%s\n", line,
	                                field ? field : "", field ? ": " : "",
	                                msg),
	                 0);
}

#define HEADER DIRECTORY_CSV_HEADER "\n"

static unsigned parse(const char *csv, struct directory_rows *rows,
                      struct collected *c)
{
	ktd_buf_init(&c->text, 1 << 20);
	assert_int_equal(ktd_buf_add_str(&c->text, ""), 0);
	return directory_csv_parse(csv, strlen(csv), rows, collect, c);
}

static void test_csv_good(void **state)
{
	static const char csv[] =
	        HEADER "Borgerservice,,7100,,1,borgerservice@kommune.example,"
	               "\"mon-wed 10:00-15:00; thu 10:00-17:30\",yes,1,yes\n"
	               "  Pladsanvisning , Borgerservice ,,7111,11,,,ja,1,\n"
	               "\xc3\x98konomisk team,,,,,,,no,,nej\n";
	struct directory_rows rows;
	struct collected c;

	(void)state;
	assert_int_equal(parse(csv, &rows, &c), 0);
	assert_string_equal(c.text.data, "");
	assert_int_equal(rows.n, 3);
	assert_int_equal(rows.items[0].line, 2);
	assert_string_equal(rows.items[0].dep.name, "Borgerservice");
	assert_null(rows.items[0].dep.parent);
	assert_string_equal(rows.items[0].dep.queue_number, "7100");
	assert_null(rows.items[0].dep.hunt_group_number);
	assert_string_equal(rows.items[0].dep.phone_hours,
	                    "{\"mon\":[[\"10:00\",\"15:00\"]],"
	                    "\"tue\":[[\"10:00\",\"15:00\"]],"
	                    "\"wed\":[[\"10:00\",\"15:00\"]],"
	                    "\"thu\":[[\"10:00\",\"17:30\"]]}");
	assert_true(rows.items[0].dep.handled_by_centre);
	assert_int_equal(rows.items[0].dep.phase, 1);
	assert_true(rows.items[0].dep.active);
	/* fields are trimmed; empty active means yes; ja/nej work */
	assert_string_equal(rows.items[1].dep.name, "Pladsanvisning");
	assert_string_equal(rows.items[1].dep.parent, "Borgerservice");
	assert_string_equal(rows.items[1].parent_fold, "borgerservice");
	assert_true(rows.items[1].dep.active);
	assert_string_equal(rows.items[1].dep.phone_hours, "{}");
	assert_string_equal(rows.items[2].fold, "\xc3\xb8konomisk team");
	assert_false(rows.items[2].dep.handled_by_centre);
	assert_int_equal(rows.items[2].dep.phase, 0);
	assert_false(rows.items[2].dep.active);
	directory_rows_free(&rows);
	ktd_buf_deinit(&c.text);
}

static void test_csv_columns_any_order(void **state)
{
	static const char csv[] =
	        "active,phase,handled_by_centre,phone_hours,email,ivr_choice,"
	        "hunt_group_number,queue_number,parent,NAME\n"
	        "no,,no,,,,,,,Affald\n";
	struct directory_rows rows;
	struct collected c;

	(void)state;
	assert_int_equal(parse(csv, &rows, &c), 0);
	assert_int_equal(rows.n, 1);
	assert_string_equal(rows.items[0].dep.name, "Affald");
	assert_false(rows.items[0].dep.active);
	directory_rows_free(&rows);
	ktd_buf_deinit(&c.text);
}

static void test_csv_problems(void **state)
{
	static const char csv[] =
	        HEADER ",,,,,,,no,,yes\n"                           /* 2 */
	               "A,,12a,+,3-1,x@y,mon 8-9,maybe,4,perhaps\n" /* 3 */
	               "B,B,,,,,,yes,,yes\n"                        /* 4 */
	               "C,,,,,,,no,2,yes\n"                         /* 5 */
	               "too,few\n"                                  /* 6 */
	               "\"bad \"quote,,,,,,,no,,yes\n"              /* 7 */
	               "b,,,,,,,no,,yes\n"                          /* 8 */
	               "D\xff,,,,,,,no,,yes\n"                      /* 9 */
	               "E,,,,,,\"mon 08:00-09:00\n"
	               "tue\",no,,yes\n"          /* 10 */
	               "F,,,,,,,no,,yes,extra\n"; /* 12 */
	static const char expected[] =
	        "2: name: required\n"
	        "3: queue_number: '12a' is not a number: use 1 to 20 digits, "
	        "optionally after a '+'\n"
	        "3: hunt_group_number: '+' is not a number: use 1 to 20 "
	        "digits, optionally after a '+'\n"
	        "3: ivr_choice: '3-1' is not an IVR choice: use the keys "
	        "pressed, 1 to 16 of 0-9, '*' and '#'\n"
	        "3: email: 'x@y' is not an e-mail address (name@example.dk)\n"
	        "3: phone_hours: expected a time HH:MM (00:00 to 24:00) at "
	        "'8-9'\n"
	        "3: handled_by_centre: 'maybe' is not yes or no\n"
	        "3: active: 'perhaps' is not yes or no\n"
	        "3: phase: '4' is not 1, 2 or 3\n"
	        "4: parent: a department cannot be its own parent\n"
	        "4: phase: required (1, 2 or 3) when handled_by_centre is "
	        "yes\n"
	        "5: phase: must be empty when handled_by_centre is no\n"
	        "6: 2 fields, expected 10 as in the header\n"
	        "7: text after a closing quote\n"
	        "9: field 1: not valid UTF-8\n"
	        "10: phone_hours: expected ';' or the end at 'tue'\n"
	        "12: 11 fields, expected 10 as in the header\n"
	        "8: name: 'b' is on line 4 already\n";
	struct directory_rows rows;
	struct collected c;

	(void)state;
	assert_int_equal(parse(csv, &rows, &c), 18);
	assert_string_equal(c.text.data, expected);
	assert_int_equal(rows.problems, 18);
	directory_rows_free(&rows);
	ktd_buf_deinit(&c.text);
}

static void test_csv_header(void **state)
{
	struct directory_rows rows;
	struct collected c;

	(void)state;
	assert_int_equal(parse("", &rows, &c), 1);
	assert_non_null(strstr(c.text.data, "1: no header"));
	directory_rows_free(&rows);
	ktd_buf_deinit(&c.text);

	assert_int_equal(parse("name,parent,name,bogus\nx,y,z,w\n", &rows, &c),
	                 10);
	assert_non_null(strstr(c.text.data, "1: unknown column 'bogus'"));
	assert_non_null(strstr(c.text.data, "1: column 'name' twice"));
	assert_non_null(strstr(c.text.data,
	                       "1: column 'active' missing from the "
	                       "header"));
	assert_int_equal(rows.n, 0);
	directory_rows_free(&rows);
	ktd_buf_deinit(&c.text);

	assert_int_equal(parse("\"name,parent\n", &rows, &c), 1);
	assert_non_null(strstr(c.text.data, "1: header: quoted field"));
	directory_rows_free(&rows);
	ktd_buf_deinit(&c.text);
}

static void test_csv_export_form_reads_back(void **state)
{
	/* What export writes for phone hours with commas: quoted. */
	static const char csv[] =
	        HEADER "X,,,,,,\"mon-wed 09:00-12:00,13:00-15:00; thu "
	               "09:00-17:00\",yes,2,yes\r\n";
	char text[DIRECTORY_HOURS_TEXT_SIZE];
	struct directory_rows rows;
	struct collected c;

	(void)state;
	assert_int_equal(parse(csv, &rows, &c), 0);
	directory_hours_format(&rows.items[0].hours, text, sizeof(text));
	assert_string_equal(text,
	                    "mon-wed 09:00-12:00,13:00-15:00; thu 09:00-17:00");
	directory_rows_free(&rows);
	ktd_buf_deinit(&c.text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_hours_text),
	        cmocka_unit_test(test_hours_json),
	        cmocka_unit_test(test_hours_json_bad),
	        cmocka_unit_test(test_fields),
	        cmocka_unit_test(test_name_fold),
	        cmocka_unit_test(test_csv_good),
	        cmocka_unit_test(test_csv_columns_any_order),
	        cmocka_unit_test(test_csv_problems),
	        cmocka_unit_test(test_csv_header),
	        cmocka_unit_test(test_csv_export_form_reads_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
