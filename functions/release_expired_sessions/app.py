"""DynamoDB stream consumer: when TTL deletes a session, release the seats it held."""

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from boxoffice.observability import entrypoint
from boxoffice.runtime import dependencies
from boxoffice.services.expiry import process_stream


def handle(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_stream(dependencies(), event, context)


lambda_handler = entrypoint(handle)
