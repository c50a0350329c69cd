"""Reads the edge may keep: Cache-Control as DESIGN.md says, ETags, and 304 to a matching
If-None-Match; the seat map's ETag changes exactly when the map does."""

from __future__ import annotations

import json

from tests.support import api_event, hold, invoke_raw, on_checkout


def read(name: str, etag: str | None = None, **ids: str) -> dict:
    headers = {"If-None-Match": etag} if etag else None
    return invoke_raw(name, api_event(name, headers=headers, **ids))


def header(result: dict, name: str) -> str:
    return result["multiValueHeaders"][name][0]


def test_event_reads_are_public_for_ten_minutes(deps, make_event):
    event_id = str(make_event(seats=6))
    for result in (read("list_events"), read("get_event", event_id=event_id)):
        assert result["statusCode"] == 200
        assert header(result, "Cache-Control") == "public, max-age=600"
        assert header(result, "ETag").startswith('"')


def test_the_seat_map_is_kept_ten_seconds_and_revalidated_by_etag(deps, make_event, clock):
    event_id = str(make_event(seats=6, hold_seconds=30))
    first = read("list_seats", event_id=event_id)
    assert (first["statusCode"], header(first, "Cache-Control")) == (200, "public, max-age=10")
    etag = header(first, "ETag")
    same = read("list_seats", etag, event_id=event_id)
    assert (same["statusCode"], same["body"], header(same, "ETag")) == (304, "", etag)
    assert read("list_seats", f'W/{etag}, "other"', event_id=event_id)["statusCode"] == 304
    # a hold changes the map, and so its ETag
    status, held = hold(event_id, ["A-1-1"])
    assert status == 201
    changed = read("list_seats", etag, event_id=event_id)
    assert changed["statusCode"] == 200
    assert {s["seat_id"]: s["status"] for s in json.loads(changed["body"])}["A-1-1"] == "held"
    held_tag = header(changed, "ETag")
    assert held_tag != etag
    # the hold running out changes it too, before anything releases the seat
    clock.advance(31)
    lapsed = read("list_seats", held_tag, event_id=event_id)
    assert lapsed["statusCode"] == 200
    assert header(lapsed, "ETag") != held_tag
    assert on_checkout("cancel_checkout", held["checkout_id"], held["token"])[0] == 200


def test_refusals_are_not_cached(deps):
    missing = read("list_seats", event_id="11111111-1111-4111-8111-111111111111")
    assert missing["statusCode"] == 404
    assert "Cache-Control" not in missing["multiValueHeaders"]
