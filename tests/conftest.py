"""Fixtures: a real throwaway Postgres, moto built from template.yaml, and a fake clock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from uuid import UUID

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

from boxoffice import runtime
from boxoffice.models.events import EventSpec
from boxoffice.runtime import Dependencies
from boxoffice.settings import Settings
from boxoffice.stores.migrate import migrate
from local.aws import create_resources, in_process_moto
from local.postgres import throwaway_database
from local.stripe_standin import StripeServer, StripeStandIn
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

TABLES = ("events", "seats", "orders")


@pytest.fixture(scope="session")
def database_url(worker_id: str) -> Iterator[str]:
    """A migrated database: TEST_DATABASE_URL if set (a database of its server per
    pytest-xdist worker, since each test empties the tables), else a cluster started for
    this worker."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        if worker_id != "master":
            base = conninfo_to_dict(given).get("dbname") or "boxoffice_test"
            name = f"{base}_{worker_id}"
            with psycopg.connect(given, autocommit=True) as conn:
                exists = "SELECT 1 FROM pg_database WHERE datname = %s"
                if not conn.execute(exists, (name,)).fetchone():
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            given = make_conninfo(given, dbname=name)
        with psycopg.connect(given, autocommit=True) as conn:
            migrate(conn)
        yield given
        return
    with throwaway_database("boxoffice_test") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn)
        yield url


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
    """moto DynamoDB and SQS (in process, each DynamoDB call whole, as DynamoDB makes it),
    with the table and queues of template.yaml."""
    with in_process_moto():
        made = create_resources(None)
        yield Aws(
            table=made.tables["SessionsTable"].name,
            queue_url=made.queues["AdmissionQueue"].url,
            dlq_url=made.queues["AdmissionDeadLetterQueue"].url,
        )


@pytest.fixture
def stripe_standin() -> Iterator[StripeStandIn]:
    """An offline Stripe over real HTTP (its webhooks are delivered by the tests)."""
    app = StripeStandIn(webhook_secret=Settings().stripe_webhook_secret.get_secret_value())
    server = StripeServer(app).start()
    yield app
    server.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(database_url: str, aws: Aws, stripe_standin: StripeStandIn) -> Settings:
    return Settings(
        database_url=database_url,
        sessions_table=aws.table,
        admission_queue_url=aws.queue_url,
        admission_dlq_url=aws.dlq_url,
        admin_auth_mode="api_key",
        admin_api_key="test-admin-key",
        payment_provider="test",
        stripe_api_base=stripe_standin.public_url,
        public_base_url="http://127.0.0.1:3000",
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

        return create_event(deps, spec or event_spec(**kwargs))  # type: ignore[arg-type]

    return create
