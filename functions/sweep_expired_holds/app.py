"""Every minute: release any hold past its time and mark its session expired."""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from boxoffice.observability import entrypoint
from boxoffice.runtime import dependencies
from boxoffice.services.expiry import sweep


def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return asdict(sweep(dependencies()))


lambda_handler = entrypoint(handle)
