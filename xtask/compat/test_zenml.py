"""ZenML's published client (`zenml`), unmodified: a `RestZenStore` logs in to Keyward with an API
key and runs the whole service-account and API-key lifecycle, and its failures."""

import os
import tempfile

from datetime import datetime, timedelta, timezone

# ZenML keeps a global configuration and a credentials store on disk: keep them in a throwaway
# folder, and say nothing to anyone.
os.environ["ZENML_CONFIG_PATH"] = tempfile.mkdtemp(prefix="zenml-config-")
os.environ["ZENML_ANALYTICS_OPT_IN"] = "false"
os.environ["ZENML_DISABLE_CLIENT_SERVER_MISMATCH_WARNING"] = "True"

import pytest  # noqa: E402
import requests  # noqa: E402
from zenml.exceptions import AuthorizationException, CredentialsNotValid, IllegalOperationError  # noqa: E402
from zenml.models import (  # noqa: E402
    APIKeyFilter,
    APIKeyRequest,
    APIKeyRotateRequest,
    APIKeyUpdate,
    ServiceAccountFilter,
    ServiceAccountRequest,
    ServiceAccountUpdate,
)
from zenml.zen_stores.rest_zen_store import RestZenStore, RestZenStoreConfiguration  # noqa: E402

from conftest import eventually  # noqa: E402


def store(server, key):
    return RestZenStore(config=RestZenStoreConfiguration(url=server.base, api_key=key))


def login(server, key):
    """Logs in as ZenML's client does; returns the HTTP status and body."""
    r = requests.post(f"{server.base}/api/v1/login", data={"grant_type": "zenml-api-key", "password": key}, timeout=30)
    return r.status_code, r.json()


def test_the_whole_lifecycle(server):
    _, _, _, key = server.tenant(["service-accounts:write", "api-keys:write"])
    zen = store(server, key)
    assert zen.get_store_info().auth_scheme.value == "OAUTH2_PASSWORD_BEARER"

    sa = zen.create_service_account(ServiceAccountRequest(name="ci", full_name="CI bot", description="builds", active=True))
    assert (sa.name, sa.full_name, sa.description, sa.active) == ("ci", "CI bot", "builds", True)
    assert zen.get_service_account(sa.id).name == "ci"
    assert zen.get_service_account("ci").id == sa.id

    made = [zen.create_api_key(sa.id, APIKeyRequest(name=f"key-{i}", description=f"d{i}")) for i in range(5)]
    assert made[0].key.startswith("kw_ak_") and made[0].service_account.id == sa.id
    assert zen.get_api_key(sa.id, "key-0").id == made[0].id
    assert zen.get_api_key(sa.id, made[1].id).name == "key-1"
    assert zen.get_api_key(sa.id, made[1].id).key is None, "a key is shown once"

    page = zen.list_api_keys(sa.id, APIKeyFilter(size=2, page=2, sort_by="asc:name"))
    assert (page.total, page.total_pages, page.index, [k.name for k in page.items]) == (5, 3, 2, ["key-2", "key-3"])
    assert [k.name for k in zen.list_api_keys(sa.id, APIKeyFilter(name="startswith:key-", sort_by="desc:name")).items][:2] == ["key-4", "key-3"]
    assert zen.list_api_keys(sa.id, APIKeyFilter(description="d3")).total == 1
    either = APIKeyFilter(name="key-0", description="d1", logical_operator="or")
    assert sorted(k.name for k in zen.list_api_keys(sa.id, either).items) == ["key-0", "key-1"]
    since = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    assert zen.list_api_keys(sa.id, APIKeyFilter(created=f"gt:{since}")).total == 5
    assert zen.list_service_accounts(ServiceAccountFilter(name="ci")).total == 1

    updated = zen.update_api_key(sa.id, "key-0", APIKeyUpdate(name="deploy", description="deploys"))
    assert (updated.name, updated.description) == ("deploy", "deploys")
    rotated = zen.rotate_api_key(sa.id, "deploy", APIKeyRotateRequest(retain_period_minutes=10))
    assert rotated.key.startswith("kw_ak_") and rotated.key != made[0].key
    assert rotated.retain_period_minutes == 10 and rotated.last_rotated is not None

    # The new key logs in; the old one too, for its retain period.
    assert login(server, rotated.key)[0] == 200
    assert login(server, made[0].key)[0] == 200
    as_deploy = store(server, rotated.key)
    assert as_deploy.get_service_account("ci").id == sa.id
    def used():
        return zen.get_api_key(sa.id, "deploy").last_login
    assert eventually(used) is not None, "last_login is Keyward's last use"
    assert zen.list_api_keys(sa.id, APIKeyFilter(last_login=f"gt:{since}")).total == 1

    changed = zen.update_service_account("ci", ServiceAccountUpdate(description="all builds", full_name="CI"))
    assert (changed.description, changed.full_name) == ("all builds", "CI")
    zen.update_service_account(sa.id, ServiceAccountUpdate(active=False))
    assert zen.get_service_account("ci").active is False
    assert login(server, rotated.key)[0] == 401, "a deactivated service account cannot log in"
    zen.update_service_account(sa.id, ServiceAccountUpdate(active=True))

    zen.update_api_key(sa.id, "deploy", APIKeyUpdate(active=False))
    assert login(server, rotated.key)[0] == 401, "a deactivated key cannot log in"
    zen.update_api_key(sa.id, "deploy", APIKeyUpdate(active=True))

    zen.delete_api_key(sa.id, "key-4")
    with pytest.raises(KeyError):
        zen.get_api_key(sa.id, "key-4")
    zen.delete_service_account("ci")
    with pytest.raises(KeyError):
        zen.get_service_account("ci")


def test_rotation_without_retain_period_stops_the_old_key_and_its_tokens(server):
    account, sa, _, key = server.tenant(["service-accounts:write", "api-keys:write"])
    zen = store(server, key)
    worker = zen.create_api_key(sa, APIKeyRequest(name="worker"))
    status, token = login(server, worker.key)
    assert status == 200 and token["token_type"] == "bearer" and token["expires_in"] > 0
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    me = requests.get(f"{server.base}/api/v1/current-user", headers=bearer, timeout=30).json()
    assert (me["id"], me["body"]["is_service_account"]) == (sa, True)
    native = requests.get(f"{server.base}/v1/accounts/{account}/service-accounts", headers=bearer, timeout=30)
    assert native.status_code == 200, "the access token works on the native API too"

    zen.rotate_api_key(sa, worker.id, APIKeyRotateRequest(retain_period_minutes=0))
    assert login(server, worker.key)[0] == 401, "the old key stops at once"
    stale = requests.get(f"{server.base}/api/v1/current-user", headers=bearer, timeout=30)
    assert stale.status_code == 401, "and so do the tokens it logged in for"


def test_a_deleted_keys_token_stops(server):
    _, sa, _, key = server.tenant(["service-accounts:write", "api-keys:write"])
    zen = store(server, key)
    worker = zen.create_api_key(sa, APIKeyRequest(name="worker"))
    _, token = login(server, worker.key)
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    zen.delete_api_key(sa, worker.id)

    def refused():
        r = requests.get(f"{server.base}/api/v1/current-user", headers=bearer, timeout=30)
        return r.status_code == 401

    assert eventually(refused, timeout=5), "within Keyward's freshness window"


def test_failures_are_zenml_exceptions(server):
    _, sa, key_id, key = server.tenant(["service-accounts:write", "api-keys:write"])
    with pytest.raises((CredentialsNotValid, AuthorizationException, RuntimeError)):
        store(server, "kw_ak_" + "0" * 32 + "_" + "0" * 72).list_service_accounts(ServiceAccountFilter())
    r = requests.post(f"{server.base}/api/v1/login", data={"username": "alice", "password": "secret"}, timeout=30)
    assert r.status_code == 401 and "API key" in r.json()["detail"][1]
    zen = store(server, key)
    with pytest.raises(KeyError):
        zen.get_service_account("nobody")
    with pytest.raises(KeyError):
        zen.get_api_key(sa, "nothing")
    with pytest.raises(IllegalOperationError):
        zen.delete_api_key(sa, key_id)
    with pytest.raises(IllegalOperationError):
        zen.update_service_account(sa, ServiceAccountUpdate(active=False))
    with pytest.raises(ValueError):
        zen.list_api_keys(sa, APIKeyFilter(active="maybe"))


def test_other_accounts_are_invisible(server):
    _, _, _, a = server.tenant(["service-accounts:write", "api-keys:write"])
    _, _, _, b = server.tenant(["service-accounts:write", "api-keys:write"])
    private = store(server, a).create_service_account(ServiceAccountRequest(name="private", active=True))
    zen_b = store(server, b)
    with pytest.raises(KeyError):
        zen_b.get_service_account(private.id)
    with pytest.raises(KeyError):
        zen_b.list_api_keys(private.id, APIKeyFilter())
    assert "private" not in [s.name for s in zen_b.list_service_accounts(ServiceAccountFilter()).items]



def zenml_cli(config, *args, stdin=None):
    """Runs the published `zenml` CLI with its own configuration folder; returns its output."""
    import subprocess
    import sys

    env = dict(os.environ, ZENML_CONFIG_PATH=str(config), ZENML_ANALYTICS_OPT_IN="false")
    env.pop("ZENML_STORE_URL", None)
    env.pop("ZENML_STORE_API_KEY", None)
    cli = os.path.join(os.path.dirname(sys.executable), "zenml")
    done = subprocess.run([cli, *args], input=stdin, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"zenml {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def test_zenml_login_with_an_api_key_and_the_cli(server, tmp_path):
    _, _, _, key = server.tenant(["service-accounts:write", "api-keys:write"], sa_name="zen-cli")
    config = tmp_path / "zenml-config"
    out = zenml_cli(config, "login", server.base, "--api-key", stdin=key + "\n")
    assert "Setting the global active stack to default" in out or "Updated the global store" in out, out
    status = zenml_cli(config, "status")
    assert "The active user is: 'zen-cli'" in status and "The active stack is: 'default'" in status, status

    made = zenml_cli(config, "service-account", "create", "cli-bot")
    assert "kw_ak_" in made.replace("\n", ""), "the new service account's first key is shown once"
    zenml_cli(config, "service-account", "api-key", "cli-bot", "create", "runner")
    listed = zenml_cli(config, "service-account", "api-key", "cli-bot", "list")
    assert "runner" in listed and "default" in listed, listed
    rotated = zenml_cli(config, "service-account", "api-key", "cli-bot", "rotate", "runner", "--retain", "5")
    assert "kw_ak_" in rotated.replace("\n", "")
    zenml_cli(config, "service-account", "api-key", "cli-bot", "update", "runner", "--active", "false")
    zenml_cli(config, "service-account", "api-key", "cli-bot", "delete", "runner", "--yes")
    assert "runner" not in zenml_cli(config, "service-account", "api-key", "cli-bot", "list")
    zenml_cli(config, "service-account", "delete", "cli-bot")
    assert "cli-bot" not in zenml_cli(config, "service-account", "list")


def test_zenml_client_runs_the_lifecycle(server, tmp_path):
    """`zenml.client.Client()`, configured by ZenML's own environment variables."""
    import subprocess
    import sys

    _, _, _, key = server.tenant(["service-accounts:write", "api-keys:write"], sa_name="zen-client")
    script = """
from zenml.client import Client
c = Client()
assert c.active_user.name == "zen-client" and c.active_user.is_service_account
assert c.active_project.name == "default" and c.active_stack_model.name == "default"
sa = c.create_service_account(name="client-bot", description="made by Client()")
key = c.create_api_key(sa.id, name="worker", description="w")
assert key.key.startswith("kw_ak_")
assert [k.name for k in c.list_api_keys(sa.id, name="startswith:work").items] == ["worker"]
rotated = c.rotate_api_key(sa.id, "worker", retain_period_minutes=1)
assert rotated.key.startswith("kw_ak_") and rotated.key != key.key
assert not c.update_api_key(sa.id, "worker", active=False).active
c.delete_api_key(sa.id, "worker")
try:
    c.get_api_key(sa.id, "worker")
    raise SystemExit("a deleted key was found")
except KeyError:
    pass
c.delete_service_account("client-bot")
print("ok")
"""
    env = dict(
        os.environ,
        ZENML_CONFIG_PATH=str(tmp_path / "zenml-config"),
        ZENML_STORE_URL=server.base,
        ZENML_STORE_API_KEY=key,
    )
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stdout + done.stderr
