/* SPDX-License-Identifier: MPL-2.0 */
/* SQL on outbound e-mail: the outbound_email contact that holds the
 * message and the outbox row that tracks its delivery. Message-IDs are
 * stored with their angle brackets, as in the header. */
#ifndef KTD_DB_OUTBOX_H
#define KTD_DB_OUTBOX_H

#include "db/db_common.h"

/* What a reply on a case needs to know: the case's reference, subject
 * and citizen e-mail; the newest inbound e-mail's Message-ID and sender;
 * the References chain (the case's last 20 Message-IDs, oldest first,
 * space-separated). NULL for none; db_outbox_context_free frees them. */
struct db_outbox_context {
	char *reference;
	char *subject;
	char *citizen_email;
	char *in_reply_to;
	char *sender;
	char *references;
};

int db_outbox_context(PGconn *pg, int64_t case_id,
                      struct db_outbox_context *ctx, struct ktd_error *err)
        KTD_ATTR_NODISCARD;
void db_outbox_context_free(struct db_outbox_context *ctx);

struct db_outbound {
	int64_t case_id;
	const char *kind; /* reply, receipt, forward */
	const char *message_id;
	const char *from_addr;
	const char *to_addr;
	const char *subject;
	const char *body;
	const char *in_reply_to; /* NULL: none */
	const char *references;  /* NULL: none */
	int64_t created_by;      /* 0: the system */
};

/* Queues o: the contact and its outbox row, and records the response on
 * the case (a new case becomes open; first response, newest contact,
 * version; not for a receipt), and NOTIFYs DB_OUTBOX_CHANNEL at commit so
 * that a mail worker sends it at once. Returns 0 with the contact's id and,
 * when json_r is not NULL, its JSON text (with the delivery; caller frees),
 * -1. */
int db_outbox_queue(PGconn *pg, const struct db_outbound *o,
                    int64_t *contact_id_r, char **json_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* The channel of the NOTIFY that db_outbox_queue sends (no payload). */
#define DB_OUTBOX_CHANNEL "ktd_outbox"

/* The columns of a row db_outbox_claim returns. */
enum db_outbox_col {
	DB_OUTBOX_ID,
	DB_OUTBOX_CONTACT_ID,
	DB_OUTBOX_CASE_ID,
	DB_OUTBOX_KIND,
	DB_OUTBOX_ATTEMPTS, /* counting this one */
	DB_OUTBOX_IN_REPLY_TO,
	DB_OUTBOX_REFERENCES,
	DB_OUTBOX_MESSAGE_ID,
	DB_OUTBOX_FROM,
	DB_OUTBOX_TO,
	DB_OUTBOX_SUBJECT,
	DB_OUTBOX_BODY,
	DB_OUTBOX_DATE, /* the contact's time, Unix seconds */
};

/* Claims up to limit rows that are due (queued, next_attempt_at passed),
 * skipping rows another process has locked, in one statement (its own
 * short transaction): each claimed row gets attempts + 1 and a lease,
 * next_attempt_at = now + lease_s, so that no other worker takes it while
 * this one sends it. If this worker dies before it records the result, the
 * row is sent again when the lease ends (at least once; the Message-ID
 * is the same). Returns 0 with the rows in *res_r (columns: enum
 * db_outbox_col; caller PQclear-s), -1. */
int db_outbox_claim(PGconn *pg, unsigned limit, uint64_t lease_s,
                    PGresult **res_r, struct ktd_error *err) KTD_ATTR_NODISCARD;

/* The result of one claimed row, with a live event on its case. Each is
 * a no-op on a row no longer queued. */
int db_outbox_sent(PGconn *pg, int64_t id, int64_t case_id,
                   struct ktd_error *err) KTD_ATTR_NODISCARD;
/* A temporary failure: next attempt after delay_s, error kept. */
int db_outbox_defer(PGconn *pg, int64_t id, int64_t case_id, uint64_t delay_s,
                    const char *error, struct ktd_error *err)
        KTD_ATTR_NODISCARD;
/* A permanent failure (status failed), error kept. */
int db_outbox_fail(PGconn *pg, int64_t id, int64_t case_id, const char *error,
                   struct ktd_error *err) KTD_ATTR_NODISCARD;

/* What a forward by e-mail summarises: the case (reference, subject,
 * citizen's name, phone and e-mail; never the CPR number) and its newest
 * contacts with text (newest last). NULL for none; free with
 * db_outbox_summary_free. */
#define DB_OUTBOX_SUMMARY_CONTACTS 5
struct db_outbox_summary {
	char *reference;
	char *subject;
	char *citizen_name;
	char *citizen_phone;
	char *citizen_email;
	size_t n;
	struct {
		char *occurred_at; /* RFC 3339 */
		char *channel;
		char *direction;
		char *from;
		char *subject;
		char *text; /* cut at DB_OUTBOX_SUMMARY_TEXT characters */
	} contacts[DB_OUTBOX_SUMMARY_CONTACTS];
};
#define DB_OUTBOX_SUMMARY_TEXT 4000

int db_outbox_summary(PGconn *pg, int64_t case_id,
                      struct db_outbox_summary *sum, struct ktd_error *err)
        KTD_ATTR_NODISCARD;
void db_outbox_summary_free(struct db_outbox_summary *sum);

#endif
