/* SPDX-License-Identifier: MPL-2.0 */
/* Password logins, sessions, bearer tokens and login throttling. */
#include "core/core_common.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "core/auth.h"
#include "core/token.h"
#include "core/user.h"
#include "db/db_auth.h"

_Static_assert(AUTH_HASH_SIZE == DB_AUTH_HASH_SIZE, "hash sizes differ");

/* Peers get this many times the per-login allowance: an office behind one
 * address has many agents. */
#define PEER_FAILURE_FACTOR 4

/* A hash that no password matches, verified against for unknown logins so
 * that they take as long as known ones (no user enumeration by timing). */
static char dummy_hash[USER_HASH_SIZE];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void dummy_hash_make(void)
{
	char pw[USER_PASSWORD_GENERATED_SIZE];
	struct ktd_error err;

	user_password_generate(pw, sizeof(pw));
	if (user_password_hash(pw, strlen(pw), dummy_hash, &err) < 0)
		ktd_panic("dummy password hash: %s", err.msg);
	sodium_memzero(pw, sizeof(pw));
}

static void random_secret(char out[AUTH_SECRET_SIZE])
{
	unsigned char bytes[32];

	randombytes_buf(bytes, sizeof(bytes));
	sodium_bin2base64(out, AUTH_SECRET_SIZE, bytes, sizeof(bytes),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(bytes, sizeof(bytes));
}

static void secret_hash(const char *secret,
                        unsigned char hash[DB_AUTH_HASH_SIZE])
{
	crypto_hash_sha256(hash, (const unsigned char *)secret, strlen(secret));
}

/* A session cookie token: 43 base64url characters. */
static bool session_token_valid(const char *s)
{
	size_t i;

	if (!s || strlen(s) != AUTH_SECRET_SIZE - 1)
		return false;
	for (i = 0; s[i]; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

static int principal_from_user(const struct db_auth_user *u,
                               struct auth_principal *p, struct ktd_error *err)
{
	memset(p, 0, sizeof(*p));
	p->kind = AUTH_SESSION;
	p->user_id = u->id;
	ktd_strlcpy(p->login, u->login, sizeof(p->login));
	ktd_strlcpy(p->name, u->name, sizeof(p->name));
	p->department_id = u->department_id;
	if (user_role_parse(u->role, &p->role) < 0)
		return ktd_error_set(err, KTD_ERR_INTERNAL,
		                     "user %s has an unknown role", u->login);
	return 0;
}

/* After a good login: renews a hash made at another cost than the one
 * configured, so that a raised cost reaches every active user. A failure
 * costs only the renewal; the login goes on. */
static void rehash(PGconn *pg, const struct db_auth_user *u,
                   const char *password, size_t len)
{
	char fresh[USER_HASH_SIZE];
	struct ktd_error err;

	if (!user_password_needs_rehash(u->password_hash))
		return;
	if (user_password_hash(password, len, fresh, &err) < 0 ||
	    db_auth_rehash(pg, u->id, u->password_hash, fresh, &err) < 0) {
		ktd_log_warnx("event=password_rehash_failed user=%s error=%s",
		              u->login, err.msg);
		return;
	}
	ktd_log_info("event=password_rehashed user=%s", u->login);
}

int auth_login(PGconn *pg, const struct auth_config *cfg, const char *login,
               const char *password, size_t len, const char *peer,
               const char *user_agent, char token_r[AUTH_SECRET_SIZE],
               struct auth_principal *p, struct ktd_error *err)
{
	unsigned char hash[DB_AUTH_HASH_SIZE];
	struct db_auth_user u;
	unsigned by_login, by_peer;
	char quoted[100];
	bool ok;
	int found;

	pthread_once(&dummy_once, dummy_hash_make);
	if (db_auth_failures_count(pg, login, peer, cfg->failure_window_s,
	                           &by_login, &by_peer, err) < 0)
		return -1;
	if (by_login >= cfg->max_failures ||
	    by_peer >= cfg->max_failures * PEER_FAILURE_FACTOR) {
		ktd_log_warnx("event=login_throttled login=%s peer=%s "
		              "failures_login=%u failures_peer=%u",
		              ktd_log_quote(login, quoted, sizeof(quoted)),
		              peer, by_login, by_peer);
		return ktd_error_set(
		        err, KTD_ERR_RATE_LIMITED,
		        "too many failed logins; try again in "
		        "%llu minutes",
		        (unsigned long long)((cfg->failure_window_s + 59) /
		                             60));
	}
	found = user_login_check(login, err) < 0
	                ? 0
	                : db_auth_user_by_login(pg, login, &u, err);
	if (found < 0)
		return -1;
	ok = user_password_verify(found ? u.password_hash : dummy_hash,
	                          password, len) &&
	     found && !u.disabled;
	if (!ok) {
		if (db_auth_failure_add(pg, login, peer, err) < 0)
			return -1;
		ktd_log_warnx("event=login_failed login=%s peer=%s reason=%s",
		              ktd_log_quote(login, quoted, sizeof(quoted)),
		              peer,
		              !found       ? "unknown_login"
		              : u.disabled ? "disabled"
		                           : "wrong_password");
		return ktd_error_set(err, KTD_ERR_UNAUTHENTICATED,
		                     "wrong login or password");
	}
	if (principal_from_user(&u, p, err) < 0)
		return -1;
	rehash(pg, &u, password, len);
	random_secret(token_r);
	random_secret(p->csrf);
	secret_hash(token_r, hash);
	memcpy(p->credential, hash, sizeof(p->credential));
	if (db_auth_failures_clear(pg, login, err) < 0 ||
	    db_auth_session_insert(pg, hash, u.id, p->csrf, cfg->session_idle_s,
	                           cfg->session_max_age_s, peer,
	                           user_agent ? user_agent : "", err) < 0) {
		sodium_memzero(token_r, AUTH_SECRET_SIZE);
		return -1;
	}
	ktd_log_info("event=login user=%s role=%s peer=%s", u.login, u.role,
	             peer);
	return 0;
}

int auth_session(PGconn *pg, const struct auth_config *cfg, const char *token,
                 struct auth_principal *p, struct ktd_error *err)
{
	unsigned char hash[DB_AUTH_HASH_SIZE];
	char csrf[DB_AUTH_CSRF_SIZE];
	struct db_auth_user u;
	int found;

	if (!session_token_valid(token))
		return 0;
	secret_hash(token, hash);
	found = db_auth_session_lookup(pg, hash, cfg->session_idle_s,
	                               cfg->session_max_age_s, &u, csrf, err);
	if (found <= 0)
		return found;
	if (principal_from_user(&u, p, err) < 0)
		return -1;
	ktd_strlcpy(p->csrf, csrf, sizeof(p->csrf));
	memcpy(p->credential, hash, sizeof(p->credential));
	return 1;
}

int auth_logout(PGconn *pg, const char *token, struct ktd_error *err)
{
	unsigned char hash[DB_AUTH_HASH_SIZE];

	if (!session_token_valid(token))
		return 0;
	secret_hash(token, hash);
	return db_auth_session_delete(pg, hash, err);
}

int auth_bearer(PGconn *pg, const char *token, struct auth_principal *p,
                struct ktd_error *err)
{
	unsigned char hash[DB_AUTH_HASH_SIZE];
	char name[65], scopes[64];
	int found;

	if (!token || !token_format_valid(token, strlen(token)))
		return 0;
	token_hash(token, strlen(token), hash);
	found = db_auth_token_lookup(pg, hash, name, scopes, err);
	if (found <= 0)
		return found;
	memset(p, 0, sizeof(*p));
	p->kind = AUTH_TOKEN;
	ktd_strlcpy(p->token_name, name, sizeof(p->token_name));
	memcpy(p->credential, hash, sizeof(p->credential));
	if (token_scopes_parse(scopes, &p->scopes, err) < 0)
		return -1;
	return 1;
}

int auth_still_valid(PGconn *pg, const struct auth_credential *creds, size_t n,
                     bool *valid_r, struct ktd_error *err)
{
	unsigned char *hashes;
	bool *sessions;
	size_t i;
	int r;

	if (n == 0)
		return 0;
	hashes = ktd_calloc(n, DB_AUTH_HASH_SIZE);
	sessions = ktd_calloc(n, sizeof(*sessions));
	for (i = 0; i < n; i++) {
		memcpy(hashes + i * DB_AUTH_HASH_SIZE, creds[i].hash,
		       DB_AUTH_HASH_SIZE);
		sessions[i] = creds[i].kind == AUTH_SESSION;
	}
	r = db_auth_alive(pg, sessions, hashes, n, valid_r, err);
	free(hashes);
	free(sessions);
	return r;
}

bool auth_csrf_ok(const struct auth_principal *p, const char *header)
{
	size_t len = strlen(p->csrf);

	if (p->kind != AUTH_SESSION || !header || len == 0 ||
	    strlen(header) != len)
		return false;
	return sodium_memcmp(header, p->csrf, len) == 0;
}
