/* SPDX-License-Identifier: MPL-2.0 */
/* Queries on users (and, where a user's rights change, their sessions).
 * The rules for logins, names, roles and passwords are core/user's; these
 * functions store what they are given. All take a connection owned by the
 * calling thread and run in its transaction, if one is open. */
#ifndef KTD_DB_USER_H
#define KTD_DB_USER_H

#include "db/db_common.h"

struct db_user {
	int64_t id;
	char *login;
	char *name;
	char *role;            /* "agent", "supervisor" or "admin" */
	char *department;      /* the department's name; NULL: none */
	int64_t department_id; /* 0: none */
	bool disabled;
	char *created_at; /* RFC 3339 UTC */
};

struct db_user_list {
	struct db_user *items;
	size_t n;
};

/* Adds a user. department_id 0 means none. Returns 0, or -1 with
 * KTD_ERR_CONFLICT when the login is taken. */
int db_user_insert(PGconn *pg, const char *login, const char *name,
                   const char *role, int64_t department_id,
                   const char *password_hash, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* Like db_user_insert, returning the new user's id; KTD_ERR_UNPROCESSABLE
 * naming department_id when there is no such department. */
int db_user_create(PGconn *pg, const char *login, const char *name,
                   const char *role, int64_t department_id,
                   const char *password_hash, int64_t *id_r,
                   struct ktd_error *err) KTD_ATTR_NODISCARD;

/* What db_user_update changes: NULL strings and negative numbers keep the
 * field as it is. */
struct db_user_change {
	const char *name;
	const char *role;
	bool set_department;
	int64_t department_id; /* with set_department; 0: none */
	int disabled;          /* 1, 0; -1: keep */
	const char *password_hash;
};

/* Changes the user id in one statement; disabling the user or a new
 * password hash ends the user's sessions. Returns 1 done, 0 no such
 * user, -1 (KTD_ERR_UNPROCESSABLE naming department_id when there is no
 * such department). */
int db_user_update(PGconn *pg, int64_t id, const struct db_user_change *c,
                   struct ktd_error *err) KTD_ATTR_NODISCARD;

/* The user id (0: every user, by login). The caller frees the list. */
int db_user_select(PGconn *pg, int64_t id, struct db_user_list *list_r,
                   struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Returns 1 when a user with this login exists, 0 when not, -1. */
int db_user_exists(PGconn *pg, const char *login, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* Sets a new password hash and ends the user's sessions. Returns 1 done,
 * 0 no such user, -1. */
int db_user_set_password(PGconn *pg, const char *login,
                         const char *password_hash, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* Disables (ending the user's sessions) or enables a user; *changed_r
 * tells whether the flag changed. Returns 1 done, 0 no such user, -1. */
int db_user_set_disabled(PGconn *pg, const char *login, bool disabled,
                         bool *changed_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* Every user, by login. The caller frees the list. */
int db_user_list(PGconn *pg, struct db_user_list *list_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;
void db_user_list_free(struct db_user_list *list);

/* The users who are not disabled, as a JSON array text of {"id",
 * "name", "login"} by name (then login): whom a case can be assigned to,
 * and nothing more of them. The caller frees it. */
int db_user_active_json(PGconn *pg, char **json_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

#endif
