"""The API's docs page at /docs, loaded by a real headless Chromium (Debian's `chromium`): it comes
from the binary alone, renders, and lists the operations."""

import os
import shutil
import subprocess
import tempfile

import pytest


def chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI") or os.environ.get("KEYWARD_REQUIRE_POSTGRES") == "1":
            pytest.fail("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium): the docs page was not checked")
    return path


def test_the_docs_page_lists_the_operations(server):
    browser = chromium()
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [
                browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={profile}", "--virtual-time-budget=20000", "--dump-dom", f"{server.base}/docs/",
            ],
            capture_output=True, text=True, timeout=120, check=True,
        ).stdout
    assert "Keyward" in dom, dom[:2000]
    assert dom.count("opblock-summary-path") > 20, "the operations are listed"
    for path in ["/v1/accounts", "/oauth2/token", "/api/v2/apiTokens"]:
        assert f'data-path="{path}"' in dom, path
