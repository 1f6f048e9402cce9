# SPDX-License-Identifier: MPL-2.0
"""The live stream, GET /api/v1/events (Server-Sent Events): case and call
events as they commit, the screen pop of a call, several clients at once,
the replay of what a reconnecting client missed (Last-Event-ID), the
fan-out across two kontaktd processes on one database (LISTEN/NOTIFY), the
hub catching up after its connection was cut, authorisation, streams that
end with their credentials, a limit on streams, a client that falls behind,
and SIGTERM with streams open.

The client is a raw socket (SSEClient): every read has a deadline, and the
chunked body is decoded and parsed here, so that the test sees exactly what
a browser's EventSource would. Every event's data is checked against the
OpenAPI document's LiveEvent, LiveReady and LiveReload schemas."""

import json
import signal
import socket
import time

import pytest

import openapi_check
from test_auth import PASSWORD, add_user, new_token
from test_cases import Client
from utils import TimeoutExpired, notifications, wait_until

CPR = "0101701234"
CALLER = "+4536373839"


def sql(d, q, params=None):
    return d.cluster.sql(q, params, dbname=d.db)


# --- a raw EventSource ----------------------------------------------------

class SSEClient:
    """GET /api/v1/events over a raw socket. status and headers (lower-case
    names) are those of the answer; for a stream, next_event() parses the
    chunked body into events: {"id", "event", "data"} with data decoded
    from JSON. A non-200 answer's body is in body."""

    def __init__(self, d, headers=None, query="", timeout=10, method="GET",
                 rcvbuf=None):
        self.d = d
        self.target = "/api/v1/events" + query
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", d.port))
        hdrs = {"Host": f"127.0.0.1:{d.port}",
                "Accept": "text/event-stream"}
        hdrs.update(headers or {})
        req = f"{method} {self.target} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
        self.sock.sendall(req.encode("latin-1"))
        self.raw = b""          # bytes not yet decoded
        self.text = b""         # decoded body not yet parsed
        self.ended = False      # the last chunk came: a clean end
        self.closed = False     # the server closed the connection
        self.retry = None
        self.comments = []
        self.last_id = None
        self.body = b""
        self._head(timeout, method)

    def _recv(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutExpired("no data from the event stream in time")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        except socket.timeout:
            raise TimeoutExpired("no data from the event stream in "
                                 "time") from None
        if not data:
            self.closed = True
        self.raw += data
        return data

    def _head(self, timeout, method):
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.raw:
            if not self._recv(deadline):
                raise AssertionError(f"no answer: {self.raw!r}")
        head, _, self.raw = self.raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split(" ")[1])
        self.headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        if self.status != 200 or method == "HEAD":
            n = int(self.headers.get("content-length", "0"))
            while len(self.raw) < n and not self.closed:
                self._recv(deadline)
            self.body = self.raw[:n]
            self.close()
        openapi_check.observe(method, self.target, self.status, self.headers,
                              self.body if self.status != 200 else None)

    def _decode(self):
        """Moves whole chunks from raw to text."""
        while not self.ended:
            line, sep, rest = self.raw.partition(b"\r\n")
            if not sep:
                return
            size = int(line.split(b";")[0], 16)
            if len(rest) < size + 2:
                return
            if size == 0:
                self.ended = True
                return
            self.text += rest[:size]
            self.raw = rest[size + 2:]

    def _parse(self):
        """The next whole event of text, or None."""
        while b"\n\n" in self.text:
            block, _, self.text = self.text.partition(b"\n\n")
            ev = {"id": None, "event": "message", "data": []}
            for line in block.decode("utf-8").split("\n"):
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                    continue
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "retry":
                    self.retry = int(value)
                elif field == "id":
                    ev["id"] = int(value)
                    self.last_id = ev["id"]
                elif field == "event":
                    ev["event"] = value
                elif field == "data":
                    ev["data"].append(value)
            if ev["data"]:
                ev["data"] = json.loads("\n".join(ev["data"]))
                return ev
        return None

    def next_event(self, timeout=10):
        """The next event; None when the stream ended or was closed."""
        deadline = time.monotonic() + timeout
        while True:
            self._decode()
            ev = self._parse()
            if ev:
                return ev
            if self.ended or self.closed:
                return None
            self._recv(deadline)

    def until(self, event, timeout=10):
        """Events up to and including the first of this name."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            ev = self.next_event(max(0.01, deadline - time.monotonic()))
            assert ev is not None, f"stream ended before {event}: {got}"
            got.append(ev)
            if ev["event"] == event:
                return got

    def wait_end(self, timeout=10):
        """Reads until the stream ends; returns the events read."""
        got = []
        while True:
            ev = self.next_event(timeout)
            if ev is None:
                return got
            got.append(ev)

    def close(self):
        self.sock.close()


def check_schema(ev):
    name = {"ready": "LiveReady", "reload": "LiveReload"}.get(
        ev["event"], "LiveEvent")
    doc = openapi_check.document()
    with doc.lock:
        errors = list(doc._validator(f"#/components/schemas/{name}")
                      .iter_errors(ev["data"]))
    assert not errors, f"{ev}: {[e.message for e in errors]}"
    if ev["event"] not in ("ready", "reload"):
        assert ev["data"]["type"] == ev["event"]
    assert ev["data"]["id"] == ev["id"]


def ready(client):
    """Reads the start of a stream (replayed events, a reload) up to its
    ready event; returns the events before it and the ready one."""
    got = client.until("ready")
    for ev in got:
        check_schema(ev)
    assert client.retry == 3000
    return got[:-1], got[-1]


def bearer(token):
    return {"Authorization": "Bearer " + token}


def session_cookie(d, login):
    r = d.request("POST", "/api/v1/session",
                  json={"login": login, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Cookie": "ktd_session=" + r.cookies["ktd_session"]}, \
        r.json()["csrf_token"]


def new_case(client, **kw):
    b = {"channel": "phone", "subject": "Storskrald",
         "text": "Borgeren ringede."}
    b.update(kw)
    r = client.post("/api/v1/cases", json=b)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
def env(kontaktd, ctl):
    d = kontaktd(config={"live": {"heartbeat": "1s"}})
    add_user(ctl, d, "agnete")
    return d, Client(d, "agnete")


# --- the stream -----------------------------------------------------------

def test_case_created_reaches_a_client(env):
    d, agent = env
    cookie, _ = session_cookie(d, "agnete")
    s = SSEClient(d, headers=cookie)
    assert s.status == 200
    assert s.headers["content-type"] == "text/event-stream"
    assert s.headers["cache-control"] == "no-store"
    assert s.headers["x-accel-buffering"] == "no"
    assert s.headers["transfer-encoding"] == "chunked"
    before, r = ready(s)
    assert before == [] and r["data"]["replayed"] == 0
    c = new_case(agent, subject="Affald", citizen={
        "name": "Åse Ørnsø", "phone": CALLER, "cpr": CPR})
    ev = s.next_event()
    check_schema(ev)
    assert ev["event"] == "case.created" and ev["id"] > r["id"]
    data = ev["data"]
    assert data["case_id"] == c["id"]
    assert data["case"]["reference"] == c["reference"]
    assert data["case"]["subject"] == "Affald"
    assert data["case"]["status"] == "new"
    # What an inbox row shows: the channel, the assignee by name.
    assert data["case"]["channel"] == "phone"
    assert data["case"]["assignee_name"] is None
    # No citizen data, and never a CPR number, masked or not.
    raw = json.dumps(data)
    assert CPR not in raw and CPR[:6] not in raw and "Ørnsø" not in raw
    # A change is an update.
    r = agent.post(f"/api/v1/cases/{c['id']}/resolve",
                   json={"resolution": "resolved_first_contact"})
    assert r.status_code == 200, r.text
    ev2 = s.next_event()
    check_schema(ev2)
    assert ev2["event"] == "case.updated" and ev2["id"] > ev["id"]
    assert ev2["data"]["case"]["status"] == "resolved"
    r = agent.s.patch(d.url(f"/api/v1/cases/{c['id']}"),
                      json={"assignee_id": agent.user_id,
                            "version": r.json()["version"]}, timeout=10)
    assert r.status_code == 200, r.text
    ev3 = s.next_event()
    check_schema(ev3)
    assert ev3["data"]["case"]["assignee_name"] == "agnete"
    # The stream stays up between events: heartbeats every second.
    deadline = time.monotonic() + 5
    while len(s.comments) < 2:
        assert time.monotonic() < deadline, "no heartbeats"
        with pytest.raises(TimeoutExpired):
            s.next_event(timeout=0.5)
    assert set(s.comments) == {"heartbeat"}
    s.close()
    assert d.log_contains(r"event=live_stream_open .*who=user:agnete "
                          r"last_event_id=- .*replay=ok replayed=0")


def cti(d, token, events):
    r = d.request("POST", "/api/v1/cti/events", json=events,
                  headers=bearer(token))
    assert r.status_code in (200, 201), r.text
    return r


def call_ev(call_id, event, second, **kw):
    e = {"call_id": call_id, "event": event,
         "at": f"2026-03-02T09:00:{second:02d}Z"}
    e.update(kw)
    return e


def test_call_offered_with_screen_pop(env, ctl):
    d, agent = env
    pbx = new_token(ctl, d, "pbx", "cti:write")
    reader = new_token(ctl, d, "wallboard", "read")
    # The caller has a finished case and an open one.
    old = new_case(agent, subject="Gammel sag", citizen={"phone": CALLER})
    assert agent.post(f"/api/v1/cases/{old['id']}/resolve", json={
        "resolution": "resolved_first_contact"}).status_code == 200
    cur = new_case(agent, subject="Åben sag", citizen={"phone": CALLER})
    other = new_case(agent, subject="En anden", citizen={
        "phone": "+4570101010"})
    s = SSEClient(d, headers=bearer(reader))
    _, r = ready(s)

    cti(d, pbx, call_ev("c1", "offered", 0, **{
        "from": "36 37 38 39", "to": "+4536373800", "direction": "in",
        "queue": "1"}))
    got = [s.next_event(), s.next_event()]
    for ev in got:
        check_schema(ev)
    # The call's contact joins the open case, then the call is offered.
    assert [e["event"] for e in got] == ["case.updated", "call.offered"]
    assert got[0]["data"]["case_id"] == cur["id"]
    offered = got[1]["data"]
    assert offered["case_id"] == cur["id"]
    assert offered["call"]["call_id"] == "c1"
    assert offered["call"]["state"] == "offered"
    assert offered["call"]["from"] == CALLER
    pop = offered["screen_pop"]
    assert pop["phone"] == CALLER
    assert [c["id"] for c in pop["open_cases"]] == [cur["id"]]
    assert pop["open_cases"][0]["reference"] == cur["reference"]
    assert pop["open_cases"][0]["subject"] == "Åben sag"
    assert [c["id"] for c in pop["recent_cases"]] == [old["id"]]
    assert pop["recent_cases"][0]["status"] == "resolved"
    assert other["id"] not in [c["id"] for c in pop["open_cases"]]

    cti(d, pbx, [call_ev("c1", "answered", 30, agent="agnete"),
                 call_ev("c1", "ended", 59, cause="normalClearing")])
    answered, ended = s.next_event(), s.next_event()
    check_schema(answered)
    check_schema(ended)
    assert answered["event"] == "call.answered"
    assert answered["data"]["call"]["answered_by"] == "agnete"
    assert "screen_pop" in answered["data"]
    assert ended["event"] == "call.ended"
    assert ended["data"]["call"]["outcome"] == "answered"
    assert "screen_pop" not in ended["data"]
    assert got[1]["id"] < answered["id"] < ended["id"]
    s.close()


def test_call_from_an_unknown_or_withheld_number(env, ctl):
    d, agent = env
    pbx = new_token(ctl, d, "pbx", "cti:write")
    s = SSEClient(d, headers=bearer(new_token(ctl, d, "wb", "read")))
    ready(s)
    cti(d, pbx, call_ev("c2", "offered", 0, **{"from": "anonymous",
                                                "to": "+4536373800"}))
    evs = s.until("call.offered")
    for ev in evs:
        check_schema(ev)
    assert [e["event"] for e in evs] == ["case.created", "call.offered"]
    pop = evs[-1]["data"]["screen_pop"]
    assert pop == {"phone": "anonymous", "open_cases": [],
                   "recent_cases": []}
    s.close()


def test_several_clients_at_once(env, ctl):
    d, agent = env
    add_user(ctl, d, "sofus", role="supervisor")
    add_user(ctl, d, "root", role="admin")
    clients = [SSEClient(d, headers=session_cookie(d, u)[0])
               for u in ("agnete", "sofus", "root")]
    clients += [SSEClient(d, headers=bearer(new_token(ctl, d, n, sc)))
                for n, sc in (("wb", "read"), ("ops", "admin"))]
    clients += [SSEClient(d, headers=session_cookie(d, "agnete")[0])
                for _ in range(3)]
    for c in clients:
        ready(c)
    made = [new_case(agent, subject=f"Sag {i}") for i in range(4)]
    seen = []
    for c in clients:
        evs = [c.next_event() for _ in made]
        assert [e["event"] for e in evs] == ["case.created"] * 4
        assert [e["data"]["case_id"] for e in evs] == \
            [m["id"] for m in made]
        seen.append([e["id"] for e in evs])
    assert all(ids == seen[0] for ids in seen)
    assert seen[0] == sorted(seen[0])
    for c in clients:
        c.close()


# --- reconnecting ---------------------------------------------------------

def test_reconnect_replays_exactly_the_missed_events(env):
    d, agent = env
    cookie, _ = session_cookie(d, "agnete")
    s = SSEClient(d, headers=cookie)
    _, r = ready(s)
    first = new_case(agent, subject="Set")
    seen = s.next_event()
    assert seen["data"]["case_id"] == first["id"]
    s.close()

    missed = [new_case(agent, subject=f"Mistet {i}") for i in range(3)]
    assert agent.post(f"/api/v1/cases/{missed[0]['id']}/notes",
                      json={"text": "Notat"}).status_code == 201
    s = SSEClient(d, headers={**cookie, "Last-Event-ID": str(seen["id"])})
    replayed, r = ready(s)
    assert [(e["event"], e["data"]["case_id"]) for e in replayed] == \
        [("case.created", m["id"]) for m in missed] + \
        [("case.updated", missed[0]["id"])]
    ids = [e["id"] for e in replayed]
    assert ids == sorted(ids) and ids[0] > seen["id"]
    assert r["data"]["replayed"] == 4 and r["id"] == ids[-1]
    # Then live, without a gap or a repeat.
    live = new_case(agent, subject="Live")
    ev = s.next_event()
    assert ev["data"]["case_id"] == live["id"] and ev["id"] > r["id"]
    s.close()

    # The query parameter does the same (for EventSource polyfills); a
    # client that missed nothing gets nothing again.
    s = SSEClient(d, headers=cookie, query=f"?last_event_id={ev['id']}")
    replayed, r = ready(s)
    assert replayed == [] and r["id"] == ev["id"]
    s.close()
    s = SSEClient(d, headers=cookie, query=f"?last_event_id={ids[1]}")
    replayed, r = ready(s)
    assert [e["id"] for e in replayed] == ids[2:] + [ev["id"]]
    s.close()
    assert d.log_contains(rf"event=live_stream_open .*last_event_id="
                          rf"{seen['id']} .*replay=ok replayed=4")


def test_reconnect_with_an_id_the_server_cannot_serve(kontaktd, ctl):
    d = kontaktd(config={"live": {"replay_max": "2"}})
    add_user(ctl, d, "agnete")
    agent = Client(d, "agnete")
    cookie, _ = session_cookie(d, "agnete")
    s = SSEClient(d, headers=cookie)
    _, r = ready(s)
    s.close()
    made = [new_case(agent) for _ in range(3)]

    def reconnect(last):
        c = SSEClient(d, headers={**cookie, "Last-Event-ID": str(last)})
        before, rd = ready(c)
        c.close()
        return before, rd

    # More missed than replay_max: reload, and on from the newest.
    before, rd = reconnect(r["id"])
    assert [e["event"] for e in before] == ["reload"]
    assert before[0]["data"]["reason"] == "too_many"
    newest = sql(d, "SELECT max(id) FROM live_events")[0][0]
    assert before[0]["id"] == rd["id"] == newest
    assert rd["data"]["replayed"] == 0
    # Two missed: replayed.
    ids = [row[0] for row in sql(d, "SELECT id FROM live_events "
                                    "ORDER BY id")]
    before, rd = reconnect(ids[-3])
    assert [e["data"]["case_id"] for e in before] == \
        [m["id"] for m in made[1:]]
    # An id from another database (or the future).
    before, rd = reconnect(newest + 1000)
    assert before[0]["data"]["reason"] == "unknown"
    # Pruned events: gone after [live] retention.
    sql(d, "UPDATE live_events_pruned SET upto = %s", (ids[-2],))
    sql(d, "DELETE FROM live_events WHERE id <= %s", (ids[-2],))
    before, rd = reconnect(ids[-3])
    assert before[0]["data"]["reason"] == "pruned"
    before, rd = reconnect(ids[-2])
    assert [e["id"] for e in before] == [ids[-1]]
    # Not an id at all.
    bad = SSEClient(d, headers={**cookie, "Last-Event-ID": "abc"})
    assert bad.status == 400
    assert b"Last-Event-ID" in bad.body


def test_ids_in_commit_order_one_notify_a_transaction(kontaktd):
    """A transaction's events get their final ids when it commits, in the
    order it wrote them: one that wrote early and commits late comes after
    one that committed in between. One NOTIFY goes out a transaction."""
    d = kontaktd()
    add = ("INSERT INTO live_events (type, payload)"
           " VALUES (%s, '{}'::jsonb)")
    with d.cluster.connect(d.db) as listener, \
            d.cluster.connect(d.db, autocommit=False) as early, \
            d.cluster.connect(d.db, autocommit=False) as middle:
        listener.execute("LISTEN kontaktd")
        early.execute(add, ("case.early_one",))
        early.execute(add, ("case.early_two",))
        middle.execute(add, ("case.middle",))
        # Inside its transaction an event's id is provisional.
        assert early.execute("SELECT min(id) FROM live_events"
                             " WHERE id < 0").fetchone()[0] is not None
        middle.commit()
        early.execute(add, ("case.early_three",))
        early.commit()
        got = notifications(listener, 2)
    rows = sql(d, "SELECT id, type FROM live_events ORDER BY id")
    assert [t for _, t in rows] == ["case.middle", "case.early_one",
                                    "case.early_two", "case.early_three"]
    ids = [i for i, _ in rows]
    assert ids[0] > 0 and ids == list(range(ids[0], ids[0] + 4))
    assert [(n["type"], n["count"], n["id"]) for n in got] == [
        ("case.middle", 1, ids[0]), ("case.early_three", 3, ids[3])]


def test_janitor_prunes_old_events(kontaktd, ctl):
    d = kontaktd(config={"live": {"retention": "1h"}})
    add_user(ctl, d, "agnete")
    agent = Client(d, "agnete")
    made = [new_case(agent) for _ in range(3)]
    ids = [row[0] for row in sql(d, "SELECT id FROM live_events "
                                    "ORDER BY id")]
    assert len(ids) == 3
    sql(d, "UPDATE live_events SET at = now() - interval '2 hours' "
           "WHERE id < %s", (ids[-1],))
    mark = d.log_mark()
    d.stop()
    d.start()
    d.wait_ready()
    d.wait_for_log(r"event=janitor .* live_events_deleted=2\b", start=mark)
    assert sql(d, "SELECT id FROM live_events") == [(ids[-1],)]
    assert sql(d, "SELECT upto FROM live_events_pruned") == [(ids[-2],)]
    # A client that saw the first event is told to reload; one that saw
    # the second gets the third.
    cookie, _ = session_cookie(d, "agnete")
    s = SSEClient(d, headers={**cookie, "Last-Event-ID": str(ids[0])})
    before, _ = ready(s)
    assert before[0]["data"]["reason"] == "pruned"
    s.close()
    s = SSEClient(d, headers={**cookie, "Last-Event-ID": str(ids[1])})
    before, _ = ready(s)
    assert [e["data"]["case_id"] for e in before] == [made[2]["id"]]
    s.close()


# --- across processes, and the hub's connection ---------------------------

def test_two_processes_on_one_database(kontaktd, ctl):
    d1 = kontaktd()
    d2 = kontaktd(db=d1.db)
    add_user(ctl, d1, "agnete")
    s1 = SSEClient(d1, headers=session_cookie(d1, "agnete")[0])
    s2 = SSEClient(d2, headers=session_cookie(d2, "agnete")[0])
    ready(s1)
    ready(s2)
    c = new_case(Client(d1, "agnete"), subject="Via d1")
    e1, e2 = s1.next_event(), s2.next_event()
    assert e2["event"] == "case.created" and e2["data"]["case_id"] == c["id"]
    assert e1["id"] == e2["id"]
    c = new_case(Client(d2, "agnete"), subject="Via d2")
    e1, e2 = s1.next_event(), s2.next_event()
    assert e1["data"]["case_id"] == c["id"] and e1["id"] == e2["id"]
    # A client moves to the other process and misses nothing.
    s1.close()
    new_case(Client(d2, "agnete"), subject="Imens")
    s1 = SSEClient(d1, headers={**session_cookie(d1, "agnete")[0],
                                "Last-Event-ID": str(e1["id"])})
    replayed, _ = ready(s1)
    assert [e["data"]["case"]["subject"] for e in replayed] == ["Imens"]
    s1.close()
    s2.close()


def test_hub_reconnects_and_catches_up(env):
    d, agent = env
    s = SSEClient(d, headers=session_cookie(d, "agnete")[0])
    ready(s)
    mark = d.log_mark()
    killed = sql(d, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND application_name = "
                    "'kontaktd-live'", (d.db,))
    assert killed == [(True,)]
    # Committed while the hub is away (or coming back): none is lost.
    made = [new_case(agent, subject=f"Under afbrydelse {i}")
            for i in range(3)]
    evs = [s.next_event() for _ in made]
    assert [e["data"]["case_id"] for e in evs] == [m["id"] for m in made]
    d.wait_for_log(r"event=live_db_lost", start=mark)
    d.wait_for_log(r"event=live_db_up", start=mark)
    wait_until(lambda: sql(d, "SELECT count(*) FROM pg_stat_activity "
                              "WHERE datname = %s AND application_name = "
                              "'kontaktd-live'", (d.db,)) == [(1,)],
               5, "the hub's connection")
    s.close()


# --- who may listen, and for how long -------------------------------------

def test_who_may_listen(env, ctl):
    d, _ = env
    add_user(ctl, d, "sofus", role="supervisor")
    add_user(ctl, d, "root", role="admin")
    r = SSEClient(d)
    assert r.status == 401 and "www-authenticate" in r.headers
    assert json.loads(r.body)["error"]["code"] == "unauthenticated"
    for scope in ("cti:write", "digitalpost:write"):
        r = SSEClient(d, headers=bearer(new_token(ctl, d, scope[:3], scope)))
        assert r.status == 403, scope
        assert json.loads(r.body)["error"]["code"] == "forbidden"
    r = SSEClient(d, headers=bearer("ktd_" + "x" * 40))
    assert r.status == 401
    r = SSEClient(d, headers={"Cookie": "ktd_session=" + "A" * 43})
    assert r.status == 401
    for headers in (bearer(new_token(ctl, d, "wb", "read")),
                    bearer(new_token(ctl, d, "ops", "admin")),
                    bearer(new_token(ctl, d, "both", "cti:write,read")),
                    session_cookie(d, "agnete")[0],
                    session_cookie(d, "sofus")[0],
                    session_cookie(d, "root")[0]):
        s = SSEClient(d, headers=headers)
        assert s.status == 200
        ready(s)
        s.close()
    head = SSEClient(d, headers=session_cookie(d, "agnete")[0],
                     method="HEAD")
    assert head.status == 200 and head.body == b""
    assert head.headers["content-type"] == "text/event-stream"


def test_stream_ends_with_its_credentials(env, ctl):
    d, agent = env
    add_user(ctl, d, "sofus", role="supervisor")
    cookie, csrf = session_cookie(d, "agnete")
    token = new_token(ctl, d, "wb", "read")
    by_session = SSEClient(d, headers=cookie)
    by_token = SSEClient(d, headers=bearer(token))
    by_other = SSEClient(d, headers=session_cookie(d, "sofus")[0])
    for s in (by_session, by_token, by_other):
        ready(s)
    # Logout: that session's stream ends (within a heartbeat), and it
    # cannot come back.
    r = d.request("DELETE", "/api/v1/session",
                  headers={**cookie, "X-CSRF-Token": csrf})
    assert r.status_code == 204
    assert by_session.wait_end(timeout=5) == []
    assert by_session.ended
    assert SSEClient(d, headers=cookie).status == 401
    # A revoked token: the same.
    assert ctl("token", "revoke", "wb",
               config=d.config_path).returncode == 0
    by_token.wait_end(timeout=5)
    assert by_token.ended
    # A disabled user.
    sql(d, "UPDATE users SET disabled = true WHERE login = 'sofus'")
    by_other.wait_end(timeout=5)
    assert by_other.ended
    assert d.log_contains(r"event=live_stream_end reason=credentials")


def test_limit_on_streams(kontaktd, ctl):
    d = kontaktd(config={"live": {"max_clients": "2", "heartbeat": "1s"}})
    add_user(ctl, d, "agnete")
    cookie, _ = session_cookie(d, "agnete")
    a, b = SSEClient(d, headers=cookie), SSEClient(d, headers=cookie)
    ready(a)
    ready(b)
    r = SSEClient(d, headers=cookie)
    assert r.status == 503 and r.headers["retry-after"].isdigit()
    assert b"too many event streams" in r.body
    # Other requests are served meanwhile.
    assert d.get("/api/v1/me", headers=cookie).status_code == 200
    # A client that leaves frees its place (noticed at a heartbeat).
    a.close()

    def opened():
        c = SSEClient(d, headers=cookie)
        if c.status != 200:
            return None
        return c
    c = wait_until(opened, 10, "a free place", interval=0.3)
    ready(c)
    c.close()
    b.close()


def test_limit_is_at_most_half_the_connections(kontaktd, ctl):
    d = kontaktd(config={"server": {"max_connections": "6"}})
    add_user(ctl, d, "agnete")
    cookie, _ = session_cookie(d, "agnete")
    streams = [SSEClient(d, headers=cookie) for _ in range(3)]
    assert [s.status for s in streams] == [200, 200, 200]
    assert SSEClient(d, headers=cookie).status == 503
    for s in streams:
        s.close()


def test_a_client_too_far_behind_is_cut_off(kontaktd, ctl):
    d = kontaktd(config={"live": {"client_buffer": "64k"}})
    add_user(ctl, d, "agnete")
    cookie, _ = session_cookie(d, "agnete")
    slow = SSEClient(d, headers=cookie, rcvbuf=4096)
    _, r = ready(slow)
    # 600 events of 10 kB in one transaction: far more than the client's
    # buffer and its socket can hold while it does not read.
    sql(d, "INSERT INTO live_events (type, payload) SELECT 'case.updated',"
           " jsonb_build_object('pad', repeat('x', 10000))"
           " FROM generate_series(1, 600)")
    d.wait_for_log(r"event=sse_cut peer=127\.0\.0\.1")
    # It gets what was sent before, and is then closed (not ended).
    got = []
    while True:
        ev = slow.next_event(timeout=10)
        if ev is None:
            break
        got.append(ev)
    assert slow.closed and not slow.ended
    assert len(got) < 600
    # Reconnecting, it may not be replayed 6 MB: reload.
    last = got[-1]["id"] if got else r["id"]
    again = SSEClient(d, headers={**cookie, "Last-Event-ID": str(last)})
    before, _ = ready(again)
    assert before[0]["data"]["reason"] == "too_many"
    again.close()
    assert "kontaktd_sse_cut_total 1\n" in d.get("/metrics").text


# --- shutdown -------------------------------------------------------------

def test_sigterm_with_streams_open(env, ctl):
    d, agent = env
    cookie, _ = session_cookie(d, "agnete")
    token = new_token(ctl, d, "wb", "read")
    streams = [SSEClient(d, headers=cookie) for _ in range(3)]
    streams.append(SSEClient(d, headers=bearer(token)))
    for s in streams:
        ready(s)
    # One client left without reading its stream or closing it.
    idle = SSEClient(d, headers=cookie)
    new_case(agent)
    for s in streams:
        assert s.next_event()["event"] == "case.created"
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    assert d.wait(timeout=10) == 0
    elapsed = time.monotonic() - t0
    # Well within shutdown_timeout (10 s): the streams end at once, each
    # with its last chunk.
    assert elapsed < 3, f"stopping took {elapsed:.1f} s"
    for s in streams:
        assert s.wait_end(timeout=5) == []
        assert s.ended, "the stream ended without its last chunk"
        s.close()
    idle.close()
    log = d.log()
    assert "event=sse_closing streams=5" in log
    assert "event=stopped" in log and "shutdown_timeout" not in log
