/* SPDX-License-Identifier: MPL-2.0 */
/* The MIME parser on a corpus of tricky messages (tests/data/mail,
 * written for these tests), on generated huge and deep messages, on every
 * prefix and on damaged copies of the corpus; the HTML-to-text conversion
 * and the charset and header decoders on their own. */
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
#include "lib/error.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "channels/mime/ch_mime.h"
#include "channels/mime/ch_mime_int.h"

static const char *const corpus[] = {
        "01-latin1-qp.eml",
        "02-latin9-8bit.eml",
        "03-cp1252.eml",
        "04-encoded-words.eml",
        "05-html-only.eml",
        "06-alternative.eml",
        "07-mixed-attachments.eml",
        "08-related.eml",
        "09-forward.eml",
        "10-missing-boundary-end.eml",
        "11-bad-base64.eml",
        "12-unknown-charset.eml",
        "13-header-garbage.eml",
        "14-no-headers.eml",
        "15-binary-junk.eml",
        "16-auto-submitted.eml",
        "17-precedence-bulk.eml",
        "18-list-id.eml",
        "19-null-return-path.eml",
        "20-mailer-daemon.eml",
        "21-bounce-report.eml",
        "22-citizen-reply.eml",
        "23-bare-lf.eml",
        "24-wrong-boundary.eml",
        "25-cut-in-first-part.eml",
        "26-format-flowed.eml",
        "27-flowed-delsp.eml",
};

static char *load(const char *name, size_t *len_r)
{
	char path[512];
	FILE *f;
	char *data;
	long n;

	snprintf(path, sizeof(path), "%s/tests/data/mail/%s", KTD_TEST_SRCDIR,
	         name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	data = ktd_malloc((size_t)n + 1);
	assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len_r = (size_t)n;
	return data;
}

static bool ok_str(const char *s)
{
	return !s || ktd_utf8_valid(s, strlen(s));
}

/* Every string of a parsed message is valid UTF-8 without NUL (strlen
 * finds its end: ktd_utf8_valid over strlen would not see a NUL inside,
 * so text is also checked for its length being that of the buffer), and
 * file names have no separators or controls. */
static void check_sane(const struct ch_mime_message *m)
{
	size_t i;

	assert_non_null(m->text);
	assert_true(ok_str(m->text));
	assert_true(ok_str(m->html));
	assert_true(ok_str(m->subject));
	assert_true(ok_str(m->from.name));
	assert_true(ok_str(m->from.addr));
	assert_true(ok_str(m->to));
	assert_true(ok_str(m->cc));
	assert_true(ok_str(m->message_id));
	assert_true(ok_str(m->in_reply_to));
	assert_true(ok_str(m->problem));
	assert_true(ok_str(m->list_id));
	assert_true(ok_str(m->auto_submitted));
	assert_true(ok_str(m->precedence));
	assert_true(ok_str(m->return_path));
	assert_int_equal(m->partial, m->problem[0] != '\0');
	for (i = 0; i < m->n_references; i++)
		assert_true(m->references[i] && ok_str(m->references[i]));
	for (i = 0; i < m->n_attachments; i++) {
		const struct ch_mime_attachment *a = &m->attachments[i];

		assert_non_null(a->filename);
		assert_true(*a->filename);
		assert_true(ok_str(a->filename));
		assert_false(ktd_utf8_has_control(a->filename));
		assert_null(strchr(a->filename, '/'));
		assert_null(strchr(a->filename, '\\'));
		assert_non_null(a->content_type);
		assert_non_null(strchr(a->content_type, '/'));
		assert_int_equal(strlen(a->sha256), 64);
		assert_true(a->size == 0 || a->data);
	}
}

static void parse_lim(const char *name, const struct ch_mime_limits *lim,
                      struct ch_mime_message *m)
{
	struct ktd_error err;
	size_t len;
	char *raw = load(name, &len);

	memset(&err, 0, sizeof(err));
	assert_int_equal(ch_mime_parse(raw, len, lim, m, &err), 0);
	ktd_free(&raw);
	check_sane(m);
}

static void parse(const char *name, struct ch_mime_message *m)
{
	parse_lim(name, NULL, m);
}

static void assert_clean(const struct ch_mime_message *m)
{
	if (m->partial)
		fail_msg("unexpected problem: %s", m->problem);
}

static void assert_problem(const struct ch_mime_message *m, const char *sub)
{
	assert_true(m->partial);
	if (!strstr(m->problem, sub))
		fail_msg("problem \"%s\" lacks \"%s\"", m->problem, sub);
}

static void test_latin1(void **state)
{
	struct ch_mime_message m;
	const char *why = "x";

	(void)state;
	parse("01-latin1-qp.eml", &m);
	assert_clean(&m);
	assert_string_equal(m.message_id, "latin1.1@mail.example.dk");
	assert_string_equal(m.from.name, "Søren Ågård");
	assert_string_equal(m.from.addr, "soren@example.dk");
	assert_string_equal(m.to, "Hovedpostkassen <post@kommune.example>");
	assert_null(m.cc);
	assert_null(m.reply_to);
	assert_string_equal(m.subject, "Ansøgning om tilskud til hæk");
	assert_string_equal(m.date, "2026-03-02T08:15:00Z");
	assert_string_equal(m.return_path, "soren@example.dk");
	assert_string_equal(m.text,
	                    "Kære kommune\n\nJeg vil gerne søge om tilskud "
	                    "til min have på Ærøvej 5.\nMed venlig hilsen\n"
	                    "Søren Ågård");
	assert_null(m.html);
	assert_int_equal(m.n_attachments, 0);
	assert_false(ch_mime_is_automatic(&m, &why));
	assert_null(why);
	ch_mime_message_free(&m);
}

static void test_latin9(void **state)
{
	struct ch_mime_message m;

	(void)state;
	parse("02-latin9-8bit.eml", &m);
	assert_clean(&m);
	assert_string_equal(m.from.name, "Aase Hansen");
	assert_string_equal(m.subject, "Regning på €");
	assert_string_equal(m.text,
	                    "Prisen er 250 € for æbletræet.\nHilsen Åse");
	assert_string_equal(m.date, "2026-03-03T14:00:00Z");
	ch_mime_message_free(&m);
}

static void test_cp1252(void **state)
{
	struct ch_mime_message m;

	(void)state;
	parse("03-cp1252.eml", &m);
	assert_clean(&m);
	assert_string_equal(m.subject, "“Spørgsmål” – gebyr");
	/* the second part says ISO-8859-1 but holds Windows-1252 quotes
	 * and euro: read as Windows-1252, as mail readers do */
	assert_string_equal(m.text,
	                    "“Borgerservice” – åbent 8–15. Gebyr: 80 €.\n\n"
	                    "Mærket forkert: “citat” og €.");
	ch_mime_message_free(&m);
}

static void test_encoded_words(void **state)
{
	struct ch_mime_message m;

	(void)state;
	parse("04-encoded-words.eml", &m);
	assert_clean(&m);
	/* ø is split between two B words: decoded together */
	assert_string_equal(m.subject, "Vedr. ønske om ændring af fælles vej");
	assert_string_equal(m.from.name, "Bjørn Æbelø");
	assert_string_equal(m.from.addr, "bjorn@example.dk");
	/* a Q word and a raw UTF-8 quoted name (RFC 6532) */
	assert_string_equal(m.to, "Kommunens Postkasse <post@kommune.example>, "
	                          "Dorthe Ø. <dorthe@example.dk>");
	assert_string_equal(m.cc, "kopi@example.dk");
	assert_string_equal(m.reply_to, "svar@example.dk");
	/* 23:59:59 -0500 is the next day in UTC */
	assert_string_equal(m.date, "2026-03-06T04:59:59Z");
	assert_string_equal(m.text, "Hej, se emnet. Ærligt talt: æøå ÆØÅ.");
	ch_mime_message_free(&m);
}

static const char html_text[] =
        "Klage over vejarbejde\n\n"
        "Kære kommune,\n"
        "vejen ved Søndergade er åben igen & det er fint.\n\n"
        "- Punkt én\n"
        "- Punkt to\n"
        "  - Under\n"
        "- Først\n\n"
        "Se vores side <https://example.dk/sag> eller info@example.dk.\n\n"
        "Pris 100€\n\n"
        "Hilsen\n"
        "Kirsten";

static void test_html_only(void **state)
{
	struct ch_mime_message m;

	(void)state;
	parse("05-html-only.eml", &m);
	assert_clean(&m);
	assert_string_equal(m.text, html_text);
	assert_null(strstr(m.text, "alert"));
	assert_null(strstr(m.text, "skjult"));
	assert_null(strstr(m.text, "Skal ikke med"));
	/* the HTML is kept as it came (decoded to UTF-8) */
	assert_non_null(m.html);
	assert_non_null(strstr(m.html, "<script>alert(\"nej\");</script>"));
	ch_mime_message_free(&m);
}

static void test_alternative(void **state)
{
	struct ch_mime_message m;

	(void)state;
	parse("06-alternative.eml", &m);
	assert_clean(&m);
	assert_string_equal(m.text, "Den rene tekst: blåbærgrød.");
	assert_non_null(m.html);
	assert_non_null(strstr(m.html, "<b>rige</b> tekst: blåbærgrød"));
	assert_int_equal(m.n_attachments, 0);
	ch_mime_message_free(&m);
}

static void test_attachments(void **state)
{
	struct ch_mime_message m;
	const struct ch_mime_attachment *a;
	size_t i;

	(void)state;
	parse("07-mixed-attachments.eml", &m);
	assert_clean(&m);
	assert_string_equal(m.text, "Se vedhæftede filer.");
	assert_int_equal(m.n_attachments, 5);
	a = m.attachments;
	/* RFC 2231 with charset and language */
	assert_string_equal(a[0].filename, "æblesøde ansøgning.pdf");
	assert_string_equal(a[0].content_type, "application/pdf");
	assert_int_equal(a[0].size, 272);
	assert_memory_equal(a[0].data, "%PDF-1.4\n", 9);
	for (i = 0; i < 256; i++)
		assert_int_equal(a[0].data[9 + i], i);
	assert_string_equal(a[0].sha256, "ee008b17f0184f659dc798e138ffd0a968789"
	                                 "fcdfc0314e4fd19760f6f50c7d6");
	assert_false(a[0].is_inline);
	/* RFC 2047 in a quoted filename (as Outlook and Gmail write it) */
	assert_string_equal(a[1].filename, "Kørekort.png");
	assert_string_equal(a[1].content_type, "image/png");
	assert_int_equal(a[1].size, 32);
	assert_string_equal(a[1].sha256, "c0f357dcb24a2ae12253884c69c3693bb87f6"
	                                 "b1dbf6db8c65f1c73b7330ef732");
	/* RFC 2231 continuations, mixed encoded and not, ISO-8859-1 */
	assert_string_equal(a[2].filename, "Referat fra mødet i Århus.txt");
	assert_string_equal(a[2].content_type, "text/plain");
	assert_int_equal(a[2].size, strlen("Vedhæftet tekst"));
	assert_memory_equal(a[2].data, "Vedhæftet tekst", a[2].size);
	assert_string_equal(a[2].sha256, "2a7e8b122149e1cedca5c15c4004d74381ccd"
	                                 "07be0e78ba2691b5e4f18f928bb");
	/* a path is no file name */
	assert_string_equal(a[3].filename, "_.._etc_passwd");
	assert_int_equal(a[3].size, 10);
	/* no name at all */
	assert_string_equal(a[4].filename, "attachment-5");
	assert_string_equal(a[4].content_type, "application/octet-stream");
	assert_int_equal(a[4].size, 3);
	assert_memory_equal(a[4].data, "\0\1\2", 3);
	assert_string_equal(a[4].sha256, "ae4b3280e56e2faf83f414a6e3dabe9d5fbe1"
	                                 "8976544c05fed121accb85b53fc");
	ch_mime_message_free(&m);
}

static void test_related(void **state)
{
	struct ch_mime_message m;

	(void)state;
	parse("08-related.eml", &m);
	assert_clean(&m);
	assert_string_equal(m.text, "Hullet er her: [billede]");
	assert_non_null(m.html);
	assert_non_null(strstr(m.html, "cid:hul@example.dk"));
	assert_int_equal(m.n_attachments, 1);
	assert_string_equal(m.attachments[0].filename, "attachment-1.gif");
	assert_string_equal(m.attachments[0].content_type, "image/gif");
	assert_int_equal(m.attachments[0].size, 14);
	assert_true(m.attachments[0].is_inline);
	ch_mime_message_free(&m);
}

static void test_forward(void **state)
{
	struct ch_mime_message m;

	(void)state;
	parse("09-forward.eml", &m);
	assert_clean(&m);
	/* the outer message's headers, not the forwarded one's */
	assert_string_equal(m.message_id, "fwd@example.dk");
	assert_string_equal(m.subject, "VS: Byggetilladelse");
	assert_string_equal(m.from.addr, "nabo@example.dk");
	assert_string_equal(m.text, "Jeg videresender denne, som I bør se.\n\n"
	                            "---------- Videresendt besked ----------\n"
	                            "Fra: Mærsk Nielsen <maersk@example.dk>\n"
	                            "Dato: 2026-02-10T15:45:00Z\n"
	                            "Emne: Byggetilladelse ændret\n"
	                            "Til: nabo@example.dk\n\n"
	                            "Tegningerne er ændret, se bilag.");
	assert_int_equal(m.n_attachments, 1);
	assert_string_equal(m.attachments[0].filename, "tegning.docx");
	assert_string_equal(m.attachments[0].content_type,
	                    "application/vnd.openxmlformats-officedocument."
	                    "wordprocessingml.document");
	assert_int_equal(m.attachments[0].size, 8);
	assert_memory_equal(m.attachments[0].data, "PK\3\4docx", 8);
	ch_mime_message_free(&m);
}

static void test_malformed(void **state)
{
	struct ch_mime_message m;

	(void)state;
	parse("10-missing-boundary-end.eml", &m);
	assert_problem(&m, "part 1: multipart not closed");
	assert_string_equal(m.text, "Teksten før bilaget når frem.");
	assert_string_equal(m.subject, "Afbrudt");
	assert_int_equal(m.n_attachments, 1);
	assert_string_equal(m.attachments[0].filename, "halv.pdf");
	assert_memory_equal(m.attachments[0].data, "%PDF-1.4\n", 9);
	ch_mime_message_free(&m);

	parse("11-bad-base64.eml", &m);
	assert_problem(&m, "part 1: invalid base64");
	assert_string_equal(m.text, "Hej vennelig hilsen");
	assert_string_equal(m.subject, "Dårlig");
	ch_mime_message_free(&m);

	parse("12-unknown-charset.eml", &m);
	assert_problem(&m, "part 1: unknown charset x-foo-bar, shown as "
	                   "Windows-1252");
	assert_problem(&m, "Subject: encoded word in an unknown charset");
	assert_string_equal(m.text, "Rødgrød med fløde.");
	assert_string_equal(m.subject, "Rød grød");
	ch_mime_message_free(&m);

	parse("13-header-garbage.eml", &m);
	assert_problem(&m, "2 header lines without a field name ignored");
	/* the fields after the garbage are read */
	assert_string_equal(m.subject, "Efter skraldet");
	assert_string_equal(m.from.addr, "eva@example.dk");
	assert_string_equal(m.message_id, "garbage@example.dk");
	assert_string_equal(m.text, "Brødteksten.");
	ch_mime_message_free(&m);

	parse("14-no-headers.eml", &m);
	assert_problem(&m, "no header block");
	assert_null(m.subject);
	assert_null(m.from.addr);
	assert_null(m.date);
	assert_null(m.message_id);
	assert_string_equal(m.text, "Bare en tekst uden nogen headere.\n"
	                            "Anden linje: med kolon.");
	ch_mime_message_free(&m);

	parse("24-wrong-boundary.eml", &m);
	assert_problem(&m, "part 1: multipart without its boundary, shown as "
	                   "text");
	assert_string_equal(m.subject, "Forkert skillelinje");
	assert_string_equal(m.text, "--forkert\n"
	                            "Content-Type: text/plain; charset=utf-8\n"
	                            "\n"
	                            "Teksten står her alligevel.\n"
	                            "--forkert--");
	assert_int_equal(m.n_attachments, 0);
	ch_mime_message_free(&m);

	parse("25-cut-in-first-part.eml", &m);
	assert_problem(&m, "part 1: multipart not closed");
	assert_string_equal(m.text, "Så langt nåede jeg");
	ch_mime_message_free(&m);

	parse("15-binary-junk.eml", &m);
	assert_problem(&m, "part 1: bytes invalid in charset utf-8 replaced");
	assert_problem(&m, "Subject: invalid bytes replaced by U+FFFD");
	assert_string_equal(m.subject, "Ugyldig \xEF\xBF\xBD( byte");
	assert_string_equal(m.text, "Start\xEF\xBF\xBDmidt\xEF\xBF\xBD(slut "
	                            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD ok");
	ch_mime_message_free(&m);
}

static void test_automatic(void **state)
{
	static const struct {
		const char *file, *why;
	} cases[] = {
	        {"16-auto-submitted.eml", "auto_submitted"},
	        {"17-precedence-bulk.eml", "precedence"},
	        {"18-list-id.eml", "list_id"},
	        {"19-null-return-path.eml", "return_path"},
	        {"20-mailer-daemon.eml", "mailer_daemon"},
	        {"21-bounce-report.eml", "report"},
	        {"22-citizen-reply.eml", NULL},
	        {"01-latin1-qp.eml", NULL},
	        {"09-forward.eml", NULL},
	};
	struct ch_mime_message m;
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(cases); i++) {
		parse(cases[i].file, &m);
		why = "unset";
		assert_int_equal(ch_mime_is_automatic(&m, &why),
		                 cases[i].why != NULL);
		if (cases[i].why)
			assert_string_equal(why, cases[i].why);
		else
			assert_null(why);
		assert_int_equal(ch_mime_is_automatic(&m, NULL),
		                 cases[i].why != NULL);
		ch_mime_message_free(&m);
	}

	parse("16-auto-submitted.eml", &m);
	assert_string_equal(m.auto_submitted,
	                    "auto-replied; owner-email=\"x@example.com\"");
	ch_mime_message_free(&m);
	parse("17-precedence-bulk.eml", &m);
	assert_string_equal(m.precedence, "Bulk");
	ch_mime_message_free(&m);
	parse("18-list-id.eml", &m);
	assert_string_equal(m.list_id, "Nyhedsbrev <nyt.example.com>");
	ch_mime_message_free(&m);
	parse("19-null-return-path.eml", &m);
	assert_string_equal(m.return_path, "");
	ch_mime_message_free(&m);

	parse("21-bounce-report.eml", &m);
	assert_clean(&m);
	assert_true(m.is_report);
	assert_string_equal(m.text, "Your message could not be delivered.");
	assert_int_equal(m.n_attachments, 2);
	assert_string_equal(m.attachments[0].content_type,
	                    "message/delivery-status");
	assert_string_equal(m.attachments[0].filename, "attachment-1.txt");
	assert_string_equal(m.attachments[1].content_type,
	                    "text/rfc822-headers");
	ch_mime_message_free(&m);

	/* the rules on their own */
	{
		char no[] = "No", first[] = "first-class", junk[] = "junk";
		char list[] = "list (mailing list)", gen[] = "auto-generated";
		char rp[] = "borger@example.dk";
		char md[] = "Mailer-Daemon@example.com";
		char mdic[] = "mailer-daemonic@example.com";

		memset(&m, 0, sizeof(m));
		m.auto_submitted = no;
		m.precedence = first;
		m.return_path = rp;
		assert_false(ch_mime_is_automatic(&m, &why));
		m.precedence = junk;
		assert_true(ch_mime_is_automatic(&m, &why));
		assert_string_equal(why, "precedence");
		m.precedence = list;
		assert_true(ch_mime_is_automatic(&m, &why));
		m.precedence = NULL;
		m.auto_submitted = gen;
		assert_true(ch_mime_is_automatic(&m, &why));
		assert_string_equal(why, "auto_submitted");
		m.auto_submitted = NULL;
		m.return_path = md;
		assert_true(ch_mime_is_automatic(&m, &why));
		assert_string_equal(why, "return_path");
		m.return_path = mdic;
		assert_false(ch_mime_is_automatic(&m, &why));
	}
}

static void test_threading(void **state)
{
	struct ch_mime_message m;

	(void)state;
	parse("22-citizen-reply.eml", &m);
	assert_clean(&m);
	assert_string_equal(m.message_id, "CAF+reply.22@mail.example.dk");
	assert_string_equal(m.in_reply_to,
	                    "receipt-2026-000123@kommune.example");
	assert_int_equal(m.n_references, 3);
	assert_string_equal(m.references[0], "first.1@mail.example.dk");
	assert_string_equal(m.references[1],
	                    "receipt-2026-000123@kommune.example");
	assert_string_equal(m.references[2], "extra.3@mail.example.dk");
	assert_string_equal(m.subject, "Re: [Sag 2026-000123] Kvittering for "
	                               "din henvendelse");
	assert_string_equal(m.auto_submitted, "no");
	assert_string_equal(m.text, "Tak for svaret. Jeg har et spørgsmål mere."
	                            "\n\n> Tak for din henvendelse.");
	ch_mime_message_free(&m);

	parse("01-latin1-qp.eml", &m);
	assert_null(m.in_reply_to);
	assert_null(m.references);
	assert_int_equal(m.n_references, 0);
	ch_mime_message_free(&m);
}

static void test_bare_lf(void **state)
{
	struct ch_mime_message m;

	(void)state;
	parse("23-bare-lf.eml", &m);
	assert_clean(&m);
	assert_string_equal(m.subject, "Linjeskift på Unix");
	assert_string_equal(m.date, "2026-03-20T07:00:00Z");
	assert_string_equal(m.text,
	                    "Første linje\nAnden linje, som er meget lang og "
	                    "derfor er blevet delt med et blødt linjeskift.");
	assert_non_null(m.html);
	ch_mime_message_free(&m);
}

static void test_format_flowed(void **state)
{
	struct ch_mime_message m;

	(void)state;
	parse("26-format-flowed.eml", &m);
	assert_clean(&m);
	assert_string_equal(m.text,
	                    "Dette er en lang linje, som mailprogrammet har "
	                    "brudt, fordi den var længere end 72 tegn. Den "
	                    "skal samles igen.\n\n"
	                    "> Det citerede svar er også brudt.\n"
	                    ">> Dybere citat, \n"
	                    "> skift af dybde.\n"
	                    "From er space-stuffed.\n"
	                    "-- \n"
	                    "Signatur Sidste linje");
	ch_mime_message_free(&m);

	parse("27-flowed-delsp.eml", &m);
	assert_clean(&m);
	assert_string_equal(m.text, "Et meget langt ord: "
	                            "vejvedligeholdelsesafdelingen er åben.");
	ch_mime_message_free(&m);
}

static void parse_buf(const char *raw, size_t len,
                      const struct ch_mime_limits *lim,
                      struct ch_mime_message *m)
{
	struct ktd_error err;

	memset(&err, 0, sizeof(err));
	assert_int_equal(ch_mime_parse(raw, len, lim, m, &err), 0);
	check_sane(m);
}

/* Fields libetpan cannot parse as RFC 5322 has them: read leniently. */
static void test_header_fallbacks(void **state)
{
	static const char raw[] =
	        "Date: sometime next week\r\n"
	        "From: \"Broken Name <borger@example.dk\r\n"
	        "Message-ID: <ok@x.dk> junk\r\n"
	        "In-Reply-To: garbage <a@b.dk> more\r\n"
	        "References: <r1@x.dk> ,, <r2@x.dk>\r\n"
	        "Subject: =?utf-8?q?=C3=A6?==?utf-8?q?=C3=B8?=\r\n"
	        "Return-Path: MAILER-DAEMON@mx.example.dk\r\n"
	        "To: undisclosed-recipients:;\r\n"
	        "Cc: Gruppe: a@x.dk, \"B\" <b@x.dk>;\r\n"
	        "Content-Transfer-Encoding: x-uuencode\r\n"
	        "\r\n"
	        "body\r\n";
	struct ch_mime_message m;
	const char *why;

	(void)state;
	parse_buf(raw, sizeof(raw) - 1, NULL, &m);
	assert_problem(&m, "unreadable Date header");
	assert_problem(&m, "part 1: unknown transfer encoding x-uuencode, "
	                   "taken as is");
	assert_null(m.date);
	assert_string_equal(m.from.addr, "borger@example.dk");
	assert_string_equal(m.message_id, "ok@x.dk");
	assert_string_equal(m.in_reply_to, "a@b.dk");
	assert_int_equal(m.n_references, 2);
	assert_string_equal(m.references[0], "r1@x.dk");
	assert_string_equal(m.references[1], "r2@x.dk");
	assert_string_equal(m.subject, "æø");
	assert_null(m.to);
	assert_string_equal(m.cc, "a@x.dk, B <b@x.dk>");
	assert_string_equal(m.return_path, "MAILER-DAEMON@mx.example.dk");
	assert_true(ch_mime_is_automatic(&m, &why));
	assert_string_equal(why, "return_path");
	assert_string_equal(m.text, "body");
	ch_mime_message_free(&m);
}

static void test_dates(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	        {"Mon, 2 Mar 2026 09:15:00 GMT", "2026-03-02T09:15:00Z"},
	        {"2 Mar 2026 09:15 +0100", "2026-03-02T08:15:00Z"},
	        {"Mon, 02 Mar 26 09:15:00 EST", "2026-03-02T14:15:00Z"},
	        {"Mon,  2 Mar 2026 09:15:00 +0100 (CET)",
	         "2026-03-02T08:15:00Z"},
	        {"Thu, 1 Jan 2026 00:30:00 +0100", "2025-12-31T23:30:00Z"},
	        {"Thu, 29 Feb 2024 12:00:00 -0930", "2024-02-29T21:30:00Z"},
	        {"Tue, 31 Dec 2024 23:59:60 +0000", "2024-12-31T23:59:59Z"},
	        {"Sun, 29 Feb 2026 10:00:00 +0000", NULL},
	        {"Mon, 31 Apr 2026 10:00:00 +0000", NULL},
	        {"Mon, 2 Mar 2026 25:15:00 +0100", NULL},
	        {"mandag 2. marts 2026", NULL},
	};
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(cases); i++) {
		char raw[256];
		struct ch_mime_message m;
		int n = snprintf(raw, sizeof(raw),
		                 "From: a@example.dk\r\nDate: %s\r\n\r\nx\r\n",
		                 cases[i].in);

		assert_true(n > 0 && (size_t)n < sizeof(raw));
		parse_buf(raw, (size_t)n, NULL, &m);
		if (cases[i].out) {
			assert_non_null(m.date);
			assert_string_equal(m.date, cases[i].out);
			assert_clean(&m);
		} else {
			assert_null(m.date);
			assert_problem(&m, "unreadable Date header");
		}
		ch_mime_message_free(&m);
	}
}

static void test_limits(void **state)
{
	struct ch_mime_limits lim = {.max_parts = 20,
	                             .max_depth = 4,
	                             .max_text = 101,
	                             .max_attachments = 2500};
	struct ktd_buf b;
	struct ch_mime_message m;
	size_t i;

	(void)state;
	/* 300 parts: a long Danish text (cut inside a character: æ is two
	 * bytes, the limit odd), then attachments of 1000 bytes */
	ktd_buf_init(&b, 4 * 1024 * 1024);
	assert_int_equal(ktd_buf_add_str(&b, "From: a@example.dk\r\n"
	                                     "Subject: stor\r\n"
	                                     "Content-Type: multipart/mixed; "
	                                     "boundary=BIG\r\n\r\n"
	                                     "--BIG\r\n"
	                                     "Content-Type: text/plain; "
	                                     "charset=utf-8\r\n\r\n"),
	                 0);
	for (i = 0; i < 5000; i++)
		assert_int_equal(ktd_buf_add_str(&b, "æ"), 0);
	assert_int_equal(ktd_buf_add_str(&b, "\r\n"), 0);
	for (i = 0; i < 300; i++) {
		size_t k;

		assert_int_equal(ktd_buf_printf(&b,
		                                "--BIG\r\nContent-Type: "
		                                "application/octet-stream; "
		                                "name=\"f%zu.bin\"\r\n\r\n",
		                                i),
		                 0);
		for (k = 0; k < 1000; k++)
			assert_int_equal(ktd_buf_add(&b, "x", 1), 0);
		assert_int_equal(ktd_buf_add_str(&b, "\r\n"), 0);
	}
	assert_int_equal(ktd_buf_add_str(&b, "--BIG--\r\n"), 0);

	parse_buf(b.data, b.len, &lim, &m);
	assert_problem(&m, "text cut at 101 bytes");
	assert_problem(&m, "more than 20 MIME parts");
	assert_problem(&m, "16 attachments left out: over 2500 bytes of "
	                   "attachments (the first: part 4, f2.bin, about "
	                   "1000 bytes)");
	assert_string_equal(m.subject, "stor");
	assert_int_equal(strlen(m.text), 100);
	assert_int_equal(m.n_attachments, 2);
	assert_string_equal(m.attachments[0].filename, "f0.bin");
	assert_string_equal(m.attachments[1].filename, "f1.bin");
	ch_mime_message_free(&m);

	/* the defaults take all of it */
	parse_buf(b.data, b.len, NULL, &m);
	assert_problem(&m, "more than 200 MIME parts");
	assert_int_equal(strlen(m.text), 10000);
	/* the multipart and the text are parts too */
	assert_int_equal(m.n_attachments, 198);
	ch_mime_message_free(&m);
	ktd_buf_deinit(&b);

	/* nesting: 10 levels against max_depth 4 */
	ktd_buf_init(&b, 1024 * 1024);
	assert_int_equal(ktd_buf_add_str(&b, "From: a@example.dk\r\n"), 0);
	for (i = 0; i < 10; i++)
		assert_int_equal(
		        ktd_buf_printf(&b,
		                       "Content-Type: multipart/mixed; "
		                       "boundary=n%zu\r\n\r\n--n%zu\r\n",
		                       i, i),
		        0);
	assert_int_equal(ktd_buf_add_str(&b, "Content-Type: text/plain\r\n\r\n"
	                                     "dybt\r\n"),
	                 0);
	for (i = 10; i-- > 0;)
		assert_int_equal(ktd_buf_printf(&b, "--n%zu--\r\n", i), 0);
	parse_buf(b.data, b.len, &lim, &m);
	assert_problem(&m, "nested deeper than 4");
	assert_string_equal(m.text, "");
	ch_mime_message_free(&m);
	parse_buf(b.data, b.len, NULL, &m);
	assert_clean(&m);
	assert_string_equal(m.text, "dybt");
	ch_mime_message_free(&m);
	ktd_buf_deinit(&b);

	/* 20000 levels: never handed to libetpan's recursive parser */
	ktd_buf_init(&b, 8 * 1024 * 1024);
	assert_int_equal(ktd_buf_add_str(&b, "From: a@example.dk\r\n"
	                                     "Subject: dyb\r\n"),
	                 0);
	for (i = 0; i < 20000; i++)
		assert_int_equal(
		        ktd_buf_printf(&b,
		                       "Content-Type: multipart/mixed; "
		                       "boundary=n%zu\r\n\r\n--n%zu\r\n",
		                       i, i),
		        0);
	parse_buf(b.data, b.len, NULL, &m);
	assert_problem(&m, "MIME structure too complex");
	assert_string_equal(m.subject, "dyb");
	assert_true(strlen(m.text) > 0);
	ch_mime_message_free(&m);
	ktd_buf_deinit(&b);

	/* 50 nested multiparts whose boundaries never appear, and a chain
	 * of 50 message/rfc822: libetpan would nest all of them */
	ktd_buf_init(&b, 1024 * 1024);
	assert_int_equal(ktd_buf_add_str(&b, "From: a@example.dk\r\n"), 0);
	for (i = 0; i < 50; i++)
		assert_int_equal(
		        ktd_buf_printf(&b,
		                       "Content-Type: multipart/mixed; "
		                       "boundary=\"nope%zu\"\r\n\r\n",
		                       i),
		        0);
	assert_int_equal(ktd_buf_add_str(&b, "krop\r\n"), 0);
	parse_buf(b.data, b.len, NULL, &m);
	assert_problem(&m, "MIME structure too complex (nested deeper than 24");
	assert_string_equal(m.from.addr, "a@example.dk");
	ch_mime_message_free(&m);
	ktd_buf_reset(&b);
	assert_int_equal(ktd_buf_add_str(&b, "From: a@example.dk\r\n"), 0);
	for (i = 0; i < 50; i++)
		assert_int_equal(ktd_buf_add_str(&b,
		                                 "Content-Type: message/rfc822"
		                                 "\r\n\r\n"),
		                 0);
	assert_int_equal(ktd_buf_add_str(&b, "krop\r\n"), 0);
	parse_buf(b.data, b.len, NULL, &m);
	assert_problem(&m, "MIME structure too complex (nested deeper than 24");
	ch_mime_message_free(&m);

	/* boundaries with blanks, and preamble lines that begin like them
	 * but are not: they end nothing */
	ktd_buf_reset(&b);
	assert_int_equal(ktd_buf_add_str(&b, "From: a@example.dk\r\n"), 0);
	for (i = 0; i < 40; i++)
		assert_int_equal(
		        ktd_buf_printf(&b,
		                       "Content-Type: multipart/mixed; "
		                       "boundary=\"lvl %zu\"\r\n\r\n"
		                       "--lvl\r\n--lvl %zux\r\n"
		                       "--lvl %zu\r\n",
		                       i, i, i),
		        0);
	assert_int_equal(ktd_buf_add_str(&b, "krop\r\n"), 0);
	parse_buf(b.data, b.len, NULL, &m);
	assert_problem(&m, "MIME structure too complex (nested deeper than 24");
	ch_mime_message_free(&m);

	/* wide is not deep: 30 forwarded messages side by side, each with
	 * a mixed and an alternative multipart, are read whole */
	ktd_buf_reset(&b);
	assert_int_equal(ktd_buf_add_str(&b, "From: a@example.dk\r\n"
	                                     "Content-Type: multipart/mixed; "
	                                     "boundary=out\r\n\r\n"),
	                 0);
	for (i = 0; i < 30; i++)
		assert_int_equal(
		        ktd_buf_printf(
		                &b,
		                "--out\r\nContent-Type: message/rfc822\r\n\r\n"
		                "From: f%zu@example.dk\r\nSubject: nr %zu\r\n"
		                "Content-Type: multipart/mixed; boundary=in\r\n"
		                "\r\n--in\r\nContent-Type: "
		                "multipart/alternative;"
		                " boundary=al\r\n\r\n--al\r\n\r\ntekst %zu\r\n"
		                "--al\r\nContent-Type: "
		                "text/html\r\n\r\n<p>h</p>"
		                "\r\n--al--\r\n--in\r\nContent-Type: "
		                "application/pdf; "
		                "name=b%zu.pdf\r\n\r\n%%PDF\r\n"
		                "--in--\r\n",
		                i, i, i, i),
		        0);
	assert_int_equal(ktd_buf_add_str(&b, "--out--\r\n"), 0);
	parse_buf(b.data, b.len, NULL, &m);
	assert_clean(&m);
	assert_int_equal(m.n_attachments, 30);
	assert_string_equal(m.attachments[29].filename, "b29.pdf");
	assert_non_null(strstr(m.text, "Emne: nr 29\n\ntekst 29"));
	ch_mime_message_free(&m);
	ktd_buf_deinit(&b);

	/* comments nested 100000 deep (libetpan recurses on each) */
	ktd_buf_init(&b, 1024 * 1024);
	assert_int_equal(ktd_buf_add_str(&b, "From: a@example.dk "), 0);
	for (i = 0; i < 100000; i++)
		assert_int_equal(ktd_buf_add(&b, "(", 1), 0);
	assert_int_equal(ktd_buf_add_str(&b, "\r\nSubject: (x (y (z)))\r\n"
	                                     "Content-Type: text/plain; "
	                                     "charset=utf-8 "),
	                 0);
	for (i = 0; i < 100000; i++)
		assert_int_equal(ktd_buf_add(&b, "(", 1), 0);
	assert_int_equal(ktd_buf_add_str(&b, "\r\n\r\nkrop\r\n"), 0);
	parse_buf(b.data, b.len, NULL, &m);
	assert_problem(&m, "parentheses nested deeper than 32");
	assert_string_equal(m.from.addr, "a@example.dk");
	assert_string_equal(m.subject, "(x (y (z)))");
	assert_string_equal(m.text, "krop");
	ch_mime_message_free(&m);
	ktd_buf_deinit(&b);

	/* a UTF-8 byte order mark */
	{
		static const char bom[] = "From: a@example.dk\r\n"
		                          "Content-Type: text/plain; "
		                          "charset=utf-8\r\n\r\n"
		                          "\xEF\xBB\xBFGod morgen\r\n";

		parse_buf(bom, sizeof(bom) - 1, NULL, &m);
		assert_clean(&m);
		assert_string_equal(m.text, "God morgen");
		ch_mime_message_free(&m);
	}

	/* nothing at all */
	parse_buf("", 0, NULL, &m);
	assert_problem(&m, "empty message");
	assert_string_equal(m.text, "");
	ch_mime_message_free(&m);
	parse_buf(NULL, 0, NULL, &m);
	assert_string_equal(m.text, "");
	ch_mime_message_free(&m);
}

/* Every prefix (in steps) and damaged copies of every corpus message:
 * no crash, no leak (the ASan build), sane output. */
static void test_prefixes_and_damage(void **state)
{
	uint32_t rnd = 2463534242u;
	size_t f;

	(void)state;
	for (f = 0; f < KTD_N_ELEMENTS(corpus); f++) {
		size_t len, n, step, k;
		char *raw = load(corpus[f], &len);
		char *copy = ktd_malloc(len + 1);
		struct ch_mime_message m;

		step = len / 97 + 1;
		for (n = 0; n <= len; n += step) {
			parse_buf(raw, n, NULL, &m);
			ch_mime_message_free(&m);
		}
		for (k = 0; k < 40; k++) {
			size_t flips = 1 + k % 8, j;

			memcpy(copy, raw, len);
			for (j = 0; j < flips && len; j++) {
				rnd ^= rnd << 13;
				rnd ^= rnd >> 17;
				rnd ^= rnd << 5;
				copy[rnd % len] = (char)(rnd >> 24);
			}
			parse_buf(copy, len, NULL, &m);
			ch_mime_message_free(&m);
		}
		ktd_free(&copy);
		ktd_free(&raw);
	}
}

static void html_is(const char *html, const char *want)
{
	char *t = ch_mime_html_to_text(html, strlen(html));

	if (strcmp(t, want) != 0)
		fail_msg("html %s\n gave \"%s\"\nwanted \"%s\"", html, t, want);
	assert_true(ktd_utf8_valid(t, strlen(t)));
	ktd_free(&t);
}

static void test_html_to_text(void **state)
{
	struct ktd_buf b;
	char *t;
	size_t i;

	(void)state;
	html_is("", "");
	html_is("<p>", "");
	html_is("plain words", "plain words");
	html_is("<p>a</p><p>b</p>", "a\n\nb");
	html_is("<div>a</div><div>b</div>", "a\nb");
	html_is("a<br>b<br/><br>c", "a\nb\n\nc");
	html_is("  many   spaces\n\tand\nbreaks  ", "many spaces and breaks");
	html_is("<b>fed</b> og <i>kursiv</i>", "fed og kursiv");
	html_is("&aelig;&oslash;&aring; &AElig;&Oslash;&Aring; &#230;&#xf8; "
	        "&lt;tag&gt; &quot;q&quot; &euro;",
	        "æøå ÆØÅ æø <tag> \"q\" €");
	html_is("a&nbsp;&nbsp;b", "a  b");
	html_is("<script>x()</script><style>p{}</style>tekst<noscript>n"
	        "</noscript>",
	        "tekst");
	html_is("<head><title>T</title></head><body>krop</body>", "krop");
	html_is("<ul><li>en</li><li>to<ol><li>a</li></ol></li></ul>efter",
	        "- en\n- to\n  - a\nefter");
	html_is("<a href=\"https://x.dk/\">https://x.dk/</a>", "https://x.dk/");
	html_is("<a href=\"https://x.dk/a\">her</a>.", "her <https://x.dk/a>.");
	html_is("<a href=\"mailto:a@x.dk\">a@x.dk</a>", "a@x.dk");
	html_is("<a href=\"javascript:evil()\">klik</a>", "klik");
	html_is("<a href=\"#top\">top</a>", "top");
	html_is("<a href=\"https://x.dk/\"><img src=\"cid:1\"></a>",
	        "<https://x.dk/>");
	html_is("<img src=\"x.png\" alt=\"Logo\">Tekst", "Logo Tekst");
	html_is("<pre>  a\n    b</pre>", "  a\n    b");
	html_is("<table><tr><td>1</td><td>2</td></tr><tr><td>3</td></tr>"
	        "</table>",
	        "1 2\n3");
	html_is("<h2>Emne</h2>tekst<hr>mere",
	        "Emne\n\ntekst\n----------\nmere");
	html_is("<blockquote>citat</blockquote>svar", "citat\n\nsvar");
	html_is("<p>a</p>\n\n\n<p></p><p></p><p>b</p>", "a\n\nb");
	/* the document's own charset label does not override UTF-8 */
	html_is("<meta charset=\"iso-8859-1\"><p>blåbær</p>", "blåbær");
	html_is("<meta http-equiv=\"Content-Type\" content=\"text/html; "
	        "charset=windows-1252\"><p>Århus</p>",
	        "Århus");
	/* no entity of XML beyond HTML's, no network */
	t = ch_mime_html_to_text(
	        "<!DOCTYPE x [<!ENTITY e \"EVIL\">]><p>&e;</p>", 43);
	assert_null(strstr(t, "EVIL"));
	assert_non_null(strstr(t, "&e;"));
	ktd_free(&t);
	/* junk: whatever libxml2 makes of it, and no crash */
	t = ch_mime_html_to_text("<<<>>> </p></div></li>", 22);
	assert_non_null(strstr(t, ">>>"));
	ktd_free(&t);

	/* deep nesting: no recursion in the walk; libxml2 stops at a depth
	 * of 256 (what is deeper is lost, what came before is kept) */
	ktd_buf_init(&b, 1024 * 1024);
	for (i = 0; i < 80; i++)
		assert_int_equal(ktd_buf_add_str(&b, "<div><ul><li>"), 0);
	assert_int_equal(ktd_buf_add_str(&b, "bund"), 0);
	t = ch_mime_html_to_text(b.data, b.len);
	assert_non_null(strstr(t, "bund"));
	ktd_free(&t);
	ktd_buf_reset(&b);
	assert_int_equal(ktd_buf_add_str(&b, "top"), 0);
	for (i = 0; i < 20000; i++)
		assert_int_equal(ktd_buf_add_str(&b, "<div><ul><li>"), 0);
	t = ch_mime_html_to_text(b.data, b.len);
	assert_true(ktd_str_has_prefix(t, "top"));
	ktd_free(&t);
	ktd_buf_deinit(&b);

	/* NUL and invalid UTF-8 in the input */
	t = ch_mime_html_to_text("<p>a\0b\xff</p>", 10);
	assert_true(ktd_utf8_valid(t, strlen(t)));
	ktd_free(&t);
}

static void charset_is(const char *cs, const char *in, size_t len,
                       const char *want, unsigned want_flags)
{
	unsigned flags = 0;
	size_t olen;
	char *out = ch_mime_charset_to_utf8(cs, in, len, &olen, &flags, NULL);

	assert_string_equal(out, want);
	assert_int_equal(olen, strlen(want));
	assert_int_equal(flags, want_flags);
	ktd_free(&out);
}

static void test_charsets(void **state)
{
	(void)state;
	charset_is("utf-8", "\xC3\xA6\xC3\xB8\xC3\xA5", 6, "æøå", 0);
	charset_is("UTF8", "ok", 2, "ok", 0);
	charset_is("iso-8859-1", "\xE6\xF8\xE5\xC6\xD8\xC5", 6, "æøåÆØÅ", 0);
	charset_is("\"ISO-8859-1\"", "\x80", 1, "€", 0);
	charset_is("windows-1252", "\x93q\x94 \x96 \x85", 7, "“q” – …", 0);
	charset_is("iso-8859-15", "\xA4\xE6", 2, "€æ", 0);
	charset_is("ISO_8859-15", "\xBD", 1, "œ", 0);
	charset_is("utf-16le", "\xE6\x00\xF8\x00", 4, "æø", 0);
	charset_is("koi8-r", "\xF0\xD2\xC9", 3, "При", 0);
	/* undeclared / ASCII: UTF-8 when it is, else Windows-1252 */
	charset_is(NULL, "bl\xC3\xA5", 4, "blå", 0);
	charset_is("us-ascii", "bl\xE5", 3, "blå", 0);
	charset_is("", "", 0, "", 0);
	/* repairs */
	charset_is("utf-8",
	           "a\xFF"
	           "b",
	           3,
	           "a\xEF\xBF\xBD"
	           "b",
	           CH_MIME_CS_INVALID);
	charset_is("utf-8", "a\0b", 3,
	           "a\xEF\xBF\xBD"
	           "b",
	           CH_MIME_CS_INVALID);
	charset_is("utf-8", "\xED\xA0\x80", 3,
	           "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", CH_MIME_CS_INVALID);
	charset_is("utf-8", "\xC0\xAF", 2, "\xEF\xBF\xBD\xEF\xBF\xBD",
	           CH_MIME_CS_INVALID);
	charset_is("latin1", "a\0", 2, "a\xEF\xBF\xBD", CH_MIME_CS_INVALID);
	charset_is("x-no-such-charset",
	           "r\xF8"
	           "d",
	           3, "rød", CH_MIME_CS_UNKNOWN);
	charset_is("x-no-such-charset",
	           "r\xC3\xB8"
	           "d",
	           4, "rød", CH_MIME_CS_UNKNOWN);
	/* a name that is no name is never handed to iconv as it is */
	charset_is("utf-8//TRANSLIT", "\xC3\xA6", 2, "æ", 0);
	charset_is("iso-2022-jp", "\x1B$B", 3, "", 0);
	{
		unsigned flags = 0;
		size_t olen;
		char *out = ch_mime_charset_to_utf8("shift_jis", "\x82\xA0\xFF",
		                                    3, &olen, &flags, NULL);

		assert_true(flags & CH_MIME_CS_INVALID);
		assert_true(ktd_utf8_valid(out, olen));
		ktd_free(&out);
	}
}

static void header_is(const char *raw, const char *want, unsigned want_flags)
{
	unsigned flags = 0;
	char *out = ch_mime_header_decode(raw, strlen(raw), &flags);

	if (strcmp(out, want) != 0)
		fail_msg("header %s\n gave \"%s\"\nwanted \"%s\"", raw, out,
		         want);
	assert_int_equal(flags, want_flags);
	ktd_free(&out);
}

static void test_headers(void **state)
{
	(void)state;
	header_is("plain", "plain", 0);
	header_is("  folded\r\n  twice\r\n\tover ", "folded  twice over", 0);
	header_is("=?utf-8?Q?=C3=A6_=C3=B8?=", "æ ø", 0);
	header_is("=?UTF-8?q?a?= =?UTF-8?q?b?=", "ab", 0);
	header_is("=?utf-8?q?a?=\r\n =?iso-8859-1?q?=E6?=", "aæ", 0);
	header_is("=?utf-8?q?a?= x =?utf-8?q?b?=", "a x b", 0);
	header_is("Re: =?utf-8?B?w6ZibGU=?= og mere", "Re: æble og mere", 0);
	header_is("=?ISO-8859-1*da?Q?S=F8?=", "Sø", 0);
	header_is("=?utf-8?b?w6Y?=", "æ", 0);
	header_is("=?utf-8?b?w6Y*?=", "æ", CH_MIME_CS_BAD_B64);
	/* not encoded words */
	header_is("=?utf-8?x?abc?=", "=?utf-8?x?abc?=", 0);
	header_is("=?utf-8?q?no end", "=?utf-8?q?no end", 0);
	header_is("a =? b ?= c", "a =? b ?= c", 0);
	header_is("=?\?Q?x?=", "=?\?Q?x?=", 0);
	/* raw 8-bit: UTF-8 (RFC 6532) or else Windows-1252 */
	header_is("R\xC3\xB8"
	          "d",
	          "Rød", 0);
	header_is("R\xF8"
	          "d",
	          "Rød", 0);
	/* controls are no part of one line */
	header_is("a\x01"
	          "b\x7F"
	          "c\xC2\x85"
	          "d",
	          "abcd", 0);
	header_is("=?utf-8?q?a=00b=0Ac?=",
	          "a\xEF\xBF\xBD"
	          "b c",
	          CH_MIME_CS_INVALID);
	header_is("=?x-unknown-cs?q?=F8?=", "ø", CH_MIME_CS_UNKNOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_latin1),
	        cmocka_unit_test(test_latin9),
	        cmocka_unit_test(test_cp1252),
	        cmocka_unit_test(test_encoded_words),
	        cmocka_unit_test(test_html_only),
	        cmocka_unit_test(test_alternative),
	        cmocka_unit_test(test_attachments),
	        cmocka_unit_test(test_related),
	        cmocka_unit_test(test_forward),
	        cmocka_unit_test(test_malformed),
	        cmocka_unit_test(test_automatic),
	        cmocka_unit_test(test_threading),
	        cmocka_unit_test(test_bare_lf),
	        cmocka_unit_test(test_format_flowed),
	        cmocka_unit_test(test_header_fallbacks),
	        cmocka_unit_test(test_dates),
	        cmocka_unit_test(test_limits),
	        cmocka_unit_test(test_prefixes_and_damage),
	        cmocka_unit_test(test_html_to_text),
	        cmocka_unit_test(test_charsets),
	        cmocka_unit_test(test_headers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
