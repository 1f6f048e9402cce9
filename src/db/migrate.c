/* SPDX-License-Identifier: MPL-2.0 */
/* Forward-only schema migrations with checksums. */
#include "db/db_common.h"

#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "db/migrate.h"
#include "db/pool.h"

/* Key of the advisory lock that serialises migrations ("kontakt"). */
#define MIGRATE_LOCK_KEY "30224115573961588"
/* A migration file larger than this is surely a mistake. */
#define MIGRATION_MAX_BYTES (16u * 1024 * 1024)

/* "NNN_name.sql": at least three digits, '_', a name of [a-z0-9_-]. */
KTD_STATIC int migration_parse_name(const char *name, uint32_t *version_r)
{
	char digits[11];
	size_t nd = 0, len = strlen(name), i;

	while (name[nd] >= '0' && name[nd] <= '9')
		nd++;
	if (nd < 3 || nd > 9 || name[nd] != '_' ||
	    !ktd_str_has_suffix(name, ".sql") || len <= nd + 1 + 4)
		return -1;
	for (i = nd + 1; i < len - 4; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return -1;
	}
	memcpy(digits, name, nd);
	digits[nd] = '\0';
	if (ktd_parse_u32(digits, version_r) < 0 || *version_r == 0)
		return -1;
	return 0;
}

static int read_file(const char *path, char **data_r, struct ktd_error *err)
{
	struct ktd_buf b;
	char chunk[8192];
	FILE *fp = fopen(path, "rb");
	size_t n;
	int ret = -1;

	if (!fp)
		return ktd_error_set(err, KTD_ERR_IO, "%s: cannot open: %s",
		                     path, strerror(errno));
	ktd_buf_init(&b, MIGRATION_MAX_BYTES);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		if (ktd_buf_add(&b, chunk, n) < 0) {
			ktd_error_set(err, KTD_ERR_IO,
			              "%s: larger than %u bytes", path,
			              MIGRATION_MAX_BYTES);
			goto out;
		}
	}
	if (ferror(fp)) {
		ktd_error_set(err, KTD_ERR_IO, "%s: read error", path);
		goto out;
	}
	*data_r = ktd_buf_steal(&b, NULL);
	ret = 0;
out:
	ktd_buf_deinit(&b);
	fclose(fp);
	return ret;
}

static int migration_cmp(const void *a, const void *b)
{
	const struct db_migration *ma = a, *mb = b;

	return ma->version < mb->version ? -1 : ma->version > mb->version;
}

static void checksum_hex(const char *data, char out[65])
{
	unsigned char hash[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(hash, (const unsigned char *)data, strlen(data));
	sodium_bin2hex(out, 65, hash, sizeof(hash));
}

int db_migrations_load(const char *dir, struct db_migration_set **set_r,
                       struct ktd_error *err)
{
	struct db_migration_set *set = ktd_calloc(1, sizeof(*set));
	size_t cap = 0, i;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d) {
		free(set);
		return ktd_error_set(err, KTD_ERR_IO,
		                     "sql_dir %s: cannot open: %s", dir,
		                     strerror(errno));
	}
	while ((de = readdir(d))) {
		struct db_migration *m;
		char path[4096];
		uint32_t version;

		if (!ktd_str_has_suffix(de->d_name, ".sql"))
			continue;
		if (migration_parse_name(de->d_name, &version) < 0) {
			ktd_error_set(err, KTD_ERR_IO,
			              "%s/%s: a migration must be named "
			              "NNN_name.sql (digits, '_', then "
			              "a-z, 0-9, '_' or '-')",
			              dir, de->d_name);
			goto fail;
		}
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		                     de->d_name) >= sizeof(path)) {
			ktd_error_set(err, KTD_ERR_IO, "%s: path too long",
			              dir);
			goto fail;
		}
		if (set->n == cap) {
			cap = cap ? cap * 2 : 16;
			set->items = ktd_realloc(set->items,
			                         cap * sizeof(*set->items));
		}
		m = &set->items[set->n];
		memset(m, 0, sizeof(*m));
		if (read_file(path, &m->sql, err) < 0)
			goto fail;
		m->version = version;
		m->name = ktd_strdup(de->d_name);
		checksum_hex(m->sql, m->checksum);
		set->n++;
	}
	closedir(d);
	d = NULL;
	qsort(set->items, set->n, sizeof(*set->items), migration_cmp);
	for (i = 1; i < set->n; i++) {
		if (set->items[i].version == set->items[i - 1].version) {
			ktd_error_set(err, KTD_ERR_IO,
			              "%s: %s and %s have the same version %u",
			              dir, set->items[i - 1].name,
			              set->items[i].name,
			              set->items[i].version);
			goto fail;
		}
	}
	*set_r = set;
	return 0;
fail:
	if (d)
		closedir(d);
	db_migrations_destroy(&set);
	return -1;
}

void db_migrations_destroy(struct db_migration_set **setp)
{
	struct db_migration_set *set = *setp;
	size_t i;

	if (!set)
		return;
	for (i = 0; i < set->n; i++) {
		free(set->items[i].name);
		free(set->items[i].sql);
	}
	free(set->items);
	free(set);
	*setp = NULL;
}

static const struct db_migration *set_find(const struct db_migration_set *set,
                                           uint32_t version)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		if (set->items[i].version == version)
			return &set->items[i];
	}
	return NULL;
}

int db_migrate_status(PGconn *pg, const struct db_migration_set *set,
                      struct db_migrate_status *st, struct ktd_error *err)
{
	PGresult *res = NULL;
	int ret = -1, i, rows;

	memset(st, 0, sizeof(*st));
	if (db_query(pg, "SELECT to_regclass('schema_migrations') IS NOT NULL",
	             0, NULL, &res, err) < 0)
		goto out;
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		st->state = set->n ? DB_MIGRATE_PENDING : DB_MIGRATE_CURRENT;
		st->pending = set->n;
		if (set->n)
			snprintf(st->detail, sizeof(st->detail),
			         "the database has no schema yet: %zu "
			         "migrations to apply, starting with %s",
			         set->n, set->items[0].name);
		ret = 0;
		goto out;
	}
	PQclear(res);
	res = NULL;
	if (db_query(pg,
	             "SELECT version, name, checksum FROM schema_migrations "
	             "ORDER BY version",
	             0, NULL, &res, err) < 0)
		goto out;
	rows = PQntuples(res);
	st->state = DB_MIGRATE_CURRENT;
	for (i = 0; i < rows; i++) {
		const struct db_migration *m;
		uint32_t v;

		if (ktd_parse_u32(PQgetvalue(res, i, 0), &v) < 0) {
			ktd_error_set(err, KTD_ERR_INTERNAL,
			              "schema_migrations: bad version '%s'",
			              PQgetvalue(res, i, 0));
			goto out;
		}
		m = set_find(set, v);
		if (!m) {
			st->state = DB_MIGRATE_UNKNOWN;
			snprintf(st->detail, sizeof(st->detail),
			         "the database has migration %u (%s), which "
			         "this kontaktd does not know: it is older "
			         "than the schema",
			         v, PQgetvalue(res, i, 1));
			ret = 0;
			goto out;
		}
		if (strcmp(m->checksum, PQgetvalue(res, i, 2)) != 0) {
			st->state = DB_MIGRATE_CHANGED;
			snprintf(st->detail, sizeof(st->detail),
			         "%s was changed after it was applied "
			         "(recorded checksum %.12s..., file has "
			         "%.12s...); restore the file and add a new "
			         "migration instead",
			         m->name, PQgetvalue(res, i, 2), m->checksum);
			ret = 0;
			goto out;
		}
		st->applied++;
	}
	st->pending = set->n - st->applied;
	if (st->pending > 0) {
		size_t k;

		st->state = DB_MIGRATE_PENDING;
		for (k = 0; k < set->n; k++) {
			char v[16];
			int j;
			bool found = false;

			snprintf(v, sizeof(v), "%u", set->items[k].version);
			for (j = 0; j < rows && !found; j++)
				found = strcmp(PQgetvalue(res, j, 0), v) == 0;
			if (!found) {
				snprintf(st->detail, sizeof(st->detail),
				         "%zu migrations not applied, "
				         "starting with %s",
				         st->pending, set->items[k].name);
				break;
			}
		}
	}
	ret = 0;
out:
	PQclear(res);
	return ret;
}

static int exec_simple(PGconn *pg, const char *sql, struct ktd_error *err)
{
	PGresult *res = PQexec(pg, sql);
	ExecStatusType s = PQresultStatus(res);
	int ret = 0;

	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		char msg[KTD_ERROR_MSG_MAX];

		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(pg));
		msg[strcspn(msg, "\n")] = '\0';
		ret = ktd_error_set(err, KTD_ERR_INTERNAL, "%s", msg);
	}
	PQclear(res);
	return ret;
}

static int apply_one(PGconn *pg, const struct db_migration *m,
                     struct ktd_error *err)
{
	char version[16];
	const char *params[3];

	snprintf(version, sizeof(version), "%u", m->version);
	params[0] = version;
	params[1] = m->name;
	params[2] = m->checksum;
	if (exec_simple(pg, "BEGIN", err) < 0)
		return -1;
	if (exec_simple(pg, m->sql, err) < 0 ||
	    db_query(pg,
	             "INSERT INTO schema_migrations (version, name, checksum) "
	             "VALUES ($1, $2, $3)",
	             3, params, NULL, err) < 0 ||
	    exec_simple(pg, "COMMIT", err) < 0) {
		struct ktd_error ignore;

		ktd_error_prefix(err, "%s", m->name);
		(void)exec_simple(pg, "ROLLBACK", &ignore);
		return -1;
	}
	return 0;
}

int db_migrate_apply(PGconn *pg, const struct db_migration_set *set,
                     size_t *applied_r, struct ktd_error *err)
{
	struct db_migrate_status st;
	struct ktd_error ignore;
	size_t i;
	int ret = -1;

	*applied_r = 0;
	if (exec_simple(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")",
	                err) < 0)
		return -1;
	if (exec_simple(pg,
	                "SET client_min_messages = warning;"
	                "CREATE TABLE IF NOT EXISTS schema_migrations ("
	                " version integer PRIMARY KEY,"
	                " name text NOT NULL,"
	                " checksum text NOT NULL,"
	                " applied_at timestamptz NOT NULL DEFAULT now(),"
	                " applied_by text NOT NULL DEFAULT current_user)",
	                err) < 0)
		goto out;
	if (db_migrate_status(pg, set, &st, err) < 0)
		goto out;
	if (st.state == DB_MIGRATE_CHANGED || st.state == DB_MIGRATE_UNKNOWN) {
		ktd_error_set(err, KTD_ERR_CONFLICT, "%s", st.detail);
		goto out;
	}
	for (i = 0; i < set->n; i++) {
		PGresult *res = NULL;
		char version[16];
		const char *params[1] = {version};
		bool done;

		snprintf(version, sizeof(version), "%u", set->items[i].version);
		if (db_query(pg,
		             "SELECT 1 FROM schema_migrations WHERE version = "
		             "$1",
		             1, params, &res, err) < 0)
			goto out;
		done = PQntuples(res) > 0;
		PQclear(res);
		if (done)
			continue;
		if (apply_one(pg, &set->items[i], err) < 0)
			goto out;
		ktd_log_info("event=migration_applied file=%s",
		             set->items[i].name);
		(*applied_r)++;
	}
	ret = 0;
out:
	(void)exec_simple(pg, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")",
	                  &ignore);
	return ret;
}
