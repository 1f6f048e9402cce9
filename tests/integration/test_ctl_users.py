# SPDX-License-Identifier: MPL-2.0
"""kontaktctl user ... and token ...: users with Argon2id passwords read
from stdin, API tokens shown once and stored hashed."""

import ctypes
import ctypes.util
import hashlib
import re

import pytest

from utils import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, describe

PASSWORD = "Korrekt hest batteri h\u00e6fteklamme"  # "... hæfteklamme"
TOKEN_RE = re.compile(r"^ktd_[A-Za-z0-9_-]{43}$")


def _libsodium():
    name = ctypes.util.find_library("sodium")
    assert name, "libsodium is not installed"
    lib = ctypes.CDLL(name)
    assert lib.sodium_init() >= 0
    lib.crypto_pwhash_str_verify.argtypes = [
        ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulonglong]
    return lib


SODIUM = _libsodium()


def password_matches(stored_hash, password):
    """libsodium's own verification, as kontaktd will do it at login."""
    pw = password.encode()
    return SODIUM.crypto_pwhash_str_verify(stored_hash.encode(), pw,
                                           len(pw)) == 0


@pytest.fixture
def db(pg, create_db, write_config):
    """A migrated database of its own and a config for it: (config, sql)
    where sql(query, params) runs one statement there."""
    name = create_db(migrated=True)
    cfg = write_config(db=name)

    def sql(query, params=None):
        return pg.sql(query, params, dbname=name)
    return cfg, sql


def add_department(sql, name):
    return sql("INSERT INTO departments (name) VALUES (%s) RETURNING id",
               (name,))[0][0]


def user_row(sql, login):
    rows = sql("SELECT row_to_json(u)::text, password_hash FROM users u "
               "WHERE login = %s", (login,))
    return rows[0] if rows else None


# --- user add ---------------------------------------------------------------

def test_user_add_and_list(ctl, db):
    cfg, sql = db
    add_department(sql, "Borgerservice")
    p = ctl("user", "add", "anna", "--role", "agent", "--name",
            "Anna \u00c6r\u00f8", "--department", "borgerservice",
            config=cfg, input=PASSWORD + "\n")
    assert p.returncode == EXIT_OK, describe(p)
    assert p.stdout == "user anna added (agent)\n"
    p = ctl("user", "add", "--role", "supervisor", "sara", config=cfg,
            input=PASSWORD + "\n")
    assert p.returncode == EXIT_OK, describe(p)
    assert p.stdout == "user sara added (supervisor)\n"

    p = ctl("user", "list", config=cfg)
    assert p.returncode == EXIT_OK, describe(p)
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["LOGIN", "NAME", "ROLE", "DEPARTMENT",
                                "DISABLED"]
    assert re.match(r"anna +Anna \u00c6r\u00f8 +agent +Borgerservice +no$",
                    lines[1]), lines
    assert re.match(r"sara +- +supervisor +- +no$", lines[2]), lines
    # Columns line up by characters, æ and ø counting once.
    assert lines[1].index("agent") == lines[0].index("ROLE")

    rows = sql("SELECT u.role, u.name, d.name, u.disabled FROM users u "
               "LEFT JOIN departments d ON d.id = u.department_id "
               "ORDER BY login")
    assert rows == [("agent", "Anna \u00c6r\u00f8", "Borgerservice", False),
                    ("supervisor", "", None, False)]


def test_password_never_shown_or_stored(ctl, db):
    cfg, sql = db
    p = ctl("user", "add", "anna", "--role", "admin", config=cfg,
            input=PASSWORD + "\nsecond line is not read\n")
    assert p.returncode == EXIT_OK, describe(p)
    assert PASSWORD not in p.stdout + p.stderr
    row_json, stored = user_row(sql, "anna")
    assert PASSWORD not in row_json
    assert stored.startswith("$argon2id$v=19$")
    # The first line of stdin is the password, without its newline.
    assert password_matches(stored, PASSWORD)
    assert not password_matches(stored, PASSWORD + "\n")
    p = ctl("user", "list", config=cfg)
    assert PASSWORD not in p.stdout and stored not in p.stdout


def test_password_with_crlf(ctl, db):
    cfg, sql = db
    p = ctl("user", "add", "anna", "--role", "agent", config=cfg,
            input=PASSWORD + "\r\n")
    assert p.returncode == EXIT_OK, describe(p)
    assert password_matches(user_row(sql, "anna")[1], PASSWORD)


def test_duplicate_login_exits_1(ctl, db):
    cfg, sql = db
    assert ctl("user", "add", "anna", "--role", "agent", config=cfg,
               input=PASSWORD + "\n").returncode == EXIT_OK
    before = user_row(sql, "anna")
    p = ctl("user", "add", "anna", "--role", "admin", config=cfg,
            input="another good password\n")
    assert p.returncode == EXIT_FAILURE, describe(p)
    assert "a user with login 'anna' exists already" in p.stderr
    assert p.stdout == ""
    assert user_row(sql, "anna") == before


@pytest.mark.parametrize("stdin, message", [
    ("kort\n", "shorter than 12 characters"),
    ("\u00e6\u00f8\u00e5\u00e6\u00f8\u00e5\u00e6\u00f8\u00e5\u00e6\u00f8\n",
     "shorter than 12 characters"),
    ("", "no password given"),
    ("\n", "shorter than 12 characters"),
    ("tab\tin the password\n", "control character"),
    ("x" * 1025 + "\n", "longer than 1024 bytes"),
    ("x" * 5000 + "\n", "too long"),
])
def test_bad_password_exits_1(ctl, db, stdin, message):
    cfg, sql = db
    p = ctl("user", "add", "anna", "--role", "agent", config=cfg,
            input=stdin)
    assert p.returncode == EXIT_FAILURE, describe(p)
    assert message in p.stderr
    assert stdin.strip() == "" or stdin.strip() not in p.stderr
    assert sql("SELECT count(*) FROM users")[0][0] == 0


@pytest.mark.parametrize("args, message", [
    (["user"], "add, passwd, disable, enable or list is missing"),
    (["user", "frob"], "unknown command 'frob'"),
    (["user", "add"], "LOGIN is missing"),
    (["user", "add", "anna"], "--role agent|supervisor|admin is required"),
    (["user", "add", "anna", "--role", "king"], "unknown role 'king'"),
    (["user", "add", "anna", "--role"], "--role needs a value"),
    (["user", "add", "anna", "--role", "agent", "--frob"],
     "unknown option '--frob'"),
    (["user", "add", "anna", "bo", "--role", "agent"],
     "unexpected argument 'bo'"),
    (["user", "add", "Anna", "--role", "agent"], "lower-case"),
    (["user", "add", "anna bo", "--role", "agent"], "lower-case"),
    (["user", "add", "x" * 65, "--role", "agent"], "1 to 64"),
    (["user", "add", "anna", "--role", "agent", "--name", " Anna"],
     "--name: leading or trailing space"),
    (["user", "passwd"], "LOGIN is missing"),
    (["user", "passwd", "a", "b"], "unexpected argument 'b'"),
    (["user", "disable"], "LOGIN is missing"),
    (["user", "enable", "A"], "lower-case"),
    (["user", "list", "all"], "unexpected argument 'all'"),
])
def test_user_usage_errors_exit_64(ctl, db, args, message):
    cfg, sql = db
    p = ctl(*args, config=cfg, input=PASSWORD + "\n")
    assert p.returncode == EXIT_USAGE, describe(p)
    assert message in p.stderr
    assert p.stdout == ""
    assert sql("SELECT count(*) FROM users")[0][0] == 0


def test_unknown_department_exits_1(ctl, db):
    cfg, sql = db
    p = ctl("user", "add", "anna", "--role", "agent", "--department",
            "Nowhere", config=cfg, input=PASSWORD + "\n")
    assert p.returncode == EXIT_FAILURE, describe(p)
    assert "no department named 'Nowhere'" in p.stderr
    assert sql("SELECT count(*) FROM users")[0][0] == 0


def add_session(sql, login):
    sql("INSERT INTO sessions (id_hash, user_id, csrf_token, expires_at) "
        "SELECT sha256(random()::text::bytea), id, repeat('c', 43), "
        "now() + interval '1 hour' FROM users WHERE login = %s", (login,))


def session_count(sql, login):
    return sql("SELECT count(*) FROM sessions s JOIN users u "
               "ON u.id = s.user_id WHERE u.login = %s", (login,))[0][0]


def test_passwd(ctl, db):
    cfg, sql = db
    assert ctl("user", "add", "anna", "--role", "agent", config=cfg,
               input=PASSWORD + "\n").returncode == EXIT_OK
    add_session(sql, "anna")
    changed_before = sql("SELECT password_changed_at FROM users")[0][0]
    p = ctl("user", "passwd", "anna", config=cfg,
            input="et helt nyt kodeord\n")
    assert p.returncode == EXIT_OK, describe(p)
    assert p.stdout == ("password of user anna changed; their sessions "
                        "have ended\n")
    stored = user_row(sql, "anna")[1]
    assert password_matches(stored, "et helt nyt kodeord")
    assert not password_matches(stored, PASSWORD)
    assert sql("SELECT password_changed_at FROM users")[0][0] > \
        changed_before
    assert session_count(sql, "anna") == 0

    p = ctl("user", "passwd", "anna", config=cfg, input="short\n")
    assert p.returncode == EXIT_FAILURE
    assert password_matches(user_row(sql, "anna")[1], "et helt nyt kodeord")

    p = ctl("user", "passwd", "nobody", config=cfg, input=PASSWORD + "\n")
    assert p.returncode == EXIT_FAILURE
    assert "no user with login 'nobody'" in p.stderr


def test_disable_enable(ctl, db):
    cfg, sql = db
    assert ctl("user", "add", "anna", "--role", "agent", config=cfg,
               input=PASSWORD + "\n").returncode == EXIT_OK
    add_session(sql, "anna")
    p = ctl("user", "disable", "anna", config=cfg)
    assert p.returncode == EXIT_OK, describe(p)
    assert p.stdout == "user anna disabled; their sessions have ended\n"
    assert sql("SELECT disabled FROM users")[0][0] is True
    assert session_count(sql, "anna") == 0
    assert re.search(r"^anna .* yes$", ctl("user", "list", config=cfg).stdout,
                     re.M)

    p = ctl("user", "disable", "anna", config=cfg)
    assert (p.returncode, p.stdout) == (EXIT_OK,
                                        "user anna was disabled already\n")
    p = ctl("user", "enable", "anna", config=cfg)
    assert (p.returncode, p.stdout) == (EXIT_OK, "user anna enabled\n")
    assert sql("SELECT disabled FROM users")[0][0] is False
    p = ctl("user", "enable", "anna", config=cfg)
    assert p.stdout == "user anna was enabled already\n"

    for cmd in ("disable", "enable"):
        p = ctl("user", cmd, "nobody", config=cfg)
        assert p.returncode == EXIT_FAILURE
        assert "no user with login 'nobody'" in p.stderr


def test_schema_rejects_what_the_c_code_refuses(db):
    """The database's own constraints, for writers other than kontaktctl."""
    import psycopg
    cfg, sql = db
    bad = [
        ("Anna", "agent", "$argon2id$x"),
        ("anna", "root", "$argon2id$x"),
        ("anna", "agent", "plaintext"),
        ("", "agent", "$argon2id$x"),
    ]
    for login, role, hash_ in bad:
        with pytest.raises(psycopg.errors.CheckViolation):
            sql("INSERT INTO users (login, role, password_hash) "
                "VALUES (%s, %s, %s)", (login, role, hash_))


def test_unmigrated_database_hints_at_migrate(ctl, create_db, write_config):
    cfg = write_config(db=create_db(migrated=False))
    p = ctl("user", "list", config=cfg)
    assert p.returncode == EXIT_FAILURE
    assert "kontaktctl migrate" in p.stderr


def test_bad_config_exits_78(ctl, tmp_path):
    cfg = tmp_path / "bad.conf"
    cfg.write_text("[database]\npool_size = many\n")
    for args in (["user", "list"], ["token", "list"],
                 ["directory", "export", "-"], ["seed-demo"]):
        p = ctl(*args, config=cfg)
        assert p.returncode == EXIT_CONFIG, describe(p)


# --- tokens ---------------------------------------------------------------

def token_rows(sql):
    return sql("SELECT name, token_hash, scopes, created_by, last_used_at, "
               "revoked_at, row_to_json(t)::text FROM api_tokens t "
               "ORDER BY name")


def test_token_create_prints_it_once_and_stores_its_hash(ctl, db):
    cfg, sql = db
    p = ctl("token", "create", "cti", "--scope", "read,cti:write",
            config=cfg)
    assert p.returncode == EXIT_OK, describe(p)
    # Only the token, alone on its line, on stdout.
    assert p.stdout.count("\n") == 1
    token = p.stdout.rstrip("\n")
    assert TOKEN_RE.match(token), p.stdout
    assert token not in p.stderr
    assert "token cti created (cti:write,read)" in p.stderr

    [(name, token_hash, scopes, created_by, last_used, revoked,
      row_json)] = token_rows(sql)
    assert name == "cti"
    assert bytes(token_hash) == hashlib.sha256(token.encode()).digest()
    assert scopes == ["cti:write", "read"]
    assert created_by.startswith("kontaktctl:")
    assert last_used is None and revoked is None
    assert token not in row_json and token[4:] not in row_json

    # A second token differs.
    p2 = ctl("token", "create", "dp", "--scope", "digitalpost:write",
             config=cfg)
    assert p2.returncode == EXIT_OK, describe(p2)
    assert TOKEN_RE.match(p2.stdout.strip())
    assert p2.stdout.strip() != token

    # Listing shows neither the token nor its hash.
    p = ctl("token", "list", config=cfg)
    assert p.returncode == EXIT_OK, describe(p)
    assert token not in p.stdout
    assert hashlib.sha256(token.encode()).hexdigest() not in p.stdout
    lines = p.stdout.splitlines()
    assert re.match(r"NAME +SCOPES +CREATED +CREATED BY +LAST USED +"
                    r"REVOKED$", lines[0])
    assert re.match(r"cti +cti:write,read +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ +"
                    r"kontaktctl:\S+ +never +-$", lines[1]), lines
    assert re.match(r"dp +digitalpost:write ", lines[2]), lines


def test_token_revoke(ctl, db):
    cfg, sql = db
    assert ctl("token", "create", "cti", "--scope", "cti:write",
               config=cfg).returncode == EXIT_OK
    p = ctl("token", "revoke", "cti", config=cfg)
    assert (p.returncode, p.stdout) == (EXIT_OK, "token cti revoked\n")
    revoked = token_rows(sql)[0][5]
    assert revoked is not None
    p = ctl("token", "list", config=cfg)
    assert re.search(r"^cti .* never +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$",
                     p.stdout, re.M), p.stdout

    p = ctl("token", "revoke", "cti", config=cfg)
    assert (p.returncode, p.stdout) == (EXIT_OK,
                                        "token cti was revoked already\n")
    assert token_rows(sql)[0][5] == revoked

    p = ctl("token", "revoke", "nope", config=cfg)
    assert p.returncode == EXIT_FAILURE
    assert "no token named 'nope'" in p.stderr

    # The name of a revoked token stays taken.
    p = ctl("token", "create", "cti", "--scope", "read", config=cfg)
    assert p.returncode == EXIT_FAILURE
    assert "a token named 'cti' exists already" in p.stderr
    assert p.stdout == ""


def test_token_duplicate_name_exits_1(ctl, db):
    cfg, sql = db
    assert ctl("token", "create", "cti", "--scope", "read",
               config=cfg).returncode == EXIT_OK
    before = token_rows(sql)
    p = ctl("token", "create", "cti", "--scope", "admin", config=cfg)
    assert p.returncode == EXIT_FAILURE, describe(p)
    assert p.stdout == ""  # no token that would not work
    assert token_rows(sql) == before


@pytest.mark.parametrize("args, message", [
    (["token"], "create, revoke or list is missing"),
    (["token", "frob"], "unknown command 'frob'"),
    (["token", "create"], "NAME is missing"),
    (["token", "create", "cti"], "--scope S[,S] is required"),
    (["token", "create", "cti", "--scope"], "--scope needs a value"),
    (["token", "create", "cti", "--scope", "write"],
     "unknown scope 'write'"),
    (["token", "create", "cti", "--scope", "read,read"],
     "scope 'read' given twice"),
    (["token", "create", "cti", "--scope", "read,"], "empty scope"),
    (["token", "create", "cti x", "--scope", "read"], "name 'cti x'"),
    (["token", "create", "cti", "dp", "--scope", "read"],
     "unexpected argument 'dp'"),
    (["token", "revoke"], "NAME is missing"),
    (["token", "revoke", "a", "b"], "unexpected argument 'b'"),
    (["token", "list", "all"], "unexpected argument 'all'"),
])
def test_token_usage_errors_exit_64(ctl, db, args, message):
    cfg, sql = db
    p = ctl(*args, config=cfg)
    assert p.returncode == EXIT_USAGE, describe(p)
    assert message in p.stderr
    assert p.stdout == ""
    assert sql("SELECT count(*) FROM api_tokens")[0][0] == 0


def test_token_schema_checks(db):
    import psycopg
    cfg, sql = db
    for scopes in ("{}", "{read,root}", "{read,NULL}", "{{read}}"):
        with pytest.raises(psycopg.errors.CheckViolation):
            sql("INSERT INTO api_tokens (name, token_hash, scopes, "
                "created_by) VALUES ('t', sha256('x'), %s, 'test')",
                (scopes,))
    with pytest.raises(psycopg.errors.CheckViolation):
        sql("INSERT INTO api_tokens (name, token_hash, scopes, created_by) "
            "VALUES ('t', '\\x00', '{read}', 'test')")


def test_help_lists_the_commands(ctl):
    p = ctl("--help")
    for word in ("user add LOGIN --role agent|supervisor|admin",
                 "user passwd", "user disable", "user enable", "user list",
                 "token create NAME --scope S[,S]", "token revoke",
                 "token list", "directory import", "directory export",
                 "seed-demo"):
        assert word in p.stdout, word
