# SPDX-License-Identifier: MPL-2.0
"""The directory over the REST API: GET/POST /api/v1/departments and
GET/PATCH /api/v1/departments/{id}: the happy paths, open_now, the
authorisation matrix route by route, and bad input answered 400/422 with
the field named and nothing written."""

import pytest

PASSWORD = "correct horse battery staple"
SAFE = ("GET", "HEAD", "OPTIONS")


def add_user(ctl, d, login, role):
    p = ctl("user", "add", login, "--role", role, config=d.config_path,
            input=PASSWORD + "\n")
    assert p.returncode == 0, p.stderr


def new_token(ctl, d, name, scopes):
    p = ctl("token", "create", name, "--scope", scopes, config=d.config_path)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


class Client:
    """Asks as nobody, a logged-in user or a bearer token; sends the CSRF
    token on unsafe methods unless told not to."""

    def __init__(self, d, login=None, token=None):
        self.d, self.cookies, self.headers, self.csrf = d, {}, {}, None
        if login:
            r = d.request("POST", "/api/v1/session",
                          json={"login": login, "password": PASSWORD})
            assert r.status_code == 200, r.text
            self.cookies = {"ktd_session": r.cookies["ktd_session"]}
            self.csrf = r.json()["csrf_token"]
        if token:
            self.headers = {"Authorization": "Bearer " + token}

    def req(self, method, path, json=None, data=None, csrf=True,
            content_type="application/json"):
        h = dict(self.headers)
        if self.csrf and csrf and method not in SAFE:
            h["X-CSRF-Token"] = self.csrf
        if data is not None:
            h["Content-Type"] = content_type
        return self.d.request(method, path, json=json, data=data, headers=h,
                              cookies=self.cookies)


@pytest.fixture
def env(kontaktd, ctl):
    d = kontaktd()
    add_user(ctl, d, "agnes", "agent")
    add_user(ctl, d, "svend", "supervisor")
    add_user(ctl, d, "adam", "admin")
    c = {"nobody": Client(d), "agent": Client(d, "agnes"),
         "supervisor": Client(d, "svend"), "admin": Client(d, "adam"),
         "tok_read": Client(d, token=new_token(ctl, d, "reader", "read")),
         "tok_admin": Client(d, token=new_token(ctl, d, "boss", "admin")),
         "tok_cti": Client(d, token=new_token(ctl, d, "pbx", "cti:write"))}
    c["d"] = d
    return c


def dep_rows(d):
    return d.cluster.sql("SELECT id, name, queue_number, hunt_group_number,"
                         " ivr_choice, email, phone_hours::text,"
                         " handled_by_centre, phase, active, parent_id"
                         " FROM departments ORDER BY id", dbname=d.db)


FULL = {
    "name": "\u00d8konomi og l\u00f8n \u00e6\u00f8\u00e5 \u00c6\u00d8\u00c5",
    "queue_number": "+4570100",
    "hunt_group_number": "7400",
    "ivr_choice": "4*#",
    "email": "\u00f8konomi@kommune.example",
    "phone_hours": {"mon": [["08:00", "12:00"], ["13:00", "15:00"]],
                    "fri": [["08:00", "13:00"]]},
    "handled_by_centre": True,
    "phase": 2,
    "active": True,
}


def test_create_get_list_patch(env):
    d, admin, agent = env["d"], env["admin"], env["agent"]
    r = admin.req("POST", "/api/v1/departments", json={"name": "Borgerservice"})
    assert r.status_code == 201, r.text
    parent = r.json()
    assert parent == {"id": parent["id"], "name": "Borgerservice",
                      "parent_id": None, "parent": None,
                      "queue_number": None, "hunt_group_number": None,
                      "ivr_choice": None, "email": None, "phone_hours": {},
                      "handled_by_centre": False, "phase": None,
                      "active": True, "open_now": False}
    assert isinstance(parent["id"], int)
    assert r.headers["Location"] == f"/api/v1/departments/{parent['id']}"

    r = admin.req("POST", "/api/v1/departments",
                  json=dict(FULL, parent_id=parent["id"]))
    assert r.status_code == 201, r.text
    dep = r.json()
    for k, v in FULL.items():
        assert dep[k] == v, k
    assert dep["parent_id"] == parent["id"]
    assert dep["parent"] == "Borgerservice"
    assert r.headers["Location"] == f"/api/v1/departments/{dep['id']}"

    # Every role reads it back the same, Danish letters intact.
    r = agent.req("GET", r.headers["Location"])
    assert r.status_code == 200 and r.json() == dep
    r = agent.req("GET", "/api/v1/departments")
    assert r.status_code == 200
    assert r.json() == {"items": [parent, dep]}

    # Search and filters.
    def names(query):
        r = agent.req("GET", "/api/v1/departments" + query)
        assert r.status_code == 200, r.text
        return [x["name"] for x in r.json()["items"]]
    assert names("?q=BORGER") == ["Borgerservice"]
    assert names("?q=l%C3%B8n") == [FULL["name"]]
    assert names("?q=%25") == []  # no LIKE wildcards
    assert names("?handled_by_centre=true") == [FULL["name"]]
    assert names("?handled_by_centre=false") == ["Borgerservice"]
    assert names("?active=false") == []
    assert names("?active=true&q=service") == ["Borgerservice"]
    r = agent.req("GET", "/api/v1/departments?active=yes")
    assert r.status_code == 400 and "active" in r.json()["error"]["message"]

    # PATCH changes only what it names; null clears.
    r = admin.req("PATCH", f"/api/v1/departments/{dep['id']}",
                  json={"email": "loen@kommune.example", "queue_number": None,
                        "active": False, "parent_id": None})
    assert r.status_code == 200, r.text
    changed = r.json()
    assert changed == dict(dep, email="loen@kommune.example",
                           queue_number=None, active=False, parent_id=None,
                           parent=None, open_now=changed["open_now"])
    assert names("?active=false") == [FULL["name"]]
    r = admin.req("PATCH", f"/api/v1/departments/{dep['id']}",
                  json={"handled_by_centre": False, "phase": None})
    assert r.status_code == 200
    assert r.json()["handled_by_centre"] is False
    assert r.json()["phase"] is None
    r = admin.req("PATCH", f"/api/v1/departments/{dep['id']}", json={})
    assert r.status_code == 200

    for path in ("/api/v1/departments/999999", "/api/v1/departments/abc",
                 "/api/v1/departments/0", "/api/v1/departments/-1"):
        assert agent.req("GET", path).status_code == 404, path
        r = admin.req("PATCH", path, json={"active": False})
        assert r.status_code == 404, path


def test_duplicate_name_conflicts(env):
    d, admin = env["d"], env["admin"]
    r = admin.req("POST", "/api/v1/departments", json={"name": "Jobcenter"})
    assert r.status_code == 201
    first = r.json()["id"]
    r = admin.req("POST", "/api/v1/departments", json={"name": "JOBCENTER"})
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "conflict"
    r = admin.req("POST", "/api/v1/departments", json={"name": "Ydelser"})
    before = dep_rows(d)
    r = admin.req("PATCH", f"/api/v1/departments/{r.json()['id']}",
                  json={"name": "jobcenter"})
    assert r.status_code == 409
    assert dep_rows(d) == before
    assert first


def test_open_now(env):
    admin = env["admin"]
    always = {day: [["00:00", "24:00"]]
              for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    r = admin.req("POST", "/api/v1/departments",
                  json={"name": "Altid", "phone_hours": always})
    assert r.status_code == 201 and r.json()["open_now"] is True
    r = admin.req("POST", "/api/v1/departments", json={"name": "Aldrig"})
    assert r.json()["open_now"] is False
    # Open on one weekday only: open now exactly when today is that day in
    # Copenhagen.
    import datetime
    import zoneinfo
    now = datetime.datetime.now(zoneinfo.ZoneInfo("Europe/Copenhagen"))
    today = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[now.weekday()]
    other = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[
        (now.weekday() + 3) % 7]
    r = admin.req("POST", "/api/v1/departments",
                  json={"name": "I dag", "phone_hours":
                        {today: [["00:00", "24:00"]]}})
    assert r.json()["open_now"] is True
    r = admin.req("POST", "/api/v1/departments",
                  json={"name": "Anden dag", "phone_hours":
                        {other: [["00:00", "24:00"]]}})
    assert r.json()["open_now"] is False


def test_authorisation_matrix(env):
    d, admin = env["d"], env["admin"]
    r = admin.req("POST", "/api/v1/departments", json={"name": "M\u00e5l"})
    dep_id = r.json()["id"]
    read = {"nobody": 401, "agent": 200, "supervisor": 200, "admin": 200,
            "tok_read": 200, "tok_admin": 200, "tok_cti": 403}
    write_ok = {"nobody": 401, "agent": 403, "supervisor": 403,
                "tok_read": 403, "tok_cti": 403}
    for who, want in read.items():
        for path in ("/api/v1/departments", f"/api/v1/departments/{dep_id}"):
            r = env[who].req("GET", path)
            assert r.status_code == want, (who, path, r.text)
    n = 0
    for who, want in write_ok.items():
        n += 1
        r = env[who].req("POST", "/api/v1/departments",
                         json={"name": f"Ny {n}"})
        assert r.status_code == want, (who, r.text)
        r = env[who].req("PATCH", f"/api/v1/departments/{dep_id}",
                         json={"email": "x@y.dk"})
        assert r.status_code == want, (who, r.text)
    assert [x[1] for x in dep_rows(d)] == ["M\u00e5l"]
    # A session without the CSRF token may not write.
    r = admin.req("POST", "/api/v1/departments", json={"name": "Uden"},
                  csrf=False)
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf"
    r = admin.req("PATCH", f"/api/v1/departments/{dep_id}",
                  json={"active": False}, csrf=False)
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf"
    assert len(dep_rows(d)) == 1
    for who in ("admin", "tok_admin"):
        r = env[who].req("POST", "/api/v1/departments",
                         json={"name": "Af " + who})
        assert r.status_code == 201, r.text
        r = env[who].req("PATCH", f"/api/v1/departments/{dep_id}",
                         json={"ivr_choice": "12"})
        assert r.status_code == 200, r.text


BAD_CREATE = [
    # (body as bytes or JSON, status, field named in the message)
    (b'{"name": ', 400, None),
    (b'[]', 400, None),
    (b'{"name": "\xff\xfe"}', 400, None),
    (b'{"name": "A", "name": "B"}', 400, None),
    ({"name": "X", "colour": "red"}, 422, "colour"),
    ({}, 422, "name"),
    ({"name": None}, 422, "name"),
    ({"name": 5}, 422, "name"),
    ({"name": ""}, 422, "name"),
    ({"name": "x" * 201}, 422, "name"),
    ({"name": "x" * 5000}, 422, "name"),
    ({"name": " Borgerservice"}, 422, "name"),
    ({"name": "Tab\there"}, 422, "name"),
    ({"name": "X", "queue_number": "12a"}, 422, "queue_number"),
    ({"name": "X", "queue_number": 12}, 422, "queue_number"),
    ({"name": "X", "hunt_group_number": "1" * 21}, 422, "hunt_group_number"),
    ({"name": "X", "ivr_choice": "1a"}, 422, "ivr_choice"),
    ({"name": "X", "email": "not-an-email"}, 422, "email"),
    ({"name": "X", "email": "a@b.dk" * 100}, 422, "email"),
    ({"name": "X", "phone_hours": {"mon": [["15:00", "08:00"]]}}, 422,
     "phone_hours"),
    ({"name": "X", "phone_hours": {"someday": []}}, 422, "phone_hours"),
    ({"name": "X", "phone_hours": "mon 08:00-15:00"}, 422, "phone_hours"),
    ({"name": "X", "phone_hours": None}, 422, "phone_hours"),
    ({"name": "X", "handled_by_centre": "yes"}, 422, "handled_by_centre"),
    ({"name": "X", "handled_by_centre": True}, 422, "phase"),
    ({"name": "X", "phase": 1}, 422, "phase"),
    ({"name": "X", "handled_by_centre": True, "phase": 4}, 422, "phase"),
    ({"name": "X", "active": None}, 422, "active"),
    ({"name": "X", "active": 1}, 422, "active"),
    ({"name": "X", "parent_id": 999999}, 422, "parent_id"),
    ({"name": "X", "parent_id": "1"}, 422, "parent_id"),
    ({"name": "X", "parent_id": 0}, 422, "parent_id"),
]


def test_bad_input_writes_nothing(env):
    d, admin = env["d"], env["admin"]
    r = admin.req("POST", "/api/v1/departments", json={"name": "Fast"})
    dep_id = r.json()["id"]
    before = dep_rows(d)
    for body, status, field in BAD_CREATE:
        for method, path in (("POST", "/api/v1/departments"),
                             ("PATCH", f"/api/v1/departments/{dep_id}")):
            if method == "PATCH" and body == {}:
                continue  # an empty change is fine
            if isinstance(body, bytes):
                r = admin.req(method, path, data=body)
            else:
                r = admin.req(method, path, json=body)
            assert r.status_code == status, (method, body, r.text)
            msg = r.json()["error"]["message"]
            if field:
                assert field in msg, (body, msg)
    r = admin.req("POST", "/api/v1/departments", data=b'{"name": "X"}',
                  content_type="text/plain")
    assert r.status_code == 415
    r = admin.req("PATCH", f"/api/v1/departments/{dep_id}",
                  json={"parent_id": dep_id})
    assert r.status_code == 422 and "parent_id" in r.text
    assert dep_rows(d) == before


def test_parent_cycle_refused(env):
    d, admin = env["d"], env["admin"]
    a = admin.req("POST", "/api/v1/departments", json={"name": "A"}).json()
    b = admin.req("POST", "/api/v1/departments",
                  json={"name": "B", "parent_id": a["id"]}).json()
    before = dep_rows(d)
    r = admin.req("PATCH", f"/api/v1/departments/{a['id']}",
                  json={"parent_id": b["id"]})
    assert r.status_code == 422, r.text
    assert "parent_id" in r.json()["error"]["message"]
    assert dep_rows(d) == before


def test_sql_metacharacters_stored_verbatim(env):
    d, admin = env["d"], env["admin"]
    name = "Robert'); DROP TABLE departments;-- \"x\" \\ %_ $1"
    r = admin.req("POST", "/api/v1/departments", json={"name": name})
    assert r.status_code == 201, r.text
    assert r.json()["name"] == name
    assert dep_rows(d)[0][1] == name
    r = admin.req("GET", "/api/v1/departments?q=%25_%20%241")
    assert [x["name"] for x in r.json()["items"]] == [name]
