/* SPDX-License-Identifier: MPL-2.0 */
/* The configuration file: one table of keys fills struct ktd_settings.
 * Unknown sections and keys, duplicates and bad values are errors that name
 * the file, the line and the key. */
#ifndef KTD_SETTINGS_H
#define KTD_SETTINGS_H

#include "lib/lib_common.h"
#include "lib/error.h"
#include "lib/log.h"

#define KTD_SETTINGS_MAX_KEYS 128

/* How an IMAP mailbox is reached. */
enum ktd_mailbox_tls {
	KTD_MAILBOX_TLS,      /* imaps: TLS from the first byte (993) */
	KTD_MAILBOX_STARTTLS, /* STARTTLS on the plain port (143) */
	KTD_MAILBOX_NONE,     /* no TLS: for loopback tests only */
};

#define KTD_MAILBOX_MAX 32
#define KTD_MAILBOX_NAME_MAX 32
#define KTD_MAILBOX_KEYS 12

/* One [mailbox:NAME] section. */
struct ktd_mailbox {
	char *name; /* [a-z0-9_-]{1,32} */
	char *host;
	uint32_t port; /* 0 in the file: 993 for tls, 143 otherwise */
	char *tls_mode;
	enum ktd_mailbox_tls tls;
	/* tls_fingerprint: the SHA-256 of the server's certificate (DER),
	 * 64 lower-case hex digits; "": not pinned, the chain and the host
	 * name are verified instead (channels/imap/ch_imap_tls.h) */
	char *tls_fingerprint_text;
	char tls_fingerprint[65];
	char *ca_file;  /* the CAs to trust (PEM); "": the system's */
	char *crl_file; /* PEM CRLs, one for each CA of the chain;
	                 * "": no revocation check */
	char *user;
	char *password_file;
	char *folder;
	char *after;
	const char *move_to; /* after = move:FOLDER (into after); NULL: \Seen */
	uint64_t poll_interval_ms;
	uint64_t max_message_size;
	unsigned line; /* of the section header */
	unsigned key_line[KTD_MAILBOX_KEYS];
};

struct ktd_settings {
	char *path; /* the file these settings came from */
	/* The line each key was set on (0: a default), in table order. */
	unsigned key_line[KTD_SETTINGS_MAX_KEYS];

	/* [server] */
	char *listen;
	uint32_t port;
	uint32_t threads;
	char *www_root;
	uint64_t max_body;
	uint64_t max_header;
	uint32_t max_connections;
	uint64_t connection_timeout_ms;
	uint64_t shutdown_timeout_ms;
	char *tls_cert;
	char *tls_key;
	char *user;

	/* [database] */
	char *conninfo;
	char *password_file;
	uint32_t pool_size;
	uint64_t acquire_timeout_ms;
	uint64_t connect_timeout_ms;
	uint64_t statement_timeout_ms;
	bool auto_migrate;
	char *sql_dir;

	/* [log] */
	enum ktd_log_level log_level;

	/* [auth] */
	uint64_t session_idle_timeout_ms;
	uint64_t session_max_age_ms;
	uint32_t login_max_failures;
	uint64_t login_failure_window_ms;
	uint64_t password_hash_memory; /* bytes */
	uint32_t password_hash_passes;

	/* [intake] */
	uint64_t intake_thread_window_ms;
	char *intake_subject_tag;
	uint64_t intake_reopen_within_ms; /* 0: never reopen by mail */

	/* [smtp] */
	char *smtp_from;
	char *smtp_host; /* "": sending is off, rows stay queued */
	uint32_t smtp_port;
	char *smtp_tls; /* none, starttls (tls: refused, see settings.c) */
	char *smtp_user;
	char *smtp_password_file;
	uint64_t smtp_timeout_ms;
	uint32_t smtp_max_attempts;
	uint64_t smtp_retry_after_ms;
	char *smtp_helo;
	char *smtp_ca_file;  /* "": the system's CAs */
	char *smtp_crl_file; /* PEM CRLs; "": no revocation check */

	/* [receipt] */
	bool receipt_enabled;
	char *receipt_municipality;
	char *receipt_opening_hours;
	uint64_t receipt_interval_ms;

	/* [mailbox:NAME], in file order */
	struct ktd_mailbox *mailboxes;
	size_t n_mailboxes;

	/* [cti] */
	char *cti_hmac_secret_file;
	uint64_t cti_signature_max_age_ms;
	char *cti_blocked_numbers;
	char *cti_caller_ids;
	char *cti_default_caller_id;
	uint64_t cti_end_unknown_after_ms;
	uint64_t cti_return_window_ms;

	/* [callbacks] */
	uint32_t callbacks_max_attempts;
	uint64_t callbacks_retry_after_ms;
	/* [live] */
	uint32_t live_max_clients;
	uint64_t live_heartbeat_ms;
	uint64_t live_client_buffer;
	uint32_t live_replay_max;
	uint64_t live_retention_ms;
};

/* Reads and validates the file at path. Returns 0 and a new settings
 * object (caller destroys), or -1 with err->msg as "FILE:LINE: ...". */
int ktd_settings_load(const char *path, struct ktd_settings **settings_r,
                      struct ktd_error *err) KTD_ATTR_NODISCARD;

/* A settings object with every default, as if from an empty file. */
struct ktd_settings *ktd_settings_create_default(void);

void ktd_settings_destroy(struct ktd_settings **settings);

/* Whether mailbox a and b have the same name and keys. */
bool ktd_mailbox_equal(const struct ktd_mailbox *a,
                       const struct ktd_mailbox *b);

/* A deep copy of mb (caller frees with ktd_mailbox_free), so that it can
 * outlive the settings it came from (a reload). */
struct ktd_mailbox *ktd_mailbox_dup(const struct ktd_mailbox *mb);

/* Frees *mb (NULL is fine) and clears the pointer. */
void ktd_mailbox_free(struct ktd_mailbox **mb);

/* Logs a warning for each key that differs between old and new and cannot
 * take effect without a restart. Returns how many differ. [mailbox:NAME]
 * sections are not among them: a reload starts, stops and restarts
 * mailboxes (see main.c). */
unsigned ktd_settings_warn_no_reload(const struct ktd_settings *old_s,
                                     const struct ktd_settings *new_s);

/* Writes "FILE:LINE" for the line that set [section] key, or "FILE" when
 * the key kept its default, into out; returns out. For errors found after
 * parsing (a directory that does not exist, say). */
const char *ktd_settings_where(const struct ktd_settings *s,
                               const char *section, const char *key, char *out,
                               size_t outsz);

/* Likewise for key of [mailbox:NAME] mb: its line, or its section's. */
const char *ktd_settings_mailbox_where(const struct ktd_settings *s,
                                       const struct ktd_mailbox *mb,
                                       const char *key, char *out,
                                       size_t outsz);

struct db_pool_config;
/* Fills a pool configuration from the [database] keys; the strings are
 * borrowed from s. */
void ktd_settings_pool_config(const struct ktd_settings *s,
                              struct db_pool_config *cfg);

/* The default configuration file path, from configure's sysconfdir. */
const char *ktd_settings_default_path(void);

#ifdef KTD_UNITTEST
bool conninfo_has_password(const char *ci);
#endif

#endif
