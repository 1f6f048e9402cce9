/* SPDX-License-Identifier: MPL-2.0 */
/* A fetched message made ready for the database side: taken apart (MIME),
 * its contact as intake takes it, its lock keys and whether a new case of
 * it gets a receipt. No database, no network: the IMAP side does this
 * while the database side works the round before. */
#include "lib/lib_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "daemon/settings.h"
#include "core/case_action.h"
#include "channels/imap/ch_imap_int.h"

const char *ch_imap_quote(const char *s, char *out, size_t outsz)
{
	return ktd_log_quote(s ? s : "", out, outsz);
}

char *ch_imap_mail_cut(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return ktd_strdup(s);
	return ktd_strndup(s, ktd_utf8_cut(s, max));
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

static bool own_address(const struct ch_imap *w, const char *addr)
{
	size_t i;

	for (i = 0; i < w->cfg.n_own_addresses; i++)
		if (strcasecmp(w->cfg.own_addresses[i], addr) == 0)
			return true;
	return false;
}

/* Whether the sender of m gets a receipt for a new case (RFC 3834);
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
                        const struct ch_mime_message *m, uint32_t uidvalidity,
                        uint32_t uid, char ext[CH_IMAP_FIELD_MAX + 1])
{
	if (m->message_id && strlen(m->message_id) + 2 <= CH_IMAP_FIELD_MAX)
		snprintf(ext, CH_IMAP_FIELD_MAX + 1, "<%s>", m->message_id);
	else
		snprintf(ext, CH_IMAP_FIELD_MAX + 1, "%s:%" PRIu32 ":%" PRIu32,
		         w->cfg.mb->name, uidvalidity, uid);
}

/* The Message-IDs m answers, for threading: In-Reply-To, then References
 * newest first; new strings (caller frees each). Returns how many. */
static size_t reply_ids_make(const struct ch_mime_message *m,
                             char *ids[CH_IMAP_REPLY_IDS_MAX])
{
	size_t n = 0, i;

	if (m->in_reply_to && strlen(m->in_reply_to) + 2 <= CH_IMAP_FIELD_MAX)
		ids[n++] = ktd_strdup_printf("<%s>", m->in_reply_to);
	for (i = m->n_references; i > 0 && n < CH_IMAP_REPLY_IDS_MAX; i--)
		if (strlen(m->references[i - 1]) + 2 <= CH_IMAP_FIELD_MAX)
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

/* The contact's text: the message's, or what stands in for it. */
static char *body_of(const struct ch_imap *w, const struct ch_imap_mail *m)
{
	const struct ktd_mailbox *mb = w->cfg.mb;
	char *body, *c;

	if (m->too_big)
		body = ktd_strdup_printf(
		        "[Beskeden var for stor til at blive hentet: %" PRIu32
		        " bytes, grænsen er %" PRIu64
		        " bytes (max_message_size). Kun brevhovedet er gemt; "
		        "selve beskeden ligger stadig i postkassen %s, UID "
		        "%" PRIu32 ".]",
		        m->size, mb->max_message_size, mb->name, m->uid);
	else if (m->mime.partial)
		body = ktd_strdup_printf("[Beskeden kunne ikke læses helt: "
		                         "%s]\n\n%s",
		                         m->mime.problem,
		                         m->mime.text ? m->mime.text : "");
	else
		body = ktd_strdup(m->mime.text ? m->mime.text : "");
	if (strlen(body) <= CH_IMAP_BODY_MAX)
		return body;
	c = ch_imap_mail_cut(body, CH_IMAP_BODY_MAX);
	free(body);
	return c;
}

int ch_imap_mail_prepare(const struct ch_imap *w, uint32_t uidvalidity,
                         struct ch_imap_mail *m, struct ktd_error *err)
{
	const struct ktd_mailbox *mb = w->cfg.mb;
	struct intake_contact *in = &m->in;
	const char *from, *name;

	if (ch_mime_parse(m->raw, m->len, NULL, &m->mime, err) < 0)
		return -1;
	external_id(w, &m->mime, uidvalidity, m->uid, m->ext);
	snprintf(m->raw_ref, sizeof(m->raw_ref), "imap:%s:%" PRIu32 ":%" PRIu32,
	         mb->name, uidvalidity, m->uid);
	first_address(m->mime.to, m->to, sizeof(m->to));
	from = sender_of(&m->mime);
	name = m->mime.from.name;
	m->subject = ch_imap_mail_cut(m->mime.subject ? m->mime.subject : "",
	                              CH_IMAP_FIELD_MAX);
	m->body = body_of(w, m);

	memset(in, 0, sizeof(*in));
	in->channel = "email";
	in->direction = "in";
	in->external_id = m->ext;
	in->occurred_at = m->mime.date;
	in->from_addr = from;
	in->to_addr = m->to[0] ? m->to : NULL;
	in->subject = m->subject;
	in->body = m->body;
	in->raw_ref = m->raw_ref;
	in->subject_tag = w->cfg.subject_tag;
	in->reply_ids = (const char *const *)m->reply_ids;
	in->n_reply_ids = reply_ids_make(&m->mime, m->reply_ids);
	in->automatic = ch_mime_is_automatic(&m->mime, NULL);
	in->citizen_email = from && case_mail_address_valid(from) ? from : NULL;
	in->citizen_name = name && ktd_utf8_chars(name) <= 200 &&
	                                   !ktd_utf8_has_control(name)
	                           ? name
	                           : NULL;
	in->peer = mb->name;

	if (intake_key_external(in->channel, in->external_id,
	                        m->keys[m->n_keys]))
		m->n_keys++;
	if (w->cfg.intake.thread_window_s > 0 && in->citizen_email &&
	    intake_key_citizen("email", in->citizen_email, m->keys[m->n_keys]))
		m->n_keys++;
	/* The database side takes them for the whole round (lock_round). */
	in->locks_held = true;
	m->receipt_wanted = wants_receipt(w, &m->mime, from, &m->no_receipt);
	return 0;
}

void ch_imap_mail_clear(struct ch_imap_mail *m)
{
	size_t i;

	for (i = 0; i < m->in.n_reply_ids; i++)
		free(m->reply_ids[i]);
	free(m->subject);
	free(m->body);
	ch_mime_message_free(&m->mime);
	free(m->raw);
	memset(m, 0, sizeof(*m));
}

void ch_imap_round_free(struct ch_imap_round **rdp)
{
	struct ch_imap_round *rd = *rdp;
	size_t i;

	if (!rd)
		return;
	for (i = 0; i < rd->n; i++)
		ch_imap_mail_clear(&rd->ms[i]);
	free(rd->ms);
	free(rd);
	*rdp = NULL;
}
