/* SPDX-License-Identifier: MPL-2.0 */
/* Process-wide HTTP counters for GET /metrics (Prometheus text format).
 * Lock-free: every function may be called from any thread. */
#ifndef KTD_HTTP_METRICS_H
#define KTD_HTTP_METRICS_H

#include "http/http_common.h"
#include "lib/buf.h"

/* Counts a request that has begun (its headers are in). */
void ktd_metrics_http_begin(void);

/* Records one finished request: its status (0 when no answer was sent)
 * and its duration. */
void ktd_metrics_http_observe(unsigned status, uint64_t duration_us);

/* Records the end of a request that was an event stream: it counts by
 * status, but its duration (as long as the client stayed) stays out of
 * the latency histogram. */
void ktd_metrics_http_observe_stream(unsigned status);

/* Event streams (http/sse.c): one opened (+1) or finished (-1); one cut
 * off because its client fell too far behind. */
void ktd_metrics_sse_streams(int delta);
void ktd_metrics_sse_cut(void);

/* Appends the HTTP metrics in Prometheus text format to b. Returns 0 or -1
 * when b is full. */
int ktd_metrics_http_write(struct ktd_buf *b) KTD_ATTR_NODISCARD;

#endif
