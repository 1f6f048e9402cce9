# SPDX-License-Identifier: MPL-2.0
"""Authentication over HTTP: password login and the session cookie, CSRF on
unsafe methods, logout, bearer tokens with scopes, throttling of failed
logins, and the authorisation of the routes that exist so far."""

import hashlib

import pytest
import requests

PASSWORD = "correct horse battery staple"
JSON = {"Content-Type": "application/json"}


def add_user(ctl, d, login, role="agent", password=PASSWORD, name=None):
    args = ["user", "add", login, "--role", role]
    if name:
        args += ["--name", name]
    p = ctl(*args, config=d.config_path, input=password + "\n")
    assert p.returncode == 0, p.stderr


def new_token(ctl, d, name, scopes):
    p = ctl("token", "create", name, "--scope", scopes, config=d.config_path)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def login(d, login_name, password=PASSWORD, **kw):
    return d.request("POST", "/api/v1/session",
                     json={"login": login_name, "password": password}, **kw)


def error_code(r):
    return r.json()["error"]["code"]


@pytest.fixture
def daemon(kontaktd, ctl):
    d = kontaktd(config={"auth": {"login_max_failures": "3"}})
    add_user(ctl, d, "jens", name="Jens Hansen")
    return d


def test_login_me_logout(daemon):
    d = daemon
    s = requests.Session()
    r = s.post(d.url("/api/v1/session"),
               json={"login": "jens", "password": PASSWORD}, timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    (uid,), = d.cluster.sql("SELECT id FROM users WHERE login = 'jens'",
                            dbname=d.db)
    assert body["user"] == {"id": uid, "login": "jens",
                            "name": "Jens Hansen", "role": "agent",
                            "department_id": None}
    csrf = body["csrf_token"]
    assert len(csrf) >= 32
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("ktd_session=")
    for attr in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="):
        assert attr in cookie, cookie
    assert "Secure" not in cookie  # plain HTTP here; see test_tls
    assert r.headers["Cache-Control"] == "no-store"

    me = s.get(d.url("/api/v1/me"), timeout=10)
    assert me.status_code == 200
    assert me.json() == {"auth": "session", "csrf_token": csrf,
                         "user": body["user"]}

    # Unsafe methods need the CSRF token.
    r = s.delete(d.url("/api/v1/session"), timeout=10)
    assert r.status_code == 403 and error_code(r) == "csrf"
    r = s.delete(d.url("/api/v1/session"),
                 headers={"X-CSRF-Token": csrf[:-1] + "x"}, timeout=10)
    assert r.status_code == 403 and error_code(r) == "csrf"
    assert s.get(d.url("/api/v1/me"), timeout=10).status_code == 200

    r = s.delete(d.url("/api/v1/session"), headers={"X-CSRF-Token": csrf},
                 timeout=10)
    assert r.status_code == 204
    assert "Max-Age=0" in r.headers["Set-Cookie"]
    assert d.log_contains(r"event=logout user=jens\b")


def test_logged_out_session_is_dead_server_side(daemon):
    d = daemon
    r = login(d, "jens")
    token = r.cookies["ktd_session"]
    csrf = r.json()["csrf_token"]
    cookies = {"ktd_session": token}
    assert d.get("/api/v1/me", cookies=cookies).status_code == 200
    r = d.request("DELETE", "/api/v1/session", cookies=cookies,
                  headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    # Replaying the old cookie does not work.
    r = d.get("/api/v1/me", cookies=cookies)
    assert r.status_code == 401


def test_session_stored_only_as_hash(daemon):
    d = daemon
    token = login(d, "jens").cookies["ktd_session"]
    rows = d.cluster.sql("SELECT encode(id_hash, 'hex'), peer FROM sessions",
                         dbname=d.db)
    assert rows == [(hashlib.sha256(token.encode()).hexdigest(),
                     "127.0.0.1")]
    dump = repr(d.cluster.sql("SELECT * FROM sessions", dbname=d.db))
    assert token not in dump
    assert PASSWORD not in d.log()


def test_expired_session_is_refused(daemon):
    d = daemon
    token = login(d, "jens").cookies["ktd_session"]
    d.cluster.sql("UPDATE sessions SET expires_at = now() - interval '1 s',"
                  " created_at = now() - interval '1 h'", dbname=d.db)
    r = d.get("/api/v1/me", cookies={"ktd_session": token})
    assert r.status_code == 401


def test_password_change_and_disable_end_sessions(daemon, ctl):
    d = daemon
    token = login(d, "jens").cookies["ktd_session"]
    p = ctl("user", "passwd", "jens", config=d.config_path,
            input="another long password\n")
    assert p.returncode == 0, p.stderr
    assert d.get("/api/v1/me", cookies={"ktd_session": token}) \
        .status_code == 401
    assert login(d, "jens").status_code == 401
    token = login(d, "jens", "another long password").cookies["ktd_session"]
    p = ctl("user", "disable", "jens", config=d.config_path)
    assert p.returncode == 0, p.stderr
    assert d.get("/api/v1/me", cookies={"ktd_session": token}) \
        .status_code == 401
    r = login(d, "jens", "another long password")
    assert r.status_code == 401


@pytest.mark.parametrize("who,password", [
    ("jens", "wrong password 123"),
    ("nobody", PASSWORD),
    ("NOT a login!", PASSWORD),
])
def test_failed_logins_look_alike(daemon, who, password):
    r = login(daemon, who, password)
    assert r.status_code == 401
    assert r.json() == {"error": {"code": "unauthenticated",
                                  "message": "wrong login or password"}}
    assert "Set-Cookie" not in r.headers
    assert daemon.log_contains(r"event=login_failed\b")


def test_failed_logins_are_throttled(daemon, ctl):
    d = daemon
    add_user(ctl, d, "karen")
    for _ in range(3):
        assert login(d, "jens", "wrong password 123").status_code == 401
    # Now even the right password waits for the window to pass.
    r = login(d, "jens")
    assert r.status_code == 429
    assert error_code(r) == "rate_limited"
    assert int(r.headers["Retry-After"]) == 15 * 60
    assert d.log_contains(r"event=login_throttled login=jens\b")
    # Another login from the same address still works (the address is
    # allowed 4 times as many failures).
    assert login(d, "karen").status_code == 200
    # Failures of other logins do add up per address.
    for i in range(12):
        login(d, f"guess{i}", "wrong password 123")
    assert login(d, "karen").status_code == 429


@pytest.mark.parametrize("headers,body,status,code", [
    ({"Content-Type": "text/plain"}, '{"login":"a","password":"b"}', 415,
     "unsupported_media_type"),
    ({}, '{"login":"a","password":"b"}', 415, "unsupported_media_type"),
    (JSON, '{"login":"a",', 400, "bad_request"),
    (JSON, '["login"]', 400, "bad_request"),
    (JSON, '{"login":"a"}', 422, "unprocessable"),
    (JSON, '{"login":"a","password":"b","admin":true}', 422,
     "unprocessable"),
    (JSON, '{"login":1,"password":"b"}', 422, "unprocessable"),
    (JSON, '{"login":"' + "a" * 300 + '","password":"b"}', 422,
     "unprocessable"),
])
def test_bad_login_requests(daemon, headers, body, status, code):
    r = daemon.request("POST", "/api/v1/session", data=body.encode(),
                       headers=headers)
    assert r.status_code == status, r.text
    assert error_code(r) == code
    assert "Set-Cookie" not in r.headers


def test_json_content_type_with_charset_is_accepted(daemon):
    r = daemon.request("POST", "/api/v1/session",
                       data=('{"login":"jens","password":"%s"}' % PASSWORD)
                       .encode(),
                       headers={"Content-Type":
                                "application/json; charset=utf-8"})
    assert r.status_code == 200, r.text


def test_unauthenticated(daemon):
    r = daemon.get("/api/v1/me")
    assert r.status_code == 401
    assert error_code(r) == "unauthenticated"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    for cookie in ("", "x", "A" * 43, "\u00e6" * 10):
        r = daemon.get("/api/v1/me",
                       headers={"Cookie": f"ktd_session={cookie}"
                                .encode("utf-8")})
        assert r.status_code == 401


def test_bearer_tokens(daemon, ctl):
    d = daemon
    tok = new_token(ctl, d, "pbx", "cti:write,read")
    r = d.get("/api/v1/me", headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 200, r.text
    assert r.json() == {"auth": "token", "token": "pbx",
                        "scopes": ["cti:write", "read"]}
    last = d.cluster.sql("SELECT last_used_at IS NOT NULL FROM api_tokens "
                         "WHERE name = 'pbx'", dbname=d.db)
    assert last == [(True,)]
    # A token cannot end a browser session (and needs no CSRF token).
    r = d.request("DELETE", "/api/v1/session",
                  headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 403 and error_code(r) == "forbidden"
    for bad in ("Bearer " + tok[:-1] + ("A" if tok[-1] != "A" else "B"),
                "Bearer nope", "Basic " + tok, "Bearer"):
        r = d.get("/api/v1/me", headers={"Authorization": bad})
        assert r.status_code == 401, bad
    # A wrong bearer token is not rescued by a valid cookie.
    cookie = login(d, "jens").cookies["ktd_session"]
    r = d.get("/api/v1/me", headers={"Authorization": "Bearer nope"},
              cookies={"ktd_session": cookie})
    assert r.status_code == 401

    p = ctl("token", "revoke", "pbx", config=d.config_path)
    assert p.returncode == 0, p.stderr
    r = d.get("/api/v1/me", headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 401


def test_authorisation_matrix(daemon, ctl):
    """Every route, as nobody, as each role and as a token: the answer is
    the one its rules give (public, session only, or any principal)."""
    d = daemon
    for role in ("agent", "supervisor", "admin"):
        add_user(ctl, d, f"u-{role}", role=role)
    sessions = {}
    for role in ("agent", "supervisor", "admin"):
        r = login(d, f"u-{role}")
        assert r.status_code == 200
        sessions[role] = (r.cookies["ktd_session"], r.json()["csrf_token"])
    tok = new_token(ctl, d, "reader", "read")

    def call(method, path, who):
        headers, cookies = {}, {}
        if who == "token":
            headers["Authorization"] = f"Bearer {tok}"
        elif who != "nobody":
            cookies["ktd_session"], headers["X-CSRF-Token"] = sessions[who]
        return d.request(method, path, headers=headers,
                         cookies=cookies).status_code

    # (method, path): expected status for nobody, agent, supervisor,
    # admin, token.
    matrix = {
        ("GET", "/healthz"): (200, 200, 200, 200, 200),
        ("GET", "/api/v1/openapi.json"): (200, 200, 200, 200, 200),
        ("GET", "/metrics"): (200, 200, 200, 200, 200),
        ("GET", "/api/v1/me"): (401, 200, 200, 200, 200),
        # Logging out ends the session: run it last for each role.
        ("DELETE", "/api/v1/session"): (401, 204, 204, 204, 403),
    }
    for (method, path), expected in matrix.items():
        for who, status in zip(("nobody", "agent", "supervisor", "admin",
                                "token"), expected):
            assert call(method, path, who) == status, (method, path, who)


def stored_hash(d, login_name):
    return d.cluster.sql("SELECT password_hash FROM users WHERE login = %s",
                         (login_name,), dbname=d.db)[0][0]


DEFAULT_COST = {"auth": {"password_hash_memory": None,
                         "password_hash_passes": None}}


def test_default_password_cost(kontaktd, ctl):
    # The other tests hash cheaply (utils.base_config); the shipped
    # default is libsodium's interactive limit: 64 MiB, 2 passes.
    d = kontaktd(config=DEFAULT_COST)
    add_user(ctl, d, "jens")
    assert stored_hash(d, "jens").startswith("$argon2id$v=19$m=65536,t=2,p=1$")
    r = login(d, "jens")
    assert r.status_code == 200, r.text
    assert not d.log_contains(r"event=weak_password_hash")
    assert not d.log_contains(r"event=password_rehashed")


def test_weak_cost_is_warned_about(kontaktd):
    d = kontaktd()  # 1M, 1 pass
    assert d.log_contains(r"level=warn.*event=weak_password_hash "
                          r"memory=1048576 passes=1")


def test_hash_renewed_at_login_after_cost_change(kontaktd, ctl, create_db):
    cheap = kontaktd()
    add_user(ctl, cheap, "jens")
    old = stored_hash(cheap, "jens")
    assert old.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    s = requests.Session()
    r = s.post(cheap.url("/api/v1/session"),
               json={"login": "jens", "password": PASSWORD}, timeout=10)
    assert r.status_code == 200, r.text
    assert stored_hash(cheap, "jens") == old  # the cost it was made at
    cheap.stop()

    # The operator raises the cost: the next good login renews the hash,
    # a wrong password does not, and the session from before stays.
    d = kontaktd(db=cheap.db, config={"auth": {
        "password_hash_memory": "32M", "password_hash_passes": 3}})
    assert login(d, "jens", "wrong password here").status_code == 401
    assert stored_hash(d, "jens") == old
    r = login(d, "jens")
    assert r.status_code == 200, r.text
    new = stored_hash(d, "jens")
    assert new.startswith("$argon2id$v=19$m=32768,t=3,p=1$"), new
    assert d.log_contains(r"event=password_rehashed user=jens")
    assert s.get(d.url("/api/v1/me"), timeout=10).status_code == 200
    # Once renewed, it stays.
    assert login(d, "jens").status_code == 200
    assert stored_hash(d, "jens") == new
