"""schemathesis against graphroute serve's own OpenAPI schema, over real HTTP: generated requests to
every endpoint never get a 500, and every response conforms to the schema (status code, content
type, body).

The cases come from each operation's hypothesis strategy (``operation.as_strategy()``) inside a
plain ``@given`` test, not from schemathesis' pytest plugin: the plugin reaches into pytest's
private attributes and broke on a pytest minor release (``'Function' object has no attribute
'_nodeid'`` with pytest 9.2.0 and schemathesis 4.32.5).
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

import pytest


@pytest.fixture(scope="module")
def api_schema(serve_server):
    return schemathesis.openapi.from_url(serve_server["url"] + "/openapi.json",
                                         headers={"authorization": f"Bearer {serve_server['keys']['full']}"})


def _operations(schema) -> list:
    return [result.ok() for result in schema.get_all_operations()]


def test_every_operation_is_generated(api_schema):
    labels = {op.label for op in _operations(api_schema)}
    assert {"POST /v1/chat/completions", "POST /v1/route", "POST /v1/feedback", "GET /v1/models"} <= labels


@pytest.mark.parametrize("label", ["POST /v1/chat/completions", "POST /v1/route", "POST /v1/feedback",
                                   "GET /v1/models", "GET /health"])
def test_no_server_error_and_no_schema_violation(api_schema, serve_server, label):
    op = next(o for o in _operations(api_schema) if o.label == label)
    auth = {"authorization": f"Bearer {serve_server['keys']['full']}"}
    seen = []

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=op.as_strategy())
    def run(case):
        response = case.call(headers=auth, timeout=30)
        seen.append(response.status_code)
        assert response.status_code < 500, (response.status_code, response.text[:300])
        if response.status_code == 413:  # bodies over the test server's 20 kB limit are refused before validation
            assert response.json()["error"]["code"] == "request_too_large"
            return
        case.validate_response(response)

    run()
    assert seen, "no case was generated"
