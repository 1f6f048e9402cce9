/* SPDX-License-Identifier: MPL-2.0 */
/* SQL of the e-mail intake (sql/010_mail.sql): each mailbox's position,
 * the raw messages, attachments of inbound mail, the receipt rate limit
 * and the advisory lock that lets one process poll a mailbox. */
#ifndef KTD_DB_MAIL_H
#define KTD_DB_MAIL_H

#include "db/db_common.h"

/* The session-level advisory lock of mailbox name on pg, held until the
 * connection closes. Returns 1 taken, 0 held by another session, -1. */
int db_mail_try_lock(PGconn *pg, const char *name, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* The stored position of mailbox name. Returns 1 with *uidvalidity_r and
 * *last_uid_r, 0 when the mailbox has none yet, -1. */
int db_mail_state_get(PGconn *pg, const char *name, uint32_t *uidvalidity_r,
                      uint32_t *last_uid_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* Sets the position of mailbox name (made if new). */
int db_mail_state_set(PGconn *pg, const char *name, uint32_t uidvalidity,
                      uint32_t last_uid, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* The raw message of contact contact_id (len bytes of data; truncated:
 * only its header, of a message of size bytes). */
struct db_mail_raw {
	int64_t contact_id;
	const char *mailbox;
	uint32_t uidvalidity, uid;
	uint64_t size;
	bool truncated;
	const char *data;
	size_t len;
};

int db_mail_raw_insert(PGconn *pg, const struct db_mail_raw *r,
                       struct ktd_error *err) KTD_ATTR_NODISCARD;

/* An attachment of contact contact_id; sha256_hex is 64 hex digits. */
int db_mail_attachment_insert(PGconn *pg, int64_t contact_id,
                              const char *filename, const char *content_type,
                              const unsigned char *data, size_t size,
                              const char *sha256_hex, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* Claims the right to send address (compared in lower case) a receipt:
 * returns 1 when it got none in the last interval_s seconds (now it has),
 * 0 when it did, -1. */
int db_mail_receipt_claim(PGconn *pg, const char *address, uint64_t interval_s,
                          struct ktd_error *err) KTD_ATTR_NODISCARD;

#endif
