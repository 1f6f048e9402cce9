/* SPDX-License-Identifier: MPL-2.0 */
/* SQL on routing_rules. */
#include "db/db_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "db/pool.h"
#include "db/result.h"
#include "db/db_routing.h"

#define RULE_JSON                                                              \
	"jsonb_build_object('id', r.id, 'kind', r.kind, 'pattern', "           \
	"r.pattern, 'department_id', r.department_id, 'priority', "            \
	"r.priority, 'active', r.active, 'created_at', "                       \
	"ktd_rfc3339(r.created_at))"

int db_routing_list_json(PGconn *pg, char **json_r, struct ktd_error *err)
{
	static const char sql[] = "SELECT coalesce(jsonb_agg(" RULE_JSON
	                          " ORDER BY r.active DESC, r.priority, r.id), "
	                          " '[]'::jsonb)::text FROM routing_rules r";
	PGresult *res = NULL;

	if (db_query(pg, sql, 0, NULL, &res, err) < 0)
		return -1;
	*json_r = db_result_strdup(res, 0, 0);
	PQclear(res);
	return 0;
}

/* A missing department is the client's error; a CHECK too. */
static int map_error(struct ktd_error *err)
{
	if (strcmp(err->sqlstate, "23503") == 0)
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field 'department_id' names no "
		                     "department");
	if (strcmp(err->sqlstate, "23514") == 0)
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "a value was refused by the database's "
		                     "rules");
	return -1;
}

int db_routing_insert(PGconn *pg, const struct db_routing_rule *r,
                      int64_t *id_r, char **json_r, struct ktd_error *err)
{
	static const char sql[] =
	        "INSERT INTO routing_rules AS r (kind, pattern, department_id, "
	        " priority, active) VALUES ($1, $2, $3, $4, $5) "
	        "RETURNING r.id, " RULE_JSON "::text";
	char dept[24], prio[16];
	const char *params[5] = {r->kind, r->pattern, dept, prio,
	                         r->active ? "t" : "f"};
	PGresult *res = NULL;

	snprintf(dept, sizeof(dept), "%" PRId64, r->department_id);
	snprintf(prio, sizeof(prio), "%" PRId32, r->priority);
	if (db_query(pg, sql, 5, params, &res, err) < 0)
		return map_error(err);
	*id_r = db_result_i64(res, 0, 0);
	*json_r = db_result_strdup(res, 0, 1);
	PQclear(res);
	return 0;
}

int db_routing_update(PGconn *pg, int64_t id, const struct db_routing_rule *r,
                      char **json_r, struct ktd_error *err)
{
	static const char sql[] =
	        "UPDATE routing_rules r SET "
	        " kind = CASE WHEN $2::boolean THEN $3 ELSE kind END, "
	        " pattern = CASE WHEN $4::boolean THEN $5 ELSE pattern END, "
	        " department_id = CASE WHEN $6::boolean THEN $7::bigint "
	        "  ELSE department_id END, "
	        " priority = CASE WHEN $8::boolean THEN $9::integer "
	        "  ELSE priority END, "
	        " active = CASE WHEN $10::boolean THEN $11::boolean "
	        "  ELSE active END "
	        "WHERE r.id = $1 RETURNING " RULE_JSON "::text";
	char idt[24], dept[24], prio[16];
	const char *params[11];
	PGresult *res = NULL;
	int ret = 0;

	snprintf(idt, sizeof(idt), "%" PRId64, id);
	snprintf(dept, sizeof(dept), "%" PRId64, r->department_id);
	snprintf(prio, sizeof(prio), "%" PRId32, r->priority);
	params[0] = idt;
	params[1] = r->set_kind ? "t" : "f";
	params[2] = r->kind;
	params[3] = r->set_pattern ? "t" : "f";
	params[4] = r->pattern;
	params[5] = r->set_department ? "t" : "f";
	params[6] = dept;
	params[7] = r->set_priority ? "t" : "f";
	params[8] = prio;
	params[9] = r->set_active ? "t" : "f";
	params[10] = r->active ? "t" : "f";
	if (db_query(pg, sql, 11, params, &res, err) < 0)
		return map_error(err);
	if (PQntuples(res) == 1) {
		*json_r = db_result_strdup(res, 0, 0);
		ret = 1;
	}
	PQclear(res);
	return ret;
}

int db_routing_delete(PGconn *pg, int64_t id, struct ktd_error *err)
{
	static const char sql[] = "DELETE FROM routing_rules WHERE id = $1";
	char idt[24];
	const char *params[1] = {idt};
	PGresult *res = NULL;
	int ret;

	snprintf(idt, sizeof(idt), "%" PRId64, id);
	if (db_query(pg, sql, 1, params, &res, err) < 0)
		return -1;
	ret = strcmp(PQcmdTuples(res), "1") == 0;
	PQclear(res);
	return ret;
}
