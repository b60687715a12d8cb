"""/metrics parses with the official Prometheus client's parser and its counters move."""
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def scrape(env):
    with urllib.request.urlopen(env["GATEWAY_URL"] + "/metrics") as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        families = {f.name: f for f in text_string_to_metric_families(response.read().decode())}
    return families


def value(families, name, **labels):
    for family in families.values():
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def test_metrics_parse_and_count(client, env):
    before = scrape(env)
    for family in ["studiogate_requests", "studiogate_request_duration_seconds", "studiogate_cache_requests", "studiogate_upstream_requests",
                   "studiogate_cache_entries", "studiogate_open_connections", "studiogate_build_info", "studiogate_verified_credentials"]:
        assert family in before, f"{family} missing"
    execution = client.studio.v2.flows(env["flow_a"]).executions(env["ended_execution_a"])
    execution.fetch()
    execution.fetch()
    after = scrape(env)
    assert value(after, "studiogate_cache_requests_total", result="hit") >= value(before, "studiogate_cache_requests_total", result="hit") + 1
    assert value(after, "studiogate_request_duration_seconds_count") >= value(before, "studiogate_request_duration_seconds_count") + 2
    assert value(after, "studiogate_requests_total", route="v2_execution", status="200", cache="HIT") >= 1
