"""Identifiers from the outside world: a malformed id is simply one that does not exist."""

from __future__ import annotations

from uuid import UUID


def parse_uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None
