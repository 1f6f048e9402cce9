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
 * version; not for a receipt). Returns 0 with the contact's
 * id and, when json_r is not NULL, its JSON text (with the delivery;
 * caller frees), -1. */
int db_outbox_queue(PGconn *pg, const struct db_outbound *o,
                    int64_t *contact_id_r, char **json_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

#endif
