# SPDX-License-Identifier: MPL-2.0
"""Users and API tokens over the REST API: GET/POST /api/v1/users,
GET/PATCH /api/v1/users/{id}, GET/POST /api/v1/tokens and DELETE
/api/v1/tokens/{name}: the happy paths, sessions ended by a new password or
disabling, the authorisation matrix, and bad input answered 400/422 with the
field named and nothing written."""

import hashlib

from test_api_directory import env  # noqa: F401


def user_rows(d):
    return d.cluster.sql("SELECT id, login, name, role, department_id,"
                         " disabled, password_hash FROM users ORDER BY id",
                         dbname=d.db)


def token_rows(d):
    return d.cluster.sql("SELECT name, scopes, created_by, revoked_at"
                         " FROM api_tokens ORDER BY id", dbname=d.db)


def test_user_create_get_list_patch(env):
    d, admin, sup = env["d"], env["admin"], env["supervisor"]
    dep = admin.req("POST", "/api/v1/departments",
                    json={"name": "Sk\u00e6rg\u00e5rden"}).json()
    r = admin.req("POST", "/api/v1/users",
                  json={"login": "soeren.aa", "name": "S\u00f8ren \u00c5g\u00e5rd",
                        "role": "agent", "department_id": dep["id"],
                        "password": "et langt kodeord \u00e6\u00f8\u00e5"})
    assert r.status_code == 201, r.text
    u = r.json()
    assert u == {"id": u["id"], "login": "soeren.aa",
                 "name": "S\u00f8ren \u00c5g\u00e5rd", "role": "agent",
                 "department_id": dep["id"],
                 "department": "Sk\u00e6rg\u00e5rden", "disabled": False,
                 "created_at": u["created_at"]}
    assert u["created_at"].endswith("Z") and "T" in u["created_at"]
    assert r.headers["Location"] == f"/api/v1/users/{u['id']}"
    assert "argon2" not in r.text and "password" not in r.text

    r = sup.req("GET", f"/api/v1/users/{u['id']}")
    assert r.status_code == 200 and r.json() == u
    r = sup.req("GET", "/api/v1/users")
    assert r.status_code == 200 and "argon2" not in r.text
    assert [x["login"] for x in r.json()["items"]] == \
        ["adam", "agnes", "soeren.aa", "svend"]
    assert u in r.json()["items"]

    # The new user logs in; PATCH a name, role and department.
    r = d.request("POST", "/api/v1/session",
                  json={"login": "soeren.aa",
                        "password": "et langt kodeord \u00e6\u00f8\u00e5"})
    assert r.status_code == 200
    cookie = {"ktd_session": r.cookies["ktd_session"]}
    r = admin.req("PATCH", f"/api/v1/users/{u['id']}",
                  json={"name": "S\u00f8ren", "role": "supervisor",
                        "department_id": None})
    assert r.status_code == 200, r.text
    assert r.json() == dict(u, name="S\u00f8ren", role="supervisor",
                            department_id=None, department=None)
    assert d.get("/api/v1/me", cookies=cookie).status_code == 200

    # A new password ends the user's sessions.
    r = admin.req("PATCH", f"/api/v1/users/{u['id']}",
                  json={"password": "endnu et langt kodeord"})
    assert r.status_code == 200
    assert d.get("/api/v1/me", cookies=cookie).status_code == 401
    r = d.request("POST", "/api/v1/session",
                  json={"login": "soeren.aa",
                        "password": "endnu et langt kodeord"})
    assert r.status_code == 200
    cookie = {"ktd_session": r.cookies["ktd_session"]}

    # Disabling does too, and blocks logging in; enabling lets in again.
    r = admin.req("PATCH", f"/api/v1/users/{u['id']}",
                  json={"disabled": True})
    assert r.status_code == 200 and r.json()["disabled"] is True
    assert d.get("/api/v1/me", cookies=cookie).status_code == 401
    login = {"login": "soeren.aa", "password": "endnu et langt kodeord"}
    assert d.request("POST", "/api/v1/session", json=login) \
        .status_code == 401
    r = admin.req("PATCH", f"/api/v1/users/{u['id']}",
                  json={"disabled": False})
    assert r.status_code == 200
    assert d.request("POST", "/api/v1/session", json=login) \
        .status_code == 200

    for path in ("/api/v1/users/999999", "/api/v1/users/x"):
        assert sup.req("GET", path).status_code == 404
        assert admin.req("PATCH", path, json={"name": "Y"}).status_code == 404


def test_duplicate_login_conflicts(env):
    d, admin = env["d"], env["admin"]
    before = user_rows(d)
    r = admin.req("POST", "/api/v1/users",
                  json={"login": "agnes", "role": "agent",
                        "password": "a long enough password"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    assert user_rows(d) == before


BAD_USER = [
    (b'{"login": ', 400, None),
    (b'{"login": "b\xffb", "role": "agent"}', 400, None),
    ({"login": "ny", "role": "agent", "password": "a long password",
      "admin": True}, 422, "admin"),
    ({"role": "agent", "password": "a long password"}, 422, "login"),
    ({"login": "Ny Bruger", "role": "agent", "password": "a long password"},
     422, "login"),
    ({"login": "x" * 65, "role": "agent", "password": "a long password"},
     422, "login"),
    ({"login": 7, "role": "agent", "password": "a long password"},
     422, "login"),
    ({"login": "ny", "password": "a long password"}, 422, "role"),
    ({"login": "ny", "role": "root", "password": "a long password"},
     422, "role"),
    ({"login": "ny", "role": "agent"}, 422, "password"),
    ({"login": "ny", "role": "agent", "password": "elleve tegn"}, 422,
     "password"),
    ({"login": "ny", "role": "agent", "password": "x" * 1025}, 422,
     "password"),
    ({"login": "ny", "role": "agent", "password": ["a long password"]},
     422, "password"),
    ({"login": "ny", "role": "agent", "password": "a long password",
      "name": "n" * 201}, 422, "name"),
    ({"login": "ny", "role": "agent", "password": "a long password",
      "name": "line\nbreak"}, 422, "name"),
    ({"login": "ny", "role": "agent", "password": "a long password",
      "department_id": 999999}, 422, "department_id"),
    ({"login": "ny", "role": "agent", "password": "a long password",
      "department_id": "1"}, 422, "department_id"),
    ({"login": "ny", "role": "agent", "password": "a long password",
      "disabled": True}, 422, "disabled"),
]

BAD_USER_PATCH = [
    (b'not json', 400, None),
    ({"login": "other"}, 422, "login"),
    ({"role": "boss"}, 422, "role"),
    ({"disabled": "yes"}, 422, "disabled"),
    ({"disabled": None}, 422, "disabled"),
    ({"password": "short"}, 422, "password"),
    ({"name": 3}, 422, "name"),
    ({"department_id": 999999}, 422, "department_id"),
]


def send(client, method, path, body):
    if isinstance(body, bytes):
        return client.req(method, path, data=body)
    return client.req(method, path, json=body)


def test_user_bad_input_writes_nothing(env):
    d, admin = env["d"], env["admin"]
    agnes = [x for x in user_rows(d) if x[1] == "agnes"][0][0]
    before = user_rows(d)
    for body, status, field in BAD_USER:
        r = send(admin, "POST", "/api/v1/users", body)
        assert r.status_code == status, (body, r.text)
        if field:
            assert field in r.json()["error"]["message"], (body, r.text)
    for body, status, field in BAD_USER_PATCH:
        r = send(admin, "PATCH", f"/api/v1/users/{agnes}", body)
        assert r.status_code == status, (body, r.text)
        if field:
            assert field in r.json()["error"]["message"], (body, r.text)
    assert user_rows(d) == before


def test_user_sql_metacharacters_verbatim(env):
    admin = env["admin"]
    name = "O'Brien\"; DELETE FROM users;-- \\ %"
    r = admin.req("POST", "/api/v1/users",
                  json={"login": "o.brien", "name": name, "role": "agent",
                        "password": "'; DROP TABLE users;--"})
    assert r.status_code == 201, r.text
    assert r.json()["name"] == name
    r = env["d"].request("POST", "/api/v1/session",
                         json={"login": "o.brien",
                               "password": "'; DROP TABLE users;--"})
    assert r.status_code == 200


def test_users_authorisation_matrix(env):
    d = env["d"]
    agnes = [x for x in user_rows(d) if x[1] == "agnes"][0][0]
    read = {"nobody": 401, "agent": 403, "supervisor": 200, "admin": 200,
            "tok_read": 403, "tok_admin": 200, "tok_cti": 403}
    for who, want in read.items():
        for path in ("/api/v1/users", f"/api/v1/users/{agnes}"):
            r = env[who].req("GET", path)
            assert r.status_code == want, (who, path, r.text)
    # The names only, for choosing an assignee: every role and reader.
    names = {"nobody": 401, "agent": 200, "supervisor": 200, "admin": 200,
             "tok_read": 200, "tok_admin": 200, "tok_cti": 403}
    for who, want in names.items():
        r = env[who].req("GET", "/api/v1/assignees")
        assert r.status_code == want, (who, r.text)
        if want == 200:
            assert all(set(u) == {"id", "name", "login"}
                       for u in r.json()["items"]), r.text
    before = user_rows(d)
    for who in ("nobody", "agent", "supervisor", "tok_read", "tok_cti"):
        want = 401 if who == "nobody" else 403
        r = env[who].req("POST", "/api/v1/users",
                         json={"login": "ny", "role": "admin",
                               "password": "a long password"})
        assert r.status_code == want, (who, r.text)
        r = env[who].req("PATCH", f"/api/v1/users/{agnes}",
                         json={"role": "admin"})
        assert r.status_code == want, (who, r.text)
    r = env["admin"].req("POST", "/api/v1/users",
                         json={"login": "ny", "role": "agent",
                               "password": "a long password"}, csrf=False)
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf"
    r = env["admin"].req("PATCH", f"/api/v1/users/{agnes}",
                         json={"disabled": True}, csrf=False)
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf"
    assert user_rows(d) == before
    r = env["tok_admin"].req("POST", "/api/v1/users",
                             json={"login": "ny", "role": "agent",
                                   "password": "a long password"})
    assert r.status_code == 201
    r = env["tok_admin"].req("PATCH", f"/api/v1/users/{agnes}",
                             json={"name": "Agnes"})
    assert r.status_code == 200


def test_tokens(env):
    d, admin = env["d"], env["admin"]
    r = admin.req("POST", "/api/v1/tokens",
                  json={"name": "digital-post", "scopes":
                        ["read", "digitalpost:write"]})
    assert r.status_code == 201, r.text
    t = r.json()
    token = t.pop("token")
    assert token.startswith("ktd_") and len(token) == 47
    assert t == {"name": "digital-post",
                 "scopes": ["digitalpost:write", "read"],
                 "created_at": t["created_at"], "created_by": "user:adam",
                 "last_used_at": None, "revoked_at": None}
    assert r.headers["Location"] == "/api/v1/tokens/digital-post"
    stored = d.cluster.sql("SELECT encode(token_hash, 'hex') FROM api_tokens"
                           " WHERE name = 'digital-post'", dbname=d.db)
    assert stored == [(hashlib.sha256(token.encode()).hexdigest(),)]

    me = d.get("/api/v1/me", headers={"Authorization": "Bearer " + token})
    assert me.status_code == 200 and me.json()["token"] == "digital-post"

    r = admin.req("GET", "/api/v1/tokens")
    assert r.status_code == 200
    assert token not in r.text and "hash" not in r.text
    items = {x["name"]: x for x in r.json()["items"]}
    assert set(items) == {"boss", "digital-post", "pbx", "reader"}
    assert items["digital-post"]["last_used_at"] is not None
    assert items["reader"]["created_by"].startswith("kontaktctl:")

    r = env["tok_admin"].req("POST", "/api/v1/tokens",
                             json={"name": "by-token", "scopes": ["read"]})
    assert r.status_code == 201 and r.json()["created_by"] == "token:boss"

    before = token_rows(d)
    r = admin.req("POST", "/api/v1/tokens",
                  json={"name": "digital-post", "scopes": ["read"]})
    assert r.status_code == 409
    assert token_rows(d) == before

    r = admin.req("DELETE", "/api/v1/tokens/digital-post")
    assert r.status_code == 204
    me = d.get("/api/v1/me", headers={"Authorization": "Bearer " + token})
    assert me.status_code == 401
    r = admin.req("DELETE", "/api/v1/tokens/digital-post")
    assert r.status_code == 204  # already revoked
    r = admin.req("GET", "/api/v1/tokens")
    items = {x["name"]: x for x in r.json()["items"]}
    assert items["digital-post"]["revoked_at"] is not None
    for name in ("nope", "bad%20name", "%C3%A6"):
        r = admin.req("DELETE", "/api/v1/tokens/" + name)
        assert r.status_code == 404, name


BAD_TOKEN = [
    (b'{"name": "x", ', 400, None),
    (b'{"name": "\xc3", "scopes": ["read"]}', 400, None),
    ({"scopes": ["read"]}, 422, "name"),
    ({"name": "bad name", "scopes": ["read"]}, 422, "name"),
    ({"name": "x" * 65, "scopes": ["read"]}, 422, "name"),
    ({"name": "\u00e6bler", "scopes": ["read"]}, 422, "name"),
    ({"name": "n"}, 422, "scopes"),
    ({"name": "n", "scopes": []}, 422, "scopes"),
    ({"name": "n", "scopes": "read"}, 422, "scopes"),
    ({"name": "n", "scopes": ["root"]}, 422, "scopes"),
    ({"name": "n", "scopes": ["read,admin"]}, 422, "scopes"),
    ({"name": "n", "scopes": ["read", "read"]}, 422, "scopes"),
    ({"name": "n", "scopes": [1]}, 422, "scopes"),
    ({"name": "n", "scopes": ["read"], "expires": "never"}, 422, "expires"),
]


def test_token_bad_input_writes_nothing(env):
    d, admin = env["d"], env["admin"]
    before = token_rows(d)
    for body, status, field in BAD_TOKEN:
        r = send(admin, "POST", "/api/v1/tokens", body)
        assert r.status_code == status, (body, r.text)
        if field:
            assert field in r.json()["error"]["message"], (body, r.text)
    assert token_rows(d) == before


def test_tokens_authorisation_matrix(env):
    d = env["d"]
    before = token_rows(d)
    for who in ("nobody", "agent", "supervisor", "tok_read", "tok_cti"):
        want = 401 if who == "nobody" else 403
        assert env[who].req("GET", "/api/v1/tokens").status_code == want
        r = env[who].req("POST", "/api/v1/tokens",
                         json={"name": "n", "scopes": ["admin"]})
        assert r.status_code == want, who
        r = env[who].req("DELETE", "/api/v1/tokens/boss")
        assert r.status_code == want, who
    r = env["admin"].req("POST", "/api/v1/tokens",
                         json={"name": "n", "scopes": ["read"]}, csrf=False)
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf"
    r = env["admin"].req("DELETE", "/api/v1/tokens/pbx", csrf=False)
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf"
    assert token_rows(d) == before
    assert env["tok_admin"].req("GET", "/api/v1/tokens").status_code == 200
    assert env["admin"].req("GET", "/api/v1/tokens").status_code == 200
    r = env["tok_admin"].req("DELETE", "/api/v1/tokens/pbx")
    assert r.status_code == 204
