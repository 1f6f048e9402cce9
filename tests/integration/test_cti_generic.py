# SPDX-License-Identifier: MPL-2.0
"""Zammad's "Generic CTI" webhook, POST /api/v1/cti/generic/{token}: the
call sequences a PBX configured for Zammad sends give the call records
Zammad would keep; unlike Zammad, repeats and events for an unknown call
are fine; blocked callers get a reject and outbound calls their caller id
from the [cti] table; the path token is never logged. And HMAC-signed
native events."""

import hashlib
import hmac
import json
import time

import pytest

from test_auth import new_token
from utils import EXIT_CONFIG


def sql(d, q, params=None):
    return d.cluster.sql(q, params, dbname=d.db)


CTI = {"cti": {"blocked_numbers": "+4599999999, 4590*",
               "caller_ids": "4989*=+498999998145, 4930*=+493023125877",
               "default_caller_id": "+4536373839"}}


@pytest.fixture
def env(kontaktd, ctl):
    d = kontaktd(config=CTI)
    token = new_token(ctl, d, "zammad-bridge", "cti:write")
    return d, token


def send(d, token, form=None, js=None):
    path = f"/api/v1/cti/generic/{token}"
    if js is not None:
        return d.request("POST", path, json=js)
    return d.request("POST", path, data=form, headers={
        "Content-Type": "application/x-www-form-urlencoded"})


def call(d, call_id):
    rows = sql(d, "SELECT state, outcome, direction, from_number, to_number,"
                  " answered_by, end_cause, transfers, wait_ms IS NOT NULL,"
                  " talk_ms IS NOT NULL FROM calls WHERE call_id = %s",
               (call_id,))
    return rows[0] if rows else None


def test_inbound_answered(env):
    d, token = env
    r = send(d, token, "event=newCall&from=493055571600&to=4536373800"
                       "&direction=in&callId=z1&user%5B%5D=J%C3%B8rgen"
                       "&user%5B%5D=Anne&queue=helpdesk")
    assert r.status_code == 200, r.text
    assert r.json() == {}
    assert send(d, token, "event=answer&from=493055571600&to=4536373800"
                          "&direction=in&callId=z1&user=J%C3%B8rgen"
                          "&answeringNumber=201").json() == {}
    assert send(d, token, "event=hangup&from=493055571600&to=4536373800"
                          "&direction=in&callId=z1&cause=normalClearing"
                          "&answeringNumber=201").status_code == 200
    assert call(d, "z1") == ("ended", "answered", "in", "+493055571600",
                             "+4536373800", "201", "normalClearing", 0,
                             True, True)
    assert sql(d, "SELECT source, count(*) FROM call_events GROUP BY 1") \
        == [("generic", 3)]
    assert sql(d, "SELECT queue FROM calls") == [("helpdesk",)]
    # The token in the path is not in the log.
    assert token not in d.log()
    assert "/api/v1/cti/generic/***" in d.log()


def test_inbound_abandoned_json(env):
    d, token = env
    for e in ({"event": "newCall", "from": "12345678", "to": "4536373800",
               "direction": "in", "callId": "z2", "user": ["Anne"]},
              {"event": "hangup", "from": "12345678", "to": "4536373800",
               "direction": "in", "callId": "z2", "cause": "cancel"}):
        r = send(d, token, js=e)
        assert r.status_code == 200 and r.json() == {}, r.text
    assert call(d, "z2")[:2] == ("ended", "abandoned")
    assert call(d, "z2")[6] == "cancel"


def test_forwarded_hangup_is_a_transfer(env):
    d, token = env
    base = "from=12345678&to=4536373800&direction=in&call_id=z3"
    send(d, token, "event=newCall&" + base)
    send(d, token, "event=answer&answeringNumber=200&" + base)
    send(d, token, "event=hangup&cause=forwarded&answeringNumber=4711&"
                   + base)
    assert call(d, "z3")[:2] == ("ended", "transferred")
    assert sql(d, "SELECT transferred_to FROM calls") == [("4711",)]


def test_repeats_and_unknown_calls_are_fine(env):
    """Zammad answers 500 to a repeated newCall and to answer/hangup for a
    call it does not know (zammad/zammad#3247, #2255): kontaktd takes
    them, once."""
    d, token = env
    base = "from=12345678&to=4536373800&direction=in&callId=z4"
    # hangup first, for a call never announced.
    assert send(d, token, "event=hangup&cause=normalClearing&" + base) \
        .status_code == 200
    for _ in range(3):
        assert send(d, token, "event=newCall&" + base).status_code == 200
        assert send(d, token, "event=answer&" + base).status_code == 200
    assert sql(d, "SELECT event, count(*) FROM call_events"
                  " GROUP BY 1 ORDER BY 1") == \
        [("answered", 1), ("ended", 1), ("offered", 1)]
    assert sql(d, "SELECT count(*) FROM calls") == [(1,)]
    assert call(d, "z4")[0] == "ended"


def test_blocked_and_outbound_answers(env):
    d, token = env
    r = send(d, token, "event=newCall&from=4599999999&to=4536373800"
                       "&direction=in&callId=b1")
    assert r.json() == {"action": "reject", "reason": "busy"}
    r = send(d, token, "event=newCall&from=+45 90 12 34 56&to=4536373800"
                       "&direction=in&callId=b2")
    assert r.json() == {"action": "reject", "reason": "busy"}
    # Not blocked: the same number outbound is not a caller.
    r = send(d, token, "event=newCall&from=201&to=4599999999"
                       "&direction=out&callId=o1")
    assert r.json() == {"action": "dial", "caller_id": "+4536373839",
                        "number": "4599999999"}
    r = send(d, token, "event=newCall&from=201&to=493055571600"
                       "&direction=out&callId=o2")
    assert r.json() == {"action": "dial", "caller_id": "+493023125877",
                        "number": "493055571600"}
    # Only newCall gets an action.
    r = send(d, token, "event=answer&from=4599999999&to=4536373800"
                       "&direction=in&callId=b1")
    assert r.json() == {}
    assert sql(d, "SELECT count(*) FROM calls") == [(4,)]


def test_no_caller_id_configured(kontaktd, ctl):
    d = kontaktd()
    token = new_token(ctl, d, "z", "cti:write")
    r = send(d, token, "event=newCall&from=201&to=4599999999&direction=out"
                       "&callId=o1")
    assert r.status_code == 200 and r.json() == {}


@pytest.mark.parametrize("form,field", [
    ("from=1&to=2&direction=in&callId=x", "event"),
    ("event=ring&direction=in&callId=x", "event"),
    ("event=newCall&callId=x", "direction"),
    ("event=newCall&direction=both&callId=x", "direction"),
    ("event=newCall&direction=in", "callId"),
    ("event=newCall&direction=in&callId=", "callId"),
    ("event=newCall&direction=in&callId=" + "x" * 201, "callId"),
    ("event=newCall&direction=in&callId=x&from=12ab", "from"),
    ("event=newCall&direction=in&callId=x&to=1234567", "to"),
    ("event=newCall&direction=in&callId=x%0A", "callId"),
    ("event=hangup&direction=in&callId=x&cause=" + "c" * 65, "cause"),
    ("event=newCall&direction=in&callId=x&queue=" + "q" * 65, "queue"),
    ("event=newCall&direction=in&callId=x&from=%ZZ", "form"),
    ("event=newCall&direction=in&callId=x&from=%C3", "form"),
])
def test_bad_requests(env, form, field):
    d, token = env
    r = send(d, token, form)
    assert r.status_code in (400, 422), r.text
    assert field in r.json()["error"]["message"]
    assert sql(d, "SELECT count(*) FROM calls") == [(0,)]


def test_bad_json_and_media(env):
    d, token = env
    r = send(d, token, js={"event": "newCall", "direction": "in",
                           "callId": 5})
    assert r.status_code == 422 and "callId" in r.text
    r = d.request("POST", f"/api/v1/cti/generic/{token}", data=b"{",
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = d.request("POST", f"/api/v1/cti/generic/{token}", data=b"<x/>",
                  headers={"Content-Type": "application/xml"})
    assert r.status_code == 415
    assert sql(d, "SELECT count(*) FROM calls") == [(0,)]


def test_path_token(env, ctl):
    d, token = env
    reader = new_token(ctl, d, "reader", "read")
    form = "event=newCall&from=12345678&direction=in&callId=t1"
    assert send(d, "ktd_" + "A" * 43, form).status_code == 401
    assert send(d, "nonsense", form).status_code == 401
    assert send(d, reader, form).status_code == 403
    assert ctl("token", "revoke", "zammad-bridge",
               config=d.config_path).returncode == 0
    assert send(d, token, form).status_code == 401
    assert sql(d, "SELECT count(*) FROM calls") == [(0,)]
    assert "ktd_" + "A" * 43 not in d.log()


# --- HMAC-signed native events -----------------------------------------------

SECRET = "s3cret-" * 8


@pytest.fixture
def signed(kontaktd, tmp_path):
    f = tmp_path / "cti.secret"
    f.write_text(SECRET + "\n")
    return kontaktd(config={"cti": {"hmac_secret_file": str(f),
                                    "signature_max_age": "1m"}})


def signed_post(d, body, t=None, secret=SECRET, sig=None):
    t = int(time.time()) if t is None else t
    raw = json.dumps(body).encode()
    mac = hmac.new(secret.encode(), f"{t}.".encode() + raw,
                   hashlib.sha256).hexdigest()
    return d.request("POST", "/api/v1/cti/events", data=raw, headers={
        "Content-Type": "application/json",
        "X-Kontaktd-Signature": sig or f"t={t},v1={mac}"})


EVENT = {"call_id": "h1", "event": "offered", "at": "2026-03-02T09:00:00Z",
         "from": "12345678"}


def test_hmac_signed_events(signed):
    d = signed
    r = signed_post(d, EVENT)
    assert r.status_code == 201, r.text
    assert signed_post(d, EVENT).status_code == 200     # a repeat
    # Wrong secret, old or future time, malformed header: 401, nothing
    # written.
    before = sql(d, "SELECT count(*) FROM call_events")
    other = dict(EVENT, call_id="h2")
    for kw in ({"secret": "wrong" * 8}, {"t": int(time.time()) - 120},
               {"t": int(time.time()) + 120}, {"sig": "t=1,v1=00"},
               {"sig": "v1=" + "0" * 64}, {"sig": "t=abc,v1=" + "0" * 64}):
        r = signed_post(d, other, **kw)
        assert r.status_code == 401, (kw, r.text)
        assert r.json()["error"]["code"] == "unauthenticated"
    # A body changed after signing.
    t = int(time.time())
    mac = hmac.new(SECRET.encode(), f"{t}.".encode() +
                   json.dumps(other).encode(), hashlib.sha256).hexdigest()
    r = d.request("POST", "/api/v1/cti/events",
                  data=json.dumps(dict(other, call_id="h3")).encode(),
                  headers={"Content-Type": "application/json",
                           "X-Kontaktd-Signature": f"t={t},v1={mac}"})
    assert r.status_code == 401
    assert sql(d, "SELECT count(*) FROM call_events") == before
    assert SECRET not in d.log()


def test_signature_ignored_without_secret(kontaktd):
    d = kontaktd()
    r = signed_post(d, EVENT)
    assert r.status_code == 401
    assert sql(d, "SELECT count(*) FROM calls") == [(0,)]


def test_short_secret_refused(kontaktd, tmp_path):
    f = tmp_path / "short.secret"
    f.write_text("too short\n")
    d = kontaktd(config={"cti": {"hmac_secret_file": str(f)}}, wait=False,
                 allowed_errors=[r"event=config_error"])
    assert d.wait(timeout=20) == EXIT_CONFIG
    line = d.wait_for_log(r"level=fatal event=config_error")
    assert "at least 32 bytes" in line
