# SPDX-License-Identifier: MPL-2.0
"""The e-mail channel's intake over IMAP, against a real Dovecot: messages
APPENDed to the folder become contacts on cases exactly once (also across
a kill -9, a Dovecot restart and two kontaktd processes), threaded by the
subject tag and by In-Reply-To/References, with their raw bytes and
attachments; a new case's sender gets a receipt queued unless the mail is
automatic; the message is flagged \\Seen or moved only after it is stored;
bad [mailbox:NAME] sections are refused with file:line. Over TLS the
server's certificate is verified (chain to ca_file or the system's CAs,
host name) or pinned before LOGIN."""

import hashlib
import re
import signal
import time

import pytest

from imap_server import (dovecot, dovecot_ca,  # noqa: F401  (fixtures)
                         dovecot_no_idle, dovecot_tls, make_test_pki)
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
        mb = dovecot.mailbox_config(pw)
        mb.update(over.pop("mailbox", {}))
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


def case_of(d, ext):
    rows = contacts(d, ext)
    assert len(rows) == 1, (ext, rows)
    return rows[0][1]


def receipts(d):
    return sql(d, "SELECT ct.case_id, ct.to_addr, ct.external_id "
                  "FROM outbox o JOIN contacts ct ON ct.id = o.contact_id "
                  "WHERE o.kind = 'receipt' ORDER BY o.id")


def test_threading_by_reply_and_subject_tag(kontaktd, dovecot, mailbox):  # noqa: F811
    # No threading by sender here: only the tag and the Message-IDs.
    d = kontaktd(config=mailbox(intake={"thread_window": "0"}))
    dovecot.append(mail("Parkeringstilladelse", message_id="t1@borger.example"))
    wait_contacts(d, 1)
    first = case_of(d, "<t1@borger.example>")
    ref = sql(d, "SELECT reference FROM cases WHERE id = %s", (first,))[0][0]
    wait_until(lambda: len(receipts(d)) == 1, 10, "the receipt")
    receipt_mid = receipts(d)[0][2]
    assert receipt_mid.startswith("<") and receipt_mid.endswith(">")

    # A reply to the receipt, from another address, without the tag.
    dovecot.append(mail("Re: Kvittering", sender="jens.h@andet.example",
                        message_id="t2@andet.example",
                        headers=[f"In-Reply-To: {receipt_mid}",
                                 f"References: <t1@borger.example> "
                                 f"{receipt_mid}"]))
    # Only References (the citizen's own first mail).
    dovecot.append(mail("Endnu en ting", sender="x@tredje.example",
                        message_id="t3@tredje.example",
                        headers=["References: <t1@borger.example>"]))
    # The subject tag alone, lower case word.
    dovecot.append(mail(f"Vedr. [sag {ref}] bilag", sender="y@fjerde.example",
                        message_id="t4@fjerde.example"))
    # A tag of no case and an unknown In-Reply-To: a new case.
    dovecot.append(mail("Hej [Sag 1999-999999]", sender="z@femte.example",
                        message_id="t5@femte.example",
                        headers=["In-Reply-To: <unknown@nowhere>"]))
    wait_contacts(d, 5)
    assert case_of(d, "<t2@andet.example>") == first
    assert case_of(d, "<t3@tredje.example>") == first
    assert case_of(d, "<t4@fjerde.example>") == first
    assert case_of(d, "<t5@femte.example>") != first
    # Only the new cases' senders got a receipt.
    wait_until(lambda: len(receipts(d)) == 2, 10, "the second receipt")
    assert sorted(r[1] for r in receipts(d)) == ["jens@borger.example",
                                                 "z@femte.example"]


def test_no_receipt_for_automatic_or_own_mail(kontaktd, dovecot, mailbox):  # noqa: F811
    d = kontaktd(config=mailbox())
    dovecot.append(mail("Fraværsbesked", sender="a@auto.example",
                        message_id="auto1@auto.example",
                        headers=["Auto-Submitted: auto-replied"]))
    dovecot.append(mail("Nyhedsbrev", sender="b@list.example",
                        message_id="list1@list.example",
                        headers=["List-Id: <nyt.list.example>",
                                 "Precedence: list"]))
    dovecot.append(mail("Undeliverable", sender="MAILER-DAEMON@mx.example",
                        message_id="bounce1@mx.example",
                        headers=["Return-Path: <>"]))
    dovecot.append(mail("Egen post", sender=FROM,
                        message_id="own1@kommune.example.dk"))
    dovecot.append(mail("Ja tak", sender="c@ok.example",
                        message_id="ok1@ok.example",
                        headers=["Auto-Submitted: no"]))
    rows = wait_contacts(d, 5)
    assert len({r[1] for r in rows}) == 5  # five new cases
    wait_until(lambda: len(receipts(d)) >= 1, 10, "a receipt")
    time.sleep(0.5)
    assert [r[1] for r in receipts(d)] == ["c@ok.example"]
    for why in ("auto_submitted", "list_id|precedence", "return_path",
                "own_address"):
        d.wait_for_log(rf"event=mail_ingested .*receipt=({why})")


def test_receipt_at_most_once_per_interval(kontaktd, dovecot, mailbox):  # noqa: F811
    d = kontaktd(config=mailbox(intake={"thread_window": "0"},
                                receipt={"interval": "1h"}))
    for i in range(3):
        dovecot.append(mail(f"Sag nummer {i}", message_id=f"r{i}@b.example"))
    rows = wait_contacts(d, 3)
    assert len({r[1] for r in rows}) == 3
    time.sleep(0.5)
    assert len(receipts(d)) == 1
    d.wait_for_log(r"event=mail_ingested .*receipt=interval")


def test_duplicate_delivery_is_one_contact(kontaktd, dovecot, mailbox):  # noqa: F811
    d = kontaktd(config=mailbox())
    raw = mail("To gange", message_id="dup@borger.example")
    u1 = dovecot.append(raw)
    u2 = dovecot.append(raw)
    d.wait_for_log(rf"event=mail_duplicate mailbox=main uid={u2}")
    assert len(contacts(d)) == 1
    # Both are flagged: the second was handled, not skipped.
    for uid in (u1, u2):
        wait_until(lambda: "\\Seen" in (dovecot.flags(uid) or ""), 10,
                   f"uid {uid} flagged")
    # Without a Message-ID: the mailbox, UIDVALIDITY and UID name it.
    u3 = dovecot.append(mail("Uden id"))
    wait_contacts(d, 2)
    ext = contacts(d)[-1][5]
    assert re.fullmatch(rf"main:\d+:{u3}", ext), ext


def test_move_after_ingest(kontaktd, dovecot, mailbox):  # noqa: F811
    d = kontaktd(config=mailbox(mailbox={"after": "move:Done"}))
    dovecot.append(mail("Flyt mig", message_id="mv@borger.example"))
    wait_contacts(d, 1)
    wait_until(lambda: dovecot.count("Done") == 1, 10, "the move")
    assert dovecot.count("INBOX") == 0
    # After a restart (all that is stored already moved) the next one too.
    d.stop()
    mark = d.log_mark()
    d.start()
    d.wait_ready()
    dovecot.append(mail("Og mig", message_id="mv2@borger.example"))
    wait_until(lambda: dovecot.count("Done") == 2, 20, "the second move")
    assert dovecot.count("INBOX") == 0
    assert not d.log_contains(r"event=imap_error", start=mark)


def test_stored_but_not_flagged_is_flagged_after_restart(kontaktd, dovecot,  # noqa: F811
                                                         mailbox):
    # As if kontaktd died between the commit and the flag.
    d = kontaktd(config=mailbox())
    uid = dovecot.append(mail("Flag mig", message_id="fl@borger.example"))
    wait_until(lambda: "\\Seen" in (dovecot.flags(uid) or ""), 20, "\\Seen")
    d.stop()
    with dovecot.client() as m:
        m.select("INBOX")
        typ, _ = m.uid("STORE", str(uid), "-FLAGS.SILENT", "(\\Seen)")
        assert typ == "OK"
    assert "\\Seen" not in dovecot.flags(uid)
    d.start()
    d.wait_ready()
    wait_until(lambda: "\\Seen" in (dovecot.flags(uid) or ""), 20,
               "\\Seen again")
    assert len(contacts(d)) == 1


def test_too_large_message_becomes_contact(kontaktd, dovecot, mailbox):  # noqa: F811
    d = kontaktd(config=mailbox(mailbox={"max_message_size": "64k"}))
    big = "x" * 100 + "\n"
    uid = dovecot.append(mail("Stor fil", big * 1000,
                              message_id="big@borger.example"))
    rows = wait_contacts(d, 1)
    cid, _, subject, body, from_addr, _ = rows[0]
    assert subject == "Stor fil" and from_addr == "jens@borger.example"
    assert "for stor" in body and "65536" in body
    size, truncated, data = sql(d, "SELECT size, truncated, data FROM "
                                   "raw_messages WHERE contact_id = %s",
                                (cid,))[0]
    assert truncated and size > 100000
    data = bytes(data)
    assert b"Subject: Stor fil" in data and b"xxxxxxxx" not in data
    wait_until(lambda: "\\Seen" in (dovecot.flags(uid) or ""), 10, "\\Seen")


def test_kill_mid_batch_each_message_once(kontaktd, dovecot, mailbox):  # noqa: F811
    cfg = mailbox(intake={"thread_window": "0"})
    d = kontaktd(config=cfg, wait=True)
    d.stop()
    uids = [dovecot.append(mail(f"Besked {i}", f"Tekst {i}\n",
                                message_id=f"k{i}@borger.example"))
            for i in range(50)]
    d.start()
    wait_until(lambda: len(contacts(d)) >= 5, 30, "some messages")
    d.signal(signal.SIGKILL)
    d.wait()
    n_before = len(contacts(d))
    d.start()
    d.wait_ready()
    rows = wait_contacts(d, 50, timeout=60)
    time.sleep(1)
    rows = contacts(d)
    assert len(rows) == 50, n_before
    assert sorted(r[5] for r in rows) == sorted(
        f"<k{i}@borger.example>" for i in range(50))
    assert sql(d, "SELECT last_uid FROM mailbox_state "
                  "WHERE name = 'main'")[0][0] == uids[-1]
    raws = sql(d, "SELECT count(*) FROM raw_messages")[0][0]
    assert raws == 50
    for uid in (uids[0], uids[-1]):
        wait_until(lambda: "\\Seen" in (dovecot.flags(uid) or ""), 10,
                   "\\Seen")


def test_dovecot_restart_resumes(kontaktd, dovecot, mailbox):  # noqa: F811
    d = kontaktd(config=mailbox(mailbox={"poll_interval": "1s"}))
    dovecot.append(mail("Før", message_id="before@borger.example"))
    wait_contacts(d, 1)
    dovecot.stop()
    mark = d.log_mark()
    d.wait_for_log(r"event=imap_error mailbox=main", timeout=20, start=mark)
    dovecot.start()
    dovecot.append(mail("Efter", message_id="after@borger.example"))
    wait_contacts(d, 2, timeout=60)
    d.wait_for_log(r"event=imap_connected mailbox=main", start=mark)


def test_two_processes_each_message_once(kontaktd, dovecot, mailbox):  # noqa: F811
    cfg = mailbox(intake={"thread_window": "0"},
                  mailbox={"poll_interval": "1s"})
    a = kontaktd(config=cfg)
    b = kontaktd(db=a.db, migrate=False, config=cfg)
    for i in range(20):
        dovecot.append(mail(f"P {i}", message_id=f"p{i}@borger.example"))
    wait_contacts(a, 20)
    # The one holding the lock goes; the other takes over.
    holder = a if a.log_contains(r"event=mailbox_locked") else b
    other = b if holder is a else a
    holder.stop()
    for i in range(20, 30):
        dovecot.append(mail(f"P {i}", message_id=f"p{i}@borger.example"))
    wait_contacts(other, 30, timeout=30)
    other.wait_for_log(r"event=mailbox_locked mailbox=main")
    time.sleep(1)
    rows = contacts(other)
    assert len(rows) == 30
    assert len({r[5] for r in rows}) == 30


def test_bad_mailbox_settings(kontaktd_cmd, write_config, tmp_path):
    cases = [
        ({"mailbox:main": {"host": "h", "user": "u"}},
         r"k\.conf:\d+: \[mailbox:main\] password_file is required"),
        ({"mailbox:main": {"host": "h", "user": "u", "password_file": "/p",
                           "tls": "yes"}},
         r"k\.conf:\d+: \[mailbox:main\] tls must be tls, starttls or none"),
        ({"mailbox:Main!": {"host": "h"}},
         r"k\.conf:\d+: \[mailbox:Main!\]: a mailbox name"),
        ({"mailbox:main": {"host": "h", "user": "u", "password_file": "/p",
                           "colour": "blue"}},
         r"k\.conf:\d+: unknown key 'colour' in section \[mailbox:main\]"),
    ]
    for overrides, pattern in cases:
        path = write_config(overrides)
        p = kontaktd_cmd("--config", str(path), "--check-config")
        assert p.returncode != 0, overrides
        assert re.search(pattern, p.stderr + p.stdout), (p.stderr, pattern)


def test_unreadable_password_file_stops_start(kontaktd, kontaktd_cmd,
                                              dovecot, mailbox,  # noqa: F811
                                              tmp_path):
    missing = tmp_path / "missing"
    cfg = mailbox(mailbox={"password_file": str(missing)})
    d = kontaktd(config=cfg, wait=False, allowed_errors=[r"config_error"])
    rc = d.wait(timeout=30)
    assert rc != 0
    assert re.search(r"kontaktd\.conf:\d+: \[mailbox:main\] password_file "
                     + re.escape(str(missing)), d.log()), d.log()
    assert dovecot.password not in d.log()
    p = kontaktd_cmd("--config", str(d.config_path), "--check-config")
    assert p.returncode != 0
    assert "[mailbox:main] password_file" in p.stderr + p.stdout


def test_attachments_and_danish_text(kontaktd, ctl, dovecot, mailbox):  # noqa: F811
    from email.message import EmailMessage
    from pathlib import Path

    from test_api_directory import new_token as token
    d = kontaktd(config=mailbox(intake={"thread_window": "0"}))
    pdf = bytes(range(256)) * 40
    png = b"\x89PNG\r\n\x1a\n" + bytes(1000)
    m = EmailMessage()
    m["From"] = "Søren Ågård <soren@borger.example>"
    m["To"] = "kontakt@example.dk"
    m["Subject"] = "Ansøgning med bilag æøå"
    m["Message-ID"] = "<att@borger.example>"
    m.set_content("Kære kommune\n\nHer er mine bilag: æøå ÆØÅ.\n")
    m.add_attachment(pdf, maintype="application", subtype="pdf",
                     filename="ansøgning.pdf")
    m.add_attachment(png, maintype="image", subtype="png",
                     filename="kørekort.png")
    dovecot.append(m.as_bytes())
    # A Latin-1, quoted-printable mail from the MIME parser's corpus.
    latin1 = Path(__file__).resolve().parents[1] / "data" / "mail" / \
        "01-latin1-qp.eml"
    dovecot.append(latin1.read_bytes())
    wait_contacts(d, 2)
    cid, case_id, subject, body, _ = contacts(d, "<att@borger.example>")[0]
    assert subject == "Ansøgning med bilag æøå"
    assert "æøå ÆØÅ" in body
    name = sql(d, "SELECT citizen_name FROM cases WHERE id = %s",
               (case_id,))[0][0]
    assert name == "Søren Ågård"
    _, _, subject2, body2, _ = contacts(d, "<latin1.1@mail.example.dk>")[0]
    assert subject2 == "Ansøgning om tilskud til hæk"
    assert "søge om tilskud til min have på Ærøvej 5" in body2

    tok = token(ctl, d, "reader", "read")
    auth = {"Authorization": f"Bearer {tok}"}
    r = d.get(f"/api/v1/cases/{case_id}/contacts/{cid}", headers=auth)
    assert r.status_code == 200, r.text
    atts = {a["filename"]: a for a in r.json()["attachments"]}
    assert set(atts) == {"ansøgning.pdf", "kørekort.png"}
    for fname, data, ctype in (("ansøgning.pdf", pdf, "application/pdf"),
                               ("kørekort.png", png, "image/png")):
        a = atts[fname]
        assert a["size"] == len(data)
        assert a["content_type"] == ctype
        assert a["sha256"] == hashlib.sha256(data).hexdigest()
        r = d.get(f"/api/v1/cases/{case_id}/attachments/{a['id']}",
                  headers=auth)
        assert r.status_code == 200
        assert hashlib.sha256(r.content).hexdigest() == a["sha256"]
    # The raw message is kept whole beside the parsed contact.
    raw = bytes(sql(d, "SELECT data FROM raw_messages WHERE contact_id = %s",
                    (cid,))[0][0])
    assert raw.replace(b"\r\n", b"\n") == m.as_bytes().replace(b"\r\n",
                                                               b"\n")


def test_message_the_database_refuses_is_kept(kontaktd, dovecot, mailbox):  # noqa: F811
    d = kontaktd(config=mailbox(), allowed_errors=[])
    # A rule of the database that this message's text breaks (as a value
    # out of a column's bounds would).
    sql(d, """
        CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.body LIKE '%AFVIS-MIG%' THEN
                RAISE EXCEPTION 'refused by test' USING ERRCODE = '23514';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER test_refuse BEFORE INSERT ON contacts
            FOR EACH ROW EXECUTE FUNCTION test_refuse();
    """)
    uid = dovecot.append(mail("Afvist", "AFVIS-MIG\n",
                              message_id="refuse@borger.example"))
    dovecot.append(mail("Næste", message_id="next@borger.example"))
    wait_contacts(d, 2)
    cid, _, subject, body, _ = contacts(d, "<refuse@borger.example>")[0]
    assert subject == "Afvist"
    assert "kunne ikke gemmes" in body and f"UID {uid}" in body
    assert "SQLSTATE 23514" in body
    # Not the database's message, whose DETAIL shows the row.
    assert "AFVIS-MIG" not in body and "AFVIS-MIG" not in d.log()
    raw = bytes(sql(d, "SELECT data FROM raw_messages WHERE contact_id = %s",
                    (cid,))[0][0])
    assert b"AFVIS-MIG" in raw
    d.wait_for_log(rf"event=mail_refused mailbox=main uid={uid}")


def test_refused_message_in_a_round_keeps_the_others(kontaktd, dovecot,  # noqa: F811
                                                     mailbox):
    """One round takes the five messages in one transaction: the refused
    one is rolled back to its savepoint and stored without its text, the
    others before and after it keep theirs, and all are marked."""
    d = kontaktd(config=mailbox(intake={"thread_window": "0"}),
                 allowed_errors=[], wait=True)
    sql(d, """
        CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.body LIKE '%AFVIS-MIG%' THEN
                RAISE EXCEPTION 'refused by test' USING ERRCODE = '23514';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER test_refuse BEFORE INSERT ON contacts
            FOR EACH ROW EXECUTE FUNCTION test_refuse();
    """)
    d.stop()
    uids = [dovecot.append(mail(f"Besked {i}",
                                "AFVIS-MIG\n" if i == 2 else f"Tekst {i}\n",
                                message_id=f"r{i}@borger.example"))
            for i in range(5)]
    d.start()
    d.wait_ready()
    wait_contacts(d, 5)
    for i in range(5):
        body = contacts(d, f"<r{i}@borger.example>")[0][3]
        if i == 2:
            assert "kunne ikke gemmes" in body and f"UID {uids[2]}" in body
        else:
            assert body.strip() == f"Tekst {i}"
    d.wait_for_log(rf"event=mail_refused mailbox=main uid={uids[2]}")
    assert sql(d, "SELECT count(*) FROM raw_messages")[0][0] == 5
    assert sql(d, "SELECT last_uid FROM mailbox_state "
                  "WHERE name = 'main'")[0][0] == uids[-1]
    for uid in uids:
        wait_until(lambda: "\\Seen" in (dovecot.flags(uid) or ""), 10,
                   "\\Seen")


def test_tls_with_pinned_certificate(kontaktd, dovecot_tls, tmp_path):  # noqa: F811
    srv = dovecot_tls
    pw = tmp_path / "imap.password"
    pw.write_text(srv.password + "\n")
    good = srv.fingerprint()
    bad = "00:" * 31 + "00"
    cfg = {
        # imaps, pinned
        "mailbox:tls": srv.mailbox_config(pw, tls="tls", port=srv.tls_port,
                                          tls_fingerprint=good,
                                          folder="INBOX"),
        # STARTTLS on the plain port, pinned (hex without colons)
        "mailbox:starttls": srv.mailbox_config(
            pw, tls="starttls", port=srv.port,
            tls_fingerprint=good.replace(":", "").lower(),
            folder="Other", after="move:Done"),
        # the wrong certificate: never logs in
        "mailbox:wrong": srv.mailbox_config(pw, tls="tls", port=srv.tls_port,
                                            tls_fingerprint=bad,
                                            folder="Third"),
    }
    with srv.client() as m:
        for f in ("Other", "Third"):
            m.create(f)
    d = kontaktd(config=cfg)
    srv.append(mail("Over TLS", message_id="tls@borger.example"))
    srv.append(mail("Over STARTTLS", message_id="starttls@borger.example"),
               folder="Other")
    srv.append(mail("Forkert certifikat", message_id="wrong@borger.example"),
               folder="Third")
    wait_until(lambda: len(contacts(d)) >= 2, 20, "two contacts")
    d.wait_for_log(r"event=imap_error mailbox=wrong .*is not the one of "
                   r"tls_fingerprint")
    time.sleep(1)
    assert sorted(r[5] for r in contacts(d)) == [
        "<starttls@borger.example>", "<tls@borger.example>"]
    # The certificate is checked before LOGIN: that mailbox never got in.
    assert not d.log_contains(r"event=imap_connected mailbox=wrong")
    assert d.log_contains(r"event=imap_connected mailbox=tls ")
    assert d.log_contains(r"event=imap_connected mailbox=starttls ")
    # kontaktd stops first: libetpan writes GnuTLS's errors of a dropped
    # TLS connection to stderr, which is not logfmt.
    assert d.stop() == 0


def test_tls_verified_with_ca_file(kontaktd, dovecot_ca, tmp_path):  # noqa: F811
    srv = dovecot_ca
    pw = tmp_path / "imap.password"
    pw.write_text(srv.password + "\n")
    cfg = {
        # imaps; the certificate names 127.0.0.1 (an iPAddress entry)
        "mailbox:tls": srv.mailbox_config(pw, tls="tls", port=srv.tls_port,
                                          ca_file=str(srv.ca_file)),
        # STARTTLS on the plain port
        "mailbox:starttls": srv.mailbox_config(
            pw, tls="starttls", port=srv.port, ca_file=str(srv.ca_file),
            folder="Other", after="move:Done"),
    }
    with srv.client() as m:
        m.create("Other")
    d = kontaktd(config=cfg)
    srv.append(mail("Over TLS", message_id="tls@borger.example"))
    srv.append(mail("Over STARTTLS", message_id="starttls@borger.example"),
               folder="Other")
    wait_until(lambda: len(contacts(d)) >= 2, 20, "two contacts")
    assert sorted(r[5] for r in contacts(d)) == [
        "<starttls@borger.example>", "<tls@borger.example>"]
    assert d.log_contains(r"event=imap_connected mailbox=tls .* tls=verified")
    assert d.log_contains(
        r"event=imap_connected mailbox=starttls .* tls=verified")
    assert not d.log_contains(r"event=imap_tls_failed")
    # Both logged in over TLS (what the refusals below look for).
    assert len(srv.tls_logins()) >= 2, srv.log()
    assert d.stop() == 0


def test_tls_refused_when_not_trusted_or_other_host(kontaktd, dovecot_ca,  # noqa: F811
                                                   tmp_path):
    srv = dovecot_ca
    pw = tmp_path / "imap.password"
    pw.write_text(srv.password + "\n")
    cfg = {
        # No ca_file: the system's CAs, which do not know the test CA.
        "mailbox:system": srv.mailbox_config(pw, tls="tls",
                                             port=srv.tls_port),
        "mailbox:systemstarttls": srv.mailbox_config(
            pw, tls="starttls", port=srv.port, folder="Other"),
        # The right CA, but the certificate is not for localhost.
        "mailbox:otherhost": srv.mailbox_config(
            pw, tls="tls", port=srv.tls_port, host="localhost",
            ca_file=str(srv.ca_file), folder="Third"),
    }
    with srv.client() as m:
        for f in ("Other", "Third"):
            m.create(f)
    srv.append(mail("Ikke betroet", message_id="sys@borger.example"))
    srv.append(mail("Ikke betroet 2", message_id="sys2@borger.example"),
               folder="Other")
    srv.append(mail("Forkert navn", message_id="host@borger.example"),
               folder="Third")
    d = kontaktd(config=cfg)
    for name in ("system", "systemstarttls"):
        d.wait_for_log(rf"event=imap_tls_failed mailbox={name} .*"
                       r"reason=.*not trusted: unable to get local issuer "
                       r"certificate")
    d.wait_for_log(r"event=imap_tls_failed mailbox=otherhost host=localhost "
                   r".*reason=.*not for host localhost")
    # ... and tried again with the backoff.
    d.wait_for_log(r"event=imap_error mailbox=otherhost retry_ms=\d+ "
                   r"msg=\"TLS: not logging in: ")
    time.sleep(1.5)
    assert d.log_contains(r"event=imap_tls_failed mailbox=otherhost .*"
                          r"not for host localhost")
    assert len(re.findall(r"event=imap_tls_failed mailbox=otherhost ",
                          d.log())) >= 2
    assert contacts(d) == []
    assert not d.log_contains(r"event=imap_connected")
    # None of them got as far as LOGIN: Dovecot saw no login over TLS.
    assert srv.tls_logins() == [], srv.tls_logins()
    assert srv.password not in d.log()
    assert d.stop() == 0


def test_tls_pin_replaces_ca_check(kontaktd, dovecot_ca, tmp_path):  # noqa: F811
    """A pinned certificate is accepted without any CA that trusts it and
    whatever names it holds; a ca_file beside the pin is not used."""
    srv = dovecot_ca
    pw = tmp_path / "imap.password"
    pw.write_text(srv.password + "\n")
    # Another CA, which did not issue the server's certificate.
    other_root, _, _ = make_test_pki(tmp_path / "other", "DNS:x.example")
    d = kontaktd(config={
        "mailbox:main": srv.mailbox_config(
            pw, tls="tls", port=srv.tls_port, host="localhost",
            tls_fingerprint=srv.fingerprint()),
        "mailbox:withca": srv.mailbox_config(
            pw, tls="starttls", port=srv.port, folder="Other",
            tls_fingerprint=srv.fingerprint(), ca_file=str(other_root))})
    with srv.client() as m:
        m.create("Other")
    srv.append(mail("Fastlåst", message_id="pin@borger.example"))
    srv.append(mail("Fastlåst 2", message_id="pin2@borger.example"),
               folder="Other")
    wait_contacts(d, 2)
    assert d.log_contains(r"event=imap_connected mailbox=main .* tls=pinned")
    assert d.log_contains(
        r"event=imap_connected mailbox=withca .* tls=pinned")
    assert d.log_contains(r"event=imap_ca_file_unused mailbox=withca ")
    assert d.stop() == 0


def test_bad_ca_file(kontaktd, kontaktd_cmd, write_config, tmp_path):
    pw = tmp_path / "imap.password"
    pw.write_text("x\n")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\nAAAA!!\n"
                      "-----END CERTIFICATE-----\n")
    _, _, key = make_test_pki(tmp_path / "pki", "DNS:x.example")
    base = {"host": "h", "user": "u", "password_file": str(pw),
            "tls": "tls"}
    cases = [
        ({"ca_file": str(tmp_path / "missing.pem")},
         r"\[mailbox:main\] ca_file: .*missing\.pem: cannot open: No such "
         r"file"),
        ({"ca_file": str(garbage)},
         r"\[mailbox:main\] ca_file: .*garbage\.pem: no PEM certificate "
         r"in it"),
        # a key is not a certificate
        ({"ca_file": str(key)},
         r"\[mailbox:main\] ca_file: .*server\.key: no PEM certificate"),
        ({"ca_file": str(broken)},
         r"\[mailbox:main\] ca_file: .*broken\.pem: not a PEM "
         r"certificate after 0 good ones"),
        ({"ca_file": str(garbage), "tls": "none"},
         r"\[mailbox:main\] ca_file needs tls or starttls"),
    ]
    for over, pattern in cases:
        path = write_config({"mailbox:main": dict(base, **over)})
        # The error names the line of the ca_file key.
        line = next(i for i, t in enumerate(path.read_text().splitlines(),
                                            1)
                    if t.startswith("ca_file"))
        p = kontaktd_cmd("--config", str(path), "--check-config")
        assert p.returncode != 0, over
        assert re.search(rf"k\.conf:{line}: " + pattern,
                         p.stderr + p.stdout), (p.stderr, pattern)
    # The daemon does not start with one either.
    d = kontaktd(config={"mailbox:main": dict(base, ca_file=str(garbage))},
                 wait=False, allowed_errors=[r"config_error"])
    assert d.wait(timeout=30) != 0
    assert re.search(r"kontaktd\.conf:\d+: \[mailbox:main\] ca_file: .*"
                     r"no PEM certificate in it", d.log()), d.log()


def test_uidvalidity_change_rescans_without_duplicates(kontaktd, dovecot,  # noqa: F811
                                                       mailbox):
    d = kontaktd(config=mailbox(mailbox={"poll_interval": "1s"}))
    for i in range(3):
        dovecot.append(mail(f"U {i}", message_id=f"u{i}@borger.example"))
    wait_contacts(d, 3)
    old = sql(d, "SELECT uidvalidity FROM mailbox_state")[0][0]
    dovecot.stop()
    time.sleep(1.1)  # Dovecot's UIDVALIDITY is a time in seconds
    dovecot.reset_uids()
    mark = d.log_mark()
    dovecot.start()
    dovecot.append(mail("U ny", message_id="unew@borger.example"))
    d.wait_for_log(r"event=imap_uidvalidity_changed mailbox=main", timeout=30,
                   start=mark)
    wait_contacts(d, 4, timeout=30)
    time.sleep(1)
    assert len(contacts(d)) == 4
    uv, last = sql(d, "SELECT uidvalidity, last_uid FROM mailbox_state")[0]
    assert uv != old and last == 4
    assert len(re.findall(r"event=mail_duplicate", d.log(mark))) == 3


def test_polling_without_idle(kontaktd, dovecot_no_idle, tmp_path):  # noqa: F811
    srv = dovecot_no_idle
    pw = tmp_path / "imap.password"
    pw.write_text(srv.password)
    d = kontaktd(config={"mailbox:main": srv.mailbox_config(
        pw, poll_interval="1s")})
    d.wait_for_log(r"event=imap_connected mailbox=main .* idle=no")
    srv.append(mail("Uden IDLE", message_id="poll@borger.example"))
    wait_contacts(d, 1, timeout=10)
