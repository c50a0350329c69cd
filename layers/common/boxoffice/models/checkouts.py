"""Checkouts: the request to hold seats, the stored session and what the fan sees."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

from boxoffice.clock import ceil_ms, from_ms
from boxoffice.models.admission import Line
from boxoffice.models.events import SeatInfo

StoredStatus = Literal["queued", "admitted", "completed", "expired", "cancelled", "refunded"]
LIVE_STATUSES: frozenset[StoredStatus] = frozenset({"queued", "admitted"})

# The most seat ids a request may carry, whatever the per-checkout setting says (it is at
# most this): checked before anything else is.
MAX_SEAT_IDS = 100

SeatId = Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]


class CheckoutRequest(BaseModel):
    """The body of `POST /events/{event_id}/checkouts`."""

    model_config = ConfigDict(extra="forbid")

    seat_ids: Annotated[list[SeatId], Field(min_length=1)]

    @field_validator("seat_ids", mode="before")
    @classmethod
    def _bounded(cls, value: object) -> object:
        """The size limit first, before any item is looked at: a huge list costs nothing."""
        if isinstance(value, list) and len(value) > MAX_SEAT_IDS:
            raise ValueError(f"a checkout may hold at most {MAX_SEAT_IDS} seats")
        return value

    @field_validator("seat_ids")
    @classmethod
    def _no_duplicates(cls, seat_ids: list[str]) -> list[str]:
        repeated = sorted(s for s, n in Counter(seat_ids).items() if n > 1)
        if repeated:
            raise ValueError(f"seat_ids must not repeat; repeated: {', '.join(repeated)}")
        return seat_ids


def hold_end_ms(start: datetime, seconds: int) -> int:
    """A hold of `seconds` from `start`, ending on a whole millisecond (as stored)."""
    return ceil_ms(start) + 1000 * seconds


def retain_until(hold_until_ms: int, retention_seconds: int) -> int:
    """The TTL (epoch seconds) of a session whose hold ends at `hold_until_ms`."""
    return math.ceil(hold_until_ms / 1000) + retention_seconds


class Session(BaseModel):
    """A checkout session as stored in DynamoDB.

    `hold_until_ms` is when its seats' hold ends (Postgres' `held_until`, to the
    millisecond); `expires_at` is the TTL, a retention period later, so that a session
    past its time still answers (409, not 404) until DynamoDB removes it.
    """

    checkout_id: UUID
    event_id: UUID
    seq: int
    status: StoredStatus
    token_hash: str
    seats: list[SeatInfo]
    created_at: datetime
    hold_seconds: int
    checkout_seconds: int
    admission_per_second: float
    hold_until_ms: int
    expires_at: int
    admitted_at: datetime | None = None
    completed_at: datetime | None = None
    event_name: str | None = None
    currency: str = "usd"
    reference: str | None = None
    # Stripe Checkout: the attempt whose idempotency key is in use (and the `expires_at` it
    # was sent with, so a replay sends the same parameters), whether Stripe answered that
    # key with an error (then the next try takes a new key), and the session once made.
    payment_attempt: int = 0
    payment_attempt_expires_at: int | None = None
    payment_attempt_spent: bool = False
    payment_session_id: str | None = None
    payment_url: str | None = None
    payment_expires_at: int | None = None
    # "1" while a Stripe session is open (the sparse index the sweeper expires them from).
    payment_open: str | None = None

    @property
    def seat_ids(self) -> list[str]:
        return [seat.seat_id for seat in self.seats]

    @property
    def total_cents(self) -> int:
        return sum(seat.price_cents for seat in self.seats)

    @property
    def hold_until(self) -> datetime:
        return from_ms(self.hold_until_ms)

    @property
    def queue_hold_until(self) -> datetime:
        """The end of the hold while queued: `hold_seconds` from creation."""
        return from_ms(ceil_ms(self.created_at) + 1000 * self.hold_seconds)

    def admitted_by(self, now: datetime) -> bool:
        """Admission is scheduled at a slot: it has happened once the slot has come."""
        return self.admitted_at is not None and self.admitted_at <= now

    def status_at(self, now: datetime) -> StoredStatus:
        """The status a reader sees: a live session past its time is expired, TTL or not,
        and an admission whose slot is still ahead is still `queued`."""
        if self.status in LIVE_STATUSES and self.hold_until <= now:
            return "expired"
        if self.status == "admitted" and not self.admitted_by(now):
            return "queued"
        return self.status


@dataclass(frozen=True)
class Hold:
    """Seats just held for a checkout, and its place in the event's line."""

    seats: list[SeatInfo]
    seq: int  # this checkout's place in its event's line
    line: Line  # where the line stood when the checkout joined it


class CheckoutView(BaseModel):
    checkout_id: UUID
    event_id: UUID
    status: StoredStatus
    position: int | None
    eta_seconds: int | None
    created_at: datetime
    admitted_at: datetime | None
    expires_at: datetime
    seat_ids: list[str]
    seats: list[SeatInfo]
    total_cents: int
    currency: str = "usd"
    reference: str | None = None


class CheckoutCreated(CheckoutView):
    token: str


class Payment(BaseModel):
    """Where and how to pay for an admitted checkout."""

    checkout_id: UUID
    status: StoredStatus
    provider: str
    payment_url: str
    amount_cents: int
    currency: str
    expires_at: datetime  # until when payment_url can be paid
    hold_expires_at: datetime  # until when the seats are held for this checkout
    session_id: str | None = None
