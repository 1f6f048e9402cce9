/* SPDX-License-Identifier: MPL-2.0 */
/* Unit tests of src/lib (strict parsers, UTF-8, buffers, logging, HTTP
 * dates) and of the migration file name rule in src/db/migrate; struct
 * ktd_error is tested with the HTTP error bodies in test_json.c. */
#include "lib/lib_common.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/timeutil.h"
#include "db/migrate.h"

/* --- numbers ----------------------------------------------------------- */

struct num_case {
	const char *in;
	int ret;
	uint64_t v; /* for ret == 0 */
};

static const struct num_case u32_cases[] = {
        {"0", 0, 0},
        {"1", 0, 1},
        {"007", 0, 7},
        {"65535", 0, 65535},
        {"4294967295", 0, 4294967295u},
        {"4294967296", -1, 0},
        {"4294967300", -1, 0},
        {"9999999999", -1, 0},
        {"00000000004294967295", 0, 4294967295u},
        {"", -1, 0},
        {"-1", -1, 0},
        {"+1", -1, 0},
        {" 1", -1, 0},
        {"1 ", -1, 0},
        {"1a", -1, 0},
        {"0x10", -1, 0},
        {"1.0", -1, 0},
        {"1e3", -1, 0},
        {"\xd9\xa1", -1, 0}, /* an Arabic-Indic digit one */
};

static const struct num_case u64_cases[] = {
        {"0", 0, 0},
        {"4294967296", 0, 4294967296ull},
        {"18446744073709551615", 0, UINT64_MAX},
        {"18446744073709551616", -1, 0},
        {"18446744073709551620", -1, 0},
        {"99999999999999999999", -1, 0},
        {"184467440737095516150", -1, 0},
        {"", -1, 0},
        {"-0", -1, 0},
        {"12 ", -1, 0},
        {"12x", -1, 0},
};

static void test_parse_u32(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(u32_cases); i++) {
		const struct num_case *c = &u32_cases[i];
		uint32_t v = 12345;
		int r = ktd_parse_u32(c->in, &v);

		if (r != c->ret)
			fail_msg("case %zu: parse_u32(\"%s\") returned %d", i,
			         c->in, r);
		if (r == 0 && v != c->v)
			fail_msg("case %zu: parse_u32(\"%s\") gave %u", i,
			         c->in, v);
		if (r < 0 && v != 12345)
			fail_msg("case %zu: a failed parse wrote %u", i, v);
	}
	{
		uint32_t v;

		assert_int_equal(ktd_parse_u32(NULL, &v), -1);
	}
}

static void test_parse_u64(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(u64_cases); i++) {
		const struct num_case *c = &u64_cases[i];
		uint64_t v = 12345;
		int r = ktd_parse_u64(c->in, &v);

		if (r != c->ret)
			fail_msg("case %zu: parse_u64(\"%s\") returned %d", i,
			         c->in, r);
		if (r == 0 && v != c->v)
			fail_msg("case %zu: parse_u64(\"%s\") gave %llu", i,
			         c->in, (unsigned long long)v);
		if (r < 0 && v != 12345)
			fail_msg("case %zu: a failed parse wrote a value", i);
	}
	{
		uint64_t v;

		assert_int_equal(ktd_parse_u64(NULL, &v), -1);
	}
}

struct bool_case {
	const char *in;
	int ret;
	bool v;
};

static const struct bool_case bool_cases[] = {
        {"true", 0, true},    {"yes", 0, true},       {"on", 0, true},
        {"1", 0, true},       {"TRUE", 0, true},      {"Yes", 0, true},
        {"false", 0, false},  {"no", 0, false},       {"off", 0, false},
        {"0", 0, false},      {"OFF", 0, false},      {"False", 0, false},
        {"", -1, false},      {"2", -1, false},       {"y", -1, false},
        {"n", -1, false},     {"truee", -1, false},   {" true", -1, false},
        {"true ", -1, false}, {"enabled", -1, false}, {"01", -1, false},
};

static void test_parse_bool(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(bool_cases); i++) {
		const struct bool_case *c = &bool_cases[i];
		bool v = !c->v;
		int r = ktd_parse_bool(c->in, &v);

		if (r != c->ret)
			fail_msg("case %zu: parse_bool(\"%s\") returned %d", i,
			         c->in, r);
		if (r == 0 && v != c->v)
			fail_msg("case %zu: parse_bool(\"%s\") gave %d", i,
			         c->in, v);
	}
	{
		bool v;

		assert_int_equal(ktd_parse_bool(NULL, &v), -1);
	}
}

static const struct num_case size_cases[] = {
        {"0", 0, 0},
        {"512", 0, 512},
        {"1k", 0, 1024},
        {"64k", 0, 65536},
        {"64K", 0, 65536},
        {"1M", 0, 1048576},
        {"16M", 0, 16777216},
        {"1G", 0, 1073741824},
        {"2G", 0, 2147483648ull},
        {"0k", 0, 0},
        {"18446744073709551615", 0, UINT64_MAX},
        {"17179869183G", 0, 17179869183ull << 30},
        {"17179869184G", -1, 0}, /* 2^64 */
        {"18014398509481984k", -1, 0},
        {"18446744073709551616", -1, 0},
        {"1T", -1, 0},
        {"1kb", -1, 0},
        {"1KiB", -1, 0},
        {"k", -1, 0},
        {"", -1, 0},
        {"1 k", -1, 0},
        {"-1", -1, 0},
        {"1.5M", -1, 0},
        {"M1", -1, 0},
};

static void test_parse_size(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(size_cases); i++) {
		const struct num_case *c = &size_cases[i];
		uint64_t v = 0;
		int r = ktd_parse_size(c->in, &v);

		if (r != c->ret)
			fail_msg("case %zu: parse_size(\"%s\") returned %d", i,
			         c->in, r);
		if (r == 0 && v != c->v)
			fail_msg("case %zu: parse_size(\"%s\") gave %llu", i,
			         c->in, (unsigned long long)v);
	}
}

static const struct num_case duration_cases[] = {
        {"0", 0, 0},
        {"30", 0, 30000}, /* a bare number is seconds */
        {"250ms", 0, 250},
        {"0ms", 0, 0},
        {"30s", 0, 30000},
        {"5m", 0, 300000},
        {"2h", 0, 7200000},
        {"1000ms", 0, 1000},
        {"18446744073709551615ms", 0, UINT64_MAX},
        {"18446744073709551s", 0, 18446744073709551000ull},
        {"18446744073709552s", -1, 0},
        {"18446744073709552", -1, 0},
        {"5124095576030432h", -1, 0},
        {"1d", -1, 0},
        {"1S", -1, 0},
        {"1M", -1, 0},
        {"ms", -1, 0},
        {"s", -1, 0},
        {"", -1, 0},
        {"1.5s", -1, 0},
        {"1 s", -1, 0},
        {"-1s", -1, 0},
        {"1s ", -1, 0},
        {"1ms1", -1, 0},
        {"1sec", -1, 0},
};

static void test_parse_duration(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(duration_cases); i++) {
		const struct num_case *c = &duration_cases[i];
		uint64_t v = 0;
		int r = ktd_parse_duration_ms(c->in, &v);

		if (r != c->ret)
			fail_msg("case %zu: parse_duration_ms(\"%s\") returned "
			         "%d",
			         i, c->in, r);
		if (r == 0 && v != c->v)
			fail_msg("case %zu: parse_duration_ms(\"%s\") gave "
			         "%llu",
			         i, c->in, (unsigned long long)v);
	}
}

/* --- UTF-8 ------------------------------------------------------------- */

struct utf8_case {
	const char *in;
	size_t len;
	bool valid;
};

#define U(s, v)                                                                \
	{                                                                      \
		s, sizeof(s) - 1, v                                            \
	}

static const struct utf8_case utf8_cases[] = {
        U("", true),
        U("abc", true),
        U("\xc3\xa6\xc3\xb8\xc3\xa5", true), /* æøå */
        U("\xc3\x86\xc3\x98\xc3\x85", true), /* ÆØÅ */
        U("\xc2\x80", true),                 /* U+0080 */
        U("\xdf\xbf", true),                 /* U+07FF */
        U("\xe0\xa0\x80", true),             /* U+0800 */
        U("\xe2\x82\xac", true),             /* € */
        U("\xef\xbf\xbd", true),             /* U+FFFD */
        U("\xf0\x90\x80\x80", true),         /* U+10000 */
        U("\xf0\x9f\x98\x80", true),         /* emoji */
        U("\xf4\x8f\xbf\xbf", true),         /* U+10FFFF */
        U("\xed\x9f\xbf", true),             /* U+D7FF */
        U("\xee\x80\x80", true),             /* U+E000 */
        /* overlong forms */
        U("\xc0\xaf", false),
        U("\xc0\x80", false),
        U("\xc1\xbf", false),
        U("\xe0\x80\xaf", false),
        U("\xe0\x9f\xbf", false),
        U("\xf0\x80\x80\xaf", false),
        U("\xf0\x8f\xbf\xbf", false),
        /* surrogates */
        U("\xed\xa0\x80", false),
        U("\xed\xaf\xbf", false),
        U("\xed\xb0\x80", false),
        U("\xed\xbf\xbf", false),
        /* past U+10FFFF, and bytes that never occur */
        U("\xf4\x90\x80\x80", false),
        U("\xf5\x80\x80\x80", false),
        U("\xf8\x88\x80\x80\x80", false),
        U("\xfe", false),
        U("\xff", false),
        /* truncated and broken sequences */
        U("\xc3", false),
        U("a\xc3", false),
        U("\xe2\x82", false),
        U("\xf0\x9f\x98", false),
        U("\xc3"
          "a",
          false),
        U("\xe2"
          "a\xac",
          false),
        U("\x80", false),
        U("a\xbf", false),
        U("\xc3\xa6\xa6", false),
        /* NUL bytes */
        U("\0", false),
        U("a\0b", false),
        U("\xc3\xa6\0", false),
};

static void test_utf8_valid(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(utf8_cases); i++) {
		const struct utf8_case *c = &utf8_cases[i];

		if (ktd_utf8_valid(c->in, c->len) != c->valid)
			fail_msg("case %zu: utf8_valid gave %d, expected %d", i,
			         !c->valid, c->valid);
	}
	/* Only len bytes count: cutting "æ" in half makes it invalid, and
	 * a NUL past len does not matter. */
	assert_true(ktd_utf8_valid("\xc3\xa6", 2));
	assert_false(ktd_utf8_valid("\xc3\xa6", 1));
	assert_true(ktd_utf8_valid("ab\0", 2));
}

struct cut_case {
	const char *in;
	size_t len;
	size_t cut;
};

static const struct cut_case cut_cases[] = {
        {"", 0, 0},
        {"abc", 3, 3},
        {"abc", 1, 1},
        {"a\xc3\xa6", 3, 3},
        {"a\xc3\xa6", 2, 1},
        {"\xe2\x82\xac", 3, 3},
        {"\xe2\x82\xac", 2, 0},
        {"\xe2\x82\xac", 1, 0},
        {"x\xf0\x9f\x98\x80", 5, 5},
        {"x\xf0\x9f\x98\x80", 4, 1},
        {"x\xf0\x9f\x98\x80", 3, 1},
        {"x\xf0\x9f\x98\x80", 2, 1},
        /* Broken input is left alone: cutting only removes a sequence
         * that the cut itself may have broken. */
        {"\x80\x80", 2, 2},
        {"a\x80\x80\x80\x80", 5, 5},
};

static void test_utf8_cut(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(cut_cases); i++) {
		const struct cut_case *c = &cut_cases[i];
		size_t r = ktd_utf8_cut(c->in, c->len);

		if (r != c->cut)
			fail_msg("case %zu: utf8_cut(len %zu) gave %zu, "
			         "expected %zu",
			         i, c->len, r, c->cut);
	}
}

/* --- struct ktd_buf ---------------------------------------------------- */

static void test_buf_limit(void **state)
{
	struct ktd_buf b;

	(void)state;
	ktd_buf_init(&b, 10);
	assert_int_equal(ktd_buf_add_str(&b, "hello"), 0);
	assert_int_equal(b.len, 5);
	assert_string_equal(b.data, "hello");

	/* One byte too many: refused, and nothing appended. */
	assert_int_equal(ktd_buf_add_str(&b, "world!"), -1);
	assert_int_equal(b.len, 5);
	assert_string_equal(b.data, "hello");

	/* Exactly up to the maximum is fine. */
	assert_int_equal(ktd_buf_add_str(&b, "world"), 0);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "helloworld");
	assert_int_equal(ktd_buf_add(&b, "", 0), 0);
	assert_int_equal(ktd_buf_add(&b, "x", 1), -1);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "helloworld");

	/* A length that would wrap around size_t is refused too. */
	assert_int_equal(ktd_buf_add(&b, "x", SIZE_MAX), -1);
	assert_int_equal(b.len, 10);

	ktd_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_int_equal(ktd_buf_add_str(&b, "0123456789"), 0);
	ktd_buf_deinit(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void test_buf_zero_max(void **state)
{
	struct ktd_buf b;
	char *s;
	size_t len = 99;

	(void)state;
	ktd_buf_init(&b, 0);
	assert_int_equal(ktd_buf_add(&b, "a", 1), -1);
	assert_int_equal(ktd_buf_printf(&b, "%s", "a"), -1);
	assert_int_equal(ktd_buf_add(&b, "", 0), 0);
	s = ktd_buf_steal(&b, &len);
	assert_non_null(s);
	assert_string_equal(s, "");
	assert_int_equal(len, 0);
	free(s);
	ktd_buf_deinit(&b);
}

static void test_buf_binary_and_growth(void **state)
{
	struct ktd_buf b;
	char chunk[100];
	size_t i;

	(void)state;
	ktd_buf_init(&b, 100000);
	assert_int_equal(ktd_buf_add(&b, "a\0b", 3), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "a\0b", 4);
	ktd_buf_reset(&b);
	for (i = 0; i < 1000; i++) {
		memset(chunk, 'a' + (int)(i % 26), sizeof(chunk));
		assert_int_equal(ktd_buf_add(&b, chunk, sizeof(chunk)), 0);
	}
	assert_int_equal(b.len, 100000);
	assert_int_equal(b.data[b.len], '\0');
	for (i = 0; i < 1000; i++) {
		if (b.data[i * 100] != 'a' + (int)(i % 26) ||
		    b.data[i * 100 + 99] != 'a' + (int)(i % 26))
			fail_msg("chunk %zu was not kept", i);
	}
	assert_int_equal(ktd_buf_add(&b, "z", 1), -1);
	assert_int_equal(b.len, 100000);
	ktd_buf_deinit(&b);
}

static void test_buf_printf(void **state)
{
	struct ktd_buf b;

	(void)state;
	ktd_buf_init(&b, 16);
	assert_int_equal(ktd_buf_printf(&b, "%d-%s", 42, "x"), 0);
	assert_string_equal(b.data, "42-x");
	assert_int_equal(b.len, 4);
	assert_int_equal(ktd_buf_printf(&b, "%s", ""), 0);
	assert_int_equal(b.len, 4);
	assert_int_equal(ktd_buf_printf(&b, "/%05u", 7u), 0);
	assert_string_equal(b.data, "42-x/00007");
	/* 10 + 7 > 16: refused, nothing appended. */
	assert_int_equal(ktd_buf_printf(&b, "%s", "1234567"), -1);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "42-x/00007");
	assert_int_equal(ktd_buf_printf(&b, "%s", "123456"), 0);
	assert_int_equal(b.len, 16);
	assert_string_equal(b.data, "42-x/00007123456");
	ktd_buf_deinit(&b);
}

static void test_buf_steal(void **state)
{
	struct ktd_buf b;
	size_t len = 0;
	char *s;

	(void)state;
	ktd_buf_init(&b, 64);
	assert_int_equal(ktd_buf_add_str(&b, "case 2026-000123"), 0);
	s = ktd_buf_steal(&b, &len);
	assert_non_null(s);
	assert_string_equal(s, "case 2026-000123");
	assert_int_equal(len, 16);
	/* The buffer is left empty and usable. */
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(ktd_buf_add_str(&b, "again"), 0);
	assert_string_equal(b.data, "again");
	assert_ptr_not_equal(b.data, s);
	free(s);
	s = ktd_buf_steal(&b, NULL);
	assert_string_equal(s, "again");
	free(s);

	/* Stealing from a buffer that never held anything gives "". */
	s = ktd_buf_steal(&b, &len);
	assert_non_null(s);
	assert_string_equal(s, "");
	assert_int_equal(len, 0);
	free(s);
	ktd_buf_deinit(&b);
}

/* --- logging ----------------------------------------------------------- */

struct cpr_case {
	const char *in;
	const char *out;
	size_t n;
};

static const struct cpr_case cpr_cases[] = {
        {"010190-1234", "XXXXXX-XXXX", 1},
        {"0101901234", "XXXXXXXXXX", 1},
        {"cpr=010190-1234 ok", "cpr=XXXXXX-XXXX ok", 1},
        {"cpr=0101901234.", "cpr=XXXXXXXXXX.", 1},
        {"a3112991234b", "aXXXXXXXXXXb", 1},
        {"310199-0000", "XXXXXX-XXXX", 1},
        /* several in one string */
        {"0101901234,0202021234 and 150575-4321",
         "XXXXXXXXXX,XXXXXXXXXX and XXXXXX-XXXX", 3},
        {"x=010190-1234 y=010190-1234", "x=XXXXXX-XXXX y=XXXXXX-XXXX", 2},
        /* impossible dates stay readable */
        {"123456-7890", "123456-7890", 0},
        {"1234567890", "1234567890", 0},
        {"0001901234", "0001901234", 0},
        {"3201901234", "3201901234", 0},
        {"0100901234", "0100901234", 0},
        {"0113901234", "0113901234", 0},
        /* not ten digits on their own */
        {"01019012345", "01019012345", 0},
        {"10101901234", "10101901234", 0},
        {"01019012340101901234", "01019012340101901234", 0},
        {"1010190-1234", "1010190-1234", 0},
        {"010190-12345", "010190-12345", 0},
        {"010190-123", "010190-123", 0},
        {"010190123", "010190123", 0},
        {"010190 1234", "010190 1234", 0},
        {"", "", 0},
        {"no digits here", "no digits here", 0},
        {"2026-000123", "2026-000123", 0},
};

static void test_mask_cpr(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(cpr_cases); i++) {
		const struct cpr_case *c = &cpr_cases[i];
		char buf[128];
		size_t n;

		snprintf(buf, sizeof(buf), "%s", c->in);
		n = ktd_log_mask_cpr(buf);
		if (strcmp(buf, c->out) != 0 || n != c->n)
			fail_msg("case %zu: mask(\"%s\") gave \"%s\" (%zu), "
			         "expected \"%s\" (%zu)",
			         i, c->in, buf, n, c->out, c->n);
	}
}

struct quote_case {
	const char *in;
	size_t outsz;
	const char *out;
};

static const struct quote_case quote_cases[] = {
        {"abc", 64, "abc"},
        {"case=1", 64, "\"case=1\""},
        {"", 64, "\"\""},
        {NULL, 64, "\"\""},
        {"a b", 64, "\"a b\""},
        {"a\"b", 64, "\"a\\\"b\""},
        {"a\\b", 64, "\"a\\\\b\""},
        {"a\nb", 64, "\"a\\nb\""},
        {"a\r\n", 64, "\"a\\x0d\\n\""},
        {"\t", 64, "\"\\t\""},
        {"\x01\x1f\x7f", 64, "\"\\x01\\x1f\\x7f\""},
        {"\xc3\xa6", 64, "\"\xc3\xa6\""},
        /* stray and truncated UTF-8 bytes are escaped, whole characters kept */
        {"G\xffT", 64, "\"G\\xffT\""},
        {"\xc3", 64, "\"\\xc3\""},
        {"a\xe2\x82", 64, "\"a\\xe2\\x82\""},
        {"\xe2\x82\xac\xc0\xaf", 64, "\"\xe2\x82\xac\\xc0\\xaf\""},
        /* a bare value that just fits, and one that does not */
        {"abcdefghi", 10, "abcdefghi"},
        {"abcdefghij", 10, "\"abcd...\""},
        /* cut with "...", inside the quotes */
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 16, "\"aaaaaaaaaa...\""},
        {"a a a a a a a a a a a a a a a", 16, "\"a a a a a ...\""},
        /* an escape is never cut in half */
        {"aaaaaaaa\"bbbb", 14, "\"aaaaaaaa...\""},
        {"aaaaaaaa\x01"
         "bbbb",
         16, "\"aaaaaaaa...\""},
        /* a UTF-8 character is never cut in half */
        {"\xc3\xa6\xc3\xa6\xc3\xa6\xc3\xa6\xc3\xa6\xc3\xa6", 12,
         "\"\xc3\xa6\xc3\xa6\xc3\xa6...\""},
        {"\xc3\xa6\xc3\xa6\xc3\xa6\xc3\xa6\xc3\xa6\xc3\xa6", 13,
         "\"\xc3\xa6\xc3\xa6\xc3\xa6...\""},
        {"x\xe2\x82\xac\xe2\x82\xac", 11, "\"x\xe2\x82\xac...\""},
        {"x\xe2\x82\xac\xe2\x82\xac", 9, "\"x...\""},
        /* too small to say anything */
        {"abc", 7, ""},
        {"abc", 1, ""},
};

static void test_log_quote(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(quote_cases); i++) {
		const struct quote_case *c = &quote_cases[i];
		char out[80];
		const char *r;

		memset(out, '#', sizeof(out));
		r = ktd_log_quote(c->in, out, c->outsz);
		assert_ptr_equal(r, out);
		if (strcmp(out, c->out) != 0)
			fail_msg("case %zu: quote(\"%s\", %zu) gave [%s], "
			         "expected [%s]",
			         i, c->in ? c->in : "(null)", c->outsz, out,
			         c->out);
		if (out[c->outsz] != '#')
			fail_msg("case %zu: wrote past outsz", i);
	}
}

/* Whatever the size, the result fits, is terminated and is valid UTF-8
 * when the input is. */
static void test_log_quote_sizes(void **state)
{
	static const char *const inputs[] = {
	        "plain_value",
	        "with \"quotes\" and \\ and\nnewline",
	        "\xc3\xa6\xc3\xb8\xc3\xa5 \xe2\x82\xac \xf0\x9f\x98\x80 x",
	        "x\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
	        "\xf0\x9f\x98\x80",
	};
	size_t i, sz;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(inputs); i++) {
		for (sz = 1; sz <= 64; sz++) {
			char out[80];
			size_t len;

			memset(out, '#', sizeof(out));
			ktd_log_quote(inputs[i], out, sz);
			len = strnlen(out, sizeof(out));
			if (len >= sz || out[sz] != '#')
				fail_msg("input %zu size %zu: overflow", i, sz);
			if (!ktd_utf8_valid(out, len))
				fail_msg("input %zu size %zu: [%s] is not "
				         "UTF-8",
				         i, sz, out);
		}
	}
}

struct level_case {
	const char *in;
	int ret;
	enum ktd_log_level level;
};

static const struct level_case level_cases[] = {
        {"fatal", 0, KTD_LOG_FATAL},     {"error", 0, KTD_LOG_ERROR},
        {"warning", 0, KTD_LOG_WARNING}, {"warn", 0, KTD_LOG_WARNING},
        {"info", 0, KTD_LOG_INFO},       {"debug", 0, KTD_LOG_DEBUG},
        {"trace", 0, KTD_LOG_TRACE},     {"", -1, KTD_LOG_INFO},
        {"INFO", -1, KTD_LOG_INFO},      {"information", -1, KTD_LOG_INFO},
        {"inf", -1, KTD_LOG_INFO},       {"info ", -1, KTD_LOG_INFO},
        {"unknown", -1, KTD_LOG_INFO},   {"3", -1, KTD_LOG_INFO},
};

static void test_log_level_parse(void **state)
{
	size_t i;
	int l;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(level_cases); i++) {
		const struct level_case *c = &level_cases[i];
		enum ktd_log_level level = (enum ktd_log_level)99;
		int r = ktd_log_level_parse(c->in, &level);

		if (r != c->ret)
			fail_msg("case %zu: level_parse(\"%s\") returned %d", i,
			         c->in, r);
		if (r == 0 && level != c->level)
			fail_msg("case %zu: level_parse(\"%s\") gave %d", i,
			         c->in, (int)level);
	}
	/* Every name parses back to its level. */
	for (l = KTD_LOG_FATAL; l <= KTD_LOG_TRACE; l++) {
		const char *name = ktd_log_level_name((enum ktd_log_level)l);
		enum ktd_log_level level;

		assert_int_equal(ktd_log_level_parse(name, &level), 0);
		assert_int_equal(level, l);
	}
	assert_string_equal(ktd_log_level_name((enum ktd_log_level)99),
	                    "unknown");
}

static char captured[KTD_LOG_LINE_MAX + 16];
static unsigned ncaptured;
static enum ktd_log_level captured_level;

static void capture_sink(enum ktd_log_level level, const char *line)
{
	snprintf(captured, sizeof(captured), "%s", line);
	captured_level = level;
	ncaptured++;
}

static int log_setup(void **state)
{
	(void)state;
	captured[0] = '\0';
	ncaptured = 0;
	ktd_log_set_level(KTD_LOG_INFO);
	ktd_log_set_sink(capture_sink);
	return 0;
}

static int log_teardown(void **state)
{
	(void)state;
	ktd_log_set_sink(NULL);
	ktd_log_set_level(KTD_LOG_INFO);
	return 0;
}

static void test_log_sink_masks_cpr(void **state)
{
	(void)state;
	ktd_log_info("event=intake case=%s caller=%s", "2026-000123",
	             "010190-1234");
	assert_int_equal(ncaptured, 1);
	assert_int_equal(captured_level, KTD_LOG_INFO);
	assert_true(strncmp(captured, "ts=", 3) == 0);
	assert_non_null(strstr(captured, " level=info "));
	assert_non_null(strstr(captured, "event=intake case=2026-000123"));
	assert_non_null(strstr(captured, "caller=XXXXXX-XXXX"));
	assert_null(strstr(captured, "1234"));
	assert_null(strchr(captured, '\n'));

	ktd_log_error("id=%s", "0101901234");
	assert_int_equal(ncaptured, 2);
	assert_non_null(strstr(captured, " level=error id=XXXXXXXXXX"));
}

static void test_log_threshold(void **state)
{
	(void)state;
	ktd_log_debug("event=hidden");
	ktd_log_trace("event=hidden");
	assert_int_equal(ncaptured, 0);
	assert_true(ktd_log_enabled(KTD_LOG_WARNING));
	assert_false(ktd_log_enabled(KTD_LOG_DEBUG));

	ktd_log_set_level(KTD_LOG_TRACE);
	assert_int_equal(ktd_log_get_level(), KTD_LOG_TRACE);
	ktd_log_trace("event=shown");
	assert_int_equal(ncaptured, 1);
	assert_non_null(strstr(captured, " level=trace event=shown"));

	ktd_log_set_level(KTD_LOG_ERROR);
	ktd_log_warnx("event=hidden");
	ktd_log_warn("event=hidden");
	assert_int_equal(ncaptured, 1);
}

static void test_log_warn_errno(void **state)
{
	(void)state;
	errno = ENOENT;
	ktd_log_warn("event=open file=%s", "x.conf");
	assert_int_equal(errno, ENOENT);
	assert_int_equal(ncaptured, 1);
	assert_int_equal(captured_level, KTD_LOG_WARNING);
	assert_non_null(strstr(captured, " level=warning event=open "
	                                 "file=x.conf errno=2 error="));
	assert_non_null(strstr(captured, strerror(ENOENT)));
}

static void test_log_long_line(void **state)
{
	static char big[KTD_LOG_LINE_MAX * 2];
	size_t len;

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ktd_log_info("msg=%s", big);
	assert_int_equal(ncaptured, 1);
	len = strlen(captured);
	assert_int_equal(len, KTD_LOG_LINE_MAX - 1);
	assert_string_equal(captured + len - 4, "a...");
}

/* A CPR number that a long line cuts in two can no longer be recognised
 * by the masking, yet its first digits are a birth date: whichever way
 * the cut falls, no digit of it may be shown. */
static void test_log_long_line_cpr(void **state)
{
	static char pad[KTD_LOG_LINE_MAX];
	int n;

	(void)state;
	memset(pad, 'a', sizeof(pad) - 1);
	for (n = KTD_LOG_LINE_MAX - 80; n < KTD_LOG_LINE_MAX - 30; n++) {
		const char *msg, *p;

		ncaptured = 0;
		ktd_log_info("msg=%.*s 010190-1234 tail", n, pad);
		assert_int_equal(ncaptured, 1);
		msg = strstr(captured, "msg=");
		assert_non_null(msg);
		for (p = msg; *p; p++) {
			if (*p >= '0' && *p <= '9')
				fail_msg("padding %d: a digit is shown: %s", n,
				         p - 10 > msg ? p - 10 : msg);
		}
	}
}

/* --- HTTP dates -------------------------------------------------------- */

struct date_case {
	time_t t;
	const char *s;
};

static const struct date_case date_cases[] = {
        {0, "Thu, 01 Jan 1970 00:00:00 GMT"},
        {784111777, "Sun, 06 Nov 1994 08:49:37 GMT"},
        {951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},
        {1700000000, "Tue, 14 Nov 2023 22:13:20 GMT"},
        {1798761599, "Thu, 31 Dec 2026 23:59:59 GMT"},
        {2147483648, "Tue, 19 Jan 2038 03:14:08 GMT"},
        {-1, "Wed, 31 Dec 1969 23:59:59 GMT"},
};

static void test_http_date_round_trip(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(date_cases); i++) {
		const struct date_case *c = &date_cases[i];
		char out[64];
		time_t t = 12345;

		ktd_time_http_date(c->t, out, sizeof(out));
		if (strcmp(out, c->s) != 0)
			fail_msg("case %zu: formatted as \"%s\", expected "
			         "\"%s\"",
			         i, out, c->s);
		if (ktd_time_parse_http_date(out, &t) < 0 || t != c->t)
			fail_msg("case %zu: \"%s\" did not parse back", i, out);
	}
}

static const char *const bad_dates[] = {
        "",
        "GMT",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 gmt",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        "Sun, 06 Nov 1994 08:49:37 GMTX",
        "Sun, 06 Nov 1994 08:49:37 GMT; x",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49 GMT",
        "Sun, 06 Nov 1994 08-49-37 GMT",
        "Sun, Nov 06 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
        "06 Nov 1994 08:49:37 GMT",
        /* fields out of range */
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 32 Nov 1994 08:49:37 GMT",
        "Thu, 31 Nov 1994 08:49:37 GMT",
        "Tue, 29 Feb 2022 00:00:00 GMT",
        "Tue, 30 Feb 2000 00:00:00 GMT",
        "Sun, -6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 06 Nov 1994 -1:49:37 GMT",
};

static void test_http_date_bad(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(bad_dates); i++) {
		time_t t = 12345;

		if (ktd_time_parse_http_date(bad_dates[i], &t) == 0)
			fail_msg("case %zu: \"%s\" was accepted as %lld", i,
			         bad_dates[i], (long long)t);
	}
}

static void test_time_clocks(void **state)
{
	uint64_t a, b;
	struct timespec now, dl;

	(void)state;
	a = ktd_time_mono_us();
	b = ktd_time_mono_us();
	assert_true(b >= a);
	assert_true(ktd_time_mono_ms() >= a / 1000);

	clock_gettime(CLOCK_REALTIME, &now);
	ktd_time_deadline(&dl, 1999);
	assert_true(dl.tv_nsec >= 0 && dl.tv_nsec < 1000000000L);
	assert_true(dl.tv_sec >= now.tv_sec + 1 && dl.tv_sec <= now.tv_sec + 3);
}

/* --- migration file names ---------------------------------------------- */

struct mig_case {
	const char *name;
	int ret;
	uint32_t version;
};

static const struct mig_case mig_cases[] = {
        {"001_base.sql", 0, 1},
        {"002_cases-index.sql", 0, 2},
        {"010_a_b_9.sql", 0, 10},
        {"123456789_x.sql", 0, 123456789},
        {"0042_x.sql", 0, 42},
        {"1_x.sql", -1, 0},
        {"01_x.sql", -1, 0},
        {"1234567890_x.sql", -1, 0},
        {"001-x.sql", -1, 0},
        {"001x.sql", -1, 0},
        {"001_.sql", -1, 0},
        {"001_Upper.sql", -1, 0},
        {"001_x y.sql", -1, 0},
        {"001_x.SQL", -1, 0},
        {"001_x.sql~", -1, 0},
        {"001_x.sql.bak", -1, 0},
        {"001_x", -1, 0},
        {"000_x.sql", -1, 0},
        {"_x.sql", -1, 0},
        {".sql", -1, 0},
        {"", -1, 0},
        {"abc_x.sql", -1, 0},
        {"001_\xc3\xa6.sql", -1, 0},
};

static void test_migration_name(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(mig_cases); i++) {
		const struct mig_case *c = &mig_cases[i];
		uint32_t v = 0;
		int r = migration_parse_name(c->name, &v);

		if (r != c->ret)
			fail_msg("case %zu: parse_name(\"%s\") returned %d", i,
			         c->name, r);
		if (r == 0 && v != c->version)
			fail_msg("case %zu: parse_name(\"%s\") gave %u", i,
			         c->name, v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_u32),
	        cmocka_unit_test(test_parse_u64),
	        cmocka_unit_test(test_parse_bool),
	        cmocka_unit_test(test_parse_size),
	        cmocka_unit_test(test_parse_duration),
	        cmocka_unit_test(test_utf8_valid),
	        cmocka_unit_test(test_utf8_cut),
	        cmocka_unit_test(test_buf_limit),
	        cmocka_unit_test(test_buf_zero_max),
	        cmocka_unit_test(test_buf_binary_and_growth),
	        cmocka_unit_test(test_buf_printf),
	        cmocka_unit_test(test_buf_steal),
	        cmocka_unit_test(test_mask_cpr),
	        cmocka_unit_test(test_log_quote),
	        cmocka_unit_test(test_log_quote_sizes),
	        cmocka_unit_test(test_log_level_parse),
	        cmocka_unit_test_setup_teardown(test_log_sink_masks_cpr,
	                                        log_setup, log_teardown),
	        cmocka_unit_test_setup_teardown(test_log_threshold, log_setup,
	                                        log_teardown),
	        cmocka_unit_test_setup_teardown(test_log_warn_errno, log_setup,
	                                        log_teardown),
	        cmocka_unit_test_setup_teardown(test_log_long_line, log_setup,
	                                        log_teardown),
	        cmocka_unit_test_setup_teardown(test_log_long_line_cpr,
	                                        log_setup, log_teardown),
	        cmocka_unit_test(test_http_date_round_trip),
	        cmocka_unit_test(test_http_date_bad),
	        cmocka_unit_test(test_time_clocks),
	        cmocka_unit_test(test_migration_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
