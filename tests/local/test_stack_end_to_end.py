"""The local stack end to end over HTTP (`python -m local` as a subprocess): the demo seeded,
the page served, the API behind the admin key, holds, admission at the event's rate, pay,
cancel, expiry through TTL and the stream, and malformed requests answered 4xx."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from local import template
from tests.local.stack import (
    ADMIN_KEY,
    SERVER_ERROR_LINE,
    Answer,
    StackProcess,
    fresh_database,
    processes_tagged,
    stack_env,
)
from tests.local.support import wait_until

ADMIN = {"x-api-key": ADMIN_KEY}


def seats(prefix: str, count: int, price: int = 2500) -> list[dict[str, Any]]:
    return [
        {
            "seat_id": f"{prefix}-{n}",
            "section": prefix,
            "row": "1",
            "number": n,
            "price_cents": price,
        }
        for n in range(1, count + 1)
    ]


def event_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"Test {uuid4().hex[:6]}",
        "venue": "Test Hall",
        "starts_at": "2031-06-01T19:30:00Z",
        "hold_seconds": 600,
        "checkout_seconds": 300,
        "admission_per_second": 1,
        "seats": seats("A", 12),
    }
    body.update(overrides)
    return body


# =============================================================== the stack, end to end
@pytest.fixture(scope="module")
def stack(database_url: str) -> Iterator[StackProcess]:
    with fresh_database(database_url) as url:
        running = StackProcess(stack_env(DATABASE_URL=url, PAYMENT_PROVIDER="test"))
        try:
            running.start()
            yield running
        finally:
            code = running.stop()
            tag = running.worker_tag()
        assert code == 0, running.output
        assert "Stopped." in running.output
        assert processes_tagged(tag) == [], "worker processes outlived the stack"
        # nothing answered 5xx during the whole module
        fives = [line for line in running.lines if SERVER_ERROR_LINE.search(line)]
        assert fives == [], "\n".join(fives)
        # and no event-source invocation failed or timed out
        failed = [line for line in running.lines if re.search(r"^\S+ \S+ (error|timeout) ", line)]
        assert failed == [], "\n".join(failed)


def create_event(stack: StackProcess, **overrides: Any) -> dict[str, Any]:
    answer = stack.request("POST", "/events", event_body(**overrides), headers=ADMIN)
    assert answer.status == 201, answer.body
    return answer.body


def hold(stack: StackProcess, event_id: str, seat_ids: list[str]) -> Answer:
    return stack.request("POST", f"/events/{event_id}/checkouts", {"seat_ids": seat_ids})


def seat_status(stack: StackProcess, event_id: str) -> dict[str, str]:
    answer = stack.request("GET", f"/events/{event_id}/seats")
    assert answer.status == 200
    return {seat["seat_id"]: seat["status"] for seat in answer.body}


def test_the_demo_event_is_seeded_on_first_start(stack):
    events = stack.request("GET", "/events").body
    demo = [e for e in events if e["name"] == "Demo Night"]
    assert len(demo) == 1
    assert demo[0]["seats_total"] >= 300
    detail = stack.request("GET", f"/events/{demo[0]['id']}").body
    assert len(detail["sections"]) == 3
    assert all(len(section["rows"]) == 10 for section in detail["sections"])


def test_the_page_is_served(stack):
    page = stack.request("GET", "/")
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert b"<title>Boxoffice" in page.raw
    script = stack.request("GET", "/app.js")
    assert script.status == 200
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert stack.request("GET", "/styles.css").headers["Content-Type"].startswith("text/css")
    if template.api_cors():
        preflight = stack.request("OPTIONS", "/events", headers={"Origin": "http://elsewhere"})
        assert preflight.status == 204
        assert (
            preflight.headers["Access-Control-Allow-Origin"]
            == template.api_cors()["Access-Control-Allow-Origin"]
        )


def test_creating_an_event_needs_the_admin_key(stack):
    body = event_body()
    missing = stack.request("POST", "/events", body)
    assert (missing.status, missing.body["error"]) == (401, "unauthorized")
    wrong = stack.request("POST", "/events", body, headers={"x-api-key": "not-the-key"})
    assert (wrong.status, wrong.body["error"]) == (403, "forbidden")
    created = stack.request("POST", "/events", body, headers=ADMIN)
    assert created.status == 201
    assert created.body["seats_total"] == 12
    assert stack.request("GET", f"/events/{created.body['id']}").status == 200


def test_one_seat_many_fans_exactly_one_winner(stack):
    event_id = create_event(stack)["id"]
    clients = 60
    barrier = threading.Barrier(clients)

    def attempt(_: int) -> Answer:
        barrier.wait()
        return hold(stack, event_id, ["A-7"])

    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(attempt, range(clients)))
    statuses = sorted(a.status for a in answers)
    print(f"\n{clients} clients: {statuses.count(201)} x 201, {statuses.count(409)} x 409")
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == clients - 1, statuses
    for answer in answers:
        if answer.status == 409:
            assert answer.body["error"] == "seats_unavailable"
            assert answer.body["seat_ids"] == ["A-7"]
    assert seat_status(stack, event_id)["A-7"] == "held"


def test_admission_follows_the_rate_in_fifo_order(stack):
    rate = 2.0
    event_id = create_event(stack, admission_per_second=rate)["id"]
    created = []
    for n in range(1, 7):
        answer = hold(stack, event_id, [f"A-{n}"])
        assert answer.status == 201, answer.body
        created.append(answer.body)
    assert [c["position"] for c in created] == sorted(c["position"] for c in created)

    def all_admitted() -> list[dict[str, Any]] | None:
        views = [
            stack.request("GET", f"/checkouts/{c['checkout_id']}", token=c["token"]).body
            for c in created
        ]
        return views if all(v["status"] == "admitted" for v in views) else None

    views = wait_until(all_admitted, timeout=30, interval=0.25)
    admitted = [datetime.fromisoformat(v["admitted_at"]) for v in views]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(admitted)]
    print(f"\nadmission at {rate}/s: gaps {[round(g, 3) for g in gaps]}")
    assert admitted == sorted(admitted), "admission is not FIFO"
    assert min(gaps) >= 1 / rate - 0.02, gaps

    # pay for the first: booked
    first = created[0]
    paid = stack.request(
        "POST", f"/checkouts/{first['checkout_id']}/complete", token=first["token"]
    )
    assert paid.status == 200, paid.body
    assert paid.body["status"] == "completed"
    again = stack.request(
        "POST", f"/checkouts/{first['checkout_id']}/complete", token=first["token"]
    )
    assert (again.status, again.body["status"]) == (200, "completed")
    # cancel the second: its seat is free again, and it can no longer be paid
    second = created[1]
    cancelled = stack.request(
        "DELETE", f"/checkouts/{second['checkout_id']}", token=second["token"]
    )
    assert cancelled.status in {200, 204}
    late = stack.request(
        "POST", f"/checkouts/{second['checkout_id']}/complete", token=second["token"]
    )
    assert (late.status, late.body["error"]) == (409, "checkout_expired")
    status = seat_status(stack, event_id)
    assert status["A-1"] == "booked"
    assert status["A-2"] == "available"
    assert status["A-3"] == "held"
    # the booked seat cannot be held, the cancelled one can
    assert hold(stack, event_id, ["A-1"]).status == 409
    assert hold(stack, event_id, ["A-2"]).status == 201


def test_paying_before_admission_is_refused(stack):
    event_id = create_event(stack, admission_per_second=0.05)["id"]
    ahead = hold(stack, event_id, ["A-1"]).body
    waiting = hold(stack, event_id, ["A-2"]).body
    assert waiting["status"] == "queued"
    answer = stack.request(
        "POST", f"/checkouts/{waiting['checkout_id']}/complete", token=waiting["token"]
    )
    assert (answer.status, answer.body["error"]) == (409, "not_admitted")
    assert ahead["checkout_id"] != waiting["checkout_id"]


def test_expired_holds_free_the_seat_and_ttl_releases_through_the_stream(stack):
    event_id = create_event(stack, hold_seconds=2, checkout_seconds=2)["id"]
    fan = hold(stack, event_id, ["A-1", "A-2"])
    assert fan.status == 201
    checkout = fan.body
    assert hold(stack, event_id, ["A-1"]).status == 409
    started = len(stack.lines)

    # the hold passes: the seat reads available and another fan can take it
    wait_until(lambda: seat_status(stack, event_id)["A-1"] == "available", timeout=10)
    other = hold(stack, event_id, ["A-1"])
    assert other.status == 201, other.body

    # TTL emulation deletes the session item...
    def session_gone() -> bool:
        answer = stack.request(
            "GET", f"/checkouts/{checkout['checkout_id']}", token=checkout["token"]
        )
        return answer.status == 404

    wait_until(session_gone, timeout=15)
    # ...and the stream function, fed the TTL REMOVE record, gives its seats back in Postgres
    url = stack.database_url
    assert url

    def released_in_postgres() -> bool:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT status, checkout_id FROM seats WHERE event_id = %s AND seat_id = 'A-2'",
                (event_id,),
            ).fetchone()
        return row == ("available", None)

    wait_until(released_in_postgres, timeout=15)
    stack.wait_for("ReleaseExpiredSessionsFunction ok", timeout=5, start=started)


def test_malformed_requests_are_4xx_never_5xx(stack):
    event_id = create_event(stack)["id"]
    checkout = hold(stack, event_id, ["A-1"]).body
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
        ("POST", f"/events/{unknown}/checkouts", {"body": {"seat_ids": ["A-1"]}}),
        ("POST", f"/events/{event_id}/checkouts", {"raw": b"{"}),
        ("POST", f"/events/{event_id}/checkouts", {"raw": b"null"}),
        ("POST", f"/events/{event_id}/checkouts", {"body": {"seat_ids": "A-2"}}),
        ("POST", f"/events/{event_id}/checkouts", {"body": {"seat_ids": [2]}}),
        ("POST", f"/events/{event_id}/checkouts", {"body": {"seat_ids": []}}),
        ("POST", f"/events/{event_id}/checkouts", {"body": {"seat_ids": ["Z-99"]}}),
        ("POST", f"/events/{event_id}/checkouts", {"body": {"seat_ids": ["A-2", "A-2"]}}),
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
    event_id = create_event(stack)["id"]
    cases = [
        ("/events", b"\xff\xfe\x00garbage", ADMIN),
        (f"/events/{event_id}/checkouts", b"\xc3\x28", {}),
    ]
    statuses = [stack.request("POST", path, raw=raw, headers=h).status for path, raw, h in cases]
    assert all(400 <= status < 500 for status in statuses), statuses
