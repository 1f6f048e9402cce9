/* SPDX-License-Identifier: MPL-2.0 */
/* Server-Sent Events (WHATWG HTML, "Server-sent events"): a response that
 * stays open and carries events as the application pushes them.
 *
 * A stream is a bounded queue of bytes read by a libmicrohttpd callback
 * response. When the queue is empty the connection is suspended (no thread
 * waits for it); a push resumes it. A client that falls more than the
 * buffer's size behind is disconnected: it reconnects with Last-Event-ID
 * and the application replays what it missed. The registry, one per
 * server, bounds the number of streams, sends a comment line every
 * heartbeat so that proxies and the client see the connection alive (and
 * so that a client that has gone is noticed), and ends every stream when
 * the server drains. Thread-safe: any thread may push to or end a stream.
 */
#ifndef KTD_HTTP_SSE_H
#define KTD_HTTP_SSE_H

#include "http/http_common.h"

struct ktd_sse_stream;
struct ktd_sse_registry;
struct ktd_http_req;

/* The retry: field sent first: how long a client waits before it
 * reconnects. */
#define KTD_SSE_RETRY_MS 3000

/* Starts the registry and its heartbeat thread. max_streams: at most this
 * many streams at once; buffer_max: each stream's queue in bytes;
 * heartbeat_ms: between comment lines. Caller destroys. */
struct ktd_sse_registry *ktd_sse_registry_create(unsigned max_streams,
                                                 size_t buffer_max,
                                                 uint64_t heartbeat_ms);

/* Refuses new streams from now on and ends every open one: each sends what
 * it has queued and finishes its response. Returns how many were open. */
unsigned ktd_sse_registry_close_all(struct ktd_sse_registry *reg);

/* Stops the heartbeat thread and frees the registry. Every stream must
 * have finished (after the HTTP server stopped); accepts NULL. */
void ktd_sse_registry_destroy(struct ktd_sse_registry **reg);

/* Makes a stream the answer to req: 200, text/event-stream, Cache-Control
 * no-store, X-Accel-Buffering no, "retry:" first. Returns a reference for
 * the caller (who unrefs it), or NULL with KTD_ERR_UNAVAILABLE when the
 * registry is full or closing. Setting another body on the response later
 * (an error) abandons the stream. */
struct ktd_sse_stream *ktd_http_sse_open(struct ktd_http_req *req,
                                         struct ktd_http_resp *resp,
                                         struct ktd_error *err);

/* Queues one event: "id:" (when id >= 0), "event:" (when not NULL) and
 * data, one "data:" line per line of it. Returns 0, or -1 when the stream
 * has ended or its client is too far behind (the stream is then cut). */
int ktd_sse_stream_event(struct ktd_sse_stream *s, int64_t id,
                         const char *event, const char *data, size_t len);

/* Queues a comment line (": text"). Returns 0 or -1 as above. */
int ktd_sse_stream_comment(struct ktd_sse_stream *s, const char *text);

/* Ends the stream after what is queued. */
void ktd_sse_stream_end(struct ktd_sse_stream *s);

/* True once the stream's response is over (the client went, the stream
 * ended or was cut): nothing pushed will be read any more. */
bool ktd_sse_stream_gone(struct ktd_sse_stream *s);

/* The client's address (for logs); borrowed for the stream's life. */
const char *ktd_sse_stream_peer(const struct ktd_sse_stream *s);

void ktd_sse_stream_ref(struct ktd_sse_stream *s);
/* Drops a reference and sets *s to NULL; accepts NULL. */
void ktd_sse_stream_unref(struct ktd_sse_stream **s);

/* For the server (server.c, response.c). */

/* The libmicrohttpd response that reads s (it holds a reference until
 * libmicrohttpd frees it); NULL on failure. */
struct MHD_Response;
struct MHD_Response *ktd_sse_stream_response(struct ktd_sse_stream *s);

/* Drops a stream whose response was never made (the handler answered an
 * error instead): it leaves the registry. Sets *s to NULL. */
void ktd_sse_stream_abandon(struct ktd_sse_stream **s);

#ifdef KTD_UNITTEST
#include <sys/types.h>
/* The content reader libmicrohttpd calls. */
ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max);
#endif

#endif
