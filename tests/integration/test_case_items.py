# SPDX-License-Identifier: MPL-2.0
"""What a case is made of, over HTTP: its contacts (with attachments and
delivery), one contact, its forwards, and attachment downloads that the
browser can only save, never render as our page. Every read is audited."""

import hashlib
import urllib.parse

import pytest

from test_auth import new_token
from test_case_actions import act, department, new_case
from test_cases import Client, agent, daemon, sql  # noqa: F401

# Not UTF-8, with NUL bytes, and HTML that must never run as our page.
PAYLOAD = b"\x00\xff\xfe<script>alert(1)</script>\x00\x80 slut"


def add_attachment(d, contact_id, filename, ctype, data):
    return sql(d, "INSERT INTO attachments (contact_id, filename,"
                  " content_type, size, sha256, data)"
                  " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
               (contact_id, filename, ctype, len(data),
                hashlib.sha256(data).digest(), data))[0][0]


def audit_reads(d):
    return sql(d, "SELECT case_id, detail::text FROM audit_log"
                  " WHERE action = 'read' ORDER BY id")


def test_contacts_and_attachments(daemon, agent):
    d = daemon
    c = new_case(agent)
    other = new_case(agent)
    att = add_attachment(d, c["contact_id"], "Ansøgning æøå \"x\";.html",
                         "text/html", PAYLOAD)
    r = agent.get(f"/api/v1/cases/{c['id']}/contacts")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["id"] for i in items] == [c["contact_id"]]
    assert items[0]["attachments"] == [{
        "id": att, "filename": "Ansøgning æøå \"x\";.html",
        "content_type": "text/html", "size": len(PAYLOAD),
        "sha256": hashlib.sha256(PAYLOAD).hexdigest()}]
    assert items[0]["delivery"] is None

    r = agent.get(f"/api/v1/cases/{c['id']}/contacts/{c['contact_id']}")
    assert r.status_code == 200 and r.json() == items[0]
    # A contact of another case is not found through this one.
    r = agent.get(f"/api/v1/cases/{other['id']}/contacts/{c['contact_id']}")
    assert r.status_code == 404

    r = agent.get(f"/api/v1/cases/{c['id']}/attachments/{att}")
    assert r.status_code == 200
    assert r.content == PAYLOAD
    assert r.headers["Content-Type"] == "text/html"
    cd = r.headers["Content-Disposition"]
    assert cd.startswith("attachment; ")
    assert 'filename="Ans_gning ___ _x__.html"' in cd
    enc = cd.split("filename*=UTF-8''")[1]
    assert urllib.parse.unquote(enc) == "Ansøgning æøå \"x\";.html"
    # requests joins the two CSP headers (ours and the sandbox) with ", ".
    assert "sandbox" in r.headers["Content-Security-Policy"].split(", ")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["ETag"] == f'"{hashlib.sha256(PAYLOAD).hexdigest()}"'
    assert r.headers["Cache-Control"] == "no-store"
    for path in (f"/api/v1/cases/{other['id']}/attachments/{att}",
                 f"/api/v1/cases/{c['id']}/attachments/999999",
                 f"/api/v1/cases/{c['id']}/attachments/x",
                 f"/api/v1/cases/999999/contacts",
                 f"/api/v1/cases/0/forwards",
                 f"/api/v1/cases/{c['id']}/contacts/0"):
        assert agent.get(path).status_code == 404, path

    reads = audit_reads(d)
    assert (c["id"], '{"what": "contacts"}') in reads
    assert (c["id"], f'{{"contact_id": {c["contact_id"]}}}') in reads
    assert (c["id"], f'{{"attachment_id": {att}}}') in reads
    # Refused reads are not audited as reads of the other case.
    assert all(case != other["id"] for case, _ in reads[2:])


def test_forwards(daemon, agent):
    d = daemon
    c = new_case(agent)
    dept = department(d, "Byggesager", queue_number="1234")
    r = act(agent, c["id"], "forward", {"department_id": dept,
                                        "method": "queue",
                                        "reason": "Byggetilladelse"})
    assert r.status_code == 200, r.text
    r = agent.get(f"/api/v1/cases/{c['id']}/forwards")
    assert r.status_code == 200
    (f,) = r.json()["items"]
    assert f["to_department_id"] == dept and f["method"] == "queue"
    assert f["target"] == "1234" and f["reason"] == "Byggetilladelse"
    assert f["from_department_id"] is None and f["returned_at"] is None
    assert f["by_user_id"] == agent.user_id and f["at"]
    # The case itself carries them too.
    assert agent.get(f"/api/v1/cases/{c['id']}").json()["forwards"] == [f]


def test_authorisation(daemon, ctl, agent):
    d = daemon
    c = new_case(agent)
    att = add_attachment(d, c["contact_id"], "a.pdf", "application/pdf",
                         b"%PDF")
    reader = new_token(ctl, d, "reader", "read")
    cti = new_token(ctl, d, "phone", "cti:write")
    paths = [f"/api/v1/cases/{c['id']}/contacts",
             f"/api/v1/cases/{c['id']}/contacts/{c['contact_id']}",
             f"/api/v1/cases/{c['id']}/forwards",
             f"/api/v1/cases/{c['id']}/attachments/{att}"]
    n = len(audit_reads(d))
    for p in paths:
        assert d.get(p).status_code == 401, p
        assert d.get(p, headers={"Authorization": f"Bearer {cti}"}) \
            .status_code == 403, p
        assert d.get(p, headers={"Authorization": f"Bearer {reader}"}) \
            .status_code == 200, p
        assert d.request("DELETE", p).status_code in (401, 405), p
    assert len(audit_reads(d)) == n + len(paths)
    assert sql(d, "SELECT count(*) FROM audit_log l JOIN api_tokens t"
                  " ON t.id = l.actor_token_id WHERE t.name = 'reader'") == \
        [(len(paths),)]
