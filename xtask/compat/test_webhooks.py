"""Webhooks as a receiver checks them: a key reported leaked reaches the account's endpoint, and
the Standard Webhooks reference library (`standardwebhooks`, unmodified) verifies the delivery with
the secret Keyward showed once; a delivery changed on the way does not verify."""

import http.server
import json
import threading

import pytest
import requests
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from conftest import eventually


class Receiver:
    """An HTTP endpoint on loopback that keeps every POST it gets."""

    def __init__(self):
        self.got = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.got.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks/keyward"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.httpd.shutdown()


def test_a_leak_is_delivered_and_the_reference_library_verifies_it(server, receiver):
    account, sa, _, _ = server.tenant([])
    key = server.native(
        "POST", f"/v1/accounts/{account}/service-accounts/{sa}/api-keys", body={"name": "exposed", "scopes": []}
    )
    hook = server.native(
        "POST",
        f"/v1/accounts/{account}/webhooks",
        body={"url": receiver.url, "events": ["credential.leaked", "credential.revoked"]},
    )
    assert hook["secret"].startswith("whsec_")

    r = requests.post(f"{server.base}/v1/credentials/revoke", json={"credentials": [key["secret"]]}, timeout=30)
    assert r.status_code == 202

    headers, body = eventually(lambda: receiver.got and receiver.got[0], timeout=15)
    payload = Webhook(hook["secret"]).verify(body, headers)
    assert payload["type"] == "credential.leaked"
    assert payload["data"]["target"] == f"api_key:{key['id']}"
    assert key["secret"] not in body.decode()

    with pytest.raises(WebhookVerificationError):
        Webhook(hook["secret"]).verify(body.replace(b"leaked", b"rotated"), headers)

    deliveries = server.native("GET", f"/v1/accounts/{account}/webhooks/{hook['id']}/deliveries")
    done = deliveries["items"][0]
    assert (done["state"], done["last_status"], done["id"]) == ("delivered", 204, headers["webhook-id"])
    assert json.loads(done["payload"]) == payload
