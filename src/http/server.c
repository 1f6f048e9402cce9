/* SPDX-License-Identifier: MPL-2.0 */
/* libmicrohttpd glue (RFC 9110/9112 handled by libmicrohttpd). */
#include "http/http_common.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/timeutil.h"
#include "http/metrics.h"
#include "http/request.h"
#include "http/server.h"
#include "http/sse.h"

/* Headers sent with every response. The front end loads nothing from
 * elsewhere and runs no inline script. */
static const char *const security_headers[][2] = {
        {"Content-Security-Policy",
         "default-src 'self'; script-src 'self'; style-src 'self'; "
         "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
         "object-src 'none'; base-uri 'none'; form-action 'self'; "
         "frame-ancestors 'none'"},
        {"X-Content-Type-Options", "nosniff"},
        {"X-Frame-Options", "DENY"},
        {"Referrer-Policy", "no-referrer"},
        {"Cross-Origin-Opener-Policy", "same-origin"},
        {"Cross-Origin-Resource-Policy", "same-origin"},
        {"Permissions-Policy", "camera=(), microphone=(), geolocation=()"},
};

struct ktd_http_server {
	struct MHD_Daemon *mhd;
	const struct ktd_router *router;
	ktd_route_fn *fallback;
	void *fallback_ctx;
	size_t max_body;
	bool tls;
	atomic_uint in_flight;
	atomic_bool draining;
	struct ktd_sse_registry *sse;
};

/* Per-request state, from the first call of the access handler to the
 * completion callback. */
struct conn_req {
	struct ktd_http_req req;
	struct ktd_http_resp resp;
	struct ktd_route_match match;
	enum ktd_route_result route;
	struct ktd_buf body;
	bool too_large;
	bool responded;
	bool streamed; /* the answer was an event stream */
	uint64_t start_us;
	char method[16];
	char *path;
	char peer[64];
};

const char *ktd_http_req_header(const struct ktd_http_req *req,
                                const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *ktd_http_req_query(const struct ktd_http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
	                                   name);
}

const char *ktd_http_req_cookie(const struct ktd_http_req *req,
                                const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, name);
}

const char *ktd_http_req_param(const struct ktd_http_req *req, const char *name)
{
	return req->match ? ktd_route_param(req->match, name) : NULL;
}

int ktd_http_listen(const char *addr, unsigned port, struct ktd_error *err)
{
	struct addrinfo hints, *res = NULL, *ai;
	char portstr[16];
	int fd = -1, rc, one = 1, saved = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%u", port);
	rc = getaddrinfo(addr, portstr, &hints, &res);
	if (rc != 0)
		return ktd_error_set(err, KTD_ERR_CONFIG,
		                     "listen address %s: %s", addr,
		                     gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		            ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		                 sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 128) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return ktd_error_set(err, KTD_ERR_IO,
		                     "cannot listen on %s:%u: %s", addr, port,
		                     strerror(saved));
	return fd;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
        KTD_ATTR_FORMAT(2, 0);

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512], quoted[600];
	size_t len;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
		msg[--len] = '\0';
	ktd_log_warnx("event=http_server msg=%s",
	              ktd_log_quote(msg, quoted, sizeof(quoted)));
}

/* Decodes "%HH" in the path and the query arguments as libmicrohttpd's
 * default does, except "%00": a NUL would cut the string short, and
 * "/app.css%00.html" would be routed, served and logged as "/app.css".
 * It stays encoded, so that such a path matches nothing. */
static size_t url_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	const char *r = s;
	char *w = s;

	while (*r) {
		/* r[2] is read only when r[1] is a hex digit, so not past
		 * the end. */
		int hi = r[0] == '%' ? ktd_hex_digit(r[1]) : -1;
		int lo = hi >= 0 ? ktd_hex_digit(r[2]) : -1;

		if (lo >= 0 && (hi | lo) != 0) {
			*w++ = (char)(hi << 4 | lo);
			r += 3;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

static struct MHD_Response *build_response(struct ktd_http_server *srv,
                                           struct conn_req *cr)
{
	struct ktd_http_resp *resp = &cr->resp;
	struct MHD_Response *r;
	bool cache_set = false;
	unsigned i;

	if (resp->stream) {
		/* The MHD response holds its own reference; this one goes. */
		r = ktd_sse_stream_response(resp->stream);
		if (r) {
			ktd_sse_stream_unref(&resp->stream);
			cr->streamed = true;
		}
	} else if (resp->fd >= 0) {
		r = MHD_create_response_from_fd64(resp->fd_size, resp->fd);
		if (r)
			resp->fd = -1; /* MHD closes it */
	} else {
		/* Hand the body over; MHD frees it with free(). */
		if (!resp->body)
			resp->body = ktd_strdup("");
		r = MHD_create_response_from_buffer_with_free_callback(
		        resp->body_len, resp->body, free);
		if (r)
			resp->body = NULL;
	}
	if (!r)
		return NULL;
	if (resp->content_type[0] && resp->status != 304)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
		                        resp->content_type);
	for (i = 0; i < KTD_N_ELEMENTS(security_headers); i++)
		MHD_add_response_header(r, security_headers[i][0],
		                        security_headers[i][1]);
	if (srv->tls)
		MHD_add_response_header(r, "Strict-Transport-Security",
		                        "max-age=31536000");
	for (i = 0; i < resp->nheaders; i++) {
		if (strcasecmp(resp->headers[i].name, "Cache-Control") == 0)
			cache_set = true;
		MHD_add_response_header(r, resp->headers[i].name,
		                        resp->headers[i].value);
	}
	/* API answers may carry personal data: keep them out of caches. */
	if (!cache_set)
		MHD_add_response_header(r, "Cache-Control", "no-store");
	if (atomic_load(&srv->draining))
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	return r;
}

static enum MHD_Result respond(struct ktd_http_server *srv,
                               struct MHD_Connection *conn, struct conn_req *cr)
{
	struct MHD_Response *r = build_response(srv, cr);
	enum MHD_Result ret;

	cr->responded = true;
	if (!r)
		return MHD_NO;
	ret = MHD_queue_response(conn, cr->resp.status, r);
	MHD_destroy_response(r);
	return ret;
}

static void respond_route_error(struct conn_req *cr)
{
	if (cr->route == KTD_ROUTE_METHOD_NOT_ALLOWED) {
		ktd_http_resp_error(&cr->resp, 405, "method_not_allowed",
		                    "method %s is not allowed for this path; "
		                    "allowed: %s",
		                    cr->method, cr->match.allow);
		ktd_http_resp_header(&cr->resp, "Allow", cr->match.allow);
	} else {
		ktd_http_resp_error(&cr->resp, 404, "not_found",
		                    "no such resource");
	}
}

static void peer_address(struct MHD_Connection *conn, char *out, size_t sz)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
	        conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	ktd_strlcpy(out, "-", sz);
	if (!ci || !ci->client_addr)
		return;
	if (getnameinfo(ci->client_addr,
	                ci->client_addr->sa_family == AF_INET6
	                        ? sizeof(struct sockaddr_in6)
	                        : sizeof(struct sockaddr_in),
	                out, (socklen_t)sz, NULL, 0, NI_NUMERICHOST) != 0)
		ktd_strlcpy(out, "-", sz);
}

/* Whether a request no route took goes to the fallback (static files):
 * only for unknown paths outside /api/, so that the API's own 404 and 405
 * answers never turn into file lookups. */
static bool use_fallback(const struct ktd_http_server *srv,
                         const struct conn_req *cr)
{
	return srv->fallback && cr->route == KTD_ROUTE_NOT_FOUND &&
	       !ktd_str_has_prefix(cr->path, "/api/") &&
	       strcmp(cr->path, "/api") != 0;
}

/* New connections are refused once the server drains. */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr,
                                     socklen_t addrlen)
{
	const struct ktd_http_server *srv = cls;

	return atomic_load(&srv->draining) ? MHD_NO : MHD_YES;
}

/* First call for a request: headers are in, the body is not. */
static enum MHD_Result request_begin(struct ktd_http_server *srv,
                                     struct MHD_Connection *conn,
                                     const char *url, const char *method,
                                     void **con_cls)
{
	struct conn_req *cr = ktd_calloc(1, sizeof(*cr));
	const char *cl;
	uint64_t len;

	*con_cls = cr;
	atomic_fetch_add(&srv->in_flight, 1);
	ktd_metrics_http_begin();
	cr->start_us = ktd_time_mono_us();
	ktd_strlcpy(cr->method, method, sizeof(cr->method));
	cr->path = ktd_strdup(url);
	peer_address(conn, cr->peer, sizeof(cr->peer));
	ktd_http_resp_init(&cr->resp);
	ktd_buf_init(&cr->body, srv->max_body);

	cr->req.method = cr->method;
	cr->req.path = cr->path;
	cr->req.peer = cr->peer;
	cr->req.conn = conn;
	cr->req.tls = srv->tls;
	cr->req.match = &cr->match;
	cr->req.sse = srv->sse;

	cr->route = ktd_router_match(srv->router, method, url, &cr->match);
	if (cr->route != KTD_ROUTE_FOUND && !use_fallback(srv, cr)) {
		respond_route_error(cr);
		return respond(srv, conn, cr);
	}
	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl && ktd_parse_u64(cl, &len) == 0 && len > srv->max_body) {
		ktd_http_resp_error(&cr->resp, 413, "payload_too_large",
		                    "the request body is larger than %zu bytes",
		                    srv->max_body);
		return respond(srv, conn, cr);
	}
	return MHD_YES;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn,
                                      const char *url, const char *method,
                                      const char *version,
                                      const char *upload_data,
                                      size_t *upload_data_size, void **con_cls)
{
	struct ktd_http_server *srv = cls;
	struct conn_req *cr = *con_cls;

	if (!cr)
		return request_begin(srv, conn, url, method, con_cls);
	if (cr->responded) {
		/* An early answer (413, 404): discard what still arrives. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (!cr->too_large && ktd_buf_add(&cr->body, upload_data,
		                                  *upload_data_size) < 0) {
			/* Chunked bodies have no Content-Length to check up
			 * front; stop keeping data once past the limit. */
			cr->too_large = true;
			ktd_buf_deinit(&cr->body);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}

	/* The whole request is in. */
	if (cr->too_large) {
		ktd_http_resp_error(&cr->resp, 413, "payload_too_large",
		                    "the request body is larger than %zu bytes",
		                    srv->max_body);
		return respond(srv, conn, cr);
	}
	cr->req.body = cr->body.data ? cr->body.data : "";
	cr->req.body_len = cr->body.len;
	if (cr->route == KTD_ROUTE_FOUND) {
		cr->match.fn(&cr->req, &cr->resp, cr->match.ctx);
	} else if (use_fallback(srv, cr)) {
		srv->fallback(&cr->req, &cr->resp, srv->fallback_ctx);
	} else {
		respond_route_error(cr);
	}
	return respond(srv, conn, cr);
}

/* Paths whose rest is a secret (a token in the URL, as Zammad's Generic
 * CTI webhook carries it): logged with the rest replaced. */
static const char *const secret_path_prefixes[] = {"/api/v1/cti/generic/"};

static const char *loggable_path(const char *path, char *buf, size_t bufsz)
{
	size_t i, n;

	for (i = 0; i < KTD_N_ELEMENTS(secret_path_prefixes); i++) {
		n = strlen(secret_path_prefixes[i]);
		if (strncmp(path, secret_path_prefixes[i], n) == 0 &&
		    path[n] != '\0') {
			snprintf(buf, bufsz, "%s***", secret_path_prefixes[i]);
			return buf;
		}
	}
	return path;
}

static void request_completed(void *cls, struct MHD_Connection *conn,
                              void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
	struct ktd_http_server *srv = cls;
	struct conn_req *cr = *con_cls;
	char path[300], method[48], masked[64];
	uint64_t us;

	if (!cr)
		return;
	*con_cls = NULL;
	us = ktd_time_mono_us() - cr->start_us;
	if (cr->streamed)
		ktd_metrics_http_observe_stream(cr->resp.status);
	else
		ktd_metrics_http_observe(cr->responded ? cr->resp.status : 0,
		                         us);
	/* Before the log line: once a request is logged, it no longer counts
	 * as in flight (the drain and the tests rely on that order). */
	atomic_fetch_sub(&srv->in_flight, 1);
	ktd_log(cr->resp.status >= 500 ? KTD_LOG_WARNING : KTD_LOG_INFO,
	        "event=http method=%s path=%s status=%u "
	        "duration_ms=%llu.%03llu "
	        "peer=%s%s%s%s",
	        ktd_log_quote(cr->method, method, sizeof(method)),
	        ktd_log_quote(loggable_path(cr->path, masked, sizeof(masked)),
	                      path, sizeof(path)),
	        cr->responded ? cr->resp.status : 0,
	        (unsigned long long)(us / 1000),
	        (unsigned long long)(us % 1000), cr->peer,
	        cr->resp.error_code ? " error=" : "",
	        cr->resp.error_code ? cr->resp.error_code : "",
	        toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? ""
	                                                   : " aborted=true");
	ktd_http_resp_deinit(&cr->resp);
	ktd_buf_deinit(&cr->body);
	free(cr->path);
	free(cr);
}

struct ktd_http_server *
ktd_http_server_start(const struct ktd_http_server_config *cfg,
                      const struct ktd_router *router, ktd_route_fn *fallback,
                      void *fallback_ctx, struct ktd_error *err)
{
	struct ktd_http_server *srv = ktd_calloc(1, sizeof(*srv));
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	                 MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME |
	                 MHD_USE_ERROR_LOG;
	struct MHD_OptionItem opts[16];
	unsigned n = 0;

	srv->router = router;
	srv->fallback = fallback;
	srv->fallback_ctx = fallback_ctx;
	srv->max_body = cfg->max_body;
	srv->tls = cfg->tls_cert_pem != NULL;
	if (srv->tls) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			free(srv);
			ktd_error_set(err, KTD_ERR_CONFIG,
			              "this libmicrohttpd was built without "
			              "TLS support");
			return NULL;
		}
		flags |= MHD_USE_TLS;
	}
	/* The logger must come first to catch every message. */
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER,
	                                    (intptr_t)mhd_log, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET,
	                                    cfg->listen_fd, NULL};
	if (cfg->threads > 1)
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE,
		                                    cfg->threads, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
	                                    cfg->max_connections, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
	                                    cfg->connection_timeout_s, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	                                    (intptr_t)cfg->max_header, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED,
	                                    (intptr_t)request_completed, srv};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_UNESCAPE_CALLBACK,
	                                    (intptr_t)url_unescape, NULL};
	if (srv->tls) {
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT,
		                                    0, cfg->tls_cert_pem};
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0,
		                                    cfg->tls_key_pem};
	}
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

	if (cfg->sse_max_streams > 0)
		srv->sse = ktd_sse_registry_create(cfg->sse_max_streams,
		                                   cfg->sse_buffer_max,
		                                   cfg->sse_heartbeat_ms);
	srv->mhd =
	        MHD_start_daemon(flags, 0, accept_policy, srv, access_handler,
	                         srv, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!srv->mhd) {
		ktd_sse_registry_destroy(&srv->sse);
		free(srv);
		ktd_error_set(err, KTD_ERR_IO,
		              "the HTTP server did not start (see the "
		              "http_server lines above)");
		return NULL;
	}
	return srv;
}

void ktd_http_server_quiesce(struct ktd_http_server *srv)
{
	/* Not MHD_quiesce_daemon: in libmicrohttpd 0.9.75 with a thread pool
	 * on epoll it races a worker removing the listen socket from its
	 * epoll set itself, and the loser aborts the process ("Failed to
	 * remove listen FD from epoll set"). The accept policy refuses new
	 * connections instead: they are closed unanswered. */
	atomic_store(&srv->draining, true);
	/* Event streams would otherwise stay in flight until their clients
	 * leave: they end now (the clients reconnect elsewhere, or here
	 * after the restart, with Last-Event-ID). */
	if (srv->sse) {
		unsigned n = ktd_sse_registry_close_all(srv->sse);

		if (n > 0)
			ktd_log_info("event=sse_closing streams=%u", n);
	}
}

unsigned ktd_http_server_in_flight(const struct ktd_http_server *srv)
{
	return atomic_load(&srv->in_flight);
}

bool ktd_http_server_drain(struct ktd_http_server *srv, uint64_t timeout_ms)
{
	uint64_t deadline = ktd_time_mono_ms() + timeout_ms;

	while (atomic_load(&srv->in_flight) > 0) {
		if (ktd_time_mono_ms() >= deadline)
			return false;
		usleep(10 * 1000);
	}
	return true;
}

void ktd_http_server_stop(struct ktd_http_server **srvp)
{
	struct ktd_http_server *srv = *srvp;

	if (!srv)
		return;
	/* libmicrohttpd must not be stopped with a suspended connection:
	 * closing the streams resumes every one. */
	if (srv->sse)
		(void)ktd_sse_registry_close_all(srv->sse);
	MHD_stop_daemon(srv->mhd);
	ktd_sse_registry_destroy(&srv->sse);
	free(srv);
	*srvp = NULL;
}
