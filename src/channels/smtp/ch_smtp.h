/* SPDX-License-Identifier: MPL-2.0 */
/* The mail worker: a thread that drains the outbox table and sends each
 * message with libESMTP to the configured relay ([smtp] host), recording
 * sent, deferred (temporary failure: retry with backoff) or failed
 * (permanent) on the row. Several kontaktd processes may run one each
 * against one database: rows are claimed with FOR UPDATE SKIP LOCKED and
 * a lease (see db_outbox_claim). Delivery is at least once: a worker that
 * dies after the relay took a message and before it recorded so sends it
 * again when the lease ends, with the same Message-ID. Specs: RFC 5321
 * (SMTP), RFC 3207 (STARTTLS), RFC 4954 (AUTH). */
#ifndef KTD_CHANNELS_CH_SMTP_H
#define KTD_CHANNELS_CH_SMTP_H

#include "lib/lib_common.h"
#include "lib/error.h"
#include "db/pool.h"

struct ch_smtp;

struct ch_smtp_config {
	/* The worker's own connection (not the pool's); the strings are
	 * borrowed and must outlive the worker. */
	struct db_pool_config db;
	const char *host;
	unsigned port;
	bool starttls;        /* STARTTLS required (else plain SMTP) */
	const char *user;     /* NULL or "": no AUTH */
	const char *password; /* borrowed secret; never logged */
	const char *helo;     /* NULL or "": the system's host name */
	const char *ca_file;  /* PEM CAs for STARTTLS; NULL or "": system's */
	/* PEM CRLs for STARTTLS; NULL or "": no revocation check. Read at
	 * start and again before a session whenever the file changed. */
	const char *crl_file;
	uint64_t timeout_ms; /* each SMTP step */
	unsigned max_attempts;
	uint64_t retry_after_ms; /* first backoff, doubled each time */
	uint64_t poll_ms;        /* between looks at the table */
};

/* Starts the worker thread. Returns it (caller stops it), or NULL with
 * err (KTD_ERR_CONFIG: ca_file or crl_file cannot be used). */
struct ch_smtp *ch_smtp_start(const struct ch_smtp_config *cfg,
                              struct ktd_error *err);

/* Whether path is a PEM file of CAs that OpenSSL can load. Returns 0,
 * or -1 with err (KTD_ERR_CONFIG naming [smtp] ca_file). */
int ch_smtp_ca_file_check(const char *path, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* Stops the worker: a message being sent is finished (bounded by the
 * timeouts), then the thread ends; frees and clears *w. Accepts NULL. */
void ch_smtp_stop(struct ch_smtp **w);

/* The delay before attempt attempts + 1 after attempts failed ones:
 * retry_after_ms doubled per attempt, at most CH_SMTP_BACKOFF_MAX_S (or
 * retry_after when that is longer). In seconds, at least 1. */
#define CH_SMTP_BACKOFF_MAX_S (6u * 3600)
uint64_t ch_smtp_backoff_s(uint64_t retry_after_ms, unsigned attempts);

#endif
