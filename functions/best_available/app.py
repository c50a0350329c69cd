"""POST /events/{event_id}/best-available: suggest N adjacent free seats (holds nothing)."""

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from boxoffice.http import answers, api_handler, json_response, make_resolver
from boxoffice.models.best_available import BestAvailableRequest, SeatBlock
from boxoffice.runtime import dependencies
from boxoffice.services import best_available

app = make_resolver()


@app.post(
    "/events/<event_id>/best-available",
    status_code=HTTPStatus.OK,
    responses=answers(HTTPStatus.OK, SeatBlock, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
)
def suggest_seats(event_id: str, request: Annotated[BestAvailableRequest, Body()]) -> Response[str]:
    return json_response(best_available.best_available(dependencies(), event_id, request))


lambda_handler = api_handler(app)
