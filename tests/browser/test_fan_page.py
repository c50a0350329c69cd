"""The fan's page in Debian's Chromium (driven by Playwright) against the local stack.

One fan holds a seat, waits in line, pays and sees the booking; a second fan sees the
seat taken and the message; an expired hold is said plainly and frees the seat. Every
step leaves a screenshot in tests/artifacts/screenshots/.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.support import seat, shot
from tests.local.stack import StackProcess

pytestmark = pytest.mark.browser


def new_fan(browser: Browser, stack: StackProcess) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    page.set_default_timeout(20_000)
    page.goto(stack.base + "/")
    return page


def create_event(stack: StackProcess, name: str, **settings: Any) -> str:
    seats = [
        {"seat_id": f"{s}-{r}-{n}", "section": s, "row": str(r), "number": n, "price_cents": 4500}
        for s in ("A", "B")
        for r in (1, 2)
        for n in range(1, 9)
    ]
    body: dict[str, Any] = {"name": name, "venue": "Test Hall", "starts_at": "2031-06-01T19:30:00Z"}
    body |= {"seats": seats, **settings}
    return str(stack.create_event(body)["id"])


def open_event(page: Page, event_id: str) -> None:
    page.locator(f'[data-event-id="{event_id}"]').click()
    expect(seat(page, "A-1-1")).to_be_visible()


def api_hold(stack: StackProcess, event_id: str, seat_ids: list[str]) -> dict[str, Any]:
    answer = stack.hold(event_id, seat_ids)
    assert answer.status == 201, answer.body
    return dict(answer.body)


def test_hold_wait_pay_and_see_it_booked(stack, browser):
    event_id = create_event(stack, "Browser Night", admission_per_second=0.5)
    for seat_id in ("B-2-7", "B-2-8"):  # two fans already in line ahead
        api_hold(stack, event_id, [seat_id])
    fan = new_fan(browser, stack)
    expect(fan.locator(f'[data-event-id="{event_id}"]')).to_be_visible()
    shot(fan, "01-events")
    open_event(fan, event_id)
    seat(fan, "A-1-3").click()
    seat(fan, "A-1-4").press("Enter")  # the keyboard works as well as the mouse
    expect(seat(fan, "A-1-3")).to_have_attribute("data-status", "selected")
    expect(seat(fan, "A-1-4")).to_have_attribute("aria-pressed", "true")
    shot(fan, "02-seats-selected")
    fan.locator("#hold-button").click()
    expect(fan.locator("#queue-position")).to_contain_text("in line")
    shot(fan, "03-waiting-in-line")
    expect(fan.locator("#checkout-panel")).to_be_visible(timeout=30_000)
    expect(fan.locator("#countdown")).to_have_text(re.compile(r"^\d{1,2}:\d\d$"))
    expect(seat(fan, "A-1-3")).to_have_attribute("data-status", "mine")
    shot(fan, "04-checkout")
    fan.locator("#pay-button").click()
    expect(fan.locator("#confirmation")).to_contain_text("Booking confirmed")
    expect(fan.locator("#confirmation-seats")).to_contain_text("A, row 1, seat 3")
    shot(fan, "05-booked")
    statuses = stack.seat_statuses(event_id)
    assert (statuses["A-1-3"], statuses["A-1-4"]) == ("booked", "booked")


def test_a_second_fan_sees_the_seat_taken(stack, browser):
    event_id = create_event(stack, "Contested Night")
    second = new_fan(browser, stack)
    open_event(second, event_id)
    seat(second, "A-2-1").click()
    seat(second, "A-2-2").click()
    api_hold(stack, event_id, ["A-2-1"])  # the first fan is quicker
    second.locator("#hold-button").click()
    expect(second.locator("#status")).to_contain_text("A, row 2, seat 1")
    expect(second.locator("#status")).to_contain_text("taken")
    expect(seat(second, "A-2-1")).to_have_attribute("data-status", "held")
    expect(seat(second, "A-2-1")).to_be_disabled()
    shot(second, "06-seat-taken")


def hold_one_seat(browser: Browser, stack: StackProcess, event_id: str, seat_id: str) -> Page:
    fan = new_fan(browser, stack)
    open_event(fan, event_id)
    seat(fan, seat_id).click()
    fan.locator("#hold-button").click()
    return fan


def see_it_expire_then_free(fan: Page, seat_id: str, screenshot: str) -> None:
    expect(fan.locator("#expired-panel")).to_contain_text("expired", timeout=15_000)
    shot(fan, screenshot)
    fan.locator("#back-to-map").click()
    expect(seat(fan, seat_id)).to_have_attribute("data-status", "available", timeout=10_000)


def test_an_expired_hold_is_said_plainly_and_frees_the_seat(stack, browser):
    event_id = create_event(stack, "Short Holds", hold_seconds=3, admission_per_second=0.01)
    api_hold(stack, event_id, ["B-1-1"])  # ahead in line for the next 100 s
    fan = hold_one_seat(browser, stack, event_id, "A-1-1")
    expect(fan.locator("#queue-position")).to_be_visible()
    see_it_expire_then_free(fan, "A-1-1", "07-expired")
    other = new_fan(browser, stack)
    open_event(other, event_id)
    expect(seat(other, "A-1-1")).to_be_enabled()


def test_a_checkout_window_that_runs_out_is_said_plainly(stack, browser):
    event_id = create_event(stack, "Short Checkout", checkout_seconds=3, admission_per_second=5)
    fan = hold_one_seat(browser, stack, event_id, "B-1-4")
    expect(fan.locator("#countdown")).to_be_visible()
    see_it_expire_then_free(fan, "B-1-4", "08-checkout-expired")
    expect(fan.locator("#pay-button")).to_be_hidden()
    assert stack.seat_statuses(event_id)["B-1-4"] == "available"
