"""GET /events: every event with its live seat counts."""

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response

from boxoffice.http import (
    EVENTS_MAX_AGE,
    answers,
    api_handler,
    cached_json_response,
    make_resolver,
)
from boxoffice.models.events import Event
from boxoffice.runtime import dependencies
from boxoffice.services import events

app = make_resolver()


@app.get(
    "/events", status_code=HTTPStatus.OK, responses=answers(HTTPStatus.OK, list[Event], cached=True)
)
def list_events() -> Response[str]:
    return cached_json_response(app, events.list_events(dependencies()), EVENTS_MAX_AGE)


lambda_handler = api_handler(app)
