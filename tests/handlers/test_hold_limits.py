"""Seat spinning and sales closing: one client holds at most the event's
`max_held_per_client` seats at once (429 hold_limit beyond), never more under
concurrency; holds stop when the event starts (409 sales_closed)."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from boxoffice.errors import DomainError
from boxoffice.http import STATUS_BY_ERROR
from boxoffice.models.checkouts import CheckoutRequest
from boxoffice.services.checkouts import create_checkout
from tests.support import api_event, invoke, on_checkout


def hold_as(event_id, seat_ids: list[str], client: str = "203.0.113.7", **headers: str):
    event = api_event("create_checkout", event_id=str(event_id), body={"seat_ids": seat_ids})
    event["requestContext"]["identity"]["sourceIp"] = client
    event["headers"].update(headers)
    return invoke("create_checkout", event)


def held_by(deps, event_id) -> Counter[str]:
    with deps.connection() as conn:
        rows = conn.execute(
            "SELECT held_by FROM seats WHERE event_id = %s AND status = 'held'", (event_id,)
        ).fetchall()
    return Counter(client for (client,) in rows)


def test_beyond_the_cap_is_429_naming_it_and_cancelling_frees_room(deps, make_event):
    event_id = make_event(seats=12, max_held_per_client=3)
    status, first = hold_as(event_id, ["A-1-1", "A-1-2"])
    assert status == 201
    status, refused = hold_as(event_id, ["A-1-3", "A-1-4"])
    assert (status, refused["error"], refused["max_held_per_client"]) == (429, "hold_limit", 3)
    assert "(3)" in refused["message"]
    assert hold_as(event_id, ["A-1-3"])[0] == 201
    assert on_checkout("cancel_checkout", first["checkout_id"], first["token"])[0] == 200
    assert hold_as(event_id, ["A-1-4", "A-1-5"])[0] == 201
    assert held_by(deps, event_id) == {"203.0.113.7": 3}


def test_other_clients_and_lapsed_holds_do_not_count(deps, make_event, clock):
    event_id = make_event(seats=12, max_held_per_client=2, hold_seconds=30)
    assert hold_as(event_id, ["A-1-1", "A-1-2"])[0] == 201
    assert hold_as(event_id, ["A-1-3", "A-1-4"], client="198.51.100.1")[0] == 201
    assert hold_as(event_id, ["A-1-5"])[0] == 429
    clock.advance(31)  # the first client's hold has run out
    assert hold_as(event_id, ["A-1-5", "A-1-6"])[0] == 201


def test_behind_cloudfront_the_viewer_is_the_client(deps, make_event):
    event_id = make_event(seats=12, max_held_per_client=1)
    edge = "130.176.0.1"  # every viewer of one edge location arrives from its address
    viewer = {"CloudFront-Viewer-Address": "192.0.2.10:51234"}
    assert hold_as(event_id, ["A-1-1"], client=edge, **viewer)[0] == 201
    assert hold_as(event_id, ["A-1-2"], client=edge, **viewer)[0] == 429
    other = {"CloudFront-Viewer-Address": "192.0.2.11:40000"}
    assert hold_as(event_id, ["A-1-2"], client=edge, **other)[0] == 201


def test_the_cap_holds_under_concurrency(deps, make_event):
    cap, threads = 5, 48
    event_id = make_event(seats=60, max_held_per_client=cap)
    seats = [f"A-{i // 6 + 1}-{i % 6 + 1}" for i in range(60)]
    start = threading.Barrier(threads)

    def attempt(n: int) -> tuple[str, int]:
        # The service, as the handler calls it: a Lambda handler is one invocation at a time
        # (its resolver keeps the current event), so threads share the store, not a handler.
        client = "203.0.113.7" if n % 4 else f"198.51.100.{n}"  # a quarter are other fans
        request = CheckoutRequest(seat_ids=[seats[n]])
        start.wait()
        try:
            create_checkout(deps, str(event_id), request, client)
        except DomainError as error:
            return client, int(STATUS_BY_ERROR[type(error)])
        return client, 201

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(attempt, range(threads)))
    spinner = Counter(status for client, status in results if client == "203.0.113.7")
    others = Counter(status for client, status in results if client != "203.0.113.7")
    print(f"{threads} threads, cap {cap}: spinner {dict(spinner)}, others {dict(others)}")
    assert spinner == {201: cap, 429: threads - threads // 4 - cap}
    assert others == {201: threads // 4}
    assert held_by(deps, event_id)["203.0.113.7"] == cap


def test_holds_stop_when_the_event_starts(deps, make_event, clock):
    event_id = make_event(seats=6, starts_at="2030-01-01T12:00:30Z")  # the clock: 12:00:00
    assert hold_as(event_id, ["A-1-1"])[0] == 201
    clock.advance(30)
    status, body = hold_as(event_id, ["A-1-2"])
    assert (status, body["error"]) == (409, "sales_closed")


def test_an_event_cannot_start_in_the_past(deps):
    body = {
        "name": "Yesterday",
        "venue": "Hall",
        "starts_at": "2029-12-31T20:00:00Z",  # the clock: 2030-01-01
        "seats": [{"seat_id": "A-1", "section": "A", "row": "1", "number": 1, "price_cents": 1}],
    }
    event = api_event("create_event", body=body, headers={"x-api-key": "test-admin-key"})
    status, answer = invoke("create_event", event)
    assert (status, answer["error"]) == (400, "invalid_request")
    assert "starts_at has passed" in answer["message"]
