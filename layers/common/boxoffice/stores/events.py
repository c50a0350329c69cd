"""Events in Postgres: creation, reads with live seat counts, and the admission pacing row.

A little over 350 lines, on purpose: the line (places handed out, passed, the next slot)
lives in the event's own row and sequence, so its statements stay with the other reads
and writes of that row rather than in a store of its own over the same table."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from boxoffice.models.admission import Line
from boxoffice.models.best_available import SeatBlock
from boxoffice.models.events import Event, EventSpec, VenueLayout
from boxoffice.stores.database import ConnectionSource

# A hold past its time reads as available, whether or not anything has released it yet.
_LIVE_STATUS = (
    "CASE WHEN s.status = 'held' AND s.held_until <= %(now)s THEN 'available' ELSE s.status END"
)

# Counts per event: the total from the primary key, the taken seats from the small partial
# index `seats_taken` (migration 005), so neither reads the seats' rows one by one.
_EVENT_WITH_COUNTS = """
SELECT e.id, e.name, e.venue, e.starts_at, e.hold_seconds, e.checkout_seconds,
       e.admission_per_second, e.currency, e.max_held_per_client,
       t.total AS seats_total, t.total - u.taken AS seats_available
FROM events e
CROSS JOIN LATERAL (SELECT count(*) AS total FROM seats s WHERE s.event_id = e.id) t
CROSS JOIN LATERAL (
    SELECT count(*) AS taken FROM seats s
    WHERE s.event_id = e.id AND s.status <> 'available'
      AND (s.status = 'booked' OR s.held_until > %(now)s)
) u
"""

# The seat map as JSON text, built by Postgres in one pass (rows sorted narrow, then
# aggregated): no Python work per seat on the way to the response.
_SEATS_JSON = f"""
SELECT coalesce(json_agg(m), '[]')::text FROM (
    SELECT s.seat_id, s.section, s.row_label AS row, s.number, s.price_cents,
           {_LIVE_STATUS} AS status
    FROM seats s WHERE s.event_id = %(id)s
    ORDER BY s.section, length(s.row_label), s.row_label, s.number, s.seat_id
) m
"""

# The event detail's sections, their rows and seats, as JSON text built by Postgres in one
# pass (no Python work per seat). Sections come in the order the event gave them (those it
# did not place after, by name in code-point order, as Python sorts); rows and seats in the
# seat map's order.
_VENUE = """
SELECT e.layout, (
    SELECT coalesce(json_agg(json_build_object('section', x.section, 'rows', x.rows)
                             ORDER BY x.rank, x.section COLLATE "C"), '[]')::text
    FROM (
        SELECT r.section,
               coalesce(array_position(e.section_order, r.section),
                        cardinality(e.section_order) + 1) AS rank,
               json_agg(json_build_object('row', r.row, 'seats', r.seats)
                        ORDER BY length(r.row), r.row) AS rows
        FROM (
            SELECT q.section, q.row, json_agg(q ORDER BY q.number, q.seat_id) AS seats
            FROM (
                SELECT s.seat_id, s.section, s.row_label AS row, s.number, s.price_cents
                FROM seats s WHERE s.event_id = e.id
            ) q
            GROUP BY q.section, q.row
        ) r
        GROUP BY r.section
    ) x
)
FROM events e WHERE e.id = %s
"""


@dataclass(frozen=True)
class EventSettings:
    """What a hold needs of its event: one row read by key, no seat counted."""

    id: UUID
    name: str
    starts_at: datetime
    hold_seconds: int
    checkout_seconds: int
    admission_per_second: float
    currency: str
    max_held_per_client: int


# The best block of %(count)s free seats in one row: best_block() (migration 009) reads the
# event's rows best first and stops at the first with a block.
_BEST_BLOCK = """
SELECT section, row_label AS row, seat_ids, total_cents
FROM best_block(%(event_id)s, %(now)s, %(count)s, %(section)s, %(max_price)s)
"""


def line_sequence(event_id: UUID) -> str:
    """The name of the sequence that hands out places in this event's line."""
    return f"event_line_{event_id.hex}"


# `line_sequence` spelt in SQL, for the event row `e`.
_LINE_SEQUENCE_OF_E = "'event_line_' || replace(e.id::text, '-', '')"


@dataclass(frozen=True)
class Venue:
    """How an event's venue is drawn: its layout (if given), and its sections with their
    rows and seats as JSON text (see _VENUE)."""

    layout: VenueLayout | None
    sections_json: str


# How many events' settings a warm container keeps (the oldest read goes first).
_SETTINGS_KEPT = 1024
# How long a warm container reuses an event's line state for queued fans' polls.
LINE_MAX_AGE_SECONDS = 1.0


class EventStore:
    def __init__(self, connection: ConnectionSource) -> None:
        self._connection = connection
        self._settings: dict[UUID, EventSettings] = {}
        self._lines: dict[UUID, tuple[float, Line]] = {}

    def create(self, event_id: UUID, spec: EventSpec) -> None:
        with self._connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute(
                "INSERT INTO events (id, name, venue, starts_at, hold_seconds, checkout_seconds,"
                " admission_per_second, currency, layout, section_order, max_held_per_client)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    event_id,
                    spec.name,
                    spec.venue,
                    spec.starts_at,
                    spec.hold_seconds,
                    spec.checkout_seconds,
                    float(spec.admission_per_second),
                    spec.currency,
                    Jsonb(spec.layout.model_dump(exclude_none=True)) if spec.layout else None,
                    spec.section_order,
                    spec.max_held_per_client,
                ),
            )
            cur.execute(
                sql.SQL("CREATE SEQUENCE {}").format(sql.Identifier(line_sequence(event_id)))
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
            cur.execute(
                "INSERT INTO seat_rows (event_id, section, row_label, seat_ids)"
                " SELECT event_id, section, row_label, array_agg(seat_id ORDER BY number, seat_id)"
                " FROM seats WHERE event_id = %s GROUP BY event_id, section, row_label",
                (event_id,),
            )

    def settings(self, event_id: UUID) -> EventSettings | None:
        """The event's settings by key (the hold path: never the seat counts).

        An event's settings never change once it is created (the API has no route that
        changes them), so a warm container keeps the ones it has read: a hold of a known
        event costs no read at all. Unknown ids are not remembered.
        """
        known = self._settings.get(event_id)
        if known is not None:
            return known
        with self._connection() as conn:
            row = conn.execute(
                "SELECT id, name, starts_at, hold_seconds, checkout_seconds,"
                " admission_per_second, currency, max_held_per_client FROM events WHERE id = %s",
                (event_id,),
            ).fetchone()
        if row is None:
            return None
        if len(self._settings) >= _SETTINGS_KEPT:
            self._settings.pop(next(iter(self._settings)))
        self._settings[event_id] = EventSettings(*row)
        return self._settings[event_id]

    def get(self, event_id: UUID, now: datetime) -> Event | None:
        with self._connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(_EVENT_WITH_COUNTS + " WHERE e.id = %(id)s", {"id": event_id, "now": now})
            row = cur.fetchone()
        return Event.model_validate(row) if row else None

    def all(self, now: datetime) -> list[Event]:
        with self._connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(_EVENT_WITH_COUNTS + " ORDER BY e.starts_at, e.name, e.id", {"now": now})
            return [Event.model_validate(row) for row in cur.fetchall()]

    def venue(self, event_id: UUID) -> Venue:
        with self._connection() as conn:
            row = conn.execute(_VENUE, (event_id,)).fetchone()
        if row is None:
            return Venue(None, "[]")
        layout = VenueLayout.model_validate(row[0]) if row[0] is not None else None
        return Venue(layout=layout, sections_json=str(row[1]))

    def seat_map_version(self, event_id: UUID, now: datetime) -> str:
        """A fingerprint of everything in the seat map that can change: which seats are
        taken and whether each is booked, held live or held past its time. It reads only
        the taken seats (the partial index of migration 005), not the map."""
        with self._connection() as conn:
            row = conn.execute(
                "SELECT count(*), coalesce(sum(hashtextextended(seat_id || ':' || status"
                " || ':' || (status = 'booked' OR held_until > %(now)s)::text, 0)), 0)"
                " FROM seats WHERE event_id = %(id)s AND status <> 'available'",
                {"id": event_id, "now": now},
            ).fetchone()
        count, digest = row if row else (0, 0)
        return f"{count}-{int(digest) & 0xFFFFFFFFFFFFFFFF:x}"

    def seats_json(self, event_id: UUID, now: datetime) -> str:
        """Every seat with its status now, in map order (section, row, number), as the JSON
        text of its list, straight from Postgres."""
        with self._connection() as conn:
            row = conn.execute(_SEATS_JSON, {"id": event_id, "now": now}).fetchone()
        return str(row[0]) if row else "[]"

    def best_block(
        self,
        event_id: UUID,
        now: datetime,
        count: int,
        section: str | None = None,
        max_price_cents: int | None = None,
    ) -> SeatBlock | None:
        """The best `count` adjacent free seats in one row (see _BEST_BLOCK), or None."""
        with self._connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                _BEST_BLOCK,
                {
                    "event_id": event_id,
                    "now": now,
                    "count": count,
                    "section": section,
                    "max_price": max_price_cents,
                },
            )
            row = cur.fetchone()
        if row is None or len(row["seat_ids"]) != count:  # a row numbering a seat twice
            return None
        return SeatBlock.model_validate(row)

    def has_section(self, event_id: UUID, section: str) -> bool:
        with self._connection() as conn:
            row = conn.execute(
                "SELECT 1 FROM seats WHERE event_id = %s AND section = %s LIMIT 1",
                (event_id, section),
            ).fetchone()
        return row is not None

    def line(self, event_id: UUID) -> Line:
        """Where the event's line stands, as read at most LINE_MAX_AGE_SECONDS ago.

        A queued fan's poll needs it; reading it once a second per warm container instead
        of on every poll keeps places exact or long: each fan the consumer schedules since
        moves one place from "not scheduled" to "a slot ahead" (the same count, the same
        wait), and one it skips is still counted until the next read.
        """
        kept = self._lines.get(event_id)
        if kept is not None and time.monotonic() - kept[0] < LINE_MAX_AGE_SECONDS:
            return kept[1]
        with self._connection() as conn:
            row = conn.execute(
                "SELECT admitted_seq, next_admission_at FROM events WHERE id = %s", (event_id,)
            ).fetchone()
        line = Line(admitted_seq=row[0], next_admission_at=row[1]) if row else Line(0, None)
        if len(self._lines) >= _SETTINGS_KEPT:
            self._lines.pop(next(iter(self._lines)))
        self._lines[event_id] = (time.monotonic(), line)
        return line

    def take_turn(
        self, event_id: UUID, seq: int, now: datetime, interval: timedelta, before: datetime
    ) -> datetime | None:
        """Deal with place `seq` in one statement: take the event's next slot,
        next = max(now, last + interval), if it starts before `before` (when the fan's hold
        would end), and record the place as passed either way. Returns the slot, or None
        when none was taken (nothing but the passed place changes then)."""
        with self._connection() as conn:
            row = conn.execute(
                "WITH turn AS ("
                " SELECT id, GREATEST(%(now)s, coalesce(next_admission_at, %(now)s)) AS slot"
                " FROM events WHERE id = %(id)s FOR UPDATE)"
                " UPDATE events e SET admitted_seq = GREATEST(e.admitted_seq, %(seq)s),"
                " next_admission_at = CASE WHEN t.slot < %(before)s"
                " THEN t.slot + %(interval)s ELSE e.next_admission_at END"
                " FROM turn t WHERE e.id = t.id"
                " RETURNING CASE WHEN t.slot < %(before)s THEN t.slot END",
                {"id": event_id, "seq": seq, "now": now, "interval": interval, "before": before},
            ).fetchone()
        return row[0] if row else None

    def line_ends(self) -> dict[UUID, tuple[int, int]]:
        """Each event's line: (the last place dealt with, the last place handed out).

        The local stack's moto supervisor reads it before a restart of moto (whose queue
        is lost), and `make bench` to know when admission has caught up."""
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT e.id, e.admitted_seq, COALESCE(s.last_value, 0) FROM events e"
                f" JOIN pg_sequences s ON s.sequencename = {_LINE_SEQUENCE_OF_E}"
            ).fetchall()
        return {event_id: (int(dealt), int(handed)) for event_id, dealt, handed in rows}

    def pass_every_line_to_its_end(self) -> int:
        """Mark every place handed out so far, in every event's line, as dealt with; return
        how many events' lines moved.

        For the local stack's start: there the admission queue lives in moto, which starts
        empty, so the places an earlier run handed out have no message left to admit them.
        Nobody later in line should wait behind them. (In AWS the queue outlives a deploy,
        and nothing calls this.)
        """
        with self._connection() as conn:
            return conn.execute(
                "UPDATE events e SET admitted_seq = s.last_value FROM pg_sequences s"
                f" WHERE s.sequencename = {_LINE_SEQUENCE_OF_E}"
                " AND s.last_value > e.admitted_seq"
            ).rowcount

    def pass_in_line(self, event_id: UUID, seq: int) -> None:
        """Record that the consumer has dealt with place `seq` (scheduled or skipped)."""
        with self._connection() as conn:
            conn.execute(
                "UPDATE events SET admitted_seq = GREATEST(admitted_seq, %s) WHERE id = %s",
                (seq, event_id),
            )
