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

from tests.local.stack import ADMIN_KEY, Answer, StackProcess, fresh_database, stack_env

ADMIN = {"x-api-key": ADMIN_KEY}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@pytest.fixture(scope="module")
def stack(database_url: str) -> Iterator[tuple[StackProcess, str]]:
    with fresh_database(database_url) as url:
        running = StackProcess(stack_env(DATABASE_URL=url, SEED_DEMO="0"))
        try:
            running.start()
            yield running, url
        finally:
            code = running.stop()
        assert code == 0, running.output


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
    created = stack.request("POST", "/events", body, headers=ADMIN)
    assert created.status == 201, created.body
    assert created.body["currency"] == "eur"
    return str(created.body["id"])


def on(stack: StackProcess, checkout: dict[str, Any], method: str, suffix: str = "") -> Answer:
    """A checkout route, with the checkout's token."""
    path = f"/checkouts/{checkout['checkout_id']}{suffix}"
    body: dict[str, Any] | None = {} if method == "POST" else None
    return stack.request(method, path, body, token=checkout["token"])


def admitted(stack: StackProcess, event_id: str, seat_ids: list[str]) -> dict[str, Any]:
    held = stack.request("POST", f"/events/{event_id}/checkouts", {"seat_ids": seat_ids})
    assert held.status == 201, held.body
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        view = stack.request(
            "GET", f"/checkouts/{held.body['checkout_id']}", token=held.body["token"]
        )
        if view.body["status"] == "admitted":
            return dict(held.body)
        time.sleep(0.1)
    raise AssertionError("not admitted in time")


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
    deadline = time.monotonic() + 20
    while True:
        view = stack.request(
            "GET", f"/checkouts/{checkout['checkout_id']}", token=checkout["token"]
        )
        if view.body["status"] == status or time.monotonic() > deadline:
            return view
        time.sleep(0.1)


def test_the_test_providers_route_is_not_served(stack):
    running, _ = stack
    event_id = event(running)
    checkout = admitted(running, event_id, ["S-1"])
    answer = running.request(
        "POST", f"/checkouts/{checkout['checkout_id']}/complete", {}, token=checkout["token"]
    )
    assert answer.status in {403, 404}, answer.body  # API Gateway: no such resource
    assert (
        running.request(
            "DELETE", f"/checkouts/{checkout['checkout_id']}", token=checkout["token"]
        ).status
        == 200
    )


def test_pay_on_the_hosted_page_and_come_back_booked(stack):
    running, url = stack
    event_id = event(running)
    checkout = admitted(running, event_id, ["S-2", "S-3"])
    started = running.request(
        "POST", f"/checkouts/{checkout['checkout_id']}/payment", {}, token=checkout["token"]
    )
    assert started.status == 200, started.body
    paid = started.body
    assert (paid["provider"], paid["amount_cents"], paid["currency"]) == ("stripe", 3000, "eur")
    again = running.request(
        "POST", f"/checkouts/{checkout['checkout_id']}/payment", {}, token=checkout["token"]
    )
    assert again.body["session_id"] == paid["session_id"]
    page = urllib.request.urlopen(paid["payment_url"], timeout=10).read().decode()  # noqa: S310
    assert "30.00 EUR" in page
    status, location = press(paid["payment_url"], "pay")
    assert status == 303
    assert location == f"{running.base}/?checkout={checkout['checkout_id']}&payment=success"
    view = poll(running, checkout, "completed")
    assert view.body["status"] == "completed", view.body
    assert re.fullmatch(r"[2-9A-Z]{3}-[2-9A-Z]{4}", view.body["reference"])
    seats = {
        s["seat_id"]: s["status"] for s in running.request("GET", f"/events/{event_id}/seats").body
    }
    assert (seats["S-2"], seats["S-3"]) == ("booked", "booked")
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT status, reference, amount_cents, currency, payment_provider FROM orders"
            " WHERE checkout_id = %s",
            (checkout["checkout_id"],),
        ).fetchone()
    assert row == ("booked", view.body["reference"], 3000, "eur", "stripe")
    # the session is paid: pressing Pay again is refused by the hosted page
    assert press(paid["payment_url"], "pay")[0] == 200


def test_cancel_on_the_hosted_page_keeps_the_hold_and_cancelling_expires_it(stack):
    running, _ = stack
    event_id = event(running)
    checkout = admitted(running, event_id, ["S-4"])
    paid = running.request(
        "POST", f"/checkouts/{checkout['checkout_id']}/payment", {}, token=checkout["token"]
    ).body
    status, location = press(paid["payment_url"], "cancel")
    assert (status, location.endswith("&payment=cancelled")) == (303, True)
    assert poll(running, checkout, "admitted").body["status"] == "admitted"
    assert (
        running.request(
            "DELETE", f"/checkouts/{checkout['checkout_id']}", token=checkout["token"]
        ).status
        == 200
    )
    page = urllib.request.urlopen(paid["payment_url"], timeout=10).read().decode()  # noqa: S310
    assert "expired" in page
    # Stripe's checkout.session.expired reaches the webhook and changes nothing more
    time.sleep(0.5)
    assert poll(running, checkout, "cancelled").body["status"] == "cancelled"
