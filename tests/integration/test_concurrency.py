"""Invariant 1 under fire: many threads against one real Postgres (and moto for sessions)."""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
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
