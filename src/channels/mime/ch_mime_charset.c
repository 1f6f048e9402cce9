/* SPDX-License-Identifier: MPL-2.0 */
/* Charsets to UTF-8 (iconv, with Windows-1252 and UTF-8 by hand) and
 * header decoding: RFC 2047 (encoded words), RFC 5322 (unfolding),
 * RFC 6532 (raw UTF-8 in headers).
 *
 * RFC 2047 is decoded here rather than with libetpan's
 * mailmime_encoded_phrase_parse because that function falls back to
 * ISO-8859-1 for an unknown charset without saying so, fails the whole
 * header on one invalid byte, and stops at a NUL: we must say what was
 * guessed and keep the rest. */
#include "lib/lib_common.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "channels/mime/ch_mime_int.h"

/* Windows-1252 0x80..0x9F; 0 where the code page has no character. */
static const uint16_t cp1252_c1[32] = {
        0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
        0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0,      0x017D, 0,
        0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
        0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178,
};

/* Appends cp as UTF-8; the buffers here are sized so that it always fits
 * (4 bytes per input byte at most). */
static void put_cp(struct ktd_buf *b, uint32_t cp)
{
	unsigned char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xC0 | (cp >> 6));
		u[1] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xE0 | (cp >> 12));
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xF0 | (cp >> 18));
		u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	if (ktd_buf_add(b, u, n) < 0)
		ktd_panic("ch_mime: conversion buffer too small");
}

/* Length of the well-formed UTF-8 sequence at s (at most len bytes), or 0
 * when it is not one (overlong, surrogate, beyond U+10FFFF, cut). */
static size_t utf8_seq(const unsigned char *s, size_t len, uint32_t *cp_r)
{
	uint32_t cp;
	size_t n, i;

	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		n = 2;
		cp = s[0] & 0x1F;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		n = 3;
		cp = s[0] & 0x0F;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		return 0;
	*cp_r = cp;
	return n;
}

/* True when in[0..len) is well-formed UTF-8 (NUL allowed: it is repaired
 * later). */
static bool utf8_ok(const char *in, size_t len)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, n;
	uint32_t cp;

	while (i < len) {
		n = utf8_seq(s + i, len - i, &cp);
		if (!n)
			return false;
		i += n;
	}
	return true;
}

/* UTF-8 with invalid sequences and NUL replaced by U+FFFD. */
static void utf8_clean(struct ktd_buf *b, const char *in, size_t len,
                       unsigned *flags)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, n;
	uint32_t cp;

	while (i < len) {
		n = utf8_seq(s + i, len - i, &cp);
		if (!n || cp == 0) {
			put_cp(b, 0xFFFD);
			*flags |= CH_MIME_CS_INVALID;
			i++;
			continue;
		}
		if (ktd_buf_add(b, s + i, n) < 0)
			ktd_panic("ch_mime: conversion buffer too small");
		i += n;
	}
}

static void cp1252_to_utf8(struct ktd_buf *b, const char *in, size_t len,
                           unsigned *flags)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i;

	for (i = 0; i < len; i++) {
		uint32_t cp = s[i];

		if (cp == 0) {
			cp = 0xFFFD;
			*flags |= CH_MIME_CS_INVALID;
		} else if (cp >= 0x80 && cp < 0xA0) {
			cp = cp1252_c1[cp - 0x80];
			if (!cp)
				cp = 0xFFFD;
		}
		put_cp(b, cp);
	}
}

/* Converts with iconv; false when iconv does not know the charset. */
static bool iconv_to_utf8(struct ktd_buf *b, const char *cs, const char *in,
                          size_t len, unsigned *flags)
{
	iconv_t cd = iconv_open("UTF-8", cs);
	char *ip = (char *)(uintptr_t)in;
	size_t il = len;
	char chunk[4096];
	struct ktd_buf tmp;

	if (cd == (iconv_t)-1)
		return false;
	/* iconv output is checked again by utf8_clean (it may hold NUL). */
	ktd_buf_init(&tmp, len * 4 + 64);
	while (il > 0) {
		char *op = chunk;
		size_t ol = sizeof(chunk);
		size_t r = iconv(cd, &ip, &il, &op, &ol);
		int e = errno;

		if (ktd_buf_add(&tmp, chunk, sizeof(chunk) - ol) < 0) {
			*flags |= CH_MIME_CS_INVALID;
			break;
		}
		if (r != (size_t)-1)
			break;
		if (e == E2BIG)
			continue;
		/* EILSEQ: one bad byte; EINVAL: cut at the end. */
		*flags |= CH_MIME_CS_INVALID;
		if (ktd_buf_add(&tmp, "\xEF\xBF\xBD", 3) < 0)
			break;
		if (e != EILSEQ)
			break;
		ip++;
		il--;
		iconv(cd, NULL, NULL, NULL, NULL);
	}
	/* flush a stateful encoding's shift sequence */
	{
		char *op = chunk;
		size_t ol = sizeof(chunk);

		if (iconv(cd, NULL, NULL, &op, &ol) != (size_t)-1 &&
		    ktd_buf_add(&tmp, chunk, sizeof(chunk) - ol) < 0)
			*flags |= CH_MIME_CS_INVALID;
	}
	iconv_close(cd);
	utf8_clean(b, tmp.data ? tmp.data : "", tmp.len, flags);
	ktd_buf_deinit(&tmp);
	return true;
}

char *ch_mime_charset_name(const char *s)
{
	char out[41];
	size_t n = 0;

	for (; s && *s && n < sizeof(out) - 1; s++) {
		char c = *s;

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == ':' || c == '+')
			out[n++] = c;
		else if (c != '"' && c != ' ' && c != '\t')
			break;
	}
	out[n] = '\0';
	return ktd_strdup(out);
}

enum cs_kind {
	CS_GUESS, /* undeclared or US-ASCII: UTF-8 if valid, else cp1252 */
	CS_UTF8,
	CS_CP1252,
	CS_ICONV,
};

static enum cs_kind cs_classify(const char *name)
{
	static const char *const cp1252[] = {
	        "iso-8859-1",  "iso8859-1",    "iso_8859-1", "latin1",
	        "l1",          "cp819",        "ibm819",     "iso-ir-100",
	        "cp1252",      "windows-1252", "x-cp1252",   "iso_8859-1:1987",
	        "csisolatin1",
	};
	static const char *const ascii[] = {
	        "",          "us-ascii",       "ascii",
	        "us",        "ansi_x3.4-1968", "iso646-us",
	        "x-unknown", "unknown",        "default",
	};
	size_t i;

	if (!strcmp(name, "utf-8") || !strcmp(name, "utf8"))
		return CS_UTF8;
	for (i = 0; i < KTD_N_ELEMENTS(cp1252); i++)
		if (!strcmp(name, cp1252[i]))
			return CS_CP1252;
	for (i = 0; i < KTD_N_ELEMENTS(ascii); i++)
		if (!strcmp(name, ascii[i]))
			return CS_GUESS;
	return CS_ICONV;
}

char *ch_mime_charset_to_utf8(const char *charset, const char *in, size_t len,
                              size_t *len_r, unsigned *flags_r,
                              const char **used_r)
{
	struct ktd_buf b;
	char *name = ch_mime_charset_name(charset);
	const char *used = "UTF-8";
	enum cs_kind kind;
	char *out;

	ktd_buf_init(&b, len * 4 + 64);
	/* an empty result is still a string */
	kind = cs_classify(name);
	if (kind == CS_ICONV) {
		used = "the declared charset";
		if (!iconv_to_utf8(&b, name, in, len, flags_r)) {
			*flags_r |= CH_MIME_CS_UNKNOWN;
			kind = CS_GUESS;
		}
	}
	if (kind == CS_UTF8) {
		used = "UTF-8";
		utf8_clean(&b, in, len, flags_r);
	} else if (kind == CS_CP1252) {
		used = "Windows-1252";
		cp1252_to_utf8(&b, in, len, flags_r);
	} else if (kind == CS_GUESS) {
		if (utf8_ok(in, len)) {
			used = "UTF-8";
			utf8_clean(&b, in, len, flags_r);
		} else {
			used = "Windows-1252";
			cp1252_to_utf8(&b, in, len, flags_r);
		}
	}
	ktd_free(&name);
	if (used_r)
		*used_r = used;
	out = ktd_buf_steal(&b, len_r);
	return out;
}

/* --- RFC 2047 ---------------------------------------------------------- */

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Appends the decoded bytes of one encoded word's text to b (which has
 * room: decoding never grows). */
static void ew_decode(struct ktd_buf *b, char enc, const char *t, size_t n,
                      unsigned *flags)
{
	size_t i;

	if (enc == 'q') {
		for (i = 0; i < n; i++) {
			char c = t[i];

			if (c == '_') {
				c = ' ';
			} else if (c == '=' && i + 2 < n &&
			           ktd_hex_digit(t[i + 1]) >= 0 &&
			           ktd_hex_digit(t[i + 2]) >= 0) {
				c = (char)(ktd_hex_digit(t[i + 1]) * 16 +
				           ktd_hex_digit(t[i + 2]));
				i += 2;
			}
			if (ktd_buf_add(b, &c, 1) < 0)
				return;
		}
		return;
	}
	{
		uint32_t acc = 0;
		int bits = 0;

		for (i = 0; i < n; i++) {
			int v = b64val((unsigned char)t[i]);

			if (t[i] == '=')
				break;
			if (v < 0) {
				if (t[i] != ' ' && t[i] != '\t')
					*flags |= CH_MIME_CS_BAD_B64;
				continue;
			}
			acc = (acc << 6) | (uint32_t)v;
			bits += 6;
			if (bits >= 8) {
				char c;

				bits -= 8;
				c = (char)((acc >> bits) & 0xFF);
				if (ktd_buf_add(b, &c, 1) < 0)
					return;
			}
		}
	}
}

/* Parses an encoded word "=?charset?e?text?=" at s[0..len); returns its
 * length or 0. The charset may carry an RFC 2231 language ("*da"). The
 * text is taken up to "?=" on the same line, leniently: some mailers put
 * spaces in it. */
static size_t ew_parse(const char *s, size_t len, char *cs, size_t cssz,
                       char *enc_r, const char **text_r, size_t *tlen_r)
{
	size_t i = 2, c0, n;

	if (len < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	c0 = i;
	while (i < len && s[i] != '?' && s[i] != ' ' && s[i] != '\t' &&
	       s[i] != '\r' && s[i] != '\n' && i - c0 < 64)
		i++;
	if (i >= len || s[i] != '?' || i == c0)
		return 0;
	n = i - c0;
	if (n >= cssz)
		return 0;
	memcpy(cs, s + c0, n);
	cs[n] = '\0';
	{
		char *star = strchr(cs, '*');

		if (star)
			*star = '\0';
	}
	i++;
	if (i + 1 >= len || s[i + 1] != '?')
		return 0;
	if (s[i] == 'q' || s[i] == 'Q')
		*enc_r = 'q';
	else if (s[i] == 'b' || s[i] == 'B')
		*enc_r = 'b';
	else
		return 0;
	i += 2;
	*text_r = s + i;
	for (; i + 1 < len && i < 1200; i++) {
		if (s[i] == '\r' || s[i] == '\n')
			return 0;
		if (s[i] == '?' && s[i + 1] == '=') {
			*tlen_r = (size_t)(s + i - *text_r);
			return i + 2;
		}
	}
	return 0;
}

/* Converts pending encoded-word bytes and appends them. */
static void ew_flush(struct ktd_buf *out, struct ktd_buf *pend, const char *cs,
                     unsigned *flags)
{
	char *u;
	size_t ulen;

	if (!pend->len)
		return;
	u = ch_mime_charset_to_utf8(cs, pend->data, pend->len, &ulen, flags,
	                            NULL);
	if (ktd_buf_add(out, u, ulen) < 0)
		ktd_panic("ch_mime: header buffer too small");
	ktd_free(&u);
	ktd_buf_reset(pend);
}

static void raw_add(struct ktd_buf *out, const char *s, size_t n,
                    unsigned *flags)
{
	char *u;
	size_t ulen;

	if (!n)
		return;
	u = ch_mime_charset_to_utf8(NULL, s, n, &ulen, flags, NULL);
	if (ktd_buf_add(out, u, ulen) < 0)
		ktd_panic("ch_mime: header buffer too small");
	ktd_free(&u);
}

/* One line: CR, LF, TAB (decoded from encoded words) become spaces,
 * other C0, DEL and C1 controls are dropped; the ends are trimmed. */
static char *one_line(struct ktd_buf *b)
{
	size_t i = 0, o = 0, len;
	char *s = ktd_buf_steal(b, &len);
	unsigned char *u = (unsigned char *)s;

	while (i < len) {
		if (u[i] == '\t' || u[i] == '\r' || u[i] == '\n') {
			s[o++] = ' ';
			i++;
		} else if (u[i] < 0x20 || u[i] == 0x7F) {
			i++;
		} else if (u[i] == 0xC2 && i + 1 < len && u[i + 1] >= 0x80 &&
		           u[i + 1] < 0xA0) {
			i += 2;
		} else {
			s[o++] = s[i++];
		}
	}
	while (o > 0 && s[o - 1] == ' ')
		o--;
	s[o] = '\0';
	for (i = 0; s[i] == ' '; i++)
		;
	if (i)
		memmove(s, s + i, o - i + 1);
	return s;
}

char *ch_mime_header_decode(const char *in, size_t inlen, unsigned *flags_r)
{
	struct ktd_buf out, pend;
	char pend_cs[65] = "";
	size_t i = 0, plain = 0, len = 0;
	bool last_ew = false;
	char *raw = ktd_malloc(inlen + 1);
	char *res;

	/* unfolding: a line break is removed, the blank after it stays
	 * (RFC 5322 2.2.3) */
	for (i = 0; i < inlen; i++)
		if (in[i] != '\r' && in[i] != '\n')
			raw[len++] = in[i];
	raw[len] = '\0';
	i = 0;

	ktd_buf_init(&out, len * 4 + 64);
	ktd_buf_init(&pend, len + 64);
	while (i < len) {
		char cs[65], enc;
		const char *t;
		size_t tlen = 0, n;
		bool gap_ws = true;
		size_t k;

		if (raw[i] != '=' ||
		    !(n = ew_parse(raw + i, len - i, cs, sizeof(cs), &enc, &t,
		                   &tlen))) {
			i++;
			continue;
		}
		for (k = plain; k < i; k++)
			if (raw[k] != ' ' && raw[k] != '\t' && raw[k] != '\r' &&
			    raw[k] != '\n')
				gap_ws = false;
		/* Whitespace between two encoded words is not text
		 * (RFC 2047 6.2); same-charset neighbours are decoded
		 * together, so a character split between them survives. */
		if (!(last_ew && gap_ws && !strcasecmp(cs, pend_cs))) {
			ew_flush(&out, &pend, pend_cs, flags_r);
			if (!(last_ew && gap_ws))
				raw_add(&out, raw + plain, i - plain, flags_r);
			ktd_strlcpy(pend_cs, cs, sizeof(pend_cs));
		}
		ew_decode(&pend, enc, t, tlen, flags_r);
		last_ew = true;
		i += n;
		plain = i;
	}
	ew_flush(&out, &pend, pend_cs, flags_r);
	raw_add(&out, raw + plain, len - plain, flags_r);
	ktd_buf_deinit(&pend);
	ktd_free(&raw);
	res = one_line(&out);
	return res;
}
