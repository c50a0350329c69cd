"""POST /events/{event_id}/checkouts: hold seats (all or nothing) and join the line."""

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from boxoffice.http import answers, api_handler, client_address, json_response, make_resolver
from boxoffice.models.checkouts import CheckoutCreated, CheckoutRequest
from boxoffice.runtime import dependencies
from boxoffice.services import checkouts

app = make_resolver()


@app.post(
    "/events/<event_id>/checkouts",
    status_code=HTTPStatus.CREATED,
    responses=answers(
        HTTPStatus.CREATED,
        CheckoutCreated,
        HTTPStatus.NOT_FOUND,
        HTTPStatus.CONFLICT,
        HTTPStatus.TOO_MANY_REQUESTS,
    ),
)
def create_checkout(event_id: str, request: Annotated[CheckoutRequest, Body()]) -> Response[str]:
    created = checkouts.create_checkout(dependencies(), event_id, request, client_address(app))
    return json_response(created, HTTPStatus.CREATED)


lambda_handler = api_handler(app)
