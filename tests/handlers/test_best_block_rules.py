"""Best-available against its rules, written plainly in Python, over random venues and states.

The rules (DESIGN.md and migration 009): rows in the event's section order (sections it did
not place after, by name), then by label length and label; in the first row that has one,
the block of `count` consecutive free seats, each within the price cap, that leaves no
single free seat at either end of its run of free seats, nearest the row's centre, then
the lowest. A hold past its time counts as free.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boxoffice.models.events import EventSpec
from boxoffice.services.events import create_event

SECTIONS = ["Floor", "Box", "balcony"]
ROWS = ["1", "2", "10", "A", "b"]
STATES = ["available", "held", "lapsed", "booked"]

venues = st.dictionaries(
    st.tuples(st.sampled_from(SECTIONS), st.sampled_from(ROWS)),
    st.lists(
        st.tuples(st.integers(1, 16), st.sampled_from([100, 500, 1000]), st.sampled_from(STATES)),
        min_size=1,
        max_size=12,
        unique_by=lambda seat: seat[0],
    ),
    min_size=1,
    max_size=5,
)


def expected(
    seats: list[dict[str, Any]],
    order: list[str],
    count: int,
    section: str | None,
    cap: int | None,
) -> tuple[str, str, list[str]] | None:
    rank = {name: index for index, name in enumerate(order)}
    rows = sorted(
        {(s["section"], s["row"]) for s in seats if section in (None, s["section"])},
        key=lambda r: (rank.get(r[0], len(rank)), r[0], len(r[1]), r[1]),
    )
    for sec, row in rows:
        in_row = [s for s in seats if (s["section"], s["row"]) == (sec, row)]
        centre = (min(s["number"] for s in in_row) + max(s["number"] for s in in_row)) / 2
        free = sorted(
            (s for s in in_row if s["state"] in ("available", "lapsed")), key=lambda s: s["number"]
        )
        runs: list[list[dict[str, Any]]] = []
        for seat in free:
            if runs and seat["number"] == runs[-1][-1]["number"] + 1:
                runs[-1].append(seat)
            else:
                runs.append([seat])
        candidates = []
        for run in runs:
            for i in range(len(run) - count + 1):
                block = run[i : i + count]
                start, end = block[0]["number"], block[-1]["number"]
                if cap is not None and any(s["price_cents"] > cap for s in block):
                    continue
                if start - run[0]["number"] == 1 or run[-1]["number"] - end == 1:
                    continue  # one free seat left stranded
                distance = abs(start + (count - 1) / 2 - centre)
                candidates.append((distance, start, [s["seat_id"] for s in block]))
        if candidates:
            return sec, row, min(candidates)[2]
    return None


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(venue=venues, count=st.integers(1, 4), pick=st.data())
def test_the_block_is_the_one_the_rules_give(deps, db, venue, count, pick):
    seats = [
        {
            "seat_id": f"{section}.{row}.{number}",
            "section": section,
            "row": row,
            "number": number,
            "price_cents": price,
            "state": state,
        }
        for (section, row), in_row in venue.items()
        for number, price, state in in_row
    ]
    spec = EventSpec.model_validate(
        {
            "name": "Rules",
            "venue": "Hall",
            "starts_at": "2031-06-01T19:30:00Z",
            "seats": [{k: v for k, v in s.items() if k != "state"} for s in seats],
        }
    )
    event_id = create_event(deps, spec)
    now = deps.clock.now()
    with db.connection() as conn:
        for seat in seats:
            if seat["state"] == "available":
                continue
            booked = seat["state"] == "booked"
            until = (
                None if booked else now + timedelta(seconds=-1 if seat["state"] == "lapsed" else 60)
            )
            conn.execute(
                "UPDATE seats SET status = %s, checkout_id = %s, held_until = %s"
                " WHERE event_id = %s AND seat_id = %s",
                ("booked" if booked else "held", uuid4(), until, event_id, seat["seat_id"]),
            )
    section = pick.draw(st.sampled_from([None, *sorted({s["section"] for s in seats})]))
    cap = pick.draw(st.sampled_from([None, 500]))
    block = deps.events.best_block(event_id, now, count, section, cap)
    want = expected(seats, spec.section_order, count, section, cap)
    if want is None:
        assert block is None
    else:
        assert block is not None
        assert (block.section, block.row, block.seat_ids) == want
        by_id = {s["seat_id"]: s for s in seats}
        assert block.total_cents == sum(by_id[s]["price_cents"] for s in want[2])
