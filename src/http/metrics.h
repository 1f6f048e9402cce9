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

/* Appends the HTTP metrics in Prometheus text format to b. Returns 0 or -1
 * when b is full. */
int ktd_metrics_http_write(struct ktd_buf *b) KTD_ATTR_NODISCARD;

#endif
