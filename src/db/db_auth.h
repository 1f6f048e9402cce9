/* SPDX-License-Identifier: MPL-2.0 */
/* Queries of authentication: users by login, browser sessions, API tokens
 * by hash, and failed logins for throttling. Secrets arrive here only as
 * SHA-256 hashes; the rules are core/auth's. */
#ifndef KTD_DB_AUTH_H
#define KTD_DB_AUTH_H

#include "db/db_common.h"

#define DB_AUTH_HASH_SIZE 32
#define DB_AUTH_LOGIN_MAX 64
#define DB_AUTH_NAME_SIZE 804 /* 200 characters of up to 4 bytes, NUL */
#define DB_AUTH_CSRF_SIZE 129
#define DB_AUTH_PWHASH_SIZE 128

/* A user as authentication sees one. */
struct db_auth_user {
	int64_t id;
	char login[DB_AUTH_LOGIN_MAX + 1];
	char name[DB_AUTH_NAME_SIZE];
	char role[16];
	int64_t department_id; /* 0: none */
	bool disabled;
	char password_hash[DB_AUTH_PWHASH_SIZE];
};

/* The user with this login. Returns 1 found, 0 not, -1 error. */
int db_auth_user_by_login(PGconn *pg, const char *login, struct db_auth_user *u,
                          struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Failed logins within the last window_s seconds for the login and for the
 * peer address. */
int db_auth_failures_count(PGconn *pg, const char *login, const char *peer,
                           uint64_t window_s, unsigned *by_login_r,
                           unsigned *by_peer_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;
int db_auth_failure_add(PGconn *pg, const char *login, const char *peer,
                        struct ktd_error *err) KTD_ATTR_NODISCARD;
/* Forgets the login's failures (after it logged in). */
int db_auth_failures_clear(PGconn *pg, const char *login, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* Replaces user_id's password hash old_hash by new_hash (a renewal at
 * another cost, the password unchanged: sessions stay). Does nothing when
 * the hash has changed meanwhile. Returns 0 or -1. */
int db_auth_rehash(PGconn *pg, int64_t user_id, const char *old_hash,
                   const char *new_hash, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* Stores a new session of user_id under the token's hash; it expires after
 * idle_s unused seconds, and max_age_s after login at the latest. */
int db_auth_session_insert(PGconn *pg,
                           const unsigned char hash[DB_AUTH_HASH_SIZE],
                           int64_t user_id, const char *csrf, uint64_t idle_s,
                           uint64_t max_age_s, const char *peer,
                           const char *user_agent, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* The live session with this hash and its (enabled) user; its expiry moves
 * on by idle_s (within max_age_s), written at most once a minute. Returns
 * 1 found, 0 no such live session, -1 error. */
int db_auth_session_lookup(PGconn *pg,
                           const unsigned char hash[DB_AUTH_HASH_SIZE],
                           uint64_t idle_s, uint64_t max_age_s,
                           struct db_auth_user *u,
                           char csrf_r[DB_AUTH_CSRF_SIZE],
                           struct ktd_error *err) KTD_ATTR_NODISCARD;

int db_auth_session_delete(PGconn *pg,
                           const unsigned char hash[DB_AUTH_HASH_SIZE],
                           struct ktd_error *err) KTD_ATTR_NODISCARD;

/* The unrevoked token with this hash: its name and comma-separated scopes;
 * last_used_at is written at most once a minute. Returns 1, 0 or -1. */
int db_auth_token_lookup(PGconn *pg,
                         const unsigned char hash[DB_AUTH_HASH_SIZE],
                         char name_r[65], char scopes_r[64],
                         struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Whether credentials still hold: for i < n, the session (session[i]) or
 * API token whose hash is hashes[i * DB_AUTH_HASH_SIZE ..] exists and is
 * live (not expired, user not disabled; not revoked). Fills alive_r[i].
 * One query. Returns 0 or -1. */
int db_auth_alive(PGconn *pg, const bool *session, const unsigned char *hashes,
                  size_t n, bool *alive_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* Deletes at most batch expired sessions and at most batch login
 * failures older than failure_window_s (they no longer count). Returns 0
 * with how many of each went, -1. */
int db_auth_prune(PGconn *pg, uint64_t failure_window_s, unsigned batch,
                  int64_t *sessions_r, int64_t *failures_r,
                  struct ktd_error *err) KTD_ATTR_NODISCARD;

#endif
