"""POST /events/{event_id}/best-available: adjacency, no orphans, filters, contention."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from boxoffice.models.events import EventSpec
from boxoffice.services.events import create_event
from tests.support import api_event, hold, invoke


def spec(rows: dict[tuple[str, str], tuple[int, int]], **extra: Any) -> EventSpec:
    """An event whose (section, row) has `n` seats numbered 1..n at `price` cents each."""
    seats = [
        {
            "seat_id": f"{section}-{row}-{number}",
            "section": section,
            "row": row,
            "number": number,
            "price_cents": price,
        }
        for (section, row), (n, price) in rows.items()
        for number in range(1, n + 1)
    ]
    return EventSpec.model_validate(
        {
            "name": "Best",
            "venue": "Hall",
            "starts_at": "2031-06-01T19:30:00Z",
            "seats": seats,
            **extra,
        }
    )


def ask(event_id: object, **body: Any) -> tuple[int, Any]:
    return invoke("best_available", api_event("best_available", event_id=str(event_id), body=body))


def take(event_id: object, *seat_ids: str) -> None:
    status, body = hold(event_id, list(seat_ids))
    assert status == 201, body


def test_suggests_adjacent_seats_in_the_front_row_centre(deps):
    event_id = create_event(deps, spec({("Floor", "A"): (10, 5000), ("Floor", "B"): (10, 4000)}))
    status, body = ask(event_id, count=4)
    assert status == 200, body
    assert body == {
        "seat_ids": ["Floor-A-4", "Floor-A-5", "Floor-A-6", "Floor-A-7"],
        "section": "Floor",
        "row": "A",
        "total_cents": 20_000,
    }


def test_nothing_is_held(deps):
    event_id = create_event(deps, spec({("Floor", "A"): (4, 5000)}))
    first = ask(event_id, count=2)
    assert first == ask(event_id, count=2)
    take(event_id, *first[1]["seat_ids"])


def test_never_leaves_a_single_seat_stranded(deps):
    # Row A: 1..6 with 1 and 6 taken leaves 2..5 free; three seats would strand one.
    event_id = create_event(deps, spec({("S", "A"): (6, 100), ("S", "B"): (6, 100)}))
    take(event_id, "S-A-1", "S-A-6")
    status, body = ask(event_id, count=3)
    assert status == 200
    assert body["row"] == "B"  # 2-4 strands 5, 3-5 strands 2: row A cannot take three
    status, body = ask(event_id, count=2)
    assert body["seat_ids"] in (["S-A-2", "S-A-3"], ["S-A-4", "S-A-5"])
    status, body = ask(event_id, count=4)
    assert body["seat_ids"] == ["S-A-2", "S-A-3", "S-A-4", "S-A-5"]


def test_seats_across_a_gap_are_not_together(deps):
    event_id = create_event(deps, spec({("S", "A"): (5, 100)}))
    take(event_id, "S-A-3")
    status, body = ask(event_id, count=3)
    assert (status, body["error"]) == (409, "no_seats_together")
    assert "3 seats together" in body["message"]


def test_section_and_price_filters(deps):
    event_id = create_event(
        deps,
        spec({("Floor", "A"): (6, 9000), ("Balcony", "A"): (6, 3000), ("Balcony", "B"): (6, 2500)}),
    )
    assert ask(event_id, count=2)[1]["section"] == "Floor"  # the first section given
    status, body = ask(event_id, count=2, section="Balcony")
    assert (body["section"], body["row"]) == ("Balcony", "A")
    status, body = ask(event_id, count=2, max_price_cents=2500)
    assert (body["section"], body["row"], body["total_cents"]) == ("Balcony", "B", 5000)
    status, body = ask(event_id, count=2, max_price_cents=2000)
    assert (status, body["error"]) == (409, "no_seats_together")


def test_an_expired_hold_counts_as_free(deps, clock):
    event_id = create_event(
        deps, spec({("S", "A"): (2, 100)}, hold_seconds=30, checkout_seconds=30)
    )
    take(event_id, "S-A-1")
    assert ask(event_id, count=2)[0] == 409
    clock.advance(31)
    assert ask(event_id, count=2)[1]["seat_ids"] == ["S-A-1", "S-A-2"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"count": 0},
        {"count": 11},
        {"count": "2"},
        {"count": 2, "extra": 1},
        {"count": 2, "section": ""},
        {"count": 2, "max_price_cents": -1},
        {"count": 2, "section": "Nowhere"},
    ],
)
def test_bad_requests_are_400(deps, body):
    event_id = create_event(deps, spec({("S", "A"): (6, 100)}))
    status, answer = ask(event_id, **body)
    assert (status, answer["error"]) == (400, "invalid_request"), answer


def test_unknown_event_is_404(deps):
    status, body = ask("11111111-1111-4111-8111-999999999999", count=2)
    assert (status, body["error"]) == (404, "event_not_found")


def test_two_fans_asking_at_once_get_disjoint_seats_or_a_409(deps):
    """Best available holds nothing, so two fans may be shown the same seats; holding them
    decides: one wins, the other gets 409 and asks again for other seats."""
    event_id = create_event(deps, spec({("S", "A"): (4, 100), ("S", "B"): (4, 100)}))
    barrier = threading.Barrier(2)
    outcomes: list[tuple[list[str], int]] = []
    lock = threading.Lock()

    def fan() -> None:
        barrier.wait()
        for _ in range(3):
            status, block = ask(event_id, count=4)
            if status != 200:
                with lock:
                    outcomes.append(([], status))
                return
            held, _ = hold(event_id, block["seat_ids"])
            if held == 201:
                with lock:
                    outcomes.append((block["seat_ids"], held))
                return
            assert held == 409

    threads = [threading.Thread(target=fan) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    won = [seats for seats, status in outcomes if status == 201]
    assert len(won) == 2
    assert not set(won[0]) & set(won[1])
    assert ask(event_id, count=1)[1]["error"] == "no_seats_together"


def test_a_twenty_thousand_seat_event_is_answered_within_its_filter(deps):
    """The block for a price cap on a big venue (its speed is a figure of `make bench`)."""
    rows = {(f"S{s}", f"R{r}"): (50, 100 * (s + 1)) for s in range(20) for r in range(20)}
    event_id = create_event(deps, spec(rows))
    event = deps.events.get(event_id, deps.clock.now())
    assert event is not None
    assert event.seats_total == 20_000
    status, body = ask(event_id, count=6, max_price_cents=1000)
    assert status == 200
    section, row = body["section"], body["row"]
    numbers = [int(seat.rsplit("-", 1)[1]) for seat in body["seat_ids"]]
    assert numbers == list(range(numbers[0], numbers[0] + 6))
    assert all(seat.startswith(f"{section}-{row}-") for seat in body["seat_ids"])
    assert rows[(section, row)][1] <= 1000
    assert body["total_cents"] == 6 * rows[(section, row)][1]
