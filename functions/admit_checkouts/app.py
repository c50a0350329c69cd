"""SQS FIFO consumer: admit queued checkouts at each event's admission rate."""

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from boxoffice.observability import entrypoint
from boxoffice.runtime import dependencies
from boxoffice.services.admission import process_batch


def handle(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_batch(dependencies(), event, context)


lambda_handler = entrypoint(handle)
