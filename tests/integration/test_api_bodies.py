# SPDX-License-Identifier: MPL-2.0
"""Every operation of the OpenAPI document that takes a JSON body refuses
the same kinds of bad bodies the same way, and writes nothing: malformed
JSON, invalid UTF-8, a body that is not an object, the wrong content type,
unknown fields, fields of the wrong type, and SQL metacharacters kept as
data. The list of operations comes from the document, so a new route is
covered the day it is documented."""

import json
from pathlib import Path

import pytest

from test_api_directory import Client, add_user, new_token

DOC = json.loads((Path(__file__).resolve().parents[2] / "src" / "api" /
                  "openapi.json").read_text(encoding="utf-8"))

OPERATIONS = sorted(
    (method.upper(), path)
    for path, ops in DOC["paths"].items()
    for method, op in ops.items()
    if method in ("post", "put", "patch", "delete")
    and "application/json" in op.get("requestBody", {}).get("content", {}))

TABLES = ("departments", "users", "sessions", "api_tokens", "cases",
          "contacts", "forwards", "outbox", "routing_rules", "audit_log",
          "calls", "call_events", "callbacks", "callback_attempts",
          "live_events")


# What a read may change: a token's last use.
ROW = {"api_tokens": "(x.id, x.name, x.scopes, x.revoked_at)"}


def state(d):
    """Every row of the tables an API call could write, as text."""
    q = " UNION ALL ".join(
        f"SELECT '{t}', md5(coalesce(string_agg({ROW.get(t, 'x')}::text,"
        f" ',' ORDER BY x.id), '')) FROM {t} x"
        for t in TABLES if t != "sessions")
    return d.cluster.sql(q, dbname=d.db) + d.cluster.sql(
        "SELECT count(*) FROM sessions", dbname=d.db)


@pytest.fixture
def env(kontaktd, ctl):
    d = kontaktd(config={"smtp": {"from": "kontakt@rodovre.example"}})
    add_user(ctl, d, "adam", "admin")
    admin = Client(d, "adam")
    # Routes for integrations take no sessions: an admin token there.
    boss = new_token(ctl, d, "boss", "admin")
    admin.token = Client(d, token=boss)
    dep = admin.req("POST", "/api/v1/departments",
                    json={"name": "Borgerservice"}).json()["id"]
    case = admin.req("POST", "/api/v1/cases",
                     json={"channel": "phone", "text": "x"}).json()["id"]
    rule = admin.req("POST", "/api/v1/routing-rules",
                     json={"kind": "queue", "pattern": "1",
                           "department_id": dep}).json()["id"]
    other = admin.req("POST", "/api/v1/cases",
                      json={"channel": "phone", "text": "y"}).json()["id"]
    uid = d.cluster.sql("SELECT id FROM users WHERE login = 'adam'",
                        dbname=d.db)[0][0]
    cb = admin.req("POST", f"/api/v1/cases/{case}/callbacks",
                   json={"number": "12345678"}).json()["id"]
    ids = {"/api/v1/departments/{id}": dep, "/api/v1/users/{id}": uid,
           "/api/v1/callbacks/{id}/attempts": cb,
           "/api/v1/routing-rules/{id}": rule,
           "/api/v1/cti/generic/{token}": boss}
    valid = {
        ("POST", "/api/v1/session"): {"login": "adam",
                                      "password": "wrong but long"},
        ("POST", "/api/v1/departments"): {"name": "Skat"},
        ("PATCH", "/api/v1/departments/{id}"): {"name": "Skat"},
        ("POST", "/api/v1/users"): {"login": "bo", "role": "agent",
                                    "password": "et langt kodeord"},
        ("PATCH", "/api/v1/users/{id}"): {"name": "Adam"},
        ("POST", "/api/v1/tokens"): {"name": "t", "scopes": ["read"]},
        ("POST", "/api/v1/cases"): {"channel": "phone", "text": "x"},
        ("PATCH", "/api/v1/cases/{id}"): {"version": 1, "subject": "s"},
        ("POST", "/api/v1/cases/{id}/resolve"): {"resolution": "spam"},
        ("POST", "/api/v1/cases/{id}/forward"): {"department_id": dep,
                                                 "method": "direct"},
        ("POST", "/api/v1/cases/{id}/notes"): {"text": "x"},
        ("POST", "/api/v1/cases/{id}/reopen"): {},
        ("POST", "/api/v1/cases/{id}/merge"): {"into": other},
        ("POST", "/api/v1/cases/{id}/replies"): {"text": "x",
                                                 "to": "a@example.org"},
        ("POST", "/api/v1/routing-rules"): {"kind": "queue", "pattern": "1",
                                            "department_id": dep},
        ("PATCH", "/api/v1/routing-rules/{id}"): {"priority": 1},
        ("POST", "/api/v1/cti/events"): {"call_id": "v1", "event": "offered",
                                         "at": "2026-01-01T00:00:00Z"},
        ("POST", "/api/v1/cases/{id}/callbacks"): {"number": "12345678"},
        ("POST", "/api/v1/callbacks/{id}/attempts"): {"result":
                                                      "not_reached"},
        ("POST", "/api/v1/cti/generic/{token}"): {"event": "newCall",
                                                  "direction": "in",
                                                  "callId": "g1"},
    }
    return d, admin, ids, case, valid


def who(admin, path, method):
    """The admin session, or the admin token where sessions may not go."""
    op = DOC["paths"][path][method.lower()]
    schemes = {k for s in op.get("security", [{"session": []}]) for k in s}
    return admin if "session" in schemes or not schemes else admin.token


def concrete(path, ids, case):
    if "{token}" in path:
        return path.replace("{token}", ids[path])
    if "{id}" not in path:
        return path
    return path.replace("{id}", str(ids.get(path, case)))


# Zammad's Generic CTI ignores fields it does not know, as Zammad does.
IGNORES_UNKNOWN = {"/api/v1/cti/generic/{token}"}


BAD_BODIES = [
    (b"{", "application/json", 400),
    (b'{"a": 1,}', "application/json", 400),
    (b'{"text": "\xff\xfe"}', "application/json", 400),
    (b"[]", "application/json", (400, 422)),
    (b'"text"', "application/json", (400, 422)),
    (b"", "application/json", (400, 422)),
    (b'{"x": 1}', "text/plain", 415),
    (b'{"x": 1}', None, 415),
    (b'{"\\u0000": 1}', "application/json", (400, 422)),
    (b'{"no_such_field_anywhere": 1}', "application/json", 422),
]


@pytest.mark.parametrize("method,path", OPERATIONS)
def test_bad_bodies_write_nothing(env, method, path):
    d, admin, ids, case, _ = env
    url = concrete(path, ids, case)
    client = who(admin, path, method)
    before = state(d)
    for raw, ctype, want in BAD_BODIES:
        if path in IGNORES_UNKNOWN and b"no_such_field" in raw:
            continue
        headers = dict(client.headers)
        if client.csrf:
            headers["X-CSRF-Token"] = client.csrf
        if ctype:
            headers["Content-Type"] = ctype
        r = d.request(method, url, data=raw, headers=headers,
                      cookies=client.cookies)
        want = want if isinstance(want, tuple) else (want,)
        assert r.status_code in want, (method, path, raw, r.text)
        err = r.json()["error"]
        assert err["code"] and err["message"]
        if raw == b'{"no_such_field_anywhere": 1}':
            assert "no_such_field_anywhere" in err["message"], r.text
    assert state(d) == before


@pytest.mark.parametrize("method,path", OPERATIONS)
def test_wrong_types_named(env, method, path):
    """Each documented property, sent with a value of a type it cannot
    take in an otherwise valid body, is refused with its name in the
    message."""
    d, admin, ids, case, valid = env
    assert (method, path) in valid, "add a valid example body for it here"
    url = concrete(path, ids, case)
    op = DOC["paths"][path][method.lower()]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    # One object, or (oneOf) one object or an array of them.
    schema = next((x for x in schema.get("oneOf", [schema]) if "$ref" in x),
                  schema)
    if "$ref" in schema:
        schema = DOC["components"]["schemas"][schema["$ref"].split("/")[-1]]
    assert schema.get("properties"), "no documented properties"
    client = who(admin, path, method)
    before = state(d)
    for name, prop in schema.get("properties", {}).items():
        t = prop.get("type")
        bad = {"string": 12, "integer": "12", "boolean": "yes",
               "array": "x", "object": [1]}.get(t)
        if bad is None:
            continue
        payload = dict(valid[(method, path)])
        payload[name] = bad
        r = client.req(method, url, json=payload)
        assert r.status_code in (400, 422), (method, path, name, r.text)
        assert name in r.json()["error"]["message"], (path, name, r.text)
    assert state(d) == before
