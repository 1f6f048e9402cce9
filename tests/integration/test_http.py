# SPDX-License-Identifier: MPL-2.0
"""The HTTP layer: error bodies, 404/405/413, security headers, static
files and caching, path traversal, oversize headers and slow clients.

Requests whose target must reach the server byte for byte go over a raw
socket (utils.http_request); the requests library normalises paths."""

import os
import socket
import time

import pytest
import requests

import openapi_check
from utils import (WWW_ROOT, copy_tree, http_request, json_body, raw_http,
                   recv_all)

JSON_TYPE = "application/json; charset=utf-8"


def assert_error_body(status, headers, body, code):
    assert headers["content-type"] == JSON_TYPE
    doc = json_body(body)
    assert set(doc) == {"error"}
    assert set(doc["error"]) == {"code", "message"}
    assert doc["error"]["code"] == code
    assert doc["error"]["message"]


def assert_security_headers(headers):
    h = {k.lower(): v for k, v in headers.items()}
    csp = h["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert h["x-content-type-options"] == "nosniff"
    assert h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "no-referrer"


# --- routing errors -------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/", "/api",
                                  "/api/v1/openapi.json/x",
                                  "/api/index.html"])
def test_unknown_api_path_is_404_json(kontaktd, path):
    d = kontaktd()
    status, headers, body = http_request(d.port, "GET", path)
    assert status == 404
    assert_error_body(status, headers, body, "not_found")
    assert_security_headers(headers)


@pytest.mark.parametrize("method,path,allow", [
    ("POST", "/healthz", "GET, HEAD"),
    ("DELETE", "/readyz", "GET, HEAD"),
    ("PUT", "/api/v1/openapi.json", "GET, HEAD"),
    ("FOO", "/healthz", "GET, HEAD"),
    ("POST", "/index.html", "GET, HEAD"),  # a static file
    ("DELETE", "/", "GET, HEAD"),
])
def test_wrong_method_is_405_with_allow(kontaktd, method, path, allow):
    d = kontaktd()
    status, headers, body = http_request(d.port, method, path)
    assert status == 405
    assert headers["allow"] == allow
    assert_error_body(status, headers, body, "method_not_allowed")
    assert method in json_body(body)["error"]["message"]
    assert_security_headers(headers)


@pytest.mark.parametrize("method", [b"G\xffT", b"P\xc3\xa5ST", b"G\"T"],
                         ids=["invalid-utf8", "utf8", "quote"])
@pytest.mark.parametrize("path", [b"/healthz", b"/index.html", b"/api/v1/x"])
def test_odd_method_bytes(kontaktd, method, path):
    """A method is echoed in the 405 message: bytes that are not UTF-8 must
    not break the JSON body (nor the daemon), nor the log line."""
    d = kontaktd()
    status, headers, body = raw_http(
        d.port, method + b" " + path + b" HTTP/1.1\r\nHost: x\r\n"
        b"Connection: close\r\n\r\n")
    assert status in (400, 404, 405, 501), status
    if headers.get("content-type") == JSON_TYPE:
        json_body(body)  # valid JSON (and so valid UTF-8)
    assert d.get("/healthz").status_code == 200


def test_request_target_cannot_forge_log_lines(kontaktd):
    d = kontaktd()
    mark = d.log_mark()
    forged = "/%0a%0dts=2026-01-01T00:00:00.000Z%20level=error%20event=forged"
    status, _, _ = http_request(d.port, "GET", forged)
    assert status == 404
    status, _, _ = http_request(d.port, "GET", "/%ff%fe%22x")
    assert status == 404
    # The /healthz line comes after those of the two requests above.
    assert d.get("/healthz").status_code == 200
    d.wait_for_log(r"event=http method=GET path=/healthz", start=mark)
    log = d.log(mark)
    assert "event=forged" in log  # there, but inside a quoted value
    assert not any(line.startswith("ts=2026-01-01") for line in
                   log.splitlines())
    assert d.malformed_lines() == []


# --- request bodies -------------------------------------------------------

def test_body_over_max_body_is_413(kontaktd):
    d = kontaktd(config={"server": {"max_body": "1k"}})
    # At the limit: not too large (static files take no POST: 405).
    status, _, _ = http_request(d.port, "POST", "/", body=b"x" * 1024)
    assert status == 405
    # Over it, announced by Content-Length: refused before it is read.
    status, headers, body = http_request(d.port, "POST", "/",
                                         body=b"x" * 1025)
    assert status == 413
    assert_error_body(status, headers, body, "payload_too_large")
    assert_security_headers(headers)
    # A huge announced body is refused without waiting for it.
    status, headers, body = http_request(
        d.port, "POST", "/", headers={"Content-Length": str(10**9)})
    assert status == 413
    assert d.get("/healthz").status_code == 200


def test_chunked_body_over_max_body_is_413(kontaktd):
    d = kontaktd(config={"server": {"max_body": "1k"}})

    def chunks(n, size):
        for _ in range(n):
            yield b"y" * size

    # requests sends a generator with Transfer-Encoding: chunked.
    r = requests.post(d.url("/"), data=chunks(4, 512), timeout=10)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"
    r = requests.post(d.url("/"), data=chunks(2, 512), timeout=10)
    assert r.status_code == 405  # exactly 1k: not too large
    # The same over a raw socket, with chunk framing of our own.
    body = b"".join(b"200\r\n" + b"z" * 512 + b"\r\n" for _ in range(3))
    status, headers, resp = raw_http(
        d.port, b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + body + b"0\r\n\r\n")
    assert status == 413
    assert_error_body(status, headers, resp, "payload_too_large")
    assert d.get("/healthz").status_code == 200


# --- security headers -----------------------------------------------------

@pytest.mark.parametrize("path", ["/healthz", "/readyz",
                                  "/api/v1/openapi.json", "/",
                                  "/app.css", "/app.js", "/no-such-file",
                                  "/api/v1/nope"])
def test_security_headers_on_every_response(kontaktd, path):
    d = kontaktd()
    r = d.get(path)
    assert_security_headers(r.headers)
    if r.status_code == 200 and path in ("/", "/app.css"):
        r = d.get(path, headers={"If-None-Match": r.headers["ETag"]})
        assert r.status_code == 304
        assert_security_headers(r.headers)


def test_api_responses_are_not_cached(kontaktd):
    d = kontaktd()
    for path in ("/healthz", "/readyz", "/api/v1/nope"):
        assert d.get(path).headers["Cache-Control"] == "no-store"


# --- static files ---------------------------------------------------------

def test_index_html(kontaktd):
    d = kontaktd()
    expected = (WWW_ROOT / "index.html").read_bytes()
    for path in ("/", "/index.html", "/?x=1"):
        r = d.get(path)
        assert r.status_code == 200
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        assert r.content == expected
        assert r.headers["Cache-Control"] == "no-cache"
        assert r.headers["ETag"].startswith('"')
        assert r.headers["Last-Modified"].endswith(" GMT")
        assert int(r.headers["Content-Length"]) == len(expected)


@pytest.mark.parametrize("name,ctype", [
    ("app.css", "text/css; charset=utf-8"),
    ("app.js", "text/javascript; charset=utf-8"),
])
def test_content_types(kontaktd, name, ctype):
    d = kontaktd()
    r = d.get("/" + name)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == ctype
    assert r.content == (WWW_ROOT / name).read_bytes()


def test_content_types_by_extension(kontaktd, tmp_path):
    www = copy_tree(WWW_ROOT, tmp_path / "www")
    types = {"a.json": "application/json; charset=utf-8",
             "a.svg": "image/svg+xml", "a.png": "image/png",
             "a.txt": "text/plain; charset=utf-8",
             "A.HTML": "text/html; charset=utf-8",
             "noext": "application/octet-stream",
             "a.exe": "application/octet-stream"}
    for name in types:
        (www / name).write_bytes(b"content of " + name.encode())
    d = kontaktd(www_root=www)
    for name, ctype in types.items():
        r = d.get("/" + name)
        assert r.status_code == 200, name
        assert r.headers["Content-Type"] == ctype, name
        assert r.content == b"content of " + name.encode()


def test_etag_and_if_none_match(kontaktd):
    d = kontaktd()
    r = d.get("/app.css")
    etag = r.headers["ETag"]
    for inm in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        r2 = d.get("/app.css", headers={"If-None-Match": inm})
        assert r2.status_code == 304, inm
        assert r2.content == b""
        assert r2.headers["ETag"] == etag
        assert "Content-Type" not in r2.headers
    r2 = d.get("/app.css", headers={"If-None-Match": '"something-else"'})
    assert r2.status_code == 200
    assert r2.content == r.content
    # If-None-Match wins over If-Modified-Since.
    r2 = d.get("/app.css", headers={
        "If-None-Match": '"something-else"',
        "If-Modified-Since": r.headers["Last-Modified"]})
    assert r2.status_code == 200


def test_if_modified_since(kontaktd, tmp_path):
    www = copy_tree(WWW_ROOT, tmp_path / "www")
    os.utime(www / "app.css", (1700000000, 1700000000))  # 2023-11-14
    d = kontaktd(www_root=www)
    r = d.get("/app.css")
    assert r.headers["Last-Modified"] == "Tue, 14 Nov 2023 22:13:20 GMT"
    for ims, status in [("Tue, 14 Nov 2023 22:13:20 GMT", 304),
                        ("Wed, 15 Nov 2023 00:00:00 GMT", 304),
                        ("Tue, 14 Nov 2023 22:13:19 GMT", 200),
                        ("Mon, 01 Jan 2001 00:00:00 GMT", 200),
                        ("not a date", 200)]:
        r2 = d.get("/app.css", headers={"If-Modified-Since": ims})
        assert r2.status_code == status, ims
        assert len(r2.content) == (len(r.content) if status == 200 else 0)
    # A change of the file changes the ETag and ends the 304s.
    etag = r.headers["ETag"]
    (www / "app.css").write_text("body { color: red; }\n")
    r3 = d.get("/app.css", headers={"If-None-Match": etag})
    assert r3.status_code == 200
    assert r3.headers["ETag"] != etag
    assert r3.text == "body { color: red; }\n"


def test_head(kontaktd):
    d = kontaktd()
    size = (WWW_ROOT / "app.js").stat().st_size
    status, headers, body = http_request(d.port, "HEAD", "/app.js")
    assert status == 200
    assert body == b""
    assert int(headers["content-length"]) == size
    assert headers["content-type"] == "text/javascript; charset=utf-8"
    assert "etag" in headers
    assert_security_headers(headers)


def test_missing_static_file_is_404_json(kontaktd):
    d = kontaktd()
    for path in ("/no-such-file", "/no/such/dir/", "/app.css/x"):
        status, headers, body = http_request(d.port, "GET", path)
        assert status == 404, path
        assert_error_body(status, headers, body, "not_found")


# --- path traversal -------------------------------------------------------

@pytest.fixture
def www_with_secrets(tmp_path):
    """A copy of www/ with a hidden file, a .git directory, and symlinks
    to a file and a directory outside it (and one inside)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("TOPSECRET outside the root\n")
    www = copy_tree(WWW_ROOT, tmp_path / "www")
    (www / ".secret").write_text("TOPSECRET hidden file\n")
    (www / ".git").mkdir()
    (www / ".git" / "config").write_text("TOPSECRET git config\n")
    (www / "sub").mkdir()
    (www / "sub" / ".htpasswd").write_text("TOPSECRET htpasswd\n")
    (www / "link-out.txt").symlink_to(outside / "secret.txt")
    (www / "dir-out").symlink_to(outside)
    (www / "sub" / "up").symlink_to("../../outside")
    (www / "link-in.css").symlink_to("app.css")
    return www


TRAVERSALS = [
    "/../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/..%2f..%2fetc/passwd",
    "/.%2e/.%2e/etc/passwd",
    "/%2e%2e%5c%2e%2e%5cetc%5cpasswd",
    "/sub/../../outside/secret.txt",
    "/..",
    "/../outside/secret.txt",
    "/%2e%2e/outside/secret.txt",
    "/.secret",
    "/%2esecret",
    "/.git/config",
    "/sub/.htpasswd",
    "/link-out.txt",
    "/dir-out/secret.txt",
    "/sub/up/secret.txt",
    "/app.css%00.html",
    "/index.html%00",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_traversal_refused(kontaktd, www_with_secrets, target):
    d = kontaktd(www_root=www_with_secrets)
    status, headers, body = http_request(d.port, "GET", target)
    assert status == 404, f"{target}: {status} {body[:200]!r}"
    assert_error_body(status, headers, body, "not_found")
    assert b"TOPSECRET" not in body
    assert b"root:" not in body


def test_symlink_inside_the_root_is_served(kontaktd, www_with_secrets):
    d = kontaktd(www_root=www_with_secrets)
    r = d.get("/link-in.css")
    assert r.status_code == 200
    assert r.content == (WWW_ROOT / "app.css").read_bytes()


def test_absolute_form_target_is_not_a_traversal(kontaktd):
    d = kontaktd()
    status, _, body = http_request(
        d.port, "GET", f"http://127.0.0.1:{d.port}/../etc/passwd")
    assert 400 <= status < 500
    assert b"root:" not in body


# --- abuse of the connection ----------------------------------------------

def test_oversize_headers_refused(kontaktd):
    d = kontaktd(config={"server": {"max_header": "8k"}})
    # Well within the limit: fine.
    status, _, _ = http_request(d.port, "GET", "/healthz",
                                headers={"X-Pad": "a" * 2000})
    assert status == 200
    for headers, target in [({"X-Big": "a" * 20000}, "/healthz"),
                            ({f"X-H{i}": "b" * 100 for i in range(200)},
                             "/healthz"),
                            ({}, "/" + "c" * 20000)]:
        # libmicrohttpd answers these itself, with its own HTML page,
        # before kontaktd sees the request: no operation of the OpenAPI
        # document is reached.
        with openapi_check.unchecked("refused by libmicrohttpd"):
            status, _, _ = http_request(d.port, "GET", target,
                                        headers=headers)
        assert status in (413, 414, 431), status
        assert d.get("/healthz").status_code == 200


def test_slow_client_is_disconnected(kontaktd):
    d = kontaktd(config={"server": {"connection_timeout": "2s"}})
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as s:
        s.sendall(b"GET /heal")  # half a request line, then nothing
        t0 = time.monotonic()
        data = recv_all(s, timeout=10)  # fails if not closed by then
        elapsed = time.monotonic() - t0
    assert elapsed >= 1.0, "closed before the timeout"
    assert not data.startswith(b"HTTP/1.1 200")
    # Everyone else is served meanwhile and afterwards.
    assert d.get("/healthz").status_code == 200


def test_slow_client_does_not_block_others(kontaktd):
    d = kontaktd(config={"server": {"connection_timeout": "10s",
                                    "threads": 1}})
    stalled = [socket.create_connection(("127.0.0.1", d.port), timeout=10)
               for _ in range(5)]
    try:
        for s in stalled:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        t0 = time.monotonic()
        assert d.get("/healthz", timeout=5).status_code == 200
        # Well before the stalled ones time out.
        assert time.monotonic() - t0 < 5
    finally:
        for s in stalled:
            s.close()


def test_idle_keep_alive_connection_is_closed(kontaktd):
    d = kontaktd(config={"server": {"connection_timeout": "2s"}})
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        data = recv_all(s, timeout=10)
    assert data.startswith(b"HTTP/1.1 200 ")


def test_max_connections(kontaktd):
    """Past max_connections the server accepts no more connections: they
    wait in the kernel's backlog until a slot frees up."""
    d = kontaktd(config={"server": {"max_connections": 4, "threads": 1,
                                    "connection_timeout": "30s"}})
    held = []
    try:
        for _ in range(4):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(10)
            assert s.recv(12) == b"HTTP/1.1 200"
            held.append(s)
        fifth = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        held.append(fifth)
        fifth.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                      b"Connection: close\r\n\r\n")
        # Not served while the four are open (a negative check needs a
        # wait; half a second is plenty for a request to /healthz).
        fifth.settimeout(0.5)
        with pytest.raises(TimeoutError):
            fifth.recv(1)
        held.pop(0).close()
        data = recv_all(fifth, timeout=10)
        assert data.startswith(b"HTTP/1.1 200 ")
    finally:
        for s in held:
            s.close()
