"""Payments through the local stack as `make dev` runs it (PAYMENT_PROVIDER=stripe, its own
offline Stripe stand-in): the fan's whole path over HTTP, and what is not served."""

from __future__ import annotations

import re
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.local.stack import Answer, StackProcess, running_stack


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@pytest.fixture(scope="module")
def stack(database_url: str) -> Iterator[StackProcess]:
    with running_stack(database_url, SEED_DEMO="0") as running:
        yield running


def event(stack: StackProcess, seats: int = 6) -> str:
    body = {
        "name": "Stripe Night",
        "venue": "Hall",
        "starts_at": "2031-06-01T19:30:00Z",
        "hold_seconds": 600,
        "checkout_seconds": 300,
        "admission_per_second": 50,
        "currency": "EUR",
        "seats": [
            {"seat_id": f"S-{n}", "section": "S", "row": "1", "number": n, "price_cents": 1500}
            for n in range(1, seats + 1)
        ],
    }
    created = stack.create_event(body)
    assert created["currency"] == "eur"
    return str(created["id"])


def on(stack: StackProcess, checkout: dict[str, Any], method: str, suffix: str = "") -> Answer:
    """A checkout route, with the checkout's token."""
    path = f"/checkouts/{checkout['checkout_id']}{suffix}"
    body: dict[str, Any] | None = {} if method == "POST" else None
    return stack.request(method, path, body, token=checkout["token"])


def admitted(stack: StackProcess, event_id: str, seat_ids: list[str]) -> dict[str, Any]:
    held = stack.hold(event_id, seat_ids)
    assert held.status == 201, held.body
    view = poll(stack, held.body, "admitted")
    assert view.body["status"] == "admitted", "not admitted in time"
    return dict(held.body)


def press(url: str, action: str) -> tuple[int, str]:
    """Press a button of the stand-in's hosted page, as the fan's browser would."""
    form = urllib.parse.urlencode({"action": action}).encode()
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, data=form, method="POST")  # noqa: S310
    try:
        with opener.open(request, timeout=30) as answer:
            return answer.status, answer.headers.get("Location", "")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", "")


def poll(stack: StackProcess, checkout: dict[str, Any], status: str) -> Answer:
    """The checkout's view once it has `status`, or the last one after 20 s."""
    deadline = time.monotonic() + 20
    while True:
        view = on(stack, checkout, "GET")
        if view.body["status"] == status or time.monotonic() > deadline:
            return view
        time.sleep(0.1)


def test_the_test_providers_route_is_not_served(stack):
    event_id = event(stack)
    checkout = admitted(stack, event_id, ["S-1"])
    answer = on(stack, checkout, "POST", "/complete")
    assert answer.status in {403, 404}, answer.body  # API Gateway: no such resource
    assert on(stack, checkout, "DELETE").status == 200


def test_pay_on_the_hosted_page_and_come_back_booked(stack):
    event_id = event(stack)
    checkout = admitted(stack, event_id, ["S-2", "S-3"])
    started = on(stack, checkout, "POST", "/payment")
    assert started.status == 200, started.body
    paid = started.body
    assert (paid["provider"], paid["amount_cents"], paid["currency"]) == ("stripe", 3000, "eur")
    again = on(stack, checkout, "POST", "/payment")
    assert again.body["session_id"] == paid["session_id"]
    page = urllib.request.urlopen(paid["payment_url"], timeout=10).read().decode()  # noqa: S310
    assert "30.00 EUR" in page
    status, location = press(paid["payment_url"], "pay")
    assert status == 303
    assert location == f"{stack.base}/?checkout={checkout['checkout_id']}&payment=success"
    view = poll(stack, checkout, "completed")
    assert view.body["status"] == "completed", view.body
    assert re.fullmatch(r"[2-9A-Z]{3}-[2-9A-Z]{4}", view.body["reference"])
    seats = stack.seat_statuses(event_id)
    assert (seats["S-2"], seats["S-3"]) == ("booked", "booked")
    assert stack.database_url
    with psycopg.connect(stack.database_url) as conn:
        row = conn.execute(
            "SELECT status, reference, amount_cents, currency, payment_provider FROM orders"
            " WHERE checkout_id = %s",
            (checkout["checkout_id"],),
        ).fetchone()
    assert row == ("booked", view.body["reference"], 3000, "eur", "stripe")
    # the session is paid: pressing Pay again is refused by the hosted page
    assert press(paid["payment_url"], "pay")[0] == 200


def test_cancel_on_the_hosted_page_keeps_the_hold_and_cancelling_expires_it(stack):
    event_id = event(stack)
    checkout = admitted(stack, event_id, ["S-4"])
    paid = on(stack, checkout, "POST", "/payment").body
    status, location = press(paid["payment_url"], "cancel")
    assert (status, location.endswith("&payment=cancelled")) == (303, True)
    assert poll(stack, checkout, "admitted").body["status"] == "admitted"
    assert on(stack, checkout, "DELETE").status == 200
    page = urllib.request.urlopen(paid["payment_url"], timeout=10).read().decode()  # noqa: S310
    assert "expired" in page
    # Stripe's checkout.session.expired reaches the webhook and changes nothing more
    time.sleep(0.5)
    assert poll(stack, checkout, "cancelled").body["status"] == "cancelled"
