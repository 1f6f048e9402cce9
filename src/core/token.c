/* SPDX-License-Identifier: MPL-2.0 */
/* API tokens: generation, hashing, format and scopes. */
#include "core/core_common.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "lib/str.h"
#include "core/token.h"

/* The base64url text of the random bytes, with its NUL. */
#define ENCODED_SIZE                                                           \
	sodium_base64_ENCODED_LEN(TOKEN_RANDOM_BYTES,                          \
	                          sodium_base64_VARIANT_URLSAFE_NO_PADDING)
_Static_assert(TOKEN_SIZE == sizeof(TOKEN_PREFIX) - 1 + ENCODED_SIZE,
               "TOKEN_SIZE does not match the encoding");
_Static_assert(TOKEN_HASH_SIZE == crypto_hash_sha256_BYTES,
               "TOKEN_HASH_SIZE must be the SHA-256 size");

static const struct {
	unsigned bit;
	const char *name;
} scopes[] = {
        {TOKEN_SCOPE_CTI_WRITE, "cti:write"},
        {TOKEN_SCOPE_DIGITALPOST_WRITE, "digitalpost:write"},
        {TOKEN_SCOPE_READ, "read"},
        {TOKEN_SCOPE_ADMIN, "admin"},
};

void token_generate(char token_r[TOKEN_SIZE],
                    unsigned char hash_r[TOKEN_HASH_SIZE])
{
	unsigned char bytes[TOKEN_RANDOM_BYTES];
	size_t plen = strlen(TOKEN_PREFIX);

	randombytes_buf(bytes, sizeof(bytes));
	memcpy(token_r, TOKEN_PREFIX, plen);
	sodium_bin2base64(token_r + plen, TOKEN_SIZE - plen, bytes,
	                  sizeof(bytes),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(bytes, sizeof(bytes));
	token_hash(token_r, TOKEN_LEN, hash_r);
}

void token_hash(const char *token, size_t len,
                unsigned char hash_r[TOKEN_HASH_SIZE])
{
	crypto_hash_sha256(hash_r, (const unsigned char *)token, len);
}

static bool is_base64url(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool token_format_valid(const char *s, size_t len)
{
	size_t plen = strlen(TOKEN_PREFIX), i;

	if (len != TOKEN_LEN || memcmp(s, TOKEN_PREFIX, plen) != 0)
		return false;
	for (i = plen; i < len; i++)
		if (!is_base64url(s[i]))
			return false;
	return true;
}

int token_name_check(const char *name, struct ktd_error *err)
{
	size_t len = strlen(name), i;

	if (len == 0 || len > TOKEN_NAME_MAX)
		return ktd_error_set(err, KTD_ERR_INVALID,
		                     "must be 1 to %d characters long",
		                     TOKEN_NAME_MAX);
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!(is_base64url(c) || c == '.'))
			return ktd_error_set(err, KTD_ERR_INVALID,
			                     "may hold only A-Z, a-z, digits, "
			                     "'.', '_' and '-'");
	}
	return 0;
}

const char *token_scope_name(unsigned scope)
{
	size_t i;

	for (i = 0; i < KTD_N_ELEMENTS(scopes); i++)
		if (scopes[i].bit == scope)
			return scopes[i].name;
	return NULL;
}

static int scope_lookup(const char *s, size_t len, unsigned *bit_r)
{
	size_t i;

	for (i = 0; i < KTD_N_ELEMENTS(scopes); i++) {
		if (strlen(scopes[i].name) == len &&
		    memcmp(scopes[i].name, s, len) == 0) {
			*bit_r = scopes[i].bit;
			return 0;
		}
	}
	return -1;
}

int token_scopes_parse(const char *s, unsigned *scopes_r, struct ktd_error *err)
{
	unsigned set = 0, bit;
	const char *p = s;

	for (;;) {
		const char *start, *end;

		while (*p == ' ')
			p++;
		start = p;
		while (*p && *p != ',')
			p++;
		end = p;
		while (end > start && end[-1] == ' ')
			end--;
		if (end == start)
			return ktd_error_set(
			        err, KTD_ERR_INVALID,
			        "empty scope; use one or more of "
			        "cti:write, digitalpost:write, "
			        "read, admin, separated by commas");
		if (scope_lookup(start, (size_t)(end - start), &bit) < 0)
			return ktd_error_set(
			        err, KTD_ERR_INVALID,
			        "unknown scope '%.*s'; use "
			        "cti:write, digitalpost:write, "
			        "read or admin",
			        (int)(end - start > 64 ? 64 : end - start),
			        start);
		if (set & bit)
			return ktd_error_set(err, KTD_ERR_INVALID,
			                     "scope '%s' given twice",
			                     token_scope_name(bit));
		set |= bit;
		if (!*p)
			break;
		p++; /* the comma */
	}
	*scopes_r = set;
	return 0;
}

const char *token_scopes_format(unsigned set, char *out, size_t outsz)
{
	size_t i, len = 0;

	ktd_assert(outsz >= TOKEN_SCOPES_TEXT_SIZE);
	out[0] = '\0';
	for (i = 0; i < KTD_N_ELEMENTS(scopes); i++) {
		if (!(set & scopes[i].bit))
			continue;
		len += (size_t)snprintf(out + len, outsz - len, "%s%s",
		                        len ? "," : "", scopes[i].name);
	}
	return out;
}
