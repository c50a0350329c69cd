"""Helpers of the handler tests."""

from __future__ import annotations

from tests.support import seat_statuses

HELD_SEATS = ("A-1-1", "A-1-2")  # the seats of the `held` fixture's checkout


def held_seats(event_id: object) -> dict[str, str]:
    """The statuses of the `held` fixture's seats, as {seat_id: status}."""
    statuses = seat_statuses(event_id)
    return {seat: statuses[seat] for seat in HELD_SEATS}
