/* SPDX-License-Identifier: MPL-2.0 */
/* SQL on the contacts table. */
#ifndef KTD_DB_CONTACT_H
#define KTD_DB_CONTACT_H

#include "db/db_common.h"

/* A new contact; NULL strings are stored as NULL (subject and body as
 * ""). occurred_at is RFC 3339 text or NULL for now. */
struct db_contact_new {
	int64_t case_id;
	const char *channel;
	const char *direction;
	const char *external_id;
	const char *occurred_at;
	const char *from_addr;
	const char *to_addr;
	const char *subject;
	const char *body;
	const char *raw_ref;
	int64_t created_by; /* 0: nobody (a channel) */
};

/* The contact with this idempotency key and its case. Returns 1 found, 0
 * not, -1 error. */
int db_contact_find(PGconn *pg, const char *channel, const char *external_id,
                    int64_t *id_r, int64_t *case_id_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* Which of the n external ids of channel have a contact: exists_r[i]
 * for external_ids[i], in one round trip. 0 or -1. */
int db_contact_exist(PGconn *pg, const char *channel,
                     const char *const *external_ids, size_t n, bool *exists_r,
                     struct ktd_error *err) KTD_ATTR_NODISCARD;

/* The case (followed to the case it was merged into) of the e-mail
 * contact, inbound or outbound, whose Message-ID is message_id ("<...>").
 * Returns 1, 0 when there is none, -1. */
int db_contact_case_by_message_id(PGconn *pg, const char *message_id,
                                  int64_t *case_id_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* Inserts c unless a contact with its (channel, external_id) exists
 * (committed, or committed by a concurrent transaction this one waited
 * for). Returns 1 with the new id, 0 when the key is taken, -1. */
int db_contact_insert(PGconn *pg, const struct db_contact_new *c, int64_t *id_r,
                      struct ktd_error *err) KTD_ATTR_NODISCARD;

/* The case's contacts as a JSON array text, oldest first (caller frees). */
int db_contact_list_json(PGconn *pg, int64_t case_id, char **json_r,
                         struct ktd_error *err) KTD_ATTR_NODISCARD;

/* Contact contact_id of case case_id as JSON text (caller frees).
 * Returns 1, 0 when there is no such contact on that case, -1. */
int db_contact_get_json(PGconn *pg, int64_t case_id, int64_t contact_id,
                        char **json_r, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* An attachment with its bytes; the strings and bytes point into res. */
struct db_attachment {
	PGresult *res;
	const char *filename;
	const char *content_type;
	const char *sha256_hex;
	const unsigned char *data;
	size_t size;
};

/* Attachment attachment_id of a contact of case case_id. Returns 1 with
 * *a (db_attachment_free it), 0 when there is no such attachment on that
 * case, -1. */
int db_attachment_get(PGconn *pg, int64_t case_id, int64_t attachment_id,
                      struct db_attachment *a, struct ktd_error *err)
        KTD_ATTR_NODISCARD;
void db_attachment_free(struct db_attachment *a);

#endif
