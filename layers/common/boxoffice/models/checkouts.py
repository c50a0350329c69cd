"""Checkouts: the request to hold seats, the stored session and what the fan sees."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

from boxoffice.models.events import SeatInfo

StoredStatus = Literal["queued", "admitted", "completed", "expired", "cancelled"]
LIVE_STATUSES: frozenset[StoredStatus] = frozenset({"queued", "admitted"})

SeatId = Annotated[StrictStr, Field(min_length=1, max_length=64)]


class CheckoutRequest(BaseModel):
    """The body of `POST /events/{event_id}/checkouts`."""

    model_config = ConfigDict(extra="forbid")

    seat_ids: Annotated[list[SeatId], Field(min_length=1)]

    @field_validator("seat_ids")
    @classmethod
    def _no_duplicates(cls, seat_ids: list[str]) -> list[str]:
        repeated = sorted({s for s in seat_ids if seat_ids.count(s) > 1})
        if repeated:
            raise ValueError(f"seat_ids must not repeat; repeated: {', '.join(repeated)}")
        return seat_ids


class Session(BaseModel):
    """A checkout session as stored in DynamoDB (expires_at is epoch seconds, the TTL)."""

    checkout_id: UUID
    event_id: UUID
    seq: int
    status: StoredStatus
    token_hash: str
    seats: list[SeatInfo]
    created_at: datetime
    expires_at: int
    checkout_seconds: int
    admission_per_second: float
    admitted_at: datetime | None = None
    completed_at: datetime | None = None

    @property
    def seat_ids(self) -> list[str]:
        return [seat.seat_id for seat in self.seats]

    def admitted_by(self, now_epoch: float) -> bool:
        """Admission is scheduled at a slot: it has happened once the slot has come."""
        return self.admitted_at is not None and self.admitted_at.timestamp() <= now_epoch

    def status_at(self, now_epoch: float) -> StoredStatus:
        """The status a reader sees: a live session past its time is expired, TTL or not,
        and an admission whose slot is still ahead is still `queued`."""
        if self.status in LIVE_STATUSES and self.expires_at <= now_epoch:
            return "expired"
        if self.status == "admitted" and not self.admitted_by(now_epoch):
            return "queued"
        return self.status


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


class CheckoutCreated(CheckoutView):
    token: str


class Payment(BaseModel):
    """Where and how to pay for an admitted checkout."""

    checkout_id: UUID
    status: StoredStatus
    provider: str
    payment_url: str
    amount_cents: int
    expires_at: datetime
