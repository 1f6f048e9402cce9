/* SPDX-License-Identifier: MPL-2.0 */
/* Unit tests of src/channels/smtp/ch_smtp_msg: quoted-printable, RFC 2047
 * subjects, addresses, whole messages (no header injection), and the
 * backoff of the mail worker. */
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
#include "channels/smtp/ch_smtp.h"
#include "channels/smtp/ch_smtp_msg.h"

static char *qp(const char *in)
{
	struct ktd_buf b;

	ktd_buf_init(&b, 1 << 20);
	assert_int_equal(ch_smtp_qp_encode(&b, in, strlen(in)), 0);
	return ktd_buf_steal(&b, NULL);
}

struct qp_case {
	const char *in, *out;
};

static const struct qp_case qp_cases[] = {
        {"", ""},
        {"Hej", "Hej"},
        {"a=b", "a=3Db"},
        {"æøå ÆØÅ", "=C3=A6=C3=B8=C3=A5 =C3=86=C3=98=C3=85"},
        {"two\nlines", "two\r\nlines"},
        {"crlf\r\nkept", "crlf\r\nkept"},
        {"lone\rcr", "lone\r\ncr"},
        {"trailing \nspace\t", "trailing=20\r\nspace=09"},
        {"mid space", "mid space"},
        {".\n.dot", "=2E\r\n=2Edot"},
        {"From me\nFromage", "=46rom me\r\nFromage"},
        {"tab\there", "tab\there"},
        {"\x01\x7f", "=01=7F"},
};

static void test_qp_cases(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(qp_cases); i++) {
		char *got = qp(qp_cases[i].in);

		if (strcmp(got, qp_cases[i].out) != 0)
			fail_msg("case %zu: got \"%s\"", i, got);
		free(got);
	}
}

/* Lines stay within 76 characters, soft breaks never split =XX, and the
 * text decodes back. */
static void test_qp_long_lines(void **state)
{
	char in[1200], *got, *line, *save = NULL;
	size_t i;

	(void)state;
	for (i = 0; i + 2 < sizeof(in) - 1; i += 3) {
		in[i] = 'a';
		in[i + 1] = (char)0xc3;
		in[i + 2] = (char)0xa6; /* æ */
	}
	in[i] = '\0';
	got = qp(in);
	for (line = strtok_r(got, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t n = strlen(line);

		if (n > 0 && line[n - 1] == '\r')
			n--;
		assert_true(n <= 76);
		/* Never "=C" "3" across a soft break. */
		if (n >= 2 && line[n - 1] == '=')
			assert_true(line[n - 2] != '=');
	}
	free(got);
}

static char *header(const char *v)
{
	struct ktd_buf b;

	ktd_buf_init(&b, 1 << 20);
	assert_int_equal(ch_smtp_header_text(&b, "Subject", v), 0);
	return ktd_buf_steal(&b, NULL);
}

static void test_subject(void **state)
{
	char *h;

	(void)state;
	h = header("Storskrald [Sag 2026-000123]");
	assert_string_equal(h, "Subject: Storskrald [Sag 2026-000123]\r\n");
	free(h);
	h = header("");
	assert_string_equal(h, "Subject:\r\n");
	free(h);
	/* "Re: æøå" */
	h = header("Re: \xc3\xa6\xc3\xb8\xc3\xa5");
	assert_string_equal(h, "Subject: =?UTF-8?B?UmU6IMOmw7jDpQ==?=\r\n");
	free(h);
	/* A line break cannot start a header of its own. */
	h = header("Hej\r\nBcc: evil@example.org");
	assert_string_equal(h, "Subject: Hej  Bcc: evil@example.org\r\n");
	free(h);
	/* Text that looks like an encoded word is encoded itself. */
	h = header("=?UTF-8?B?eA==?=");
	assert_non_null(strstr(h, "Subject: =?UTF-8?B?"));
	assert_null(strstr(h, "eA==?=\r\n"));
	free(h);
}

/* Long subjects: each line at most 78 characters, each encoded word at
 * most 75, no character cut between two words. */
static void test_subject_long(void **state)
{
	char in[600], *h, *line, *save = NULL;
	size_t i;

	(void)state;
	for (i = 0; i + 2 < 300; i += 2) {
		in[i] = (char)0xc3;
		in[i + 1] = (char)0xb8; /* ø */
	}
	in[i] = '\0';
	h = header(in);
	for (line = strtok_r(h, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *w = strstr(line, "=?UTF-8?B?");

		assert_true(strlen(line) <= 79);
		assert_non_null(w);
		assert_true(strlen(w) - 1 <= 75);
	}
	free(h);
	for (i = 0; i < 30; i++)
		memcpy(in + i * 10, "abcdefghi ", 10);
	in[300] = '\0';
	h = header(in);
	for (line = strtok_r(h, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		assert_true(strlen(line) <= 79);
	free(h);
}

static void test_addresses(void **state)
{
	(void)state;
	assert_true(ch_smtp_addr_ok("a@example.org"));
	assert_true(ch_smtp_addr_ok("first.last+tag@sub.example.dk"));
	assert_false(ch_smtp_addr_ok(NULL));
	assert_false(ch_smtp_addr_ok(""));
	assert_false(ch_smtp_addr_ok("noat"));
	assert_false(ch_smtp_addr_ok("@example.org"));
	assert_false(ch_smtp_addr_ok("a@"));
	assert_false(ch_smtp_addr_ok("a@b@c"));
	assert_false(ch_smtp_addr_ok("a b@example.org"));
	assert_false(ch_smtp_addr_ok("a@example.org\r\nBcc: x@y"));
	assert_false(ch_smtp_addr_ok("<a@example.org>"));
	assert_false(ch_smtp_addr_ok("\xc3\x85se@example.org"));
}

static const struct ch_smtp_msg base = {
        .kind = "reply",
        .message_id = "<2026-000001.abc@rodovre.example>",
        .from = "kontakt@rodovre.example",
        .to = "borger@example.org",
        .subject = "Re: Storskrald [Sag 2026-000001]",
        .body = "Vi henter p\xc3\xa5 tirsdag.\n",
        .in_reply_to = "<x@mail.example>",
        .references = "<w@mail.example> bad <x@mail.example>",
        .date = 1795788844, /* 2026-11-27 14:14:04 UTC, a Friday */
};

static void test_build(void **state)
{
	struct ch_smtp_msg m = base;
	struct ktd_error err;
	char *text = NULL;
	size_t len;

	(void)state;
	assert_int_equal(ch_smtp_msg_build(&m, &text, &len, &err), 0);
	assert_int_equal(strlen(text), len);
	assert_non_null(
	        strstr(text, "Date: Fri, 27 Nov 2026 14:14:04 +0000\r\n"));
	assert_non_null(strstr(text, "From: kontakt@rodovre.example\r\n"));
	assert_non_null(strstr(text, "To: borger@example.org\r\n"));
	assert_non_null(strstr(
	        text, "Message-ID: <2026-000001.abc@rodovre.example>\r\n"));
	assert_non_null(strstr(text, "In-Reply-To: <x@mail.example>\r\n"));
	assert_non_null(strstr(
	        text, "References: <w@mail.example>\r\n <x@mail.example>\r\n"));
	assert_non_null(strstr(text, "X-Kontaktd-Kind: reply\r\n"));
	assert_null(strstr(text, "Auto-Submitted"));
	assert_non_null(strstr(text, "Content-Transfer-Encoding: "
	                             "quoted-printable\r\n\r\nVi henter "
	                             "p=C3=A5 tirsdag.\r\n"));
	/* Every line ends in CRLF: no bare LF anywhere. */
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\n')
			assert_true(i > 0 && text[i - 1] == '\r');
	}
	free(text);

	m.kind = "receipt";
	assert_int_equal(ch_smtp_msg_build(&m, &text, &len, &err), 0);
	assert_non_null(strstr(text, "Auto-Submitted: auto-replied\r\n"));
	free(text);
	m.kind = "forward";
	m.in_reply_to = NULL;
	m.references = NULL;
	assert_int_equal(ch_smtp_msg_build(&m, &text, &len, &err), 0);
	assert_non_null(strstr(text, "Auto-Submitted: auto-generated\r\n"));
	assert_null(strstr(text, "In-Reply-To"));
	assert_null(strstr(text, "References"));
	free(text);
}

static void test_build_refusals(void **state)
{
	struct ch_smtp_msg m;
	struct ktd_error err;
	char *text = NULL;
	size_t len;

	(void)state;
	m = base;
	m.to = "\xc3\x85se@example.org";
	assert_int_equal(ch_smtp_msg_build(&m, &text, &len, &err), -1);
	assert_int_equal(err.code, KTD_ERR_UNPROCESSABLE);
	assert_non_null(strstr(err.msg, "SMTPUTF8"));
	m = base;
	m.to = "a@example.org\r\nBcc: evil@example.org";
	assert_int_equal(ch_smtp_msg_build(&m, &text, &len, &err), -1);
	m = base;
	m.message_id = "<a@b>\r\nX: y";
	assert_int_equal(ch_smtp_msg_build(&m, &text, &len, &err), -1);
	m = base;
	m.kind = "spam";
	assert_int_equal(ch_smtp_msg_build(&m, &text, &len, &err), -1);
	m = base;
	m.in_reply_to = "<a@b>\r\nBcc: evil@example.org";
	assert_int_equal(ch_smtp_msg_build(&m, &text, &len, &err), 0);
	assert_null(strstr(text, "Bcc"));
	assert_null(strstr(text, "In-Reply-To"));
	free(text);
}

static void test_backoff(void **state)
{
	(void)state;
	assert_int_equal(ch_smtp_backoff_s(60000, 1), 60);
	assert_int_equal(ch_smtp_backoff_s(60000, 2), 120);
	assert_int_equal(ch_smtp_backoff_s(60000, 3), 240);
	assert_int_equal(ch_smtp_backoff_s(60000, 100), CH_SMTP_BACKOFF_MAX_S);
	assert_int_equal(ch_smtp_backoff_s(1000, 1), 1);
	assert_int_equal(ch_smtp_backoff_s(500, 1), 1);
	assert_int_equal(ch_smtp_backoff_s(24ULL * 3600 * 1000, 5),
	                 24ULL * 3600);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_qp_cases),
	        cmocka_unit_test(test_qp_long_lines),
	        cmocka_unit_test(test_subject),
	        cmocka_unit_test(test_subject_long),
	        cmocka_unit_test(test_addresses),
	        cmocka_unit_test(test_build),
	        cmocka_unit_test(test_build_refusals),
	        cmocka_unit_test(test_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
