"""POST /webhooks/stripe with payloads signed here (offline): verdicts, refusals, retries."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import time
from uuid import uuid4

import boto3
import pytest
import stripe

from boxoffice import runtime
from boxoffice.services.payments import signing_secret
from local.stripe_standin import Fault, sign
from tests.handlers.support import held_seats
from tests.support import api_event, hold, invoke, on_checkout

NAME = "handle_stripe_webhook"
SIGNED = "<signed now with the test secret>"


def stripe_event(
    kind: str,
    checkout_id: str | None,
    *,
    payment_status: str = "paid",
    event_id: str | None = None,
    in_metadata: bool = False,
    amount_total: int = 5000,  # the held fixture's two seats
    currency: str = "usd",
    payment_intent: str | None = None,
) -> str:
    session: dict[str, object] = {
        "id": f"cs_test_{uuid4().hex}",
        "object": "checkout.session",
        "client_reference_id": None if in_metadata else checkout_id,
        "metadata": {"checkout_id": checkout_id} if in_metadata and checkout_id else {},
        "payment_status": payment_status,
        "amount_total": amount_total,
        "currency": currency,
        "payment_intent": payment_intent or f"pi_test_{uuid4().hex}",
    }
    return json.dumps(
        {
            "id": event_id or f"evt_{uuid4().hex}",
            "object": "event",
            "type": kind,
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": session},
        }
    )


@pytest.fixture
def secret(deps) -> str:
    return deps.settings.stripe_webhook_secret.get_secret_value()


@pytest.fixture
def deliver(secret):
    """Send `payload` as Stripe would (signed now unless told otherwise)."""

    def send(
        payload: str,
        signature: str | None = SIGNED,
        *,
        encoded: bool = False,
        header: str = "Stripe-Signature",
    ) -> tuple[int, dict]:
        if signature == SIGNED:
            signature = sign(payload, secret)
        event = api_event(NAME, raw_body=payload, headers={"Stripe-Signature": None})
        if signature is not None:
            event = api_event(NAME, raw_body=payload, headers={header: signature})
        if encoded:
            event["body"] = base64.b64encode(payload.encode()).decode()
            event["isBase64Encoded"] = True
        return invoke(NAME, event)

    return send


def orders(deps, checkout_id: str) -> list[str]:
    with deps.connection() as conn:
        rows = conn.execute(
            "SELECT payment_provider FROM orders WHERE checkout_id = %s", (checkout_id,)
        ).fetchall()
    return [row[0] for row in rows]


def order_row(deps, checkout_id: str) -> tuple:
    with deps.connection() as conn:
        row = conn.execute(
            "SELECT status, reference, refund_reason, refund_id FROM orders WHERE checkout_id = %s",
            (checkout_id,),
        ).fetchone()
    return tuple(row) if row else ()


def metric_count(output: str, name: str) -> int:
    """How many flushed EMF blobs on stdout carry metric `name`."""
    return sum(1 for line in output.splitlines() if line.startswith("{") and f'"{name}"' in line)


def test_sample_event_is_a_well_formed_stripe_delivery(secret):
    event = api_event(NAME)
    assert (event["httpMethod"], event["resource"], event["pathParameters"]) == (
        "POST",
        "/webhooks/stripe",
        None,
    )
    assert json.loads(event["body"])["type"] == "checkout.session.completed"
    # signed for real with the local test secret, but long ago: refused as stale
    header = event["headers"]["Stripe-Signature"]
    assert stripe.WebhookSignature.verify_header(event["body"], header, secret, tolerance=0)
    status, body = invoke(NAME, event)
    assert (status, body["error"]) == (400, "invalid_signature")
    assert "tolerance" in body["message"]


def test_paid_books_the_seats_and_completes_the_checkout(admitted, deliver, deps):
    event_id, checkout_id, token = admitted
    status, body = deliver(stripe_event("checkout.session.completed", checkout_id))
    assert (status, body) == (
        200,
        {"received": True, "handled": True, "checkout_id": checkout_id, "status": "completed"},
    )
    assert held_seats(event_id) == {"A-1-1": "booked", "A-1-2": "booked"}
    assert on_checkout("get_checkout", checkout_id, token)[1]["status"] == "completed"
    assert orders(deps, checkout_id) == ["stripe"]


def test_the_same_event_delivered_twice_changes_state_once(admitted, deliver, deps, capsys):
    event_id, checkout_id, _ = admitted
    payload = stripe_event("checkout.session.completed", checkout_id, event_id="evt_retried")
    capsys.readouterr()
    first = deliver(payload)
    again = deliver(payload)
    assert first == again == (200, first[1])
    assert first[1]["status"] == "completed"
    assert metric_count(capsys.readouterr().out, "CheckoutsCompleted") == 1
    assert orders(deps, checkout_id) == ["stripe"]
    assert held_seats(event_id) == {"A-1-1": "booked", "A-1-2": "booked"}


def test_async_payment_succeeded_books_too(admitted, deliver):
    _, checkout_id, _ = admitted
    status, body = deliver(stripe_event("checkout.session.async_payment_succeeded", checkout_id))
    assert (status, body["handled"], body["status"]) == (200, True, "completed")


def test_completed_but_not_yet_paid_waits_for_the_async_verdict(admitted, deliver):
    event_id, checkout_id, token = admitted
    payload = stripe_event("checkout.session.completed", checkout_id, payment_status="unpaid")
    assert deliver(payload) == (
        200,
        {"received": True, "handled": False, "reason": "payment_pending"},
    )
    assert on_checkout("get_checkout", checkout_id, token)[1]["status"] == "admitted"
    assert held_seats(event_id) == {"A-1-1": "held", "A-1-2": "held"}


def test_expired_releases_the_seats_and_cancels_once(admitted, deliver, capsys):
    event_id, checkout_id, token = admitted
    payload = stripe_event("checkout.session.expired", checkout_id, payment_status="unpaid")
    capsys.readouterr()
    status, body = deliver(payload)
    assert (status, body) == (
        200,
        {"received": True, "handled": True, "checkout_id": checkout_id, "status": "cancelled"},
    )
    assert deliver(payload) == (status, body)
    assert metric_count(capsys.readouterr().out, "CheckoutsCancelled") == 1
    assert held_seats(event_id) == {"A-1-1": "available", "A-1-2": "available"}
    assert on_checkout("get_checkout", checkout_id, token)[1]["status"] == "cancelled"
    # money that still arrives afterwards books the same seats, as they are still free
    late = deliver(stripe_event("checkout.session.completed", checkout_id))
    assert (late[0], late[1]["handled"], late[1]["status"]) == (200, True, "completed")
    assert held_seats(event_id) == {"A-1-1": "booked", "A-1-2": "booked"}


def test_failed_payments_release_the_seats(admitted, deliver):
    event_id, checkout_id, _ = admitted
    payload = stripe_event(
        "checkout.session.async_payment_failed", checkout_id, payment_status="unpaid"
    )
    status, body = deliver(payload)
    assert (status, body["handled"], body["status"]) == (200, True, "cancelled")
    assert held_seats(event_id) == {"A-1-1": "available", "A-1-2": "available"}


def test_a_declined_card_keeps_the_seats_for_another_try(admitted, deliver):
    event_id, checkout_id, _ = admitted
    declined = stripe_event("payment_intent.payment_failed", checkout_id, in_metadata=True)
    status, body = deliver(declined)
    assert (status, body["handled"]) == (200, False)
    assert held_seats(event_id) == {"A-1-1": "held", "A-1-2": "held"}


def test_a_failure_after_payment_changes_nothing(admitted, deliver):
    event_id, checkout_id, _ = admitted
    assert deliver(stripe_event("checkout.session.completed", checkout_id))[0] == 200
    failed = stripe_event("checkout.session.expired", checkout_id, in_metadata=True)
    assert deliver(failed) == (
        200,
        {
            "received": True,
            "handled": False,
            "checkout_id": checkout_id,
            "reason": "checkout_completed",
        },
    )
    assert held_seats(event_id) == {"A-1-1": "booked", "A-1-2": "booked"}


def test_money_taken_while_still_queued_books_the_held_seats(held, deliver):
    event_id, checkout_id, token = held
    status, body = deliver(stripe_event("checkout.session.completed", checkout_id))
    assert (status, body["handled"], body["status"]) == (200, True, "completed")
    assert on_checkout("get_checkout", checkout_id, token)[1]["status"] == "completed"
    assert held_seats(event_id) == {"A-1-1": "booked", "A-1-2": "booked"}


def test_paid_after_the_hold_expired_books_the_seats_still_free(
    admitted, deliver, clock, deps, capsys
):
    event_id, checkout_id, token = admitted
    clock.advance(30)
    capsys.readouterr()
    status, body = deliver(stripe_event("checkout.session.completed", checkout_id))
    assert (status, body) == (
        200,
        {"received": True, "handled": True, "checkout_id": checkout_id, "status": "completed"},
    )
    assert metric_count(capsys.readouterr().out, "PaidAfterExpiry") == 1
    assert held_seats(event_id) == {"A-1-1": "booked", "A-1-2": "booked"}
    assert orders(deps, checkout_id) == ["stripe"]
    checkout = on_checkout("get_checkout", checkout_id, token)[1]
    assert checkout["status"] == "completed"
    assert re.fullmatch(r"[2-9A-Z]{3}-[2-9A-Z]{4}", checkout["reference"])


def test_paid_after_another_fan_took_a_seat_is_refunded_in_full(
    admitted, deliver, clock, deps, capsys, stripe_standin
):
    event_id, checkout_id, token = admitted
    clock.advance(30)
    assert hold(event_id, ["A-1-2"])[0] == 201
    intent = stripe_standin.charge(5000, "usd")
    payload = stripe_event("checkout.session.completed", checkout_id, payment_intent=intent)
    capsys.readouterr()
    status, body = deliver(payload)
    assert (status, body["handled"], body["status"]) == (200, True, "refunded")
    out = capsys.readouterr().out
    assert metric_count(out, "RefundsIssued") == metric_count(out, "PaidAfterExpiry") == 1
    [refund] = stripe_standin.refunds.values()
    assert (refund["payment_intent"], refund["amount"]) == (intent, 5000)
    assert held_seats(event_id) == {"A-1-1": "available", "A-1-2": "held"}
    assert on_checkout("get_checkout", checkout_id, token)[1]["status"] == "refunded"
    assert order_row(deps, checkout_id) == ("refunded", None, "seats_taken", refund["id"])
    # Stripe delivering the event again refunds nothing more
    assert deliver(payload)[1]["status"] == "refunded"
    assert len(stripe_standin.refunds) == 1


def test_a_refund_stripe_refuses_is_retried_until_it_is_done(
    admitted, deliver, clock, deps, stripe_standin
):
    event_id, checkout_id, token = admitted
    clock.advance(30)
    assert hold(event_id, ["A-1-1"])[0] == 201
    intent = stripe_standin.charge(5000, "usd")
    payload = stripe_event("checkout.session.completed", checkout_id, payment_intent=intent)
    stripe_standin.faults["create_refund"] = Fault("error", 2)
    first = deliver(payload)
    assert (first[0], first[1]["error"]) == (503, "payment_unavailable")
    assert order_row(deps, checkout_id)[0] == "refund_pending"
    # each of Stripe's redeliveries tries again under a new key (an answered key is spent)
    assert deliver(payload)[0] == 503
    status, body = deliver(payload)
    assert (status, body["status"]) == (200, "refunded")
    assert len(stripe_standin.refunds) == 1
    keys = [c for c in stripe_standin.calls if c["endpoint"] == "create_refund"]
    assert len(keys) == 3
    assert order_row(deps, checkout_id)[0] == "refunded"
    assert on_checkout("get_checkout", checkout_id, token)[1]["status"] == "refunded"


@pytest.mark.parametrize(
    ("reference", "reason"),
    [
        (str(uuid4()), "checkout_not_found"),
        ("cs_not_one_of_ours", "checkout_not_found"),
        (None, "missing_checkout_id"),
    ],
    ids=["unknown-checkout-id", "not-a-checkout-id", "no-reference"],
)
def test_events_for_no_checkout_of_ours_are_acknowledged(deps, deliver, reference, reason):
    status, body = deliver(stripe_event("checkout.session.completed", reference))
    assert (status, body["handled"], body["reason"]) == (200, False, reason)


def test_other_event_types_are_acknowledged_unhandled(admitted, deliver):
    _, checkout_id, _ = admitted
    payload = stripe_event("charge.refunded", checkout_id)
    assert deliver(payload) == (200, {"received": True, "handled": False})


def test_base64_encoded_body_is_verified_on_its_decoded_bytes(admitted, deliver):
    event_id, checkout_id, _ = admitted
    payload = stripe_event("checkout.session.completed", checkout_id).replace('"id"', '"id" ')
    status, body = deliver(payload, encoded=True)
    assert (status, body["status"]) == (200, "completed")
    assert held_seats(event_id) == {"A-1-1": "booked", "A-1-2": "booked"}


def test_header_name_is_case_insensitive(admitted, deliver, secret):
    _, checkout_id, _ = admitted
    payload = stripe_event("checkout.session.completed", checkout_id)
    status, _ = deliver(payload, sign(payload, secret), header="stripe-signature")
    assert status == 200


@pytest.mark.parametrize(
    "case", ["missing", "empty", "wrong_secret", "tampered", "stale", "garbage", "other_scheme"]
)
def test_bad_signatures_are_refused_and_change_nothing(admitted, deliver, secret, case):
    event_id, checkout_id, token = admitted
    payload = stripe_event("checkout.session.completed", checkout_id)
    signature: str | None = {
        "missing": None,
        "empty": "",
        "wrong_secret": sign(payload, "whsec_someone_else"),
        "tampered": sign(payload, secret),
        "stale": sign(payload, secret, int(time.time()) - 600),
        "garbage": "not a signature",
        "other_scheme": sign(payload, secret).replace("v1=", "v0="),
    }[case]
    if case == "tampered":
        payload = payload.replace('"paid"', '"paid" ')
    status, body = deliver(payload, signature)
    assert (status, body["error"]) == (400, "invalid_signature")
    assert body["message"]
    assert on_checkout("get_checkout", checkout_id, token)[1]["status"] == "admitted"
    assert held_seats(event_id) == {"A-1-1": "held", "A-1-2": "held"}


@pytest.mark.parametrize("payload", ["", "not json", "[1, 2]", '"text"', "{"])
def test_signed_but_unreadable_payloads_are_refused(deps, deliver, payload):
    assert deliver(payload) == (
        400,
        {"error": "invalid_payload", "message": "The request body is not a Stripe event."},
    )


def test_a_body_that_is_not_utf8_is_refused(deps, deliver):
    event = api_event(NAME, headers={"Stripe-Signature": "t=1,v1=00"})
    event["body"] = base64.b64encode(b"\xff\xfe{").decode()
    event["isBase64Encoded"] = True
    status, body = invoke(NAME, event)
    assert (status, body["error"]) == (400, "invalid_request")


def test_secret_comes_from_secrets_manager_when_its_arn_is_set(admitted, deps, deliver):
    _, checkout_id, _ = admitted
    stored = "whsec_from_secrets_manager"
    arn = boto3.client("secretsmanager").create_secret(
        Name=f"stripe-webhook-{uuid4().hex}", SecretString=f"{stored}\n"
    )["ARN"]
    settings = deps.settings.model_copy(update={"stripe_webhook_secret_arn": arn})
    assert signing_secret(settings) == stored
    runtime.use(dataclasses.replace(deps, settings=settings))
    payload = stripe_event("checkout.session.completed", checkout_id)
    plain = deps.settings.stripe_webhook_secret.get_secret_value()
    assert deliver(payload, sign(payload, plain))[1]["error"] == "invalid_signature"
    status, body = deliver(payload, sign(payload, stored))
    assert (status, body["status"]) == (200, "completed")


def test_a_payment_of_the_wrong_amount_books_nothing_and_is_refunded(
    admitted, deliver, deps, stripe_standin
):
    event_id, checkout_id, token = admitted
    intent = stripe_standin.charge(1, "usd")
    short = stripe_event(
        "checkout.session.completed", checkout_id, amount_total=1, payment_intent=intent
    )
    status, body = deliver(short)
    assert (status, body["handled"], body["status"]) == (200, True, "refunded")
    assert held_seats(event_id) == {"A-1-1": "available", "A-1-2": "available"}
    assert on_checkout("get_checkout", checkout_id, token)[1]["status"] == "refunded"
    assert order_row(deps, checkout_id)[:3] == ("refunded", None, "amount_mismatch")
