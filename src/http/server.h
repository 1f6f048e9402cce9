/* SPDX-License-Identifier: MPL-2.0 */
/* The HTTP server: libmicrohttpd with an internal thread pool on epoll,
 * request bodies bounded by max_body, routing, security headers on every
 * response, one log line per request, and graceful draining on shutdown. */
#ifndef KTD_HTTP_SERVER_H
#define KTD_HTTP_SERVER_H

#include "http/http_common.h"
#include "http/router.h"

struct ktd_http_server_config {
	int listen_fd; /* a bound, listening socket (taken over) */
	unsigned threads;
	size_t max_body;
	size_t max_header; /* per-connection memory for headers */
	unsigned max_connections;
	unsigned connection_timeout_s;
	char *tls_cert_pem; /* NULL: plain HTTP */
	char *tls_key_pem;
	/* Event streams (http/sse.h): at most this many at once (0: none),
	 * each buffering at most sse_buffer_max bytes, with a comment line
	 * every sse_heartbeat_ms. */
	unsigned sse_max_streams;
	size_t sse_buffer_max;
	uint64_t sse_heartbeat_ms;
};

struct ktd_http_server;

/* Binds and listens on addr:port (IPv4 or IPv6 literal, or a host name
 * resolved once). Returns the socket or -1 with err. */
int ktd_http_listen(const char *addr, unsigned port, struct ktd_error *err);

/* Starts serving. Requests that match no route go to fallback (e.g. the
 * static file server) when it is not NULL, else 404. Borrows router and
 * fallback_ctx for the server's life. Returns NULL with err on failure. */
struct ktd_http_server *
ktd_http_server_start(const struct ktd_http_server_config *cfg,
                      const struct ktd_router *router, ktd_route_fn *fallback,
                      void *fallback_ctx, struct ktd_error *err);

/* Stops accepting connections; requests in flight go on, event streams
 * end (after what they have queued). */
void ktd_http_server_quiesce(struct ktd_http_server *srv);

/* Waits up to timeout_ms for requests in flight to finish. Returns true
 * when none is left. */
bool ktd_http_server_drain(struct ktd_http_server *srv, uint64_t timeout_ms);

/* The number of requests being handled now. */
unsigned ktd_http_server_in_flight(const struct ktd_http_server *srv);

/* Stops the server, closing every connection, and frees it. */
void ktd_http_server_stop(struct ktd_http_server **srv);

#endif
