"""GET /events/{event_id}/seats: every seat of an event with its status now."""

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response

from boxoffice.http import (
    SEAT_MAP_MAX_AGE,
    answers,
    api_handler,
    cached_json_response,
    make_resolver,
)
from boxoffice.models.events import SeatView
from boxoffice.runtime import dependencies
from boxoffice.services import events

app = make_resolver()


@app.get(
    "/events/<event_id>/seats",
    status_code=HTTPStatus.OK,
    responses=answers(HTTPStatus.OK, list[SeatView], HTTPStatus.NOT_FOUND, cached=True),
)
def list_seats(event_id: str) -> Response[str]:
    deps = dependencies()
    # A poll that already has this map costs one small read, not the map.
    version = events.seat_map_etag(deps, event_id)
    return cached_json_response(
        app, lambda: events.seat_map_json(deps, event_id), SEAT_MAP_MAX_AGE, etag=version
    )


lambda_handler = api_handler(app)
