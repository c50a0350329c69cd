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

from psycopg.rows import dict_row

from boxoffice.errors import CheckoutExpired, SeatNotFound, SeatsUnavailable
from boxoffice.models.events import SeatInfo
from boxoffice.stores.database import Connection, ConnectionSource
from boxoffice.stores.events import Line, line_sequence
from boxoffice.stores.orders import Order, Payment, assign_reference, insert_order, select_order


@dataclass(frozen=True)
class Hold:
    seats: list[SeatInfo]
    seq: int  # this checkout's place in its event's line
    line: Line  # where the line stood when the checkout joined it


@dataclass(frozen=True)
class Released:
    event_id: UUID
    checkout_id: UUID
    seat_ids: list[str]


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
    ) -> Hold:
        """Hold every listed seat for `checkout_id`, or none; give the checkout its place."""
        wanted = sorted(set(seat_ids))
        with self._connection() as conn, conn.transaction():
            found = {
                r[0]
                for r in conn.execute(
                    "SELECT seat_id FROM seats WHERE event_id = %s AND seat_id = ANY(%s)"
                    " ORDER BY seat_id FOR UPDATE",
                    (event_id, wanted),
                )
            }
            missing = set(wanted) - found
            if missing:
                raise SeatNotFound(missing)
            with conn.cursor(row_factory=dict_row) as cur:
                cur.execute(
                    "UPDATE seats SET status = 'held', checkout_id = %(checkout)s,"
                    " held_until = %(until)s"
                    " WHERE event_id = %(event)s AND seat_id = ANY(%(ids)s)"
                    " AND (status = 'available' OR (status = 'held' AND held_until <= %(now)s))"
                    " RETURNING seat_id, section, row_label AS row, number, price_cents",
                    {
                        "checkout": checkout_id,
                        "until": held_until,
                        "event": event_id,
                        "ids": wanted,
                        "now": now,
                    },
                )
                held = {row["seat_id"]: SeatInfo.model_validate(row) for row in cur.fetchall()}
            if len(held) != len(wanted):
                # Leaving the block by exception rolls back the seats this statement took.
                raise SeatsUnavailable(set(wanted) - set(held))
            place = conn.execute(
                "SELECT nextval(%s), admitted_seq, next_admission_at FROM events WHERE id = %s",
                (line_sequence(event_id), event_id),
            ).fetchone()
            assert place is not None  # the seats exist, so their event does
        return Hold(seats=[held[s] for s in seat_ids], seq=place[0], line=Line(place[1], place[2]))

    def renew(self, event_id: UUID, checkout_id: UUID, held_until: datetime, now: datetime) -> int:
        """Extend this checkout's live holds to `held_until`; return how many were extended."""
        with self._connection() as conn, conn.transaction():
            _lock_checkout_seats(conn, event_id, checkout_id)
            cur = conn.execute(
                "UPDATE seats SET held_until = %s WHERE event_id = %s AND checkout_id = %s"
                " AND status = 'held' AND held_until > %s",
                (held_until, event_id, checkout_id, now),
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
