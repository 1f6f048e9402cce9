/* SPDX-License-Identifier: MPL-2.0 */
/* Helpers of kontaktctl's commands. */
#include "ctl/ctl_common.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "daemon/settings.h"
#include "db/pool.h"
#include "ctl/ctl_util.h"
#include "db/db_audit.h"

PGconn *ctl_util_connect(const struct ktd_settings *s)
{
	struct db_pool_config cfg;
	struct ktd_error err;
	PGconn *pg;

	ktd_settings_pool_config(s, &cfg);
	cfg.application_name = "kontaktctl";
	pg = db_connect(&cfg, &err);
	if (!pg)
		fprintf(stderr, "kontaktctl: %s\n", err.msg);
	return pg;
}

int ctl_util_fail(const struct ktd_error *err)
{
	/* 42P01: undefined table. */
	bool unmigrated = strcmp(err->sqlstate, "42P01") == 0;

	fprintf(stderr, "kontaktctl: %s%s\n", err->msg,
	        unmigrated ? " (has the database been migrated? run "
	                     "kontaktctl migrate)"
	                   : "");
	return KTD_EXIT_FAILURE;
}

int ctl_util_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kontaktctl %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return KTD_EXIT_USAGE;
}

int ctl_util_read_secret(int fd, const char *prompt, char *buf, size_t bufsz,
                         size_t *len_r, struct ktd_error *err)
{
	struct termios old, quiet;
	bool tty = isatty(fd) && tcgetattr(fd, &old) == 0;
	bool got_newline = false;
	size_t len = 0;
	int ret = -1;
	ssize_t n;
	char c;

	if (tty) {
		fprintf(stderr, "%s", prompt);
		fflush(stderr);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		(void)tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	for (;;) {
		n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ktd_error_set(err, KTD_ERR_IO,
			              "reading the password: %s",
			              strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (c == '\n') {
			got_newline = true;
			break;
		}
		if (len + 1 >= bufsz) {
			ktd_error_set(err, KTD_ERR_INVALID,
			              "the password is too long");
			goto out;
		}
		buf[len++] = c;
	}
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0 && !got_newline) {
		ktd_error_set(err, KTD_ERR_INVALID, "no password given");
		goto out;
	}
	buf[len] = '\0';
	*len_r = len;
	ret = 0;
out:
	sodium_memzero(&c, sizeof(c));
	if (tty) {
		(void)tcsetattr(fd, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	return ret;
}

const char *ctl_util_invoker(char *out, size_t outsz)
{
	struct passwd *pw = getpwuid(geteuid());

	if (pw && pw->pw_name &&
	    ktd_utf8_valid(pw->pw_name, strlen(pw->pw_name)))
		snprintf(out, outsz, "kontaktctl:%s", pw->pw_name);
	else
		snprintf(out, outsz, "kontaktctl:uid %u", (unsigned)geteuid());
	return out;
}

int ctl_util_audit(PGconn *pg, const char *action, const char *object_type,
                   const char *name, const char *detail_json,
                   struct ktd_error *err)
{
	struct db_audit_actor a;
	char invoker[80];

	memset(&a, 0, sizeof(a));
	a.peer = ctl_util_invoker(invoker, sizeof(invoker));
	return db_audit_add_named(pg, &a, action, object_type, name,
	                          detail_json, err);
}

int ctl_util_read_file(const char *path, size_t max, char **data_r,
                       size_t *len_r, struct ktd_error *err)
{
	struct ktd_buf b;
	char chunk[65536];
	bool is_stdin = strcmp(path, "-") == 0;
	int fd = is_stdin ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	int ret = -1;
	ssize_t n;

	ktd_buf_init(&b, max);
	if (fd < 0)
		return ktd_error_set(err, KTD_ERR_IO, "cannot open %s: %s",
		                     path, strerror(errno));
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ktd_error_set(err, KTD_ERR_IO, "cannot read %s: %s",
			              path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (ktd_buf_add(&b, chunk, (size_t)n) < 0) {
			ktd_error_set(err, KTD_ERR_TOO_LARGE,
			              "%s is larger than %zu bytes", path, max);
			goto out;
		}
	}
	*data_r = ktd_buf_steal(&b, len_r);
	ret = 0;
out:
	if (!is_stdin)
		close(fd);
	ktd_buf_deinit(&b);
	return ret;
}

void ctl_util_table_init(struct ctl_util_table *t, size_t ncols,
                         const char *const *header)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	ctl_util_table_add(t, header);
}

void ctl_util_table_add(struct ctl_util_table *t, const char *const *row)
{
	size_t c;

	if (t->nrows == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 16;
		t->cells = ktd_realloc(t->cells,
		                       t->cap * t->ncols * sizeof(*t->cells));
	}
	for (c = 0; c < t->ncols; c++)
		t->cells[t->nrows * t->ncols + c] =
		        ktd_strdup(row[c] ? row[c] : "-");
	t->nrows++;
}

void ctl_util_table_print(const struct ctl_util_table *t, FILE *out)
{
	size_t *width = ktd_calloc(t->ncols, sizeof(*width));
	size_t r, c, w, pad;

	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			w = ktd_utf8_chars(t->cells[r * t->ncols + c]);
			if (w > width[c])
				width[c] = w;
		}
	}
	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			const char *cell = t->cells[r * t->ncols + c];

			fputs(cell, out);
			if (c + 1 == t->ncols)
				break;
			pad = width[c] - ktd_utf8_chars(cell) + 2;
			fprintf(out, "%*s", (int)pad, "");
		}
		fputc('\n', out);
	}
	ktd_free(&width);
}

void ctl_util_table_deinit(struct ctl_util_table *t)
{
	size_t i;

	for (i = 0; i < t->nrows * t->ncols; i++)
		ktd_free(&t->cells[i]);
	ktd_free(&t->cells);
	t->nrows = 0;
}
