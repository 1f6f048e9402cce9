/* SPDX-License-Identifier: MPL-2.0 */
/* Queries on departments (the directory). The rules for each field, the
 * phone hours' shape and the CSV form are core/directory's. */
#ifndef KTD_DB_DEPARTMENT_H
#define KTD_DB_DEPARTMENT_H

#include "db/db_common.h"

/* One department. Optional text fields are NULL when empty. */
struct db_department {
	int64_t id; /* 0: not stored yet */
	char *name;
	char *parent; /* the parent's name; NULL: none */
	char *queue_number;
	char *hunt_group_number;
	char *ivr_choice;
	char *email;
	char *phone_hours; /* JSON object text, never NULL */
	bool handled_by_centre;
	unsigned phase; /* 1..3; 0: not in the centre */
	bool active;
};

struct db_department_list {
	struct db_department *items;
	size_t n;
};

/* Frees the fields of d (not d itself). */
void db_department_clear(struct db_department *d);

/* Takes an exclusive lock on the directory for writing, held until the end
 * of the transaction, so that two imports do not interleave; readers are
 * not blocked. Must be inside a transaction. */
int db_department_lock(PGconn *pg, struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Every department with its parent's name, by name (bytewise). The caller
 * frees the list. */
int db_department_list(PGconn *pg, struct db_department_list *list_r,
                       struct ktd_error *err) KTD_ATTR_NODISCARD;
void db_department_list_free(struct db_department_list *list);

/* Looks a department up by name, regardless of case. Returns 1 with
 * *id_r, 0 when there is none, -1. */
int db_department_find(PGconn *pg, const char *name, int64_t *id_r,
                       struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Inserts d, or updates the department of the same name (regardless of
 * case) when it differs; d->parent is ignored (see db_department_set_parents).
 * With insert_only an existing department is left alone. *written_r tells
 * whether a row was inserted or changed. */
int db_department_upsert(PGconn *pg, const struct db_department *d,
                         bool insert_only, bool *written_r,
                         struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Sets the parent of each named department (names[i] gets parents[i], NULL
 * for none) in one statement, so the tree is checked for cycles only as
 * a whole. Every name must exist. */
int db_department_set_parents(PGconn *pg, const char *const *names,
                              const char *const *parents, size_t n,
                              struct ktd_error *err) KTD_ATTR_NODISCARD;

#endif
