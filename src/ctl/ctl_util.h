/* SPDX-License-Identifier: MPL-2.0 */
/* Helpers shared by kontaktctl's commands: the database connection, error
 * messages, secrets read from stdin or a file, and aligned tables. Each
 * command returns an exit code of enum ktd_exit. */
#ifndef KTD_CTL_UTIL_H
#define KTD_CTL_UTIL_H

#include "ctl/ctl_common.h"

#include <stdio.h>
#include <libpq-fe.h>

struct ktd_settings;

/* A command: argv[0] is the command's name, settings are loaded. */
typedef int ctl_command_fn(const struct ktd_settings *s, int argc, char **argv);

ctl_command_fn ctl_user_main;
ctl_command_fn ctl_token_main;
ctl_command_fn ctl_directory_main;
ctl_command_fn ctl_seed_main;

/* Connects as the configuration says, or prints why not and returns NULL.
 */
PGconn *ctl_util_connect(const struct ktd_settings *s);

/* Prints "kontaktctl: <msg>" on stderr, with a hint when the schema is
 * missing (the database has not been migrated). Returns
 * KTD_EXIT_FAILURE. */
int ctl_util_fail(const struct ktd_error *err);

/* Prints "kontaktctl CMD: <formatted message>" on stderr and returns
 * KTD_EXIT_USAGE. */
int ctl_util_usage_error(const char *cmd, const char *fmt, ...)
        KTD_ATTR_FORMAT(2, 3);

/* Reads one line (without its line ending) from fd into buf of bufsz
 * bytes, one byte at a time so that nothing beyond the line is consumed or
 * left in a stdio buffer. When fd is a terminal, prompt goes to stderr and
 * echo is off while reading. Returns 0 with *len_r, or -1 with err: no
 * line, a line too long for buf, a read error. The caller wipes buf with
 * sodium_memzero. */
int ctl_util_read_secret(int fd, const char *prompt, char *buf, size_t bufsz,
                         size_t *len_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* "kontaktctl:<unix user>", for the created_by of what kontaktctl makes. */
const char *ctl_util_invoker(char *out, size_t outsz);

/* Reads a whole file (path "-": stdin) of at most max bytes into a new
 * NUL-terminated buffer (caller ktd_free-s it). */
/* Writes the audit row of a change made by kontaktctl (no user, peer
 * "kontaktctl:<unix user>"), in the caller's transaction. */
int ctl_util_audit(PGconn *pg, const char *action, const char *object_type,
                   const char *name, const char *detail_json,
                   struct ktd_error *err) KTD_ATTR_NODISCARD;

int ctl_util_read_file(const char *path, size_t max, char **data_r,
                       size_t *len_r, struct ktd_error *err) KTD_ATTR_NODISCARD;

/* A table printed with its columns aligned (by characters, so that æøå
 * count once). Cells are copied. */
struct ctl_util_table {
	size_t ncols, nrows, cap;
	char **cells; /* nrows * ncols, the header first */
};

void ctl_util_table_init(struct ctl_util_table *t, size_t ncols,
                         const char *const *header);
/* NULL cells print as "-". */
void ctl_util_table_add(struct ctl_util_table *t, const char *const *row);
void ctl_util_table_print(const struct ctl_util_table *t, FILE *out);
void ctl_util_table_deinit(struct ctl_util_table *t);

#endif
