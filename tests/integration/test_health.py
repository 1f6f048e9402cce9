# SPDX-License-Identifier: MPL-2.0
"""Liveness, readiness, the OpenAPI document, --version/--help and the
start-up log line."""

import re

from utils import (EXIT_OK, EXIT_USAGE, http_request, migration_files,
                   migration_version, package_version, parse_log_line)

JSON_TYPE = "application/json; charset=utf-8"


def test_healthz(kontaktd):
    d = kontaktd()
    r = d.get("/healthz")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == JSON_TYPE
    assert r.json() == {"status": "ok", "version": package_version()}
    # Liveness must not be cached by a proxy.
    assert r.headers["Cache-Control"] == "no-store"


def test_healthz_head_has_no_body(kontaktd):
    d = kontaktd()
    status, headers, body = http_request(d.port, "HEAD", "/healthz")
    assert status == 200
    assert headers["content-type"] == JSON_TYPE
    assert body == b""


def test_readyz(kontaktd):
    d = kontaktd()
    r = d.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == JSON_TYPE
    newest = max(migration_version(p) for p in migration_files())
    assert r.json() == {"status": "ready", "database": "ok",
                        "migrations": "current", "schema_version": newest}


def test_openapi_lists_the_routes(kontaktd):
    d = kontaktd()
    r = d.get("/api/v1/openapi.json")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == JSON_TYPE
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["version"] == package_version()
    for path in ("/healthz", "/readyz", "/api/v1/openapi.json"):
        assert path in doc["paths"], path


def test_request_log_line(kontaktd):
    d = kontaktd()
    mark = d.log_mark()
    assert d.get("/healthz?probe=1").status_code == 200
    line = d.wait_for_log(r"event=http method=GET path=/healthz\b",
                          start=mark)
    f = parse_log_line(line)
    assert f["level"] == "info"
    assert f["status"] == "200"
    assert re.fullmatch(r"\d+\.\d{3}", f["duration_ms"]), line
    assert f["peer"] == "127.0.0.1"
    # The query string stays out of the log (it may carry personal data).
    assert "probe" not in line


def test_startup_log_line(kontaktd):
    d = kontaktd()
    line = d.wait_for_log(r"event=started\b")
    f = parse_log_line(line)
    assert f["level"] == "info"
    assert f["version"] == package_version()
    assert f["port"] == str(d.port)
    assert f["listen"] == "127.0.0.1"
    assert f["tls"] == "off"
    newest = max(migration_version(p) for p in migration_files())
    assert f["schema_version"] == str(newest)
    # Present and a whole number; how fast is not asserted.
    assert re.fullmatch(r"\d+", f.get("startup_ms", "")), line
    # Every line is "ts=... level=... event=..." logfmt (the kontaktd
    # fixture checks this for every test, too).
    assert d.malformed_lines() == []


def test_version(kontaktd_cmd):
    for opt in ("--version", "-V"):
        p = kontaktd_cmd(opt)
        assert p.returncode == EXIT_OK
        assert p.stdout == f"kontaktd {package_version()}\n"
        assert p.stderr == ""


def test_help(kontaktd_cmd):
    for opt in ("--help", "-h"):
        p = kontaktd_cmd(opt)
        assert p.returncode == EXIT_OK
        assert p.stdout.startswith("Usage: kontaktd")
        for word in ("--config", "--check-config", "--version", "--help",
                     "SIGTERM", "SIGHUP"):
            assert word in p.stdout, word
        assert p.stderr == ""


def test_bad_usage_exits_64(kontaktd_cmd):
    p = kontaktd_cmd("--no-such-option")
    assert p.returncode == EXIT_USAGE
    assert "Usage: kontaktd" in p.stderr
    assert p.stdout == ""
    p = kontaktd_cmd("serve")
    assert p.returncode == EXIT_USAGE
    assert "unexpected argument 'serve'" in p.stderr
    p = kontaktd_cmd("--config")
    assert p.returncode == EXIT_USAGE
