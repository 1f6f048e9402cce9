/* SPDX-License-Identifier: MPL-2.0 */
/* kontaktctl seed-demo: a demo directory and an admin user, for trying
 * kontaktd out. Idempotent: departments that exist are left as they are,
 * and an existing admin keeps its password. */
#include "ctl/ctl_common.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon/settings.h"
#include "db/db_user.h"
#include "db/tx.h"
#include "core/directory.h"
#include "core/user.h"
#include "ctl/ctl_directory.h"
#include "ctl/ctl_util.h"

#define ADMIN_LOGIN "admin"

/* The departments named in the consultants' analysis (seed/000_*.txt and
 * data/seed-figures.json): phase 1 Borgerservice (with its units),
 * Byggesager, Affald, Skadedyr, Ejendomsskat, Opkrævning; phase 2
 * Økonomisk team, Visitation og hjælpemidler, Hovedpostkassen; phase 3
 * Jobcenter; and departments the centre does not handle. Forwarding follows
 * the analysis: queues for departments with many calls, hunt groups for
 * moderate volume, IVR choices where there are few well-defined options.
 * Numbers and addresses are invented (kommune.example). */
static const char demo_csv[] = DIRECTORY_CSV_HEADER
        "\n"
        "Borgerservice,,7100,,1,borgerservice@kommune.example,"
        "mon-wed 10:00-15:00; thu 10:00-17:30; fri 10:00-13:00,yes,1,yes\n"
        "Pladsanvisning,Borgerservice,,7111,11,"
        "pladsanvisning@kommune.example,"
        "mon-thu 09:00-14:00; fri 09:00-12:00,yes,1,yes\n"
        "Vielser,Borgerservice,,7112,12,vielser@kommune.example,"
        "mon-thu 10:00-14:00,yes,1,yes\n"
        "NemID og MitID,Borgerservice,,7113,13,borgerservice@kommune.example,"
        "mon-wed 10:00-15:00; thu 10:00-17:30; fri 10:00-13:00,yes,1,yes\n"
        "Folkeregister,Borgerservice,,7114,14,folkeregister@kommune.example,"
        "mon-wed 10:00-15:00; thu 10:00-17:30; fri 10:00-13:00,yes,1,yes\n"
        "Pas og kørekort,Borgerservice,,7115,15,"
        "borgerservice@kommune.example,"
        "mon-wed 10:00-15:00; thu 10:00-17:30; fri 10:00-13:00,yes,1,yes\n"
        "Tekniske områder (miljø og byggesager),,,7200,,"
        "teknik@kommune.example,mon-thu 08:00-15:00; fri 08:00-13:00,no,,"
        "yes\n"
        "Byggesager,Tekniske områder (miljø og byggesager),,7210,21,"
        "byggesag@kommune.example,"
        "\"mon,wed 09:00-12:00; thu 13:00-17:00\",yes,1,yes\n"
        "Affald,Tekniske områder (miljø og byggesager),,7220,22,"
        "affald@kommune.example,mon-thu 08:00-15:00; fri 08:00-13:00,"
        "yes,1,yes\n"
        "Skadedyr,Tekniske områder (miljø og byggesager),,7230,23,"
        "skadedyr@kommune.example,mon-fri 08:00-12:00,yes,1,yes\n"
        "Miljø,Tekniske områder (miljø og byggesager),,7240,,"
        "miljoe@kommune.example,mon-thu 09:00-15:00; fri 09:00-12:00,no,,"
        "yes\n"
        "Opkrævning,,,,3,opkraevning@kommune.example,"
        "mon-thu 09:00-15:00; fri 09:00-13:00,yes,1,yes\n"
        "Ejendomsskat,Opkrævning,,,31,ejendomsskat@kommune.example,"
        "mon-thu 09:00-15:00; fri 09:00-13:00,yes,1,yes\n"
        "Økonomisk team (pension og ydelser),,,7400,4,"
        "pension@kommune.example,"
        "\"mon-wed 09:00-12:00,13:00-15:00; thu 09:00-17:00; "
        "fri 09:00-12:00\",yes,2,yes\n"
        "Visitation og hjælpemidler,,7500,,5,visitation@kommune.example,"
        "mon-fri 08:00-12:00,yes,2,yes\n"
        "Visitationen,Visitation og hjælpemidler,,7510,51,"
        "visitation@kommune.example,mon-fri 08:00-12:00,yes,2,yes\n"
        "Hjælpemidler,Visitation og hjælpemidler,,7520,52,"
        "hjaelpemidler@kommune.example,mon-fri 08:00-12:00,yes,2,yes\n"
        "Hovedpostkassen,,,,,post@kommune.example,,yes,2,yes\n"
        "Jobcenter,,7300,,6,jobcenter@kommune.example,"
        "mon-wed 09:00-15:00; thu 09:00-16:00; fri 09:00-12:00,yes,3,yes\n"
        "Sygedagpenge,Jobcenter,7310,,61,sygedagpenge@kommune.example,"
        "mon-thu 09:00-14:00; fri 09:00-12:00,no,,yes\n"
        "Børne- og familieafdelingen,,,7600,,"
        "boern-familie@kommune.example,"
        "mon-wed 09:00-14:00; thu 09:00-17:00; fri 09:00-12:00,no,,yes\n"
        "Social og psykiatri,,,7700,,social@kommune.example,"
        "mon-thu 09:00-14:00; fri 09:00-12:00,no,,yes\n"
        "Kultur og fritid,,,7800,,kultur@kommune.example,"
        "mon-thu 09:00-15:00; fri 09:00-13:00,no,,yes\n"
        "Hjemmeplejen,,7900,,,hjemmepleje@kommune.example,"
        "mon-sun 07:00-22:00,no,,yes\n";

/* The admin's password: the first line of path, or a random one. Returns
 * an exit code; *generated_r tells which. */
static int admin_password(const char *path, char *pw, size_t pwsz,
                          size_t *len_r, bool *generated_r)
{
	struct ktd_error err;
	int fd, rc;

	*generated_r = !path;
	if (!path) {
		user_password_generate(pw, pwsz);
		*len_r = strlen(pw);
		return KTD_EXIT_OK;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "kontaktctl: cannot open %s: %s\n", path,
		        strerror(errno));
		return KTD_EXIT_FAILURE;
	}
	rc = ctl_util_read_secret(fd, "", pw, pwsz, len_r, &err);
	close(fd);
	if (rc < 0 || user_password_check(pw, *len_r, &err) < 0) {
		fprintf(stderr, "kontaktctl: %s: %s\n", path, err.msg);
		return KTD_EXIT_FAILURE;
	}
	return KTD_EXIT_OK;
}

int ctl_seed_main(const struct ktd_settings *s, int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"admin-password-file", required_argument, NULL, 'p'},
	        {NULL, 0, NULL, 0},
	};
	struct ctl_directory_problems problems = {NULL, 0, 0};
	struct directory_import_stats st;
	char pw[USER_PASSWORD_MAX + 2] = "", hash[USER_HASH_SIZE] = "";
	const char *pw_file = NULL;
	struct ktd_error err;
	bool generated = false, admin_added = false;
	size_t pw_len = 0;
	PGconn *pg = NULL;
	int opt, ret, rc;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":p:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			pw_file = optarg;
			break;
		case ':':
			return ctl_util_usage_error("seed-demo",
			                            "%s needs a value",
			                            argv[optind - 1]);
		default:
			return ctl_util_usage_error("seed-demo",
			                            "unknown option '%s'",
			                            argv[optind - 1]);
		}
	}
	if (optind < argc)
		return ctl_util_usage_error(
		        "seed-demo", "unexpected argument '%s'", argv[optind]);

	ret = KTD_EXIT_FAILURE;
	pg = ctl_util_connect(s);
	if (!pg)
		goto out;
	if (db_tx_begin(pg, &err) < 0) {
		ret = ctl_util_fail(&err);
		goto out;
	}
	rc = ctl_directory_load(pg, demo_csv, sizeof(demo_csv) - 1,
	                        DIRECTORY_IMPORT_ADD_MISSING, &st, &problems,
	                        &err);
	if (rc < 0) {
		ret = ctl_util_fail(&err);
		goto out;
	}
	if (rc > 0) {
		ctl_directory_problems_print(&problems, "demo directory");
		goto out;
	}
	switch (db_user_exists(pg, ADMIN_LOGIN, &err)) {
	case 0:
		if (admin_password(pw_file, pw, sizeof(pw), &pw_len,
		                   &generated) != KTD_EXIT_OK)
			goto out;
		if (user_password_hash(pw, pw_len, hash, &err) < 0 ||
		    db_user_insert(pg, ADMIN_LOGIN, "Administrator", "admin", 0,
		                   hash, &err) < 0) {
			ret = ctl_util_fail(&err);
			goto out;
		}
		admin_added = true;
		break;
	case 1:
		break;
	default:
		ret = ctl_util_fail(&err);
		goto out;
	}
	if (db_tx_commit(pg, &err) < 0) {
		ret = ctl_util_fail(&err);
		goto out;
	}
	printf("demo directory: %u department%s added, %u present already\n",
	       st.added, st.added == 1 ? "" : "s", st.unchanged);
	if (!admin_added)
		printf("user %s exists; its password is unchanged\n",
		       ADMIN_LOGIN);
	else if (generated)
		printf("user %s added (admin)\nadmin password: %s\n",
		       ADMIN_LOGIN, pw);
	else
		printf("user %s added (admin), password from %s\n", ADMIN_LOGIN,
		       pw_file);
	ret = KTD_EXIT_OK;
out:
	sodium_memzero(pw, sizeof(pw));
	sodium_memzero(hash, sizeof(hash));
	if (pg) {
		db_tx_rollback(pg);
		PQfinish(pg);
	}
	ctl_directory_problems_free(&problems);
	return ret;
}
