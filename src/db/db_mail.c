/* SPDX-License-Identifier: MPL-2.0 */
/* SQL of the e-mail intake. */
#include "db/db_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/pool.h"
#include "db/result.h"
#include "db/db_mail.h"

int db_mail_try_lock(PGconn *pg, const char *name, struct ktd_error *err)
{
	static const char sql[] = "SELECT pg_try_advisory_lock("
	                          "hashtextextended('kontaktd:mailbox:' || $1, "
	                          "0))";
	PGresult *res = NULL;
	int ret;

	if (db_query(pg, sql, 1, &name, &res, err) < 0)
		return -1;
	ret = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return ret;
}

int db_mail_state_get(PGconn *pg, const char *name, uint32_t *uidvalidity_r,
                      uint32_t *last_uid_r, struct ktd_error *err)
{
	static const char sql[] = "SELECT uidvalidity, last_uid "
	                          "FROM mailbox_state WHERE name = $1";
	PGresult *res = NULL;
	int ret = 0;

	if (db_query_prepared(pg, sql, 1, &name, &res, err) < 0)
		return -1;
	if (PQntuples(res) == 1) {
		*uidvalidity_r = (uint32_t)db_result_i64(res, 0, 0);
		*last_uid_r = (uint32_t)db_result_i64(res, 0, 1);
		ret = 1;
	}
	PQclear(res);
	return ret;
}

int db_mail_state_set(PGconn *pg, const char *name, uint32_t uidvalidity,
                      uint32_t last_uid, struct ktd_error *err)
{
	static const char sql[] =
	        "INSERT INTO mailbox_state (name, uidvalidity, last_uid) "
	        "VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE "
	        "SET uidvalidity = $2, last_uid = $3, updated_at = now()";
	char uv[16], lu[16];
	const char *params[3] = {name, uv, lu};

	snprintf(uv, sizeof(uv), "%" PRIu32, uidvalidity);
	snprintf(lu, sizeof(lu), "%" PRIu32, last_uid);
	return db_query_prepared(pg, sql, 3, params, NULL, err);
}

int db_mail_raw_insert(PGconn *pg, const struct db_mail_raw *r,
                       struct ktd_error *err)
{
	static const char sql[] =
	        "INSERT INTO raw_messages (contact_id, mailbox, uidvalidity, "
	        " uid, size, truncated, data) "
	        "VALUES ($1, $2, $3, $4, $5, $6, $7)";
	char id[24], uv[16], uid[16], size[24];
	const char *params[7] = {id,     r->mailbox,
	                         uv,     uid,
	                         size,   r->truncated ? "true" : "false",
	                         r->data};
	int lengths[7] = {0, 0, 0, 0, 0, 0, (int)r->len};
	int formats[7] = {0, 0, 0, 0, 0, 0, 1};

	snprintf(id, sizeof(id), "%" PRId64, r->contact_id);
	snprintf(uv, sizeof(uv), "%" PRIu32, r->uidvalidity);
	snprintf(uid, sizeof(uid), "%" PRIu32, r->uid);
	snprintf(size, sizeof(size), "%" PRIu64, r->size);
	return db_query_prepared_ex(pg, sql, 7, params, lengths, formats, false,
	                            NULL, err);
}

int db_mail_attachment_insert(PGconn *pg, int64_t contact_id,
                              const char *filename, const char *content_type,
                              const unsigned char *data, size_t size,
                              const char *sha256_hex, struct ktd_error *err)
{
	static const char sql[] =
	        "INSERT INTO attachments (contact_id, filename, content_type, "
	        " size, sha256, data) "
	        "VALUES ($1, $2, $3, $4, decode($5, 'hex'), $6)";
	char id[24], sz[24];
	const char *params[6] = {id, filename,   content_type,
	                         sz, sha256_hex, (const char *)data};
	int lengths[6] = {0, 0, 0, 0, 0, (int)size};
	int formats[6] = {0, 0, 0, 0, 0, 1};

	snprintf(id, sizeof(id), "%" PRId64, contact_id);
	snprintf(sz, sizeof(sz), "%zu", size);
	return db_query_prepared_ex(pg, sql, 6, params, lengths, formats, false,
	                            NULL, err);
}

int db_mail_receipt_claim(PGconn *pg, const char *address, uint64_t interval_s,
                          struct ktd_error *err)
{
	static const char sql[] =
	        "INSERT INTO receipt_senders AS r (address) VALUES (lower($1)) "
	        "ON CONFLICT (address) DO UPDATE SET last_at = now() "
	        "WHERE r.last_at <= now() - $2::bigint * interval '1 s' "
	        "RETURNING 1";
	char iv[24];
	const char *params[2] = {address, iv};
	PGresult *res = NULL;
	int ret;

	snprintf(iv, sizeof(iv), "%" PRIu64, interval_s);
	if (db_query_prepared(pg, sql, 2, params, &res, err) < 0)
		return -1;
	ret = PQntuples(res) == 1;
	PQclear(res);
	return ret;
}
