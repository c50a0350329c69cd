"""Creating events and reading them with their seat map."""

from __future__ import annotations

from itertools import groupby
from uuid import uuid4

from boxoffice.errors import EventNotFound, InvalidRequest
from boxoffice.ids import parse_uuid
from boxoffice.models.events import (
    Event,
    EventDetail,
    EventSpec,
    RowLayout,
    SeatInfo,
    SeatView,
    SectionLayout,
)
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


def _layout(seats: list[SeatView], section_order: list[str]) -> list[SectionLayout]:
    """Sections in the order the event gave them (alphabetical for events made before the
    order was kept), rows and seats in the store's order."""
    rank = {name: index for index, name in enumerate(section_order)}
    ordered = sorted(seats, key=lambda s: (rank.get(s.section, len(rank)), s.section))
    sections = []
    for section, in_section in groupby(ordered, key=lambda s: s.section):
        rows = [
            RowLayout(
                row=row, seats=[SeatInfo.model_validate(s, from_attributes=True) for s in in_row]
            )
            for row, in_row in groupby(in_section, key=lambda s: s.row)
        ]
        sections.append(SectionLayout(section=section, rows=rows))
    return sections


def create_event(deps: Dependencies, spec: EventSpec) -> EventDetail:
    if len(spec.seats) > deps.settings.max_seats_per_event:
        raise InvalidRequest(
            f"An event may have at most {deps.settings.max_seats_per_event} seats."
        )
    if spec.starts_at <= deps.clock.now():
        raise InvalidRequest("starts_at has passed: an event must start in the future.")
    event_id = uuid4()
    deps.events.create(event_id, spec)
    logger.info("event created", extra={"event_id": str(event_id), "seats": len(spec.seats)})
    return get_event(deps, str(event_id))


def list_events(deps: Dependencies) -> list[Event]:
    return deps.events.all(deps.clock.now())


def get_event(deps: Dependencies, event_id: str) -> EventDetail:
    event = event_or_404(deps, event_id)
    seats = deps.events.seats(event.id, deps.clock.now())
    placement = deps.events.placement(event.id)
    return EventDetail(
        **event.model_dump(),
        sections=_layout(seats, placement.section_order),
        layout=placement.layout,
    )


def list_seats(deps: Dependencies, event_id: str) -> list[SeatView]:
    event = event_settings_or_404(deps, event_id)
    return deps.events.seats(event.id, deps.clock.now())


def seat_map_json(deps: Dependencies, event_id: str) -> str:
    """`list_seats` as JSON text built by Postgres: the polled seat map, no work per seat."""
    event = event_settings_or_404(deps, event_id)
    return deps.events.seats_json(event.id, deps.clock.now())


def seat_map_etag(deps: Dependencies, event_id: str) -> str:
    """An ETag of the seat map now, from the taken seats alone (see EventStore)."""
    event = event_settings_or_404(deps, event_id)
    return f'"{event.id.hex}-{deps.events.seat_map_version(event.id, deps.clock.now())}"'
