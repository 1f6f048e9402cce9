/* SPDX-License-Identifier: MPL-2.0 */
/* Internals of the MIME parser shared by its files (and its unit test):
 * charset conversion to UTF-8 and RFC 2047 header decoding. */
#ifndef KTD_CHANNELS_CH_MIME_INT_H
#define KTD_CHANNELS_CH_MIME_INT_H

#include "lib/lib_common.h"

/* What a conversion had to guess or repair, as bits. */
#define CH_MIME_CS_UNKNOWN 1u /* charset unknown: guessed */
#define CH_MIME_CS_INVALID 2u /* bytes invalid in the charset: U+FFFD */
#define CH_MIME_CS_BAD_B64 4u /* a B encoded word was not base64 */

/* The bytes in[0..len) in charset (NULL or "": not declared; then UTF-8 if
 * they are valid UTF-8, else Windows-1252) as UTF-8 without NUL bytes
 * (NUL and invalid bytes become U+FFFD). ISO-8859-1 and US-ASCII are read
 * as Windows-1252, their common superset in practice (as browsers do).
 * *flags_r gets CH_MIME_CS_* bits ORed in; *used_r (may be NULL) the
 * charset actually used, a static string. Returns a new string (caller
 * frees), *len_r its length. */
char *ch_mime_charset_to_utf8(const char *charset, const char *in, size_t len,
                              size_t *len_r, unsigned *flags_r,
                              const char **used_r);

/* A header value (raw bytes, possibly folded) decoded to one line of UTF-8:
 * RFC 2047 encoded words (B and Q, any charset; adjacent words joined,
 * also when a character is split between them), raw 8-bit bytes as UTF-8
 * or Windows-1252, line breaks and control characters made spaces or
 * dropped, ends trimmed. Returns a new string; *flags_r as above. */
char *ch_mime_header_decode(const char *raw, size_t len, unsigned *flags_r);

/* Copies s into a new string with only the characters of an IANA charset
 * name (at most 40 of them), lower case: safe to print and to hand to
 * iconv. "" when nothing is left. */
char *ch_mime_charset_name(const char *s);

#endif
