# SPDX-License-Identifier: MPL-2.0
"""What the inbox asks of the API besides the list: counts per channel and
status (capped), oldest first across pages, a case by its reference, the
channel that opened each case, and the assignee's name (and the active
users for choosing one)."""

import pytest
import requests

from test_auth import add_user, new_token
from test_cases import Client, body, new_department, seed_cases, sql


@pytest.fixture
def daemon(kontaktd, ctl):
    d = kontaktd()
    add_user(ctl, d, "agnete", name="Agnete Jensen")
    add_user(ctl, d, "sofus", role="supervisor")
    return d


@pytest.fixture
def agent(daemon):
    return Client(daemon, "agnete")


def add_contact(d, case_id, channel, direction="in", text="",
                at="now()"):
    sql(d, "INSERT INTO contacts (case_id, channel, direction, body,"
           f" occurred_at) VALUES (%s, %s, %s, %s, {at})",
        (case_id, channel, direction, text))


def nums(counts):
    """The counts as plain numbers ("N+" beyond the cap)."""
    def one(c):
        return f"{c['count']}+" if c["more"] else c["count"]
    return {
        "total": one(counts["total"]),
        "channels": {k: one(v) for k, v in counts["channels"].items()},
        "statuses": {k: one(v) for k, v in counts["statuses"].items()},
        "mine": None if counts["mine"] is None else one(counts["mine"]),
    }


# --- counts -----------------------------------------------------------------

def test_counts(daemon, agent):
    d = daemon
    dept = new_department(d, "Byggeri")
    a = agent.post("/api/v1/cases", json=body(
        subject="Min byggesag trækker ud", department_id=dept)).json()
    b = agent.post("/api/v1/cases", json=body(
        channel="web", subject="Parkeringslicens",
        text="Hvornår kommer min licens?")).json()
    c = agent.post("/api/v1/cases", json=body(
        channel="note", subject="Intern note")).json()
    # An e-mail later on the phone case: it counts under both channels,
    # as the list's channel filter finds it under both.
    add_contact(d, a["id"], "email", text="Og min byggesag igen")
    add_contact(d, b["id"], "outbound_email", direction="out")
    sql(d, "UPDATE cases SET status = 'open', assignee_id = %s"
           " WHERE id = %s", (agent.user_id, b["id"]))
    sql(d, "UPDATE cases SET created_at = '2025-06-01T12:00:00Z'"
           " WHERE id = %s", (c["id"],))

    def counts(**params):
        r = agent.get("/api/v1/cases/counts", params=params)
        assert r.status_code == 200, r.text
        assert r.json()["cap"] == 1000
        return nums(r.json())

    zero = {"phone": 0, "email": 0, "digital_post": 0, "web": 0,
            "walk_in": 0}
    assert counts() == {
        "total": 3,
        "channels": {**zero, "phone": 1, "email": 1, "web": 1},
        "statuses": {"new": 2, "open": 1, "forwarded": 0, "resolved": 0,
                     "closed": 0},
        "mine": 1}
    n = counts(status="open")
    assert n["total"] == 1 and n["mine"] == 1
    assert n["statuses"] == {"new": 0, "open": 1, "forwarded": 0,
                             "resolved": 0, "closed": 0}
    assert n["channels"] == {**zero, "web": 1}
    assert counts(department_id=dept)["channels"] == {
        **zero, "phone": 1, "email": 1}
    assert counts(assignee_id="me")["total"] == 1
    assert counts(assignee_id=agent.user_id)["total"] == 1
    assert counts(channel="email")["total"] == 1
    assert counts(channel="email")["channels"]["phone"] == 1
    assert counts(created_to="2026-01-01T00:00:00Z")["total"] == 1
    assert counts(created_from="2026-01-01T00:00:00Z")["total"] == 2
    # Full text, the case's fields or a contact's text.
    assert counts(q="byggesager")["channels"] == {
        **zero, "phone": 1, "email": 1}
    assert counts(reference=b["reference"])["total"] == 1
    assert counts(reference="2026-999999")["total"] == 0
    # Each count is what the list with the same filters gives.
    for params in ({}, {"channel": "web"}, {"status": "new"},
                   {"q": "licens"}, {"department_id": dept}):
        r = agent.get("/api/v1/cases", params={**params, "limit": 100})
        assert counts(**params)["total"] == len(r.json()["items"]), params
    # Counting reads nothing of a case: no audit rows.
    assert sql(d, "SELECT count(*) FROM audit_log"
                  " WHERE action = 'read'")[0][0] == 0


def test_counts_stop_at_the_cap(daemon, agent):
    d = daemon
    seed_cases(d, 1005)
    sql(d, "INSERT INTO contacts (case_id, channel, direction)"
           " SELECT id, CASE WHEN id % 100 = 0 THEN 'digital_post'"
           " ELSE 'phone' END, 'in' FROM cases")
    r = agent.get("/api/v1/cases/counts")
    assert r.status_code == 200, r.text
    n = r.json()
    # More than the cap: every count is of the newest 1,001 (ids 5 to
    # 1005), at least that many.
    assert n["total"] == {"count": 1000, "more": True}
    assert n["channels"]["phone"] == {"count": 991, "more": True}
    assert n["channels"]["digital_post"] == {"count": 10, "more": True}
    assert n["statuses"]["new"] == {"count": 1000, "more": True}
    assert n["mine"] == {"count": 0, "more": True}
    sql(d, "DELETE FROM contacts WHERE case_id IN"
           " (SELECT id FROM cases ORDER BY id LIMIT 5)")
    sql(d, "DELETE FROM cases WHERE id IN"
           " (SELECT id FROM cases ORDER BY id LIMIT 5)")
    # Exactly the cap: every count exact.
    n = agent.get("/api/v1/cases/counts").json()
    assert n["total"] == {"count": 1000, "more": False}
    assert n["channels"]["phone"] == {"count": 990, "more": False}
    assert n["channels"]["digital_post"] == {"count": 10, "more": False}
    assert n["mine"] == {"count": 0, "more": False}


@pytest.mark.parametrize("param,value", [
    ("status", "pending"), ("department_id", "x"), ("assignee_id", "you"),
    ("channel", "fax"), ("created_from", "yesterday"), ("q", "x" * 201),
    ("reference", "123"),
])
def test_counts_bad_params(daemon, agent, param, value):
    r = agent.get("/api/v1/cases/counts", params={param: value})
    assert r.status_code == 400, r.text
    assert f"'{param}'" in r.json()["error"]["message"]


def test_counts_authorisation(daemon, ctl):
    d = daemon
    reader = new_token(ctl, d, "reader", "read")
    cti = new_token(ctl, d, "phone", "cti:write")
    assert d.get("/api/v1/cases/counts").status_code == 401
    r = d.get("/api/v1/cases/counts",
              headers={"Authorization": f"Bearer {cti}"})
    assert r.status_code == 403
    r = d.get("/api/v1/cases/counts",
              headers={"Authorization": f"Bearer {reader}"})
    assert r.status_code == 200 and r.json()["mine"] is None
    r = d.get("/api/v1/cases/counts", params={"assignee_id": "me"},
              headers={"Authorization": f"Bearer {reader}"})
    assert r.status_code == 400 and "'assignee_id'" in r.text
    for login in ("agnete", "sofus"):
        r = Client(d, login).get("/api/v1/cases/counts")
        assert r.status_code == 200 and r.json()["mine"] is not None
    r = d.request("POST", "/api/v1/cases/counts", json={})
    assert r.status_code in (401, 405)


def test_counts_plan_stops_early(daemon, agent):
    """The shape of db_case_counts' window (the newest cap + 1 matching
    cases, by the list's index): PostgreSQL stops reading at cap + 1
    cases, whatever the table holds, and the per-channel counts probe the
    contacts of those cases only. (The route's own statement is a C
    string; this checks the premise its cost rests on.)"""
    d = daemon
    seed_cases(d, 3000)
    sql(d, "INSERT INTO contacts (case_id, channel, direction)"
           " SELECT id, 'phone', 'in' FROM cases")
    sql(d, "ANALYZE cases")
    sql(d, "ANALYZE contacts")
    plan = "\n".join(r[0] for r in sql(
        d, "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)"
           " WITH w AS MATERIALIZED (SELECT c.id FROM cases c"
           " ORDER BY c.created_at DESC, c.id DESC LIMIT 1001)"
           " SELECT (SELECT count(*) FROM w), (SELECT count(*) FROM w"
           " WHERE EXISTS (SELECT 1 FROM contacts cc"
           " WHERE cc.case_id = w.id AND cc.channel = 'walk_in'))"))
    assert "Limit (actual rows=1001" in plan, plan
    assert "Seq Scan on contacts" not in plan, plan


# --- order ------------------------------------------------------------------

def pages(client, **params):
    got, cursor, n = [], None, 0
    while True:
        p = dict(params, limit=7)
        if cursor:
            p["cursor"] = cursor
        r = client.get("/api/v1/cases", params=p)
        assert r.status_code == 200, r.text
        got += [c["id"] for c in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        n += 1
        if not cursor:
            return got, n


def test_oldest_first_across_pages(daemon, agent):
    d = daemon
    seed_cases(d, 120)  # three a second: ties broken on the id
    want = [r[0] for r in sql(d, "SELECT id FROM cases"
                                 " ORDER BY created_at, id")]
    assert pages(agent, order="asc") == (want, 18)
    assert pages(agent, order="desc") == (want[::-1], 18)
    assert pages(agent) == (want[::-1], 18)
    # The cursor is a position: one from a newest-first page pages on in
    # either direction from there.
    r = agent.get("/api/v1/cases", params={"limit": 10})
    cursor = r.json()["next_cursor"]
    last = r.json()["items"][-1]["id"]
    i = want.index(last)
    r = agent.get("/api/v1/cases", params={"limit": 5, "order": "asc",
                                           "cursor": cursor})
    assert [c["id"] for c in r.json()["items"]] == want[i + 1:i + 6]
    r = agent.get("/api/v1/cases", params={"limit": 5, "cursor": cursor})
    assert [c["id"] for c in r.json()["items"]] == want[i - 5:i][::-1]
    # Filters apply in both orders.
    r = agent.get("/api/v1/cases", params={
        "order": "asc", "created_from": "2026-01-01T00:00:10Z", "limit": 3})
    assert [c["id"] for c in r.json()["items"]] == [
        r_[0] for r_ in sql(d, "SELECT id FROM cases WHERE created_at >="
                               " '2026-01-01T00:00:10Z'"
                               " ORDER BY created_at, id LIMIT 3")]


@pytest.mark.parametrize("value", ["ASC", "up", "", "asc,desc"])
def test_bad_order(daemon, agent, value):
    r = agent.get("/api/v1/cases", params={"order": value})
    assert r.status_code == 400, r.text
    assert "'order'" in r.json()["error"]["message"]


# --- reference --------------------------------------------------------------

def test_lookup_by_reference(daemon, agent):
    d = daemon
    a = agent.post("/api/v1/cases", json=body(subject="A")).json()
    b = agent.post("/api/v1/cases", json=body(
        subject="B", citizen={"phone": "12345678"})).json()

    def refs(ref):
        r = agent.get("/api/v1/cases", params={"reference": ref})
        assert r.status_code == 200, r.text
        return [c["reference"] for c in r.json()["items"]]

    assert refs(a["reference"]) == [a["reference"]]
    assert refs(b["reference"]) == [b["reference"]]
    assert refs("2026-999999") == []
    assert refs("2026-" + "9" * 15) == []  # the longest a reference gets
    # Exact: no prefix, no pattern.
    assert refs(a["reference"][:-1] + "0" + a["reference"][-1]) == []
    # Other filters still apply.
    r = agent.get("/api/v1/cases", params={"reference": a["reference"],
                                           "status": "open"})
    assert r.json()["items"] == []
    # A merged case is still found by its own reference, and says so.
    r = agent.post(f"/api/v1/cases/{a['id']}/merge", json={"into": b["id"]})
    assert r.status_code == 200, r.text
    r = agent.get("/api/v1/cases", params={"reference": a["reference"]})
    assert [c["merged_into_id"] for c in r.json()["items"]] == [b["id"]]


@pytest.mark.parametrize("value", ["123", "2026-12345", "2026_000123",
                                   "2026-000123x", "x2026-000123", "",
                                   "2026-0001234567890123"])
def test_bad_reference(daemon, agent, value):
    r = agent.get("/api/v1/cases", params={"reference": value})
    assert r.status_code == 400, r.text
    assert "'reference'" in r.json()["error"]["message"]


# --- channel ----------------------------------------------------------------

def test_channel_of_the_first_contact(daemon, agent):
    d = daemon
    for ch in ("phone", "web", "walk_in", "note"):
        c = agent.post("/api/v1/cases", json=body(channel=ch)).json()
        assert c["channel"] == ch
        r = agent.get(f"/api/v1/cases/{c['id']}")
        assert r.json()["channel"] == ch
        r = agent.get("/api/v1/cases", params={"reference": c["reference"]})
        assert r.json()["items"][0]["channel"] == ch
    # Later contacts on other channels leave it.
    c = agent.post("/api/v1/cases", json=body(
        channel="phone", citizen={"phone": "22334455"})).json()
    again = agent.post("/api/v1/cases", json=body(
        channel="web", citizen={"phone": "22334455"})).json()
    assert again["id"] == c["id"] and again["channel"] == "phone"
    add_contact(d, c["id"], "email")
    assert agent.get(f"/api/v1/cases/{c['id']}").json()["channel"] == "phone"
    # A case made outside intake gets the channel of its first contact,
    # the earliest of several stored at once.
    seed_cases(d, 1)
    seeded = sql(d, "SELECT id FROM cases WHERE reference ="
                    " '2020-000001'")[0][0]
    assert sql(d, "SELECT channel FROM cases WHERE id = %s",
               (seeded,)) == [(None,)]
    sql(d, "INSERT INTO contacts (case_id, channel, direction, occurred_at)"
           " VALUES (%s, 'email', 'in', '2026-01-02T00:00:00Z'),"
           " (%s, 'digital_post', 'in', '2026-01-01T00:00:00Z')",
        (seeded, seeded))
    assert agent.get(f"/api/v1/cases/{seeded}").json()[
        "channel"] == "digital_post"


# --- assignee names ---------------------------------------------------------

def test_assignee_name(daemon, agent, ctl):
    d = daemon
    add_user(ctl, d, "bo")  # no name: the login stands in
    bo = sql(d, "SELECT id FROM users WHERE login = 'bo'")[0][0]
    c = agent.post("/api/v1/cases", json=body()).json()
    assert c["assignee_id"] is None and c["assignee_name"] is None
    r = agent.s.patch(d.url(f"/api/v1/cases/{c['id']}"),
                      json={"assignee_id": agent.user_id},
                      headers={"If-Match": '"1"'}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["assignee_name"] == "Agnete Jensen"
    r = agent.get("/api/v1/cases")
    assert r.json()["items"][0]["assignee_name"] == "Agnete Jensen"
    sql(d, "UPDATE cases SET assignee_id = %s", (bo,))
    assert agent.get(f"/api/v1/cases/{c['id']}").json()[
        "assignee_name"] == "bo"
    # A new name shows at once (it is looked up, not copied).
    sql(d, "UPDATE users SET name = 'Bo Ek' WHERE id = %s", (bo,))
    assert agent.get("/api/v1/cases").json()["items"][0][
        "assignee_name"] == "Bo Ek"


def test_assignees(daemon, agent, ctl):
    d = daemon
    add_user(ctl, d, "gone", name="Gone Away")
    sql(d, "UPDATE users SET disabled = true WHERE login = 'gone'")
    r = agent.get("/api/v1/assignees")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [(u["login"], u["name"]) for u in items] == [
        ("agnete", "Agnete Jensen"), ("sofus", "")]
    assert all(set(u) == {"id", "name", "login"} for u in items)
    assert items[0]["id"] == agent.user_id


def test_assignees_authorisation(daemon, ctl):
    d = daemon
    reader = new_token(ctl, d, "reader", "read")
    admin = new_token(ctl, d, "boss", "admin")
    cti = new_token(ctl, d, "phone", "cti:write")
    assert d.get("/api/v1/assignees").status_code == 401
    for tok, want in ((reader, 200), (admin, 200), (cti, 403)):
        r = d.get("/api/v1/assignees",
                  headers={"Authorization": f"Bearer {tok}"})
        assert r.status_code == want, r.text
    for login in ("agnete", "sofus"):
        assert Client(d, login).get("/api/v1/assignees").status_code == 200
    s = requests.Session()
    r = s.post(d.url("/api/v1/assignees"), json={}, timeout=10)
    assert r.status_code in (401, 405)
