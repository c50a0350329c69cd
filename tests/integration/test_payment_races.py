"""Invariant 8 under fire: money taken ends as exactly one booking or exactly one full
refund, never both, never neither, whatever races the payment. Many threads against real
Postgres, moto, and the Stripe stand-in over HTTP (refunds)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any
from uuid import UUID

from boxoffice.errors import DomainError, ServiceUnavailable
from boxoffice.models.checkouts import CheckoutRequest
from boxoffice.services.checkouts import cancel_checkout, create_checkout
from boxoffice.services.expiry import sweep
from boxoffice.services.payments import handle_stripe_webhook
from local.stripe_standin import StripeStandIn, sign

ROUNDS = 25
SEATS = ["A-1-1", "A-1-2"]


def paid_event(standin: StripeStandIn, checkout_id: str, intent: str, amount: int) -> str:
    return standin.event(
        "checkout.session.completed",
        {
            "id": f"cs_test_{checkout_id[:8]}",
            "object": "checkout.session",
            "client_reference_id": checkout_id,
            "metadata": {"checkout_id": checkout_id},
            "payment_status": "paid",
            "amount_total": amount,
            "currency": "usd",
            "payment_intent": intent,
        },
    )


def deliver_until_acknowledged(deps, standin: StripeStandIn, payload: str) -> str:
    """Stripe's delivery: repeated while the endpoint answers non-2xx."""
    for _ in range(50):
        try:
            receipt = handle_stripe_webhook(deps, payload, sign(payload, standin.webhook_secret))
        except ServiceUnavailable:
            continue
        return str(receipt.status)
    raise AssertionError("the webhook never acknowledged the payment")


def race(jobs: list[Callable[[], Any]]) -> list[Any]:
    start = threading.Barrier(len(jobs))

    def run(job: Callable[[], Any]) -> Any:
        start.wait()
        try:
            return job()
        except DomainError as error:
            return error.code

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(run, jobs))


def ending(deps, standin: StripeStandIn, checkout_id: str, intent: str) -> str:
    """How the money ended, after checking every place that records it agrees."""
    with deps.connection() as conn:
        orders = conn.execute(
            "SELECT status, seat_ids FROM orders WHERE checkout_id = %s", (checkout_id,)
        ).fetchall()
        booked = conn.execute(
            "SELECT seat_id FROM seats WHERE checkout_id = %s AND status = 'booked'",
            (checkout_id,),
        ).fetchall()
    refunds = [r for r in standin.refunds.values() if r["payment_intent"] == intent]
    session = deps.sessions.get(UUID(checkout_id))
    assert len(orders) == 1, orders
    status = orders[0][0]
    if status == "booked":
        assert sorted(s for (s,) in booked) == SEATS
        assert refunds == []
        assert session.status == "completed"
    else:
        assert status == "refunded"
        assert booked == []
        assert len(refunds) == 1
        assert session.status == "refunded"
    return str(status)


def cancel_then_take(deps, event_id: UUID, cancel: Callable[[], Any]) -> Any:
    """The fan cancels, and someone waiting takes the seats at once."""
    try:
        cancel()
    except DomainError as error:
        return error.code
    return create_checkout(deps, str(event_id), CheckoutRequest(seat_ids=SEATS))


def new_checkout(deps, event_id: UUID) -> tuple[str, str]:
    made = create_checkout(deps, str(event_id), CheckoutRequest(seat_ids=SEATS))
    return str(made.checkout_id), made.token


def test_pay_against_lapse_and_another_fan(deps, make_event, clock, stripe_standin):
    """The hold has just ended: the payment races the sweeper and a second fan who wants
    the same seats."""
    outcomes: Counter[str] = Counter()
    for _ in range(ROUNDS):
        event_id = make_event(seats=6, hold_seconds=5)
        checkout_id, _ = new_checkout(deps, event_id)
        clock.advance(6)
        intent = stripe_standin.charge(5000, "usd")
        payload = paid_event(stripe_standin, checkout_id, intent, 5000)
        pay = partial(deliver_until_acknowledged, deps, stripe_standin, payload)
        other_fan = partial(
            create_checkout, deps, str(event_id), CheckoutRequest(seat_ids=SEATS[1:])
        )
        results = race([pay, pay, partial(sweep, deps), other_fan])
        assert results[0] == results[1]
        outcomes[ending(deps, stripe_standin, checkout_id, intent)] += 1
    print(f"pay vs lapse vs another fan, {ROUNDS} rounds x 4 threads: {dict(outcomes)}")
    assert sum(outcomes.values()) == ROUNDS


def test_pay_against_cancel_and_a_fan_waiting_for_the_seats(deps, make_event, stripe_standin):
    outcomes: Counter[str] = Counter()
    for _ in range(ROUNDS):
        event_id = make_event(seats=6)
        checkout_id, token = new_checkout(deps, event_id)
        intent = stripe_standin.charge(5000, "usd")
        payload = paid_event(stripe_standin, checkout_id, intent, 5000)

        pay = partial(deliver_until_acknowledged, deps, stripe_standin, payload)
        cancel = partial(cancel_checkout, deps, checkout_id, token)
        race([pay, partial(cancel_then_take, deps, event_id, cancel), cancel, pay])
        outcomes[ending(deps, stripe_standin, checkout_id, intent)] += 1
    print(f"pay vs cancel vs a waiting fan, {ROUNDS} rounds x 4 threads: {dict(outcomes)}")
    assert sum(outcomes.values()) == ROUNDS


def test_duplicate_webhooks_settle_once(deps, make_event, clock, stripe_standin):
    outcomes: Counter[str] = Counter()
    for round_ in range(ROUNDS):
        event_id = make_event(seats=6, hold_seconds=5)
        checkout_id, _ = new_checkout(deps, event_id)
        if round_ % 2:  # every other round the seats went to someone else first
            clock.advance(6)
            create_checkout(deps, str(event_id), CheckoutRequest(seat_ids=SEATS[:1]))
        intent = stripe_standin.charge(5000, "usd")
        payload = paid_event(stripe_standin, checkout_id, intent, 5000)
        results = race([partial(deliver_until_acknowledged, deps, stripe_standin, payload)] * 8)
        assert len(set(results)) == 1, results
        outcomes[ending(deps, stripe_standin, checkout_id, intent)] += 1
    print(f"duplicate webhooks, {ROUNDS} rounds x 8 threads: {dict(outcomes)}")
    assert outcomes == {"booked": ROUNDS // 2 + ROUNDS % 2, "refunded": ROUNDS // 2}
