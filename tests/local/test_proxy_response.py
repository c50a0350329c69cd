"""Result -> response: a function's proxy result becomes the HTTP answer as API Gateway
makes it; a malformed result, a function error or timeout, and a bug in the gateway
itself are JSON 502, 504 and 500."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from werkzeug.test import Client

from local import template
from local.gateway import MalformedProxyResponse, proxy_response
from local.lambdas import Invocation
from local.template import Function
from tests.local.support import FakeInvoker, body, gateway


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
    answer = Client(gateway(FakeInvoker(lambda event: result))).get("/events")
    assert answer.status_code == 502
    assert body(answer) == {"message": "Internal server error"}


def test_function_errors_and_timeouts_are_502_and_504():
    failed = Client(gateway(FakeInvoker(error_type="ValueError", error_message="boom")))
    answer = failed.get("/events")
    assert (answer.status_code, body(answer)) == (502, {"message": "Internal server error"})
    for name, value in template.gateway_response_headers().items():
        assert answer.headers[name] == value
    timed_out = Client(
        gateway(FakeInvoker(timed_out=True, error_type="Sandbox.Timedout", error_message="late"))
    )
    answer = timed_out.get("/events")
    assert (answer.status_code, body(answer)) == (504, {"message": "Endpoint request timed out"})


def test_a_gateway_bug_is_a_json_500_not_an_html_page(capsys):
    class Broken:
        def invoke(self, function: Function, event: dict[str, Any], **kwargs: Any) -> Invocation:
            raise RuntimeError("a bug in the gateway")

    answer = Client(gateway(Broken())).get("/events")
    assert answer.status_code == 500
    assert answer.headers["Content-Type"] == "application/json"
    assert body(answer) == {"message": "Internal server error"}
    assert "RuntimeError: a bug in the gateway" in capsys.readouterr().err
