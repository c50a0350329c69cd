"""The admission queue's message: which checkout, of which event, at which place in line."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel


class AdmissionMessage(BaseModel):
    checkout_id: UUID
    event_id: UUID
    seq: int
