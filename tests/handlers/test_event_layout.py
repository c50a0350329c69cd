"""An event's optional venue layout: validated strictly, returned by GET /events/{id}."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.support import api_event, invoke, load_event

ADMIN = {"x-api-key": "test-admin-key"}


def body_with_sections(*sections: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(load_event("create_event")["body"])
    template = body["seats"][0]
    body["seats"] = [
        {**template, "seat_id": f"{section}-{n}", "section": section, "row": "A", "number": n}
        for section in sections
        for n in (1, 2)
    ]
    return body


LAYOUT: dict[str, Any] = {
    "stage": {"x": 0, "y": 0, "width": 20, "height": 4, "label": "Stage"},
    "sections": [
        {"section": "Floor", "x": 0, "y": 10},
        {"section": "Balcony", "x": 0, "y": 30},
        {"section": "Box", "x": 20, "y": 10, "rotation": -90},
    ],
}


def create(body: dict[str, Any]) -> tuple[int, Any]:
    return invoke("create_event", api_event("create_event", body=body, headers=ADMIN))


def test_layout_is_kept_and_returned(deps):
    status, created = create({**body_with_sections("Floor", "Balcony", "Box"), "layout": LAYOUT})
    assert status == 201, created
    status, event = invoke("get_event", api_event("get_event", event_id=created["id"]))
    assert status == 200
    assert event["layout"] == {
        "stage": LAYOUT["stage"],
        "sections": [{**s, "rotation": s.get("rotation", 0)} for s in LAYOUT["sections"]],
    }


def test_sections_come_in_the_order_given_not_alphabetical(deps):
    status, created = create(body_with_sections("Floor", "Mezzanine", "Balcony"))
    assert status == 201
    assert created["layout"] is None
    assert [s["section"] for s in created["sections"]] == ["Floor", "Mezzanine", "Balcony"]


def bad_layouts() -> list[Any]:
    layouts: list[Any] = []
    for change in (
        lambda lay: lay["sections"].append({"section": "Nowhere", "x": 0, "y": 0}),
        lambda lay: lay["sections"].pop(),  # Box not placed
        lambda lay: lay["sections"].append(dict(lay["sections"][0])),  # placed twice
        lambda lay: lay["sections"][0].update(x=1e9),
        lambda lay: lay["sections"][0].update(x="1"),
        lambda lay: lay["sections"][0].update(rotation=720),
        lambda lay: lay["sections"][0].update(colour="red"),
        lambda lay: lay["stage"].update(width=0),
        lambda lay: lay.update(sections=[]),
        lambda lay: lay.update(sections=[{"section": "Floor", "x": 0, "y": 0}] * 201),
    ):
        layout = copy.deepcopy(LAYOUT)
        change(layout)
        layouts.append(layout)
    return [*layouts, [], "stage", {"stage": LAYOUT["stage"]}]


@pytest.mark.parametrize("layout", bad_layouts())
def test_bad_layouts_are_400(deps, layout):
    status, body = create({**body_with_sections("Floor", "Balcony", "Box"), "layout": layout})
    assert (status, body["error"]) == (400, "invalid_request"), body
