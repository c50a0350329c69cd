"""POST /checkouts/{id}/payment under Stripe: Checkout Sessions made once, against the offline
Stripe stand-in over real HTTP (key replay, the 30-minute floor, faults), and expired when
the hold ends first."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from importlib import import_module

import pytest

from boxoffice.models.checkouts import Session
from local.stripe_standin import Fault, StripeStandIn, sign
from tests.handlers.support import held_seats
from tests.support import (
    FakeClock,
    LambdaContext,
    api_event,
    invoke,
    invoke_raw,
    load_event,
    on_checkout,
)


@pytest.fixture
def clock() -> FakeClock:
    # Stripe checks `expires_at` against the real time, so this clock starts now.
    return FakeClock(datetime.now(UTC))


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"payment_provider": "stripe"})


def start(checkout_id: str, token: str) -> dict:
    return invoke_raw(
        "start_payment", api_event("start_payment", checkout_id=checkout_id, token=token)
    )


def body(result: dict) -> dict:
    return json.loads(result["body"])


def stored(deps, checkout_id: str) -> Session:
    from uuid import UUID

    session = deps.sessions.get(UUID(checkout_id))
    assert session is not None
    return session


def sweep() -> dict:
    handler = import_module("functions.sweep_expired_holds.app").lambda_handler
    return handler(load_event("sweep_expired_holds"), LambdaContext())


def created(standin: StripeStandIn) -> list[dict]:
    return [c for c in standin.calls if c["endpoint"] == "create_session"]


def webhook(standin: StripeStandIn, kind: str, session: dict) -> tuple[int, dict]:
    payload = standin.event(kind, session)
    event = api_event(
        "handle_stripe_webhook",
        raw_body=payload,
        headers={"Stripe-Signature": sign(payload, standin.webhook_secret)},
    )
    return invoke("handle_stripe_webhook", event)


def test_a_checkout_session_carries_the_checkouts_facts(admitted, stripe_standin, clock):
    _event_id, checkout_id, token = admitted
    answer = start(checkout_id, token)
    assert answer["statusCode"] == 200, answer
    paid = body(answer)
    [session] = stripe_standin.sessions.values()
    assert paid["provider"] == "stripe"
    assert (paid["session_id"], paid["payment_url"]) == (session["id"], session["url"])
    assert paid["amount_cents"] == session["amount_total"] == 5000
    assert datetime.fromisoformat(paid["expires_at"]).timestamp() == session["expires_at"]
    assert paid["hold_expires_at"] < paid["expires_at"]
    assert session["client_reference_id"] == session["metadata"]["checkout_id"] == checkout_id
    assert session["currency"] == "usd"
    items = session["line_items"]
    assert [int(i["price_data"]["unit_amount"]) for i in items] == [2500, 2500]
    assert all(i["quantity"] == "1" for i in items)
    assert "row 1, seat 1" in items[0]["price_data"]["product_data"]["name"]
    # the hold ends in 30 s, so the session lasts Stripe's minimum: 30 minutes from now
    assert 1800 <= session["expires_at"] - clock.now().timestamp() <= 1800 + 15
    assert session["success_url"] == (
        f"http://127.0.0.1:3000/?checkout={checkout_id}&payment=success"
    )
    assert session["cancel_url"].endswith("&payment=cancelled")


def test_asking_again_answers_the_same_session(admitted, stripe_standin):
    _, checkout_id, token = admitted
    first, again = body(start(checkout_id, token)), body(start(checkout_id, token))
    assert first == again
    assert len(stripe_standin.sessions) == len(created(stripe_standin)) == 1


def test_stripe_failing_answers_503_and_the_hold_stays(admitted, stripe_standin, deps):
    event_id, checkout_id, token = admitted
    stripe_standin.faults["create_session"] = Fault("error", 1)
    began = time.monotonic()
    failed = start(checkout_id, token)
    print(f"Stripe 500: 503 after {time.monotonic() - began:.3f} s")
    assert failed["statusCode"] == 503
    assert body(failed)["error"] == "payment_unavailable"
    assert int(failed["multiValueHeaders"]["Retry-After"][0]) > 0
    assert held_seats(event_id) == {"A-1-1": "held", "A-1-2": "held"}
    assert on_checkout("get_checkout", checkout_id, token)[1]["status"] == "admitted"
    # Stripe keeps that 500 under the key: the retry takes a new key and succeeds
    retried = start(checkout_id, token)
    assert retried["statusCode"] == 200
    keys = [c["key"] for c in created(stripe_standin)]
    assert len(keys) == len(set(keys)) == 2
    assert len(stripe_standin.sessions) == 1


def test_stripe_hanging_answers_503_in_time_and_the_retry_finds_its_session(
    admitted, stripe_standin, deps
):
    import dataclasses

    from boxoffice import runtime
    from boxoffice.stores.stripe_api import StripeApi

    event_id, checkout_id, token = admitted
    quick = dataclasses.replace(
        deps, stripe=StripeApi(lambda: "sk_test_x", stripe_standin.public_url, timeout=1.0)
    )
    runtime.use(quick)
    stripe_standin.faults["create_session"] = Fault("hang", 1, seconds=2.5)
    began = time.monotonic()
    failed = start(checkout_id, token)
    took = time.monotonic() - began
    print(f"Stripe hanging: 503 after {took:.2f} s (1 s timeout per call, function timeout 10 s)")
    assert failed["statusCode"] == 503, failed
    assert took < 3  # one timed-out call, well inside the function's 10 s
    assert held_seats(event_id) == {"A-1-1": "held", "A-1-2": "held"}
    # Stripe did make the session once it got to it: the retry replays the same key
    deadline = time.monotonic() + 10
    while not stripe_standin.sessions and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    retried = start(checkout_id, token)
    assert retried["statusCode"] == 200, retried
    [session] = stripe_standin.sessions.values()
    assert body(retried)["session_id"] == session["id"]
    keys = [c["key"] for c in created(stripe_standin)]
    assert len(keys) == 2
    assert len(set(keys)) == 1


def test_cancelling_expires_the_stripe_session(admitted, stripe_standin, deps):
    _, checkout_id, token = admitted
    paid = body(start(checkout_id, token))
    assert on_checkout("cancel_checkout", checkout_id, token)[0] == 200
    assert stripe_standin.sessions[paid["session_id"]]["status"] == "expired"
    assert stored(deps, checkout_id).payment_open is None


def test_a_failed_expiry_is_retried_by_the_sweeper(admitted, stripe_standin, deps, clock):
    _, checkout_id, token = admitted
    paid = body(start(checkout_id, token))
    stripe_standin.faults["expire"] = Fault("error", 1)
    stripe_standin.faults["get_session"] = Fault("error", 1)
    assert on_checkout("cancel_checkout", checkout_id, token)[0] == 200
    assert stripe_standin.sessions[paid["session_id"]]["status"] == "open"
    assert stored(deps, checkout_id).payment_open == "1"
    clock.advance(31)  # past the hold's end: the sweeper takes it
    swept = sweep()
    assert swept["payments_closed"] == 1
    assert stripe_standin.sessions[paid["session_id"]]["status"] == "expired"


def test_the_sweeper_expires_the_session_of_a_lapsed_hold(admitted, stripe_standin, deps, clock):
    _, checkout_id, token = admitted
    paid = body(start(checkout_id, token))
    clock.advance(31)
    swept = sweep()
    assert (swept["sessions_expired"], swept["payments_closed"]) == (1, 1)
    assert stripe_standin.sessions[paid["session_id"]]["status"] == "expired"
    again = sweep()
    assert again["payments_closed"] == 0


def test_a_session_already_paid_is_left_alone_and_its_payment_books(admitted, stripe_standin, deps):
    event_id, checkout_id, token = admitted
    paid = body(start(checkout_id, token))
    completed = stripe_standin.pay(paid["session_id"])
    # the fan cancels in another tab before the webhook arrives
    assert on_checkout("cancel_checkout", checkout_id, token)[0] == 200
    assert stripe_standin.sessions[paid["session_id"]]["status"] == "complete"
    assert held_seats(event_id) == {"A-1-1": "available", "A-1-2": "available"}
    status, receipt = webhook(stripe_standin, "checkout.session.completed", completed)
    assert (status, receipt["status"]) == (200, "completed")
    assert held_seats(event_id) == {"A-1-1": "booked", "A-1-2": "booked"}
    checkout = on_checkout("get_checkout", checkout_id, token)[1]
    assert checkout["status"] == "completed"
    assert checkout["reference"]


def test_paying_on_time_books_with_a_reference(admitted, stripe_standin, deps):
    _event_id, checkout_id, token = admitted
    paid = body(start(checkout_id, token))
    completed = stripe_standin.pay(paid["session_id"])
    assert webhook(stripe_standin, "checkout.session.completed", completed)[0] == 200
    checkout = on_checkout("get_checkout", checkout_id, token)[1]
    assert checkout["status"] == "completed"
    with deps.connection() as conn:
        row = conn.execute(
            "SELECT status, reference, payment_intent, payment_session_id FROM orders"
            " WHERE checkout_id = %s",
            (checkout_id,),
        ).fetchone()
    assert row == ("booked", checkout["reference"], completed["payment_intent"], paid["session_id"])
    assert stored(deps, checkout_id).payment_open is None


def test_the_test_providers_route_is_not_served_under_stripe(admitted):
    _, checkout_id, token = admitted
    status, answer = on_checkout("complete_checkout", checkout_id, token)
    assert (status, answer["error"]) == (404, "not_found")
