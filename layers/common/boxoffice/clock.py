"""Time as a dependency, so expiry and admission pacing are tested without sleeping, and
the millisecond arithmetic that keeps DynamoDB and Postgres agreeing on when a hold ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def floor_ms(moment: datetime) -> int:
    """Epoch milliseconds of `moment`, rounded down."""
    return (moment - EPOCH) // _MICROSECOND // 1000


def ceil_ms(moment: datetime) -> int:
    """Epoch milliseconds of `moment`, rounded up."""
    return -(-((moment - EPOCH) // _MICROSECOND) // 1000)


def from_ms(milliseconds: int) -> datetime:
    """The exact moment (a whole millisecond) of epoch milliseconds."""
    return EPOCH + timedelta(milliseconds=milliseconds)
