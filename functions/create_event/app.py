"""POST /events (admin): create an event with its seats."""

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response

from boxoffice.http import (
    answers,
    api_handler,
    json_body,
    json_response,
    make_resolver,
    require_admin,
)
from boxoffice.models.events import EventDetail, EventSpec
from boxoffice.runtime import dependencies
from boxoffice.services import events

app = make_resolver()


@app.post(
    "/events",
    status_code=HTTPStatus.CREATED,
    responses=answers(
        HTTPStatus.CREATED, EventDetail, HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN
    ),
)
def create_event() -> Response[str]:
    deps = dependencies()
    require_admin(app, deps.settings)  # before the body: strangers learn nothing of it
    spec = json_body(app, EventSpec)
    event_id = events.create_event(deps, spec)
    return json_response(events.event_detail_json(deps, str(event_id)), HTTPStatus.CREATED)


lambda_handler = api_handler(app)
