"""The demo event the local stack creates on first start (through CreateEventFunction)."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from local.gateway import request_event
from local.lambdas import Invoker
from local.template import Route

DEMO_NAME = "Demo Night"
ROWS = "ABCDEFGHIJ"
SEATS_PER_ROW = 12
# (section, seat id prefix, price of the first three rows, price of the others)
SECTIONS = (
    ("Floor", "FL", 12_000, 8_900),
    ("Mezzanine", "MZ", 7_500, 6_500),
    ("Balcony", "BA", 5_000, 4_500),
)


# Where the sections are, in seat pitches (see DESIGN.md's `layout`): the stage at the front,
# the Floor before it, the Mezzanine behind, the Balcony at the back. A section's block is
# its seats (12 wide) plus a row label each side, by its 10 rows plus its title.
LAYOUT: dict[str, Any] = {
    "stage": {"x": 0, "y": 0, "width": 13, "height": 2.4, "label": "Stage"},
    "sections": [
        {"section": "Floor", "x": 0, "y": 7.9},
        {"section": "Mezzanine", "x": 0, "y": 20.2},
        {"section": "Balcony", "x": 0, "y": 32.5},
    ],
}


def demo_event(now: datetime | None = None) -> dict[str, Any]:
    """The body of `POST /events`: 3 sections x 10 rows x 12 seats, six price tiers, placed
    as a hall: stage, Floor, Mezzanine, Balcony."""
    now = now or datetime.now(UTC)
    starts = (now + timedelta(days=30)).replace(hour=20, minute=0, second=0, microsecond=0)
    seats = [
        {
            "seat_id": f"{prefix}-{row}-{number}",
            "section": section,
            "row": row,
            "number": number,
            "price_cents": front if index < 3 else back,
        }
        for section, prefix, front, back in SECTIONS
        for index, row in enumerate(ROWS)
        for number in range(1, SEATS_PER_ROW + 1)
    ]
    return {
        "name": DEMO_NAME,
        "venue": "The Local Hall",
        "starts_at": starts.isoformat().replace("+00:00", "Z"),
        "hold_seconds": 600,
        "checkout_seconds": 300,
        "admission_per_second": 1,
        "seats": seats,
        "layout": LAYOUT,
    }


def create_demo(api_url: str, admin_key: str) -> dict[str, Any]:
    """Create the demo event through the local API, as an admin would."""
    request = urllib.request.Request(  # noqa: S310 - the local gateway
        f"{api_url}/events",
        data=json.dumps(demo_event()).encode(),
        headers={"Content-Type": "application/json", "x-api-key": admin_key},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
        created: dict[str, Any] = json.loads(answer.read())
    return created


def create_demo_directly(routes: list[Route], invoker: Invoker, admin_key: str) -> dict[str, Any]:
    """Without the gateway (`--services-only`): the API event of `POST /events`, given to
    the function of that route."""
    [route] = [r for r in routes if (r.method, r.path) == ("POST", "/events")]
    body = json.dumps(demo_event()).encode()
    environ = EnvironBuilder(
        method="POST",
        path="/events",
        data=body,
        headers=[("Content-Type", "application/json"), ("x-api-key", admin_key)],
    ).get_environ()
    event = request_event(Request(environ), route.path, {}, body)
    invocation = invoker.invoke(route.function, event)
    result = invocation.result if invocation.ok else None
    if not isinstance(result, dict) or result.get("statusCode") != 201:
        raise RuntimeError(invocation.error or f"answer {result!r}")
    created: dict[str, Any] = json.loads(result["body"])
    return created
