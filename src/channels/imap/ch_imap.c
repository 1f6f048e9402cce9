/* SPDX-License-Identifier: MPL-2.0 */
/* The IMAP intake worker of one mailbox. */
#include "lib/lib_common.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libetpan/libetpan.h>
#include <sodium.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/timeutil.h"
#include "daemon/settings.h"
#include "channels/ch_tls_crl.h"
#include "channels/imap/ch_imap_int.h"
#include "channels/imap/ch_imap_tls.h"

/* Messages taken per round, at most, all in one transaction (with a
 * savepoint each when one is refused). 64: a transaction's
 * subtransactions beyond that no longer fit the cache PostgreSQL keeps of
 * them per backend (PGPROC_MAX_CACHED_SUBXIDS), and every other session's
 * snapshot would get dearer while the round runs. A full round is
 * followed by another at once. */
#define BATCH 64
/* Bytes fetched per round, at most (the RFC822.SIZE of the messages taken
 * whole); a larger message goes alone. libetpan holds the answer while
 * the round copies it: about twice this in memory. */
#define BATCH_BYTES (8u << 20)
/* UIDs looked at above last_uid before asking for all of them. */
#define LIST_WINDOW (4 * BATCH)
/* Seconds a network read or write may take before the connection counts
 * as gone. */
#define NET_TIMEOUT_S 30
/* The slice in which a waiting worker looks at its stop flag (ms). */
#define TICK_MS 250
/* Reconnect backoff (ms): doubles from the first to the cap. */
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 60000
/* How often a worker without the mailbox's lock tries for it, at most. */
#define LOCK_RETRY_MAX_MS 5000
/* The server's last answer text, for a log line (never has a secret: the
 * password goes out in LOGIN, the answer does not repeat it). */
static const char *imap_said(mailimap *imap)
{
	if (imap && imap->imap_response)
		return imap->imap_response;
	return "";
}

static void imap_close(struct ch_imap *w)
{
	if (!w->imap)
		return;
	/* LOGOUT only on a connection that works: libetpan does not survive
	 * it on one that never connected. */
	if (w->imap->imap_stream && w->imap_ok)
		mailimap_logout(w->imap);
	mailimap_free(w->imap);
	w->imap_ok = false;
	w->imap = NULL;
}

static int imap_fail(struct ch_imap *w, const char *what, int r,
                     struct ktd_error *err)
{
	w->imap_ok = false;
	return ktd_error_set(err, KTD_ERR_UNAVAILABLE, "%s failed (%d): %s",
	                     what, r, imap_said(w->imap));
}

/* Names the server for TLS (SNI), so that a server with several names
 * shows the certificate of this one; not an address (RFC 6066 section 3
 * allows only DNS names). */
static void tls_setup(struct mailstream_ssl_context *ctx, void *data)
{
	struct ch_imap *w = data;

	if (!ch_imap_tls_host_is_ip(w->cfg.mb->host))
		mailstream_ssl_set_server_name(ctx, w->cfg.mb->host);
}

/* The server must prove who it is before the password goes out in LOGIN:
 * libetpan's TLS (GnuTLS) takes any certificate, so it is checked here
 * (ch_imap_tls.h). A failure is logged as such and ends the attempt; the
 * worker retries with its backoff. */
static int check_certificate(struct ch_imap *w, const char **trust_r,
                             struct ktd_error *err)
{
	enum ch_imap_tls_trust trust;
	char q[2 * KTD_ERROR_MSG_MAX + 8];

	w->imap_ok = false;
	if (ch_imap_tls_verify(w->tls, w->imap->imap_stream, &trust, err) < 0) {
		ktd_log_warnx("event=imap_tls_failed mailbox=%s host=%s "
		              "port=%" PRIu32 " reason=%s action=\"not "
		              "logging in\"",
		              w->cfg.mb->name, w->cfg.mb->host, w->cfg.mb->port,
		              ch_imap_quote(err->msg, q, sizeof(q)));
		ktd_error_prefix(err, "TLS: not logging in");
		return -1;
	}
	*trust_r = trust == CH_IMAP_TLS_PINNED ? "pinned" : "verified";
	return 0;
}

/* Commands go out at once: libetpan writes one in several pieces, and
 * Nagle's algorithm would hold each piece back for the ACK of the one
 * before it. */
static void nodelay(struct ch_imap *w)
{
	int one = 1, fd;

	if (!w->imap->imap_stream)
		return;
	fd = mailstream_low_get_fd(mailstream_get_low(w->imap->imap_stream));
	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		                 sizeof(one));
}

static int imap_connect(struct ch_imap *w, struct ktd_error *err)
{
	const struct ktd_mailbox *mb = w->cfg.mb;
	struct mailimap_capability_data *cap = NULL;
	const char *trust = "none";
	char q[600];
	int r;

	w->imap = mailimap_new(0, NULL);
	if (!w->imap)
		return ktd_error_set(err, KTD_ERR_INTERNAL, "out of memory");
	mailimap_set_timeout(w->imap, NET_TIMEOUT_S);
	if (mb->tls == KTD_MAILBOX_TLS)
		r = mailimap_ssl_connect_with_callback(
		        w->imap, mb->host, (uint16_t)mb->port, tls_setup, w);
	else
		r = mailimap_socket_connect(w->imap, mb->host,
		                            (uint16_t)mb->port);
	if (r != MAILIMAP_NO_ERROR_AUTHENTICATED &&
	    r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED)
		return imap_fail(w, "connect", r, err);
	nodelay(w);
	if (mb->tls == KTD_MAILBOX_STARTTLS) {
		r = mailimap_socket_starttls_with_callback(w->imap, tls_setup,
		                                           w);
		if (r != MAILIMAP_NO_ERROR)
			return imap_fail(w, "STARTTLS", r, err);
	}
	if (mb->tls != KTD_MAILBOX_NONE &&
	    check_certificate(w, &trust, err) < 0)
		return -1;
	r = mailimap_login(w->imap, mb->user, w->password);
	if (r != MAILIMAP_NO_ERROR)
		return imap_fail(w, "LOGIN", r, err);
	r = mailimap_capability(w->imap, &cap);
	if (r != MAILIMAP_NO_ERROR)
		return imap_fail(w, "CAPABILITY", r, err);
	mailimap_capability_data_free(cap);
	w->has_idle = mailimap_has_idle(w->imap) != 0;
	r = mailimap_select(w->imap, mb->folder);
	if (r != MAILIMAP_NO_ERROR)
		return imap_fail(w, "SELECT", r, err);
	if (!w->imap->imap_selection_info)
		return ktd_error_set(err, KTD_ERR_UNAVAILABLE,
		                     "SELECT gave no UIDVALIDITY");
	w->uidvalidity = w->imap->imap_selection_info->sel_uidvalidity;
	w->imap_ok = true;
	w->caught_up = false;
	ktd_log_info("event=imap_connected mailbox=%s host=%s port=%" PRIu32
	             " folder=%s idle=%s uidvalidity=%" PRIu32 " tls=%s",
	             mb->name, mb->host, mb->port,
	             ch_imap_quote(mb->folder, q, sizeof(q)),
	             w->has_idle ? "yes" : "no", w->uidvalidity, trust);
	return 0;
}

struct uid_size {
	uint32_t uid;
	uint32_t size;
};

static int cmp_uid(const void *a, const void *b)
{
	const struct uid_size *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* Adds the UIDs of from:to (to 0: "*") with their sizes to all[*n_r],
 * up to max; only UIDs from on ("N:*" names the last message even when N
 * is above it). */
static int list_range(struct ch_imap *w, uint32_t from, uint32_t to,
                      struct uid_size *all, size_t max, size_t *n_r,
                      struct ktd_error *err)
{
	struct mailimap_set *set;
	struct mailimap_fetch_type *ft;
	clist *list = NULL;
	clistiter *it, *ia;
	int r;

	set = mailimap_set_new_interval(from, to);
	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	mailimap_fetch_type_new_fetch_att_list_add(
	        ft, mailimap_fetch_att_new_uid());
	mailimap_fetch_type_new_fetch_att_list_add(
	        ft, mailimap_fetch_att_new_rfc822_size());
	r = mailimap_uid_fetch(w->imap, set, ft, &list);
	mailimap_fetch_type_free(ft);
	mailimap_set_free(set);
	if (r != MAILIMAP_NO_ERROR)
		return imap_fail(w, "UID FETCH (sizes)", r, err);
	for (it = clist_begin(list); it; it = clist_next(it)) {
		struct mailimap_msg_att *ma = clist_content(it);
		struct uid_size us = {0, 0};

		for (ia = clist_begin(ma->att_list); ia; ia = clist_next(ia)) {
			struct mailimap_msg_att_item *item = clist_content(ia);

			if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
				continue;
			if (item->att_data.att_static->att_type ==
			    MAILIMAP_MSG_ATT_UID)
				us.uid = item->att_data.att_static->att_data
				                 .att_uid;
			else if (item->att_data.att_static->att_type ==
			         MAILIMAP_MSG_ATT_RFC822_SIZE)
				us.size = item->att_data.att_static->att_data
				                  .att_rfc822_size;
		}
		if (us.uid >= from && (to == 0 || us.uid <= to) && *n_r < max)
			all[(*n_r)++] = us;
	}
	mailimap_fetch_list_free(list);
	return 0;
}

/* The UIDs above last_uid with their sizes, at most BATCH, ascending;
 * *more_r: there are more than BATCH. A window of UIDs first, so that a
 * full folder is not listed whole in every round. */
static int list_new(struct ch_imap *w, uint32_t last_uid, struct uid_size *out,
                    size_t *n_r, bool *more_r, struct ktd_error *err)
{
	struct uid_size all[LIST_WINDOW * 2];
	uint32_t hi = last_uid <= UINT32_MAX - LIST_WINDOW
	                      ? last_uid + LIST_WINDOW
	                      : 0;
	size_t n = 0;

	if (list_range(w, last_uid + 1, hi, all, KTD_N_ELEMENTS(all), &n, err) <
	    0)
		return -1;
	if (n < BATCH && hi != 0 &&
	    list_range(w, hi + 1, 0, all, KTD_N_ELEMENTS(all), &n, err) < 0)
		return -1;
	qsort(all, n, sizeof(all[0]), cmp_uid);
	*more_r = n > BATCH;
	if (n > BATCH)
		n = BATCH;
	memcpy(out, all, n * sizeof(all[0]));
	*n_r = n;
	return 0;
}

static int cmp_mail(const void *key, const void *elem)
{
	uint32_t uid = *(const uint32_t *)key;
	const struct ch_imap_mail *m = elem;

	return uid < m->uid ? -1 : uid > m->uid;
}

/* The messages of ms (ascending UIDs) whose too_big is header_only, in
 * one UID FETCH: whole, or only their headers. A message not in the
 * answer is gone (raw stays NULL). */
static int fetch_set(struct ch_imap *w, struct ch_imap_mail *ms, size_t n,
                     bool header_only, struct ktd_error *err)
{
	struct mailimap_set *set = mailimap_set_new_empty();
	struct mailimap_fetch_type *ft;
	struct mailimap_section *sec;
	clist *list = NULL;
	clistiter *it, *ia;
	size_t i, k = 0;
	int r;

	for (i = 0; i < n; i++)
		if (ms[i].too_big == header_only) {
			mailimap_set_add_single(set, ms[i].uid);
			k++;
		}
	if (k == 0) {
		mailimap_set_free(set);
		return 0;
	}
	sec = header_only ? mailimap_section_new_header()
	                  : mailimap_section_new(NULL);
	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	mailimap_fetch_type_new_fetch_att_list_add(
	        ft, mailimap_fetch_att_new_uid());
	mailimap_fetch_type_new_fetch_att_list_add(
	        ft, mailimap_fetch_att_new_body_peek_section(sec));
	r = mailimap_uid_fetch(w->imap, set, ft, &list);
	mailimap_fetch_type_free(ft);
	mailimap_set_free(set);
	if (r != MAILIMAP_NO_ERROR)
		return imap_fail(w, "UID FETCH (body)", r, err);
	for (it = clist_begin(list); it; it = clist_next(it)) {
		struct mailimap_msg_att *ma = clist_content(it);
		uint32_t got_uid = 0;
		const char *body = NULL;
		size_t blen = 0;
		struct ch_imap_mail *m;

		for (ia = clist_begin(ma->att_list); ia; ia = clist_next(ia)) {
			struct mailimap_msg_att_item *item = clist_content(ia);
			struct mailimap_msg_att_static *st;

			if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
				continue;
			st = item->att_data.att_static;
			if (st->att_type == MAILIMAP_MSG_ATT_UID)
				got_uid = st->att_data.att_uid;
			else if (st->att_type ==
			                 MAILIMAP_MSG_ATT_BODY_SECTION &&
			         st->att_data.att_body_section->sec_body_part) {
				body = st->att_data.att_body_section
				               ->sec_body_part;
				blen = st->att_data.att_body_section
				               ->sec_length;
			}
		}
		m = bsearch(&got_uid, ms, n, sizeof(ms[0]), cmp_mail);
		if (!m || !body || m->raw || m->too_big != header_only)
			continue;
		m->raw = ktd_malloc(blen + 1);
		memcpy(m->raw, body, blen);
		m->raw[blen] = '\0';
		m->len = blen;
	}
	mailimap_fetch_list_free(list);
	return 0;
}

/* After the commit: \Seen, or moved to after's folder. */
static int mark_range(struct ch_imap *w, uint32_t first, uint32_t last,
                      struct ktd_error *err)
{
	struct mailimap_set *set = mailimap_set_new_interval(first, last);
	int r;

	if (w->cfg.mb->move_to) {
		r = mailimap_uid_move(w->imap, set, w->cfg.mb->move_to);
	} else {
		struct mailimap_flag_list *fl = mailimap_flag_list_new_empty();
		struct mailimap_store_att_flags *sf;

		mailimap_flag_list_add(fl, mailimap_flag_new_seen());
		sf = mailimap_store_att_flags_new_add_flags_silent(fl);
		r = mailimap_uid_store(w->imap, set, sf);
		mailimap_store_att_flags_free(sf);
	}
	mailimap_set_free(set);
	if (r != MAILIMAP_NO_ERROR)
		return imap_fail(w,
		                 w->cfg.mb->move_to ? "UID MOVE" : "UID STORE",
		                 r, err);
	return 0;
}

/* The messages of list taken in one round (their sizes together at most
 * BATCH_BYTES; the rest waits for the next round), fetched in one UID
 * FETCH and taken apart for the database side; *taken_r: how many. */
static int round_make(struct ch_imap *w, const struct uid_size *list, size_t n,
                      size_t *taken_r, struct ch_imap_round **rd_r,
                      struct ktd_error *err)
{
	const struct ktd_mailbox *mb = w->cfg.mb;
	struct ch_imap_round *rd;
	uint64_t bytes = 0;
	size_t k, i;

	for (k = 0; k < n; k++) {
		uint64_t sz =
		        list[k].size > mb->max_message_size ? 0 : list[k].size;

		if (k > 0 && bytes + sz > BATCH_BYTES)
			break;
		bytes += sz;
	}
	rd = ktd_calloc(1, sizeof(*rd));
	rd->gen = w->round_gen;
	rd->uidvalidity = w->uidvalidity;
	rd->after = w->fetched;
	rd->ms = ktd_calloc(k, sizeof(*rd->ms));
	rd->n = k;
	for (i = 0; i < k; i++) {
		rd->ms[i].uid = list[i].uid;
		rd->ms[i].size = list[i].size;
		rd->ms[i].too_big = list[i].size > mb->max_message_size;
	}
	if (fetch_set(w, rd->ms, k, false, err) < 0 ||
	    fetch_set(w, rd->ms, k, true, err) < 0)
		goto fail;
	for (i = 0; i < k; i++)
		if (rd->ms[i].raw && ch_imap_mail_prepare(w, w->uidvalidity,
		                                          &rd->ms[i], err) < 0)
			goto fail;
	*taken_r = k;
	*rd_r = rd;
	return 0;
fail:
	ch_imap_round_free(&rd);
	return -1;
}

/* Flags or moves what the database side has committed since the last
 * time. The rounds' UIDs are the folder's first ones above the round
 * before: from the first unmarked to the last committed there is no
 * other message. */
static int mark_committed(struct ch_imap *w, uint32_t uidvalidity,
                          uint32_t last, struct ktd_error *err)
{
	if (uidvalidity != w->uidvalidity || last <= w->marked)
		return 0;
	if (mark_range(w, w->marked + 1, last, err) < 0)
		return -1;
	w->marked = last;
	return 0;
}

/* Once per connection, and after the database side failed: the
 * committed position, where the rounds start again; what was stored but
 * not yet flagged or moved (kontaktd stopped between the commit and the
 * flag) is flagged or moved now. */
static int catch_up(struct ch_imap *w, struct ktd_error *err)
{
	uint32_t last = 0;

	if (ch_imap_db_state(w, w->uidvalidity, &last, &w->round_gen, err) < 0)
		return -1;
	if (last > 0 && mark_range(w, 1, last, err) < 0)
		return -1;
	w->fetched = last;
	w->marked = last;
	w->caught_up = true;
	return 0;
}

/* One round: the next new messages, at most BATCH, fetched while the
 * database side stores the round before; handed over once it has taken
 * that one, so that no more than one round waits. Returns 1 when more
 * wait, 0 when none, -1. */
static int ingest_round(struct ch_imap *w, struct ktd_error *err)
{
	struct uid_size list[BATCH];
	struct ch_imap_round *rd = NULL;
	uint32_t uv = 0, last = 0;
	size_t n = 0, taken = 0;
	bool more = false;

	if (!w->caught_up && catch_up(w, err) < 0)
		return -1;
	if (ch_imap_db_wait(w, false, &uv, &last, err) < 0 ||
	    mark_committed(w, uv, last, err) < 0)
		return -1;
	if (list_new(w, w->fetched, list, &n, &more, err) < 0)
		return -1;
	if (n == 0)
		return 0;
	if (round_make(w, list, n, &taken, &rd, err) < 0)
		return -1;
	w->fetched = rd->ms[taken - 1].uid;
	ch_imap_db_push(w, rd);
	return more || taken < n;
}

/* Nothing new: what was handed over is stored and marked before the
 * worker waits for more. */
static int drain(struct ch_imap *w, struct ktd_error *err)
{
	uint32_t uv = 0, last = 0;

	if (ch_imap_db_wait(w, true, &uv, &last, err) < 0)
		return -1;
	return mark_committed(w, uv, last, err);
}

/* Waits in IDLE until the server says something, poll_interval passes
 * or the worker is stopped. */
static int idle_wait(struct ch_imap *w, struct ktd_error *err)
{
	uint64_t until = ktd_time_mono_ms() + w->cfg.mb->poll_interval_ms;
	struct pollfd pfd;
	int r;

	r = mailimap_idle(w->imap);
	if (r != MAILIMAP_NO_ERROR)
		return imap_fail(w, "IDLE", r, err);
	pfd.fd = mailimap_idle_get_fd(w->imap);
	pfd.events = POLLIN;
	while (!ch_imap_stopping(w) && ktd_time_mono_ms() < until) {
		if (w->imap->imap_stream->read_buffer_len > 0)
			break;
		pfd.revents = 0;
		r = poll(&pfd, 1, TICK_MS);
		if (r > 0)
			break;
		if (r < 0 && errno != EINTR)
			break;
	}
	r = mailimap_idle_done(w->imap);
	if (r != MAILIMAP_NO_ERROR)
		return imap_fail(w, "IDLE DONE", r, err);
	return 0;
}

/* One step of the worker: make sure of the connection and the database
 * side's lock, take what is new, wait for more. -1: back off and
 * reconnect. */
static int step(struct ch_imap *w, struct ktd_error *err)
{
	const struct ktd_mailbox *mb = w->cfg.mb;
	uint64_t retry = mb->poll_interval_ms < LOCK_RETRY_MAX_MS
	                         ? mb->poll_interval_ms
	                         : LOCK_RETRY_MAX_MS;
	int r;

	r = ch_imap_db_wait_locked(w, retry, err);
	if (r < 0)
		return -1;
	if (r == 0) {
		/* Another process works this mailbox. */
		imap_close(w);
		return 0;
	}
	if (!w->imap && imap_connect(w, err) < 0)
		return -1;
	r = ingest_round(w, err);
	if (r < 0)
		return -1;
	if (r > 0 || ch_imap_stopping(w))
		return 0;
	if (drain(w, err) < 0)
		return -1;
	if (w->has_idle)
		return idle_wait(w, err);
	/* NOOP lets the server tell of new mail; the next round asks. */
	ch_imap_wait_ms(w, mb->poll_interval_ms);
	return 0;
}

static void *run(void *arg)
{
	struct ch_imap *w = arg;
	uint64_t backoff = BACKOFF_FIRST_MS;
	struct ktd_error err;
	uint32_t uv, last;
	char q[2 * KTD_ERROR_MSG_MAX + 8];

	while (!ch_imap_stopping(w)) {
		memset(&err, 0, sizeof(err));
		if (step(w, &err) == 0) {
			backoff = BACKOFF_FIRST_MS;
			continue;
		}
		if (ch_imap_stopping(w))
			break;
		/* A refused row's message shows the row (DETAIL): only
		 * its SQLSTATE is logged. */
		if (strncmp(err.sqlstate, "22", 2) == 0 ||
		    strncmp(err.sqlstate, "23", 2) == 0)
			snprintf(err.msg, sizeof(err.msg),
			         "the database refused a value (SQLSTATE %s)",
			         err.sqlstate);
		ktd_log_warnx("event=imap_error mailbox=%s retry_ms=%" PRIu64
		              " msg=%s",
		              w->cfg.mb->name, backoff,
		              ch_imap_quote(err.msg, q, sizeof(q)));
		imap_close(w);
		ch_imap_wait_ms(w, backoff);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
		                                       : backoff * 2;
	}
	/* The round the database side committed last is marked before
	 * logging out (else the next connection's catch_up does it). */
	ch_imap_db_wait_exited(w, &uv, &last);
	memset(&err, 0, sizeof(err));
	if (w->imap_ok && w->caught_up)
		(void)mark_committed(w, uv, last, &err);
	imap_close(w);
	return NULL;
}

static char *read_password(const char *path, struct ktd_error *err)
{
	char buf[1024];
	FILE *fp = fopen(path, "r");
	char *p = NULL;

	if (!fp) {
		ktd_error_set(err, KTD_ERR_CONFIG, "%s: cannot open: %s", path,
		              strerror(errno));
		return NULL;
	}
	if (fgets(buf, sizeof(buf), fp)) {
		buf[strcspn(buf, "\r\n")] = '\0';
		if (buf[0])
			p = ktd_strdup(buf);
	}
	fclose(fp);
	sodium_memzero(buf, sizeof(buf));
	if (!p)
		ktd_error_set(err, KTD_ERR_CONFIG, "%s: no password in it",
		              path);
	return p;
}

static bool host_is_loopback(const char *h)
{
	return strcmp(h, "localhost") == 0 || strcmp(h, "::1") == 0 ||
	       ktd_str_has_prefix(h, "127.");
}

static void own_free(struct ch_imap *w)
{
	size_t i;

	for (i = 0; w->own && w->own[i]; i++)
		free(w->own[i]);
	free(w->own);
	w->own = NULL;
	ktd_mailbox_free(&w->mb);
}

/* The database side first: the IMAP side waits for it to end. 0 or an
 * errno. */
static int start_threads(struct ch_imap *w)
{
	int r;

	r = pthread_create(&w->db_thread, NULL, ch_imap_db_run, w);
	if (r != 0)
		return r;
	r = pthread_create(&w->thread, NULL, run, w);
	if (r != 0) {
		ch_imap_signal_stop(w);
		pthread_join(w->db_thread, NULL);
	}
	return r;
}

struct ch_imap *ch_imap_start(const struct ch_imap_config *cfg,
                              struct ktd_error *err)
{
	struct ch_imap *w;
	pthread_condattr_t ca;
	char *password;
	size_t i;
	int r;

	password = read_password(cfg->mb->password_file, err);
	if (!password) {
		ktd_error_prefix(err,
		                 "[mailbox:%s] password_file: ", cfg->mb->name);
		return NULL;
	}
	if (cfg->mb->tls_fingerprint[0] && cfg->mb->ca_file[0])
		ktd_log_warnx("event=imap_ca_file_unused mailbox=%s "
		              "msg=\"tls_fingerprint is set: the pin replaces "
		              "the check against ca_file\"",
		              cfg->mb->name);
	if (cfg->mb->tls_fingerprint[0] && cfg->mb->crl_file[0])
		ktd_log_warnx("event=imap_crl_file_unused mailbox=%s "
		              "msg=\"tls_fingerprint is set: a pinned "
		              "certificate is not checked against CAs or "
		              "their CRLs\"",
		              cfg->mb->name);
	if (cfg->mb->tls == KTD_MAILBOX_NONE &&
	    !host_is_loopback(cfg->mb->host))
		ktd_log_warnx(
		        "event=imap_without_tls mailbox=%s host=%s "
		        "msg=\"the password and the mail cross the network "
		        "unencrypted\"",
		        cfg->mb->name, cfg->mb->host);
	/* Read again at each connection (ch_imap_tls_verify), so that a
	 * CRL file the operator renews counts from the next one; here only
	 * whether it can be used at all. */
	if (cfg->mb->crl_file[0] &&
	    ch_tls_crl_check(cfg->mb->crl_file, err) < 0) {
		ktd_error_prefix(err, "[mailbox:%s] crl_file", cfg->mb->name);
		sodium_memzero(password, strlen(password));
		free(password);
		return NULL;
	}
	w = ktd_calloc(1, sizeof(*w));
	w->cfg = *cfg;
	w->mb = ktd_mailbox_dup(cfg->mb);
	w->cfg.mb = w->mb;
	w->own = ktd_calloc(cfg->n_own_addresses + 1, sizeof(*w->own));
	for (i = 0; i < cfg->n_own_addresses; i++)
		w->own[i] = ktd_strdup(cfg->own_addresses[i]);
	w->cfg.own_addresses = (const char *const *)w->own;
	if (w->mb->tls != KTD_MAILBOX_NONE) {
		w->tls = ch_imap_tls_create(w->mb, err);
		if (!w->tls) {
			ktd_error_prefix(err, "[mailbox:%s] %s", cfg->mb->name,
			                 cfg->mb->ca_file[0] ? "ca_file"
			                                     : "TLS");
			sodium_memzero(password, strlen(password));
			free(password);
			own_free(w);
			free(w);
			return NULL;
		}
	}
	w->db = *cfg->db;
	w->password = password;
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	r = start_threads(w);
	if (r != 0) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->mu);
		sodium_memzero(w->password, strlen(w->password));
		free(w->password);
		ch_imap_tls_destroy(&w->tls);
		own_free(w);
		free(w);
		ktd_error_set(err, KTD_ERR_INTERNAL,
		              "cannot start the thread of mailbox %s: %s",
		              cfg->mb->name, strerror(r));
		return NULL;
	}
	return w;
}

void ch_imap_signal_stop(struct ch_imap *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mu);
}

void ch_imap_stop(struct ch_imap **wp)
{
	struct ch_imap *w = *wp;

	if (!w)
		return;
	ch_imap_signal_stop(w);
	pthread_join(w->thread, NULL);
	pthread_join(w->db_thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->mu);
	sodium_memzero(w->password, strlen(w->password));
	free(w->password);
	ch_imap_tls_destroy(&w->tls);
	own_free(w);
	free(w);
	*wp = NULL;
}

const struct ktd_mailbox *ch_imap_mailbox(const struct ch_imap *w)
{
	return w->mb;
}
