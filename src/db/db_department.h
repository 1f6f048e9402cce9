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
	int64_t parent_id; /* 0: none (db_department_select, _insert, _update)
	                    */
	bool open_now;     /* within phone_hours now (db_department_select) */
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

/* Which departments db_department_select returns. */
struct db_department_filter {
	const char *q; /* a substring of the name, any case; NULL: any */
	int active;    /* 1 or 0; -1: any */
	int handled_by_centre; /* 1 or 0; -1: any */
	int64_t id;            /* > 0: only this one */
	bool lock;             /* FOR UPDATE (inside a transaction) */
};

/* The departments that match f, by name, with parent_id and open_now
 * (the phone hours against the time in Europe/Copenhagen now). The caller
 * frees the list. */
int db_department_select(PGconn *pg, const struct db_department_filter *f,
                         struct db_department_list *list_r,
                         struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Inserts d with d->parent_id (d->parent is ignored) and returns its id.
 * KTD_ERR_CONFLICT when the name is taken (regardless of case),
 * KTD_ERR_UNPROCESSABLE naming parent_id when there is no such parent. */
int db_department_insert(PGconn *pg, const struct db_department *d,
                         int64_t *id_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* Writes every field of d (parent by d->parent_id) to the department
 * d->id. Returns 1, 0 when there is no such department, or -1 with the
 * errors of db_department_insert, and KTD_ERR_UNPROCESSABLE naming
 * parent_id when the department would be its own ancestor. */
int db_department_update(PGconn *pg, const struct db_department *d,
                         struct ktd_error *err) KTD_ATTR_NODISCARD;

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
