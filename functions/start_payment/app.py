"""POST /checkouts/{checkout_id}/payment: where to pay for an admitted checkout."""

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response

from boxoffice.http import (
    CHECKOUT_REFUSALS,
    answers,
    api_handler,
    bearer_token,
    json_response,
    make_resolver,
)
from boxoffice.models.checkouts import Payment
from boxoffice.runtime import dependencies
from boxoffice.services import checkouts

app = make_resolver()


@app.post(
    "/checkouts/<checkout_id>/payment",
    status_code=HTTPStatus.OK,
    responses=answers(HTTPStatus.OK, Payment, *CHECKOUT_REFUSALS, HTTPStatus.CONFLICT),
)
def start_payment(checkout_id: str) -> Response[str]:
    origin = app.current_event.headers.get("origin")
    return json_response(
        checkouts.start_payment(dependencies(), checkout_id, bearer_token(app), origin)
    )


lambda_handler = api_handler(app)
