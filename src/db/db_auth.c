/* SPDX-License-Identifier: MPL-2.0 */
/* Queries of authentication (users, sessions, tokens, failed logins). */
#include "db/db_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "db/db_auth.h"
#include "db/pool.h"
#include "db/result.h"

/* Writes to a session or token row are skipped when the last one is younger
 * than this: a busy agent should not cost a write per request. */
#define TOUCH_INTERVAL "interval '60 seconds'"

static void copy_col(const PGresult *res, int row, int col, char *out,
                     size_t outsz)
{
	ktd_strlcpy(out,
	            PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col),
	            outsz);
}

/* Fills u from columns id, login, name, role, department_id, disabled,
 * password_hash starting at col. */
static void read_user(const PGresult *res, int col, struct db_auth_user *u)
{
	memset(u, 0, sizeof(*u));
	u->id = db_result_i64(res, 0, col);
	copy_col(res, 0, col + 1, u->login, sizeof(u->login));
	copy_col(res, 0, col + 2, u->name, sizeof(u->name));
	copy_col(res, 0, col + 3, u->role, sizeof(u->role));
	u->department_id = db_result_i64(res, 0, col + 4);
	u->disabled = db_result_bool(res, 0, col + 5);
	copy_col(res, 0, col + 6, u->password_hash, sizeof(u->password_hash));
}

#define USER_COLUMNS                                                           \
	"u.id, u.login, u.name, u.role, u.department_id, u.disabled, "         \
	"u.password_hash"

int db_auth_user_by_login(PGconn *pg, const char *login, struct db_auth_user *u,
                          struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT " USER_COLUMNS " FROM users u WHERE u.login = $1";
	PGresult *res = NULL;
	int ret;

	if (db_query(pg, sql, 1, &login, &res, err) < 0)
		return -1;
	ret = PQntuples(res) > 0;
	if (ret)
		read_user(res, 0, u);
	PQclear(res);
	return ret;
}

int db_auth_failures_count(PGconn *pg, const char *login, const char *peer,
                           uint64_t window_s, unsigned *by_login_r,
                           unsigned *by_peer_r, struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT"
	        " (SELECT count(*) FROM login_failures WHERE login = $1"
	        "  AND at > now() - make_interval(secs => $3::bigint)),"
	        " (SELECT count(*) FROM login_failures WHERE peer = $2"
	        "  AND at > now() - make_interval(secs => $3::bigint))";
	char window[24];
	const char *params[3] = {login, peer, window};
	PGresult *res = NULL;

	snprintf(window, sizeof(window), "%llu", (unsigned long long)window_s);
	if (db_query(pg, sql, 3, params, &res, err) < 0)
		return -1;
	*by_login_r = (unsigned)db_result_i64(res, 0, 0);
	*by_peer_r = (unsigned)db_result_i64(res, 0, 1);
	PQclear(res);
	return 0;
}

int db_auth_failure_add(PGconn *pg, const char *login, const char *peer,
                        struct ktd_error *err)
{
	static const char sql[] =
	        "INSERT INTO login_failures (login, peer) VALUES ($1, $2)";
	const char *params[2] = {login, peer};

	return db_query(pg, sql, 2, params, NULL, err);
}

int db_auth_failures_clear(PGconn *pg, const char *login, struct ktd_error *err)
{
	static const char sql[] = "DELETE FROM login_failures WHERE login = $1";

	return db_query(pg, sql, 1, &login, NULL, err);
}

int db_auth_rehash(PGconn *pg, int64_t user_id, const char *old_hash,
                   const char *new_hash, struct ktd_error *err)
{
	static const char sql[] = "UPDATE users SET password_hash = $3"
	                          " WHERE id = $1 AND password_hash = $2";
	char uid[24];
	const char *params[3] = {uid, old_hash, new_hash};

	snprintf(uid, sizeof(uid), "%lld", (long long)user_id);
	return db_query(pg, sql, 3, params, NULL, err);
}

int db_auth_session_insert(PGconn *pg,
                           const unsigned char hash[DB_AUTH_HASH_SIZE],
                           int64_t user_id, const char *csrf, uint64_t idle_s,
                           uint64_t max_age_s, const char *peer,
                           const char *user_agent, struct ktd_error *err)
{
	static const char sql[] =
	        "INSERT INTO sessions (id_hash, user_id, csrf_token, "
	        "expires_at,"
	        " peer, user_agent) VALUES ($1, $2, $3,"
	        " now() + make_interval(secs => least($4::bigint, $5::bigint)),"
	        " $6, left($7, 512))";
	char hex[2 * DB_AUTH_HASH_SIZE + 3], uid[24], idle[24], max_age[24];
	const char *params[7] = {hex,     uid,  csrf,      idle,
	                         max_age, peer, user_agent};

	db_bytea_hex(hash, DB_AUTH_HASH_SIZE, hex, sizeof(hex));
	snprintf(uid, sizeof(uid), "%lld", (long long)user_id);
	snprintf(idle, sizeof(idle), "%llu", (unsigned long long)idle_s);
	snprintf(max_age, sizeof(max_age), "%llu",
	         (unsigned long long)max_age_s);
	return db_query(pg, sql, 7, params, NULL, err);
}

int db_auth_session_lookup(PGconn *pg,
                           const unsigned char hash[DB_AUTH_HASH_SIZE],
                           uint64_t idle_s, uint64_t max_age_s,
                           struct db_auth_user *u,
                           char csrf_r[DB_AUTH_CSRF_SIZE],
                           struct ktd_error *err)
{
	static const char sql_find[] =
	        "SELECT s.csrf_token,"
	        " s.last_seen_at < now() - " TOUCH_INTERVAL ", " USER_COLUMNS
	        " FROM sessions s JOIN users u ON u.id = s.user_id"
	        " WHERE s.id_hash = $1 AND s.expires_at > now()"
	        " AND NOT u.disabled";
	static const char sql_touch[] =
	        "UPDATE sessions SET last_seen_at = now(),"
	        " expires_at = least(now() + make_interval(secs => $2::bigint),"
	        "  created_at + make_interval(secs => $3::bigint))"
	        " WHERE id_hash = $1";
	char hex[2 * DB_AUTH_HASH_SIZE + 3], idle[24], max_age[24];
	const char *params[3] = {hex, idle, max_age};
	PGresult *res = NULL;
	bool touch;

	db_bytea_hex(hash, DB_AUTH_HASH_SIZE, hex, sizeof(hex));
	if (db_query_prepared(pg, sql_find, 1, params, &res, err) < 0)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	copy_col(res, 0, 0, csrf_r, DB_AUTH_CSRF_SIZE);
	touch = db_result_bool(res, 0, 1);
	read_user(res, 2, u);
	PQclear(res);
	if (!touch)
		return 1;
	snprintf(idle, sizeof(idle), "%llu", (unsigned long long)idle_s);
	snprintf(max_age, sizeof(max_age), "%llu",
	         (unsigned long long)max_age_s);
	if (db_query_prepared(pg, sql_touch, 3, params, NULL, err) < 0)
		return -1;
	return 1;
}

int db_auth_session_delete(PGconn *pg,
                           const unsigned char hash[DB_AUTH_HASH_SIZE],
                           struct ktd_error *err)
{
	static const char sql[] = "DELETE FROM sessions WHERE id_hash = $1";
	char hex[2 * DB_AUTH_HASH_SIZE + 3];
	const char *params[1] = {hex};

	db_bytea_hex(hash, DB_AUTH_HASH_SIZE, hex, sizeof(hex));
	return db_query(pg, sql, 1, params, NULL, err);
}

int db_auth_token_lookup(PGconn *pg,
                         const unsigned char hash[DB_AUTH_HASH_SIZE],
                         char name_r[65], char scopes_r[64],
                         struct ktd_error *err)
{
	static const char sql_find[] =
	        "SELECT name, array_to_string(scopes, ','),"
	        " last_used_at IS NULL"
	        "  OR last_used_at < now() - " TOUCH_INTERVAL
	        " FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL";
	static const char sql_touch[] = "UPDATE api_tokens SET last_used_at = "
	                                "now() WHERE token_hash = $1";
	char hex[2 * DB_AUTH_HASH_SIZE + 3];
	const char *params[1] = {hex};
	PGresult *res = NULL;
	bool touch;

	db_bytea_hex(hash, DB_AUTH_HASH_SIZE, hex, sizeof(hex));
	if (db_query_prepared(pg, sql_find, 1, params, &res, err) < 0)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	copy_col(res, 0, 0, name_r, 65);
	copy_col(res, 0, 1, scopes_r, 64);
	touch = db_result_bool(res, 0, 2);
	PQclear(res);
	if (touch && db_query_prepared(pg, sql_touch, 1, params, NULL, err) < 0)
		return -1;
	return 1;
}

int db_auth_alive(PGconn *pg, const bool *session, const unsigned char *hashes,
                  size_t n, bool *alive_r, struct ktd_error *err)
{
	/* The hashes as hex in a text[] literal ({ab12..,cd34..}): nothing in
	 * them needs quoting. */
	static const char sql[] =
	        "SELECT x.i FROM unnest($1::text[], $2::text[]) "
	        " WITH ORDINALITY AS x(kind, h, i) "
	        "WHERE CASE x.kind WHEN 's' THEN EXISTS ("
	        "  SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id"
	        "  WHERE s.id_hash = decode(x.h, 'hex')"
	        "  AND s.expires_at > now() AND NOT u.disabled) "
	        " ELSE EXISTS (SELECT 1 FROM api_tokens t"
	        "  WHERE t.token_hash = decode(x.h, 'hex')"
	        "  AND t.revoked_at IS NULL) END";
	static const char hex[] = "0123456789abcdef";
	char *kinds, *list, *k, *l;
	const char *params[2];
	PGresult *res = NULL;
	size_t i, j;
	int row, ret = -1;

	kinds = ktd_malloc(2 * n + 2);
	list = ktd_malloc(n * (2 * DB_AUTH_HASH_SIZE + 1) + 2);
	k = kinds;
	l = list;
	*k++ = '{';
	*l++ = '{';
	for (i = 0; i < n; i++) {
		const unsigned char *h = hashes + i * DB_AUTH_HASH_SIZE;

		if (i > 0) {
			*k++ = ',';
			*l++ = ',';
		}
		*k++ = session[i] ? 's' : 't';
		for (j = 0; j < DB_AUTH_HASH_SIZE; j++) {
			*l++ = hex[h[j] >> 4];
			*l++ = hex[h[j] & 0x0f];
		}
		alive_r[i] = false;
	}
	*k++ = '}';
	*l++ = '}';
	*k = '\0';
	*l = '\0';
	params[0] = kinds;
	params[1] = list;
	if (db_query(pg, sql, 2, params, &res, err) < 0)
		goto out;
	for (row = 0; row < PQntuples(res); row++) {
		int64_t idx = db_result_i64(res, row, 0);

		if (idx >= 1 && (uint64_t)idx <= n)
			alive_r[idx - 1] = true;
	}
	ret = 0;
out:
	PQclear(res);
	free(kinds);
	free(list);
	return ret;
}

int db_auth_prune(PGconn *pg, uint64_t failure_window_s, unsigned batch,
                  int64_t *sessions_r, int64_t *failures_r,
                  struct ktd_error *err)
{
	/* Bounded batches: a backlog is worked off over several rounds
	 * rather than in one long statement. */
	static const char sql[] =
	        "WITH s AS (DELETE FROM sessions WHERE id_hash IN ("
	        "  SELECT id_hash FROM sessions WHERE expires_at < now() "
	        "  LIMIT $2::integer) RETURNING 1), "
	        "f AS (DELETE FROM login_failures WHERE id IN ("
	        "  SELECT id FROM login_failures "
	        "  WHERE at < now() - make_interval(secs => $1::bigint) "
	        "  LIMIT $2::integer) RETURNING 1) "
	        "SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM f)";
	char window[24], n[16];
	const char *params[2] = {window, n};
	PGresult *res = NULL;

	snprintf(window, sizeof(window), "%llu",
	         (unsigned long long)failure_window_s);
	snprintf(n, sizeof(n), "%u", batch);
	if (db_query(pg, sql, 2, params, &res, err) < 0)
		return -1;
	*sessions_r = db_result_i64(res, 0, 0);
	*failures_r = db_result_i64(res, 0, 1);
	PQclear(res);
	return 0;
}
