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
#include "db/pool.h"
#include "db/tx.h"
#include "db/db_case.h"
#include "db/db_mail.h"
#include "channels/ch_tls_crl.h"
#include "channels/mime/ch_mime.h"
#include "channels/imap/ch_imap.h"
#include "channels/imap/ch_imap_tls.h"

/* Messages taken per round, at most, all in one transaction with a
 * savepoint each. 64: a transaction's subtransactions beyond that no
 * longer fit the cache PostgreSQL keeps of them per backend
 * (PGPROC_MAX_CACHED_SUBXIDS), and every other session's snapshot would
 * get dearer while the round runs. A full round is followed by another at
 * once. */
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
/* Message-IDs of In-Reply-To and References looked at for threading. */
#define REPLY_IDS_MAX 20
/* The contacts table's limits (sql/003_cases.sql). */
#define FIELD_MAX 998
#define BODY_MAX 1048576

struct ch_imap {
	struct ch_imap_config cfg;
	/* The worker's own copies of cfg's mailbox and own addresses, so
	 * that a reload may drop the settings they came from. */
	struct ktd_mailbox *mb;
	char **own;
	struct db_pool_config db;
	char *password;
	struct ch_imap_tls *tls; /* NULL for tls = none */

	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stop;

	PGconn *pg;
	bool locked;
	mailimap *imap;
	bool imap_ok; /* connected, logged in, selected, no error since */
	bool has_idle;
	bool caught_up; /* the messages up to last_uid are marked */
	uint32_t uidvalidity;
};

static bool stopping(struct ch_imap *w)
{
	bool s;

	pthread_mutex_lock(&w->mu);
	s = w->stop;
	pthread_mutex_unlock(&w->mu);
	return s;
}

/* Waits ms or until stopped; returns whether stopped. */
static bool wait_ms(struct ch_imap *w, uint64_t ms)
{
	struct timespec until;
	bool s;

	/* The condition variable runs on CLOCK_MONOTONIC. */
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(ms / 1000);
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mu);
	while (!w->stop &&
	       pthread_cond_timedwait(&w->cond, &w->mu, &until) != ETIMEDOUT)
		;
	s = w->stop;
	pthread_mutex_unlock(&w->mu);
	return s;
}

static const char *quote(const char *s, char *out, size_t outsz)
{
	return ktd_log_quote(s ? s : "", out, outsz);
}

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

static void pg_close(struct ch_imap *w)
{
	if (w->pg)
		PQfinish(w->pg);
	w->pg = NULL;
	w->locked = false;
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
		              quote(err->msg, q, sizeof(q)));
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
	             quote(mb->folder, q, sizeof(q)),
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

/* One message of a round. */
struct mail {
	uint32_t uid;
	uint32_t size;
	bool too_big; /* only its header is fetched */
	char *raw;    /* NULL: gone from the folder */
	size_t len;
	bool refused;
	struct stored *st;
};

static int cmp_mail(const void *key, const void *elem)
{
	uint32_t uid = *(const uint32_t *)key;
	const struct mail *m = elem;

	return uid < m->uid ? -1 : uid > m->uid;
}

/* The messages of ms (ascending UIDs) whose too_big is header_only, in
 * one UID FETCH: whole, or only their headers. A message not in the
 * answer is gone (raw stays NULL). */
static int fetch_set(struct ch_imap *w, struct mail *ms, size_t n,
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
		struct mail *m;

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

/* The bare address of the first in a header's address list (a
 * "Name <a@b>" or "a@b, c@d" list) into out; "" if none. */
static void first_address(const char *list, char *out, size_t outsz)
{
	const char *a, *b, *end;
	size_t n;

	out[0] = '\0';
	if (!list)
		return;
	/* The first element: up to a comma outside of "<...>". */
	end = list + strcspn(list, ",<");
	if (*end == '<')
		end = strchr(end, '>') ? strchr(end, '>') : end;
	end += strcspn(end, ",");
	a = memchr(list, '<', (size_t)(end - list));
	b = a ? memchr(a, '>', (size_t)(end - a)) : NULL;
	if (a && b) {
		a++;
		n = (size_t)(b - a);
	} else {
		a = list;
		while (*a == ' ' || *a == '\t')
			a++;
		n = strcspn(a, ", \t");
	}
	if (n == 0 || n >= outsz)
		return;
	memcpy(out, a, n);
	out[n] = '\0';
}

/* s cut to at most max bytes on a UTF-8 boundary; a new string. */
static char *cut(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return ktd_strdup(s);
	return ktd_strndup(s, ktd_utf8_cut(s, max));
}

static bool own_address(const struct ch_imap *w, const char *addr)
{
	size_t i;

	for (i = 0; i < w->cfg.n_own_addresses; i++)
		if (strcasecmp(w->cfg.own_addresses[i], addr) == 0)
			return true;
	return false;
}

/* Whether the sender of m gets a receipt for the new case (RFC 3834);
 * *why_r says why not. */
static bool wants_receipt(const struct ch_imap *w,
                          const struct ch_mime_message *m, const char *from,
                          const char **why_r)
{
	if (!w->cfg.receipt_enabled || !w->cfg.receipt.from[0])
		*why_r = "disabled";
	else if (!from || !case_mail_address_valid(from))
		*why_r = "no_sender";
	else if (ch_mime_is_automatic(m, why_r))
		;
	else if (own_address(w, from))
		*why_r = "own_address";
	else
		return true;
	return false;
}

/* The external id of message m (UID uid): its Message-ID with the angle
 * brackets, else "NAME:UIDVALIDITY:UID". */
static void external_id(const struct ch_imap *w,
                        const struct ch_mime_message *m, uint32_t uid,
                        char ext[FIELD_MAX + 1])
{
	if (m->message_id && strlen(m->message_id) + 2 <= FIELD_MAX)
		snprintf(ext, FIELD_MAX + 1, "<%s>", m->message_id);
	else
		snprintf(ext, FIELD_MAX + 1, "%s:%" PRIu32 ":%" PRIu32,
		         w->cfg.mb->name, w->uidvalidity, uid);
}

/* The Message-IDs m answers, for threading: In-Reply-To, then References
 * newest first; new strings (caller frees each). Returns how many. */
static size_t reply_ids_make(const struct ch_mime_message *m,
                             char *ids[REPLY_IDS_MAX])
{
	size_t n = 0, i;

	if (m->in_reply_to && strlen(m->in_reply_to) + 2 <= FIELD_MAX)
		ids[n++] = ktd_strdup_printf("<%s>", m->in_reply_to);
	for (i = m->n_references; i > 0 && n < REPLY_IDS_MAX; i--)
		if (strlen(m->references[i - 1]) + 2 <= FIELD_MAX)
			ids[n++] =
			        ktd_strdup_printf("<%s>", m->references[i - 1]);
	return n;
}

/* The sender's address as intake takes it; NULL: none. */
static const char *sender_of(const struct ch_mime_message *m)
{
	if (m->from.addr && strlen(m->from.addr) <= 320)
		return m->from.addr;
	return NULL;
}

struct stored {
	struct intake_result out;
	bool receipt;
	const char *no_receipt;
};

/* The contact of one message, in the caller's transaction. refused: the
 * database refused the message as parsed (a value broke a rule): stored
 * again with that said instead of its text and without attachments, so
 * that no message blocks the mailbox and none is dropped. */
static int store(struct ch_imap *w, uint32_t uid, uint32_t size,
                 const char *raw, size_t len, bool too_big, const char *refused,
                 struct stored *st, struct ktd_error *err)
{
	const struct ktd_mailbox *mb = w->cfg.mb;
	struct ch_mime_message m;
	struct intake_contact in;
	struct db_mail_raw rm;
	char ext[FIELD_MAX + 1], raw_ref[128], to[FIELD_MAX + 1];
	char *reply_ids[REPLY_IDS_MAX], *subject = NULL, *body = NULL;
	const char *from = NULL;
	size_t n_ids = 0, i;
	int ret = -1, r;

	if (ch_mime_parse(raw, len, NULL, &m, err) < 0)
		return -1;
	external_id(w, &m, uid, ext);
	snprintf(raw_ref, sizeof(raw_ref), "imap:%s:%" PRIu32 ":%" PRIu32,
	         mb->name, w->uidvalidity, uid);
	n_ids = reply_ids_make(&m, reply_ids);
	first_address(m.to, to, sizeof(to));
	from = sender_of(&m);
	subject = cut(m.subject ? m.subject : "", FIELD_MAX);
	if (refused)
		body = ktd_strdup_printf(
		        "[Beskeden kunne ikke gemmes, som den var (%s); den "
		        "oprindelige besked er gemt uændret og ligger i "
		        "postkassen %s, UID %" PRIu32 ".]",
		        refused, mb->name, uid);
	else if (too_big)
		body = ktd_strdup_printf(
		        "[Beskeden var for stor til at blive hentet: %" PRIu32
		        " bytes, grænsen er %" PRIu64
		        " bytes (max_message_size). Kun brevhovedet er gemt; "
		        "selve beskeden ligger stadig i postkassen %s, UID "
		        "%" PRIu32 ".]",
		        size, mb->max_message_size, mb->name, uid);
	else if (m.partial)
		body = ktd_strdup_printf("[Beskeden kunne ikke læses helt: "
		                         "%s]\n\n%s",
		                         m.problem, m.text ? m.text : "");
	else
		body = ktd_strdup(m.text ? m.text : "");
	if (strlen(body) > BODY_MAX) {
		char *c = cut(body, BODY_MAX);

		free(body);
		body = c;
	}

	memset(&in, 0, sizeof(in));
	in.channel = "email";
	in.direction = "in";
	in.external_id = ext;
	in.occurred_at = m.date;
	in.from_addr = from;
	in.to_addr = to[0] ? to : NULL;
	in.subject = subject;
	in.body = body;
	in.raw_ref = raw_ref;
	in.subject_tag = w->cfg.subject_tag;
	in.reply_ids = (const char *const *)reply_ids;
	in.n_reply_ids = n_ids;
	in.automatic = ch_mime_is_automatic(&m, NULL);
	in.citizen_email = from && case_mail_address_valid(from) ? from : NULL;
	in.citizen_name = !refused && m.from.name &&
	                                  ktd_utf8_chars(m.from.name) <= 200 &&
	                                  !ktd_utf8_has_control(m.from.name)
	                          ? m.from.name
	                          : NULL;
	in.peer = mb->name;
	/* The database's own error, with its SQLSTATE, for
	 * refused_by_rules. */
	if (intake_submit_tx(w->pg, &in, &w->cfg.intake, &st->out, err) < 0)
		goto out;
	if (st->out.duplicate) {
		ret = 0;
		goto out;
	}
	memset(&rm, 0, sizeof(rm));
	rm.contact_id = st->out.contact_id;
	rm.mailbox = mb->name;
	rm.uidvalidity = w->uidvalidity;
	rm.uid = uid;
	rm.size = too_big ? size : len;
	rm.truncated = too_big;
	rm.data = raw;
	rm.len = len;
	if (db_mail_raw_insert(w->pg, &rm, err) < 0)
		goto out;
	for (i = 0; i < (refused ? 0 : m.n_attachments); i++) {
		const struct ch_mime_attachment *a = &m.attachments[i];
		/* attachments.filename holds 255 characters */
		char *fname = cut(a->filename, 255);

		r = db_mail_attachment_insert(w->pg, st->out.contact_id, fname,
		                              a->content_type, a->data, a->size,
		                              a->sha256, err);
		free(fname);
		if (r < 0)
			goto out;
	}
	if (st->out.new_case && wants_receipt(w, &m, from, &st->no_receipt)) {
		int64_t rid;

		r = db_mail_receipt_claim(w->pg, from,
		                          w->cfg.receipt_interval_s, err);
		if (r < 0)
			goto out;
		if (r == 0) {
			st->no_receipt = "interval";
		} else {
			if (case_receipt_queue(w->pg, st->out.case_id,
			                       &w->cfg.receipt, from, &rid,
			                       err) < 0)
				goto out;
			st->receipt = true;
		}
	}
	ret = 0;
out:
	for (i = 0; i < n_ids; i++)
		free(reply_ids[i]);
	free(subject);
	free(body);
	ch_mime_message_free(&m);
	return ret;
}

/* Whether err is the database refusing a value (a rule, an encoding, a
 * length) rather than the database being away. */
static bool refused_by_rules(struct ch_imap *w, const struct ktd_error *err)
{
	if (PQstatus(w->pg) != CONNECTION_OK)
		return false;
	return err->code == KTD_ERR_UNPROCESSABLE ||
	       strncmp(err->sqlstate, "22", 2) == 0 ||
	       strncmp(err->sqlstate, "23", 2) == 0;
}

/* The message m in the round's transaction, behind a savepoint: a
 * message the database refuses as parsed is undone alone and stored
 * again without its text; any other failure fails the round. */
static int ingest_one(struct ch_imap *w, struct mail *m, struct ktd_error *err)
{
	const struct ktd_mailbox *mb = w->cfg.mb;
	char why[KTD_ERROR_MSG_MAX], q[2 * KTD_ERROR_MSG_MAX + 8];
	struct ktd_error e2;

	if (db_tx_savepoint(w->pg, err) < 0)
		return -1;
	if (store(w, m->uid, m->size, m->raw, m->len, m->too_big, NULL, m->st,
	          err) == 0)
		return db_tx_release(w->pg, err);
	if (!refused_by_rules(w, err))
		return -1;
	memset(&e2, 0, sizeof(e2));
	if (db_tx_rollback_to(w->pg, &e2) < 0) {
		*err = e2;
		return -1;
	}
	/* Not the database's message: its DETAIL would show the row,
	 * personal data and all. */
	snprintf(why, sizeof(why), "databasen afviste en værdi, SQLSTATE %s",
	         err->sqlstate[0] ? err->sqlstate : "?");
	ktd_log_warnx("event=mail_refused mailbox=%s uid=%" PRIu32
	              " msg=%s action=\"stored without its text\"",
	              mb->name, m->uid, quote(why, q, sizeof(q)));
	memset(m->st, 0, sizeof(*m->st));
	memset(err, 0, sizeof(*err));
	m->refused = true;
	if (store(w, m->uid, m->size, m->raw, m->len, m->too_big, why, m->st,
	          err) < 0)
		return -1;
	return db_tx_release(w->pg, err);
}

static void log_ingested(struct ch_imap *w, const struct mail *m)
{
	const struct ktd_mailbox *mb = w->cfg.mb;
	const struct stored *st = m->st;

	if (!m->raw)
		ktd_log_info("event=mail_gone mailbox=%s uid=%" PRIu32,
		             mb->name, m->uid);
	else if (st->out.duplicate)
		ktd_log_info("event=mail_duplicate mailbox=%s uid=%" PRIu32
		             " contact=%" PRId64,
		             mb->name, m->uid, st->out.contact_id);
	else
		ktd_log_info("event=mail_ingested mailbox=%s uid=%" PRIu32
		             " contact=%" PRId64 " case=%s new_case=%s "
		             "size=%" PRIu32 " too_large=%s receipt=%s%s%s%s",
		             mb->name, m->uid, st->out.contact_id,
		             st->out.reference, st->out.new_case ? "yes" : "no",
		             m->size, m->too_big ? "yes" : "no",
		             st->receipt      ? "queued"
		             : st->no_receipt ? st->no_receipt
		                              : "no",
		             st->out.reopened ? " reopened=yes" : "",
		             st->out.follow_up_of[0] ? " follow_up_of=" : "",
		             st->out.follow_up_of);
}

/* The length of raw's header section, the blank line that ends it
 * included (all of raw when there is none). */
static size_t header_len(const char *raw, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++) {
		if (raw[i] != '\n')
			continue;
		if (raw[i + 1] == '\n')
			return i + 2;
		if (raw[i + 1] == '\r' && i + 2 < len && raw[i + 2] == '\n')
			return i + 3;
	}
	return len;
}

/* Takes the locks of the round's messages up front, in the round's
 * transaction, before any of them is stored: the advisory locks intake
 * takes for each (its Message-ID, its sender as a citizen) all at once in
 * the order of the locks' numbers, then the rows of the cases that the
 * messages' subject tags and In-Reply-To/References name, in id order.
 * Every round of every mailbox (and every kontaktd process) does this, so
 * two rounds with common senders or cases never hold one lock each that
 * the other waits for: the later one waits for the earlier one's commit
 * at its first common lock, holding nothing the earlier one needs. What
 * intake locks again per message is held already. (A case named by a
 * message only after these lookups, a case merged meanwhile say, is
 * still locked in message order; PostgreSQL's deadlock check and the
 * round's retry stay for that.) Only the headers are parsed here. */
static int lock_round(struct ch_imap *w, const struct mail *ms, size_t k,
                      struct ktd_error *err)
{
	char(*keys)[INTAKE_KEY_SIZE] = ktd_calloc(2 * k, sizeof(*keys));
	const char **kp = ktd_calloc(2 * k, sizeof(*kp));
	struct ch_mime_message *hs = ktd_calloc(k, sizeof(*hs));
	int64_t *ids = ktd_calloc(k, sizeof(*ids));
	char ext[FIELD_MAX + 1], *reply_ids[REPLY_IDS_MAX];
	struct intake_contact in;
	const char *from;
	size_t nk = 0, ni = 0, n_ids, i, j;
	int ret = -1, r;

	for (i = 0; i < k; i++) {
		if (!ms[i].raw)
			continue;
		if (ch_mime_parse(ms[i].raw, header_len(ms[i].raw, ms[i].len),
		                  NULL, &hs[i], err) < 0)
			goto out;
		external_id(w, &hs[i], ms[i].uid, ext);
		if (intake_key_external("email", ext, keys[nk]))
			kp[nk] = keys[nk], nk++;
		from = sender_of(&hs[i]);
		if (w->cfg.intake.thread_window_s > 0 && from &&
		    case_mail_address_valid(from) &&
		    intake_key_citizen("email", from, keys[nk]))
			kp[nk] = keys[nk], nk++;
	}
	if (db_case_lock_keys(w->pg, kp, nk, err) < 0)
		goto out;
	for (i = 0; i < k; i++) {
		if (!ms[i].raw)
			continue;
		memset(&in, 0, sizeof(in));
		in.subject = hs[i].subject;
		in.subject_tag = w->cfg.subject_tag;
		n_ids = reply_ids_make(&hs[i], reply_ids);
		in.reply_ids = (const char *const *)reply_ids;
		in.n_reply_ids = n_ids;
		r = intake_thread_mail(w->pg, &in, &ids[ni], err);
		for (j = 0; j < n_ids; j++)
			free(reply_ids[j]);
		if (r < 0)
			goto out;
		ni += (size_t)r;
	}
	if (db_case_lock_many(w->pg, ids, ni, err) < 0)
		goto out;
	ret = 0;
out:
	for (i = 0; i < k; i++)
		ch_mime_message_free(&hs[i]);
	free(ids);
	free(hs);
	free(kp);
	free(keys);
	return ret;
}

/* The messages of list, exactly once: fetched in one UID FETCH (their
 * sizes together at most BATCH_BYTES; the rest waits for the next round),
 * stored with the new last UID in one transaction, then marked with one
 * UID STORE or UID MOVE. *taken_r: how many of list. The transaction holds
 * the intake's locks (Message-ID, citizen, cases) of all its messages
 * until the commit; lock_round takes them first, in one global order, so
 * that two mailboxes whose rounds share senders do not deadlock. Should a
 * round still fail (PostgreSQL ending one as a deadlock, 40P01, or
 * anything else), it fails whole and comes again after the backoff, each
 * message still once. */
static int ingest_batch(struct ch_imap *w, const struct uid_size *list,
                        size_t n, size_t *taken_r, struct ktd_error *err)
{
	const struct ktd_mailbox *mb = w->cfg.mb;
	struct mail *ms;
	struct stored *sts;
	uint64_t bytes = 0;
	size_t k, i;
	int ret = -1;

	for (k = 0; k < n; k++) {
		uint64_t sz =
		        list[k].size > mb->max_message_size ? 0 : list[k].size;

		if (k > 0 && bytes + sz > BATCH_BYTES)
			break;
		bytes += sz;
	}
	*taken_r = k;
	ms = ktd_calloc(k, sizeof(*ms));
	sts = ktd_calloc(k, sizeof(*sts));
	for (i = 0; i < k; i++) {
		ms[i].uid = list[i].uid;
		ms[i].size = list[i].size;
		ms[i].too_big = list[i].size > mb->max_message_size;
		ms[i].st = &sts[i];
	}
	if (fetch_set(w, ms, k, false, err) < 0 ||
	    fetch_set(w, ms, k, true, err) < 0)
		goto out;
	if (db_tx_begin(w->pg, err) < 0)
		goto out;
	if (lock_round(w, ms, k, err) < 0)
		goto rollback;
	for (i = 0; i < k; i++)
		if (ms[i].raw && ingest_one(w, &ms[i], err) < 0)
			goto rollback;
	if (db_mail_state_set(w->pg, mb->name, w->uidvalidity, ms[k - 1].uid,
	                      err) < 0 ||
	    db_tx_commit(w->pg, err) < 0)
		goto rollback;
	for (i = 0; i < k; i++)
		log_ingested(w, &ms[i]);
	/* The round's UIDs are the folder's first ones above last_uid:
	 * from its first to its last there is no other message. */
	ret = mark_range(w, ms[0].uid, ms[k - 1].uid, err);
	goto out;
rollback:
	db_tx_rollback(w->pg);
out:
	for (i = 0; i < k; i++)
		free(ms[i].raw);
	free(ms);
	free(sts);
	return ret;
}

/* One round: the new messages, at most BATCH. Returns 1 when more wait,
 * 0 when none, -1. */
static int ingest_round(struct ch_imap *w, struct ktd_error *err)
{
	const struct ktd_mailbox *mb = w->cfg.mb;
	struct uid_size list[BATCH];
	uint32_t uv = 0, last = 0;
	size_t n = 0, taken = 0;
	bool more = false;
	int r;

	r = db_mail_state_get(w->pg, mb->name, &uv, &last, err);
	if (r < 0)
		return -1;
	if (r == 0 || uv != w->uidvalidity) {
		if (r == 1)
			/* The folder's UIDs start again: read it all anew;
			 * Message-IDs keep what was stored from coming
			 * twice. */
			ktd_log_warnx("event=imap_uidvalidity_changed "
			              "mailbox=%s old=%" PRIu32 " new=%" PRIu32
			              " msg=\"rescanning the folder\"",
			              mb->name, uv, w->uidvalidity);
		last = 0;
		if (db_mail_state_set(w->pg, mb->name, w->uidvalidity, 0, err) <
		    0)
			return -1;
	}
	if (!w->caught_up) {
		/* Once per connection: what was stored but not yet flagged
		 * or moved (kontaktd stopped between the commit and the
		 * flag) is flagged or moved now. */
		if (last > 0 && mark_range(w, 1, last, err) < 0)
			return -1;
		w->caught_up = true;
	}
	if (list_new(w, last, list, &n, &more, err) < 0)
		return -1;
	if (n == 0)
		return 0;
	if (ingest_batch(w, list, n, &taken, err) < 0)
		return -1;
	return more || taken < n;
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
	while (!stopping(w) && ktd_time_mono_ms() < until) {
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

/* One step of the worker: make sure of the connections and the lock,
 * take what is new, wait for more. -1: back off and reconnect. */
static int step(struct ch_imap *w, struct ktd_error *err)
{
	const struct ktd_mailbox *mb = w->cfg.mb;
	uint64_t retry;
	int r;

	if (w->pg && PQstatus(w->pg) != CONNECTION_OK)
		pg_close(w);
	if (!w->pg) {
		w->pg = db_connect(&w->db, err);
		if (!w->pg)
			return -1;
	}
	if (!w->locked) {
		r = db_mail_try_lock(w->pg, mb->name, err);
		if (r < 0)
			return -1;
		if (r == 0) {
			/* Another process works this mailbox. */
			imap_close(w);
			retry = mb->poll_interval_ms < LOCK_RETRY_MAX_MS
			                ? mb->poll_interval_ms
			                : LOCK_RETRY_MAX_MS;
			wait_ms(w, retry);
			return 0;
		}
		w->locked = true;
		ktd_log_info("event=mailbox_locked mailbox=%s", mb->name);
	}
	if (!w->imap && imap_connect(w, err) < 0)
		return -1;
	r = ingest_round(w, err);
	if (r < 0)
		return -1;
	if (r > 0 || stopping(w))
		return 0;
	if (w->has_idle)
		return idle_wait(w, err);
	/* NOOP lets the server tell of new mail; the next round asks. */
	wait_ms(w, mb->poll_interval_ms);
	return 0;
}

static void *run(void *arg)
{
	struct ch_imap *w = arg;
	uint64_t backoff = BACKOFF_FIRST_MS;
	struct ktd_error err;
	char q[2 * KTD_ERROR_MSG_MAX + 8];

	while (!stopping(w)) {
		memset(&err, 0, sizeof(err));
		if (step(w, &err) == 0) {
			backoff = BACKOFF_FIRST_MS;
			continue;
		}
		if (stopping(w))
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
		              quote(err.msg, q, sizeof(q)));
		imap_close(w);
		if (w->pg && PQstatus(w->pg) != CONNECTION_OK)
			pg_close(w);
		wait_ms(w, backoff);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
		                                       : backoff * 2;
	}
	imap_close(w);
	pg_close(w);
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
	r = pthread_create(&w->thread, NULL, run, w);
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
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
}

void ch_imap_stop(struct ch_imap **wp)
{
	struct ch_imap *w = *wp;

	if (!w)
		return;
	ch_imap_signal_stop(w);
	pthread_join(w->thread, NULL);
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
