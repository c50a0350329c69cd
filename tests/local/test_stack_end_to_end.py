"""The local stack end to end over HTTP (`python -m local` as a subprocess): the demo seeded,
the page served, the API behind the admin key, one winner among many fans of one seat,
admission at the event's rate in order, pay, cancel, and expiry through TTL and the
stream."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import psycopg

from local import template
from tests.local.stack import ADMIN, Answer
from tests.local.support import event_body, wait_until


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
    event_id = stack.create_event(event_body())["id"]
    clients = 60
    barrier = threading.Barrier(clients)

    def attempt(_: int) -> Answer:
        barrier.wait()
        return stack.hold(event_id, ["A-2-1"])

    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(attempt, range(clients)))
    statuses = sorted(a.status for a in answers)
    print(f"\n{clients} clients: {statuses.count(201)} x 201, {statuses.count(409)} x 409")
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == clients - 1, statuses
    for answer in answers:
        if answer.status == 409:
            assert answer.body["error"] == "seats_unavailable"
            assert answer.body["seat_ids"] == ["A-2-1"]
    assert stack.seat_statuses(event_id)["A-2-1"] == "held"


def test_admission_follows_the_rate_in_fifo_order(stack):
    rate = 2.0
    event_id = stack.create_event(event_body(admission_per_second=rate))["id"]
    created = []
    for n in range(1, 7):
        answer = stack.hold(event_id, [f"A-1-{n}"])
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
    status = stack.seat_statuses(event_id)
    assert status["A-1-1"] == "booked"
    assert status["A-1-2"] == "available"
    assert status["A-1-3"] == "held"
    # the booked seat cannot be held, the cancelled one can
    assert stack.hold(event_id, ["A-1-1"]).status == 409
    assert stack.hold(event_id, ["A-1-2"]).status == 201


def test_paying_before_admission_is_refused(stack):
    event_id = stack.create_event(event_body(admission_per_second=0.05))["id"]
    ahead = stack.hold(event_id, ["A-1-1"]).body
    waiting = stack.hold(event_id, ["A-1-2"]).body
    assert waiting["status"] == "queued"
    answer = stack.request(
        "POST", f"/checkouts/{waiting['checkout_id']}/complete", token=waiting["token"]
    )
    assert (answer.status, answer.body["error"]) == (409, "not_admitted")
    assert ahead["checkout_id"] != waiting["checkout_id"]


def test_expired_holds_free_the_seat_and_ttl_releases_through_the_stream(stack):
    event_id = stack.create_event(event_body(hold_seconds=2, checkout_seconds=2))["id"]
    fan = stack.hold(event_id, ["A-1-1", "A-1-2"])
    assert fan.status == 201
    checkout = fan.body
    assert stack.hold(event_id, ["A-1-1"]).status == 409
    started = len(stack.lines)

    # the hold passes: the seat reads available and another fan can take it
    wait_until(lambda: stack.seat_statuses(event_id)["A-1-1"] == "available", timeout=10)
    other = stack.hold(event_id, ["A-1-1"])
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
                "SELECT status, checkout_id FROM seats WHERE event_id = %s AND seat_id = 'A-1-2'",
                (event_id,),
            ).fetchone()
        return row == ("available", None)

    wait_until(released_in_postgres, timeout=15)
    stack.wait_for("ReleaseExpiredSessionsFunction ok", timeout=5, start=started)
