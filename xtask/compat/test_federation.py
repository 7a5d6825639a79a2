"""Workload identity federation through unmodified third-party clients: Google's `google-auth`
(an `identity_pool` external-account configuration whose `token_url` is Keyward's token endpoint
and whose credential source is a file holding the platform's token) and `requests_oauth2client`
(its token-exchange and JWT-bearer grants).

A stand-in issuer on loopback plays the platforms: it serves its discovery document and JWKS and
signs GitHub-Actions-shaped tokens with ES256 and Kubernetes-shaped ones with RS256.
"""

import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import google.auth.transport.requests
import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from google.auth import identity_pool
from requests_oauth2client import OAuth2Client
from requests_oauth2client.exceptions import InvalidGrant, InvalidTarget

AUDIENCE = "https://keyward.example"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uint(n, size):
    return b64(n.to_bytes(size, "big"))


class Issuer:
    """A loopback OIDC issuer with one P-256 key (ES256) and one RSA key (RS256)."""

    def __init__(self):
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ec_numbers = self.ec.public_key().public_numbers()
        rsa_numbers = self.rsa.public_key().public_numbers()
        self.jwks = {
            "keys": [
                {"kty": "EC", "crv": "P-256", "kid": "ec-1", "alg": "ES256", "use": "sig",
                 "x": uint(ec_numbers.x, 32), "y": uint(ec_numbers.y, 32)},
                {"kty": "RSA", "kid": "rsa-1", "alg": "RS256", "use": "sig",
                 "n": uint(rsa_numbers.n, 256), "e": uint(rsa_numbers.e, 3)},
            ]
        }
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks"}
                elif self.path == "/jwks":
                    body = issuer.jwks
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "max-age=300")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def sign(self, claims, alg="ES256"):
        header = {"alg": alg, "typ": "JWT", "kid": "ec-1" if alg == "ES256" else "rsa-1"}
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}".encode()
        if alg == "ES256":
            r, s = decode_dss_signature(self.ec.sign(signing_input, ec.ECDSA(hashes.SHA256())))
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        else:
            signature = self.rsa.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input.decode()}.{b64(signature)}"

    def github_token(self, **overrides):
        now = int(time.time())
        claims = {
            "iss": self.url, "aud": AUDIENCE, "jti": uuid.uuid4().hex,
            "sub": "repo:octo-org/octo-repo:ref:refs/heads/main",
            "repository": "octo-org/octo-repo", "repository_owner": "octo-org", "ref": "refs/heads/main",
            "iat": now, "nbf": now, "exp": now + 300,
        }
        claims.update(overrides)
        return self.sign(claims, "ES256")

    def kubernetes_token(self):
        now = int(time.time())
        claims = {
            "iss": self.url, "aud": [AUDIENCE], "sub": "system:serviceaccount:ci:deployer",
            "kubernetes.io": {"namespace": "ci", "serviceaccount": {"name": "deployer"}},
            "iat": now, "nbf": now, "exp": now + 600,
        }
        return self.sign(claims, "RS256")


@pytest.fixture(scope="module")
def issuer():
    i = Issuer()
    yield i
    i.httpd.shutdown()


def federated(server, issuer, **policy):
    """A service account trusting `issuer` with `policy`: (account, service account, credential id)."""
    account, sa, _, _ = server.tenant([])
    body = {"name": f"fed-{uuid.uuid4().hex[:8]}", "issuer": issuer.url, "audiences": [AUDIENCE],
            "scopes": ["service-accounts:read"], **policy}
    made = server.native("POST", f"/v1/accounts/{account}/service-accounts/{sa}/federated-credentials", body=body)
    return account, sa, made["id"]


def works_on_keyward(server, account, sa, token):
    r = requests.get(f"{server.base}/v1/accounts/{account}/service-accounts/{sa}",
                     headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return r.status_code == 200


def identity_pool_credentials(server, audience, token_file, token):
    """google-auth's credentials for an `external_account` configuration that reads `token` from
    `token_file` and trades it at Keyward's token endpoint for `audience`, refreshed once."""
    token_file.write_text(token)
    info = {
        "type": "external_account",
        "audience": audience,
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": f"{server.base}/oauth2/token",
        "credential_source": {"file": str(token_file)},
    }
    creds = identity_pool.Credentials.from_info(info, scopes=["service-accounts:read"])
    creds.refresh(google.auth.transport.requests.Request())
    return creds


def test_google_auth_identity_pool_exchanges_a_github_token(server, issuer, tmp_path):
    account, sa, credential = federated(
        server, issuer, claims={"repository_owner": "octo-org", "ref": "refs/heads/main"})
    creds = identity_pool_credentials(server, credential, tmp_path / "github-token", issuer.github_token())
    assert creds.token and creds.valid
    assert works_on_keyward(server, account, sa, creds.token)


def test_google_auth_exchanges_a_kubernetes_token_signed_rs256(server, issuer, tmp_path):
    account, sa, credential = federated(server, issuer, subject="system:serviceaccount:ci:deployer",
                                        claims={})
    creds = identity_pool_credentials(server, sa, tmp_path / "k8s-token", issuer.kubernetes_token())
    assert works_on_keyward(server, account, sa, creds.token)


def test_requests_oauth2client_token_exchange_and_jwt_bearer(server, issuer):
    account, sa, credential = federated(server, issuer, claims={"repository_owner": "octo-org"})
    # `testing=True` is the library's own switch for plain-http test servers (it refuses http URLs).
    client = OAuth2Client(token_endpoint=f"{server.base}/oauth2/token", client_id="workload", testing=True)
    exchanged = client.token_exchange(
        subject_token=issuer.github_token(),
        subject_token_type="urn:ietf:params:oauth:token-type:jwt",
        audience=credential,
        scope="service-accounts:read",
    )
    assert works_on_keyward(server, account, sa, exchanged.access_token)
    bearer = client.jwt_bearer(assertion=issuer.github_token(), audience=credential)
    assert works_on_keyward(server, account, sa, bearer.access_token)

    with pytest.raises(InvalidGrant):
        client.token_exchange(subject_token=issuer.github_token(aud="https://elsewhere.example"),
                              subject_token_type="urn:ietf:params:oauth:token-type:jwt", audience=credential)
    with pytest.raises(InvalidTarget):
        client.token_exchange(subject_token=issuer.github_token(),
                              subject_token_type="urn:ietf:params:oauth:token-type:jwt", audience="someone-else")
