/* SPDX-License-Identifier: MPL-2.0 */
/* Intake: deduplicate, thread, route, store, audit, notify; in one
 * transaction. */
#include "core/core_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/str.h"
#include "db/tx.h"
#include "db/db_audit.h"
#include "db/db_case.h"
#include "db/db_contact.h"
#include "core/intake.h"

/* The rows of a repeat: the contact and its case (out->reference stays
 * empty). Returns 1, 0 or -1. */
static int find_existing(PGconn *pg, const struct intake_contact *in,
                         struct intake_result *out, struct ktd_error *err)
{
	int r;

	r = db_contact_find(pg, in->channel, in->external_id, &out->contact_id,
	                    &out->case_id, err);
	if (r == 1)
		out->duplicate = true;
	return r;
}

bool intake_key_citizen(const char *kind, const char *addr,
                        char key[INTAKE_KEY_SIZE])
{
	size_t i;

	if (!addr || !addr[0])
		return false;
	/* A key cut at the buffer's end still names one citizen. */
	snprintf(key, INTAKE_KEY_SIZE, "citizen:%s:%s", kind, addr);
	/* ASCII only: a key that differs in a non-ASCII letter's case
	 * only loses this guard, not a contact. */
	for (i = 0; key[i]; i++)
		if (key[i] >= 'A' && key[i] <= 'Z')
			key[i] = (char)(key[i] - 'A' + 'a');
	return true;
}

bool intake_key_external(const char *channel, const char *external_id,
                         char key[INTAKE_KEY_SIZE])
{
	if (!external_id)
		return false;
	snprintf(key, INTAKE_KEY_SIZE, "intake:%s:%s", channel, external_id);
	return true;
}

/* A transaction lock on one of the citizen's addresses (NULL: none). The
 * e-mail address is compared without case, as db_case_find_open does. */
static int lock_citizen(PGconn *pg, const char *kind, const char *addr,
                        struct ktd_error *err)
{
	char key[INTAKE_KEY_SIZE];

	if (!intake_key_citizen(kind, addr, key))
		return 0;
	return db_case_lock_key(pg, key, err);
}

/* The reference inside "[TAG REF]" in subject, into ref; false: none. */
bool intake_subject_reference(const char *subject, const char *tag,
                              char ref[INTAKE_REFERENCE_SIZE])
{
	const size_t refsz = INTAKE_REFERENCE_SIZE;
	const char *p;
	size_t tl, n;

	if (!subject || !tag || !tag[0])
		return false;
	tl = strlen(tag);
	for (p = strchr(subject, '['); p; p = strchr(p + 1, '[')) {
		if (strncasecmp(p + 1, tag, tl) != 0 || p[1 + tl] != ' ')
			continue;
		n = strspn(p + 2 + tl, "0123456789-");
		if (n == 0 || n >= refsz || p[2 + tl + n] != ']')
			continue;
		memcpy(ref, p + 2 + tl, n);
		ref[n] = '\0';
		return true;
	}
	return false;
}

int intake_thread_mail(PGconn *pg, const struct intake_contact *in,
                       int64_t *case_id_r, struct ktd_error *err)
{
	char ref[INTAKE_REFERENCE_SIZE];
	size_t i;
	int r;

	if (intake_subject_reference(in->subject, in->subject_tag, ref)) {
		r = db_case_by_reference(pg, ref, case_id_r, err);
		if (r != 0)
			return r;
	}
	for (i = 0; i < in->n_reply_ids; i++) {
		r = db_contact_case_by_message_id(pg, in->reply_ids[i],
		                                  case_id_r, err);
		if (r != 0)
			return r;
	}
	return 0;
}

/* Where a mail threaded onto case out->case_id goes, that case being
 * finished: a case resolved within reopen_within is reopened (returns 0
 * with out->reopened); a closed case or one resolved longer ago keeps its
 * state and the mail opens a follow-up (returns 1 with *follow_up_r, and
 * *dept_r the old case's department). A case still being worked, or an
 * automatic mail, joins the case as it is (returns 0). -1 on error. */
static int finished_case(PGconn *pg, const struct intake_contact *in,
                         const struct intake_config *cfg,
                         struct intake_result *out, int64_t *follow_up_r,
                         int64_t *dept_r, struct ktd_error *err)
{
	struct db_case_thread t;
	struct db_audit_actor actor;
	char *json = NULL;
	int r;

	r = db_case_lock_thread(pg, out->case_id, &t, err);
	if (r <= 0)
		return r < 0 ? -1 : 0;
	if (in->automatic || (strcmp(t.status, "resolved") != 0 &&
	                      strcmp(t.status, "closed") != 0))
		return 0;
	if (strcmp(t.status, "resolved") == 0 && cfg->reopen_within_s > 0 &&
	    t.resolved_age_s >= 0 &&
	    (uint64_t)t.resolved_age_s <= cfg->reopen_within_s) {
		if (db_case_reopen(pg, out->case_id, false, &json, err) < 0)
			return -1;
		free(json);
		/* The system did it, on the citizen's mail: no user, no
		 * token; the peer names the mailbox. */
		memset(&actor, 0, sizeof(actor));
		actor.peer = in->peer;
		if (db_audit_add(pg, &actor, "update", out->case_id,
		                 "{\"reopen\": \"resolved\", \"by\": "
		                 "\"citizen_reply\"}",
		                 err) < 0)
			return -1;
		out->reopened = true;
		return 0;
	}
	*follow_up_r = out->case_id;
	*dept_r = t.department_id;
	ktd_strlcpy(out->follow_up_of, t.reference, sizeof(out->follow_up_of));
	out->case_id = 0;
	return 1;
}

/* The case the contact belongs to, existing or new. */
static int choose_case(PGconn *pg, const struct intake_contact *in,
                       const struct intake_config *cfg,
                       struct intake_result *out, struct ktd_error *err)
{
	struct db_case_new c;
	int64_t dept = in->department_id, follow_up = 0, old_dept = 0;
	int r;

	if (in->case_reference) {
		r = db_case_by_reference(pg, in->case_reference, &out->case_id,
		                         err);
		if (r < 0)
			return -1;
		if (r == 0)
			return ktd_error_set(err, KTD_ERR_NOT_FOUND,
			                     "no case with reference '%s'",
			                     in->case_reference);
		return 0;
	}
	r = intake_thread_mail(pg, in, &out->case_id, err);
	if (r < 0)
		return -1;
	if (r == 1) {
		r = finished_case(pg, in, cfg, out, &follow_up, &old_dept, err);
		if (r <= 0)
			return r;
	}
	if (!follow_up && cfg->thread_window_s > 0 &&
	    (in->citizen_phone || in->citizen_email)) {
		/* Two first contacts of one citizen at once (two calls, a
		 * call and a mail) must not open two cases: the second
		 * waits here until the first has committed its case, and
		 * then finds it. Phone before e-mail, always, so that two
		 * contacts holding one each cannot wait for each other. */
		if (!in->locks_held &&
		    (lock_citizen(pg, "phone", in->citizen_phone, err) < 0 ||
		     lock_citizen(pg, "email", in->citizen_email, err) < 0))
			return -1;
		r = db_case_find_open(pg, in->citizen_phone, in->citizen_email,
		                      cfg->thread_window_s, &out->case_id, err);
		if (r < 0)
			return -1;
		if (r == 1)
			return 0;
	}
	if (dept == 0) {
		r = db_case_route(pg, in->to_addr, in->queue, in->subject,
		                  &dept, err);
		if (r < 0)
			return -1;
	}
	if (dept == 0)
		/* A follow-up no rule routes goes where its case went. */
		dept = old_dept;
	memset(&c, 0, sizeof(c));
	c.subject = in->subject;
	c.department_id = dept;
	c.citizen_name = in->citizen_name;
	c.citizen_phone = in->citizen_phone;
	c.citizen_email = in->citizen_email;
	c.citizen_cpr = in->citizen_cpr;
	c.citizen_cvr = in->citizen_cvr;
	c.occurred_at = in->occurred_at;
	c.follow_up_of_id = follow_up;
	if (db_case_insert(pg, &c, &out->case_id, out->reference, err) < 0)
		return -1;
	out->new_case = true;
	return 0;
}

int intake_learn_phone(PGconn *pg, int64_t case_id, int64_t contact_id,
                       const char *phone, const struct intake_config *cfg,
                       int64_t *case_id_r, struct ktd_error *err)
{
	if (lock_citizen(pg, "phone", phone, err) < 0)
		return -1;
	return db_case_adopt_phone(pg, case_id, contact_id, phone,
	                           cfg->thread_window_s, case_id_r, err);
}

/* Maps the database's refusals of input to 422s that name the field. */
static void explain(struct ktd_error *err)
{
	if (strcmp(err->sqlstate, "23503") == 0)
		ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		              "department_id: no such department");
	else if (strcmp(err->sqlstate, "23514") == 0 ||
	         strcmp(err->sqlstate, "22P02") == 0 ||
	         strcmp(err->sqlstate, "22007") == 0 ||
	         strcmp(err->sqlstate, "22008") == 0)
		ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		              "a value was refused by the database's rules");
}

int intake_submit_tx(PGconn *pg, const struct intake_contact *in,
                     const struct intake_config *cfg, struct intake_result *out,
                     struct ktd_error *err)
{
	struct db_contact_new ct;
	struct db_audit_actor actor;
	char key[INTAKE_KEY_SIZE], detail[80];
	int r;

	memset(out, 0, sizeof(*out));
	if (intake_key_external(in->channel, in->external_id, key)) {
		/* Identical submissions at once queue here, and the second
		 * finds the first's contact once it has committed. */
		if (!in->locks_held && db_case_lock_key(pg, key, err) < 0)
			return -1;
		r = in->known_new ? 0 : find_existing(pg, in, out, err);
		if (r != 0)
			return r < 0 ? -1 : 0;
	}
	if (choose_case(pg, in, cfg, out, err) < 0)
		return -1;

	memset(&ct, 0, sizeof(ct));
	ct.case_id = out->case_id;
	ct.channel = in->channel;
	ct.direction = in->direction;
	ct.external_id = in->external_id;
	ct.occurred_at = in->occurred_at;
	ct.from_addr = in->from_addr;
	ct.to_addr = in->to_addr;
	ct.subject = in->subject;
	ct.body = in->body;
	ct.raw_ref = in->raw_ref;
	ct.created_by = in->actor_user_id;
	r = db_contact_insert(pg, &ct, &out->contact_id, err);
	if (r < 0)
		return -1;
	if (r == 0)
		/* Taken by a writer that did not take the advisory lock (or
		 * a hash collision let two keys share it). */
		return ktd_error_set(err, KTD_ERR_CONFLICT,
		                     "the contact was stored at the same "
		                     "moment by another writer");
	/* Only a message to the citizen answers them: a note does not. */
	if (db_case_touch(pg, out->case_id, strcmp(in->direction, "out") == 0,
	                  out->reference, err) < 0)
		return -1;

	memset(&actor, 0, sizeof(actor));
	actor.user_id = in->actor_user_id;
	actor.token_name = in->actor_token_name;
	actor.peer = in->peer;
	if (out->follow_up_of[0])
		snprintf(detail, sizeof(detail), "{\"follow_up_of\": \"%s\"}",
		         out->follow_up_of);
	ktd_strlcpy(out->live_type,
	            out->new_case ? "case.created" : "case.updated",
	            sizeof(out->live_type));
	/* (In a mail round both statements go in one round trip: their
	 * results are not read, db_defer_begin.) */
	if (db_audit_add(pg, &actor, out->new_case ? "create" : "update",
	                 out->case_id, out->follow_up_of[0] ? detail : NULL,
	                 err) < 0)
		return -1;
	if (in->live_later)
		return 0;
	return db_case_notify(pg, out->live_type, out->case_id, err);
}

int intake_submit(PGconn *pg, const struct intake_contact *in,
                  const struct intake_config *cfg, struct intake_result *out,
                  struct ktd_error *err)
{
	if (db_tx_begin(pg, err) < 0)
		return -1;
	if (intake_submit_tx(pg, in, cfg, out, err) < 0) {
		db_tx_rollback(pg);
		if (err->code != KTD_ERR_CONFLICT || !in->external_id) {
			explain(err);
			return -1;
		}
		/* Lost to a writer without the lock: answer with theirs. */
		memset(out, 0, sizeof(*out));
		if (db_contact_find(pg, in->channel, in->external_id,
		                    &out->contact_id, &out->case_id,
		                    err) <= 0) {
			if (err->code == KTD_ERR_NONE)
				ktd_error_set(err, KTD_ERR_CONFLICT,
				              "the contact vanished");
			return -1;
		}
		out->duplicate = true;
		return 0;
	}
	if (out->duplicate) {
		db_tx_rollback(pg);
		return 0;
	}
	if (db_tx_commit(pg, err) < 0) {
		explain(err);
		return -1;
	}
	intake_log(in, out);
	return 0;
}

void intake_log(const struct intake_contact *in,
                const struct intake_result *out)
{
	ktd_log_info("event=intake case=%s channel=%s contact=%" PRId64
	             " new_case=%s%s%s%s",
	             out->reference, in->channel, out->contact_id,
	             out->new_case ? "yes" : "no",
	             out->reopened ? " reopened=yes" : "",
	             out->follow_up_of[0] ? " follow_up_of=" : "",
	             out->follow_up_of);
}

void intake_explain(struct ktd_error *err)
{
	explain(err);
}
