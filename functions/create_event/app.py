"""POST /events (admin): create an event with its seats."""

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from boxoffice.http import api_handler, json_response, make_resolver, require_admin
from boxoffice.models.events import EventSpec
from boxoffice.runtime import dependencies
from boxoffice.services import events

app = make_resolver()


@app.post("/events")
def create_event(spec: Annotated[EventSpec, Body()]) -> Response[str]:
    deps = dependencies()
    require_admin(app, deps.settings)
    return json_response(events.create_event(deps, spec), HTTPStatus.CREATED)


lambda_handler = api_handler(app)
