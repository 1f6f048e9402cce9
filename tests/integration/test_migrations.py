# SPDX-License-Identifier: MPL-2.0
"""Schema migrations: kontaktctl migrate and migrate status, checksums,
refusals, rollback of a failing file, concurrency, and how kontaktd treats
a database whose schema is not current.

Tests that change migration files work on a copy of sql/."""

import re
import subprocess

import pytest

from utils import (EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, KONTAKTCTL, SQL_DIR,
                   Sanitizer, describe, free_port, migration_files,
                   migration_version, sha256_hex)
from utils import base_config, render_config


class Env:
    """A database (empty unless said otherwise), a copy of sql/ and a config
    file naming both."""

    def __init__(self, pg, db, sql_dir, config, ctl):
        self.pg = pg
        self.db = db
        self.sql_dir = sql_dir
        self.config = config
        self._ctl = ctl

    def ctl(self, *args, timeout=60):
        return self._ctl(*args, config=self.config, timeout=timeout)

    def migrate(self):
        p = self.ctl("migrate")
        assert p.returncode == EXIT_OK, describe(p)
        return p

    def sql(self, query, params=None):
        return self.pg.sql(query, params, dbname=self.db)

    def exists(self, relation):
        return self.sql("SELECT to_regclass(%s) IS NOT NULL",
                        (relation,))[0][0]

    def recorded(self):
        return self.sql("SELECT version, name, checksum FROM "
                        "schema_migrations ORDER BY version")

    def files(self):
        return migration_files(self.sql_dir)

    def next_version(self):
        return max(migration_version(p) for p in self.files()) + 1

    def add(self, name_suffix, sql, version=None):
        """Adds a migration file; returns its path."""
        v = version or self.next_version()
        path = self.sql_dir / f"{v:03d}_{name_suffix}.sql"
        path.write_text(sql)
        return path


@pytest.fixture
def env(pg, create_db, ctl, tmp_path):
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    for p in migration_files():
        (sql_dir / p.name).write_bytes(p.read_bytes())
    db = create_db()
    config = tmp_path / "migrate.conf"
    config.write_text(render_config(base_config(pg, db, free_port(),
                                                sql_dir=sql_dir)))
    return Env(pg, db, sql_dir, config, ctl)


def applied_count(stdout):
    m = re.fullmatch(r"applied (\d+) migrations?; schema is current "
                     r"\(version (\d+)\)\n", stdout)
    assert m, f"unexpected output: {stdout!r}"
    return int(m.group(1)), int(m.group(2))


def test_sql_dir_has_migrations():
    files = migration_files()
    assert files, "sql/ has no NNN_name.sql file"
    assert all(re.fullmatch(r"\d{3,}_[a-z0-9_-]+\.sql", p.name)
               for p in files)


def test_migrate_is_idempotent(env):
    n = len(env.files())
    newest = max(migration_version(p) for p in env.files())
    p = env.migrate()
    assert applied_count(p.stdout) == (n, newest)
    p = env.migrate()
    assert applied_count(p.stdout) == (0, newest)
    assert p.stderr == ""
    assert len(env.recorded()) == n


def test_migrate_status(env):
    n = len(env.files())
    p = env.ctl("migrate", "status")
    assert p.returncode == EXIT_FAILURE, describe(p)
    assert p.stdout.startswith(f"schema pending: 0 applied, {n} pending; ")
    assert env.files()[0].name in p.stdout
    env.migrate()
    p = env.ctl("migrate", "status")
    assert p.returncode == EXIT_OK, describe(p)
    assert p.stdout == f"schema current: {n} applied, 0 pending\n"


def test_schema_migrations_rows(env):
    env.migrate()
    rows = env.sql("SELECT version, name, checksum, applied_at, applied_by "
                   "FROM schema_migrations ORDER BY version")
    files = env.files()
    assert [(r[0], r[1]) for r in rows] == \
        [(migration_version(p), p.name) for p in files]
    for row, path in zip(rows, files):
        assert re.fullmatch(r"[0-9a-f]{64}", row[2])
        assert row[2] == sha256_hex(path)
        assert row[3] is not None
        assert row[4] == "postgres"


def test_changed_migration_is_refused(env, kontaktd):
    env.migrate()
    first = env.files()[0]
    first.write_text(first.read_text() + "\n-- an edit after the fact\n")

    p = env.ctl("migrate")
    assert p.returncode == EXIT_FAILURE, describe(p)
    assert f"migration refused: {first.name} was changed after it was " \
        "applied" in p.stderr
    assert p.stdout == ""

    p = env.ctl("migrate", "status")
    assert p.returncode == EXIT_FAILURE, describe(p)
    assert p.stdout.startswith("schema changed: ")
    assert f"{first.name} was changed after it was applied" in p.stdout

    d = kontaktd(db=env.db, sql_dir=env.sql_dir, migrate=False, wait=False,
                 allowed_errors=[r"event=schema_mismatch"])
    assert d.wait(timeout=20) == EXIT_FAILURE
    line = d.wait_for_log(r"level=fatal event=schema_mismatch")
    assert first.name in line
    # The recorded checksum is still the original one.
    assert env.recorded()[0][2] == sha256_hex(SQL_DIR / first.name)


def test_unknown_applied_migration_is_refused(env, kontaktd):
    extra = env.add("later_release", "CREATE TABLE ktd_it_later (id int);")
    env.migrate()
    extra.unlink()  # an older kontaktd against a newer schema
    p = env.ctl("migrate", "status")
    assert p.returncode == EXIT_FAILURE
    assert p.stdout.startswith("schema unknown: ")
    assert extra.name in p.stdout
    p = env.ctl("migrate")
    assert p.returncode == EXIT_FAILURE
    assert extra.name in p.stderr
    d = kontaktd(db=env.db, sql_dir=env.sql_dir, migrate=False, wait=False,
                 allowed_errors=[r"event=schema_mismatch"])
    assert d.wait(timeout=20) == EXIT_FAILURE
    assert extra.name in d.wait_for_log(r"event=schema_mismatch")


def test_new_migration_is_applied(env):
    env.migrate()
    new = env.add("add_probe", "CREATE TABLE ktd_it_probe (id int);\n")
    p = env.ctl("migrate", "status")
    assert p.returncode == EXIT_FAILURE
    assert p.stdout.startswith("schema pending: ")
    assert new.name in p.stdout
    p = env.migrate()
    assert applied_count(p.stdout) == (1, migration_version(new))
    assert env.exists("ktd_it_probe")
    assert env.recorded()[-1][:2] == (migration_version(new), new.name)
    assert env.ctl("migrate", "status").returncode == EXIT_OK


def test_failing_migration_is_rolled_back(env):
    env.migrate()
    before = env.recorded()
    bad = env.add("broken",
                  "CREATE TABLE ktd_it_partial (id int);\n"
                  "INSERT INTO ktd_it_partial VALUES (1);\n"
                  "SELECT * FROM ktd_it_no_such_table;\n")
    p = env.ctl("migrate")
    assert p.returncode == EXIT_FAILURE, describe(p)
    assert bad.name in p.stderr
    assert "ktd_it_no_such_table" in p.stderr
    assert p.stdout == ""
    assert not env.exists("ktd_it_partial")
    assert env.recorded() == before
    # Fixing the file lets it through.
    bad.write_text("CREATE TABLE ktd_it_partial (id int);\n")
    assert applied_count(env.migrate().stdout)[0] == 1
    assert env.exists("ktd_it_partial")


def test_migration_and_its_record_commit_together(env):
    """The file's changes and its schema_migrations row are one
    transaction: when recording it fails (here the file took its own
    version number first), the file's changes are rolled back too."""
    env.migrate()
    v = env.next_version()
    clash = env.add("clash",
                    "CREATE TABLE ktd_it_atomic (id int);\n"
                    "INSERT INTO schema_migrations (version, name, checksum) "
                    f"VALUES ({v}, 'squatter', 'x');\n", version=v)
    p = env.ctl("migrate")
    assert p.returncode == EXIT_FAILURE, describe(p)
    assert clash.name in p.stderr
    assert not env.exists("ktd_it_atomic")
    assert v not in [r[0] for r in env.recorded()]


def test_failing_migration_in_a_fresh_database(env):
    """The files before the failing one are applied, each in its own
    transaction; the failing one leaves nothing behind."""
    bad = env.add("broken", "CREATE TABLE ktd_it_partial (id int);\n"
                            "THIS IS NOT SQL;\n")
    p = env.ctl("migrate")
    assert p.returncode == EXIT_FAILURE
    assert bad.name in p.stderr
    assert not env.exists("ktd_it_partial")
    assert [r[1] for r in env.recorded()] == \
        [f.name for f in env.files() if f != bad]


def test_unmigrated_database_refused_by_kontaktd(env, kontaktd):
    d = kontaktd(db=env.db, sql_dir=env.sql_dir, migrate=False, wait=False,
                 allowed_errors=[r"event=schema_not_current"])
    assert d.wait(timeout=20) == EXIT_FAILURE
    line = d.wait_for_log(r"level=fatal event=schema_not_current")
    assert "run 'kontaktctl migrate'" in line
    assert "auto_migrate" in line
    assert not d.log_contains(r"event=started")
    assert not env.exists("schema_migrations")


def test_auto_migrate(env, kontaktd):
    n = len(env.files())
    d = kontaktd(db=env.db, sql_dir=env.sql_dir, migrate=False,
                 config={"database": {"auto_migrate": True}})
    assert d.wait_for_log(r"event=migrated\b").endswith(f"applied={n}")
    r = d.get("/readyz")
    assert r.status_code == 200, r.text
    assert len(env.recorded()) == n
    assert env.ctl("migrate", "status").returncode == EXIT_OK


def test_auto_migrate_failure_stops_kontaktd(env, kontaktd):
    bad = env.add("broken", "SELECT * FROM ktd_it_no_such_table;\n")
    d = kontaktd(db=env.db, sql_dir=env.sql_dir, migrate=False, wait=False,
                 config={"database": {"auto_migrate": True}},
                 allowed_errors=[r"event=migrate_failed"])
    assert d.wait(timeout=20) == EXIT_FAILURE
    assert bad.name in d.wait_for_log(r"level=fatal event=migrate_failed")
    assert bad.name not in [r[1] for r in env.recorded()]


def test_concurrent_migrate(env, tmp_path):
    """Two kontaktctl migrate started together: both succeed, each file is
    applied once. The slow extra file keeps the first one busy while the
    second waits for the advisory lock."""
    n = len(env.files())
    env.add("slow", "SELECT pg_sleep(0.5);\n"
                    "CREATE TABLE ktd_it_once (id int);\n"
                    "INSERT INTO ktd_it_once VALUES (1);\n")
    procs = []
    for _ in range(2):
        san = Sanitizer(tmp_path)
        procs.append((san, subprocess.Popen(
            [str(KONTAKTCTL), "--config", str(env.config), "migrate"],
            env=san.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)))
    counts = []
    for san, proc in procs:
        out, err = proc.communicate(timeout=60)
        san.check("kontaktctl migrate", err)
        assert proc.returncode == EXIT_OK, f"{out}\n{err}"
        counts.append(applied_count(out)[0])
    assert sorted(counts) == [0, n + 1]
    assert env.sql("SELECT count(*) FROM ktd_it_once")[0][0] == 1
    versions = [r[0] for r in env.recorded()]
    assert versions == sorted(set(versions)) and len(versions) == n + 1


@pytest.mark.parametrize("name,reason", [
    ("1_x.sql", "must be named NNN_name.sql"),
    ("002_Upper.sql", "must be named NNN_name.sql"),
    ("003_.sql", "must be named NNN_name.sql"),
    ("abc_x.sql", "must be named NNN_name.sql"),
    ("0001_again.sql", "have the same version 1"),
])
def test_bad_migration_file_name(env, kontaktd_cmd, kontaktd, name, reason):
    (env.sql_dir / name).write_text("SELECT 1;\n")
    p = env.ctl("migrate")
    assert p.returncode == EXIT_CONFIG, describe(p)
    assert name in p.stderr
    assert reason in p.stderr
    assert not env.exists("schema_migrations")
    p = kontaktd_cmd("--config", env.config, "--check-config")
    assert p.returncode == 1, describe(p)
    assert name in p.stderr and reason in p.stderr
    d = kontaktd(db=env.db, sql_dir=env.sql_dir, migrate=False, wait=False,
                 allowed_errors=[r"event=config_error"])
    assert d.wait(timeout=20) == EXIT_CONFIG
    assert name in d.wait_for_log(r"level=fatal event=config_error")


def test_files_not_ending_in_sql_are_ignored(env):
    (env.sql_dir / "README").write_text("notes\n")
    (env.sql_dir / "001_base.sql~").write_text("garbage\n")
    env.migrate()
    assert len(env.recorded()) == len(env.files())


def test_006_fills_contact_search(env):
    """006 fills cases.contact_search from the contacts there already, so
    the search filter of the case list lets their cases through."""
    later = {p: p.read_bytes() for p in env.files()
             if migration_version(p) >= 6}
    for p in later:
        p.unlink()
    env.migrate()
    env.sql("INSERT INTO cases (reference, subject) VALUES"
            " ('2026-000001', 'Affald'), ('2026-000002', 'Pas')")
    env.sql("INSERT INTO contacts (case_id, channel, direction, body)"
            " SELECT id, 'note', 'internal', 'Storskrald på fortovet'"
            " FROM cases WHERE reference = '2026-000001'")
    before = env.sql("SELECT reference, updated_at FROM cases"
                     " ORDER BY reference")
    for p, text in later.items():
        p.write_bytes(text)
    env.migrate()
    assert env.sql("SELECT reference, contact_search::text FROM cases"
                   " ORDER BY reference") == [
        ("2026-000001", "'fortov' 'storskrald'"), ("2026-000002", "")]
    # Filling the column is not a change of the cases.
    assert env.sql("SELECT reference, updated_at FROM cases"
                   " ORDER BY reference") == before
    assert env.sql("SELECT reference FROM cases WHERE contact_search @@"
                   " ktd_case_search_filter('storskraldet')") == [
        ("2026-000001",)]


def test_011_backfills_channel(env):
    """011 gives each case the channel of its earliest contact, without
    touching updated_at; a case without contacts keeps none."""
    later = {p: p.read_bytes() for p in env.files()
             if migration_version(p) >= 11}
    for p in later:
        p.unlink()
    env.migrate()
    env.sql("INSERT INTO cases (reference, subject) VALUES"
            " ('2026-000001', 'Affald'), ('2026-000002', 'Pas'),"
            " ('2026-000003', 'Tom')")
    env.sql("INSERT INTO contacts (case_id, channel, direction, occurred_at)"
            " SELECT id, ch, 'in', at::timestamptz FROM cases,"
            " (VALUES ('email', '2026-01-02T00:00:00Z'),"
            "  ('phone', '2026-01-01T00:00:00Z')) v (ch, at)"
            " WHERE reference = '2026-000001'")
    env.sql("INSERT INTO contacts (case_id, channel, direction)"
            " SELECT id, 'digital_post', 'in' FROM cases"
            " WHERE reference = '2026-000002'")
    before = env.sql("SELECT reference, updated_at FROM cases"
                     " ORDER BY reference")
    for p, text in later.items():
        p.write_bytes(text)
    env.migrate()
    assert env.sql("SELECT reference, channel FROM cases"
                   " ORDER BY reference") == [
        ("2026-000001", "phone"), ("2026-000002", "digital_post"),
        ("2026-000003", None)]
    assert env.sql("SELECT reference, updated_at FROM cases"
                   " ORDER BY reference") == before
