"""Creating events and reading them with their seat map."""

from __future__ import annotations

from uuid import uuid4

from boxoffice.errors import EventNotFound, InvalidRequest
from boxoffice.ids import parse_uuid
from boxoffice.models.events import Event, EventDetail, EventSpec, SeatView
from boxoffice.observability import logger
from boxoffice.runtime import Dependencies
from boxoffice.stores.events import EventSettings


def event_or_404(deps: Dependencies, event_id: str) -> Event:
    """The event with its seat counts (the list and detail reads)."""
    parsed = parse_uuid(event_id)
    event = deps.events.get(parsed, deps.clock.now()) if parsed else None
    if event is None:
        raise EventNotFound(event_id)
    return event


def event_settings_or_404(deps: Dependencies, event_id: str) -> EventSettings:
    """The event's settings, read by key: what the hold path needs, nothing counted."""
    parsed = parse_uuid(event_id)
    event = deps.events.settings(parsed) if parsed else None
    if event is None:
        raise EventNotFound(event_id)
    return event


def create_event(deps: Dependencies, spec: EventSpec) -> EventDetail:
    if len(spec.seats) > deps.settings.max_seats_per_event:
        raise InvalidRequest(
            f"An event may have at most {deps.settings.max_seats_per_event} seats."
        )
    event_id = uuid4()
    deps.events.create(event_id, spec)
    logger.info("event created", extra={"event_id": str(event_id), "seats": len(spec.seats)})
    return get_event(deps, str(event_id))


def list_events(deps: Dependencies) -> list[Event]:
    return deps.events.all(deps.clock.now())


def get_event(deps: Dependencies, event_id: str) -> EventDetail:
    event = event_or_404(deps, event_id)
    return EventDetail(**event.model_dump(), sections=deps.events.layout(event.id))


def list_seats(deps: Dependencies, event_id: str) -> list[SeatView]:
    event = event_settings_or_404(deps, event_id)
    return deps.events.seats(event.id, deps.clock.now())
