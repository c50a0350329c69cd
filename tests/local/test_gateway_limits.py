"""The local gateway mirrors API Gateway's limits: the 10 MB payload quota (413 above it,
refused before the body is read) and the stage's throttling from template.yaml (429
`rate_limited` with Retry-After, a token bucket per client address)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from local import template
from local.config import API_GATEWAY_MAX_PAYLOAD_BYTES, Config
from local.throttle import MethodThrottle, Throttle
from tests.local.stack import ADMIN_KEY, StackProcess, running_stack
from tests.local.support import FakeInvoker, body, gateway

TEN_MB = 10 * 1024 * 1024


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ------------------------------------------------------------------- the payload limit
def test_the_body_cap_is_api_gateways_10_mb():
    assert API_GATEWAY_MAX_PAYLOAD_BYTES == 10_485_760
    assert Config.from_env({}).max_body_bytes == 10_485_760
    assert Config.from_env({"MAX_BODY_BYTES": "2048"}).max_body_bytes == 2048


def test_body_size_is_capped():
    recorder = FakeInvoker()
    client = Client(gateway(recorder, max_body_bytes=1000))
    assert client.post("/events", data=b"x" * 1000).status_code == 200
    answer = client.post("/events", data=b"x" * 1001)
    assert answer.status_code == 413
    assert body(answer)["error"] == "payload_too_large"
    assert len(recorder.calls) == 1


def _post(port: int, data: bytes, source: str = "127.0.0.1") -> tuple[int, dict[str, str], Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    try:
        conn.request("POST", "/events", body=data, headers={"Content-Type": "application/json"})
        answer = conn.getresponse()
        return answer.status, dict(answer.getheaders()), json.loads(answer.read() or b"null")
    finally:
        conn.close()


def test_a_body_at_the_cap_passes_and_one_byte_more_is_413_over_the_wire(served):
    server, recorder = served
    status, _, answer = _post(server.port, b"x" * TEN_MB)
    assert (status, answer) == (200, {"function": "CreateEventFunction"})
    assert len(recorder.calls[0][1]["body"]) == TEN_MB
    # the whole over-cap body is sent, as a client would: the 413 arrives (no reset)
    status, headers, answer = _post(server.port, b"x" * (TEN_MB + 1))
    assert status == 413
    assert answer["error"] == "payload_too_large"
    assert answer["max_body_bytes"] == TEN_MB
    assert headers["Content-Type"] == "application/json"
    assert len(recorder.calls) == 1


def test_an_over_cap_content_length_is_refused_before_the_body_is_read(served):
    server, recorder = served
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        began = time.perf_counter()
        conn.sendall(
            b"POST /events HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000000000\r\n\r\n" + b"x" * 1000
        )
        received = b""
        while b"\r\n\r\n" not in received or not received.endswith(b"}"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
        took = time.perf_counter() - began
    head, _, content = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert json.loads(content)["error"] == "payload_too_large"
    assert recorder.calls == []
    print(f"\n413 for a 1 GB Content-Length (1 KB sent) answered in {took * 1000:.1f} ms")
    assert took < 5  # a generous bound: it did not wait for a gigabyte


# --------------------------------------------------------------------------- throttling
def test_each_client_has_its_own_bucket_and_static_files_are_not_throttled():
    clock = FakeClock()
    throttle = Throttle([MethodThrottle("/*", "*", rate=1, burst=3)], clock=clock)
    recorder = FakeInvoker()
    client = Client(gateway(recorder, throttle=throttle))
    one = {"REMOTE_ADDR": "10.0.0.1"}
    two = {"REMOTE_ADDR": "10.0.0.2"}
    statuses = [client.get("/events", environ_base=one).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    refused = client.post("/events", data=b"{}", environ_base=one)
    assert refused.status_code == 429
    assert body(refused)["error"] == "rate_limited"
    assert body(refused)["message"]
    assert refused.headers["Retry-After"] == "1"
    for name, value in template.gateway_response_headers().items():
        assert refused.headers[name] == value
    # nobody else is slowed: another address has a full bucket
    assert [client.get("/events", environ_base=two).status_code for _ in range(3)] == [200] * 3
    # the page's files are never throttled
    assert client.get("/", environ_base=one).status_code == 200
    assert len(recorder.calls) == 6  # the refused requests reached no function
    clock.now += 1.0  # one token a second
    assert client.get("/events", environ_base=one).status_code == 200
    assert client.get("/events", environ_base=one).status_code == 429
    clock.now += 0.25
    assert client.get("/events", environ_base=one).headers["Retry-After"] == "1"


def test_retry_after_is_whole_seconds_until_a_token():
    clock = FakeClock()
    throttle = Throttle([MethodThrottle("/*", "*", rate=0.2, burst=1)], clock=clock)
    assert throttle.take("c", "/events", "GET") is None
    refusal = throttle.take("c", "/events", "GET")
    assert refusal is not None
    assert refusal.retry_after == 5
    clock.now += 3.5
    refusal = throttle.take("c", "/events", "GET")
    assert refusal is not None
    assert refusal.retry_after == 2  # 1.5 s left, rounded up


def test_the_most_specific_method_setting_wins(tmp_path: Path):
    text = """
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
      MethodSettings:
        - ResourcePath: "/*"
          HttpMethod: "*"
          ThrottlingBurstLimit: 200
          ThrottlingRateLimit: 100
        - ResourcePath: "/~1events~1{event_id}~1checkouts"
          HttpMethod: "POST"
          ThrottlingBurstLimit: 4
          ThrottlingRateLimit: 2
        - ResourcePath: "/*"
          HttpMethod: "POST"
          ThrottlingBurstLimit: 50
          ThrottlingRateLimit: 25
        - ResourcePath: "/*"
          HttpMethod: "GET"
          MetricsEnabled: true
"""
    path = tmp_path / "template.yaml"
    path.write_text(text, encoding="utf-8")
    found = template.stage_throttling(path)
    assert found == [
        ("/*", "*", 100.0, 200),
        ("/events/{event_id}/checkouts", "POST", 2.0, 4),
        ("/*", "POST", 25.0, 50),
    ]
    throttle = Throttle(MethodThrottle(*entry) for entry in found)
    pick = throttle.setting_for
    assert pick("/events/{event_id}/checkouts", "POST").burst == 4  # type: ignore[union-attr]
    assert pick("/events", "POST").burst == 50  # type: ignore[union-attr]
    assert pick("/events/{event_id}/checkouts", "GET").burst == 200  # type: ignore[union-attr]
    # the specific entry has buckets of its own: spending it leaves the others alone
    for _ in range(4):
        assert throttle.take("c", "/events/{event_id}/checkouts", "POST") is None
    assert throttle.take("c", "/events/{event_id}/checkouts", "POST") is not None
    assert throttle.take("c", "/events", "POST") is None


def test_the_template_stage_throttling_is_the_default():
    assert ("/*", "*", 100.0, 200) in template.stage_throttling()
    assert Config.from_env({}).rate_limit is None
    limited = Config.from_env({"GATEWAY_RATE_LIMIT": "2.5", "GATEWAY_BURST_LIMIT": "7"})
    assert (limited.rate_limit, limited.burst_limit) == (2.5, 7)
    assert Config.from_env({"GATEWAY_THROTTLING": "0"}).throttling is False


def test_a_full_bucket_table_forgets_refilled_clients():
    clock = FakeClock()
    throttle = Throttle([MethodThrottle("/*", "*", rate=10, burst=2)], clock=clock, max_clients=8)
    for n in range(100):
        throttle.take(f"client-{n}", "/events", "GET")
        clock.now += 0.01
    assert len(throttle._buckets) <= 8


# ---------------------------------------------------------------- through the local stack
RATE, BURST = 2, 5


@pytest.fixture(scope="module")
def stack(database_url: str) -> Iterator[StackProcess]:
    with running_stack(
        database_url,
        SEED_DEMO="0",
        PAYMENT_PROVIDER="test",
        GATEWAY_RATE_LIMIT=str(RATE),
        GATEWAY_BURST_LIMIT=str(BURST),
    ) as running:
        yield running


def _request(
    port: int,
    method: str,
    path: str,
    source: str,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(source, 0))
    try:
        conn.request(method, path, body=data, headers=headers or {})
        answer = conn.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        conn.close()


def largest_event(seats: int) -> dict[str, Any]:
    sections = ["Floor", "Mezzanine", "Balcony", "Box"]
    per_row = 50
    return {
        "name": "The largest event",
        "venue": "Stadium",
        "starts_at": "2099-01-01T20:00:00Z",
        "seats": [
            {
                "seat_id": f"{'FMBX'[n % 4]}-{n // (4 * per_row)}-{(n // 4) % per_row + 1}",
                "section": sections[n % 4],
                "row": f"R{n // (4 * per_row)}",
                "number": (n // 4) % per_row + 1,
                "price_cents": 5000 + 100 * (n % 7),
            }
            for n in range(seats)
        ],
    }


def test_the_largest_event_is_created_through_the_gateway(stack):
    source = "127.0.0.3"  # a client of its own: the other tests' buckets do not matter
    spec = largest_event(20_000)
    data = json.dumps(spec).encode()
    assert 1_000_000 < len(data) < TEN_MB
    began = time.perf_counter()
    status, _, raw = _request(
        stack.port,
        "POST",
        "/events",
        source,
        data,
        {"Content-Type": "application/json", "x-api-key": ADMIN_KEY},
    )
    took = time.perf_counter() - began
    assert status == 201, raw[:300]
    created = json.loads(raw)
    assert created["seats_total"] == 20_000
    status, _, raw = _request(stack.port, "GET", f"/events/{created['id']}/seats", source)
    assert status == 200
    seats = json.loads(raw)
    assert len(seats) == 20_000
    assert {s["seat_id"] for s in seats} == {s["seat_id"] for s in spec["seats"]}
    assert {s["status"] for s in seats} == {"available"}
    print(
        f"\nPOST /events with 20,000 seats ({len(data) / 1e6:.2f} MB): 201 in {took:.2f} s;"
        f" its seat map read back ({len(raw) / 1e6:.2f} MB)"
    )
    # one byte over the cap: 413 from the gateway, the function never sees it
    status, _, raw = _request(
        stack.port, "POST", "/events", source, b" " * (TEN_MB + 1), {"x-api-key": ADMIN_KEY}
    )
    assert (status, json.loads(raw)["error"]) == (413, "payload_too_large")


def test_a_client_bursting_past_the_limit_gets_429_while_another_is_served(stack):
    lines_before = len(stack.lines)
    burster, other = "127.0.0.1", "127.0.0.2"
    results: list[tuple[int, dict[str, str], bytes]] = []
    others: list[int] = []
    lock = threading.Lock()

    def burst() -> None:
        answer = _request(stack.port, "GET", "/events", burster)
        with lock:
            results.append(answer)

    threads = [threading.Thread(target=burst) for _ in range(30)]
    for thread in threads:
        thread.start()
    # meanwhile, the other client asks at its own pace (within its own limit)
    for _ in range(BURST):
        others.append(_request(stack.port, "GET", "/events", other)[0])
    for thread in threads:
        thread.join(30)
    served = [r for r in results if r[0] == 200]
    refused = [r for r in results if r[0] == 429]
    assert len(served) + len(refused) == 30, sorted({r[0] for r in results})
    assert BURST <= len(served) <= BURST + 2 * RATE  # the burst, plus what refilled meanwhile
    for _, headers, raw in refused:
        answer = json.loads(raw)
        assert answer["error"] == "rate_limited"
        assert answer["message"]
        assert int(headers["Retry-After"]) >= 1
    assert others == [200] * BURST  # nobody else was slowed or refused
    # the refused requests never reached a function: one invocation line per 200
    time.sleep(0.3)
    invoked = [line for line in stack.lines[lines_before:] if " ListEventsFunction " in line]
    assert len(invoked) == len(served) + len(others)
    # the page is not throttled
    assert _request(stack.port, "GET", "/", burster)[0] == 200
    print(
        f"\n30 requests at once from {burster}: {len(served)} served, {len(refused)} refused"
        f" with 429 (Retry-After {sorted({r[1]['Retry-After'] for r in refused})});"
        f" {other}: {others.count(200)}/{len(others)} served meanwhile"
    )
