"""GET /events: every event with its live seat counts."""

from aws_lambda_powertools.event_handler import Response

from boxoffice.http import api_handler, json_response, make_resolver
from boxoffice.runtime import dependencies
from boxoffice.services import events

app = make_resolver()


@app.get("/events")
def list_events() -> Response[str]:
    return json_response(events.list_events(dependencies()))


lambda_handler = api_handler(app)
