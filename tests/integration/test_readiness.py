# SPDX-License-Identifier: MPL-2.0
"""Readiness follows the database: /readyz turns 503 when PostgreSQL stops
and 200 again when it is back, without a restart of kontaktd. These tests
stop PostgreSQL, so they use a dedicated cluster, not the session's."""

import signal

import requests

from utils import (EXIT_FAILURE, EXIT_OK, free_port, log_lines,
                   parse_log_line, wait_until)


def readyz(d):
    """(status, response) of GET /readyz; (None, None) when the request
    itself fails."""
    try:
        r = d.get("/readyz", timeout=5)
    except requests.RequestException:
        return None, None
    return r.status_code, r


def readyz_is(d, status):
    """A predicate for wait_until: the /readyz response when its status is
    status (a Response with an error status is falsy, hence the tuple)."""
    def check():
        got, r = readyz(d)
        return (r,) if got == status else None
    return check


def test_readyz_follows_postgresql(kontaktd, pg_factory, create_db):
    cluster = pg_factory()
    db = create_db(cluster=cluster)
    d = kontaktd(cluster=cluster, db=db,
                 config={"database": {"connect_timeout": "2s",
                                      "acquire_timeout": "2s"}},
                 allowed_errors=[r"event=db_down\b"])
    pid = d.pid
    status, r = readyz(d)
    assert status == 200, r.text

    cluster.stop()
    # The pool notices on the next request; poll for it.
    r, = wait_until(readyz_is(d, 503), 10,
                    "/readyz to answer 503 with PostgreSQL stopped")
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert r.headers["Retry-After"] == "2"
    body = r.json()
    assert body["status"] == "not_ready"
    assert body["database"] == "unavailable"
    assert body["error"]["code"] == "not_ready"
    assert body["error"]["message"]
    # Nothing of the connection details reaches the client.
    assert str(cluster.port) not in r.text
    # Liveness does not depend on the database.
    assert d.get("/healthz").status_code == 200
    assert d.running() and d.pid == pid
    # The first request may only find its connection lost; the next ones
    # try to reconnect, fail, and log the outage.
    wait_until(lambda: readyz(d)[0] == 503 and
               d.log_contains(r"level=error event=db_down\b"), 10,
               "the outage to be logged")

    cluster.start()
    r, = wait_until(readyz_is(d, 200), 15,
                    "/readyz to answer 200 after PostgreSQL restarted")
    assert r.json()["status"] == "ready"
    assert d.running() and d.pid == pid
    d.wait_for_log(r"event=db_up\b")
    # One start, one process: kontaktd was not restarted.
    assert len(log_lines(d.log(), r"event=started\b")) == 1

    d.signal(signal.SIGTERM)
    assert d.wait(timeout=20) == EXIT_OK
    assert d.log_contains(r"event=stopped\b")


def test_readyz_while_postgresql_is_down_fails_fast(kontaktd, pg_factory,
                                                    create_db):
    """While the database is down, requests fail at once (the pool's
    backoff), rather than each waiting for a connect timeout."""
    cluster = pg_factory()
    d = kontaktd(cluster=cluster, db=create_db(cluster=cluster),
                 allowed_errors=[r"event=db_down\b"])
    cluster.stop()
    wait_until(readyz_is(d, 503), 10, "/readyz 503")
    for _ in range(20):
        r = d.get("/readyz", timeout=2)
        assert r.status_code == 503
        # No connect timeout (2 s) is waited for.
        assert r.elapsed.total_seconds() < 1.5
    # The outage is logged once, not once per request.
    assert len(log_lines(d.log(), r"event=db_down\b")) == 1


def test_start_with_database_unreachable(kontaktd, pg):
    port = free_port()  # nothing listens there
    d = kontaktd(migrate=False, wait=False, db="kontaktd",
                 config={"database": {
                     "conninfo": f"host=127.0.0.1 port={port} "
                                 "user=postgres dbname=kontaktd"}},
                 allowed_errors=[r"event=startup\b"])
    assert d.wait(timeout=20) == EXIT_FAILURE
    line = d.wait_for_log(r"level=fatal event=startup\b")
    msg = parse_log_line(line)["msg"]
    assert "cannot connect to the database" in msg
    assert str(port) in msg
    assert not d.log_contains(r"event=started\b")


def test_start_with_missing_database(kontaktd, pg):
    d = kontaktd(migrate=False, wait=False, db="ktd_no_such_db",
                 allowed_errors=[r"event=startup\b"])
    assert d.wait(timeout=20) == EXIT_FAILURE
    line = d.wait_for_log(r"level=fatal event=startup\b")
    assert "ktd_no_such_db" in line
    assert "does not exist" in line
