"""The one-statement hold on real Postgres: all or nothing, one holder per seat, under fire."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from uuid import uuid4

import pytest

from boxoffice.errors import SeatNotFound, SeatsUnavailable

THREADS = 120


def test_many_threads_on_the_store_never_share_a_seat_nor_spend_a_place(deps, make_event):
    event_id = make_event(seats=12)
    seats = [f"A-{row}-{n}" for row in (1, 2) for n in range(1, 7)]
    now = deps.clock.now()
    until = now + timedelta(minutes=10)
    rng = random.Random(7)
    wanted = [rng.sample(seats, rng.randint(1, 4)) for _ in range(THREADS)]
    start = threading.Barrier(THREADS)

    def fan(ids: list[str]):
        start.wait()
        checkout = uuid4()
        try:
            hold = deps.seats.hold(event_id, ids, checkout, until, now)
        except SeatsUnavailable as refused:
            return None, refused.details["seat_ids"]
        assert [seat.seat_id for seat in hold.seats] == ids  # in the order asked
        return (str(checkout), hold.seq), ids

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(fan, wanted))
    with deps.connection() as conn:
        held = dict(
            conn.execute(
                "SELECT seat_id, checkout_id::text FROM seats"
                " WHERE event_id = %s AND status = 'held'",
                (event_id,),
            ).fetchall()
        )
    winners = {won[0]: (won[1], ids) for won, ids in results if won}
    for checkout, (_, ids) in winners.items():
        assert sorted(s for s, c in held.items() if c == checkout) == sorted(ids)
    assert set(held.values()) == set(winners)
    for (won, ids), asked in zip(results, wanted, strict=True):
        if won is None:
            assert ids
            assert set(ids) <= set(asked)
            assert all(s in held for s in ids)
    # a refused hold takes no place in line: the winners' places are 1..n
    assert sorted(seq for seq, _ in winners.values()) == list(range(1, len(winners) + 1))


def test_a_lapsed_hold_is_taken_over_and_a_refusal_reads_like_a_ticket(deps, make_event):
    event_id = make_event(seats=12)
    now = deps.clock.now()
    first = deps.seats.hold(event_id, ["A-1-1"], uuid4(), now + timedelta(seconds=5), now)
    later = now + timedelta(seconds=5)
    second = deps.seats.hold(
        event_id, ["A-1-1", "A-2-3"], uuid4(), later + timedelta(seconds=60), later
    )
    assert (first.seq, second.seq) == (1, 2)
    with pytest.raises(SeatsUnavailable) as refused:
        deps.seats.hold(event_id, ["A-2-3", "A-1-1", "A-1-2"], uuid4(), later, later)
    assert refused.value.details == {"seat_ids": ["A-1-1", "A-2-3"]}
    assert refused.value.message == "A, row 1, seat 1 and A, row 2, seat 3 are already taken."
    with pytest.raises(SeatsUnavailable, match=r"^A, row 1, seat 1 is already taken\.$"):
        deps.seats.hold(event_id, ["A-1-1"], uuid4(), later, later)
    with pytest.raises(SeatNotFound):
        deps.seats.hold(event_id, ["A-1-2", "Z-9-9"], uuid4(), later, later)
    with deps.connection() as conn:
        free = conn.execute(
            "SELECT count(*) FROM seats WHERE event_id = %s AND status = 'available'", (event_id,)
        ).fetchone()
    assert free == (10,)  # refusals and unknown seats took nothing
