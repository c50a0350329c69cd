"""Invariant 1 under fire: many threads against one real Postgres (and moto for sessions)."""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from itertools import pairwise
from uuid import UUID

from boxoffice.errors import DomainError
from boxoffice.http import STATUS_BY_ERROR
from boxoffice.models.checkouts import CheckoutRequest
from boxoffice.services.checkouts import create_checkout

THREADS = 120


def attempt(deps, event_id: UUID, seat_ids: list[str], start: threading.Barrier):
    """One fan's request, answered as the API would: (status, checkout id or refused seats)."""
    start.wait()
    try:
        created = create_checkout(deps, str(event_id), CheckoutRequest(seat_ids=seat_ids))
    except DomainError as error:
        return int(STATUS_BY_ERROR[type(error)]), error.code, error.details.get("seat_ids")
    return 201, str(created.checkout_id), seat_ids


def holders(deps) -> dict[str, str]:
    with deps.connection() as conn:
        rows = conn.execute(
            "SELECT seat_id, checkout_id FROM seats WHERE status = 'held'"
        ).fetchall()
    return {seat: str(checkout) for seat, checkout in rows}


def test_many_fans_one_seat_exactly_one_winner(deps, make_event):
    event_id = make_event(seats=6)
    start = threading.Barrier(THREADS)
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(
            pool.map(lambda _: attempt(deps, event_id, ["A-1-1"], start), range(THREADS))
        )
    statuses = Counter(status for status, _, _ in results)
    print(f"one seat, {THREADS} threads: {dict(statuses)}")
    assert statuses == {201: 1, 409: THREADS - 1}
    assert {code for status, code, _ in results if status == 409} == {"seats_unavailable"}
    assert all(seats == ["A-1-1"] for status, _, seats in results if status == 409)
    winner = next(checkout for status, checkout, _ in results if status == 201)
    assert holders(deps) == {"A-1-1": winner}


def test_overlapping_multi_seat_holds_are_all_or_nothing(deps, make_event):
    seats = [f"A-{row}-{n}" for row in (1, 2) for n in range(1, 7)]
    for round_ in range(4):
        event_id = make_event(seats=12)
        rng = random.Random(round_)
        wanted = [sorted(rng.sample(seats, rng.randint(1, 4))) for _ in range(THREADS)]
        start = threading.Barrier(THREADS)
        with ThreadPoolExecutor(THREADS) as pool:
            fans = [pool.submit(attempt, deps, event_id, ids, start) for ids in wanted]
            results = [fan.result() for fan in fans]
        with deps.connection() as conn:
            rows = conn.execute(
                "SELECT seat_id, checkout_id FROM seats WHERE event_id = %s AND status = 'held'",
                (event_id,),
            ).fetchall()
        held = {seat: str(checkout) for seat, checkout in rows}
        winners = {checkout: ids for status, checkout, ids in results if status == 201}
        # every winner holds every seat it asked for, and nothing else
        for checkout, ids in winners.items():
            assert sorted(s for s, c in held.items() if c == checkout) == ids
        # every held seat belongs to exactly one winner (no partial hold, no second holder)
        assert set(held.values()) == set(winners)
        assert sum(len(ids) for ids in winners.values()) == len(held)
        # every refusal names seats it asked for that a winner really holds
        for (status, code, refused), ids in zip(results, wanted, strict=True):
            assert status in (201, 409), (status, code)
            if status == 409:
                assert refused
                assert set(refused) <= set(ids)
                assert all(seat in held for seat in refused)
        print(f"round {round_}: {len(winners)} winners, {len(results) - len(winners)} refused")


def test_consumers_racing_for_slots_never_share_or_crowd_one(deps, make_event):
    event_id = make_event(seats=6, admission_per_second=4)
    now = deps.clock.now()
    start = threading.Barrier(THREADS)

    def reserve(seq: int):
        start.wait()
        return deps.events.take_turn(
            event_id, seq + 1, now, timedelta(seconds=0.25), before=now + timedelta(hours=1)
        )

    with ThreadPoolExecutor(THREADS) as pool:
        slots = sorted(pool.map(reserve, range(THREADS)))
    gaps = {(b - a).total_seconds() for a, b in pairwise(slots)}
    assert slots[0] == now
    assert gaps == {0.25}  # every slot distinct, exactly one interval apart
    # every place was recorded as passed, whatever order the turns came in
    assert deps.events.line(event_id).admitted_seq == THREADS


def test_a_turn_too_late_for_the_hold_takes_no_slot_but_passes_the_place(deps, make_event):
    event_id = make_event(seats=6, admission_per_second=1)
    now = deps.clock.now()
    second = timedelta(seconds=1)
    assert deps.events.take_turn(event_id, 1, now, second, before=now + second) == now
    # the next slot (now + 1 s) would start when this fan's hold ends: refused
    assert deps.events.take_turn(event_id, 2, now, second, before=now + second) is None
    line = deps.events.line(event_id)
    assert line.admitted_seq == 2
    assert line.next_admission_at == now + second  # unchanged by the refused turn


def admitted_checkouts(deps, make_event, aws, count: int) -> tuple[UUID, list[tuple[str, str]]]:
    from tests.support import consume_all, hold_each

    event_id = make_event(seats=count, admission_per_second=1000)
    made = hold_each(event_id, count)
    consume_all(aws.queue_url)
    deps.clock.advance(1)  # every scheduled admission has come
    return event_id, made


def test_pay_racing_cancel_has_one_outcome(deps, make_event, aws):
    from boxoffice.services.checkouts import cancel_checkout, complete_checkout

    event_id, made = admitted_checkouts(deps, make_event, aws, 30)
    start = threading.Barrier(2 * len(made))

    def call(operation, checkout_id: str, token: str):
        start.wait()
        try:
            return 200, operation(deps, checkout_id, token).status
        except DomainError as error:
            return int(STATUS_BY_ERROR[type(error)]), error.code

    with ThreadPoolExecutor(2 * len(made)) as pool:
        pays = [pool.submit(call, complete_checkout, c, t) for c, t in made]
        cancels = [pool.submit(call, cancel_checkout, c, t) for c, t in made]
        answers = [(p.result(), c.result()) for p, c in zip(pays, cancels, strict=True)]
    with deps.connection() as conn:
        seats = dict(
            conn.execute(
                "SELECT checkout_id::text, status FROM seats WHERE event_id = %s", (event_id,)
            ).fetchall()
        )
        orders = {r[0] for r in conn.execute("SELECT checkout_id::text FROM orders")}
    outcomes: Counter[str] = Counter()
    for (checkout_id, _), (paid, cancelled) in zip(made, answers, strict=True):
        session = deps.sessions.get(UUID(checkout_id))
        assert session is not None
        if paid == (200, "completed"):
            assert cancelled == (409, "checkout_completed")
            assert session.status == "completed"
            assert seats[checkout_id] == "booked"
            assert checkout_id in orders
        else:
            assert paid == (409, "checkout_expired")
            assert cancelled == (200, "cancelled")
            assert session.status == "cancelled"
            assert checkout_id not in seats  # released: the seat has no holder
            assert checkout_id not in orders
        outcomes[session.status] += 1
    print(f"pay racing cancel on {len(made)} checkouts: {dict(outcomes)}")


def test_retried_payments_book_once(deps, make_event, aws):
    from boxoffice.services.checkouts import complete_checkout

    _, made = admitted_checkouts(deps, make_event, aws, 6)
    checkout_id, token = made[0]
    start = threading.Barrier(40)

    def pay(_: int) -> str:
        start.wait()
        return complete_checkout(deps, checkout_id, token).status

    with ThreadPoolExecutor(40) as pool:
        assert set(pool.map(pay, range(40))) == {"completed"}
    with deps.connection() as conn:
        (orders,) = conn.execute(
            "SELECT count(*) FROM orders WHERE checkout_id = %s", (checkout_id,)
        ).fetchone()
    assert orders == 1
