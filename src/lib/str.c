/* SPDX-License-Identifier: MPL-2.0 */
/* Bounded string helpers and strict parsers. */
#include "lib_common.h"

#include <strings.h>
#include <string.h>

#include "str.h"

size_t ktd_strlcpy(char *dst, const char *src, size_t dstsz)
{
	size_t len = strlen(src);

	if (dstsz > 0) {
		size_t n = len < dstsz - 1 ? len : dstsz - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

/* Parses the leading digits of s into *v_r; *end_r points past them. At
 * least one digit is required. */
static int parse_digits(const char *s, uint64_t max, uint64_t *v_r,
                        const char **end_r)
{
	uint64_t v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*v_r = v;
	*end_r = p;
	return 0;
}

int ktd_parse_u64(const char *s, uint64_t *v_r)
{
	const char *end;
	uint64_t v;

	if (!s || parse_digits(s, UINT64_MAX, &v, &end) < 0 || *end != '\0')
		return -1;
	*v_r = v;
	return 0;
}

int ktd_parse_u32(const char *s, uint32_t *v_r)
{
	const char *end;
	uint64_t v;

	if (!s || parse_digits(s, UINT32_MAX, &v, &end) < 0 || *end != '\0')
		return -1;
	*v_r = (uint32_t)v;
	return 0;
}

int ktd_parse_bool(const char *s, bool *v_r)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	size_t i;

	if (!s)
		return -1;
	for (i = 0; i < KTD_N_ELEMENTS(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*v_r = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*v_r = false;
			return 0;
		}
	}
	return -1;
}

/* Parses digits followed by a unit from units[] (with its multiplier). */
struct unit {
	const char *name;
	uint64_t mult;
};

static int parse_with_unit(const char *s, const struct unit *units,
                           size_t nunits, uint64_t bare_mult, uint64_t *v_r)
{
	const char *end;
	uint64_t v, mult = 0;
	size_t i;

	if (!s || parse_digits(s, UINT64_MAX, &v, &end) < 0)
		return -1;
	if (*end == '\0') {
		mult = bare_mult;
	} else {
		for (i = 0; i < nunits; i++) {
			if (strcmp(end, units[i].name) == 0) {
				mult = units[i].mult;
				break;
			}
		}
	}
	if (mult == 0 || (v != 0 && v > UINT64_MAX / mult))
		return -1;
	*v_r = v * mult;
	return 0;
}

int ktd_parse_size(const char *s, uint64_t *v_r)
{
	static const struct unit units[] = {
	        {"k", 1024ULL},        {"K", 1024ULL},
	        {"M", 1024ULL * 1024}, {"m", 1024ULL * 1024},
	        {"G", 1024ULL << 20},  {"g", 1024ULL << 20},
	};

	return parse_with_unit(s, units, KTD_N_ELEMENTS(units), 1, v_r);
}

int ktd_parse_duration_ms(const char *s, uint64_t *v_r)
{
	static const struct unit units[] = {
	        {"ms", 1},
	        {"s", 1000},
	        {"m", 60 * 1000},
	        {"h", 60 * 60 * 1000},
	};

	return parse_with_unit(s, units, KTD_N_ELEMENTS(units), 1000, v_r);
}

bool ktd_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *e = p + len;

	while (p < e) {
		unsigned char c = *p;
		size_t n, i;
		uint32_t cp;

		if (c == 0)
			return false;
		if (c < 0x80) {
			p++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if ((size_t)(e - p) <= n)
			return false;
		for (i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		/* Overlong forms, surrogates and values past U+10FFFF. */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += n + 1;
	}
	return true;
}

size_t ktd_utf8_cut(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t k = len, cont = 0, need;

	/* Step back over the continuation bytes to the lead byte. */
	while (k > 0 && cont < 3 && (p[k - 1] & 0xc0) == 0x80) {
		k--;
		cont++;
	}
	if (k == 0 || p[k - 1] < 0xc0)
		return len;
	need = p[k - 1] >= 0xf0 ? 3 : p[k - 1] >= 0xe0 ? 2 : 1;
	return cont < need ? k - 1 : len;
}

size_t ktd_utf8_chars(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;

	for (; *p; p++)
		if ((*p & 0xc0) != 0x80)
			n++;
	return n;
}

bool ktd_utf8_has_control(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return true;
		/* U+0080..U+009F are encoded as C2 80..C2 9F. */
		if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return true;
	}
	return false;
}

bool ktd_str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool ktd_str_has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

int ktd_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
