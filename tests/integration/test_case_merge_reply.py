# SPDX-License-Identifier: MPL-2.0
"""Merging duplicate cases and replying by e-mail through the outbox, over
HTTP: what moves, what is refused (409 with the current case, 422 naming
the field) and that nothing is written when refused."""

import concurrent.futures
import re

import pytest

from test_auth import add_user, new_token
from test_case_actions import act, new_case
from test_cases import Client, body, sql

FROM = "kontakt@rodovre.example"


@pytest.fixture
def daemon(kontaktd, ctl):
    d = kontaktd(config={"smtp": {"from": FROM}})
    add_user(ctl, d, "agnete")
    add_user(ctl, d, "sofus", role="supervisor")
    return d


@pytest.fixture
def agent(daemon):
    return Client(daemon, "agnete")


def snapshot(d):
    return sql(d, "SELECT (SELECT json_agg(c ORDER BY id)::text FROM"
                  "  (SELECT id, status, resolution, version, merged_into_id"
                  "   FROM cases) c),"
                  " (SELECT json_agg(ct ORDER BY id)::text FROM"
                  "  (SELECT id, case_id FROM contacts) ct),"
                  " (SELECT count(*) FROM outbox),"
                  " (SELECT count(*) FROM audit_log"
                  "  WHERE action IN ('merge', 'reply'))")[0]


# --- merge ---------------------------------------------------------------


def test_merge(daemon, agent):
    d = daemon
    keep = new_case(agent, citizen={"phone": "+4512345678"})
    dup = new_case(agent, citizen={"name": "Åse Ørnsø",
                                   "email": "aase@example.org"},
                   subject="Samme sag igen")
    act(agent, dup["id"], "notes", {"text": "Ringede igen"})
    r = act(agent, dup["id"], "merge", {"into": keep["id"]})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["id"] == keep["id"]
    assert got["contact_count"] == 3
    assert got["version"] == keep["version"] + 1
    # The empty citizen fields of the kept case come from the duplicate.
    assert got["citizen"]["name"] == "Åse Ørnsø"
    assert got["citizen"]["email"] == "aase@example.org"
    assert got["citizen"]["phone"] == "+4512345678"

    gone = agent.get(f"/api/v1/cases/{dup['id']}").json()
    assert gone["status"] == "closed" and gone["resolution"] == "duplicate"
    assert gone["merged_into_id"] == keep["id"]
    assert gone["contacts"] == [] and gone["resolved_at"]
    kept = agent.get(f"/api/v1/cases/{keep['id']}").json()
    assert len(kept["contacts"]) == 3
    assert {c["case_id"] for c in kept["contacts"]} == {keep["id"]}
    assert sql(d, "SELECT case_id, detail->>'merged_from',"
                  " detail->>'merged_into', detail->>'contacts'"
                  " FROM audit_log WHERE action = 'merge' ORDER BY id") == \
        [(keep["id"], str(dup["id"]), None, "2"),
         (dup["id"], None, str(keep["id"]), "2")]

    # A new contact naming the merged case's reference lands on the kept
    # case.
    r = agent.post("/api/v1/cases", json=body(
        channel="web", case_reference=dup["reference"]))
    assert r.status_code == 201 and r.json()["id"] == keep["id"]


def test_merge_refusals(daemon, agent):
    d = daemon
    a, b, c = (new_case(agent) for _ in range(3))
    before = snapshot(d)
    for payload, status, text in (
            ({"into": a["id"]}, 422, "into"),         # itself
            ({"into": 999999}, 422, "into"),
            ({"into": "2"}, 422, "into"),
            ({}, 422, "into"),
            ({"into": b["id"], "extra": 1}, 422, "extra"),
            ({"into": b["id"], "version": 5}, 409, "version")):
        r = act(agent, a["id"], "merge", payload)
        assert r.status_code == status, (payload, r.text)
        assert text in r.text
        if status == 409:
            assert r.json()["case"]["id"] == a["id"]
    assert act(agent, 999999, "merge", {"into": a["id"]}).status_code == 404
    assert snapshot(d) == before

    assert act(agent, a["id"], "merge", {"into": b["id"]}).status_code == 200
    before = snapshot(d)
    # Merged already; and into a merged case.
    r = act(agent, a["id"], "merge", {"into": c["id"]})
    assert r.status_code == 409 and "merged" in r.json()["error"]["message"]
    assert r.json()["case"]["merged_into_id"] == b["id"]
    r = act(agent, c["id"], "merge", {"into": a["id"]})
    assert r.status_code == 409 and "merge into that one" in r.text
    # A merged case takes no other action either.
    for action, payload in (("resolve", {"resolution": "spam"}),
                            ("notes", {"text": "x"}),
                            ("replies", {"text": "x", "to": "a@b.dk"})):
        assert act(agent, a["id"], action, payload).status_code == 409
    assert snapshot(d) == before


def test_merge_chain_points_at_the_end(daemon, agent):
    a, b, c = (new_case(agent) for _ in range(3))
    assert act(agent, a["id"], "merge", {"into": b["id"]}).status_code == 200
    assert act(agent, b["id"], "merge", {"into": c["id"]}).status_code == 200
    assert agent.get(f"/api/v1/cases/{a['id']}").json()["merged_into_id"] \
        == c["id"]


def test_merge_each_other_at_once(daemon, agent):
    """Two agents merge A into B and B into A at the same moment: one
    wins, the other gets 409, no deadlock, never both."""
    d = daemon
    other = Client(d, "sofus")
    for _ in range(5):
        a, b = new_case(agent), new_case(agent)
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            f1 = ex.submit(act, agent, a["id"], "merge", {"into": b["id"]})
            f2 = ex.submit(act, other, b["id"], "merge", {"into": a["id"]})
            codes = sorted((f1.result().status_code,
                            f2.result().status_code))
        assert codes == [200, 409], codes
        merged = sql(d, "SELECT count(*) FROM cases WHERE id IN (%s, %s)"
                        " AND merged_into_id IS NOT NULL", (a["id"], b["id"]))
        assert merged == [(1,)]


# --- replies ----------------------------------------------------------------


def inbound_mail(d, case_id, message_id, sender, minutes_ago):
    sql(d, "INSERT INTO contacts (case_id, channel, direction, external_id,"
           " from_addr, to_addr, subject, body, occurred_at)"
           " VALUES (%s, 'email', 'in', %s, %s, 'kontakt@rodovre.example',"
           " 'Storskrald', 'Hvornår henter I?',"
           " now() - make_interval(mins => %s))",
        (case_id, message_id, sender, minutes_ago))


def test_reply(daemon, agent):
    d = daemon
    c = new_case(agent, subject="Storskrald",
                 citizen={"email": "citizen@example.org"})
    inbound_mail(d, c["id"], "<first@mail.example>", "old@example.org", 30)
    inbound_mail(d, c["id"], "<second@mail.example>", "Åse@example.org", 10)
    r = act(agent, c["id"], "replies",
            {"text": "Vi henter på tirsdag.\nMvh Rødovre Kommune"})
    assert r.status_code == 201, r.text
    ct = r.json()
    assert ct["channel"] == "outbound_email" and ct["direction"] == "out"
    # To the newest sender, from the configured address, tagged subject.
    assert ct["to"] == "Åse@example.org" and ct["from"] == FROM
    assert ct["subject"] == f"Re: Storskrald [Sag {c['reference']}]"
    assert ct["text"] == "Vi henter på tirsdag.\nMvh Rødovre Kommune"
    assert re.fullmatch(rf"<{c['reference']}\.[0-9a-f]{{16}}@rodovre\.example>",
                        ct["external_id"])
    assert ct["delivery"] == {"status": "queued", "attempts": 0,
                              "last_error": None, "sent_at": None,
                              "next_attempt_at": ct["delivery"]
                              ["next_attempt_at"]}
    assert ct["delivery"]["next_attempt_at"]
    assert ct["created_by"] == agent.user_id
    assert sql(d, "SELECT kind, in_reply_to, references_hdr, status"
                  " FROM outbox") == \
        [("reply", "<second@mail.example>",
          "<first@mail.example> <second@mail.example>", "queued")]
    case = agent.get(f"/api/v1/cases/{c['id']}").json()
    assert case["status"] == "open" and case["first_response_at"]
    assert case["version"] == c["version"] + 1
    assert case["contacts"][-1]["delivery"]["status"] == "queued"
    assert sql(d, "SELECT actor_user_id, detail->>'contact_id' FROM audit_log"
                  " WHERE action = 'reply'") == \
        [(agent.user_id, str(ct["id"]))]

    # A second reply threads onto the first too; the agent's own subject
    # and address win; a subject with the tag keeps it once.
    r = act(agent, c["id"], "replies",
            {"text": "Rettelse", "to": "other@example.org",
             "subject": f"Rettelse [Sag {c['reference']}]"})
    assert r.status_code == 201, r.text
    assert r.json()["subject"] == f"Rettelse [Sag {c['reference']}]"
    assert r.json()["to"] == "other@example.org"
    refs = sql(d, "SELECT references_hdr FROM outbox ORDER BY id")[1][0]
    assert refs.split() == ["<first@mail.example>", "<second@mail.example>",
                            ct["external_id"]]


def test_reply_defaults_to_the_citizen(daemon, agent):
    c = new_case(agent, subject="", citizen={"email": "borger@example.org"})
    r = act(agent, c["id"], "replies", {"text": "Svar"})
    assert r.status_code == 201, r.text
    assert r.json()["to"] == "borger@example.org"
    assert r.json()["subject"] == \
        f"Svar på din henvendelse [Sag {c['reference']}]"


@pytest.mark.parametrize("payload,status,field", [
    ({"text": "x"}, 422, "'to'"),                       # no address known
    ({"text": "", "to": "a@example.org"}, 422, "text"),
    ({"to": "a@example.org"}, 422, "text"),
    ({"text": "x", "to": "a@example.org\r\nBcc: evil@example.org"}, 422,
     "'to'"),
    ({"text": "x", "to": "Åse <a@example.org>"}, 422, "'to'"),
    ({"text": "x", "to": "a@example.org, b@example.org"}, 422, "'to'"),
    ({"text": "x", "to": "no-at-sign"}, 422, "'to'"),
    ({"text": "x", "to": "a@example.org", "subject": "a\r\nBcc: b@c.dk"},
     422, "subject"),
    ({"text": "x", "to": "a@example.org", "subject": "s" * 501}, 422,
     "subject"),
    ({"text": 5, "to": "a@example.org"}, 422, "text"),
    ({"text": "x", "to": "a@example.org", "cc": "b@example.org"}, 422, "cc"),
    ({"text": "x", "to": "a@example.org", "version": 9}, 409, "version"),
])
def test_reply_bad_input(daemon, agent, payload, status, field):
    d = daemon
    c = new_case(agent)
    before = snapshot(d)
    r = act(agent, c["id"], "replies", payload)
    assert r.status_code == status, r.text
    assert field in r.json()["error"]["message"]
    assert snapshot(d) == before


def test_reply_refused_on_closed_case(daemon, agent):
    d = daemon
    c = new_case(agent, citizen={"email": "a@example.org"})
    sql(d, "UPDATE cases SET status = 'closed' WHERE id = %s", (c["id"],))
    before = snapshot(d)
    r = act(agent, c["id"], "replies", {"text": "x"})
    assert r.status_code == 409 and "reopen" in r.json()["error"]["message"]
    assert r.json()["case"]["status"] == "closed"
    assert snapshot(d) == before
    # A resolved case may still be answered (answered later).
    sql(d, "UPDATE cases SET status = 'resolved', resolution = 'callback',"
           " resolved_at = now() WHERE id = %s", (c["id"],))
    assert act(agent, c["id"], "replies", {"text": "x"}).status_code == 201
    assert sql(d, "SELECT status FROM cases") == [("resolved",)]


def test_reply_not_configured(kontaktd, ctl):
    d = kontaktd()
    add_user(ctl, d, "agnete")
    a = Client(d, "agnete")
    c = new_case(a, citizen={"email": "a@example.org"})
    r = act(a, c["id"], "replies", {"text": "x"})
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "not_configured"
    assert "[smtp] from" in r.json()["error"]["message"]
    assert sql(d, "SELECT count(*) FROM outbox") == [(0,)]


def test_reply_and_merge_authorisation(daemon, ctl, agent):
    d = daemon
    c, c2 = new_case(agent), new_case(agent)
    tokens = [new_token(ctl, d, n, s) for n, s in
              (("r", "read"), ("a", "admin"), ("p", "cti:write"))]
    before = snapshot(d)
    for path, payload in ((f"/api/v1/cases/{c['id']}/replies",
                           {"text": "x", "to": "a@example.org"}),
                          (f"/api/v1/cases/{c['id']}/merge",
                           {"into": c2["id"]})):
        assert d.request("POST", path, json=payload).status_code == 401
        for t in tokens:   # people's actions: no token may
            r = d.request("POST", path, json=payload,
                          headers={"Authorization": f"Bearer {t}"})
            assert r.status_code == 403, (path, r.text)
        # A session without its CSRF token.
        r = agent.s.post(d.url(path), json=payload, timeout=10,
                         headers={"X-CSRF-Token": ""})
        assert r.status_code == 403
    assert snapshot(d) == before


def test_merged_contacts_are_found_on_the_kept_case(daemon, agent):
    """Search looks at a case's contacts: after a merge, the moved
    contacts' words find the kept case, not the closed duplicate."""
    keep = new_case(agent, text="Spørgsmål om parkering")
    dup = new_case(agent, text="Der er rotter i kælderen")
    assert act(agent, dup["id"], "merge", {"into": keep["id"]}) \
        .status_code == 200
    r = agent.get("/api/v1/cases", params={"q": "rotte"})
    assert r.status_code == 200, r.text
    assert [c["id"] for c in r.json()["items"]] == [keep["id"]]
