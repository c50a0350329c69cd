"""GET, DELETE and complete on a checkout: auth, statuses and what each does to the seats."""

from __future__ import annotations

from uuid import uuid4

import pytest

from tests.support import api_event, consume_all, hold, invoke, on_checkout, seat_statuses


def seat_status(event_id, seat_id: str) -> str:
    return seat_statuses(event_id)[seat_id]


@pytest.mark.parametrize(
    "name", ["get_checkout", "cancel_checkout", "complete_checkout", "start_payment"]
)
def test_token_is_required_and_checked(held, name):
    _, checkout_id, token = held
    status, body = on_checkout(name, checkout_id, None)
    assert (status, body["error"]) == (401, "unauthorized")
    status, body = on_checkout(name, checkout_id, "not-the-token")
    assert (status, body["error"]) == (403, "forbidden")
    status, body = on_checkout(name, str(uuid4()), token)
    assert (status, body["error"]) == (404, "checkout_not_found")
    status, body = on_checkout(name, "no-such-id", token)
    assert (status, body["error"]) == (404, "checkout_not_found")


def test_other_auth_schemes_are_refused(held):
    _, checkout_id, token = held
    event = api_event("get_checkout", checkout_id=checkout_id, headers={"Authorization": token})
    assert invoke("get_checkout", event)[0] == 401
    event = api_event(
        "get_checkout", checkout_id=checkout_id, headers={"authorization": f"bearer {token}"}
    )
    assert invoke("get_checkout", event)[0] == 200


def test_queued_checkout_cannot_be_paid(held):
    _, checkout_id, token = held
    status, body = on_checkout("complete_checkout", checkout_id, token)
    assert (status, body["error"]) == (409, "not_admitted")


def test_pay_books_the_seats_and_is_idempotent(held, aws):
    event_id, checkout_id, token = held
    consume_all(aws.queue_url)
    status, body = on_checkout("complete_checkout", checkout_id, token)
    assert (status, body["status"]) == (200, "completed")
    assert seat_status(event_id, "A-1-1") == "booked"
    again = on_checkout("complete_checkout", checkout_id, token)
    assert again == (200, body)
    status, body = on_checkout("cancel_checkout", checkout_id, token)
    assert (status, body["error"]) == (409, "checkout_completed")
    assert seat_status(event_id, "A-1-1") == "booked"


def test_cancel_releases_the_seats_once(held, aws):
    event_id, checkout_id, token = held
    status, body = on_checkout("cancel_checkout", checkout_id, token)
    assert (status, body["status"]) == (200, "cancelled")
    assert seat_status(event_id, "A-1-2") == "available"
    assert on_checkout("cancel_checkout", checkout_id, token)[1]["status"] == "cancelled"
    consume_all(aws.queue_url)
    status, body = on_checkout("complete_checkout", checkout_id, token)
    assert (status, body["error"]) == (409, "checkout_expired")
    assert seat_status(event_id, "A-1-2") == "available"


def test_paying_after_the_checkout_window_books_nothing(held, aws, clock):
    event_id, checkout_id, token = held
    consume_all(aws.queue_url)
    clock.advance(30)
    status, body = on_checkout("complete_checkout", checkout_id, token)
    assert (status, body["error"]) == (409, "checkout_expired")
    assert on_checkout("get_checkout", checkout_id, token)[1]["status"] == "expired"
    assert seat_status(event_id, "A-1-1") == "available"
    # someone else may now hold and pay for the seat; the first fan still cannot
    assert hold(event_id, ["A-1-1"])[0] == 201
    assert on_checkout("complete_checkout", checkout_id, token)[0] == 409


def test_cancel_of_an_expired_checkout_says_expired(held, clock):
    _, checkout_id, token = held
    clock.advance(60)
    status, body = on_checkout("cancel_checkout", checkout_id, token)
    assert (status, body["status"]) == (200, "expired")


def test_payment_is_for_admitted_checkouts_only(held, aws, clock):
    _, checkout_id, token = held
    status, body = on_checkout("start_payment", checkout_id, token)
    assert (status, body["error"]) == (409, "not_admitted")
    assert on_checkout("start_payment", checkout_id, None)[0] == 401
    consume_all(aws.queue_url)
    status, body = on_checkout("start_payment", checkout_id, token)
    assert status == 200
    assert body["payment_url"] == f"/checkouts/{checkout_id}/complete"
    assert body["amount_cents"] == 5000
    clock.advance(30)
    status, body = on_checkout("start_payment", checkout_id, token)
    assert (status, body["error"]) == (409, "checkout_expired")


def test_a_paid_checkout_has_nothing_left_to_pay(held, aws):
    _, checkout_id, token = held
    consume_all(aws.queue_url)
    assert on_checkout("complete_checkout", checkout_id, token)[0] == 200
    status, body = on_checkout("start_payment", checkout_id, token)
    assert (status, body["error"]) == (409, "checkout_completed")
