# SPDX-License-Identifier: MPL-2.0
"""The e-mail channel's intake over IMAP, against a real Dovecot: messages
APPENDed to the folder become contacts on cases exactly once (also across
a kill -9, a Dovecot restart and two kontaktd processes), threaded by the
subject tag and by In-Reply-To/References, with their raw bytes and
attachments; a new case's sender gets a receipt queued unless the mail is
automatic; the message is flagged \\Seen or moved only after it is stored;
bad [mailbox:NAME] sections are refused with file:line."""

import hashlib
import re
import signal
import time

import pytest

from imap_server import dovecot  # noqa: F401  (fixture)
from test_auth import new_token
from utils import wait_until

FROM = "smtp-from@kommune.example.dk"


def mail(subject, body="Hej\n\nJeg har et spørgsmål.\n", *,
         sender="Jens Hansen <jens@borger.example>",
         to="kontakt@example.dk", message_id=None, headers=()):
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}",
             "Date: Fri, 27 Nov 2026 10:00:00 +0100",
             "MIME-Version: 1.0",
             "Content-Type: text/plain; charset=utf-8",
             "Content-Transfer-Encoding: 8bit"]
    if message_id:
        lines.append(f"Message-ID: <{message_id}>")
    lines.extend(headers)
    return "\n".join(lines) + "\n\n" + body


@pytest.fixture
def mailbox(dovecot, tmp_path):  # noqa: F811
    pw = tmp_path / "imap.password"
    pw.write_text(dovecot.password + "\n")

    def config(**over):
        mb = dovecot.mailbox_config(pw, **over.pop("mailbox", {}))
        cfg = {"mailbox:main": mb, "smtp": {"from": FROM},
               "receipt": {"municipality": "Testrup Kommune",
                           "opening_hours": "man-fre 8-15"}}
        cfg.update(over)
        return cfg
    return config


def sql(d, q, params=None):
    return d.cluster.sql(q, params, dbname=d.db)


def contacts(d, ext=None):
    if ext:
        return sql(d, "SELECT id, case_id, subject, body, from_addr "
                      "FROM contacts WHERE channel = 'email' "
                      "AND external_id = %s", (ext,))
    return sql(d, "SELECT id, case_id, subject, body, from_addr, "
                  "external_id FROM contacts WHERE channel = 'email' "
                  "ORDER BY id")


def wait_contacts(d, n, timeout=20):
    wait_until(lambda: len(contacts(d)) >= n, timeout,
               f"{n} e-mail contacts")
    return contacts(d)


def test_plain_mail_becomes_case_with_receipt(kontaktd, dovecot, mailbox):  # noqa: F811
    d = kontaktd(config=mailbox())
    uid = dovecot.append(mail("Spørgsmål om affald", message_id="a1@borger.example"))
    rows = wait_contacts(d, 1)
    cid, case_id, subject, body, from_addr, ext = rows[0]
    assert subject == "Spørgsmål om affald"
    assert "Jeg har et spørgsmål." in body
    assert from_addr == "jens@borger.example"
    assert ext == "<a1@borger.example>"
    ref, email = sql(d, "SELECT reference, citizen_email FROM cases "
                        "WHERE id = %s", (case_id,))[0]
    assert email == "jens@borger.example"
    raw = sql(d, "SELECT mailbox, uid, truncated, data FROM raw_messages "
                 "WHERE contact_id = %s", (cid,))
    assert raw and raw[0][0] == "main" and raw[0][1] == uid
    assert b"Message-ID: <a1@borger.example>" in bytes(raw[0][3])
    # The receipt: an outbound contact and an outbox row of kind receipt.
    rec = sql(d, "SELECT ct.to_addr, ct.from_addr, ct.subject, ct.body, "
                 "o.in_reply_to, o.status, ct.external_id "
                 "FROM outbox o JOIN contacts ct ON ct.id = o.contact_id "
                 "WHERE o.kind = 'receipt' AND ct.case_id = %s", (case_id,))
    assert len(rec) == 1, rec
    to, frm, rsubj, rbody, irt, status, _ = rec[0]
    assert to == "jens@borger.example" and frm == FROM
    assert f"[Sag {ref}]" in rsubj
    assert ref in rbody and "Testrup Kommune" in rbody
    assert "man-fre 8-15" in rbody
    assert irt == "<a1@borger.example>"
    assert status == "queued"
    # Flagged \Seen only after it was stored.
    wait_until(lambda: "\\Seen" in (dovecot.flags(uid) or ""), 10,
               "the message to be flagged \\Seen")
    d.wait_for_log(rf"event=mail_ingested mailbox=main uid={uid} "
                   rf"contact={cid} case={ref} new_case=yes")
