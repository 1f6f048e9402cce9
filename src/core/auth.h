/* SPDX-License-Identifier: MPL-2.0 */
/* Authentication: agents log in with a password and get a server-side
 * session (a random cookie token, stored only as its SHA-256, with a CSRF
 * token for unsafe requests); integrations send a bearer token. Failed
 * logins are throttled per login and per address. libsodium must have been
 * started (sodium_init). */
#ifndef KTD_CORE_AUTH_H
#define KTD_CORE_AUTH_H

#include "core/core_common.h"
#include "core/user.h"

#include <libpq-fe.h>

/* 32 random bytes in base64url without padding, and the NUL. */
#define AUTH_SECRET_SIZE 44
#define AUTH_LOGIN_MAX 64
/* The SHA-256 of a session cookie or bearer token: all that is stored. */
#define AUTH_HASH_SIZE 32

struct auth_config {
	uint64_t session_idle_s;    /* a session unused this long ends */
	uint64_t session_max_age_s; /* and this long after login at most */
	unsigned max_failures;      /* failed logins per login per window */
	uint64_t failure_window_s;
};

enum auth_kind {
	AUTH_SESSION = 1, /* an agent's browser session */
	AUTH_TOKEN,       /* an integration's bearer token */
};

/* Who is asking. */
struct auth_principal {
	enum auth_kind kind;
	/* AUTH_SESSION */
	int64_t user_id;
	char login[AUTH_LOGIN_MAX + 1];
	char name[804];
	enum user_role role;
	int64_t department_id; /* 0: none */
	char csrf[129];
	/* AUTH_TOKEN */
	char token_name[65];
	unsigned scopes; /* enum token_scope bits */
	/* The hash of the session cookie or bearer token that proved it, for
	 * checking later that it still holds (auth_still_valid). */
	unsigned char credential[AUTH_HASH_SIZE];
};

/* Checks login and password (len bytes) and opens a session. Returns 0
 * with the new session's cookie token in token_r and the principal, or -1
 * with KTD_ERR_UNAUTHENTICATED (wrong login or password, or a disabled
 * user: the same answer for all three), KTD_ERR_RATE_LIMITED (too many
 * failures of this login or from this address) or another error. */
int auth_login(PGconn *pg, const struct auth_config *cfg, const char *login,
               const char *password, size_t len, const char *peer,
               const char *user_agent, char token_r[AUTH_SECRET_SIZE],
               struct auth_principal *p, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* The session whose cookie token is token. Returns 1 with p filled, 0 when
 * there is no live session for it (or the token is malformed), -1. */
int auth_session(PGconn *pg, const struct auth_config *cfg, const char *token,
                 struct auth_principal *p, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* Ends the session whose cookie token is token (if any). */
int auth_logout(PGconn *pg, const char *token, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* The integration whose bearer token is token. Returns 1, 0 or -1. */
int auth_bearer(PGconn *pg, const char *token, struct auth_principal *p,
                struct ktd_error *err) KTD_ATTR_NODISCARD;

/* A principal's credential, to check again later. */
struct auth_credential {
	enum auth_kind kind;
	unsigned char hash[AUTH_HASH_SIZE];
};

/* Whether each of n credentials still holds: the session exists, has not
 * expired and its user is not disabled; the token is not revoked. Fills
 * valid_r[0..n-1]; one query. Returns 0 or -1. */
int auth_still_valid(PGconn *pg, const struct auth_credential *creds, size_t n,
                     bool *valid_r, struct ktd_error *err) KTD_ATTR_NODISCARD;

/* True when header (the request's X-CSRF-Token, may be NULL) is p's CSRF
 * token; compared in constant time. */
bool auth_csrf_ok(const struct auth_principal *p, const char *header);

#endif
