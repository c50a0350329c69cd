"""Events and seats: what an admin sends, and what fans read."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    field_validator,
    model_validator,
)

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


def _repeated(names: Iterable[str]) -> list[str]:
    """The names given more than once, sorted."""
    return sorted(name for name, n in Counter(names).items() if n > 1)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class SeatSpec(_Strict):
    seat_id: Label
    section: Label
    row: Label
    number: Annotated[StrictInt, Field(ge=0, le=1_000_000)]
    price_cents: Annotated[StrictInt, Field(ge=0, le=100_000_000)]


# Venue coordinates are in seat pitches (one unit = the spacing of two seats in a row), so a
# section of 12 seats by 10 rows is a block 12 units wide and 10 units deep.
Coordinate = Annotated[StrictFloat | StrictInt, Field(ge=-10_000, le=10_000)]
Extent = Annotated[StrictFloat | StrictInt, Field(gt=0, le=10_000)]
MAX_LAYOUT_SECTIONS = 200


class StageLayout(_Strict):
    """Where the stage is: its centre, width and depth."""

    x: Coordinate
    y: Coordinate
    width: Extent
    height: Extent
    label: Text | None = None


class SectionPlacement(_Strict):
    """Where a section's block of seats is: its centre, turned `rotation` degrees clockwise
    about it (row A, the first row, faces up before turning)."""

    section: Label
    x: Coordinate
    y: Coordinate
    rotation: Annotated[StrictFloat | StrictInt, Field(ge=-360, le=360)] = 0


class VenueLayout(_Strict):
    """The optional `layout` of `POST /events`: the stage and every section, placed."""

    stage: StageLayout | None = None
    sections: Annotated[list[SectionPlacement], Field(min_length=1, max_length=MAX_LAYOUT_SECTIONS)]

    @field_validator("sections")
    @classmethod
    def _placed_once(cls, sections: list[SectionPlacement]) -> list[SectionPlacement]:
        twice = _repeated(placed.section for placed in sections)
        if twice:
            raise ValueError(f"each section is placed once; repeated: {', '.join(twice)}")
        return sections


class EventSpec(_Strict):
    """The body of `POST /events`."""

    name: Text
    venue: Text
    starts_at: datetime
    hold_seconds: Annotated[StrictInt, Field(ge=1, le=86_400)] = 600
    checkout_seconds: Annotated[StrictInt, Field(ge=1, le=86_400)] = 300
    admission_per_second: Annotated[StrictFloat | StrictInt, Field(ge=0.001, le=1_000)] = 1
    # The most seats one client (address) may hold at once for this event (seat spinning).
    max_held_per_client: Annotated[StrictInt, Field(ge=1, le=10_000)] = 20
    # ISO 4217 (three letters), kept in lower case as Stripe takes it.
    currency: Annotated[str, Field(strict=True, pattern=r"^[A-Za-z]{3}$")] = "usd"
    seats: Annotated[list[SeatSpec], Field(min_length=1)]
    layout: VenueLayout | None = None

    @property
    def section_order(self) -> list[str]:
        """The sections in the order the seats first name them."""
        return list(dict.fromkeys(seat.section for seat in self.seats))

    @model_validator(mode="after")
    def _layout_places_every_section(self) -> EventSpec:
        if self.layout is None:
            return self
        sections = set(self.section_order)
        placed = {placement.section for placement in self.layout.sections}
        unknown = sorted(placed - sections)
        if unknown:
            raise ValueError(f"layout places sections no seat is in: {', '.join(unknown)}")
        missing = sorted(sections - placed)
        if missing:
            raise ValueError(f"layout must place every section; missing: {', '.join(missing)}")
        return self

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
        twice = _repeated(seat.seat_id for seat in seats)
        if twice:
            raise ValueError(f"seat_id must be unique; repeated: {', '.join(twice)}")
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
    max_held_per_client: int = 20


class RowLayout(BaseModel):
    row: str
    seats: list[SeatInfo]


class SectionLayout(BaseModel):
    section: str
    rows: list[RowLayout]


class EventDetail(Event):
    sections: list[SectionLayout]
    layout: VenueLayout | None = None
