"""The admission consumer against moto's SQS FIFO queue, driven like the event source."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from importlib import import_module
from itertools import pairwise
from uuid import UUID

import boto3

from tests.support import (
    LambdaContext,
    consume_all,
    consume_once,
    hold,
    hold_each,
    load_event,
    on_checkout,
    receive,
    sqs_lambda_event,
)

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:AdmissionQueue.fifo"


def admit_handler():
    return import_module("functions.admit_checkouts.app").lambda_handler


def slot(deps, checkout_id: str) -> datetime | None:
    """The moment the consumer admitted this checkout at (None: not admitted)."""
    session = deps.sessions.get(UUID(checkout_id))
    assert session is not None
    return session.admitted_at if session.status in ("admitted", "completed") else None


def gaps(times: list[datetime | None]) -> list[float]:
    present = [t for t in times if t is not None]
    assert len(present) == len(times)
    return [(b - a).total_seconds() for a, b in pairwise(present)]


def test_admits_in_arrival_order_never_faster_than_the_rate(deps, make_event, aws):
    event_id = make_event(seats=60, admission_per_second=2)
    made = hold_each(event_id, 50)
    assert consume_all(aws.queue_url) == 50
    spacing = gaps([slot(deps, checkout_id) for checkout_id, _ in made])
    assert min(spacing) >= 0.5  # FIFO (every gap positive) and at most 2 per second
    assert max(spacing) <= 0.5  # and no slot is wasted while people wait


def test_queued_fans_see_their_wait_then_admission(deps, make_event, aws, clock):
    event_id = make_event(seats=12)
    made = hold_each(event_id, 4)
    _, last = on_checkout("get_checkout", *made[-1])
    assert (last["status"], last["position"], last["eta_seconds"]) == ("queued", 3, 3)
    consume_all(aws.queue_url)
    views = [on_checkout("get_checkout", *pair)[1] for pair in made]
    assert [v["status"] for v in views] == ["admitted", "queued", "queued", "queued"]
    assert [v["position"] for v in views] == [0, 0, 1, 2]
    assert [v["eta_seconds"] for v in views] == [0, 1, 2, 3]
    assert views[0]["admitted_at"] is not None
    assert views[1]["admitted_at"] is None
    assert on_checkout("complete_checkout", *made[1])[1]["error"] == "not_admitted"
    clock.advance(1)
    _, second = on_checkout("get_checkout", *made[1])
    assert (second["status"], second["position"]) == ("admitted", 0)
    assert on_checkout("complete_checkout", *made[1])[1]["status"] == "completed"


def test_admission_renews_the_hold_to_checkout_seconds(deps, make_event, aws, clock):
    event_id = make_event(seats=6, hold_seconds=600, checkout_seconds=120)
    ((checkout_id, token),) = hold_each(event_id, 1)
    clock.advance(100)
    consume_all(aws.queue_url)
    _, body = on_checkout("get_checkout", checkout_id, token)
    expires = datetime.fromisoformat(body["expires_at"])
    assert expires == clock.now() + timedelta(seconds=120)
    with deps.connection() as conn:
        row = conn.execute(
            "SELECT held_until FROM seats WHERE checkout_id = %s", (checkout_id,)
        ).fetchone()
    assert row[0] == expires


def test_one_busy_event_does_not_slow_another(deps, make_event, aws, clock):
    busy = make_event(seats=60, admission_per_second=0.5)
    quiet = make_event(seats=12, admission_per_second=1)
    busy_ids = hold_each(busy, 30)
    quiet_ids = hold_each(quiet, 2)
    consume_all(aws.queue_url)
    assert gaps([slot(deps, c) for c, _ in busy_ids]) == [2.0] * 29
    quiet_slots = [slot(deps, c) for c, _ in quiet_ids]
    assert quiet_slots[0] == clock.now()  # not behind the busy event's minute of slots
    assert gaps(quiet_slots) == [1.0]


def test_a_fan_whose_hold_ends_before_their_turn_is_skipped(deps, make_event, aws):
    event_id = make_event(seats=12, hold_seconds=3, admission_per_second=1)
    made = hold_each(event_id, 5)
    consume_all(aws.queue_url)
    admitted = [slot(deps, c) is not None for c, _ in made]
    assert admitted == [True, True, True, False, False]  # slots at +0, +1, +2 s only
    # the last two are told at once, and their seats go back on sale for others
    late = [on_checkout("get_checkout", *pair)[1] for pair in made[3:]]
    assert [view["status"] for view in late] == ["expired", "expired"]
    assert hold(event_id, ["A-1-4", "A-1-5"])[0] == 201


def test_duplicates_and_redeliveries_admit_once(deps, make_event, aws, clock):
    event_id = make_event(seats=12)
    ((checkout_id, _),) = hold_each(event_id, 1)
    messages = receive(aws.queue_url)
    result = admit_handler()(sqs_lambda_event(messages + messages, QUEUE_ARN), LambdaContext())
    assert result["batchItemFailures"] == []
    first = slot(deps, checkout_id)
    assert first is not None
    clock.advance(5)
    result = admit_handler()(sqs_lambda_event(messages, QUEUE_ARN), LambdaContext())
    assert result["batchItemFailures"] == []
    assert slot(deps, checkout_id) == first
    with deps.connection() as conn:
        (next_slot,) = conn.execute("SELECT next_admission_at FROM events").fetchone()
    assert next_slot == first + timedelta(seconds=1)  # one slot taken, not three


def test_poison_goes_to_the_dlq_and_does_not_block_its_event(deps, make_event, aws):
    event_id = make_event(seats=12)
    boto3.client("sqs").send_message(
        QueueUrl=aws.queue_url,
        MessageBody="{not an admission",
        MessageGroupId=str(event_id),
        MessageDeduplicationId="poison-1",
    )
    ((checkout_id, _),) = hold_each(event_id, 1)
    received, failed = consume_once(aws.queue_url)
    assert (received, failed) == (2, set())
    assert slot(deps, checkout_id) is not None
    dead = receive(aws.dlq_url)
    assert [m["Body"] for m in dead] == ["{not an admission"]
    assert dead[0]["Attributes"]["MessageGroupId"] == str(event_id)
    assert receive(aws.queue_url) == []


def test_a_failing_record_returns_later_with_the_rest_of_its_event(deps, make_event, aws):
    event_id = make_event(seats=12)
    other = make_event(seats=12)
    made = hold_each(event_id, 2)
    ((other_id, _),) = hold_each(other, 1)
    messages = receive(aws.queue_url)
    with deps.connection() as conn:  # an outage of this event's pacing row
        conn.execute("ALTER TABLE events RENAME COLUMN next_admission_at TO paused")
    try:
        result = admit_handler()(sqs_lambda_event(messages, QUEUE_ARN), LambdaContext())
    finally:
        with deps.connection() as conn:
            conn.execute("ALTER TABLE events RENAME COLUMN paused TO next_admission_at")
    failed = {item["itemIdentifier"] for item in result["batchItemFailures"]}
    assert len(failed) == 3  # every record failed: the outage hit both events
    assert receive(aws.queue_url) == []  # all back in the queue, each behind a delay
    assert all(slot(deps, c) is None for c, _ in made)
    assert slot(deps, other_id) is None


def test_expired_or_cancelled_while_queued_is_skipped(deps, make_event, aws, clock):
    event_id = make_event(seats=12, hold_seconds=10)
    (expiring, token_a), (cancelled, token_b) = hold_each(event_id, 2)
    assert on_checkout("cancel_checkout", cancelled, token_b)[0] == 200
    clock.advance(10)
    consume_all(aws.queue_url)
    _, first = on_checkout("get_checkout", expiring, token_a)
    _, second = on_checkout("get_checkout", cancelled, token_b)
    assert (first["status"], second["status"]) == ("expired", "cancelled")
    with deps.connection() as conn:
        (next_slot,) = conn.execute("SELECT next_admission_at FROM events").fetchone()
    assert next_slot is None  # skipping takes no admission slot


def test_the_sample_event_runs_through_the_handler(deps, make_event, aws):
    event = load_event("admit_checkouts")
    assert {r["attributes"]["MessageGroupId"] for r in event["Records"]} == {
        json.loads(event["Records"][0]["body"])["event_id"]
    }
    result = admit_handler()(event, LambdaContext())
    assert result["batchItemFailures"] == []  # unknown checkouts are skipped, not retried
    assert receive(aws.dlq_url) == []  # and the sample is a well-formed message


def test_a_newcomer_counts_the_scheduled_fans_still_ahead(deps, make_event, aws, clock):
    event_id = make_event(seats=12)
    hold_each(event_id, 2)
    consume_all(aws.queue_url)  # admitted now and scheduled in 1 s
    clock.advance(0.25)
    ((newcomer, token),) = hold_each(event_id, 1, first_row=2)
    _, body = on_checkout("get_checkout", newcomer, token)
    assert (body["status"], body["position"], body["eta_seconds"]) == ("queued", 1, 2)
    consume_all(aws.queue_url)
    _, body = on_checkout("get_checkout", newcomer, token)
    assert (body["position"], body["eta_seconds"]) == (1, 2)  # its slot is the next free one


def test_a_session_outlives_its_hold_by_the_retention_period(deps, make_event, aws, clock):
    event_id = make_event(seats=6, hold_seconds=30, checkout_seconds=20)
    ((checkout_id, token),) = hold_each(event_id, 1)
    session = deps.sessions.get(UUID(checkout_id))
    assert session is not None
    retention = deps.settings.session_retention_seconds
    assert session.expires_at == session.hold_until.timestamp() + retention  # the TTL
    consume_all(aws.queue_url)
    assert on_checkout("complete_checkout", checkout_id, token)[0] == 200
    paid = deps.sessions.get(UUID(checkout_id))
    assert paid is not None
    assert paid.expires_at == clock.now().timestamp() + deps.settings.paid_session_retention_seconds


def test_a_redelivery_after_an_outage_renews_an_admitted_checkouts_seats(
    deps, make_event, aws, clock
):
    """Postgres failed between admitting the session and renewing its seats: the message
    comes back, and its redelivery gives the seats the admitted hold's end."""
    event_id = make_event(seats=12, hold_seconds=60, checkout_seconds=300)
    ((checkout_id, _),) = hold_each(event_id, 1)
    messages = receive(aws.queue_url)
    assert admit_handler()(sqs_lambda_event(messages, QUEUE_ARN), LambdaContext()) == {
        "batchItemFailures": []
    }
    with deps.connection() as conn:  # as if the renewal had never happened
        conn.execute(
            "UPDATE seats SET held_until = held_until - interval '290 seconds'"
            " WHERE checkout_id = %s",
            (checkout_id,),
        )
    session = deps.sessions.get(UUID(checkout_id))
    result = admit_handler()(sqs_lambda_event(messages, QUEUE_ARN), LambdaContext())
    assert result["batchItemFailures"] == []
    with deps.connection() as conn:
        rows = conn.execute(
            "SELECT held_until FROM seats WHERE checkout_id = %s", (checkout_id,)
        ).fetchall()
    assert rows
    assert {until for (until,) in rows} == {session.hold_until}


def test_a_batch_reads_its_sessions_at_once(deps, make_event, aws):
    """Admitting ten fans costs one BatchGetItem, not ten GetItems (moto's and DynamoDB's
    cost per call, not per item, dominates the consumer)."""
    event_id = make_event(seats=12)
    made = hold_each(event_id, 10)
    calls: list[str] = []
    client = deps.sessions._client()

    def seen(model: object, **_: object) -> None:
        calls.append(getattr(model, "name", ""))

    client.meta.events.register("before-call.dynamodb.*", seen)
    try:
        result = admit_handler()(
            sqs_lambda_event(receive(aws.queue_url), QUEUE_ARN), LambdaContext()
        )
    finally:
        client.meta.events.unregister("before-call.dynamodb.*", seen)
    assert result["batchItemFailures"] == []
    assert all(slot(deps, checkout_id) is not None for checkout_id, _ in made)
    assert calls.count("BatchGetItem") == 1
    assert calls.count("GetItem") == 0
    assert calls.count("UpdateItem") == 10  # one conditional admission each
