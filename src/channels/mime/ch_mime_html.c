/* SPDX-License-Identifier: MPL-2.0 */
/* HTML mail made readable text with libxml2's HTML parser (no network, no
 * DTD, no entities but HTML's own; the document's own charset label is
 * ignored: the caller hands UTF-8). The tree is walked without recursion,
 * so a deeply nested document cannot exhaust the stack. */
#include "lib/lib_common.h"

#include <pthread.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "channels/mime/ch_mime.h"
#include "channels/mime/ch_mime_int.h"

/* The text being written: whitespace is collapsed lazily, so that a run
 * of spaces and breaks becomes one space, one line break, or one blank
 * line (at most). */
struct html_out {
	struct ktd_buf b;
	int pending_nl;  /* line breaks owed before the next text */
	bool pending_sp; /* a space owed before the next text */
	bool at_start;   /* nothing written yet */
	int pre;         /* inside <pre>: whitespace kept */
	int list;        /* nesting of ul/ol */
};

static void out_raw(struct html_out *o, const char *s, size_t n)
{
	/* The buffer's maximum only guards against a runaway; text past it
	 * is dropped (the caller cuts to its own limit anyway). */
	if (ktd_buf_add(&o->b, s, n) < 0)
		return;
}

static void out_flush(struct html_out *o)
{
	if (o->at_start) {
		o->pending_nl = 0;
		o->pending_sp = false;
		return;
	}
	if (o->pending_nl > 0) {
		out_raw(o, "\n\n", o->pending_nl > 1 ? 2 : 1);
		o->pending_nl = 0;
		o->pending_sp = false;
	} else if (o->pending_sp) {
		out_raw(o, " ", 1);
		o->pending_sp = false;
	}
}

static void out_break(struct html_out *o, int n)
{
	if (o->pending_nl < n)
		o->pending_nl = n;
}

static void out_text(struct html_out *o, const char *s)
{
	size_t i = 0;

	while (s[i]) {
		unsigned char c = (unsigned char)s[i];
		bool nbsp = c == 0xC2 && (unsigned char)s[i + 1] == 0xA0;

		if (o->pre && c == '\n') {
			out_flush(o);
			out_raw(o, "\n", 1);
			o->at_start = false;
			i++;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		    c == '\f' || nbsp) {
			if (o->pre || nbsp) {
				out_flush(o);
				out_raw(o, " ", 1);
				o->at_start = false;
			} else {
				o->pending_sp = true;
			}
			i += nbsp ? 2 : 1;
			continue;
		}
		out_flush(o);
		o->at_start = false;
		{
			size_t j = i;

			while (s[j] && s[j] != ' ' && s[j] != '\t' &&
			       s[j] != '\n' && s[j] != '\r' && s[j] != '\f' &&
			       !((unsigned char)s[j] == 0xC2 &&
			         (unsigned char)s[j + 1] == 0xA0))
				j++;
			out_raw(o, s + i, j - i);
			i = j;
		}
	}
}

static bool name_is(const xmlNode *n, const char *name)
{
	return n->name && !strcasecmp((const char *)n->name, name);
}

static bool name_in(const xmlNode *n, const char *const *names)
{
	for (; *names; names++)
		if (name_is(n, *names))
			return true;
	return false;
}

/* Elements whose content is not text for a reader. */
static const char *const skipped[] = {
        "script", "style",  "head",  "title", "template", "noscript",
        "object", "iframe", "svg",   "math",  "select",   "button",
        "canvas", "audio",  "video", NULL,
};
/* Elements that begin and end a line. */
static const char *const blocks[] = {
        "div",   "section", "article", "header",  "footer",  "nav",
        "aside", "main",    "address", "center",  "form",    "fieldset",
        "table", "tr",      "ul",      "ol",      "dl",      "dt",
        "dd",    "li",      "pre",     "figure",  "caption", "tbody",
        "thead", "tfoot",   "details", "summary", NULL,
};
/* Elements that stand apart with a blank line. */
static const char *const paragraphs[] = {
        "p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", NULL,
};

static const char *attr(const xmlNode *n, const char *name)
{
	const xmlAttr *a;

	for (a = n->properties; a; a = a->next)
		if (a->name && !strcasecmp((const char *)a->name, name) &&
		    a->children && a->children->type == XML_TEXT_NODE &&
		    a->children->content)
			return (const char *)a->children->content;
	return NULL;
}

/* The text written since mark, to compare a link's text with its target. */
static bool link_text_is(const struct html_out *o, size_t mark,
                         const char *href)
{
	const char *t = o->b.data ? o->b.data + mark : "";
	size_t n = o->b.len - mark;

	if (!strncasecmp(href, "mailto:", 7))
		href += 7;
	while (n > 0 && *t == ' ') {
		t++;
		n--;
	}
	return strlen(href) == n && !strncmp(t, href, n);
}

static void on_enter(struct html_out *o, const xmlNode *n)
{
	if (name_is(n, "br")) {
		out_flush(o);
		if (!o->at_start)
			out_raw(o, "\n", 1);
		o->pending_sp = false;
	} else if (name_is(n, "hr")) {
		out_break(o, 1);
		out_flush(o);
		out_raw(o, "----------", 10);
		o->at_start = false;
		out_break(o, 1);
	} else if (name_is(n, "li")) {
		int i;

		out_break(o, 1);
		out_flush(o);
		o->at_start = false;
		for (i = 1; i < o->list && i < 10; i++)
			out_raw(o, "  ", 2);
		out_raw(o, "- ", 2);
	} else if (name_is(n, "td") || name_is(n, "th")) {
		o->pending_sp = true;
	} else if (name_is(n, "img")) {
		const char *alt = attr(n, "alt");

		if (alt && *alt) {
			o->pending_sp = true;
			out_text(o, alt);
			o->pending_sp = true;
		}
	} else if (name_in(n, paragraphs)) {
		out_break(o, 2);
	} else if (name_in(n, blocks)) {
		out_break(o, 1);
	}
	if (name_is(n, "ul") || name_is(n, "ol"))
		o->list++;
	if (name_is(n, "pre"))
		o->pre++;
}

static void on_leave(struct html_out *o, const xmlNode *n, size_t mark)
{
	if (name_is(n, "a")) {
		const char *href = attr(n, "href");

		if (href && *href && strncasecmp(href, "javascript:", 11) &&
		    href[0] != '#' && !link_text_is(o, mark, href)) {
			bool empty = o->b.len == mark;

			if (!empty)
				o->pending_sp = true;
			out_flush(o);
			o->at_start = false;
			out_raw(o, "<", 1);
			out_raw(o, href, strlen(href));
			out_raw(o, ">", 1);
		}
	} else if (name_in(n, paragraphs)) {
		out_break(o, 2);
	} else if (name_in(n, blocks)) {
		out_break(o, 1);
	}
	if ((name_is(n, "ul") || name_is(n, "ol")) && o->list > 0)
		o->list--;
	if (name_is(n, "pre") && o->pre > 0)
		o->pre--;
}

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
	/* libxml2 initialises itself lazily, which is not thread-safe in
	 * 2.9: do it once, here. */
	xmlInitParser();
}

char *ch_mime_html_to_text(const char *html, size_t len)
{
	struct html_out o;
	htmlDocPtr doc = NULL;
	xmlNode *n;
	/* where each open <a> began in the output: the marks of open links
	 * (nested links are invalid HTML; the parser does not make them) */
	size_t mark = 0;
	char *text, *raw;
	size_t tlen;
	unsigned flags = 0;

	memset(&o, 0, sizeof(o));
	ktd_buf_init(&o.b, len * 2 + 1024);
	o.at_start = true;
	pthread_once(&xml_once, xml_init);
	if (len > 0 && len <= INT32_MAX)
		doc = htmlReadMemory(html, (int)len, NULL, "UTF-8",
		                     HTML_PARSE_NONET | HTML_PARSE_NOERROR |
		                             HTML_PARSE_NOWARNING |
		                             HTML_PARSE_IGNORE_ENC);
	n = doc ? xmlDocGetRootElement(doc) : NULL;
	while (n) {
		bool descend = false;

		if (n->type == XML_TEXT_NODE ||
		    n->type == XML_CDATA_SECTION_NODE) {
			if (n->content)
				out_text(&o, (const char *)n->content);
		} else if (n->type == XML_ELEMENT_NODE &&
		           !name_in(n, skipped)) {
			on_enter(&o, n);
			if (name_is(n, "a"))
				mark = o.b.len;
			descend = n->children != NULL;
			if (!descend)
				on_leave(&o, n, mark);
		}
		if (descend) {
			n = n->children;
			continue;
		}
		/* next sibling, or up until one has a next sibling, leaving
		 * each element on the way */
		while (n && !n->next) {
			n = n->parent;
			if (!n || n->type != XML_ELEMENT_NODE)
				n = NULL;
			else
				on_leave(&o, n, mark);
		}
		if (n)
			n = n->next;
	}
	if (doc)
		xmlFreeDoc(doc);
	raw = ktd_buf_steal(&o.b, &tlen);
	/* libxml2 passes some invalid bytes of its input through: the
	 * result is made valid UTF-8 without NUL whatever came in */
	text = ch_mime_charset_to_utf8("utf-8", raw, tlen, &tlen, &flags, NULL);
	ktd_free(&raw);
	while (tlen > 0 && (text[tlen - 1] == ' ' || text[tlen - 1] == '\n'))
		text[--tlen] = '\0';
	return text;
}
