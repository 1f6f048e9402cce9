/* SPDX-License-Identifier: MPL-2.0 */
/* Unit tests of src/lib/csv: RFC 4180 reading (quoting edge cases, line
 * numbers, errors and recovery, UTF-8) and writing. */
#include "lib/lib_common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/csv.h"
#include "lib/mem.h"

struct read_case {
	const char *in;
	size_t len; /* 0: strlen(in) */
	/* What the reader gives, one line per call until the end:
	 * "LINE:[field][field]" for a record, "LINE:E" for an error. */
	const char *out;
	const char *err; /* a part of the first error's message */
};

static const struct read_case read_cases[] = {
        {"a,b\nc,d\n", 0, "1:[a][b]\n2:[c][d]\n", NULL},
        {"a,b\r\nc,d\r\n", 0, "1:[a][b]\n2:[c][d]\n", NULL},
        {"a,b\nc,d", 0, "1:[a][b]\n2:[c][d]\n", NULL},
        {"", 0, "", NULL},
        {"\n\r\n\n", 0, "", NULL},
        /* quoting */
        {"\"a,b\",c\n1,2\n", 0, "1:[a,b][c]\n2:[1][2]\n", NULL},
        {"\"say \"\"hi\"\"\",x\n", 0, "1:[say \"hi\"][x]\n", NULL},
        {"\"\"\"\"\n", 0, "1:[\"]\n", NULL},
        {"h1,h2\n\"two\nlines\",x\ny,z\n", 0,
         "1:[h1][h2]\n2:[two\nlines][x]\n4:[y][z]\n", NULL},
        {"\"a\r\nb\",c\r\n", 0, "1:[a\r\nb][c]\n", NULL},
        {"a,\"\",c\n", 0, "1:[a][][c]\n", NULL},
        {"\"x\"", 0, "1:[x]\n", NULL},
        {"\"a\",\"b\"\r\n\"c\",\"d\"", 0, "1:[a][b]\n2:[c][d]\n", NULL},
        /* empty fields, spaces kept, blank lines skipped */
        {",,\n", 0, "1:[][][]\n", NULL},
        {"a,\n", 0, "1:[a][]\n", NULL},
        {" a , b \n", 0, "1:[ a ][ b ]\n", NULL},
        {"a,b\n\n\nc,d\n\r\n", 0, "1:[a][b]\n4:[c][d]\n", NULL},
        /* a byte order mark is skipped; UTF-8 passes */
        {"\xef\xbb\xbf"
         "a,b\n",
         0, "1:[a][b]\n", NULL},
        {"\xc3\xa6\xc3\xb8\xc3\xa5,\"\xc3\x86\xc3\x98\xc3\x85\"\n", 0,
         "1:[\xc3\xa6\xc3\xb8\xc3\xa5][\xc3\x86\xc3\x98\xc3\x85]\n", NULL},
        /* malformed records are reported and skipped */
        {"a,b\"c\nd,e\n", 0, "1:E\n2:[d][e]\n", "quote inside"},
        {"\"a\"b,c\nd,e\n", 0, "1:E\n2:[d][e]\n", "after a closing quote"},
        {"a,b\n\"open,c\nd,e\n", 0, "1:[a][b]\n2:E\n",
         "opened on line 2 is not closed"},
        {"a\rb,c\nd,e\n", 0, "1:E\n2:[d][e]\n", "carriage return"},
        {"h\n\"a\nb\"x\nc\n", 0, "1:[h]\n2:E\n4:[c]\n", "closing quote"},
        /* every record has as many fields as the first */
        {"a,b\nc,d,e\nf,g\n", 0, "1:[a][b]\n2:E\n3:[f][g]\n",
         "3 fields, expected 2"},
        {"a,b\nc\n", 0, "1:[a][b]\n2:E\n", "1 field, expected 2"},
        /* bad UTF-8, NUL */
        {"a,b\n\xc3\x28,x\nok,\xc3\xa6\n", 0,
         "1:[a][b]\n2:E\n3:[ok][\xc3\xa6]\n", "field 1: not valid UTF-8"},
        {"a,b\nx,\"\xff\"\n", 0, "1:[a][b]\n2:E\n", "field 2"},
        {"a,b\nc\0d,e\n", 10, "1:[a][b]\n2:E\n", "NUL byte"},
        {"\xed\xa0\x80\n", 0, "1:E\n", "UTF-8"},
};

static char *read_all(const char *in, size_t len, char *first_err, size_t errsz)
{
	struct ktd_csv_reader r;
	struct ktd_csv_record rec;
	struct ktd_error err;
	struct ktd_buf out;
	size_t i;
	int rc;

	first_err[0] = '\0';
	ktd_buf_init(&out, 1 << 20);
	ktd_csv_reader_init(&r, in, len);
	for (;;) {
		rc = ktd_csv_read(&r, &rec, &err);
		if (rc == 0)
			break;
		assert_int_equal(ktd_buf_printf(&out, "%u:", rec.line), 0);
		if (rc < 0) {
			assert_int_equal(err.code, KTD_ERR_INVALID);
			if (!first_err[0])
				snprintf(first_err, errsz, "%s", err.msg);
			assert_int_equal(ktd_buf_add_str(&out, "E\n"), 0);
			continue;
		}
		for (i = 0; i < rec.n; i++)
			assert_int_equal(
			        ktd_buf_printf(&out, "[%s]", rec.fields[i]), 0);
		assert_int_equal(ktd_buf_add_str(&out, "\n"), 0);
	}
	ktd_csv_reader_deinit(&r);
	return ktd_buf_steal(&out, NULL);
}

static void test_read_cases(void **state)
{
	char err[KTD_ERROR_MSG_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(read_cases); i++) {
		const struct read_case *c = &read_cases[i];
		char *got = read_all(c->in, c->len ? c->len : strlen(c->in),
		                     err, sizeof(err));

		if (strcmp(got, c->out) != 0)
			fail_msg("case %zu: got\n%s\nexpected\n%s", i, got,
			         c->out);
		if (c->err && !strstr(err, c->err))
			fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, err,
			         c->err);
		ktd_free(&got);
	}
}

static void test_too_many_fields(void **state)
{
	struct ktd_buf in;
	char err[KTD_ERROR_MSG_MAX], *got;
	size_t i;

	(void)state;
	ktd_buf_init(&in, 1 << 20);
	for (i = 0; i <= KTD_CSV_MAX_FIELDS; i++)
		assert_int_equal(ktd_buf_add_str(&in, i ? ",x" : "x"), 0);
	assert_int_equal(ktd_buf_add_str(&in, "\na\n"), 0);
	got = read_all(in.data, in.len, err, sizeof(err));
	assert_string_equal(got, "1:E\n2:[a]\n");
	assert_non_null(strstr(err, "more than 256 fields"));
	ktd_free(&got);
	ktd_buf_deinit(&in);
}

static void test_record_too_long(void **state)
{
	size_t len = KTD_CSV_MAX_RECORD + 10;
	char *in = ktd_malloc(len + 4);
	char err[KTD_ERROR_MSG_MAX], *got;

	(void)state;
	memset(in, 'x', len);
	memcpy(in + len, "\nab\n", 4);
	got = read_all(in, len + 4, err, sizeof(err));
	assert_string_equal(got, "1:E\n2:[ab]\n");
	assert_non_null(strstr(err, "record longer than"));
	ktd_free(&got);
	ktd_free(&in);
}

static void test_write(void **state)
{
	static const char *const fields[] = {"plain",
	                                     "with,comma",
	                                     "with \"quote\"",
	                                     "line\nbreak",
	                                     " lead",
	                                     "trail ",
	                                     "",
	                                     NULL,
	                                     "\xc3\xa6\xc3\xb8\xc3\xa5"};
	struct ktd_buf out;

	(void)state;
	ktd_buf_init(&out, 4096);
	assert_int_equal(
	        ktd_csv_write_record(&out, fields, KTD_N_ELEMENTS(fields)), 0);
	assert_string_equal(out.data, "plain,\"with,comma\",\"with "
	                              "\"\"quote\"\"\",\"line\nbreak\",\" "
	                              "lead\",\"trail \",,,"
	                              "\xc3\xa6\xc3\xb8\xc3\xa5\r\n");
	ktd_buf_deinit(&out);

	/* A full buffer is an error, not a cut record. */
	ktd_buf_init(&out, 8);
	assert_int_equal(ktd_csv_write_record(&out, fields, 2), -1);
	ktd_buf_deinit(&out);
}

/* What the writer writes, the reader reads back unchanged. */
static void test_round_trip(void **state)
{
	static const char *const rows[][3] = {
	        {"a", "b", "c"},
	        {"\"", "\"\"", ",\",\""},
	        {"x\ny", "\r\n", ""},
	        {" ", "\t", "\xc3\x98resund"},
	};
	struct ktd_csv_reader r;
	struct ktd_csv_record rec;
	struct ktd_error err;
	struct ktd_buf out;
	size_t i, j;

	(void)state;
	ktd_buf_init(&out, 4096);
	for (i = 0; i < KTD_N_ELEMENTS(rows); i++)
		assert_int_equal(ktd_csv_write_record(&out, rows[i], 3), 0);
	ktd_csv_reader_init(&r, out.data, out.len);
	for (i = 0; i < KTD_N_ELEMENTS(rows); i++) {
		assert_int_equal(ktd_csv_read(&r, &rec, &err), 1);
		assert_int_equal(rec.n, 3);
		for (j = 0; j < 3; j++)
			assert_string_equal(rec.fields[j], rows[i][j]);
	}
	assert_int_equal(ktd_csv_read(&r, &rec, &err), 0);
	ktd_csv_reader_deinit(&r);
	ktd_buf_deinit(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_read_cases),
	        cmocka_unit_test(test_too_many_fields),
	        cmocka_unit_test(test_record_too_long),
	        cmocka_unit_test(test_write),
	        cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
