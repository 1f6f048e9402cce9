/* SPDX-License-Identifier: MPL-2.0 */
/* One outbound e-mail as RFC 5322 text: the headers kontaktd writes
 * (Date, From, To, Subject, Message-ID, In-Reply-To, References,
 * Auto-Submitted, X-Kontaktd-Kind, MIME) and a text/plain UTF-8 body in
 * quoted-printable. Pure: no database, no network, no globals, safe from
 * any thread. Specs: RFC 5322 (message format), RFC 2045 (MIME,
 * quoted-printable), RFC 2047 (encoded words), RFC 3834 (Auto-Submitted).
 *
 * Header injection is impossible by construction: addresses and
 * Message-IDs are checked (printable ASCII, no white space), the subject
 * is cleaned of control characters and written as RFC 2047 encoded words
 * when it is not plain printable ASCII, and every line the builder writes
 * ends in CRLF, folded below 78 characters where the value allows. */
#ifndef KTD_CHANNELS_CH_SMTP_MSG_H
#define KTD_CHANNELS_CH_SMTP_MSG_H

#include "lib/lib_common.h"
#include "lib/error.h"
#include "lib/buf.h"

/* The largest message the builder writes (the body is at most 1 MiB of
 * text, which quoted-printable may make up to about 3 MiB). */
#define CH_SMTP_MSG_MAX (8u * 1024 * 1024)

/* The header that marks kontaktd's own mail, so that its own IMAP ingest
 * (and people reading headers) can tell it: "X-Kontaktd-Kind: reply". */
#define CH_SMTP_KIND_HEADER "X-Kontaktd-Kind"

struct ch_smtp_msg {
	const char *kind;        /* reply, receipt, forward */
	const char *message_id;  /* "<id@domain>", fixed at queueing */
	const char *from;        /* one plain address */
	const char *to;          /* one plain address */
	const char *subject;     /* UTF-8; NULL: empty */
	const char *body;        /* UTF-8, lines ending in LF or CRLF */
	const char *in_reply_to; /* "<id>"; NULL or "": none */
	const char *references;  /* "<id> <id>"; NULL or "": none */
	int64_t date;            /* Unix seconds, for Date */
};

/* Writes m as a message with CRLF line ends. Returns 0 with the text in
 * *text_r (NUL-terminated, caller frees) and its length in *len_r, or -1:
 * KTD_ERR_UNPROCESSABLE when m cannot be sent as it is (an address that is
 * not plain ASCII, a bad Message-ID, an unknown kind, too large): sending
 * it again would not help. Invalid ids in references are left out. */
int ch_smtp_msg_build(const struct ch_smtp_msg *m, char **text_r, size_t *len_r,
                      struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Whether s can be an SMTP envelope address and a header address as it
 * is: printable ASCII, one '@' with text on both sides, no white space,
 * nothing a header could be split on, at most 254 bytes. (A non-ASCII
 * address would need SMTPUTF8, which libESMTP does not speak.) */
bool ch_smtp_addr_ok(const char *s);

/* Appends the quoted-printable form (RFC 2045 6.7) of the text s (len
 * bytes) to out: LF, CRLF and lone CR become CRLF line ends, lines at most
 * 76 characters (soft breaks "="), '=' and bytes outside printable ASCII
 * as =XX, trailing white space encoded, and a '.' or "From " at the start
 * of a line encoded so that no relay changes it. Returns 0, -1 when out is
 * full. */
int ch_smtp_qp_encode(struct ktd_buf *out, const char *s, size_t len)
        KTD_ATTR_NODISCARD;

/* Appends "Name: value" CRLF to out for an unstructured header (Subject):
 * control characters become spaces; plain printable ASCII is folded at
 * spaces, anything else written as RFC 2047 "=?UTF-8?B?...?=" words of at
 * most 75 characters, cut between characters, one per line. value must be
 * valid UTF-8. Returns 0, -1 when out is full. */
int ch_smtp_header_text(struct ktd_buf *out, const char *name,
                        const char *value) KTD_ATTR_NODISCARD;

#endif
