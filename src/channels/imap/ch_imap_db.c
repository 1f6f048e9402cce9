/* SPDX-License-Identifier: MPL-2.0 */
/* The database side of a mailbox's worker (ch_imap_int.h): its own
 * connection, the mailbox's advisory lock, the stored position, and the
 * transaction of each round the IMAP side hands over. */
#include "lib/lib_common.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "daemon/settings.h"
#include "db/pool.h"
#include "db/tx.h"
#include "db/db_case.h"
#include "db/db_contact.h"
#include "db/db_mail.h"
#include "channels/imap/ch_imap_int.h"

/* How often a worker without the mailbox's lock tries for it, at most. */
#define LOCK_RETRY_MAX_MS 5000

bool ch_imap_stopping(struct ch_imap *w)
{
	bool s;

	pthread_mutex_lock(&w->mu);
	s = w->stop;
	pthread_mutex_unlock(&w->mu);
	return s;
}

bool ch_imap_wait_ms(struct ch_imap *w, uint64_t ms)
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

static void pg_close(struct ch_imap *w)
{
	if (w->pg)
		PQfinish(w->pg);
	w->pg = NULL;
	pthread_mutex_lock(&w->mu);
	w->locked = false;
	pthread_mutex_unlock(&w->mu);
}

/* Connects and takes the mailbox's lock: 1, 0 when another session holds
 * it, -1. */
static int connect_and_lock(struct ch_imap *w, struct ktd_error *err)
{
	int r;

	if (w->pg && PQstatus(w->pg) != CONNECTION_OK)
		pg_close(w);
	if (!w->pg) {
		w->pg = db_connect(&w->db, err);
		if (!w->pg)
			return -1;
	}
	r = db_mail_try_lock(w->pg, w->cfg.mb->name, err);
	if (r <= 0)
		return r;
	ktd_log_info("event=mailbox_locked mailbox=%s", w->cfg.mb->name);
	return 1;
}

/* The committed last UID of uidvalidity; a stored position of another
 * UIDVALIDITY (or none) starts again at 0. */
static int state(struct ch_imap *w, uint32_t uidvalidity, uint32_t *last_r,
                 struct ktd_error *err)
{
	const char *name = w->cfg.mb->name;
	uint32_t uv = 0;
	int r;

	r = db_mail_state_get(w->pg, name, &uv, last_r, err);
	if (r < 0)
		return -1;
	if (r == 1 && uv == uidvalidity)
		return 0;
	if (r == 1)
		/* The folder's UIDs start again: read it all anew;
		 * Message-IDs keep what was stored from coming twice. */
		ktd_log_warnx("event=imap_uidvalidity_changed mailbox=%s "
		              "old=%" PRIu32 " new=%" PRIu32
		              " msg=\"rescanning the folder\"",
		              name, uv, uidvalidity);
	*last_r = 0;
	return db_mail_state_set(w->pg, name, uidvalidity, 0, err);
}

/* The contact of one message, in the round's transaction. refused: the
 * database refused the message as parsed (a value broke a rule): stored
 * again with that said instead of its text and without attachments, so
 * that no message blocks the mailbox and none is dropped. */
static int store(struct ch_imap *w, const struct ch_imap_round *rd,
                 struct ch_imap_mail *m, const char *refused,
                 struct ktd_error *err)
{
	const struct ktd_mailbox *mb = w->cfg.mb;
	struct ch_imap_stored *st = &m->st;
	struct intake_contact in = m->in;
	struct db_mail_raw rm;
	char *body = NULL;
	size_t i;
	int ret = -1, r;

	if (refused) {
		body = ktd_strdup_printf(
		        "[Beskeden kunne ikke gemmes, som den var (%s); den "
		        "oprindelige besked er gemt uændret og ligger i "
		        "postkassen %s, UID %" PRIu32 ".]",
		        refused, mb->name, m->uid);
		in.body = body;
		in.citizen_name = NULL;
	}
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
	rm.uidvalidity = rd->uidvalidity;
	rm.uid = m->uid;
	rm.size = m->too_big ? m->size : m->len;
	rm.truncated = m->too_big;
	rm.data = m->raw;
	rm.len = m->len;
	if (db_mail_raw_insert(w->pg, &rm, err) < 0)
		goto out;
	for (i = 0; i < (refused ? 0 : m->mime.n_attachments); i++) {
		const struct ch_mime_attachment *a = &m->mime.attachments[i];
		/* attachments.filename holds 255 characters */
		char *fname = ch_imap_mail_cut(a->filename, 255);

		r = db_mail_attachment_insert(w->pg, st->out.contact_id, fname,
		                              a->content_type, a->data, a->size,
		                              a->sha256, err);
		free(fname);
		if (r < 0)
			goto out;
	}
	if (st->out.new_case && !m->receipt_wanted)
		st->no_receipt = m->no_receipt;
	if (st->out.new_case && m->receipt_wanted) {
		int64_t rid;

		r = db_mail_receipt_claim(w->pg, in.citizen_email,
		                          w->cfg.receipt_interval_s, err);
		if (r < 0)
			goto out;
		if (r == 0) {
			st->no_receipt = "interval";
		} else {
			if (case_receipt_queue(w->pg, st->out.case_id,
			                       &w->cfg.receipt,
			                       in.citizen_email, &rid, err) < 0)
				goto out;
			st->receipt = true;
		}
	}
	ret = 0;
out:
	free(body);
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
static int ingest_one(struct ch_imap *w, const struct ch_imap_round *rd,
                      struct ch_imap_mail *m, struct ktd_error *err)
{
	char why[KTD_ERROR_MSG_MAX], q[2 * KTD_ERROR_MSG_MAX + 8];
	struct ktd_error e2;

	if (db_tx_savepoint(w->pg, err) < 0)
		return -1;
	if (store(w, rd, m, NULL, err) == 0)
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
	              w->cfg.mb->name, m->uid,
	              ch_imap_quote(why, q, sizeof(q)));
	memset(&m->st, 0, sizeof(m->st));
	memset(err, 0, sizeof(*err));
	m->st.refused = true;
	if (store(w, rd, m, why, err) < 0)
		return -1;
	return db_tx_release(w->pg, err);
}

static void log_ingested(struct ch_imap *w, const struct ch_imap_mail *m)
{
	const struct ktd_mailbox *mb = w->cfg.mb;
	const struct ch_imap_stored *st = &m->st;

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

/* Under the round's locks of the Message-IDs: which messages are new,
 * for all in one round trip instead of intake's one per message. Of two
 * with the same Message-ID in the round only the first is: intake finds
 * the second a duplicate of it. */
static int known_new(struct ch_imap *w, struct ch_imap_round *rd,
                     struct ktd_error *err)
{
	const char **ext = ktd_calloc(rd->n, sizeof(*ext));
	bool *exists = ktd_calloc(rd->n, sizeof(*exists));
	size_t i, j;
	int ret = -1;

	for (i = 0; i < rd->n; i++)
		ext[i] = rd->ms[i].raw ? rd->ms[i].ext : "";
	if (db_contact_exist(w->pg, "email", ext, rd->n, exists, err) < 0)
		goto out;
	for (i = 0; i < rd->n; i++) {
		rd->ms[i].in.known_new = rd->ms[i].raw && !exists[i];
		for (j = 0; j < i && rd->ms[i].in.known_new; j++)
			if (rd->ms[j].raw && strcmp(ext[j], ext[i]) == 0)
				rd->ms[i].in.known_new = false;
	}
	ret = 0;
out:
	free(exists);
	free(ext);
	return ret;
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
 * round's retry stay for that.) The keys were made by the IMAP side. */
static int lock_round(struct ch_imap *w, struct ch_imap_round *rd,
                      struct ktd_error *err)
{
	const char **kp = ktd_calloc(2 * rd->n, sizeof(*kp));
	int64_t *ids = ktd_calloc(rd->n, sizeof(*ids));
	size_t nk = 0, ni = 0, i, j;
	int ret = -1, r;

	for (i = 0; i < rd->n; i++)
		for (j = 0; rd->ms[i].raw && j < rd->ms[i].n_keys; j++)
			kp[nk++] = rd->ms[i].keys[j];
	if (db_case_lock_keys(w->pg, kp, nk, err) < 0 ||
	    known_new(w, rd, err) < 0)
		goto out;
	for (i = 0; i < rd->n; i++) {
		if (!rd->ms[i].raw)
			continue;
		r = intake_thread_mail(w->pg, &rd->ms[i].in, &ids[ni], err);
		if (r < 0)
			goto out;
		ni += (size_t)r;
	}
	if (db_case_lock_many(w->pg, ids, ni, err) < 0)
		goto out;
	ret = 0;
out:
	free(ids);
	free(kp);
	return ret;
}

/* The round's messages in one transaction with the new last UID; each
 * behind a savepoint (ingest_one) or, when savepoints is false, not. */
static int round_store(struct ch_imap *w, struct ch_imap_round *rd,
                       bool savepoints, struct ktd_error *err)
{
	struct ch_imap_mail *m;
	struct ktd_error ignored;
	size_t i;
	int r;

	if (db_tx_begin(w->pg, err) < 0)
		return -1;
	/* Without savepoints any failure fails the round: statements whose
	 * results nobody reads can share a round trip with the next. */
	if (!savepoints && db_defer_begin(w->pg, err) < 0)
		goto rollback;
	if (lock_round(w, rd, err) < 0)
		goto rollback;
	for (i = 0; i < rd->n; i++) {
		m = &rd->ms[i];
		memset(&m->st, 0, sizeof(m->st));
		if (!m->raw)
			continue;
		r = savepoints ? ingest_one(w, rd, m, err)
		               : store(w, rd, m, NULL, err);
		if (r < 0)
			goto rollback;
	}
	if (db_defer_end(w->pg, err) < 0 ||
	    db_mail_state_set(w->pg, w->cfg.mb->name, rd->uidvalidity,
	                      rd->ms[rd->n - 1].uid, err) < 0 ||
	    db_tx_commit(w->pg, err) < 0)
		goto rollback;
	return 0;
rollback:
	memset(&ignored, 0, sizeof(ignored));
	if (db_defer_end(w->pg, &ignored) < 0 &&
	    PQpipelineStatus(w->pg) != PQ_PIPELINE_OFF) {
		/* Not out of the pipeline: no ROLLBACK can go; the
		 * connection goes, and the transaction with it. */
		pg_close(w);
		return -1;
	}
	db_tx_rollback(w->pg);
	return -1;
}

/* The round's messages, exactly once: stored with the new last UID in
 * one transaction. The transaction holds the intake's locks (Message-ID,
 * citizen, cases) of all its messages until the commit; lock_round takes
 * them first, in one global order, so that two mailboxes whose rounds
 * share senders do not deadlock. Should a round still fail (PostgreSQL
 * ending one as a deadlock, 40P01, or anything else), it fails whole and
 * the IMAP side fetches it again after its backoff, each message still
 * once. A message the database refuses as parsed is rare: the round goes
 * without savepoints first (two round trips fewer per message), and only
 * when refused again with a savepoint per message. */
static int round_run(struct ch_imap *w, struct ch_imap_round *rd,
                     uint32_t committed_last, struct ktd_error *err)
{
	size_t i;

	/* Never a gap nor an overlap: the round follows the position. */
	if (rd->after != committed_last)
		return ktd_error_set(err, KTD_ERR_INTERNAL,
		                     "a round after UID %" PRIu32
		                     " came when %" PRIu32 " was committed",
		                     rd->after, committed_last);
	if (round_store(w, rd, false, err) < 0) {
		if (!refused_by_rules(w, err))
			return -1;
		memset(err, 0, sizeof(*err));
		if (round_store(w, rd, true, err) < 0)
			return -1;
	}
	for (i = 0; i < rd->n; i++)
		log_ingested(w, &rd->ms[i]);
	return 0;
}

/* Under mu: the database side failed; the IMAP side is told, and every
 * round handed over so far is dropped. */
static void fail(struct ch_imap *w, const struct ktd_error *err)
{
	w->failed = true;
	w->fail_err = *err;
	w->gen++;
	ch_imap_round_free(&w->next);
	pthread_cond_broadcast(&w->cond);
}

/* Under mu: answers the IMAP side's question for the position. */
static void serve_state(struct ch_imap *w)
{
	struct ktd_error err;
	uint32_t uv = w->state_uidvalidity, last = 0;
	int r;

	memset(&err, 0, sizeof(err));
	pthread_mutex_unlock(&w->mu);
	r = state(w, uv, &last, &err);
	pthread_mutex_lock(&w->mu);
	w->state_asked = false;
	if (r < 0) {
		fail(w, &err);
		return;
	}
	w->committed_uidvalidity = uv;
	w->committed_last = last;
	pthread_cond_broadcast(&w->cond);
}

/* Under mu: the round waiting, if of the current gen. */
static void serve_round(struct ch_imap *w)
{
	struct ch_imap_round *rd = w->next;
	struct ktd_error err;
	uint32_t last = w->committed_last;
	int r;

	w->next = NULL;
	if (rd->gen != w->gen || rd->uidvalidity != w->committed_uidvalidity) {
		ch_imap_round_free(&rd);
		pthread_cond_broadcast(&w->cond);
		return;
	}
	w->busy = true;
	pthread_cond_broadcast(&w->cond);
	memset(&err, 0, sizeof(err));
	pthread_mutex_unlock(&w->mu);
	r = round_run(w, rd, last, &err);
	pthread_mutex_lock(&w->mu);
	w->busy = false;
	if (r < 0)
		fail(w, &err);
	else
		w->committed_last = rd->ms[rd->n - 1].uid;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mu);
	ch_imap_round_free(&rd);
	pthread_mutex_lock(&w->mu);
}

/* Under mu: connects and takes the lock, or waits to try again. */
static void get_lock(struct ch_imap *w)
{
	const struct ktd_mailbox *mb = w->cfg.mb;
	struct ktd_error err;
	int r;

	memset(&err, 0, sizeof(err));
	pthread_mutex_unlock(&w->mu);
	r = connect_and_lock(w, &err);
	if (r == 0)
		/* Another process works this mailbox. */
		ch_imap_wait_ms(w, mb->poll_interval_ms < LOCK_RETRY_MAX_MS
		                           ? mb->poll_interval_ms
		                           : LOCK_RETRY_MAX_MS);
	if (r < 0 && w->pg && PQstatus(w->pg) != CONNECTION_OK)
		pg_close(w);
	pthread_mutex_lock(&w->mu);
	if (r < 0)
		fail(w, &err);
	else if (r == 1)
		w->locked = true;
	pthread_cond_broadcast(&w->cond);
}

void *ch_imap_db_run(void *arg)
{
	struct ch_imap *w = arg;
	bool lost;

	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		if (w->failed) {
			/* Until the IMAP side has taken the news, which
			 * paces the retries by its backoff. */
			pthread_cond_wait(&w->cond, &w->mu);
			continue;
		}
		/* The lock goes with the connection. */
		lost = w->locked && PQstatus(w->pg) != CONNECTION_OK;
		if (lost) {
			pthread_mutex_unlock(&w->mu);
			pg_close(w);
			pthread_mutex_lock(&w->mu);
		} else if (!w->locked)
			get_lock(w);
		else if (w->state_asked)
			serve_state(w);
		else if (w->next)
			serve_round(w);
		else
			pthread_cond_wait(&w->cond, &w->mu);
	}
	/* A round still waiting is not committed: it comes again. */
	ch_imap_round_free(&w->next);
	pthread_mutex_unlock(&w->mu);
	pg_close(w);
	pthread_mutex_lock(&w->mu);
	w->db_exited = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Under mu: -1 with the news when the database side failed, or when
 * stopped; 0 otherwise. */
static int news(struct ch_imap *w, struct ktd_error *err)
{
	if (w->failed) {
		*err = w->fail_err;
		w->failed = false;
		pthread_cond_broadcast(&w->cond);
		return -1;
	}
	if (w->stop)
		return ktd_error_set(err, KTD_ERR_UNAVAILABLE, "stopped");
	return 0;
}

/* Under mu: waits for a change, or until the deadline of a wait of
 * CLOCK_MONOTONIC (NULL: none); false when it passed. */
static bool wait_change(struct ch_imap *w, const struct timespec *until)
{
	if (!until) {
		pthread_cond_wait(&w->cond, &w->mu);
		return true;
	}
	return pthread_cond_timedwait(&w->cond, &w->mu, until) != ETIMEDOUT;
}

int ch_imap_db_wait_locked(struct ch_imap *w, uint64_t ms,
                           struct ktd_error *err)
{
	struct timespec until;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(ms / 1000);
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mu);
	while ((r = news(w, err)) == 0 && !w->locked && wait_change(w, &until))
		;
	if (r == 0)
		r = w->locked ? 1 : 0;
	pthread_mutex_unlock(&w->mu);
	return r;
}

int ch_imap_db_wait(struct ch_imap *w, bool idle, uint32_t *uidvalidity_r,
                    uint32_t *last_r, struct ktd_error *err)
{
	int r;

	pthread_mutex_lock(&w->mu);
	while ((r = news(w, err)) == 0 && (w->next || (idle && w->busy)))
		wait_change(w, NULL);
	*uidvalidity_r = w->committed_uidvalidity;
	*last_r = w->committed_last;
	pthread_mutex_unlock(&w->mu);
	return r;
}

int ch_imap_db_state(struct ch_imap *w, uint32_t uidvalidity, uint32_t *last_r,
                     uint64_t *gen_r, struct ktd_error *err)
{
	uint32_t uv;
	int r;

	if (ch_imap_db_wait(w, true, &uv, last_r, err) < 0)
		return -1;
	pthread_mutex_lock(&w->mu);
	w->state_asked = true;
	w->state_uidvalidity = uidvalidity;
	pthread_cond_broadcast(&w->cond);
	/* The lock goes only with a failure, which news tells; to be sure
	 * not to wait for an answer that cannot come. */
	while ((r = news(w, err)) == 0 && w->state_asked && w->locked)
		wait_change(w, NULL);
	if (r == 0 && w->state_asked) {
		w->state_asked = false;
		r = ktd_error_set(err, KTD_ERR_UNAVAILABLE,
		                  "the mailbox's lock was lost");
	}
	*last_r = w->committed_last;
	*gen_r = w->gen;
	pthread_mutex_unlock(&w->mu);
	return r;
}

void ch_imap_db_push(struct ch_imap *w, struct ch_imap_round *rd)
{
	pthread_mutex_lock(&w->mu);
	ktd_assert(!w->next);
	if (rd->gen == w->gen && !w->failed) {
		w->next = rd;
		rd = NULL;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->mu);
	/* Of a gen that failed meanwhile: the IMAP side hears of it next. */
	ch_imap_round_free(&rd);
}

void ch_imap_db_wait_exited(struct ch_imap *w, uint32_t *uidvalidity_r,
                            uint32_t *last_r)
{
	pthread_mutex_lock(&w->mu);
	while (!w->db_exited)
		pthread_cond_wait(&w->cond, &w->mu);
	*uidvalidity_r = w->committed_uidvalidity;
	*last_r = w->committed_last;
	pthread_mutex_unlock(&w->mu);
}
