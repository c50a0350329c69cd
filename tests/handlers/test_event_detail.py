"""GET /events/{id}: the seat layout Postgres builds equals the one the contract describes.

Sections in the order the event's seats first name them (by name, in code-point order, for
events made before that order was kept), rows by label length then label, seats by number
then id; every seat once, with its section, row, number and price.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boxoffice.models.events import EventDetail
from tests.support import api_event, invoke, load_event

ADMIN = {"x-api-key": "test-admin-key"}
# Names whose orders differ between code points, case and length; one not ASCII.
SECTIONS = ["Floor", "balcony", "Box", "Äußere", "B"]
ROWS = ["1", "2", "10", "A", "b", "AA", "Z9"]

seat_specs = st.lists(
    st.tuples(st.sampled_from(SECTIONS), st.sampled_from(ROWS), st.integers(1, 40)),
    min_size=1,
    max_size=60,
    unique=True,
)


def expected_sections(seats: list[dict[str, Any]], section_order: list[str]) -> list[Any]:
    rank = {name: index for index, name in enumerate(section_order)}
    sections = sorted({s["section"] for s in seats}, key=lambda n: (rank.get(n, len(rank)), n))
    laid_out = []
    for section in sections:
        in_section = [s for s in seats if s["section"] == section]
        rows = sorted({s["row"] for s in in_section}, key=lambda r: (len(r), r))
        laid_out.append(
            {
                "section": section,
                "rows": [
                    {
                        "row": row,
                        "seats": sorted(
                            (
                                {
                                    k: s[k]
                                    for k in ("seat_id", "section", "row", "number", "price_cents")
                                }
                                for s in in_section
                                if s["row"] == row
                            ),
                            key=lambda s: (s["number"], s["seat_id"]),
                        ),
                    }
                    for row in rows
                ],
            }
        )
    return laid_out


def create(seats: list[dict[str, Any]]) -> dict[str, Any]:
    body = json.loads(load_event("create_event")["body"])
    status, created = invoke(
        "create_event", api_event("create_event", body={**body, "seats": seats}, headers=ADMIN)
    )
    assert status == 201, created
    return created


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(specs=seat_specs, data=st.data())
def test_the_layout_is_every_seat_in_the_contracts_order(deps, specs, data):
    seats = [
        {
            "seat_id": f"{section}/{row}/{number}",
            "section": section,
            "row": row,
            "number": number,
            "price_cents": data.draw(st.integers(0, 100_000)),
        }
        for section, row, number in specs
    ]
    created = create(seats)
    status, event = invoke("get_event", api_event("get_event", event_id=created["id"]))
    assert status == 200
    assert event == created
    EventDetail.model_validate(event)
    order = list(dict.fromkeys(s["section"] for s in seats))
    assert event["sections"] == expected_sections(seats, order)
    assert (event["seats_total"], event["seats_available"]) == (len(seats), len(seats))


def test_an_event_from_before_the_order_was_kept_lists_sections_by_name(deps, db):
    seats = [
        {"seat_id": f"{s}-1", "section": s, "row": "A", "number": 1, "price_cents": 100}
        for s in SECTIONS
    ]
    created = create(seats)
    assert [s["section"] for s in created["sections"]] == SECTIONS
    with db.connection() as conn:
        conn.execute("UPDATE events SET section_order = NULL WHERE id = %s", (created["id"],))
    status, event = invoke("get_event", api_event("get_event", event_id=created["id"]))
    assert status == 200
    assert [s["section"] for s in event["sections"]] == sorted(SECTIONS)
    assert event["sections"] == expected_sections(seats, [])
