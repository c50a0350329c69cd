"""The stores' resets for a local stack whose moto starts empty, on real Postgres."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4


def _statuses(deps, event_id) -> dict[str, tuple[str, object]]:
    with deps.connection() as conn:
        rows = conn.execute(
            "SELECT seat_id, status, checkout_id FROM seats WHERE event_id = %s", (event_id,)
        ).fetchall()
    return {seat: (status, checkout) for seat, status, checkout in rows}


def test_every_hold_is_given_back_and_bookings_stay(deps, make_event):
    first, second = make_event(seats=6), make_event(seats=6)
    now = deps.clock.now()
    deps.seats.hold(first, ["A-1-1", "A-1-2"], uuid4(), now + timedelta(minutes=10), now)
    deps.seats.hold(second, ["A-1-3"], uuid4(), now + timedelta(minutes=10), now)
    lapsed = now - timedelta(minutes=20)
    deps.seats.hold(second, ["A-1-4"], uuid4(), lapsed + timedelta(minutes=10), lapsed)
    with deps.connection() as conn:
        conn.execute(
            "UPDATE seats SET status = 'booked', checkout_id = %s"
            " WHERE event_id = %s AND seat_id = 'A-1-6'",
            (uuid4(), first),
        )

    assert deps.seats.release_every_hold() == 4  # live and lapsed, in every event

    for event_id in (first, second):
        statuses = _statuses(deps, event_id)
        assert {s for s, (status, _) in statuses.items() if status == "held"} == set()
        assert all(checkout is None for status, checkout in statuses.values() if status != "booked")
    assert _statuses(deps, first)["A-1-6"][0] == "booked"
    assert deps.seats.release_every_hold() == 0


def test_every_line_is_passed_up_to_its_last_place_handed_out(deps, make_event):
    busy, quiet = make_event(seats=6), make_event(seats=6)
    now = deps.clock.now()
    for seat in ("A-1-1", "A-1-2", "A-1-3"):
        deps.seats.hold(busy, [seat], uuid4(), now + timedelta(minutes=10), now)
    deps.events.pass_in_line(busy, 1)

    assert deps.events.pass_every_line_to_its_end() == 1  # the quiet line handed out nothing

    with deps.connection() as conn:
        admitted = dict(
            conn.execute(
                "SELECT id, admitted_seq FROM events WHERE id = ANY(%s)", ([busy, quiet],)
            ).fetchall()
        )
    assert admitted == {busy: 3, quiet: 0}
    assert deps.events.pass_every_line_to_its_end() == 0
    # the next place handed out comes after them, and waits for nobody
    hold = deps.seats.hold(busy, ["A-1-4"], uuid4(), now + timedelta(minutes=10), now)
    assert (hold.seq, hold.line.admitted_seq) == (4, 3)


def test_line_ends_and_holders_say_what_a_restarted_moto_lost(deps, make_event):
    busy, quiet = make_event(seats=6), make_event(seats=6)
    now = deps.clock.now()
    checkouts = [uuid4(), uuid4()]
    for checkout_id, seat in zip(checkouts, ("A-1-1", "A-1-2"), strict=True):
        deps.seats.hold(busy, [seat], checkout_id, now + timedelta(minutes=10), now)
    deps.events.pass_in_line(busy, 1)

    ends = deps.events.line_ends()
    assert (ends[busy], ends[quiet]) == ((1, 2), (0, 0))  # (dealt with, handed out)
    holders = deps.seats.holders()
    assert holders[busy] == set(checkouts)
    assert quiet not in holders
