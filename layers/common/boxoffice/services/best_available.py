"""Best available: suggest N adjacent free seats in one row. Nothing is held here; the fan
holds the suggestion with `POST /events/{event_id}/checkouts` if it suits them."""

from __future__ import annotations

from boxoffice.errors import InvalidRequest, NoSeatsTogether
from boxoffice.models.best_available import BestAvailableRequest, SeatBlock
from boxoffice.observability import logger
from boxoffice.runtime import Dependencies
from boxoffice.services.events import event_or_404


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _wanted(request: BestAvailableRequest) -> str:
    where = f" in {request.section}" if request.section else ""
    price = (
        f" at {_money(request.max_price_cents)} or less each"
        if request.max_price_cents is not None
        else ""
    )
    return f"{request.count} seats together{where}{price}"


def best_available(deps: Dependencies, event_id: str, request: BestAvailableRequest) -> SeatBlock:
    limit = deps.settings.max_seats_per_checkout
    if request.count > limit:
        raise InvalidRequest(f"Ask for at most {limit} seats together.", max_seats=limit)
    event = event_or_404(deps, event_id)
    block = deps.events.best_block(
        event.id,
        deps.clock.now(),
        request.count,
        section=request.section,
        max_price_cents=request.max_price_cents,
    )
    if block is not None:
        logger.info(
            "best available found",
            extra={"event_id": str(event.id), "count": request.count, "row": block.row},
        )
        return block
    if request.section is not None and not deps.events.has_section(event.id, request.section):
        raise InvalidRequest(f"This event has no section {request.section!r}.")
    raise NoSeatsTogether(
        f"There are no {_wanted(request)} left. Try fewer seats, another section or price,"
        " or pick seats on the map.",
        count=request.count,
    )
