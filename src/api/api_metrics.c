/* SPDX-License-Identifier: MPL-2.0 */
/* GET /metrics: Prometheus text exposition format 0.0.4. */
#include "api/api_common.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/buf.h"
#include "api/api_int.h"
#include "core/cti_group.h"
#include "core/live.h"
#include "db/pool.h"
#include "http/metrics.h"

#define METRICS_MAX (64u * 1024)

static time_t started_at;

void api_metrics_init(void)
{
	started_at = time(NULL);
}

void api_metrics(struct api_call *call)
{
	struct ktd_http_resp *resp = call->resp;
	struct ktd_api *api = call->api;
	struct db_pool_stats ps;
	struct live_hub_stats ls;
	struct cti_group_stats gs;
	struct ktd_buf b;
	size_t len;
	char *text;

	memset(&ls, 0, sizeof(ls));
	db_pool_stats(api->pool, &ps);
	if (api->live)
		live_hub_stats(api->live, &ls);
	cti_group_stats(api->cti_group, &gs);
	ktd_buf_init(&b, METRICS_MAX);
	if (ktd_buf_printf(
	            &b,
	            "# HELP kontaktd_build_info The running version.\n"
	            "# TYPE kontaktd_build_info gauge\n"
	            "kontaktd_build_info{version=\"%s\"} 1\n"
	            "# HELP kontaktd_start_time_seconds Start of the process "
	            "(Unix time).\n"
	            "# TYPE kontaktd_start_time_seconds gauge\n"
	            "kontaktd_start_time_seconds %lld\n"
	            "# HELP kontaktd_db_up Whether the last database "
	            "connection attempt succeeded.\n"
	            "# TYPE kontaktd_db_up gauge\n"
	            "kontaktd_db_up %d\n"
	            "# HELP kontaktd_db_pool_connections Connections of the "
	            "pool, by state.\n"
	            "# TYPE kontaktd_db_pool_connections gauge\n"
	            "kontaktd_db_pool_connections{state=\"in_use\"} %u\n"
	            "kontaktd_db_pool_connections{state=\"idle\"} %u\n"
	            "kontaktd_db_pool_connections{state=\"closed\"} %u\n"
	            "# HELP kontaktd_db_pool_waits_total Acquisitions that had "
	            "to wait, and those that timed out.\n"
	            "# TYPE kontaktd_db_pool_waits_total counter\n"
	            "kontaktd_db_pool_waits_total{result=\"waited\"} %llu\n"
	            "kontaktd_db_pool_waits_total{result=\"timeout\"} %llu\n"
	            "# HELP kontaktd_db_reconnects_total Connections made "
	            "anew after the first.\n"
	            "# TYPE kontaktd_db_reconnects_total counter\n"
	            "kontaktd_db_reconnects_total %llu\n",
	            PACKAGE_VERSION, (long long)started_at, ps.up ? 1 : 0,
	            ps.in_use, ps.idle, ps.closed, (unsigned long long)ps.waits,
	            (unsigned long long)ps.timeouts,
	            (unsigned long long)ps.reconnects) < 0 ||
	    ktd_buf_printf(
	            &b,
	            "# HELP kontaktd_live_listening Whether the live hub's "
	            "LISTEN connection is up.\n"
	            "# TYPE kontaktd_live_listening gauge\n"
	            "kontaktd_live_listening %d\n"
	            "# HELP kontaktd_live_events_total Live events read and "
	            "fanned out by this process.\n"
	            "# TYPE kontaktd_live_events_total counter\n"
	            "kontaktd_live_events_total %llu\n"
	            "# HELP kontaktd_live_subscribers Subscribers of the live "
	            "hub (open event streams).\n"
	            "# TYPE kontaktd_live_subscribers gauge\n"
	            "kontaktd_live_subscribers %u\n",
	            ls.listening ? 1 : 0, (unsigned long long)ls.events,
	            ls.subscribers) < 0 ||
	    ktd_buf_printf(
	            &b,
	            "# HELP kontaktd_cti_group_transactions_total "
	            "Transactions that took in the single CTI events of "
	            "concurrent requests together (group commit).\n"
	            "# TYPE kontaktd_cti_group_transactions_total counter\n"
	            "kontaktd_cti_group_transactions_total %llu\n"
	            "# HELP kontaktd_cti_group_events_total Single CTI events "
	            "taken in by those transactions, and those taken in again "
	            "alone after their group failed.\n"
	            "# TYPE kontaktd_cti_group_events_total counter\n"
	            "kontaktd_cti_group_events_total{result=\"grouped\"} "
	            "%llu\n"
	            "kontaktd_cti_group_events_total{result=\"alone\"} "
	            "%llu\n"
	            "# HELP kontaktd_cti_group_waiting Single CTI events "
	            "waiting for the transactions before theirs.\n"
	            "# TYPE kontaktd_cti_group_waiting gauge\n"
	            "kontaktd_cti_group_waiting %u\n",
	            (unsigned long long)gs.transactions,
	            (unsigned long long)gs.events, (unsigned long long)gs.alone,
	            gs.waiting) < 0 ||
	    ktd_metrics_http_write(&b) < 0) {
		ktd_buf_deinit(&b);
		ktd_http_resp_error(resp, 500, "internal_error",
		                    "metrics exceed %u bytes", METRICS_MAX);
		return;
	}
	text = ktd_buf_steal(&b, &len);
	ktd_http_resp_set_body(resp, 200,
	                       "text/plain; version=0.0.4; charset=utf-8", text,
	                       len);
	free(text);
}
