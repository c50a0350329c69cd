"""The objects a warm container reuses, built lazily on first use (never at import).

Handlers call `dependencies()`; tests and the local stack may install their own with
`use()` (a fake clock, a pooled connection source).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from boxoffice.clock import Clock, SystemClock
from boxoffice.dependencies import Dependencies
from boxoffice.settings import Settings, get_settings
from boxoffice.stores.admission_queue import AdmissionQueue
from boxoffice.stores.database import ConnectionSource, LazyConnection, conninfo_from_settings
from boxoffice.stores.events import EventStore
from boxoffice.stores.orders import OrderStore
from boxoffice.stores.seats import SeatStore
from boxoffice.stores.sessions import SessionStore
from boxoffice.stores.stripe_api import StripeApi

if TYPE_CHECKING:
    from botocore.config import Config
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_sqs.client import SQSClient

__all__ = ["Dependencies", "build", "dependencies", "use"]

# How long a warm container trusts a secret it read (a rotated secret is seen after this).
SECRET_MAX_AGE_SECONDS = 300


def stripe_secret_key(settings: Settings) -> str:
    """Stripe's API key: from Secrets Manager when its ARN is set, else the setting."""
    if settings.stripe_secret_arn:
        from aws_lambda_powertools.utilities.parameters import get_secret

        return str(get_secret(settings.stripe_secret_arn, max_age=SECRET_MAX_AGE_SECONDS)).strip()
    return settings.stripe_secret_key.get_secret_value()


def _client_config() -> Config:
    """Every request these clients send is built by our stores from typed values, and
    DynamoDB and SQS check each one again: botocore's own client-side check of the
    parameters against the API model is skipped ("for performance reasons", as its
    Config allows). Measured against our moto: 0.16-0.44 ms of CPU less per PutItem of a
    session, two to three of which every hold makes."""
    from botocore.config import Config

    return Config(parameter_validation=False)


def build(
    settings: Settings,
    connection: ConnectionSource | None = None,
    clock: Clock | None = None,
) -> Dependencies:
    """Wire the stores; AWS clients and the DB connection are created on first use."""

    # boto3 is imported where a client is first made, not by every function at import.
    @cache
    def dynamodb() -> DynamoDBClient:
        import boto3

        return boto3.client("dynamodb", config=_client_config())

    @cache
    def sqs() -> SQSClient:
        import boto3

        return boto3.client("sqs", config=_client_config())

    def queue_url() -> str:
        if not settings.admission_queue_url:
            raise RuntimeError("ADMISSION_QUEUE_URL is not set")
        return settings.admission_queue_url

    def dlq_url() -> str:
        if not settings.admission_dlq_url:
            raise RuntimeError("ADMISSION_DLQ_URL is not set")
        return settings.admission_dlq_url

    source = connection or LazyConnection(
        lambda: conninfo_from_settings(settings), settings.db_connect_timeout_seconds
    )
    return Dependencies(
        settings=settings,
        clock=clock or SystemClock(),
        connection=source,
        events=EventStore(source),
        seats=SeatStore(source),
        orders=OrderStore(source),
        sessions=SessionStore(settings.sessions_table, dynamodb),
        queue=AdmissionQueue(queue_url, dlq_url, sqs),
        stripe=StripeApi(
            lambda: stripe_secret_key(settings),
            settings.stripe_api_base,
            settings.stripe_timeout_seconds,
        ),
    )


_current: Dependencies | None = None


def dependencies() -> Dependencies:
    global _current
    if _current is None:
        _current = build(get_settings())
    return _current


def use(deps: Dependencies | None) -> None:
    """Install `deps` for this process (None: rebuild from the environment on next use)."""
    global _current
    _current = deps
