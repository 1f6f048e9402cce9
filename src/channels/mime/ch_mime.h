/* SPDX-License-Identifier: MPL-2.0 */
/* One Internet message (RFC 5322 + MIME) taken apart for intake: the
 * headers that thread and route it, its text in UTF-8 (HTML-only mail made
 * readable), and its attachments. Built on libetpan's MIME parser, iconv
 * and libxml2's HTML parser. Pure: no database, no network, no globals,
 * safe from any thread.
 *
 * A message that is malformed, too deep or too large still comes back:
 * ch_mime_parse fails only when memory runs out. What could not be read
 * is said in msg->problem (and msg->partial set), so that intake stores a
 * contact that says so, with the raw bytes kept beside it. */
#ifndef KTD_CHANNELS_CH_MIME_H
#define KTD_CHANNELS_CH_MIME_H

#include "lib/lib_common.h"
#include "lib/error.h"

/* Bounds on what one message may cost; zero fields take the defaults. */
struct ch_mime_limits {
	size_t max_parts;       /* MIME parts walked (default 200) */
	unsigned max_depth;     /* nesting of multiparts/message (16) */
	size_t max_text;        /* bytes of text kept (1 MiB) */
	size_t max_attachments; /* bytes of all attachments (25 MiB) */
};

struct ch_mime_address {
	char *name; /* display name, decoded to UTF-8; NULL: none */
	char *addr; /* "local@domain"; NULL: none or unreadable */
};

struct ch_mime_attachment {
	char *filename;     /* UTF-8 (RFC 2231 or 2047 decoded); never
	                     * NULL: "attachment-N" when the part names none;
	                     * no '/', '\\' or control characters */
	char *content_type; /* "type/subtype", lower case */
	unsigned char *data;
	size_t size;
	char sha256[65]; /* hex */
	bool is_inline;  /* has a Content-ID and is not Content-Disposition
	                  * attachment: an image the HTML shows */
};

struct ch_mime_message {
	/* Message-IDs without the angle brackets; NULL when absent. */
	char *message_id;
	char *in_reply_to; /* the first msg-id of In-Reply-To */
	char **references; /* References, oldest first */
	size_t n_references;

	struct ch_mime_address from;
	char *reply_to; /* address of Reply-To; NULL: none */
	char *to;       /* the To addresses, each "Name <addr>" or "addr",
	                 * ", "-joined, UTF-8; NULL: none */
	char *cc;       /* likewise */
	char *subject;  /* decoded (RFC 2047) to UTF-8; NULL: none */
	char *date;     /* Date as RFC 3339 UTC; NULL: none/unreadable */

	/* For mail-loop protection (RFC 3834); the raw header values,
	 * unfolded, NULL when absent. return_path is the address inside
	 * Return-Path: "" for the null sender "<>". */
	char *return_path;
	char *auto_submitted;
	char *precedence;
	char *list_id;
	bool is_report; /* multipart/report (a bounce or receipt) */

	char *text; /* UTF-8 text: text/plain, else the HTML made
	             * readable; "" when the message has none. LF line
	             * ends; parts joined by a blank line; a forwarded
	             * message (message/rfc822) follows its marker line
	             * "---------- Videresendt besked ----------" and its
	             * Fra/Dato/Emne/Til lines. At most max_text bytes. */
	char *html; /* the first HTML part as UTF-8 when there was one
	             * (kept, never served as a page; at most max_text
	             * bytes); NULL: none */

	struct ch_mime_attachment *attachments;
	size_t n_attachments;

	bool partial;      /* something could not be read: see problem;
	                    * set exactly when problem is not "" */
	char problem[300]; /* what and where, e.g. "part 1.2: unknown
	                    * charset x-foo, shown as Windows-1252";
	                    * several joined by "; ", valid UTF-8, cut to
	                    * fit */
};

/* Takes raw (len bytes, not necessarily NUL-terminated) apart into *msg_r
 * (zeroed first; free with ch_mime_message_free). lim NULL: the defaults.
 * raw is the whole message as fetched (IMAP BODY.PEEK[]), CRLF or bare LF
 * line ends, an mbox "From " line tolerated. The caller bounds len (a
 * maximum message size): parsing holds a few copies of it at once, and
 * attachments beyond max_attachments are left out (named in problem).
 * Returns 0, also for a malformed message (msg_r->partial), or -1 with
 * KTD_ERR_INTERNAL when memory ran out. */
int ch_mime_parse(const char *raw, size_t len, const struct ch_mime_limits *lim,
                  struct ch_mime_message *msg_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

void ch_mime_message_free(struct ch_mime_message *msg);

/* Readable UTF-8 text (valid, without NUL, whatever came in) of an HTML
 * document (len bytes of UTF-8; its own charset label is ignored): block
 * elements become line breaks, lists get "- ", links keep their target as
 * "text <url>", script/style/head are dropped, entities decoded, runs of
 * blank lines collapsed; what is nested deeper than libxml2's limit
 * (256 elements) is lost. Never NULL (allocation failure aborts, as
 * ktd_malloc does). The caller frees. */
char *ch_mime_html_to_text(const char *html, size_t len);

/* Whether the message was sent by a machine and must get no automatic
 * answer (RFC 3834): Auto-Submitted other than "no", Precedence bulk,
 * list or junk, a List-Id, a null or MAILER-DAEMON return path or From
 * address, or a multipart/report. *why_r (may be NULL) names the rule:
 * "auto_submitted", "precedence", "list_id", "return_path",
 * "mailer_daemon" or "report"; NULL when none applies. Our own addresses
 * are the caller's to check. */
bool ch_mime_is_automatic(const struct ch_mime_message *msg,
                          const char **why_r);

#endif
