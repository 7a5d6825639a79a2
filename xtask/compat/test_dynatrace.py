"""Dynatrace's published Python SDK (`dt`), unmodified, against Keyward's Dynatrace dialect: every
operation of the API tokens v2 API, and its failures."""

from datetime import datetime, timedelta

import pytest
from dynatrace import Dynatrace
from dynatrace.environment_v2.tokens_api import ApiTokenUpdate

from conftest import eventually


def client(server, token):
    return Dynatrace(server.base, token)


def refused(call, status):
    """Runs `call`, which must fail with HTTP `status` (the SDK raises a bare Exception)."""
    with pytest.raises(Exception) as caught:
        call()
    assert f"[{status}]" in str(caught.value), str(caught.value)
    return str(caught.value)


def test_a_token_lives_its_whole_life(server):
    _, _, manager_id, manager = server.tenant(["apiTokens.read", "apiTokens.write", "metrics.read", "logs.read"])
    dt = client(server, manager)

    created = dt.tokens.create("ingest", ["metrics.read"], expiration_date="now+14d")
    assert created.token.startswith("kw_ak_") and created.id
    assert timedelta(days=13) < created.expiration_date - datetime.utcnow() < timedelta(days=15)

    token = dt.tokens.get(created.id)
    assert (token.name, token.owner, token.scopes, token.enabled) == ("ingest", "svc", ["metrics.read"], True)
    assert token.personal_access_token is False and isinstance(token.creation_date, datetime)

    looked_up = dt.tokens.lookup(created.token)
    assert looked_up.id == created.id

    dt.tokens.put(created.id, ApiTokenUpdate(name="ingest-2", scopes=["metrics.read", "logs.read"]))
    assert dt.tokens.get(created.id).scopes == ["logs.read", "metrics.read"]
    dt.tokens.put(created.id, ApiTokenUpdate(enabled=False))
    assert dt.tokens.get(created.id).enabled is False
    refused(lambda: client(server, created.token).tokens.get(created.id), 401)
    dt.tokens.put(created.id, ApiTokenUpdate(enabled=True))

    absolute = dt.tokens.create("absolute", ["metrics.read"], expiration_date=(datetime.utcnow() + timedelta(days=2)).isoformat())
    assert absolute.expiration_date is not None

    dt.tokens.delete(created.id)
    refused(lambda: dt.tokens.get(created.id), 404)
    # A listed token deletes itself through the SDK's own method (one from `get` has no client).
    listed = next(t for t in dt.tokens.list() if t.id == absolute.id)
    listed.delete()
    refused(lambda: dt.tokens.get(absolute.id), 404)


def test_a_token_cannot_delete_or_disable_itself(server):
    _, _, manager_id, manager = server.tenant(["apiTokens.write"])
    dt = client(server, manager)
    message = refused(lambda: dt.tokens.delete(manager_id), 400)
    assert "itself" in message
    refused(lambda: dt.tokens.put(manager_id, ApiTokenUpdate(enabled=False)), 400)
    assert dt.tokens.get(manager_id).enabled is True


def test_failures_are_dynatrace_errors(server):
    _, _, _, manager = server.tenant(["apiTokens.read"])
    dt = client(server, manager)
    refused(lambda: client(server, "kw_ak_" + "0" * 32 + "_" + "0" * 72).tokens.get("x"), 401)
    refused(lambda: dt.tokens.get("0190f1c2-7a3b-7c4d-8e5f-0123456789ab"), 404)
    refused(lambda: dt.tokens.create("x", ["metrics.read"]), 403)
    refused(lambda: list(dt.tokens.list(sort="owner")), 400)
    refused(lambda: dt.tokens.lookup("not a token"), 404)


def test_lists_filter_sort_select_and_page(server):
    account, sa, _, manager = server.tenant(["apiTokens.read", "apiTokens.write", "metrics.read", "logs.read"])
    dt = client(server, manager)
    for name, scope in [("alpha", "metrics.read"), ("beta", "logs.read"), ("gamma", "metrics.read")]:
        dt.tokens.create(name, [scope])
    other = server.native("POST", f"/v1/accounts/{account}/service-accounts", body={"name": "batch"})["id"]
    for i in range(205):
        server.native("POST", f"/v1/accounts/{account}/service-accounts/{other}/api-keys", body={"name": f"b{i:03}"})

    every = list(dt.tokens.list(sort="name"))
    assert len(every) == 209, "the SDK followed nextPageKey across pages of 200"
    names = [t.name for t in every]
    assert names == sorted(names)

    mine = list(dt.tokens.list(api_token_selector='owner("svc")', sort="-name"))
    assert [t.name for t in mine] == ["key", "gamma", "beta", "alpha"]
    assert all(t.owner == "svc" for t in mine)

    by_scope = list(dt.tokens.list(api_token_selector='scope("logs.read"),owner("svc")', fields="+scopes"))
    assert sorted(t.name for t in by_scope) == ["beta", "key"]
    assert all("logs.read" in t.scopes for t in by_scope)

    narrow = list(dt.tokens.list(api_token_selector='owner("svc")', fields="name"))
    assert all(t.owner is None and t.creation_date is None and t.name for t in narrow), "only id and name"
    assert list(dt.tokens.list(api_token_selector="personalAccessToken(true)")) == []

    # The manager's key is used by every call above; its last use is written within seconds.
    def used():
        return [t.name for t in dt.tokens.list(time_from="now-1h", fields="+lastUsedDate")]

    assert eventually(used) == ["key"]
    assert [t.name for t in dt.tokens.list(time_from=datetime.utcnow() - timedelta(hours=1))] == ["key"]
    assert list(dt.tokens.list(time_from="now-1y/w", time_to="now-1d")) == []
    recent = list(dt.tokens.list(sort="-lastUsedDate", fields="+lastUsedDate,+lastUsedIpAddress"))
    assert recent[0].name == "key" and recent[0].last_used_date is not None and recent[0].last_used_ip_address


def test_other_accounts_are_invisible(server):
    _, _, a_id, a = server.tenant(["apiTokens.read", "apiTokens.write"])
    _, _, _, b = server.tenant(["apiTokens.read", "apiTokens.write"])
    dt_b = client(server, b)
    refused(lambda: dt_b.tokens.get(a_id), 404)
    refused(lambda: dt_b.tokens.delete(a_id), 404)
    refused(lambda: dt_b.tokens.lookup(a), 404)
    assert [t.id for t in dt_b.tokens.list()] != [a_id]
    assert a_id not in [t.id for t in dt_b.tokens.list()]
    assert client(server, a).tokens.get(a_id).name == "key"
