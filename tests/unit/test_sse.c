/* SPDX-License-Identifier: MPL-2.0 */
/* Unit tests of src/http/sse: event framing, the stream's queue as its
 * content reader sees it, the registry's limit, cutting a client that falls
 * behind, ending streams, and abandoning a stream for an error answer.
 * No server runs: no stream is ever suspended here. */
#include "lib/lib_common.h"

#include <microhttpd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/request.h"
#include "http/sse.h"

/* Long enough that the heartbeat thread never wakes during a test. */
#define NO_HEARTBEAT (3600u * 1000)

struct fixture {
	struct ktd_sse_registry *reg;
	struct ktd_http_req req;
	struct ktd_http_resp resp;
};

static void fixture_init(struct fixture *f, unsigned max, size_t buffer)
{
	memset(f, 0, sizeof(*f));
	f->reg = ktd_sse_registry_create(max, buffer, NO_HEARTBEAT);
	f->req.method = "GET";
	f->req.path = "/api/v1/events";
	f->req.peer = "192.0.2.7";
	f->req.sse = f->reg;
	ktd_http_resp_init(&f->resp);
}

static void fixture_deinit(struct fixture *f)
{
	ktd_http_resp_deinit(&f->resp);
	ktd_sse_registry_destroy(&f->reg);
}

/* Everything queued in an ended stream, as the content reader hands it
 * out in pieces of at most max bytes, up to its end. (An empty stream that
 * has not ended would suspend its connection, and there is none.) */
static size_t drain(struct ktd_sse_stream *s, char *out, size_t outsz,
                    size_t max)
{
	size_t n = 0;
	ssize_t r;

	while ((r = stream_read(s, n, out + n, max)) > 0) {
		n += (size_t)r;
		assert_true(n < outsz);
	}
	assert_true(r == MHD_CONTENT_READER_END_OF_STREAM);
	out[n] = '\0';
	return n;
}

static void test_open_and_frames(void **state)
{
	struct fixture f;
	struct ktd_sse_stream *s;
	struct ktd_error err;
	char out[512];

	(void)state;
	fixture_init(&f, 4, 4096);
	s = ktd_http_sse_open(&f.req, &f.resp, &err);
	assert_non_null(s);
	assert_int_equal(f.resp.status, 200);
	assert_string_equal(f.resp.content_type, "text/event-stream");
	assert_ptr_equal(f.resp.stream, s);
	assert_int_equal(f.resp.nheaders, 1);
	assert_string_equal(f.resp.headers[0].name, "X-Accel-Buffering");
	assert_string_equal(ktd_sse_stream_peer(s), "192.0.2.7");

	assert_int_equal(
	        ktd_sse_stream_event(s, 7, "case.created", "{\"a\": 1}", 8), 0);
	/* Every line of the data is a data: line; CR LF counts as one
	 * line end, and no id or event name is sent when there is none. */
	assert_int_equal(ktd_sse_stream_event(s, -1, NULL, "a\nb\r\nc", 6), 0);
	assert_int_equal(ktd_sse_stream_comment(s, "heartbeat"), 0);
	ktd_sse_stream_end(s);
	/* Read in pieces of 5 bytes, as a small write buffer would. */
	drain(s, out, sizeof(out), 5);
	assert_string_equal(out, "retry: 3000\n\n"
	                         "id: 7\nevent: case.created\n"
	                         "data: {\"a\": 1}\n\n"
	                         "data: a\ndata: b\ndata: c\n\n"
	                         ": heartbeat\n\n");
	ktd_sse_stream_unref(&s);
	fixture_deinit(&f);
}

static void test_limit_and_abandon(void **state)
{
	struct fixture f;
	struct ktd_http_resp r2, r3;
	struct ktd_sse_stream *a, *b, *c;
	struct ktd_error err;

	(void)state;
	fixture_init(&f, 2, 4096);
	ktd_http_resp_init(&r2);
	ktd_http_resp_init(&r3);
	a = ktd_http_sse_open(&f.req, &f.resp, &err);
	b = ktd_http_sse_open(&f.req, &r2, &err);
	assert_non_null(a);
	assert_non_null(b);
	c = ktd_http_sse_open(&f.req, &r3, &err);
	assert_null(c);
	assert_int_equal(err.code, KTD_ERR_UNAVAILABLE);
	assert_non_null(strstr(err.msg, "too many"));
	/* An error answer after all: the stream leaves the registry, and
	 * its place is free again. */
	ktd_http_resp_error(&r2, 503, "unavailable", "x");
	assert_null(r2.stream);
	assert_true(ktd_sse_stream_gone(b));
	assert_int_equal(ktd_sse_stream_event(b, 1, "x", "{}", 2), -1);
	c = ktd_http_sse_open(&f.req, &r3, &err);
	assert_non_null(c);
	ktd_sse_stream_unref(&a);
	ktd_sse_stream_unref(&b);
	ktd_sse_stream_unref(&c);
	ktd_http_resp_deinit(&r2);
	ktd_http_resp_deinit(&r3);
	fixture_deinit(&f);
}

static void test_cut_when_too_far_behind(void **state)
{
	struct fixture f;
	struct ktd_sse_stream *s;
	struct ktd_error err;
	char data[200], out[512];

	(void)state;
	memset(data, 'x', sizeof(data));
	fixture_init(&f, 1, 512);
	s = ktd_http_sse_open(&f.req, &f.resp, &err);
	assert_non_null(s);
	assert_int_equal(ktd_sse_stream_event(s, 1, "e", data, 200), 0);
	assert_int_equal(ktd_sse_stream_event(s, 2, "e", data, 200), 0);
	/* Read some: the room is used again. */
	assert_true(stream_read(s, 0, out, 100) == 100);
	assert_int_equal(ktd_sse_stream_event(s, 3, "e", data, 100), 0);
	/* Too much: the stream is cut, and closes without more data. */
	assert_int_equal(ktd_sse_stream_event(s, 4, "e", data, 200), -1);
	assert_true(ktd_sse_stream_gone(s));
	assert_true(stream_read(s, 0, out, sizeof(out)) ==
	            MHD_CONTENT_READER_END_WITH_ERROR);
	assert_int_equal(ktd_sse_stream_event(s, 5, "e", "{}", 2), -1);
	ktd_sse_stream_unref(&s);
	fixture_deinit(&f);
}

static void test_end_and_close_all(void **state)
{
	struct fixture f;
	struct ktd_http_resp r2, r3;
	struct ktd_sse_stream *a, *b;
	struct MHD_Response *mr;
	struct ktd_error err;
	char out[512];

	(void)state;
	fixture_init(&f, 4, 4096);
	ktd_http_resp_init(&r2);
	ktd_http_resp_init(&r3);
	a = ktd_http_sse_open(&f.req, &f.resp, &err);
	b = ktd_http_sse_open(&f.req, &r2, &err);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(ktd_sse_stream_event(a, 1, "e", "{}", 2), 0);
	/* Ending sends what is queued, then the end. */
	ktd_sse_stream_end(a);
	assert_int_equal(ktd_sse_stream_event(a, 2, "e", "{}", 2), -1);
	assert_false(ktd_sse_stream_gone(a));
	drain(a, out, sizeof(out), sizeof(out) - 1);
	assert_string_equal(out,
	                    "retry: 3000\n\nid: 1\nevent: e\ndata: {}\n\n");

	/* b is read by a libmicrohttpd response; freeing that response
	 * takes b out of the registry. */
	mr = ktd_sse_stream_response(b);
	assert_non_null(mr);
	ktd_sse_stream_unref(&r2.stream);
	assert_int_equal(ktd_sse_registry_close_all(f.reg), 2);
	drain(b, out, sizeof(out), sizeof(out) - 1);
	assert_string_equal(out, "retry: 3000\n\n");
	MHD_destroy_response(mr);
	assert_true(ktd_sse_stream_gone(b));
	/* No new stream once closing. */
	assert_null(ktd_http_sse_open(&f.req, &r3, &err));
	assert_non_null(strstr(err.msg, "stopping"));
	ktd_sse_stream_unref(&a);
	ktd_sse_stream_unref(&b);
	ktd_http_resp_deinit(&r2);
	ktd_http_resp_deinit(&r3);
	fixture_deinit(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_open_and_frames),
	        cmocka_unit_test(test_limit_and_abandon),
	        cmocka_unit_test(test_cut_when_too_far_behind),
	        cmocka_unit_test(test_end_and_close_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
