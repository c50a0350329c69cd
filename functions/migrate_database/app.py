"""Apply the schema migrations: on deploy as a CloudFormation custom resource
(DatabaseMigrations), or by hand with `sam remote invoke MigrateDatabaseFunction`."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import psycopg
from aws_lambda_powertools.utilities.typing import LambdaContext
from psycopg import sql

from boxoffice.custom_resource import handle_request, is_request
from boxoffice.observability import entrypoint, logger
from boxoffice.runtime import dependencies
from boxoffice.stores.database import Connection
from boxoffice.stores.migrate import migrate

# A new RDS Proxy can refuse connections for a few minutes after CloudFormation made it.
RETRY_SECONDS = 10
# Left for answering CloudFormation before the function's own timeout.
SPARE_MILLIS = 30_000


def set_app_role_password(conn: Connection) -> str | None:
    """Give the app's role (made by migration 006) LOGIN and the password of its secret."""
    arn = os.environ.get("APP_DB_SECRET_ARN")
    if not arn:
        return None  # locally the app connects with DATABASE_URL
    from aws_lambda_powertools.utilities.parameters import get_secret

    secret = get_secret(arn, transform="json", max_age=0)
    if not isinstance(secret, dict):
        raise RuntimeError("The app database secret must be JSON with username and password")
    user = str(secret["username"])
    conn.execute(
        sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(
            sql.Identifier(user), sql.Literal(str(secret["password"]))
        )
    )
    return user


def run_migrations() -> dict[str, str]:
    with dependencies().connection() as conn:
        applied = migrate(conn)
        role = set_app_role_password(conn)
    logger.info("migrations applied", extra={"applied": applied, "app_role": role})
    return {"Applied": ",".join(applied) or "none", "AppRole": role or ""}


def with_retries(run: Callable[[], dict[str, str]], remaining_millis: Callable[[], int]) -> Any:
    """Retry while Postgres (the proxy) refuses connections and time is left."""
    while True:
        try:
            return run()
        except psycopg.OperationalError:
            if remaining_millis() < SPARE_MILLIS + RETRY_SECONDS * 1000:
                raise
            logger.warning("database not reachable yet, retrying", exc_info=True)
            time.sleep(RETRY_SECONDS)


def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    def run() -> dict[str, str]:
        result: dict[str, str] = with_retries(run_migrations, context.get_remaining_time_in_millis)
        return result

    if is_request(event):
        stream = str(getattr(context, "log_stream_name", ""))
        return handle_request(event, stream, run, "boxoffice-database-migrations")
    result = run()
    return {"applied": [] if result["Applied"] == "none" else result["Applied"].split(",")}


lambda_handler = entrypoint(handle)
