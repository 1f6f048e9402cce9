/* SPDX-License-Identifier: MPL-2.0 */
/* Queries on api_tokens. A token is stored only as its SHA-256; the rules
 * for names, scopes and the token itself are core/token's. */
#ifndef KTD_DB_TOKEN_H
#define KTD_DB_TOKEN_H

#include "db/db_common.h"

#define DB_TOKEN_HASH_SIZE 32

struct db_token {
	char *name;
	char *scopes;     /* "cti:write,read" */
	char *created_at; /* RFC 3339 UTC */
	char *created_by;
	char *last_used_at; /* NULL: never used */
	char *revoked_at;   /* NULL: not revoked */
};

struct db_token_list {
	struct db_token *items;
	size_t n;
};

/* Stores a new token. scopes is comma-separated ("cti:write,read").
 * Returns 0, or -1 with KTD_ERR_CONFLICT when the name is taken (also by
 * a revoked token). */
int db_token_insert(PGconn *pg, const char *name,
                    const unsigned char hash[DB_TOKEN_HASH_SIZE],
                    const char *scopes, const char *created_by, int64_t *id_r,
                    struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Revokes the token called name; *already_r tells whether it was revoked
 * before (and is left as it was). Returns 1, 0 when there is no such token,
 * or -1. */
int db_token_revoke(PGconn *pg, const char *name, bool *already_r,
                    int64_t *id_r, struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Every token, by name, without hashes. The caller frees the list. */
int db_token_list(PGconn *pg, struct db_token_list *list_r,
                  struct ktd_error *err) KTD_ATTR_NODISCARD;
void db_token_list_free(struct db_token_list *list);

#endif
