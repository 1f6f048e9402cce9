/* SPDX-License-Identifier: MPL-2.0 */
/* Unit tests of src/daemon/settings: the configuration file, its errors, the
 * reload check, and agreement with etc/kontaktd.conf.sample. */
#include "daemon/daemon_common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/str.h"
#include "daemon/settings.h"
#include "db/pool.h"

#ifndef KTD_TEST_SRCDIR
#error "KTD_TEST_SRCDIR must name the top source directory"
#endif
#define SAMPLE_PATH KTD_TEST_SRCDIR "/etc/kontaktd.conf.sample"

static char tmpdir[256];
static char conf_path[sizeof(tmpdir) + 32];

static int group_setup(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	if (!base || !*base)
		base = "/tmp";
	if ((size_t)snprintf(tmpdir, sizeof(tmpdir), "%s/ktd-settings-XXXXXX",
	                     base) >= sizeof(tmpdir) ||
	    !mkdtemp(tmpdir)) {
		print_error("mkdtemp %s failed\n", tmpdir);
		return -1;
	}
	snprintf(conf_path, sizeof(conf_path), "%s/kontaktd.conf", tmpdir);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	unlink(conf_path);
	return rmdir(tmpdir);
}

static void write_conf(const char *text)
{
	FILE *fp = fopen(conf_path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

/* Writes text as the configuration file and loads it. */
static int load_text(const char *text, struct ktd_settings **s_r,
                     struct ktd_error *err)
{
	write_conf(text);
	memset(err, 0, sizeof(*err));
	return ktd_settings_load(conf_path, s_r, err);
}

static struct ktd_settings *load_ok(const char *text)
{
	struct ktd_settings *s = NULL;
	struct ktd_error err;

	if (load_text(text, &s, &err) < 0)
		fail_msg("config [%s] refused: %s", text, err.msg);
	assert_non_null(s);
	return s;
}

static void assert_defaults(const struct ktd_settings *s)
{
	assert_string_equal(s->listen, "127.0.0.1");
	assert_int_equal(s->port, 8080);
	assert_int_equal(s->threads, 4);
	assert_string_equal(s->www_root, KTD_DATADIR "/www");
	assert_int_equal(s->max_body, 1024 * 1024);
	assert_int_equal(s->max_header, 16 * 1024);
	assert_int_equal(s->max_connections, 512);
	assert_int_equal(s->connection_timeout_ms, 30000);
	assert_int_equal(s->shutdown_timeout_ms, 10000);
	assert_string_equal(s->tls_cert, "");
	assert_string_equal(s->tls_key, "");
	assert_string_equal(s->user, "");
	assert_string_equal(s->conninfo, "dbname=kontaktd");
	assert_string_equal(s->password_file, "");
	assert_int_equal(s->pool_size, 8);
	assert_int_equal(s->acquire_timeout_ms, 5000);
	assert_int_equal(s->connect_timeout_ms, 5000);
	assert_int_equal(s->statement_timeout_ms, 30000);
	assert_false(s->auto_migrate);
	assert_string_equal(s->sql_dir, KTD_DATADIR "/sql");
	assert_int_equal(s->log_level, KTD_LOG_INFO);
}

static void test_defaults(void **state)
{
	struct ktd_settings *s;

	(void)state;
	s = load_ok("");
	assert_defaults(s);
	assert_string_equal(s->path, conf_path);
	ktd_settings_destroy(&s);
	assert_null(s);
	ktd_settings_destroy(&s);

	/* Comments, blank lines and empty sections change nothing. */
	s = load_ok("# comment\n; comment\n\n   \n[server]\n  # indented\n"
	            "[database]\n[log]\n");
	assert_defaults(s);
	ktd_settings_destroy(&s);

	s = ktd_settings_create_default();
	assert_defaults(s);
	ktd_settings_destroy(&s);

	assert_true(ktd_str_has_suffix(ktd_settings_default_path(),
	                               "/kontaktd/kontaktd.conf"));
}

enum field_kind {
	F_STR,
	F_U32,
	F_U64,
	F_BOOL,
	F_LEVEL,
};

struct value_case {
	const char *text;
	size_t offset;
	enum field_kind kind;
	uint64_t num;
	const char *str;
};

/* clang-format off */
#define OFF(f) offsetof(struct ktd_settings, f)
#define STR(text, f, v) {text, OFF(f), F_STR, 0, v}
#define U32(text, f, v) {text, OFF(f), F_U32, v, NULL}
#define U64(text, f, v) {text, OFF(f), F_U64, v, NULL}
#define BOOL(text, f, v) {text, OFF(f), F_BOOL, v, NULL}
#define LEVEL(text, v) {text, OFF(log_level), F_LEVEL, v, NULL}
/* clang-format on */

static const struct value_case value_cases[] = {
        /* strings */
        STR("[server]\nlisten = ::1\n", listen, "::1"),
        STR("[server]\nlisten = 0.0.0.0\n", listen, "0.0.0.0"),
        STR("[server]\nwww_root = /srv/www\n", www_root, "/srv/www"),
        STR("[server]\nuser = kontaktd\n", user, "kontaktd"),
        STR("[server]\nuser =\n", user, ""),
        STR("[server]\ntls_cert = /c.pem\ntls_key = /k.pem\n", tls_cert,
            "/c.pem"),
        STR("[server]\ntls_cert = /c.pem\ntls_key = /k.pem\n", tls_key,
            "/k.pem"),
        STR("[database]\nconninfo = host=/run/postgresql dbname=ktd\n",
            conninfo, "host=/run/postgresql dbname=ktd"),
        STR("[database]\nconninfo = postgresql://ktd@db.example/ktd"
            "?sslmode=verify-full\n",
            conninfo, "postgresql://ktd@db.example/ktd?sslmode=verify-full"),
        STR("[database]\npassword_file = /etc/kontaktd/db-password\n",
            password_file, "/etc/kontaktd/db-password"),
        STR("[database]\nsql_dir = /opt/sql\n", sql_dir, "/opt/sql"),
        /* whole numbers, at both ends of their range */
        U32("[server]\nport = 1\n", port, 1),
        U32("[server]\nport = 65535\n", port, 65535),
        U32("[server]\nport=9090\n", port, 9090),
        U32("[server]\nport = 9090   \n", port, 9090),
        U32("[server]\r\nport = 9090\r\n", port, 9090),
        U32("[server]\nthreads = 1\n", threads, 1),
        U32("[server]\nthreads = 256\n", threads, 256),
        U32("[server]\nmax_connections = 1\n", max_connections, 1),
        U32("[server]\nmax_connections = 65535\n", max_connections, 65535),
        U32("[database]\npool_size = 1\n", pool_size, 1),
        U32("[database]\npool_size = 1000\n", pool_size, 1000),
        /* sizes */
        U64("[server]\nmax_body = 1024\n", max_body, 1024),
        U64("[server]\nmax_body = 64k\n", max_body, 65536),
        U64("[server]\nmax_body = 2M\n", max_body, 2097152),
        U64("[server]\nmax_body = 1G\n", max_body, 1073741824),
        U64("[server]\nmax_header = 4k\n", max_header, 4096),
        U64("[server]\nmax_header = 8192\n", max_header, 8192),
        U64("[server]\nmax_header = 1M\n", max_header, 1048576),
        /* durations */
        U64("[server]\nconnection_timeout = 1000ms\n", connection_timeout_ms,
            1000),
        U64("[server]\nconnection_timeout = 1s\n", connection_timeout_ms, 1000),
        U64("[server]\nconnection_timeout = 90\n", connection_timeout_ms,
            90000),
        U64("[server]\nconnection_timeout = 2m\n", connection_timeout_ms,
            120000),
        U64("[server]\nconnection_timeout = 1h\n", connection_timeout_ms,
            3600000),
        U64("[server]\nshutdown_timeout = 0\n", shutdown_timeout_ms, 0),
        U64("[server]\nshutdown_timeout = 250ms\n", shutdown_timeout_ms, 250),
        U64("[database]\nacquire_timeout = 1ms\n", acquire_timeout_ms, 1),
        U64("[database]\nacquire_timeout = 10m\n", acquire_timeout_ms, 600000),
        U64("[database]\nconnect_timeout = 1s\n", connect_timeout_ms, 1000),
        U64("[database]\nconnect_timeout = 10m\n", connect_timeout_ms, 600000),
        U64("[database]\nstatement_timeout = 0\n", statement_timeout_ms, 0),
        U64("[database]\nstatement_timeout = 1h\n", statement_timeout_ms,
            3600000),
        /* booleans */
        BOOL("[database]\nauto_migrate = true\n", auto_migrate, true),
        BOOL("[database]\nauto_migrate = yes\n", auto_migrate, true),
        BOOL("[database]\nauto_migrate = On\n", auto_migrate, true),
        BOOL("[database]\nauto_migrate = 1\n", auto_migrate, true),
        BOOL("[database]\nauto_migrate = false\n", auto_migrate, false),
        BOOL("[database]\nauto_migrate = off\n", auto_migrate, false),
        /* log level */
        LEVEL("[log]\nlevel = fatal\n", KTD_LOG_FATAL),
        LEVEL("[log]\nlevel = error\n", KTD_LOG_ERROR),
        LEVEL("[log]\nlevel = warn\n", KTD_LOG_WARNING),
        LEVEL("[log]\nlevel = warning\n", KTD_LOG_WARNING),
        LEVEL("[log]\nlevel = debug\n", KTD_LOG_DEBUG),
        LEVEL("[log]\nlevel = trace\n", KTD_LOG_TRACE),
        /* a section may appear more than once */
        U32("[server]\nport = 1\n[log]\n[server]\nthreads = 9\n", threads, 9),
        /* indented lines are ordinary lines, not continuations */
        U32("[server]\nport = 8080\n  threads = 8\n", threads, 8),
        U32("  [server]\n\tport = 8081\n", port, 8081),
};

static void test_values_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(value_cases); i++) {
		const struct value_case *c = &value_cases[i];
		struct ktd_settings *s = NULL;
		struct ktd_error err;
		const char *field;
		uint64_t got = 0;

		if (load_text(c->text, &s, &err) < 0)
			fail_msg("case %zu: [%s] refused: %s", i, c->text,
			         err.msg);
		field = (const char *)s + c->offset;
		switch (c->kind) {
		case F_STR: {
			const char *v;

			memcpy(&v, field, sizeof(v));
			if (strcmp(v, c->str) != 0)
				fail_msg("case %zu: got \"%s\", expected "
				         "\"%s\"",
				         i, v, c->str);
			break;
		}
		case F_U32: {
			uint32_t v;

			memcpy(&v, field, sizeof(v));
			got = v;
			break;
		}
		case F_U64:
			memcpy(&got, field, sizeof(got));
			break;
		case F_BOOL: {
			bool v;

			memcpy(&v, field, sizeof(v));
			got = v;
			break;
		}
		case F_LEVEL: {
			enum ktd_log_level v;

			memcpy(&v, field, sizeof(v));
			got = (uint64_t)v;
			break;
		}
		}
		if (c->kind != F_STR && got != c->num)
			fail_msg("case %zu: [%s] gave %llu, expected %llu", i,
			         c->text, (unsigned long long)got,
			         (unsigned long long)c->num);
		ktd_settings_destroy(&s);
	}
}

struct error_case {
	const char *text;
	unsigned line;
	const char *key;  /* the key (or section) the message names */
	const char *what; /* and what is wrong */
};

static const struct error_case error_cases[] = {
        /* unknown keys and sections */
        {"[server]\nbogus = 1\n", 2, "'bogus'", "unknown key"},
        {"[server]\nPort = 1\n", 2, "'Port'", "unknown key"},
        {"[server]\nlevel = info\n", 2, "'level'", "unknown key"},
        {"[database]\nport = 1\n", 2, "'port'", "unknown key"},
        {"[nosuch]\n", 1, "[nosuch]", "unknown section"},
        {"[Server]\nport = 1\n", 1, "[Server]", "unknown section"},
        {"[server]\nport = 1\n\n[logging]\nlevel = info\n", 4, "[logging]",
         "unknown section"},
        {"[server\nport = 1\n", 1, "", "without closing ']'"},
        /* a key before any section */
        {"port = 80\n", 1, "'port'", "outside of a section"},
        {"# c\n\nlisten = x\n[server]\n", 3, "'listen'",
         "outside of a section"},
        /* keys set twice */
        {"[server]\nport = 80\nport = 81\n", 3, "port", "set twice"},
        {"[log]\nlevel = info\nlevel = info\n", 3, "level", "set twice"},
        {"[server]\nport = 1\n[log]\nlevel = info\n[server]\nport = 2\n", 6,
         "port", "set twice"},
        /* bad values */
        {"[server]\nport = abc\n", 2, "port", "bad value"},
        {"[server]\nport = -1\n", 2, "port", "bad value"},
        {"[server]\nport = 80.0\n", 2, "port", "bad value"},
        {"[server]\nport = 0x50\n", 2, "port", "bad value"},
        {"[server]\nport =\n", 2, "port", "bad value"},
        {"[server]\nport = 4294967296\n", 2, "port", "bad value"},
        {"[server]\nthreads = 4 threads\n", 2, "threads", "bad value"},
        {"[server]\nmax_body = 1T\n", 2, "max_body", "bad value"},
        {"[server]\nmax_body = 1 M\n", 2, "max_body", "bad value"},
        {"[server]\nmax_body = 1.5M\n", 2, "max_body", "bad value"},
        {"[server]\nconnection_timeout = 5 s\n", 2, "connection_timeout",
         "bad value"},
        {"[server]\nconnection_timeout = 1d\n", 2, "connection_timeout",
         "bad value"},
        {"[database]\nauto_migrate = maybe\n", 2, "auto_migrate", "bad value"},
        {"[database]\nauto_migrate =\n", 2, "auto_migrate", "bad value"},
        {"[log]\nlevel = loud\n", 2, "level", "bad value"},
        {"[log]\nlevel = INFO\n", 2, "level", "bad value"},
        {"[server]\nlisten =\n", 2, "listen", "must not be empty"},
        {"[server]\nwww_root =\n", 2, "www_root", "must not be empty"},
        {"[database]\nsql_dir =\n", 2, "sql_dir", "must not be empty"},
        /* out of range */
        {"[server]\nport = 0\n", 2, "port", "out of range"},
        {"[server]\nport = 65536\n", 2, "port", "out of range"},
        {"[server]\nthreads = 0\n", 2, "threads", "out of range"},
        {"[server]\nthreads = 257\n", 2, "threads", "out of range"},
        {"[server]\nmax_body = 1023\n", 2, "max_body", "out of range"},
        {"[server]\nmax_body = 2G\n", 2, "max_body", "out of range"},
        {"[server]\nmax_header = 4095\n", 2, "max_header", "out of range"},
        {"[server]\nmax_header = 2M\n", 2, "max_header", "out of range"},
        {"[server]\nmax_connections = 0\n", 2, "max_connections",
         "out of range"},
        {"[server]\nmax_connections = 70000\n", 2, "max_connections",
         "out of range"},
        {"[server]\nconnection_timeout = 999ms\n", 2, "connection_timeout",
         "out of range"},
        {"[server]\nconnection_timeout = 2h\n", 2, "connection_timeout",
         "out of range"},
        {"[server]\nshutdown_timeout = 61m\n", 2, "shutdown_timeout",
         "out of range"},
        {"[database]\npool_size = 0\n", 2, "pool_size", "out of range"},
        {"[database]\npool_size = 1001\n", 2, "pool_size", "out of range"},
        {"[database]\nacquire_timeout = 0\n", 2, "acquire_timeout",
         "out of range"},
        {"[database]\nacquire_timeout = 11m\n", 2, "acquire_timeout",
         "out of range"},
        {"[database]\nconnect_timeout = 999ms\n", 2, "connect_timeout",
         "out of range"},
        {"[database]\nstatement_timeout = 2h\n", 2, "statement_timeout",
         "out of range"},
        /* lines that are neither a section nor key = value */
        {"[server]\nport 8080\n", 2, "", "syntax error"},
        {"[server]\nport = 1\njust some words\n", 3, "", "syntax error"},
        /* checks between keys name the line of the key at fault */
        {"[server]\ntls_cert = /c.pem\n", 2, "tls_key", "set together"},
        {"[server]\nport = 1\ntls_key = /k.pem\n", 3, "tls_cert",
         "set together"},
        {"[server]\ntls_cert = /c.pem\ntls_key =\n", 2, "tls_key",
         "set together"},
        {"[database]\nconninfo = host=db password=secret\n", 2, "conninfo",
         "password"},
        {"[database]\n\nconninfo = postgresql://u:p@h/db\n", 3, "conninfo",
         "password"},
        {"[database]\nconninfo =\n", 2, "conninfo", "empty"},
        /* the channel sections are accepted, but no key in them yet */
        {"[smtp]\nrelay = mail.example\n", 2, "'relay'", "unknown key"},
        /* [smtp] */
        {"[smtp]\nhost = mail.example\n", 2, "host", "from is not"},
        {"[smtp]\ntls = foo\n", 2, "tls", "one of none, starttls"},
        {"[smtp]\ntls = tls\n", 2, "tls", "not supported by libESMTP"},
        {"[smtp]\nport = 0\n", 2, "port", "out of range"},
        {"[smtp]\nfrom = a@b.dk\nuser = x\n", 3, "user", "together"},
        {"[smtp]\nfrom = a@b.dk\nhost = a b\n", 3, "host", "host name"},
        {"[cti]\nurl = ws://pbx\n", 2, "'url'", "unknown key"},
        {"[digitalpost]\napi = x\n", 2, "'api'", "unknown key"},
        /* [mailbox:NAME] */
        {"[mailbox:main]\nserver = imap.example\n", 2, "'server'",
         "unknown key"},
        {"[mailbox:]\n", 1, "[mailbox:]", "a mailbox name"},
        {"[mailbox:Main]\n", 1, "[mailbox:Main]", "a mailbox name"},
        {"[mailbox:a.b]\n", 1, "[mailbox:a.b]", "a mailbox name"},
        {"[mailbox:main]\nhost = h\nuser = u\n", 1, "password_file",
         "is required"},
        {"[mailbox:main]\nuser = u\npassword_file = /p\n", 1, "host",
         "is required"},
        {"[mailbox:main]\nhost = imap.example\nuser = u\npassword_file = /p\n"
         "tls = ssl\n",
         5, "[mailbox:main] tls", "tls, starttls or none"},
        {"[mailbox:main]\nhost = imap.example\nuser = u\npassword_file = /p\n"
         "after = delete\n",
         5, "after", "seen or move:FOLDER"},
        {"[mailbox:main]\nhost = imap.example\nuser = u\npassword_file = /p\n"
         "after = move:INBOX\n",
         5, "after", "another folder"},
        {"[mailbox:main]\nhost = imap.example\nuser = u\npassword_file = /p\n"
         "port = 70000\n",
         5, "port", "out of range"},
        {"[mailbox:main]\nhost = imap.example\nuser = u\npassword_file = /p\n"
         "poll_interval = 10ms\n",
         5, "poll_interval", "out of range"},
        {"[mailbox:main]\nhost = imap.example\nuser = u\npassword_file = /p\n"
         "max_message_size = 1k\n",
         5, "max_message_size", "out of range"},
        {"[mailbox:main]\nhost = imap.example\nuser = u\npassword_file = /p\n"
         "host = again\n",
         5, "host", "set twice"},
        {"[mailbox:main]\nhost = imap.example\nuser = u\npassword_file = /p\n"
         "folder = a\"b\n",
         5, "folder", "folder name"},
        {"[mailbox:main]\nhost = imap.example\nuser = u\npassword_file = /p\n"
         "[mailbox:main]\n",
         5, "[mailbox:main]", "appears twice"},
        {"[receipt]\ninterval = soon\n", 2, "interval", "duration"},
        {"[mailbox:main]\nhost = imap.example\nuser = u\npassword_file = /p\n"
         "tls_fingerprint = ab:cd\n",
         5, "tls_fingerprint", "64 hex digits"},
        {"[mailbox:main]\nhost = imap.example\nuser = u\npassword_file = /p\n"
         "tls = none\ntls_fingerprint = "
         "abababababababababababababababababababababababababababababababab\n",
         6, "tls_fingerprint", "needs tls"},
        {"[mailbox:main]\nhost = imap.example\nuser = u\npassword_file = /p\n"
         "ca_file = /etc/kontaktd/ca.pem\ntls = none\n",
         5, "ca_file", "needs tls"},
        {"[mailbox]\n", 1, "[mailbox]", "unknown section"},
        {"[smtpx]\n", 1, "[smtpx]", "unknown section"},
};

static void check_error(size_t i, const char *text, int ret,
                        const struct ktd_settings *s,
                        const struct ktd_error *err, unsigned line,
                        const char *key, const char *what)
{
	char prefix[sizeof(conf_path) + 32];

	if (ret != -1)
		fail_msg("case %zu: [%s] was accepted", i, text);
	assert_null(s);
	assert_int_equal(err->code, KTD_ERR_CONFIG);
	snprintf(prefix, sizeof(prefix), "%s:%u: ", conf_path, line);
	if (!ktd_str_has_prefix(err->msg, prefix))
		fail_msg("case %zu: \"%s\" does not start with \"%s\"", i,
		         err->msg, prefix);
	if (!strstr(err->msg, key) || !strstr(err->msg, what))
		fail_msg("case %zu: \"%s\" does not say \"%s\" and \"%s\"", i,
		         err->msg, key, what);
}

static void test_errors_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(error_cases); i++) {
		const struct error_case *c = &error_cases[i];
		struct ktd_settings *s = NULL;
		struct ktd_error err;
		int r = load_text(c->text, &s, &err);

		check_error(i, c->text, r, s, &err, c->line, c->key, c->what);
	}
}

/* inih holds 200 bytes per line: with the newline and the NUL, a line may
 * have 198 characters. A longer one is an error, never silently cut. */
static void test_line_length(void **state)
{
	/* the long line followed by another, or last without a newline */
	static const char *const tails[] = {"\n[log]\n", ""};
	char text[400], line[300];
	size_t n, t;

	(void)state;
	for (n = 190; n <= 260; n++) {
		for (t = 0; t < KTD_N_ELEMENTS(tails); t++) {
			struct ktd_settings *s = NULL;
			struct ktd_error err;
			int r;

			memset(line, 'x', n);
			memcpy(line, "www_root = /", 12);
			line[n] = '\0';
			snprintf(text, sizeof(text), "[server]\n%s%s", line,
			         tails[t]);
			r = load_text(text, &s, &err);
			if (n > 198) {
				check_error(n, text, r, s, &err, 2, "198",
				            "longer than");
				continue;
			}
			if (r < 0)
				fail_msg("%zu characters refused: %s", n,
				         err.msg);
			assert_string_equal(s->www_root, line + 11);
			ktd_settings_destroy(&s);
		}
	}
}

static void test_placeholder_sections(void **state)
{
	struct ktd_settings *s;

	(void)state;
	s = load_ok("[smtp]\n[cti]\n[digitalpost]\n"
	            "# comment\n[server]\nport = 9000\n");
	assert_int_equal(s->port, 9000);
	assert_int_equal(s->n_mailboxes, 0);
	ktd_settings_destroy(&s);
}

static void test_mailboxes(void **state)
{
	struct ktd_settings *s;
	const struct ktd_mailbox *a, *b;

	(void)state;
	s = load_ok("[mailbox:main]\nhost = imap.example.dk\n"
	            "user = kontakt@example.dk\npassword_file = /etc/p\n"
	            "[receipt]\nmunicipality = Testrup Kommune\n"
	            "[mailbox:byg-2]\nhost = 127.0.0.1\nport = 1143\n"
	            "tls = none\nuser = byg\npassword_file = /etc/q\n"
	            "folder = Indbakke/Byg\nafter = move:Behandlet\n"
	            "poll_interval = 5s\nmax_message_size = 1M\n");
	assert_int_equal(s->n_mailboxes, 2);
	a = &s->mailboxes[0];
	assert_string_equal(a->name, "main");
	assert_string_equal(a->host, "imap.example.dk");
	assert_int_equal(a->port, 993);
	assert_int_equal(a->tls, KTD_MAILBOX_TLS);
	assert_string_equal(a->folder, "INBOX");
	assert_null(a->move_to);
	assert_int_equal(a->poll_interval_ms, 60000);
	assert_int_equal(a->max_message_size, 25 * 1024 * 1024);
	b = &s->mailboxes[1];
	assert_string_equal(b->name, "byg-2");
	assert_int_equal(b->port, 1143);
	assert_int_equal(b->tls, KTD_MAILBOX_NONE);
	assert_string_equal(b->folder, "Indbakke/Byg");
	assert_string_equal(b->move_to, "Behandlet");
	assert_int_equal(b->poll_interval_ms, 5000);
	assert_int_equal(b->max_message_size, 1024 * 1024);
	assert_true(s->receipt_enabled);
	assert_string_equal(s->receipt_municipality, "Testrup Kommune");
	assert_int_equal(s->receipt_interval_ms, 3600 * 1000);
	ktd_settings_destroy(&s);

	s = load_ok("[mailbox:x]\nhost = h\ntls = starttls\nuser = u\n"
	            "password_file = /p\n");
	assert_int_equal(s->mailboxes[0].port, 143);
	ktd_settings_destroy(&s);
}

static void test_missing_file(void **state)
{
	struct ktd_settings *s = NULL;
	struct ktd_error err;
	char path[sizeof(tmpdir) + 32];

	(void)state;
	snprintf(path, sizeof(path), "%s/nonexistent.conf", tmpdir);
	assert_int_equal(ktd_settings_load(path, &s, &err), -1);
	assert_null(s);
	assert_int_equal(err.code, KTD_ERR_CONFIG);
	assert_true(ktd_str_has_prefix(err.msg, path));
	assert_non_null(strstr(err.msg, "cannot open"));
}

struct password_case {
	const char *ci;
	bool has;
};

static const struct password_case password_cases[] = {
        {"password=x", true},
        {"host=db password=secret dbname=k", true},
        {"host=db password = 'x y'", true},
        {"postgresql://u:p@h/db", true},
        {"postgres://u:p@h:5432/db?sslmode=require", true},
        {"postgresql://u:@h/db", true},
        {"postgresql://h/db?password=x", true},
        {"postgresql://u@h/db", false},
        {"postgresql://u@h:5432/db", false},
        {"postgresql://h:5432/db", false},
        {"postgresql:///db?host=/run/postgresql", false},
        {"host=x dbname=y", false},
        {"host=x user=u dbname=y passfile=/etc/pgpass", false},
        {"dbname=kontaktd", false},
        {"dbname=password_reset user=passwords", false},
        {"host=x\tpassword=y", true},
        {"postgresql://h/db?sslmode=require&password=x", true},
        {"", false},
};

static void test_conninfo_has_password(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(password_cases); i++) {
		if (conninfo_has_password(password_cases[i].ci) !=
		    password_cases[i].has)
			fail_msg("case %zu: \"%s\" gave %d", i,
			         password_cases[i].ci, !password_cases[i].has);
	}
}

static char warned[4096];
static unsigned nwarned;

static void capture_sink(enum ktd_log_level level, const char *line)
{
	size_t len = strlen(warned);

	if (level == KTD_LOG_WARNING)
		nwarned++;
	snprintf(warned + len, sizeof(warned) - len, "%s\n", line);
}

static void test_warn_no_reload(void **state)
{
	struct ktd_settings *a, *b, *c;

	(void)state;
	a = load_ok("");
	/* [log] level and [server] shutdown_timeout are reloadable */
	b = load_ok("[log]\nlevel = debug\n[server]\nshutdown_timeout = 20s\n");
	c = load_ok("[server]\nport = 9090\nthreads = 8\nmax_body = 2M\n"
	            "connection_timeout = 1m\ntls_cert = /c\ntls_key = /k\n"
	            "[database]\nconninfo = dbname=other\n"
	            "auto_migrate = true\n[log]\nlevel = trace\n");

	ktd_log_set_level(KTD_LOG_INFO);
	ktd_log_set_sink(capture_sink);
	warned[0] = '\0';
	nwarned = 0;
	assert_int_equal(ktd_settings_warn_no_reload(a, a), 0);
	assert_int_equal(ktd_settings_warn_no_reload(a, b), 0);
	assert_int_equal(ktd_settings_warn_no_reload(b, a), 0);
	assert_int_equal(nwarned, 0);

	assert_int_equal(ktd_settings_warn_no_reload(a, c), 8);
	assert_int_equal(nwarned, 8);
	assert_non_null(strstr(warned, "event=config_reload"));
	assert_non_null(strstr(warned, "section=server key=port "));
	assert_non_null(strstr(warned, "key=threads "));
	assert_non_null(strstr(warned, "key=max_body "));
	assert_non_null(strstr(warned, "key=connection_timeout "));
	assert_non_null(strstr(warned, "key=tls_cert "));
	assert_non_null(strstr(warned, "key=tls_key "));
	assert_non_null(strstr(warned, "section=database key=conninfo "));
	assert_non_null(strstr(warned, "key=auto_migrate "));
	assert_null(strstr(warned, "key=level"));
	assert_int_equal(ktd_settings_warn_no_reload(c, b), 8);
	ktd_log_set_sink(NULL);

	ktd_settings_destroy(&a);
	ktd_settings_destroy(&b);
	ktd_settings_destroy(&c);
}

#define MB(name, extra)                                                        \
	"[mailbox:" name "]\nhost = h\nuser = u\npassword_file = /p\n" extra

/* [mailbox:NAME] sections are taken on reload (main.c): no warning; the
 * comparison and the copy that reload uses. */
static void test_warn_no_reload_mailboxes(void **state)
{
	struct ktd_settings *a, *b, *c;
	struct ktd_mailbox *copy;

	(void)state;
	a = load_ok(MB("main", "") MB("byg", "after = move:Done\n"));
	b = load_ok(MB("byg", "after = move:Done\n") MB("main", ""));
	c = load_ok(MB("main", "folder = Andet\n") MB("ny", ""));
	ktd_log_set_level(KTD_LOG_INFO);
	ktd_log_set_sink(capture_sink);
	warned[0] = '\0';
	nwarned = 0;
	assert_int_equal(ktd_settings_warn_no_reload(a, b), 0);
	assert_int_equal(ktd_settings_warn_no_reload(a, c), 0);
	assert_null(strstr(warned, "section=mailbox"));
	ktd_log_set_sink(NULL);
	assert_true(ktd_mailbox_equal(&a->mailboxes[0], &b->mailboxes[1]));
	assert_true(ktd_mailbox_equal(&a->mailboxes[1], &b->mailboxes[0]));
	assert_false(ktd_mailbox_equal(&a->mailboxes[0], &c->mailboxes[0]));
	assert_false(ktd_mailbox_equal(&a->mailboxes[0], &a->mailboxes[1]));
	/* A copy outlives its settings. */
	copy = ktd_mailbox_dup(&a->mailboxes[1]);
	ktd_settings_destroy(&a);
	assert_true(ktd_mailbox_equal(copy, &b->mailboxes[0]));
	assert_string_equal(copy->move_to, "Done");
	assert_ptr_equal(copy->move_to, copy->after + 5);
	ktd_mailbox_free(&copy);
	assert_null(copy);
	ktd_mailbox_free(&copy);
	ktd_settings_destroy(&b);
	ktd_settings_destroy(&c);
}

static void test_pool_config(void **state)
{
	struct ktd_settings *s;
	struct db_pool_config cfg;

	(void)state;
	s = load_ok("[database]\nconninfo = dbname=x\npassword_file = /pw\n"
	            "pool_size = 3\nacquire_timeout = 2s\n"
	            "connect_timeout = 3s\nstatement_timeout = 4s\n");
	ktd_settings_pool_config(s, &cfg);
	assert_string_equal(cfg.conninfo, "dbname=x");
	assert_string_equal(cfg.password_file, "/pw");
	assert_string_equal(cfg.application_name, "kontaktd");
	assert_int_equal(cfg.size, 3);
	assert_int_equal(cfg.acquire_timeout_ms, 2000);
	assert_int_equal(cfg.connect_timeout_ms, 3000);
	assert_int_equal(cfg.statement_timeout_ms, 4000);
	ktd_settings_destroy(&s);
}

/* The sample is valid, and the values it shows are the defaults, except
 * [server] user, which the packaged configuration sets, and the two data
 * directories, which the build rewrites to its own prefix. */
static void test_sample_parses(void **state)
{
	struct ktd_settings *s = NULL, *d;
	struct ktd_error err;

	(void)state;
	if (ktd_settings_load(SAMPLE_PATH, &s, &err) < 0)
		fail_msg("the sample is refused: %s", err.msg);
	d = ktd_settings_create_default();
	assert_string_equal(s->user, "kontaktd");
	assert_string_equal(s->www_root, "/usr/share/kontaktd/www");
	assert_string_equal(s->sql_dir, "/usr/share/kontaktd/sql");
	assert_string_equal(s->listen, d->listen);
	assert_int_equal(s->port, d->port);
	assert_int_equal(s->threads, d->threads);
	assert_int_equal(s->max_body, d->max_body);
	assert_int_equal(s->max_header, d->max_header);
	assert_int_equal(s->max_connections, d->max_connections);
	assert_int_equal(s->connection_timeout_ms, d->connection_timeout_ms);
	assert_int_equal(s->shutdown_timeout_ms, d->shutdown_timeout_ms);
	assert_string_equal(s->tls_cert, d->tls_cert);
	assert_string_equal(s->tls_key, d->tls_key);
	assert_string_equal(s->conninfo, d->conninfo);
	assert_string_equal(s->password_file, d->password_file);
	assert_int_equal(s->pool_size, d->pool_size);
	assert_int_equal(s->acquire_timeout_ms, d->acquire_timeout_ms);
	assert_int_equal(s->connect_timeout_ms, d->connect_timeout_ms);
	assert_int_equal(s->statement_timeout_ms, d->statement_timeout_ms);
	assert_int_equal(s->auto_migrate, d->auto_migrate);
	assert_int_equal(s->log_level, d->log_level);
	ktd_settings_destroy(&s);
	ktd_settings_destroy(&d);
}

/* Length of a key at the start of p ([a-z0-9_]+) when " = " follows it,
 * else 0. */
static size_t sample_key_len(const char *p)
{
	size_t n = 0;

	while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= '0' && p[n] <= '9') ||
	       p[n] == '_')
		n++;
	return n > 0 && strncmp(p + n, " = ", 3) == 0 ? n : 0;
}

/* Every key the sample mentions as "key = value", including the
 * commented-out examples "#key = value", is a key the settings accept:
 * the sample with those examples switched on must load. */
static void test_sample_keys_accepted(void **state)
{
	FILE *in = fopen(SAMPLE_PATH, "r");
	struct ktd_settings *s = NULL;
	struct ktd_error err;
	char line[512], *text;
	size_t cap = 65536, len = 0;
	unsigned keys = 0, examples = 0;

	(void)state;
	assert_non_null(in);
	text = calloc(1, cap);
	assert_non_null(text);
	while (fgets(line, sizeof(line), in)) {
		const char *p = line;

		if (line[0] == '#' && sample_key_len(line + 1) > 0) {
			p = line + 1;
			examples++;
		}
		/* the pattern section, as one mailbox */
		if (ktd_str_has_prefix(line, "#[mailbox:NAME]"))
			p = "[mailbox:main]\n";
		if (sample_key_len(p) > 0)
			keys++;
		assert_true(len + strlen(p) < cap);
		memcpy(text + len, p, strlen(p) + 1);
		len += strlen(p);
	}
	fclose(in);
	/* Guard against a check that checks nothing. */
	assert_true(keys >= 20);
	assert_true(examples >= 3);

	if (load_text(text, &s, &err) < 0)
		fail_msg("a key of the sample is refused: %s", err.msg);
	/* the examples did take effect */
	assert_string_not_equal(s->tls_cert, "");
	assert_string_not_equal(s->tls_key, "");
	assert_string_not_equal(s->password_file, "");
	assert_int_equal(s->n_mailboxes, 1);
	ktd_settings_destroy(&s);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults),
	        cmocka_unit_test(test_values_table),
	        cmocka_unit_test(test_errors_table),
	        cmocka_unit_test(test_line_length),
	        cmocka_unit_test(test_placeholder_sections),
	        cmocka_unit_test(test_mailboxes),
	        cmocka_unit_test(test_missing_file),
	        cmocka_unit_test(test_conninfo_has_password),
	        cmocka_unit_test(test_warn_no_reload),
	        cmocka_unit_test(test_warn_no_reload_mailboxes),
	        cmocka_unit_test(test_pool_config),
	        cmocka_unit_test(test_sample_parses),
	        cmocka_unit_test(test_sample_keys_accepted),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
