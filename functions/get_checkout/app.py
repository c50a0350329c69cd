"""GET /checkouts/{checkout_id}: a checkout's status, place in line and hold."""

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
from boxoffice.models.checkouts import CheckoutView
from boxoffice.runtime import dependencies
from boxoffice.services import checkouts

app = make_resolver()


@app.get(
    "/checkouts/<checkout_id>",
    status_code=HTTPStatus.OK,
    responses=answers(HTTPStatus.OK, CheckoutView, *CHECKOUT_REFUSALS),
)
def get_checkout(checkout_id: str) -> Response[str]:
    return json_response(checkouts.get_checkout(dependencies(), checkout_id, bearer_token(app)))


lambda_handler = api_handler(app)
