"""A real `keyward serve` for the vendor SDK suites, and a helper to set up tenants.

`cargo xtask compat` sets KEYWARD_BIN (the binary) and, for the PostgreSQL run,
KEYWARD_COMPAT_DATABASE_URL (a server the suite may create a schema in). Each test session starts
one server on a fresh data dir (and, on PostgreSQL, a fresh schema) and stops it at the end.
"""

import contextlib
import http.server
import json
import os
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests


class Server:
    """A running `keyward serve`: its base URL and the admin key it wrote on first start."""

    def __init__(self, base, admin):
        self.base = base
        self.admin = admin

    def native(self, method, path, key=None, body=None):
        """Calls Keyward's native API and returns the decoded JSON (or None)."""
        headers = {"Authorization": f"Bearer {key or self.admin}"}
        r = requests.request(method, self.base + path, json=body, headers=headers, timeout=30)
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def tenant(self, scopes, sa_name="svc"):
        """A new account with a service account and a key holding `scopes`.

        Returns (account id, service account id, key id, key secret)."""
        account = self.native("POST", "/v1/accounts", body={"name": f"acct-{uuid.uuid4().hex[:12]}"})["id"]
        sa = self.native("POST", f"/v1/accounts/{account}/service-accounts", body={"name": sa_name})["id"]
        key = self.native(
            "POST",
            f"/v1/accounts/{account}/service-accounts/{sa}/api-keys",
            body={"name": "key", "scopes": scopes},
        )
        return account, sa, key["id"], key["secret"]


def _schema_url(admin_url, schema):
    sep = "&" if "?" in admin_url else "?"
    return f"{admin_url}{sep}options=-c%20search_path%3D{schema}"


def _psql(url, sql):
    subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], check=True)


class _ScanningKeys(http.server.BaseHTTPRequestHandler):
    """A stand-in for GitHub's published secret-scanning keys: none, so that every report sent to
    the partner endpoint is refused as unsigned (401) instead of waiting on GitHub (503)."""

    def do_GET(self):
        body = json.dumps({"public_keys": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _scanning_keys_url():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ScanningKeys)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}/meta/public_keys/secret_scanning"


@contextlib.contextmanager
def running_server(data, extra_env=None):
    """Runs `keyward serve` on the fresh data dir `data` (and, on PostgreSQL, a fresh schema)."""
    binary = os.environ["KEYWARD_BIN"]
    env = {
        "KEYWARD_DATA_DIR": str(data),
        "KEYWARD_LOG": "info",
        "PATH": os.environ.get("PATH", ""),
        # The fuzzer makes federated credentials with made-up issuers: fetch keys from loopback only,
        # so that nothing is ever sent off this machine.
        "KEYWARD_FEDERATION_LOOPBACK_ONLY": "true",
        # The webhook suite's receiver listens on loopback.
        "KEYWARD_WEBHOOKS_ALLOW_PRIVATE": "true",
        "KEYWARD_SECRET_SCANNING_KEYS_URL": _scanning_keys_url(),
    }
    env.update(extra_env or {})
    pg = os.environ.get("KEYWARD_COMPAT_DATABASE_URL")
    schema = None
    if pg:
        schema = f"compat_{uuid.uuid4().hex[:12]}"
        _psql(pg, f"CREATE SCHEMA {schema}")
        env["KEYWARD_DATABASE_URL"] = _schema_url(pg, schema)
    child = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    address = []
    ready = threading.Event()

    def drain():
        for line in child.stderr:
            if not ready.is_set() and "listening on http://" in line:
                address.append(line.split("listening on http://")[1].split()[0])
                ready.set()

    threading.Thread(target=drain, daemon=True).start()
    try:
        if not ready.wait(60):
            raise RuntimeError("keyward serve did not start listening within 60 s")
        admin = Path(data, "admin.key").read_text().strip()
        yield Server(f"http://{address[0]}", admin)
    finally:
        child.terminate()
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
        if schema:
            _psql(pg, f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("keyward-data")) as s:
        yield s


def refused(call, status, exception):
    """Calls `call`, which must raise the SDK's `exception` with HTTP `status`; returns it."""
    with pytest.raises(exception) as caught:
        call()
    assert caught.value.status == status, caught.value.body
    return caught.value


def eventually(check, timeout=10.0):
    """Polls `check` until it returns a true value (which it returns), or fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"the condition did not hold within {timeout} s")
        time.sleep(0.1)
