/* SPDX-License-Identifier: MPL-2.0 */
/* The mail worker: outbox rows → libESMTP → the relay (RFC 5321, RFC 3207
 * STARTTLS, RFC 4954 AUTH). */
#include "lib/lib_common.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* <openssl/ssl.h> first: libesmtp.h declares smtp_starttls_set_ctx only
 * after it. */
#include <openssl/ssl.h>
#include <auth-client.h>
#include <libesmtp.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/timeutil.h"
#include "db/db_outbox.h"
#include "db/pool.h"
#include "db/result.h"
#include "channels/ch_tls_crl.h"
#include "channels/smtp/ch_smtp.h"
#include "channels/smtp/ch_smtp_msg.h"

/* Rows sent in one SMTP session. A few, so that one session (and the
 * lease of its rows) stays short. */
#define BATCH 5
/* The lease of a claimed row: long enough for a whole session of BATCH
 * messages in which every step takes the full timeout. */
#define LEASE_STEPS (4 + 2 * BATCH)
/* Between two attempts to reach the database, while it is away. */
#define DB_RETRY_MS 2000
/* Room for an SMTP error as stored and logged. */
#define ERROR_MAX 768

struct ch_smtp {
	struct ch_smtp_config cfg;
	pthread_t thread;
	int wake[2]; /* a byte in wake[1] ends waits: stop */
	atomic_bool stop;
	char server[300]; /* "host:port" */
	/* The TLS context of every session (STARTTLS), owned here. Without
	 * one, libESMTP 1.1 makes a process-wide context that each session
	 * frees when it ends, and the next session uses it after free. */
	SSL_CTX *tls;
	/* The crl_file the context holds, as it was when read: a change
	 * (an operator renewing it) makes a new context before the next
	 * session. */
	struct stat crl_st;
	PGconn *pg; /* the worker's own connection; NULL while away */
	/* The last line the relay sent in the current session, for errors
	 * that end a session without a status (a refused AUTH). Only what
	 * the relay reads is kept, never what kontaktd writes. */
	char last_reply[160];
	/* Why libESMTP ended the session, from its events (TLS); may point
	 * to why_buf. */
	const char *why_event;
	char why_buf[400];
	/* When the current session's TLS handshake began (tls_info). */
	uint64_t handshake_start_ms;
	bool db_down_logged;
};

/* One message of a session. */
struct item {
	int64_t id, contact_id, case_id;
	unsigned attempts;
	bool receipt;
	char from[256], to[256]; /* the envelope */
	char *text; /* the whole message; NULL when it could not be built */
	char error[ERROR_MAX];
	smtp_message_t msg;
	smtp_recipient_t rcpt;
};

uint64_t ch_smtp_backoff_s(uint64_t retry_after_ms, unsigned attempts)
{
	uint64_t s = (retry_after_ms + 999) / 1000, cap;

	if (s == 0)
		s = 1;
	cap = s > CH_SMTP_BACKOFF_MAX_S ? s : CH_SMTP_BACKOFF_MAX_S;
	while (attempts > 1 && s < cap) {
		s *= 2;
		attempts--;
	}
	return s < cap ? s : cap;
}

/* Waits up to ms for the wake pipe or, when pg is set, a NOTIFY. */
static void wait_for_work(struct ch_smtp *w, uint64_t ms)
{
	struct pollfd pfd[2];
	nfds_t n = 1;
	PGnotify *nt;
	char drain[16];

	pfd[0].fd = w->wake[0];
	pfd[0].events = POLLIN;
	if (w->pg && PQsocket(w->pg) >= 0) {
		pfd[1].fd = PQsocket(w->pg);
		pfd[1].events = POLLIN;
		n = 2;
	}
	if (poll(pfd, n, (int)ms) <= 0)
		return;
	if (pfd[0].revents)
		while (read(w->wake[0], drain, sizeof(drain)) > 0)
			;
	if (n == 2 && pfd[1].revents) {
		/* A notification, or the connection closed: the next
		 * statement tells. */
		PQconsumeInput(w->pg);
		while ((nt = PQnotifies(w->pg)) != NULL)
			PQfreemem(nt);
	}
}

static bool connect_db(struct ch_smtp *w)
{
	char quoted[2 * KTD_ERROR_MSG_MAX + 8];
	struct ktd_error err;

	w->pg = db_connect(&w->cfg.db, &err);
	if (w->pg && db_query(w->pg, "LISTEN " DB_OUTBOX_CHANNEL, 0, NULL, NULL,
	                      &err) < 0) {
		PQfinish(w->pg);
		w->pg = NULL;
	}
	if (!w->pg) {
		if (!w->db_down_logged)
			ktd_log_warnx(
			        "event=mail_worker_db_unavailable msg=%s",
			        ktd_log_quote(err.msg, quoted, sizeof(quoted)));
		w->db_down_logged = true;
		return false;
	}
	if (w->db_down_logged)
		ktd_log_info("event=mail_worker_db_back");
	w->db_down_logged = false;
	return true;
}

/* "550 5.1.1 text" from a status, cleaned of line breaks. */
static void status_text(const smtp_status_t *st, char *out, size_t outsz)
{
	size_t i;

	if (st->enh_class)
		snprintf(out, outsz, "%d %d.%d.%d %s", st->code, st->enh_class,
		         st->enh_subject, st->enh_detail,
		         st->text ? st->text : "");
	else
		snprintf(out, outsz, "%d %s", st->code,
		         st->text ? st->text : "");
	for (i = 0; out[i]; i++) {
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = ' ';
	}
	for (i = strlen(out); i > 0 && out[i - 1] == ' '; i--)
		out[i - 1] = '\0';
}

/* The SMTP reply that decides an item: the first that is not 2xx of the
 * envelope sender, the recipient and the message; or the message's.
 * *sender_r: it is the envelope sender's, which is the same for every
 * message, so a refusal there (530 authentication required, a sender the
 * relay does not take) is the configuration's, not the message's. */
static const smtp_status_t *item_status(struct item *it, bool *sender_r)
{
	const smtp_status_t *st;

	*sender_r = false;
	st = smtp_reverse_path_status(it->msg);
	if (st && st->code && (st->code < 200 || st->code > 299)) {
		*sender_r = true;
		return st;
	}
	st = smtp_recipient_status(it->rcpt);
	if (st && st->code && (st->code < 200 || st->code > 299))
		return st;
	return smtp_message_transfer_status(it->msg);
}

/* Records the outcome of an item and logs it. permanent: 5xx or a
 * message that cannot be built; otherwise a temporary failure unless
 * sent. */
static void record(struct ch_smtp *w, struct item *it, bool sent,
                   bool permanent)
{
	char quoted[2 * ERROR_MAX + 8], equoted[2 * KTD_ERROR_MSG_MAX + 8];
	char gave_up[ERROR_MAX + 64];
	struct ktd_error err;
	uint64_t delay;
	int r;

	if (sent) {
		r = db_outbox_sent(w->pg, it->id, it->case_id, &err);
		ktd_log_info("event=mail_sent outbox=%" PRId64
		             " contact=%" PRId64 " attempts=%u",
		             it->id, it->contact_id, it->attempts);
	} else if (permanent || it->attempts >= w->cfg.max_attempts) {
		if (!permanent) {
			snprintf(gave_up, sizeof(gave_up),
			         "gave up after %u attempts: %s", it->attempts,
			         it->error);
			ktd_strlcpy(it->error, gave_up, sizeof(it->error));
		}
		r = db_outbox_fail(w->pg, it->id, it->case_id, it->error, &err);
		ktd_log_warnx("event=mail_failed outbox=%" PRId64
		              " contact=%" PRId64 " attempts=%u error=%s",
		              it->id, it->contact_id, it->attempts,
		              ktd_log_quote(it->error, quoted, sizeof(quoted)));
	} else {
		delay = ch_smtp_backoff_s(w->cfg.retry_after_ms, it->attempts);
		r = db_outbox_defer(w->pg, it->id, it->case_id, delay,
		                    it->error, &err);
		ktd_log_warnx("event=mail_deferred outbox=%" PRId64
		              " contact=%" PRId64
		              " attempts=%u retry_in_s=%" PRIu64 " error=%s",
		              it->id, it->contact_id, it->attempts, delay,
		              ktd_log_quote(it->error, quoted, sizeof(quoted)));
	}
	if (r < 0)
		/* The row keeps its lease and is tried again when it ends;
		 * a message the relay took may then go twice. */
		ktd_log_warnx("event=mail_record_failed outbox=%" PRId64
		              " msg=%s",
		              it->id,
		              ktd_log_quote(err.msg, equoted, sizeof(equoted)));
}

static void monitor(const char *buf, int buflen, int writing, void *arg)
{
	struct ch_smtp *w = arg;
	size_t n, i, start;

	if (writing != SMTP_CB_READING || buflen <= 0)
		return;
	n = (size_t)buflen;
	/* The last non-empty line of what was read. */
	while (n > 0 && (buf[n - 1] == '\r' || buf[n - 1] == '\n'))
		n--;
	start = n;
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	if (n - start >= sizeof(w->last_reply))
		n = start + sizeof(w->last_reply) - 1;
	for (i = start; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];

		w->last_reply[i - start] =
		        (c < 0x20 || c >= 0x7f) ? ' ' : (char)c;
	}
	w->last_reply[n - start] = '\0';
}

/* Notes when a session's TLS handshake begins (for tls_drain). */
static void tls_info(const SSL *ssl, int where, int ret)
{
	struct ch_smtp *w = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));

	(void)ret;
	if (w && (where & SSL_CB_HANDSHAKE_START) && SSL_in_before(ssl))
		w->handshake_start_ms = ktd_time_mono_ms();
}

/* Takes in the relay's TLS 1.3 post-handshake messages (its session
 * tickets) before libESMTP sends EHLO.
 *
 * libESMTP 1.1.0's protocol loop, after STARTTLS, puts EHLO in its write
 * buffer and polls the socket for reading and writing at once; when both
 * are ready it reads first, and the reading blocks until a reply to the
 * EHLO it has not sent yet, for [smtp] timeout: the session then ends as
 * "SMTP server dropped connection (last reply: 250 HELP)". A TLS 1.3
 * relay sends its tickets one round trip after the handshake, so they are
 * readable at that poll whenever kontaktd is slower than the round trip
 * (seen on loopback, under AddressSanitizer, in about one session in a
 * hundred). Tickets are not optional for the client (TLS 1.3 has no way
 * to decline them), so they are read here: the wait for the first is a
 * few times the handshake's duration, at most 100 ms; later ones make no
 * trouble, as libESMTP then writes EHLO before anything is readable. */
static void tls_drain(struct ch_smtp *w, SSL *ssl)
{
	uint64_t now = ktd_time_mono_ms(), took, deadline;
	int fd = SSL_get_rfd(ssl), flags, n, records = 0;

	if (SSL_version(ssl) < TLS1_3_VERSION || fd < 0)
		return;
	/* SSL_peek must not block: libESMTP's sockets do not. */
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || !(flags & O_NONBLOCK))
		return;
	took = now >= w->handshake_start_ms ? now - w->handshake_start_ms : 0;
	deadline = now + (2 * took + 5 < 100 ? 2 * took + 5 : 100);
	if (deadline > now + w->cfg.timeout_ms)
		deadline = now + w->cfg.timeout_ms;
	/* Bounded: a relay that keeps sending records is libESMTP's to
	 * read. */
	for (n = 0; n < 8; n++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint64_t t = ktd_time_mono_ms();
		/* After the first records, only what follows at once. */
		int wait = records ? 1 : t < deadline ? (int)(deadline - t) : 0;
		char c;
		int r;

		if (poll(&p, 1, wait) <= 0)
			break;
		r = SSL_peek(ssl, &c, 1);
		if (r > 0 || SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ)
			/* A reply already, or the connection's end: libESMTP
			 * reads them. */
			break;
		records++;
	}
	ktd_log_debug("event=smtp_tls_drained server=%s tls=%s reads=%d "
	              "handshake_ms=%" PRIu64,
	              w->server, SSL_get_version(ssl), records, took);
}

/* libESMTP's events. For the TLS ones it asks whether to go on (an int
 * *ok it passes, 0 by default): never, so that no mail goes to a relay
 * that is not who it says, or without the TLS asked for. */
static void event(smtp_session_t s, int event_no, void *arg, ...)
{
	struct ch_smtp *w = arg;

	(void)s;
	switch (event_no) {
	case SMTP_EV_STARTTLS_OK: {
		/* libESMTP passes the connection's SSL (then its cipher and
		 * bits). */
		va_list ap;
		SSL *ssl;

		va_start(ap, arg);
		ssl = va_arg(ap, SSL *);
		va_end(ap);
		if (ssl)
			tls_drain(w, ssl);
		break;
	}
	case SMTP_EV_EXTNA_STARTTLS:
		w->why_event = "the relay does not offer STARTTLS ([smtp] "
		               "tls = starttls)";
		break;
	case SMTP_EV_INVALID_PEER_CERTIFICATE: {
		/* libESMTP passes SSL_get_verify_result's value (and then
		 * int *ok, left 0: refused). */
		va_list ap;
		long vr;
		char q[sizeof(w->why_buf) + 8];

		va_start(ap, arg);
		vr = va_arg(ap, long);
		va_end(ap);
		if (ch_tls_crl_error(vr))
			snprintf(w->why_buf, sizeof(w->why_buf),
			         "the relay's TLS certificate chain failed the "
			         "revocation check ([smtp] crl_file): %s",
			         ch_tls_crl_reason(vr));
		else
			snprintf(w->why_buf, sizeof(w->why_buf),
			         "the relay's TLS certificate is not valid or "
			         "not trusted ([smtp] ca_file, else the "
			         "system's CAs): %s",
			         X509_verify_cert_error_string(vr));
		w->why_event = w->why_buf;
		ktd_log_warnx("event=smtp_tls_failed server=%s reason=%s "
		              "action=\"not sending\"",
		              w->server,
		              ktd_log_quote(w->why_buf, q, sizeof(q)));
		break;
	}
	case SMTP_EV_NO_PEER_CERTIFICATE:
		w->why_event =
		        "the relay's TLS certificate is not valid or not "
		        "trusted ([smtp] ca_file, else the system's "
		        "CAs)";
		break;
	case SMTP_EV_WRONG_PEER_CERTIFICATE:
		w->why_event = "the relay's TLS certificate is not for [smtp] "
		               "host";
		break;
	case SMTP_EV_WEAK_CIPHER:
		w->why_event = "the relay offered only a weak TLS cipher";
		break;
	case SMTP_EV_UNUSABLE_CA_LIST:
	case SMTP_EV_UNUSABLE_CLIENT_CERTIFICATE:
	case SMTP_EV_NO_CLIENT_CERTIFICATE:
		w->why_event = "TLS could not be set up (libESMTP's files in "
		               "~/.authenticate)";
		break;
	default:
		break;
	}
}

static int auth_interact(auth_client_request_t request, char **result,
                         int fields, void *arg)
{
	struct ch_smtp *w = arg;
	int i;

	for (i = 0; i < fields; i++) {
		if (request[i].flags & AUTH_USER)
			result[i] = (char *)(uintptr_t)w->cfg.user;
		else if (request[i].flags & AUTH_PASS)
			result[i] = (char *)(uintptr_t)w->cfg.password;
		else
			result[i] = NULL;
		if (!result[i])
			return 0;
	}
	return 1;
}

/* Sets up a session for the relay. NULL when libESMTP refuses. */
static smtp_session_t session_create(struct ch_smtp *w, auth_context_t *ac_r)
{
	static const int steps[] = {Timeout_GREETING, Timeout_ENVELOPE,
	                            Timeout_DATA, Timeout_TRANSFER,
	                            Timeout_DATA2};
	smtp_session_t s = smtp_create_session();
	long ms = (long)w->cfg.timeout_ms;
	size_t i;

	*ac_r = NULL;
	if (!s)
		return NULL;
	if (!smtp_set_server(s, w->server) ||
	    (w->tls && !smtp_starttls_set_ctx(s, w->tls)) ||
	    (w->cfg.helo && *w->cfg.helo &&
	     !smtp_set_hostname(s, w->cfg.helo)) ||
	    !smtp_starttls_enable(s, w->cfg.starttls ? Starttls_REQUIRED
	                                             : Starttls_DISABLED)) {
		smtp_destroy_session(s);
		return NULL;
	}
	w->last_reply[0] = '\0';
	w->why_event = NULL;
	smtp_set_monitorcb(s, monitor, w, 0);
	smtp_set_eventcb(s, event, w);
	/* The timeouts are in milliseconds; the override lets them be
	 * shorter than RFC 5321's minutes. */
	for (i = 0; i < KTD_N_ELEMENTS(steps); i++)
		smtp_set_timeout(s, steps[i] | Timeout_OVERRIDE_RFC2822_MINIMUM,
		                 ms);
	if (w->cfg.user && *w->cfg.user) {
		*ac_r = auth_create_context();
		if (!*ac_r) {
			smtp_destroy_session(s);
			return NULL;
		}
		auth_set_mechanism_flags(*ac_r, AUTH_PLUGIN_PLAIN, 0);
		auth_set_interact_cb(*ac_r, auth_interact, w);
		smtp_auth_set_context(s, *ac_r);
	}
	return s;
}

/* Fills it from row i of the claimed rows and builds its message. */
static void item_load(struct item *it, PGresult *res, int i)
{
	struct ch_smtp_msg m;
	struct ktd_error err;
	size_t len;

	memset(it, 0, sizeof(*it));
	it->id = db_result_i64(res, i, DB_OUTBOX_ID);
	it->contact_id = db_result_i64(res, i, DB_OUTBOX_CONTACT_ID);
	it->case_id = db_result_i64(res, i, DB_OUTBOX_CASE_ID);
	it->attempts = (unsigned)db_result_i64(res, i, DB_OUTBOX_ATTEMPTS);
	memset(&m, 0, sizeof(m));
#define COL(c) (PQgetisnull(res, i, (c)) ? NULL : PQgetvalue(res, i, (c)))
	m.kind = COL(DB_OUTBOX_KIND);
	m.message_id = COL(DB_OUTBOX_MESSAGE_ID);
	m.from = COL(DB_OUTBOX_FROM);
	m.to = COL(DB_OUTBOX_TO);
	m.subject = COL(DB_OUTBOX_SUBJECT);
	m.body = COL(DB_OUTBOX_BODY);
	m.in_reply_to = COL(DB_OUTBOX_IN_REPLY_TO);
	m.references = COL(DB_OUTBOX_REFERENCES);
#undef COL
	m.date = db_result_i64(res, i, DB_OUTBOX_DATE);
	it->receipt = m.kind && strcmp(m.kind, "receipt") == 0;
	/* ch_smtp_msg_build checks both addresses, and their length. */
	ktd_strlcpy(it->from, m.from ? m.from : "", sizeof(it->from));
	ktd_strlcpy(it->to, m.to ? m.to : "", sizeof(it->to));
	if (ch_smtp_msg_build(&m, &it->text, &len, &err) < 0) {
		it->text = NULL;
		ktd_strlcpy(it->error, err.msg, sizeof(it->error));
	}
}

static int tls_refresh(struct ch_smtp *w);

/* Claims due rows and sends them in one session. Returns how many rows
 * were claimed, or -1 when the database failed. */
static int round_once(struct ch_smtp *w)
{
	char quoted[2 * KTD_ERROR_MSG_MAX + 8], why[160];
	struct item items[BATCH];
	struct ktd_error err;
	smtp_session_t s = NULL;
	auth_context_t ac = NULL;
	PGresult *res = NULL;
	uint64_t lease = (w->cfg.timeout_ms + 999) / 1000 * LEASE_STEPS;
	int n, i, sending = 0;
	bool session_ok = false;

	if (db_outbox_claim(w->pg, BATCH, lease, &res, &err) < 0) {
		ktd_log_warnx("event=mail_claim_failed msg=%s",
		              ktd_log_quote(err.msg, quoted, sizeof(quoted)));
		return -1;
	}
	n = PQntuples(res);
	if (n > BATCH)
		n = BATCH;
	for (i = 0; i < n; i++)
		item_load(&items[i], res, i);
	PQclear(res);
	if (n == 0)
		return 0;

	w->why_event = NULL;
	s = tls_refresh(w) < 0 ? NULL : session_create(w, &ac);
	for (i = 0; s && i < n; i++) {
		struct item *it = &items[i];

		if (!it->text)
			continue;
		it->msg = smtp_add_message(s);
		if (!it->msg)
			continue;
		/* RFC 3834 3.3: an automatic answer goes out with an empty
		 * envelope sender, so that no bounce of it starts a loop. */
		it->rcpt = smtp_add_recipient(it->msg, it->to);
		if (!it->rcpt ||
		    !smtp_set_reverse_path(it->msg,
		                           it->receipt ? NULL : it->from) ||
		    !smtp_set_messagecb(it->msg, _smtp_message_str_cb,
		                        it->text)) {
			it->msg = NULL;
			continue;
		}
		sending++;
	}
	if (s && sending > 0)
		session_ok = smtp_start_session(s) != 0;
	/* libESMTP keeps its error (a refused or timed-out connection) in
	 * smtp_errno even when smtp_start_session reports success. */
	if (!s)
		ktd_strlcpy(why, "cannot set up an SMTP session", sizeof(why));
	else if (smtp_errno() != 0)
		smtp_strerror(smtp_errno(), why, sizeof(why));
	else
		ktd_strlcpy(why,
		            session_ok ? "the session ended early"
		                       : "the session failed",
		            sizeof(why));
	for (i = 0; i < n; i++) {
		struct item *it = &items[i];
		const smtp_status_t *st;
		bool sender;

		if (!it->text) {
			record(w, it, false, true);
			continue;
		}
		st = it->msg ? item_status(it, &sender) : NULL;
		if (st && st->code >= 200 && st->code <= 299) {
			record(w, it, true, false);
			continue;
		}
		if (st && st->code >= 400) {
			status_text(st, it->error, sizeof(it->error));
			/* A refused sender is retried like a 4xx, until
			 * max_attempts: someone may fix the relay or the
			 * settings meanwhile. */
			record(w, it, false, st->code >= 500 && !sender);
			continue;
		}
		/* No reply from the relay: it could not be reached, or the
		 * session broke off. */
		if (w->why_event)
			snprintf(it->error, sizeof(it->error), "%s: %s",
			         w->server, w->why_event);
		else if (w->last_reply[0])
			snprintf(it->error, sizeof(it->error),
			         "%s: %s (last reply: %s)", w->server, why,
			         w->last_reply);
		else
			snprintf(it->error, sizeof(it->error), "%s: %s",
			         w->server, why);
		record(w, it, false, false);
	}
	if (s)
		smtp_destroy_session(s);
	if (ac)
		auth_destroy_context(ac);
	for (i = 0; i < n; i++)
		free(items[i].text);
	return n;
}

/* Until stopped: (re)connect, drain what is due, wait for a NOTIFY, the
 * poll interval or the stop. */
static void *run(void *arg)
{
	struct ch_smtp *w = arg;
	int n;

	while (!atomic_load(&w->stop)) {
		if (!w->pg && !connect_db(w)) {
			wait_for_work(w, DB_RETRY_MS);
			continue;
		}
		do {
			n = round_once(w);
		} while (n == BATCH && !atomic_load(&w->stop));
		if (n < 0 && PQstatus(w->pg) != CONNECTION_OK) {
			PQfinish(w->pg);
			w->pg = NULL;
			continue;
		}
		wait_for_work(w, w->cfg.poll_ms);
	}
	PQfinish(w->pg);
	w->pg = NULL;
	return NULL;
}

/* The STARTTLS context: TLS 1.2 or later, the relay's certificate checked
 * against ca_file or the system's CAs (libESMTP checks the result and
 * the host name after the handshake, see event()). */
static int tls_create(struct ch_smtp *w, struct ktd_error *err)
{
	const char *ca = w->cfg.ca_file;

	w->tls = SSL_CTX_new(TLS_client_method());
	if (!w->tls)
		return ktd_error_set(err, KTD_ERR_INTERNAL,
		                     "cannot make a TLS context");
	SSL_CTX_set_min_proto_version(w->tls, TLS1_2_VERSION);
	SSL_CTX_set_app_data(w->tls, w);
	SSL_CTX_set_info_callback(w->tls, tls_info);
	if (ca && *ca) {
		if (SSL_CTX_load_verify_locations(w->tls, ca, NULL) != 1) {
			SSL_CTX_free(w->tls);
			w->tls = NULL;
			return ktd_error_set(err, KTD_ERR_CONFIG,
			                     "[smtp] ca_file %s: no usable PEM "
			                     "certificate in it",
			                     ca);
		}
	} else if (SSL_CTX_set_default_verify_paths(w->tls) != 1) {
		SSL_CTX_free(w->tls);
		w->tls = NULL;
		return ktd_error_set(err, KTD_ERR_INTERNAL,
		                     "cannot load the system's CAs");
	}
	if (w->cfg.crl_file && *w->cfg.crl_file) {
		if (stat(w->cfg.crl_file, &w->crl_st) < 0)
			memset(&w->crl_st, 0, sizeof(w->crl_st));
		if (ch_tls_crl_add_to_store(SSL_CTX_get_cert_store(w->tls),
		                            w->cfg.crl_file, err) < 0) {
			SSL_CTX_free(w->tls);
			w->tls = NULL;
			ktd_error_prefix(err, "[smtp] crl_file");
			return -1;
		}
	}
	return 0;
}

/* Before a session: when crl_file changed since it was read, a new TLS
 * context with it. 0, or -1 (a file that cannot be used: no session, so
 * that nothing goes out unchecked; the messages wait for the next
 * attempt), said in why_event and logged. */
static int tls_refresh(struct ch_smtp *w)
{
	char q[2 * KTD_ERROR_MSG_MAX + 8];
	SSL_CTX *old = w->tls;
	struct ktd_error err;
	struct stat st;

	if (!w->tls || !w->cfg.crl_file || !*w->cfg.crl_file)
		return 0;
	memset(&st, 0, sizeof(st));
	if (stat(w->cfg.crl_file, &st) == 0 && st.st_ino == w->crl_st.st_ino &&
	    st.st_dev == w->crl_st.st_dev && st.st_size == w->crl_st.st_size &&
	    st.st_mtim.tv_sec == w->crl_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == w->crl_st.st_mtim.tv_nsec)
		return 0;
	memset(&err, 0, sizeof(err));
	w->tls = NULL;
	if (tls_create(w, &err) < 0) {
		/* Tried again before the next session. */
		w->tls = old;
		memset(&w->crl_st, 0, sizeof(w->crl_st));
		ktd_strlcpy(w->why_buf, err.msg, sizeof(w->why_buf));
		w->why_event = w->why_buf;
		ktd_log_warnx("event=smtp_crl_unusable msg=%s "
		              "action=\"not sending\"",
		              ktd_log_quote(err.msg, q, sizeof(q)));
		return -1;
	}
	SSL_CTX_free(old);
	ktd_log_info("event=smtp_crl_loaded file=%s", w->cfg.crl_file);
	return 0;
}

int ch_smtp_ca_file_check(const char *path, struct ktd_error *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int ok;

	if (!ctx)
		return ktd_error_set(err, KTD_ERR_INTERNAL,
		                     "cannot make a TLS context");
	ok = SSL_CTX_load_verify_locations(ctx, path, NULL) == 1;
	SSL_CTX_free(ctx);
	if (!ok)
		return ktd_error_set(err, KTD_ERR_CONFIG,
		                     "[smtp] ca_file %s: no usable PEM "
		                     "certificate in it",
		                     path);
	return 0;
}

struct ch_smtp *ch_smtp_start(const struct ch_smtp_config *cfg,
                              struct ktd_error *err)
{
	struct ch_smtp *w = ktd_calloc(1, sizeof(*w));
	int r;

	w->cfg = *cfg;
	atomic_init(&w->stop, false);
	if (cfg->starttls && tls_create(w, err) < 0) {
		free(w);
		return NULL;
	}
	if (snprintf(w->server, sizeof(w->server), "%s:%u", cfg->host,
	             cfg->port) >= (int)sizeof(w->server)) {
		SSL_CTX_free(w->tls);
		free(w);
		ktd_error_set(err, KTD_ERR_CONFIG, "[smtp] host is too long");
		return NULL;
	}
	if (pipe2(w->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		ktd_error_set(err, KTD_ERR_INTERNAL, "pipe: %s",
		              strerror(errno));
		SSL_CTX_free(w->tls);
		free(w);
		return NULL;
	}
	auth_client_init();
	r = pthread_create(&w->thread, NULL, run, w);
	if (r != 0) {
		close(w->wake[0]);
		close(w->wake[1]);
		SSL_CTX_free(w->tls);
		free(w);
		ktd_error_set(err, KTD_ERR_INTERNAL,
		              "cannot start the mail worker thread: %s",
		              strerror(r));
		return NULL;
	}
	ktd_log_info("event=mail_worker_started server=%s tls=%s auth=%s",
	             w->server, cfg->starttls ? "starttls" : "none",
	             cfg->user && *cfg->user ? "on" : "off");
	return w;
}

void ch_smtp_stop(struct ch_smtp **wp)
{
	struct ch_smtp *w = *wp;
	ssize_t r;

	if (!w)
		return;
	atomic_store(&w->stop, true);
	r = write(w->wake[1], "x", 1);
	(void)r;
	pthread_join(w->thread, NULL);
	close(w->wake[0]);
	close(w->wake[1]);
	auth_client_exit();
	SSL_CTX_free(w->tls);
	free(w);
	*wp = NULL;
}
