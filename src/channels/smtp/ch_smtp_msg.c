/* SPDX-License-Identifier: MPL-2.0 */
/* Outbound messages as RFC 5322 text (RFC 2045 quoted-printable, RFC 2047
 * encoded words, RFC 3834 Auto-Submitted). */
#include "lib/lib_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "channels/smtp/ch_smtp_msg.h"

/* RFC 5322 2.1.1: lines SHOULD stay within 78 characters. */
#define LINE_SOFT 78
/* RFC 2045 6.7 (5): encoded lines at most 76 characters. */
#define QP_LINE 76
/* RFC 2047 2: an encoded word is at most 75 characters. 39 bytes of text
 * make 52 of base64, plus "=?UTF-8?B?" and "?=": 64. */
#define EW_BYTES 39

static const char hexdig[] = "0123456789ABCDEF";

bool ch_smtp_addr_ok(const char *s)
{
	const char *at;
	size_t n, i;

	if (!s)
		return false;
	n = strlen(s);
	if (n < 3 || n > 254)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || strchr("<>()[]\\,;:\"", c))
			return false;
	}
	at = strchr(s, '@');
	return at && at != s && at[1] != '\0' && !strchr(at + 1, '@');
}

/* "<left@right>", printable ASCII without white space, at most 998. */
static bool msgid_ok(const char *s, size_t n)
{
	size_t i;

	if (n < 5 || n > 998 || s[0] != '<' || s[n - 1] != '>' ||
	    !memchr(s, '@', n))
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f ||
		    ((c == '<' || c == '>') && i != 0 && i != n - 1))
			return false;
	}
	return true;
}

/* One QP byte; *col is the length of the current output line. */
static int qp_byte(struct ktd_buf *out, unsigned char c, bool encode,
                   size_t *col)
{
	size_t need = encode ? 3 : 1;
	char e[3];

	/* A soft break ("=") must fit within QP_LINE too. */
	if (*col + need > QP_LINE - 1) {
		if (ktd_buf_add(out, "=\r\n", 3) < 0)
			return -1;
		*col = 0;
	}
	if (!encode) {
		*col += 1;
		return ktd_buf_add(out, &c, 1);
	}
	e[0] = '=';
	e[1] = hexdig[c >> 4];
	e[2] = hexdig[c & 0xf];
	*col += 3;
	return ktd_buf_add(out, e, 3);
}

/* Quoted-printable rather than base64 or 8bit: Danish text is mostly
 * ASCII, so it stays readable in the raw message and in logs of relays,
 * and it passes every relay whether or not it offers 8BITMIME (libESMTP
 * would not convert an 8bit body for one that does not). */
int ch_smtp_qp_encode(struct ktd_buf *out, const char *s, size_t len)
{
	size_t i = 0, col = 0;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		bool encode;

		if (c == '\r' || c == '\n') {
			/* CRLF, LF and a lone CR are each one line end. */
			i += (c == '\r' && i + 1 < len && s[i + 1] == '\n') ? 2
			                                                    : 1;
			if (ktd_buf_add(out, "\r\n", 2) < 0)
				return -1;
			col = 0;
			continue;
		}
		if (c == ' ' || c == '\t') {
			/* White space before a line end (or the end) would
			 * be taken away by some relays. */
			encode = i + 1 >= len || s[i + 1] == '\r' ||
			         s[i + 1] == '\n';
		} else {
			encode = c < 33 || c > 126 || c == '=';
		}
		/* A line that starts with '.' is for SMTP to escape, one
		 * that starts with "From " for mbox files to mangle: encoded,
		 * neither happens. */
		if (!encode && (col == 0 || col + 1 > QP_LINE - 1) &&
		    (c == '.' || (c == 'F' && len - i >= 5 &&
		                  memcmp(s + i, "From ", 5) == 0)))
			encode = true;
		if (qp_byte(out, c, encode, &col) < 0)
			return -1;
		i++;
	}
	return 0;
}

/* Whether s is plain printable ASCII (spaces allowed) that no decoder
 * could take for an encoded word. */
static bool plain_ascii(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c > 0x7e)
			return false;
		if (c == '=' && s[1] == '?')
			return false;
	}
	return true;
}

/* Appends plain ASCII text folded at spaces; col is the length of the
 * line so far. */
static int fold_plain(struct ktd_buf *out, const char *s, size_t col)
{
	while (*s) {
		const char *sp = strchr(s + 1, ' ');
		size_t n = sp ? (size_t)(sp - s) : strlen(s);

		/* Each word after the first carries its leading space, which
		 * starts the continuation line when folded there. */
		if (col + n > LINE_SOFT && *s == ' ' && col > 0) {
			if (ktd_buf_add(out, "\r\n", 2) < 0)
				return -1;
			col = 0;
		}
		if (ktd_buf_add(out, s, n) < 0)
			return -1;
		col += n;
		s += n;
	}
	return 0;
}

/* The length of the first at most max bytes of s (n bytes of valid UTF-8)
 * that end between two characters. */
static size_t utf8_chunk(const char *s, size_t n, size_t max)
{
	size_t k;

	if (n <= max)
		return n;
	k = max;
	/* Back off the continuation bytes of a character cut in two. */
	while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
		k--;
	return k > 0 ? k : max;
}

int ch_smtp_header_text(struct ktd_buf *out, const char *name,
                        const char *value)
{
	char *v = ktd_strdup(value ? value : "");
	char b64[sodium_base64_ENCODED_LEN(EW_BYTES,
	                                   sodium_base64_VARIANT_ORIGINAL)];
	size_t n, off = 0, i;
	int ret = -1;

	/* Line breaks and other controls in a subject are never header
	 * structure: they become spaces. */
	for (i = 0; v[i]; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c < 0x20 || c == 0x7f)
			v[i] = ' ';
	}
	n = strlen(v);
	if (ktd_buf_printf(out, "%s:", name) < 0)
		goto out;
	if (n == 0) {
		ret = ktd_buf_add(out, "\r\n", 2);
		goto out;
	}
	if (plain_ascii(v)) {
		if (ktd_buf_add(out, " ", 1) < 0 ||
		    fold_plain(out, v, strlen(name) + 2) < 0 ||
		    ktd_buf_add(out, "\r\n", 2) < 0)
			goto out;
		ret = 0;
		goto out;
	}
	while (off < n) {
		size_t k = utf8_chunk(v + off, n - off, EW_BYTES);

		sodium_bin2base64(b64, sizeof(b64),
		                  (const unsigned char *)v + off, k,
		                  sodium_base64_VARIANT_ORIGINAL);
		/* Words on lines of their own: white space between two
		 * encoded words is not part of the text (RFC 2047 6.2). */
		if (ktd_buf_printf(out, "%s=?UTF-8?B?%s?=",
		                   off == 0 ? " " : "\r\n ", b64) < 0)
			goto out;
		off += k;
	}
	ret = ktd_buf_add(out, "\r\n", 2);
out:
	free(v);
	return ret;
}

/* RFC 5322 3.3, in UTC, with English names whatever the locale. */
static void rfc5322_date(int64_t t, char *out, size_t outsz)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed",
	                                   "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
	                                     "May", "Jun", "Jul", "Aug",
	                                     "Sep", "Oct", "Nov", "Dec"};
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	snprintf(out, outsz, "%s, %d %s %04d %02d:%02d:%02d +0000",
	         days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	         tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Appends "References:" with the valid ids of refs, one per line; nothing
 * when none is valid. */
static int add_references(struct ktd_buf *out, const char *refs)
{
	const char *p = refs;
	bool any = false;

	while (*p) {
		size_t n;

		p += strspn(p, " \t\r\n");
		n = strcspn(p, " \t\r\n");
		if (n == 0)
			break;
		if (msgid_ok(p, n)) {
			if (ktd_buf_add_str(out, any ? "\r\n "
			                             : "References: ") < 0 ||
			    ktd_buf_add(out, p, n) < 0)
				return -1;
			any = true;
		}
		p += n;
	}
	return any ? ktd_buf_add(out, "\r\n", 2) : 0;
}

int ch_smtp_msg_build(const struct ch_smtp_msg *m, char **text_r, size_t *len_r,
                      struct ktd_error *err)
{
	struct ktd_buf b;
	char date[64];
	const char *auto_submitted = NULL;
	const char *body = m->body ? m->body : "";
	const char *subject = m->subject ? m->subject : "";

	if (!m->kind ||
	    (strcmp(m->kind, "reply") != 0 && strcmp(m->kind, "receipt") != 0 &&
	     strcmp(m->kind, "forward") != 0))
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "unknown kind of message");
	if (!ch_smtp_addr_ok(m->from))
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "the sender is not a plain ASCII address");
	if (!ch_smtp_addr_ok(m->to))
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "the recipient is not a plain ASCII "
		                     "address (an address with other "
		                     "characters would need SMTPUTF8)");
	if (!m->message_id || !msgid_ok(m->message_id, strlen(m->message_id)))
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "the Message-ID is not valid");
	if (!ktd_utf8_valid(subject, strlen(subject)) ||
	    !ktd_utf8_valid(body, strlen(body)))
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "the text is not valid UTF-8");
	/* RFC 3834 5: receipts are answers no one wrote; forwards are made
	 * by the system. Both keep auto-responders from answering. */
	if (strcmp(m->kind, "receipt") == 0)
		auto_submitted = "auto-replied";
	else if (strcmp(m->kind, "forward") == 0)
		auto_submitted = "auto-generated";
	rfc5322_date(m->date, date, sizeof(date));

	ktd_buf_init(&b, CH_SMTP_MSG_MAX);
	if (ktd_buf_printf(&b,
	                   "Date: %s\r\nFrom: %s\r\nTo: %s\r\n"
	                   "Message-ID: %s\r\n",
	                   date, m->from, m->to, m->message_id) < 0 ||
	    ch_smtp_header_text(&b, "Subject", subject) < 0)
		goto full;
	if (m->in_reply_to && *m->in_reply_to &&
	    msgid_ok(m->in_reply_to, strlen(m->in_reply_to)) &&
	    ktd_buf_printf(&b, "In-Reply-To: %s\r\n", m->in_reply_to) < 0)
		goto full;
	if (m->references && add_references(&b, m->references) < 0)
		goto full;
	if (auto_submitted &&
	    ktd_buf_printf(&b, "Auto-Submitted: %s\r\n", auto_submitted) < 0)
		goto full;
	if (ktd_buf_printf(&b,
	                   CH_SMTP_KIND_HEADER
	                   ": %s\r\n"
	                   "MIME-Version: 1.0\r\n"
	                   "Content-Type: text/plain; charset=utf-8\r\n"
	                   "Content-Transfer-Encoding: quoted-printable\r\n"
	                   "\r\n",
	                   m->kind) < 0 ||
	    ch_smtp_qp_encode(&b, body, strlen(body)) < 0)
		goto full;
	/* The message ends with a line end. */
	if (b.len < 2 || memcmp(b.data + b.len - 2, "\r\n", 2) != 0) {
		if (ktd_buf_add(&b, "\r\n", 2) < 0)
			goto full;
	}
	*text_r = ktd_buf_steal(&b, len_r);
	return 0;
full:
	ktd_buf_deinit(&b);
	return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
	                     "the message is larger than %u bytes",
	                     CH_SMTP_MSG_MAX);
}
