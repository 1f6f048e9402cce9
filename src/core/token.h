/* SPDX-License-Identifier: MPL-2.0 */
/* API tokens of integrations: "ktd_" followed by 32 random bytes in
 * base64url (43 characters). Only the SHA-256 of a token is stored; the
 * token itself is shown once, when it is made. Scopes say what a token may
 * do. libsodium must have been started (sodium_init). */
#ifndef KTD_CORE_TOKEN_H
#define KTD_CORE_TOKEN_H

#include "core/core_common.h"

#define TOKEN_PREFIX "ktd_"
#define TOKEN_RANDOM_BYTES 32
#define TOKEN_LEN 47 /* "ktd_" + 43 base64url characters */
#define TOKEN_SIZE (TOKEN_LEN + 1)
#define TOKEN_HASH_SIZE 32 /* SHA-256 */
#define TOKEN_NAME_MAX 64

enum token_scope {
	TOKEN_SCOPE_CTI_WRITE = 1u << 0,         /* "cti:write" */
	TOKEN_SCOPE_DIGITALPOST_WRITE = 1u << 1, /* "digitalpost:write" */
	TOKEN_SCOPE_READ = 1u << 2,              /* "read" */
	TOKEN_SCOPE_ADMIN = 1u << 3,             /* "admin" */
};
#define TOKEN_SCOPE_ALL 0xfu
/* Room for every scope name, comma-separated. */
#define TOKEN_SCOPES_TEXT_SIZE 48

/* A new random token into token_r and its hash into hash_r. The caller
 * wipes token_r (sodium_memzero) when done with it. */
void token_generate(char token_r[TOKEN_SIZE],
                    unsigned char hash_r[TOKEN_HASH_SIZE]);

/* The stored form of a token: SHA-256 of its len bytes. */
void token_hash(const char *token, size_t len,
                unsigned char hash_r[TOKEN_HASH_SIZE]);

/* True when s (len bytes) has the form of a token, "ktd_" and 43
 * base64url characters: a cheap check before hashing and a lookup. */
bool token_format_valid(const char *s, size_t len);

/* A token's name: 1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-'. */
int token_name_check(const char *name, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* "S[,S...]" with S one of the scope names, spaces around each allowed;
 * at least one, none twice. Returns 0 with the bits in *scopes_r, or -1
 * with KTD_ERR_INVALID naming the bad scope. */
int token_scopes_parse(const char *s, unsigned *scopes_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* The scopes as "cti:write,read" (in the order of enum token_scope) into
 * out (TOKEN_SCOPES_TEXT_SIZE bytes); returns out. */
const char *token_scopes_format(unsigned scopes, char *out, size_t outsz);

/* The name of one scope bit, or NULL. */
const char *token_scope_name(unsigned scope);

#endif
