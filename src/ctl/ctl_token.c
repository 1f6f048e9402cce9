/* SPDX-License-Identifier: MPL-2.0 */
/* kontaktctl token create|revoke|list. A new token is printed once, alone
 * on stdout so that scripts can capture it; only its SHA-256 is stored. */
#include "ctl/ctl_common.h"

#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "daemon/settings.h"
#include "db/db_token.h"
#include "db/tx.h"
#include "core/token.h"
#include "ctl/ctl_util.h"

_Static_assert(DB_TOKEN_HASH_SIZE == TOKEN_HASH_SIZE,
               "the stored hash is the token's hash");

static int token_create(const struct ktd_settings *s, int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"scope", required_argument, NULL, 's'},
	        {NULL, 0, NULL, 0},
	};
	char token[TOKEN_SIZE] = "", scopes_text[TOKEN_SCOPES_TEXT_SIZE];
	char invoker[128], detail[TOKEN_NAME_MAX + TOKEN_SCOPES_TEXT_SIZE + 32];
	unsigned char hash[TOKEN_HASH_SIZE];
	const char *scope_s = NULL, *name;
	struct ktd_error err;
	unsigned scopes = 0;
	PGconn *pg = NULL;
	int opt, ret;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":s:", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			scope_s = optarg;
			break;
		case ':':
			return ctl_util_usage_error("token create",
			                            "%s needs a value",
			                            argv[optind - 1]);
		default:
			return ctl_util_usage_error("token create",
			                            "unknown option '%s'",
			                            argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return ctl_util_usage_error("token create", "NAME is missing");
	if (optind + 1 < argc)
		return ctl_util_usage_error("token create",
		                            "unexpected argument '%s'",
		                            argv[optind + 1]);
	name = argv[optind];
	if (token_name_check(name, &err) < 0)
		return ctl_util_usage_error("token create", "name '%s': %s",
		                            name, err.msg);
	if (!scope_s)
		return ctl_util_usage_error("token create",
		                            "--scope S[,S] is required (S: "
		                            "cti:write, digitalpost:write, "
		                            "read, admin)");
	if (token_scopes_parse(scope_s, &scopes, &err) < 0)
		return ctl_util_usage_error("token create", "--scope: %s",
		                            err.msg);
	token_scopes_format(scopes, scopes_text, sizeof(scopes_text));

	ret = KTD_EXIT_FAILURE;
	pg = ctl_util_connect(s);
	if (!pg)
		goto out;
	token_generate(token, hash);
	/* Names and scope names are of [A-Za-z0-9._:-]: no JSON escaping
	 * needed. */
	snprintf(detail, sizeof(detail),
	         "{\"name\": \"%s\", \"scopes\": \"%s\"}", name, scopes_text);
	if (db_tx_begin(pg, &err) < 0 ||
	    db_token_insert(pg, name, hash, scopes_text,
	                    ctl_util_invoker(invoker, sizeof(invoker)), NULL,
	                    &err) < 0 ||
	    ctl_util_audit(pg, "create", "token", name, detail, &err) < 0 ||
	    db_tx_commit(pg, &err) < 0) {
		db_tx_rollback(pg);
		ret = ctl_util_fail(&err);
		goto out;
	}
	/* The token alone on stdout; what it is on stderr. */
	printf("%s\n", token);
	fflush(stdout);
	fprintf(stderr, "token %s created (%s); it is shown only this once\n",
	        name, scopes_text);
	ret = KTD_EXIT_OK;
out:
	sodium_memzero(token, sizeof(token));
	if (pg)
		PQfinish(pg);
	return ret;
}

static int token_revoke(const struct ktd_settings *s, int argc, char **argv)
{
	char detail[TOKEN_NAME_MAX + 32];
	struct ktd_error err;
	bool already = false;
	PGconn *pg = NULL;
	int ret = KTD_EXIT_FAILURE, found;

	if (argc < 2)
		return ctl_util_usage_error("token revoke", "NAME is missing");
	if (argc > 2)
		return ctl_util_usage_error(
		        "token revoke", "unexpected argument '%s'", argv[2]);
	pg = ctl_util_connect(s);
	if (!pg)
		return KTD_EXIT_FAILURE;
	if (db_tx_begin(pg, &err) < 0) {
		PQfinish(pg);
		return ctl_util_fail(&err);
	}
	found = db_token_revoke(pg, argv[1], &already, NULL, &err);
	snprintf(detail, sizeof(detail), "{\"name\": \"%s\"}", argv[1]);
	if (found == 1 && !already &&
	    ctl_util_audit(pg, "delete", "token", argv[1], detail, &err) < 0)
		found = -1;
	if (found == 1 && db_tx_commit(pg, &err) < 0)
		found = -1;
	db_tx_rollback(pg);
	if (found < 0) {
		ret = ctl_util_fail(&err);
		goto out;
	}
	if (found == 0) {
		fprintf(stderr, "kontaktctl: no token named '%s'\n", argv[1]);
		goto out;
	}
	if (already)
		printf("token %s was revoked already\n", argv[1]);
	else
		printf("token %s revoked\n", argv[1]);
	ret = KTD_EXIT_OK;
out:
	PQfinish(pg);
	return ret;
}

static int token_list(const struct ktd_settings *s, int argc, char **argv)
{
	static const char *const header[] = {"NAME",      "SCOPES",
	                                     "CREATED",   "CREATED BY",
	                                     "LAST USED", "REVOKED"};
	struct db_token_list list = {NULL, 0};
	struct ctl_util_table t;
	struct ktd_error err;
	PGconn *pg;
	size_t i;
	int ret = KTD_EXIT_FAILURE;

	if (argc > 1)
		return ctl_util_usage_error(
		        "token list", "unexpected argument '%s'", argv[1]);
	pg = ctl_util_connect(s);
	if (!pg)
		return KTD_EXIT_FAILURE;
	if (db_token_list(pg, &list, &err) < 0) {
		ret = ctl_util_fail(&err);
		goto out;
	}
	ctl_util_table_init(&t, KTD_N_ELEMENTS(header), header);
	for (i = 0; i < list.n; i++) {
		const struct db_token *tk = &list.items[i];
		const char *row[] = {tk->name,
		                     tk->scopes,
		                     tk->created_at,
		                     tk->created_by,
		                     tk->last_used_at ? tk->last_used_at
		                                      : "never",
		                     tk->revoked_at};

		ctl_util_table_add(&t, row);
	}
	ctl_util_table_print(&t, stdout);
	ctl_util_table_deinit(&t);
	ret = KTD_EXIT_OK;
out:
	db_token_list_free(&list);
	PQfinish(pg);
	return ret;
}

int ctl_token_main(const struct ktd_settings *s, int argc, char **argv)
{
	if (argc < 2)
		return ctl_util_usage_error(
		        "token", "create, revoke or list is missing");
	if (strcmp(argv[1], "create") == 0)
		return token_create(s, argc - 1, argv + 1);
	if (strcmp(argv[1], "revoke") == 0)
		return token_revoke(s, argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return token_list(s, argc - 1, argv + 1);
	return ctl_util_usage_error("token",
	                            "unknown command '%s'; use create, revoke "
	                            "or list",
	                            argv[1]);
}
