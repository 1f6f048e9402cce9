# SPDX-License-Identifier: MPL-2.0
"""The outbound mail worker, end to end: replies and forwards written over
HTTP arrive at a real SMTP server (aiosmtpd) with the right headers and
text; a relay that is away, answers 4xx or refuses with 5xx; two kontaktd
processes on one database; and the [smtp] settings that are refused."""

import re
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest

from smtp_server import SmtpServer, smtp  # noqa: F401  (the fixture)
from test_auth import add_user
from test_case_actions import act, department, new_case
from test_cases import Client, sql
from utils import describe, free_port, wait_until

FROM = "kontakt@rodovre.example"
TEXT = "Vi henter på tirsdag.\nMvh Rødovre Kommune\nÆBLE, ØRE, ÅEN. =\n"


def start(kontaktd, ctl, smtp, **extra):
    d = kontaktd(config={"smtp": smtp.config(**{"from": FROM}, **extra)})
    add_user(ctl, d, "agnete")
    return d


def delivery(agent, case_id, contact_id):
    r = agent.get(f"/api/v1/cases/{case_id}/contacts")
    assert r.status_code == 200, r.text
    for ct in r.json()["items"]:
        if ct["id"] == contact_id:
            return ct["delivery"]
    raise AssertionError(f"no contact {contact_id} on case {case_id}")


def wait_delivery(agent, case_id, contact_id, pred, what, timeout=20):
    wait_until(lambda: pred(delivery(agent, case_id, contact_id)), timeout,
               what)
    return delivery(agent, case_id, contact_id)


def inbound_mail(d, case_id, message_id, sender):
    sql(d, "INSERT INTO contacts (case_id, channel, direction, external_id,"
           " from_addr, to_addr, subject, body, occurred_at)"
           " VALUES (%s, 'email', 'in', %s, %s, %s, 'Storskrald æøå',"
           " 'Hvornår henter I?', now() - interval '5 minutes')",
        (case_id, message_id, sender, FROM))


def reply(agent, case_id, **kw):
    payload = {"text": TEXT}
    payload.update(kw)
    r = act(agent, case_id, "replies", payload)
    assert r.status_code == 201, r.text
    return r.json()


def test_reply_arrives_with_headers_and_text(kontaktd, ctl, smtp):
    d = start(kontaktd, ctl, smtp)
    agent = Client(d, "agnete")
    c = new_case(agent, subject="Storskrald æøå",
                 citizen={"email": "borger@example.org"})
    inbound_mail(d, c["id"], "<first@mail.example>", "borger@example.org")
    ct = reply(agent, c["id"])

    m = smtp.wait_for(1)[0]
    assert m.rcpt_tos == ["borger@example.org"]
    assert m.mail_from == FROM
    assert m["From"] == FROM and m["To"] == "borger@example.org"
    # The subject: tagged, and RFC 2047 on the wire for the æøå.
    assert m["Subject"] == f"Re: Storskrald æøå [Sag {c['reference']}]"
    raw_headers = m.data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert "=?UTF-8?B?" in raw_headers
    assert m["Message-ID"] == ct["external_id"]
    assert m["In-Reply-To"] == "<first@mail.example>"
    assert "<first@mail.example>" in m["References"].split()
    assert m["X-Kontaktd-Kind"] == "reply"
    assert m["Auto-Submitted"] is None
    assert m["Content-Type"].params["charset"] == "utf-8"
    assert m["Content-Transfer-Encoding"] == "quoted-printable"
    assert m["Date"]
    # 7-bit on the wire; the text intact after decoding.
    assert max(m.data) < 128
    assert m.text().replace("\r\n", "\n") == TEXT

    got = wait_delivery(agent, c["id"], ct["id"],
                        lambda x: x["status"] == "sent", "sent")
    assert got["attempts"] == 1 and got["sent_at"]
    assert got["last_error"] is None and got["next_attempt_at"] is None
    assert d.log_contains(rf"event=mail_sent outbox=\d+ contact={ct['id']}"
                          r" attempts=1")
    # The log says what happened, never what was written.
    assert "tirsdag" not in d.log()
    smtp.stays(1)


def test_relay_away_then_back_delivers_once(kontaktd, ctl, smtp):
    smtp.stop()
    d = start(kontaktd, ctl, smtp)
    agent = Client(d, "agnete")
    c = new_case(agent, citizen={"email": "borger@example.org"})
    ct = reply(agent, c["id"])
    got = wait_delivery(agent, c["id"], ct["id"],
                        lambda x: x["attempts"] >= 2 and x["last_error"],
                        "two failed attempts")
    assert got["status"] == "queued"
    assert str(smtp.port) in got["last_error"]
    assert d.log_contains(r"event=mail_deferred outbox=\d+ contact="
                          rf"{ct['id']} attempts=\d+ retry_in_s=\d+ error=")
    smtp.start()
    msgs = smtp.wait_for(1, timeout=30)
    assert msgs[0]["Message-ID"] == ct["external_id"]
    got = wait_delivery(agent, c["id"], ct["id"],
                        lambda x: x["status"] == "sent", "sent")
    assert got["attempts"] >= 3 and got["last_error"] is None
    smtp.stays(1)


def test_4xx_is_retried_and_counted(kontaktd, ctl, smtp):
    d = start(kontaktd, ctl, smtp)
    agent = Client(d, "agnete")
    smtp.defer(2)
    c = new_case(agent, citizen={"email": "borger@example.org"})
    ct = reply(agent, c["id"])
    got = wait_delivery(agent, c["id"], ct["id"],
                        lambda x: x["status"] == "sent", "sent")
    assert got["attempts"] == 3
    assert smtp.deferred == 2
    assert len(smtp.received()) == 1
    assert len([x for x in d.log().splitlines() if "event=mail_deferred" in x]) == 2
    smtp.stays(1)


def test_4xx_until_max_attempts_fails(kontaktd, ctl, smtp):
    d = start(kontaktd, ctl, smtp, max_attempts="2")
    agent = Client(d, "agnete")
    smtp.defer(10, "421 4.7.0 Not now")
    c = new_case(agent, citizen={"email": "borger@example.org"})
    ct = reply(agent, c["id"])
    got = wait_delivery(agent, c["id"], ct["id"],
                        lambda x: x["status"] == "failed", "failed")
    assert got["attempts"] == 2
    assert got["last_error"].startswith("gave up after 2 attempts: 421")
    assert smtp.received() == []


def test_5xx_fails_at_once_and_shows(kontaktd, ctl, smtp):
    d = start(kontaktd, ctl, smtp)
    agent = Client(d, "agnete")
    smtp.reject("nobody@example.org")
    c = new_case(agent, citizen={"email": "nobody@example.org"})
    ct = reply(agent, c["id"])
    got = wait_delivery(agent, c["id"], ct["id"],
                        lambda x: x["status"] == "failed", "failed")
    assert got["attempts"] == 1 and got["sent_at"] is None
    assert got["last_error"].startswith("550 5.1.1")
    assert "No such user" in got["last_error"]
    assert got["next_attempt_at"] is None
    # Shown on the case too, and a second reply to another address goes.
    case = agent.get(f"/api/v1/cases/{c['id']}").json()
    assert case["contacts"][-1]["delivery"]["status"] == "failed"
    assert d.log_contains(rf"event=mail_failed outbox=\d+ contact={ct['id']}"
                          r" attempts=1 error=")
    reply(agent, c["id"], to="other@example.org")
    assert smtp.wait_for(1)[0].rcpt_tos == ["other@example.org"]


def test_address_that_needs_smtputf8_fails(kontaktd, ctl, smtp):
    d = start(kontaktd, ctl, smtp)
    agent = Client(d, "agnete")
    c = new_case(agent)
    ct = reply(agent, c["id"], to="åse@example.org")
    got = wait_delivery(agent, c["id"], ct["id"],
                        lambda x: x["status"] == "failed", "failed")
    assert "SMTPUTF8" in got["last_error"]
    smtp.stays(0, seconds=0.5)


def test_forward_by_email_reaches_the_department(kontaktd, ctl, smtp):
    d = start(kontaktd, ctl, smtp)
    agent = Client(d, "agnete")
    dept = department(d, "Byg og Miljø", email="byg@kommune.example")
    c = new_case(agent, subject="Skur på grunden",
                 text="Må jeg bygge et skur? Mit CPR er 010170-1234.",
                 citizen={"name": "Åse Ørnsø", "phone": "+4536373839",
                          "email": "aase@example.org",
                          "cpr": "0101701234"})
    r = act(agent, c["id"], "forward",
            {"department_id": dept, "method": "email",
             "reason": "Byggesag, ikke vores område (CPR 0101701234)"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "forwarded"
    got = agent.get(f"/api/v1/cases/{c['id']}").json()
    out = [x for x in got["contacts"] if x["channel"] == "outbound_email"]
    assert len(out) == 1 and out[0]["to"] == "byg@kommune.example"
    assert sql(d, "SELECT kind FROM outbox") == [("forward",)]
    assert sql(d, "SELECT detail->>'contact_id' FROM audit_log"
                  " WHERE action = 'forward'") == [(str(out[0]["id"]),)]

    m = smtp.wait_for(1)[0]
    assert m.rcpt_tos == ["byg@kommune.example"]
    assert m["Subject"] == \
        f"Videresendt: Skur på grunden [Sag {c['reference']}]"
    assert m["Auto-Submitted"] == "auto-generated"
    assert m["X-Kontaktd-Kind"] == "forward"
    assert m["Message-ID"] == out[0]["external_id"]
    text = m.text()
    for part in (c["reference"], "Skur på grunden", "Åse Ørnsø",
                 "+4536373839", "aase@example.org", "Må jeg bygge et skur?",
                 "Byggesag, ikke vores område"):
        assert part in text, (part, text)
    # No CPR number leaves by mail, neither the case's nor one in a text.
    assert "0101701234" not in text and "010170-1234" not in text
    wait_delivery(agent, c["id"], out[0]["id"],
                  lambda x: x["status"] == "sent", "sent")


def test_forward_by_email_without_from_records_only(kontaktd, ctl):
    d = kontaktd()
    add_user(ctl, d, "agnete")
    agent = Client(d, "agnete")
    dept = department(d, "Byg", email="byg@kommune.example")
    c = new_case(agent)
    r = act(agent, c["id"], "forward",
            {"department_id": dept, "method": "email"})
    assert r.status_code == 200, r.text
    assert sql(d, "SELECT target FROM forwards") == [("byg@kommune.example",)]
    assert sql(d, "SELECT count(*) FROM outbox") == [(0,)]


def test_without_host_mail_stays_queued(kontaktd, ctl, smtp):
    d = kontaktd(config={"smtp": {"from": FROM}})
    add_user(ctl, d, "agnete")
    agent = Client(d, "agnete")
    c = new_case(agent, citizen={"email": "borger@example.org"})
    ct = reply(agent, c["id"])
    time.sleep(1.5)
    assert delivery(agent, c["id"], ct["id"])["status"] == "queued"
    assert delivery(agent, c["id"], ct["id"])["attempts"] == 0
    assert d.log_contains(r"event=mail_worker_off")


def test_two_daemons_send_each_message_once(kontaktd, ctl, smtp):
    d1 = start(kontaktd, ctl, smtp)
    d2 = kontaktd(db=d1.db, migrate=False,
                  config={"smtp": smtp.config(**{"from": FROM})})
    a1, a2 = Client(d1, "agnete"), Client(d2, "agnete")
    n = 24
    ids = []
    for i in range(n):
        agent = a1 if i % 2 else a2
        c = new_case(agent, citizen={"email": f"b{i}@example.org"})
        ids.append(reply(agent, c["id"])["external_id"])
    msgs = smtp.wait_for(n, timeout=30)
    smtp.stays(n)
    assert sorted(m["Message-ID"] for m in msgs) == sorted(ids)
    wait_until(lambda: sql(d1, "SELECT count(*) FROM outbox"
                               " WHERE status = 'sent'") == [(n,)], 20,
               "all recorded as sent")
    assert sql(d1, "SELECT max(attempts) FROM outbox") == [(1,)]


# --- settings -----------------------------------------------------------------


@pytest.mark.parametrize("smtp_cfg,expected", [
    ({"from": FROM, "host": "127.0.0.1", "tls": "foo"},
     "[smtp] tls must be one of none, starttls, tls"),
    ({"from": FROM, "host": "127.0.0.1", "tls": "tls"},
     "[smtp] tls = tls (implicit TLS, port 465) is not supported"),
    ({"from": FROM, "host": "127.0.0.1", "port": "0"},
     "[smtp] port: bad value: out of range (1..65535)"),
    ({"host": "127.0.0.1"}, "[smtp] host is set but from is not"),
    ({"from": FROM, "host": "smtp example.dk"},
     "[smtp] host must be a host name"),
    ({"from": FROM, "user": "kontaktd"},
     "[smtp] user and password_file must be set together"),
    ({"from": FROM, "timeout": "10ms"}, "[smtp] timeout: bad value"),
    ({"from": FROM, "max_attempts": "0"}, "[smtp] max_attempts: bad value"),
], ids=["tls_foo", "tls_implicit", "port_0", "host_without_from",
        "host_bad", "user_without_password", "timeout_short",
        "max_attempts_0"])
def test_bad_smtp_settings(smtp_cfg, expected, write_config, kontaktd_cmd):
    path = write_config({"smtp": smtp_cfg})
    p = kontaktd_cmd("--config", path, "--check-config")
    assert p.returncode == 1, describe(p)
    assert expected in p.stderr, p.stderr
    assert re.search(rf"{re.escape(str(path))}:\d+: ", p.stderr), p.stderr


def test_missing_password_file(write_config, kontaktd_cmd, tmp_path):
    missing = tmp_path / "nope" / "smtp.password"
    path = write_config({"smtp": {"from": FROM, "host": "127.0.0.1",
                                  "user": "kontaktd",
                                  "password_file": str(missing)}})
    p = kontaktd_cmd("--config", path, "--check-config")
    assert p.returncode == 1, describe(p)
    assert "[smtp] password_file" in p.stderr and str(missing) in p.stderr
    # Serving refuses too, as a configuration error.
    p = kontaktd_cmd("--config", path, timeout=30)
    assert p.returncode == 78, describe(p)
    assert "[smtp] password_file" in p.stderr


def test_password_file_is_read_and_never_logged(kontaktd, tmp_path):
    secret = tmp_path / "smtp.password"
    secret.write_text("Hemmelig-SMTP-42\n")
    port = free_port()  # nothing listens: the worker only defers
    d = kontaktd(config={"smtp": {"from": FROM, "host": "127.0.0.1",
                                  "port": str(port), "tls": "none",
                                  "user": "kontaktd",
                                  "password_file": str(secret)}})
    # The worker may start just after /healthz answers.
    d.wait_for_log(r"event=mail_worker_started .*auth=on")
    assert "Hemmelig-SMTP-42" not in d.log()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_auth_with_password_file(kontaktd, ctl, tmp_path):
    server = SmtpServer(auth=("kontaktd", "Hemmelig-SMTP-42"))
    server.start()
    try:
        secret = tmp_path / "smtp.password"
        secret.write_text("Hemmelig-SMTP-42\n")
        d = start(kontaktd, ctl, server, user="kontaktd",
                  password_file=str(secret))
        agent = Client(d, "agnete")
        c = new_case(agent, citizen={"email": "borger@example.org"})
        ct = reply(agent, c["id"])
        assert server.wait_for(1)[0]["Message-ID"] == ct["external_id"]
        assert [ok for _, user, ok in server.logins] == [True]
        assert server.logins[0][1] == "kontaktd"
        assert "Hemmelig-SMTP-42" not in d.log()
    finally:
        server.stop()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_wrong_password_defers(kontaktd, ctl, tmp_path):
    server = SmtpServer(auth=("kontaktd", "right"))
    server.start()
    try:
        secret = tmp_path / "smtp.password"
        secret.write_text("wrong")
        d = start(kontaktd, ctl, server, user="kontaktd",
                  password_file=str(secret))
        agent = Client(d, "agnete")
        c = new_case(agent, citizen={"email": "borger@example.org"})
        ct = reply(agent, c["id"])
        got = wait_delivery(agent, c["id"], ct["id"],
                            lambda x: x["attempts"] >= 1 and x["last_error"],
                            "a failed attempt")
        # A refused login is the relay's or the operator's to fix: the
        # message waits, it does not fail.
        assert got["status"] == "queued"
        assert server.received() == []
        assert "wrong" not in got["last_error"]
    finally:
        server.stop()


def test_starttls_required_but_not_offered(kontaktd, ctl, smtp):
    d = start(kontaktd, ctl, smtp, tls="starttls")
    agent = Client(d, "agnete")
    c = new_case(agent, citizen={"email": "borger@example.org"})
    ct = reply(agent, c["id"])
    got = wait_delivery(agent, c["id"], ct["id"],
                        lambda x: x["attempts"] >= 1 and x["last_error"],
                        "a failed attempt")
    assert got["status"] == "queued"
    assert "does not offer STARTTLS" in got["last_error"]
    # Nothing goes in clear to a relay without STARTTLS.
    smtp.stays(0, seconds=1)


def test_receipt_goes_with_empty_envelope_sender(kontaktd, ctl, smtp):
    d = start(kontaktd, ctl, smtp)
    agent = Client(d, "agnete")
    c = new_case(agent, citizen={"email": "borger@example.org"})
    # A receipt as the IMAP ingest queues it: an outbound_email contact
    # and an outbox row of kind receipt.
    cid = sql(d, "INSERT INTO contacts (case_id, channel, direction,"
                 " external_id, from_addr, to_addr, subject, body)"
                 " VALUES (%s, 'outbound_email', 'out', %s, %s,"
                 " 'borger@example.org', %s, %s) RETURNING id",
              (c["id"], "<kvittering.1@rodovre.example>", FROM,
               f"Kvittering [Sag {c['reference']}]",
               "Tak for din henvendelse."))[0][0]
    sql(d, "INSERT INTO outbox (contact_id, kind, in_reply_to)"
           " VALUES (%s, 'receipt', '<orig@mail.example>')", (cid,))
    sql(d, "NOTIFY ktd_outbox")
    m = smtp.wait_for(1)[0]
    assert m.mail_from == "<>" or m.mail_from == ""
    assert m["Auto-Submitted"] == "auto-replied"
    assert m["X-Kontaktd-Kind"] == "receipt"
    assert m["In-Reply-To"] == "<orig@mail.example>"
    assert m["From"] == FROM
    assert m.text().strip() == "Tak for din henvendelse."
    for name in ("Date", "From", "To", "Subject", "Message-ID",
                 "MIME-Version", "Content-Type"):
        assert len(m.msg.get_all(name)) == 1, name


@pytest.fixture
def tls_relay(tmp_path):
    """A relay that offers STARTTLS with a self-signed certificate for
    localhost; .ca is the certificate (the CA to trust)."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl is missing (apt-get install openssl)"
    crt, key = tmp_path / "relay.pem", tmp_path / "relay.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(crt), str(key))
    server = SmtpServer(tls_context=ctx)
    server.ca = crt
    server.start()
    yield server
    server.stop()


def test_starttls_with_untrusted_certificate_defers(kontaktd, ctl,
                                                    tls_relay):
    d = start(kontaktd, ctl, tls_relay, tls="starttls", host="localhost")
    agent = Client(d, "agnete")
    c = new_case(agent, citizen={"email": "borger@example.org"})
    ct = reply(agent, c["id"])
    got = wait_delivery(agent, c["id"], ct["id"],
                        lambda x: x["attempts"] >= 1 and x["last_error"],
                        "a failed attempt")
    assert got["status"] == "queued"
    assert "certificate" in got["last_error"], got
    tls_relay.stays(0, seconds=1)


def test_starttls_with_trusted_certificate_sends(kontaktd, ctl, tls_relay):
    d = start(kontaktd, ctl, tls_relay, tls="starttls", host="localhost",
              ca_file=str(tls_relay.ca))
    agent = Client(d, "agnete")
    c = new_case(agent, citizen={"email": "borger@example.org"})
    for _ in range(2):  # a second session reuses the TLS context
        ct = reply(agent, c["id"])
        m = tls_relay.wait_for(1)[-1]
        assert m["Message-ID"] == ct["external_id"]
        assert m.text().replace("\r\n", "\n") == TEXT
        wait_delivery(agent, c["id"], ct["id"],
                      lambda x: x["status"] == "sent", "sent")
        tls_relay.messages.clear()


def test_starttls_reads_tls13_tickets_before_ehlo(kontaktd, ctl, tls_relay):
    """A TLS 1.3 relay sends its session tickets after the handshake.
    libESMTP 1.1.0, finding them readable before it has sent EHLO, would
    wait for a reply to the EHLO it has not sent, until the timeout (a
    session now and then, when kontaktd is slower than the round trip):
    kontaktd reads them first, in every session."""
    d = kontaktd(config={"smtp": tls_relay.config(
        **{"from": FROM}, tls="starttls", host="localhost",
        ca_file=str(tls_relay.ca)), "log": {"level": "debug"}})
    add_user(ctl, d, "agnete")
    agent = Client(d, "agnete")
    c = new_case(agent, citizen={"email": "borger@example.org"})
    for n in range(1, 4):
        ct = reply(agent, c["id"])
        tls_relay.wait_for(n)
        wait_delivery(agent, c["id"], ct["id"],
                      lambda x: x["status"] == "sent", "sent")
        assert len(re.findall(r"event=smtp_tls_drained server=localhost:"
                              r"\d+ tls=TLSv1\.3 ", d.log())) == n
    assert not d.log_contains(r"event=mail_deferred")


def test_starttls_certificate_for_another_name_defers(kontaktd, ctl,
                                                      tls_relay):
    # Trusted, but issued to localhost, not to 127.0.0.1.
    d = start(kontaktd, ctl, tls_relay, tls="starttls",
              ca_file=str(tls_relay.ca))
    agent = Client(d, "agnete")
    c = new_case(agent, citizen={"email": "borger@example.org"})
    ct = reply(agent, c["id"])
    got = wait_delivery(agent, c["id"], ct["id"],
                        lambda x: x["attempts"] >= 2 and x["last_error"],
                        "two failed attempts")
    assert "not for [smtp] host" in got["last_error"], got
    tls_relay.stays(0, seconds=0.5)


def test_bad_ca_file_stops_start_up(kontaktd_cmd, write_config, tmp_path):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    path = write_config({"smtp": {"from": FROM, "host": "127.0.0.1",
                                  "ca_file": str(bad)}})
    p = kontaktd_cmd("--config", path, "--check-config")
    assert p.returncode == 1, describe(p)
    assert "[smtp] ca_file" in p.stderr and str(bad) in p.stderr
    p = kontaktd_cmd("--config", path, timeout=30)
    assert p.returncode == 78, describe(p)
    assert "[smtp] ca_file" in p.stderr


def test_silent_relay_times_out_and_stop_is_prompt(kontaktd, ctl):
    # A relay that takes the connection and never greets.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    try:
        d = kontaktd(config={"smtp": {"from": FROM, "host": "127.0.0.1",
                                      "port": str(port), "tls": "none",
                                      "timeout": "1s",
                                      "retry_after": "1m"}})
        add_user(ctl, d, "agnete")
        agent = Client(d, "agnete")
        c = new_case(agent, citizen={"email": "borger@example.org"})
        ct = reply(agent, c["id"])
        got = wait_delivery(agent, c["id"], ct["id"],
                            lambda x: x["attempts"] == 1 and x["last_error"],
                            "a timed-out attempt")
        assert got["status"] == "queued"
        # The next attempt is a minute away: SIGTERM ends the worker's
        # wait at once.
        t0 = time.monotonic()
        assert d.stop(timeout=10) == 0
        assert time.monotonic() - t0 < 5
    finally:
        silent.close()


def test_refused_sender_is_retried_not_failed(kontaktd, ctl, smtp):
    # A 5xx to MAIL FROM is about the relay's settings, which are the same
    # for every message: retried until max_attempts, as a 4xx.
    d = start(kontaktd, ctl, smtp, max_attempts="2")
    agent = Client(d, "agnete")
    smtp.refuse_sender("553 5.7.1 Sender not allowed")
    c = new_case(agent, citizen={"email": "borger@example.org"})
    ct = reply(agent, c["id"])
    got = wait_delivery(agent, c["id"], ct["id"],
                        lambda x: x["attempts"] >= 1 and x["last_error"],
                        "a refused attempt")
    assert got["status"] == "queued", got
    assert got["last_error"].startswith("553 5.7.1")
    got = wait_delivery(agent, c["id"], ct["id"],
                        lambda x: x["status"] == "failed", "failed")
    assert got["last_error"].startswith("gave up after 2 attempts: 553")


def test_plain_smtp_off_loopback_warns_and_times_out(kontaktd, ctl):
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): nothing answers there.
    d = kontaktd(config={"smtp": {"from": FROM, "host": "192.0.2.1",
                                  "tls": "none", "timeout": "1s",
                                  "retry_after": "1m"}})
    assert d.log_contains(r"level=warning event=smtp_without_tls "
                          r"host=192\.0\.2\.1")
    add_user(ctl, d, "agnete")
    agent = Client(d, "agnete")
    c = new_case(agent, citizen={"email": "borger@example.org"})
    ct = reply(agent, c["id"])
    got = wait_delivery(agent, c["id"], ct["id"],
                        lambda x: x["attempts"] == 1 and x["last_error"],
                        "a timed-out attempt", timeout=15)
    assert got["status"] == "queued"
    assert got["last_error"].startswith("192.0.2.1:25: ")


def test_killed_while_sending_resends_the_same_message(kontaktd, ctl, smtp):
    # The at-least-once window: the relay has taken the message but
    # kontaktd dies before it hears so. Nothing is lost: when the lease
    # (14 times [smtp] timeout) ends, another process sends it again, as
    # the same message (same Message-ID).
    cfg = {"smtp": smtp.config(**{"from": FROM, "timeout": "1s"})}
    d = kontaktd(config=cfg)
    add_user(ctl, d, "agnete")
    agent = Client(d, "agnete")
    smtp.answer_late(30)
    c = new_case(agent, citizen={"email": "borger@example.org"})
    ct = reply(agent, c["id"])
    smtp.wait_for(1)
    d.signal(signal.SIGKILL)
    d.wait()
    assert sql(d, "SELECT status, attempts FROM outbox") == [("queued", 1)]
    d2 = kontaktd(db=d.db, migrate=False, config=cfg)
    wait_until(lambda: sql(d2, "SELECT status FROM outbox") == [("sent",)],
               40, "sent after the lease")
    msgs = smtp.received()
    assert len(msgs) == 2
    assert {m["Message-ID"] for m in msgs} == {ct["external_id"]}
    assert msgs[0].data == msgs[1].data  # byte for byte the same message
    assert sql(d2, "SELECT attempts FROM outbox") == [(2,)]
