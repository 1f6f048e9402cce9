/* SPDX-License-Identifier: MPL-2.0 */
/* kontaktd: the process, its start-up, its main loop and its shutdown. */
#include "daemon/daemon_common.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/timeutil.h"
#include "channels/ch_tls_crl.h"
#include "channels/imap/ch_imap.h"
#include "channels/imap/ch_imap_tls.h"
#include "daemon/janitor.h"
#include "channels/smtp/ch_smtp.h"
#include "daemon/settings.h"
#include "daemon/signals.h"
#include "db/migrate.h"
#include "db/pool.h"
#include "http/router.h"
#include "http/server.h"
#include "http/static.h"
#include "api/api.h"
#include "core/cti_group.h"
#include "core/live.h"
#include "core/user.h"

#define TLS_FILE_MAX (1024u * 1024)

struct app {
	struct ktd_settings *settings;
	struct db_migration_set *migrations;
	struct db_pool *pool;
	struct ktd_router *router;
	struct ktd_static *www;
	struct ktd_api api;
	struct ktd_http_server *http;
	struct ktd_janitor *janitor;
	struct ch_smtp *mailer;
	struct live_hub *live;
	struct ch_imap *imap[KTD_MAILBOX_MAX];
	char *tls_cert;
	char *tls_key;
	char *cti_secret;
	char *smtp_password;
	int listen_fd;
};

static void notify(const char *state)
{
#ifdef HAVE_SYSTEMD
	sd_notify(0, state);
#else
	(void)state;
#endif
}

/* Between two looks of the mail worker at the outbox, besides the NOTIFY
 * of a new row. */
#define MAILER_POLL_MS 1000

/* Between two rounds of the janitor (expired sessions, old login
 * failures); the first round is at start. */
#define JANITOR_INTERVAL_MS (5 * 60 * 1000)

/* Room for a message of KTD_ERROR_MSG_MAX as a quoted log value. */
#define QUOTED_MAX (2 * KTD_ERROR_MSG_MAX + 8)

/* Group commit of single CTI events (core/cti_group.h): at most this many
 * events a transaction, and this many transactions at the same time. */
#define CTI_GROUP_MAX_EVENTS 100
#define CTI_GROUP_MAX_LEADERS 2

/* Logs "event=<event> msg=<msg>" at FATAL and exits with code. The message
 * is quoted and escaped, as it often carries quotes of its own (libpq's
 * 'connection to server at "127.0.0.1" ...'). */
KTD_ATTR_NORETURN static void fail(enum ktd_exit code, const char *event,
                                   const char *msg)
{
	char quoted[QUOTED_MAX];

	ktd_fatal(code, "event=%s msg=%s", event,
	          ktd_log_quote(msg, quoted, sizeof(quoted)));
}

static void usage(FILE *out)
{
	fprintf(out,
	        "Usage: kontaktd [OPTIONS]\n"
	        "The server of a municipal contact centre.\n\n"
	        "  -c, --config FILE   configuration file (default %s)\n"
	        "  -t, --check-config  check the configuration and exit\n"
	        "  -V, --version       print the version and exit\n"
	        "  -h, --help          print this help and exit\n\n"
	        "Signals: SIGTERM/SIGINT stop gracefully (a second one stops "
	        "at once),\nSIGQUIT stops at once, SIGHUP reloads [log] level, "
	        "[server] shutdown_timeout\nand the [mailbox:NAME] sections.\n",
	        ktd_settings_default_path());
}

/* Reads a whole (small) file, for TLS certificates and keys. */
static int slurp(const char *path, char **data_r, struct ktd_error *err)
{
	struct ktd_buf b;
	char chunk[4096];
	FILE *fp = fopen(path, "rb");
	size_t n;
	int ret = -1;

	if (!fp)
		return ktd_error_set(err, KTD_ERR_CONFIG, "%s: cannot open: %s",
		                     path, strerror(errno));
	ktd_buf_init(&b, TLS_FILE_MAX);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		if (ktd_buf_add(&b, chunk, n) < 0) {
			ktd_error_set(err, KTD_ERR_CONFIG, "%s: too large",
			              path);
			goto out;
		}
	}
	if (ferror(fp)) {
		ktd_error_set(err, KTD_ERR_CONFIG, "%s: read error", path);
		goto out;
	}
	*data_r = ktd_buf_steal(&b, NULL);
	ret = 0;
out:
	if (ret < 0 && b.data)
		sodium_memzero(b.data, b.len);
	ktd_buf_deinit(&b);
	fclose(fp);
	return ret;
}

static void free_secret(char **p)
{
	if (*p) {
		sodium_memzero(*p, strlen(*p));
		ktd_free(p);
	}
}

/* Prefixes err with the place that set [section] key: "FILE:LINE". */
static int config_fail(const struct ktd_settings *s, const char *section,
                       const char *key, struct ktd_error *err)
{
	char where[512];

	ktd_error_prefix(
	        err, "%s",
	        ktd_settings_where(s, section, key, where, sizeof(where)));
	err->code = KTD_ERR_CONFIG;
	return -1;
}

/* Checks that a file the settings name can be read. */
static int check_readable(const struct ktd_settings *s, const char *section,
                          const char *key, const char *path,
                          struct ktd_error *err)
{
	if (!path[0] || access(path, R_OK) == 0)
		return 0;
	ktd_error_set(err, KTD_ERR_CONFIG, "[%s] %s %s: %s", section, key, path,
	              strerror(errno));
	return config_fail(s, section, key, err);
}

/* The files a [mailbox:NAME] section names, as --check-config checks
 * them. */
static int check_mailbox_files(const struct ktd_settings *s,
                               const struct ktd_mailbox *mb,
                               struct ktd_error *err)
{
	char where[512];

	if (access(mb->password_file, R_OK) < 0)
		return ktd_error_set(
		        err, KTD_ERR_CONFIG,
		        "%s: [mailbox:%s] password_file %s: %s",
		        ktd_settings_mailbox_where(s, mb, "password_file",
		                                   where, sizeof(where)),
		        mb->name, mb->password_file, strerror(errno));
	if (mb->ca_file[0] && ch_imap_tls_ca_file_check(mb->ca_file, err) < 0) {
		ktd_error_prefix(err, "%s: [mailbox:%s] ca_file",
		                 ktd_settings_mailbox_where(s, mb, "ca_file",
		                                            where,
		                                            sizeof(where)),
		                 mb->name);
		return -1;
	}
	if (mb->crl_file[0] && ch_tls_crl_check(mb->crl_file, err) < 0) {
		ktd_error_prefix(err, "%s: [mailbox:%s] crl_file",
		                 ktd_settings_mailbox_where(s, mb, "crl_file",
		                                            where,
		                                            sizeof(where)),
		                 mb->name);
		return -1;
	}
	return 0;
}

/* Everything --check-config checks beyond the syntax: the files and
 * directories the settings name. Errors say "FILE:LINE: ...". */
static int check_files(const struct ktd_settings *s,
                       struct db_migration_set **migrations_r,
                       struct ktd_error *err)
{
	struct ktd_static *www;
	size_t i;

	if (db_migrations_load(s->sql_dir, migrations_r, err) < 0)
		return config_fail(s, "database", "sql_dir", err);
	www = ktd_static_create(s->www_root, err);
	if (!www)
		return config_fail(s, "server", "www_root", err);
	ktd_static_destroy(&www);
	if (check_readable(s, "database", "password_file", s->password_file,
	                   err) < 0 ||
	    check_readable(s, "server", "tls_cert", s->tls_cert, err) < 0 ||
	    check_readable(s, "server", "tls_key", s->tls_key, err) < 0 ||
	    check_readable(s, "cti", "hmac_secret_file",
	                   s->cti_hmac_secret_file, err) < 0 ||
	    check_readable(s, "smtp", "password_file", s->smtp_password_file,
	                   err) < 0 ||
	    check_readable(s, "smtp", "ca_file", s->smtp_ca_file, err) < 0)
		return -1;
	if (s->smtp_ca_file[0] &&
	    ch_smtp_ca_file_check(s->smtp_ca_file, err) < 0)
		return config_fail(s, "smtp", "ca_file", err);
	if (s->smtp_crl_file[0] &&
	    ch_tls_crl_check(s->smtp_crl_file, err) < 0) {
		ktd_error_prefix(err, "[smtp] crl_file");
		return config_fail(s, "smtp", "crl_file", err);
	}
	for (i = 0; i < s->n_mailboxes; i++)
		if (check_mailbox_files(s, &s->mailboxes[i], err) < 0)
			return -1;
	if (s->user[0] && !getpwnam(s->user)) {
		ktd_error_set(err, KTD_ERR_CONFIG,
		              "[server] user %s: no such user", s->user);
		return config_fail(s, "server", "user", err);
	}
	return 0;
}

/* Drops root for the configured user, after sockets and secrets are open. */
static void drop_privileges(const struct ktd_settings *s)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return;
	if (!s->user[0]) {
		ktd_log_warnx("event=running_as_root msg=\"set [server] user "
		              "so that kontaktd does not keep root\"");
		return;
	}
	pw = getpwnam(s->user);
	if (!pw)
		ktd_fatal(KTD_EXIT_CONFIG,
		          "event=config_error msg=\"[server] "
		          "user %s does not exist\"",
		          s->user);
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0)
		ktd_fatal(KTD_EXIT_FAILURE,
		          "event=drop_privileges user=%s error=\"%s\"", s->user,
		          strerror(errno));
	if (setuid(0) == 0)
		ktd_panic("still able to regain root after dropping it");
}

/* Checks (or brings up to date) the schema before serving. */
static void startup_schema(struct app *app)
{
	struct db_pool_config cfg;
	struct db_migrate_status st;
	struct ktd_error err;
	char msg[sizeof(st.detail) + 100];
	size_t applied;
	PGconn *pg;

	ktd_settings_pool_config(app->settings, &cfg);
	pg = db_connect(&cfg, &err);
	if (!pg)
		fail(KTD_EXIT_FAILURE, "startup", err.msg);
	if (db_migrate_status(pg, app->migrations, &st, &err) < 0) {
		PQfinish(pg);
		fail(KTD_EXIT_FAILURE, "startup", err.msg);
	}
	if (st.state == DB_MIGRATE_PENDING && app->settings->auto_migrate) {
		if (db_migrate_apply(pg, app->migrations, &applied, &err) < 0) {
			PQfinish(pg);
			fail(KTD_EXIT_FAILURE, "migrate_failed", err.msg);
		}
		ktd_log_info("event=migrated applied=%zu", applied);
		st.state = DB_MIGRATE_CURRENT;
	}
	PQfinish(pg);
	if (st.state == DB_MIGRATE_PENDING) {
		snprintf(msg, sizeof(msg),
		         "%s; run 'kontaktctl migrate' or set [database] "
		         "auto_migrate = true",
		         st.detail);
		fail(KTD_EXIT_FAILURE, "schema_not_current", msg);
	}
	if (st.state != DB_MIGRATE_CURRENT)
		fail(KTD_EXIT_FAILURE, "schema_mismatch", st.detail);
}

static int reload_mailboxes(struct app *app, const struct ktd_settings *fresh,
                            struct ktd_error *err);

static void reload(struct app *app)
{
	struct ktd_settings *fresh = NULL;
	struct ktd_error err;
	char quoted[QUOTED_MAX];

	notify("RELOADING=1");
	if (ktd_settings_load(app->settings->path, &fresh, &err) < 0) {
		ktd_log_error("event=config_reload_failed msg=%s "
		              "action=\"keeping the running configuration\"",
		              ktd_log_quote(err.msg, quoted, sizeof(quoted)));
		notify("READY=1");
		return;
	}
	if (reload_mailboxes(app, fresh, &err) < 0) {
		ktd_log_error("event=config_reload_failed msg=%s "
		              "action=\"keeping the running configuration\"",
		              ktd_log_quote(err.msg, quoted, sizeof(quoted)));
		ktd_settings_destroy(&fresh);
		notify("READY=1");
		return;
	}
	ktd_settings_warn_no_reload(app->settings, fresh);
	ktd_log_set_level(fresh->log_level);
	/* Only the reloadable keys are taken; the rest waits for a
	 * restart, and the running values stay what they were. */
	app->settings->log_level = fresh->log_level;
	app->settings->shutdown_timeout_ms = fresh->shutdown_timeout_ms;
	ktd_settings_destroy(&fresh);
	ktd_log_info("event=config_reloaded level=%s",
	             ktd_log_level_name(ktd_log_get_level()));
	notify("READY=1");
}

/* Waits for a signal; returns the signal that ends the main loop. */
static int main_loop(struct app *app)
{
	for (;;) {
		struct pollfd pfd = {ktd_signals_fd(), POLLIN, 0};
		int sig;

		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			ktd_fatal(KTD_EXIT_FAILURE, "event=poll error=\"%s\"",
			          strerror(errno));
		while ((sig = ktd_signals_next()) != 0) {
			if (sig == SIGHUP)
				reload(app);
			else
				return sig;
		}
	}
}

/* Stops accepting, lets requests in flight finish within
 * shutdown_timeout; a second SIGTERM/SIGINT or a SIGQUIT cuts it short.
 * Returns true when no request is left in flight. */
static bool drain(struct app *app, int first_sig)
{
	uint64_t deadline =
	        ktd_time_mono_ms() + app->settings->shutdown_timeout_ms;
	unsigned left;

	notify("STOPPING=1");
	ktd_http_server_quiesce(app->http);
	if (first_sig == SIGQUIT) {
		left = ktd_http_server_in_flight(app->http);
		ktd_log_warnx("event=stop_now signal=%s in_flight=%u",
		              strsignal(first_sig), left);
		return left == 0;
	}
	ktd_log_info("event=stopping signal=%s in_flight=%u timeout_ms=%llu",
	             strsignal(first_sig), ktd_http_server_in_flight(app->http),
	             (unsigned long long)app->settings->shutdown_timeout_ms);
	while ((left = ktd_http_server_in_flight(app->http)) > 0) {
		struct pollfd pfd = {ktd_signals_fd(), POLLIN, 0};
		uint64_t now = ktd_time_mono_ms();
		int sig;

		if (now >= deadline) {
			ktd_log_warnx("event=shutdown_timeout in_flight=%u "
			              "msg=\"closing requests still running\"",
			              left);
			return false;
		}
		if (poll(&pfd, 1, 20) > 0) {
			while ((sig = ktd_signals_next()) != 0) {
				if (sig == SIGHUP)
					continue;
				ktd_log_warnx("event=stop_now signal=%s "
				              "in_flight=%u",
				              strsignal(sig), left);
				return false;
			}
		}
	}
	return true;
}

/* After the drain ran out: cancels the statements still running, so that
 * their requests end (with 503) and the process can stop cleanly rather
 * than leave PostgreSQL backends waiting. Returns true when no request is
 * left in flight within CANCEL_WAIT_MS. */
#define CANCEL_WAIT_MS 2000

static bool cancel_and_wait(struct app *app)
{
	uint64_t deadline = ktd_time_mono_ms() + CANCEL_WAIT_MS;
	unsigned sent = db_pool_cancel_all(app->pool);

	ktd_log_warnx("event=cancel_queries sent=%u in_flight=%u", sent,
	              ktd_http_server_in_flight(app->http));
	return ktd_http_server_drain(app->http, deadline - ktd_time_mono_ms());
}

/* The Argon2id cost of new password hashes, with a warning when it is
 * below OWASP's advice. */
static void password_cost(const struct ktd_settings *s)
{
	user_password_cost_set(s->password_hash_passes,
	                       s->password_hash_memory);
	if (s->password_hash_memory < USER_HASH_MEMORY_WEAK ||
	    s->password_hash_passes < 2)
		ktd_log_warnx("event=weak_password_hash memory=%llu passes=%u "
		              "advice=\"at least 19M and 2 passes\"",
		              (unsigned long long)s->password_hash_memory,
		              s->password_hash_passes);
}

/* Starts the mail worker when [smtp] host is set; without it, outbound
 * mail stays queued. */
static void mailer_start(struct app *app, const struct db_pool_config *pc)
{
	const struct ktd_settings *s = app->settings;
	struct ch_smtp_config mc;
	struct ktd_error err;
	bool loopback;

	if (!s->smtp_host[0]) {
		ktd_log_info("event=mail_worker_off msg=\"[smtp] host is not "
		             "set: outbound mail stays queued\"");
		return;
	}
	loopback = strcmp(s->smtp_host, "localhost") == 0 ||
	           strncmp(s->smtp_host, "127.", 4) == 0 ||
	           strcmp(s->smtp_host, "::1") == 0 ||
	           strcmp(s->smtp_host, "[::1]") == 0;
	if (strcmp(s->smtp_tls, "none") == 0 && !loopback)
		ktd_log_warnx("event=smtp_without_tls host=%s msg=\"mail and "
		              "any password go to the relay unencrypted: set "
		              "[smtp] tls = starttls\"",
		              s->smtp_host);
	memset(&mc, 0, sizeof(mc));
	mc.db = *pc;
	mc.db.size = 1;
	mc.host = s->smtp_host;
	mc.port = s->smtp_port;
	mc.starttls = strcmp(s->smtp_tls, "starttls") == 0;
	mc.user = s->smtp_user;
	mc.password = app->smtp_password;
	mc.helo = s->smtp_helo;
	mc.ca_file = s->smtp_ca_file;
	mc.crl_file = s->smtp_crl_file;
	mc.timeout_ms = s->smtp_timeout_ms;
	mc.max_attempts = s->smtp_max_attempts;
	mc.retry_after_ms = s->smtp_retry_after_ms;
	mc.poll_ms = MAILER_POLL_MS;
	app->mailer = ch_smtp_start(&mc, &err);
	if (!app->mailer)
		fail(err.code == KTD_ERR_CONFIG ? KTD_EXIT_CONFIG
		                                : KTD_EXIT_FAILURE,
		     err.code == KTD_ERR_CONFIG ? "config_error"
		                                : "mail_worker_start_failed",
		     err.msg);
}

/* Our own addresses, which get no receipt: [smtp] from (of s, which
 * holds the keys that need a restart) and the users of mbs that are
 * addresses. Borrowed from s and mbs; returns how many. */
static size_t own_addresses(const struct ktd_settings *s,
                            const struct ktd_mailbox *mbs, size_t n_mbs,
                            const char *own[KTD_MAILBOX_MAX + 1])
{
	size_t i, n = 0;

	if (s->smtp_from[0])
		own[n++] = s->smtp_from;
	for (i = 0; i < n_mbs && n < KTD_MAILBOX_MAX + 1; i++)
		if (strchr(mbs[i].user, '@'))
			own[n++] = mbs[i].user;
	return n;
}

/* Starts the worker of mb in slot i of app->imap. The settings other
 * than mb's own come from app->settings; own is copied. 0, or -1 with
 * err. */
static int start_mailbox(struct app *app, const struct ktd_mailbox *mb,
                         size_t i, const char *const *own, size_t n_own,
                         struct ktd_error *err)
{
	const struct ktd_settings *s = app->settings;
	struct db_pool_config pc;
	struct ch_imap_config ic;

	ktd_settings_pool_config(s, &pc);
	memset(&ic, 0, sizeof(ic));
	ic.mb = mb;
	ic.db = &pc;
	ic.intake.thread_window_s = s->intake_thread_window_ms / 1000;
	ic.intake.reopen_within_s = s->intake_reopen_within_ms / 1000;
	ic.subject_tag = s->intake_subject_tag;
	ic.receipt_enabled = s->receipt_enabled;
	ic.receipt.from = s->smtp_from;
	ic.receipt.subject_tag = s->intake_subject_tag;
	ic.receipt.municipality = s->receipt_municipality;
	ic.receipt.opening_hours = s->receipt_opening_hours;
	ic.receipt_interval_s = s->receipt_interval_ms / 1000;
	ic.own_addresses = own;
	ic.n_own_addresses = n_own;
	app->imap[i] = ch_imap_start(&ic, err);
	return app->imap[i] ? 0 : -1;
}

/* One IMAP worker per [mailbox:NAME]. */
static void start_mailboxes(struct app *app)
{
	const struct ktd_settings *s = app->settings;
	const char *own[KTD_MAILBOX_MAX + 1];
	struct ktd_error err;
	size_t i, n_own;

	n_own = own_addresses(s, s->mailboxes, s->n_mailboxes, own);
	for (i = 0; i < s->n_mailboxes; i++)
		if (start_mailbox(app, &s->mailboxes[i], i, own, n_own, &err) <
		    0)
			fail(err.code == KTD_ERR_CONFIG ? KTD_EXIT_CONFIG
			                                : KTD_EXIT_FAILURE,
			     "mailbox_start_failed", err.msg);
	if (s->n_mailboxes && s->receipt_enabled && !s->smtp_from[0])
		ktd_log_warnx("event=receipts_off msg=\"[receipt] enabled but "
		              "[smtp] from is not set\"");
}

/* The running mailbox of that name in fresh's mailboxes, or NULL. */
static const struct ktd_mailbox *mailbox_named(const struct ktd_settings *fresh,
                                               const char *name)
{
	size_t i;

	for (i = 0; i < fresh->n_mailboxes; i++)
		if (strcmp(fresh->mailboxes[i].name, name) == 0)
			return &fresh->mailboxes[i];
	return NULL;
}

/* Whether the own addresses of the running workers are those of
 * fresh's mailboxes (as sets, without case). */
static bool own_addresses_same(const struct app *app,
                               const struct ktd_settings *fresh)
{
	struct ktd_mailbox run[KTD_MAILBOX_MAX];
	const char *a[KTD_MAILBOX_MAX + 1], *b[KTD_MAILBOX_MAX + 1];
	size_t na, nb, i, j, n = 0;
	bool found;

	for (i = 0; i < KTD_MAILBOX_MAX; i++)
		if (app->imap[i])
			run[n++] = *ch_imap_mailbox(app->imap[i]);
	na = own_addresses(app->settings, run, n, a);
	nb = own_addresses(app->settings, fresh->mailboxes, fresh->n_mailboxes,
	                   b);
	for (i = 0; i < na + nb; i++) {
		const char *x = i < na ? a[i] : b[i - na];
		const char *const *other = i < na ? b : a;
		size_t no = i < na ? nb : na;

		found = false;
		for (j = 0; j < no && !found; j++)
			found = strcasecmp(x, other[j]) == 0;
		if (!found)
			return false;
	}
	return true;
}

/* [mailbox:NAME] sections on SIGHUP: a removed one's worker stops, an
 * added one's starts, a changed one's restarts with its new keys (all of
 * them when the set of own addresses changed, so that each knows it). The
 * files of the new and changed ones are checked first: if one cannot be
 * used, nothing changes (returns -1 with err). A worker that then fails
 * to start is logged and stays stopped until the next reload. */
static int reload_mailboxes(struct app *app, const struct ktd_settings *fresh,
                            struct ktd_error *err)
{
	const char *own[KTD_MAILBOX_MAX + 1], *why[KTD_MAILBOX_MAX];
	char stopped[KTD_MAILBOX_MAX][KTD_MAILBOX_NAME_MAX + 1];
	char quoted[QUOTED_MAX];
	bool all, running;
	size_t i, j, n_own;

	for (i = 0; i < fresh->n_mailboxes; i++) {
		const struct ktd_mailbox *mb = &fresh->mailboxes[i];

		running = false;
		for (j = 0; j < KTD_MAILBOX_MAX && !running; j++)
			running = app->imap[j] &&
			          ktd_mailbox_equal(
			                  ch_imap_mailbox(app->imap[j]), mb);
		if (!running && check_mailbox_files(fresh, mb, err) < 0)
			return -1;
	}
	all = !own_addresses_same(app, fresh);
	for (i = 0; i < KTD_MAILBOX_MAX; i++) {
		const struct ktd_mailbox *now, *mb;

		why[i] = NULL;
		if (!app->imap[i])
			continue;
		now = ch_imap_mailbox(app->imap[i]);
		mb = mailbox_named(fresh, now->name);
		if (!mb)
			why[i] = "removed";
		else if (!ktd_mailbox_equal(now, mb))
			why[i] = "changed";
		else if (all)
			why[i] = "own_addresses_changed";
		if (why[i])
			ch_imap_signal_stop(app->imap[i]);
	}
	for (i = 0; i < KTD_MAILBOX_MAX; i++) {
		stopped[i][0] = '\0';
		if (!why[i])
			continue;
		ktd_strlcpy(stopped[i], ch_imap_mailbox(app->imap[i])->name,
		            sizeof(stopped[i]));
		ch_imap_stop(&app->imap[i]);
		ktd_log_info("event=mailbox_stopped mailbox=%s reason=%s",
		             stopped[i], why[i]);
	}
	n_own = own_addresses(app->settings, fresh->mailboxes,
	                      fresh->n_mailboxes, own);
	for (i = 0; i < fresh->n_mailboxes; i++) {
		const struct ktd_mailbox *mb = &fresh->mailboxes[i];
		size_t slot = KTD_MAILBOX_MAX;
		const char *reason = "added";
		struct ktd_error e2;

		running = false;
		for (j = 0; j < KTD_MAILBOX_MAX; j++) {
			if (!app->imap[j]) {
				if (slot == KTD_MAILBOX_MAX)
					slot = j;
				continue;
			}
			if (strcmp(ch_imap_mailbox(app->imap[j])->name,
			           mb->name) == 0)
				running = true;
		}
		if (running || slot == KTD_MAILBOX_MAX)
			continue;
		for (j = 0; j < KTD_MAILBOX_MAX; j++)
			if (why[j] && strcmp(stopped[j], mb->name) == 0)
				reason = why[j];
		memset(&e2, 0, sizeof(e2));
		if (start_mailbox(app, mb, slot, own, n_own, &e2) < 0) {
			ktd_log_error(
			        "event=mailbox_start_failed mailbox=%s "
			        "msg=%s action=\"stays stopped until the "
			        "next reload\"",
			        mb->name,
			        ktd_log_quote(e2.msg, quoted, sizeof(quoted)));
			continue;
		}
		ktd_log_info("event=mailbox_started mailbox=%s reason=%s",
		             mb->name, reason);
	}
	return 0;
}

/* Stops the IMAP workers, all asked at once. */
static void stop_mailboxes(struct app *app)
{
	size_t i;

	for (i = 0; i < KTD_MAILBOX_MAX; i++)
		ch_imap_signal_stop(app->imap[i]);
	for (i = 0; i < KTD_MAILBOX_MAX; i++)
		ch_imap_stop(&app->imap[i]);
}

static void app_start(struct app *app)
{
	struct ktd_http_server_config hc;
	struct ktd_janitor_config jc;
	struct live_hub_config lc;
	struct db_pool_config pc;
	struct ktd_error err;
	uint64_t t0 = ktd_time_mono_us();

	/* The same checks as --check-config, so that a start-up error reads
	 * the same; then the files are taken. */
	if (check_files(app->settings, &app->migrations, &err) < 0)
		fail(KTD_EXIT_CONFIG, "config_error", err.msg);
	app->www = ktd_static_create(app->settings->www_root, &err);
	if (!app->www)
		fail(KTD_EXIT_CONFIG, "config_error", err.msg);
	if (app->settings->tls_cert[0] &&
	    (slurp(app->settings->tls_cert, &app->tls_cert, &err) < 0 ||
	     slurp(app->settings->tls_key, &app->tls_key, &err) < 0))
		fail(KTD_EXIT_CONFIG, "config_error", err.msg);
	if (app->settings->cti_hmac_secret_file[0]) {
		if (slurp(app->settings->cti_hmac_secret_file, &app->cti_secret,
		          &err) < 0)
			fail(KTD_EXIT_CONFIG, "config_error", err.msg);
		/* A trailing newline of an editor is not part of it. */
		app->cti_secret[strcspn(app->cti_secret, "\r\n")] = '\0';
		if (strlen(app->cti_secret) < 32)
			fail(KTD_EXIT_CONFIG, "config_error",
			     "[cti] hmac_secret_file: the secret must be at "
			     "least 32 bytes");
	}
	if (app->settings->smtp_password_file[0]) {
		if (slurp(app->settings->smtp_password_file,
		          &app->smtp_password, &err) < 0)
			fail(KTD_EXIT_CONFIG, "config_error", err.msg);
		/* A trailing newline of an editor is not part of it. */
		app->smtp_password[strcspn(app->smtp_password, "\r\n")] = '\0';
		if (!app->smtp_password[0])
			fail(KTD_EXIT_CONFIG, "config_error",
			     "[smtp] password_file: the file is empty");
	}
	app->listen_fd = ktd_http_listen(app->settings->listen,
	                                 app->settings->port, &err);
	if (app->listen_fd < 0)
		fail(KTD_EXIT_FAILURE, "listen_failed", err.msg);
	drop_privileges(app->settings);

	startup_schema(app);
	ktd_settings_pool_config(app->settings, &pc);
	app->pool = db_pool_create(&pc);
	app->api.pool = app->pool;
	app->api.migrations = app->migrations;
	app->api.auth.session_idle_s =
	        app->settings->session_idle_timeout_ms / 1000;
	app->api.auth.session_max_age_s =
	        app->settings->session_max_age_ms / 1000;
	app->api.auth.max_failures = app->settings->login_max_failures;
	app->api.auth.failure_window_s =
	        app->settings->login_failure_window_ms / 1000;
	app->api.intake_thread_window_s =
	        app->settings->intake_thread_window_ms / 1000;
	app->api.subject_tag = app->settings->intake_subject_tag;
	app->api.mail_from = app->settings->smtp_from;
	app->api.cti.blocked_numbers = app->settings->cti_blocked_numbers;
	app->api.cti.caller_ids = app->settings->cti_caller_ids;
	app->api.cti.default_caller_id = app->settings->cti_default_caller_id;
	app->api.cti.hmac_secret = app->cti_secret;
	app->api.cti.signature_max_age_s =
	        app->settings->cti_signature_max_age_ms / 1000;
	app->api.cti.return_window_s =
	        app->settings->cti_return_window_ms / 1000;
	app->api.cti_group =
	        cti_group_create(CTI_GROUP_MAX_EVENTS, CTI_GROUP_MAX_LEADERS);
	app->api.callback_max_attempts = app->settings->callbacks_max_attempts;
	app->api.callback_retry_after_s =
	        app->settings->callbacks_retry_after_ms / 1000;

	memset(&lc, 0, sizeof(lc));
	lc.db = &pc;
	/* Gone clients and revoked credentials are noticed once a
	 * heartbeat. */
	lc.tick_ms = app->settings->live_heartbeat_ms;
	lc.pending_max = app->settings->live_client_buffer;
	app->live = live_hub_start(&lc, &err);
	if (!app->live)
		fail(KTD_EXIT_FAILURE, "live_start_failed", err.msg);
	app->api.live = app->live;
	app->api.live_replay_max = app->settings->live_replay_max;
	app->api.live_buffer = app->settings->live_client_buffer;
	app->router = ktd_router_create();
	if (ktd_api_register(app->router, &app->api, &err) < 0)
		ktd_panic("routes: %s", err.msg);

	memset(&hc, 0, sizeof(hc));
	hc.listen_fd = app->listen_fd;
	hc.threads = app->settings->threads;
	hc.max_body = app->settings->max_body;
	hc.max_header = app->settings->max_header;
	hc.max_connections = app->settings->max_connections;
	hc.connection_timeout_s =
	        (unsigned)((app->settings->connection_timeout_ms + 999) / 1000);
	hc.tls_cert_pem = app->tls_cert;
	hc.tls_key_pem = app->tls_key;
	/* Streams never take more than half of the connections, so that
	 * the API stays reachable however many browsers listen. */
	hc.sse_max_streams = app->settings->live_max_clients;
	if (hc.sse_max_streams > app->settings->max_connections / 2)
		hc.sse_max_streams = app->settings->max_connections / 2;
	if (hc.sse_max_streams == 0)
		hc.sse_max_streams = 1;
	hc.sse_buffer_max = app->settings->live_client_buffer;
	hc.sse_heartbeat_ms = app->settings->live_heartbeat_ms;
	app->http = ktd_http_server_start(&hc, app->router, ktd_static_serve,
	                                  app->www, &err);
	if (!app->http)
		fail(KTD_EXIT_FAILURE, "http_start_failed", err.msg);
	app->listen_fd = -1; /* the server owns it now */
	memset(&jc, 0, sizeof(jc));
	jc.pool = app->pool;
	jc.login_failure_window_s =
	        app->settings->login_failure_window_ms / 1000;
	jc.live_retention_s = app->settings->live_retention_ms / 1000;
	jc.interval_ms = JANITOR_INTERVAL_MS;
	jc.call_end_unknown_after_s =
	        app->settings->cti_end_unknown_after_ms / 1000;
	jc.thread_window_s = app->settings->intake_thread_window_ms / 1000;
	app->janitor = ktd_janitor_start(&jc, &err);
	if (!app->janitor)
		fail(KTD_EXIT_FAILURE, "janitor_start_failed", err.msg);
	mailer_start(app, &pc);
	start_mailboxes(app);
	ktd_log_info(
	        "event=started version=%s listen=%s port=%u tls=%s "
	        "threads=%u pool_size=%u schema_version=%u "
	        "startup_ms=%llu",
	        PACKAGE_VERSION, app->settings->listen, app->settings->port,
	        app->tls_cert ? "on" : "off", app->settings->threads,
	        app->settings->pool_size,
	        app->migrations->n
	                ? app->migrations->items[app->migrations->n - 1].version
	                : 0,
	        (unsigned long long)((ktd_time_mono_us() - t0) / 1000));
	notify("READY=1");
}

static void app_stop(struct app *app)
{
	stop_mailboxes(app);
	ch_smtp_stop(&app->mailer);
	ktd_janitor_stop(&app->janitor);
	/* The HTTP server first: no request may subscribe to a stopped hub. */
	ktd_http_server_stop(&app->http);
	live_hub_stop(&app->live);
	db_pool_destroy(&app->pool);
	ktd_router_destroy(&app->router);
	cti_group_free(app->api.cti_group);
	app->api.cti_group = NULL;
	ktd_static_destroy(&app->www);
	db_migrations_destroy(&app->migrations);
	free_secret(&app->tls_cert);
	free_secret(&app->tls_key);
	free_secret(&app->cti_secret);
	free_secret(&app->smtp_password);
	ktd_settings_destroy(&app->settings);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"check-config", no_argument, NULL, 't'},
	        {"version", no_argument, NULL, 'V'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *config = ktd_settings_default_path();
	bool check_only = false;
	struct app app;
	struct ktd_error err;
	int opt, sig;

	memset(&app, 0, sizeof(app));
	app.listen_fd = -1;
	while ((opt = getopt_long(argc, argv, "c:tVh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 't':
			check_only = true;
			break;
		case 'V':
			printf("kontaktd %s\n", PACKAGE_VERSION);
			return KTD_EXIT_OK;
		case 'h':
			usage(stdout);
			return KTD_EXIT_OK;
		default:
			usage(stderr);
			return KTD_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kontaktd: unexpected argument '%s'\n",
		        argv[optind]);
		usage(stderr);
		return KTD_EXIT_USAGE;
	}
	if (sodium_init() < 0)
		ktd_fatal(KTD_EXIT_FAILURE, "event=sodium_init_failed");

	if (ktd_settings_load(config, &app.settings, &err) < 0) {
		if (check_only) {
			fprintf(stderr, "kontaktd: %s\n", err.msg);
			return 1;
		}
		fail(KTD_EXIT_CONFIG, "config_error", err.msg);
	}
	if (check_only) {
		if (check_files(app.settings, &app.migrations, &err) < 0) {
			fprintf(stderr, "kontaktd: %s\n", err.msg);
			app_stop(&app);
			return 1;
		}
		printf("%s: configuration OK\n", config);
		app_stop(&app);
		return 0;
	}
	ktd_log_set_level(app.settings->log_level);
	password_cost(app.settings);
	if (ktd_signals_init(&err) < 0)
		fail(KTD_EXIT_FAILURE, "signals", err.msg);

	app_start(&app);
	sig = main_loop(&app);
	if (!drain(&app, sig) && !cancel_and_wait(&app)) {
		/* A request still running holds its worker thread, and
		 * stopping the HTTP server would wait for that thread, as
		 * would the pool for its connection. Leave them to the exit,
		 * which closes their sockets. */
		ktd_log_info("event=stopped in_flight=%u",
		             ktd_http_server_in_flight(app.http));
		fflush(stderr);
		_exit(KTD_EXIT_OK);
	}
	app_stop(&app);
	ktd_signals_deinit();
	ktd_log_info("event=stopped");
	return KTD_EXIT_OK;
}
