"""Creating events and reading them with their seat map."""

from __future__ import annotations

from uuid import UUID, uuid4

from pydantic_core import to_json

from boxoffice.errors import EventNotFound, InvalidRequest
from boxoffice.ids import parse_uuid
from boxoffice.models.events import Event, EventSpec
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


def create_event(deps: Dependencies, spec: EventSpec) -> UUID:
    if len(spec.seats) > deps.settings.max_seats_per_event:
        raise InvalidRequest(
            f"An event may have at most {deps.settings.max_seats_per_event} seats."
        )
    if spec.starts_at <= deps.clock.now():
        raise InvalidRequest("starts_at has passed: an event must start in the future.")
    event_id = uuid4()
    deps.events.create(event_id, spec)
    logger.info("event created", extra={"event_id": str(event_id), "seats": len(spec.seats)})
    return event_id


def list_events(deps: Dependencies) -> list[Event]:
    return deps.events.all(deps.clock.now())


def event_detail_json(deps: Dependencies, event_id: str) -> str:
    """The event's detail (`EventDetail`) as JSON text: the event and its layout rendered
    by pydantic, its sections (every seat) spliced in as Postgres built them, so a 20,000-seat
    venue costs no Python work per seat."""
    event = event_or_404(deps, event_id)
    venue = deps.events.venue(event.id)
    head = to_json({**event.model_dump(), "layout": venue.layout}).decode()
    return f'{head.removesuffix("}")},"sections":{venue.sections_json}}}'


def seat_map_json(deps: Dependencies, event_id: str) -> str:
    """Every seat with its status now, as JSON text built by Postgres: the polled seat map,
    no work per seat."""
    event = event_settings_or_404(deps, event_id)
    return deps.events.seats_json(event.id, deps.clock.now())


def seat_map_etag(deps: Dependencies, event_id: str) -> str:
    """An ETag of the seat map now, from the taken seats alone (see EventStore)."""
    event = event_settings_or_404(deps, event_id)
    return f'"{event.id.hex}-{deps.events.seat_map_version(event.id, deps.clock.now())}"'
