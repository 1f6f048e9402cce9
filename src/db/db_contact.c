/* SPDX-License-Identifier: MPL-2.0 */
/* SQL on the contacts table. */
#include "db/db_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "db/array.h"
#include "db/pool.h"
#include "db/result.h"
#include "db/db_contact.h"

int db_contact_find(PGconn *pg, const char *channel, const char *external_id,
                    int64_t *id_r, int64_t *case_id_r, struct ktd_error *err)
{
	static const char sql[] = "SELECT id, case_id FROM contacts "
	                          "WHERE channel = $1 AND external_id = $2";
	const char *params[2] = {channel, external_id};
	PGresult *res = NULL;
	int ret = 0;

	if (db_query_prepared(pg, sql, 2, params, &res, err) < 0)
		return -1;
	if (PQntuples(res) == 1) {
		*id_r = db_result_i64(res, 0, 0);
		*case_id_r = db_result_i64(res, 0, 1);
		ret = 1;
	}
	PQclear(res);
	return ret;
}

int db_contact_exist(PGconn *pg, const char *channel,
                     const char *const *external_ids, size_t n, bool *exists_r,
                     struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT k.i FROM unnest($2::text[]) WITH ORDINALITY k(e, i) "
	        "WHERE EXISTS (SELECT 1 FROM contacts "
	        " WHERE channel = $1 AND external_id = k.e)";
	const char *params[2] = {channel, NULL};
	PGresult *res = NULL;
	struct db_array a;
	int64_t k;
	size_t j;
	int i, ret = -1;

	memset(exists_r, 0, n * sizeof(*exists_r));
	if (n == 0)
		return 0;
	db_array_init(&a);
	for (j = 0; j < n; j++)
		db_array_add(&a, external_ids[j]);
	params[1] = db_array_text(&a, err);
	if (!params[1])
		goto out;
	if (db_query_prepared(pg, sql, 2, params, &res, err) < 0)
		goto out;
	for (i = 0; i < PQntuples(res); i++) {
		k = db_result_i64(res, i, 0);
		if (k >= 1 && (uint64_t)k <= n)
			exists_r[k - 1] = true;
	}
	ret = 0;
out:
	PQclear(res);
	db_array_deinit(&a);
	return ret;
}

int db_contact_case_by_message_id(PGconn *pg, const char *message_id,
                                  int64_t *case_id_r, struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT coalesce(c.merged_into_id, c.id) FROM contacts ct "
	        "JOIN cases c ON c.id = ct.case_id "
	        "WHERE ct.channel IN ('email', 'outbound_email') "
	        " AND ct.external_id = $1 "
	        "ORDER BY ct.id LIMIT 1";
	PGresult *res = NULL;
	int ret = 0;

	if (db_query_prepared(pg, sql, 1, &message_id, &res, err) < 0)
		return -1;
	if (PQntuples(res) == 1) {
		*case_id_r = db_result_i64(res, 0, 0);
		ret = 1;
	}
	PQclear(res);
	return ret;
}

int db_contact_insert(PGconn *pg, const struct db_contact_new *c, int64_t *id_r,
                      struct ktd_error *err)
{
	static const char sql[] =
	        "INSERT INTO contacts (case_id, channel, direction, "
	        " external_id, occurred_at, from_addr, to_addr, subject, body, "
	        " raw_ref, created_by) "
	        "VALUES ($1, $2, $3, $4, coalesce($5::timestamptz, now()), $6, "
	        " $7, coalesce($8, ''), coalesce($9, ''), $10, "
	        " NULLIF($11::bigint, 0)) "
	        "ON CONFLICT (channel, external_id) DO NOTHING RETURNING id";
	char case_id[24], by[24];
	const char *params[11];
	PGresult *res = NULL;
	int ret = 0;

	snprintf(case_id, sizeof(case_id), "%" PRId64, c->case_id);
	snprintf(by, sizeof(by), "%" PRId64, c->created_by);
	params[0] = case_id;
	params[1] = c->channel;
	params[2] = c->direction;
	params[3] = c->external_id;
	params[4] = c->occurred_at;
	params[5] = c->from_addr;
	params[6] = c->to_addr;
	params[7] = c->subject;
	params[8] = c->body;
	params[9] = c->raw_ref;
	params[10] = by;
	if (db_query_prepared(pg, sql, 11, params, &res, err) < 0)
		return -1;
	if (PQntuples(res) == 1) {
		*id_r = db_result_i64(res, 0, 0);
		ret = 1;
	}
	PQclear(res);
	return ret;
}

int db_contact_list_json(PGconn *pg, int64_t case_id, char **json_r,
                         struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT coalesce(jsonb_agg(ktd_contact_json(ct) "
	        " ORDER BY ct.occurred_at, ct.id), '[]'::jsonb)::text "
	        "FROM contacts ct WHERE ct.case_id = $1";
	char id[24];
	const char *params[1] = {id};
	PGresult *res = NULL;

	snprintf(id, sizeof(id), "%" PRId64, case_id);
	if (db_query(pg, sql, 1, params, &res, err) < 0)
		return -1;
	*json_r = db_result_strdup(res, 0, 0);
	PQclear(res);
	return 0;
}

int db_contact_get_json(PGconn *pg, int64_t case_id, int64_t contact_id,
                        char **json_r, struct ktd_error *err)
{
	static const char sql[] =
	        "SELECT ktd_contact_json(ct)::text FROM contacts ct "
	        "WHERE ct.id = $2 AND ct.case_id = $1";
	char cid[24], id[24];
	const char *params[2] = {cid, id};
	PGresult *res = NULL;
	int ret = 0;

	snprintf(cid, sizeof(cid), "%" PRId64, case_id);
	snprintf(id, sizeof(id), "%" PRId64, contact_id);
	if (db_query(pg, sql, 2, params, &res, err) < 0)
		return -1;
	if (PQntuples(res) == 1) {
		*json_r = db_result_strdup(res, 0, 0);
		ret = 1;
	}
	PQclear(res);
	return ret;
}

int db_attachment_get(PGconn *pg, int64_t case_id, int64_t attachment_id,
                      struct db_attachment *a, struct ktd_error *err)
{
	/* The bytes come back in binary format: no hex text twice their
	 * size. Every column is then binary, hence the text of the ids. */
	static const char sql[] =
	        "SELECT a.filename, a.content_type, a.data, "
	        " encode(a.sha256, 'hex') "
	        "FROM attachments a JOIN contacts ct ON ct.id = a.contact_id "
	        "WHERE a.id = $2 AND ct.case_id = $1";
	char cid[24], id[24];
	const char *params[2] = {cid, id};
	PGresult *res = NULL;

	memset(a, 0, sizeof(*a));
	snprintf(cid, sizeof(cid), "%" PRId64, case_id);
	snprintf(id, sizeof(id), "%" PRId64, attachment_id);
	if (db_query_ex(pg, sql, 2, params, NULL, NULL, true, &res, err) < 0)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return 0;
	}
	a->res = res;
	a->filename = PQgetvalue(res, 0, 0);
	a->content_type = PQgetvalue(res, 0, 1);
	a->data = (const unsigned char *)PQgetvalue(res, 0, 2);
	a->size = (size_t)PQgetlength(res, 0, 2);
	a->sha256_hex = PQgetvalue(res, 0, 3);
	return 1;
}

void db_attachment_free(struct db_attachment *a)
{
	PQclear(a->res);
	memset(a, 0, sizeof(*a));
}
