/* SPDX-License-Identifier: MPL-2.0 */
/* The request and response of one HTTP exchange as handlers see them. */
#ifndef KTD_HTTP_REQUEST_H
#define KTD_HTTP_REQUEST_H

#include "http/http_common.h"
#include "http/router.h"

#include <jansson.h>

#define KTD_HTTP_MAX_HEADERS 16

struct ktd_sse_registry;
struct ktd_sse_stream;

struct ktd_http_req {
	const char *method;
	const char *path; /* percent-decoded, without the query string */
	const char *peer; /* the client's address, for logs and audit */
	const char *body; /* NUL-terminated; may contain NUL bytes */
	size_t body_len;
	const struct ktd_route_match *match;
	bool tls;
	void *conn; /* the server's connection handle; use the functions */
	/* The server's event streams (http/sse.h); NULL when it has none. */
	struct ktd_sse_registry *sse;
};

struct ktd_http_header {
	char *name;
	char *value;
};

struct ktd_http_resp {
	unsigned status;
	char *body; /* owned */
	size_t body_len;
	char content_type[96];
	struct ktd_http_header headers[KTD_HTTP_MAX_HEADERS];
	unsigned nheaders;
	/* A file to send instead of body (static files): owned, -1 if none. */
	int fd;
	uint64_t fd_size;
	/* An event stream to send instead of body (http/sse.h): a
	 * reference, NULL if none. */
	struct ktd_sse_stream *stream;
	/* Set by error helpers: the API error code, for the request log. */
	const char *error_code;
};

/* Request accessors; the strings are borrowed for the request's life. */
const char *ktd_http_req_header(const struct ktd_http_req *req,
                                const char *name);
const char *ktd_http_req_query(const struct ktd_http_req *req,
                               const char *name);
const char *ktd_http_req_cookie(const struct ktd_http_req *req,
                                const char *name);
const char *ktd_http_req_param(const struct ktd_http_req *req,
                               const char *name);

void ktd_http_resp_init(struct ktd_http_resp *resp);
void ktd_http_resp_deinit(struct ktd_http_resp *resp);

/* Sets status and a copy of data as the body. */
void ktd_http_resp_set_body(struct ktd_http_resp *resp, unsigned status,
                            const char *content_type, const void *data,
                            size_t len);
/* Sets status and j, serialised, as an application/json body; takes the
 * reference to j. */
void ktd_http_resp_json(struct ktd_http_resp *resp, unsigned status, json_t *j);
/* The uniform error body {"error": {"code": ..., "message": ...}}. */
void ktd_http_resp_error(struct ktd_http_resp *resp, unsigned status,
                         const char *code, const char *fmt, ...)
        KTD_ATTR_FORMAT(4, 5);
/* An error body from err, with the status its code maps to. Internal
 * errors are logged and answered with a generic message, so that no
 * database text reaches the client. */
void ktd_http_resp_from_error(struct ktd_http_resp *resp,
                              const struct ktd_error *err);
/* Makes the response an event stream read from s (status 200,
 * text/event-stream); takes a reference to s. Use ktd_http_sse_open. */
void ktd_http_resp_stream(struct ktd_http_resp *resp, struct ktd_sse_stream *s);
/* Adds (a copy of) a response header; at most KTD_HTTP_MAX_HEADERS. */
void ktd_http_resp_header(struct ktd_http_resp *resp, const char *name,
                          const char *value);

/* The HTTP status for an error code. */
unsigned ktd_http_status_for(enum ktd_err_code code);

#endif
