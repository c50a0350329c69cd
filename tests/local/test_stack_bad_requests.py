"""Malformed requests to the local stack (bodies, ids, tokens, routes, methods, encodings)
are answered 4xx with a JSON error and message, never 5xx, and harm no fan's hold."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from tests.local.stack import ADMIN
from tests.local.support import event_body


def test_malformed_requests_are_4xx_never_5xx(stack):
    event_id = stack.create_event(event_body())["id"]
    checkout = stack.hold(event_id, ["A-1-1"]).body
    cid, token = checkout["checkout_id"], checkout["token"]
    unknown = str(uuid4())
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/events", {"raw": b"{not json", "headers": ADMIN}),
        ("POST", "/events", {"raw": b"", "headers": ADMIN}),
        ("POST", "/events", {"body": {"name": 5}, "headers": ADMIN}),
        ("POST", "/events", {"body": event_body(seats=[]), "headers": ADMIN}),
        ("POST", "/events", {"body": event_body(hold_seconds="10"), "headers": ADMIN}),
        ("POST", "/events", {"body": [1, 2], "headers": ADMIN}),
        ("GET", "/events/not-a-uuid", {}),
        ("GET", f"/events/{unknown}", {}),
        ("GET", f"/events/{unknown}/seats", {}),
        ("POST", f"/events/{unknown}/checkouts", {"body": {"seat_ids": ["A-1-1"]}}),
        ("POST", f"/events/{event_id}/checkouts", {"raw": b"{"}),
        ("POST", f"/events/{event_id}/checkouts", {"raw": b"null"}),
        ("POST", f"/events/{event_id}/checkouts", {"body": {"seat_ids": "A-1-2"}}),
        ("POST", f"/events/{event_id}/checkouts", {"body": {"seat_ids": [2]}}),
        ("POST", f"/events/{event_id}/checkouts", {"body": {"seat_ids": []}}),
        ("POST", f"/events/{event_id}/checkouts", {"body": {"seat_ids": ["Z-9-99"]}}),
        ("POST", f"/events/{event_id}/checkouts", {"body": {"seat_ids": ["A-1-2", "A-1-2"]}}),
        ("POST", f"/events/{event_id}/checkouts", {"raw": b"x" * (1024 * 1024 + 1)}),
        ("GET", f"/checkouts/{cid}", {}),
        ("GET", f"/checkouts/{cid}", {"token": "wrong"}),
        ("GET", f"/checkouts/{cid}", {"headers": {"Authorization": "Basic abc"}}),
        ("GET", f"/checkouts/{unknown}", {"token": token}),
        ("GET", "/checkouts/not-a-uuid", {"token": token}),
        ("DELETE", f"/checkouts/{cid}", {}),
        ("DELETE", f"/checkouts/{cid}", {"token": "wrong"}),
        ("POST", f"/checkouts/{cid}/complete", {}),
        ("POST", f"/checkouts/{cid}/complete", {"token": "wrong"}),
        ("POST", f"/checkouts/{unknown}/complete", {"token": token}),
        ("GET", "/no/such/route", {}),
        ("PUT", "/events", {"body": {}}),
        ("PATCH", f"/checkouts/{cid}", {"body": {}}),
    ]
    for method, path, kwargs in cases:
        body = kwargs.pop("body", None)
        answer = stack.request(method, path, body, **kwargs)
        assert 400 <= answer.status < 500, (method, path, answer.status, answer.raw[:300])
        assert isinstance(answer.body, dict), (method, path, answer.raw[:300])
        assert answer.body.get("error"), (method, path, answer.body)
        assert answer.body.get("message"), (method, path, answer.body)
    # the real fan still holds their seat
    assert stack.request("GET", f"/checkouts/{cid}", token=token).status == 200


def test_non_utf8_bodies_are_4xx(stack):
    event_id = stack.create_event(event_body())["id"]
    cases = [
        ("/events", b"\xff\xfe\x00garbage", ADMIN),
        (f"/events/{event_id}/checkouts", b"\xc3\x28", {}),
    ]
    statuses = [stack.request("POST", path, raw=raw, headers=h).status for path, raw, h in cases]
    assert all(400 <= status < 500 for status in statuses), statuses
