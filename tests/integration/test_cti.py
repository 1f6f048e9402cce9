# SPDX-License-Identifier: MPL-2.0
"""The phone channel's native webhook, POST /api/v1/cti/events: every call
becomes one contact on a case, its state derived from all its events;
repeats change nothing, any order gives the same call, a batch is
all-or-nothing per event, and bad events are refused naming the field
while the rest of the batch is kept."""

import datetime
import itertools
import json
import threading

import pytest

from test_auth import add_user, new_token
from test_cases import Client
from utils import wait_until


def sql(d, q, params=None):
    return d.cluster.sql(q, params, dbname=d.db)


@pytest.fixture
def env(kontaktd, ctl):
    d = kontaktd()
    add_user(ctl, d, "agnete")
    return d, {"Authorization": "Bearer " + new_token(ctl, d, "pbx",
                                                      "cti:write")}


def post(d, hdr, payload):
    return d.request("POST", "/api/v1/cti/events", json=payload, headers=hdr)


def ev(call_id, event, at, **kw):
    e = {"call_id": call_id, "event": event,
         "at": f"2026-03-02T09:{at // 60:02d}:{at % 60:02d}Z"}
    e.update(kw)
    return e


ANSWERED = [
    ev("c1", "offered", 0, **{"from": "36 37 38 39", "to": "+4536373800",
                              "direction": "in", "queue": "1"}),
    ev("c1", "queued", 2, queue="1"),
    ev("c1", "answered", 35, agent="agnete"),
    ev("c1", "transferred", 60, target="4711"),
    ev("c1", "ended", 71, cause="normalClearing"),
]


def call_row(d, call_id):
    rows = sql(d, "SELECT state, outcome, wait_ms, talk_ms, answered_by,"
                  " transferred_to, queue, from_number, to_number,"
                  " direction, transfers FROM calls WHERE call_id = %s",
               (call_id,))
    return rows[0] if rows else None


def tables(d):
    return sql(d, "SELECT (SELECT count(*) FROM cases),"
                  " (SELECT count(*) FROM contacts),"
                  " (SELECT count(*) FROM calls),"
                  " (SELECT count(*) FROM call_events)")[0]


def test_inbound_call(env):
    d, hdr = env
    with d.cluster.connect(d.db) as conn:
        conn.execute("LISTEN kontaktd")
        first = post(d, hdr, ANSWERED[0])
        assert first.status_code == 201, first.text
        got = first.json()
        assert got["status"] == "stored" and got["state"] == "offered"
        assert got["call_id"] == "c1"
        for e in ANSWERED[1:]:
            r = post(d, hdr, e)
            assert r.status_code == 201, r.text
        notes = []

        def collect():
            for n in itertools.islice(conn.notifies(), 4):
                p = json.loads(n.payload)
                notes.append((p["type"], p["count"]))

        # This psycopg's notifies() has no timeout: wait in a thread.
        t = threading.Thread(target=collect, daemon=True)
        t.start()
        t.join(5)
    # One NOTIFY a transaction, naming its last event: the first event's
    # transaction wrote the new case's event and the call's.
    assert notes == [("call.offered", 2), ("call.queued", 1),
                     ("call.answered", 1), ("call.ended", 1)]
    assert [t for (t,) in sql(d, "SELECT type FROM live_events ORDER BY id")] \
        == ["case.created", "call.offered", "call.queued", "call.answered",
            "call.ended"]
    assert r.json()["state"] == "ended"
    assert call_row(d, "c1") == ("ended", "transferred", 35000, 36000,
                                 "agnete", "4711", "1", "+4536373839",
                                 "+4536373800", "in", 1)
    assert tables(d) == (1, 1, 1, 5)
    # The case of the caller, with the call on its contact.
    a = Client(d, "agnete")
    c = a.get(f"/api/v1/cases/{got['case_id']}").json()
    assert c["citizen"]["phone"] == "+4536373839"
    (ct,) = c["contacts"]
    assert ct["channel"] == "phone" and ct["external_id"] == "c1"
    assert ct["occurred_at"] == "2026-03-02T09:00:00Z"
    assert ct["from"] == "+4536373839"
    call = ct["call"]
    assert call["outcome"] == "transferred"
    assert call["wait_seconds"] == 35 and call["talk_seconds"] == 36
    assert call["answered_at"] == "2026-03-02T09:00:35Z"
    assert call["ended_at"] == "2026-03-02T09:01:11Z"
    # A token posted it: the case's creation is audited under it.
    assert sql(d, "SELECT t.name FROM audit_log l JOIN api_tokens t"
                  " ON t.id = l.actor_token_id WHERE action = 'create'") == \
        [("pbx",)]


def test_repeats_change_nothing(env):
    d, hdr = env
    for e in ANSWERED:
        assert post(d, hdr, e).status_code == 201
    before = (tables(d), call_row(d, "c1"))
    for e in ANSWERED:
        r = post(d, hdr, e)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "duplicate"
    assert (tables(d), call_row(d, "c1")) == before


@pytest.mark.parametrize("order", [
    (4, 3, 2, 1, 0), (2, 0, 4, 1, 3), (4, 0, 1, 2, 3), (1, 2, 3, 4, 0)])
def test_any_order_same_call(env, order):
    d, hdr = env
    for i in order:
        e = dict(ANSWERED[i])
        assert post(d, hdr, e).status_code == 201
    assert call_row(d, "c1") == ("ended", "transferred", 35000, 36000,
                                 "agnete", "4711", "1", "+4536373839",
                                 "+4536373800", "in", 1)
    assert sql(d, "SELECT occurred_at = '2026-03-02T09:00:00Z'"
                  " FROM contacts") == [(True,)]


def test_concurrent_events_of_one_call(env):
    """Every event of a call at once, on several connections: one call,
    one contact, the same end state."""
    d, hdr = env
    results = []

    def send(e):
        results.append(post(d, hdr, e).status_code)

    threads = [threading.Thread(target=send, args=(e,))
               for e in ANSWERED * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200] * 5 + [201] * 5
    assert tables(d) == (1, 1, 1, 5)
    assert call_row(d, "c1")[:2] == ("ended", "transferred")


def test_simultaneous_first_calls_of_a_new_caller(env):
    """Several first calls of one new number at the same moment (a caller
    on two lines, a PBX retrying on another leg): one case, not one each."""
    d, hdr = env
    n = 6
    barrier = threading.Barrier(n)
    results = []

    def send(i):
        barrier.wait()
        results.append(post(d, hdr, ev(f"s{i}", "offered", i, **{
            "from": "+4570112233"})).status_code)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [201] * n
    assert sql(d, "SELECT count(*), count(DISTINCT case_id) FROM contacts") \
        == [(n, 1)]
    assert sql(d, "SELECT count(*) FROM cases") == [(1,)]


def test_number_that_comes_late_threads_the_call(env):
    """The answer (no number) arrives before the offer (the number): the
    call first makes a case of its own, and when the number comes it joins
    the caller's open case, the case it made closed as merged into it."""
    d, hdr = env
    assert post(d, hdr, ev("h1", "offered", 0, **{
        "from": "+4531313131"})).status_code == 201
    first_case = sql(d, "SELECT id FROM cases")[0][0]
    assert post(d, hdr, ev("h2", "answered", 300,
                           agent="agnete")).status_code == 201
    (own,) = sql(d, "SELECT case_id FROM contacts WHERE external_id = 'h2'")
    assert own[0] != first_case
    assert post(d, hdr, ev("h2", "offered", 290, **{
        "from": "31 31 31 31", "direction": "in"})).status_code == 201
    assert sql(d, "SELECT case_id FROM contacts WHERE external_id = 'h2'") \
        == [(first_case,)]
    assert sql(d, "SELECT status, resolution, merged_into_id FROM cases"
                  " WHERE id = %s", (own[0],)) == \
        [("closed", "duplicate", first_case)]
    assert call_row(d, "h2")[7] == "+4531313131"

    # No open case of the caller: the call's case takes the number, and
    # the caller's next call finds it.
    assert post(d, hdr, ev("h3", "ended", 500,
                           cause="cancel")).status_code == 201
    assert post(d, hdr, ev("h3", "offered", 480, **{
        "from": "+4542424242"})).status_code == 201
    (h3_case,) = sql(d, "SELECT case_id FROM contacts"
                        " WHERE external_id = 'h3'")[0]
    assert sql(d, "SELECT citizen_phone, status FROM cases WHERE id = %s",
               (h3_case,)) == [("+4542424242", "new")]
    assert post(d, hdr, ev("h4", "offered", 900, **{
        "from": "42424242"})).status_code == 201
    assert sql(d, "SELECT case_id FROM contacts WHERE external_id = 'h4'") \
        == [(h3_case,)]


def test_abandoned_and_caller_history(env):
    d, hdr = env
    for e in (ev("a1", "offered", 0, **{"from": "+4512345678"}),
              ev("a1", "ended", 42, cause="cancel")):
        assert post(d, hdr, e).status_code == 201
    assert call_row(d, "a1")[:4] == ("ended", "abandoned", 42000, None)
    # The same caller again: the open case gets the call.
    r = post(d, hdr, ev("a2", "offered", 600, **{"from": "12345678"}))
    assert r.status_code == 201
    assert sql(d, "SELECT count(*), count(DISTINCT case_id) FROM contacts") \
        == [(2, 1)]
    # A withheld number opens a case of its own, without a phone.
    r = post(d, hdr, ev("a3", "offered", 700, **{"from": "anonymous"}))
    assert r.status_code == 201
    assert sql(d, "SELECT citizen_phone FROM cases ORDER BY id") == \
        [("+4512345678",), (None,)]


def test_outbound_call(env):
    d, hdr = env
    for e in (ev("o1", "offered", 0, **{"from": "201", "to": "+4522334455",
                                        "direction": "out"}),
              ev("o1", "answered", 9, agent="201"),
              ev("o1", "ended", 99)):
        assert post(d, hdr, e).status_code == 201
    assert call_row(d, "o1")[:2] == ("ended", "answered")
    assert sql(d, "SELECT c.citizen_phone, ct.direction FROM cases c"
                  " JOIN contacts ct ON ct.case_id = c.id") == \
        [("+4522334455", "out")]


def test_a_repeat_is_the_same_instant_however_written(env):
    """An event is a repeat when it happened at the same instant, whatever
    offset or digits its time is written with; seven fractional digits
    are rounded to the microsecond as PostgreSQL stores them."""
    d, hdr = env
    first = ev("t1", "offered", 0, **{"from": "+4536373839"})
    first["at"] = "2026-03-02T10:00:00.25+01:00"
    assert post(d, hdr, first).status_code == 201
    for at in ("2026-03-02T09:00:00.250000Z", "2026-03-02T04:30:00.25-04:30",
               "2026-03-02T09:00:00.2500001Z"):
        r = post(d, hdr, dict(first, at=at))
        assert r.status_code == 200 and r.json()["status"] == "duplicate", at
    answered = ev("t1", "answered", 0, agent="agnete")
    answered["at"] = "2026-03-02T09:00:10.0000004Z"
    r = post(d, hdr, [answered, dict(answered, at="2026-03-02T09:00:10Z")])
    assert [x["status"] for x in r.json()["results"]] == ["stored",
                                                          "duplicate"]
    assert sql(d, "SELECT wait_ms FROM calls WHERE call_id = 't1'") == \
        [(9750,)]


def test_batch(env):
    d, hdr = env
    batch = [ANSWERED[0], {"call_id": "x", "event": "ringing",
                           "at": "2026-03-02T09:00:00Z"},
             ANSWERED[2], "not an object", ANSWERED[0]]
    r = post(d, hdr, batch)
    assert r.status_code == 207, r.text
    got = r.json()
    assert got["accepted"] == 3 and got["rejected"] == 2
    res = got["results"]
    assert [x["index"] for x in res] == [0, 1, 2, 3, 4]
    assert [x["status"] for x in res] == ["stored", "rejected", "stored",
                                          "rejected", "duplicate"]
    assert "'event'" in res[1]["error"]["message"]
    assert res[1]["call_id"] == "x" and res[1]["error"]["code"]
    assert res[2]["state"] == "answered"
    assert tables(d) == (1, 1, 1, 2)
    r = post(d, hdr, ANSWERED[3:])
    assert r.status_code == 200 and r.json()["accepted"] == 2
    assert call_row(d, "c1")[1] == "transferred"


def test_batch_is_one_transaction(env):
    """A batch's good events are taken in together, in one transaction;
    the whole of a call in one batch ends in the right state."""
    d, hdr = env
    r = post(d, hdr, ANSWERED + [ev("c2", "offered", 3, **{
        "from": "+4540506070", "to": "+4536373800"}), ev("c2", "ended", 9)])
    assert r.status_code == 200, r.text
    assert [x["status"] for x in r.json()["results"]] == ["stored"] * 7
    assert call_row(d, "c1")[:2] == ("ended", "transferred")
    assert call_row(d, "c2")[:2] == ("ended", "abandoned")
    assert tables(d) == (2, 2, 2, 7)
    assert sql(d, "SELECT count(*) FROM live_events WHERE call_id IS NOT"
                  " NULL") == [(6,)]
    # Written by one transaction.
    assert sql(d, "SELECT count(DISTINCT xmin::text) FROM (SELECT xmin"
                  " FROM call_events UNION ALL SELECT xmin FROM contacts"
                  " UNION ALL SELECT xmin FROM calls) x") == [(1,)]


def refuse_agent(d, agent, errcode=None):
    """A trigger that makes the database refuse every call event by agent
    (errcode: its SQLSTATE's name; default an internal error)."""
    using = f" USING ERRCODE = '{errcode}'" if errcode else ""
    sql(d, "CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql"
           f" AS $$ BEGIN IF NEW.agent = '{agent}' THEN"
           f" RAISE EXCEPTION 'refused by the test'{using}; END IF;"
           " RETURN NEW; END $$")
    sql(d, "CREATE TRIGGER test_refuse BEFORE INSERT ON call_events"
           " FOR EACH ROW EXECUTE FUNCTION test_refuse()")


def test_batch_failing_in_the_database_keeps_the_others(env):
    """An event that passes its checks but that the database refuses: the
    batch is taken in again one event at a time, so only that event is
    refused and the others are stored."""
    d, hdr = env
    refuse_agent(d, "boom")
    mark = d.log_mark()
    batch = [ANSWERED[0], ANSWERED[1], ev("c1", "answered", 35,
                                          agent="boom"), ANSWERED[4]]
    r = post(d, hdr, batch)
    assert r.status_code == 207, r.text
    res = r.json()["results"]
    assert [x["status"] for x in res] == ["stored", "stored", "rejected",
                                          "stored"]
    assert res[2]["error"]["code"] == "internal_error"
    assert "refused by the test" not in r.text
    assert call_row(d, "c1")[:2] == ("ended", "abandoned")
    assert tables(d) == (1, 1, 1, 3)
    d.wait_for_log(r"event=cti_batch_one_by_one events=4", start=mark)


def test_events_stored_meanwhile_by_another_writer_fail_the_commit(env):
    """The new events' statement goes in one round trip with the COMMIT: if
    it writes fewer events than the batch found new (a writer without the
    call's lock stored one meanwhile; here a trigger drops one), it fails,
    the COMMIT does not run and nothing of the transaction stays; taken in
    one by one, only that event is refused, as a conflict to send again."""
    d, hdr = env
    sql(d, "CREATE FUNCTION test_drop() RETURNS trigger LANGUAGE plpgsql"
           " AS $$ BEGIN IF NEW.agent = 'lost' THEN RETURN NULL; END IF;"
           " RETURN NEW; END $$")
    sql(d, "CREATE TRIGGER test_drop BEFORE INSERT ON call_events"
           " FOR EACH ROW EXECUTE FUNCTION test_drop()")
    mark = d.log_mark()
    r = post(d, hdr, [ANSWERED[0], ev("c1", "answered", 35, agent="lost")])
    assert r.status_code == 503, r.text
    assert r.headers["Retry-After"] == "1"
    res = r.json()["results"]
    assert [x["status"] for x in res] == ["stored", "rejected"]
    assert res[1]["error"]["code"] == "conflict"
    assert tables(d) == (1, 1, 1, 1)
    assert call_row(d, "c1")[0] == "offered"
    d.wait_for_log(r"event=cti_batch_one_by_one events=2 code=conflict",
                   start=mark)


def test_crossing_batches_do_not_deadlock(env):
    """Batches that carry the same calls in opposite orders, at once: every
    event stored once, no batch refused (the calls' locks are taken in one
    order)."""
    d, hdr = env
    calls = [f"x{i}" for i in range(12)]
    forward = [ev(c, "offered", i, **{"from": f"+45{20000000 + i}",
                                     "to": "+4536373800"})
               for i, c in enumerate(calls)]
    later = [ev(c, "ended", 50 + i) for i, c in enumerate(calls)]
    bodies = [forward + later, list(reversed(later)) +
              list(reversed(forward))] * 3
    answers = [None] * len(bodies)
    mark = d.log_mark()

    def send(k):
        answers[k] = post(d, hdr, bodies[k])

    threads = [threading.Thread(target=send, args=(k,))
               for k in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a in answers:
        assert a.status_code == 200, a.text
    assert tables(d) == (12, 12, 12, 24)
    assert all(call_row(d, c)[0] == "ended" for c in calls)
    assert "cti_batch_one_by_one" not in d.log(mark)


@pytest.mark.parametrize("patch,field", [
    ({"call_id": None}, "call_id"),
    ({"call_id": ""}, "call_id"),
    ({"call_id": "x" * 201}, "call_id"),
    ({"call_id": "a\nb"}, "call_id"),
    ({"call_id": 17}, "call_id"),
    ({"event": None}, "event"),
    ({"event": "newCall"}, "event"),
    ({"at": None}, "at"),
    ({"at": "yesterday"}, "at"),
    ({"at": "2026-02-30T10:00:00Z"}, "at"),
    ({"from": "12ab"}, "from"),
    ({"to": "1234567"}, "to"),
    ({"to": 12345678}, "to"),
    ({"direction": "sideways"}, "direction"),
    ({"queue": "q" * 65}, "queue"),
    ({"agent": "a\u0007b"}, "agent"),
    ({"cause": 5}, "cause"),
    ({"colour": "blue"}, "colour"),
    ({"call_id": "'; DROP TABLE calls; --", "event": "bogus"}, "event"),
])
def test_bad_events(env, patch, field):
    d, hdr = env
    e = dict(ANSWERED[0])
    for k, v in patch.items():
        if v is None:
            e.pop(k)
        else:
            e[k] = v
    r = post(d, hdr, e)
    assert r.status_code == 422, r.text
    assert field in r.json()["error"]["message"]
    # In a batch, the good event beside it is kept.
    r = post(d, hdr, [e, ANSWERED[0]])
    assert r.status_code == 207
    assert field in r.json()["results"][0]["error"]["message"]
    assert tables(d) == (1, 1, 1, 1)


def test_bad_bodies(env):
    d, hdr = env
    for payload, status in (([], 422), ([ANSWERED[0]] * 1001, 422),
                            (5, 422), ("x", 422)):
        assert post(d, hdr, payload).status_code == status
    h = dict(hdr, **{"Content-Type": "application/json"})
    for raw in (b"{", b"[{]", b'{"call_id": "\xff"}'):
        r = d.request("POST", "/api/v1/cti/events", data=raw, headers=h)
        assert r.status_code == 400, raw
    r = d.request("POST", "/api/v1/cti/events", data=b"event=newCall",
                  headers=dict(hdr, **{"Content-Type":
                                       "application/x-www-form-urlencoded"}))
    assert r.status_code == 415
    assert tables(d) == (0, 0, 0, 0)


def test_authorisation(env, ctl):
    d, hdr = env
    reader = new_token(ctl, d, "reader", "read")
    admin = new_token(ctl, d, "boss", "admin")
    assert post(d, {}, ANSWERED[0]).status_code == 401
    assert post(d, {"Authorization": "Bearer " + reader},
                ANSWERED[0]).status_code == 403
    a = Client(d, "agnete")
    assert a.post("/api/v1/cti/events", json=ANSWERED[0]).status_code == 403
    assert tables(d) == (0, 0, 0, 0)
    assert post(d, {"Authorization": "Bearer " + admin},
                ANSWERED[0]).status_code == 201


def test_lost_hangup_closed_by_sweeper(env):
    """A call whose end never arrives is closed as end_unknown once its
    last event is older than [cti] end_unknown_after (the janitor runs at
    start, then every few minutes)."""
    d, hdr = env
    for e in ANSWERED[:3]:
        assert post(d, hdr, e).status_code == 201
    assert post(d, hdr, ev("fresh", "offered", 0)).status_code == 201
    sql(d, "UPDATE calls SET last_event_at = now() - interval '5 hours'"
           " WHERE call_id = 'c1'")
    mark = d.log_mark()
    d.stop()
    d.start()
    d.wait_ready()
    d.wait_for_log(r"event=janitor .*calls_ended_unknown=1", start=mark)
    assert call_row(d, "c1")[:4] == ("ended", "end_unknown", 35000, None)
    assert sql(d, "SELECT state FROM calls WHERE call_id = 'fresh'") == \
        [("offered",)]
    assert sql(d, "SELECT source, cause FROM call_events"
                  " WHERE event = 'ended'") == [("sweeper", "end_unknown")]
    # The real hangup arriving after all wins: it is the earlier end.
    assert post(d, hdr, ANSWERED[4]).status_code == 201
    assert call_row(d, "c1")[:4] == ("ended", "answered", 35000, 36000)


def test_end_call_by_hand(env, ctl):
    d, hdr = env
    for e in ANSWERED[:3]:
        assert post(d, hdr, e).status_code == 201
    a = Client(d, "agnete")
    assert d.request("POST", "/api/v1/calls/c1/end").status_code == 401
    assert d.request("POST", "/api/v1/calls/c1/end",
                     headers=hdr).status_code == 403
    r = a.post("/api/v1/calls/nope/end")
    assert r.status_code == 404
    r = a.post("/api/v1/calls/c1/end")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "ended"
    assert r.json()["outcome"] == "end_unknown"
    r = a.post("/api/v1/calls/c1/end")
    assert r.status_code == 409 and r.json()["call"]["outcome"] == \
        "end_unknown"
    assert sql(d, "SELECT source FROM call_events WHERE event = 'ended'") \
        == [("agent",)]


def now_plus(seconds):
    t = datetime.datetime.now(datetime.timezone.utc) + \
        datetime.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def forward_case(d, a, case_id):
    dept = sql(d, "INSERT INTO departments (name, queue_number)"
                  " VALUES ('Jobcenter', '4000') RETURNING id")[0][0]
    r = a.post(f"/api/v1/cases/{case_id}/forward",
               json={"department_id": dept, "method": "queue"})
    assert r.status_code == 200, r.text


def returned(d):
    return sql(d, "SELECT returned_at IS NOT NULL FROM forwards")


def test_caller_back_after_forward_is_a_return(env):
    """The seed's cykel-kald: the caller is back at the switchboard soon
    after being forwarded; the forward is marked returned."""
    d, hdr = env
    num = {"from": "+4520304050"}
    r = post(d, hdr, {"call_id": "k1", "event": "offered",
                      "at": now_plus(0), **num})
    case_id = r.json()["case_id"]
    a = Client(d, "agnete")
    forward_case(d, a, case_id)
    assert returned(d) == [(False,)]
    r = post(d, hdr, {"call_id": "k2", "event": "offered",
                      "at": now_plus(120), **num})
    assert r.json()["case_id"] == case_id
    assert returned(d) == [(True,)]
    f = a.get(f"/api/v1/cases/{case_id}/forwards").json()["items"][0]
    assert f["returned_at"] is not None
    # A third call does not mark it again (there is nothing left).
    post(d, hdr, {"call_id": "k3", "event": "offered", "at": now_plus(180),
                  **num})
    assert returned(d) == [(True,)]


def test_return_window(kontaktd, ctl):
    d = kontaktd(config={"cti": {"return_window": "1m"}})
    add_user(ctl, d, "agnete")
    hdr = {"Authorization": "Bearer " + new_token(ctl, d, "pbx",
                                                  "cti:write")}
    num = {"from": "+4520304050"}
    case_id = post(d, hdr, {"call_id": "w1", "event": "offered",
                            "at": now_plus(0), **num}).json()["case_id"]
    a = Client(d, "agnete")
    forward_case(d, a, case_id)
    # Back after the window: a new contact on the case, not a return.
    post(d, hdr, {"call_id": "w2", "event": "offered", "at": now_plus(600),
                  **num})
    assert returned(d) == [(False,)]
    # The phone system says so: always a return.
    post(d, hdr, {"call_id": "w2", "event": "transfer_returned",
                  "at": now_plus(660), "target": "4000"})
    assert returned(d) == [(True,)]
    assert sql(d, "SELECT returns FROM calls WHERE call_id = 'w2'") == \
        [(1,)]


# --- group commit of single events ------------------------------------------

def group_metrics(d):
    from test_metrics import scrape
    m = scrape(d)
    return (m["kontaktd_cti_group_transactions_total"],
            m['kontaktd_cti_group_events_total{result="grouped"}'],
            m['kontaktd_cti_group_events_total{result="alone"}'],
            m["kontaktd_cti_group_waiting"])


@pytest.fixture
def group_env(kontaktd, ctl):
    # Room for two blocked transactions, four waiting requests and the
    # test's own.
    d = kontaktd(config={"server": {"threads": "10"},
                         "database": {"pool_size": "10"}})
    add_user(ctl, d, "agnete")
    # A token for each request: its first use is seen in the database.
    return d, [new_token(ctl, d, f"pbx{k}", "cti:write") for k in range(6)]


def hold_calls(d, *call_ids):
    """A transaction that holds the locks kontaktd takes for these calls:
    a group with one of them waits for its end."""
    conn = d.cluster.connect(d.db, autocommit=False)
    for c in call_ids:
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                     ("cti:" + c,))
    return conn


def wait_locked(d, n):
    wait_until(lambda: sql(d, "SELECT count(*) FROM pg_stat_activity"
                              " WHERE wait_event = 'advisory'")[0][0] >= n,
               10, f"{n} kontaktd transaction(s) waiting for a lock")


def send_all(d, tokens, events, answers, locked=0):
    """Sends each event on its own connection, thread and token, each after
    the one before is in kontaktd (an HTTP worker thread that accepted two
    connections at once would take them one after the other): the first
    `locked` wait in their transaction for a lock (hold_calls), the others
    have been authenticated (their token's first use)."""
    threads = []
    for k, e in enumerate(events):
        token = tokens[k]

        def send(k=k, e=e, token=token):
            answers[k] = post(d, {"Authorization": "Bearer " + token}, e)
        threads.append(threading.Thread(target=send))
        threads[-1].start()
        if k < locked:
            wait_locked(d, k + 1)
        else:
            wait_until(lambda: sql(d, "SELECT count(*) FROM api_tokens"
                                      " WHERE last_used_at IS NOT NULL")
                       [0][0] == k + 1, 10, f"request {k + 1} in kontaktd")
    return threads


def send_grouped(d, tokens, events):
    """The first two events' transactions (as many as may run at once)
    wait for locks the test holds on their calls, the others wait for a
    group meanwhile; then the locks go. Returns the answers, in order."""
    held = hold_calls(d, events[0]["call_id"], events[1]["call_id"])
    answers = [None] * len(events)
    threads = send_all(d, tokens, events, answers, locked=2)
    wait_until(lambda: group_metrics(d)[3] == len(events) - 2, 10,
               f"{len(events) - 2} events waiting for a group")
    held.commit()
    held.close()
    for t in threads:
        t.join()
    return answers


def test_single_events_of_concurrent_requests_share_a_transaction(group_env):
    """Single events that come while earlier ones are being taken in wait,
    and are then taken in together, in one transaction; each request gets
    its own event's answer."""
    d, tokens = group_env
    t0, g0, a0, _ = group_metrics(d)
    answers = send_grouped(d, tokens, [
        ev("g0", "offered", 0, **{"from": "+4520000000"}),
        ev("g1", "offered", 1, **{"from": "+4520000001"}),
        ev("g2", "offered", 2, **{"from": "+4520000002"}),
        ev("g3", "offered", 3, **{"from": "+4520000003"}),
        ev("g2", "ended", 9),
        ev("g2", "ended", 9)])
    more = answers[2:]
    assert [a.status_code for a in answers[:4]] == [201] * 4, \
        [a.text for a in answers]
    # The same event twice: whichever came first is stored.
    assert sorted((a.status_code, a.json()["status"], a.json().get("state"))
                  for a in more[2:]) == [(200, "duplicate", None),
                                         (201, "stored", "ended")]
    # Each request is answered with its own event's result.
    assert [a.json()["call_id"] for a in answers] == ["g0", "g1", "g2",
                                                      "g3", "g2", "g2"]
    assert {a.json()["case_id"] for a in answers[4:]} == {
        answers[2].json()["case_id"]}
    assert len({a.json()["case_id"] for a in answers[:4]}) == 4
    assert call_row(d, "g2")[:2] == ("ended", "abandoned")
    assert tables(d) == (4, 4, 4, 5)
    # The four waiting events: one transaction.
    assert sql(d, "SELECT count(DISTINCT e.xmin::text) FROM call_events e"
                  " JOIN calls c ON c.id = e.call_id"
                  " WHERE c.call_id IN ('g2', 'g3')") == [(1,)]
    t, g, a, w = group_metrics(d)
    assert (t - t0, g - g0, a - a0, w) == (3, 6, 0, 0)


def test_a_failing_group_takes_its_events_in_alone(group_env):
    """A group with an event the database refuses: each of its events is
    taken in again alone, so that only that one is refused."""
    d, tokens = group_env
    refuse_agent(d, "boom", errcode="check_violation")
    t0, g0, a0, _ = group_metrics(d)
    mark = d.log_mark()
    answers = send_grouped(d, tokens, [
        ev("h0", "offered", 0, **{"from": "+4521000000"}),
        ev("h1", "offered", 1, **{"from": "+4521000001"}),
        ev("h2", "offered", 2, **{"from": "+4521000002"}),
        ev("h2", "answered", 5, agent="boom"),
        ev("h3", "offered", 3, **{"from": "+4521000003"})])
    more = answers[2:]
    assert [a.status_code for a in answers] == [201, 201, 201, 422, 201]
    assert "refused by the test" not in more[1].text
    assert tables(d) == (4, 4, 4, 4)
    t, g, a, w = group_metrics(d)
    assert (t - t0, g - g0, a - a0, w) == (3, 5, 3, 0)
    d.wait_for_log(r"event=cti_group_one_by_one events=3", start=mark)
