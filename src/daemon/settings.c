/* SPDX-License-Identifier: MPL-2.0 */
/* Configuration file parsing (INI via inih) into struct ktd_settings. */
#include "daemon_common.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "core/call.h"
#include "core/case_action.h"
#include "core/user.h"
#include "daemon/settings.h"
#include "db/pool.h"

#ifndef KTD_SYSCONFDIR
#define KTD_SYSCONFDIR "/etc"
#endif
#ifndef KTD_DATADIR
#define KTD_DATADIR "/usr/share/kontaktd"
#endif

enum setting_type {
	SET_STR,
	SET_U32,
	SET_SIZE,
	SET_DURATION,
	SET_BOOL,
	SET_LOG_LEVEL,
};

/* The key cannot change without a restart; SIGHUP only warns. */
#define SET_NO_RELOAD 0x1
/* The value may be empty (an unset optional setting). */
#define SET_EMPTY_OK 0x2

struct setting_def {
	const char *section;
	const char *name;
	enum setting_type type;
	size_t offset;
	const char *def;
	unsigned flags;
	uint64_t min, max; /* for numbers, sizes and durations */
};

#define S(sec, name, type, field, def, flags, min, max)                        \
	{                                                                      \
		sec, name, type, offsetof(struct ktd_settings, field), def,    \
		        flags, min, max                                        \
	}

static const struct setting_def setting_defs[] = {
        S("server", "listen", SET_STR, listen, "127.0.0.1", SET_NO_RELOAD, 0,
          0),
        S("server", "port", SET_U32, port, "8080", SET_NO_RELOAD, 1, 65535),
        S("server", "threads", SET_U32, threads, "4", SET_NO_RELOAD, 1, 256),
        S("server", "www_root", SET_STR, www_root, KTD_DATADIR "/www",
          SET_NO_RELOAD, 0, 0),
        S("server", "max_body", SET_SIZE, max_body, "1M", SET_NO_RELOAD, 1024,
          1024ULL * 1024 * 1024),
        S("server", "max_header", SET_SIZE, max_header, "16k", SET_NO_RELOAD,
          4096, 1024 * 1024),
        S("server", "max_connections", SET_U32, max_connections, "512",
          SET_NO_RELOAD, 1, 65535),
        S("server", "connection_timeout", SET_DURATION, connection_timeout_ms,
          "30s", SET_NO_RELOAD, 1000, 3600 * 1000),
        S("server", "shutdown_timeout", SET_DURATION, shutdown_timeout_ms,
          "10s", 0, 0, 3600 * 1000),
        S("server", "tls_cert", SET_STR, tls_cert, "",
          SET_NO_RELOAD | SET_EMPTY_OK, 0, 0),
        S("server", "tls_key", SET_STR, tls_key, "",
          SET_NO_RELOAD | SET_EMPTY_OK, 0, 0),
        S("server", "user", SET_STR, user, "", SET_NO_RELOAD | SET_EMPTY_OK, 0,
          0),

        S("database", "conninfo", SET_STR, conninfo, "dbname=kontaktd",
          SET_NO_RELOAD | SET_EMPTY_OK, 0, 0),
        S("database", "password_file", SET_STR, password_file, "",
          SET_NO_RELOAD | SET_EMPTY_OK, 0, 0),
        S("database", "pool_size", SET_U32, pool_size, "8", SET_NO_RELOAD, 1,
          1000),
        S("database", "acquire_timeout", SET_DURATION, acquire_timeout_ms, "5s",
          SET_NO_RELOAD, 1, 600 * 1000),
        S("database", "connect_timeout", SET_DURATION, connect_timeout_ms, "5s",
          SET_NO_RELOAD, 1000, 600 * 1000),
        S("database", "statement_timeout", SET_DURATION, statement_timeout_ms,
          "30s", SET_NO_RELOAD, 0, 3600 * 1000),
        S("database", "auto_migrate", SET_BOOL, auto_migrate, "false",
          SET_NO_RELOAD, 0, 0),
        S("database", "sql_dir", SET_STR, sql_dir, KTD_DATADIR "/sql",
          SET_NO_RELOAD, 0, 0),

        S("log", "level", SET_LOG_LEVEL, log_level, "info", 0, 0, 0),

        S("auth", "session_idle_timeout", SET_DURATION, session_idle_timeout_ms,
          "8h", SET_NO_RELOAD, 60 * 1000, 7ULL * 24 * 3600 * 1000),
        S("auth", "session_max_age", SET_DURATION, session_max_age_ms, "12h",
          SET_NO_RELOAD, 60 * 1000, 30ULL * 24 * 3600 * 1000),
        S("auth", "login_max_failures", SET_U32, login_max_failures, "5",
          SET_NO_RELOAD, 1, 1000),
        S("auth", "login_failure_window", SET_DURATION, login_failure_window_ms,
          "15m", SET_NO_RELOAD, 60 * 1000, 24ULL * 3600 * 1000),
        S("auth", "password_hash_memory", SET_SIZE, password_hash_memory, "64M",
          SET_NO_RELOAD, USER_HASH_MEMORY_MIN, USER_HASH_MEMORY_MAX),
        S("auth", "password_hash_passes", SET_U32, password_hash_passes, "2",
          SET_NO_RELOAD, USER_HASH_PASSES_MIN, USER_HASH_PASSES_MAX),

        S("intake", "thread_window", SET_DURATION, intake_thread_window_ms,
          "72h", SET_NO_RELOAD, 0, 90ULL * 24 * 3600 * 1000),
        S("intake", "subject_tag", SET_STR, intake_subject_tag, "Sag",
          SET_NO_RELOAD, 0, 0),
        S("intake", "reopen_within", SET_DURATION, intake_reopen_within_ms,
          "720h", SET_NO_RELOAD, 0, 3650ULL * 24 * 3600 * 1000),

        S("smtp", "from", SET_STR, smtp_from, "", SET_NO_RELOAD | SET_EMPTY_OK,
          0, 0),
        S("smtp", "host", SET_STR, smtp_host, "", SET_NO_RELOAD | SET_EMPTY_OK,
          0, 0),
        S("smtp", "port", SET_U32, smtp_port, "25", SET_NO_RELOAD, 1, 65535),
        S("smtp", "tls", SET_STR, smtp_tls, "starttls", SET_NO_RELOAD, 0, 0),
        S("smtp", "user", SET_STR, smtp_user, "", SET_NO_RELOAD | SET_EMPTY_OK,
          0, 0),
        S("smtp", "password_file", SET_STR, smtp_password_file, "",
          SET_NO_RELOAD | SET_EMPTY_OK, 0, 0),
        S("smtp", "timeout", SET_DURATION, smtp_timeout_ms, "60s",
          SET_NO_RELOAD, 1000, 3600 * 1000),
        S("smtp", "max_attempts", SET_U32, smtp_max_attempts, "10",
          SET_NO_RELOAD, 1, 100),
        S("smtp", "retry_after", SET_DURATION, smtp_retry_after_ms, "1m",
          SET_NO_RELOAD, 1000, 24ULL * 3600 * 1000),
        S("smtp", "helo", SET_STR, smtp_helo, "", SET_NO_RELOAD | SET_EMPTY_OK,
          0, 0),
        S("smtp", "ca_file", SET_STR, smtp_ca_file, "",
          SET_NO_RELOAD | SET_EMPTY_OK, 0, 0),
        S("smtp", "crl_file", SET_STR, smtp_crl_file, "",
          SET_NO_RELOAD | SET_EMPTY_OK, 0, 0),

        S("receipt", "enabled", SET_BOOL, receipt_enabled, "true",
          SET_NO_RELOAD, 0, 0),
        S("receipt", "municipality", SET_STR, receipt_municipality, "",
          SET_NO_RELOAD | SET_EMPTY_OK, 0, 0),
        S("receipt", "opening_hours", SET_STR, receipt_opening_hours, "",
          SET_NO_RELOAD | SET_EMPTY_OK, 0, 0),
        S("receipt", "interval", SET_DURATION, receipt_interval_ms, "1h",
          SET_NO_RELOAD, 0, 30ULL * 24 * 3600 * 1000),

        S("cti", "hmac_secret_file", SET_STR, cti_hmac_secret_file, "",
          SET_NO_RELOAD | SET_EMPTY_OK, 0, 0),
        S("cti", "signature_max_age", SET_DURATION, cti_signature_max_age_ms,
          "5m", SET_NO_RELOAD, 10 * 1000, 3600 * 1000),
        S("cti", "blocked_numbers", SET_STR, cti_blocked_numbers, "",
          SET_NO_RELOAD | SET_EMPTY_OK, 0, 0),
        S("cti", "caller_ids", SET_STR, cti_caller_ids, "",
          SET_NO_RELOAD | SET_EMPTY_OK, 0, 0),
        S("cti", "default_caller_id", SET_STR, cti_default_caller_id, "",
          SET_NO_RELOAD | SET_EMPTY_OK, 0, 0),
        S("cti", "end_unknown_after", SET_DURATION, cti_end_unknown_after_ms,
          "4h", SET_NO_RELOAD, 60 * 1000, 7ULL * 24 * 3600 * 1000),
        S("cti", "return_window", SET_DURATION, cti_return_window_ms, "30m",
          SET_NO_RELOAD, 0, 24ULL * 3600 * 1000),

        S("callbacks", "max_attempts", SET_U32, callbacks_max_attempts, "3",
          SET_NO_RELOAD, 1, 20),
        S("callbacks", "retry_after", SET_DURATION, callbacks_retry_after_ms,
          "30m", SET_NO_RELOAD, 60 * 1000, 7ULL * 24 * 3600 * 1000),
        S("live", "max_clients", SET_U32, live_max_clients, "256",
          SET_NO_RELOAD, 1, 65535),
        S("live", "heartbeat", SET_DURATION, live_heartbeat_ms, "15s",
          SET_NO_RELOAD, 1000, 300 * 1000),
        S("live", "client_buffer", SET_SIZE, live_client_buffer, "1M",
          SET_NO_RELOAD, 64 * 1024, 64ULL * 1024 * 1024),
        S("live", "replay_max", SET_U32, live_replay_max, "1000", SET_NO_RELOAD,
          0, 100000),
        S("live", "retention", SET_DURATION, live_retention_ms, "24h",
          SET_NO_RELOAD, 60 * 1000, 30ULL * 24 * 3600 * 1000),
};

/* The keys of each [mailbox:NAME] section, applied to a struct
 * ktd_mailbox; key_line follows this order. */
#define M(name, type, field, def, flags, min, max)                             \
	{                                                                      \
		"mailbox:", name, type, offsetof(struct ktd_mailbox, field),   \
		        def, flags, min, max                                   \
	}

static const struct setting_def mailbox_defs[] = {
        M("host", SET_STR, host, "", SET_EMPTY_OK, 0, 0),
        M("port", SET_U32, port, "0", 0, 0, 65535),
        M("tls", SET_STR, tls_mode, "tls", 0, 0, 0),
        M("tls_fingerprint", SET_STR, tls_fingerprint_text, "", SET_EMPTY_OK, 0,
          0),
        M("ca_file", SET_STR, ca_file, "", SET_EMPTY_OK, 0, 0),
        M("crl_file", SET_STR, crl_file, "", SET_EMPTY_OK, 0, 0),
        M("user", SET_STR, user, "", SET_EMPTY_OK, 0, 0),
        M("password_file", SET_STR, password_file, "", SET_EMPTY_OK, 0, 0),
        M("folder", SET_STR, folder, "INBOX", 0, 0, 0),
        M("after", SET_STR, after, "seen", 0, 0, 0),
        M("poll_interval", SET_DURATION, poll_interval_ms, "60s", 0, 1000,
          3600 * 1000),
        M("max_message_size", SET_SIZE, max_message_size, "25M", 0, 64 * 1024,
          1024ULL * 1024 * 1024),
};

_Static_assert(KTD_N_ELEMENTS(mailbox_defs) == KTD_MAILBOX_KEYS,
               "KTD_MAILBOX_KEYS is the number of mailbox keys");

static const char mailbox_prefix[] = "mailbox:";

/* Sections whose keys come with their channel in a later release; naming
 * them is allowed so that a config file can be laid out ahead. */
static const char *const placeholder_sections[] = {"digitalpost"};

_Static_assert(KTD_N_ELEMENTS(setting_defs) <= KTD_SETTINGS_MAX_KEYS,
               "raise KTD_SETTINGS_MAX_KEYS");

struct parse_state {
	const char *path;
	FILE *fp;
	struct ktd_settings *s;
	unsigned line; /* current line, counted by the reader */
	/* The line each key was set on, 0 when not set. */
	unsigned set_line[KTD_N_ELEMENTS(setting_defs)];
	bool failed;
	struct ktd_error *err;
};

static int parse_fail(struct parse_state *st, const char *fmt, ...)
        KTD_ATTR_FORMAT(2, 3);

static int parse_fail(struct parse_state *st, const char *fmt, ...)
{
	char msg[KTD_ERROR_MSG_MAX];
	va_list ap;

	if (st->failed)
		return 0;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ktd_error_set(st->err, KTD_ERR_CONFIG, "%s:%u: %s", st->path, st->line,
	              msg);
	st->failed = true;
	return 0;
}

static bool section_known(const char *name)
{
	size_t i;

	for (i = 0; i < KTD_N_ELEMENTS(setting_defs); i++) {
		if (strcmp(setting_defs[i].section, name) == 0)
			return true;
	}
	for (i = 0; i < KTD_N_ELEMENTS(placeholder_sections); i++) {
		if (strcmp(placeholder_sections[i], name) == 0)
			return true;
	}
	return false;
}

/* A mailbox's name: [a-z0-9_-]{1,32}. */
static bool mailbox_name_valid(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= KTD_MAILBOX_NAME_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* s (a struct ktd_settings or a struct ktd_mailbox, as d belongs to one or
 * the other) */
static char **field_str(void *s, const struct setting_def *d)
{
	return (char **)(void *)((char *)s + d->offset);
}

static int setting_apply(void *s, const struct setting_def *d,
                         const char *value, char *why, size_t whysz)
{
	void *field = (char *)s + d->offset;
	uint64_t v64 = 0;
	uint32_t v32 = 0;
	int r = 0;

	switch (d->type) {
	case SET_STR:
		if (value[0] == '\0' && !(d->flags & SET_EMPTY_OK)) {
			snprintf(why, whysz, "must not be empty");
			return -1;
		}
		ktd_free(field_str(s, d));
		*field_str(s, d) = ktd_strdup(value);
		return 0;
	case SET_U32:
		if (ktd_parse_u32(value, &v32) < 0) {
			snprintf(why, whysz, "expected a whole number");
			return -1;
		}
		v64 = v32;
		break;
	case SET_SIZE:
		r = ktd_parse_size(value, &v64);
		if (r < 0) {
			snprintf(why, whysz,
			         "expected a size such as 512, 64k or 1M");
			return -1;
		}
		break;
	case SET_DURATION:
		r = ktd_parse_duration_ms(value, &v64);
		if (r < 0) {
			snprintf(why, whysz,
			         "expected a duration such as 250ms, 30s or "
			         "5m");
			return -1;
		}
		break;
	case SET_BOOL:
		if (ktd_parse_bool(value, (bool *)field) < 0) {
			snprintf(why, whysz, "expected true or false");
			return -1;
		}
		return 0;
	case SET_LOG_LEVEL:
		if (ktd_log_level_parse(value, (enum ktd_log_level *)field) <
		    0) {
			snprintf(why, whysz,
			         "expected one of fatal, error, warning, "
			         "info, debug, trace");
			return -1;
		}
		return 0;
	}
	if (d->max != 0 && (v64 < d->min || v64 > d->max)) {
		snprintf(why, whysz, "out of range (%llu..%llu%s)",
		         (unsigned long long)d->min, (unsigned long long)d->max,
		         d->type == SET_DURATION ? " ms"
		         : d->type == SET_SIZE   ? " bytes"
		                                 : "");
		return -1;
	}
	if (d->type == SET_U32)
		*(uint32_t *)field = (uint32_t)v64;
	else
		*(uint64_t *)field = v64;
	return 0;
}

/* A key of [mailbox:NAME]: the section's mailbox was made when its header
 * was read. */
static int mailbox_key(struct parse_state *st, const char *section,
                       const char *name, const char *value)
{
	struct ktd_mailbox *mb = NULL;
	const char *mname = section + sizeof(mailbox_prefix) - 1;
	char why[256];
	size_t i;

	for (i = 0; i < st->s->n_mailboxes; i++)
		if (strcmp(st->s->mailboxes[i].name, mname) == 0)
			mb = &st->s->mailboxes[i];
	if (!mb)
		return parse_fail(st, "unknown section [%s]", section);
	for (i = 0; i < KTD_N_ELEMENTS(mailbox_defs); i++) {
		if (strcmp(mailbox_defs[i].name, name) != 0)
			continue;
		if (mb->key_line[i])
			return parse_fail(st, "[%s] %s is set twice", section,
			                  name);
		mb->key_line[i] = st->line;
		if (setting_apply(mb, &mailbox_defs[i], value, why,
		                  sizeof(why)) < 0)
			return parse_fail(st, "[%s] %s: bad value: %s", section,
			                  name, why);
		return 1;
	}
	return parse_fail(st, "unknown key '%s' in section [%s]", name,
	                  section);
}

/* A [mailbox:NAME] header: a new mailbox with the defaults. */
static int mailbox_section(struct parse_state *st, const char *section)
{
	const char *mname = section + sizeof(mailbox_prefix) - 1;
	struct ktd_mailbox *mb;
	char why[256];
	size_t i;

	if (!mailbox_name_valid(mname))
		return parse_fail(
		        st,
		        "[%s]: a mailbox name is 1 to %d of a-z, 0-9, "
		        "'_' and '-'",
		        section, KTD_MAILBOX_NAME_MAX);
	for (i = 0; i < st->s->n_mailboxes; i++)
		if (strcmp(st->s->mailboxes[i].name, mname) == 0)
			return parse_fail(st,
			                  "[%s] appears twice (first on "
			                  "line %u)",
			                  section, st->s->mailboxes[i].line);
	if (st->s->n_mailboxes >= KTD_MAILBOX_MAX)
		return parse_fail(st, "more than %d [mailbox:NAME] sections",
		                  KTD_MAILBOX_MAX);
	st->s->mailboxes = ktd_realloc(st->s->mailboxes,
	                               (st->s->n_mailboxes + 1) *
	                                       sizeof(*st->s->mailboxes));
	mb = &st->s->mailboxes[st->s->n_mailboxes++];
	memset(mb, 0, sizeof(*mb));
	mb->name = ktd_strdup(mname);
	mb->line = st->line;
	for (i = 0; i < KTD_N_ELEMENTS(mailbox_defs); i++)
		if (setting_apply(mb, &mailbox_defs[i], mailbox_defs[i].def,
		                  why, sizeof(why)) < 0)
			ktd_panic("bad default for mailbox %s: %s",
			          mailbox_defs[i].name, why);
	return 1;
}

static int settings_ini_handler(void *user, const char *section,
                                const char *name, const char *value)
{
	struct parse_state *st = user;
	char why[256];
	size_t i;

	if (st->failed)
		return 0;
	if (section[0] == '\0')
		return parse_fail(st,
		                  "key '%s' outside of a section (add e.g. "
		                  "[server] above it)",
		                  name);
	if (ktd_str_has_prefix(section, mailbox_prefix))
		return mailbox_key(st, section, name, value);
	for (i = 0; i < KTD_N_ELEMENTS(setting_defs); i++) {
		const struct setting_def *d = &setting_defs[i];

		if (strcmp(d->section, section) != 0 ||
		    strcmp(d->name, name) != 0)
			continue;
		if (st->set_line[i])
			return parse_fail(st, "[%s] %s is set twice", section,
			                  name);
		st->set_line[i] = st->line;
		st->s->key_line[i] = st->line;
		if (setting_apply(st->s, d, value, why, sizeof(why)) < 0)
			return parse_fail(st, "[%s] %s: bad value: %s", section,
			                  name, why);
		return 1;
	}
	return parse_fail(st, "unknown key '%s' in section [%s]", name,
	                  section);
}

/* The reader given to inih: fgets that counts lines (so the handler knows
 * where it is), refuses lines longer than inih can hold rather than letting
 * them be cut, and checks section names as they appear, including those of
 * empty sections. */
static char *settings_ini_reader(char *str, int num, void *stream)
{
	struct parse_state *st = stream;
	char *p, *end;
	size_t len;

	if (st->failed || !fgets(str, num, st->fp))
		return NULL;
	st->line++;
	len = strlen(str);
	if (len == (size_t)num - 1 && str[len - 1] != '\n' && !feof(st->fp)) {
		parse_fail(st, "line longer than %d characters", num - 2);
		return NULL;
	}
	p = str;
	while (isspace((unsigned char)*p))
		p++;
	/* inih takes an indented line for the continuation of the value
	 * above it, so "  threads = 4" below "port = 8080" would be reported
	 * as port set twice. Here an indented line is an ordinary line. */
	if (p != str) {
		memmove(str, p, strlen(p) + 1);
		p = str;
	}
	if (*p != '[')
		return str;
	end = strchr(p, ']');
	if (!end) {
		parse_fail(st, "section header without closing ']'");
		return NULL;
	}
	*end = '\0';
	if (ktd_str_has_prefix(p + 1, mailbox_prefix)) {
		if (!mailbox_section(st, p + 1))
			return NULL;
	} else if (!section_known(p + 1)) {
		parse_fail(st, "unknown section [%s]", p + 1);
		return NULL;
	}
	*end = ']';
	return str;
}

static int settings_apply_defaults(struct ktd_settings *s)
{
	char why[256];
	size_t i;

	for (i = 0; i < KTD_N_ELEMENTS(setting_defs); i++) {
		if (setting_apply(s, &setting_defs[i], setting_defs[i].def, why,
		                  sizeof(why)) < 0)
			ktd_panic("bad default for %s.%s: %s",
			          setting_defs[i].section, setting_defs[i].name,
			          why);
	}
	return 0;
}

struct ktd_settings *ktd_settings_create_default(void)
{
	struct ktd_settings *s = ktd_calloc(1, sizeof(*s));

	settings_apply_defaults(s);
	return s;
}

/* True when a conninfo string ("key=value ..." or a postgresql:// URI)
 * carries a password, which belongs in password_file instead. */
KTD_STATIC bool conninfo_has_password(const char *ci)
{
	const char *auth, *at, *colon;
	size_t authlen;

	const char *p;

	/* The keyword "password" in "key = value" form or in a URI's query
	 * string; not the word inside a value such as dbname=password_db. */
	for (p = strstr(ci, "password"); p; p = strstr(p + 1, "password")) {
		const char *q = p + strlen("password");

		if (p != ci && !strchr(" \t?&", p[-1]))
			continue;
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q == '=')
			return true;
	}
	auth = strstr(ci, "://");
	if (!auth)
		return false;
	auth += 3;
	authlen = strcspn(auth, "/?");
	at = memchr(auth, '@', authlen);
	if (!at)
		return false;
	colon = memchr(auth, ':', (size_t)(at - auth));
	return colon != NULL;
}

/* Points st->line at the line that set the key (0 if none did). */
static void parse_goto_key(struct parse_state *st, const char *section,
                           const char *name)
{
	size_t i;

	st->line = 0;
	for (i = 0; i < KTD_N_ELEMENTS(setting_defs); i++) {
		if (strcmp(setting_defs[i].section, section) == 0 &&
		    strcmp(setting_defs[i].name, name) == 0)
			st->line = st->set_line[i];
	}
}

/* Checks between keys, after the whole file is read. An error names the
 * line of the key at fault, like any other. Defaults pass these checks,
 * so the key was always set in the file. */
/* The word of the subject tag "[Sag 2026-000123]": ASCII letters and
 * digits or UTF-8 letters (bytes >= 0x80 of valid UTF-8), no spaces or
 * brackets, so that the tag can be found again in a reply's subject. */
static bool subject_tag_valid(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 32 || !ktd_utf8_valid(s, n))
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x80 && !isalnum(c))
			return false;
	}
	return true;
}

static void settings_validate_fixed(struct parse_state *st);

static void settings_validate_cti(struct parse_state *st)
{
	const struct ktd_settings *s = st->s;
	char number[CALL_NUMBER_SIZE];
	struct ktd_error e;

	if (call_pattern_list_check(s->cti_blocked_numbers, &e) < 0) {
		parse_goto_key(st, "cti", "blocked_numbers");
		parse_fail(st, "[cti] blocked_numbers: %s", e.msg);
	} else if (call_caller_id_table_check(s->cti_caller_ids, &e) < 0) {
		parse_goto_key(st, "cti", "caller_ids");
		parse_fail(st, "[cti] caller_ids: %s", e.msg);
	} else if (s->cti_default_caller_id[0] &&
	           call_number_normalise(s->cti_default_caller_id, number) !=
	                   CALL_NUMBER_E164) {
		parse_goto_key(st, "cti", "default_caller_id");
		parse_fail(st, "[cti] default_caller_id must be a phone number "
		               "(+4536373839)");
	}
}

/* A host name or address for [smtp] host and helo: letters, digits,
 * '.', '-', ':' (IPv6), '[', ']'; nothing a protocol line could be split
 * on. */
static bool smtp_host_valid(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 253 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                 "0123456789.-:[]") == n;
}

/* [smtp]: returns 0 when the section is fine, else fails st. */
static int settings_validate_smtp(struct parse_state *st)
{
	const struct ktd_settings *s = st->s;

	if (strcmp(s->smtp_tls, "tls") == 0) {
		/* libESMTP speaks STARTTLS only; it has no implicit TLS
		 * (SMTPS, port 465). */
		parse_goto_key(st, "smtp", "tls");
		parse_fail(st, "[smtp] tls = tls (implicit TLS, port 465) is "
		               "not supported by libESMTP: use tls = starttls "
		               "(port 587 or 25)");
	} else if (strcmp(s->smtp_tls, "none") != 0 &&
	           strcmp(s->smtp_tls, "starttls") != 0) {
		parse_goto_key(st, "smtp", "tls");
		parse_fail(st, "[smtp] tls must be one of none, starttls, tls");
	} else if (s->smtp_host[0] && !smtp_host_valid(s->smtp_host)) {
		parse_goto_key(st, "smtp", "host");
		parse_fail(st, "[smtp] host must be a host name or an IP "
		               "address");
	} else if (s->smtp_helo[0] && !smtp_host_valid(s->smtp_helo)) {
		parse_goto_key(st, "smtp", "helo");
		parse_fail(st, "[smtp] helo must be a host name");
	} else if (s->smtp_host[0] && !s->smtp_from[0]) {
		parse_goto_key(st, "smtp", "host");
		parse_fail(st, "[smtp] host is set but from is not: set [smtp] "
		               "from, the sender of every message");
	} else if (!s->smtp_user[0] != !s->smtp_password_file[0]) {
		parse_goto_key(st, "smtp",
		               s->smtp_user[0] ? "user" : "password_file");
		parse_fail(st, "[smtp] user and password_file must be set "
		               "together");
	} else if (s->smtp_user[0] &&
	           (!ktd_utf8_valid(s->smtp_user, strlen(s->smtp_user)) ||
	            ktd_utf8_has_control(s->smtp_user))) {
		parse_goto_key(st, "smtp", "user");
		parse_fail(st, "[smtp] user must be printable text");
	} else if (s->smtp_crl_file[0] && strcmp(s->smtp_tls, "none") == 0) {
		parse_goto_key(st, "smtp", "crl_file");
		parse_fail(st, "[smtp] crl_file needs tls = starttls");
	} else {
		return 0;
	}
	return -1;
}

/* The line of a mailbox's key, or of its section when the key kept its
 * default. */
static void mailbox_goto_key(struct parse_state *st,
                             const struct ktd_mailbox *mb, const char *name)
{
	size_t i;

	st->line = mb->line;
	for (i = 0; i < KTD_N_ELEMENTS(mailbox_defs); i++)
		if (strcmp(mailbox_defs[i].name, name) == 0 && mb->key_line[i])
			st->line = mb->key_line[i];
}

static bool mailbox_folder_valid(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 200 || !ktd_utf8_valid(s, n))
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '"' ||
		    s[i] == '\\')
			return false;
	return true;
}

/* "AB:CD:..." or "abcd..." (SHA-256, 32 bytes) into 64 lower-case hex
 * digits; "" stays "". */
static bool fingerprint_parse(const char *in, char out[65])
{
	size_t n = 0;

	for (; *in; in++) {
		if (*in == ':')
			continue;
		if (!isxdigit((unsigned char)*in) || n == 64)
			return false;
		out[n++] = (char)tolower((unsigned char)*in);
	}
	out[n] = '\0';
	return n == 0 || n == 64;
}

static int mailbox_validate(struct parse_state *st, struct ktd_mailbox *mb)
{
	static const char *const required[] = {"host", "user", "password_file"};
	const char *vals[3] = {mb->host, mb->user, mb->password_file};
	size_t i;

	for (i = 0; i < KTD_N_ELEMENTS(required); i++) {
		if (vals[i][0])
			continue;
		mailbox_goto_key(st, mb, required[i]);
		return parse_fail(st, "[mailbox:%s] %s is required", mb->name,
		                  required[i]);
	}
	if (strcmp(mb->tls_mode, "tls") == 0)
		mb->tls = KTD_MAILBOX_TLS;
	else if (strcmp(mb->tls_mode, "starttls") == 0)
		mb->tls = KTD_MAILBOX_STARTTLS;
	else if (strcmp(mb->tls_mode, "none") == 0)
		mb->tls = KTD_MAILBOX_NONE;
	else {
		mailbox_goto_key(st, mb, "tls");
		return parse_fail(st,
		                  "[mailbox:%s] tls must be tls, starttls "
		                  "or none",
		                  mb->name);
	}
	if (mb->port == 0)
		mb->port = mb->tls == KTD_MAILBOX_TLS ? 993 : 143;
	if (!fingerprint_parse(mb->tls_fingerprint_text, mb->tls_fingerprint)) {
		mailbox_goto_key(st, mb, "tls_fingerprint");
		return parse_fail(st,
		                  "[mailbox:%s] tls_fingerprint must be the "
		                  "SHA-256 of the certificate: 64 hex digits, "
		                  "in pairs separated by ':' or not",
		                  mb->name);
	}
	if (mb->tls_fingerprint[0] && mb->tls == KTD_MAILBOX_NONE) {
		mailbox_goto_key(st, mb, "tls_fingerprint");
		return parse_fail(st,
		                  "[mailbox:%s] tls_fingerprint needs tls "
		                  "or starttls",
		                  mb->name);
	}
	if (mb->ca_file[0] && mb->tls == KTD_MAILBOX_NONE) {
		mailbox_goto_key(st, mb, "ca_file");
		return parse_fail(st,
		                  "[mailbox:%s] ca_file needs tls or starttls",
		                  mb->name);
	}
	if (mb->crl_file[0] && mb->tls == KTD_MAILBOX_NONE) {
		mailbox_goto_key(st, mb, "crl_file");
		return parse_fail(st,
		                  "[mailbox:%s] crl_file needs tls or starttls",
		                  mb->name);
	}
	if (strpbrk(mb->host, " \t/\\\"")) {
		mailbox_goto_key(st, mb, "host");
		return parse_fail(st,
		                  "[mailbox:%s] host must be a host name "
		                  "or address",
		                  mb->name);
	}
	if (!mailbox_folder_valid(mb->folder)) {
		mailbox_goto_key(st, mb, "folder");
		return parse_fail(st,
		                  "[mailbox:%s] folder must be a folder "
		                  "name (no quotes, backslashes or control "
		                  "characters)",
		                  mb->name);
	}
	if (strcmp(mb->after, "seen") == 0) {
		mb->move_to = NULL;
	} else if (ktd_str_has_prefix(mb->after, "move:") &&
	           mailbox_folder_valid(mb->after + 5) &&
	           strcmp(mb->after + 5, mb->folder) != 0) {
		mb->move_to = mb->after + 5;
	} else {
		mailbox_goto_key(st, mb, "after");
		return parse_fail(st,
		                  "[mailbox:%s] after must be seen or "
		                  "move:FOLDER (another folder than "
		                  "folder)",
		                  mb->name);
	}
	return 1;
}

static void settings_validate(struct parse_state *st)
{
	size_t i;

	for (i = 0; i < st->s->n_mailboxes; i++)
		if (!mailbox_validate(st, &st->s->mailboxes[i]))
			return;
	settings_validate_fixed(st);
}

static void settings_validate_fixed(struct parse_state *st)
{
	const struct ktd_settings *s = st->s;
	bool cert = s->tls_cert[0] != '\0', key = s->tls_key[0] != '\0';

	if (cert != key) {
		parse_goto_key(st, "server", cert ? "tls_cert" : "tls_key");
		parse_fail(st, "[server] tls_cert and tls_key must be set "
		               "together");
	} else if (s->conninfo[0] == '\0') {
		parse_goto_key(st, "database", "conninfo");
		parse_fail(st, "[database] conninfo is empty");
	} else if (conninfo_has_password(s->conninfo)) {
		parse_goto_key(st, "database", "conninfo");
		parse_fail(st, "[database] conninfo must not contain a "
		               "password: put it in the file named by "
		               "password_file");
	} else if (!subject_tag_valid(s->intake_subject_tag)) {
		parse_goto_key(st, "intake", "subject_tag");
		parse_fail(st, "[intake] subject_tag must be 1 to 32 letters "
		               "or digits (e.g. Sag)");
	} else if (s->smtp_from[0] && !case_mail_address_valid(s->smtp_from)) {
		parse_goto_key(st, "smtp", "from");
		parse_fail(st, "[smtp] from must be one plain e-mail address "
		               "(kontakt@example.dk)");
	} else if (settings_validate_smtp(st) == 0) {
		settings_validate_cti(st);
	}
}

int ktd_settings_load(const char *path, struct ktd_settings **settings_r,
                      struct ktd_error *err)
{
	struct parse_state st;
	int r;

	memset(&st, 0, sizeof(st));
	st.path = path;
	st.err = err;
	st.fp = fopen(path, "r");
	if (!st.fp)
		return ktd_error_set(err, KTD_ERR_CONFIG, "%s: cannot open: %s",
		                     path, strerror(errno));
	st.s = ktd_settings_create_default();
	st.s->path = ktd_strdup(path);
	r = ini_parse_stream(settings_ini_reader, &st, settings_ini_handler,
	                     &st);
	if (!st.failed && ferror(st.fp)) {
		ktd_error_set(err, KTD_ERR_CONFIG, "%s: read error", path);
		st.failed = true;
	}
	fclose(st.fp);
	if (!st.failed && r > 0) {
		/* inih found a line it could not parse (no '=' and no
		 * section header). */
		ktd_error_set(err, KTD_ERR_CONFIG,
		              "%s:%d: syntax error: expected 'key = value' or "
		              "'[section]'",
		              path, r);
		st.failed = true;
	} else if (!st.failed && r < 0) {
		ktd_error_set(err, KTD_ERR_CONFIG, "%s: cannot parse (%d)",
		              path, r);
		st.failed = true;
	}
	if (!st.failed)
		settings_validate(&st);
	if (st.failed) {
		ktd_settings_destroy(&st.s);
		return -1;
	}
	*settings_r = st.s;
	return 0;
}

void ktd_settings_destroy(struct ktd_settings **settings)
{
	struct ktd_settings *s = *settings;
	size_t i;

	if (!s)
		return;
	for (i = 0; i < KTD_N_ELEMENTS(setting_defs); i++) {
		if (setting_defs[i].type == SET_STR)
			ktd_free(field_str(s, &setting_defs[i]));
	}
	for (i = 0; i < s->n_mailboxes; i++) {
		struct ktd_mailbox *mb = &s->mailboxes[i];
		size_t k;

		for (k = 0; k < KTD_N_ELEMENTS(mailbox_defs); k++)
			if (mailbox_defs[k].type == SET_STR)
				ktd_free(field_str(mb, &mailbox_defs[k]));
		ktd_free(&mb->name);
	}
	free(s->mailboxes);
	ktd_free(&s->path);
	free(s);
	*settings = NULL;
}

static bool setting_equal(const struct ktd_settings *a,
                          const struct ktd_settings *b,
                          const struct setting_def *d)
{
	const char *pa = (const char *)a + d->offset;
	const char *pb = (const char *)b + d->offset;

	switch (d->type) {
	case SET_STR:
		return strcmp(*(char *const *)(const void *)pa,
		              *(char *const *)(const void *)pb) == 0;
	case SET_U32:
		return *(const uint32_t *)(const void *)pa ==
		       *(const uint32_t *)(const void *)pb;
	case SET_SIZE:
	case SET_DURATION:
		return *(const uint64_t *)(const void *)pa ==
		       *(const uint64_t *)(const void *)pb;
	case SET_BOOL:
		return *(const bool *)(const void *)pa ==
		       *(const bool *)(const void *)pb;
	case SET_LOG_LEVEL:
		return *(const enum ktd_log_level *)(const void *)pa ==
		       *(const enum ktd_log_level *)(const void *)pb;
	}
	return true;
}

bool ktd_mailbox_equal(const struct ktd_mailbox *a, const struct ktd_mailbox *b)
{
	size_t i;

	if (strcmp(a->name, b->name) != 0)
		return false;
	for (i = 0; i < KTD_N_ELEMENTS(mailbox_defs); i++) {
		const struct setting_def *d = &mailbox_defs[i];
		const char *pa = (const char *)a + d->offset;
		const char *pb = (const char *)b + d->offset;

		if (d->type == SET_STR
		            ? strcmp(*(char *const *)(const void *)pa,
		                     *(char *const *)(const void *)pb) != 0
		    : d->type == SET_U32
		            ? *(const uint32_t *)(const void *)pa !=
		                      *(const uint32_t *)(const void *)pb
		            : *(const uint64_t *)(const void *)pa !=
		                      *(const uint64_t *)(const void *)pb)
			return false;
	}
	return true;
}

struct ktd_mailbox *ktd_mailbox_dup(const struct ktd_mailbox *mb)
{
	struct ktd_mailbox *c = ktd_calloc(1, sizeof(*c));
	size_t i;

	*c = *mb;
	c->name = ktd_strdup(mb->name);
	for (i = 0; i < KTD_N_ELEMENTS(mailbox_defs); i++)
		if (mailbox_defs[i].type == SET_STR)
			*field_str(c, &mailbox_defs[i]) = ktd_strdup(*field_str(
			        (void *)(uintptr_t)mb, &mailbox_defs[i]));
	/* move_to points into after. */
	if (mb->move_to)
		c->move_to = c->after + (mb->move_to - mb->after);
	return c;
}

void ktd_mailbox_free(struct ktd_mailbox **mbp)
{
	struct ktd_mailbox *mb = *mbp;
	size_t i;

	if (!mb)
		return;
	for (i = 0; i < KTD_N_ELEMENTS(mailbox_defs); i++)
		if (mailbox_defs[i].type == SET_STR)
			ktd_free(field_str(mb, &mailbox_defs[i]));
	ktd_free(&mb->name);
	free(mb);
	*mbp = NULL;
}

unsigned ktd_settings_warn_no_reload(const struct ktd_settings *old_s,
                                     const struct ktd_settings *new_s)
{
	/* [mailbox:NAME] sections are taken on reload (main.c). */
	unsigned n = 0;
	size_t i;

	for (i = 0; i < KTD_N_ELEMENTS(setting_defs); i++) {
		const struct setting_def *d = &setting_defs[i];

		if (!(d->flags & SET_NO_RELOAD) ||
		    setting_equal(old_s, new_s, d))
			continue;
		ktd_log_warnx("event=config_reload section=%s key=%s "
		              "msg=\"changed, takes effect after a restart\"",
		              d->section, d->name);
		n++;
	}
	return n;
}

const char *ktd_settings_default_path(void)
{
	return KTD_SYSCONFDIR "/kontaktd/kontaktd.conf";
}

void ktd_settings_pool_config(const struct ktd_settings *s,
                              struct db_pool_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->conninfo = s->conninfo;
	cfg->password_file = s->password_file;
	cfg->application_name = "kontaktd";
	cfg->size = s->pool_size;
	cfg->acquire_timeout_ms = s->acquire_timeout_ms;
	cfg->connect_timeout_ms = s->connect_timeout_ms;
	cfg->statement_timeout_ms = s->statement_timeout_ms;
}

const char *ktd_settings_where(const struct ktd_settings *s,
                               const char *section, const char *key, char *out,
                               size_t outsz)
{
	size_t i;

	for (i = 0; i < KTD_N_ELEMENTS(setting_defs); i++) {
		if (strcmp(setting_defs[i].section, section) == 0 &&
		    strcmp(setting_defs[i].name, key) == 0 &&
		    s->key_line[i] > 0) {
			snprintf(out, outsz, "%s:%u", s->path, s->key_line[i]);
			return out;
		}
	}
	snprintf(out, outsz, "%s", s->path ? s->path : "(defaults)");
	return out;
}

const char *ktd_settings_mailbox_where(const struct ktd_settings *s,
                                       const struct ktd_mailbox *mb,
                                       const char *key, char *out, size_t outsz)
{
	unsigned line = mb->line;
	size_t i;

	for (i = 0; i < KTD_N_ELEMENTS(mailbox_defs); i++)
		if (strcmp(mailbox_defs[i].name, key) == 0 && mb->key_line[i])
			line = mb->key_line[i];
	snprintf(out, outsz, "%s:%u", s->path ? s->path : "(defaults)", line);
	return out;
}
