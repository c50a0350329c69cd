"""DELETE /checkouts/{checkout_id}: cancel and release the seats."""

from aws_lambda_powertools.event_handler import Response

from boxoffice.http import api_handler, bearer_token, json_response, make_resolver
from boxoffice.runtime import dependencies
from boxoffice.services import checkouts

app = make_resolver()


@app.delete("/checkouts/<checkout_id>")
def cancel_checkout(checkout_id: str) -> Response[str]:
    return json_response(checkouts.cancel_checkout(dependencies(), checkout_id, bearer_token(app)))


lambda_handler = api_handler(app)
