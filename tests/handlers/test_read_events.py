from __future__ import annotations

from tests.support import api_event, hold, invoke, seat_statuses

seats_by_id = seat_statuses


def test_list_events_counts_live_availability(deps, make_event, clock):
    first = make_event(name="Alpha", seats=6, hold_seconds=60)
    make_event(name="Beta", seats=3)
    assert hold(first, ["A-1-1", "A-1-2"])[0] == 201
    status, events = invoke("list_events", api_event("list_events"))
    assert status == 200
    by_name = {event["name"]: event for event in events}
    assert set(by_name["Alpha"]) >= {"id", "name", "venue", "starts_at", "seats_total"}
    assert (by_name["Alpha"]["seats_total"], by_name["Alpha"]["seats_available"]) == (6, 4)
    assert (by_name["Beta"]["seats_total"], by_name["Beta"]["seats_available"]) == (3, 3)
    clock.advance(61)
    _, events = invoke("list_events", api_event("list_events"))
    assert {e["name"]: e["seats_available"] for e in events}["Alpha"] == 6


def test_get_event_has_the_layout(deps, make_event):
    event_id = make_event(seats=12)
    status, event = invoke("get_event", api_event("get_event", event_id=str(event_id)))
    assert status == 200
    assert event["id"] == str(event_id)
    assert [s["section"] for s in event["sections"]] == ["A"]
    assert [r["row"] for r in event["sections"][0]["rows"]] == ["1", "2"]
    assert [s["number"] for s in event["sections"][0]["rows"][0]["seats"]] == [1, 2, 3, 4, 5, 6]


def test_unknown_or_malformed_event_ids_are_404(deps):
    for event_id in ("11111111-1111-4111-8111-999999999999", "not-a-uuid", "%00"):
        for name in ("get_event", "list_seats"):
            status, body = invoke(name, api_event(name, event_id=event_id))
            assert (status, body["error"]) == (404, "event_not_found")


def test_seat_statuses_and_an_expired_hold_reads_available(deps, make_event, clock):
    event_id = make_event(seats=6, hold_seconds=30)
    assert hold(event_id, ["A-1-1"])[0] == 201
    statuses = seats_by_id(event_id)
    assert statuses["A-1-1"] == "held"
    assert statuses["A-1-2"] == "available"
    clock.advance(30)  # the hold ends exactly now: nothing has released it, yet it is free
    assert seats_by_id(event_id)["A-1-1"] == "available"
    assert hold(event_id, ["A-1-1"])[0] == 201


def test_ids_the_routes_cannot_match_are_404_not_500(deps):
    from tests.support import load_event

    for raw in ("\x00", "\n", "\r\nx", "\udcff"):
        for name in ("get_event", "list_seats"):
            event = load_event(name)
            event["path"] = event["path"].replace("11111111-1111-4111-8111-111111111111", raw)
            event["pathParameters"] = {"event_id": raw}
            status, body = invoke(name, event)
            assert status == 404, (name, raw)
            assert body["error"] in ("not_found", "event_not_found")
