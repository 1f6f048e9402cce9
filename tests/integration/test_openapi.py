# SPDX-License-Identifier: MPL-2.0
"""The OpenAPI document against the daemon.

Every answer of every integration test is checked against
src/api/openapi.json by openapi_check (see there). This file tests that
checker (that it finds what it must), and sweeps every operation of the
document with the answers that the other tests seldom ask for: no
credentials, an unknown id, an id that is no id, a query parameter that
means nothing, a method the path does not have, and for
operations with a body one of the wrong type, not JSON, too large, not an
object and with an unknown field; then the same operations with
PostgreSQL stopped. The checker fails a test whose answer the document
does not describe, so a status, field or header missing from the document
shows up here.
"""

import json
import re

import pytest
import requests

import openapi_check
from openapi_check import METHODS, translate_schema
from test_auth import PASSWORD, add_user, new_token
from utils import wait_until

JSON_TYPE = "application/json; charset=utf-8"
ERROR = b'{"error": {"code": "x", "message": "y"}}'


# --- the checker ----------------------------------------------------------

def test_nullable_becomes_a_type_union():
    assert translate_schema({"type": "string", "nullable": True}) == \
        {"type": ["string", "null"]}
    assert translate_schema({"type": "string", "nullable": True,
                             "enum": ["a"]}) == \
        {"type": ["string", "null"], "enum": ["a", None]}
    assert translate_schema({"$ref": "#/x", "nullable": True}) == \
        {"anyOf": [{"$ref": "#/x"}, {"type": "null"}]}
    nested = translate_schema({"type": "object", "properties": {
        "a": {"type": "integer", "nullable": True},
        "nullable": {"type": "boolean"}}})
    assert nested["properties"] == {"a": {"type": ["integer", "null"]},
                                    "nullable": {"type": "boolean"}}
    assert translate_schema({"type": "integer"}) == {"type": "integer"}


def test_templates_match_concrete_paths():
    doc = openapi_check.document()
    assert doc.match("/api/v1/cases/17")[0] == "/api/v1/cases/{id}"
    assert doc.match("/api/v1/cases/17/resolve")[0] == \
        "/api/v1/cases/{id}/resolve"
    assert doc.match("/api/v1/cases")[0] == "/api/v1/cases"
    assert doc.match("/api/v1/cases/") is None
    assert doc.match("/api/v1/cases/1/2") is None


def problems(method, target, status, headers, body):
    return openapi_check.document().check(method, target, status,
                                          headers, body)


def test_checker_accepts_documented_answers():
    json_hdr = {"content-type": JSON_TYPE}
    assert problems("GET", "/healthz", 200, json_hdr,
                    b'{"status": "ok", "version": "1"}') == []
    assert problems("HEAD", "/healthz", 200, json_hdr, None) == []
    assert problems("GET", "/api/v1/departments/9?x=1", 404, json_hdr,
                    ERROR) == []
    assert problems("GET", "/api/v1/nope", 404, json_hdr, ERROR) == []
    assert problems("PUT", "/healthz", 405,
                    {**json_hdr, "allow": "GET, HEAD"}, ERROR) == []
    assert problems("GET", "/app.js", 200,
                    {"content-type": "text/javascript"}, b"x") == []
    assert problems("GET", "/api/v1/me", 200, json_hdr, json.dumps(
        {"auth": "session", "csrf_token": "t", "user": {
            "id": 1, "login": "a", "name": "", "role": "agent",
            "department_id": None}}).encode()) == []


@pytest.mark.parametrize("answer,expected", [
    (("GET", "/healthz", 418, {"content-type": JSON_TYPE}, ERROR),
     r"GET /healthz -> 418 \(GET /healthz\): status 418 is not documented"),
    (("GET", "/healthz", 200, {"content-type": "text/html"}, b"<p>"),
     r"Content-Type text/html is not documented"),
    (("GET", "/healthz", 200, {}, b"{}"), r"no Content-Type"),
    (("GET", "/healthz", 200, {"content-type": JSON_TYPE}, b"{"),
     r"the body is not JSON"),
    (("GET", "/healthz", 200, {"content-type": JSON_TYPE},
      b'{"status": "ok", "version": "1", "extra": 1}'),
     r"body \$: Additional properties are not allowed \('extra' was "
     r"unexpected\) \(schema #/components/schemas/Health/"
     r"additionalProperties\)"),
    (("GET", "/api/v1/me", 200, {"content-type": JSON_TYPE},
      b'{"auth": "session", "csrf_token": "t", "user": {"login": "a", '
      b'"name": "", "role": "agent", "department_id": "7"}}'),
     r"GET /api/v1/me -> 200 \(GET /api/v1/me\): body \$"),
    (("GET", "/readyz", 200, {"content-type": JSON_TYPE},
      b'{"status": "ready", "database": "ok", "migrations": "current", '
      b'"schema_version": null}'),
     r"body \$.schema_version: None is not of type 'integer' \(schema "
     r"#/components/schemas/Ready/properties/schema_version/type\)"),
    (("DELETE", "/api/v1/session", 204, {}, b"x"),
     r"a body \(1 bytes, None\) where .* documents none"),
    (("GET", "/api/v1/nope", 200, {"content-type": JSON_TYPE}, b"{}"),
     r"matches no path of the OpenAPI document"),
    (("GET", "/api/v1/nope", 404, {"content-type": JSON_TYPE}, b"{}"),
     r"'error' is a required property"),
    (("PUT", "/healthz", 200, {"content-type": JSON_TYPE}, b"{}"),
     r"documents GET, HEAD only, so the answer must be 405"),
    (("PUT", "/healthz", 405, {"content-type": JSON_TYPE,
                               "allow": "GET"}, ERROR),
     r"Allow: GET differs from the documented methods"),
    (("PUT", "/healthz", 405, {"content-type": JSON_TYPE}, ERROR),
     r"a 405 without an Allow header"),
    (("GET", "/api/v1/me", 503, {"content-type": JSON_TYPE}, ERROR),
     r"the required header Retry-After is missing"),
    (("GET", "/api/v1/me", 503, {"content-type": JSON_TYPE,
                                 "retry-after": "soon"}, ERROR),
     r"header Retry-After: 'soon' does not match"),
    (("POST", "/api/v1/users", 201, {"content-type": JSON_TYPE}, b"{}"),
     r"the required header Location is missing"),
])
def test_checker_finds_undocumented_answers(answer, expected):
    found = problems(*answer)
    assert any(re.search(expected, p) for p in found), found


def test_unchecked_answers_are_not_recorded():
    openapi_check.take()
    with openapi_check.unchecked("a test of unchecked()"):
        openapi_check.observe("GET", "/healthz", 418,
                              {"Content-Type": JSON_TYPE}, ERROR)
    assert openapi_check.take() == []
    openapi_check.observe("GET", "/healthz", 418,
                          {"Content-Type": JSON_TYPE}, ERROR)
    found = openapi_check.take()
    assert len(found) == 1 and "test_openapi.py:" in found[0], found


# --- every operation, against a daemon ------------------------------------

def operations():
    """(METHOD, template, operation) of every documented operation; the
    logout last (it ends the sweep's session)."""
    ops = [(m.upper(), template, item[m])
           for template, item in openapi_check.document().doc[
               "paths"].items()
           for m in METHODS if m in item]
    return sorted(ops, key=lambda o: (o[:2] == ("DELETE",
                                                "/api/v1/session"), o[:2]))


def concrete(template):
    """A path of the template whose parameters name nothing."""
    return re.sub(r"\{([^}]+)\}", lambda m: "no-such-token"
                  if m.group(1) == "name" else "987654321", template)


def public(op):
    return op.get("security") == []


class Admin:
    """An admin's browser session, with its CSRF token."""

    def __init__(self, d):
        self.d = d
        self.s = requests.Session()
        r = self.s.post(d.url("/api/v1/session"),
                        json={"login": "root", "password": PASSWORD},
                        timeout=10)
        assert r.status_code == 200, r.text
        self.s.headers["X-CSRF-Token"] = r.json()["csrf_token"]

    def request(self, method, path, **kw):
        return self.s.request(method, self.d.url(path), timeout=10, **kw)


class AdminToken(Admin):
    """An admin-scope bearer token, for the routes sessions may not use."""

    def __init__(self, d, ctl):
        self.d = d
        self.s = requests.Session()
        self.s.headers["Authorization"] = "Bearer " + new_token(
            ctl, d, "sweeper", "admin")


def streams(op):
    """An operation whose answer is an event stream, which stays open."""
    ok = op.get("responses", {}).get("200", {})
    return "text/event-stream" in ok.get("content", {})


def sessions_allowed(op):
    return any("session" in s for s in op.get("security", [{"session": []}]))


MAX_BODY = 4096

# (what, request arguments, acceptable statuses) for operations with a
# JSON body.
BODY_PROBES = [
    ("wrong media type", {"data": b"x", "headers": {
        "Content-Type": "text/plain"}}, {415}),
    ("no media type", {"data": b"{}"}, {415}),
    ("not JSON", {"data": b"{", "headers": {
        "Content-Type": "application/json"}}, {400}),
    ("too large", {"data": b"[" + b" " * MAX_BODY + b"]", "headers": {
        "Content-Type": "application/json"}}, {413}),
    ("not an object", {"json": []}, {400, 422}),
    ("unknown field", {"json": {"no_such_field": 1}}, {400, 422}),
]


def test_every_operation_answers_as_documented(kontaktd, ctl):
    d = kontaktd(config={"server": {"max_body": str(MAX_BODY)}})
    add_user(ctl, d, "root", role="admin")
    session, token = Admin(d), AdminToken(d, ctl)
    anonymous = requests.Session()
    swept = 0
    for method, template, op in operations():
        path = concrete(template)
        what = f"{method} {path}"
        admin = session if sessions_allowed(op) else token
        # A credential in the path (Generic CTI): a made-up one is 401.
        cred = {401} if public(op) and "{token}" in template else set()
        if not public(op):
            r = anonymous.request(method, d.url(path), timeout=10)
            assert r.status_code == 401, f"{what}: {r.status_code}"
        if method == "GET":
            r = admin.request("HEAD", path)
            assert r.status_code < 500 and not r.content, what
        if "{" in template:
            kw = {"json": {}} if "requestBody" in op else {}
            r = admin.request(method, path, **kw)
            assert r.status_code in {404, 422} | cred, f"{what}: {r.text}"
            odd = re.sub(r"\{[^}]+\}", "%C3%A5%20x", template)
            r = admin.request(method, odd, **kw)
            assert 400 <= r.status_code < 500, f"{method} {odd}: {r.text}"
        if method == "GET":
            # An event stream is read no further than its headers.
            kw = {"stream": True} if streams(op) else {}
            r = admin.request(method, path + "?no_such_parameter=%FF", **kw)
            assert r.status_code < 500, f"{what}?...: {r.status_code}"
            r.close()
        if "requestBody" in op:
            for probe, kw, statuses in BODY_PROBES:
                if "{" in template and 413 not in statuses:
                    statuses = statuses | {404}  # the id may come first
                if 413 not in statuses:
                    statuses = statuses | cred
                r = admin.request(method, path, **kw)
                assert r.status_code in statuses, \
                    f"{what} {probe}: {r.status_code} {r.text}"
        item = openapi_check.document().doc["paths"][template]
        other = next(m for m in ("PUT", "PATCH", "DELETE", "POST")
                     if m.lower() not in item)
        r = admin.request(other, path)
        assert r.status_code == 405, f"{other} {path}: {r.status_code}"
        swept += 1
    assert swept >= 20


def test_every_operation_answers_as_documented_without_database(
        kontaktd, ctl, pg_factory, create_db):
    cluster = pg_factory()
    d = kontaktd(cluster=cluster, db=create_db(cluster=cluster),
                 config={"database": {"acquire_timeout": "1s"}},
                 allowed_errors=[r"event=db_down\b"])
    add_user(ctl, d, "root", role="admin")
    admin = Admin(d)
    cluster.stop()
    wait_until(lambda: d.get("/readyz").status_code == 503, 10,
               "/readyz to answer 503 with PostgreSQL stopped")
    for method, template, op in operations():
        path = concrete(template)
        kw = {"json": {}} if "requestBody" in op else {}
        r = admin.request(method, path, **kw)
        if template in ("/healthz", "/metrics", "/api/v1/openapi.json"):
            assert r.status_code == 200, f"{method} {path}"
        else:
            assert r.status_code == 503, f"{method} {path}: {r.text}"
            assert r.headers["Retry-After"] == "2"
