/* SPDX-License-Identifier: MPL-2.0 */
/* Bounded string copies and strict number parsers (no trailing junk, no
 * overflow, no sign where none belongs). */
#ifndef KTD_STR_H
#define KTD_STR_H

#include "lib_common.h"

/* Copies src into dst of size dstsz, always NUL-terminated. Returns
 * strlen(src); a result >= dstsz means the copy was cut. */
size_t ktd_strlcpy(char *dst, const char *src, size_t dstsz);

/* Decimal unsigned integers. Return 0 or -1. */
int ktd_parse_u32(const char *s, uint32_t *v_r) KTD_ATTR_NODISCARD;
int ktd_parse_u64(const char *s, uint64_t *v_r) KTD_ATTR_NODISCARD;

/* "true|yes|on|1" and "false|no|off|0", case-insensitive. */
int ktd_parse_bool(const char *s, bool *v_r) KTD_ATTR_NODISCARD;

/* A size in bytes with an optional suffix k, M, G (binary: 1k = 1024),
 * e.g. "1M", "64k", "512". */
int ktd_parse_size(const char *s, uint64_t *v_r) KTD_ATTR_NODISCARD;

/* A duration in milliseconds: a number with unit ms, s, m or h ("250ms",
 * "30s", "5m"); a bare number is seconds. */
int ktd_parse_duration_ms(const char *s, uint64_t *v_r) KTD_ATTR_NODISCARD;

/* True when s (len bytes) is well-formed UTF-8 without NUL bytes. */
bool ktd_utf8_valid(const char *s, size_t len);

/* The length of s[0..len) without a multi-byte UTF-8 sequence left
 * incomplete at its end, for cutting text at a byte limit without leaving
 * half a character. */
size_t ktd_utf8_cut(const char *s, size_t len);

/* The number of characters (code points) in the valid UTF-8 string s. */
size_t ktd_utf8_chars(const char *s);

/* True when the valid UTF-8 string s holds a control character: C0
 * (including tab and line breaks), DEL or C1. */
bool ktd_utf8_has_control(const char *s);

bool ktd_str_has_prefix(const char *s, const char *prefix);
bool ktd_str_has_suffix(const char *s, const char *suffix);

/* The value of the hex digit c (either case), or -1. */
int ktd_hex_digit(int c);

#endif
