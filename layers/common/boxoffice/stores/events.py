"""Events in Postgres: creation, reads with live seat counts, and the admission pacing row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg.rows import dict_row

from boxoffice.models.events import Event, EventSpec, SeatView
from boxoffice.stores.database import ConnectionSource

# A hold past its time reads as available, whether or not anything has released it yet.
_LIVE_STATUS = (
    "CASE WHEN s.status = 'held' AND s.held_until <= %(now)s THEN 'available' ELSE s.status END"
)

_EVENT_WITH_COUNTS = f"""
SELECT e.id, e.name, e.venue, e.starts_at, e.hold_seconds, e.checkout_seconds,
       e.admission_per_second,
       count(s.seat_id) AS seats_total,
       count(s.seat_id) FILTER (WHERE {_LIVE_STATUS} = 'available') AS seats_available
FROM events e LEFT JOIN seats s ON s.event_id = e.id
"""


@dataclass(frozen=True)
class AdmissionSlot:
    """The outcome of asking for the event's next admission slot."""

    at: datetime | None  # the reserved moment, or None when it is further than allowed
    next_free: datetime  # the earliest moment a slot is free


class EventStore:
    def __init__(self, connection: ConnectionSource) -> None:
        self._connection = connection

    def create(self, event_id: UUID, spec: EventSpec) -> None:
        with self._connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute(
                "INSERT INTO events (id, name, venue, starts_at, hold_seconds, checkout_seconds,"
                " admission_per_second) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    event_id,
                    spec.name,
                    spec.venue,
                    spec.starts_at,
                    spec.hold_seconds,
                    spec.checkout_seconds,
                    float(spec.admission_per_second),
                ),
            )
            with cur.copy(
                "COPY seats (event_id, seat_id, section, row_label, number, price_cents) FROM STDIN"
            ) as copy:
                for seat in spec.seats:
                    copy.write_row(
                        (
                            event_id,
                            seat.seat_id,
                            seat.section,
                            seat.row,
                            seat.number,
                            seat.price_cents,
                        )
                    )

    def get(self, event_id: UUID, now: datetime) -> Event | None:
        with self._connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                _EVENT_WITH_COUNTS + " WHERE e.id = %(id)s GROUP BY e.id",
                {"id": event_id, "now": now},
            )
            row = cur.fetchone()
        return Event.model_validate(row) if row else None

    def all(self, now: datetime) -> list[Event]:
        with self._connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                _EVENT_WITH_COUNTS + " GROUP BY e.id ORDER BY e.starts_at, e.name, e.id",
                {"now": now},
            )
            return [Event.model_validate(row) for row in cur.fetchall()]

    def seats(self, event_id: UUID, now: datetime) -> list[SeatView]:
        with self._connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                f"SELECT s.seat_id, s.section, s.row_label AS row, s.number, s.price_cents,"
                f" {_LIVE_STATUS} AS status FROM seats s WHERE s.event_id = %(id)s"
                " ORDER BY s.section, length(s.row_label), s.row_label, s.number, s.seat_id",
                {"id": event_id, "now": now},
            )
            return [SeatView.model_validate(row) for row in cur.fetchall()]

    def admitted_seq(self, event_id: UUID) -> int:
        """The highest place in line the admission consumer has passed."""
        with self._connection() as conn:
            row = conn.execute(
                "SELECT admitted_seq FROM events WHERE id = %s", (event_id,)
            ).fetchone()
        return int(row[0]) if row else 0

    def reserve_admission_slot(
        self, event_id: UUID, now: datetime, interval: timedelta, max_wait: timedelta
    ) -> AdmissionSlot:
        """Take the event's next slot, next = max(now, last + interval), in one statement.

        The slot is taken only if it is at most `max_wait` away; otherwise nothing changes
        and the caller learns when the next slot is free.
        """
        params: dict[str, Any] = {
            "id": event_id,
            "now": now,
            "interval": interval,
            "deadline": now + max_wait,
        }
        with self._connection() as conn:
            row = conn.execute(
                "UPDATE events SET next_admission_at ="
                " GREATEST(%(now)s, coalesce(next_admission_at, %(now)s)) + %(interval)s"
                " WHERE id = %(id)s"
                " AND GREATEST(%(now)s, coalesce(next_admission_at, %(now)s)) <= %(deadline)s"
                " RETURNING next_admission_at - %(interval)s",
                params,
            ).fetchone()
            if row is not None:
                return AdmissionSlot(at=row[0], next_free=row[0] + interval)
            free = conn.execute(
                "SELECT GREATEST(%(now)s, coalesce(next_admission_at, %(now)s)) FROM events"
                " WHERE id = %(id)s",
                params,
            ).fetchone()
        return AdmissionSlot(at=None, next_free=free[0] if free else now)

    def pass_in_line(
        self, event_id: UUID, seq: int, admitted_at: datetime | None, interval: timedelta
    ) -> None:
        """Record that the consumer passed place `seq`; after an admission, space the next one.

        Pushing the next slot to `admitted_at + interval` keeps real admissions at least one
        interval apart even when an admission landed after its reserved slot.
        """
        with self._connection() as conn:
            conn.execute(
                "UPDATE events SET admitted_seq = GREATEST(admitted_seq, %(seq)s),"
                " next_admission_at = CASE WHEN %(at)s::timestamptz IS NULL THEN next_admission_at"
                " ELSE GREATEST(coalesce(next_admission_at, %(at)s), %(at)s + %(interval)s) END"
                " WHERE id = %(id)s",
                {"id": event_id, "seq": seq, "at": admitted_at, "interval": interval},
            )
