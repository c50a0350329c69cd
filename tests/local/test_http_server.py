"""The local API gateway: exactly the template's routes, API Gateway's proxy event and
response shapes, CORS, the fan page, and the Lambda-like worker pools behind it."""

from __future__ import annotations

import base64
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client, EnvironBuilder
from werkzeug.wrappers import Request

from local import template
from local.gateway import (
    Gateway,
    GatewayServer,
    MalformedProxyResponse,
    proxy_response,
    request_event,
)
from local.lambdas import FunctionPool, Invocation
from local.template import Function

ROOT = Path(__file__).resolve().parents[2]
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


def body(answer: Any) -> Any:
    return json.loads(answer.get_data())


def concrete(path: str) -> tuple[str, dict[str, str]]:
    """A request path for a template path, with a value for each {param}."""
    params = {name: f"value-of-{name}" for name in re.findall(r"\{(\w+)\}", path)}
    filled = path
    for name, value in params.items():
        filled = filled.replace(f"{{{name}}}", value)
    return filled, params


class Recorder:
    """An invoker that answers like a function and remembers what it was asked."""

    def __init__(self, result: Any = None, **failure: Any) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.result = result
        self.failure = failure
        self.lock = threading.Lock()

    def invoke(
        self, function: Function, event: dict[str, Any], *, timeout: float | None = None
    ) -> Invocation:
        with self.lock:
            self.calls.append((function.logical_id, event))
        if self.failure:
            return Invocation(function.logical_id, "req", ok=False, **self.failure)
        result = self.result
        if result is None:
            result = {
                "statusCode": 200,
                "headers": {"Content-Type": "application/json"},
                "body": json.dumps({"function": function.logical_id}),
            }
        return Invocation(function.logical_id, "req", ok=True, result=result)


def gateway(invoker: Any, **kwargs: Any) -> Gateway:
    return Gateway(
        template.api_routes(),
        invoker,
        cors=template.api_cors(),
        gateway_headers=template.gateway_response_headers(),
        on_invocation=lambda *args: None,
        **kwargs,
    )


# ---------------------------------------------------------------------------- routing
def test_every_api_event_of_the_template_reaches_its_function():
    recorder = Recorder()
    client = Client(gateway(recorder))
    expected = template_api_events()
    for method, path, logical_id in expected:
        url, params = concrete(path)
        answer = client.open(url, method=method, json={} if method == "POST" else None)
        assert answer.status_code == 200, (method, path, answer.get_data(as_text=True))
        assert body(answer) == {"function": logical_id}
        invoked, event = recorder.calls[-1]
        assert invoked == logical_id
        assert event["resource"] == path
        assert event["httpMethod"] == method
        assert event["requestContext"]["resourcePath"] == path
        assert event["pathParameters"] == (params or None)
    assert len(recorder.calls) == len(expected)


def test_the_gateway_serves_nothing_but_the_template_routes():
    recorder = Recorder()
    app = gateway(recorder)
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
    assert recorder.calls == []


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
    client = Client(gateway(Recorder()))
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
    recorder = Recorder()
    client = Client(Gateway(routes, recorder, on_invocation=lambda *args: None))
    client.get("/things/special")
    client.get("/things/ordinary/")
    assert [name for name, _ in recorder.calls] == ["Other", "Fn"]
    assert recorder.calls[1][1]["pathParameters"] == {"thing_id": "ordinary"}


# ------------------------------------------------------------------------- fan page
def test_the_page_and_its_files_are_served():
    client = Client(gateway(Recorder()))
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.get_data() == (ROOT / "web" / "index.html").read_bytes()
    script = client.get("/app.js")
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert script.get_data() == (ROOT / "web" / "app.js").read_bytes()
    assert client.get("/styles.css").headers["Content-Type"].startswith("text/css")
    assert client.head("/app.js").status_code == 200
    assert client.post("/app.js").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/../pyproject.toml",
        "/%2e%2e/pyproject.toml",
        "/..%2fpyproject.toml",
        "/%2e%2e%2ftemplate.yaml",
        "/web/../template.yaml",
        "//etc/passwd",
        "/.gitignore",
        "/%00",
    ],
)
def test_no_file_outside_web_is_served(path):
    answer = Client(gateway(Recorder())).get(path)
    assert answer.status_code == 404
    assert body(answer)["error"] == "not_found"


# ------------------------------------------------------------------ request -> event
def _request(**kwargs: Any) -> Request:
    return Request(EnvironBuilder(**kwargs).get_environ())


def test_request_event_has_the_rest_proxy_shape():
    request = _request(
        method="POST",
        path="/events/e-1/checkouts",
        query_string="a=1&a=2&b=x%20y",
        headers=[("X-Thing", "one"), ("X-Thing", "two"), ("User-Agent", "tests/1.0")],
        data=b'{"seat_ids": ["A-1"]}',
        content_type="application/json",
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    event = request_event(request, "/events/{event_id}/checkouts", {"event_id": "e-1"}, b'{"x": 1}')
    assert event["resource"] == "/events/{event_id}/checkouts"
    assert event["path"] == "/events/e-1/checkouts"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"event_id": "e-1"}
    assert event["queryStringParameters"] == {"a": "2", "b": "x y"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x y"]}
    assert event["headers"]["User-Agent"] == "tests/1.0"
    assert event["multiValueHeaders"]["Content-Type"] == ["application/json"]
    assert event["headers"]["X-Forwarded-For"] == "10.1.2.3"
    assert event["body"] == '{"x": 1}'
    assert event["isBase64Encoded"] is False
    assert event["stageVariables"] is None
    context = event["requestContext"]
    assert context["resourcePath"] == "/events/{event_id}/checkouts"
    assert context["httpMethod"] == "POST"
    assert context["path"] == "/events/e-1/checkouts"
    assert context["stage"] == "local"
    assert context["identity"]["sourceIp"] == "10.1.2.3"
    assert context["identity"]["userAgent"] == "tests/1.0"
    assert re.fullmatch(r"[0-9a-f-]{36}", context["requestId"])
    assert isinstance(context["requestTimeEpoch"], int)
    json.dumps(event)  # a JSON document, as Lambda receives


def test_request_without_body_or_query_has_nulls():
    event = request_event(_request(method="GET", path="/events"), "/events", {}, b"")
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None


def test_binary_bodies_are_base64_encoded():
    raw = bytes(range(256))
    event = request_event(_request(method="POST", path="/x"), "/x", {}, raw)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw
    # and through the gateway, as the function sees it
    recorder = Recorder()
    Client(gateway(recorder)).post("/events", data=b"\xff\xfe{", content_type="application/json")
    sent = recorder.calls[0][1]
    assert sent["isBase64Encoded"] is True
    assert base64.b64decode(sent["body"]) == b"\xff\xfe{"


def test_body_size_is_capped():
    recorder = Recorder()
    client = Client(gateway(recorder, max_body_bytes=1000))
    assert client.post("/events", data=b"x" * 1000).status_code == 200
    answer = client.post("/events", data=b"x" * 1001)
    assert answer.status_code == 413
    assert body(answer)["error"] == "payload_too_large"
    assert len(recorder.calls) == 1


# ---------------------------------------------------------------- result -> response
def test_proxy_response_merges_headers_and_decodes_base64():
    response = proxy_response(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "image/png", "X-One": "single", "X-Both": "from-headers"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "X-Both": ["m1", "m2"]},
            "body": base64.b64encode(b"\x89PNG\x00\xff").decode(),
            "isBase64Encoded": True,
        }
    )
    assert response.status_code == 201
    assert response.get_data() == b"\x89PNG\x00\xff"
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-One"] == "single"
    assert response.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert response.headers.getlist("X-Both") == ["m1", "m2"]


def test_proxy_response_defaults():
    response = proxy_response({"statusCode": 204})
    assert response.status_code == 204
    assert response.get_data() == b""
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "result",
    [
        None,
        "text",
        [],
        {},
        {"statusCode": "abc"},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "unexpected": True},
        {"statusCode": 200, "headers": []},
        {"statusCode": 200, "multiValueHeaders": {"X": "not-a-list"}},
        {"statusCode": 200, "body": "***", "isBase64Encoded": True},
        {"statusCode": 99},
    ],
)
def test_malformed_results_are_refused(result):
    with pytest.raises(MalformedProxyResponse):
        proxy_response(result)
    answer = Client(gateway(Recorder(result=result if result is not None else 0))).get("/events")
    assert answer.status_code == 502
    assert body(answer) == {"message": "Internal server error"}


def test_function_errors_and_timeouts_are_502_and_504():
    failed = Client(gateway(Recorder(error_type="ValueError", error_message="boom")))
    answer = failed.get("/events")
    assert (answer.status_code, body(answer)) == (502, {"message": "Internal server error"})
    for name, value in template.gateway_response_headers().items():
        assert answer.headers[name] == value
    timed_out = Client(
        gateway(Recorder(timed_out=True, error_type="Sandbox.Timedout", error_message="late"))
    )
    answer = timed_out.get("/events")
    assert (answer.status_code, body(answer)) == (504, {"message": "Endpoint request timed out"})


# ------------------------------------------------- the HTTP server, over a raw socket
@pytest.fixture
def served() -> Iterator[tuple[GatewayServer, Recorder]]:
    """The gateway on a real threaded server on a free port, as the local stack runs it."""
    recorder = Recorder()
    server = GatewayServer(gateway(recorder), "127.0.0.1", 0)
    server.start()
    try:
        yield server, recorder
    finally:
        server.stop()


def raw_exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `request` as is and read the whole answer: (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks)
    head, separator, content = answer.partition(b"\r\n\r\n")
    assert separator, f"no HTTP head in {answer[:300]!r}"
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, status, _ = status_line.split(" ", 2)
    assert version.startswith("HTTP/1."), status_line
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status), headers, content


MALFORMED_REQUESTS = {
    "url over 64 KB": (
        b"GET /events/" + b"e" * 100_000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n",
        414,
        "uri_too_long",
    ),
    "header line over 64 KB": (
        b"GET /events HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"b" * 70_000 + b"\r\n\r\n",
        431,
        "headers_too_large",
    ),
    "over 100 headers": (
        b"GET /events HTTP/1.1\r\nHost: localhost\r\n"
        + b"".join(b"X-Header-%d: v\r\n" % n for n in range(150))
        + b"\r\n",
        431,
        "headers_too_large",
    ),
    "no method, path or version": (b"HELLO\r\n\r\n", 400, "bad_request"),
    "HTTP/9.9": (b"GET /events HTTP/9.9\r\nHost: localhost\r\n\r\n", 400, "bad_request"),
    "HTTP/2.0 in plain text": (
        b"GET /events HTTP/2.0\r\nHost: localhost\r\n\r\n",
        400,
        "bad_request",
    ),
    "a version that is no version": (
        b"GET /events HTTP/x\r\nHost: localhost\r\n\r\n",
        400,
        "bad_request",
    ),
    "four words": (b"GET /events and more HTTP/1.1\r\n\r\n", 400, "bad_request"),
    "HTTP/0.9 (no version)": (b"GET /events\r\n\r\n", 400, "bad_request"),
    "HTTP/0.9 POST": (b"POST /events\r\n\r\n", 400, "bad_request"),
    "a target that is no URL": (
        b"GET http://[::1 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        400,
        "bad_request",
    ),
    "a broken chunked body": (
        b"POST /events HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\nabc\r\n0\r\n\r\n",
        400,
        "bad_request",
    ),
}


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    list(MALFORMED_REQUESTS.values()),
    ids=list(MALFORMED_REQUESTS),
)
def test_requests_the_server_refuses_get_a_json_4xx(served, caplog, request_bytes, status, code):
    server, recorder = served
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        answer_status, headers, content = raw_exchange(server.port, request_bytes)
    assert answer_status == status
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(content)
    answer = json.loads(content)
    assert answer["error"] == code
    assert isinstance(answer["message"], str)
    assert answer["message"]
    for name, value in template.gateway_response_headers().items():
        assert headers[name.lower()] == value
    assert recorder.calls == []
    # quiet: refusing bad input is not worth a log line
    assert [r.getMessage() for r in caplog.records if r.name == "werkzeug"] == []


def test_well_formed_requests_still_pass_over_the_wire(served):
    server, recorder = served
    for version in (b"HTTP/1.1", b"HTTP/1.0"):
        status, headers, content = raw_exchange(
            server.port, b"GET /events " + version + b"\r\nHost: localhost\r\n\r\n"
        )
        assert (status, json.loads(content)) == (200, {"function": "ListEventsFunction"})
        assert headers["content-type"] == "application/json"
    assert len(recorder.calls) == 2


def test_head_on_an_api_route_is_405_as_no_head_method_is_defined(served):
    # API Gateway REST answers HEAD only where the API defines HEAD (or ANY); the template
    # defines GET, so HEAD is refused like any other undefined method, without a body.
    server, recorder = served
    status, headers, content = raw_exchange(
        server.port, b"HEAD /events HTTP/1.1\r\nHost: localhost\r\n\r\n"
    )
    assert status == 405
    assert headers["content-type"] == "application/json"
    assert "GET" in headers["allow"].split(", ")
    assert content == b""
    assert recorder.calls == []
    # the page's files are static, and HEAD on them answers like GET without a body
    status, headers, content = raw_exchange(
        server.port, b"HEAD /app.js HTTP/1.1\r\nHost: localhost\r\n\r\n"
    )
    assert status == 200
    assert int(headers["content-length"]) == (ROOT / "web" / "app.js").stat().st_size
    assert content == b""


def test_a_gateway_bug_is_a_json_500_not_an_html_page(capsys):
    class Broken:
        def invoke(self, function: Function, event: dict[str, Any], **kwargs: Any) -> Invocation:
            raise RuntimeError("a bug in the gateway")

    answer = Client(gateway(Broken())).get("/events")
    assert answer.status_code == 500
    assert answer.headers["Content-Type"] == "application/json"
    assert body(answer) == {"message": "Internal server error"}
    assert "RuntimeError: a bug in the gateway" in capsys.readouterr().err


# ------------------------------------------------------------------- worker processes
def _pool(capacity: int = 2, timeout: int = 3) -> FunctionPool:
    function = Function(
        logical_id="CountingFunction",
        code_uri="tests/local/",
        handler="stack.counting_handler",
        timeout=timeout,
        environment={},
        memory_size=256,
    )
    env = {"PATH": "/usr/bin:/bin", "GREETING": "hello"}
    return FunctionPool(function, env, capacity, tag="boxoffice-test-pool")


def test_worker_keeps_module_state_and_gets_a_lambda_context():
    pool = _pool()
    try:
        first = pool.invoke({"env": ["GREETING", "DATABASE_URL"]})
        second = pool.invoke({})
        assert first.ok, first.error
        assert first.result["function"] == "CountingFunction"
        assert first.result["env"] == {"GREETING": "hello", "DATABASE_URL": None}
        assert 0 < first.result["remaining_ms"] <= 3000
        assert first.result["request_id"] == first.request_id
        # one warm instance, its module imported once
        assert second.result["pid"] == first.result["pid"]
        assert second.result["calls"] == first.result["calls"] + 1
        failed = pool.invoke({"fail": True})
        assert (failed.ok, failed.error_type, failed.error_message) == (
            False,
            "ValueError",
            "asked to fail",
        )
        # an exception does not cost the instance
        assert pool.invoke({}).result["pid"] == first.result["pid"]
    finally:
        pool.close()


def test_instances_scale_to_the_cap_and_callers_wait():
    pool = _pool(capacity=2)
    results: list[Invocation] = []
    lock = threading.Lock()

    def call() -> None:
        invocation = pool.invoke({"sleep": 0.4})
        with lock:
            results.append(invocation)

    try:
        threads = [threading.Thread(target=call) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(r.ok for r in results)
        assert len({r.result["pid"] for r in results}) == 2
        assert pool.size == 2
    finally:
        pool.close()
    assert pool.size == 0


def test_a_hung_invocation_is_killed_and_its_instance_replaced():
    pool = _pool(capacity=1, timeout=1)
    try:
        warm = pool.invoke({})
        hung = pool.invoke({"sleep": 30})
        assert hung.timed_out
        assert not hung.ok
        assert hung.error_message == "Task timed out after 1.00 seconds"
        assert hung.duration_ms < 5000
        fresh = pool.invoke({})
        assert fresh.ok
        assert fresh.result["pid"] != warm.result["pid"]
        assert fresh.result["calls"] == 1  # a new instance: a cold module
    finally:
        pool.close()


def test_recycling_gives_fresh_instances_after_a_code_change():
    pool = _pool(capacity=2)
    try:
        old = pool.invoke({}).result
        busy = threading.Thread(target=pool.invoke, args=({"sleep": 0.6},))
        busy.start()
        time.sleep(0.3)  # the old instance is now busy with it
        pool.recycle()
        busy.join()
        new = pool.invoke({}).result
        assert new["pid"] != old["pid"]
        assert new["calls"] == 1
        assert pool.size == 1  # the busy old instance went when it finished
    finally:
        pool.close()


def test_a_module_that_cannot_be_imported_is_an_init_error():
    function = Function("Broken", "tests/local/", "no_such_module.handler", 3, {})
    pool = FunctionPool(function, {"PATH": "/usr/bin:/bin"}, 1, tag="boxoffice-test-pool")
    try:
        invocation = pool.invoke({})
        assert not invocation.ok
        assert invocation.error_type == "Runtime.ImportModuleError"
        assert pool.size == 0
    finally:
        pool.close()
