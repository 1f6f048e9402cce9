/* SPDX-License-Identifier: MPL-2.0 */
/* kontaktctl user add|passwd|disable|enable|list. Passwords come from
 * stdin (the first line), are hashed at once and wiped; they are never
 * printed or logged. */
#include "ctl/ctl_common.h"

#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "lib/str.h"
#include "daemon/settings.h"
#include "db/db_department.h"
#include "db/db_user.h"
#include "db/tx.h"
#include "core/user.h"
#include "ctl/ctl_util.h"

/* Reads the password from stdin and hashes it. Returns an exit code. */
static int read_and_hash(const char *login, char hash[USER_HASH_SIZE])
{
	char pw[USER_PASSWORD_MAX + 2], prompt[128];
	struct ktd_error err;
	size_t len = 0;
	int ret = KTD_EXIT_FAILURE;

	snprintf(prompt, sizeof(prompt), "Password for %s: ", login);
	if (ctl_util_read_secret(0, prompt, pw, sizeof(pw), &len, &err) < 0 ||
	    user_password_hash(pw, len, hash, &err) < 0) {
		fprintf(stderr,
		        "kontaktctl: %s (the password is read from the "
		        "first line of standard input)\n",
		        err.msg);
		goto out;
	}
	ret = KTD_EXIT_OK;
out:
	sodium_memzero(pw, sizeof(pw));
	return ret;
}

static int check_login(const char *cmd, const char *login)
{
	struct ktd_error err;

	if (user_login_check(login, &err) < 0)
		return ctl_util_usage_error(cmd, "login '%s': %s", login,
		                            err.msg);
	return KTD_EXIT_OK;
}

static int user_add(const struct ktd_settings *s, int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"role", required_argument, NULL, 'r'},
	        {"name", required_argument, NULL, 'n'},
	        {"department", required_argument, NULL, 'd'},
	        {NULL, 0, NULL, 0},
	};
	const char *role_s = NULL, *name = "", *dep = NULL, *login;
	char hash[USER_HASH_SIZE] = "", detail[160];
	enum user_role role;
	struct ktd_error err;
	int64_t dep_id = 0;
	PGconn *pg = NULL;
	int opt, ret;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":r:n:d:", longopts, NULL)) !=
	       -1) {
		switch (opt) {
		case 'r':
			role_s = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'd':
			dep = optarg;
			break;
		case ':':
			return ctl_util_usage_error("user add",
			                            "%s needs a value",
			                            argv[optind - 1]);
		default:
			return ctl_util_usage_error("user add",
			                            "unknown option '%s'",
			                            argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return ctl_util_usage_error("user add", "LOGIN is missing");
	if (optind + 1 < argc)
		return ctl_util_usage_error("user add",
		                            "unexpected argument '%s'",
		                            argv[optind + 1]);
	login = argv[optind];
	ret = check_login("user add", login);
	if (ret != KTD_EXIT_OK)
		return ret;
	if (!role_s)
		return ctl_util_usage_error("user add",
		                            "--role agent|supervisor|admin is "
		                            "required");
	if (user_role_parse(role_s, &role) < 0)
		return ctl_util_usage_error("user add",
		                            "unknown role '%s'; use agent, "
		                            "supervisor or admin",
		                            role_s);
	if (user_name_check(name, &err) < 0)
		return ctl_util_usage_error("user add", "--name: %s", err.msg);

	ret = KTD_EXIT_FAILURE;
	pg = ctl_util_connect(s);
	if (!pg)
		goto out;
	if (dep) {
		int found = db_department_find(pg, dep, &dep_id, &err);

		if (found < 0) {
			ret = ctl_util_fail(&err);
			goto out;
		}
		if (found == 0) {
			fprintf(stderr,
			        "kontaktctl: no department named '%s' in the "
			        "directory\n",
			        dep);
			goto out;
		}
	}
	/* Before asking for a password that would only be thrown away. */
	switch (db_user_exists(pg, login, &err)) {
	case 1:
		fprintf(stderr,
		        "kontaktctl: a user with login '%s' exists "
		        "already\n",
		        login);
		goto out;
	case 0:
		break;
	default:
		ret = ctl_util_fail(&err);
		goto out;
	}
	if (read_and_hash(login, hash) != KTD_EXIT_OK)
		goto out;
	snprintf(detail, sizeof(detail),
	         "{\"login\": \"%s\", \"role\": \"%s\"}", login,
	         user_role_name(role));
	if (db_tx_begin(pg, &err) < 0 ||
	    db_user_insert(pg, login, name, user_role_name(role), dep_id, hash,
	                   &err) < 0 ||
	    ctl_util_audit(pg, "create", "user", login, detail, &err) < 0 ||
	    db_tx_commit(pg, &err) < 0) {
		db_tx_rollback(pg);
		ret = ctl_util_fail(&err);
		goto out;
	}
	printf("user %s added (%s)\n", login, user_role_name(role));
	ret = KTD_EXIT_OK;
out:
	sodium_memzero(hash, sizeof(hash));
	if (pg)
		PQfinish(pg);
	return ret;
}

/* The commands that take exactly one LOGIN. */
static int one_login(const char *cmd, int argc, char **argv,
                     const char **login_r)
{
	if (argc < 2)
		return ctl_util_usage_error(cmd, "LOGIN is missing");
	if (argc > 2)
		return ctl_util_usage_error(cmd, "unexpected argument '%s'",
		                            argv[2]);
	*login_r = argv[1];
	return check_login(cmd, argv[1]);
}

static int user_passwd(const struct ktd_settings *s, int argc, char **argv)
{
	char hash[USER_HASH_SIZE] = "";
	struct ktd_error err;
	const char *login = NULL;
	PGconn *pg = NULL;
	int ret, found;

	ret = one_login("user passwd", argc, argv, &login);
	if (ret != KTD_EXIT_OK)
		return ret;
	ret = KTD_EXIT_FAILURE;
	pg = ctl_util_connect(s);
	if (!pg)
		goto out;
	found = db_user_exists(pg, login, &err);
	if (found < 0) {
		ret = ctl_util_fail(&err);
		goto out;
	}
	if (found == 0) {
		fprintf(stderr, "kontaktctl: no user with login '%s'\n", login);
		goto out;
	}
	if (read_and_hash(login, hash) != KTD_EXIT_OK)
		goto out;
	if (db_tx_begin(pg, &err) < 0) {
		ret = ctl_util_fail(&err);
		goto out;
	}
	found = db_user_set_password(pg, login, hash, &err);
	if (found == 1 &&
	    (ctl_util_audit(pg, "update", "user", login,
	                    "{\"fields\": [\"password\"]}", &err) < 0 ||
	     db_tx_commit(pg, &err) < 0))
		found = -1;
	db_tx_rollback(pg);
	if (found < 0) {
		ret = ctl_util_fail(&err);
		goto out;
	}
	if (found == 0) {
		fprintf(stderr, "kontaktctl: no user with login '%s'\n", login);
		goto out;
	}
	printf("password of user %s changed; their sessions have ended\n",
	       login);
	ret = KTD_EXIT_OK;
out:
	sodium_memzero(hash, sizeof(hash));
	if (pg)
		PQfinish(pg);
	return ret;
}

static int user_set_disabled(const struct ktd_settings *s, int argc,
                             char **argv, bool disabled)
{
	const char *cmd = disabled ? "user disable" : "user enable";
	const char *what = disabled ? "disabled" : "enabled";
	struct ktd_error err;
	const char *login = NULL;
	bool changed = false;
	PGconn *pg = NULL;
	int ret, found;

	ret = one_login(cmd, argc, argv, &login);
	if (ret != KTD_EXIT_OK)
		return ret;
	ret = KTD_EXIT_FAILURE;
	pg = ctl_util_connect(s);
	if (!pg)
		goto out;
	if (db_tx_begin(pg, &err) < 0) {
		ret = ctl_util_fail(&err);
		goto out;
	}
	found = db_user_set_disabled(pg, login, disabled, &changed, &err);
	if (found == 1 && changed &&
	    ctl_util_audit(pg, "update", "user", login,
	                   "{\"fields\": [\"disabled\"]}", &err) < 0)
		found = -1;
	if (found == 1 && db_tx_commit(pg, &err) < 0)
		found = -1;
	db_tx_rollback(pg);
	if (found < 0) {
		ret = ctl_util_fail(&err);
		goto out;
	}
	if (found == 0) {
		fprintf(stderr, "kontaktctl: no user with login '%s'\n", login);
		goto out;
	}
	if (changed)
		printf("user %s %s%s\n", login, what,
		       disabled ? "; their sessions have ended" : "");
	else
		printf("user %s was %s already\n", login, what);
	ret = KTD_EXIT_OK;
out:
	if (pg)
		PQfinish(pg);
	return ret;
}

static int user_list(const struct ktd_settings *s, int argc, char **argv)
{
	static const char *const header[] = {"LOGIN", "NAME", "ROLE",
	                                     "DEPARTMENT", "DISABLED"};
	struct db_user_list list = {NULL, 0};
	struct ctl_util_table t;
	struct ktd_error err;
	PGconn *pg;
	size_t i;
	int ret = KTD_EXIT_FAILURE;

	if (argc > 1)
		return ctl_util_usage_error(
		        "user list", "unexpected argument '%s'", argv[1]);
	pg = ctl_util_connect(s);
	if (!pg)
		return KTD_EXIT_FAILURE;
	if (db_user_list(pg, &list, &err) < 0) {
		ret = ctl_util_fail(&err);
		goto out;
	}
	ctl_util_table_init(&t, KTD_N_ELEMENTS(header), header);
	for (i = 0; i < list.n; i++) {
		const struct db_user *u = &list.items[i];
		const char *row[] = {u->login, u->name[0] ? u->name : NULL,
		                     u->role, u->department,
		                     u->disabled ? "yes" : "no"};

		ctl_util_table_add(&t, row);
	}
	ctl_util_table_print(&t, stdout);
	ctl_util_table_deinit(&t);
	ret = KTD_EXIT_OK;
out:
	db_user_list_free(&list);
	PQfinish(pg);
	return ret;
}

static int user_disable(const struct ktd_settings *s, int argc, char **argv)
{
	return user_set_disabled(s, argc, argv, true);
}

static int user_enable(const struct ktd_settings *s, int argc, char **argv)
{
	return user_set_disabled(s, argc, argv, false);
}

int ctl_user_main(const struct ktd_settings *s, int argc, char **argv)
{
	static const struct {
		const char *name;
		ctl_command_fn *fn;
	} subs[] = {
	        {"add", user_add},         {"passwd", user_passwd},
	        {"disable", user_disable}, {"enable", user_enable},
	        {"list", user_list},
	};
	size_t i;

	if (argc < 2)
		return ctl_util_usage_error("user",
		                            "add, passwd, disable, enable or "
		                            "list is missing");
	for (i = 0; i < KTD_N_ELEMENTS(subs); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].fn(s, argc - 1, argv + 1);
	return ctl_util_usage_error("user",
	                            "unknown command '%s'; use add, passwd, "
	                            "disable, enable or list",
	                            argv[1]);
}
