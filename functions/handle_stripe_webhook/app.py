"""POST /webhooks/stripe: Stripe's signed events settle checkouts (paid books, failed releases)."""

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response

from boxoffice.http import answers, api_handler, json_response, make_resolver
from boxoffice.runtime import dependencies
from boxoffice.services import payments

app = make_resolver()


@app.post(
    "/webhooks/stripe",
    status_code=HTTPStatus.OK,
    responses=answers(HTTPStatus.OK, payments.WebhookReceipt),
)
def handle_stripe_webhook() -> Response[str]:
    # Stripe signs the exact bytes it sent: pass the raw (base64-decoded) body, unparsed.
    request = app.current_event
    return json_response(
        payments.handle_stripe_webhook(
            dependencies(), request.decoded_body, request.headers.get("stripe-signature")
        )
    )


lambda_handler = api_handler(app)
