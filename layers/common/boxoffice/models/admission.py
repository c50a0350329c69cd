"""The admission line: the queue's message (which checkout, of which event, at which place)
and where an event's line stands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel


class AdmissionMessage(BaseModel):
    checkout_id: UUID
    event_id: UUID
    seq: int


@dataclass(frozen=True)
class Line:
    """Where an event's admission line stands."""

    admitted_seq: int  # the highest place in line the consumer has dealt with
    next_admission_at: datetime | None  # when the next free admission slot starts
