/* SPDX-License-Identifier: MPL-2.0 */
/* kontaktctl: the administrator's command line: migrations, users, API
 * tokens, the directory and the demo seed. Each command lives in its own
 * file (ctl_user.c, ctl_token.c, ...); this one parses the options and
 * dispatches. */
#include "ctl/ctl_common.h"

#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "lib/log.h"
#include "daemon/settings.h"
#include "db/migrate.h"
#include "db/pool.h"
#include "ctl/ctl_util.h"
#include "core/user.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "Usage: kontaktctl [--config FILE] COMMAND [ARGS]\n"
	        "Administration of kontaktd.\n\n"
	        "Commands:\n"
	        "  migrate             apply the pending schema migrations\n"
	        "  migrate status      show whether the schema is current\n"
	        "  user add LOGIN --role agent|supervisor|admin [--name NAME]\n"
	        "       [--department NAME]\n"
	        "                      add a user; the password is the first\n"
	        "                      line of standard input\n"
	        "  user passwd LOGIN   set a new password (from standard "
	        "input)\n"
	        "  user disable LOGIN  stop a user from logging in\n"
	        "  user enable LOGIN   let a disabled user log in again\n"
	        "  user list           list the users\n"
	        "  token create NAME --scope S[,S]\n"
	        "                      make an API token (S: cti:write,\n"
	        "                      digitalpost:write, read, admin) and\n"
	        "                      print it, once\n"
	        "  token revoke NAME   revoke a token\n"
	        "  token list          list the tokens\n"
	        "  directory import FILE|-\n"
	        "                      add and update departments from CSV\n"
	        "  directory export FILE|-\n"
	        "                      write the directory as CSV\n"
	        "  seed-demo [--admin-password-file FILE]\n"
	        "                      add the demo directory and an admin "
	        "user\n\n"
	        "Options:\n"
	        "  -c, --config FILE   configuration file (default %s)\n"
	        "  -V, --version       print the version and exit\n"
	        "  -h, --help          print this help and exit\n\n"
	        "Exit status: 0 success, 1 failure, 64 bad usage, 78 bad "
	        "configuration.\n",
	        ktd_settings_default_path());
}

static const char *state_text(enum db_migrate_state s)
{
	switch (s) {
	case DB_MIGRATE_CURRENT:
		return "current";
	case DB_MIGRATE_PENDING:
		return "pending";
	case DB_MIGRATE_CHANGED:
		return "changed";
	case DB_MIGRATE_UNKNOWN:
		return "unknown";
	}
	return "unknown";
}

static int cmd_migrate(const struct ktd_settings *s, int argc, char **argv)
{
	struct db_migration_set *set = NULL;
	struct db_migrate_status st;
	struct db_pool_config cfg;
	struct ktd_error err;
	bool status_only = false;
	size_t applied = 0;
	PGconn *pg = NULL;
	int ret = 1;

	if (argc > 1 && strcmp(argv[1], "status") == 0) {
		status_only = true;
		argc--;
		argv++;
	}
	if (argc > 1) {
		fprintf(stderr,
		        "kontaktctl migrate: unexpected argument '%s'\n",
		        argv[1]);
		return KTD_EXIT_USAGE;
	}
	if (db_migrations_load(s->sql_dir, &set, &err) < 0) {
		fprintf(stderr, "kontaktctl: %s\n", err.msg);
		return KTD_EXIT_CONFIG;
	}
	ktd_settings_pool_config(s, &cfg);
	cfg.application_name = "kontaktctl";
	pg = db_connect(&cfg, &err);
	if (!pg) {
		fprintf(stderr, "kontaktctl: %s\n", err.msg);
		goto out;
	}
	if (status_only) {
		if (db_migrate_status(pg, set, &st, &err) < 0) {
			fprintf(stderr, "kontaktctl: %s\n", err.msg);
			goto out;
		}
		printf("schema %s: %zu applied, %zu pending%s%s\n",
		       state_text(st.state), st.applied, st.pending,
		       st.detail[0] ? "; " : "", st.detail);
		ret = st.state == DB_MIGRATE_CURRENT ? 0 : 1;
		goto out;
	}
	if (db_migrate_apply(pg, set, &applied, &err) < 0) {
		fprintf(stderr, "kontaktctl: migration refused: %s\n", err.msg);
		goto out;
	}
	printf("applied %zu migration%s; schema is current (version %u)\n",
	       applied, applied == 1 ? "" : "s",
	       set->n ? set->items[set->n - 1].version : 0);
	ret = 0;
out:
	if (pg)
		PQfinish(pg);
	db_migrations_destroy(&set);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"version", no_argument, NULL, 'V'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	static const struct {
		const char *name;
		ctl_command_fn *fn;
	} commands[] = {
	        {"migrate", cmd_migrate},     {"user", ctl_user_main},
	        {"token", ctl_token_main},    {"directory", ctl_directory_main},
	        {"seed-demo", ctl_seed_main},
	};
	const char *config = ktd_settings_default_path();
	struct ktd_settings *s = NULL;
	struct ktd_error err;
	size_t i;
	int opt, ret;

	/* Options stop at the command: its own arguments follow it. */
	while ((opt = getopt_long(argc, argv, "+c:Vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'V':
			printf("kontaktctl %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return KTD_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return KTD_EXIT_USAGE;
	}
	/* Log lines from the libraries below go to stderr, quietly. */
	ktd_log_set_level(KTD_LOG_WARNING);
	if (sodium_init() < 0) {
		fprintf(stderr, "kontaktctl: libsodium failed to start\n");
		return 1;
	}
	for (i = 0; i < KTD_N_ELEMENTS(commands); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			break;
	if (i == KTD_N_ELEMENTS(commands)) {
		fprintf(stderr, "kontaktctl: unknown command '%s'\n",
		        argv[optind]);
		usage(stderr);
		return KTD_EXIT_USAGE;
	}
	if (ktd_settings_load(config, &s, &err) < 0) {
		fprintf(stderr, "kontaktctl: %s\n", err.msg);
		return KTD_EXIT_CONFIG;
	}
	user_password_cost_set(s->password_hash_passes,
	                       s->password_hash_memory);
	ret = commands[i].fn(s, argc - optind, argv + optind);
	ktd_settings_destroy(&s);
	return ret;
}
