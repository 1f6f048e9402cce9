# SPDX-License-Identifier: MPL-2.0
"""Administration over the REST API: the audit log (GET /api/v1/audit),
intake's routing rules (/api/v1/routing-rules), audit rows for changes to
the directory, users and tokens, and the guard that keeps one active
admin."""

import pytest

from test_api_directory import env  # noqa: F401

ROLES = ("nobody", "agent", "supervisor", "admin", "tok_read", "tok_admin",
         "tok_cti")


def sql(d, q, params=None):
    return d.cluster.sql(q, params, dbname=d.db)


def audit_rows(d):
    return sql(d, "SELECT l.action, l.object_type, l.object_id,"
                  " coalesce(u.login, t.name), l.detail::text"
                  " FROM audit_log l LEFT JOIN users u ON u.id = l.actor_user_id"
                  " LEFT JOIN api_tokens t ON t.id = l.actor_token_id"
                  " WHERE l.object_type IS NOT NULL ORDER BY l.id")


def rule_rows(d):
    return sql(d, "SELECT id, kind, pattern, department_id, priority, active"
                  " FROM routing_rules ORDER BY id")


def new_department(env, name):
    r = env["admin"].req("POST", "/api/v1/departments", json={"name": name})
    assert r.status_code == 201, r.text
    return r.json()["id"]


# --- routing rules -----------------------------------------------------------


def test_routing_rules_crud_and_effect(env):
    d, admin = env["d"], env["admin"]
    park = new_department(env, "Parkering")
    byg = new_department(env, "Byggesager")
    r = admin.req("POST", "/api/v1/routing-rules",
                  json={"kind": "keyword", "pattern": "parkering",
                        "department_id": park})
    assert r.status_code == 201, r.text
    rule = r.json()
    assert rule == {"id": rule["id"], "kind": "keyword",
                    "pattern": "parkering", "department_id": park,
                    "priority": 100, "active": True,
                    "created_at": rule["created_at"]}
    assert r.headers["Location"] == f"/api/v1/routing-rules/{rule['id']}"
    r = env["tok_admin"].req("POST", "/api/v1/routing-rules",
                             json={"kind": "to_address",
                                   "pattern": "byg@rodovre.example",
                                   "department_id": byg, "priority": 5,
                                   "active": False})
    assert r.status_code == 201, r.text
    second = r.json()

    # Active first, then by priority.
    r = admin.req("GET", "/api/v1/routing-rules")
    assert [x["id"] for x in r.json()["items"]] == [rule["id"], second["id"]]

    # Intake uses the rule.
    agent = env["agent"]
    r = agent.req("POST", "/api/v1/cases",
                  json={"channel": "phone", "subject": "Parkering ved skolen",
                        "text": "x"})
    assert r.status_code == 201 and r.json()["department_id"] == park

    r = admin.req("PATCH", f"/api/v1/routing-rules/{rule['id']}",
                  json={"department_id": byg, "priority": 1, "active": False})
    assert r.status_code == 200, r.text
    assert r.json()["department_id"] == byg and r.json()["active"] is False
    assert r.json()["pattern"] == "parkering"
    r = agent.req("POST", "/api/v1/cases",
                  json={"channel": "phone", "subject": "Parkering igen",
                        "text": "x"})
    assert r.json()["department_id"] is None

    assert admin.req("DELETE", f"/api/v1/routing-rules/{rule['id']}") \
        .status_code == 204
    assert admin.req("DELETE", f"/api/v1/routing-rules/{rule['id']}") \
        .status_code == 404
    assert admin.req("PATCH", f"/api/v1/routing-rules/{rule['id']}",
                     json={"priority": 3}).status_code == 404
    assert [x[0] for x in rule_rows(d)] == [second["id"]]
    assert [(a, t, i, who) for a, t, i, who, _ in audit_rows(d)
            if t == "routing_rule"] == \
        [("create", "routing_rule", rule["id"], "adam"),
         ("create", "routing_rule", second["id"], "boss"),
         ("update", "routing_rule", rule["id"], "adam"),
         ("delete", "routing_rule", rule["id"], "adam")]


@pytest.mark.parametrize("payload,field", [
    ({"pattern": "x", "department_id": 1}, "kind"),
    ({"kind": "regex", "pattern": "x", "department_id": 1}, "kind"),
    ({"kind": "queue", "department_id": 1}, "pattern"),
    ({"kind": "queue", "pattern": "", "department_id": 1}, "pattern"),
    ({"kind": "queue", "pattern": "a\nb", "department_id": 1}, "pattern"),
    ({"kind": "queue", "pattern": "x" * 255, "department_id": 1}, "pattern"),
    ({"kind": "queue", "pattern": "x"}, "department_id"),
    ({"kind": "queue", "pattern": "x", "department_id": 999999},
     "department_id"),
    ({"kind": "queue", "pattern": "x", "department_id": "1"},
     "department_id"),
    ({"kind": "queue", "pattern": "x", "department_id": 1,
      "priority": 10 ** 7}, "priority"),
    ({"kind": "queue", "pattern": "x", "department_id": 1,
      "active": "yes"}, "active"),
    ({"kind": "queue", "pattern": "x", "department_id": 1, "regex": 1},
     "regex"),
])
def test_routing_rule_bad_input(env, payload, field):
    d, admin = env["d"], env["admin"]
    new_department(env, "Borgerservice")    # id 1
    r = admin.req("POST", "/api/v1/routing-rules", json=payload)
    assert r.status_code == 422, r.text
    assert field in r.json()["error"]["message"]
    assert rule_rows(d) == []
    assert admin.req("POST", "/api/v1/routing-rules", data=b"{",
                     ).status_code == 400
    assert admin.req("POST", "/api/v1/routing-rules", data=b"{}",
                     content_type="text/plain").status_code == 415
    assert rule_rows(d) == []


def test_routing_rules_authorisation(env):
    d = env["d"]
    dep = new_department(env, "Borgerservice")
    rid = sql(d, "INSERT INTO routing_rules (kind, pattern, department_id)"
                 " VALUES ('queue', '1', %s) RETURNING id", (dep,))[0][0]
    allowed = {"admin", "tok_admin"}
    for role in ROLES:
        c = env[role]
        for method, path, payload in (
                ("GET", "/api/v1/routing-rules", None),
                ("POST", "/api/v1/routing-rules",
                 {"kind": "queue", "pattern": "2", "department_id": dep}),
                ("PATCH", f"/api/v1/routing-rules/{rid}", {"priority": 7}),
                ("DELETE", f"/api/v1/routing-rules/{rid + 1000}", None)):
            r = c.req(method, path, json=payload)
            want = (401 if role == "nobody" else
                    {"GET": 200, "POST": 201, "PATCH": 200,
                     "DELETE": 404}[method] if role in allowed else 403)
            assert r.status_code == want, (role, method, r.text)
    # A session without its CSRF token changes nothing.
    r = env["admin"].req("PATCH", f"/api/v1/routing-rules/{rid}",
                         json={"priority": 1}, csrf=False)
    assert r.status_code == 403
    assert sql(d, "SELECT priority FROM routing_rules WHERE id = %s",
               (rid,)) == [(7,)]


# --- the audit log -----------------------------------------------------------


def test_directory_user_token_changes_are_audited(env):
    d, admin = env["d"], env["admin"]
    n = len(audit_rows(d))
    dep = new_department(env, "Skat")
    assert admin.req("PATCH", f"/api/v1/departments/{dep}",
                     json={"queue_number": "4711"}).status_code == 200
    r = admin.req("POST", "/api/v1/users",
                  json={"login": "bo", "role": "agent",
                        "password": "et langt kodeord"})
    uid = r.json()["id"]
    assert admin.req("PATCH", f"/api/v1/users/{uid}",
                     json={"password": "et andet langt kodeord",
                           "disabled": True}).status_code == 200
    r = env["tok_admin"].req("POST", "/api/v1/tokens",
                             json={"name": "ny", "scopes": ["read"]})
    assert r.status_code == 201
    assert admin.req("DELETE", "/api/v1/tokens/ny").status_code == 204
    # Revoking again changes nothing and writes nothing.
    assert admin.req("DELETE", "/api/v1/tokens/ny").status_code == 204
    tid = sql(d, "SELECT id FROM api_tokens WHERE name = 'ny'")[0][0]
    rows = audit_rows(d)[n:]
    assert rows == [
        ("create", "department", dep, "adam", '{"name": "Skat"}'),
        ("update", "department", dep, "adam",
         '{"fields": ["queue_number"]}'),
        ("create", "user", uid, "adam", '{"role": "agent", "login": "bo"}'),
        ("update", "user", uid, "adam",
         '{"fields": ["password", "disabled"]}'),
        ("create", "token", tid, "boss",
         '{"name": "ny", "scopes": "read"}'),
        ("delete", "token", tid, "adam", '{"name": "ny"}')]
    # No password or token text in the audit log.
    assert "kodeord" not in str(sql(d, "SELECT detail::text FROM audit_log"))
    # A refused change leaves no audit row.
    assert admin.req("POST", "/api/v1/users",
                     json={"login": "bo", "role": "agent",
                           "password": "et langt kodeord"}).status_code == 409
    assert len(audit_rows(d)) == n + 6


def test_audit_api(env):
    d, agent = env["d"], env["agent"]
    ids = []
    for i in range(5):
        r = agent.req("POST", "/api/v1/cases",
                      json={"channel": "phone", "subject": f"Sag {i}",
                            "text": "x"})
        ids.append(r.json()["id"])
    agent.req("GET", f"/api/v1/cases/{ids[0]}")
    sup = env["supervisor"]
    r = sup.req("GET", "/api/v1/audit")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items[0]["action"] == "read" and items[0]["case_id"] == ids[0]
    assert items[0]["actor_user_id"] == sql(
        d, "SELECT id FROM users WHERE login = 'agnes'")[0][0]
    assert items[0]["peer"] == "127.0.0.1" and items[0]["actor_token"] is None
    assert [x["id"] for x in items] == sorted((x["id"] for x in items),
                                              reverse=True)

    r = sup.req("GET", f"/api/v1/audit?case_id={ids[0]}")
    assert [x["action"] for x in r.json()["items"]] == ["read", "create"]
    # kontaktctl's user and token creations are create rows too: ask
    # for the agent's.
    q = f"/api/v1/audit?action=create&user_id={items[0]['actor_user_id']}"
    r = sup.req("GET", q + "&limit=2")
    page1 = r.json()
    assert [x["case_id"] for x in page1["items"]] == [ids[4], ids[3]]
    r = sup.req("GET", q + "&limit=2&cursor=" + page1["next_cursor"])
    page2 = r.json()
    assert [x["case_id"] for x in page2["items"]] == [ids[2], ids[1]]
    r = sup.req("GET", q + "&limit=2&cursor=" + page2["next_cursor"])
    assert [x["case_id"] for x in r.json()["items"]] == [ids[0]]
    assert r.json()["next_cursor"] is None
    r = sup.req("GET", "/api/v1/audit?from=2000-01-01T00:00:00Z"
                       "&to=2000-01-02T00:00:00Z")
    assert r.json() == {"items": [], "next_cursor": None}
    r = env["tok_admin"].req("GET", "/api/v1/audit?object_type=token")
    assert r.status_code == 200
    assert [(x["action"], x["detail"]["name"], x["peer"][:11])
            for x in r.json()["items"]] == \
        [("create", n, "kontaktctl:") for n in ("pbx", "boss", "reader")]


@pytest.mark.parametrize("query,param", [
    ("case_id=x", "case_id"), ("case_id=0", "case_id"),
    ("user_id=-1", "user_id"), ("action=delete2", "action"),
    ("object_type=case", "object_type"), ("object_id=3", "object_id"),
    ("from=yesterday", "from"), ("to=2026-13-01T00:00:00Z", "to"),
    ("limit=0", "limit"), ("limit=201", "limit"), ("cursor=abc", "cursor"),
    ("cursor=MTIzOjQ1Ng", "cursor"),   # a case-list cursor ("123:456")
])
def test_audit_bad_params(env, query, param):
    r = env["supervisor"].req("GET", "/api/v1/audit?" + query)
    assert r.status_code == 400, r.text
    assert f"'{param}'" in r.json()["error"]["message"]


def test_audit_authorisation(env):
    want = {"nobody": 401, "agent": 403, "supervisor": 200, "admin": 200,
            "tok_read": 403, "tok_admin": 200, "tok_cti": 403}
    for role, status in want.items():
        assert env[role].req("GET", "/api/v1/audit").status_code == status, \
            role


# --- one admin stays ---------------------------------------------------------


def test_last_admin_cannot_be_disabled_or_demoted(env, ctl):
    d, admin = env["d"], env["admin"]
    aid = sql(d, "SELECT id FROM users WHERE login = 'adam'")[0][0]
    for payload in ({"disabled": True}, {"role": "supervisor"}):
        r = admin.req("PATCH", f"/api/v1/users/{aid}", json=payload)
        assert r.status_code == 409, r.text
        assert "no active admin would remain" in r.json()["error"]["message"]
    p = ctl("user", "disable", "adam", config=d.config_path)
    assert p.returncode != 0
    assert "no active admin would remain" in p.stderr
    assert sql(d, "SELECT role, disabled FROM users WHERE id = %s",
               (aid,)) == [("admin", False)]
    # With a second admin, the first may go.
    r = admin.req("POST", "/api/v1/users",
                  json={"login": "anna", "role": "admin",
                        "password": "et langt kodeord"})
    assert r.status_code == 201
    assert admin.req("PATCH", f"/api/v1/users/{aid}",
                     json={"role": "agent"}).status_code == 200
    # Now anna is the last one.
    p = ctl("user", "disable", "anna", config=d.config_path)
    assert p.returncode != 0 and "no active admin" in p.stderr


def test_kontaktctl_changes_are_audited(env, ctl):
    d = env["d"]
    n = len(audit_rows(d))
    p = ctl("user", "add", "karl", "--role", "agent", config=d.config_path,
            input="et langt kodeord\n")
    assert p.returncode == 0, p.stderr
    for args in (("user", "passwd", "karl"), ("user", "disable", "karl"),
                 ("user", "disable", "karl"),   # no change: no row
                 ("token", "create", "pbx2", "--scope", "cti:write"),
                 ("token", "revoke", "pbx2"), ("token", "revoke", "pbx2")):
        p = ctl(*args, config=d.config_path, input="et andet kodeord!\n")
        assert p.returncode == 0, (args, p.stderr)
    uid = sql(d, "SELECT id FROM users WHERE login = 'karl'")[0][0]
    tid = sql(d, "SELECT id FROM api_tokens WHERE name = 'pbx2'")[0][0]
    rows = sql(d, "SELECT action, object_type, object_id, actor_user_id,"
                  " actor_token_id, peer, detail::text FROM audit_log"
                  " WHERE object_type IS NOT NULL ORDER BY id")[n:]
    assert [r[:5] for r in rows] == [
        ("create", "user", uid, None, None),
        ("update", "user", uid, None, None),
        ("update", "user", uid, None, None),
        ("create", "token", tid, None, None),
        ("delete", "token", tid, None, None)]
    assert {r[5] for r in rows} == {"kontaktctl:root"} or \
        all(r[5].startswith("kontaktctl:") for r in rows)
    assert [r[6] for r in rows] == [
        '{"role": "agent", "login": "karl"}',
        '{"fields": ["password"]}', '{"fields": ["disabled"]}',
        '{"name": "pbx2", "scopes": "cti:write"}', '{"name": "pbx2"}']
    # A refused change leaves no row.
    p = ctl("user", "disable", "adam", config=d.config_path)
    assert p.returncode != 0
    assert len(sql(d, "SELECT 1 FROM audit_log WHERE object_type IS NOT NULL")) \
        == n + 5
