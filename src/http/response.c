/* SPDX-License-Identifier: MPL-2.0 */
/* Response building: bodies, JSON, the uniform error body, headers. */
#include "http/http_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "http/json.h"
#include "http/request.h"
#include "http/sse.h"

void ktd_http_resp_init(struct ktd_http_resp *resp)
{
	memset(resp, 0, sizeof(*resp));
	resp->status = 500;
	resp->fd = -1;
}

void ktd_http_resp_deinit(struct ktd_http_resp *resp)
{
	unsigned i;

	ktd_free(&resp->body);
	for (i = 0; i < resp->nheaders; i++) {
		free(resp->headers[i].name);
		free(resp->headers[i].value);
	}
	resp->nheaders = 0;
	/* A stream the server never started (the server takes it over when
	 * it builds the response). */
	ktd_sse_stream_abandon(&resp->stream);
	/* fd ownership passes to the server when it builds the response;
	 * it sets fd to -1 then. */
	if (resp->fd >= 0) {
		close(resp->fd);
		resp->fd = -1;
	}
}

void ktd_http_resp_set_body(struct ktd_http_resp *resp, unsigned status,
                            const char *content_type, const void *data,
                            size_t len)
{
	ktd_sse_stream_abandon(&resp->stream);
	ktd_free(&resp->body);
	resp->status = status;
	resp->body = ktd_malloc(len + 1);
	if (len)
		memcpy(resp->body, data, len);
	resp->body[len] = '\0';
	resp->body_len = len;
	ktd_strlcpy(resp->content_type, content_type,
	            sizeof(resp->content_type));
}

/* The body sent when a JSON body cannot be built. */
static const char json_fallback[] =
        "{\"error\":{\"code\":\"internal\",\"message\":\"internal error; "
        "the details are in the server log\"}}";

void ktd_http_resp_json(struct ktd_http_resp *resp, unsigned status, json_t *j)
{
	size_t len;
	char *text;

	if (!j) {
		/* json_pack failed: a value was not UTF-8, say. Not a reason
		 * to take the process down. */
		ktd_log_error("event=internal_error msg=\"JSON body could not "
		              "be built\" status=%u",
		              status);
		ktd_http_resp_set_body(
		        resp, 500, "application/json; charset=utf-8",
		        json_fallback, sizeof(json_fallback) - 1);
		resp->error_code = "internal";
		return;
	}
	text = ktd_json_dump(j, &len);

	json_decref(j);
	ktd_sse_stream_abandon(&resp->stream);
	ktd_free(&resp->body);
	resp->status = status;
	resp->body = text;
	resp->body_len = len;
	ktd_strlcpy(resp->content_type, "application/json; charset=utf-8",
	            sizeof(resp->content_type));
}

void ktd_http_resp_error(struct ktd_http_resp *resp, unsigned status,
                         const char *code, const char *fmt, ...)
{
	char msg[KTD_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Messages may quote the request (its method, say), which need not
	 * be UTF-8; JSON must be. */
	if (!ktd_utf8_valid(msg, strlen(msg))) {
		char *p;

		for (p = msg; *p; p++) {
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		}
	}
	resp->error_code = code;
	ktd_http_resp_json(resp, status,
	                   json_pack("{s:{s:s, s:s}}", "error", "code", code,
	                             "message", msg));
}

unsigned ktd_http_status_for(enum ktd_err_code code)
{
	switch (code) {
	case KTD_ERR_NONE:
		return 200;
	case KTD_ERR_INVALID:
		return 400;
	case KTD_ERR_UNAUTHENTICATED:
		return 401;
	case KTD_ERR_FORBIDDEN:
		return 403;
	case KTD_ERR_NOT_FOUND:
		return 404;
	case KTD_ERR_CONFLICT:
		return 409;
	case KTD_ERR_TOO_LARGE:
		return 413;
	case KTD_ERR_UNSUPPORTED:
		return 415;
	case KTD_ERR_UNPROCESSABLE:
		return 422;
	case KTD_ERR_RATE_LIMITED:
		return 429;
	case KTD_ERR_UNAVAILABLE:
		return 503;
	case KTD_ERR_INTERNAL:
	case KTD_ERR_CONFIG:
	case KTD_ERR_IO:
		return 500;
	}
	return 500;
}

void ktd_http_resp_from_error(struct ktd_http_resp *resp,
                              const struct ktd_error *err)
{
	unsigned status = ktd_http_status_for(err->code);
	const char *code = ktd_error_code_name(err->code);
	char quoted[2 * KTD_ERROR_MSG_MAX + 8];

	if (status == 500) {
		ktd_log_error("event=internal_error msg=%s",
		              ktd_log_quote(err->msg, quoted, sizeof(quoted)));
		ktd_http_resp_error(resp, 500, code,
		                    "internal error; the details are in the "
		                    "server log");
		return;
	}
	if (status == 503) {
		/* The cause (host, port, server text) is for the log only. */
		ktd_log_warnx("event=unavailable msg=%s",
		              ktd_log_quote(err->msg, quoted, sizeof(quoted)));
		ktd_http_resp_error(resp, 503, code,
		                    "the service is temporarily unavailable "
		                    "(database); try again shortly");
		ktd_http_resp_header(resp, "Retry-After", "2");
		return;
	}
	ktd_http_resp_error(resp, status, code, "%s", err->msg);
}

void ktd_http_resp_stream(struct ktd_http_resp *resp, struct ktd_sse_stream *s)
{
	ktd_sse_stream_abandon(&resp->stream);
	ktd_free(&resp->body);
	resp->body_len = 0;
	ktd_sse_stream_ref(s);
	resp->stream = s;
	resp->status = 200;
	ktd_strlcpy(resp->content_type, "text/event-stream",
	            sizeof(resp->content_type));
	/* nginx would otherwise hold the events back in its buffer. */
	ktd_http_resp_header(resp, "X-Accel-Buffering", "no");
}

void ktd_http_resp_header(struct ktd_http_resp *resp, const char *name,
                          const char *value)
{
	if (resp->nheaders == KTD_HTTP_MAX_HEADERS)
		ktd_panic("too many response headers (adding %s)", name);
	resp->headers[resp->nheaders].name = ktd_strdup(name);
	resp->headers[resp->nheaders].value = ktd_strdup(value);
	resp->nheaders++;
}
