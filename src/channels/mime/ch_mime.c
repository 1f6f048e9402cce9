/* SPDX-License-Identifier: MPL-2.0 */
/* One Internet message taken apart for intake (see ch_mime.h).
 * Specs: RFC 5322 (message format), RFC 2045/2046 (MIME bodies,
 * multipart), RFC 2047 (encoded words), RFC 2231 (parameter values:
 * continuations, charset and language), RFC 2183 (Content-Disposition),
 * RFC 2387 (multipart/related), RFC 3464/6522 (multipart/report),
 * RFC 3834 (automatic responses), RFC 3339 (the date we give out).
 *
 * libetpan's mailmime_parse builds the tree and parses the RFC 5322
 * fields; mailmime_part_parse undoes the transfer encodings. What libetpan
 * does not do, or does in a way we cannot report on, is done here by hand:
 * line-ending and header-block repair before parsing, a bound on nesting
 * before its recursive parser sees the message, multiparts whose closing
 * boundary is missing, RFC 2231 continuations, and charsets
 * (ch_mime_charset.c). */
#include "lib/lib_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libetpan/libetpan.h>
#include <sodium.h>

#include "lib/buf.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "channels/mime/ch_mime.h"
#include "channels/mime/ch_mime_int.h"

#define DEF_MAX_PARTS 200
#define DEF_MAX_DEPTH 16
#define DEF_MAX_TEXT (1024 * 1024)
#define DEF_MAX_ATTACHMENTS (25 * 1024 * 1024)
/* libetpan's parser recurses once per nested multipart or message and
 * rescans the body at each level, without a bound of its own. A message
 * that names multipart or rfc822 more often than this, or that nests
 * deeper than max_depth + 8, is not handed to it (its headers still
 * are): see too_many_names() and nesting(). */
#define MAX_COMPOSITE_NAMES 256
#define MAX_REFERENCES 100
#define MAX_ID_LEN 998
#define MAX_FILENAME 200
#define MAX_PARAM_SEGMENTS 64

#define FORWARD_MARK "---------- Videresendt besked ----------"

struct walk {
	struct ch_mime_message *msg;
	struct ch_mime_limits lim;
	size_t parts;
	size_t att_bytes;
	size_t att_cap;
	bool said_parts, said_depth, said_text;
	size_t att_dropped;  /* attachments left out for the limit */
	char att_first[192]; /* the first of them, for the problem */
	struct ktd_buf html;
	bool have_html;
	int err; /* libetpan ran out of memory */
};

/* --- problems ---------------------------------------------------------- */

static void problem(struct walk *w, const char *fmt, ...) KTD_ATTR_FORMAT(2, 3);

static void problem(struct walk *w, const char *fmt, ...)
{
	struct ch_mime_message *m = w->msg;
	size_t used = strlen(m->problem);
	char one[sizeof(m->problem)];
	va_list ap;

	m->partial = true;
	va_start(ap, fmt);
	vsnprintf(one, sizeof(one), fmt, ap);
	va_end(ap);
	if (used + 3 >= sizeof(m->problem))
		return;
	if (used) {
		memcpy(m->problem + used, "; ", 2);
		used += 2;
	}
	ktd_strlcpy(m->problem + used, one, sizeof(m->problem) - used);
	/* never leave half a character at the cut */
	used = strlen(m->problem);
	m->problem[ktd_utf8_cut(m->problem, used)] = '\0';
}

static void charset_problem(struct walk *w, const char *where,
                            const char *charset, unsigned flags,
                            const char *used)
{
	char *cs = ch_mime_charset_name(charset);

	/* a header has no one charset: its encoded words name theirs */
	if ((flags & CH_MIME_CS_UNKNOWN) && !charset)
		problem(w, "%s: encoded word in an unknown charset, guessed",
		        where);
	else if (flags & CH_MIME_CS_UNKNOWN)
		problem(w, "%s: unknown charset %s, shown as %s", where, cs,
		        used);
	if ((flags & CH_MIME_CS_INVALID) && (!charset || !*cs))
		problem(w, "%s: invalid bytes replaced by U+FFFD", where);
	else if (flags & CH_MIME_CS_INVALID)
		problem(w, "%s: bytes invalid in charset %s replaced by U+FFFD",
		        where, cs);
	if (flags & CH_MIME_CS_BAD_B64)
		problem(w, "%s: an encoded word is not valid base64", where);
	ktd_free(&cs);
}

/* --- input repair ------------------------------------------------------ */

/* A header line: a field name of printable ASCII, then a colon
 * (optionally after blanks: RFC 5322 obsolete syntax). */
static bool is_header_line(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && s[i] > ' ' && s[i] < 0x7F && s[i] != ':')
		i++;
	if (i == 0)
		return false;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i < n && s[i] == ':';
}

static void nb_add(struct ktd_buf *b, const void *p, size_t n)
{
	if (ktd_buf_add(b, p, n) < 0)
		ktd_panic("ch_mime: repair buffer too small");
}

/* The message with CRLF line endings throughout (bare LF and lone CR are
 * common in files and some gateways; libetpan's boundary and header
 * parsers are not equally lenient), and a header block libetpan can
 * read: NUL bytes dropped, lines that are no header field dropped when
 * more fields follow, and when the message does not begin with a field,
 * an empty header block, so that all of it is body. */
static char *repair(struct walk *w, const char *raw, size_t len, size_t *len_r)
{
	struct ktd_buf crlf, out;
	size_t i, pos, garbage = 0;
	size_t pend_start = 0, pend_n = 0; /* garbage lines not yet judged */
	bool first = true;
	char *s;
	size_t slen;

	ktd_buf_init(&crlf, len * 2 + 4);
	nb_add(&crlf, "", 0);
	for (i = 0; i < len; i++) {
		if (raw[i] == '\n') {
			nb_add(&crlf, "\r\n", 2);
		} else if (raw[i] == '\r') {
			nb_add(&crlf, "\r\n", 2);
			if (i + 1 < len && raw[i + 1] == '\n')
				i++;
		} else {
			size_t j = i;

			while (j < len && raw[j] != '\r' && raw[j] != '\n')
				j++;
			nb_add(&crlf, raw + i, j - i);
			i = j - 1;
		}
	}
	s = crlf.data;
	slen = crlf.len;
	ktd_buf_init(&out, slen + 4);
	nb_add(&out, "", 0);
	pos = 0;
	while (pos < slen) {
		const char *eol = memchr(s + pos, '\n', slen - pos);
		size_t end = eol ? (size_t)(eol - s) + 1 : slen;
		size_t n = end - pos; /* with the CRLF */
		size_t body_n = eol ? n - 2 : n;
		const char *line = s + pos;
		bool cont = n > 0 && (line[0] == ' ' || line[0] == '\t');

		if (body_n == 0 && eol)
			break; /* the empty line: end of the header block */
		if (first && !is_header_line(line, body_n)) {
			if (body_n >= 5 && !memcmp(line, "From ", 5)) {
				/* an mbox separator */
				pos = end;
				continue;
			}
			problem(w, "no header block: all of the message "
			           "taken as text");
			nb_add(&out, "\r\n", 2);
			break;
		}
		if (is_header_line(line, body_n) || (cont && !pend_n)) {
			garbage += pend_n;
			pend_n = 0;
			for (i = 0; i < n; i++)
				if (line[i] != '\0')
					nb_add(&out, line + i, 1);
		} else {
			if (!pend_n)
				pend_start = pos;
			pend_n++;
		}
		first = false;
		pos = end;
	}
	if (garbage)
		problem(w, "%zu header line%s without a field name ignored",
		        garbage, garbage == 1 ? "" : "s");
	if (pend_n) {
		/* no field after them: the body began without an empty
		 * line */
		nb_add(&out, "\r\n", 2);
		pos = pend_start;
	}
	if (first && pos >= slen && slen > 0)
		/* nothing but an mbox "From " line */
		nb_add(&out, "\r\n", 2);
	nb_add(&out, s + pos, slen - pos);
	ktd_buf_deinit(&crlf);
	return ktd_buf_steal(&out, len_r);
}

/* libetpan parses a comment in a header field recursively, one level
 * per "(": a few thousand nested ones exhaust the stack. Any logical line
 * (a line and its continuation lines) of the message may be a field of
 * some part, so beyond MAX_COMMENT_DEPTH open parentheses in one, a "("
 * becomes "[". No real mail nests that deep. */
#define MAX_COMMENT_DEPTH 32

static void flatten_comments(struct walk *w, char *s, size_t len)
{
	size_t i, flattened = 0;
	unsigned depth = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '\n' &&
		    (i + 1 >= len || (s[i + 1] != ' ' && s[i + 1] != '\t'))) {
			depth = 0;
		} else if (s[i] == '(') {
			if (depth >= MAX_COMMENT_DEPTH) {
				s[i] = '[';
				flattened++;
			} else {
				depth++;
			}
		} else if (s[i] == ')' && depth > 0) {
			depth--;
		}
	}
	if (flattened)
		problem(w, "parentheses nested deeper than %d made \"[\"",
		        MAX_COMMENT_DEPTH);
}

/* How often the words multipart and rfc822 occur: an upper bound on the
 * nesting libetpan will recurse into (each level needs a Content-Type
 * naming one of them; a multipart/digest's parts are messages by
 * default, hence twice). */
static bool too_many_names(const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i + 6 <= len; i++) {
		char c = s[i] | 0x20;

		if (c == 'm' && i + 9 <= len &&
		    !strncasecmp(s + i, "multipart", 9))
			n += 2;
		else if (c == 'r' && !strncasecmp(s + i, "rfc822", 6))
			n++;
		if (n > MAX_COMPOSITE_NAMES)
			return true;
	}
	return false;
}

/* How deep libetpan will nest the entities (twice, as weights): a
 * Content-Type naming a multipart opens one (weight 2: a digest's parts
 * are messages) that its close delimiter "--b--" ends (never, when its
 * boundary is absent: libetpan then takes the whole body as one part);
 * one naming rfc822 opens one (weight 1) that the next delimiter of an
 * enclosing multipart ends; a delimiter ends all opened after its
 * multipart. libetpan rescans the body at each level, so a message
 * nested beyond need costs it its size again per level: such a message
 * is refused before it starts. Returns a value > stop as soon as the
 * depth passes stop. */
struct nest {
	char b[72]; /* boundary; "" for a message/rfc822 */
	unsigned weight;
};

static void nest_field(const char *s, size_t len, size_t pos, size_t fend,
                       bool *multi_r, bool *msg_r, char *bnd, size_t bsz)
{
	size_t i;

	for (i = pos; i + 6 <= fend && i + 6 <= len; i++) {
		if (i + 9 <= fend && !strncasecmp(s + i, "multipart", 9))
			*multi_r = true;
		if (!strncasecmp(s + i, "rfc822", 6))
			*msg_r = true;
		if (i + 9 <= fend && !bnd[0] &&
		    !strncasecmp(s + i, "boundary=", 9)) {
			const char *q = s + i + 9;
			size_t bl = 0;
			bool quoted = q < s + fend && *q == '"';

			if (quoted)
				q++;
			while (q + bl < s + fend && bl < bsz - 1 &&
			       q[bl] != '"' && q[bl] != '\r' && q[bl] != '\n' &&
			       (quoted || (q[bl] != ';' && q[bl] != ' ' &&
			                   q[bl] != '\t')))
				bl++;
			memcpy(bnd, q, bl);
			bnd[bl] = '\0';
		}
	}
}

static unsigned nesting(const char *s, size_t len, unsigned stop)
{
	struct nest st[64];
	size_t n = 0, pos = 0;
	unsigned depth = 0, max = 0;

	while (pos < len) {
		const char *eol = memchr(s + pos, '\n', len - pos);
		size_t end = eol ? (size_t)(eol - s) + 1 : len;
		const char *l = s + pos;
		size_t ln = end - pos;

		if (ln > 2 && l[0] == '-' && l[1] == '-') {
			size_t k;

			for (k = n; k-- > 0;) {
				size_t bl = strlen(st[k].b);

				const char *r;
				size_t rl;
				bool close;

				if (!bl || ln < 2 + bl ||
				    memcmp(l + 2, st[k].b, bl) != 0)
					continue;
				/* the whole boundary, as libetpan wants it:
				 * a longer one is not this one */
				r = l + 2 + bl;
				rl = ln - 2 - bl;
				close = rl >= 2 && r[0] == '-' && r[1] == '-';
				if (close) {
					r += 2;
					rl -= 2;
				}
				while (rl > 0 && (*r == ' ' || *r == '\t' ||
				                  *r == '\r' || *r == '\n')) {
					r++;
					rl--;
				}
				if (rl)
					continue;
				while (n > k + 1)
					depth -= st[--n].weight;
				if (close)
					depth -= st[--n].weight;
				break;
			}
		} else if (ln > 13 && !strncasecmp(l, "content-type", 12)) {
			/* the field with its continuation lines */
			size_t fend = end, v = pos + 12;
			char bnd[72] = "";
			bool multi = false, msg = false;

			while (fend < len &&
			       (s[fend] == ' ' || s[fend] == '\t')) {
				const char *e2 =
				        memchr(s + fend, '\n', len - fend);

				fend = e2 ? (size_t)(e2 - s) + 1 : len;
			}
			while (v < fend && (s[v] == ' ' || s[v] == '\t'))
				v++;
			if (v < fend && s[v] == ':')
				nest_field(s, len, v, fend, &multi, &msg, bnd,
				           sizeof(bnd));
			if ((multi && bnd[0]) || msg) {
				if (n == KTD_N_ELEMENTS(st))
					return stop + 1;
				ktd_strlcpy(st[n].b, multi ? bnd : "",
				            sizeof(st[n].b));
				st[n].weight = multi ? 2 : 1;
				depth += st[n++].weight;
				if (depth > max)
					max = depth;
				if (max > stop)
					return max;
			}
			end = fend;
		}
		pos = end;
	}
	return max;
}

/* --- small helpers ----------------------------------------------------- */

static char *lower_dup(const char *s)
{
	char *d = ktd_strdup(s ? s : "");
	char *p;

	for (p = d; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return d;
}

static char *hdr(struct walk *w, const char *where, const char *raw)
{
	unsigned flags = 0;
	char *s;

	if (!raw)
		return NULL;
	s = ch_mime_header_decode(raw, strlen(raw), &flags);
	if (flags)
		charset_problem(w, where, NULL, flags, NULL);
	return s;
}

/* A message-id token: printable, no blanks or angle brackets, bounded. */
static char *id_clean(const char *s, size_t n)
{
	char *d;
	size_t i, o = 0;

	while (n > 0 && (*s == ' ' || *s == '<')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '>'))
		n--;
	if (n == 0 || n > MAX_ID_LEN)
		return NULL;
	d = ktd_malloc(n + 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c > ' ' && c < 0x7F && c != '<' && c != '>')
			d[o++] = (char)c;
	}
	d[o] = '\0';
	if (!o)
		ktd_free(&d);
	return d;
}

/* The <...> tokens of a raw header value (when libetpan could not parse
 * it as a list of msg-ids). */
static size_t ids_scan(const char *v, char **ids, size_t max)
{
	size_t n = 0;
	const char *p = v;

	while (p && *p) {
		const char *a = strchr(p, '<'), *b;

		if (!a)
			break;
		b = strchr(a, '>');
		if (!b)
			break;
		if (n < max) {
			char *id = id_clean(a + 1, (size_t)(b - a - 1));

			if (id)
				ids[n++] = id;
		} else {
			/* keep the newest: drop the oldest kept */
			char *id = id_clean(a + 1, (size_t)(b - a - 1));

			if (id) {
				ktd_free(&ids[0]);
				memmove(ids, ids + 1, (max - 1) * sizeof(*ids));
				ids[max - 1] = id;
			}
		}
		p = b + 1;
	}
	return n;
}

static char *addr_clean(const char *a)
{
	const char *lt;
	char *s;
	size_t i, o = 0;

	if (!a)
		return NULL;
	/* libetpan's lenient parser may hand over a broken "Name <addr"
	 * whole: the address is what follows the '<' */
	lt = strrchr(a, '<');
	if (lt)
		a = lt + 1;
	s = ktd_strdup(a);
	for (i = 0; s[i] && s[i] != '>'; i++)
		if ((unsigned char)s[i] > ' ' && s[i] != 0x7F)
			s[o++] = s[i];
	s[o] = '\0';
	if (!o || o > 320 || !ktd_utf8_valid(s, o)) {
		ktd_free(&s);
		return NULL;
	}
	return s;
}

/* A display name as libetpan hands it: quotes and quoted-pairs may still
 * be there; encoded words are decoded (also inside quotes, as mailers
 * expect although RFC 2047 5 forbids it). */
static char *name_clean(struct walk *w, const char *raw)
{
	char *t, *d;
	size_t n, i, o = 0;

	if (!raw)
		return NULL;
	n = strlen(raw);
	t = ktd_malloc(n + 1);
	for (i = 0; i < n; i++) {
		if (raw[i] == '"')
			continue;
		if (raw[i] == '\\' && i + 1 < n)
			i++;
		t[o++] = raw[i];
	}
	t[o] = '\0';
	d = hdr(w, "From/To name", t);
	ktd_free(&t);
	if (d && !*d)
		ktd_free(&d);
	return d;
}

/* "Name <addr>" or "addr" appended to b, ", "-separated. */
static void addr_join(struct walk *w, struct ktd_buf *b,
                      const struct mailimf_mailbox *mb)
{
	char *name = name_clean(w, mb->mb_display_name);
	char *addr = addr_clean(mb->mb_addr_spec);
	int r = 0;

	if (!name && !addr)
		return;
	if (b->len)
		r |= ktd_buf_add_str(b, ", ");
	if (name && addr)
		r |= ktd_buf_printf(b, "%s <%s>", name, addr);
	else
		r |= ktd_buf_add_str(b, name ? name : addr);
	if (r < 0 && !w->said_text)
		problem(w, "address list cut");
	ktd_free(&name);
	ktd_free(&addr);
}

static char *addr_list(struct walk *w, const struct mailimf_address_list *al)
{
	struct ktd_buf b;
	clistiter *it;

	if (!al || !al->ad_list)
		return NULL;
	ktd_buf_init(&b, 64 * 1024);
	for (it = clist_begin(al->ad_list); it; it = clist_next(it)) {
		const struct mailimf_address *a = clist_content(it);

		if (a->ad_type == MAILIMF_ADDRESS_MAILBOX &&
		    a->ad_data.ad_mailbox)
			addr_join(w, &b, a->ad_data.ad_mailbox);
		else if (a->ad_type == MAILIMF_ADDRESS_GROUP &&
		         a->ad_data.ad_group &&
		         a->ad_data.ad_group->grp_mb_list) {
			clistiter *j;

			for (j = clist_begin(
			             a->ad_data.ad_group->grp_mb_list->mb_list);
			     j; j = clist_next(j))
				addr_join(w, &b, clist_content(j));
		}
	}
	if (!b.len) {
		ktd_buf_deinit(&b);
		return NULL;
	}
	return ktd_buf_steal(&b, NULL);
}

/* From when libetpan could not parse it: "<addr>" or a word with '@',
 * and the name before the '<'. */
static void from_fallback(struct walk *w, const char *v,
                          struct ch_mime_address *a)
{
	const char *lt = strchr(v, '<');
	const char *gt = lt ? strchr(lt, '>') : NULL;

	if (lt && gt) {
		char *t = ktd_strndup(lt + 1, (size_t)(gt - lt - 1));

		a->addr = addr_clean(t);
		ktd_free(&t);
		t = ktd_strndup(v, (size_t)(lt - v));
		a->name = name_clean(w, t);
		ktd_free(&t);
	} else {
		const char *at = strchr(v, '@');

		if (at) {
			const char *b = at, *e = at;

			while (b > v && b[-1] != ' ' && b[-1] != '\t')
				b--;
			while (*e && *e != ' ' && *e != '\t')
				e++;
			{
				char *t = ktd_strndup(b, (size_t)(e - b));

				a->addr = addr_clean(t);
				ktd_free(&t);
			}
		}
	}
	if (!a->addr)
		problem(w, "unreadable From header");
}

static char *date_rfc3339(const struct mailimf_date_time *d)
{
	struct tm tm;
	time_t t;
	int year = d->dt_year, zone = d->dt_zone, zh, zm;
	char out[32];

	if (year < 50)
		year += 2000;
	else if (year < 1000)
		year += 1900;
	zh = (zone < 0 ? -zone : zone) / 100;
	zm = (zone < 0 ? -zone : zone) % 100;
	if (year < 1900 || year > 9999 || d->dt_month < 1 || d->dt_month > 12 ||
	    d->dt_day < 1 || d->dt_day > 31 || d->dt_hour < 0 ||
	    d->dt_hour > 23 || d->dt_min < 0 || d->dt_min > 59 ||
	    d->dt_sec < 0 || d->dt_sec > 60 || zh > 23 || zm > 59)
		return NULL;
	{
		static const int mdays[] = {31, 29, 31, 30, 31, 30,
		                            31, 31, 30, 31, 30, 31};
		bool leap =
		        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

		if (d->dt_day > mdays[d->dt_month - 1] ||
		    (d->dt_month == 2 && d->dt_day == 29 && !leap))
			return NULL;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = d->dt_month - 1;
	tm.tm_mday = d->dt_day;
	tm.tm_hour = d->dt_hour;
	tm.tm_min = d->dt_min;
	tm.tm_sec = d->dt_sec > 59 ? 59 : d->dt_sec;
	t = timegm(&tm);
	t -= (time_t)(zone < 0 ? -1 : 1) * (zh * 3600 + zm * 60);
	if (!gmtime_r(&t, &tm) ||
	    strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return NULL;
	return ktd_strdup(out);
}

/* The address inside a Return-Path value; "" for the null path "<>". */
static char *return_path(const char *v)
{
	const char *lt = strchr(v, '<');
	const char *gt = lt ? strchr(lt, '>') : NULL;
	char *t, *a;

	if (lt && gt)
		t = ktd_strndup(lt + 1, (size_t)(gt - lt - 1));
	else
		t = ktd_strdup(v);
	a = addr_clean(t);
	ktd_free(&t);
	return a ? a : ktd_strdup("");
}

static void set_once(char **dst, char *v)
{
	if (*dst || !v) {
		ktd_free(&v);
		return;
	}
	*dst = v;
}

/* The RFC 5322 fields of a message (or a forwarded one) into m. *date_raw_r
 * (may be NULL) gets the Date as written, decoded. */
static void fields_read(struct walk *w, const struct mailimf_fields *f,
                        struct ch_mime_message *m, char **date_raw_r)
{
	clistiter *it;
	bool have_refs = false;

	if (!f || !f->fld_list)
		return;
	for (it = clist_begin(f->fld_list); it; it = clist_next(it)) {
		const struct mailimf_field *fl = clist_content(it);

		switch (fl->fld_type) {
		case MAILIMF_FIELD_ORIG_DATE:
			if (fl->fld_data.fld_orig_date &&
			    fl->fld_data.fld_orig_date->dt_date_time &&
			    !m->date)
				m->date =
				        date_rfc3339(fl->fld_data.fld_orig_date
				                             ->dt_date_time);
			if (!m->date)
				problem(w, "unreadable Date header");
			break;
		case MAILIMF_FIELD_FROM:
			if (!m->from.addr && !m->from.name &&
			    fl->fld_data.fld_from &&
			    fl->fld_data.fld_from->frm_mb_list &&
			    clist_begin(fl->fld_data.fld_from->frm_mb_list
			                        ->mb_list)) {
				const struct mailimf_mailbox *mb =
				        clist_content(clist_begin(
				                fl->fld_data.fld_from
				                        ->frm_mb_list
				                        ->mb_list));

				m->from.name =
				        name_clean(w, mb->mb_display_name);
				m->from.addr = addr_clean(mb->mb_addr_spec);
			}
			break;
		case MAILIMF_FIELD_REPLY_TO:
			if (fl->fld_data.fld_reply_to && !m->reply_to) {
				const struct mailimf_address_list *al =
				        fl->fld_data.fld_reply_to->rt_addr_list;
				const struct mailimf_address *a =
				        al && al->ad_list &&
				                        clist_begin(al->ad_list)
				                ? clist_content(clist_begin(
				                          al->ad_list))
				                : NULL;

				if (a &&
				    a->ad_type == MAILIMF_ADDRESS_MAILBOX &&
				    a->ad_data.ad_mailbox)
					m->reply_to = addr_clean(
					        a->ad_data.ad_mailbox
					                ->mb_addr_spec);
			}
			break;
		case MAILIMF_FIELD_TO:
			if (fl->fld_data.fld_to)
				set_once(&m->to,
				         addr_list(w, fl->fld_data.fld_to
				                              ->to_addr_list));
			break;
		case MAILIMF_FIELD_CC:
			if (fl->fld_data.fld_cc)
				set_once(&m->cc,
				         addr_list(w, fl->fld_data.fld_cc
				                              ->cc_addr_list));
			break;
		case MAILIMF_FIELD_MESSAGE_ID:
			if (fl->fld_data.fld_message_id &&
			    fl->fld_data.fld_message_id->mid_value) {
				const char *v =
				        fl->fld_data.fld_message_id->mid_value;

				set_once(&m->message_id,
				         id_clean(v, strlen(v)));
			}
			break;
		case MAILIMF_FIELD_IN_REPLY_TO:
			if (fl->fld_data.fld_in_reply_to &&
			    fl->fld_data.fld_in_reply_to->mid_list &&
			    clist_begin(
			            fl->fld_data.fld_in_reply_to->mid_list)) {
				const char *v = clist_content(clist_begin(
				        fl->fld_data.fld_in_reply_to
				                ->mid_list));

				set_once(&m->in_reply_to,
				         id_clean(v, strlen(v)));
			}
			break;
		case MAILIMF_FIELD_REFERENCES:
			if (!have_refs && fl->fld_data.fld_references &&
			    fl->fld_data.fld_references->mid_list) {
				clist *l =
				        fl->fld_data.fld_references->mid_list;
				clistiter *j;
				size_t n = 0;

				have_refs = true;
				m->references = ktd_calloc(MAX_REFERENCES,
				                           sizeof(char *));
				for (j = clist_begin(l); j; j = clist_next(j)) {
					const char *v = clist_content(j);
					char *id = id_clean(v, strlen(v));

					if (!id)
						continue;
					if (n == MAX_REFERENCES) {
						ktd_free(&m->references[0]);
						memmove(m->references,
						        m->references + 1,
						        (n - 1) *
						                sizeof(char *));
						n--;
					}
					m->references[n++] = id;
				}
				m->n_references = n;
			}
			break;
		case MAILIMF_FIELD_SUBJECT:
			if (fl->fld_data.fld_subject)
				set_once(&m->subject,
				         hdr(w, "Subject",
				             fl->fld_data.fld_subject
				                     ->sbj_value));
			break;
		case MAILIMF_FIELD_RETURN_PATH:
			if (fl->fld_data.fld_return_path &&
			    fl->fld_data.fld_return_path->ret_path) {
				const char *a =
				        fl->fld_data.fld_return_path->ret_path
				                ->pt_addr_spec;

				set_once(&m->return_path,
				         a ? return_path(a) : ktd_strdup(""));
			}
			break;
		case MAILIMF_FIELD_OPTIONAL_FIELD: {
			const struct mailimf_optional_field *o =
			        fl->fld_data.fld_optional_field;
			const char *n, *v;

			if (!o || !o->fld_name || !o->fld_value)
				break;
			n = o->fld_name;
			v = o->fld_value;
			if (!strcasecmp(n, "Return-Path")) {
				set_once(&m->return_path, return_path(v));
			} else if (!strcasecmp(n, "Auto-Submitted")) {
				set_once(&m->auto_submitted,
				         hdr(w, "Auto-Submitted", v));
			} else if (!strcasecmp(n, "Precedence")) {
				set_once(&m->precedence,
				         hdr(w, "Precedence", v));
			} else if (!strcasecmp(n, "List-Id")) {
				set_once(&m->list_id, hdr(w, "List-Id", v));
			} else if (!strcasecmp(n, "Subject")) {
				set_once(&m->subject, hdr(w, "Subject", v));
			} else if (!strcasecmp(n, "From")) {
				if (!m->from.addr && !m->from.name)
					from_fallback(w, v, &m->from);
			} else if (!strcasecmp(n, "Date")) {
				if (!m->date)
					problem(w, "unreadable Date header");
				if (date_raw_r && !*date_raw_r)
					*date_raw_r = hdr(w, "Date", v);
			} else if (!strcasecmp(n, "Message-ID")) {
				char *id[1] = {NULL};

				if (ids_scan(v, id, 1))
					set_once(&m->message_id, id[0]);
			} else if (!strcasecmp(n, "In-Reply-To")) {
				char *id[1] = {NULL};

				if (ids_scan(v, id, 1))
					set_once(&m->in_reply_to, id[0]);
			} else if (!strcasecmp(n, "References") && !have_refs) {
				have_refs = true;
				m->references = ktd_calloc(MAX_REFERENCES,
				                           sizeof(char *));
				m->n_references = ids_scan(v, m->references,
				                           MAX_REFERENCES);
			}
			break;
		}
		default:
			break;
		}
	}
	if (!m->n_references)
		ktd_free(&m->references);
}

/* --- MIME fields ------------------------------------------------------- */

/* "type/subtype", lower case; text/plain when there is none. */
static char *content_type(const struct mailmime_content *ct)
{
	const char *type = "text";
	char buf[128];
	char *s;
	size_t i;

	if (!ct || !ct->ct_type || !ct->ct_subtype)
		return ktd_strdup("text/plain");
	if (ct->ct_type->tp_type == MAILMIME_TYPE_DISCRETE_TYPE &&
	    ct->ct_type->tp_data.tp_discrete_type) {
		const struct mailmime_discrete_type *d =
		        ct->ct_type->tp_data.tp_discrete_type;
		static const char *const names[] = {
		        "application", "text",  "image",
		        "audio",       "video", "application",
		};

		if (d->dt_type == MAILMIME_DISCRETE_TYPE_EXTENSION)
			type = d->dt_extension ? d->dt_extension
			                       : "application";
		else if (d->dt_type >= 0 && d->dt_type < 6)
			type = names[d->dt_type];
	} else if (ct->ct_type->tp_type == MAILMIME_TYPE_COMPOSITE_TYPE &&
	           ct->ct_type->tp_data.tp_composite_type) {
		const struct mailmime_composite_type *c =
		        ct->ct_type->tp_data.tp_composite_type;

		if (c->ct_type == MAILMIME_COMPOSITE_TYPE_MESSAGE)
			type = "message";
		else if (c->ct_type == MAILMIME_COMPOSITE_TYPE_MULTIPART)
			type = "multipart";
		else
			type = c->ct_token ? c->ct_token : "application";
	}
	snprintf(buf, sizeof(buf), "%s/%s", type, ct->ct_subtype);
	s = lower_dup(buf);
	for (i = 0; s[i]; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7F ||
		    strchr("()<>@,;:\\\"[]?=", s[i]))
			break;
	if (s[i] || !strchr(s, '/')) {
		ktd_free(&s);
		s = ktd_strdup("application/octet-stream");
	}
	return s;
}

/* One parameter (name, value) of Content-Type or Content-Disposition. */
struct param {
	const char *name;
	const char *value;
};

static size_t ct_params(const struct mailmime_content *ct, struct param *p,
                        size_t max)
{
	clistiter *it;
	size_t n = 0;

	if (!ct || !ct->ct_parameters)
		return 0;
	for (it = clist_begin(ct->ct_parameters); it && n < max;
	     it = clist_next(it)) {
		const struct mailmime_parameter *pa = clist_content(it);

		if (pa && pa->pa_name && pa->pa_value) {
			p[n].name = pa->pa_name;
			p[n].value = pa->pa_value;
			n++;
		}
	}
	return n;
}

static const struct mailmime_disposition *
disposition(const struct mailmime_fields *f)
{
	clistiter *it;

	if (!f || !f->fld_list)
		return NULL;
	for (it = clist_begin(f->fld_list); it; it = clist_next(it)) {
		const struct mailmime_field *fl = clist_content(it);

		if (fl->fld_type == MAILMIME_FIELD_DISPOSITION)
			return fl->fld_data.fld_disposition;
	}
	return NULL;
}

static size_t dsp_params(const struct mailmime_disposition *d, struct param *p,
                         size_t max)
{
	clistiter *it;
	size_t n = 0;

	if (!d || !d->dsp_parms)
		return 0;
	for (it = clist_begin(d->dsp_parms); it && n < max;
	     it = clist_next(it)) {
		const struct mailmime_disposition_parm *pa = clist_content(it);

		if (pa->pa_type == MAILMIME_DISPOSITION_PARM_FILENAME &&
		    pa->pa_data.pa_filename) {
			p[n].name = "filename";
			p[n].value = pa->pa_data.pa_filename;
			n++;
		} else if (pa->pa_type == MAILMIME_DISPOSITION_PARM_PARAMETER &&
		           pa->pa_data.pa_parameter &&
		           pa->pa_data.pa_parameter->pa_name &&
		           pa->pa_data.pa_parameter->pa_value) {
			p[n].name = pa->pa_data.pa_parameter->pa_name;
			p[n].value = pa->pa_data.pa_parameter->pa_value;
			n++;
		}
	}
	return n;
}

static const char *mime_field_id(const struct mailmime_fields *f)
{
	clistiter *it;

	if (!f || !f->fld_list)
		return NULL;
	for (it = clist_begin(f->fld_list); it; it = clist_next(it)) {
		const struct mailmime_field *fl = clist_content(it);

		if (fl->fld_type == MAILMIME_FIELD_ID)
			return fl->fld_data.fld_id;
	}
	return NULL;
}

static const struct mailmime_mechanism *
mime_encoding(const struct mailmime_fields *f)
{
	clistiter *it;

	if (!f || !f->fld_list)
		return NULL;
	for (it = clist_begin(f->fld_list); it; it = clist_next(it)) {
		const struct mailmime_field *fl = clist_content(it);

		if (fl->fld_type == MAILMIME_FIELD_TRANSFER_ENCODING)
			return fl->fld_data.fld_encoding;
	}
	return NULL;
}

static size_t unquote_len(const char **v)
{
	const char *s = *v;
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		*v = s + 1;
		return n - 2;
	}
	return n;
}

/* The value of parameter name, RFC 2231 aware: "name*" (charset'lang'
 * percent-encoded), continuations "name*0", "name*1*", ... in any order;
 * else the plain "name" (which mailers also fill with RFC 2047 encoded
 * words or raw 8-bit text). libetpan 1.9 hands the RFC 2231 pieces over
 * as separate parameters, so they are put together here. A new UTF-8
 * string or NULL. */
static char *param_value(struct walk *w, const char *where,
                         const struct param *p, size_t n, const char *name)
{
	const char *seg[MAX_PARAM_SEGMENTS] = {NULL};
	bool ext[MAX_PARAM_SEGMENTS] = {false};
	const char *plain = NULL;
	size_t nl = strlen(name), i, nseg = 0;
	struct ktd_buf bytes;
	char charset[41] = "";
	char *conv, *out;
	size_t clen;
	unsigned flags = 0;
	const char *used;

	for (i = 0; i < n; i++) {
		const char *pn = p[i].name;
		unsigned idx = 0;
		bool e = false;
		const char *q;

		if (strncasecmp(pn, name, nl))
			continue;
		q = pn + nl;
		if (!*q) {
			plain = p[i].value;
			continue;
		}
		if (*q++ != '*')
			continue;
		if (!*q) {
			e = true;
		} else {
			uint32_t v = 0;
			char num[8];
			size_t k = 0;

			while (q[k] >= '0' && q[k] <= '9' &&
			       k < sizeof(num) - 1) {
				num[k] = q[k];
				k++;
			}
			num[k] = '\0';
			if (!k || ktd_parse_u32(num, &v) < 0 ||
			    v >= MAX_PARAM_SEGMENTS)
				continue;
			q += k;
			if (*q == '*') {
				e = true;
				q++;
			}
			if (*q)
				continue;
			idx = v;
		}
		seg[idx] = p[i].value;
		ext[idx] = e;
	}
	while (nseg < MAX_PARAM_SEGMENTS && seg[nseg])
		nseg++;
	if (!nseg) {
		if (!plain)
			return NULL;
		{
			const char *v = plain;
			size_t vl = unquote_len(&v);
			char *t = ktd_strndup(v, vl);

			out = ch_mime_header_decode(t, vl, &flags);
			ktd_free(&t);
		}
		if (flags)
			charset_problem(w, where, NULL, flags, NULL);
		return out;
	}
	ktd_buf_init(&bytes, 64 * 1024);
	for (i = 0; i < nseg; i++) {
		const char *v = seg[i];
		size_t vl = unquote_len(&v), k;

		if (i == 0 && ext[0]) {
			/* charset'language'value */
			const char *a = memchr(v, '\'', vl);
			const char *b = a ? memchr(a + 1, '\'',
			                           vl - (size_t)(a + 1 - v))
			                  : NULL;

			if (a && b) {
				size_t cl = (size_t)(a - v);

				if (cl >= sizeof(charset))
					cl = sizeof(charset) - 1;
				memcpy(charset, v, cl);
				charset[cl] = '\0';
				vl -= (size_t)(b + 1 - v);
				v = b + 1;
			}
		}
		for (k = 0; k < vl; k++) {
			char c = v[k];

			if (ext[i] && c == '%' && k + 2 < vl) {
				int hi = ktd_hex_digit((unsigned char)v[k + 1]),
				    lo = ktd_hex_digit((unsigned char)v[k + 2]);

				if (hi >= 0 && lo >= 0) {
					c = (char)(hi * 16 + lo);
					k += 2;
				}
			}
			if (ktd_buf_add(&bytes, &c, 1) < 0)
				break;
		}
	}
	conv = ch_mime_charset_to_utf8(charset[0] ? charset : NULL,
	                               bytes.data ? bytes.data : "", bytes.len,
	                               &clen, &flags, &used);
	ktd_buf_deinit(&bytes);
	/* a non-extended value may still hold encoded words */
	out = ch_mime_header_decode(conv, clen, &flags);
	ktd_free(&conv);
	if (flags)
		charset_problem(w, where, charset, flags, used);
	return out;
}

/* A file name safe to show and to save: no path separators, control or
 * bidirectional-override characters, no leading dots or blanks, at most
 * MAX_FILENAME bytes (the extension kept). */
static char *filename_clean(const char *in, size_t idx, const char *ctype)
{
	struct ktd_buf b;
	const unsigned char *s = (const unsigned char *)(in ? in : "");
	size_t i = 0;
	char *out;
	size_t len;

	ktd_buf_init(&b, strlen((const char *)s) + 16);
	while (s[i] == ' ' || s[i] == '.')
		i++;
	for (; s[i]; i++) {
		char c = (char)s[i];

		if (s[i] < 0x20 || s[i] == 0x7F || c == '/' || c == '\\') {
			c = '_';
		} else if (s[i] == 0xC2 && s[i + 1] >= 0x80 &&
		           s[i + 1] < 0xA0) {
			i++;
			c = '_';
		} else if (s[i] == 0xE2 && s[i + 1] == 0x80 &&
		           s[i + 2] >= 0xAA && s[i + 2] <= 0xAE) {
			i += 2;
			c = '_';
		} else if (s[i] == 0xE2 && s[i + 1] == 0x81 &&
		           s[i + 2] >= 0xA6 && s[i + 2] <= 0xA9) {
			i += 2;
			c = '_';
		}
		if (ktd_buf_add(&b, &c, 1) < 0)
			break;
	}
	out = ktd_buf_steal(&b, &len);
	while (len > 0 && (out[len - 1] == ' ' || out[len - 1] == '.'))
		out[--len] = '\0';
	if (len > MAX_FILENAME) {
		const char *dot = strrchr(out, '.');
		size_t ext = dot ? strlen(dot) : 0;
		size_t keep;

		if (ext > 16)
			ext = 0;
		keep = ktd_utf8_cut(out, MAX_FILENAME - ext);
		if (ext)
			memmove(out + keep, dot, ext + 1);
		else
			out[keep] = '\0';
		len = strlen(out);
	}
	if (!len) {
		static const struct {
			const char *type, *ext;
		} exts[] = {
		        {"application/pdf", ".pdf"},
		        {"image/jpeg", ".jpg"},
		        {"image/png", ".png"},
		        {"image/gif", ".gif"},
		        {"text/plain", ".txt"},
		        {"text/html", ".html"},
		        {"message/rfc822", ".eml"},
		        {"text/calendar", ".ics"},
		        {"message/delivery-status", ".txt"},
		        {"text/rfc822-headers", ".txt"},
		};
		const char *e = "";

		for (i = 0; i < KTD_N_ELEMENTS(exts); i++)
			if (!strcmp(ctype, exts[i].type))
				e = exts[i].ext;
		ktd_free(&out);
		out = ktd_strdup_printf("attachment-%zu%s", idx, e);
	}
	return out;
}

/* --- bodies ------------------------------------------------------------ */

/* Characters a base64 body may hold. */
static bool base64_ok(const char *s, size_t n)
{
	size_t i, sig = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/')
			sig++;
		else if (c == '=')
			sig++;
		else if (c != '\r' && c != '\n' && c != ' ' && c != '\t')
			return false;
	}
	return sig % 4 == 0;
}

/* The body of a single part with its transfer encoding undone, into
 * *data_r (ktd_malloc'd, NUL-terminated) and *len_r. max: a decoded size
 * beyond which nothing is decoded (returns 1). Returns 0, 1, or -1 when
 * libetpan ran out of memory. */
static int body_decode(struct walk *w, const struct mailmime *m,
                       const char *where, size_t max, char **data_r,
                       size_t *len_r)
{
	const struct mailmime_data *d = m->mm_data.mm_single;
	const struct mailmime_mechanism *mech =
	        mime_encoding(m->mm_mime_fields);
	int enc = mech ? mech->enc_type : MAILMIME_MECHANISM_8BIT;
	const char *src;
	size_t slen, est, idx = 0;
	char *dec = NULL;
	size_t dlen = 0;
	int r;

	*data_r = NULL;
	*len_r = 0;
	if (!d || d->dt_type != MAILMIME_DATA_TEXT) {
		*data_r = ktd_strdup("");
		return 0;
	}
	src = d->dt_data.dt_text.dt_data;
	slen = d->dt_data.dt_text.dt_length;
	if (enc == MAILMIME_MECHANISM_TOKEN ||
	    enc == MAILMIME_MECHANISM_ERROR) {
		char *name = ch_mime_charset_name(
		        mech && mech->enc_token ? mech->enc_token : "");

		problem(w, "%s: unknown transfer encoding %s, taken as is",
		        where, name);
		ktd_free(&name);
		enc = MAILMIME_MECHANISM_8BIT;
	}
	est = enc == MAILMIME_MECHANISM_BASE64             ? slen / 4 * 3
	      : enc == MAILMIME_MECHANISM_QUOTED_PRINTABLE ? slen / 3
	                                                   : slen;
	if (est > max) {
		*len_r = est;
		return 1;
	}
	if (enc == MAILMIME_MECHANISM_BASE64 && !base64_ok(src, slen))
		problem(w, "%s: invalid base64, decoded what could be read",
		        where);
	if (enc != MAILMIME_MECHANISM_BASE64 &&
	    enc != MAILMIME_MECHANISM_QUOTED_PRINTABLE) {
		*data_r = ktd_strndup(src, slen);
		*len_r = slen;
		return 0;
	}
	r = mailmime_part_parse(src, slen, &idx, enc, &dec, &dlen);
	if (r == MAILIMF_ERROR_MEMORY) {
		w->err = -1;
		return -1;
	}
	if (r != MAILIMF_NO_ERROR || !dec) {
		problem(w, "%s: body could not be decoded", where);
		*data_r = ktd_strdup("");
		if (dec)
			mailmime_decoded_part_free(dec);
		return 0;
	}
	if (dlen > max) {
		mailmime_decoded_part_free(dec);
		*len_r = dlen;
		return 1;
	}
	*data_r = ktd_strndup(dec, dlen);
	*len_r = dlen;
	mailmime_decoded_part_free(dec);
	return 0;
}

/* LF line endings; the text is valid UTF-8 without NUL already. */
static void lf_only(char *s, size_t *len)
{
	size_t i, o = 0;

	for (i = 0; i < *len; i++) {
		if (s[i] == '\r') {
			s[o++] = '\n';
			if (i + 1 < *len && s[i + 1] == '\n')
				i++;
		} else {
			s[o++] = s[i];
		}
	}
	s[o] = '\0';
	*len = o;
}

/* Appends one piece of text to t, a blank line after what is there;
 * trailing blank lines of the piece are dropped. Cuts at the text limit
 * (on a character boundary). */
static void text_add(struct walk *w, struct ktd_buf *t, const char *s, size_t n)
{
	size_t room;

	while (n > 0 &&
	       (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	while (n > 0 && s[0] == '\n') {
		s++;
		n--;
	}
	if (!n)
		return;
	if (t->len && ktd_buf_add(t, "\n\n", 2) < 0)
		n = 0;
	room = t->max - t->len;
	if (n > room) {
		n = ktd_utf8_cut(s, room);
		if (!w->said_text) {
			w->said_text = true;
			problem(w, "text cut at %zu bytes", t->max);
		}
	}
	if (ktd_buf_add(t, s, n) < 0)
		ktd_panic("ch_mime: text buffer");
}

static void attachment_add(struct walk *w, const struct mailmime *m,
                           const char *where, const char *ctype)
{
	struct ch_mime_message *msg = w->msg;
	struct param p[64];
	size_t np;
	const struct mailmime_disposition *d = disposition(m->mm_mime_fields);
	char *name = NULL, *data = NULL;
	size_t len = 0, remaining;
	struct ch_mime_attachment *a;
	unsigned char hash[crypto_hash_sha256_BYTES];
	int r;
	size_t i;

	np = dsp_params(d, p, KTD_N_ELEMENTS(p));
	name = param_value(w, where, p, np, "filename");
	if (!name || !*name) {
		ktd_free(&name);
		np = ct_params(m->mm_content_type, p, KTD_N_ELEMENTS(p));
		name = param_value(w, where, p, np, "name");
	}
	remaining = w->lim.max_attachments - w->att_bytes;
	r = body_decode(w, m, where, remaining, &data, &len);
	if (r < 0) {
		ktd_free(&name);
		return;
	}
	{
		char *clean =
		        filename_clean(name, msg->n_attachments + 1, ctype);

		ktd_free(&name);
		name = clean;
	}
	if (r == 1) {
		/* said once, at the end: there may be hundreds */
		if (!w->att_dropped++) {
			char shown[48];

			ktd_strlcpy(shown, name, sizeof(shown));
			shown[ktd_utf8_cut(shown, strlen(shown))] = '\0';
			snprintf(w->att_first, sizeof(w->att_first),
			         "%s, %s, about %zu bytes", where, shown, len);
		}
		ktd_free(&name);
		return;
	}
	if (msg->n_attachments == w->att_cap) {
		w->att_cap = w->att_cap ? w->att_cap * 2 : 4;
		msg->attachments =
		        ktd_realloc(msg->attachments, w->att_cap * sizeof(*a));
	}
	a = &msg->attachments[msg->n_attachments++];
	memset(a, 0, sizeof(*a));
	a->filename = name;
	a->content_type = ktd_strdup(ctype);
	a->data = (unsigned char *)data;
	a->size = len;
	w->att_bytes += len;
	crypto_hash_sha256(hash, a->data, len);
	for (i = 0; i < sizeof(hash); i++)
		snprintf(a->sha256 + 2 * i, 3, "%02x", hash[i]);
	a->is_inline = mime_field_id(m->mm_mime_fields) &&
	               !(d && d->dsp_type &&
	                 d->dsp_type->dsp_type ==
	                         MAILMIME_DISPOSITION_TYPE_ATTACHMENT);
}

static int walk(struct walk *w, struct mailmime *m, unsigned depth,
                const char *path, struct ktd_buf *t, bool *plain_r);

/* RFC 3676 format=flowed undone: a line ending in a space continues in
 * the next one of the same quote depth (the space dropped with
 * DelSp=yes); space-stuffing is removed; "-- " (the signature mark)
 * never flows. Quoted lines come out as ">> text". Returns a new string
 * (LF line ends in, LF out). */
static char *unflow(const char *s, size_t len, bool delsp, size_t *len_r)
{
	struct ktd_buf b;
	size_t pos = 0;
	int open_depth = -1; /* depth of the paragraph being joined; -1 */

	ktd_buf_init(&b, len * 2 + 16);
	while (pos < len) {
		const char *eol = memchr(s + pos, '\n', len - pos);
		size_t end = eol ? (size_t)(eol - s) : len;
		const char *l = s + pos;
		size_t n = end - pos, k;
		int depth = 0;
		bool flowed;
		int r = 0;

		while (n > 0 && *l == '>') {
			depth++;
			l++;
			n--;
		}
		if (n > 0 && *l == ' ') {
			l++;
			n--;
		}
		flowed = n > 0 && l[n - 1] == ' ' &&
		         !(n == 3 && !memcmp(l, "-- ", 3));
		if (open_depth >= 0 && open_depth != depth) {
			/* a quote depth change ends the paragraph */
			r |= ktd_buf_add(&b, "\n", 1);
			open_depth = -1;
		}
		if (open_depth < 0 && depth > 0) {
			for (k = 0; k < (size_t)depth; k++)
				r |= ktd_buf_add(&b, ">", 1);
			r |= ktd_buf_add(&b, " ", 1);
		}
		if (flowed && delsp)
			n--;
		r |= ktd_buf_add(&b, l, n);
		if (flowed) {
			open_depth = depth;
		} else {
			open_depth = -1;
			if (eol)
				r |= ktd_buf_add(&b, "\n", 1);
		}
		if (r < 0)
			ktd_panic("ch_mime: unflow buffer");
		pos = eol ? end + 1 : len;
	}
	return ktd_buf_steal(&b, len_r);
}

static void single_text(struct walk *w, const struct mailmime *m,
                        const char *where, bool html, struct ktd_buf *t,
                        bool *plain_r)
{
	struct param p[64];
	size_t np = ct_params(m->mm_content_type, p, KTD_N_ELEMENTS(p));
	char *charset = param_value(w, where, p, np, "charset");
	char *data = NULL, *u;
	size_t len = 0, ulen;
	unsigned flags = 0;
	const char *used;
	int r;

	/* a text part is decoded whole; the limit applies to what is kept,
	 * the input is bounded by the caller's message size */
	r = body_decode(w, m, where, SIZE_MAX, &data, &len);
	if (r != 0) {
		ktd_free(&charset);
		return;
	}
	u = ch_mime_charset_to_utf8(charset, data, len, &ulen, &flags, &used);
	ktd_free(&data);
	if (flags)
		charset_problem(w, where, charset, flags, used);
	ktd_free(&charset);
	lf_only(u, &ulen);
	/* a byte order mark is no text */
	if (ulen >= 3 && !memcmp(u, "\xEF\xBB\xBF", 3)) {
		memmove(u, u + 3, ulen - 2);
		ulen -= 3;
	}
	if (!html) {
		char *format = param_value(w, where, p, np, "format");
		char *delsp = param_value(w, where, p, np, "delsp");

		if (format && !strcasecmp(format, "flowed")) {
			size_t flen;
			char *f = unflow(u, ulen,
			                 delsp && !strcasecmp(delsp, "yes"),
			                 &flen);

			ktd_free(&u);
			u = f;
			ulen = flen;
		}
		ktd_free(&format);
		ktd_free(&delsp);
	}
	if (html) {
		char *txt;

		if (!w->have_html) {
			w->have_html = true;
			if (ulen > w->html.max) {
				ulen = ktd_utf8_cut(u, w->html.max);
				problem(w, "%s: HTML cut at %zu bytes", where,
				        w->html.max);
			}
			if (ktd_buf_add(&w->html, u, ulen) < 0)
				ktd_panic("ch_mime: html buffer");
		}
		txt = ch_mime_html_to_text(u, ulen);
		text_add(w, t, txt, strlen(txt));
		ktd_free(&txt);
	} else {
		text_add(w, t, u, ulen);
		if (ulen)
			*plain_r = true;
	}
	ktd_free(&u);
}

static void single(struct walk *w, const struct mailmime *m, const char *where,
                   struct ktd_buf *t, bool *plain_r)
{
	char *ctype = content_type(m->mm_content_type);
	const struct mailmime_disposition *d = disposition(m->mm_mime_fields);
	bool attach =
	        d && d->dsp_type &&
	        d->dsp_type->dsp_type == MAILMIME_DISPOSITION_TYPE_ATTACHMENT;
	bool named = false;

	if (!attach) {
		struct param p[64];
		size_t np = dsp_params(d, p, KTD_N_ELEMENTS(p)), i;

		for (i = 0; i < np; i++)
			if (!strncasecmp(p[i].name, "filename", 8))
				named = true;
		np = ct_params(m->mm_content_type, p, KTD_N_ELEMENTS(p));
		for (i = 0; i < np; i++)
			if (!strncasecmp(p[i].name, "name", 4))
				named = true;
	}
	if (!attach && !named && !strcmp(ctype, "text/plain"))
		single_text(w, m, where, false, t, plain_r);
	else if (!attach && !named && !strcmp(ctype, "text/html"))
		single_text(w, m, where, true, t, plain_r);
	else
		attachment_add(w, m, where, ctype);
	ktd_free(&ctype);
}

/* The boundary parameter of a multipart, unquoted; NULL: none. */
static char *boundary_of(const struct mailmime *m)
{
	struct param p[64];
	size_t np = ct_params(m->mm_content_type, p, KTD_N_ELEMENTS(p)), i;

	for (i = 0; i < np; i++)
		if (!strcasecmp(p[i].name, "boundary")) {
			const char *v = p[i].value;
			size_t bl = unquote_len(&v);

			return bl ? ktd_strndup(v, bl) : NULL;
		}
	return NULL;
}

/* Whether body holds the line "--boundary" (close: "--boundary--"). */
static bool has_delimiter(const struct mailmime_data *body, const char *b,
                          bool close)
{
	const char *s;
	size_t n, bl = strlen(b), i;

	if (!body || body->dt_type != MAILMIME_DATA_TEXT || !bl)
		return false;
	s = body->dt_data.dt_text.dt_data;
	n = body->dt_data.dt_text.dt_length;
	for (i = 0; i + 2 + bl + (close ? 2 : 0) <= n; i++)
		if (s[i] == '-' && s[i + 1] == '-' &&
		    (i == 0 || s[i - 1] == '\n') && !memcmp(s + i + 2, b, bl) &&
		    (!close || !memcmp(s + i + 2 + bl, "--", 2)))
			return true;
	return false;
}

/* A multipart whose body does not use its boundary (or names none):
 * libetpan would make up one part of it; its body is shown as text. */
static void multipart_as_text(struct walk *w, const struct mailmime *m,
                              const char *where, struct ktd_buf *t)
{
	const struct mailmime_data *body = m->mm_body;
	unsigned flags = 0;
	const char *used;
	size_t ulen;
	char *u;

	problem(w, "%s: multipart without its boundary, shown as text", where);
	if (!body || body->dt_type != MAILMIME_DATA_TEXT)
		return;
	u = ch_mime_charset_to_utf8(NULL, body->dt_data.dt_text.dt_data,
	                            body->dt_data.dt_text.dt_length, &ulen,
	                            &flags, &used);
	lf_only(u, &ulen);
	text_add(w, t, u, ulen);
	ktd_free(&u);
}

static void forward_header(struct walk *w, const struct mailimf_fields *f,
                           struct ktd_buf *t)
{
	struct ch_mime_message fw;
	struct walk fwalk = *w;
	char *date_raw = NULL;
	struct ktd_buf b;
	int r = 0;

	memset(&fw, 0, sizeof(fw));
	/* problems in the forwarded headers are the message's too */
	fwalk.msg = &fw;
	fields_read(&fwalk, f, &fw, &date_raw);
	ktd_buf_init(&b, 16 * 1024);
	r |= ktd_buf_add_str(&b, FORWARD_MARK "\n");
	if (fw.from.addr || fw.from.name) {
		if (fw.from.name && fw.from.addr)
			r |= ktd_buf_printf(&b, "Fra: %s <%s>\n", fw.from.name,
			                    fw.from.addr);
		else
			r |= ktd_buf_printf(&b, "Fra: %s\n",
			                    fw.from.addr ? fw.from.addr
			                                 : fw.from.name);
	}
	if (fw.date)
		r |= ktd_buf_printf(&b, "Dato: %s\n", fw.date);
	else if (date_raw)
		r |= ktd_buf_printf(&b, "Dato: %s\n", date_raw);
	if (fw.subject)
		r |= ktd_buf_printf(&b, "Emne: %s\n", fw.subject);
	if (fw.to)
		r |= ktd_buf_printf(&b, "Til: %s\n", fw.to);
	(void)r; /* a cut header line is still a header */
	text_add(w, t, b.data, b.len);
	if (fw.partial)
		problem(w, "forwarded message: %s", fw.problem);
	ktd_buf_deinit(&b);
	ktd_free(&date_raw);
	ch_mime_message_free(&fw);
}

static int walk(struct walk *w, struct mailmime *m, unsigned depth,
                const char *path, struct ktd_buf *t, bool *plain_r)
{
	char where[80];

	if (!m)
		return 0;
	snprintf(where, sizeof(where), "part %s", *path ? path : "1");
	if (++w->parts > w->lim.max_parts) {
		if (!w->said_parts) {
			w->said_parts = true;
			problem(w,
			        "more than %zu MIME parts: the rest left out",
			        w->lim.max_parts);
		}
		return 0;
	}
	if (depth > w->lim.max_depth) {
		if (!w->said_depth) {
			w->said_depth = true;
			problem(w, "%s: nested deeper than %u: left out", where,
			        w->lim.max_depth);
		}
		return 0;
	}
	switch (m->mm_type) {
	case MAILMIME_SINGLE:
		single(w, m, where, t, plain_r);
		return w->err;
	case MAILMIME_MESSAGE:
		forward_header(w, m->mm_data.mm_message.mm_fields, t);
		return walk(w, m->mm_data.mm_message.mm_msg_mime, depth + 1,
		            path, t, plain_r);
	case MAILMIME_MULTIPLE:
		break;
	default:
		return 0;
	}
	{
		clist *l = m->mm_data.mm_multipart.mm_mp_list;
		char *ctype = content_type(m->mm_content_type);
		bool alt = !strcmp(ctype, "multipart/alternative");
		clistiter *it;
		size_t i = 0;
		struct ktd_buf chosen;
		bool chosen_plain = false, have_chosen = false;
		int ret = 0;

		ktd_free(&ctype);
		{
			char *b = boundary_of(m);
			bool used = b && has_delimiter(m->mm_body, b, false);
			bool closed =
			        used && has_delimiter(m->mm_body, b, true);

			ktd_free(&b);
			if (!used) {
				multipart_as_text(w, m, where, t);
				return 0;
			}
			/* libetpan reads a multipart cut before its close
			 * delimiter; say that something may be missing */
			if (!closed)
				problem(w,
				        "%s: multipart not closed (the "
				        "message is cut?)",
				        where);
		}
		if (!l)
			return 0;
		ktd_buf_init(&chosen, t->max);
		for (it = clist_begin(l); it && ret == 0; it = clist_next(it)) {
			char sub[80];
			struct ktd_buf alt_t;
			bool alt_plain = false;

			i++;
			if (snprintf(sub, sizeof(sub), "%s%s%zu", path,
			             *path ? "." : "", i) >= (int)sizeof(sub))
				ktd_strlcpy(sub, "(deep)", sizeof(sub));
			if (!alt) {
				ret = walk(w, clist_content(it), depth + 1, sub,
				           t, plain_r);
				continue;
			}
			/* multipart/alternative: each alternative on its
			 * own; the first plain text one wins, else the
			 * first with any text (all their attachments are
			 * kept: inline images of the HTML) */
			ktd_buf_init(&alt_t, t->max);
			ret = walk(w, clist_content(it), depth + 1, sub, &alt_t,
			           &alt_plain);
			if (alt_t.len &&
			    (!have_chosen || (alt_plain && !chosen_plain))) {
				ktd_buf_deinit(&chosen);
				chosen = alt_t;
				chosen_plain = alt_plain;
				have_chosen = true;
			} else {
				ktd_buf_deinit(&alt_t);
			}
		}
		if (have_chosen) {
			text_add(w, t, chosen.data, chosen.len);
			if (chosen_plain)
				*plain_r = true;
		}
		ktd_buf_deinit(&chosen);
		return ret;
	}
}

/* --- the message ------------------------------------------------------- */

static void limits(struct ch_mime_limits *l, const struct ch_mime_limits *in)
{
	memset(l, 0, sizeof(*l));
	if (in)
		*l = *in;
	if (!l->max_parts)
		l->max_parts = DEF_MAX_PARTS;
	if (!l->max_depth)
		l->max_depth = DEF_MAX_DEPTH;
	if (!l->max_text)
		l->max_text = DEF_MAX_TEXT;
	if (!l->max_attachments)
		l->max_attachments = DEF_MAX_ATTACHMENTS;
}

/* The body as text when libetpan is not given (or fails on) the
 * message. */
static void body_as_text(struct walk *w, const char *s, size_t len,
                         size_t start, struct ktd_buf *t)
{
	unsigned flags = 0;
	const char *used;
	size_t ulen;
	char *u;

	if (start > len)
		start = len;
	if (len - start > t->max * 2)
		len = start + t->max * 2;
	u = ch_mime_charset_to_utf8(NULL, s + start, len - start, &ulen, &flags,
	                            &used);
	lf_only(u, &ulen);
	text_add(w, t, u, ulen);
	ktd_free(&u);
}

int ch_mime_parse(const char *raw, size_t len, const struct ch_mime_limits *lim,
                  struct ch_mime_message *msg_r, struct ktd_error *err)
{
	struct walk w;
	struct ktd_buf text;
	char *s = NULL;
	size_t slen = 0, idx = 0;
	struct mailmime *mime = NULL;
	struct mailimf_fields *fields = NULL;
	bool plain = false;
	int r, ret = -1;

	memset(msg_r, 0, sizeof(*msg_r));
	memset(&w, 0, sizeof(w));
	w.msg = msg_r;
	limits(&w.lim, lim);
	ktd_buf_init(&text, w.lim.max_text);
	ktd_buf_init(&w.html, w.lim.max_text);
	if (!raw)
		len = 0;
	if (len == 0)
		problem(&w, "empty message");
	s = repair(&w, raw ? raw : "", len, &slen);
	flatten_comments(&w, s, slen);

	if (too_many_names(s, slen) ||
	    nesting(s, slen, 2 * (w.lim.max_depth + 8)) >
	            2 * (w.lim.max_depth + 8)) {
		problem(&w,
		        "MIME structure too complex (nested deeper than "
		        "%u, or more than %d nested parts possible): body "
		        "shown as text",
		        w.lim.max_depth + 8, MAX_COMPOSITE_NAMES / 2);
		r = MAILIMF_ERROR_PARSE;
	} else {
		r = mailmime_parse(s, slen, &idx, &mime);
		if (r == MAILIMF_ERROR_MEMORY)
			goto oom;
		if (r == MAILIMF_NO_ERROR &&
		    (!mime || mime->mm_type != MAILMIME_MESSAGE)) {
			r = MAILIMF_ERROR_PARSE;
		}
		if (r != MAILIMF_NO_ERROR)
			problem(&w, "MIME structure unreadable: body shown as "
			            "text");
	}
	if (r == MAILIMF_NO_ERROR) {
		struct mailmime *body = mime->mm_data.mm_message.mm_msg_mime;

		fields_read(&w, mime->mm_data.mm_message.mm_fields, msg_r,
		            NULL);
		if (body && body->mm_type == MAILMIME_MULTIPLE) {
			char *ct = content_type(body->mm_content_type);

			msg_r->is_report = !strcmp(ct, "multipart/report");
			ktd_free(&ct);
		}
		if (walk(&w, body, 1, "", &text, &plain) < 0)
			goto oom;
	} else {
		size_t hidx = 0;

		r = mailimf_envelope_and_optional_fields_parse(s, slen, &hidx,
		                                               &fields);
		if (r == MAILIMF_ERROR_MEMORY)
			goto oom;
		if (r == MAILIMF_NO_ERROR)
			fields_read(&w, fields, msg_r, NULL);
		else
			hidx = 0;
		if (mailimf_crlf_parse(s, slen, &hidx) == MAILIMF_ERROR_MEMORY)
			goto oom;
		body_as_text(&w, s, slen, hidx, &text);
	}
	(void)plain;
	if (w.att_dropped)
		problem(&w,
		        "%zu attachment%s left out: over %zu bytes of "
		        "attachments (the first: %s)",
		        w.att_dropped, w.att_dropped == 1 ? "" : "s",
		        w.lim.max_attachments, w.att_first);
	if (msg_r->n_references == 0)
		ktd_free(&msg_r->references);
	msg_r->text = ktd_buf_steal(&text, NULL);
	if (w.have_html)
		msg_r->html = ktd_buf_steal(&w.html, NULL);
	ret = 0;
	goto out;
oom:
	ret = ktd_error_set(err, KTD_ERR_INTERNAL,
	                    "out of memory parsing a message");
	ch_mime_message_free(msg_r);
out:
	if (fields)
		mailimf_fields_free(fields);
	if (mime)
		mailmime_free(mime);
	ktd_buf_deinit(&text);
	ktd_buf_deinit(&w.html);
	ktd_free(&s);
	return ret;
}

void ch_mime_message_free(struct ch_mime_message *msg)
{
	size_t i;

	if (!msg)
		return;
	ktd_free(&msg->message_id);
	ktd_free(&msg->in_reply_to);
	for (i = 0; i < msg->n_references; i++)
		ktd_free(&msg->references[i]);
	ktd_free(&msg->references);
	ktd_free(&msg->from.name);
	ktd_free(&msg->from.addr);
	ktd_free(&msg->reply_to);
	ktd_free(&msg->to);
	ktd_free(&msg->cc);
	ktd_free(&msg->subject);
	ktd_free(&msg->date);
	ktd_free(&msg->return_path);
	ktd_free(&msg->auto_submitted);
	ktd_free(&msg->precedence);
	ktd_free(&msg->list_id);
	ktd_free(&msg->text);
	ktd_free(&msg->html);
	for (i = 0; i < msg->n_attachments; i++) {
		ktd_free(&msg->attachments[i].filename);
		ktd_free(&msg->attachments[i].content_type);
		ktd_free(&msg->attachments[i].data);
	}
	ktd_free(&msg->attachments);
	memset(msg, 0, sizeof(*msg));
}

/* The first word of a header value, lower case, into out. */
static void first_word(const char *v, char *out, size_t outsz)
{
	size_t n = 0;

	while (*v == ' ' || *v == '\t')
		v++;
	while (*v && *v != ';' && *v != ' ' && *v != '\t' && *v != '(' &&
	       n + 1 < outsz) {
		char c = *v++;

		out[n++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	out[n] = '\0';
}

static bool is_mailer_daemon(const char *addr)
{
	const char *at;

	if (!addr)
		return false;
	at = strchr(addr, '@');
	return (at ? (size_t)(at - addr) : strlen(addr)) == 13 &&
	       !strncasecmp(addr, "mailer-daemon", 13);
}

bool ch_mime_is_automatic(const struct ch_mime_message *msg, const char **why_r)
{
	const char *why = NULL;
	char word[32];

	if (msg->auto_submitted) {
		first_word(msg->auto_submitted, word, sizeof(word));
		if (strcmp(word, "no") != 0)
			why = "auto_submitted";
	}
	if (!why && msg->precedence) {
		first_word(msg->precedence, word, sizeof(word));
		if (!strcmp(word, "bulk") || !strcmp(word, "list") ||
		    !strcmp(word, "junk"))
			why = "precedence";
	}
	if (!why && msg->list_id && *msg->list_id)
		why = "list_id";
	if (!why && msg->return_path &&
	    (!*msg->return_path || is_mailer_daemon(msg->return_path)))
		why = "return_path";
	if (!why && is_mailer_daemon(msg->from.addr))
		why = "mailer_daemon";
	if (!why && msg->is_report)
		why = "report";
	if (why_r)
		*why_r = why;
	return why != NULL;
}
