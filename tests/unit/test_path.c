/* SPDX-License-Identifier: MPL-2.0 */
/* Unit tests of src/lib/path: URL path normalisation and containment. */
#include "lib/lib_common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/path.h"

struct norm_case {
	const char *in;
	size_t outsz; /* 0: a roomy buffer */
	int ret;
	const char *out; /* for ret == 0 */
};

static const struct norm_case norm_cases[] = {
        /* accepted */
        {"/", 0, 0, ""},
        {"/a/b.css", 0, 0, "a/b.css"},
        {"/index.html", 0, 0, "index.html"},
        {"//a///b//", 0, 0, "a/b"},
        {"///", 0, 0, ""},
        {"/./a/./b/.", 0, 0, "a/b"},
        {"/.", 0, 0, ""},
        {"/a./b.", 0, 0, "a./b."},
        {"/a..b/c", 0, 0, "a..b/c"},
        {"/css/app%2e.css", 0, 0, "css/app%2e.css"},
        {"/\xc3\xa6\xc3\xb8\xc3\xa5.txt", 0, 0, "\xc3\xa6\xc3\xb8\xc3\xa5.txt"},
        /* ".." anywhere */
        {"/..", 0, -1, NULL},
        {"/../etc/passwd", 0, -1, NULL},
        {"/a/../b", 0, -1, NULL},
        {"/a/..", 0, -1, NULL},
        {"/a/b/../../..", 0, -1, NULL},
        {"/a//..//b", 0, -1, NULL},
        /* hidden files */
        {"/.git/config", 0, -1, NULL},
        {"/a/.htaccess", 0, -1, NULL},
        {"/...", 0, -1, NULL},
        {"/a/.b/c", 0, -1, NULL},
        /* control bytes and backslash */
        {"/a\x01b", 0, -1, NULL},
        {"/a\nb", 0, -1, NULL},
        {"/a\tb", 0, -1, NULL},
        {"/a\x1f", 0, -1, NULL},
        {"/a\x7f", 0, -1, NULL},
        {"/a\\b", 0, -1, NULL},
        {"/..\\etc", 0, -1, NULL},
        {"/a/\\", 0, -1, NULL},
        /* not absolute */
        {"", 0, -1, NULL},
        {"a/b", 0, -1, NULL},
        {"./a", 0, -1, NULL},
        {"\\a", 0, -1, NULL},
        /* output buffer size: the result plus its NUL must fit */
        {"/abc", 4, 0, "abc"},
        {"/abc", 3, -1, NULL},
        {"/a/b", 4, 0, "a/b"},
        {"/a/b", 3, -1, NULL},
        {"//a//b//", 4, 0, "a/b"},
        {"/", 1, 0, ""},
};

static void test_normalize_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(norm_cases); i++) {
		const struct norm_case *c = &norm_cases[i];
		char out[256];
		size_t outsz = c->outsz ? c->outsz : sizeof(out);
		int r;

		if (outsz > sizeof(out))
			outsz = sizeof(out);
		memset(out, '#', sizeof(out));
		r = ktd_path_normalize(c->in, out, outsz);
		if (r != c->ret)
			fail_msg("case %zu: normalize(\"%s\", %zu) gave %d, "
			         "expected %d",
			         i, c->in, outsz, r, c->ret);
		if (r == 0 && strcmp(out, c->out) != 0)
			fail_msg("case %zu: normalize(\"%s\") gave \"%s\", "
			         "expected \"%s\"",
			         i, c->in, out, c->out);
		/* Nothing may be written past the given size. */
		if (outsz < sizeof(out) && out[outsz] != '#')
			fail_msg("case %zu: wrote past outsz %zu", i, outsz);
	}
}

static void test_normalize_bad_args(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(ktd_path_normalize("/a", out, 0), -1);
	assert_int_equal(ktd_path_normalize(NULL, out, sizeof(out)), -1);
}

/* A NUL in the URL path ends the C string, so the part after it can never
 * smuggle a ".." or a hidden file past the check. */
static void test_normalize_embedded_nul(void **state)
{
	static const char in[] = "/ok.txt\0/../secret";
	char out[64];

	(void)state;
	assert_int_equal(ktd_path_normalize(in, out, sizeof(out)), 0);
	assert_string_equal(out, "ok.txt");
}

struct within_case {
	const char *root;
	const char *path;
	bool within;
};

static const struct within_case within_cases[] = {
        {"/srv/www", "/srv/www", true},
        {"/srv/www", "/srv/www/", true},
        {"/srv/www", "/srv/www/index.html", true},
        {"/srv/www", "/srv/www/a/b/c.css", true},
        /* the prefix trap: a sibling that shares the name's beginning */
        {"/srv/www", "/srv/www2", false},
        {"/srv/www", "/srv/www2/index.html", false},
        {"/srv/www", "/srv/www.old/x", false},
        {"/srv/www", "/srv/ww", false},
        {"/srv/www", "/srv", false},
        {"/srv/www", "/", false},
        {"/srv/www", "/etc/passwd", false},
        {"/srv/www", "/SRV/www/x", false},
        {"/", "/", true},
        {"/", "/etc/passwd", true},
};

static void test_is_within_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(within_cases); i++) {
		const struct within_case *c = &within_cases[i];
		bool r = ktd_path_is_within(c->root, c->path);

		if (r != c->within)
			fail_msg("case %zu: is_within(\"%s\", \"%s\") = %d, "
			         "expected %d",
			         i, c->root, c->path, r, c->within);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_normalize_table),
	        cmocka_unit_test(test_normalize_bad_args),
	        cmocka_unit_test(test_normalize_embedded_nul),
	        cmocka_unit_test(test_is_within_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
