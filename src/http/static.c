/* SPDX-License-Identifier: MPL-2.0 */
/* Static file serving for the web front end. */
#include "http/http_common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/mem.h"
#include "lib/path.h"
#include "lib/str.h"
#include "lib/timeutil.h"
#include "http/static.h"

struct ktd_static {
	char *root; /* canonical, absolute */
};

struct ktd_static *ktd_static_create(const char *root, struct ktd_error *err)
{
	char real[PATH_MAX];
	struct ktd_static *st;
	struct stat sb;

	if (!realpath(root, real)) {
		ktd_error_set(err, KTD_ERR_CONFIG, "www_root %s: %s", root,
		              strerror(errno));
		return NULL;
	}
	if (stat(real, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		ktd_error_set(err, KTD_ERR_CONFIG,
		              "www_root %s: not a directory", root);
		return NULL;
	}
	st = ktd_calloc(1, sizeof(*st));
	st->root = ktd_strdup(real);
	return st;
}

void ktd_static_destroy(struct ktd_static **stp)
{
	struct ktd_static *st = *stp;

	if (!st)
		return;
	free(st->root);
	free(st);
	*stp = NULL;
}

const char *ktd_static_content_type(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
	        {".html", "text/html; charset=utf-8"},
	        {".css", "text/css; charset=utf-8"},
	        {".js", "text/javascript; charset=utf-8"},
	        {".mjs", "text/javascript; charset=utf-8"},
	        {".json", "application/json; charset=utf-8"},
	        {".map", "application/json; charset=utf-8"},
	        {".webmanifest", "application/manifest+json"},
	        {".txt", "text/plain; charset=utf-8"},
	        {".svg", "image/svg+xml"},
	        {".png", "image/png"},
	        {".jpg", "image/jpeg"},
	        {".jpeg", "image/jpeg"},
	        {".gif", "image/gif"},
	        {".ico", "image/vnd.microsoft.icon"},
	        {".webp", "image/webp"},
	        {".woff2", "font/woff2"},
	        {".woff", "font/woff"},
	        {".pdf", "application/pdf"},
	};
	const char *dot = strrchr(name, '.');
	size_t i;

	if (dot && !strchr(dot, '/')) {
		for (i = 0; i < KTD_N_ELEMENTS(types); i++) {
			if (strcasecmp(dot, types[i].ext) == 0)
				return types[i].type;
		}
	}
	return "application/octet-stream";
}

/* True when the If-None-Match header value lists etag (or is "*"). */
static bool etag_listed(const char *header, const char *etag)
{
	size_t el = strlen(etag);
	const char *p = header;

	while (*p) {
		const char *start;
		size_t len;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (ktd_str_has_prefix(p, "W/"))
			p += 2;
		start = p;
		while (*p && *p != ',')
			p++;
		len = (size_t)(p - start);
		while (len > 0 &&
		       (start[len - 1] == ' ' || start[len - 1] == '\t'))
			len--;
		if ((len == 1 && start[0] == '*') ||
		    (len == el && memcmp(start, etag, el) == 0))
			return true;
	}
	return false;
}

/* Answers 404; the reason goes to the debug log only, so that a client
 * cannot tell a refused path from a missing file. */
static void not_found(const struct ktd_http_req *req,
                      struct ktd_http_resp *resp, const char *reason)
{
	char path[300];

	if (ktd_log_enabled(KTD_LOG_DEBUG))
		ktd_log_debug("event=static_not_found path=%s reason=\"%s\"",
		              ktd_log_quote(req->path, path, sizeof(path)),
		              reason);
	ktd_http_resp_error(resp, 404, "not_found", "no such file");
}

/* Resolves rel below the root to an open regular file; follows one level
 * of directory to its index.html. Returns an fd or -1. */
static int open_within(const struct ktd_static *st, const char *rel,
                       struct stat *sb, char *name, size_t namesz)
{
	char full[PATH_MAX], real[PATH_MAX];
	int fd, tries;

	if ((size_t)snprintf(full, sizeof(full), "%s/%s", st->root, rel) >=
	    sizeof(full))
		return -1;
	for (tries = 0; tries < 2; tries++) {
		if (!realpath(full, real) ||
		    !ktd_path_is_within(st->root, real))
			return -1;
		fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			return -1;
		if (fstat(fd, sb) < 0) {
			close(fd);
			return -1;
		}
		if (S_ISREG(sb->st_mode)) {
			ktd_strlcpy(name, real, namesz);
			return fd;
		}
		close(fd);
		if (!S_ISDIR(sb->st_mode) ||
		    (size_t)snprintf(full, sizeof(full), "%s/index.html",
		                     real) >= sizeof(full))
			return -1;
	}
	return -1;
}

void ktd_static_serve(struct ktd_http_req *req, struct ktd_http_resp *resp,
                      void *ctx)
{
	const struct ktd_static *st = ctx;
	char rel[PATH_MAX], name[PATH_MAX], etag[64], date[64];
	const char *inm, *ims;
	struct stat sb;
	time_t since;
	int fd;

	if (strcmp(req->method, "GET") != 0 &&
	    strcmp(req->method, "HEAD") != 0) {
		ktd_http_resp_error(resp, 405, "method_not_allowed",
		                    "method %s is not allowed here; use GET",
		                    req->method);
		ktd_http_resp_header(resp, "Allow", "GET, HEAD");
		return;
	}
	if (ktd_path_normalize(req->path, rel, sizeof(rel)) < 0) {
		not_found(req, resp, "dot segment, hidden file or bad byte");
		return;
	}
	fd = open_within(st, rel[0] ? rel : ".", &sb, name, sizeof(name));
	if (fd < 0) {
		not_found(req, resp, "no regular file inside www_root");
		return;
	}
	snprintf(etag, sizeof(etag), "\"%llx-%llx\"",
	         (unsigned long long)sb.st_mtim.tv_sec * 1000000000ULL +
	                 (unsigned long long)sb.st_mtim.tv_nsec,
	         (unsigned long long)sb.st_size);
	ktd_time_http_date(sb.st_mtim.tv_sec, date, sizeof(date));
	ktd_http_resp_header(resp, "ETag", etag);
	ktd_http_resp_header(resp, "Last-Modified", date);
	/* The front end is small and changes with releases: revalidate each
	 * time, which the ETag makes cheap. */
	ktd_http_resp_header(resp, "Cache-Control", "no-cache");
	ktd_strlcpy(resp->content_type, ktd_static_content_type(name),
	            sizeof(resp->content_type));

	inm = ktd_http_req_header(req, "If-None-Match");
	ims = ktd_http_req_header(req, "If-Modified-Since");
	if ((inm && etag_listed(inm, etag)) ||
	    (!inm && ims && ktd_time_parse_http_date(ims, &since) == 0 &&
	     sb.st_mtim.tv_sec <= since)) {
		close(fd);
		resp->status = 304;
	} else {
		resp->status = 200;
		resp->fd = fd;
		resp->fd_size = (uint64_t)sb.st_size;
	}
	if (ktd_log_enabled(KTD_LOG_DEBUG)) {
		char qname[300];

		ktd_log_debug("event=static_file file=%s size=%llu status=%u",
		              ktd_log_quote(name, qname, sizeof(qname)),
		              (unsigned long long)sb.st_size, resp->status);
	}
}
