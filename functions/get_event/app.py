"""GET /events/{event_id}: an event's details and seat layout."""

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response

from boxoffice.http import (
    EVENTS_MAX_AGE,
    answers,
    api_handler,
    cached_json_response,
    make_resolver,
)
from boxoffice.models.events import EventDetail
from boxoffice.runtime import dependencies
from boxoffice.services import events

app = make_resolver()


@app.get(
    "/events/<event_id>",
    status_code=HTTPStatus.OK,
    responses=answers(HTTPStatus.OK, EventDetail, HTTPStatus.NOT_FOUND, cached=True),
)
def get_event(event_id: str) -> Response[str]:
    return cached_json_response(
        app, events.event_detail_json(dependencies(), event_id), EVENTS_MAX_AGE
    )


lambda_handler = api_handler(app)
