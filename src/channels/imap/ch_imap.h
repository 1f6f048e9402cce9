/* SPDX-License-Identifier: MPL-2.0 */
/* The e-mail channel's intake: one worker per [mailbox:NAME] that reads
 * new messages from an IMAP folder (libetpan) and hands each to intake
 * exactly once; two threads, one on the IMAP connection and one on the
 * database connection, so that the next messages are fetched while the
 * last are stored (ch_imap_int.h).
 *
 * Each message is stored in one transaction on the worker's own database
 * connection: the contact (through intake: dedupe on the Message-ID,
 * threading by subject tag and In-Reply-To/References, routing), its raw
 * bytes and attachments, the receipt of a new case, and the mailbox's new
 * last UID (sql/010_mail.sql). Only after the commit is the message
 * flagged \Seen or moved. The worker's session holds an advisory lock on
 * the mailbox while it works it, so that of several kontaktd processes
 * one polls a mailbox; when it dies the lock goes with its session and
 * another takes over. IDLE where the server has it, polling otherwise;
 * reconnects with a capped backoff. */
#ifndef KTD_CHANNELS_CH_IMAP_H
#define KTD_CHANNELS_CH_IMAP_H

#include "lib/lib_common.h"
#include "lib/error.h"
#include "core/case_action.h"
#include "core/intake.h"

struct ktd_mailbox;
struct db_pool_config;
struct ch_imap;

struct ch_imap_config {
	const struct ktd_mailbox *mb;    /* copied by ch_imap_start */
	const struct db_pool_config *db; /* copied; its strings borrowed */
	struct intake_config intake;
	const char *subject_tag; /* [intake] subject_tag */
	/* Receipts of new cases; off when !receipt_enabled or
	 * receipt.from is "" ([smtp] from). */
	bool receipt_enabled;
	struct case_receipt receipt;
	uint64_t receipt_interval_s;
	/* Our own addresses (the mailboxes' users, [smtp] from), never
	 * answered; copied by ch_imap_start. */
	const char *const *own_addresses;
	size_t n_own_addresses;
};

/* Reads the mailbox's password file and starts its worker. NULL with err
 * (KTD_ERR_CONFIG for an unreadable password file). */
struct ch_imap *ch_imap_start(const struct ch_imap_config *cfg,
                              struct ktd_error *err);

/* The worker's mailbox (its own copy), for comparing with a reloaded
 * configuration. */
const struct ktd_mailbox *ch_imap_mailbox(const struct ch_imap *w);

/* Asks the worker to stop (returns at once). */
void ch_imap_signal_stop(struct ch_imap *w);

/* Stops the worker (within a second or so, or the network timeout when
 * a server hangs mid-answer), closes its connections and frees. */
void ch_imap_stop(struct ch_imap **w);

#endif
