# SPDX-License-Identifier: MPL-2.0
"""Certificate revocation for the mail channels' TLS: with [mailbox:NAME]
crl_file or [smtp] crl_file set, the server's chain must have a CRL for
each of its CAs, and a revoked server certificate fails the connection
with a clear log line; against a real Dovecot (imaps and STARTTLS) and a
real SMTP relay (aiosmtpd, STARTTLS), with a CA, server certificate and
CRLs made by the openssl command line."""

import re
import shutil
import ssl
import time

import pytest

from imap_server import (dovecot_ca,  # noqa: F401  (the fixture)
                         make_test_crls, make_test_pki)
from smtp_server import SmtpServer
from test_auth import add_user
from test_case_actions import new_case
from test_cases import Client
from test_imap import contacts, mail, wait_contacts
from test_smtp import FROM, delivery, reply, wait_delivery



def imap_config(srv, pw, crl, **over):
    cfg = {
        "mailbox:tls": srv.mailbox_config(pw, tls="tls", port=srv.tls_port,
                                          ca_file=str(srv.ca_file),
                                          crl_file=str(crl)),
        "mailbox:starttls": srv.mailbox_config(
            pw, tls="starttls", port=srv.port, ca_file=str(srv.ca_file),
            crl_file=str(crl), folder="Other"),
    }
    cfg.update(over)
    return cfg


def test_imap_not_revoked_connects(kontaktd, dovecot_ca, tmp_path):  # noqa: F811
    srv = dovecot_ca
    pw = tmp_path / "imap.password"
    pw.write_text(srv.password + "\n")
    crl = make_test_crls(srv.dir / "pki")
    with srv.client() as m:
        m.create("Other")
    d = kontaktd(config=imap_config(srv, pw, crl))
    srv.append(mail("Over TLS", message_id="crl1@borger.example"))
    srv.append(mail("Over STARTTLS", message_id="crl2@borger.example"),
               folder="Other")
    wait_contacts(d, 2)
    for name in ("tls", "starttls"):
        assert d.log_contains(rf"event=imap_connected mailbox={name} .* "
                              r"tls=verified")
    assert not d.log_contains(r"event=imap_tls_failed")
    assert d.stop() == 0


def test_imap_revoked_certificate_fails(kontaktd, dovecot_ca, tmp_path):  # noqa: F811
    srv = dovecot_ca
    pw = tmp_path / "imap.password"
    pw.write_text(srv.password + "\n")
    revoked = make_test_crls(srv.dir / "pki", revoked=True)
    # The intermediate's CRL alone: the root, a CA of the chain too, has
    # none, and every CA must have one.
    partial = make_test_crls(srv.dir / "pki", only_intermediate=True)
    with srv.client() as m:
        for f in ("Other", "Third"):
            m.create(f)
    cfg = imap_config(srv, pw, revoked)
    cfg["mailbox:partial"] = srv.mailbox_config(
        pw, tls="tls", port=srv.tls_port, ca_file=str(srv.ca_file),
        crl_file=str(partial), folder="Third")
    srv.append(mail("Tilbagekaldt", message_id="rev1@borger.example"))
    srv.append(mail("Tilbagekaldt 2", message_id="rev2@borger.example"),
               folder="Other")
    srv.append(mail("Delvis", message_id="rev3@borger.example"),
               folder="Third")
    d = kontaktd(config=cfg)
    for name in ("tls", "starttls"):
        d.wait_for_log(rf"event=imap_tls_failed mailbox={name} .*"
                       r"reason=\"the server's certificate chain failed "
                       r"the revocation check: certificate revoked: a CRL "
                       r"of crl_file lists it \(at depth 0\)\" "
                       r"action=\"not logging in\"")
    d.wait_for_log(r"event=imap_tls_failed mailbox=partial .*no CRL in "
                   r"crl_file for a CA of the chain .*\(at depth 1\)")
    # ... and tried again with the backoff, never logging in.
    d.wait_for_log(r"event=imap_error mailbox=tls retry_ms=\d+ "
                   r"msg=\"TLS: not logging in: .*revoked")
    time.sleep(1)
    assert contacts(d) == []
    assert not d.log_contains(r"event=imap_connected")
    assert srv.tls_logins() == [], srv.tls_logins()
    assert srv.password not in d.log()
    assert d.stop() == 0


def test_imap_crl_renewed_counts_at_next_connection(kontaktd, dovecot_ca,  # noqa: F811
                                                    tmp_path):
    srv = dovecot_ca
    pw = tmp_path / "imap.password"
    pw.write_text(srv.password + "\n")
    crl = tmp_path / "crl.pem"
    shutil.copy(make_test_crls(srv.dir / "pki", revoked=True), crl)
    d = kontaktd(config={"mailbox:tls": srv.mailbox_config(
        pw, tls="tls", port=srv.tls_port, ca_file=str(srv.ca_file),
        crl_file=str(crl))})
    srv.append(mail("Senere", message_id="later@borger.example"))
    d.wait_for_log(r"event=imap_tls_failed mailbox=tls .*revoked")
    # The operator puts a CRL that does not list it (as if the revocation
    # had been a mistake): the next attempt reads it.
    shutil.copy(make_test_crls(srv.dir / "pki"), crl)
    wait_contacts(d, 1, timeout=30)
    assert d.log_contains(r"event=imap_connected mailbox=tls .*tls=verified")
    assert d.stop() == 0


@pytest.fixture
def ca_relay(tmp_path):
    """A relay with STARTTLS whose certificate (for localhost) a test CA
    issued (root -> intermediate -> server); .pki is that CA's folder,
    .ca its root certificate."""
    pki = tmp_path / "pki"
    root, chain, key = make_test_pki(pki, "DNS:localhost")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(chain), str(key))
    server = SmtpServer(tls_context=ctx)
    server.pki = pki
    server.ca = root
    server.start()
    yield server
    server.stop()


def start_smtp(kontaktd, ctl, relay, crl):
    d = kontaktd(config={"smtp": relay.config(
        **{"from": FROM}, tls="starttls", host="localhost",
        ca_file=str(relay.ca), crl_file=str(crl))})
    add_user(ctl, d, "agnete")
    return d, Client(d, "agnete")


def test_smtp_not_revoked_sends(kontaktd, ctl, ca_relay, tmp_path):
    d, agent = start_smtp(kontaktd, ctl, ca_relay,
                          make_test_crls(ca_relay.pki))
    c = new_case(agent, citizen={"email": "borger@example.org"})
    ct = reply(agent, c["id"])
    m = ca_relay.wait_for(1)[0]
    assert m["Message-ID"] == ct["external_id"]
    wait_delivery(agent, c["id"], ct["id"], lambda x: x["status"] == "sent",
                  "sent")
    assert not d.log_contains(r"event=smtp_tls_failed")


def test_smtp_revoked_certificate_defers(kontaktd, ctl, ca_relay, tmp_path):
    # Valid at first; then the operator installs a CRL that revokes the
    # relay's certificate: the next session reads it (no restart).
    crl = tmp_path / "crl.pem"
    shutil.copy(make_test_crls(ca_relay.pki), crl)
    d, agent = start_smtp(kontaktd, ctl, ca_relay, crl)
    c = new_case(agent, citizen={"email": "borger@example.org"})
    first = reply(agent, c["id"])
    ca_relay.wait_for(1)
    wait_delivery(agent, c["id"], first["id"],
                  lambda x: x["status"] == "sent", "sent")
    time.sleep(0.05)  # a new mtime, whatever the file system's grain
    shutil.copy(make_test_crls(ca_relay.pki, revoked=True), crl)
    ct = reply(agent, c["id"])
    got = wait_delivery(agent, c["id"], ct["id"],
                        lambda x: x["attempts"] >= 1 and x["last_error"],
                        "a failed attempt")
    assert got["status"] == "queued"
    assert re.search(r"failed the revocation check \(\[smtp\] crl_file\): "
                     r"certificate revoked", got["last_error"]), got
    d.wait_for_log(r"event=smtp_crl_loaded file=")
    d.wait_for_log(r"level=warning event=smtp_tls_failed "
                   r"server=localhost:\d+ reason=\".*certificate revoked: "
                   r"a CRL of crl_file lists it\" action=\"not sending\"")
    ca_relay.stays(1, seconds=1)
    # A CRL file that cannot be used stops sending too, saying why.
    crl.write_text("kein CRL\n")
    ct2 = reply(agent, c["id"])
    got = wait_delivery(agent, c["id"], ct2["id"],
                        lambda x: x["attempts"] >= 1 and x["last_error"],
                        "a failed attempt")
    assert "crl_file" in got["last_error"] and "no PEM CRL" in \
        got["last_error"], got
    d.wait_for_log(r"event=smtp_crl_unusable ")
    ca_relay.stays(1, seconds=0.5)
    assert delivery(agent, c["id"], first["id"])["status"] == "sent"


def test_bad_crl_file_settings(kontaktd, kontaktd_cmd, write_config,
                               tmp_path):
    pw = tmp_path / "imap.password"
    pw.write_text("x\n")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a CRL\n")
    root, _, _ = make_test_pki(tmp_path / "pki", "DNS:x.example")
    base = {"host": "h", "user": "u", "password_file": str(pw),
            "tls": "tls"}
    cases = [
        ({"mailbox:main": dict(base, crl_file=str(tmp_path / "no.pem"))},
         "crl_file",
         r"\[mailbox:main\] crl_file: .*no\.pem: cannot open: No such file"),
        ({"mailbox:main": dict(base, crl_file=str(garbage))}, "crl_file",
         r"\[mailbox:main\] crl_file: .*garbage\.pem: no PEM CRL"),
        # a certificate is not a CRL
        ({"mailbox:main": dict(base, crl_file=str(root))}, "crl_file",
         r"\[mailbox:main\] crl_file: .*root\.pem: no PEM CRL"),
        ({"mailbox:main": dict(base, tls="none", crl_file=str(garbage))},
         "crl_file", r"\[mailbox:main\] crl_file needs tls or starttls"),
        ({"smtp": {"from": FROM, "host": "127.0.0.1",
                   "crl_file": str(garbage)}}, "crl_file",
         r"\[smtp\] crl_file: .*garbage\.pem: no PEM CRL"),
        ({"smtp": {"from": FROM, "host": "127.0.0.1", "tls": "none",
                   "crl_file": str(garbage)}}, "crl_file",
         r"\[smtp\] crl_file needs tls = starttls"),
    ]
    for over, key, pattern in cases:
        path = write_config(over)
        line = next(i for i, t in enumerate(path.read_text().splitlines(),
                                            1) if t.startswith(key))
        p = kontaktd_cmd("--config", str(path), "--check-config")
        assert p.returncode != 0, over
        assert re.search(rf"k\.conf:{line}: " + pattern,
                         p.stderr + p.stdout), (p.stderr, pattern)
    # The daemon does not start with one either.
    d = kontaktd(config={"mailbox:main": dict(base, crl_file=str(garbage))},
                 wait=False, allowed_errors=[r"config_error"])
    assert d.wait(timeout=30) != 0
    assert re.search(r"kontaktd\.conf:\d+: \[mailbox:main\] crl_file: .*"
                     r"no PEM CRL", d.log()), d.log()
