# SPDX-License-Identifier: MPL-2.0
"""The front end in a real browser: Debian's chromium, headless, driven by
playwright-core through browser.mjs (one run of node per check, which
prints its findings as JSON), against a real kontaktd and PostgreSQL."""

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from utils import WWW_ROOT, copy_tree, wait_until

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "browser.mjs"
NODE = shutil.which("node")

# The driver bounds each of its waits to 10 s and its whole run to 60 s.
DRIVER_TIMEOUT = 90


def browse(scenario, url, tmp_path, params=None, steps=None):
    """Runs `node browser.mjs scenario url` and returns its JSON result,
    with the exit code as result["exit"] and its stderr as
    result["stderr"]. A full-page screenshot goes to the test's tmp_path.

    params go to the driver as BROWSER_PARAMS (with shots_dir, the test's
    tmp_path/shots, for screenshots of the views, and sync_dir); steps
    ({name: function}) are what the test does when the driver asks for
    them (it writes sync_dir/NAME.req and waits for NAME.done)."""
    shot = tmp_path / f"{scenario}.png"
    shots = tmp_path / "shots"
    sync = tmp_path / f"sync-{scenario}"
    shots.mkdir(exist_ok=True)
    sync.mkdir(exist_ok=True)
    env = dict(os.environ, BROWSER_SCREENSHOT=str(shot),
               BROWSER_PARAMS=json.dumps(dict(params or {},
                                              shots_dir=str(shots),
                                              sync_dir=str(sync))))
    cmd = [NODE, str(DRIVER), scenario, url]
    proc = subprocess.Popen(cmd, cwd=HERE, env=env, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    outs = {}

    def collect():
        outs["out"], outs["err"] = proc.communicate()

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    deadline = time.monotonic() + DRIVER_TIMEOUT
    pending = dict(steps or {})
    while reader.is_alive() and time.monotonic() < deadline:
        for name in list(pending):
            if (sync / f"{name}.req").exists():
                pending.pop(name)()
                (sync / f"{name}.done").write_text("done")
        reader.join(0.05)
    if reader.is_alive():
        # SIGTERM first: playwright then closes the browser it started.
        proc.terminate()
        reader.join(10)
        if reader.is_alive():
            proc.kill()
            reader.join()
        pytest.fail(f"{' '.join(cmd)} did not finish within "
                    f"{DRIVER_TIMEOUT} s\n--- stdout ---\n{outs.get('out')}"
                    f"--- stderr ---\n{outs.get('err')}", pytrace=False)
    out, err = outs["out"], outs["err"]
    try:
        result = json.loads(out)
    except ValueError:
        pytest.fail(f"{' '.join(cmd)} printed no JSON (exit "
                    f"{proc.returncode})\n--- stdout ---\n{out}"
                    f"--- stderr ---\n{err}", pytrace=False)
    result["exit"] = proc.returncode
    result["stderr"] = err
    return result


def show(result):
    """The driver's result, for assertion messages."""
    return json.dumps(result, indent=1, ensure_ascii=False)


def assert_png(path):
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"


def assert_csp_header(csp):
    """The policy forbids inline scripts and foreign origins."""
    assert csp, "no Content-Security-Policy header"
    directives = {d.split()[0]: d.split()[1:]
                  for d in (p.strip() for p in csp.split(";")) if d}
    assert directives.get("default-src") == ["'self'"], csp
    script_src = directives.get("script-src", directives["default-src"])
    assert "'unsafe-inline'" not in script_src, csp
    assert "'unsafe-eval'" not in script_src, csp


def test_front_page_ready(kontaktd, tmp_path):
    d = kontaktd()
    r = d.get("/")
    assert r.status_code == 200
    csp = r.headers.get("Content-Security-Policy")
    assert_csp_header(csp)

    res = browse("smoke", d.url("/"), tmp_path)
    assert res["exit"] == 0 and res["problems"] == [], show(res)
    assert res["status"] == 200, show(res)
    assert res["headers"].get("content-security-policy") == csp
    assert res["state"] == "ready", show(res)
    assert res["text"] == "klar", show(res)
    assert res["console_errors"] == [], show(res)
    assert res["page_errors"] == [], show(res)
    assert res["csp_violations"] == [] and res["csp_console"] == [], \
        show(res)
    assert res["foreign_requests"] == [], show(res)
    # The page really loaded its script, which asked the server.
    assert d.url("/app.js") in res["requests"], show(res)
    assert d.url("/readyz") in res["requests"], show(res)
    assert_png(res["screenshot"])


def test_front_page_not_ready(kontaktd, pg_factory, create_db, tmp_path):
    cluster = pg_factory()
    db = create_db(cluster=cluster)
    d = kontaktd(cluster=cluster, db=db,
                 config={"database": {"connect_timeout": "2s",
                                      "acquire_timeout": "2s"}},
                 allowed_errors=[r"event=db_down\b"])
    cluster.stop()
    wait_until(lambda: d.get("/readyz", timeout=5).status_code == 503, 10,
               "/readyz to answer 503 with PostgreSQL stopped")

    res = browse("not_ready", d.url("/"), tmp_path)
    assert res["exit"] == 0 and res["problems"] == [], show(res)
    assert res["state"] == "not_ready", show(res)
    assert res["text"].startswith("ikke klar: "), show(res)
    assert res["csp_violations"] == [] and res["csp_console"] == [], \
        show(res)
    assert res["page_errors"] == [], show(res)
    assert res["foreign_requests"] == [], show(res)
    assert_png(res["screenshot"])


# A page with an inline script and an inline event handler, each of which
# would set <html data-marker>, and a same-origin script that shows that
# scripts as such do run.
INLINE_PAGE = """<!DOCTYPE html>
<html lang="da">
<head>
<meta charset="utf-8">
<title>CSP</title>
<script src="csp-probe.js"></script>
<script>document.documentElement.dataset.marker = 'inline';</script>
</head>
<body onload="document.documentElement.dataset.marker = 'onload'">
<p>CSP</p>
</body>
</html>
"""
PROBE_JS = "document.documentElement.dataset.external = 'ran';\n"


def test_csp_blocks_inline_script(kontaktd, tmp_path):
    www = copy_tree(WWW_ROOT, tmp_path / "www")
    (www / "csp-inline.html").write_text(INLINE_PAGE)
    (www / "csp-probe.js").write_text(PROBE_JS)
    d = kontaktd(www_root=www)

    res = browse("csp_inline", d.url("/csp-inline.html"), tmp_path)
    assert res["exit"] == 0 and res["problems"] == [], show(res)
    assert res["headers"].get("content-security-policy"), show(res)
    assert res["html_data"].get("external") == "ran", show(res)
    assert res["marker"] is None, show(res)
    directives = {v["directive"] for v in res["csp_violations"]}
    assert "script-src-elem" in directives, show(res)
    assert all(v["disposition"] == "enforce"
               for v in res["csp_violations"]), show(res)
    assert res["foreign_requests"] == [], show(res)

    # The smoke scenario on that page fails on the violation: a broken
    # policy in the front end does not go unnoticed.
    res = browse("smoke", d.url("/csp-inline.html"), tmp_path)
    assert res["exit"] == 1, show(res)
    assert res["csp_violations"] or res["csp_console"], show(res)


# --- the agent's front end -------------------------------------------------

from test_auth import PASSWORD, add_user, new_token  # noqa: E402
from test_cases import Client, sql  # noqa: E402

SMTP_FROM = "kontakt@rodovre.example"
XSS = "<img src=x onerror=alert(1)>"


def check_clean(res):
    """What every agent scenario must keep: the driver's own checks, no
    console or page error, no CSP violation, no foreign request, no
    dialog."""
    assert res["exit"] == 0 and res["problems"] == [], show(res)
    assert res["console_errors"] == [], show(res)
    assert res["page_errors"] == [], show(res)
    assert res["csp_violations"] == [] and res["csp_console"] == [], \
        show(res)
    assert res["foreign_requests"] == [], show(res)
    assert res["dialogs"] == [], show(res)
    assert res["state"] == "ready", show(res)
    assert_png(res["screenshot"])


@pytest.fixture
def centre(kontaktd, ctl):
    """A daemon with an agent (agnete), a CTI token and a department."""
    d = kontaktd(config={"smtp": {"from": SMTP_FROM}})
    add_user(ctl, d, "agnete", name="Agnete Agent")
    d.cti_token = new_token(ctl, d, "pbx", "cti:write")
    d.read_token = new_token(ctl, d, "reader", "read")
    d.dept = sql(d, "INSERT INTO departments (name, queue_number,"
                    " hunt_group_number, email, phone_hours) VALUES"
                    " ('Byggeri', '+4536371000', '+4536371001',"
                    " 'byg@rodovre.example', %s) RETURNING id",
                 ('{"mon": [["08:00", "15:00"]], "sat": [["10:00", "11:00"]]}',))[0][0]
    return d


def agent_params(d, **kw):
    return dict(login="agnete", password=PASSWORD, cti_token=d.cti_token,
                **kw)


def new_case(client, **kw):
    b = {"channel": "phone", "subject": "Spørgsmål om affald",
         "text": "Borgeren ringede om storskrald.",
         "citizen": {"name": "Åse Ørnsø", "phone": "+4512345678",
                     "email": "aase@example.org"}}
    b.update(kw)
    r = client.post("/api/v1/cases", json=b)
    assert r.status_code == 201, r.text
    return r.json()


def read(d, path):
    r = d.get(path, headers={"Authorization": f"Bearer {d.read_token}"})
    assert r.status_code == 200, r.text
    return r.json()


def test_agent_login(centre, tmp_path):
    d = centre
    agent = Client(d, "agnete")
    c = new_case(agent)
    for kw in ({"channel": "web", "subject": "Ansøgning om parkeringstilladelse",
                "citizen": {"name": "Bent Hansen",
                            "email": "bent@example.org"}},
               {"channel": "walk_in", "subject": "Nyt sundhedskort",
                "citizen": {"name": "Lise Nørgaard"}},
               {"subject": "Hvornår tømmes skraldespanden?",
                "citizen": {"phone": "+4520304050"}}):
        new_case(agent, **kw)
    mine = new_case(agent, channel="web", subject="Byggetilladelse til carport",
                    citizen={"name": "Ole Olsen", "email": "ole@example.org"})
    r = agent.s.patch(d.url(f"/api/v1/cases/{mine['id']}"),
                      json={"assignee_id": agent.user_id,
                            "department_id": d.dept,
                            "version": mine["version"]}, timeout=10)
    assert r.status_code == 200, r.text
    res = browse("login", d.url("/"), tmp_path, agent_params(d))
    check_clean(res)
    a = res["agent"]
    assert a["wrong_login_message"] == \
        "Forkert brugernavn eller adgangskode.", show(res)
    assert a["who"].startswith("Agnete Agent"), show(res)
    assert str(c["id"]) in a["rows"], show(res)
    assert a["nav"] == ["Indbakke", "Tilbagekald", "Telefonbog"], show(res)
    assert a["nav_en"] == ["Inbox", "Callbacks", "Directory"], show(res)
    assert "Byggeri" in a["departments"], show(res)
    assert a["departments_none"] == 0, show(res)
    assert a["departments_bygg"] == ["Byggeri"], show(res)
    assert a["after_reload_who"].startswith("Agnete Agent"), show(res)
    assert a["logout_message"] == "Du er logget ud.", show(res)
    assert a["live_after_logout"] is None, show(res)
    assert a["zoom_overflow"] <= 0, show(res)
    for view in ("inbox", "inbox-zoom200", "directory", "callbacks", "help"):
        assert_png(tmp_path / "shots" / f"{view}.png")


def test_agent_session_expiry(centre, tmp_path):
    d = centre
    new_case(Client(d, "agnete"))

    def expire():
        sql(d, "DELETE FROM sessions")

    res = browse("expiry", d.url("/"), tmp_path, agent_params(d),
                 {"expire": expire})
    check_clean(res)
    assert res["agent"]["message"] == \
        "Din session er udløbet. Log ind igen.", show(res)


def test_agent_screen_pop(centre, tmp_path):
    d = centre
    agent = Client(d, "agnete")
    old = new_case(agent, subject="Tidligere henvendelse")
    res = browse("screen_pop", d.url("/"), tmp_path,
                 agent_params(d, call_id="pop-1", phone="12345678"))
    check_clean(res)
    a = res["agent"]
    assert a["cti_status"] in (200, 201), show(res)
    assert a["pop_ms"] <= 1000, show(res)
    assert a["pop_number"] == "+4512345678", show(res)
    assert old["reference"] in a["pop_open_cases"], show(res)
    # the call's contact went to the caller's open case
    call_case = sql(d, "SELECT case_id FROM contacts"
                       " WHERE external_id = 'pop-1'")[0][0]
    assert a["case_id"] == call_case, show(res)
    assert a["pop_hidden"] is True, show(res)
    assert_png(tmp_path / "shots" / "screenpop.png")


def test_agent_resolve_first_contact(centre, tmp_path):
    d = centre
    c = new_case(Client(d, "agnete"))
    res = browse("resolve", d.url("/"), tmp_path,
                 agent_params(d, case_id=c["id"]))
    check_clean(res)
    a = res["agent"]
    assert a["default_resolution"] == "resolved_first_contact", show(res)
    assert a["status"] == "resolved", show(res)
    assert a["resolution"] == "Løst ved første kontakt", show(res)
    assert a["reopen_enabled"] is True, show(res)
    got = read(d, f"/api/v1/cases/{c['id']}")
    assert got["status"] == "resolved"
    assert got["resolution"] == "resolved_first_contact"


def test_agent_forward_with_method(centre, tmp_path):
    d = centre
    c = new_case(Client(d, "agnete"))
    res = browse("forward", d.url("/"), tmp_path,
                 agent_params(d, case_id=c["id"], department_id=d.dept))
    check_clean(res)
    a = res["agent"]
    assert a["methods"][:2] == ["queue", "hunt_group"], show(res)
    assert "email" in a["methods"] and "ivr" not in a["methods"], show(res)
    assert a["queue_target"] == "+4536371000", show(res)
    assert "man 08:00–15:00" in a["hours"], show(res)
    open_now = read(d, f"/api/v1/departments/{d.dept}")["open_now"]
    assert a["closed_warning"] is (not open_now), show(res)
    assert a["status"] == "forwarded", show(res)
    assert "+4536371000" in a["forward"], show(res)
    assert a["department"] == "Byggeri", show(res)
    fw = read(d, f"/api/v1/cases/{c['id']}/forwards")["items"]
    assert [(f["to_department_id"], f["method"], f["target"], f["reason"])
            for f in fw] == [(d.dept, "queue", "+4536371000", "Byggesag")]


def test_agent_reply_by_email(centre, tmp_path):
    d = centre
    c = new_case(Client(d, "agnete"), channel="web")
    text = "Tak for din henvendelse. Storskrald hentes tirsdag."
    res = browse("reply", d.url("/"), tmp_path,
                 agent_params(d, case_id=c["id"], reply_text=text))
    check_clean(res)
    a = res["agent"]
    assert a["delivery"] in ("queued", "sent"), show(res)
    assert a["reply_shown"] == text, show(res)
    rows = sql(d, "SELECT o.kind, ct.body FROM outbox o"
                  " JOIN contacts ct ON ct.id = o.contact_id"
                  " WHERE ct.case_id = %s", (c["id"],))
    assert rows == [("reply", text)], rows
    out = [ct for ct in read(d, f"/api/v1/cases/{c['id']}/contacts")["items"]
           if ct["channel"] == "outbound_email"]
    assert [(ct["to"], ct["delivery"]["status"]) for ct in out] == \
        [("aase@example.org", a["delivery"])], out


def test_agent_subject_is_text(centre, tmp_path):
    d = centre
    c = new_case(Client(d, "agnete"), subject=XSS, text=XSS + "<script>alert(2)</script>",
                 citizen={"name": XSS, "phone": "+4587654321"})
    res = browse("xss", d.url("/"), tmp_path,
                 agent_params(d, case_id=c["id"]))
    check_clean(res)
    a = res["agent"]
    assert a["inbox_subject"] == XSS, show(res)
    assert a["case_subject"] == XSS, show(res)
    assert XSS + "<script>alert(2)</script>" in a["contact_texts"], show(res)
    assert a["citizen"].startswith(XSS), show(res)
    assert a["img_count"] == 0 and a["script_count"] == 0, show(res)


def test_agent_reconnects_after_restart(centre, tmp_path):
    d = centre
    new_case(Client(d, "agnete"))

    def stop():
        assert d.stop(timeout=30) == 0

    def start():
        d.start()
        d.wait_ready()

    res = browse("reconnect", d.url("/"), tmp_path,
                 agent_params(d, call_id="after-restart", phone="23456789"),
                 {"stop": stop, "start": start})
    check_clean(res)
    a = res["agent"]
    assert a["banner"].startswith("Forbindelsen til serveren er tabt"), \
        show(res)
    assert a["cti_status"] in (200, 201), show(res)
    assert a["rows_after"] == a["rows_before"] + 1, show(res)
    assert a["session_kept"] is True, show(res)
    assert_png(tmp_path / "shots" / "offline.png")


def test_agent_keyboard_take_and_resolve(centre, tmp_path):
    d = centre
    c = new_case(Client(d, "agnete"))
    res = browse("keyboard", d.url("/"), tmp_path,
                 agent_params(d, case_id=c["id"]))
    check_clean(res)
    a = res["agent"]
    assert a["focused"] == c["reference"], show(res)
    assert a["assignee"] == "mig", show(res)
    assert a["dialog_focus"] == "submit", show(res)
    assert a["status"] == "resolved", show(res)
    assert a["inbox_status"] == "resolved", show(res)
    got = read(d, f"/api/v1/cases/{c['id']}")
    uid = sql(d, "SELECT id FROM users WHERE login = 'agnete'")[0][0]
    assert got["assignee_id"] == uid and got["status"] == "resolved"


def test_agent_note_conflict_reopen_merge_callback(centre, tmp_path):
    d = centre
    agent = Client(d, "agnete")
    keep = new_case(agent, channel="web", subject="Hovedsagen",
                    citizen={"email": "keep@example.org"})
    c = new_case(agent, channel="web", subject="Samme spørgsmål igen",
                 citizen={"email": "dup@example.org"})
    r = agent.post(f"/api/v1/cases/{keep['id']}/callbacks",
                   json={"number": "+4512121212", "message": "Ring om carport",
                         "due_at": "2026-01-01T08:00:00Z"})
    assert r.status_code == 201, r.text
    cb = r.json()

    def change():
        cur = agent.get(f"/api/v1/cases/{c['id']}").json()
        r = agent.s.patch(d.url(f"/api/v1/cases/{c['id']}"),
                          json={"category": "Byggeri",
                                "version": cur["version"]}, timeout=10)
        assert r.status_code == 200, r.text

    # 510 newer cases: the case kept is not among the newest 500, where
    # the merge dialog once looked; it asks for the reference now.
    sql(d, "INSERT INTO cases (reference, subject, created_at)"
           " SELECT '2019-' || lpad(g::text, 6, '0'), 'Nyere sag ' || g,"
           " now() + g * interval '1 ms' FROM generate_series(1, 510) g")
    res = browse("actions", d.url("/"), tmp_path,
                 agent_params(d, case_id=c["id"], note="Ringer tilbage i morgen",
                              into_reference=keep["reference"],
                              callback_id=cb["id"]),
                 {"change": change})
    check_clean(res)
    a = res["agent"]
    assert a["note"] == "Ringer tilbage i morgen", show(res)
    assert a["conflict_toast"].startswith("En anden har ændret sagen"), \
        show(res)
    assert a["dialog_open_after_conflict"] is False, show(res)
    assert a["category"] == "Byggeri", show(res)
    assert a["status_after_conflict"] != "resolved", show(res)
    assert a["reopened"] == "open", show(res)
    assert a["merged"] == f"→ #{keep['id']}", show(res)
    assert str(cb["id"]) in a["callbacks"], show(res)
    assert a["callback_toast"] == "Forsøget er registreret.", show(res)
    got = read(d, f"/api/v1/cases/{c['id']}")
    assert got["merged_into_id"] == keep["id"], got
    cbs = read(d, "/api/v1/callbacks?status=all")["items"]
    assert [(x["id"], x["status"]) for x in cbs] == [(cb["id"], "done")], cbs


def test_supervisor_sees_audit_trail(centre, ctl, tmp_path):
    d = centre
    add_user(ctl, d, "sofus", role="supervisor", name="Sofus Supervisor")
    c = new_case(Client(d, "agnete"))
    res = browse("audit", d.url("/"), tmp_path,
                 dict(agent_params(d, case_id=c["id"]), login="sofus"))
    check_clean(res)
    assert "create" in res["agent"]["audit_actions"], show(res)
    assert "read" in res["agent"]["audit_actions"], show(res)


def test_agent_inbox_paging_search_mine(centre, tmp_path):
    d = centre
    agent = Client(d, "agnete")
    for i in range(55):
        new_case(agent, subject=f"Henvendelse nr. {i}",
                 citizen={"phone": f"+45200000{i:02d}"})
    mine = new_case(agent, channel="web", subject="Byggetilladelse til carport",
                    citizen={"email": "ole@example.org"})
    r = agent.s.patch(d.url(f"/api/v1/cases/{mine['id']}"),
                      json={"assignee_id": agent.user_id,
                            "version": mine["version"]}, timeout=10)
    assert r.status_code == 200, r.text
    res = browse("paging", d.url("/"), tmp_path, agent_params(d))
    check_clean(res)
    a = res["agent"]
    assert a["first_page"] == 50 and a["more_visible"] is True, show(res)
    assert a["after_more"] == 56 and a["more_after"] is False, show(res)
    assert a["count_all"] == "(56)", show(res)
    assert a["count_email"] == "(0)", show(res)
    assert a["search"] == [str(mine["id"])], show(res)
    assert a["mine"] == [str(mine["id"])], show(res)
    assert a["email_rows"] == 0, show(res)


def test_agent_inbox_counts_channels_names_oldest_first(centre, ctl, tmp_path):
    """The inbox with the API's counts (not a page's), each row's channel
    and its assignee's name (not "bruger N"), oldest first across pages,
    and the assignee picker of a case."""
    d = centre
    add_user(ctl, d, "bodil", name="Bodil Bager")
    bodil = sql(d, "SELECT id FROM users WHERE login = 'bodil'")[0][0]
    agent = Client(d, "agnete")
    made = [new_case(agent, subject=f"Henvendelse nr. {i}",
                     citizen={"phone": f"+45400000{i:02d}"})
            for i in range(54)]
    web = new_case(agent, channel="web", subject="Skema fra hjemmesiden",
                   citizen={"email": "web@example.org"})
    mine = new_case(agent, channel="walk_in", subject="Kom forbi skranken",
                    citizen={"email": "skranke@example.org"})
    for c, uid in ((made[50], bodil), (mine, agent.user_id)):
        r = agent.s.patch(d.url(f"/api/v1/cases/{c['id']}"),
                          json={"assignee_id": uid,
                                "version": c["version"]}, timeout=10)
        assert r.status_code == 200, r.text
    res = browse("inbox_api", d.url("/"), tmp_path, agent_params(
        d, web_id=web["id"], colleague_case_id=made[50]["id"],
        oldest_id=made[0]["id"], case_id=made[2]["id"],
        colleague_id=bodil, colleague_name="Bodil Bager"))
    check_clean(res)
    a = res["agent"]
    assert a["counts"] == {"": "(56)", "phone": "(54)", "email": "(0)",
                           "digital_post": "(0)", "mine": "(1)"}, show(res)
    assert a["channels"][str(web["id"])] == "web", show(res)
    assert a["channels"][str(mine["id"])] == "walk_in", show(res)
    assert a["channels"][str(made[53]["id"])] == "phone", show(res)
    assert a["channel_text"] == "Web", show(res)
    assert a["colleague"] == "Bodil Bager", show(res)
    assert a["newest_first"] == [str(mine["id"]), str(web["id"])], show(res)
    assert a["oldest_first"] == [str(made[0]["id"]), str(made[1]["id"])], \
        show(res)
    assert a["oldest_page"] == 50 and a["oldest_all"] == 56, show(res)
    assert a["oldest_last"] == str(mine["id"]), show(res)
    assert a["case_channel"] == "Telefon", show(res)
    assert "Bodil Bager" in a["assign_options"], show(res)
    assert "Agnete Agent (mig)" in a["assign_options"], show(res)
    assert a["assigned"] == "Bodil Bager", show(res)
    assert "Bodil Bager" in a["assign_toast"], show(res)
    got = agent.get(f"/api/v1/cases/{made[2]['id']}").json()
    assert got["assignee_id"] == bodil, got


# --- live updates, the stream's reload, a colleague's answer ---------------

def test_agent_inbox_keeps_place_on_live_updates(centre, tmp_path):
    """Scrolled down with the focus on a row: a new case arrives at the top
    and the focused case changes, over the live stream; the focused row
    stays where it was on the screen and keeps the focus."""
    d = centre
    agent = Client(d, "agnete")
    made = [new_case(agent, subject=f"Henvendelse nr. {i}",
                     citizen={"phone": f"+45300000{i:02d}"})
            for i in range(45)]
    focus = made[10]  # the 35th row from the top: below the fold
    new = {}

    def live():
        new.update(new_case(agent, subject="Ny sag mens agenten læser"))
        cur = agent.get(f"/api/v1/cases/{focus['id']}").json()
        r = agent.s.patch(d.url(f"/api/v1/cases/{focus['id']}"),
                          json={"subject": "Ændret emne",
                                "version": cur["version"]}, timeout=10)
        assert r.status_code == 200, r.text

    # The new case's id is the next one; the driver waits for its row.
    next_id = made[-1]["id"] + 1
    res = browse("keep_place", d.url("/"), tmp_path,
                 agent_params(d, focus_id=focus["id"], new_id=next_id),
                 {"live": live})
    check_clean(res)
    assert new["id"] == next_id, new
    a = res["agent"]
    before, after = a["before"], a["after"]
    assert before["y"] > 0, show(res)
    assert before["focused"] == str(focus["id"]), show(res)
    assert after["focused"] == str(focus["id"]), show(res)
    assert after["rows"] == before["rows"] + 1, show(res)
    # the row under the eye did not move; the page scrolled by the new row
    assert abs(after["top"] - before["top"]) <= 1, show(res)
    assert after["y"] > before["y"], show(res)
    assert a["first_row"] == str(next_id) and a["new_fresh"] is True, \
        show(res)
    assert a["changed_subject"] == "Ændret emne", show(res)
    assert_png(tmp_path / "shots" / "inbox-live.png")


def test_agent_stream_reload(centre, tmp_path):
    """The stream's reload event (the events a reconnecting page missed
    are pruned) makes the page fetch its list again, without a page load
    and without errors."""
    d = centre
    c = new_case(Client(d, "agnete"), subject="Før genindlæsning")

    def stop():
        assert d.stop(timeout=30) == 0
        # behind the page's back: a change without an event, and the
        # events it might have missed pruned
        sql(d, "UPDATE cases SET subject = 'Efter genindlæsning'"
               " WHERE id = %s", (c["id"],))
        sql(d, "UPDATE live_events_pruned SET upto ="
               " (SELECT coalesce(max(id), 0) + 1 FROM live_events)")

    def start():
        d.start()
        d.wait_ready()

    res = browse("reload", d.url("/"), tmp_path,
                 agent_params(d, case_id=c["id"],
                              new_subject="Efter genindlæsning"),
                 {"stop": stop, "start": start})
    check_clean(res)
    a = res["agent"]
    assert a["subject_before"] == "Før genindlæsning", show(res)
    assert a["subject_after"] == "Efter genindlæsning", show(res)
    assert a["toast"].startswith("Listen er hentet igen"), show(res)
    assert a["same_page"] is True and a["session_kept"] is True, show(res)


def test_agent_screen_pop_colleague_answers(centre, tmp_path):
    """The pop of an offered call closes when a colleague answers it; a
    call the agent answers herself stays up, as answered."""
    d = centre
    res = browse("pop_colleague", d.url("/"), tmp_path,
                 agent_params(d, call_id="pop-colleague", own_call_id="pop-own",
                              phone="12345678", colleague="kurt"))
    check_clean(res)
    a = res["agent"]
    assert a["offered_status"] in (200, 201), show(res)
    assert a["pop_call"] == "pop-colleague", show(res)
    assert a["answered_status"] in (200, 201), show(res)
    assert a["pop_hidden"] is True, show(res)
    assert a["own_answered_status"] in (200, 201), show(res)
    assert a["own_pop_title"], show(res)


def test_agent_attachment_download(centre, tmp_path):
    """An attachment of a contact (as e-mail intake stores it) downloads
    from the case view under its own name, with its bytes."""
    d = centre
    c = new_case(Client(d, "agnete"), channel="web")
    name = "Tegning af carport æøå.txt"
    data = "Carporten er 3 × 6 m.\n"
    contact = sql(d, "SELECT id FROM contacts WHERE case_id = %s"
                     " ORDER BY id LIMIT 1", (c["id"],))[0][0]
    att = sql(d, "INSERT INTO attachments (contact_id, filename,"
                 " content_type, size, sha256, data) VALUES"
                 " (%s, %s, 'text/plain', length(convert_to(%s, 'UTF8')),"
                 " sha256(convert_to(%s, 'UTF8')), convert_to(%s, 'UTF8'))"
                 " RETURNING id", (contact, name, data, data, data))[0][0]
    res = browse("attachment", d.url("/"), tmp_path,
                 agent_params(d, case_id=c["id"]))
    check_clean(res)
    a = res["agent"]
    assert a["link_text"] == name and a["link_download"] == name, show(res)
    assert a["failure"] is None, show(res)
    assert a["suggested"] == name, show(res)
    assert a["content"] == data, show(res)
    assert a["url_path"] == f"/api/v1/cases/{c['id']}/attachments/{att}", \
        show(res)
