# SPDX-License-Identifier: MPL-2.0
"""kontaktctl directory import|export and seed-demo: the directory as CSV
(UTF-8, RFC 4180), imported in one transaction with every bad row reported,
and the idempotent demo seed."""

import re

import pytest

from utils import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, describe

HEADER = ("name,parent,queue_number,hunt_group_number,ivr_choice,email,"
          "phone_hours,handled_by_centre,phase,active")

# Children before their parents, Danish letters, quoted fields with commas,
# doubled quotes and a line break, CRLF line ends, blank lines.
GOOD_CSV = (
    HEADER + "\r\n"
    "Pladsanvisning,Borgerservice,,7111,11,pladsanvisning@kommune.example,"
    "mon-thu 09:00-14:00; fri 09:00-12:00,yes,1,yes\r\n"
    "Borgerservice,,7100,,1,borgerservice@kommune.example,"
    "\"mon-wed 10:00-15:00; thu 10:00-17:30; fri 10:00-13:00\",yes,1,yes\r\n"
    "\r\n"
    "\u00d8konomisk team (pension og ydelser),,,7400,4,"
    "pension@kommune.example,"
    "\"mon-wed 09:00-12:00,13:00-15:00; thu 09:00-17:00\",yes,2,yes\r\n"
    "\"B\u00f8rne- og familieafdelingen, administration\",,,7600,,"
    "boern@kommune.example,,no,,yes\r\n"
    "\"Sk\u00e6rg\u00e5rden \"\"Vest\"\"\",\"B\u00f8rne- og "
    "familieafdelingen, administration\",+4512345678,,*9#,,"
    "\"sat-sun\n10:00-12:00\",no,,no\r\n"
)
NAMES = {"Pladsanvisning", "Borgerservice",
         "\u00d8konomisk team (pension og ydelser)",
         "B\u00f8rne- og familieafdelingen, administration",
         "Sk\u00e6rg\u00e5rden \"Vest\""}


@pytest.fixture
def db(pg, create_db, write_config):
    name = create_db(migrated=True)
    cfg = write_config(db=name)

    def sql(query, params=None):
        return pg.sql(query, params, dbname=name)
    return cfg, sql


def departments(sql):
    """name -> (parent name, queue, hunt, ivr, email, hours, centre, phase,
    active, updated_at)."""
    rows = sql("SELECT d.name, p.name, d.queue_number, d.hunt_group_number, "
               "d.ivr_choice, d.email, d.phone_hours, d.handled_by_centre, "
               "d.phase, d.active, d.updated_at FROM departments d "
               "LEFT JOIN departments p ON p.id = d.parent_id")
    return {r[0]: r[1:] for r in rows}


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_import_then_export_round_trip(ctl, db, tmp_path):
    cfg, sql = db
    src = write(tmp_path, "in.csv", GOOD_CSV)
    p = ctl("directory", "import", src, config=cfg)
    assert p.returncode == EXIT_OK, describe(p)
    assert p.stdout == (f"directory imported from {src}: 5 added, "
                        "0 changed, 0 unchanged\n")
    d = departments(sql)
    assert set(d) == NAMES
    assert d["Pladsanvisning"][0] == "Borgerservice"
    assert d["Borgerservice"][1:4] == ("7100", None, "1")
    assert d["Borgerservice"][5] == {
        "mon": [["10:00", "15:00"]], "tue": [["10:00", "15:00"]],
        "wed": [["10:00", "15:00"]], "thu": [["10:00", "17:30"]],
        "fri": [["10:00", "13:00"]]}
    vest = d["Sk\u00e6rg\u00e5rden \"Vest\""]
    assert vest[0] == "B\u00f8rne- og familieafdelingen, administration"
    assert vest[1:4] == ("+4512345678", None, "*9#")
    assert vest[5] == {"sat": [["10:00", "12:00"]],
                       "sun": [["10:00", "12:00"]]}
    assert vest[6:9] == (False, None, False)
    assert d["\u00d8konomisk team (pension og ydelser)"][6:8] == (True, 2)

    out = tmp_path / "out.csv"
    p = ctl("directory", "export", out, config=cfg)
    assert p.returncode == EXIT_OK, describe(p)
    assert p.stdout == f"directory exported to {out}\n"
    text = out.read_bytes().decode("utf-8")  # valid UTF-8
    assert text.startswith(HEADER + "\r\n")
    assert "\u00e6" in text and "\u00f8" in text and "\u00e5" in text
    assert "\"Sk\u00e6rg\u00e5rden \"\"Vest\"\"\"" in text
    assert ("mon-wed 10:00-15:00; thu 10:00-17:30; fri 10:00-13:00"
            in text)
    assert "\"mon-wed 09:00-12:00,13:00-15:00; thu 09:00-17:00\"" in text
    assert "sat-sun 10:00-12:00" in text

    # Importing the export changes nothing, not even updated_at.
    before = departments(sql)
    p = ctl("directory", "import", out, config=cfg)
    assert p.returncode == EXIT_OK, describe(p)
    assert "0 added, 0 changed, 5 unchanged" in p.stdout
    assert departments(sql) == before
    out2 = tmp_path / "out2.csv"
    assert ctl("directory", "export", out2,
               config=cfg).returncode == EXIT_OK
    assert out2.read_bytes() == out.read_bytes()


def test_export_to_stdout_and_import_from_stdin(ctl, db, tmp_path):
    cfg, sql = db
    p = ctl("directory", "import", "-", config=cfg, input=GOOD_CSV)
    assert p.returncode == EXIT_OK, describe(p)
    assert "from stdin: 5 added" in p.stdout
    p = ctl("directory", "export", "-", config=cfg)
    assert p.returncode == EXIT_OK, describe(p)
    assert p.stderr == ""
    # Text mode turned CRLF into \n: the header and 5 records.
    assert p.stdout.count("\n") == 6
    p2 = ctl("directory", "import", "-", config=cfg, input=p.stdout)
    assert "0 added, 0 changed, 5 unchanged" in p2.stdout


def test_empty_directory_exports_the_header(ctl, db):
    cfg, sql = db
    p = ctl("directory", "export", "-", config=cfg)
    assert (p.returncode, p.stdout) == (EXIT_OK, HEADER + "\n")


def test_import_updates_by_name_regardless_of_case(ctl, db, tmp_path):
    cfg, sql = db
    assert ctl("directory", "import", write(tmp_path, "a.csv", GOOD_CSV),
               config=cfg).returncode == EXIT_OK
    before = departments(sql)
    changed = (HEADER + "\n"
               "BORGERSERVICE,,7199,,1,borgerservice@kommune.example,"
               "mon-wed 10:00-15:00; thu 10:00-17:30; fri 10:00-13:00,"
               "yes,1,yes\n"
               "Pladsanvisning,,,7111,11,pladsanvisning@kommune.example,"
               "mon-thu 09:00-14:00; fri 09:00-12:00,yes,1,yes\n"
               "Ny afdeling,\u00f8konomisk team (pension og ydelser),,,,,,"
               "no,,yes\n")
    p = ctl("directory", "import", write(tmp_path, "b.csv", changed),
            config=cfg)
    assert p.returncode == EXIT_OK, describe(p)
    assert "1 added, 2 changed, 0 unchanged" in p.stdout
    d = departments(sql)
    assert "Borgerservice" not in d  # renamed: the case changed
    assert d["BORGERSERVICE"][1] == "7199"
    assert d["Pladsanvisning"][0] is None  # moved to the top
    assert d["Ny afdeling"][0] == "\u00d8konomisk team (pension og ydelser)"
    # Departments not in the file are left alone.
    for name in ("\u00d8konomisk team (pension og ydelser)",
                 "Sk\u00e6rg\u00e5rden \"Vest\""):
        assert d[name] == before[name]
    assert d["BORGERSERVICE"][9] > before["Borgerservice"][9]


BAD_CSV = (
    HEADER + "\n"
    "Borgerservice,,7100,,1,borgerservice@kommune.example,,yes,1,yes\n"  # 2
    ",,,,,,,no,,yes\n"                                                   # 3
    "Affald,Findes ikke,12a,,,x@y,mon 08:00-15:00,yes,,yes\n"            # 4
    "Skadedyr,,,,,,\"mon 15:00-08:00\",maybe,4,yes\n"                    # 5
    "too,few\n"                                                          # 6
    "\"bad \"quote,,,,,,,no,,yes\n"                                      # 7
    "borgerservice,,,,,,,no,,yes\n"                                      # 8
    "A,B,,,,,,no,,yes\n"                                                 # 9
    "B,A,,,,,,no,,yes\n"                                                 # 10
)


def test_bad_rows_are_all_reported_and_nothing_imported(ctl, db, tmp_path):
    cfg, sql = db
    src = write(tmp_path, "bad.csv", BAD_CSV)
    p = ctl("directory", "import", src, config=cfg)
    assert p.returncode == EXIT_FAILURE, describe(p)
    assert p.stdout == ""
    lines = p.stderr.splitlines()
    expected = [
        (3, "name: required"),
        (4, "queue_number: '12a' is not a number"),
        (4, "email: 'x@y' is not an e-mail address"),
        (4, "phase: required (1, 2 or 3) when handled_by_centre is yes"),
        (4, "parent: no department named 'Findes ikke'"),
        (5, "phone_hours: 15:00-08:00 ends before it starts"),
        (5, "handled_by_centre: 'maybe' is not yes or no"),
        (5, "phase: '4' is not 1, 2 or 3"),
        (6, "2 fields, expected 10"),
        (7, "text after a closing quote"),
        (8, "name: 'borgerservice' is on line 2 already"),
        (9, "parent: 'B' is below 'A'"),
        (10, "parent: 'A' is below 'B'"),
    ]
    for line, text in expected:
        prefix = f"{src}:{line}: {text}"
        assert any(x.startswith(prefix) for x in lines), \
            f"{prefix!r} not in:\n{p.stderr}"
    # Sorted by line, and nothing about the good row.
    numbers = [int(m.group(1)) for m in
               (re.match(rf"{re.escape(str(src))}:(\d+): ", x)
                for x in lines) if m]
    assert numbers == sorted(numbers)
    assert 2 not in numbers
    assert lines[-1] == (f"kontaktctl: {src}: {len(expected)} problems; "
                         "nothing imported")
    assert sql("SELECT count(*) FROM departments")[0][0] == 0


def test_a_bad_row_rolls_back_the_good_ones(ctl, db, tmp_path):
    cfg, sql = db
    assert ctl("directory", "import", write(tmp_path, "a.csv", GOOD_CSV),
               config=cfg).returncode == EXIT_OK
    before = departments(sql)
    text = (HEADER + "\n"
            "Borgerservice,,7999,,1,,,yes,1,yes\n"
            "Helt ny,,,,,,,no,,yes\n"
            "Affald,,,,,,mon 25:00-26:00,no,,yes\n")
    src = write(tmp_path, "b.csv", text)
    p = ctl("directory", "import", src, config=cfg)
    assert p.returncode == EXIT_FAILURE
    assert f"{src}:4: phone_hours: expected a time" in p.stderr
    assert departments(sql) == before


def test_cycle_with_the_directory_is_refused(ctl, db, tmp_path):
    cfg, sql = db
    assert ctl("directory", "import", write(tmp_path, "a.csv", GOOD_CSV),
               config=cfg).returncode == EXIT_OK
    # Pladsanvisning is below Borgerservice in the directory.
    text = (HEADER + "\n"
            "Borgerservice,pladsanvisning,7100,,1,"
            "borgerservice@kommune.example,,yes,1,yes\n")
    src = write(tmp_path, "b.csv", text)
    p = ctl("directory", "import", src, config=cfg)
    assert p.returncode == EXIT_FAILURE
    assert f"{src}:2: parent: 'pladsanvisning' is below 'Borgerservice'" \
        in p.stderr
    # Swapping the two in one file is fine: only the result counts.
    text = (HEADER + "\n"
            "Borgerservice,Pladsanvisning,7100,,1,,,yes,1,yes\n"
            "Pladsanvisning,,,7111,11,,,yes,1,yes\n")
    p = ctl("directory", "import", write(tmp_path, "c.csv", text),
            config=cfg)
    assert p.returncode == EXIT_OK, describe(p)
    d = departments(sql)
    assert d["Borgerservice"][0] == "Pladsanvisning"
    assert d["Pladsanvisning"][0] is None


def test_errors_are_capped(ctl, db, tmp_path):
    cfg, sql = db
    rows = "".join(f"Afdeling {i},,x{i},,,,,no,,yes\n" for i in range(80))
    src = write(tmp_path, "many.csv", HEADER + "\n" + rows)
    p = ctl("directory", "import", src, config=cfg)
    assert p.returncode == EXIT_FAILURE
    lines = p.stderr.splitlines()
    assert len([x for x in lines if re.match(rf"{re.escape(str(src))}:\d+: "
                                             "queue_number", x)]) == 50
    assert f"{src}: ... and 30 more problems" in lines
    assert lines[-1] == f"kontaktctl: {src}: 80 problems; nothing imported"


def test_bad_utf8_and_bom(ctl, db, tmp_path):
    cfg, sql = db
    path = tmp_path / "latin1.csv"
    path.write_bytes(("\ufeff" + HEADER + "\n").encode() +
                     "\u00d8konomi,,,,,,,no,,yes\n".encode("latin-1") +
                     "Affald,,,,,,,no,,yes\n".encode())
    p = ctl("directory", "import", path, config=cfg)
    assert p.returncode == EXIT_FAILURE
    assert f"{path}:2: field 1: not valid UTF-8" in p.stderr
    assert sql("SELECT count(*) FROM departments")[0][0] == 0
    # The same file in UTF-8, with its byte order mark, is fine.
    path.write_bytes(("\ufeff" + HEADER + "\n\u00d8konomi,,,,,,,no,,yes\n")
                     .encode())
    p = ctl("directory", "import", path, config=cfg)
    assert p.returncode == EXIT_OK, describe(p)
    assert set(departments(sql)) == {"\u00d8konomi"}


@pytest.mark.parametrize("text, message", [
    ("", "1: no header"),
    ("name,parent\nA,\n", "1: column 'queue_number' missing"),
    (HEADER + ",colour\n", "1: unknown column 'colour'"),
])
def test_bad_header(ctl, db, tmp_path, text, message):
    cfg, sql = db
    src = write(tmp_path, "h.csv", text)
    p = ctl("directory", "import", src, config=cfg)
    assert p.returncode == EXIT_FAILURE
    assert f"{src}:{message}" in p.stderr


def test_missing_file_exits_1(ctl, db, tmp_path):
    cfg, sql = db
    p = ctl("directory", "import", tmp_path / "nope.csv", config=cfg)
    assert p.returncode == EXIT_FAILURE
    assert "cannot open" in p.stderr and "nope.csv" in p.stderr
    p = ctl("directory", "export", tmp_path / "no" / "such" / "dir.csv",
            config=cfg)
    assert p.returncode == EXIT_FAILURE
    assert "cannot create" in p.stderr


@pytest.mark.parametrize("args, message", [
    (["directory"], "import or export is missing"),
    (["directory", "frob"], "unknown command 'frob'"),
    (["directory", "import"], "FILE is missing"),
    (["directory", "export"], "FILE is missing"),
    (["directory", "import", "a.csv", "b.csv"], "unexpected argument"),
    (["directory", "export", "a.csv", "b.csv"], "unexpected argument"),
])
def test_directory_usage_errors_exit_64(ctl, db, args, message):
    cfg, sql = db
    p = ctl(*args, config=cfg)
    assert p.returncode == EXIT_USAGE, describe(p)
    assert message in p.stderr


def test_schema_checks(db):
    """What the database refuses on its own."""
    import psycopg
    cfg, sql = db
    sql("INSERT INTO departments (name) VALUES ('A')")
    for query in (
            "INSERT INTO departments (name) VALUES ('a')",
            "INSERT INTO departments (name) VALUES (' B')",
            "INSERT INTO departments (name, phase) VALUES ('B', 1)",
            "INSERT INTO departments (name, handled_by_centre) "
            "VALUES ('B', true)",
            "INSERT INTO departments (name, phone_hours) "
            "VALUES ('B', '[]')",
            "INSERT INTO departments (name, phone_hours) "
            "VALUES ('B', '{\"monday\": []}')",
            "INSERT INTO departments (name, queue_number) "
            "VALUES ('B', '12a')",
            "INSERT INTO departments (name, email) VALUES ('B', 'x@y')",
            "UPDATE departments SET parent_id = id"):
        with pytest.raises((psycopg.errors.CheckViolation,
                            psycopg.errors.UniqueViolation)):
            sql(query)
    sql("INSERT INTO departments (name, parent_id) "
        "SELECT 'B', id FROM departments WHERE name = 'A'")
    with pytest.raises(psycopg.errors.CheckViolation):
        sql("UPDATE departments SET parent_id = "
            "(SELECT id FROM departments WHERE name = 'B') "
            "WHERE name = 'A'")


# --- seed-demo ------------------------------------------------------------

def test_seed_demo_is_idempotent(ctl, db):
    cfg, sql = db
    p = ctl("seed-demo", config=cfg)
    assert p.returncode == EXIT_OK, describe(p)
    m = re.search(r"^admin password: (\S+)$", p.stdout, re.M)
    assert m, p.stdout
    password = m.group(1)
    assert len(password) >= 12
    assert "demo directory: 24 departments added, 0 present already" \
        in p.stdout

    d = departments(sql)
    phases = {name: v[7] for name, v in d.items()}
    for name in ("Borgerservice", "Byggesager", "Affald", "Skadedyr",
                 "Ejendomsskat", "Opkr\u00e6vning"):
        assert phases[name] == 1, name
    for name in ("\u00d8konomisk team (pension og ydelser)",
                 "Visitation og hj\u00e6lpemidler", "Hovedpostkassen"):
        assert phases[name] == 2, name
    assert phases["Jobcenter"] == 3
    for name in ("Tekniske omr\u00e5der (milj\u00f8 og byggesager)",
                 "B\u00f8rne- og familieafdelingen"):
        assert phases[name] is None and d[name][6] is False
    assert d["Pladsanvisning"][0] == "Borgerservice"
    assert all(v[4] is None or v[4].endswith("@kommune.example")
               for v in d.values())
    stored = sql("SELECT role, password_hash FROM users "
                 "WHERE login = 'admin'")
    assert stored[0][0] == "admin"
    assert stored[0][1].startswith("$argon2id$")

    p = ctl("seed-demo", config=cfg)
    assert p.returncode == EXIT_OK, describe(p)
    assert "demo directory: 0 departments added, 24 present already" \
        in p.stdout
    assert "user admin exists; its password is unchanged" in p.stdout
    assert "password:" not in p.stdout and password not in p.stdout
    assert departments(sql) == d
    assert sql("SELECT role, password_hash FROM users") == stored

    # The seed is a directory like any other: export and import agree.
    exported = ctl("directory", "export", "-", config=cfg).stdout
    p = ctl("directory", "import", "-", config=cfg, input=exported)
    assert "0 added, 0 changed, 24 unchanged" in p.stdout
    # ... and users can be placed in its departments.
    p = ctl("user", "add", "anna", "--role", "agent", "--department",
            "Borgerservice", config=cfg, input="et godt kodeord\n")
    assert p.returncode == EXIT_OK, describe(p)


def test_seed_demo_keeps_edited_departments(ctl, db):
    cfg, sql = db
    assert ctl("seed-demo", config=cfg).returncode == EXIT_OK
    sql("UPDATE departments SET queue_number = '9999' "
        "WHERE name = 'Jobcenter'")
    sql("DELETE FROM departments WHERE name = 'Hjemmeplejen'")
    p = ctl("seed-demo", config=cfg)
    assert "1 department added, 23 present already" in p.stdout
    assert sql("SELECT queue_number FROM departments "
               "WHERE name = 'Jobcenter'") == [("9999",)]


def test_seed_demo_admin_password_file(ctl, db, tmp_path):
    cfg, sql = db
    secret = "mit hemmelige admin-kodeord"
    pwfile = tmp_path / "admin-password"
    pwfile.write_text(secret + "\n")
    p = ctl("seed-demo", "--admin-password-file", pwfile, config=cfg)
    assert p.returncode == EXIT_OK, describe(p)
    assert secret not in p.stdout + p.stderr
    assert "password:" not in p.stdout
    assert f"user admin added (admin), password from {pwfile}" in p.stdout
    from test_ctl_users import password_matches
    stored = sql("SELECT password_hash FROM users")[0][0]
    assert password_matches(stored, secret)


def test_seed_demo_bad_password_file_changes_nothing(ctl, db, tmp_path):
    cfg, sql = db
    short = tmp_path / "short"
    short.write_text("kort\n")
    for args, message in (
            (["--admin-password-file", short], "shorter than 12"),
            (["--admin-password-file", tmp_path / "nope"], "cannot open")):
        p = ctl("seed-demo", *args, config=cfg)
        assert p.returncode == EXIT_FAILURE, describe(p)
        assert message in p.stderr
        assert sql("SELECT count(*) FROM departments")[0][0] == 0
        assert sql("SELECT count(*) FROM users")[0][0] == 0


@pytest.mark.parametrize("args, message", [
    (["seed-demo", "now"], "unexpected argument 'now'"),
    (["seed-demo", "--admin-password-file"], "needs a value"),
    (["seed-demo", "--frob"], "unknown option '--frob'"),
])
def test_seed_demo_usage_errors_exit_64(ctl, db, args, message):
    cfg, sql = db
    p = ctl(*args, config=cfg)
    assert p.returncode == EXIT_USAGE, describe(p)
    assert message in p.stderr
