"""The official twilio SDK against StudioGate, with only client.studio.base_url changed."""
import json

import pytest


def assert_through_gateway(recorder, env, start):
    for method, url, status, body in recorder.exchanges[start:]:
        assert url.startswith(env["GATEWAY_URL"]), f"{method} {url} bypassed the gateway"


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_executions_lifecycle(client, env, mock, recorder, version):
    start = len(recorder.exchanges)
    flow = getattr(client.studio, version).flows(env["flow_a"])
    list_path = f"/{version}/Flows/{env['flow_a']}/Executions"
    before_pages = mock.count(list_path, "GET")

    executions = list(flow.executions.stream(page_size=4))
    assert len(executions) >= 12
    assert len({e.sid for e in executions}) == len(executions), "paging repeated an execution"
    pages = mock.count(list_path, "GET") - before_pages
    assert pages >= 3, "paged at least three times"
    assert all(e.account_sid == env["account_a"] for e in executions)

    created = flow.executions.create(to="+15550001111", from_="+15550002222", parameters={"order": 7, "big": 18446744073709551617})
    assert created.status == "active"
    assert created.contact_channel_address == "+15550001111"
    assert created.url.startswith(env["GATEWAY_URL"])

    fetched = flow.executions(created.sid).fetch()
    assert fetched.sid == created.sid
    context = flow.executions(created.sid).execution_context().fetch()
    assert context.context["flow"]["data"] == {"order": 7, "big": 18446744073709551617}

    steps = flow.executions(created.sid).steps.list()
    assert len(steps) == 3
    step = flow.executions(created.sid).steps(steps[0].sid).fetch()
    assert step.name == steps[0].name
    step_context = flow.executions(created.sid).steps(steps[0].sid).step_context().fetch()
    assert step_context.step_sid == steps[0].sid

    updated = flow.executions(created.sid).update(status="ended")
    assert updated.status == "ended"
    assert flow.executions(created.sid).fetch().status == "ended"

    assert flow.executions(created.sid).delete() is True
    from twilio.base.exceptions import TwilioRestException
    with pytest.raises(TwilioRestException) as missing:
        flow.executions(created.sid).fetch()
    assert missing.value.status == 404
    assert_through_gateway(recorder, env, start)


def test_ended_execution_tricky_context(client, env):
    context = client.studio.v2.flows(env["flow_a"]).executions(env["ended_execution_a"]).execution_context().fetch()
    data = context.context["flow"]["data"]
    assert data["big"] == 18446744073709551617
    assert data["name"] == "Zoë é ☃ 😀"
    assert context.context["url"] == "https://studio.twilio.com/v2/Flows/FW00000000000000000000000000000000/Executions", "user data untouched"


def test_engagements(client, env, mock, recorder):
    start = len(recorder.exchanges)
    flow = client.studio.v1.flows(env["flow_a"])
    engagements = list(flow.engagements.stream(page_size=4))
    assert len(engagements) >= 12
    assert len({e.sid for e in engagements}) == len(engagements)

    engagement = flow.engagements(env["ended_execution_a"]).fetch()
    assert engagement.status == "ended"
    assert engagement.links["engagement_context"].startswith(env["GATEWAY_URL"] + f"/v1/Flows/{env['flow_a']}/Engagements/")

    context = flow.engagements(env["ended_execution_a"]).engagement_context().fetch()
    assert context.engagement_sid == env["ended_execution_a"]
    assert context.context["flow"]["data"]["big"] == 18446744073709551617

    steps = flow.engagements(env["ended_execution_a"]).steps.list()
    assert len(steps) == 3
    assert all(s.engagement_sid == env["ended_execution_a"] for s in steps)
    step = flow.engagements(env["ended_execution_a"]).steps(steps[1].sid).fetch()
    assert step.transitioned_to == steps[1].transitioned_to
    step_context = flow.engagements(env["ended_execution_a"]).steps(steps[1].sid).step_context().fetch()
    assert step_context.engagement_sid == env["ended_execution_a"]

    created = flow.engagements.create(to="+15550003333", from_="+15550004444", parameters={"x": 1})
    assert created.status == "active"
    assert flow.engagements(created.sid).delete() is True
    assert mock.count(f"/v1/Flows/{env['flow_a']}/Engagements") == 0
    assert_through_gateway(recorder, env, start)


def test_validator_is_strict(validator, env):
    """The conformance check would catch an untranslated Engagement or a wrong type."""
    import jsonschema
    url = f"{env['GATEWAY_URL']}/v1/Flows/{env['flow_a']}/Engagements/{env['ended_execution_a']}/Context"
    good = {"account_sid": env["account_a"], "context": {}, "engagement_sid": env["ended_execution_a"], "flow_sid": env["flow_a"], "url": url}
    validator.validate("GET", url, 200, json.dumps(good))
    for bad in [dict(good, execution_sid=good["engagement_sid"]), dict(good, flow_sid=5), dict(good, account_sid="XX")]:
        bad.pop("engagement_sid") if "execution_sid" in bad else None
        with pytest.raises(jsonschema.ValidationError):
            validator.validate("GET", url, 200, json.dumps(bad))


def test_zz_every_response_conforms_to_the_spec(recorder, validator):
    """Runs last (file order): validates every 2xx exchange of the session."""
    checked = 0
    for method, url, status, body in recorder.exchanges:
        if 200 <= status < 300:
            validator.validate(method, url, status, body)
            checked += 1
    assert checked >= 30
    print(f"\nschema validations passed: {validator.validated}")


@pytest.mark.parametrize("gateway", ["http://127.0.0.1:8080", "http://localhost:8080"])
def test_region_or_edge_on_the_client_leaves_the_gateway(gateway, monkeypatch):
    """docs/SDKS.md: with region/edge (or TWILIO_REGION/TWILIO_EDGE) the SDK rewrites the host of
    every URL, the gateway's too, into a name that does not resolve; the regional host belongs in
    --upstream instead. Fails if an SDK upgrade changes that, so the page is revisited."""
    from twilio.rest import Client
    monkeypatch.delenv("TWILIO_REGION", raising=False)
    monkeypatch.delenv("TWILIO_EDGE", raising=False)
    plain = Client("AC" + "0" * 32, "token")
    assert plain.get_hostname(gateway + "/v2/Flows") == gateway + "/v2/Flows"
    regional = Client("AC" + "0" * 32, "token", region="ie1")
    expected = {"http://127.0.0.1:8080": "http://127.ie1.0.1:8080",
                "http://localhost:8080": "http://localhost:8080.ie1.localhost:8080"}[gateway]
    assert regional.get_hostname(gateway + "/v2/Flows") == expected + "/v2/Flows"
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    assert Client("AC" + "0" * 32, "token").get_hostname(gateway + "/v2/Flows") == expected + "/v2/Flows"
