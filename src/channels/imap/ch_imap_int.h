/* SPDX-License-Identifier: MPL-2.0 */
/* Inside one mailbox's worker (ch_imap.h): two threads, so that the next
 * round's IMAP work overlaps the current round's transaction.
 *
 * The IMAP side (ch_imap.c) owns the mailimap handle: it lists the new
 * UIDs, fetches a round of messages, takes them apart (ch_imap_mail.c)
 * and hands the round over; it flags or moves a round's messages once the
 * database side has committed it. The database side (ch_imap_db.c) owns
 * the PGconn: the mailbox's advisory lock, its stored position, and each
 * round's transaction, which does only SQL.
 *
 * They meet in the fields under mu: one round may wait for the database
 * side besides the one it works, and the IMAP side fetches the next only
 * once that slot is free, so that at most two rounds are in memory. A
 * round continues from the one before it (after); a failed round bumps
 * gen, every round handed over before it is dropped, and the IMAP side
 * starts again from the committed position. */
#ifndef KTD_CHANNELS_CH_IMAP_INT_H
#define KTD_CHANNELS_CH_IMAP_INT_H

#include "lib/lib_common.h"

#include <pthread.h>

#include <libpq-fe.h>
#include <libetpan/libetpan.h>

#include "lib/error.h"
#include "core/intake.h"
#include "db/pool.h"
#include "channels/mime/ch_mime.h"
#include "channels/imap/ch_imap.h"

/* Message-IDs of In-Reply-To and References looked at for threading. */
#define CH_IMAP_REPLY_IDS_MAX 20
/* The contacts table's limits (sql/003_cases.sql). */
#define CH_IMAP_FIELD_MAX 998
#define CH_IMAP_BODY_MAX 1048576

struct ch_imap_round;
struct ch_imap_tls;

struct ch_imap {
	struct ch_imap_config cfg;
	/* The worker's own copies of cfg's mailbox and own addresses, so
	 * that a reload may drop the settings they came from. */
	struct ktd_mailbox *mb;
	char **own;
	struct db_pool_config db;
	char *password;
	struct ch_imap_tls *tls; /* NULL for tls = none */

	pthread_t thread;    /* the IMAP side */
	pthread_t db_thread; /* the database side */
	pthread_mutex_t mu;
	pthread_cond_t cond; /* broadcast on every change under mu */

	/* Under mu. */
	bool stop;
	bool locked;    /* the database side holds the mailbox's lock */
	bool db_exited; /* the database side's thread has ended */
	bool failed;    /* the database side failed (fail_err) and waits
	                 * for the IMAP side to take the news */
	struct ktd_error fail_err;
	uint64_t gen;               /* bumped by each failure */
	struct ch_imap_round *next; /* handed over, waiting */
	bool busy;                  /* the database side works a round */
	bool state_asked;           /* the IMAP side asks for the position
	                             * of state_uidvalidity */
	uint32_t state_uidvalidity;
	/* The position after the last commit (or the answer to
	 * state_asked). */
	uint32_t committed_uidvalidity, committed_last;

	/* The database side's own. */
	PGconn *pg;

	/* The IMAP side's own. */
	mailimap *imap;
	bool imap_ok; /* connected, logged in, selected, no error since */
	bool has_idle;
	bool caught_up;   /* the position is known and marked up to */
	uint32_t fetched; /* the last UID handed over in a round */
	uint32_t marked;  /* the last UID flagged or moved */
	uint64_t round_gen;
	uint32_t uidvalidity;
};

/* What the database side made of a message. */
struct ch_imap_stored {
	struct intake_result out;
	bool refused;
	bool receipt;
	const char *no_receipt;
};

/* One message of a round, taken apart by the IMAP side; in holds
 * pointers into the struct, which therefore never moves. */
struct ch_imap_mail {
	uint32_t uid;
	uint32_t size;
	bool too_big; /* only its header is fetched */
	char *raw;    /* NULL: gone from the folder */
	size_t len;

	struct ch_mime_message mime;
	struct intake_contact in;
	char ext[CH_IMAP_FIELD_MAX + 1];
	char raw_ref[128];
	char to[CH_IMAP_FIELD_MAX + 1];
	char *reply_ids[CH_IMAP_REPLY_IDS_MAX];
	char *subject;
	char *body;
	/* The intake's advisory lock keys of the message (its Message-ID,
	 * its sender as a citizen), taken up front for the round. */
	char keys[2][INTAKE_KEY_SIZE];
	size_t n_keys;
	/* A new case of it gets a receipt (but for the interval);
	 * otherwise why not. */
	bool receipt_wanted;
	const char *no_receipt;

	struct ch_imap_stored st;
};

/* The messages of one round: UIDs ascending, the folder's first ones
 * above after. */
struct ch_imap_round {
	uint64_t gen;
	uint32_t uidvalidity;
	uint32_t after;
	struct ch_imap_mail *ms;
	size_t n;
};

/* ch_imap_mail.c: makes m (uid, size, too_big, raw, len set) ready for
 * the database side; pure. 0, or -1 when memory ran out. */
int ch_imap_mail_prepare(const struct ch_imap *w, uint32_t uidvalidity,
                         struct ch_imap_mail *m, struct ktd_error *err)
        KTD_ATTR_NODISCARD;
void ch_imap_mail_clear(struct ch_imap_mail *m);
void ch_imap_round_free(struct ch_imap_round **rd);
/* s cut to at most max bytes on a UTF-8 boundary; a new string. */
char *ch_imap_mail_cut(const char *s, size_t max);
const char *ch_imap_quote(const char *s, char *out, size_t outsz);

/* ch_imap_db.c: the database side's thread. */
void *ch_imap_db_run(void *arg);
/* Waits ms or until stopped; returns whether stopped. Either side. */
bool ch_imap_wait_ms(struct ch_imap *w, uint64_t ms);
bool ch_imap_stopping(struct ch_imap *w);

/* For the IMAP side. Each returns -1 with the database side's error
 * once when it failed (taking the news), or when stopped. */

/* Waits up to ms for the mailbox's lock: 1 held, 0 not (yet). */
int ch_imap_db_wait_locked(struct ch_imap *w, uint64_t ms,
                           struct ktd_error *err) KTD_ATTR_NODISCARD;
/* Waits until no round waits (idle: none is worked either);
 * *uidvalidity_r and *last_r: the position committed. */
int ch_imap_db_wait(struct ch_imap *w, bool idle, uint32_t *uidvalidity_r,
                    uint32_t *last_r, struct ktd_error *err) KTD_ATTR_NODISCARD;
/* Once idle, the committed last UID of uidvalidity into *last_r (the
 * stored position starts again at 0 when it is of another UIDVALIDITY),
 * and in *gen_r the gen of the rounds that follow it. */
int ch_imap_db_state(struct ch_imap *w, uint32_t uidvalidity, uint32_t *last_r,
                     uint64_t *gen_r, struct ktd_error *err) KTD_ATTR_NODISCARD;
/* Hands rd over (takes it; dropped when of an old gen); the slot is free
 * (ch_imap_db_wait). */
void ch_imap_db_push(struct ch_imap *w, struct ch_imap_round *rd);
/* Waits for the database side's thread to end (after a stop), then the
 * position it committed last. */
void ch_imap_db_wait_exited(struct ch_imap *w, uint32_t *uidvalidity_r,
                            uint32_t *last_r);

#endif
