"""Smooch's published Python SDK (`smooch`), unmodified, against Keyward's Smooch dialect: every
operation of its ServiceAccountApi, with both of Smooch's ways to authenticate, and failures."""

import conftest
import smooch
from smooch.rest import ApiException


def api(server, key_id=None, secret=None, jwt=None):
    """The SDK's ServiceAccountApi, authenticating with Basic (key id, secret) or a JWT.

    The SDK's Configuration is a process-wide singleton, so each call resets it."""
    conf = smooch.Configuration()
    conf.host = server.base
    conf.username, conf.password = (key_id or ""), (secret or "")
    conf.api_key.clear()
    conf.api_key_prefix.clear()
    if jwt:
        conf.api_key["Authorization"] = jwt
        conf.api_key_prefix["Authorization"] = "Bearer"
    return smooch.ServiceAccountApi(smooch.ApiClient())


def secret_key_tenant(server, scopes):
    """A tenant whose credential is a secret key: (account, service account, key id, secret)."""
    account, sa, _, _ = server.tenant([])
    key = server.native(
        "POST", f"/v1/accounts/{account}/service-accounts/{sa}/secret-keys", body={"name": "smooch", "scopes": scopes}
    )
    return account, sa, key["id"], key["secret"]


def refused(call, status):
    return conftest.refused(call, status, ApiException)


def test_every_operation_with_basic_and_jwt(server):
    account, own_sa, key_id, secret = secret_key_tenant(
        server, ["service-accounts:write", "secret-keys:write", "metrics:read"]
    )
    basic = api(server, key_id, secret)

    made = basic.create_service_account(smooch.ServiceAccountCreate(name="integration"))
    sa = made.service_account.id
    assert made.service_account.name == "integration"
    assert basic.get_service_account(sa).service_account.name == "integration"
    renamed = basic.update_service_account(sa, smooch.ServiceAccountUpdate(name="renamed"))
    assert renamed.service_account.name == "renamed"
    page = basic.list_service_accounts(limit=1, offset=0)
    assert page.has_more is True and page.service_accounts[0].id == own_sa
    second = basic.list_service_accounts(limit=1, offset=1)
    assert second.has_more is False and second.service_accounts[0].id == sa and second.offset == 1

    key = basic.create_secret_key(sa, smooch.SecretKeyCreate(name="main"))
    assert key.key.secret.startswith("kw_sk_") and key.key.name == "main"
    assert basic.get_secret_key(sa, key.key.id).key.secret is None, "a secret is shown once"
    assert [k.id for k in basic.list_secret_keys(sa).keys] == [key.key.id]

    # The new key authenticates with Basic, and with the JWT the SDK fetches for it.
    as_new = api(server, key.key.id, key.key.secret)
    jwt = as_new.get_jwt(sa, key.key.id).jwt
    with_jwt = api(server, jwt=jwt)
    assert with_jwt.get_service_account(sa).service_account.name == "renamed"
    assert [k.id for k in with_jwt.list_secret_keys(sa).keys] == [key.key.id]
    assert server.native("GET", f"/v1/accounts/{account}/service-accounts", key=jwt)["items"], "native API too"

    basic = api(server, key_id, secret)
    basic.delete_secret_key(sa, key.key.id)
    refused(lambda: api(server, key.key.id, key.key.secret).get_service_account(sa), 401)
    refused(lambda: api(server, jwt=jwt).get_service_account(sa), 401)
    basic = api(server, key_id, secret)
    refused(lambda: basic.get_secret_key(sa, key.key.id), 404)
    basic.delete_service_account(sa)
    refused(lambda: basic.get_service_account(sa), 404)


def test_failures_are_smooch_errors(server):
    _, own_sa, key_id, secret = secret_key_tenant(server, ["service-accounts:read", "secret-keys:write"])
    wrong = secret[:-12] + "000000000000"
    error = refused(lambda: api(server, key_id, wrong).list_service_accounts(), 401)
    assert '"unauthorized"' in error.body
    basic = api(server, key_id, secret)
    refused(lambda: basic.get_service_account("0190f1c2-7a3b-7c4d-8e5f-0123456789ab"), 404)
    refused(lambda: basic.get_secret_key(own_sa, "0190f1c2-7a3b-7c4d-8e5f-0123456789ab"), 404)
    refused(lambda: basic.create_service_account(smooch.ServiceAccountCreate(name="x")), 403)
    refused(lambda: basic.delete_secret_key(own_sa, key_id), 409)


def test_other_accounts_are_invisible(server):
    _, a_sa, a_key, _ = secret_key_tenant(server, ["service-accounts:write", "secret-keys:write"])
    _, _, b_key, b_secret = secret_key_tenant(server, ["service-accounts:write", "secret-keys:write"])
    b = api(server, b_key, b_secret)
    refused(lambda: b.get_service_account(a_sa), 404)
    refused(lambda: b.list_secret_keys(a_sa), 404)
    refused(lambda: b.get_jwt(a_sa, a_key), 404)
    refused(lambda: b.delete_secret_key(a_sa, a_key), 404)
    assert a_sa not in [sa.id for sa in b.list_service_accounts().service_accounts]
