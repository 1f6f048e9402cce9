# SPDX-License-Identifier: MPL-2.0
"""Case actions over HTTP: resolve, forward, notes and reopen. Each locks
the case row, checks the transition and (when sent) the version, writes
an audit row and answers the changed case; a refused transition is 409
with the current case, bad input 422 naming the field with nothing
written."""

import concurrent.futures
import threading

import pytest

from test_auth import add_user, new_token
from test_cases import Client, agent, body, daemon, new_department, sql  # noqa: F401
from utils import notifications


def new_case(client, **kw):
    r = client.post("/api/v1/cases", json=body(**kw))
    assert r.status_code == 201, r.text
    return r.json()


def act(client, case_id, action, payload, **headers):
    return client.post(f"/api/v1/cases/{case_id}/{action}", json=payload,
                       headers=headers)


def snapshot(d):
    return sql(d, "SELECT (SELECT json_agg(c ORDER BY id)::text FROM"
                  "  (SELECT id, status, resolution, category, version,"
                  "   department_id, resolved_at FROM cases) c),"
                  " (SELECT count(*) FROM contacts),"
                  " (SELECT count(*) FROM forwards),"
                  " (SELECT count(*) FROM audit_log"
                  "  WHERE action <> 'create' AND case_id IS NOT NULL)")[0]


def department(d, name, **cols):
    dept = new_department(d, name)
    for k, v in cols.items():
        sql(d, f"UPDATE departments SET {k} = %s WHERE id = %s", (v, dept))
    return dept


def test_resolve(daemon, agent):
    d = daemon
    c = new_case(agent)
    assert c["first_response_at"] is None
    r = act(agent, c["id"], "resolve",
            {"resolution": "resolved_first_contact", "category": "Affald"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["status"] == "resolved"
    assert got["resolution"] == "resolved_first_contact"
    assert got["category"] == "Affald"
    assert got["resolved_at"] and got["first_response_at"]
    assert got["version"] == c["version"] + 1
    assert r.headers["ETag"] == f'"{got["version"]}"'
    assert sql(d, "SELECT action, actor_user_id, case_id, detail::text"
                  " FROM audit_log WHERE action = 'resolve'") == \
        [("resolve", agent.user_id, c["id"],
          '{"from": "new", "resolution": "resolved_first_contact"}')]

    # Resolved already: 409 with the current state, nothing changed.
    before = snapshot(d)
    r = act(agent, c["id"], "resolve", {"resolution": "spam"})
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "conflict"
    assert "resolved" in r.json()["error"]["message"]
    assert r.json()["case"]["status"] == "resolved"
    assert r.json()["case"]["resolution"] == "resolved_first_contact"
    assert snapshot(d) == before

    # Closed and merged cases cannot be resolved either.
    c2 = new_case(agent)
    sql(d, "UPDATE cases SET status = 'closed' WHERE id = %s", (c2["id"],))
    r = act(agent, c2["id"], "resolve", {"resolution": "spam"})
    assert r.status_code == 409 and r.json()["case"]["status"] == "closed"
    c3 = new_case(agent)
    sql(d, "UPDATE cases SET status = 'closed', merged_into_id = %s"
           " WHERE id = %s", (c2["id"], c3["id"]))
    r = act(agent, c3["id"], "resolve", {"resolution": "duplicate"})
    assert r.status_code == 409 and "merged" in r.json()["error"]["message"]
    assert r.json()["case"]["merged_into_id"] == c2["id"]

    assert act(agent, 999999, "resolve",
               {"resolution": "spam"}).status_code == 404


def test_resolve_keeps_first_response_and_category(daemon, agent):
    d = daemon
    c = new_case(agent)
    sql(d, "UPDATE cases SET first_response_at = '2025-01-01T00:00:00Z',"
           " category = 'Byggesag' WHERE id = %s", (c["id"],))
    r = act(agent, c["id"], "resolve", {"resolution": "callback"})
    assert r.status_code == 200, r.text
    assert r.json()["first_response_at"] == "2025-01-01T00:00:00Z"
    assert r.json()["category"] == "Byggesag"


def test_version_mismatch(daemon, agent):
    d = daemon
    c = new_case(agent)
    r = act(agent, c["id"], "resolve", {"resolution": "spam", "version": 7})
    assert r.status_code == 409, r.text
    assert r.json()["case"]["version"] == 1
    assert r.json()["case"]["status"] == "new"
    r = act(agent, c["id"], "resolve", {"resolution": "spam"},
            **{"If-Match": '"2"'})
    assert r.status_code == 409
    r = act(agent, c["id"], "reopen", {"version": 3})
    assert r.status_code == 409 and r.json()["case"]["status"] == "new"
    r = act(agent, c["id"], "notes", {"text": "x", "version": 2})
    assert r.status_code == 409
    dept = new_department(d, "Borgerservice")
    r = act(agent, c["id"], "forward", {"department_id": dept,
                                        "method": "direct", "version": 9})
    assert r.status_code == 409
    assert sql(d, "SELECT status, version FROM cases") == [("new", 1)]
    assert sql(d, "SELECT count(*) FROM forwards")[0][0] == 0
    # The right version (body or If-Match) passes.
    r = act(agent, c["id"], "resolve", {"resolution": "spam"},
            **{"If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["version"] == 2
    r = act(agent, c["id"], "reopen", {"version": 2})
    assert r.status_code == 200 and r.json()["version"] == 3


def test_concurrent_resolves(daemon, agent):
    d = daemon
    c = new_case(agent)
    other = Client(d, "sofus")
    barrier = threading.Barrier(2)

    def attempt(client):
        barrier.wait()
        return act(client, c["id"], "resolve",
                   {"resolution": "answered_later"})

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        rs = list(pool.map(attempt, [agent, other]))
    assert sorted(r.status_code for r in rs) == [200, 409]
    lost = [r for r in rs if r.status_code == 409][0]
    assert lost.json()["case"]["status"] == "resolved"
    assert sql(d, "SELECT version FROM cases")[0][0] == 2
    assert sql(d, "SELECT count(*) FROM audit_log"
                  " WHERE action = 'resolve'")[0][0] == 1


def test_forward(daemon, agent):
    d = daemon
    start = department(d, "Kontaktcenter")
    byg = department(d, "Byggeri", queue_number="+4533660000",
                     hunt_group_number="4000", ivr_choice="3#",
                     email="byg@kommune.dk")
    c = new_case(agent, department_id=start)
    r = act(agent, c["id"], "forward",
            {"department_id": byg, "method": "queue",
             "reason": "Byggesag — ønsker sagsbehandler"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["status"] == "forwarded" and got["department_id"] == byg
    assert got["resolution"] == "forwarded"
    assert got["first_response_at"] and got["version"] == 2
    assert sql(d, "SELECT case_id, from_department_id, to_department_id,"
                  " method, target, reason, by_user_id FROM forwards") == \
        [(c["id"], start, byg, "queue", "+4533660000",
          "Byggesag — ønsker sagsbehandler", agent.user_id)]
    audit = sql(d, "SELECT actor_user_id, detail FROM audit_log"
                   " WHERE action = 'forward' AND case_id = %s", (c["id"],))
    assert len(audit) == 1 and audit[0][0] == agent.user_id
    assert audit[0][1]["to_department_id"] == byg
    assert audit[0][1]["method"] == "queue"

    # The stored target is a copy: later directory edits do not change it.
    sql(d, "UPDATE departments SET queue_number = '+4511111111'"
           " WHERE id = %s", (byg,))
    assert sql(d, "SELECT target FROM forwards")[0][0] == "+4533660000"

    # Each method copies its own target; callback and direct have none.
    for method, target in (("hunt_group", "4000"), ("ivr", "3#"),
                           ("email", "byg@kommune.dk"), ("callback", None),
                           ("direct", None)):
        c2 = new_case(agent)
        r = act(agent, c2["id"], "forward",
                {"department_id": byg, "method": method})
        assert r.status_code == 200, (method, r.text)
        assert sql(d, "SELECT from_department_id, target, reason"
                      " FROM forwards WHERE case_id = %s",
                   (c2["id"],)) == [(None, target, "")]

    # Forwarding again from a forwarded case is fine; from closed not.
    r = act(agent, c["id"], "forward", {"department_id": start,
                                        "method": "direct"})
    assert r.status_code == 200 and r.json()["department_id"] == start
    assert sql(d, "SELECT from_department_id FROM forwards"
                  " WHERE case_id = %s ORDER BY id", (c["id"],)) == \
        [(start,), (byg,)]
    sql(d, "UPDATE cases SET status = 'closed', resolution = 'spam',"
           " resolved_at = now() WHERE id = %s", (c["id"],))
    before = snapshot(d)
    r = act(agent, c["id"], "forward", {"department_id": byg,
                                        "method": "queue"})
    assert r.status_code == 409 and r.json()["case"]["status"] == "closed"
    assert snapshot(d) == before


def test_forward_bad_department(daemon, agent):
    d = daemon
    c = new_case(agent)
    plain = department(d, "Uden numre")
    gone = department(d, "Nedlagt", queue_number="1234", active=False)
    before = snapshot(d)
    for payload, field in (
            ({"department_id": 999999, "method": "direct"}, "department_id"),
            ({"department_id": gone, "method": "queue"}, "department_id"),
            ({"department_id": plain, "method": "queue"}, "method"),
            ({"department_id": plain, "method": "hunt_group"}, "method"),
            ({"department_id": plain, "method": "ivr"}, "method"),
            ({"department_id": plain, "method": "email"}, "method")):
        r = act(agent, c["id"], "forward", payload)
        assert r.status_code == 422, (payload, r.text)
        assert f"'{field}'" in r.json()["error"]["message"], payload
    assert snapshot(d) == before


def test_notes(daemon, agent):
    d = daemon
    c = new_case(agent)
    text = "Ringede tilbage; borgeren var ikke hjemme. Æøå " * 10
    r = act(agent, c["id"], "notes", {"text": text})
    assert r.status_code == 201, r.text
    ct = r.json()
    assert ct["case_id"] == c["id"] and ct["text"] == text
    assert ct["channel"] == "note" and ct["direction"] == "internal"
    assert ct["created_by"] == agent.user_id
    assert sql(d, "SELECT detail FROM audit_log WHERE action = 'update'"
                  " AND case_id = %s", (c["id"],)) == [({"note": ct["id"]},)]
    got = agent.get(f"/api/v1/cases/{c['id']}").json()
    assert got["contact_count"] == 2 and got["contacts"][-1] == ct
    assert got["first_response_at"] is not None
    # 10,000 characters of two bytes each are fine.
    assert act(agent, c["id"], "notes",
               {"text": "ø" * 10000}).status_code == 201

    # Resolved and closed cases take notes; merged ones do not.
    sql(d, "UPDATE cases SET status = 'closed', resolution = 'spam',"
           " resolved_at = now() WHERE id = %s", (c["id"],))
    assert act(agent, c["id"], "notes", {"text": "x"}).status_code == 201
    c2 = new_case(agent)
    sql(d, "UPDATE cases SET status = 'closed', merged_into_id = %s"
           " WHERE id = %s", (c["id"], c2["id"]))
    before = snapshot(d)
    r = act(agent, c2["id"], "notes", {"text": "x"})
    assert r.status_code == 409 and r.json()["case"]["status"] == "closed"
    assert r.json()["case"]["merged_into_id"] == c["id"]
    assert snapshot(d) == before


def test_reopen(daemon, agent):
    d = daemon
    c = new_case(agent)
    for status in ("new", "open", "forwarded"):
        sql(d, "UPDATE cases SET status = %s WHERE id = %s",
            (status, c["id"]))
        r = act(agent, c["id"], "reopen", {})
        assert r.status_code == 409, r.text
        assert r.json()["case"]["status"] == status
    assert act(agent, c["id"], "resolve",
               {"resolution": "spam"}).status_code == 200
    r = act(agent, c["id"], "reopen", {})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["status"] == "open" and got["resolution"] is None
    assert got["resolved_at"] is None
    assert sql(d, "SELECT detail FROM audit_log WHERE action = 'update'"
                  " AND case_id = %s", (c["id"],)) == [({"reopen": "resolved"},)]
    sql(d, "UPDATE cases SET status = 'closed', resolution = 'duplicate',"
           " resolved_at = now() WHERE id = %s", (c["id"],))
    assert act(agent, c["id"], "reopen", {}).json()["status"] == "open"
    # A merged case stays closed.
    c2 = new_case(agent)
    sql(d, "UPDATE cases SET status = 'closed', merged_into_id = %s"
           " WHERE id = %s", (c["id"], c2["id"]))
    r = act(agent, c2["id"], "reopen", {})
    assert r.status_code == 409 and "merged" in r.json()["error"]["message"]


BAD = [
    ("resolve", {}, "resolution"),
    ("resolve", {"resolution": "forwarded"}, "resolution"),
    ("resolve", {"resolution": "solved"}, "resolution"),
    ("resolve", {"resolution": 1}, "resolution"),
    ("resolve", {"resolution": "spam", "category": "k" * 101}, "category"),
    ("resolve", {"resolution": "spam", "category": "a\nb"}, "category"),
    ("resolve", {"resolution": "spam", "category": 5}, "category"),
    ("resolve", {"resolution": "spam", "status": "closed"}, "status"),
    ("resolve", {"resolution": "spam", "version": "1"}, "version"),
    ("resolve", {"resolution": "spam", "version": 0}, "version"),
    ("forward", {"method": "queue"}, "department_id"),
    ("forward", {"department_id": "1", "method": "queue"}, "department_id"),
    ("forward", {"department_id": 0, "method": "queue"}, "department_id"),
    ("forward", {"department_id": 1}, "method"),
    ("forward", {"department_id": 1, "method": "fax"}, "method"),
    ("forward", {"department_id": 1, "method": "direct",
                 "reason": "r" * 2001}, "reason"),
    ("forward", {"department_id": 1, "method": "direct", "to": 2}, "to"),
    ("notes", {}, "text"),
    ("notes", {"text": ""}, "text"),
    ("notes", {"text": "x" * 10001}, "text"),
    ("notes", {"text": ["x"]}, "text"),
    ("notes", {"text": "x", "channel": "email"}, "channel"),
    ("reopen", {"resolution": None}, "resolution"),
    ("reopen", {"version": -1}, "version"),
]


@pytest.mark.parametrize("action,payload,field", BAD)
def test_bad_input(daemon, agent, action, payload, field):
    d = daemon
    c = new_case(agent)
    sql(d, "INSERT INTO departments (name, queue_number) VALUES"
           " ('Mål', '1234')")
    before = snapshot(d)
    r = act(agent, c["id"], action, payload)
    assert r.status_code == 422, r.text
    msg = r.json()["error"]["message"]
    assert f"'{field}'" in msg or msg == f"unknown field {field}", msg
    assert snapshot(d) == before


@pytest.mark.parametrize("action", ["resolve", "forward", "notes", "reopen"])
def test_bad_bodies(daemon, agent, action):
    d = daemon
    c = new_case(agent)
    before = snapshot(d)
    url = f"/api/v1/cases/{c['id']}/{action}"
    for raw in (b"{", b"[]", b'{"text": "\xff"}'):
        r = agent.post(url, data=raw,
                       headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (raw, r.text)
    r = agent.post(url, data=b"{}", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert act(agent, "abc", action, {}).status_code == 404
    assert snapshot(d) == before


PAYLOADS = {"resolve": {"resolution": "spam"},
            "forward": {"department_id": 1, "method": "direct"},
            "notes": {"text": "x"}, "reopen": {}}


@pytest.mark.parametrize("action", sorted(PAYLOADS))
def test_authorisation(daemon, ctl, agent, action):
    d = daemon
    c = new_case(agent)
    sql(d, "UPDATE cases SET status = 'resolved', resolution = 'spam',"
           " resolved_at = now() WHERE id = %s", (c["id"],))
    before = snapshot(d)
    path = f"/api/v1/cases/{c['id']}/{action}"
    payload = PAYLOADS[action]
    assert d.request("POST", path, json=payload).status_code == 401
    for scope in ("read", "admin", "cti:write"):
        tok = new_token(ctl, d, f"t-{scope.replace(':', '-')}", scope)
        r = d.request("POST", path, json=payload,
                      headers={"Authorization": f"Bearer {tok}"})
        assert r.status_code == 403, (scope, r.text)
    # A session without its CSRF token is refused.
    s = Client(d, "sofus").s
    del s.headers["X-CSRF-Token"]
    assert s.post(d.url(path), json=payload,
                  timeout=10).status_code == 403
    assert snapshot(d) == before
    # Every role may act.
    if action == "forward":
        payload = {"department_id": new_department(d, "Mål"),
                   "method": "direct"}
    add_user(ctl, d, "ada", role="admin")
    for login in ("agnete", "sofus", "ada"):
        if action == "resolve":
            sql(d, "UPDATE cases SET status = 'open', resolution = NULL,"
                   " resolved_at = NULL WHERE id = %s", (c["id"],))
        else:
            sql(d, "UPDATE cases SET status = 'resolved',"
                   " resolution = 'spam', resolved_at = now()"
                   " WHERE id = %s", (c["id"],))
        r = act(Client(d, login), c["id"], action, payload)
        assert r.status_code in (200, 201), (login, r.text)


def test_notify(daemon, agent):
    d = daemon
    c = new_case(agent)
    dept = new_department(d, "Borgerservice")
    with d.cluster.connect(d.db) as conn:
        conn.execute("LISTEN kontaktd")
        for action, payload in (
                ("notes", {"text": "x"}), ("resolve", {"resolution": "spam"}),
                ("reopen", {}),
                ("forward", {"department_id": dept, "method": "direct"})):
            assert act(agent, c["id"], action, payload).status_code < 300
        notes = notifications(conn, 4)
    # One a transaction, naming its (last) live event (GET
    # /api/v1/events), in commit order.
    assert [{k: v for k, v in n.items() if k != "id"} for n in notes] == \
        [{"type": "case.updated", "case_id": c["id"], "count": 1}] * 4
    ids = [n["id"] for n in notes]
    assert ids == sorted(set(ids))
