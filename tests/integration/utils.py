# SPDX-License-Identifier: MPL-2.0
"""Helpers of the integration tests: where the binaries are, free ports,
sanitizer reports, private PostgreSQL clusters, the kontaktd process and its
log, raw HTTP over a socket.

Everything waits by polling with a deadline; no loop here runs unbounded.
"""

import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psycopg

import openapi_check

REPO = Path(__file__).resolve().parents[2]
BUILDDIR = Path(os.environ.get("KTD_BUILDDIR") or REPO / "_build").resolve()
KONTAKTD = BUILDDIR / "kontaktd"
KONTAKTCTL = BUILDDIR / "kontaktctl"
SANITIZER = os.environ.get("KTD_SANITIZER", "") not in ("", "0")
PG_CLUSTER = REPO / "tools" / "pg-cluster"
SQL_DIR = REPO / "sql"
WWW_ROOT = REPO / "www"
# PostgreSQL runs as an unprivileged user when the tests run as root, and
# that user cannot enter pytest's tmp dir (/tmp/pytest-of-root): clusters
# live in the checkout's git-ignored .run/ instead.
RUN_ROOT = REPO / ".run" / "pytest"

# Exit codes of kontaktd and kontaktctl (enum ktd_exit in src/lib/log.h).
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 64
EXIT_CONFIG = 78

# How long a daemon may take to answer /healthz after it is started.
STARTUP_TIMEOUT = 10.0


class TimeoutExpired(AssertionError):
    pass


def wait_until(pred, timeout, what, interval=0.05):
    """Calls pred() until it returns a true value, which is returned; fails
    after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutExpired(f"timed out after {timeout:g} s waiting "
                                 f"for {what}")
        time.sleep(interval)


# --- ports ----------------------------------------------------------------

_ports_given = set()
_port_mutex = threading.Lock()
_port_lock_fd = None


def _port_range():
    """Ports to hand out: below the kernel's ephemeral range, so that no
    outgoing connection (to PostgreSQL, Dovecot, an SMTP server) can take
    a port between the test choosing it and a server binding it."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range")
                  .read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    low = max(low, 12000)
    return 10000, low - 1


def notifications(conn, n, timeout=5):
    """The payloads (parsed JSON) of the next n notifications on conn, a
    psycopg connection that LISTENs; fails after timeout seconds."""
    got = []

    def collect():
        for note in conn.notifies():
            got.append(json.loads(note.payload))
            if len(got) == n:
                break

    # This psycopg's notifies() has no timeout: wait in a thread.
    t = threading.Thread(target=collect, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"{len(got)} of {n} notifications: {got}"
    return got


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on: a random one below
    the ephemeral range (see _port_range) that binds. Each port handed out
    is also locked for the life of this process (a one-byte record lock at
    offset port in a lock file in the system's temporary directory), so
    that concurrent test runs on one machine, pytest -n and other
    checkouts included, never hand out the same port twice."""
    global _port_lock_fd
    with _port_mutex:
        if _port_lock_fd is None:
            # Kept open: closing any descriptor of the file would drop
            # every lock this process holds on it.
            _port_lock_fd = os.open(
                Path(tempfile.gettempdir()) / "kontaktd-test-ports.lock",
                os.O_CREAT | os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW,
                0o666)
        lo, hi = _port_range()
        for _ in range(200):
            port = random.randint(lo, hi)
            if port in _ports_given:
                continue
            try:
                fcntl.lockf(_port_lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1,
                            port)
            except OSError:
                continue  # another test process has it
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    fcntl.lockf(_port_lock_fd, fcntl.LOCK_UN, 1, port)
                    continue
            _ports_given.add(port)
            return port
    raise RuntimeError("no free port found in 200 attempts")


# --- sanitizers and processes ---------------------------------------------

def clean_env():
    """The environment for kontaktd and kontaktctl: ours, without libpq's
    PG* variables (the config alone says where the database is)."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("PG") and k not in ("ASAN_OPTIONS",
                                                     "UBSAN_OPTIONS",
                                                     "LSAN_OPTIONS")}


# A sanitizer's report in a process's output.
SANITIZER_OUTPUT_RE = re.compile(
    r"(: runtime error: |^==\d+==ERROR: |^SUMMARY: \w+Sanitizer)", re.M)


class Sanitizer:
    """A report directory for one process of an ASan+UBSan build. With
    KTD_SANITIZER=1 every kontaktd/kontaktctl run gets log_path options
    pointing here, and check() fails when a report appeared."""

    def __init__(self, parent):
        Path(parent).mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="san-", dir=parent))

    def env(self):
        env = clean_env()
        if SANITIZER:
            env["ASAN_OPTIONS"] = ("detect_leaks=1:halt_on_error=1:"
                                   f"log_path={self.dir}/asan")
            env["UBSAN_OPTIONS"] = ("halt_on_error=1:print_stacktrace=1:"
                                    f"log_path={self.dir}/ubsan")
        return env

    def reports(self):
        return sorted(p for p in self.dir.iterdir() if p.is_file())

    def check(self, what, output=""):
        """Fails when a report file appeared, or when output (the process's
        stderr or log) holds a report: with GCC, libubsan next to libasan
        ignores UBSAN_OPTIONS' log_path and writes to stderr."""
        reports = self.reports()
        text = "\n".join(f"==== {p.name} ====\n"
                         f"{p.read_text(errors='replace')}" for p in reports)
        if output and SANITIZER_OUTPUT_RE.search(output):
            text += f"\n==== stderr ====\n{output}"
        if text:
            raise AssertionError(f"sanitizer report from {what}:\n{text}")


def run(binary, args, workdir, *, timeout=60, input=None):
    """Runs kontaktd or kontaktctl to completion and returns the
    CompletedProcess (text stdout and stderr). Fails on a sanitizer
    report."""
    san = Sanitizer(workdir)
    cmd = [str(binary)] + [str(a) for a in args]
    try:
        proc = subprocess.run(cmd, env=san.env(), cwd=workdir, input=input,
                              capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise TimeoutExpired(f"{' '.join(cmd)} did not finish within "
                             f"{timeout} s; stdout={e.stdout!r} "
                             f"stderr={e.stderr!r}") from None
    san.check(" ".join(cmd), proc.stderr)
    return proc


def describe(proc):
    """A CompletedProcess as text, for assertion messages."""
    return (f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout}"
            f"--- stderr ---\n{proc.stderr}")


# --- logs -----------------------------------------------------------------

_LOGFMT_RE = re.compile(r'([A-Za-z_][A-Za-z0-9_.]*)=("(?:[^"\\]|\\.)*"|\S*)')


LOG_LINE_RE = re.compile(
    r'ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z '
    r'level=(fatal|error|warning|info|debug|trace) event=\w+'
    r'( [A-Za-z_][A-Za-z0-9_.]*=("(?:[^"\\]|\\.)*"|[^" ]*))*$')


def parse_log_line(line):
    """The key=value fields of a log line, as a dict (quotes removed)."""
    fields = {}
    for key, value in _LOGFMT_RE.findall(line):
        if value.startswith('"'):
            value = re.sub(r'\\(.)', r'\1', value[1:-1])
        fields[key] = value
    return fields


def log_contains(text, pattern):
    """True when one line of the log text matches the regular expression
    pattern (re.search)."""
    rx = re.compile(pattern)
    return any(rx.search(line) for line in text.splitlines())


def log_lines(text, pattern):
    rx = re.compile(pattern)
    return [line for line in text.splitlines() if rx.search(line)]


# --- PostgreSQL -----------------------------------------------------------

CLUSTERS = []  # every cluster started by this process, for cleanup


class PgCluster:
    """A private PostgreSQL cluster, managed with tools/pg-cluster."""

    def __init__(self, directory, port=None):
        self.dir = Path(directory)
        self.port = port or free_port()
        self._db_counter = 0
        self._mutex = threading.Lock()

    @property
    def log_path(self):
        return self.dir / "postgresql.log"

    def log_size(self):
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_text(self, start=0):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(start)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def start(self):
        if self not in CLUSTERS:
            CLUSTERS.append(self)
        proc = subprocess.run([str(PG_CLUSTER), "start", str(self.dir),
                               str(self.port)], capture_output=True,
                              text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"pg-cluster start {self.dir} failed:\n"
                               f"{describe(proc)}")
        wait_until(self.accepts_connections, 30,
                   f"PostgreSQL on port {self.port}")

    def postmaster_pid(self):
        try:
            first = (self.dir / "data" / "postmaster.pid").read_text()
            return int(first.split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def running(self):
        pid = self.postmaster_pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True

    def stop(self):
        """Stops the cluster (fast shutdown) and makes sure that no
        postmaster is left behind."""
        if not (self.dir / "data" / "PG_VERSION").exists():
            return
        subprocess.run([str(PG_CLUSTER), "stop", str(self.dir)],
                       capture_output=True, timeout=60)
        try:
            wait_until(lambda: not self.running(), 10,
                       f"PostgreSQL in {self.dir} to stop")
        except TimeoutExpired:
            pid = self.postmaster_pid()
            if pid:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not self.running(), 10,
                       f"PostgreSQL in {self.dir} to die")

    def accepts_connections(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port),
                                          timeout=1):
                return True
        except OSError:
            return False

    def conninfo(self, dbname="postgres"):
        return (f"host=127.0.0.1 port={self.port} user=postgres "
                f"dbname={dbname}")

    def connect(self, dbname="postgres", autocommit=True):
        return psycopg.connect(self.conninfo(dbname), autocommit=autocommit,
                               connect_timeout=5)

    def sql(self, query, params=None, dbname="postgres"):
        """Runs one statement in its own connection; returns the rows (or
        None for statements without a result)."""
        with self.connect(dbname) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else None

    def new_db_name(self, hint="t"):
        with self._mutex:
            self._db_counter += 1
            n = self._db_counter
        hint = re.sub(r"[^a-z0-9_]", "_", hint.lower())[:40]
        return f"{hint}_{n}"

    def create_db(self, name=None, template="template0"):
        name = name or self.new_db_name()
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'
                         ' STRATEGY FILE_COPY')
        return name

    def drop_db(self, name):
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def stop_all_clusters():
    for cluster in list(CLUSTERS):
        with contextlib.suppress(Exception):
            cluster.stop()


# --- configuration --------------------------------------------------------

def merge_config(base, overrides):
    """A copy of the {section: {key: value}} dict base with overrides
    applied; a value of None removes the key."""
    merged = {sec: dict(kv) for sec, kv in base.items()}
    for sec, kv in (overrides or {}).items():
        target = merged.setdefault(sec, {})
        for key, value in kv.items():
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value
    return merged


def render_config(sections):
    out = []
    for sec, kv in sections.items():
        out.append(f"[{sec}]")
        for key, value in kv.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            out.append(f"{key} = {value}")
        out.append("")
    return "\n".join(out)


def base_config(cluster, dbname, port, sql_dir=SQL_DIR, www_root=WWW_ROOT):
    return {
        "server": {
            "listen": "127.0.0.1",
            "port": port,
            "threads": 4,
            "www_root": www_root,
        },
        "database": {
            "conninfo": cluster.conninfo(dbname),
            "pool_size": 4,
            "connect_timeout": "2s",
            "sql_dir": sql_dir,
        },
        "log": {"level": "info"},
        # Cheap password hashes: a test logs in a few times, and Argon2id
        # at the default cost takes ~0.1 s per hash and login. test_auth
        # covers the default cost and the renewal between costs.
        "auth": {"password_hash_memory": "1M", "password_hash_passes": 1},
    }


def package_version():
    """The version in configure.ac's AC_INIT."""
    m = re.search(r"AC_INIT\(\[kontaktd\],\s*\[([^\]]+)\]",
                  (REPO / "configure.ac").read_text())
    assert m, "no version in configure.ac"
    return m.group(1)


def migration_files(sql_dir=SQL_DIR):
    return sorted(p for p in Path(sql_dir).glob("*.sql"))


def migration_version(path):
    return int(Path(path).name.split("_", 1)[0])


def sha256_hex(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --- the daemon -----------------------------------------------------------

DAEMONS = []  # every daemon started by this process, for cleanup


class DaemonExited(AssertionError):
    pass


class Daemon:
    """One kontaktd process with its config file and log file."""

    def __init__(self, config_path, port, workdir, name="kontaktd",
                 allowed_errors=()):
        self.config_path = Path(config_path)
        self.port = port
        self.workdir = Path(workdir)
        self.name = name
        self.log_path = self.workdir / f"{name}.log"
        self.allowed_errors = list(allowed_errors)
        self.proc = None
        self.returncode = None
        self.reaped = False  # the test has seen the exit (wait/stop)
        self._san = None
        self.extra_env = {}  # added to the daemon's environment

    # process

    def start(self):
        self._san = Sanitizer(self.workdir)
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(
                [str(KONTAKTD), "--config", str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT,
                env={**self._san.env(), **self.extra_env},
                cwd=self.workdir, start_new_session=True)
        finally:
            log.close()
        DAEMONS.append(self)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        assert self.running(), f"{self.name} is not running"
        os.kill(self.proc.pid, sig)

    def wait(self, timeout=20):
        """Waits for the process to exit; returns its exit code (negative:
        killed by that signal). Fails on a sanitizer report."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutExpired(f"{self.name} (pid {self.proc.pid}) did "
                                 f"not exit within {timeout:g} s") from None
        self.returncode = rc
        self.reaped = True
        self._san.check(f"{self.name} (pid {self.proc.pid})", self.log())
        return rc

    def stop(self, timeout=20):
        """SIGTERM, then waits; returns the exit code."""
        if self.running():
            os.kill(self.proc.pid, signal.SIGTERM)
        return self.wait(timeout)

    def kill(self):
        if self.running():
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)

    def wait_ready(self, timeout=STARTUP_TIMEOUT):
        """Polls GET /healthz until it answers 200."""
        def healthy():
            if not self.running():
                raise DaemonExited(
                    f"{self.name} exited with {self.proc.returncode} "
                    f"before answering /healthz:\n{self.log()}")
            try:
                status, _, _ = http_request(self.port, "GET", "/healthz",
                                            timeout=1)
            except OSError:
                return False
            return status == 200
        wait_until(healthy, timeout, f"{self.name} to answer /healthz")
        return self

    # HTTP

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def url(self, path):
        return self.base_url + path

    def get(self, path, **kw):
        import requests
        kw.setdefault("timeout", 10)
        return requests.get(self.url(path), **kw)

    def request(self, method, path, **kw):
        import requests
        kw.setdefault("timeout", 10)
        return requests.request(method, self.url(path), **kw)

    # log

    def log(self, start=0):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(start)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_mark(self):
        """The current end of the log, for log(start=mark)."""
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_contains(self, pattern, start=0):
        return log_contains(self.log(start), pattern)

    def wait_for_log(self, pattern, timeout=10, start=0):
        """Polls the log until a line matches pattern; returns the line."""
        rx = re.compile(pattern)

        def found():
            for line in self.log(start).splitlines():
                if rx.search(line):
                    return line
            return None
        try:
            return wait_until(found, timeout, f"log line /{pattern}/")
        except TimeoutExpired as e:
            raise TimeoutExpired(f"{e}; log of {self.name}:\n"
                                 f"{self.log()}") from None

    def malformed_lines(self):
        """Lines that are not "ts=... level=... event=..." logfmt (a
        library writing to stderr, say)."""
        return [line for line in self.log().splitlines()
                if not LOG_LINE_RE.match(line)]

    def error_lines(self):
        """Lines at level error or fatal that no allowed pattern covers."""
        bad = []
        for line in self.log().splitlines():
            # The line's own level, not a level= inside a quoted value.
            if not re.match(r"ts=\S+ level=(error|fatal) ", line):
                continue
            if any(re.search(p, line) for p in self.allowed_errors):
                continue
            bad.append(line)
        return bad


def is_kontaktd(host, port):
    """Whether host:port is a kontaktd that the tests started (its answers
    are checked against the OpenAPI document: openapi_check)."""
    return host in ("127.0.0.1", "localhost") and \
        any(d.port == port for d in list(DAEMONS))


def kill_all_daemons():
    for d in list(DAEMONS):
        with contextlib.suppress(Exception):
            d.kill()


atexit.register(stop_all_clusters)
atexit.register(kill_all_daemons)


# --- raw HTTP -------------------------------------------------------------

def recv_all(sock, timeout):
    """Reads until the peer closes or timeout seconds pass in total."""
    deadline = time.monotonic() + timeout
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutExpired(f"the server did not close the connection "
                                 f"within {timeout:g} s; got "
                                 f"{b''.join(chunks)[:500]!r}")
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        except TimeoutError:
            continue  # the deadline check above ends it
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def parse_response(raw, head_request=False):
    """(status, headers with lower-case names, body) of one raw HTTP/1.1
    response; the body is cut to Content-Length when there is one (a
    response to HEAD has none, whatever Content-Length says)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise AssertionError(f"incomplete HTTP response: {raw[:500]!r}")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise AssertionError(f"not an HTTP response: {raw[:500]!r}")
    status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if head_request:
        return status, headers, body
    if "content-length" in headers:
        n = int(headers["content-length"])
        if len(body) < n:
            raise AssertionError(f"body shorter than Content-Length {n}: "
                                 f"{raw[:500]!r}")
        body = body[:n]
    return status, headers, body


def raw_http(port, data, timeout=10):
    """Sends data (bytes, a whole request ending in Connection: close) over
    a fresh socket and returns (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        status, headers, body = parse_response(
            recv_all(s, timeout), head_request=data.startswith(b"HEAD "))
    if is_kontaktd("127.0.0.1", port):
        openapi_check.observe_raw(data, status, headers, body)
    return status, headers, body


def http_request(port, method, target, headers=None, body=b"", timeout=10):
    """One request with the request-target sent exactly as given (no
    normalisation, unlike requests)."""
    hdrs = {"Host": f"127.0.0.1:{port}", "Connection": "close"}
    hdrs.update(headers or {})
    if body:
        hdrs.setdefault("Content-Length", str(len(body)))
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
    return raw_http(port, head.encode("latin-1") + body, timeout)


def json_body(body):
    return json.loads(body.decode("utf-8"))


def copy_tree(src, dst):
    shutil.copytree(src, dst, symlinks=True)
    return Path(dst)
