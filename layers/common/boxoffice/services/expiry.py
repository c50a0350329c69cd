"""Giving expired holds back. Correctness never waits for this (a hold past its time is free
at read and at claim); these keep the tables tidy and the sessions' statuses true."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from boxoffice.dependencies import Dependencies
from boxoffice.errors import PaymentUnavailable, PoisonMessage
from boxoffice.ids import parse_uuid
from boxoffice.models.checkouts import LIVE_STATUSES
from boxoffice.observability import MetricUnit, logger, metrics
from boxoffice.services.payment_sessions import (
    expire_ended_payment_sessions,
    expire_stripe_session,
)

_SWEEP_PASSES = 20


def release_deleted_session(deps: Dependencies, record: DynamoDBRecord) -> list[str]:
    """A TTL delete of a session: free the seats it still holds, if their time has passed."""
    image: dict[str, Any] = (record.dynamodb.old_image if record.dynamodb else None) or {}
    checkout_id = parse_uuid(str(image.get("checkout_id", "")))
    event_id = parse_uuid(str(image.get("event_id", "")))
    if checkout_id is None or event_id is None:
        raise PoisonMessage("stream record without a session's old image")
    released, _ = deps.seats.release(event_id, checkout_id, ended_by=deps.clock.now())
    stripe_session = image.get("payment_session_id")
    # A Stripe session the sweeper has not closed is closed now (raising lets the stream
    # retry the record).
    open_session = image.get("payment_open") and isinstance(stripe_session, str)
    if open_session and not expire_stripe_session(deps, checkout_id, str(stripe_session)):
        raise PaymentUnavailable("the Stripe session could not be expired yet")
    if released:
        metrics.add_metric(name="SeatsReleasedByTtl", unit=MetricUnit.Count, value=len(released))
        logger.info(
            "seats released after TTL delete",
            extra={"checkout_id": str(checkout_id), "seats": len(released)},
        )
    return released


def process_stream(
    deps: Dependencies, event: dict[str, Any], context: LambdaContext
) -> PartialItemFailureResponse:
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    with processor(
        records=event["Records"],
        handler=lambda record: release_deleted_session(deps, record),
        lambda_context=context,
    ):
        processor.process()
    return processor.response()


@dataclass(frozen=True)
class SweepResult:
    seats_released: int
    sessions_expired: int
    payments_closed: int = 0  # Stripe sessions of ended holds expired so none can be paid


def sweep(deps: Dependencies) -> SweepResult:
    """Free every hold past its time and mark its session expired.

    Safe beside everything else: rows another transaction holds are skipped (the next run
    gets them), and a session is only marked expired if it is live and past its time.
    """
    seats = sessions = 0
    for _ in range(_SWEEP_PASSES):
        now = deps.clock.now()
        released = deps.seats.release_expired(now)
        if not released:
            break
        for hold in released:
            seats += len(hold.seat_ids)
            if deps.sessions.transition(hold.checkout_id, "expired", LIVE_STATUSES, ended_by=now):
                sessions += 1
    if seats:
        metrics.add_metric(name="SeatsReleasedBySweeper", unit=MetricUnit.Count, value=seats)
    payments = expire_ended_payment_sessions(deps, deps.clock.now())
    logger.info(
        "sweep done",
        extra={"seats_released": seats, "sessions_expired": sessions, "payments_closed": payments},
    )
    return SweepResult(seats_released=seats, sessions_expired=sessions, payments_closed=payments)
