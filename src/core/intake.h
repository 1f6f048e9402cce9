/* SPDX-License-Identifier: MPL-2.0 */
/* Intake: the one way a contact enters the system, whatever its channel.
 * In one transaction it deduplicates on (channel, external id), threads
 * the contact onto an existing case or opens a new one, routes a new case
 * to a department, stores the contact, writes the audit row and notifies
 * live views (NOTIFY kontaktd). Personal data in the input (CPR, CVR) is
 * stored and never logged. */
#ifndef KTD_CORE_INTAKE_H
#define KTD_CORE_INTAKE_H

#include "core/core_common.h"

#include <libpq-fe.h>

#define INTAKE_REFERENCE_SIZE 24

/* One normalised contact, as a channel or an agent hands it in. All
 * strings are borrowed; NULL means absent. The caller has checked their
 * forms (channel name, phone, CPR, RFC 3339); the database enforces them
 * again. */
struct intake_contact {
	const char *channel;     /* case_channel_valid() */
	const char *direction;   /* "in", "out", "internal" */
	const char *external_id; /* idempotency key; NULL: none */
	const char *occurred_at; /* RFC 3339; NULL: now */
	const char *from_addr;
	const char *to_addr;
	const char *queue; /* phone queue, for routing only */
	const char *subject;
	const char *body;
	const char *raw_ref;
	/* Threading: an explicit case reference wins; else a case still
	 * worked of the same citizen phone or e-mail. */
	const char *case_reference;
	/* E-mail threading, when case_reference is NULL (before the
	 * citizen's open case): a subject with the tag "[SUBJECT_TAG REF]"
	 * (e.g. "[Sag 2026-000123]") joins that case if there is one (an
	 * unknown reference is ignored); else the first of reply_ids (the
	 * Message-IDs the mail answers, with angle brackets: In-Reply-To,
	 * then References newest first) that is a stored e-mail contact's
	 * (inbound, a reply or a receipt) joins that contact's case. */
	const char *subject_tag;
	const char *const *reply_ids;
	size_t n_reply_ids;
	/* Sent by a machine (RFC 3834: an auto-reply, a bounce, a list):
	 * threaded as any mail, but it never reopens a finished case nor
	 * opens a follow-up of one; it joins the finished case quietly. */
	bool automatic;
	/* The citizen, for a new case. */
	const char *citizen_name;
	const char *citizen_phone; /* E.164 (call_number_normalise) */
	const char *citizen_email;
	const char *citizen_cpr;
	const char *citizen_cvr;
	/* The caller, holding the intake_key_external lock, found no
	 * contact of (channel, external_id) in its transaction
	 * (db_contact_exist for several at once): intake does not look
	 * again. */
	bool known_new;
	/* A department chosen by hand; 0: route by the rules. */
	int64_t department_id;
	/* The caller holds this contact's intake locks already (of
	 * intake_key_external, and intake_key_citizen of its phone and
	 * e-mail), taken with others in one statement (db_case_lock_keys):
	 * intake does not take them again. */
	bool locks_held;
	/* The caller writes the case's live event (intake_result.live_type)
	 * with others in one statement: intake does not write it. */
	bool live_later;
	/* Who hands it in: a user, a token (by name) or neither (a channel
	 * worker); and from where. */
	int64_t actor_user_id;
	const char *actor_token_name;
	const char *peer;
};

struct intake_config {
	/* How long after a case's last contact a new contact of the same
	 * caller or sender still threads onto it; 0: never by caller
	 * ([intake] thread_window). */
	uint64_t thread_window_s;
	/* A citizen's e-mail that threads (subject tag, In-Reply-To,
	 * References) onto a finished case: onto a case resolved at most
	 * this long ago it reopens the case; onto a closed case, or one
	 * resolved longer ago, it opens a new case that follows up the old
	 * one (follow_up_of). 0: never reopen, always a follow-up
	 * ([intake] reopen_within). */
	uint64_t reopen_within_s;
};

struct intake_result {
	int64_t case_id;
	int64_t contact_id;
	char reference[INTAKE_REFERENCE_SIZE]; /* "" for a duplicate */
	bool duplicate; /* the contact existed: nothing was written */
	bool new_case;  /* a case was opened for it */
	bool reopened;  /* it reopened a resolved case */
	/* A new case opened as a follow-up: the old case's reference; ""
	 * otherwise. */
	char follow_up_of[INTAKE_REFERENCE_SIZE];
	/* With live_later: the case's live event to write (case.created or
	 * case.updated); "" for a duplicate. */
	char live_type[16];
};

/* The advisory lock keys intake takes for a contact (db_case_lock_key):
 * of its (channel, external id), and of a citizen's address (kind
 * "phone" or "email"). Into key; false when there is none. A caller that
 * takes several contacts in one transaction takes all their keys first,
 * in one order (db_case_lock_keys), so that two such transactions cannot
 * deadlock; intake's own later lock of the same key then costs nothing. */
#define INTAKE_KEY_SIZE 1100
bool intake_key_external(const char *channel, const char *external_id,
                         char key[INTAKE_KEY_SIZE]);
bool intake_key_citizen(const char *kind, const char *addr,
                        char key[INTAKE_KEY_SIZE]);

/* The case an e-mail threads onto by its subject tag or the Message-IDs
 * it answers (in->subject, subject_tag, reply_ids), before the state of
 * that case is looked at; reads only. Returns 1 with *case_id_r, 0: none,
 * -1. */
int intake_thread_mail(PGconn *pg, const struct intake_contact *in,
                       int64_t *case_id_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* The case reference in a subject's tag "[TAG REF]" into ref; false:
 * none. */
bool intake_subject_reference(const char *subject, const char *tag,
                              char ref[INTAKE_REFERENCE_SIZE]);

/* Takes in one contact; borrows pg (no transaction may be open on it).
 * Returns 0 with out filled, or -1: KTD_ERR_NOT_FOUND for an unknown
 * case_reference, KTD_ERR_UNPROCESSABLE for an unknown department_id or a
 * value the database refuses, KTD_ERR_UNAVAILABLE, KTD_ERR_INTERNAL.
 * Concurrent submissions of the same (channel, external_id) give one
 * contact; the others get it back with out->duplicate. */
int intake_submit(PGconn *pg, const struct intake_contact *in,
                  const struct intake_config *cfg, struct intake_result *out,
                  struct ktd_error *err) KTD_ATTR_NODISCARD;

/* The same inside the caller's transaction (begun, and committed or
 * rolled back by the caller): takes the idempotency lock, and on a
 * repeat returns 0 with out->duplicate having written nothing. A
 * conflict with a writer that did not take the lock is KTD_ERR_CONFLICT
 * (try again). Does not log: intake_log once committed. */
int intake_submit_tx(PGconn *pg, const struct intake_contact *in,
                     const struct intake_config *cfg, struct intake_result *out,
                     struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Inside the caller's transaction: contact contact_id on case case_id
 * (made without a citizen's number) now knows its citizen's phone
 * (E.164). Threads it as intake would have, had the number come first:
 * an untouched case of its own is merged into the citizen's open case
 * within the thread window (*case_id_r set to that case, returns 1);
 * otherwise the case takes the number (returns 0). -1 on error. */
int intake_learn_phone(PGconn *pg, int64_t case_id, int64_t contact_id,
                       const char *phone, const struct intake_config *cfg,
                       int64_t *case_id_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* The log line of a committed intake. */
void intake_log(const struct intake_contact *in,
                const struct intake_result *out);

/* Turns the database's refusals of input (a missing department, a
 * CHECK, a bad value) into KTD_ERR_UNPROCESSABLE. */
void intake_explain(struct ktd_error *err);

#endif
