"""Best available: what a fan asks for, and the block of seats suggested."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from boxoffice.models.events import Label


class BestAvailableRequest(BaseModel):
    """The body of `POST /events/{event_id}/best-available`.

    `count` is bounded by the event's per-checkout maximum in the service (the model
    bounds it loosely, so that a huge number is refused before any work).
    """

    model_config = ConfigDict(extra="forbid")

    count: Annotated[StrictInt, Field(ge=1, le=100)]
    section: Label | None = None
    max_price_cents: Annotated[StrictInt, Field(ge=0, le=100_000_000)] | None = None


class SeatBlock(BaseModel):
    """`count` adjacent seats (consecutive numbers) in one row, free now; nothing is held."""

    seat_ids: list[str]
    section: str
    row: str
    total_cents: int
