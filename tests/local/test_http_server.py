"""The gateway's HTTP server over a raw socket, as the local stack runs it: requests it
cannot parse get a JSON 4xx with the gateway's headers and no log line; well-formed ones
pass; HEAD is answered where API Gateway answers it."""

from __future__ import annotations

import json
import logging
import socket

import pytest

from local import template
from tests.support import ROOT


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


def request(line: bytes, *headers: bytes, body: bytes = b"") -> bytes:
    """A request as bytes on the wire: its request line, Host and `headers`, then `body`."""
    return b"\r\n".join([line, b"Host: localhost", *headers, b""]) + b"\r\n" + body


def bad_request(raw: bytes) -> tuple[bytes, int, str]:
    return raw, 400, "bad_request"


MALFORMED_REQUESTS = {
    "url over 64 KB": (
        request(b"GET /events/" + b"e" * 100_000 + b" HTTP/1.1"),
        414,
        "uri_too_long",
    ),
    "header line over 64 KB": (
        request(b"GET /events HTTP/1.1", b"X-Big: " + b"b" * 70_000),
        431,
        "headers_too_large",
    ),
    "over 100 headers": (
        request(b"GET /events HTTP/1.1", *(b"X-Header-%d: v" % n for n in range(150))),
        431,
        "headers_too_large",
    ),
    "no method, path or version": bad_request(b"HELLO\r\n\r\n"),
    "HTTP/9.9": bad_request(request(b"GET /events HTTP/9.9")),
    "HTTP/2.0 in plain text": bad_request(request(b"GET /events HTTP/2.0")),
    "a version that is no version": bad_request(request(b"GET /events HTTP/x")),
    "four words": bad_request(b"GET /events and more HTTP/1.1\r\n\r\n"),
    "HTTP/0.9 (no version)": bad_request(b"GET /events\r\n\r\n"),
    "HTTP/0.9 POST": bad_request(b"POST /events\r\n\r\n"),
    "a target that is no URL": bad_request(request(b"GET http://[::1 HTTP/1.1")),
    "a broken chunked body": bad_request(
        request(
            b"POST /events HTTP/1.1",
            b"Transfer-Encoding: chunked",
            body=b"zz\r\nabc\r\n0\r\n\r\n",
        )
    ),
}


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    list(MALFORMED_REQUESTS.values()),
    ids=list(MALFORMED_REQUESTS),
)
def test_requests_the_server_refuses_get_a_json_4xx(served, caplog, request_bytes, status, code):
    server, invoker = served
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
    assert invoker.calls == []
    # quiet: refusing bad input is not worth a log line
    assert [r.getMessage() for r in caplog.records if r.name == "werkzeug"] == []


def test_well_formed_requests_still_pass_over_the_wire(served):
    server, invoker = served
    for version in (b"HTTP/1.1", b"HTTP/1.0"):
        status, headers, content = raw_exchange(server.port, request(b"GET /events " + version))
        assert (status, json.loads(content)) == (200, {"function": "ListEventsFunction"})
        assert headers["content-type"] == "application/json"
    assert len(invoker.calls) == 2


def test_head_on_an_api_route_is_405_as_no_head_method_is_defined(served):
    # API Gateway REST answers HEAD only where the API defines HEAD (or ANY); the template
    # defines GET, so HEAD is refused like any other undefined method, without a body.
    server, invoker = served
    status, headers, content = raw_exchange(server.port, request(b"HEAD /events HTTP/1.1"))
    assert status == 405
    assert headers["content-type"] == "application/json"
    assert "GET" in headers["allow"].split(", ")
    assert content == b""
    assert invoker.calls == []
    # the page's files are static, and HEAD on them answers like GET without a body
    status, headers, content = raw_exchange(server.port, request(b"HEAD /app.js HTTP/1.1"))
    assert status == 200
    assert int(headers["content-length"]) == (ROOT / "web" / "app.js").stat().st_size
    assert content == b""
