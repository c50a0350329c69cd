"""Test helpers shared by every suite: a fake clock, API events from events/, invariants."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import import_module
from pathlib import Path
from typing import Any
from uuid import uuid4

from boxoffice.models.events import EventSpec

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
PLACEHOLDER_EVENT = "11111111-1111-4111-8111-111111111111"
PLACEHOLDER_CHECKOUT = "22222222-2222-4222-8222-222222222222"


class FakeClock:
    """A clock the test moves."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)


@dataclass
class LambdaContext:
    """The fields of the Lambda context object that Powertools reads."""

    function_name: str = "test-function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"
    remaining_ms: int = 30_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def load_event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return loaded


def api_event(
    name: str,
    *,
    event_id: str | None = None,
    checkout_id: str | None = None,
    body: Any = None,
    raw_body: str | None = None,
    token: str | None = None,
    headers: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """events/<name>.json with ids, body and headers filled in for this test."""
    event = copy.deepcopy(load_event(name))
    text = json.dumps(event)
    if event_id is not None:
        text = text.replace(PLACEHOLDER_EVENT, event_id)
    if checkout_id is not None:
        text = text.replace(PLACEHOLDER_CHECKOUT, checkout_id)
    event = json.loads(text)
    if body is not None:
        event["body"] = json.dumps(body)
    if raw_body is not None:
        event["body"] = raw_body
    event["headers"] = dict(event.get("headers") or {})
    if token is not None:
        event["headers"]["Authorization"] = f"Bearer {token}"
    for key, value in (headers or {}).items():
        if value is None:
            event["headers"].pop(key, None)
        else:
            event["headers"][key] = value
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    return event


def invoke_raw(name: str, event: dict[str, Any]) -> dict[str, Any]:
    """Run functions/<name>/app.py's handler; return its proxy result as it is."""
    handler = import_module(f"functions.{name}.app").lambda_handler
    result: dict[str, Any] = handler(event, LambdaContext(function_name=name))
    return result


def invoke(name: str, event: dict[str, Any]) -> tuple[int, Any]:
    """Run functions/<name>/app.py's handler; return (status, decoded JSON body)."""
    result = invoke_raw(name, event)
    body = result.get("body")
    return result["statusCode"], json.loads(body) if body else None


def event_spec(
    seats: int = 12,
    *,
    hold_seconds: int = 600,
    checkout_seconds: int = 300,
    admission_per_second: float = 1,
    name: str | None = None,
    max_held_per_client: int = 10_000,  # the handler tests all hold from one address
    starts_at: str = "2031-06-01T19:30:00Z",
) -> EventSpec:
    per_row = 6
    return EventSpec.model_validate(
        {
            "name": name or f"Event {uuid4().hex[:6]}",
            "venue": "Main Hall",
            "starts_at": starts_at,
            "max_held_per_client": max_held_per_client,
            "hold_seconds": hold_seconds,
            "checkout_seconds": checkout_seconds,
            "admission_per_second": admission_per_second,
            "seats": [
                {
                    "seat_id": f"A-{i // per_row + 1}-{i % per_row + 1}",
                    "section": "A",
                    "row": str(i // per_row + 1),
                    "number": i % per_row + 1,
                    "price_cents": 2500 + 500 * (i // per_row),
                }
                for i in range(seats)
            ],
        }
    )


def hold(event_id: object, seat_ids: list[str]) -> tuple[int, Any]:
    """POST /events/{event_id}/checkouts through its handler."""
    return invoke(
        "create_checkout",
        api_event("create_checkout", event_id=str(event_id), body={"seat_ids": seat_ids}),
    )


def hold_each(event_id: object, count: int, first_row: int = 1) -> list[tuple[str, str]]:
    """`count` checkouts of one seat each, A-<first_row>-1 onwards (six seats a row), held
    through the handler: their (checkout id, token)."""
    made = []
    for n in range(count):
        status, body = hold(event_id, [f"A-{first_row + n // 6}-{n % 6 + 1}"])
        assert status == 201, body
        made.append((body["checkout_id"], body["token"]))
    return made


def on_checkout(name: str, checkout_id: str, token: str | None) -> tuple[int, Any]:
    """GET, DELETE or complete a checkout through its handler, with its bearer token."""
    event = api_event(name, checkout_id=checkout_id, headers={"Authorization": None})
    if token is not None:
        event = api_event(name, checkout_id=checkout_id, token=token)
    return invoke(name, event)


def sqs_lambda_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """Messages from ReceiveMessage in the shape Lambda's SQS event source delivers (the
    local stack's own mapping makes them the same way)."""
    from local.sources import sqs_record

    return {"Records": [sqs_record(message, queue_arn) for message in messages]}


def receive(queue_url: str, max_messages: int = 10) -> list[dict[str, Any]]:
    import boto3

    answer = boto3.client("sqs").receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=max_messages,
        AttributeNames=["All"],
        MessageSystemAttributeNames=["All"],
    )
    return [dict(message) for message in answer.get("Messages", [])]


def consume_once(queue_url: str, remaining_ms: int = 30_000) -> tuple[int, set[str]]:
    """One poll of the admission queue, as Lambda's event source mapping does it.

    Receives a batch, runs the consumer, deletes what it did not report as failed.
    Returns (messages received, ids reported failed).
    """
    import boto3

    sqs = boto3.client("sqs")
    messages = receive(queue_url)
    if not messages:
        return 0, set()
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    handler = import_module("functions.admit_checkouts.app").lambda_handler
    result = handler(
        sqs_lambda_event(messages, arn),
        LambdaContext(function_name="admit_checkouts", remaining_ms=remaining_ms),
    )
    failed = {item["itemIdentifier"] for item in result["batchItemFailures"]}
    for message in messages:
        if message["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return len(messages), failed


def consume_all(queue_url: str, rounds: int = 100) -> int:
    """Poll until the queue gives nothing more; return the messages handled."""
    handled = 0
    for _ in range(rounds):
        received, failed = consume_once(queue_url)
        if not received:
            return handled
        handled += received - len(failed)
    raise AssertionError("the admission queue did not drain")


def seat_statuses(event_id: object) -> dict[str, str]:
    """GET /events/{event_id}/seats through its handler, as {seat_id: status}."""
    status, seats = invoke("list_seats", api_event("list_seats", event_id=str(event_id)))
    assert status == 200, seats
    return {seat["seat_id"]: seat["status"] for seat in seats}
