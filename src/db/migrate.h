/* SPDX-License-Identifier: MPL-2.0 */
/* Schema migrations: sql/NNN_name.sql files applied in order, each in its
 * own transaction, recorded in schema_migrations with a SHA-256 checksum.
 * Applying is serialised across processes by an advisory lock. */
#ifndef KTD_DB_MIGRATE_H
#define KTD_DB_MIGRATE_H

#include "db/db_common.h"

struct db_migration {
	uint32_t version;
	char *name;        /* file name, e.g. "001_base.sql" */
	char *sql;         /* file contents */
	char checksum[65]; /* lower-case hex SHA-256 of the contents */
};

struct db_migration_set {
	struct db_migration *items; /* sorted by version */
	size_t n;
};

enum db_migrate_state {
	DB_MIGRATE_CURRENT, /* every file applied, checksums match */
	DB_MIGRATE_PENDING, /* some files not yet applied */
	DB_MIGRATE_CHANGED, /* an applied file was changed afterwards */
	DB_MIGRATE_UNKNOWN, /* the database has a version no file has */
};

struct db_migrate_status {
	enum db_migrate_state state;
	size_t applied;
	size_t pending;
	/* For PENDING, CHANGED, UNKNOWN: a sentence saying what and where. */
	char detail[KTD_ERROR_MSG_MAX];
};

/* Reads every NNN_name.sql in dir. Files that do not end in .sql are
 * ignored; a .sql file with a malformed name or a version used twice is an
 * error. Returns 0 and a new set (caller destroys) or -1. */
int db_migrations_load(const char *dir, struct db_migration_set **set_r,
                       struct ktd_error *err) KTD_ATTR_NODISCARD;
void db_migrations_destroy(struct db_migration_set **set);

/* Compares the database with the set. Returns 0 with *st filled, or -1
 * when the database could not be asked. A missing schema_migrations table
 * means nothing is applied yet. */
int db_migrate_status(PGconn *pg, const struct db_migration_set *set,
                      struct db_migrate_status *st, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* Applies every pending migration under the advisory lock; refuses (and
 * applies nothing) when an applied file was changed or the database is
 * ahead of the files. *applied_r gets the number applied. */
int db_migrate_apply(PGconn *pg, const struct db_migration_set *set,
                     size_t *applied_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

#ifdef KTD_UNITTEST
int migration_parse_name(const char *name, uint32_t *version_r);
#endif

#endif
