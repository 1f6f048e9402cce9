/* SPDX-License-Identifier: MPL-2.0 */
/* kontaktctl directory import|export: the directory as CSV. An import is
 * one transaction: every problem of the file is reported as FILE:LINE and
 * nothing is imported unless there is none. */
#include "ctl/ctl_common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "daemon/settings.h"
#include "db/tx.h"
#include "core/directory.h"
#include "ctl/ctl_directory.h"
#include "ctl/ctl_util.h"

/* A CSV file larger than this is refused (a directory has hundreds of
 * rows, not millions). */
#define CSV_MAX (16u * 1024 * 1024)
/* Problems printed at most; the rest are counted. */
#define PROBLEMS_SHOWN 50

static void collect(void *ctx, unsigned line, const char *field,
                    const char *msg)
{
	struct ctl_directory_problems *p = ctx;
	struct ctl_directory_problem *pr;
	char text[KTD_ERROR_MSG_MAX + 64];

	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 16;
		p->items = ktd_realloc(p->items, p->cap * sizeof(*pr));
	}
	snprintf(text, sizeof(text), "%s%s%s", field ? field : "",
	         field ? ": " : "", msg);
	pr = &p->items[p->n];
	pr->line = line;
	pr->seq = (unsigned)p->n;
	pr->text = ktd_strdup(text);
	p->n++;
}

static int cmp_problem(const void *a, const void *b)
{
	const struct ctl_directory_problem *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void ctl_directory_problems_print(struct ctl_directory_problems *p,
                                  const char *label)
{
	struct ctl_directory_problem *items = p->items;
	size_t i;

	qsort(items, p->n, sizeof(*items), cmp_problem);
	for (i = 0; i < p->n && i < PROBLEMS_SHOWN; i++) {
		if (items[i].line)
			fprintf(stderr, "%s:%u: %s\n", label, items[i].line,
			        items[i].text);
		else
			fprintf(stderr, "%s: %s\n", label, items[i].text);
	}
	if (p->n > PROBLEMS_SHOWN)
		fprintf(stderr, "%s: ... and %zu more problems\n", label,
		        p->n - PROBLEMS_SHOWN);
}

void ctl_directory_problems_free(struct ctl_directory_problems *p)
{
	struct ctl_directory_problem *items = p->items;
	size_t i;

	for (i = 0; i < p->n; i++)
		ktd_free(&items[i].text);
	ktd_free(&p->items);
	p->n = 0;
	p->cap = 0;
}

int ctl_directory_load(PGconn *pg, const char *data, size_t len,
                       enum directory_import_mode mode,
                       struct directory_import_stats *st,
                       struct ctl_directory_problems *problems,
                       struct ktd_error *err)
{
	struct directory_rows rows = {NULL, 0};
	int ret = -1, rc;

	/* Problems of the rows themselves do not stop here: the import
	 * checks what it can against the directory and writes nothing. */
	(void)directory_csv_parse(data, len, &rows, collect, problems);
	rc = directory_import(pg, &rows, mode, st, collect, problems, err);
	if (rc < 0)
		goto out;
	ret = rc > 0 ? 1 : 0;
out:
	directory_rows_free(&rows);
	return ret;
}

static int directory_import_cmd(const struct ktd_settings *s, int argc,
                                char **argv)
{
	struct ctl_directory_problems problems = {NULL, 0, 0};
	struct directory_import_stats st;
	struct ktd_error err;
	const char *path, *label;
	char *data = NULL;
	size_t len = 0;
	PGconn *pg = NULL;
	int ret = KTD_EXIT_FAILURE, rc;

	if (argc < 2)
		return ctl_util_usage_error("directory import",
		                            "FILE is missing (a CSV file, or - "
		                            "for standard input)");
	if (argc > 2)
		return ctl_util_usage_error("directory import",
		                            "unexpected argument '%s'",
		                            argv[2]);
	path = argv[1];
	label = strcmp(path, "-") == 0 ? "stdin" : path;
	if (ctl_util_read_file(path, CSV_MAX, &data, &len, &err) < 0) {
		fprintf(stderr, "kontaktctl: %s\n", err.msg);
		goto out;
	}
	pg = ctl_util_connect(s);
	if (!pg)
		goto out;
	if (db_tx_begin(pg, &err) < 0) {
		ret = ctl_util_fail(&err);
		goto out;
	}
	rc = ctl_directory_load(pg, data, len, DIRECTORY_IMPORT_UPSERT, &st,
	                        &problems, &err);
	if (rc < 0) {
		ret = ctl_util_fail(&err);
		goto out;
	}
	if (rc > 0) {
		ctl_directory_problems_print(&problems, label);
		fprintf(stderr,
		        "kontaktctl: %s: %zu problem%s; nothing imported\n",
		        label, problems.n, problems.n == 1 ? "" : "s");
		goto out;
	}
	if (db_tx_commit(pg, &err) < 0) {
		ret = ctl_util_fail(&err);
		goto out;
	}
	printf("directory imported from %s: %u added, %u changed, %u "
	       "unchanged\n",
	       label, st.added, st.changed, st.unchanged);
	ret = KTD_EXIT_OK;
out:
	if (pg) {
		db_tx_rollback(pg);
		PQfinish(pg);
	}
	ctl_directory_problems_free(&problems);
	ktd_free(&data);
	return ret;
}

static int write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes data to path through a temporary file renamed into place, so that
 * a failure leaves an existing file as it was. */
static int write_file(const char *path, const char *data, size_t len,
                      struct ktd_error *err)
{
	struct ktd_buf tmp;
	mode_t mask = umask(0);
	int fd, ret = -1;

	/* mkstemp makes the file 0600; give it the usual mode instead. */
	umask(mask);
	ktd_buf_init(&tmp, 4096);
	if (ktd_buf_printf(&tmp, "%s.tmp-XXXXXX", path) < 0)
		return ktd_error_set(err, KTD_ERR_IO, "%s: path too long",
		                     path);
	fd = mkstemp(tmp.data);
	if (fd < 0) {
		ktd_error_set(err, KTD_ERR_IO, "cannot create %s: %s", tmp.data,
		              strerror(errno));
		goto out;
	}
	if (fchmod(fd, 0666 & ~mask) < 0 || write_all(fd, data, len) < 0 ||
	    fsync(fd) < 0) {
		ktd_error_set(err, KTD_ERR_IO, "cannot write %s: %s", tmp.data,
		              strerror(errno));
		close(fd);
		unlink(tmp.data);
		goto out;
	}
	if (close(fd) < 0 || rename(tmp.data, path) < 0) {
		ktd_error_set(err, KTD_ERR_IO, "cannot write %s: %s", path,
		              strerror(errno));
		unlink(tmp.data);
		goto out;
	}
	ret = 0;
out:
	ktd_buf_deinit(&tmp);
	return ret;
}

static int directory_export_cmd(const struct ktd_settings *s, int argc,
                                char **argv)
{
	struct ktd_error err;
	struct ktd_buf out;
	PGconn *pg = NULL;
	int ret = KTD_EXIT_FAILURE;
	bool to_stdout;

	if (argc < 2)
		return ctl_util_usage_error("directory export",
		                            "FILE is missing (a CSV file, or - "
		                            "for standard output)");
	if (argc > 2)
		return ctl_util_usage_error("directory export",
		                            "unexpected argument '%s'",
		                            argv[2]);
	to_stdout = strcmp(argv[1], "-") == 0;
	ktd_buf_init(&out, 4 * CSV_MAX);
	pg = ctl_util_connect(s);
	if (!pg)
		goto out;
	if (directory_export_csv(pg, &out, &err) < 0) {
		ret = ctl_util_fail(&err);
		goto out;
	}
	if (to_stdout) {
		if (write_all(1, out.data, out.len) < 0) {
			fprintf(stderr,
			        "kontaktctl: writing to standard "
			        "output: %s\n",
			        strerror(errno));
			goto out;
		}
	} else {
		if (write_file(argv[1], out.data, out.len, &err) < 0) {
			fprintf(stderr, "kontaktctl: %s\n", err.msg);
			goto out;
		}
		printf("directory exported to %s\n", argv[1]);
	}
	ret = KTD_EXIT_OK;
out:
	if (pg)
		PQfinish(pg);
	ktd_buf_deinit(&out);
	return ret;
}

int ctl_directory_main(const struct ktd_settings *s, int argc, char **argv)
{
	if (argc < 2)
		return ctl_util_usage_error("directory",
		                            "import or export is missing");
	if (strcmp(argv[1], "import") == 0)
		return directory_import_cmd(s, argc - 1, argv + 1);
	if (strcmp(argv[1], "export") == 0)
		return directory_export_cmd(s, argc - 1, argv + 1);
	return ctl_util_usage_error("directory",
	                            "unknown command '%s'; use import or "
	                            "export",
	                            argv[1]);
}
