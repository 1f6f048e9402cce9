# SPDX-License-Identifier: MPL-2.0
"""HTTPS with [server] tls_cert and tls_key (a certificate made by openssl
for the test)."""

import shutil
import socket
import subprocess

import pytest
import requests

from utils import EXIT_FAILURE, parse_log_line, recv_all


@pytest.fixture
def cert(tmp_path):
    """(cert path, key path): a self-signed certificate for 127.0.0.1."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl is missing (apt-get install openssl)"
    crt, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    key.chmod(0o600)
    return crt, key


def test_https(kontaktd, cert):
    crt, key = cert
    d = kontaktd(wait=False, config={"server": {"tls_cert": crt,
                                                "tls_key": key}})
    # wait_ready() polls over plain HTTP: wait for the start-up line.
    assert parse_log_line(d.wait_for_log(r"event=started\b"))["tls"] == "on"
    url = f"https://127.0.0.1:{d.port}"
    r = requests.get(url + "/healthz", verify=str(crt), timeout=10)
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    r = requests.get(url + "/", verify=str(crt), timeout=10)
    assert r.status_code == 200
    assert "Strict-Transport-Security" in r.headers
    # Plain HTTP on the TLS port gets no HTTP answer.
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                  b"Connection: close\r\n\r\n")
        try:
            data = recv_all(s, timeout=10)
        except ConnectionResetError:
            data = b""
    assert not data.startswith(b"HTTP/")
    r = requests.get(url + "/healthz", verify=str(crt), timeout=10)
    assert r.status_code == 200


def test_plain_http_has_no_hsts(kontaktd):
    d = kontaktd()
    assert "Strict-Transport-Security" not in d.get("/healthz").headers


def test_bad_certificate_stops_start_up(kontaktd, tmp_path):
    crt, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    crt.write_text("-----BEGIN CERTIFICATE-----\nnot a cert\n"
                   "-----END CERTIFICATE-----\n")
    key.write_text("not a key\n")
    d = kontaktd(wait=False, config={"server": {"tls_cert": crt,
                                                "tls_key": key}},
                 allowed_errors=[r"event=http_start_failed\b"])
    assert d.wait(timeout=20) == EXIT_FAILURE
    d.wait_for_log(r"level=fatal event=http_start_failed\b")
    assert not d.log_contains(r"event=started\b")
    # The key's content never reaches the log.
    assert "not a key" not in d.log()


def test_session_cookie_is_secure_under_tls(kontaktd, ctl, cert):
    crt, key = cert
    d = kontaktd(wait=False, config={"server": {"tls_cert": crt,
                                                "tls_key": key}})
    d.wait_for_log(r"event=started\b")
    p = ctl("user", "add", "tls-agent", "--role", "agent",
            config=d.config_path, input="a long enough password\n")
    assert p.returncode == 0, p.stderr
    r = requests.post(f"https://127.0.0.1:{d.port}/api/v1/session",
                      json={"login": "tls-agent",
                            "password": "a long enough password"},
                      verify=str(crt), timeout=10)
    assert r.status_code == 200, r.text
    cookie = r.headers["Set-Cookie"]
    assert "; Secure" in cookie and "HttpOnly" in cookie, cookie
