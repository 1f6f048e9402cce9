/* SPDX-License-Identifier: MPL-2.0 */
/* Server-Sent Events streams on libmicrohttpd callback responses, with
 * suspend/resume instead of a thread per client (WHATWG HTML, section
 * "Server-sent events"). */
#include "http/http_common.h"

#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "http/metrics.h"
#include "http/request.h"
#include "http/sse.h"

/* libmicrohttpd's advisory block size for the content reader. */
#define READ_BLOCK 4096

struct ktd_sse_stream {
	pthread_mutex_t mu;
	atomic_uint refs;
	struct ktd_sse_registry *reg;
	struct MHD_Connection *conn;
	char peer[64];

	/* Guarded by mu. The queue is q.data[head .. q.len). */
	struct ktd_buf q;
	size_t head;
	/* Set once libmicrohttpd reads the stream (its response exists). */
	bool attached;
	/* The content reader asked libmicrohttpd to suspend the connection
	 * and nobody has resumed it yet: whoever clears this resumes it, and
	 * only then, so that resume is never called twice or without a
	 * suspend (which libmicrohttpd does not allow). */
	bool suspended;
	/* End the response once the queue is empty. */
	bool ending;
	/* The client fell too far behind: close the connection now. */
	bool cut;
	/* The response is over; nothing will be read any more. */
	bool gone;

	/* In the registry's list (guarded by the registry's mutex). */
	struct ktd_sse_stream *prev, *next;
	bool listed;
};

struct ktd_sse_registry {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ktd_sse_stream *head;
	unsigned n, max;
	size_t buffer_max;
	uint64_t heartbeat_ms;
	bool closing;
	bool stop;
	pthread_t thread;
};

static void stream_free(struct ktd_sse_stream *s)
{
	ktd_buf_deinit(&s->q);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void ktd_sse_stream_ref(struct ktd_sse_stream *s)
{
	atomic_fetch_add(&s->refs, 1);
}

void ktd_sse_stream_unref(struct ktd_sse_stream **sp)
{
	struct ktd_sse_stream *s = *sp;

	if (!s)
		return;
	*sp = NULL;
	if (atomic_fetch_sub(&s->refs, 1) == 1)
		stream_free(s);
}

static void registry_remove(struct ktd_sse_registry *reg,
                            struct ktd_sse_stream *s)
{
	pthread_mutex_lock(&reg->mu);
	if (s->listed) {
		if (s->prev)
			s->prev->next = s->next;
		else
			reg->head = s->next;
		if (s->next)
			s->next->prev = s->prev;
		s->listed = false;
		reg->n--;
		ktd_metrics_sse_streams(-1);
	}
	pthread_mutex_unlock(&reg->mu);
}

/* Takes the resume duty under mu: returns the connection to resume (after
 * mu is released), or NULL. */
static struct MHD_Connection *take_resume(struct ktd_sse_stream *s)
{
	if (!s->suspended)
		return NULL;
	s->suspended = false;
	return s->conn;
}

/* Appends len bytes to the queue; cuts the stream when they do not fit.
 * Returns 0 or -1. Called with mu held. */
static int queue_add(struct ktd_sse_stream *s, const char *data, size_t len)
{
	if (s->gone || s->ending || s->cut)
		return -1;
	if (s->head > 0 && s->q.len + len > s->q.max) {
		memmove(s->q.data, s->q.data + s->head, s->q.len - s->head);
		s->q.len -= s->head;
		s->q.data[s->q.len] = '\0';
		s->head = 0;
	}
	if (ktd_buf_add(&s->q, data, len) == 0)
		return 0;
	s->cut = true;
	ktd_metrics_sse_cut();
	ktd_log_warnx("event=sse_cut peer=%s queued_bytes=%zu "
	              "msg=\"the client is too far behind; it may reconnect "
	              "with Last-Event-ID\"",
	              s->peer, s->q.len - s->head);
	return -1;
}

/* Queues text and wakes the connection if it sleeps. */
static int stream_push(struct ktd_sse_stream *s, const char *text, size_t len)
{
	struct MHD_Connection *resume;
	int r;

	pthread_mutex_lock(&s->mu);
	r = queue_add(s, text, len);
	/* A cut stream is woken too, to be closed. */
	resume = (r == 0 || s->cut) ? take_resume(s) : NULL;
	pthread_mutex_unlock(&s->mu);
	if (resume)
		MHD_resume_connection(resume);
	return r;
}

int ktd_sse_stream_event(struct ktd_sse_stream *s, int64_t id,
                         const char *event, const char *data, size_t len)
{
	struct ktd_buf b;
	const char *p = data, *end = data + len;
	char *text;
	size_t tlen;
	int r;

	/* The frame is made outside the stream's lock; its size is bounded
	 * by the queue's. */
	ktd_buf_init(&b, len + 256);
	if (id >= 0 && ktd_buf_printf(&b, "id: %" PRId64 "\n", id) < 0)
		goto cut;
	if (event && ktd_buf_printf(&b, "event: %s\n", event) < 0)
		goto cut;
	/* One data: line per line; a CR alone would end a line too. */
	do {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);

		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (ktd_buf_add_str(&b, "data: ") < 0 ||
		    ktd_buf_add(&b, p, n) < 0 || ktd_buf_add_str(&b, "\n") < 0)
			goto cut;
		p = nl ? nl + 1 : end;
	} while (p < end);
	if (ktd_buf_add_str(&b, "\n") < 0)
		goto cut;
	text = ktd_buf_steal(&b, &tlen);
	r = stream_push(s, text, tlen);
	free(text);
	return r;
cut:
	ktd_buf_deinit(&b);
	return -1;
}

int ktd_sse_stream_comment(struct ktd_sse_stream *s, const char *text)
{
	char line[128];
	int n = snprintf(line, sizeof(line), ": %s\n\n", text);

	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	return stream_push(s, line, (size_t)n);
}

void ktd_sse_stream_end(struct ktd_sse_stream *s)
{
	struct MHD_Connection *resume;

	pthread_mutex_lock(&s->mu);
	s->ending = true;
	resume = take_resume(s);
	pthread_mutex_unlock(&s->mu);
	if (resume)
		MHD_resume_connection(resume);
}

bool ktd_sse_stream_gone(struct ktd_sse_stream *s)
{
	bool gone;

	pthread_mutex_lock(&s->mu);
	gone = s->gone || s->cut;
	pthread_mutex_unlock(&s->mu);
	return gone;
}

const char *ktd_sse_stream_peer(const struct ktd_sse_stream *s)
{
	return s->peer;
}

/* libmicrohttpd asks for the next bytes, on the connection's thread. */
KTD_STATIC ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct ktd_sse_stream *s = cls;
	ssize_t ret;
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = s->q.len - s->head;
	if (s->cut) {
		ret = MHD_CONTENT_READER_END_WITH_ERROR;
	} else if (n > 0) {
		if (n > max)
			n = max;
		memcpy(buf, s->q.data + s->head, n);
		s->head += n;
		if (s->head == s->q.len) {
			s->head = 0;
			s->q.len = 0;
		}
		ret = (ssize_t)n;
	} else if (s->ending) {
		ret = MHD_CONTENT_READER_END_OF_STREAM;
	} else {
		/* Nothing to send: sleep until a push resumes us. The
		 * suspend happens under mu, so that whoever takes the
		 * resume duty resumes a connection that is suspended. (No
		 * deadlock against libmicrohttpd's own lock: of our
		 * callbacks only this one and stream_done take mu on
		 * libmicrohttpd's side, and both run on this connection's
		 * thread, never at once.) */
		s->suspended = true;
		MHD_suspend_connection(s->conn);
		ret = 0;
	}
	pthread_mutex_unlock(&s->mu);
	return ret;
}

/* libmicrohttpd is done with the response: the client went, the stream
 * ended or was cut, or the server stops. */
static void stream_done(void *cls)
{
	struct ktd_sse_stream *s = cls;

	pthread_mutex_lock(&s->mu);
	s->gone = true;
	s->suspended = false;
	pthread_mutex_unlock(&s->mu);
	registry_remove(s->reg, s);
	ktd_sse_stream_unref(&s);
}

struct MHD_Response *ktd_sse_stream_response(struct ktd_sse_stream *s)
{
	struct MHD_Response *r;

	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, READ_BLOCK,
	                                      stream_read, s, stream_done);
	if (!r)
		return NULL;
	ktd_sse_stream_ref(s);
	pthread_mutex_lock(&s->mu);
	s->attached = true;
	pthread_mutex_unlock(&s->mu);
	return r;
}

void ktd_sse_stream_abandon(struct ktd_sse_stream **sp)
{
	struct ktd_sse_stream *s = *sp;

	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	ktd_assert(!s->attached);
	s->gone = true;
	pthread_mutex_unlock(&s->mu);
	registry_remove(s->reg, s);
	ktd_sse_stream_unref(sp);
}

struct ktd_sse_stream *ktd_http_sse_open(struct ktd_http_req *req,
                                         struct ktd_http_resp *resp,
                                         struct ktd_error *err)
{
	struct ktd_sse_registry *reg = req->sse;
	struct ktd_sse_stream *s;
	char retry[32];

	if (!reg) {
		ktd_error_set(err, KTD_ERR_UNAVAILABLE,
		              "this server has no event streams");
		return NULL;
	}
	s = ktd_calloc(1, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	atomic_init(&s->refs, 1);
	s->reg = reg;
	s->conn = req->conn;
	ktd_strlcpy(s->peer, req->peer ? req->peer : "-", sizeof(s->peer));
	ktd_buf_init(&s->q, reg->buffer_max);

	pthread_mutex_lock(&reg->mu);
	if (reg->closing || reg->n >= reg->max) {
		bool closing = reg->closing;

		pthread_mutex_unlock(&reg->mu);
		stream_free(s);
		ktd_error_set(err, KTD_ERR_UNAVAILABLE,
		              closing ? "the server is stopping"
		                      : "too many event streams are open");
		return NULL;
	}
	s->next = reg->head;
	if (reg->head)
		reg->head->prev = s;
	reg->head = s;
	s->listed = true;
	reg->n++;
	ktd_metrics_sse_streams(1);
	pthread_mutex_unlock(&reg->mu);

	snprintf(retry, sizeof(retry), "retry: %u\n\n", KTD_SSE_RETRY_MS);
	(void)stream_push(s, retry, strlen(retry));

	ktd_http_resp_stream(resp, s);
	return s;
}

/* References to every attached stream, for work done without the
 * registry's lock (resuming a connection must not happen under it). */
static struct ktd_sse_stream **
registry_snapshot(struct ktd_sse_registry *reg, bool attached_only, size_t *n_r)
{
	struct ktd_sse_stream **all, *s;
	size_t n = 0;

	pthread_mutex_lock(&reg->mu);
	all = ktd_calloc(reg->n ? reg->n : 1, sizeof(*all));
	for (s = reg->head; s; s = s->next) {
		if (attached_only) {
			bool attached;

			pthread_mutex_lock(&s->mu);
			attached = s->attached;
			pthread_mutex_unlock(&s->mu);
			if (!attached)
				continue;
		}
		ktd_sse_stream_ref(s);
		all[n++] = s;
	}
	pthread_mutex_unlock(&reg->mu);
	*n_r = n;
	return all;
}

static void *heartbeat_run(void *arg)
{
	struct ktd_sse_registry *reg = arg;

	pthread_mutex_lock(&reg->mu);
	while (!reg->stop) {
		struct timespec until;
		struct ktd_sse_stream **all;
		size_t n, i;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += (time_t)(reg->heartbeat_ms / 1000);
		until.tv_nsec += (long)(reg->heartbeat_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!reg->stop &&
		       pthread_cond_timedwait(&reg->cv, &reg->mu, &until) !=
		               ETIMEDOUT)
			;
		if (reg->stop)
			break;
		pthread_mutex_unlock(&reg->mu);
		/* A write to a client that has gone fails, and its stream
		 * ends: this is also how a departed client is noticed. */
		all = registry_snapshot(reg, true, &n);
		for (i = 0; i < n; i++) {
			(void)ktd_sse_stream_comment(all[i], "heartbeat");
			ktd_sse_stream_unref(&all[i]);
		}
		free(all);
		pthread_mutex_lock(&reg->mu);
	}
	pthread_mutex_unlock(&reg->mu);
	return NULL;
}

struct ktd_sse_registry *ktd_sse_registry_create(unsigned max_streams,
                                                 size_t buffer_max,
                                                 uint64_t heartbeat_ms)
{
	struct ktd_sse_registry *reg = ktd_calloc(1, sizeof(*reg));
	pthread_condattr_t ca;
	int r;

	pthread_mutex_init(&reg->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&reg->cv, &ca);
	pthread_condattr_destroy(&ca);
	reg->max = max_streams;
	reg->buffer_max = buffer_max;
	reg->heartbeat_ms = heartbeat_ms ? heartbeat_ms : 15000;
	r = pthread_create(&reg->thread, NULL, heartbeat_run, reg);
	if (r != 0)
		ktd_panic("cannot start the SSE heartbeat thread: %s",
		          strerror(r));
	return reg;
}

unsigned ktd_sse_registry_close_all(struct ktd_sse_registry *reg)
{
	struct ktd_sse_stream **all;
	size_t n, i;

	pthread_mutex_lock(&reg->mu);
	reg->closing = true;
	pthread_mutex_unlock(&reg->mu);
	all = registry_snapshot(reg, false, &n);
	for (i = 0; i < n; i++) {
		ktd_sse_stream_end(all[i]);
		ktd_sse_stream_unref(&all[i]);
	}
	free(all);
	return (unsigned)n;
}

void ktd_sse_registry_destroy(struct ktd_sse_registry **regp)
{
	struct ktd_sse_registry *reg = *regp;

	if (!reg)
		return;
	pthread_mutex_lock(&reg->mu);
	reg->stop = true;
	pthread_cond_signal(&reg->cv);
	pthread_mutex_unlock(&reg->mu);
	pthread_join(reg->thread, NULL);
	ktd_assert(reg->n == 0);
	pthread_cond_destroy(&reg->cv);
	pthread_mutex_destroy(&reg->mu);
	free(reg);
	*regp = NULL;
}
