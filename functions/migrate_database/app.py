"""Apply the schema migrations (run once after each deploy: `sam remote invoke`)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from boxoffice.observability import entrypoint, logger
from boxoffice.runtime import dependencies
from boxoffice.stores.migrate import migrate


def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with dependencies().connection() as conn:
        applied = migrate(conn)
    logger.info("migrations applied", extra={"applied": applied})
    return {"applied": applied}


lambda_handler = entrypoint(handle)
