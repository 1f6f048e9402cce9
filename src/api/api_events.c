/* SPDX-License-Identifier: MPL-2.0 */
/* GET /api/v1/events: the live stream of case and call events as
 * Server-Sent Events (WHATWG HTML, "Server-sent events"), with the replay
 * of what a reconnecting client missed (Last-Event-ID). */
#include "api/api_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lib/str.h"
#include "api/api_int.h"
#include "core/live.h"
#include "http/sse.h"

/* Room in a stream's buffer beyond the replayed events, for the retry:,
 * reload and ready lines. */
#define FRAME_OVERHEAD 96
#define CONTROL_ROOM 1024

/* The hub's side of a stream: arg is a reference to the stream. */
static int sub_deliver(void *arg, const struct live_event *ev)
{
	return ktd_sse_stream_event(arg, ev->id, ev->type, ev->data,
	                            ev->data_len);
}

static bool sub_gone(void *arg)
{
	return ktd_sse_stream_gone(arg);
}

static void sub_end(void *arg, const char *reason)
{
	struct ktd_sse_stream *s = arg;

	ktd_log_info("event=live_stream_end reason=%s peer=%s", reason,
	             ktd_sse_stream_peer(s));
	ktd_sse_stream_end(s);
}

static void sub_release(void *arg)
{
	struct ktd_sse_stream *s = arg;

	ktd_sse_stream_unref(&s);
}

static const struct live_sub_ops sub_ops = {
        sub_deliver,
        sub_gone,
        sub_end,
        sub_release,
};

static int replay_one(void *arg, const struct live_event *ev)
{
	return ktd_sse_stream_event(arg, ev->id, ev->type, ev->data,
	                            ev->data_len);
}

/* The last event the client has seen: the Last-Event-ID header, as
 * EventSource sends it when it reconnects, else the last_event_id query
 * parameter (for polyfills that cannot set the header). Returns 1 with the
 * id, 0 when there is none, -1 with 400 answered. */
static int last_event_id(struct api_call *call, int64_t *id_r)
{
	const char *v = ktd_http_req_header(call->req, "Last-Event-ID");
	const char *what = "the Last-Event-ID header";
	uint64_t id;

	if (!v || !v[0]) {
		v = ktd_http_req_query(call->req, "last_event_id");
		what = "query parameter 'last_event_id'";
	}
	if (!v || !v[0])
		return 0;
	if (ktd_parse_u64(v, &id) < 0 || id > INT64_MAX) {
		ktd_http_resp_error(call->resp, 400, "invalid",
		                    "%s must be an event id (a whole number)",
		                    what);
		return -1;
	}
	*id_r = (int64_t)id;
	return 1;
}

static void unavailable(struct api_call *call, const char *why)
{
	ktd_http_resp_error(call->resp, 503, "unavailable", "%s; try again",
	                    why);
	ktd_http_resp_header(call->resp, "Retry-After", "5");
}

static void who(const struct api_call *call, char *out, size_t outsz)
{
	if (call->who.kind == AUTH_SESSION)
		snprintf(out, outsz, "user:%s", call->who.login);
	else
		snprintf(out, outsz, "token:%s", call->who.token_name);
}

static void api_events(struct api_call *call)
{
	struct ktd_api *api = call->api;
	struct ktd_sse_stream *s = NULL, *hub_ref;
	struct live_replay_out rp;
	struct auth_credential cred;
	struct live_sub *sub;
	struct ktd_error err;
	int64_t last = 0, position, after;
	char data[160], name[100], last_text[24] = "-";
	int has_last;

	memset(&rp, 0, sizeof(rp));
	has_last = last_event_id(call, &last);
	if (has_last < 0)
		return;
	if (strcmp(call->req->method, "HEAD") == 0) {
		/* The stream's headers without the stream. */
		ktd_http_resp_set_body(call->resp, 200, "text/event-stream", "",
		                       0);
		ktd_http_resp_header(call->resp, "X-Accel-Buffering", "no");
		return;
	}
	if (!api->live) {
		unavailable(call, "the live stream is not running");
		return;
	}
	s = ktd_http_sse_open(call->req, call->resp, &err);
	if (!s) {
		unavailable(call, err.msg);
		return;
	}
	memset(&cred, 0, sizeof(cred));
	cred.kind = call->who.kind;
	memcpy(cred.hash, call->who.credential, sizeof(cred.hash));
	hub_ref = s;
	ktd_sse_stream_ref(hub_ref);
	sub = live_hub_subscribe(api->live, &sub_ops, hub_ref, &cred,
	                         &position);
	if (!sub) {
		ktd_sse_stream_unref(&hub_ref);
		unavailable(call, "the server is stopping");
		goto out;
	}
	after = position;
	if (has_last) {
		snprintf(last_text, sizeof(last_text), "%" PRId64, last);
		if (live_replay(call->pg, last, api->live_replay_max,
		                api->live_buffer > CONTROL_ROOM
		                        ? api->live_buffer - CONTROL_ROOM
		                        : 0,
		                FRAME_OVERHEAD, replay_one, s, &rp, &err) < 0) {
			live_hub_cancel(api->live, sub);
			api_fail(call, &err); /* drops the stream */
			goto out;
		}
		/* The replay may reach past what this process's hub has
		 * read; the hub then skips what the client has. */
		if (rp.result == LIVE_REPLAY_OK && rp.last_id > after)
			after = rp.last_id;
		if (rp.result != LIVE_REPLAY_OK) {
			/* The client's view is stale beyond repair: it
			 * should load it anew, which will show every event
			 * up to the newest, and go on from there. */
			if (rp.newest > after)
				after = rp.newest;
			snprintf(data, sizeof(data),
			         "{\"type\": \"reload\", \"id\": %" PRId64
			         ", \"reason\": \"%s\"}",
			         after, live_replay_result_name(rp.result));
			(void)ktd_sse_stream_event(s, after, "reload", data,
			                           strlen(data));
		}
	}
	if (!has_last) {
		/* A new client starts after everything committed before it
		 * asked, which this process's hub may not have read yet. */
		int64_t newest;

		if (live_position(call->pg, &newest, &err) < 0) {
			live_hub_cancel(api->live, sub);
			api_fail(call, &err); /* drops the stream */
			goto out;
		}
		if (newest > after)
			after = newest;
	}
	snprintf(data, sizeof(data),
	         "{\"type\": \"ready\", \"id\": %" PRId64 ", \"replayed\": %u}",
	         after, rp.count);
	(void)ktd_sse_stream_event(s, after, "ready", data, strlen(data));
	live_hub_activate(api->live, sub, after);
	who(call, name, sizeof(name));
	ktd_log_info("event=live_stream_open peer=%s who=%s last_event_id=%s "
	             "position=%" PRId64 " replay=%s replayed=%u",
	             call->req->peer, name, last_text, position,
	             live_replay_result_name(rp.result), rp.count);
out:
	ktd_sse_stream_unref(&s);
}

const struct api_route api_events_routes[] = {
        {"GET", "/api/v1/events", api_events, 0, API_ROLES_ALL,
         TOKEN_SCOPE_READ},
};
const size_t api_events_routes_n = KTD_N_ELEMENTS(api_events_routes);
