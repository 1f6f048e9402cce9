# SPDX-License-Identifier: MPL-2.0
"""Cases over HTTP: recording a contact by hand through intake (idempotent,
threaded by caller, routed by rules), reading a case (audited), and the
filtered, cursor-paginated list with Danish full-text search; the
authorisation of each route and the refusal of bad input."""

import base64
import concurrent.futures
import hashlib
import re

import pytest
import requests

from test_auth import PASSWORD, add_user, new_token
from utils import notifications, wait_until

CPR = "0101701234"


class Client:
    """A logged-in browser session that sends its CSRF token."""

    def __init__(self, d, login):
        self.d = d
        self.s = requests.Session()
        r = self.s.post(d.url("/api/v1/session"),
                        json={"login": login, "password": PASSWORD},
                        timeout=10)
        assert r.status_code == 200, r.text
        self.s.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        self.user_id = d.cluster.sql(
            "SELECT id FROM users WHERE login = %s", (login,),
            dbname=d.db)[0][0]

    def get(self, path, **kw):
        return self.s.get(self.d.url(path), timeout=10, **kw)

    def post(self, path, **kw):
        return self.s.post(self.d.url(path), timeout=10, **kw)


@pytest.fixture
def daemon(kontaktd, ctl):
    d = kontaktd()
    add_user(ctl, d, "agnete")
    add_user(ctl, d, "sofus", role="supervisor")
    return d


@pytest.fixture
def agent(daemon):
    return Client(daemon, "agnete")


def sql(d, q, params=None):
    return d.cluster.sql(q, params, dbname=d.db)


def counts(d):
    return sql(d, "SELECT (SELECT count(*) FROM cases),"
                  " (SELECT count(*) FROM contacts)")[0]


def new_department(d, name):
    return sql(d, "INSERT INTO departments (name) VALUES (%s) RETURNING id",
               (name,))[0][0]


def body(**kw):
    b = {"channel": "phone", "subject": "Spørgsmål om affald",
         "text": "Borgeren ringede om storskrald."}
    b.update(kw)
    return b


def test_create_and_get(daemon, agent):
    d = daemon
    r = agent.post("/api/v1/cases", json=body(
        citizen={"name": "Åse Ørnsø", "phone": "+45 36 37 38 39",
                 "email": "aase@example.org", "cpr": CPR}))
    assert r.status_code == 201, r.text
    c = r.json()
    assert r.headers["Location"] == f"/api/v1/cases/{c['id']}"
    assert re.fullmatch(r"\d{4}-\d{6}", c["reference"])
    assert c["status"] == "new" and c["resolution"] is None
    assert c["subject"] == "Spørgsmål om affald"
    assert c["citizen"] == {"name": "Åse Ørnsø", "phone": "+4536373839",
                            "email": "aase@example.org",
                            "cpr": "010170-XXXX", "cvr": None}
    assert c["contact_count"] == 1 and c["version"] == 1
    assert len(c["contacts"]) == 1
    ct = c["contacts"][0]
    assert ct["id"] == c["contact_id"]
    assert ct["channel"] == "phone" and ct["direction"] == "in"
    assert ct["text"] == "Borgeren ringede om storskrald."
    assert ct["created_by"] == agent.user_id
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", c["created_at"])

    g = agent.get(r.headers["Location"])
    assert g.status_code == 200
    got = g.json()
    assert got["contacts"] == c["contacts"]
    assert {k: v for k, v in got.items() if k != "contacts"} == \
        {k: v for k, v in c.items() if k not in ("contacts", "contact_id")}

    # A supervisor sees the full CPR number; nobody's log does.
    sup = Client(d, "sofus")
    assert sup.get(r.headers["Location"]).json()["citizen"]["cpr"] == CPR
    assert CPR not in d.log()

    audit = sql(d, "SELECT action, actor_user_id, case_id, peer"
                   " FROM audit_log WHERE case_id IS NOT NULL ORDER BY id")
    assert audit == [("create", agent.user_id, c["id"], "127.0.0.1"),
                     ("read", agent.user_id, c["id"], "127.0.0.1"),
                     ("read", sup.user_id, c["id"], "127.0.0.1")]
    assert d.log_contains(r"event=intake case=" + c["reference"])

    assert agent.get("/api/v1/cases/999999").status_code == 404
    assert agent.get("/api/v1/cases/abc").status_code == 404
    assert agent.get("/api/v1/cases/0").status_code == 404


def test_references_count_up(daemon, agent):
    refs = [agent.post("/api/v1/cases", json=body()).json()["reference"]
            for _ in range(3)]
    nums = [int(x.split("-")[1]) for x in refs]
    assert nums == [nums[0], nums[0] + 1, nums[0] + 2]
    assert len({x.split("-")[0] for x in refs}) == 1


def test_references_do_not_wait_for_other_transactions(daemon, agent):
    """A case being made in a transaction that has not committed yet does
    not hold back the next one's reference (sql/014: a sequence a year)."""
    d = daemon
    with d.cluster.connect(d.db, autocommit=False) as slow:
        first = slow.execute("SELECT ktd_case_next_reference()").fetchone()[0]
        r = agent.post("/api/v1/cases", json=body())
        assert r.status_code == 201, r.text
        assert int(r.json()["reference"].split("-")[1]) == \
            int(first.split("-")[1]) + 1
        slow.rollback()
    # The rolled-back number is a gap; the next goes on from the last.
    nxt = agent.post("/api/v1/cases", json=body()).json()["reference"]
    assert int(nxt.split("-")[1]) == int(first.split("-")[1]) + 2


def test_references_without_a_sequence(daemon, agent):
    """A year whose sequence is missing numbers its cases from the counter
    row; the janitor (at start, then every few minutes) makes the sequence,
    which starts past the counter."""
    d = daemon
    year = sql(d, "SELECT extract(year FROM now() AT TIME ZONE"
                  " 'Europe/Copenhagen')::integer")[0][0]
    seq = f"case_reference_{year}"

    def new_ref():
        r = agent.post("/api/v1/cases", json=body())
        assert r.status_code == 201, r.text
        return int(r.json()["reference"].split("-")[1])

    with d.cluster.connect(d.db) as hold:
        # Keeps the janitor from making it again meanwhile.
        hold.execute("SELECT pg_advisory_lock(hashtextextended("
                     "'kontaktd:case_reference', 0))")
        hold.execute(f"DROP SEQUENCE {seq}")
        assert [new_ref(), new_ref()] == [1, 2]
        assert sql(d, "SELECT last FROM case_counters WHERE year = %s",
                   (year,)) == [(2,)]
    d.stop()
    d.start()
    d.wait_ready()
    wait_until(lambda: sql(d, "SELECT to_regclass(%s) IS NOT NULL",
                           (seq,))[0][0], 10, "the janitor's sequence")
    assert [new_ref(), new_ref()] == [1002, 1003]


def test_idempotent_external_id(daemon, agent):
    d = daemon
    r1 = agent.post("/api/v1/cases", json=body(external_id="call-1"))
    assert r1.status_code == 201
    r2 = agent.post("/api/v1/cases", json=body(external_id="call-1",
                                               text="changed"))
    assert r2.status_code == 200, r2.text
    assert r2.json()["contact_id"] == r1.json()["contact_id"]
    assert r2.json()["id"] == r1.json()["id"]
    assert counts(d) == (1, 1)
    # The key is per channel.
    r3 = agent.post("/api/v1/cases", json=body(external_id="call-1",
                                               channel="web"))
    assert r3.status_code == 201
    assert counts(d) == (2, 2)
    assert sql(d, "SELECT count(*) FROM audit_log"
                  " WHERE action = 'create' AND case_id IS NOT NULL")[0][0] \
        == 2


def test_concurrent_identical_submissions(daemon, agent):
    d = daemon

    def submit(_):
        return agent.s.post(d.url("/api/v1/cases"),
                            json=body(external_id="race-1"), timeout=30)

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        rs = list(ex.map(submit, range(8)))
    assert sorted(r.status_code for r in rs) == [200] * 7 + [201]
    assert len({r.json()["contact_id"] for r in rs}) == 1
    assert counts(d) == (1, 1)


def test_threading_by_caller(daemon, agent):
    d = daemon
    a = agent.post("/api/v1/cases", json=body(
        citizen={"phone": "36 37 38 39"})).json()
    b = agent.post("/api/v1/cases", json=body(
        channel="walk_in", citizen={"phone": "36-37-38-39"})).json()
    assert b["id"] == a["id"] and b["contact_count"] == 2
    assert [c["channel"] for c in b["contacts"]] == ["phone", "walk_in"]
    # By e-mail too, case-insensitively.
    e1 = agent.post("/api/v1/cases", json=body(
        channel="web", citizen={"email": "Per@Example.org"})).json()
    e2 = agent.post("/api/v1/cases", json=body(
        channel="web", citizen={"email": "per@example.org"})).json()
    assert e1["id"] == e2["id"] != a["id"]
    # Outside the window (three days), or once resolved: a new case.
    sql(d, "UPDATE cases SET last_contact_at = now() - interval '4 days'"
           " WHERE id = %s", (a["id"],))
    c = agent.post("/api/v1/cases", json=body(
        citizen={"phone": "36373839"})).json()
    assert c["id"] != a["id"]
    sql(d, "UPDATE cases SET status = 'resolved', resolved_at = now(),"
           " resolution = 'resolved_first_contact' WHERE id = %s",
        (c["id"],))
    e = agent.post("/api/v1/cases", json=body(
        citizen={"phone": "36373839"})).json()
    assert e["id"] not in (a["id"], c["id"])
    # An explicit reference threads onto that case, whatever the caller.
    f = agent.post("/api/v1/cases", json=body(
        case_reference=a["reference"])).json()
    assert f["id"] == a["id"] and f["contact_count"] == 3
    assert sql(d, "SELECT action FROM audit_log WHERE case_id = %s"
                  " ORDER BY id", (a["id"],)) == \
        [("create",), ("update",), ("update",)]
    r = agent.post("/api/v1/cases", json=body(case_reference="1999-000001"))
    assert r.status_code == 404


def test_routing_rules(daemon, agent):
    d = daemon
    parking = new_department(d, "Parkering")
    build = new_department(d, "Byggeri")
    other = new_department(d, "Borgerservice")
    sql(d, "INSERT INTO routing_rules (kind, pattern, department_id,"
           " priority) VALUES ('keyword', 'parkering', %s, 10),"
           " ('keyword', 'byg', %s, 20), ('keyword', '50%%', %s, 5)",
        (parking, build, other))
    r = agent.post("/api/v1/cases", json=body(
        subject="Spørgsmål om PARKERING ved byggeplads"))
    assert r.json()["department_id"] == parking
    r = agent.post("/api/v1/cases", json=body(subject="Byggetilladelse"))
    assert r.json()["department_id"] == build
    # A pattern is text, not a LIKE pattern.
    r = agent.post("/api/v1/cases", json=body(subject="rabat 500 kr"))
    assert r.json()["department_id"] is None
    r = agent.post("/api/v1/cases", json=body(subject="rabat 50% nu"))
    assert r.json()["department_id"] == other
    # A department chosen by hand wins.
    r = agent.post("/api/v1/cases", json=body(subject="parkering",
                                              department_id=other))
    assert r.json()["department_id"] == other
    # An unknown department: 422 naming it, nothing written.
    before = counts(d)
    r = agent.post("/api/v1/cases", json=body(department_id=999999))
    assert r.status_code == 422 and "department_id" in r.text
    assert counts(d) == before


def test_notify_on_intake(daemon, agent):
    d = daemon
    with d.cluster.connect(d.db) as conn:
        conn.execute("LISTEN kontaktd")
        c = agent.post("/api/v1/cases", json=body(
            citizen={"phone": "11223344"})).json()
        agent.post("/api/v1/cases", json=body(citizen={"phone": "11223344"}))
        notes = notifications(conn, 2)
    # One a transaction, naming its (last) live event (GET
    # /api/v1/events), in commit order.
    assert [{k: v for k, v in n.items() if k != "id"} for n in notes] == [
        {"type": "case.created", "case_id": c["id"], "count": 1},
        {"type": "case.updated", "case_id": c["id"], "count": 1}]
    assert notes[0]["id"] < notes[1]["id"]


def seed_cases(d, n):
    """n cases straight into the table, three per second, so that pages
    must break ties on the id."""
    sql(d, "INSERT INTO cases (reference, subject, created_at)"
           " SELECT '2020-' || lpad(g::text, 6, '0'), 'seed ' || g,"
           " timestamptz '2026-01-01 00:00:00.5+00' + (g / 3) * interval '1 s'"
           " FROM generate_series(1, %s) g", (n,))


def test_cursor_pagination(daemon, agent):
    d = daemon
    seed_cases(d, 120)
    want = [r[0] for r in sql(d, "SELECT id FROM cases"
                                 " ORDER BY created_at DESC, id DESC")]
    got, cursor, pages = [], None, 0
    while True:
        params = {"limit": 7}
        if cursor:
            params["cursor"] = cursor
        r = agent.get("/api/v1/cases", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        pages += 1
        assert len(page["items"]) <= 7
        got += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor)
    assert got == want and pages == 18
    r = agent.get("/api/v1/cases")
    assert len(r.json()["items"]) == 50
    r = agent.get("/api/v1/cases", params={"limit": 100})
    assert len(r.json()["items"]) == 100 and r.json()["next_cursor"]
    r = agent.get("/api/v1/cases", params={"limit": 100,
                                           "cursor": r.json()["next_cursor"]})
    assert len(r.json()["items"]) == 20 and r.json()["next_cursor"] is None
    # Exactly a page: no empty next page promised.
    sql(d, "DELETE FROM cases WHERE id NOT IN (SELECT id FROM cases"
           " ORDER BY id LIMIT 10)")
    r = agent.get("/api/v1/cases", params={"limit": 10})
    assert len(r.json()["items"]) == 10 and r.json()["next_cursor"] is None


def test_list_filter_combinations(daemon, agent):
    """Every combination of the list's filters, paged to the end in both
    orders at a page size whose statement kontaktd keeps prepared (20) and
    at one it plans each time (7), gives exactly the matching cases: each
    combination is a statement of its own, run often enough that
    PostgreSQL switches to its generic plan."""
    d = daemon
    dept = new_department(d, "Byggeri")
    seed_cases(d, 60)
    sql(d, "UPDATE cases SET status = (ARRAY['new', 'open', 'new'])"
           "[1 + id %% 3], department_id = CASE WHEN id %% 4 = 0 THEN %s END,"
           " assignee_id = CASE WHEN id %% 5 < 2 THEN %s END",
        (dept, agent.user_id))
    sql(d, "INSERT INTO contacts (case_id, channel, direction, occurred_at)"
           " SELECT id, CASE WHEN id % 2 = 0 THEN 'web' ELSE 'note' END,"
           " 'in', created_at FROM cases")
    filters = {
        "status": ("open", "status = 'open'"),
        "department_id": (dept, f"department_id = {dept}"),
        "assignee_id": (agent.user_id, f"assignee_id = {agent.user_id}"),
        "channel": ("web", "id % 2 = 0"),
        "created_from": ("2026-01-01T00:00:04.5Z",
                         "created_at >= '2026-01-01T00:00:04.5Z'"),
        "created_to": ("2026-01-01T00:00:17.5Z",
                       "created_at < '2026-01-01T00:00:17.5Z'"),
        "reference": ("2020-000024", "reference = '2020-000024'"),
    }
    names = sorted(filters)
    for mask in range(1 << len(names)):
        chosen = [n for i, n in enumerate(names) if mask >> i & 1]
        where = " AND ".join(["true"] + [filters[n][1] for n in chosen])
        want = [r[0] for r in sql(d, f"SELECT id FROM cases WHERE {where}"
                                     " ORDER BY created_at DESC, id DESC")]
        for limit, order in ((7, "desc"), (20, "desc"), (7, "asc"),
                             (20, "asc")):
            params = {n: filters[n][0] for n in chosen}
            params["limit"] = limit
            params["order"] = order
            got, cursor = [], None
            for _ in range(20):
                if cursor:
                    params["cursor"] = cursor
                r = agent.get("/api/v1/cases", params=params)
                assert r.status_code == 200, r.text
                got += [c["id"] for c in r.json()["items"]]
                cursor = r.json()["next_cursor"]
                if cursor is None:
                    break
            assert got == (want if order == "desc" else want[::-1]), \
                (chosen, limit, order)


def test_list_filters(daemon, agent):
    d = daemon
    dept = new_department(d, "Byggeri")
    a = agent.post("/api/v1/cases", json=body(
        subject="Min byggesag trækker ud", department_id=dept)).json()
    b = agent.post("/api/v1/cases", json=body(
        channel="web", subject="Parkeringslicens",
        text="Hvornår kommer min licens til beboerparkering?")).json()
    c = agent.post("/api/v1/cases", json=body(
        channel="note", subject="Intern note")).json()
    sql(d, "UPDATE cases SET status = 'open', assignee_id = %s"
           " WHERE id = %s", (agent.user_id, b["id"]))
    sql(d, "UPDATE cases SET created_at = '2025-06-01T12:00:00Z'"
           " WHERE id = %s", (c["id"],))

    def ids(**params):
        r = agent.get("/api/v1/cases", params=params)
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["items"]]

    assert ids() == [b["id"], a["id"], c["id"]]
    assert ids(status="open") == [b["id"]]
    assert ids(status="new") == [a["id"], c["id"]]
    assert ids(department_id=dept) == [a["id"]]
    assert ids(assignee_id="me") == [b["id"]]
    assert ids(assignee_id=agent.user_id) == [b["id"]]
    assert ids(channel="web") == [b["id"]]
    assert ids(channel="email") == []
    assert ids(created_to="2026-01-01T00:00:00Z") == [c["id"]]
    assert ids(created_from="2025-06-01T12:00:00Z",
               created_to="2025-06-01T12:00:00.000001Z") == [c["id"]]
    assert ids(created_from="2025-06-01T13:00:01+01:00") == [b["id"], a["id"]]
    # Danish stemming: the plural finds the singular, in the subject and
    # in a contact's text.
    assert ids(q="byggesager") == [a["id"]]
    assert ids(q="beboerparkeringen") == [b["id"]]
    assert ids(q="byggesager", status="open") == []
    assert ids(q="'; DROP TABLE cases; --") == []
    # Listing shows CPR masked and writes no audit rows.
    assert sql(d, "SELECT count(*) FROM audit_log"
                  " WHERE action = 'read'")[0][0] == 0


def test_search_semantics(daemon, agent):
    """q matches the case's own fields or one contact as a whole: the
    lexemes kept per case (cases.contact_search) only narrow the search,
    so words spread over several contacts, a phrase in the wrong order
    and negations answer as they would without them."""
    d = daemon
    a = agent.post("/api/v1/cases", json=body(
        subject="Parkering", text="Min nabo parkerer foran min indkørsel.")
    ).json()
    b = agent.post("/api/v1/cases", json=body(
        subject="Storskrald", text="Hvornår hentes storskrald?")).json()
    # A note is a contact that does not come through intake.
    r = agent.post(f"/api/v1/cases/{a['id']}/notes",
                   json={"text": "Byggesagen om carporten er sendt videre."})
    assert r.status_code == 201, r.text
    note = r.json()["id"]

    def ids(q):
        r = agent.get("/api/v1/cases", params={"q": q})
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["items"]]

    assert ids("carporte") == [a["id"]]
    assert ids("nabo parkerer") == [a["id"]]
    # Both words are on the case, but no one contact has both.
    assert ids("indkørsel carport") == []
    assert ids("parkering byggesag") == []
    # A phrase needs the order of the text.
    assert ids('"nabo parkerer"') == [a["id"]]
    assert ids('"parkerer nabo"') == []
    # Negations: a contact (or the case itself) without the word is enough.
    assert ids("-carport") == [b["id"], a["id"]]
    assert ids("carport -indkørsel") == [a["id"]]
    assert ids("storskrald -storskrald") == []
    assert ids("storskrald or carport") == [b["id"], a["id"]]
    # Only stop words: nothing to look for.
    assert ids("og") == []
    # A contact moved to another case is found there, and no longer here.
    sql(d, "UPDATE contacts SET case_id = %s WHERE id = %s", (b["id"], note))
    assert ids("carport") == [b["id"]]
    assert ids("storskrald carport") == []


def overflowed(d, case_id):
    return sql(d, "SELECT contact_search = %s::tsvector FROM cases"
                  " WHERE id = %s", ("'ktd overflow'", case_id))[0][0]


def test_search_case_with_huge_texts(daemon, agent):
    """A case whose contacts hold more distinct words than one tsvector
    takes (1 MB) is marked instead, and is still found by any of them."""
    d = daemon
    other = agent.post("/api/v1/cases", json=body(subject="Lille sag")).json()
    c = agent.post("/api/v1/cases", json=body(subject="Stor sag",
                                              citizen={"name": "Ib"})).json()
    # Twice 6 contacts of 3,000 distinct 32-letter words each.
    for first in (1, 7):
        sql(d, "INSERT INTO contacts (case_id, channel, direction, body)"
               " SELECT %s, 'note', 'internal', (SELECT string_agg("
               "  md5(k || ':' || w), ' ') FROM generate_series(1, 3000) w)"
               " FROM generate_series(%s::integer, %s) k",
               (c["id"], first, first + 5))
    assert overflowed(d, c["id"])
    word = hashlib.md5(b"9:2999").hexdigest()

    def ids(q):
        r = agent.get("/api/v1/cases", params={"q": q})
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["items"]]

    assert ids(word) == [c["id"]]
    assert ids(f"{word} storskrald") == []
    assert ids("storskrald") == [c["id"], other["id"]]
    # More contacts leave the mark alone.
    r = agent.post(f"/api/v1/cases/{c['id']}/notes", json={"text": "Rykker"})
    assert r.status_code == 201, r.text
    assert overflowed(d, c["id"])
    assert ids("rykker") == [c["id"]]


@pytest.mark.parametrize("param,value", [
    ("status", "pending"), ("status", ""), ("department_id", "0"),
    ("department_id", "x"), ("department_id", "-1"),
    ("department_id", "99999999999999999999"), ("assignee_id", "you"),
    ("channel", "fax"), ("created_from", "2026-02-30T00:00:00Z"),
    ("created_to", "yesterday"), ("created_to", "2026-01-01"),
    ("limit", "0"), ("limit", "101"), ("limit", "ten"), ("limit", "-5"),
    ("cursor", "garbage!"), ("cursor", base64.urlsafe_b64encode(
        b"1:0").decode().rstrip("=")), ("q", "x" * 201),
])
def test_bad_query_params(daemon, agent, param, value):
    r = agent.get("/api/v1/cases", params={param: value})
    assert r.status_code == 400, r.text
    assert f"'{param}'" in r.json()["error"]["message"]


def test_assignee_me_needs_a_session(daemon, ctl):
    d = daemon
    tok = new_token(ctl, d, "reader", "read")
    r = d.get("/api/v1/cases", params={"assignee_id": "me"},
              headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 400 and "assignee_id" in r.text


BAD_BODIES = [
    # (raw body or json, status, text the message must hold)
    (b"{", 400, ""),
    (b"[]", 400, ""),
    (b'{"channel": "phone", "text": "a", "text": "b"}', 400, ""),
    (b'{"channel": "phone", "text": "\xff\xfe"}', 400, ""),
    ({"text": "x"}, 422, "channel"),
    ({"channel": "phone"}, 422, "text"),
    ({"channel": "email", "text": "x"}, 422, "channel"),
    ({"channel": 7, "text": "x"}, 422, "channel"),
    ({"channel": "phone", "text": ["x"]}, 422, "text"),
    ({"channel": "phone", "text": "x", "colour": "red"}, 422, "colour"),
    ({"channel": "phone", "text": "x" * 65537}, 422, "text"),
    ({"channel": "phone", "text": "x", "subject": "s" * 501}, 422,
     "subject"),
    ({"channel": "phone", "text": "x", "subject": "a\nb"}, 422, "subject"),
    ({"channel": "phone", "text": "a\u0000b"}, 400, "u0000"),
    ({"channel": "phone", "text": "x", "department_id": "1"}, 422,
     "department_id"),
    ({"channel": "phone", "text": "x", "department_id": 0}, 422,
     "department_id"),
    ({"channel": "phone", "text": "x", "external_id": ""}, 422,
     "external_id"),
    ({"channel": "phone", "text": "x", "external_id": "e" * 201}, 422,
     "external_id"),
    ({"channel": "phone", "text": "x", "case_reference": "abc"}, 422,
     "case_reference"),
    ({"channel": "phone", "text": "x", "citizen": "Jens"}, 422, "citizen"),
    ({"channel": "phone", "text": "x", "citizen": {"age": 3}}, 422, "age"),
    ({"channel": "phone", "text": "x", "citizen": {"cpr": "010170-1234"}},
     422, "cpr"),
    ({"channel": "phone", "text": "x", "citizen": {"cpr": "01017012ab"}},
     422, "cpr"),
    ({"channel": "phone", "text": "x", "citizen": {"cvr": "1234"}}, 422,
     "cvr"),
    ({"channel": "phone", "text": "x", "citizen": {"phone": "ring mig"}},
     422, "phone"),
    ({"channel": "phone", "text": "x", "citizen": {"email": "nope"}}, 422,
     "email"),
    ({"channel": "phone", "text": "x", "citizen": {"name": "n" * 201}},
     422, "name"),
    ({"channel": "phone", "text": "x", "citizen": {"name": 5}}, 422, "name"),
]


@pytest.mark.parametrize("payload,status,field", BAD_BODIES)
def test_bad_bodies(daemon, agent, payload, status, field):
    d = daemon
    if isinstance(payload, bytes):
        r = agent.post("/api/v1/cases", data=payload,
                       headers={"Content-Type": "application/json"})
    else:
        r = agent.post("/api/v1/cases", json=payload)
    assert r.status_code == status, r.text
    assert field in r.json()["error"]["message"]
    assert counts(d) == (0, 0)
    assert sql(d, "SELECT count(*) FROM audit_log"
                  " WHERE case_id IS NOT NULL")[0][0] == 0


def test_bad_content_type_and_oversize(daemon, agent):
    d = daemon
    r = agent.post("/api/v1/cases", data="channel=phone",
                   headers={"Content-Type":
                            "application/x-www-form-urlencoded"})
    assert r.status_code == 415
    r = agent.post("/api/v1/cases", json=body(text="x" * (2 << 20)))
    assert r.status_code == 413
    assert counts(d) == (0, 0)


def test_sql_metacharacters_stored_verbatim(daemon, agent):
    nasty = "Robert'); DROP TABLE cases; -- \\ % _ $1 \"x\" ' OR 1=1"
    r = agent.post("/api/v1/cases", json=body(
        subject=nasty, text=nasty, external_id=nasty,
        citizen={"name": nasty}))
    assert r.status_code == 201, r.text
    c = agent.get(r.headers["Location"]).json()
    assert c["subject"] == nasty and c["citizen"]["name"] == nasty
    assert c["contacts"][0]["text"] == nasty
    assert c["contacts"][0]["external_id"] == nasty
    r2 = agent.post("/api/v1/cases", json=body(external_id=nasty))
    assert r2.status_code == 200


def test_authorisation(daemon, ctl):
    d = daemon
    reader = new_token(ctl, d, "reader", "read")
    cti = new_token(ctl, d, "phone", "cti:write")
    admin = new_token(ctl, d, "boss", "admin")
    a = Client(d, "agnete")
    c = a.post("/api/v1/cases", json=body(citizen={"cpr": CPR})).json()
    path = f"/api/v1/cases/{c['id']}"

    for method, p in (("GET", "/api/v1/cases"), ("GET", path),
                      ("POST", "/api/v1/cases")):
        r = d.request(method, p, json=body())
        assert r.status_code == 401, (method, p)
        r = d.request(method, p, json=body(),
                      headers={"Authorization": f"Bearer {cti}"})
        assert r.status_code == 403, (method, p)
        r = d.request(method, p, json=body(),
                      headers={"Authorization": "Bearer ktd_" + "A" * 43})
        assert r.status_code == 401, (method, p)

    hdr = {"Authorization": f"Bearer {reader}"}
    assert d.get("/api/v1/cases", headers=hdr).status_code == 200
    r = d.get(path, headers=hdr)
    assert r.status_code == 200 and r.json()["citizen"]["cpr"] == "010170-XXXX"
    # Creating by hand is for people: no token may.
    r = d.request("POST", "/api/v1/cases", json=body(), headers=hdr)
    assert r.status_code == 403
    r = d.request("POST", "/api/v1/cases", json=body(),
                  headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 403
    r = d.get(path, headers={"Authorization": f"Bearer {admin}"})
    assert r.json()["citizen"]["cpr"] == CPR
    # A session without the CSRF token may read but not create.
    s = requests.Session()
    s.cookies.update(a.s.cookies)
    assert s.get(d.url(path), timeout=10).status_code == 200
    assert s.post(d.url("/api/v1/cases"), json=body(),
                  timeout=10).status_code == 403
    assert counts(d) == (1, 1)
    # Token reads are audited under the token.
    rows = sql(d, "SELECT t.name FROM audit_log l"
                  " JOIN api_tokens t ON t.id = l.actor_token_id"
                  " WHERE l.action = 'read' ORDER BY l.id")
    assert rows == [("reader",), ("boss",)]


def patch(client, path, payload, **headers):
    return client.s.patch(client.d.url(path), json=payload, headers=headers,
                          timeout=10)


def test_patch_with_versions(daemon, agent):
    d = daemon
    dept = new_department(d, "Byggeri")
    c = agent.post("/api/v1/cases", json=body()).json()
    path = f"/api/v1/cases/{c['id']}"
    r = agent.get(path)
    assert r.headers["ETag"] == '"1"'

    r = patch(agent, path, {"category": "Affald", "department_id": dept,
                            "assignee_id": agent.user_id,
                            "subject": "Storskrald"}, **{"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["category"], got["department_id"], got["assignee_id"],
            got["subject"], got["version"]) == \
        ("Affald", dept, agent.user_id, "Storskrald", 2)
    assert r.headers["ETag"] == '"2"'

    # Someone else still at version 1 loses, and is shown the winner.
    sup = Client(d, "sofus")
    r = patch(sup, path, {"subject": "Andet", "version": 1})
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "conflict"
    assert r.json()["case"]["subject"] == "Storskrald"
    assert r.json()["case"]["version"] == 2

    # null clears; absent fields stay.
    r = patch(agent, path, {"assignee_id": None, "category": None,
                            "version": 2})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["assignee_id"] is None and got["category"] is None
    assert got["department_id"] == dept and got["version"] == 3

    # Two at once on the same version: exactly one wins.
    def attempt(i):
        return patch(agent if i % 2 else sup, path,
                     {"subject": f"forsøg {i}", "version": 3})

    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        rs = list(ex.map(attempt, range(6)))
    assert sorted(r.status_code for r in rs) == [200] + [409] * 5
    assert sql(d, "SELECT version FROM cases WHERE id = %s",
               (c["id"],)) == [(4,)]
    assert sql(d, "SELECT count(*) FROM audit_log WHERE action = 'update'"
                  " AND case_id = %s", (c["id"],)) == [(3,)]


@pytest.mark.parametrize("payload,headers,status,field", [
    ({"subject": "x"}, {}, 422, "version"),
    ({"subject": "x"}, {"If-Match": "abc"}, 400, "If-Match"),
    ({"subject": "x"}, {"If-Match": '"0"'}, 400, "If-Match"),
    ({"subject": "x", "version": "1"}, {}, 422, "version"),
    ({"subject": "x", "version": 0}, {}, 422, "version"),
    ({"subject": None, "version": 1}, {}, 422, "subject"),
    ({"subject": "a\tb", "version": 1}, {}, 422, "subject"),
    ({"category": "k" * 101, "version": 1}, {}, 422, "category"),
    ({"status": "closed", "version": 1}, {}, 422, "status"),
    ({"department_id": 999999, "version": 1}, {}, 422, "department_id"),
    ({"assignee_id": 999999, "version": 1}, {}, 422, "assignee_id"),
    ({"assignee_id": "me", "version": 1}, {}, 422, "assignee_id"),
])
def test_patch_bad_input(daemon, agent, payload, headers, status, field):
    d = daemon
    c = agent.post("/api/v1/cases", json=body()).json()
    r = patch(agent, f"/api/v1/cases/{c['id']}", payload, **headers)
    assert r.status_code == status, r.text
    assert field in r.json()["error"]["message"]
    assert sql(d, "SELECT version, subject FROM cases") == \
        [(1, "Spørgsmål om affald")]


def test_patch_authorisation(daemon, ctl, agent):
    d = daemon
    c = agent.post("/api/v1/cases", json=body()).json()
    path = f"/api/v1/cases/{c['id']}"
    assert patch(agent, "/api/v1/cases/999999",
                 {"version": 1}).status_code == 404
    assert d.request("PATCH", path, json={"version": 1}).status_code == 401
    admin = new_token(ctl, d, "boss", "admin")
    r = d.request("PATCH", path, json={"version": 1},
                  headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 403
    s = requests.Session()
    s.cookies.update(agent.s.cookies)
    assert s.patch(d.url(path), json={"version": 1},
                   timeout=10).status_code == 403


def test_thread_window_setting(kontaktd, ctl):
    d = kontaktd(config={"intake": {"thread_window": "1s"}})
    add_user(ctl, d, "agnete")
    a = Client(d, "agnete")
    first = a.post("/api/v1/cases", json=body(
        citizen={"phone": "55667788"})).json()
    assert a.post("/api/v1/cases", json=body(
        citizen={"phone": "55667788"})).json()["id"] == first["id"]
    sql(d, "UPDATE cases SET last_contact_at = now() - interval '2 s'")
    assert a.post("/api/v1/cases", json=body(
        citizen={"phone": "55667788"})).json()["id"] != first["id"]

    off = kontaktd(config={"intake": {"thread_window": "0"}})
    add_user(ctl, off, "agnete")
    b = Client(off, "agnete")
    ids = {b.post("/api/v1/cases", json=body(
        citizen={"phone": "55667788"})).json()["id"] for _ in range(2)}
    assert len(ids) == 2
