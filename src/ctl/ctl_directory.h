/* SPDX-License-Identifier: MPL-2.0 */
/* Loading CSV into the directory with every problem collected, shared by
 * "directory import" and "seed-demo". */
#ifndef KTD_CTL_DIRECTORY_H
#define KTD_CTL_DIRECTORY_H

#include "ctl/ctl_common.h"

#include <libpq-fe.h>

#include "core/directory.h"

struct ctl_directory_problem {
	unsigned line;
	unsigned seq; /* order of reporting, for a stable sort */
	char *text;   /* "field: what is wrong" */
};

struct ctl_directory_problems {
	struct ctl_directory_problem *items;
	size_t n, cap;
};

/* Parses data and imports it in the caller's transaction. Returns 0 when
 * imported (*st filled), 1 when problems were collected (nothing should be
 * committed), -1 with err. */
int ctl_directory_load(PGconn *pg, const char *data, size_t len,
                       enum directory_import_mode mode,
                       struct directory_import_stats *st,
                       struct ctl_directory_problems *problems,
                       struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Prints the problems, by line, as "LABEL:LINE: field: what" on stderr;
 * at most 50, then how many more. */
void ctl_directory_problems_print(struct ctl_directory_problems *p,
                                  const char *label);
void ctl_directory_problems_free(struct ctl_directory_problems *p);

#endif
