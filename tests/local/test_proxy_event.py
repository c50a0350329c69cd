"""Request -> event: the gateway hands a function API Gateway's REST proxy event (version
1.0), its body as text or base64."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from werkzeug.test import Client, EnvironBuilder
from werkzeug.wrappers import Request

from local.gateway import request_event
from tests.local.support import FakeInvoker, gateway


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
    invoker = FakeInvoker()
    Client(gateway(invoker)).post("/events", data=b"\xff\xfe{", content_type="application/json")
    sent = invoker.calls[0][1]
    assert sent["isBase64Encoded"] is True
    assert base64.b64decode(sent["body"]) == b"\xff\xfe{"
