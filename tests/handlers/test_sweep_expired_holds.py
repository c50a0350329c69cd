"""The scheduled sweeper, run with the scheduled event from events/."""

from __future__ import annotations

from importlib import import_module
from uuid import UUID

from tests.support import LambdaContext, consume_all, hold, load_event


def sweep() -> dict:
    handler = import_module("functions.sweep_expired_holds.app").lambda_handler
    return handler(load_event("sweep_expired_holds"), LambdaContext())


def test_sweeps_expired_holds_and_marks_sessions(deps, make_event, aws, clock):
    event_id = make_event(seats=12, hold_seconds=30)
    _, expiring = hold(event_id, ["A-1-1", "A-1-2"])
    clock.advance(20)
    _, live = hold(event_id, ["A-1-3"])
    clock.advance(11)
    assert sweep() == {"seats_released": 2, "sessions_expired": 1, "payments_closed": 0}
    gone = deps.sessions.get(UUID(expiring["checkout_id"]))
    kept = deps.sessions.get(UUID(live["checkout_id"]))
    assert gone is not None
    assert kept is not None
    assert (gone.status, kept.status) == ("expired", "queued")
    assert sweep() == {"seats_released": 0, "sessions_expired": 0, "payments_closed": 0}
    consume_all(aws.queue_url)  # the expired one is skipped; the live one admitted
    admitted = deps.sessions.get(UUID(live["checkout_id"]))
    assert admitted is not None
    assert admitted.status == "admitted"


def test_never_touches_booked_seats(deps, make_event, aws, clock):
    event_id = make_event(seats=6, hold_seconds=30, checkout_seconds=30)
    _, paid = hold(event_id, ["A-1-1"])
    consume_all(aws.queue_url)
    complete = import_module("functions.complete_checkout.app").lambda_handler
    from tests.support import api_event

    event = api_event("complete_checkout", checkout_id=paid["checkout_id"], token=paid["token"])
    assert complete(event, LambdaContext())["statusCode"] == 200
    clock.advance(3600)
    assert sweep() == {"seats_released": 0, "sessions_expired": 0, "payments_closed": 0}
