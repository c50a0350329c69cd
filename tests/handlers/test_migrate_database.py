"""The migrate function: by hand, and as the DatabaseMigrations custom resource."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import psycopg
import pytest

from boxoffice import runtime
from boxoffice.stores.migrate import migration_files
from functions.migrate_database import app
from tests.support import invoke_raw


class CloudFormation:
    """Where a custom resource answers: records each PUT to its pre-signed URL."""

    def __init__(self) -> None:
        self.answers: list[tuple[dict[str, Any], str | None]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                recorder.answers.append((json.loads(body), self.headers.get("Content-Type")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/response?X-Amz-Signature=x"

    def request(self, kind: str, **extra: str) -> dict[str, Any]:
        return {
            "RequestType": kind,
            "ResponseURL": self.url,
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/boxoffice/1",
            "RequestId": "req-1",
            "LogicalResourceId": "DatabaseMigrations",
            "ResourceType": "Custom::DatabaseMigrations",
            "ResourceProperties": {"ServiceToken": "arn", "Layer": "arn:layer:1"},
            **extra,
        }


@pytest.fixture
def cloudformation() -> Iterator[CloudFormation]:
    recorder = CloudFormation()
    thread = threading.Thread(target=recorder.server.serve_forever, daemon=True)
    thread.start()
    yield recorder
    recorder.server.shutdown()
    recorder.server.server_close()


def test_by_hand_it_reports_what_it_applied(deps):
    assert invoke_raw("migrate_database", {}) == {"applied": []}


@pytest.mark.parametrize("kind", ["Create", "Update"])
def test_on_deploy_it_migrates_and_answers_success(deps, cloudformation, kind):
    extra = {"PhysicalResourceId": "boxoffice-database-migrations"} if kind == "Update" else {}
    answer = invoke_raw("migrate_database", cloudformation.request(kind, **extra))
    [(sent, content_type)] = cloudformation.answers
    assert sent == answer
    assert sent["Status"] == "SUCCESS"
    assert sent["PhysicalResourceId"] == "boxoffice-database-migrations"
    assert sent["Data"] == {"Applied": "none", "AppRole": ""}
    assert (sent["RequestId"], sent["LogicalResourceId"]) == ("req-1", "DatabaseMigrations")
    assert not content_type  # the pre-signed URL is signed for none


def test_a_failed_migration_fails_the_deploy_with_its_reason(deps, cloudformation):
    @contextmanager
    def broken() -> Iterator[Any]:
        raise RuntimeError("schema exploded")
        yield

    runtime.use(runtime.build(deps.settings, connection=broken, clock=deps.clock))
    invoke_raw("migrate_database", cloudformation.request("Create"))
    [(sent, _)] = cloudformation.answers
    assert sent["Status"] == "FAILED"
    assert "schema exploded" in sent["Reason"]


def test_delete_leaves_the_schema_alone(cloudformation):
    request = cloudformation.request("Delete", PhysicalResourceId="boxoffice-database-migrations")
    invoke_raw("migrate_database", request)
    [(sent, _)] = cloudformation.answers
    assert (sent["Status"], sent["Data"]) == ("SUCCESS", {})


def test_an_unreachable_database_is_retried_until_time_runs_out(monkeypatch):
    calls = []

    def refuse() -> dict[str, str]:
        calls.append(1)
        raise psycopg.OperationalError("proxy not ready")

    monkeypatch.setattr(app, "RETRY_SECONDS", 0)
    left = iter([60_000, 60_000, 1_000])
    with pytest.raises(psycopg.OperationalError):
        app.with_retries(refuse, lambda: next(left))
    assert len(calls) == 3


def test_the_app_role_gets_login_and_its_secrets_password(deps, database_url, monkeypatch):
    secret = boto3.client("secretsmanager").create_secret(
        Name="app-db",
        SecretString=json.dumps({"username": "boxoffice_app", "password": "s3cret-pw"}),
    )
    monkeypatch.setenv("APP_DB_SECRET_ARN", secret["ARN"])
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert app.set_app_role_password(conn) == "boxoffice_app"
        row = conn.execute(
            "SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = 'boxoffice_app'"
        ).fetchone()
        assert row == (True, False)
        conn.execute("ALTER ROLE boxoffice_app NOLOGIN")


def test_the_app_role_may_do_what_the_app_does_and_no_more(deps, make_event, database_url):
    event_id = make_event(seats=4)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SET ROLE boxoffice_app")
        try:
            # Reads and writes rows, takes places in line, makes a new event's sequence.
            assert conn.execute("SELECT count(*) FROM seats").fetchone() == (4,)
            conn.execute("UPDATE events SET name = name WHERE id = %s", (event_id,))
            sequence = f"event_line_{event_id.hex}"
            conn.execute("SELECT nextval(%s)", (sequence,))
            # Makes an event's rows and searches them for the best block.
            assert conn.execute("SELECT has_table_privilege('seat_rows', 'INSERT')").fetchone() == (
                True,
            )
            block = conn.execute(
                "SELECT seat_ids FROM best_block(%s, now(), 2, NULL, NULL)", (event_id,)
            ).fetchone()
            assert block is not None
            assert len(block[0]) == 2
            conn.execute("CREATE SEQUENCE event_line_role_test")
            conn.execute("DROP SEQUENCE event_line_role_test")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("DROP TABLE seats")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("CREATE ROLE intruder")
        finally:
            conn.execute("RESET ROLE")


def test_the_role_migration_can_run_again(database_url):
    script = dict(migration_files())["006_app_role"]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(script.encode())
        conn.execute(script.encode())
