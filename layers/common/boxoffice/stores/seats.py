"""Seat state in Postgres: holds, renewals, releases and bookings.

Every change is a conditional write: a seat is taken only while it is available or its
hold has passed, and released or booked only by its holder. Multi-seat changes lock their
rows first in one global order (event, seat) so overlapping requests queue instead of
deadlocking, and commit all or nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from boxoffice.errors import CheckoutExpired, HoldLimit, SeatNotFound, SeatsUnavailable
from boxoffice.models.admission import Line
from boxoffice.models.checkouts import Hold
from boxoffice.models.events import SeatInfo
from boxoffice.stores.database import Connection, ConnectionSource
from boxoffice.stores.events import line_sequence
from boxoffice.stores.orders import Order, Payment, assign_reference, insert_order, select_order


@dataclass(frozen=True)
class Released:
    event_id: UUID
    checkout_id: UUID
    seat_ids: list[str]


# The hold: one call of hold_seats() (migration 008, which says how it decides), in
# autocommit: the call is its own transaction, so a client's advisory lock lasts until the
# hold commits.
HOLD = (
    "SELECT * FROM hold_seats(%(event)s, %(ids)s::text[], %(checkout)s, %(until)s, %(now)s,"
    " %(line)s::text, %(client)s::text, %(cap)s::integer)"
)


class _NotAllFree(Exception):
    """Some seat of a late payment is someone else's now: book none of them."""


def _lock_checkout_seats(conn: Connection, event_id: UUID, checkout_id: UUID) -> list[str]:
    rows = conn.execute(
        "SELECT seat_id FROM seats WHERE event_id = %s AND checkout_id = %s"
        " ORDER BY seat_id FOR UPDATE",
        (event_id, checkout_id),
    ).fetchall()
    return [r[0] for r in rows]


class SeatStore:
    def __init__(self, connection: ConnectionSource) -> None:
        self._connection = connection

    def hold(
        self,
        event_id: UUID,
        seat_ids: Sequence[str],
        checkout_id: UUID,
        held_until: datetime,
        now: datetime,
        *,
        client: str | None = None,
        max_held: int | None = None,
    ) -> Hold:
        """Hold every listed seat for `checkout_id`, or none; give the checkout its place.

        One call (`HOLD`): it locks the seats in seat order, takes them only if every one is
        free, and only then takes the next place in line. With a `client`, the seats it
        holds live stay within `max_held`: its holds of this event take an advisory lock
        first, so concurrent ones cannot both pass the count.
        """
        wanted = sorted(set(seat_ids))
        params = {
            "event": event_id,
            "ids": wanted,
            "checkout": checkout_id,
            "until": held_until,
            "now": now,
            "line": line_sequence(event_id),
            "client": client,
            "cap": max_held,
        }
        with self._connection() as conn:
            rows = conn.execute(HOLD, params).fetchall()
        found = {row[0]: row for row in rows}
        missing = set(wanted) - set(found)
        if missing:
            raise SeatNotFound(missing)
        taken = [(r[0], r[1], r[2], r[3]) for r in rows if not r[5]]
        if taken:
            raise SeatsUnavailable(taken)
        if rows and not rows[0][10]:
            raise HoldLimit(max_held or 0)
        first = rows[0]
        if first[6] is None or first[9] != len(wanted):  # cannot happen: the rows were locked
            self.release(event_id, checkout_id)
            raise SeatsUnavailable([(r[0], r[1], r[2], r[3]) for r in rows])
        held = {
            r[0]: SeatInfo(seat_id=r[0], section=r[1], row=r[2], number=r[3], price_cents=r[4])
            for r in rows
        }
        return Hold(seats=[held[s] for s in seat_ids], seq=first[6], line=Line(first[7], first[8]))

    def renew(self, event_id: UUID, checkout_id: UUID, held_until: datetime, now: datetime) -> int:
        """Extend this checkout's live holds to `held_until`; return how many were extended."""
        # One statement: the checkout's seats locked in seat order first (the global lock
        # order), then extended.
        with self._connection() as conn:
            cur = conn.execute(
                "WITH locked AS (SELECT seat_id FROM seats"
                " WHERE event_id = %(event)s AND checkout_id = %(checkout)s"
                " ORDER BY seat_id FOR UPDATE)"
                " UPDATE seats s SET held_until = %(until)s FROM locked l"
                " WHERE s.event_id = %(event)s AND s.seat_id = l.seat_id"
                " AND s.checkout_id = %(checkout)s AND s.status = 'held'"
                " AND s.held_until > %(now)s",
                {"event": event_id, "checkout": checkout_id, "until": held_until, "now": now},
            )
            return cur.rowcount

    def release(
        self, event_id: UUID, checkout_id: UUID, *, ended_by: datetime | None = None
    ) -> tuple[list[str], list[str]]:
        """Free the seats this checkout holds; return (released, booked) seat ids.

        With `ended_by`, free only holds that ended by then: never a live one.
        """
        with self._connection() as conn, conn.transaction():
            _lock_checkout_seats(conn, event_id, checkout_id)
            released = conn.execute(
                "UPDATE seats SET status = 'available', checkout_id = NULL, held_until = NULL"
                " WHERE event_id = %(event)s AND checkout_id = %(checkout)s AND status = 'held'"
                " AND (%(ended)s::timestamptz IS NULL OR held_until <= %(ended)s)"
                " RETURNING seat_id",
                {"event": event_id, "checkout": checkout_id, "ended": ended_by},
            ).fetchall()
            booked = conn.execute(
                "SELECT seat_id FROM seats WHERE event_id = %s AND checkout_id = %s"
                " AND status = 'booked' ORDER BY seat_id",
                (event_id, checkout_id),
            ).fetchall()
        return sorted(r[0] for r in released), [r[0] for r in booked]

    def release_expired(self, now: datetime, limit: int = 5_000) -> list[Released]:
        """Free up to `limit` holds past their time, skipping rows others have locked."""
        with self._connection() as conn, conn.transaction():
            rows = conn.execute(
                "WITH doomed AS ("
                " SELECT event_id, seat_id, checkout_id FROM seats"
                " WHERE status = 'held' AND held_until <= %(now)s"
                " ORDER BY event_id, seat_id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
                " UPDATE seats s SET status = 'available', checkout_id = NULL, held_until = NULL"
                " FROM doomed d WHERE s.event_id = d.event_id AND s.seat_id = d.seat_id"
                " RETURNING d.event_id, d.checkout_id, d.seat_id",
                {"now": now, "limit": limit},
            ).fetchall()
        grouped: dict[tuple[UUID, UUID], list[str]] = {}
        for event_id, checkout_id, seat_id in rows:
            grouped.setdefault((event_id, checkout_id), []).append(seat_id)
        return [Released(e, c, sorted(s)) for (e, c), s in sorted(grouped.items())]

    def holders(self) -> dict[UUID, set[UUID]]:
        """Per event, the checkouts that hold seats now (live or lapsed): what the local
        stack's moto supervisor checks against the sessions a restarted moto lost."""
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT DISTINCT event_id, checkout_id FROM seats WHERE status = 'held'"
            ).fetchall()
        found: dict[UUID, set[UUID]] = {}
        for event_id, checkout_id in rows:
            found.setdefault(event_id, set()).add(checkout_id)
        return found

    def release_every_hold(self) -> int:
        """Give back every held seat, of every event, live or not; return how many.

        For the local stack's start: there the checkout sessions live in moto, which starts
        empty, so a hold an earlier run left in Postgres belongs to no session now and
        nothing would ever release it before its time. (In AWS the sessions outlive a
        deploy, and nothing calls this.)
        """
        with self._connection() as conn:
            return conn.execute(
                "UPDATE seats SET status = 'available', checkout_id = NULL, held_until = NULL"
                " WHERE status = 'held'"
            ).rowcount

    def book(
        self,
        event_id: UUID,
        checkout_id: UUID,
        seat_ids: Sequence[str],
        payment: Payment,
        now: datetime,
    ) -> bool:
        """Book the checkout's live holds and record its order; True if this call booked them.

        Idempotent on the checkout: when its order exists, the seats are already booked.
        Raises CheckoutExpired when any of its holds has lapsed or was released.
        """
        wanted = sorted(set(seat_ids))
        with self._connection() as conn, conn.transaction():
            _lock_checkout_seats(conn, event_id, checkout_id)
            if not insert_order(conn, checkout_id, event_id, wanted, payment, "booked"):
                return False
            booked = conn.execute(
                "UPDATE seats SET status = 'booked', held_until = NULL"
                " WHERE event_id = %s AND seat_id = ANY(%s) AND checkout_id = %s"
                " AND status = 'held' AND held_until > %s",
                (event_id, wanted, checkout_id, now),
            ).rowcount
            if booked != len(wanted):
                raise CheckoutExpired("The hold on these seats has expired; nothing was booked.")
        return True

    def settle_paid(
        self,
        event_id: UUID,
        checkout_id: UUID,
        seat_ids: Sequence[str],
        payment: Payment,
        now: datetime,
        *,
        refund_reason: str | None = None,
    ) -> Order:
        """Money was taken for this checkout: book its seats if each is still its own or
        free (held by it, live or lapsed; available; or another's hold past its time), all
        or none, in one conditional statement; otherwise record a refund to make.

        With `refund_reason` nothing is booked: the order is a refund to make. Idempotent:
        the first settlement of a checkout is the one that stands.
        """
        wanted = sorted(set(seat_ids))
        with self._connection() as conn, conn.transaction():
            # The order row is the checkout's lock: a duplicate delivery waits here, then
            # finds the order and returns it unchanged.
            if not insert_order(conn, checkout_id, event_id, wanted, payment, "refund_pending"):
                found = select_order(conn, checkout_id)
                assert found is not None
                return found
            if refund_reason is None:
                conn.execute(
                    "SELECT seat_id FROM seats WHERE event_id = %s AND seat_id = ANY(%s)"
                    " ORDER BY seat_id FOR UPDATE",
                    (event_id, wanted),
                )
                try:
                    with conn.transaction():  # a savepoint: all the seats, or none
                        booked = conn.execute(
                            "UPDATE seats SET status = 'booked', checkout_id = %(checkout)s,"
                            " held_until = NULL"
                            " WHERE event_id = %(event)s AND seat_id = ANY(%(ids)s)"
                            " AND (status = 'available' OR (status = 'held'"
                            "      AND (checkout_id = %(checkout)s OR held_until <= %(now)s)))",
                            {"checkout": checkout_id, "event": event_id, "ids": wanted, "now": now},
                        ).rowcount
                        if booked != len(wanted):
                            raise _NotAllFree
                    assign_reference(conn, checkout_id)
                except _NotAllFree:
                    refund_reason = "seats_taken"
            if refund_reason is not None:
                conn.execute(
                    "UPDATE orders SET refund_reason = %s WHERE checkout_id = %s",
                    (refund_reason, checkout_id),
                )
                # Whatever this checkout still holds goes back on sale.
                conn.execute(
                    "UPDATE seats SET status = 'available', checkout_id = NULL,"
                    " held_until = NULL WHERE event_id = %s AND checkout_id = %s"
                    " AND status = 'held'",
                    (event_id, checkout_id),
                )
            settled = select_order(conn, checkout_id)
            assert settled is not None
        return settled
