/* SPDX-License-Identifier: MPL-2.0 */
/* HTTP request counters and a latency histogram. */
#include "http/http_common.h"

#include <stdatomic.h>

#include "http/metrics.h"

/* Upper bounds of the latency buckets, in microseconds. */
static const uint64_t bucket_us[] = {1000,    5000,    10000,   25000,
                                     50000,   100000,  250000,  500000,
                                     1000000, 2500000, 5000000, 10000000};

/* Status classes 1xx..5xx, plus index 0 for "no answer". */
static atomic_ullong requests[6];
static atomic_ullong buckets[KTD_N_ELEMENTS(bucket_us)];
static atomic_ullong buckets_over; /* slower than the last bound */
static atomic_ullong duration_sum_us;
static atomic_llong in_flight;
static atomic_llong sse_streams;
static atomic_ullong sse_cuts;

void ktd_metrics_http_begin(void)
{
	atomic_fetch_add_explicit(&in_flight, 1, memory_order_relaxed);
}

void ktd_metrics_http_observe(unsigned status, uint64_t duration_us)
{
	unsigned cls = status / 100;
	size_t i;

	if (cls > 5)
		cls = 0;
	atomic_fetch_sub_explicit(&in_flight, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&requests[cls], 1, memory_order_relaxed);
	for (i = 0; i < KTD_N_ELEMENTS(bucket_us); i++) {
		if (duration_us <= bucket_us[i]) {
			atomic_fetch_add_explicit(&buckets[i], 1,
			                          memory_order_relaxed);
			break;
		}
	}
	if (i == KTD_N_ELEMENTS(bucket_us))
		atomic_fetch_add_explicit(&buckets_over, 1,
		                          memory_order_relaxed);
	atomic_fetch_add_explicit(&duration_sum_us, duration_us,
	                          memory_order_relaxed);
}

void ktd_metrics_http_observe_stream(unsigned status)
{
	unsigned cls = status / 100;

	if (cls > 5)
		cls = 0;
	atomic_fetch_sub_explicit(&in_flight, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&requests[cls], 1, memory_order_relaxed);
}

void ktd_metrics_sse_streams(int delta)
{
	atomic_fetch_add_explicit(&sse_streams, delta, memory_order_relaxed);
}

void ktd_metrics_sse_cut(void)
{
	atomic_fetch_add_explicit(&sse_cuts, 1, memory_order_relaxed);
}

int ktd_metrics_http_write(struct ktd_buf *b)
{
	static const char *const classes[] = {"none", "1xx", "2xx",
	                                      "3xx",  "4xx", "5xx"};
	unsigned long long cum = 0;
	size_t i;

	if (ktd_buf_add_str(
	            b, "# HELP kontaktd_http_requests_total HTTP "
	               "requests answered, by status class.\n"
	               "# TYPE kontaktd_http_requests_total counter\n") < 0)
		return -1;
	for (i = 0; i < KTD_N_ELEMENTS(classes); i++) {
		if (ktd_buf_printf(
		            b,
		            "kontaktd_http_requests_total{code=\"%s\"} "
		            "%llu\n",
		            classes[i],
		            (unsigned long long)atomic_load(&requests[i])) < 0)
			return -1;
	}
	if (ktd_buf_add_str(b,
	                    "# HELP kontaktd_http_request_duration_seconds "
	                    "Time from the request's headers to its answer.\n"
	                    "# TYPE kontaktd_http_request_duration_seconds "
	                    "histogram\n") < 0)
		return -1;
	for (i = 0; i < KTD_N_ELEMENTS(bucket_us); i++) {
		cum += atomic_load(&buckets[i]);
		if (ktd_buf_printf(b,
		                   "kontaktd_http_request_duration_seconds_"
		                   "bucket{le=\"%g\"} %llu\n",
		                   (double)bucket_us[i] / 1e6, cum) < 0)
			return -1;
	}
	if (ktd_buf_printf(b,
	                   "kontaktd_http_request_duration_seconds_bucket{le="
	                   "\"+Inf\"} %llu\n"
	                   "kontaktd_http_request_duration_seconds_sum %.6f\n"
	                   "kontaktd_http_request_duration_seconds_count %llu\n"
	                   "# HELP kontaktd_http_requests_in_flight Requests "
	                   "being handled now (open event streams "
	                   "included).\n"
	                   "# TYPE kontaktd_http_requests_in_flight gauge\n"
	                   "kontaktd_http_requests_in_flight %lld\n"
	                   "# HELP kontaktd_sse_streams Server-Sent Events "
	                   "streams open now.\n"
	                   "# TYPE kontaktd_sse_streams gauge\n"
	                   "kontaktd_sse_streams %lld\n"
	                   "# HELP kontaktd_sse_cut_total Event streams "
	                   "closed because their client fell too far "
	                   "behind.\n"
	                   "# TYPE kontaktd_sse_cut_total counter\n"
	                   "kontaktd_sse_cut_total %llu\n",
	                   cum + (unsigned long long)atomic_load(&buckets_over),
	                   (double)atomic_load(&duration_sum_us) / 1e6,
	                   cum + (unsigned long long)atomic_load(&buckets_over),
	                   (long long)atomic_load(&in_flight),
	                   (long long)atomic_load(&sse_streams),
	                   (unsigned long long)atomic_load(&sse_cuts)) < 0)
		return -1;
	return 0;
}
