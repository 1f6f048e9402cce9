# SPDX-License-Identifier: MPL-2.0
"""The front end in a real browser: Debian's chromium, headless, driven by
playwright-core through browser.mjs (one run of node per check, which
prints its findings as JSON), against a real kontaktd and PostgreSQL."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from utils import WWW_ROOT, copy_tree, wait_until

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "browser.mjs"
NODE = shutil.which("node")

# The driver bounds each of its waits to 10 s and its whole run to 60 s.
DRIVER_TIMEOUT = 90


def browse(scenario, url, tmp_path):
    """Runs `node browser.mjs scenario url` and returns its JSON result,
    with the exit code as result["exit"] and its stderr as
    result["stderr"]. A full-page screenshot goes to the test's tmp_path."""
    shot = tmp_path / f"{scenario}.png"
    env = dict(os.environ, BROWSER_SCREENSHOT=str(shot))
    cmd = [NODE, str(DRIVER), scenario, url]
    proc = subprocess.Popen(cmd, cwd=HERE, env=env, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=DRIVER_TIMEOUT)
    except subprocess.TimeoutExpired:
        # SIGTERM first: playwright then closes the browser it started.
        proc.terminate()
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        pytest.fail(f"{' '.join(cmd)} did not finish within "
                    f"{DRIVER_TIMEOUT} s\n--- stdout ---\n{out}"
                    f"--- stderr ---\n{err}", pytrace=False)
    try:
        result = json.loads(out)
    except ValueError:
        pytest.fail(f"{' '.join(cmd)} printed no JSON (exit "
                    f"{proc.returncode})\n--- stdout ---\n{out}"
                    f"--- stderr ---\n{err}", pytrace=False)
    result["exit"] = proc.returncode
    result["stderr"] = err
    return result


def show(result):
    """The driver's result, for assertion messages."""
    return json.dumps(result, indent=1, ensure_ascii=False)


def assert_png(path):
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"


def assert_csp_header(csp):
    """The policy forbids inline scripts and foreign origins."""
    assert csp, "no Content-Security-Policy header"
    directives = {d.split()[0]: d.split()[1:]
                  for d in (p.strip() for p in csp.split(";")) if d}
    assert directives.get("default-src") == ["'self'"], csp
    script_src = directives.get("script-src", directives["default-src"])
    assert "'unsafe-inline'" not in script_src, csp
    assert "'unsafe-eval'" not in script_src, csp


def test_front_page_ready(kontaktd, tmp_path):
    d = kontaktd()
    r = d.get("/")
    assert r.status_code == 200
    csp = r.headers.get("Content-Security-Policy")
    assert_csp_header(csp)

    res = browse("smoke", d.url("/"), tmp_path)
    assert res["exit"] == 0 and res["problems"] == [], show(res)
    assert res["status"] == 200, show(res)
    assert res["headers"].get("content-security-policy") == csp
    assert res["state"] == "ready", show(res)
    assert res["text"] == "klar", show(res)
    assert res["console_errors"] == [], show(res)
    assert res["page_errors"] == [], show(res)
    assert res["csp_violations"] == [] and res["csp_console"] == [], \
        show(res)
    assert res["foreign_requests"] == [], show(res)
    # The page really loaded its script, which asked the server.
    assert d.url("/app.js") in res["requests"], show(res)
    assert d.url("/readyz") in res["requests"], show(res)
    assert_png(res["screenshot"])


def test_front_page_not_ready(kontaktd, pg_factory, create_db, tmp_path):
    cluster = pg_factory()
    db = create_db(cluster=cluster)
    d = kontaktd(cluster=cluster, db=db,
                 config={"database": {"connect_timeout": "2s",
                                      "acquire_timeout": "2s"}},
                 allowed_errors=[r"event=db_down\b"])
    cluster.stop()
    wait_until(lambda: d.get("/readyz", timeout=5).status_code == 503, 10,
               "/readyz to answer 503 with PostgreSQL stopped")

    res = browse("not_ready", d.url("/"), tmp_path)
    assert res["exit"] == 0 and res["problems"] == [], show(res)
    assert res["state"] == "not_ready", show(res)
    assert res["text"].startswith("ikke klar: "), show(res)
    assert res["csp_violations"] == [] and res["csp_console"] == [], \
        show(res)
    assert res["page_errors"] == [], show(res)
    assert res["foreign_requests"] == [], show(res)
    assert_png(res["screenshot"])


# A page with an inline script and an inline event handler, each of which
# would set <html data-marker>, and a same-origin script that shows that
# scripts as such do run.
INLINE_PAGE = """<!DOCTYPE html>
<html lang="da">
<head>
<meta charset="utf-8">
<title>CSP</title>
<script src="csp-probe.js"></script>
<script>document.documentElement.dataset.marker = 'inline';</script>
</head>
<body onload="document.documentElement.dataset.marker = 'onload'">
<p>CSP</p>
</body>
</html>
"""
PROBE_JS = "document.documentElement.dataset.external = 'ran';\n"


def test_csp_blocks_inline_script(kontaktd, tmp_path):
    www = copy_tree(WWW_ROOT, tmp_path / "www")
    (www / "csp-inline.html").write_text(INLINE_PAGE)
    (www / "csp-probe.js").write_text(PROBE_JS)
    d = kontaktd(www_root=www)

    res = browse("csp_inline", d.url("/csp-inline.html"), tmp_path)
    assert res["exit"] == 0 and res["problems"] == [], show(res)
    assert res["headers"].get("content-security-policy"), show(res)
    assert res["html_data"].get("external") == "ran", show(res)
    assert res["marker"] is None, show(res)
    directives = {v["directive"] for v in res["csp_violations"]}
    assert "script-src-elem" in directives, show(res)
    assert all(v["disposition"] == "enforce"
               for v in res["csp_violations"]), show(res)
    assert res["foreign_requests"] == [], show(res)

    # The smoke scenario on that page fails on the violation: a broken
    # policy in the front end does not go unnoticed.
    res = browse("smoke", d.url("/csp-inline.html"), tmp_path)
    assert res["exit"] == 1, show(res)
    assert res["csp_violations"] or res["csp_console"], show(res)
