"""The TTL-delete stream consumer, fed stream records in AWS's own shape."""

from __future__ import annotations

import copy
from importlib import import_module

import pytest

from tests.support import LambdaContext, consume_all, hold, load_event


def ttl_delete_record(checkout_id: str, event_id: str) -> dict:
    record = copy.deepcopy(load_event("release_expired_sessions")["Records"][0])
    record["dynamodb"]["Keys"]["checkout_id"]["S"] = checkout_id
    record["dynamodb"]["OldImage"]["checkout_id"]["S"] = checkout_id
    record["dynamodb"]["OldImage"]["event_id"]["S"] = event_id
    return record


def run(records: list[dict]) -> dict:
    handler = import_module("functions.release_expired_sessions.app").lambda_handler
    return handler({"Records": records}, LambdaContext(function_name="release_expired_sessions"))


def ttl_delete(event_id: str, *checkouts: dict) -> dict:
    """The stream function, fed one TTL delete record for each of `checkouts` (201 bodies)."""
    return run([ttl_delete_record(checkout["checkout_id"], event_id) for checkout in checkouts])


@pytest.fixture
def event_id(make_event) -> str:
    """An event whose holds last 30 s."""
    return str(make_event(seats=6, hold_seconds=30))


def held_by(deps, checkout_id: str) -> list[str]:
    with deps.connection() as conn:
        rows = conn.execute(
            "SELECT seat_id FROM seats WHERE checkout_id = %s ORDER BY seat_id", (checkout_id,)
        ).fetchall()
    return [r[0] for r in rows]


def test_sample_is_a_ttl_delete():
    record = load_event("release_expired_sessions")["Records"][0]
    assert record["eventName"] == "REMOVE"
    assert record["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


def test_a_ttl_delete_releases_the_expired_holds(deps, event_id, clock):
    _, body = hold(event_id, ["A-1-1", "A-1-2"])
    clock.advance(31)
    assert ttl_delete(event_id, body) == {"batchItemFailures": []}
    assert held_by(deps, body["checkout_id"]) == []


def test_a_live_hold_is_never_released(deps, event_id, aws, clock):
    _, body = hold(event_id, ["A-1-1"])
    consume_all(aws.queue_url)  # admitted: the hold now runs 300 s from admission
    clock.advance(31)
    ttl_delete(event_id, body)
    assert held_by(deps, body["checkout_id"]) == ["A-1-1"]


def test_a_holder_check_protects_the_next_fan(deps, event_id, clock):
    _, first = hold(event_id, ["A-1-1"])
    clock.advance(31)
    _, second = hold(event_id, ["A-1-1"])  # the seat passed to a new fan before TTL ran
    ttl_delete(event_id, first)
    assert held_by(deps, second["checkout_id"]) == ["A-1-1"]


def test_a_record_without_an_image_fails_alone(deps, event_id, clock):
    _, body = hold(event_id, ["A-1-1"])
    clock.advance(31)
    broken = ttl_delete_record(body["checkout_id"], event_id)
    del broken["dynamodb"]["OldImage"]
    good = ttl_delete_record(body["checkout_id"], event_id)
    result = run([broken, good])
    assert result["batchItemFailures"] == [{"itemIdentifier": broken["dynamodb"]["SequenceNumber"]}]
    assert held_by(deps, body["checkout_id"]) == []
