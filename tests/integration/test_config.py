# SPDX-License-Identifier: MPL-2.0
"""The configuration file: --check-config, the errors it reports, the exit
codes of a bad configuration, and SIGHUP."""

import signal

import pytest

from utils import (EXIT_CONFIG, EXIT_OK, SQL_DIR, WWW_ROOT, describe,
                   free_port, parse_log_line)

# A valid configuration; {conninfo} and {port} are filled in. Cases below
# add or replace one line, and the error must name that line.
GOOD = """\
# kontaktd test configuration
[server]
listen = 127.0.0.1
port = {port}
threads = 2
www_root = {www}
max_body = 64k
connection_timeout = 5s

[database]
conninfo = {conninfo}
sql_dir = {sql}
pool_size = 2

[log]
level = info

[auth]
session_idle_timeout = 8h
"""

# (id, action, target line, new line, expected texts in the message).
# action "after" inserts the new line after the first line equal to target,
# "replace" replaces that line. The error must name the new line.
BAD_LINE_CASES = [
    ("unknown_key", "after", "threads = 2", "frobnicate = 1",
     ["unknown key 'frobnicate' in section [server]"]),
    ("unknown_key_in_log", "after", "level = info", "colour = yes",
     ["unknown key 'colour' in section [log]"]),
    ("unknown_section", "after", "pool_size = 2", "[frobnicate]",
     ["unknown section [frobnicate]"]),
    ("bad_number", "replace", "threads = 2", "threads = many",
     ["[server] threads: bad value: expected a whole number"]),
    ("negative_number", "replace", "pool_size = 2", "pool_size = -1",
     ["[database] pool_size: bad value"]),
    ("out_of_range", "replace", "port = {port}", "port = 70000",
     ["[server] port: bad value: out of range (1..65535)"]),
    ("zero_port", "replace", "port = {port}", "port = 0",
     ["[server] port: bad value: out of range"]),
    ("bad_size", "replace", "max_body = 64k", "max_body = lots",
     ["[server] max_body: bad value: expected a size"]),
    ("size_below_minimum", "replace", "max_body = 64k", "max_body = 10",
     ["[server] max_body: bad value: out of range"]),
    ("bad_duration", "replace", "connection_timeout = 5s",
     "connection_timeout = soon",
     ["[server] connection_timeout: bad value: expected a duration"]),
    ("bad_bool", "after", "pool_size = 2", "auto_migrate = maybe",
     ["[database] auto_migrate: bad value: expected true or false"]),
    ("hash_memory_below_minimum", "after", "session_idle_timeout = 8h",
     "password_hash_memory = 512k",
     ["[auth] password_hash_memory: bad value: out of range"]),
    ("hash_passes_zero", "after", "session_idle_timeout = 8h",
     "password_hash_passes = 0",
     ["[auth] password_hash_passes: bad value: out of range (1..64)"]),
    ("bad_log_level", "replace", "level = info", "level = loud",
     ["[log] level: bad value"]),
    ("set_twice", "after", "threads = 2", "port = 1234",
     ["[server] port is set twice"]),
    ("syntax_error", "after", "threads = 2", "this is not ini",
     ["syntax error"]),
    ("unclosed_section", "replace", "[database]", "[database",
     ["section header without closing ']'"]),
    ("empty_required_value", "replace", "www_root = {www}", "www_root =",
     ["[server] www_root: bad value: must not be empty"]),
    ("key_outside_section", "replace", "# kontaktd test configuration",
     "port = 8080", ["key 'port' outside of a section"]),
    # Checks across keys, made after the whole file is read, name the line
    # of the key at fault too.
    ("conninfo_with_password", "replace", "conninfo = {conninfo}",
     "conninfo = host=127.0.0.1 port=5 user=postgres dbname=x "
     "password=Hemmelig42",
     ["[database] conninfo must not contain a password"]),
    ("conninfo_uri_with_password", "replace", "conninfo = {conninfo}",
     "conninfo = postgresql://postgres:Hemmelig42@127.0.0.1:5/x",
     ["[database] conninfo must not contain a password"]),
    ("empty_conninfo", "replace", "conninfo = {conninfo}", "conninfo =",
     ["[database] conninfo is empty"]),
    ("tls_cert_without_tls_key", "after", "threads = 2",
     "tls_cert = /etc/ssl/certs/ca-certificates.crt",
     ["[server] tls_cert and tls_key must be set together"]),
    ("tls_key_without_tls_cert", "after", "threads = 2",
     "tls_key = /etc/ssl/certs/ca-certificates.crt",
     ["[server] tls_cert and tls_key must be set together"]),
]

# Errors in what the keys name (files and directories), found by
# --check-config after the file is read: the message names the file and the
# key.
FILE_CASES = [
    ("missing_www_root", "replace", "www_root = {www}",
     "www_root = /nonexistent/kontaktd-www", ["www_root",
                                              "/nonexistent/kontaktd-www"]),
    ("missing_sql_dir", "replace", "sql_dir = {sql}",
     "sql_dir = /nonexistent/kontaktd-sql", ["sql_dir",
                                             "/nonexistent/kontaktd-sql"]),
    ("missing_tls_files", "after", "threads = 2",
     "tls_cert = /nonexistent/cert.pem\ntls_key = /nonexistent/key.pem",
     ["tls_cert", "/nonexistent/cert.pem"]),
    ("missing_password_file", "after", "pool_size = 2",
     "password_file = /nonexistent/db-password",
     ["password_file", "/nonexistent/db-password"]),
]


def fill(text, pg):
    return text.format(port=free_port(), www=WWW_ROOT, sql=SQL_DIR,
                       conninfo=pg.conninfo("postgres"))


def make_bad(tmp_path, pg, action, target, new):
    """Writes the bad config; returns (path, 1-based line of the new
    line)."""
    lines = GOOD.split("\n")
    i = lines.index(target)
    if action == "replace":
        lines[i] = new
        line = i + 1
    else:
        lines.insert(i + 1, new)
        line = i + 2
    path = tmp_path / "bad.conf"
    path.write_text(fill("\n".join(lines), pg))
    return path, line


def test_check_config_ok(tmp_path, pg, kontaktd_cmd):
    path = tmp_path / "good.conf"
    path.write_text(fill(GOOD, pg))
    p = kontaktd_cmd("--config", path, "--check-config")
    assert p.returncode == EXIT_OK, describe(p)
    assert p.stdout == f"{path}: configuration OK\n"
    assert p.stderr == ""
    p = kontaktd_cmd("-c", path, "-t")
    assert p.returncode == EXIT_OK, describe(p)


def test_check_config_does_not_need_the_database(write_config,
                                                kontaktd_cmd):
    port = free_port()  # nothing listens there
    path = write_config({"database": {
        "conninfo": f"host=127.0.0.1 port={port} user=postgres dbname=x"}})
    p = kontaktd_cmd("--config", path, "--check-config")
    assert p.returncode == EXIT_OK, describe(p)


@pytest.mark.parametrize("case", BAD_LINE_CASES, ids=[c[0] for c in
                                                       BAD_LINE_CASES])
def test_bad_config_names_file_line_and_key(case, tmp_path, pg,
                                            kontaktd_cmd, ctl):
    _, action, target, new, expected = case
    path, line = make_bad(tmp_path, pg, action, target, new)
    p = kontaktd_cmd("--config", path, "--check-config")
    assert p.returncode == 1, describe(p)
    assert p.stdout == ""
    assert f"{path}:{line}: " in p.stderr, p.stderr
    for text in expected:
        assert text in p.stderr, p.stderr
    assert len(p.stderr.splitlines()) == 1, p.stderr
    # A password never reaches a log or a terminal.
    assert "Hemmelig42" not in p.stderr
    # kontaktctl reads the same file the same way.
    p = ctl("migrate", "status", config=path)
    assert p.returncode == EXIT_CONFIG, describe(p)
    assert f"{path}:{line}: " in p.stderr


@pytest.mark.parametrize("case", FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_bad_config_names_file_and_key(case, tmp_path, pg, kontaktd_cmd):
    _, action, target, new, expected = case
    path, _ = make_bad(tmp_path, pg, action, target, new)
    p = kontaktd_cmd("--config", path, "--check-config")
    assert p.returncode == 1, describe(p)
    assert p.stdout == ""
    assert str(path) in p.stderr, p.stderr
    for text in expected:
        assert text in p.stderr, p.stderr


def test_missing_www_root_names_the_line(tmp_path, pg, kontaktd_cmd):
    _, action, target, new, _ = FILE_CASES[0]
    path, line = make_bad(tmp_path, pg, action, target, new)
    p = kontaktd_cmd("--config", path, "--check-config")
    assert p.returncode == 1
    assert f"{path}:{line}: " in p.stderr, p.stderr


@pytest.mark.parametrize("case", [
    case for case in BAD_LINE_CASES + FILE_CASES
    if case[0] in ("unknown_key", "out_of_range", "conninfo_with_password",
                   "missing_www_root")], ids=lambda case: case[0])
def test_serving_with_bad_config_exits_78(case, tmp_path, pg, kontaktd_cmd):
    _, action, target, new, expected = case
    path, _ = make_bad(tmp_path, pg, action, target, new)
    p = kontaktd_cmd("--config", path, timeout=30)
    assert p.returncode == EXIT_CONFIG, describe(p)
    lines = p.stderr.splitlines()
    fatal = [parse_log_line(x) for x in lines if "level=fatal" in x]
    assert len(fatal) == 1, p.stderr
    assert fatal[0]["event"] == "config_error"
    assert expected[0] in fatal[0]["msg"]
    assert "Hemmelig42" not in p.stderr


def test_missing_config_file(tmp_path, kontaktd_cmd):
    missing = tmp_path / "missing.conf"
    # Serving: a configuration error, 78 (not 1, which is a runtime
    # failure), with a log line that names the file.
    p = kontaktd_cmd("--config", missing)
    assert p.returncode == EXIT_CONFIG, describe(p)
    assert "level=fatal event=config_error" in p.stderr
    assert f"{missing}: cannot open" in p.stderr
    # Checking: 1 and the message.
    p = kontaktd_cmd("--config", missing, "--check-config")
    assert p.returncode == 1, describe(p)
    assert f"{missing}: cannot open" in p.stderr


def test_sighup_changes_log_level(kontaktd):
    d = kontaktd()
    cfg = d.config_path
    text = cfg.read_text()
    assert "level = info" in text

    def hit_static(mark):
        assert d.get("/app.css").status_code == 200
        # The request's own info line comes after its debug lines.
        d.wait_for_log(r"event=http method=GET path=/app\.css", start=mark)
        return d.log(mark)

    mark = d.log_mark()
    assert "level=debug" not in hit_static(mark)

    cfg.write_text(text.replace("level = info", "level = debug"))
    mark = d.log_mark()
    d.signal(signal.SIGHUP)
    d.wait_for_log(r"level=info event=config_reloaded level=debug\b",
                   start=mark)
    mark = d.log_mark()
    assert "level=debug" in hit_static(mark)

    cfg.write_text(text)
    mark = d.log_mark()
    d.signal(signal.SIGHUP)
    d.wait_for_log(r"event=config_reloaded level=info\b", start=mark)
    mark = d.log_mark()
    assert "level=debug" not in hit_static(mark)


def test_sighup_warns_about_keys_that_need_a_restart(kontaktd):
    d = kontaktd()
    cfg = d.config_path
    other = free_port()
    cfg.write_text(cfg.read_text().replace(f"port = {d.port}",
                                           f"port = {other}"))
    mark = d.log_mark()
    d.signal(signal.SIGHUP)
    line = d.wait_for_log(r"event=config_reload section=server key=port",
                          start=mark)
    assert "level=warning" in line and "restart" in line
    d.wait_for_log(r"event=config_reloaded", start=mark)
    assert d.get("/healthz").status_code == 200  # still the old port


def test_sighup_with_broken_file_keeps_running(kontaktd):
    d = kontaktd(allowed_errors=[r"event=config_reload_failed"])
    cfg = d.config_path
    good = cfg.read_text()
    cfg.write_text(good + "\n[server]\nfrobnicate = yes\n")
    mark = d.log_mark()
    d.signal(signal.SIGHUP)
    line = d.wait_for_log(r"event=config_reload_failed", start=mark)
    assert "level=error" in line
    assert "frobnicate" in line and str(cfg) in line
    assert "keeping the running configuration" in line
    assert d.running()
    assert d.get("/healthz").status_code == 200
    assert d.get("/readyz").status_code == 200
    # The level did not change: still info.
    mark = d.log_mark()
    assert d.get("/app.css").status_code == 200
    d.wait_for_log(r"event=http method=GET path=/app\.css", start=mark)
    assert "level=debug" not in d.log(mark)

    # A removed file is survived as well, and a fixed one is taken.
    cfg.unlink()
    mark = d.log_mark()
    d.signal(signal.SIGHUP)
    d.wait_for_log(r"event=config_reload_failed", start=mark)
    assert d.running()
    cfg.write_text(good.replace("level = info", "level = debug"))
    mark = d.log_mark()
    d.signal(signal.SIGHUP)
    d.wait_for_log(r"event=config_reloaded level=debug\b", start=mark)
    assert d.get("/healthz").status_code == 200
