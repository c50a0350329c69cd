"""Events and seats: what an admin sends, and what fans read."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, field_validator

# Printable text only (no control characters: Postgres refuses NUL), not blank.
_PRINTABLE = r"[^\x00-\x1f\x7f]*"
Text = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        strict=True,
        pattern=rf"^{_PRINTABLE}[^\s\x00-\x1f\x7f]{_PRINTABLE}$",
    ),
]
# An identifier-like label: printable, no space at either end.
Label = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        strict=True,
        pattern=r"^[^\s\x00-\x1f\x7f]([^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?$",
    ),
]
SeatStatus = Literal["available", "held", "booked"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class SeatSpec(_Strict):
    seat_id: Label
    section: Label
    row: Label
    number: Annotated[StrictInt, Field(ge=0, le=1_000_000)]
    price_cents: Annotated[StrictInt, Field(ge=0, le=100_000_000)]


class EventSpec(_Strict):
    """The body of `POST /events`."""

    name: Text
    venue: Text
    starts_at: datetime
    hold_seconds: Annotated[StrictInt, Field(ge=1, le=86_400)] = 600
    checkout_seconds: Annotated[StrictInt, Field(ge=1, le=86_400)] = 300
    admission_per_second: Annotated[StrictFloat | StrictInt, Field(ge=0.001, le=1_000)] = 1
    # ISO 4217 (three letters), kept in lower case as Stripe takes it.
    currency: Annotated[str, Field(strict=True, pattern=r"^[A-Za-z]{3}$")] = "usd"
    seats: Annotated[list[SeatSpec], Field(min_length=1)]

    @field_validator("starts_at", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        if not isinstance(value, str | datetime):
            raise ValueError(
                "starts_at must be an ISO 8601 date and time, e.g. 2031-06-01T19:30:00Z"
            )
        return value

    @field_validator("starts_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        try:
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:
            raise ValueError("starts_at is out of range") from None

    @field_validator("currency")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()

    @field_validator("seats")
    @classmethod
    def _unique_seat_ids(cls, seats: list[SeatSpec]) -> list[SeatSpec]:
        counts = Counter(seat.seat_id for seat in seats)
        repeated = sorted(seat_id for seat_id, n in counts.items() if n > 1)
        if repeated:
            raise ValueError(f"seat_id must be unique; repeated: {', '.join(repeated)}")
        return seats


class SeatInfo(BaseModel):
    seat_id: str
    section: str
    row: str
    number: int
    price_cents: int


class SeatView(SeatInfo):
    status: SeatStatus


class EventSummary(BaseModel):
    id: UUID
    name: str
    venue: str
    starts_at: datetime
    seats_total: int
    seats_available: int


class Event(EventSummary):
    """An event with its settings (one row of the events table plus seat counts)."""

    hold_seconds: int
    checkout_seconds: int
    admission_per_second: float
    currency: str = "usd"


class RowLayout(BaseModel):
    row: str
    seats: list[SeatInfo]


class SectionLayout(BaseModel):
    section: str
    rows: list[RowLayout]


class EventDetail(Event):
    sections: list[SectionLayout]
