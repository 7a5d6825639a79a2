"""DPoP-bound access tokens (RFC 9449) through unmodified third-party clients, on a server that
requires DPoP nonces (so both clients' nonce handling runs too):

- panva's `oauth4webapi` (npm, pinned in `node/package-lock.json`), driven by
  `node/oauth4webapi_dpop.mjs`: discovery, client credentials with DPoP, a bound call to Keyward's
  API, introspection, and its own RFC 9068 + RFC 9449 validation of that call as a resource server;
- `requests_oauth2client` (PyPI, pinned): its DPoP client-credentials grant, its `DPoPToken` as a
  `requests` auth handler, and introspection.

Whatever the client, the token is useless without its key: the same token sent as `Bearer`, or
with a proof by another key, is refused.
"""

import base64
import hashlib
import json
import os
import subprocess

import pytest
import requests
from requests_oauth2client import DPoPKey, OAuth2Client

from conftest import running_server


@pytest.fixture(scope="module")
def nonce_server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("keyward-dpop"), {"KEYWARD_DPOP_NONCES": "true"}) as s:
        yield s


def client_key(server, require_dpop=False):
    """A new tenant's secret key; returns (account, service account, client id, client secret)."""
    account, sa, _, _ = server.tenant(["service-accounts:read"])
    key = server.native(
        "POST",
        f"/v1/accounts/{account}/service-accounts/{sa}/secret-keys",
        body={"name": "dpop-client", "scopes": ["service-accounts:read"], "require_dpop": require_dpop},
    )
    return account, sa, key["id"], key["secret"]


def refused_without_its_key(server, path, access_token):
    """The bound token, stolen without its key, is refused as a bearer token."""
    stolen = requests.get(server.base + path, headers={"Authorization": f"Bearer {access_token}"}, timeout=30)
    assert stolen.status_code == 401, stolen.text
    assert stolen.headers["WWW-Authenticate"].startswith("DPoP "), stolen.headers
    assert stolen.headers["Content-Type"] == "application/problem+json"


def test_oauth4webapi_binds_calls_and_validates_the_token_as_a_resource_server(nonce_server):
    node_dir = os.environ.get("KEYWARD_COMPAT_NODE_DIR")
    if not node_dir:
        pytest.skip("run through `cargo xtask compat`, which installs oauth4webapi")
    account, _, client_id, secret = client_key(nonce_server, require_dpop=True)
    path = f"/v1/accounts/{account}/service-accounts"
    run = subprocess.run(
        ["node", "oauth4webapi_dpop.mjs"],
        cwd=node_dir,
        env={
            "PATH": os.environ.get("PATH", ""),
            "KEYWARD_URL": nonce_server.base,
            "CLIENT_ID": client_id,
            "CLIENT_SECRET": secret,
            "RESOURCE_PATH": path,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout)
    assert set(results) == {"ES256", "EdDSA"}
    for alg, r in results.items():
        assert r["token_type"] == "dpop", (alg, r)
        assert r["authorization_scheme"] == "DPoP"
        assert (r["status"], r["items"]) == (200, 1), (alg, r)
        # oauth4webapi checked the proof against cnf.jkt with its own thumbprint; introspection
        # names the same key.
        jkt = r["claims"]["cnf"]["jkt"]
        assert r["introspection"]["active"] is True
        assert r["introspection"]["token_type"] == "DPoP"
        assert r["introspection"]["cnf"] == {"jkt": jkt}
        assert r["claims"]["client_id"] == client_id
        refused_without_its_key(nonce_server, path, r["access_token"])


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_requests_oauth2client_dpop_tokens_work_only_with_their_key(nonce_server, alg):
    account, _, client_id, secret = client_key(nonce_server)
    meta = requests.get(nonce_server.base + "/.well-known/oauth-authorization-server", timeout=30).json()
    assert alg in meta["dpop_signing_alg_values_supported"]
    oauth = OAuth2Client(
        token_endpoint=meta["token_endpoint"],
        introspection_endpoint=meta["introspection_endpoint"],
        client_id=client_id,
        client_secret=secret,
        dpop_alg=alg,
        # Plain http on loopback: the library refuses it outside testing.
        testing=True,
    )
    token = oauth.client_credentials(dpop=True)
    assert token.token_type == "DPoP"
    path = f"/v1/accounts/{account}/service-accounts"
    # The token as a `requests` auth handler: a proof per call, the nonce fetched when asked for.
    listed = requests.get(nonce_server.base + path, auth=token, timeout=30)
    assert listed.status_code == 200, listed.text
    assert len(listed.json()["items"]) == 1
    again = requests.get(nonce_server.base + path, auth=token, timeout=30)
    assert again.status_code == 200, again.text

    seen = oauth.introspect_token(token.access_token)
    assert seen["active"] is True and seen["token_type"] == "DPoP", seen
    assert seen["cnf"] == {"jkt": token.dpop_key.dpop_jkt}, "the thumbprint jwskate works out"

    refused_without_its_key(nonce_server, path, token.access_token)
    # A thief with its own key makes a proof right in every other way: the token is not bound to it.
    thief = DPoPKey.generate(alg=alg)
    ath = base64.urlsafe_b64encode(hashlib.sha256(token.access_token.encode()).digest()).rstrip(b"=").decode()
    proof = thief.proof(htm="GET", htu=nonce_server.base + path, ath=ath, nonce=token.dpop_key.rs_nonce)
    forged = requests.get(
        nonce_server.base + path,
        headers={"Authorization": f"DPoP {token.access_token}", "DPoP": str(proof)},
        timeout=30,
    )
    assert forged.status_code == 401, forged.text
    assert forged.json()["code"] == "unauthenticated", forged.text
