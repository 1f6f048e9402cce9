# SPDX-License-Identifier: MPL-2.0
"""Fixtures of the integration tests.

Environment:
  KTD_BUILDDIR    directory with the kontaktd and kontaktctl binaries
                  (default <repo>/_build)
  KTD_SANITIZER   1 when the binaries are an ASan+UBSan build: every run
                  writes its reports to a private directory, and any report
                  fails the test
  KTD_OPENAPI_COVERAGE
                  1: list at the end the documented responses that no test
                  received (every answer is checked against the OpenAPI
                  document: openapi_check.py)
"""

import contextlib
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import openapi_check  # noqa: E402
import smtp_server  # noqa: E402
import utils  # noqa: E402
from utils import (EXIT_OK, KONTAKTCTL, KONTAKTD, PgCluster,  # noqa: E402
                   RUN_ROOT, SANITIZER, SQL_DIR, WWW_ROOT, Daemon,
                   base_config, describe, free_port, merge_config,
                   render_config)

# Lines of a log shown for a failing test, at most.
LOG_TAIL_LINES = 300


def _sigterm_to_interrupt(signum, frame):
    # A run stopped with SIGTERM (a CI timeout, say) still tears its
    # fixtures down, so that no PostgreSQL or kontaktd is left behind.
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config):
    signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
    openapi_check.install(utils.is_kontaktd)


def pytest_sessionstart(session):
    missing = [str(p) for p in (KONTAKTD, KONTAKTCTL)
               if not os.access(p, os.X_OK)]
    if missing:
        pytest.exit(f"not built: {', '.join(missing)}; build first or set "
                    f"KTD_BUILDDIR to the build directory", returncode=4)
    # Read and check the OpenAPI document once, before the first test:
    # a broken document stops the run here rather than failing each test.
    try:
        openapi_check.document()
    except Exception as e:
        pytest.exit(f"{openapi_check.DOCUMENT}: {e}", returncode=4)
    if SANITIZER and b"__asan_init" not in KONTAKTD.read_bytes():
        pytest.exit(f"KTD_SANITIZER=1 but {KONTAKTD} is not an ASan build "
                    "(configure --enable-sanitizers)", returncode=4)
    if not utils.PG_CLUSTER.exists():
        pytest.exit(f"{utils.PG_CLUSTER} is missing", returncode=4)


def pytest_report_header(config):
    return [f"kontaktd: {KONTAKTD}",
            f"sanitizers: {'on' if SANITIZER else 'off'}"]


# --- logs of failing tests ------------------------------------------------

_LOGS = pytest.StashKey[list]()
_SHOWN = pytest.StashKey[bool]()


def _tail(text, n=LOG_TAIL_LINES):
    lines = text.splitlines()
    if len(lines) > n:
        lines = [f"[... {len(lines) - n} earlier lines ...]"] + lines[-n:]
    return "\n".join(lines)


@pytest.fixture(autouse=True)
def _ktd_logs(request):
    """Notes where each PostgreSQL log stands when a test starts, and
    collects the daemons the test starts; the report hook below shows their
    logs when the test fails."""
    sources = []
    for cluster in utils.CLUSTERS:
        sources.append((f"PostgreSQL log ({cluster.dir.name}, port "
                        f"{cluster.port})", cluster, cluster.log_size()))
    sources.append(("SMTP servers' protocol log (aiosmtpd)",
                    smtp_server.Trace(), 0))
    request.node.stash[_LOGS] = sources
    yield


def _register_cluster(request, cluster):
    sources = request.node.stash.get(_LOGS, None)
    if sources is not None:
        sources.append((f"PostgreSQL log ({cluster.dir.name}, port "
                        f"{cluster.port})", cluster, 0))


def _register_daemon(request, daemon):
    sources = request.node.stash.get(_LOGS, None)
    if sources is not None:
        sources.append((f"{daemon.name} log ({daemon.log_path})", daemon,
                        0))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        # A test that failed by itself: its answers that broke the
        # OpenAPI document are shown with the failure.
        problems = openapi_check.take()
        if problems:
            rep.sections.append(("OpenAPI check", "\n".join(problems)))
    if not rep.failed or item.stash.get(_SHOWN, False):
        return
    item.stash[_SHOWN] = True
    for title, source, start in item.stash.get(_LOGS, []):
        text = source.log_text(start) if isinstance(source, PgCluster) \
            else source.log(start)
        if text.strip():
            rep.sections.append((title, _tail(text)))


# --- the OpenAPI document -------------------------------------------------

@pytest.fixture(autouse=True)
def _openapi_checked():
    """Every answer from kontaktd's API is checked against the OpenAPI
    document (openapi_check). Answers received while the fixtures are set
    up and while the test runs fail the test (pytest_runtest_call below);
    those received while fixtures are torn down fail the teardown."""
    openapi_check.reset()
    yield
    problems = openapi_check.take()
    if problems:
        pytest.fail("answers that do not match src/api/openapi.json:\n" +
                    "\n".join(problems), pytrace=False)


def pytest_terminal_summary(terminalreporter):
    if os.environ.get("KTD_OPENAPI_COVERAGE", "") in ("", "0"):
        return
    unseen = openapi_check.document().unseen()
    terminalreporter.section(f"OpenAPI responses no test received "
                             f"({len(unseen)})")
    for line in unseen:
        terminalreporter.write_line(line)


@pytest.hookimpl(trylast=True)
def pytest_runtest_call(item):
    # Runs after the test function returned without failing.
    problems = openapi_check.take()
    if problems:
        pytest.fail("answers that do not match src/api/openapi.json:\n" +
                    "\n".join(problems), pytrace=False)


# --- PostgreSQL -----------------------------------------------------------

@pytest.fixture(scope="session")
def run_dir():
    """This session's directory under <repo>/.run/pytest (removed at the
    end unless KTD_KEEP_RUN=1)."""
    RUN_ROOT.mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix=f"s{os.getpid()}-", dir=RUN_ROOT))
    d.chmod(0o755)
    yield d
    utils.stop_all_clusters()
    if os.environ.get("KTD_KEEP_RUN", "") in ("", "0"):
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def pg(run_dir):
    """The session's PostgreSQL cluster, with a template database that has
    the schema of sql/ applied by kontaktctl (see create_db)."""
    cluster = PgCluster(run_dir / "pg")
    try:
        cluster.start()
        cluster.migrated_template = "ktd_template"
        cluster.create_db(cluster.migrated_template)
        cfg = run_dir / "template.conf"
        cfg.write_text(render_config(base_config(
            cluster, cluster.migrated_template, 1)))
        proc = utils.run(KONTAKTCTL, ["--config", cfg, "migrate"], run_dir)
        assert proc.returncode == 0, describe(proc)
        cluster.sql(f'ALTER DATABASE "{cluster.migrated_template}" '
                    "WITH IS_TEMPLATE true ALLOW_CONNECTIONS false")
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def create_db(request, pg):
    """create_db(migrated=False, cluster=pg) -> name of a new database,
    dropped when the test ends. migrated=True copies the template that has
    sql/ applied, which is faster than migrating as the schema grows."""
    made = []

    def create(migrated=False, cluster=None):
        cluster = cluster or pg
        template = "template0"
        if migrated:
            template = cluster.migrated_template
        name = cluster.create_db(cluster.new_db_name(request.node.name),
                                 template=template)
        made.append((cluster, name))
        return name
    yield create
    for cluster, name in made:
        if cluster.running():
            with contextlib.suppress(Exception):
                cluster.drop_db(name)


@pytest.fixture
def pg_factory(request, run_dir):
    """pg_factory() -> a dedicated, started PgCluster (for tests that stop
    and start PostgreSQL); stopped when the test ends."""
    made = []

    def make():
        cluster = PgCluster(run_dir / f"pg-{len(utils.CLUSTERS)}")
        made.append(cluster)
        cluster.start()
        _register_cluster(request, cluster)
        return cluster
    yield make
    for cluster in made:
        cluster.stop()
        shutil.rmtree(cluster.dir, ignore_errors=True)


# --- the programs ---------------------------------------------------------

@pytest.fixture
def ctl(tmp_path):
    """ctl(*args, config=None, timeout=60) -> CompletedProcess of
    kontaktctl [--config config] args."""
    def run(*args, config=None, timeout=60, input=None):
        argv = (["--config", config] if config else []) + list(args)
        return utils.run(KONTAKTCTL, argv, tmp_path, timeout=timeout,
                         input=input)
    return run


@pytest.fixture
def kontaktd_cmd(tmp_path):
    """kontaktd_cmd(*args, timeout=30) -> CompletedProcess of kontaktd
    args, for options that exit (--version, --check-config, ...)."""
    def run(*args, timeout=30):
        return utils.run(KONTAKTD, list(args), tmp_path, timeout=timeout)
    return run


@pytest.fixture
def kontaktd(request, pg, create_db, ctl, tmp_path):
    """kontaktd(**options) -> a started utils.Daemon.

    Options: db (a database name; default a new one), cluster (default the
    session's pg), migrate (run `kontaktctl migrate` first; default True),
    config ({section: {key: value}} overrides; None removes a key), sql_dir,
    www_root, wait (wait for /healthz; default True), allowed_errors
    (regexes of error/fatal log lines the test expects), env (variables
    added to the daemon's environment).

    At the end of the test every daemon still running gets SIGTERM and must
    exit 0, and no daemon's log may have an error or fatal line that its
    allowed_errors does not cover. A daemon the test waited for itself is
    not checked for its exit code.
    """
    daemons = []

    def start(*, db=None, cluster=None, migrate=True, config=None,
              sql_dir=SQL_DIR, www_root=WWW_ROOT, wait=True,
              allowed_errors=(), env=None):
        cluster = cluster or pg
        if db is None:
            db = create_db(cluster=cluster,
                           migrated=migrate and cluster is pg and
                           Path(sql_dir) == SQL_DIR)
        n = len(daemons) + 1
        name = "kontaktd" if n == 1 else f"kontaktd-{n}"
        port = free_port()
        cfg = merge_config(base_config(cluster, db, port, sql_dir,
                                       www_root), config)
        path = tmp_path / f"{name}.conf"
        path.write_text(render_config(cfg))
        if migrate:
            proc = ctl("migrate", config=path)
            assert proc.returncode == 0, describe(proc)
        d = Daemon(path, port, tmp_path, name, allowed_errors)
        d.extra_env = dict(env or {})
        d.db = db
        d.cluster = cluster
        d.settings = cfg
        daemons.append(d)
        _register_daemon(request, d)
        d.start()
        if wait:
            d.wait_ready()
        return d

    yield start

    problems = []
    for d in daemons:
        if d.proc is None:
            continue
        if d.running():
            try:
                rc = d.stop(timeout=30)
            except AssertionError as e:
                d.kill()
                problems.append(f"{d.name}: {e}")
                continue
            if rc != EXIT_OK:
                problems.append(f"{d.name} exited with {rc} on SIGTERM")
            elif not d.log_contains(r"event=stopped"):
                problems.append(f"{d.name} exited without event=stopped")
        elif not d.reaped:
            rc = d.proc.poll()
            try:
                d.wait(timeout=1)
            except AssertionError as e:
                problems.append(f"{d.name}: {e}")
            problems.append(f"{d.name} exited by itself during the test "
                            f"with {rc}")
        malformed = d.malformed_lines()
        if malformed:
            problems.append(f"{d.name} logged lines that are not logfmt:\n"
                            + "\n".join(malformed))
        errors = d.error_lines()
        if errors:
            problems.append(f"{d.name} logged unexpected errors:\n" +
                            "\n".join(errors))
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def write_config(tmp_path, pg):
    """write_config(overrides=None, name='k.conf', db='postgres', text=None)
    -> path of a config file for the session cluster (not started)."""
    def write(overrides=None, name="k.conf", db="postgres", text=None,
              port=None):
        path = tmp_path / name
        if text is None:
            text = render_config(merge_config(
                base_config(pg, db, port or free_port()), overrides))
        path.write_text(text)
        return path
    return write
