"""The venue map at desktop (1280x800) and phone (390x844) sizes, in Debian's Chromium.

The demo event's layout (stage, Floor, Mezzanine, Balcony; six price tiers) drawn as a hall;
no sideways page scroll (also at 360 px); every seat reachable and big enough to tap; the
legend's prices; best available holds adjacent seats once the fan confirms; booked seats
shown as the fan's with the booking reference; the return from the payment page.
Screenshots: tests/artifacts/screenshots/venue-<size>-<step>.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from local.seed import demo_event
from tests.browser.support import seat, shot
from tests.local.stack import StackProcess, running_stack

pytestmark = pytest.mark.browser

SIZES = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}
SELECTED_BACKGROUND = "rgb(17, 24, 39)"


@pytest.fixture(params=sorted(SIZES))
def size(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def venue_event(stack: StackProcess, name: str) -> dict[str, Any]:
    body = demo_event() | {"name": name, "admission_per_second": 5}
    return stack.create_event(body)


def fan_page(browser: Browser, stack: StackProcess, size: str, event_id: str) -> Page:
    page = browser.new_context(**SIZES[size]).new_page()  # type: ignore[arg-type]
    page.set_default_timeout(20_000)
    page.goto(f"{stack.base}/#/events/{event_id}")
    expect(seat(page, "FL-A-1")).to_be_visible()
    return page


def no_sideways_scroll(page: Page) -> None:
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], widths


def test_the_venue_fits_and_every_seat_is_reachable(stack, browser, size):
    event = venue_event(stack, f"Venue Fit {size}")
    page = fan_page(browser, stack, size, event["id"])
    no_sideways_scroll(page)
    # Sections in their places: the stage first, then Floor, Mezzanine, Balcony down the hall.
    tops = page.evaluate(
        "['.stage', '[data-section=Floor]', '[data-section=Mezzanine]', '[data-section=Balcony]']"
        ".map(s => document.querySelector(s).getBoundingClientRect().top)"
    )
    assert tops == sorted(tops), tops
    # Every seat on screen sideways (seats 1 and 12 included), big enough to tap, labelled.
    boxes = page.evaluate(
        """[...document.querySelectorAll('#seat-map button.seat')].map(b => {
             const r = b.getBoundingClientRect();
             return [b.dataset.seatId, r.left, r.right, r.width, r.height, b.ariaLabel]; })"""
    )
    assert len(boxes) == 360
    width = page.evaluate("document.documentElement.clientWidth")
    for seat_id, left, right, w, h, label in boxes:
        assert left >= 0, (seat_id, left)
        assert right <= width, (seat_id, right)
        assert min(w, h) >= 24, (seat_id, w, h)
        assert re.match(r"^(Floor|Mezzanine|Balcony), row [A-J], seat \d+, ", label)
    labels = page.evaluate(
        """[...document.querySelectorAll('[data-section=Floor] [data-row=A] .row-label')]
             .map(l => { const r = l.getBoundingClientRect(); return [r.left, r.right]; })"""
    )
    assert len(labels) == 2
    assert all(left >= 0 and right <= width for left, right in labels), labels
    # The legend: six tiers, each with its price and how many are left.
    tiers = page.locator("#legend-tiers li")
    expect(tiers).to_have_count(6)
    expect(tiers.first).to_contain_text("$120.00")
    expect(tiers.first).to_contain_text("36 left")
    expect(page.locator("#legend-tiers")).to_contain_text("$45.00")
    shot(page, f"venue-{size}-01-map")
    page.set_viewport_size({"width": 360, "height": 780})
    page.wait_for_timeout(300)
    no_sideways_scroll(page)
    # Zooming pans inside the map; the page still does not scroll sideways.
    page.locator("#zoom-in").click()
    page.locator("#zoom-in").click()
    no_sideways_scroll(page)
    page.locator("#zoom-fit").click()
    no_sideways_scroll(page)


def test_a_selected_seat_stays_selected_under_the_pointer(stack, browser, size):
    event = venue_event(stack, f"Venue Hover {size}")
    page = fan_page(browser, stack, size, event["id"])
    target = seat(page, "MZ-C-5")
    target.click()
    expect(target).to_have_attribute("data-status", "selected")
    target.hover()
    background = target.evaluate("b => getComputedStyle(b).backgroundColor")
    assert background == SELECTED_BACKGROUND
    expect(page.locator("#selection-list")).to_contain_text("Mezzanine, row C, seat 5")
    expect(page.locator("#selection-total")).to_have_text("$75.00")
    seat(page, "MZ-C-6").click()
    expect(page.locator("#selection-total")).to_have_text("$150.00")
    shot(page, f"venue-{size}-02-selected")


def test_best_available_then_booked_as_yours(stack, browser, size):
    event = venue_event(stack, f"Venue Best {size}")
    page = fan_page(browser, stack, size, event["id"])
    page.locator("#best-count").select_option("4")
    page.locator("#best-where").select_option("section:Balcony")
    page.locator("#best-button").click()
    expect(page.locator("#status")).to_contain_text("Balcony, row A, seats")
    selected = page.locator('#seat-map button[data-status="selected"]')
    expect(selected).to_have_count(4)
    ids = [selected.nth(i).get_attribute("data-seat-id") or "" for i in range(4)]
    numbers = sorted(int(i.split("-")[2]) for i in ids)
    assert {i.rsplit("-", 1)[0] for i in ids} == {"BA-A"}
    assert numbers == list(range(numbers[0], numbers[0] + 4))
    held = stack.seat_statuses(event["id"])
    assert {held[i] for i in ids} == {"available"}  # a suggestion holds nothing
    shot(page, f"venue-{size}-03-best-available")
    page.locator("#hold-button").click()
    expect(page.locator("#checkout-panel")).to_be_visible(timeout=30_000)
    for seat_id in ids:
        expect(seat(page, seat_id)).to_have_attribute("data-status", "mine")
    shot(page, f"venue-{size}-04-checkout")
    page.locator("#pay-button").click()
    expect(page.locator("#confirmation")).to_contain_text("Booking confirmed")
    reference = page.locator("#confirmation-ref")
    expect(reference).to_have_text(re.compile(r"^[A-Z0-9]{3}-[A-Z0-9]{4}$"))
    expect(page.locator("#back-to-map")).to_be_visible()
    page.locator("#back-to-map").click()
    for seat_id in ids:
        expect(seat(page, seat_id)).to_have_attribute("data-status", "yours")
        expect(seat(page, seat_id)).to_have_attribute("aria-label", re.compile("yours, booked"))
    shot(page, f"venue-{size}-05-booked-as-yours")


@pytest.fixture(scope="module")
def stripe_stack(database_url: str) -> Iterator[StackProcess]:
    """The stack as `make dev` runs it: Stripe's flow against the offline stand-in."""
    with running_stack(database_url) as running:
        yield running


def hold_and_go_to_pay(browser: Browser, stack: StackProcess, seat_id: str) -> Page:
    event = venue_event(stack, f"Venue Stripe {seat_id}")
    page = fan_page(browser, stack, "phone", event["id"])
    seat(page, seat_id).click()
    page.locator("#hold-button").click()
    expect(page.locator("#checkout-panel")).to_be_visible(timeout=30_000)
    page.locator("#pay-button").click()
    expect(page.locator("#pay")).to_be_visible()  # the stand-in's hosted checkout page
    return page


def test_pay_on_the_hosted_page_and_come_back_to_the_booking(stripe_stack, browser):
    """Pay goes to the hosted checkout page; paying there sends the signed webhook and the
    browser back to ?checkout=<id>&payment=success, where the booking and its reference
    are shown and the seat is marked as the fan's."""
    page = hold_and_go_to_pay(browser, stripe_stack, "FL-E-6")
    shot(page, "venue-phone-06-hosted-payment-page")
    page.locator("#pay").click()
    expect(page.locator("#confirmation")).to_contain_text("Booking confirmed", timeout=15_000)
    expect(page.locator("#confirmation-ref")).to_have_text(re.compile(r"^[A-Z0-9]{3}-[A-Z0-9]{4}$"))
    assert "checkout=" not in page.url
    expect(seat(page, "FL-E-6")).to_have_attribute("data-status", "yours")
    shot(page, "venue-phone-07-paid-and-back")


def test_back_from_a_cancelled_payment_the_fan_can_pay_again(stripe_stack, browser):
    page = hold_and_go_to_pay(browser, stripe_stack, "MZ-A-1")
    page.locator("#cancel").click()
    expect(page.locator("#status")).to_contain_text("Payment cancelled")
    expect(page.locator("#pay-button")).to_be_enabled()
    expect(seat(page, "MZ-A-1")).to_have_attribute("data-status", "mine")
    shot(page, "venue-phone-08-payment-cancelled")


def test_a_layout_with_turned_side_sections_is_drawn_in_place(stack, browser):
    """Sections where the layout puts them: wings either side of the floor, turned to face
    the stage, and no sideways page scroll for it."""
    seats = [
        {"seat_id": f"{s}-{r}-{n}", "section": s, "row": r, "number": n, "price_cents": p}
        for s, p in (("Left", 3000), ("Floor", 6000), ("Right", 3000))
        for r in "ABCD"
        for n in range(1, 9)
    ]
    layout = {
        "stage": {"x": 0, "y": 0, "width": 12, "height": 2.5},
        "sections": [
            {"section": "Floor", "x": 0, "y": 6},
            {"section": "Left", "x": -10, "y": 6, "rotation": 90},
            {"section": "Right", "x": 10, "y": 6, "rotation": -90},
        ],
    }
    body = {"name": "Wings", "venue": "Hall", "starts_at": "2031-06-01T19:30:00Z"}
    event = stack.create_event(body | {"seats": seats, "layout": layout})
    page = browser.new_context(**SIZES["desktop"]).new_page()  # type: ignore[arg-type]
    page.goto(f"{stack.base}/#/events/{event['id']}")
    expect(seat(page, "Floor-A-1")).to_be_visible()
    centres = page.evaluate(
        """['Left', 'Floor', 'Right'].map(s => {
             const r = document.querySelector(`[data-section=${s}]`).getBoundingClientRect();
             return r.left + r.width / 2; })"""
    )
    assert centres == sorted(centres), centres
    # Turned 90 degrees, the Left wing's row A runs down the page, nearest the floor.
    a1, a8 = (seat(page, f"Left-A-{n}").bounding_box() for n in (1, 8))
    assert a1 is not None
    assert a8 is not None
    assert abs(a1["x"] - a8["x"]) < 2
    assert a8["y"] > a1["y"]
    no_sideways_scroll(page)
    seat(page, "Left-B-3").click()
    expect(seat(page, "Left-B-3")).to_have_attribute("data-status", "selected")
    shot(page, "venue-desktop-09-turned-wings")
