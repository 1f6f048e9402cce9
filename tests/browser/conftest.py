# SPDX-License-Identifier: MPL-2.0
"""Fixtures of the browser tests: those of the integration tests (a private
PostgreSQL, the kontaktd factory, the logs of failing tests, the teardown
checks), plus a check that node, playwright-core and chromium are there.

The integration conftest is loaded under its own module name and its
contents (fixtures and hooks, also the underscore-named ones such as the
autouse _ktd_logs) are copied into this module, where pytest finds them. A
plain `from conftest import *` would import this very module: pytest
imports every conftest.py under the name "conftest".

In one pytest run with tests/integration, each directory has its own
copy of the fixtures, so the session cluster is started twice; tools/dev
test runs the two layers as separate steps.
"""

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
INTEGRATION = HERE.parent / "integration"
sys.path.insert(0, str(INTEGRATION))  # for `import utils`, here and there


def _load_integration_conftest():
    name = "ktd_integration_conftest"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name,
                                                  INTEGRATION / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


_integration = _load_integration_conftest()
globals().update({k: v for k, v in vars(_integration).items()
                  if not k.startswith("__")})

# What the browser driver needs.
NODE = shutil.which("node")
DRIVER = HERE / "browser.mjs"
CHROMIUM = Path(os.environ.get("CHROMIUM") or "/usr/bin/chromium")
PLAYWRIGHT = HERE / "node_modules" / "playwright-core" / "package.json"


def pytest_sessionstart(session):
    _integration.pytest_sessionstart(session)
    missing = []
    if not NODE:
        missing.append("node (Debian: nodejs npm)")
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (Debian: chromium)")
    if not PLAYWRIGHT.exists():
        missing.append(f"playwright-core (npm ci in {HERE})")
    if missing:
        pytest.exit(f"browser tests: missing {', '.join(missing)}; "
                    "tools/dev test installs them", returncode=4)


def pytest_report_header(config):
    return _integration.pytest_report_header(config) + [
        f"node: {NODE}", f"chromium: {CHROMIUM}"]
