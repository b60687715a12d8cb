"""Every v1 Engagement operation through twilio-python 6.63 (the last SDK line that has them), then
what the gateway's Engagement migration report says about it.

Run by EngagementSDK6Tests (the venv from Tests/python/setup-venv-sdk6.sh) against mock-studio and
a studiogate with an admin listener; by hand:
  GATEWAY_URL=http://127.0.0.1:8080 ADMIN_URL=http://127.0.0.1:9090 ADMIN_TOKEN=... \
  MOCK_FIXTURES='{"account_a": ...}' .build/sdk-venv-6/bin/python Tests/python/engagements_sdk6.py
Checks that each request the SDK sent is counted once under its route, by the right caller (the
account SID, or the API key SID, never a secret) and user-agent product (`twilio-python/6.63.x`),
and prints the report (the example in docs/OPERATING.md "Retiring Engagements").
"""
import collections
import json
import os
import re
import sys
import urllib.request

import twilio
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

# The gateway's route names (`studiogate_engagement_requests_total{route=…}`), by path shape.
ROUTES = [
    (r"/v1/Flows/FW\w+/Engagements", "v1_engagement_list"),
    (r"/v1/Flows/FW\w+/Engagements/FN\w+", "v1_engagement"),
    (r"/v1/Flows/FW\w+/Engagements/FN\w+/Context", "v1_engagement_context"),
    (r"/v1/Flows/FW\w+/Engagements/FN\w+/Steps", "v1_engagement_step_list"),
    (r"/v1/Flows/FW\w+/Engagements/FN\w+/Steps/FT\w+", "v1_engagement_step"),
    (r"/v1/Flows/FW\w+/Engagements/FN\w+/Steps/FT\w+/Context", "v1_engagement_step_context"),
]


def route_of(url, gateway):
    assert url.startswith(gateway), f"{url} bypassed the gateway"
    path = url[len(gateway):].split("?")[0]
    for pattern, name in ROUTES:
        if re.fullmatch(pattern, path):
            return name
    raise AssertionError(f"not an Engagement route: {path}")


class CountingHttpClient(TwilioHttpClient):
    """The SDK's own HTTP client, counting each request by (caller, route)."""

    def __init__(self, caller, gateway, sent):
        super().__init__()
        self.caller, self.gateway, self.sent = caller, gateway, sent

    def request(self, method, url, *args, **kwargs):
        self.sent[(self.caller, route_of(url, self.gateway))] += 1
        return super().request(method, url, *args, **kwargs)


def admin_get(path):
    request = urllib.request.Request(os.environ["ADMIN_URL"] + path)
    request.add_header("Authorization", "Bearer " + os.environ["ADMIN_TOKEN"])
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def engagement_counter():
    with urllib.request.urlopen(os.environ["GATEWAY_URL"] + "/metrics", timeout=10) as response:
        text = response.read().decode()
    return {m[1]: int(float(m[2])) for m in re.finditer(r'^studiogate_engagement_requests_total\{route="(\w+)"\} (\S+)$', text, re.M)}


def exercise(client, fixtures, own_engagement):
    """Every Engagement operation: list (paged), create, fetch, context, steps, step, step context, delete."""
    flow = client.studio.v1.flows(fixtures["flow_a"])
    listed = flow.engagements.list(page_size=5)
    assert len(listed) >= 12 and all(e.sid.startswith("FN") for e in listed), listed
    ended = flow.engagements(fixtures["ended_execution_a"])
    assert ended.fetch().status == "ended"
    context = ended.engagement_context().fetch()
    assert context.engagement_sid == fixtures["ended_execution_a"]
    assert context.context["flow"]["data"]["big"] == 18446744073709551617
    steps = ended.steps.list()
    assert steps and all(s.engagement_sid == fixtures["ended_execution_a"] for s in steps)
    step = ended.steps(steps[0].sid).fetch()
    assert step.name == steps[0].name
    step_context = ended.steps(steps[0].sid).step_context().fetch()
    assert step_context.step_sid == steps[0].sid and step_context.engagement_sid == fixtures["ended_execution_a"]
    if own_engagement:
        created = flow.engagements.create(to="+15550001111", from_="+15550002222", parameters={"order": 7})
        assert created.sid.startswith("FN") and created.url.startswith(os.environ["GATEWAY_URL"])
        assert flow.engagements(created.sid).fetch().sid == created.sid
        assert flow.engagements(created.sid).delete() is True
        try:
            flow.engagements(created.sid).fetch()
            raise AssertionError("a deleted engagement was still found")
        except TwilioRestException as error:
            assert error.status == 404, error


def main():
    gateway = os.environ["GATEWAY_URL"]
    fixtures = json.loads(os.environ["MOCK_FIXTURES"])
    sent = collections.Counter()
    before, report_before = engagement_counter(), json.loads(admin_get("/admin/engagements"))
    seen_before = {(c["caller"], c["route"]): c["requests"] for c in report_before["callers"]}

    # Two services of one account: one with the account's auth token, one with an API key.
    by_token = Client(fixtures["account_a"], fixtures["token_a"],
                      http_client=CountingHttpClient(fixtures["account_a"], gateway, sent))
    by_key = Client(fixtures["api_key_a"], fixtures["api_key_secret_a"], fixtures["account_a"],
                    http_client=CountingHttpClient(fixtures["api_key_a"], gateway, sent))
    for client in (by_token, by_key):
        client.studio.base_url = gateway  # the only change a service makes to use the gateway
    exercise(by_token, fixtures, own_engagement=True)
    exercise(by_key, fixtures, own_engagement=False)

    report = json.loads(admin_get("/admin/engagements"))
    after = engagement_counter()
    product = f"twilio-python/{twilio.__version__}"
    seen = {(c["caller"], c["route"]): c for c in report["callers"]}
    for (caller, route), count in sent.items():
        row = seen.get((caller, route))
        assert row is not None, f"{caller} {route} missing from the report"
        assert row["user_agent"] == product, row
        assert row["requests"] - seen_before.get((caller, route), 0) == count, (row, count)
    assert all(c["caller"] in (fixtures["account_a"], fixtures["api_key_a"]) for c in report["callers"]), report
    text = json.dumps(report)
    for secret in (fixtures["token_a"], fixtures["api_key_secret_a"]):
        assert secret not in text, "a secret in the report"
    by_route = collections.Counter()
    for (caller, route), count in sent.items():
        by_route[route] += count
    for route, count in by_route.items():
        grown = report["requests_by_route"][route] - report_before["requests_by_route"][route]
        assert grown == count, (route, report_before["requests_by_route"], report["requests_by_route"])
        assert after.get(route, 0) - before.get(route, 0) == count, (route, before, after)

    print(f"{product} against {gateway}: {sum(sent.values())} Engagement requests")
    print("GET /admin/engagements callers (caller, user_agent, route, requests):")
    for c in sorted(report["callers"], key=lambda c: (c["caller"], c["route"])):
        print(f"  {c['caller']}  {c['user_agent']}  {c['route']}  {c['requests']}")
    print(f"callers_dropped {report['callers_dropped']}, capacity {report['capacity']}")
    print("studiogate_engagement_requests_total by route:")
    for route, value in after.items():
        print(f"  {route} {value}")
    print("engagement report matched every request sent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
