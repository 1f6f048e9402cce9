# SPDX-License-Identifier: MPL-2.0
"""Callbacks (ring-op): asked for in the IVR (a callback_requested call
event) or by an agent; the due list; attempts, with the last failed one
closing the callback as not reached; the summary; authorisation and bad
input."""

import datetime

import pytest

from test_auth import add_user, new_token
from test_cases import Client


def sql(d, q, params=None):
    return d.cluster.sql(q, params, dbname=d.db)


@pytest.fixture
def env(kontaktd, ctl):
    d = kontaktd(config={"callbacks": {"max_attempts": "2",
                                       "retry_after": "10m"}})
    add_user(ctl, d, "agnete")
    add_user(ctl, d, "sofus", role="supervisor")
    cti = {"Authorization": "Bearer " + new_token(ctl, d, "pbx",
                                                  "cti:write")}
    return d, Client(d, "agnete"), cti


def cti_post(d, hdr, e):
    r = d.request("POST", "/api/v1/cti/events", json=e, headers=hdr)
    assert r.status_code in (200, 201), r.text
    return r.json()


def test_ivr_callback(env):
    d, a, cti = env
    case_id = cti_post(d, cti, {"call_id": "ivr1", "event": "offered",
                                "at": "2026-03-02T09:00:00Z",
                                "from": "12345678"})["case_id"]
    for _ in range(2):    # a repeat asks once
        cti_post(d, cti, {"call_id": "ivr1", "event": "callback_requested",
                          "at": "2026-03-02T09:00:40Z"})
    cti_post(d, cti, {"call_id": "ivr1", "event": "ended",
                      "at": "2026-03-02T09:00:41Z"})
    r = a.get("/api/v1/callbacks")
    assert r.status_code == 200, r.text
    (cb,) = r.json()["items"]
    assert cb["number"] == "+4512345678" and cb["case_id"] == case_id
    assert cb["call_id"] == "ivr1" and cb["status"] == "open"
    assert cb["history"] == [] and cb["attempts"] == 0
    assert sql(d, "SELECT outcome FROM calls") == [("callback",)]
    # A number given by the IVR wins; a withheld caller without one gets
    # no callback (there is nobody to call).
    cti_post(d, cti, {"call_id": "ivr2", "event": "callback_requested",
                      "at": "2026-03-02T09:05:00Z", "from": "anonymous",
                      "target": "87654321"})
    cti_post(d, cti, {"call_id": "ivr3", "event": "callback_requested",
                      "at": "2026-03-02T09:06:00Z", "from": "anonymous"})
    numbers = [c["number"] for c in a.get("/api/v1/callbacks").json()
               ["items"]]
    assert numbers == ["+4512345678", "+4587654321"]


def test_attempts_until_not_reached(env):
    d, a, _ = env
    c = a.post("/api/v1/cases", json={"channel": "phone", "text": "Ring op",
                                      "citizen": {"phone": "11223344"}})
    case_id = c.json()["id"]
    r = a.post(f"/api/v1/cases/{case_id}/callbacks",
               json={"message": "Om byggesagen",
                     "window_from": "2030-01-01T08:00:00Z",
                     "window_to": "2030-01-01T10:00:00Z"})
    assert r.status_code == 201, r.text
    cb = r.json()
    assert cb["number"] == "+4511223344" and cb["message"] == "Om byggesagen"
    assert cb["due_at"] == "2030-01-01T08:00:00Z"
    # Not due before its window.
    now = datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    assert a.get(f"/api/v1/callbacks?due_before={now}").json()["items"] == []

    r = a.post(f"/api/v1/callbacks/{cb['id']}/attempts",
               json={"result": "not_reached", "note": "Optaget"})
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["status"] == "open" and got["attempts"] == 1
    assert got["history"][0]["result"] == "not_reached"
    assert got["history"][0]["note"] == "Optaget"
    assert got["due_at"] > now            # due again later
    r = a.post(f"/api/v1/callbacks/{cb['id']}/attempts",
               json={"result": "not_reached", "version": got["version"]})
    assert r.json()["status"] == "not_reached"
    assert r.json()["completed_at"]
    # Closed: no more attempts.
    r = a.post(f"/api/v1/callbacks/{cb['id']}/attempts",
               json={"result": "reached"})
    assert r.status_code == 409
    assert r.json()["callback"]["status"] == "not_reached"
    assert sql(d, "SELECT count(*) FROM callback_attempts") == [(2,)]
    assert sql(d, "SELECT count(*) FROM audit_log WHERE case_id = %s"
                  " AND detail ? 'callback_id'", (case_id,)) == [(3,)]


def test_reached_and_summary(env):
    d, a, _ = env
    case_id = a.post("/api/v1/cases", json={
        "channel": "phone", "text": "x",
        "citizen": {"phone": "11223344"}}).json()["id"]
    cb = a.post(f"/api/v1/cases/{case_id}/callbacks", json={}).json()
    sql(d, "UPDATE callbacks SET created_at = now() - interval '90 seconds'")
    r = a.post(f"/api/v1/callbacks/{cb['id']}/attempts",
               json={"result": "reached"})
    assert r.json()["status"] == "done"
    # A stale version is refused.
    cb2 = a.post(f"/api/v1/cases/{case_id}/callbacks",
                 json={"number": "+4599887766"}).json()
    r = a.post(f"/api/v1/callbacks/{cb2['id']}/attempts",
               json={"result": "reached", "version": 7})
    assert r.status_code == 409 and "version" in r.json()["error"]["message"]
    sup = Client(d, "sofus")
    r = sup.get("/api/v1/callbacks/summary")
    assert r.status_code == 200, r.text
    s = r.json()
    assert (s["requested"], s["done"], s["open"], s["not_reached"],
            s["attempts"]) == (2, 1, 1, 0, 1)
    assert 89 <= s["mean_seconds_to_callback"] <= 120
    assert a.get("/api/v1/callbacks/summary").status_code == 403
    r = sup.get("/api/v1/callbacks/summary?from=2000-01-01T00:00:00Z"
                "&to=2000-01-02T00:00:00Z")
    assert r.json()["requested"] == 0
    assert r.json()["mean_seconds_to_callback"] is None
    # Every status, newest due last, paginated.
    r = a.get("/api/v1/callbacks?status=all&limit=1")
    page = r.json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    r = a.get("/api/v1/callbacks?status=all&limit=1&cursor="
              + page["next_cursor"])
    assert len(r.json()["items"]) == 1 and r.json()["next_cursor"] is None
    assert {page["items"][0]["id"], r.json()["items"][0]["id"]} == \
        {cb["id"], cb2["id"]}


@pytest.mark.parametrize("payload,field", [
    ({"number": "12ab"}, "number"),
    ({"number": "201"}, "number"),
    ({"due_at": "soon"}, "due_at"),
    ({"window_from": "2030-01-01T10:00:00Z",
      "window_to": "2030-01-01T08:00:00Z"}, "window"),
    ({"message": "m" * 2001}, "message"),
    ({"message": 5}, "message"),
    ({"priority": 1}, "priority"),
])
def test_bad_create(env, payload, field):
    d, a, _ = env
    case_id = a.post("/api/v1/cases", json={
        "channel": "phone", "text": "x",
        "citizen": {"phone": "11223344"}}).json()["id"]
    r = a.post(f"/api/v1/cases/{case_id}/callbacks", json=payload)
    assert r.status_code == 422, r.text
    assert field in r.json()["error"]["message"]
    assert sql(d, "SELECT count(*) FROM callbacks") == [(0,)]


def test_no_number_and_unknown_case(env):
    d, a, _ = env
    case_id = a.post("/api/v1/cases", json={"channel": "web",
                                            "text": "x"}).json()["id"]
    r = a.post(f"/api/v1/cases/{case_id}/callbacks", json={})
    assert r.status_code == 422 and "number" in r.text
    assert a.post("/api/v1/cases/999999/callbacks",
                  json={"number": "12345678"}).status_code == 404
    assert a.post("/api/v1/callbacks/999999/attempts",
                  json={"result": "reached"}).status_code == 404
    for payload in ({"result": "maybe"}, {}, {"result": "reached",
                                              "note": 3}):
        assert a.post("/api/v1/callbacks/1/attempts",
                      json=payload).status_code == 422
    for q in ("status=late", "due_before=x", "limit=0", "cursor=zz"):
        assert a.get("/api/v1/callbacks?" + q).status_code == 400, q
    assert sql(d, "SELECT count(*) FROM callbacks") == [(0,)]


def test_authorisation(env, ctl):
    d, a, cti = env
    reader = {"Authorization": "Bearer " + new_token(ctl, d, "r", "read")}
    assert d.get("/api/v1/callbacks").status_code == 401
    assert d.get("/api/v1/callbacks", headers=cti).status_code == 403
    assert d.get("/api/v1/callbacks", headers=reader).status_code == 200
    assert d.get("/api/v1/callbacks/summary",
                 headers=reader).status_code == 200
    case_id = a.post("/api/v1/cases", json={
        "channel": "phone", "text": "x",
        "citizen": {"phone": "11223344"}}).json()["id"]
    r = d.request("POST", f"/api/v1/cases/{case_id}/callbacks", json={},
                  headers=reader)
    assert r.status_code == 403
    r = a.s.post(d.url(f"/api/v1/cases/{case_id}/callbacks"), json={},
                 headers={"X-CSRF-Token": ""}, timeout=10)
    assert r.status_code == 403
    assert sql(d, "SELECT count(*) FROM callbacks") == [(0,)]
