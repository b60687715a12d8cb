"""Fixtures for driving StudioGate with the official twilio SDK.

The Swift test `PythonSDKTests` starts mock-studio and studiogate on loopback ports and runs
pytest here with GATEWAY_URL, MOCK_URL and the mock's fixture facts in the environment.
"""
import json
import os
import urllib.parse
import urllib.request

import pytest
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from schemas import OpenAPIValidator


class RecordingHttpClient(TwilioHttpClient):
    """The SDK's own HTTP client, recording every exchange for the conformance check."""

    def __init__(self):
        super().__init__()
        self.exchanges = []

    def request(self, method, url, *args, **kwargs):
        response = super().request(method, url, *args, **kwargs)
        self.exchanges.append((method, url, response.status_code, response.text))
        return response


@pytest.fixture(scope="session")
def env():
    # The specs are vendored beside this file (openapi/README.md); OPENAPI_DIR may point elsewhere.
    openapi = os.environ.get("OPENAPI_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "openapi")
    return {key: os.environ[key] for key in ["GATEWAY_URL", "MOCK_URL"]} | {"OPENAPI_DIR": openapi} | json.loads(os.environ["MOCK_FIXTURES"])


@pytest.fixture(scope="session")
def recorder():
    return RecordingHttpClient()


@pytest.fixture(scope="session")
def client(env, recorder):
    client = Client(env["account_a"], env["token_a"], http_client=recorder)
    # The only change a service makes to use the gateway.
    client.studio.base_url = env["GATEWAY_URL"]
    return client


@pytest.fixture(scope="session")
def mock(env):
    def call(method, path, body=None):
        request = urllib.request.Request(env["MOCK_URL"] + path, method=method, data=body)
        with urllib.request.urlopen(request) as response:
            return json.loads(response.read() or b"{}")

    class Mock:
        def count(self, path, method=None):
            query = "path=" + urllib.parse.quote(path, safe="") + (f"&method={method}" if method else "")
            return call("GET", "/__mock/requests?" + query)["count"]

        def total(self):
            return call("GET", "/__mock/requests")["count"]

    return Mock()


@pytest.fixture(scope="session")
def validator(env):
    return OpenAPIValidator(env["OPENAPI_DIR"])
