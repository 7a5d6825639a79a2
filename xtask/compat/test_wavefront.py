"""Wavefront's published Python SDK (`wavefront-api-client`), unmodified, against Keyward's Wavefront
dialect: every API token operation, the service-account calls a client needs first, and failures."""

import conftest
import wavefront_api_client as wf
from wavefront_api_client.rest import ApiException


def apis(server, token):
    conf = wf.Configuration()
    conf.host = server.base
    conf.api_key["X-AUTH-TOKEN"] = token
    client = wf.ApiClient(conf)
    return wf.AccountUserAndServiceAccountApi(client), wf.ApiTokenApi(client)


def refused(call, status):
    return conftest.refused(call, status, ApiException)


def ids(container):
    return [t.token_id for t in container.response]


def test_service_accounts_and_their_tokens(server):
    account, _, _, manager = server.tenant(["service-accounts:write", "api-keys:write", "metrics:read"])
    accounts, tokens = apis(server, manager)

    made = accounts.create_service_account(body=wf.ServiceAccountWrite(identifier="sa::ci", description="CI", active=True))
    assert (made.status.result, made.response.identifier, made.response.active) == ("OK", "sa::ci", True)

    first = tokens.generate_token_service_account("sa::ci", body=wf.UserApiToken(token_id="new", token_name="deploy"))
    second = tokens.generate_token_service_account("sa::ci")
    assert len(second.response) == 2 and second.response[0].token_id == first.response[0].token_id
    token = second.response[-1].token_id
    assert token.startswith("kw_ak_"), "the tokenID is the token itself"
    assert second.response[0].token_name == "deploy" and second.response[0].account == "sa::ci"
    assert second.response[0].account_type == "SERVICE_ACCOUNT" and second.response[0].date_generated > 0

    # The new token authenticates, and is listed again.
    _, as_token = apis(server, token)
    assert ids(as_token.get_all_tokens()) == ids(second)
    assert ids(tokens.get_tokens_service_account("sa::ci")) == ids(second)
    native = server.native("GET", f"/v1/accounts/{account}/api-keys")
    assert "kw_ak_" not in str(native), "the native API never shows a secret again"

    renamed = tokens.update_token_name_service_account("sa::ci", token, body=wf.UserApiToken(token_id=token, token_name="renamed"))
    assert renamed.response.token_name == "renamed"

    listed = accounts.get_all_service_accounts()
    assert [sa.identifier for sa in listed.response] == ["svc", "sa::ci"]
    got = accounts.get_service_account("sa::ci")
    assert len(got.response.tokens) == 2
    changed = accounts.update_service_account("sa::ci", body=wf.ServiceAccountWrite(identifier="sa::ci", description="builds"))
    assert changed.response.description == "builds"

    off = accounts.deactivate_account("sa::ci")
    assert off.response.active is False and off.response.tokens[0].account_type == "INACTIVE_SERVICE_ACCOUNT"
    refused(lambda: as_token.get_all_tokens(), 401)
    assert accounts.activate_account("sa::ci").response.active is True
    assert ids(as_token.get_all_tokens()) == ids(second)

    left = tokens.delete_token_service_account("sa::ci", second.response[0].token_id)
    assert ids(left) == [token]
    deleted = accounts.delete_account("sa::ci")
    assert deleted.response.identifier == "sa::ci"
    refused(lambda: as_token.get_all_tokens(), 401)
    refused(lambda: accounts.get_service_account("sa::ci"), 404)


def test_own_tokens(server):
    _, _, key_id, manager = server.tenant(["api-keys:write"])
    _, tokens = apis(server, manager)
    made = tokens.create_token()
    assert made.response[0].token_id == key_id, "a key made elsewhere is listed by its id"
    token = made.response[-1].token_id
    assert ids(tokens.get_all_tokens()) == ids(made)
    renamed = tokens.update_token_name(token, body=wf.UserApiToken(token_id=token, token_name="mine"))
    assert renamed.response.token_name == "mine"
    _, as_token = apis(server, token)
    refused(lambda: as_token.delete_token(token), 409)
    assert ids(tokens.delete_token(token)) == [key_id]
    refused(lambda: as_token.get_all_tokens(), 401)


def test_customer_tokens(server):
    _, _, key_id, manager = server.tenant(["api-keys:write"])
    _, tokens = apis(server, manager)
    token = tokens.create_token().response[-1].token_id
    every = tokens.get_customer_tokens()
    assert sorted(t.id for t in every.response) == sorted([key_id, token])
    one = tokens.get_customer_token(token)
    assert (one.response.account, one.response.account_type) == ("svc", "SERVICE_ACCOUNT")
    assert one.response.created_epoch_millis > 0
    revoked = tokens.delete_customer_token(body=wf.UserApiToken(token_id=token))
    assert revoked.response.token_id == token
    refused(lambda: tokens.get_customer_token(token), 404)


def test_failures_are_wavefront_errors(server):
    _, _, key_id, manager = server.tenant(["api-keys:write", "service-accounts:read"])
    _, nobody = apis(server, "kw_ak_" + "0" * 32 + "_" + "0" * 72)
    error = refused(lambda: nobody.get_all_tokens(), 401)
    assert '"result":"ERROR"' in error.body
    accounts, tokens = apis(server, manager)
    refused(lambda: accounts.get_service_account("sa::nobody"), 404)
    refused(lambda: tokens.get_customer_token("0190f1c2-7a3b-7c4d-8e5f-0123456789ab"), 404)
    refused(lambda: tokens.delete_token(key_id), 409)
    refused(lambda: accounts.create_service_account(body=wf.ServiceAccountWrite(identifier="sa::x")), 403)


def test_other_accounts_are_invisible(server):
    _, _, a_id, a = server.tenant(["service-accounts:write", "api-keys:write"])
    _, _, _, b = server.tenant(["service-accounts:write", "api-keys:write"])
    a_accounts, a_tokens = apis(server, a)
    a_accounts.create_service_account(body=wf.ServiceAccountWrite(identifier="sa::private"))
    a_token = a_tokens.generate_token_service_account("sa::private").response[-1].token_id
    b_accounts, b_tokens = apis(server, b)
    refused(lambda: b_accounts.get_service_account("sa::private"), 404)
    refused(lambda: b_tokens.get_tokens_service_account("sa::private"), 404)
    refused(lambda: b_tokens.get_customer_token(a_id), 404)
    refused(lambda: b_tokens.delete_customer_token(body=wf.UserApiToken(token_id=a_token)), 404)
    assert a_token not in str(b_tokens.get_customer_tokens())
    _, as_a_token = apis(server, a_token)
    assert as_a_token.get_all_tokens().status.result == "OK"
