"""Fixtures: a real throwaway Postgres, moto built from template.yaml, and a fake clock."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import boto3
import psycopg
import pytest
from moto import mock_aws
from psycopg_pool import ConnectionPool

from boxoffice import runtime
from boxoffice.models.events import EventSpec
from boxoffice.runtime import Dependencies
from boxoffice.settings import Settings
from boxoffice.stores.migrate import migrate
from local import template
from local.postgres import PostgresCluster
from tests.support import FakeClock, event_spec

os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    POWERTOOLS_TRACE_DISABLED="true",
    POWERTOOLS_METRICS_NAMESPACE="BoxOfficeTest",
    POWERTOOLS_LOG_LEVEL="WARNING",
)
os.environ.pop("AWS_ENDPOINT_URL", None)

SESSIONS_TABLE = "boxoffice-sessions-test"
TABLES = ("events", "seats", "orders")


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A migrated database: TEST_DATABASE_URL if set, else a cluster started for this run."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        with psycopg.connect(given, autocommit=True) as conn:
            migrate(conn)
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="boxoffice-pg-") as folder:
        os.chmod(folder, 0o755)  # noqa: S103 - the postgres user must reach its data dir
        cluster = PostgresCluster(Path(folder) / "data", fsync=False)
        cluster.start()
        try:
            url = cluster.ensure_database("boxoffice_test")
            with psycopg.connect(url, autocommit=True) as conn:
                migrate(conn)
            yield url
        finally:
            cluster.stop()


@pytest.fixture(scope="session")
def pool(database_url: str) -> Iterator[ConnectionPool]:
    with ConnectionPool(
        database_url, min_size=2, max_size=150, kwargs={"autocommit": True}, open=True
    ) as opened:
        yield opened


@pytest.fixture
def db(pool: ConnectionPool) -> ConnectionPool:
    """The pool, with every table emptied for this test."""
    with pool.connection() as conn:
        conn.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
    return pool


@dataclass
class Aws:
    table: str
    queue_url: str
    dlq_url: str


@pytest.fixture
def aws() -> Iterator[Aws]:
    """moto DynamoDB and SQS, with the table and queues defined in template.yaml."""
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(**template.table_definition("SessionsTable", SESSIONS_TABLE))
        sqs = boto3.client("sqs")
        dlq_id, max_receives = template.redrive("AdmissionQueue") or ("", 0)
        dlq_url = sqs.create_queue(
            QueueName=f"{dlq_id}.fifo", Attributes=template.queue_attributes(dlq_id)
        )["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        attributes: dict[Any, str] = template.queue_attributes("AdmissionQueue")
        attributes["RedrivePolicy"] = (
            f'{{"deadLetterTargetArn": "{dlq_arn}", "maxReceiveCount": {max_receives}}}'
        )
        queue_url = sqs.create_queue(QueueName="AdmissionQueue.fifo", Attributes=attributes)[
            "QueueUrl"
        ]
        yield Aws(table=SESSIONS_TABLE, queue_url=queue_url, dlq_url=dlq_url)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(database_url: str, aws: Aws) -> Settings:
    return Settings(
        database_url=database_url,
        sessions_table=aws.table,
        admission_queue_url=aws.queue_url,
        admission_dlq_url=aws.dlq_url,
        admin_auth_mode="api_key",
        admin_api_key="test-admin-key",
    )


@pytest.fixture
def deps(settings: Settings, db: ConnectionPool, clock: FakeClock) -> Iterator[Dependencies]:
    """The dependencies the handlers use for this test (real Postgres, moto, fake clock)."""
    built = runtime.build(settings, connection=db.connection, clock=clock)
    runtime.use(built)
    yield built
    runtime.use(None)


@pytest.fixture
def make_event(deps: Dependencies):
    def create(spec: EventSpec | None = None, **kwargs: object) -> UUID:
        from boxoffice.services.events import create_event

        return create_event(deps, spec or event_spec(**kwargs)).id  # type: ignore[arg-type]

    return create
