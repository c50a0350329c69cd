"""GET /events/{event_id}/seats: every seat of an event with its status now."""

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response

from boxoffice.http import answers, api_handler, json_text_response, make_resolver
from boxoffice.models.events import SeatView
from boxoffice.runtime import dependencies
from boxoffice.services import events

app = make_resolver()


@app.get(
    "/events/<event_id>/seats",
    status_code=HTTPStatus.OK,
    responses=answers(HTTPStatus.OK, list[SeatView], HTTPStatus.NOT_FOUND),
)
def list_seats(event_id: str) -> Response[str]:
    return json_text_response(events.seat_map_json(dependencies(), event_id))


lambda_handler = api_handler(app)
