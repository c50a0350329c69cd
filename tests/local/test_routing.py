"""The gateway routes exactly the template's `Api` events to their functions (a literal
segment before a parameter), answers 405 and 404 as API Gateway does, and answers CORS
preflights with the template's Cors."""

from __future__ import annotations

import re

import pytest
from werkzeug.test import Client

from local import template
from local.gateway import Gateway
from local.template import Function
from tests.local.support import FakeInvoker, body, gateway

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")


def template_api_events() -> list[tuple[str, str, str]]:
    """(method, path, function logical id) of every `Api` event, read from template.yaml
    without going through the gateway's own route list."""
    found = []
    for logical_id, resource in template.load()["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in (resource["Properties"].get("Events") or {}).values():
            if event.get("Type") == "Api":
                props = event["Properties"]
                found.append((props["Method"].upper(), props["Path"], logical_id))
    assert found, "template.yaml has no Api events"
    return sorted(found)


def concrete(path: str) -> tuple[str, dict[str, str]]:
    """A request path for a template path, with a value for each {param}."""
    params = {name: f"value-of-{name}" for name in re.findall(r"\{(\w+)\}", path)}
    filled = path
    for name, value in params.items():
        filled = filled.replace(f"{{{name}}}", value)
    return filled, params


def test_every_api_event_of_the_template_reaches_its_function():
    invoker = FakeInvoker()
    client = Client(gateway(invoker))
    expected = template_api_events()
    for method, path, logical_id in expected:
        url, params = concrete(path)
        answer = client.open(url, method=method, json={} if method == "POST" else None)
        assert answer.status_code == 200, (method, path, answer.get_data(as_text=True))
        assert body(answer) == {"function": logical_id}
        invoked, event = invoker.calls[-1]
        assert invoked == logical_id
        assert event["resource"] == path
        assert event["httpMethod"] == method
        assert event["requestContext"]["resourcePath"] == path
        assert event["pathParameters"] == (params or None)
    assert len(invoker.calls) == len(expected)


def test_the_gateway_serves_nothing_but_the_template_routes():
    invoker = FakeInvoker()
    app = gateway(invoker)
    served = sorted((r.method, r.path, r.function.logical_id) for r in app.router.routes)
    assert served == template_api_events()
    client = Client(app)
    by_path: dict[str, set[str]] = {}
    for method, path, _ in template_api_events():
        by_path.setdefault(path, set()).add(method)
    for path, methods in by_path.items():
        url, _ = concrete(path)
        for method in METHODS:
            if method in methods:
                continue
            answer = client.open(url, method=method)
            assert answer.status_code == 405, (method, path)
            if method != "HEAD":
                assert body(answer)["error"] == "method_not_allowed"
            preflight = {"OPTIONS"} if template.api_cors() else set()
            assert set(answer.headers["Allow"].split(", ")) == methods | preflight
    for url in ("/nope", "/events/a/b/c", "/checkouts", "/v1/events", "/events/x/checkouts/y"):
        answer = client.get(url)
        assert answer.status_code == 404, url
        assert body(answer)["error"] == "not_found"
        # the API's gateway responses carry the template's headers (CORS)
        for name, value in template.gateway_response_headers().items():
            assert answer.headers[name] == value
    assert invoker.calls == []


def test_preflight_answers_like_api_gateway_cors():
    [api] = [
        r["Properties"]
        for r in template.load()["Resources"].values()
        if r.get("Type") == "AWS::Serverless::Api"
    ]
    cors = api.get("Cors")
    if not cors:
        pytest.skip("the template's API has no Cors")
    expected = {
        f"Access-Control-{name}": cors[key].strip("'")
        for key, name in (
            ("AllowOrigin", "Allow-Origin"),
            ("AllowHeaders", "Allow-Headers"),
            ("AllowMethods", "Allow-Methods"),
        )
        if key in cors
    }
    client = Client(gateway(FakeInvoker()))
    for _, path, _ in template_api_events():
        url, _ = concrete(path)
        answer = client.options(url, headers={"Origin": "http://example.com"})
        assert answer.status_code == 204
        assert {name: answer.headers.get(name) for name in expected} == expected


def test_a_literal_segment_wins_over_a_parameter():
    route_fn = Function("Fn", "functions/x/", "app.lambda_handler", 3, {})
    other_fn = Function("Other", "functions/y/", "app.lambda_handler", 3, {})
    routes = [
        template.Route("GET", "/things/{thing_id}", route_fn),
        template.Route("GET", "/things/special", other_fn),
    ]
    invoker = FakeInvoker()
    client = Client(Gateway(routes, invoker, on_invocation=lambda *args: None))
    client.get("/things/special")
    client.get("/things/ordinary/")
    assert [name for name, _ in invoker.calls] == ["Other", "Fn"]
    assert invoker.calls[1][1]["pathParameters"] == {"thing_id": "ordinary"}
