# SPDX-License-Identifier: MPL-2.0
"""Graceful shutdown: SIGTERM stops accepting, lets requests in flight
finish within shutdown_timeout and exits 0; a second signal or the timeout
cuts it short.

A request is held in flight by locking schema_migrations from a psycopg
connection: GET /readyz then waits for the lock inside the daemon."""

import contextlib
import signal
import socket
import threading
import time

import pytest
import requests

from utils import (EXIT_OK, parse_log_line, parse_response, recv_all,
                   wait_until)


class InFlight:
    """GET path in a thread; result() gives the response or the
    exception."""

    def __init__(self, d, path="/readyz", timeout=60):
        self._response = None
        self._error = None
        self._thread = threading.Thread(
            target=self._run, args=(d.url(path), timeout), daemon=True)
        self._thread.start()

    def _run(self, url, timeout):
        try:
            self._response = requests.get(url, timeout=timeout)
        except Exception as e:  # handed to the test by result()
            self._error = e

    def pending(self):
        return self._thread.is_alive()

    def result(self, timeout=30):
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the request did not finish"
        if self._error:
            raise self._error
        return self._response


@contextlib.contextmanager
def schema_locked(d):
    """Holds an ACCESS EXCLUSIVE lock on the daemon's schema_migrations
    until the block ends (or release() is called)."""
    conn = d.cluster.connect(d.db, autocommit=False)
    try:
        conn.execute("LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE")
        yield conn
    finally:
        with contextlib.suppress(Exception):
            conn.rollback()
        conn.close()


def wait_blocked(d, n=1):
    """Waits until n of the daemon's queries wait for a lock."""
    def blocked():
        rows = d.cluster.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND "
            "application_name = 'kontaktd' AND wait_event_type = 'Lock'",
            (d.db,))
        return rows[0][0] >= n
    wait_until(blocked, 10, f"{n} request(s) to block on the lock")


def assert_not_accepting(d):
    """A new connection is refused, or closed without an answer."""
    try:
        s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
    except ConnectionRefusedError:
        return
    with s:
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            data = recv_all(s, timeout=5)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
    assert data == b"", f"a new connection was served: {data[:200]!r}"


def stopping_line(d, mark=0):
    return parse_log_line(d.wait_for_log(r"event=stopping\b", start=mark))


def test_sigterm_lets_a_request_in_flight_finish(kontaktd):
    d = kontaktd(config={"server": {"shutdown_timeout": "20s"}})
    with schema_locked(d) as lock:
        req = InFlight(d)
        wait_blocked(d)
        d.signal(signal.SIGTERM)
        assert stopping_line(d)["in_flight"] == "1"
        assert_not_accepting(d)
        assert req.pending()
        assert d.running()
        lock.rollback()  # the request goes on
        r = req.result()
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ready"
    assert r.headers["Connection"] == "close"
    assert d.wait(timeout=10) == EXIT_OK
    assert d.log_contains(r"event=stopped\b")
    assert not d.log_contains(r"event=shutdown_timeout\b")


def test_sigterm_during_a_slowly_sent_body(kontaktd):
    d = kontaktd(config={"server": {"shutdown_timeout": "20s"}})
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                  b"Content-Type: text/plain\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        # The interim answer comes once the daemon has taken up the
        # request: from then on it is in flight.
        got = b""
        deadline = time.monotonic() + 10
        while b"\r\n\r\n" not in got and time.monotonic() < deadline:
            chunk = s.recv(1024)
            if not chunk:
                break
            got += chunk
        assert got.startswith(b"HTTP/1.1 100 Continue\r\n"), got
        s.sendall(b"a" * 50)
        d.signal(signal.SIGTERM)
        assert stopping_line(d)["in_flight"] == "1"
        assert_not_accepting(d)
        assert d.running()
        s.sendall(b"b" * 50)
        status, headers, body = parse_response(recv_all(s, timeout=10))
    # A complete answer: static files take no POST.
    assert status == 405
    assert headers["connection"] == "close"
    assert body.startswith(b'{"error":')
    assert d.wait(timeout=10) == EXIT_OK
    assert d.log_contains(r"event=http method=POST path=/ status=405")
    assert d.log_contains(r"event=stopped\b")


def test_shutdown_timeout_ends_a_stuck_request(kontaktd):
    d = kontaktd(config={"server": {"shutdown_timeout": "1s"}})
    with schema_locked(d):
        req = InFlight(d)
        wait_blocked(d)
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        # Bounded: the timeout plus a margin, well under the statement
        # timeout (30 s) that would end the query otherwise.
        assert d.wait(timeout=8) == EXIT_OK
        elapsed = time.monotonic() - t0
        assert elapsed >= 0.9, f"stopped after {elapsed:.2f} s, before " \
            "shutdown_timeout"
        line = d.wait_for_log(r"event=shutdown_timeout\b")
        assert parse_log_line(line)["in_flight"] == "1"
        # Its statement is cancelled, so the request ends with 503, the
        # daemon stops cleanly, and no backend is left waiting on the lock
        # (still held here).
        line = d.wait_for_log(r"event=cancel_queries\b")
        assert parse_log_line(line)["sent"] == "1"
        assert req.result().status_code == 503
        assert d.log_contains(r"event=stopped$")
        wait_until(lambda: d.cluster.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND "
            "application_name = 'kontaktd' AND wait_event_type = 'Lock'",
            (d.db,))[0][0] == 0, 10, "the cancelled query to go")


def test_second_sigterm_stops_at_once(kontaktd):
    d = kontaktd(config={"server": {"shutdown_timeout": "60s"}})
    with schema_locked(d):
        req = InFlight(d)
        wait_blocked(d)
        d.signal(signal.SIGTERM)
        stopping_line(d)
        assert d.running()
        d.signal(signal.SIGTERM)
        assert d.wait(timeout=5) == EXIT_OK
        assert d.log_contains(r"event=stop_now\b")
        with contextlib.suppress(requests.RequestException):
            assert req.result().status_code != 200


def test_sigquit_stops_at_once(kontaktd):
    d = kontaktd(config={"server": {"shutdown_timeout": "60s"}})
    with schema_locked(d):
        req = InFlight(d)
        wait_blocked(d)
        d.signal(signal.SIGQUIT)
        assert d.wait(timeout=5) == EXIT_OK
        with contextlib.suppress(requests.RequestException):
            assert req.result().status_code != 200


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT],
                         ids=["SIGTERM", "SIGINT"])
def test_idle_daemon_stops_at_once(kontaktd, sig):
    d = kontaktd()
    # An idle keep-alive connection does not hold the shutdown up.
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as s:
        # /readyz: the harness's own /healthz at start-up may be logged
        # only now, and waiting for its line instead of this request's
        # was a flake under ASan.
        s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(12) == b"HTTP/1.1 200"
        # The request is over once its log line is written (the server
        # logs it after the last byte went out).
        d.wait_for_log(r"event=http method=GET path=/readyz status=200")
        mark = d.log_mark()
        d.signal(sig)
        assert d.wait(timeout=5) == EXIT_OK
    line = parse_log_line(d.wait_for_log(r"event=stopping\b", start=mark))
    assert line["in_flight"] == "0"
    assert d.log_contains(r"event=stopped\b")


def test_sighup_during_drain_does_not_stop_it(kontaktd):
    d = kontaktd(config={"server": {"shutdown_timeout": "20s"}})
    with schema_locked(d) as lock:
        req = InFlight(d)
        wait_blocked(d)
        d.signal(signal.SIGTERM)
        stopping_line(d)
        d.signal(signal.SIGHUP)
        assert req.pending() and d.running()
        lock.rollback()
        assert req.result().status_code == 200
    assert d.wait(timeout=10) == EXIT_OK
    assert not d.log_contains(r"event=stop_now\b")
