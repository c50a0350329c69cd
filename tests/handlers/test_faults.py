"""A backing service down: every route answers 503 with a code and Retry-After, never 500,
and leaves nothing half-done."""

from __future__ import annotations

import dataclasses
import json

import boto3
import pytest
from botocore.config import Config

from boxoffice import runtime
from boxoffice.stores.admission_queue import AdmissionQueue
from boxoffice.stores.database import LazyConnection
from boxoffice.stores.events import EventStore
from boxoffice.stores.seats import SeatStore
from boxoffice.stores.sessions import SessionStore
from local.postgres import free_port
from tests.support import api_event, invoke_raw, seat_statuses

NOWHERE = f"http://127.0.0.1:{free_port()}"


def unreachable_client(service: str):
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=NOWHERE,
        config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=1),
    )


def answer(name: str, event: dict) -> tuple[int, dict, dict]:
    result = invoke_raw(name, event)
    return result["statusCode"], json.loads(result["body"]), result["multiValueHeaders"]


@pytest.fixture
def no_database(deps):
    down = LazyConnection(lambda: f"postgresql://postgres@127.0.0.1:{free_port()}/x", 1)
    runtime.use(
        dataclasses.replace(deps, events=EventStore(down), seats=SeatStore(down), connection=down)
    )


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("list_events", {}),
        ("get_event", {"event_id": "11111111-1111-4111-8111-111111111111"}),
        ("list_seats", {"event_id": "11111111-1111-4111-8111-111111111111"}),
        (
            "create_checkout",
            {"event_id": "11111111-1111-4111-8111-111111111111", "body": {"seat_ids": ["A-1-1"]}},
        ),
    ],
)
def test_postgres_down_is_503_database_unavailable(no_database, name, kwargs):
    status, body, headers = answer(name, api_event(name, **kwargs))
    assert (status, body["error"]) == (503, "database_unavailable")
    assert int(headers["Retry-After"][0]) > 0


def test_dynamodb_down_is_503_and_the_hold_is_given_back(deps, make_event):
    event_id = make_event(seats=6)
    broken = SessionStore(deps.settings.sessions_table, lambda: unreachable_client("dynamodb"))
    runtime.use(dataclasses.replace(deps, sessions=broken))
    event = api_event("create_checkout", event_id=str(event_id), body={"seat_ids": ["A-1-1"]})
    status, body, headers = answer("create_checkout", event)
    assert (status, body["error"]) == (503, "service_unavailable")
    assert "Retry-After" in headers
    runtime.use(deps)
    assert seat_statuses(event_id)["A-1-1"] == "available"


def test_sqs_down_is_503_and_neither_hold_nor_session_is_left(deps, make_event, aws):
    event_id = make_event(seats=6)
    broken = AdmissionQueue(
        lambda: aws.queue_url, lambda: aws.dlq_url, lambda: unreachable_client("sqs")
    )
    runtime.use(dataclasses.replace(deps, queue=broken))
    event = api_event("create_checkout", event_id=str(event_id), body={"seat_ids": ["A-1-2"]})
    status, body, _ = answer("create_checkout", event)
    assert (status, body["error"]) == (503, "service_unavailable")
    runtime.use(deps)
    assert seat_statuses(event_id)["A-1-2"] == "available"
    items = boto3.client("dynamodb").scan(TableName=deps.settings.sessions_table)["Items"]
    assert items == []
