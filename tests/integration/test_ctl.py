# SPDX-License-Identifier: MPL-2.0
"""kontaktctl's command line: options, usage errors and exit codes."""

from utils import (EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, free_port,
                   package_version)


def test_version(ctl):
    for opt in ("--version", "-V"):
        p = ctl(opt)
        assert p.returncode == EXIT_OK
        assert p.stdout == f"kontaktctl {package_version()}\n"
        assert p.stderr == ""


def test_help(ctl):
    for opt in ("--help", "-h"):
        p = ctl(opt)
        assert p.returncode == EXIT_OK
        assert p.stdout.startswith("Usage: kontaktctl")
        for word in ("migrate", "migrate status", "--config", "64", "78"):
            assert word in p.stdout, word


def test_no_command_exits_64(ctl):
    p = ctl()
    assert p.returncode == EXIT_USAGE
    assert "Usage: kontaktctl" in p.stderr


def test_unknown_command_exits_64(ctl, write_config):
    p = ctl("frobnicate", config=write_config())
    assert p.returncode == EXIT_USAGE
    assert "unknown command 'frobnicate'" in p.stderr
    assert p.stdout == ""


def test_unknown_option_exits_64(ctl):
    p = ctl("--frobnicate", "migrate")
    assert p.returncode == EXIT_USAGE
    assert "Usage: kontaktctl" in p.stderr


def test_extra_argument_exits_64(ctl, write_config):
    p = ctl("migrate", "status", "now", config=write_config())
    assert p.returncode == EXIT_USAGE
    assert "unexpected argument 'now'" in p.stderr


def test_missing_config_exits_78(ctl, tmp_path):
    missing = tmp_path / "nope.conf"
    p = ctl("migrate", config=missing)
    assert p.returncode == EXIT_CONFIG
    assert str(missing) in p.stderr
    assert "cannot open" in p.stderr


def test_bad_config_exits_78(ctl, tmp_path):
    cfg = tmp_path / "bad.conf"
    cfg.write_text("[database]\npool_size = lots\n")
    p = ctl("migrate", "status", config=cfg)
    assert p.returncode == EXIT_CONFIG
    assert f"{cfg}:2: [database] pool_size: bad value" in p.stderr


def test_missing_sql_dir_exits_78(ctl, write_config, tmp_path):
    cfg = write_config({"database": {"sql_dir": tmp_path / "no-sql"}})
    p = ctl("migrate", config=cfg)
    assert p.returncode == EXIT_CONFIG
    assert "sql_dir" in p.stderr and "no-sql" in p.stderr


def test_unreachable_database_exits_1(ctl, write_config):
    port = free_port()  # nothing listens there
    cfg = write_config({"database": {
        "conninfo": f"host=127.0.0.1 port={port} user=postgres dbname=x"}})
    for args in (("migrate",), ("migrate", "status")):
        p = ctl(*args, config=cfg, timeout=30)
        assert p.returncode == EXIT_FAILURE, p.stderr
        assert "cannot connect to the database" in p.stderr
        assert str(port) in p.stderr
