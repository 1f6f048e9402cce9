/* SPDX-License-Identifier: MPL-2.0 */
/* Case actions: lock, check the version and the transition, change,
 * audit, notify; in one transaction. */
#include "core/core_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "db/tx.h"
#include "db/db_audit.h"
#include "db/db_case.h"
#include "db/db_outbox.h"
#include "core/directory.h"
#include "core/case.h"
#include "core/case_action.h"

static int forward_mail(PGconn *pg, int64_t id, const char *to,
                        const char *reason, const struct case_mail *mail,
                        int64_t user_id, int64_t *contact_id_r,
                        struct ktd_error *err);

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++) {
		if (strcmp(s, *list) == 0)
			return true;
	}
	return false;
}

bool case_action_resolution_valid(const char *s)
{
	static const char *const list[] = {"resolved_first_contact",
	                                   "answered_later",
	                                   "callback",
	                                   "duplicate",
	                                   "spam",
	                                   NULL};

	return in_list(s, list);
}

bool case_action_method_valid(const char *s)
{
	static const char *const list[] = {"queue",    "hunt_group", "ivr",
	                                   "callback", "direct",     "email",
	                                   NULL};

	return in_list(s, list);
}

/* Begins the transaction and locks the case. Returns 0 with *st, or -1
 * with the transaction rolled back: not found, or a version conflict
 * with the current case in *json_r. */
static int begin(PGconn *pg, int64_t id, int64_t version, bool show_cpr,
                 struct db_case_state *st, char **json_r, struct ktd_error *err)
{
	int r;

	*json_r = NULL;
	if (db_tx_begin(pg, err) < 0)
		return -1;
	r = db_case_lock(pg, id, st, err);
	if (r == 0)
		ktd_error_set(err, KTD_ERR_NOT_FOUND, "no such case");
	if (r <= 0)
		goto fail;
	if (version == 0 || version == st->version)
		return 0;
	if (db_case_get_json(pg, id, show_cpr, json_r, err) < 0)
		goto fail;
	ktd_error_set(err, KTD_ERR_CONFLICT,
	              "the case was changed by someone else: it is at "
	              "another version");
fail:
	db_tx_rollback(pg);
	return -1;
}

/* Refuses the action in the case's current state: the current case in
 * *json_r, the transaction rolled back. Returns -1. */
static int refuse(PGconn *pg, int64_t id, bool show_cpr, char **json_r,
                  struct ktd_error *err, const char *status, const char *what)
{
	struct ktd_error e2;

	if (db_case_get_json(pg, id, show_cpr, json_r, &e2) < 0) {
		*err = e2;
		db_tx_rollback(pg);
		return -1;
	}
	ktd_error_set(err, KTD_ERR_CONFLICT, "a case that is %s cannot %s",
	              status, what);
	db_tx_rollback(pg);
	return -1;
}

/* Audits, notifies and commits; rolls back and frees *json_r on
 * failure. */
static int finish(PGconn *pg, int64_t id, const struct case_actor *actor,
                  const char *action, const char *detail, char **json_r,
                  struct ktd_error *err)
{
	struct db_audit_actor a;

	memset(&a, 0, sizeof(a));
	a.user_id = actor->user_id;
	a.token_name = actor->token_name;
	a.peer = actor->peer;
	if (db_audit_add(pg, &a, action, id, detail, err) < 0 ||
	    db_case_notify(pg, "case.updated", id, err) < 0 ||
	    db_tx_commit(pg, err) < 0) {
		db_tx_rollback(pg);
		free(*json_r);
		*json_r = NULL;
		return -1;
	}
	return 0;
}

/* A failure after begin(): rolls back; a CHECK violation is the
 * client's input. */
static int fail(PGconn *pg, char **json_r, struct ktd_error *err)
{
	if (err->code != KTD_ERR_UNPROCESSABLE &&
	    strcmp(err->sqlstate, "23514") == 0)
		ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		              "a value was refused by the database's rules");
	db_tx_rollback(pg);
	free(*json_r);
	*json_r = NULL;
	return -1;
}

int case_action_resolve(PGconn *pg, int64_t id, int64_t version,
                        const char *resolution, const char *category,
                        const struct case_actor *actor, bool show_cpr,
                        char **json_r, struct ktd_error *err)
{
	struct db_case_state st;
	char detail[96];

	if (begin(pg, id, version, show_cpr, &st, json_r, err) < 0)
		return -1;
	if (st.merged || strcmp(st.status, "resolved") == 0 ||
	    strcmp(st.status, "closed") == 0)
		return refuse(pg, id, show_cpr, json_r, err,
		              st.merged ? "merged" : st.status, "be resolved");
	if (db_case_resolve(pg, id, resolution, category, show_cpr, json_r,
	                    err) < 0)
		return fail(pg, json_r, err);
	snprintf(detail, sizeof(detail),
	         "{\"resolution\": \"%s\", \"from\": \"%s\"}", resolution,
	         st.status);
	return finish(pg, id, actor, "resolve", detail, json_r, err);
}

int case_action_forward(PGconn *pg, int64_t id, int64_t version,
                        int64_t department_id, const char *method,
                        const char *reason, const struct case_mail *mail,
                        const struct case_actor *actor, bool show_cpr,
                        char **json_r, struct ktd_error *err)
{
	struct db_case_state st;
	struct db_case_forward f;
	char target[DB_CASE_TARGET_SIZE], detail[224], mailed[48] = "";
	bool has_target, needs_target;
	int64_t forward_id, contact_id;
	int r;

	if (begin(pg, id, version, show_cpr, &st, json_r, err) < 0)
		return -1;
	if (st.merged || strcmp(st.status, "closed") == 0)
		return refuse(pg, id, show_cpr, json_r, err,
		              st.merged ? "merged" : st.status, "be forwarded");
	r = db_case_department_target(pg, department_id, method, target,
	                              &has_target, err);
	if (r < 0)
		return fail(pg, json_r, err);
	if (r == 0) {
		ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		              "field 'department_id' names no active "
		              "department");
		return fail(pg, json_r, err);
	}
	needs_target = strcmp(method, "callback") != 0 &&
	               strcmp(method, "direct") != 0;
	if (needs_target && !has_target) {
		ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		              "field 'method': the department has no target "
		              "for %s",
		              method);
		return fail(pg, json_r, err);
	}
	/* Without [smtp] from the forward is recorded only, as before
	 * kontaktd sent mail. The mail goes first, so that the case the
	 * forward answers with shows it. */
	if (strcmp(method, "email") == 0 && mail && mail->from && *mail->from) {
		if (!case_mail_address_valid(target)) {
			ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
			              "field 'department_id': the department's "
			              "e-mail address is not a plain address");
			return fail(pg, json_r, err);
		}
		if (forward_mail(pg, id, target, reason, mail, actor->user_id,
		                 &contact_id, err) < 0)
			return fail(pg, json_r, err);
		snprintf(mailed, sizeof(mailed), ", \"contact_id\": %" PRId64,
		         contact_id);
	}
	memset(&f, 0, sizeof(f));
	f.from_department_id = st.department_id;
	f.to_department_id = department_id;
	f.method = method;
	f.target = has_target ? target : NULL;
	f.reason = reason;
	f.by_user_id = actor->user_id;
	if (db_case_forward(pg, id, &f, show_cpr, json_r, &forward_id, err) < 0)
		return fail(pg, json_r, err);
	snprintf(detail, sizeof(detail),
	         "{\"forward_id\": %" PRId64
	         ", \"from_department_id\": %" PRId64
	         ", \"to_department_id\": %" PRId64 ", \"method\": \"%s\"%s}",
	         forward_id, st.department_id, department_id, method, mailed);
	return finish(pg, id, actor, "forward", detail, json_r, err);
}

int case_action_note_add(PGconn *pg, int64_t id, int64_t version,
                         const char *text, const struct case_actor *actor,
                         bool show_cpr, char **json_r, struct ktd_error *err)
{
	struct db_case_state st;
	char detail[64];
	int64_t contact_id;

	if (begin(pg, id, version, show_cpr, &st, json_r, err) < 0)
		return -1;
	if (st.merged)
		return refuse(pg, id, show_cpr, json_r, err, "merged",
		              "take notes");
	if (db_case_note_add(pg, id, text, actor->user_id, json_r, &contact_id,
	                     err) < 0)
		return fail(pg, json_r, err);
	snprintf(detail, sizeof(detail), "{\"note\": %" PRId64 "}", contact_id);
	return finish(pg, id, actor, "update", detail, json_r, err);
}

int case_action_reopen(PGconn *pg, int64_t id, int64_t version,
                       const struct case_actor *actor, bool show_cpr,
                       char **json_r, struct ktd_error *err)
{
	struct db_case_state st;
	char detail[64];

	if (begin(pg, id, version, show_cpr, &st, json_r, err) < 0)
		return -1;
	if (st.merged || (strcmp(st.status, "resolved") != 0 &&
	                  strcmp(st.status, "closed") != 0))
		return refuse(pg, id, show_cpr, json_r, err,
		              st.merged ? "merged" : st.status, "be reopened");
	if (db_case_reopen(pg, id, show_cpr, json_r, err) < 0)
		return fail(pg, json_r, err);
	snprintf(detail, sizeof(detail), "{\"reopen\": \"%s\"}", st.status);
	return finish(pg, id, actor, "update", detail, json_r, err);
}

/* Locks cases id and into in id order, so that two merges of the same
 * pair cannot deadlock. Returns -1, or which were found: 1 for id, 2 for
 * into. */
static int lock_pair(PGconn *pg, int64_t id, int64_t into,
                     struct db_case_state *st, struct db_case_state *tt,
                     struct ktd_error *err)
{
	bool id_first = id < into;
	int r1, r2;

	r1 = db_case_lock(pg, id_first ? id : into, id_first ? st : tt, err);
	if (r1 < 0)
		return -1;
	r2 = db_case_lock(pg, id_first ? into : id, id_first ? tt : st, err);
	if (r2 < 0)
		return -1;
	return id_first ? (r1 | r2 << 1) : (r2 | r1 << 1);
}

int case_action_merge(PGconn *pg, int64_t id, int64_t version, int64_t into,
                      const struct case_actor *actor, bool show_cpr,
                      char **json_r, struct ktd_error *err)
{
	struct db_case_state st, tt;
	struct db_audit_actor a;
	char detail[96];
	int64_t moved;
	int r;

	*json_r = NULL;
	if (into == id)
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field 'into': a case cannot be merged "
		                     "into itself");
	if (db_tx_begin(pg, err) < 0)
		return -1;
	r = lock_pair(pg, id, into, &st, &tt, err);
	if (r < 0)
		return fail(pg, json_r, err);
	if (!(r & 1)) {
		ktd_error_set(err, KTD_ERR_NOT_FOUND, "no such case");
		return fail(pg, json_r, err);
	}
	if (!(r & 2)) {
		ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		              "field 'into' names no case");
		return fail(pg, json_r, err);
	}
	if ((version != 0 && version != st.version) || st.merged || tt.merged) {
		if (db_case_get_json(pg, id, show_cpr, json_r, err) < 0)
			return fail(pg, json_r, err);
		if (version != 0 && version != st.version)
			ktd_error_set(err, KTD_ERR_CONFLICT,
			              "the case was changed by someone else: "
			              "it is at another version");
		else if (st.merged)
			ktd_error_set(err, KTD_ERR_CONFLICT,
			              "a case that is merged cannot be merged "
			              "again");
		else
			ktd_error_set(err, KTD_ERR_CONFLICT,
			              "case %" PRId64 " is merged into another "
			              "case: merge into that one",
			              into);
		db_tx_rollback(pg);
		return -1;
	}
	if (db_case_merge(pg, id, into, show_cpr, json_r, &moved, err) < 0)
		return fail(pg, json_r, err);
	memset(&a, 0, sizeof(a));
	a.user_id = actor->user_id;
	a.token_name = actor->token_name;
	a.peer = actor->peer;
	snprintf(detail, sizeof(detail),
	         "{\"merged_from\": %" PRId64 ", \"contacts\": %" PRId64 "}",
	         id, moved);
	if (db_audit_add(pg, &a, "merge", into, detail, err) < 0 ||
	    db_case_notify(pg, "case.updated", into, err) < 0)
		return fail(pg, json_r, err);
	snprintf(detail, sizeof(detail),
	         "{\"merged_into\": %" PRId64 ", \"contacts\": %" PRId64 "}",
	         into, moved);
	return finish(pg, id, actor, "merge", detail, json_r, err);
}

bool case_mail_address_valid(const char *s)
{
	struct ktd_error err;

	return directory_email_check(s, &err) == 0 &&
	       !strpbrk(s, "<>()[]\\,;:\"\t");
}

/* "<2026-000123.9f86d081884c7d65@example.dk>": the reference for the
 * people who read headers, 64 random bits so that it is unique. */
static void message_id(const char *reference, const char *from, char *out,
                       size_t outsz)
{
	unsigned char rnd[8];
	char hex[sizeof(rnd) * 2 + 1];
	const char *domain = strrchr(from, '@');

	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	snprintf(out, outsz, "<%s.%s@%s>", reference, hex,
	         domain ? domain + 1 : "localhost");
}

/* The reply's subject: the agent's, or "Re: " and the case's; with the
 * case's tag unless it is in it already. Caller frees. */
static char *reply_subject(const char *given, const char *case_subject,
                           const char *tag, const char *reference)
{
	char tagged[128];
	const char *base;
	bool re;

	snprintf(tagged, sizeof(tagged), "[%s %s]", tag, reference);
	if (given && *given) {
		base = given;
		re = false;
	} else if (case_subject && *case_subject) {
		base = case_subject;
		re = strncasecmp(base, "re:", 3) != 0 &&
		     strncasecmp(base, "sv:", 3) != 0;
	} else {
		base = "Svar på din henvendelse";
		re = false;
	}
	if (strstr(base, tagged))
		return ktd_strdup_printf("%s%s", re ? "Re: " : "", base);
	return ktd_strdup_printf("%s%s %s", re ? "Re: " : "", base, tagged);
}

/* "Videresendt: <case subject> [Sag 2026-000123]". Caller frees. */
static char *forward_subject(const char *case_subject, const char *tag,
                             const char *reference)
{
	char tagged[128];

	snprintf(tagged, sizeof(tagged), "[%s %s]", tag, reference);
	if (case_subject && *case_subject && !strstr(case_subject, tagged))
		return ktd_strdup_printf("Videresendt: %s %s", case_subject,
		                         tagged);
	return ktd_strdup_printf("Videresendt: %s",
	                         case_subject && *case_subject ? case_subject
	                                                       : tagged);
}

/* Queues o (its message_id made here) on its case in the caller's
 * transaction: the one way kontaktd writes outbound mail. */
static int queue_mail(PGconn *pg, struct db_outbound *o, const char *reference,
                      int64_t *contact_id_r, char **json_r,
                      struct ktd_error *err)
{
	char mid[256];

	message_id(reference, o->from_addr, mid, sizeof(mid));
	o->message_id = mid;
	return db_outbox_queue(pg, o, contact_id_r, json_r, err);
}

/* The text of a forward by e-mail: what the department needs to take the
 * case over, in Danish. Caller frees. */
static char *forward_text(const struct db_outbox_summary *sum,
                          const char *reason)
{
	struct ktd_buf b;
	size_t i;
	int r = 0;

	/* Bounded by the summary's limits, far below the body's 1 MiB. */
	ktd_buf_init(&b, 1024 * 1024);
	r |= ktd_buf_printf(
	        &b, "Kontaktcentret har videresendt sag %s til jer.\n\n",
	        sum->reference);
	if (reason && *reason)
		r |= ktd_buf_printf(&b, "Begrundelse: %s\n\n", reason);
	r |= ktd_buf_printf(&b, "Sag: %s\nEmne: %s\n", sum->reference,
	                    sum->subject && *sum->subject ? sum->subject
	                                                  : "(intet emne)");
	if (sum->citizen_name)
		r |= ktd_buf_printf(&b, "Borger: %s\n", sum->citizen_name);
	if (sum->citizen_phone)
		r |= ktd_buf_printf(&b, "Telefon: %s\n", sum->citizen_phone);
	if (sum->citizen_email)
		r |= ktd_buf_printf(&b, "E-mail: %s\n", sum->citizen_email);
	if (sum->n > 0)
		r |= ktd_buf_printf(&b, "\nSeneste henvendelser (nyeste "
		                        "sidst):\n");
	for (i = 0; i < sum->n; i++) {
		r |= ktd_buf_printf(
		        &b, "\n--- %s, %s (%s)%s%s%s%s ---\n%s\n",
		        sum->contacts[i].occurred_at, sum->contacts[i].channel,
		        sum->contacts[i].direction,
		        sum->contacts[i].from ? ", fra " : "",
		        sum->contacts[i].from ? sum->contacts[i].from : "",
		        sum->contacts[i].subject && *sum->contacts[i].subject
		                ? ": "
		                : "",
		        sum->contacts[i].subject ? sum->contacts[i].subject
		                                 : "",
		        sum->contacts[i].text);
	}
	r |= ktd_buf_printf(&b, "\nSvar på denne e-mail, hvis sagen skal "
	                        "tilbage til kontaktcentret.\n");
	if (r != 0)
		ktd_panic("forward text over its bound");
	return ktd_buf_steal(&b, NULL);
}

/* Queues the forward of case id by e-mail to the address to. */
static int forward_mail(PGconn *pg, int64_t id, const char *to,
                        const char *reason, const struct case_mail *mail,
                        int64_t user_id, int64_t *contact_id_r,
                        struct ktd_error *err)
{
	struct db_outbox_summary sum;
	struct db_outbound o;
	char *subject = NULL, *text = NULL, *masked_reason = NULL;
	size_t i;
	int ret;

	if (db_outbox_summary(pg, id, &sum, err) < 0)
		return -1;
	/* A CPR number someone wrote into a subject, a contact or the
	 * reason does not leave by mail. */
	if (sum.subject)
		ktd_log_mask_cpr(sum.subject);
	for (i = 0; i < sum.n; i++) {
		if (sum.contacts[i].subject)
			ktd_log_mask_cpr(sum.contacts[i].subject);
		if (sum.contacts[i].text)
			ktd_log_mask_cpr(sum.contacts[i].text);
	}
	masked_reason = reason ? ktd_strdup(reason) : NULL;
	if (masked_reason)
		ktd_log_mask_cpr(masked_reason);
	subject =
	        forward_subject(sum.subject, mail->subject_tag, sum.reference);
	text = forward_text(&sum, masked_reason);
	memset(&o, 0, sizeof(o));
	o.case_id = id;
	o.kind = "forward";
	o.from_addr = mail->from;
	o.to_addr = to;
	o.subject = subject;
	o.body = text;
	o.created_by = user_id;
	ret = queue_mail(pg, &o, sum.reference, contact_id_r, NULL, err);
	free(masked_reason);
	free(subject);
	free(text);
	db_outbox_summary_free(&sum);
	return ret;
}

int case_action_reply(PGconn *pg, int64_t id, int64_t version,
                      const struct case_reply *r,
                      const struct case_actor *actor, bool show_cpr,
                      char **json_r, struct ktd_error *err)
{
	struct db_case_state st;
	struct db_outbox_context ctx;
	struct db_outbound o;
	char detail[64], *subject = NULL;
	const char *to;
	int64_t contact_id;
	int ret = -1;

	if (begin(pg, id, version, show_cpr, &st, json_r, err) < 0)
		return -1;
	if (st.merged || strcmp(st.status, "closed") == 0)
		return refuse(pg, id, show_cpr, json_r, err,
		              st.merged ? "merged" : "closed",
		              "be answered (reopen it first)");
	if (db_outbox_context(pg, id, &ctx, err) < 0)
		goto out;
	to = r->to ? r->to : ctx.sender ? ctx.sender : ctx.citizen_email;
	if (!to) {
		ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		              "field 'to' is required: the case has no e-mail "
		              "address to answer");
		goto out;
	}
	if (!case_mail_address_valid(to)) {
		ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		              "field 'to' is not a plain e-mail address "
		              "(name@example.dk)%s",
		              r->to ? ""
		                    : ": the case's address cannot be used");
		goto out;
	}
	subject = reply_subject(r->subject, ctx.subject, r->subject_tag,
	                        ctx.reference);
	memset(&o, 0, sizeof(o));
	o.case_id = id;
	o.kind = "reply";
	o.from_addr = r->from;
	o.to_addr = to;
	o.subject = subject;
	o.body = r->text;
	o.in_reply_to = ctx.in_reply_to;
	o.references = ctx.references;
	o.created_by = r->user_id;
	if (queue_mail(pg, &o, ctx.reference, &contact_id, json_r, err) < 0)
		goto out;
	snprintf(detail, sizeof(detail), "{\"contact_id\": %" PRId64 "}",
	         contact_id);
	ret = finish(pg, id, actor, "reply", detail, json_r, err);
	goto done;
out:
	fail(pg, json_r, err);
done:
	free(subject);
	db_outbox_context_free(&ctx);
	return ret;
}

/* The receipt's text (Danish); caller frees. */
static char *receipt_text(const struct case_receipt *r, const char *reference,
                          const char *tag)
{
	const char *who = r->municipality[0] ? r->municipality : "os";
	char *hours = NULL, *text;

	if (r->opening_hours[0])
		hours = ktd_strdup_printf("Vores åbningstider: %s\n\n",
		                          r->opening_hours);
	text = ktd_strdup_printf(
	        "Kære borger\n\n"
	        "Tak for din henvendelse til %s. Vi har modtaget den og "
	        "oprettet sag nummer %s.\n\n"
	        "Skriver du til os igen om det samme, så svar på denne mail, "
	        "eller skriv [%s %s] i emnefeltet, så kommer din mail på "
	        "samme sag.\n\n"
	        "%s"
	        "Dette er en automatisk kvittering; du skal ikke svare på "
	        "den for at vi behandler din henvendelse.\n\n"
	        "Med venlig hilsen\n%s\n",
	        who, reference, tag, reference, hours ? hours : "",
	        r->municipality[0] ? r->municipality : "Kontaktcentret");
	free(hours);
	return text;
}

int case_receipt_queue(PGconn *pg, int64_t id, const struct case_receipt *r,
                       const char *to, int64_t *contact_id_r,
                       struct ktd_error *err)
{
	struct db_outbox_context ctx;
	struct db_outbound o;
	char *subject = NULL, *text = NULL, *given = NULL;
	int ret = -1;

	if (db_outbox_context(pg, id, &ctx, err) < 0)
		return -1;
	given = ktd_strdup_printf("Kvittering: %s",
	                          ctx.subject && ctx.subject[0]
	                                  ? ctx.subject
	                                  : "din henvendelse");
	subject = reply_subject(given, NULL, r->subject_tag, ctx.reference);
	text = receipt_text(r, ctx.reference, r->subject_tag);
	memset(&o, 0, sizeof(o));
	o.case_id = id;
	o.kind = "receipt";
	o.from_addr = r->from;
	o.to_addr = to;
	o.subject = subject;
	o.body = text;
	o.in_reply_to = ctx.in_reply_to;
	o.references = ctx.references;
	ret = queue_mail(pg, &o, ctx.reference, contact_id_r, NULL, err);
	free(text);
	free(subject);
	free(given);
	db_outbox_context_free(&ctx);
	return ret;
}
