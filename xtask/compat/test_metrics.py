"""`GET /metrics` as Prometheus reads it: the scrape parses with the reference client's text
parser, and the series the operations guide names are there."""

import requests
from prometheus_client.parser import text_string_to_metric_families


def test_the_scrape_parses_and_names_the_documented_series(server):
    requests.get(f"{server.base}/v1/accounts", headers={"Authorization": f"Bearer {server.admin}"}, timeout=30)
    requests.get(f"{server.base}/v1/accounts", headers={"Authorization": "Bearer kw_wrong"}, timeout=30)
    text = requests.get(f"{server.base}/metrics", timeout=30).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in [
        "keyward_http_requests",
        "keyward_http_request_duration_seconds",
        "keyward_auth_failures",
        "keyward_key_cache_misses",
        "keyward_db_pool_connections_in_use",
        "keyward_db_pool_wait_seconds",
        "keyward_build_info",
    ]:
        assert name in families, f"{name} missing from {sorted(families)}"
    ok = [s for s in families["keyward_http_requests"].samples if s.labels.get("status") == "200"]
    assert any(s.labels["route"] == "/v1/accounts" and s.value >= 1 for s in ok)
