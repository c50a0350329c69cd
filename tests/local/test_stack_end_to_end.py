"""The local stack end to end over HTTP (`python -m local` as a subprocess), and its event
sources against moto in server mode."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from local import template
from local.aws import LocalAws, create_resources, start_moto
from local.lambdas import Invocation
from local.postgres import free_port
from local.sources import (
    Schedule,
    SqsPoller,
    StreamPoller,
    TtlDeletes,
    TtlSweeper,
    matches,
    parse_rate,
)
from local.template import Function
from tests.local.stack import (
    ADMIN_KEY,
    SERVER_ERROR_LINE,
    Answer,
    StackProcess,
    fresh_database,
    processes_tagged,
    stack_env,
)

ADMIN = {"x-api-key": ADMIN_KEY}


def seats(prefix: str, count: int, price: int = 2500) -> list[dict[str, Any]]:
    return [
        {
            "seat_id": f"{prefix}-{n}",
            "section": prefix,
            "row": "1",
            "number": n,
            "price_cents": price,
        }
        for n in range(1, count + 1)
    ]


def event_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"Test {uuid4().hex[:6]}",
        "venue": "Test Hall",
        "starts_at": "2031-06-01T19:30:00Z",
        "hold_seconds": 600,
        "checkout_seconds": 300,
        "admission_per_second": 1,
        "seats": seats("A", 12),
    }
    body.update(overrides)
    return body


# =============================================================== the stack, end to end
@pytest.fixture(scope="module")
def stack(database_url: str) -> Iterator[StackProcess]:
    with fresh_database(database_url) as url:
        running = StackProcess(stack_env(DATABASE_URL=url, PAYMENT_PROVIDER="test"))
        try:
            running.start()
            yield running
        finally:
            code = running.stop()
            tag = running.worker_tag()
        assert code == 0, running.output
        assert "Stopped." in running.output
        assert processes_tagged(tag) == [], "worker processes outlived the stack"
        # nothing answered 5xx during the whole module
        fives = [line for line in running.lines if SERVER_ERROR_LINE.search(line)]
        assert fives == [], "\n".join(fives)
        # and no event-source invocation failed or timed out
        failed = [line for line in running.lines if re.search(r"^\S+ \S+ (error|timeout) ", line)]
        assert failed == [], "\n".join(failed)


def create_event(stack: StackProcess, **overrides: Any) -> dict[str, Any]:
    answer = stack.request("POST", "/events", event_body(**overrides), headers=ADMIN)
    assert answer.status == 201, answer.body
    return answer.body


def hold(stack: StackProcess, event_id: str, seat_ids: list[str]) -> Answer:
    return stack.request("POST", f"/events/{event_id}/checkouts", {"seat_ids": seat_ids})


def seat_status(stack: StackProcess, event_id: str) -> dict[str, str]:
    answer = stack.request("GET", f"/events/{event_id}/seats")
    assert answer.status == 200
    return {seat["seat_id"]: seat["status"] for seat in answer.body}


def wait_until(check: Any, timeout: float, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(interval)


def test_the_demo_event_is_seeded_on_first_start(stack):
    events = stack.request("GET", "/events").body
    demo = [e for e in events if e["name"] == "Demo Night"]
    assert len(demo) == 1
    assert demo[0]["seats_total"] >= 300
    detail = stack.request("GET", f"/events/{demo[0]['id']}").body
    assert len(detail["sections"]) == 3
    assert all(len(section["rows"]) == 10 for section in detail["sections"])


def test_the_page_is_served(stack):
    page = stack.request("GET", "/")
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert b"<title>Boxoffice" in page.raw
    script = stack.request("GET", "/app.js")
    assert script.status == 200
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert stack.request("GET", "/styles.css").headers["Content-Type"].startswith("text/css")
    if template.api_cors():
        preflight = stack.request("OPTIONS", "/events", headers={"Origin": "http://elsewhere"})
        assert preflight.status == 204
        assert (
            preflight.headers["Access-Control-Allow-Origin"]
            == template.api_cors()["Access-Control-Allow-Origin"]
        )


def test_creating_an_event_needs_the_admin_key(stack):
    body = event_body()
    missing = stack.request("POST", "/events", body)
    assert (missing.status, missing.body["error"]) == (401, "unauthorized")
    wrong = stack.request("POST", "/events", body, headers={"x-api-key": "not-the-key"})
    assert (wrong.status, wrong.body["error"]) == (403, "forbidden")
    created = stack.request("POST", "/events", body, headers=ADMIN)
    assert created.status == 201
    assert created.body["seats_total"] == 12
    assert stack.request("GET", f"/events/{created.body['id']}").status == 200


def test_one_seat_many_fans_exactly_one_winner(stack):
    event_id = create_event(stack)["id"]
    clients = 60
    barrier = threading.Barrier(clients)

    def attempt(_: int) -> Answer:
        barrier.wait()
        return hold(stack, event_id, ["A-7"])

    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(attempt, range(clients)))
    statuses = sorted(a.status for a in answers)
    print(f"\n{clients} clients: {statuses.count(201)} x 201, {statuses.count(409)} x 409")
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == clients - 1, statuses
    for answer in answers:
        if answer.status == 409:
            assert answer.body["error"] == "seats_unavailable"
            assert answer.body["seat_ids"] == ["A-7"]
    assert seat_status(stack, event_id)["A-7"] == "held"


def test_admission_follows_the_rate_in_fifo_order(stack):
    rate = 2.0
    event_id = create_event(stack, admission_per_second=rate)["id"]
    created = []
    for n in range(1, 7):
        answer = hold(stack, event_id, [f"A-{n}"])
        assert answer.status == 201, answer.body
        created.append(answer.body)
    assert [c["position"] for c in created] == sorted(c["position"] for c in created)

    def all_admitted() -> list[dict[str, Any]] | None:
        views = [
            stack.request("GET", f"/checkouts/{c['checkout_id']}", token=c["token"]).body
            for c in created
        ]
        return views if all(v["status"] == "admitted" for v in views) else None

    views = wait_until(all_admitted, timeout=30, interval=0.25)
    admitted = [datetime.fromisoformat(v["admitted_at"]) for v in views]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(admitted)]
    print(f"\nadmission at {rate}/s: gaps {[round(g, 3) for g in gaps]}")
    assert admitted == sorted(admitted), "admission is not FIFO"
    assert min(gaps) >= 1 / rate - 0.02, gaps

    # pay for the first: booked
    first = created[0]
    paid = stack.request(
        "POST", f"/checkouts/{first['checkout_id']}/complete", token=first["token"]
    )
    assert paid.status == 200, paid.body
    assert paid.body["status"] == "completed"
    again = stack.request(
        "POST", f"/checkouts/{first['checkout_id']}/complete", token=first["token"]
    )
    assert (again.status, again.body["status"]) == (200, "completed")
    # cancel the second: its seat is free again, and it can no longer be paid
    second = created[1]
    cancelled = stack.request(
        "DELETE", f"/checkouts/{second['checkout_id']}", token=second["token"]
    )
    assert cancelled.status in {200, 204}
    late = stack.request(
        "POST", f"/checkouts/{second['checkout_id']}/complete", token=second["token"]
    )
    assert (late.status, late.body["error"]) == (409, "checkout_expired")
    status = seat_status(stack, event_id)
    assert status["A-1"] == "booked"
    assert status["A-2"] == "available"
    assert status["A-3"] == "held"
    # the booked seat cannot be held, the cancelled one can
    assert hold(stack, event_id, ["A-1"]).status == 409
    assert hold(stack, event_id, ["A-2"]).status == 201


def test_paying_before_admission_is_refused(stack):
    event_id = create_event(stack, admission_per_second=0.05)["id"]
    ahead = hold(stack, event_id, ["A-1"]).body
    waiting = hold(stack, event_id, ["A-2"]).body
    assert waiting["status"] == "queued"
    answer = stack.request(
        "POST", f"/checkouts/{waiting['checkout_id']}/complete", token=waiting["token"]
    )
    assert (answer.status, answer.body["error"]) == (409, "not_admitted")
    assert ahead["checkout_id"] != waiting["checkout_id"]


def test_expired_holds_free_the_seat_and_ttl_releases_through_the_stream(stack):
    event_id = create_event(stack, hold_seconds=2, checkout_seconds=2)["id"]
    fan = hold(stack, event_id, ["A-1", "A-2"])
    assert fan.status == 201
    checkout = fan.body
    assert hold(stack, event_id, ["A-1"]).status == 409
    started = len(stack.lines)

    # the hold passes: the seat reads available and another fan can take it
    wait_until(lambda: seat_status(stack, event_id)["A-1"] == "available", timeout=10)
    other = hold(stack, event_id, ["A-1"])
    assert other.status == 201, other.body

    # TTL emulation deletes the session item...
    def session_gone() -> bool:
        answer = stack.request(
            "GET", f"/checkouts/{checkout['checkout_id']}", token=checkout["token"]
        )
        return answer.status == 404

    wait_until(session_gone, timeout=15)
    # ...and the stream function, fed the TTL REMOVE record, gives its seats back in Postgres
    url = stack.database_url
    assert url

    def released_in_postgres() -> bool:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT status, checkout_id FROM seats WHERE event_id = %s AND seat_id = 'A-2'",
                (event_id,),
            ).fetchone()
        return row == ("available", None)

    wait_until(released_in_postgres, timeout=15)
    stack.wait_for("ReleaseExpiredSessionsFunction ok", timeout=5, start=started)


def test_malformed_requests_are_4xx_never_5xx(stack):
    event_id = create_event(stack)["id"]
    checkout = hold(stack, event_id, ["A-1"]).body
    cid, token = checkout["checkout_id"], checkout["token"]
    unknown = str(uuid4())
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/events", {"raw": b"{not json", "headers": ADMIN}),
        ("POST", "/events", {"raw": b"", "headers": ADMIN}),
        ("POST", "/events", {"body": {"name": 5}, "headers": ADMIN}),
        ("POST", "/events", {"body": event_body(seats=[]), "headers": ADMIN}),
        ("POST", "/events", {"body": event_body(hold_seconds="10"), "headers": ADMIN}),
        ("POST", "/events", {"body": [1, 2], "headers": ADMIN}),
        ("GET", "/events/not-a-uuid", {}),
        ("GET", f"/events/{unknown}", {}),
        ("GET", f"/events/{unknown}/seats", {}),
        ("POST", f"/events/{unknown}/checkouts", {"body": {"seat_ids": ["A-1"]}}),
        ("POST", f"/events/{event_id}/checkouts", {"raw": b"{"}),
        ("POST", f"/events/{event_id}/checkouts", {"raw": b"null"}),
        ("POST", f"/events/{event_id}/checkouts", {"body": {"seat_ids": "A-2"}}),
        ("POST", f"/events/{event_id}/checkouts", {"body": {"seat_ids": [2]}}),
        ("POST", f"/events/{event_id}/checkouts", {"body": {"seat_ids": []}}),
        ("POST", f"/events/{event_id}/checkouts", {"body": {"seat_ids": ["Z-99"]}}),
        ("POST", f"/events/{event_id}/checkouts", {"body": {"seat_ids": ["A-2", "A-2"]}}),
        ("POST", f"/events/{event_id}/checkouts", {"raw": b"x" * (1024 * 1024 + 1)}),
        ("GET", f"/checkouts/{cid}", {}),
        ("GET", f"/checkouts/{cid}", {"token": "wrong"}),
        ("GET", f"/checkouts/{cid}", {"headers": {"Authorization": "Basic abc"}}),
        ("GET", f"/checkouts/{unknown}", {"token": token}),
        ("GET", "/checkouts/not-a-uuid", {"token": token}),
        ("DELETE", f"/checkouts/{cid}", {}),
        ("DELETE", f"/checkouts/{cid}", {"token": "wrong"}),
        ("POST", f"/checkouts/{cid}/complete", {}),
        ("POST", f"/checkouts/{cid}/complete", {"token": "wrong"}),
        ("POST", f"/checkouts/{unknown}/complete", {"token": token}),
        ("GET", "/no/such/route", {}),
        ("PUT", "/events", {"body": {}}),
        ("PATCH", f"/checkouts/{cid}", {"body": {}}),
    ]
    for method, path, kwargs in cases:
        body = kwargs.pop("body", None)
        answer = stack.request(method, path, body, **kwargs)
        assert 400 <= answer.status < 500, (method, path, answer.status, answer.raw[:300])
        assert isinstance(answer.body, dict), (method, path, answer.raw[:300])
        assert answer.body.get("error"), (method, path, answer.body)
        assert answer.body.get("message"), (method, path, answer.body)
    # the real fan still holds their seat
    assert stack.request("GET", f"/checkouts/{cid}", token=token).status == 200


def test_non_utf8_bodies_are_4xx(stack):
    event_id = create_event(stack)["id"]
    cases = [
        ("/events", b"\xff\xfe\x00garbage", ADMIN),
        (f"/events/{event_id}/checkouts", b"\xc3\x28", {}),
    ]
    statuses = [stack.request("POST", path, raw=raw, headers=h).status for path, raw, h in cases]
    assert all(400 <= status < 500 for status in statuses), statuses


# ====================================================== first start from an empty folder
def test_first_start_from_an_empty_data_dir_creates_the_cluster_and_the_demo():
    folder = Path(tempfile.mkdtemp(prefix="boxoffice-stack-"))
    os.chmod(folder, 0o755)  # noqa: S103 - the postgres user must reach its data dir
    env = stack_env(
        BOXOFFICE_DATA_DIR=str(folder / "data"), PGPORT_LOCAL=str(free_port()), LAMBDA_PREWARM="0"
    )
    try:
        first = StackProcess(env)
        try:
            first.start(timeout=120)
            assert "Creating the Postgres cluster" in first.output
            events = first.request("GET", "/events").body
            assert [e["name"] for e in events] == ["Demo Night"]
        finally:
            assert first.stop() == 0, first.output
        assert not (folder / "data" / "pgdata" / "postmaster.pid").exists()
        # the data survives a restart, and the demo is not seeded twice
        again = StackProcess(
            stack_env(
                **{k: env[k] for k in ("BOXOFFICE_DATA_DIR", "PGPORT_LOCAL", "LAMBDA_PREWARM")}
            )
        )
        try:
            again.start(timeout=60)
            assert "Creating the Postgres cluster" not in again.output
            assert [e["id"] for e in again.request("GET", "/events").body] == [
                e["id"] for e in events
            ]
        finally:
            assert again.stop() == 0, again.output
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ============================================================ event sources, against moto
class FakeInvoker:
    """Answers with `respond(event)` and remembers every event."""

    def __init__(self, respond: Any = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.respond = respond or (lambda event: None)
        self.called = threading.Event()

    def invoke(
        self, function: Function, event: dict[str, Any], *, timeout: float | None = None
    ) -> Invocation:
        self.events.append(event)
        self.called.set()
        try:
            result = self.respond(event)
        except Exception as error:
            return Invocation(
                function.logical_id,
                "r",
                ok=False,
                error_type=type(error).__name__,
                error_message=str(error),
            )
        return Invocation(function.logical_id, "r", ok=True, result=result)


@pytest.fixture(scope="module")
def moto_aws() -> Iterator[LocalAws]:
    server, endpoint = start_moto("127.0.0.1", 0)
    try:
        yield create_resources(endpoint)
    finally:
        server.stop()


def _source(kind: str) -> tuple[Function, dict[str, Any]]:
    [(function, props)] = template.events_of_type(kind)
    return function, props


def test_sqs_records_have_lambdas_shape_and_partial_failures_stay(moto_aws):
    function, props = _source("SQS")
    queue = moto_aws.queues["AdmissionQueue"]
    sqs = moto_aws.client("sqs")
    for n in range(3):
        sqs.send_message(
            QueueUrl=queue.url,
            MessageBody=json.dumps({"n": n}),
            MessageGroupId="event-1",
            MessageDeduplicationId=f"m-{uuid4()}",
        )
    stop = threading.Event()

    def fail_the_second(event: dict[str, Any]) -> dict[str, Any]:
        second = event["Records"][1]["messageId"]
        return {"batchItemFailures": [{"itemIdentifier": second}]}

    invoker = FakeInvoker(fail_the_second)
    poller = SqsPoller(function, props, moto_aws, invoker, stop)
    received = sqs.receive_message(
        QueueUrl=queue.url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    )["Messages"]
    from local.sources import sqs_record

    records = [sqs_record(m, queue.arn) for m in received]
    poller.deliver(sqs, records)
    record = invoker.events[0]["Records"][0]
    assert set(record) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue.arn
    assert record["attributes"]["MessageGroupId"] == "event-1"
    for name in ("ApproximateReceiveCount", "SentTimestamp", "SequenceNumber", "SenderId"):
        assert name in record["attributes"]
    # only the reported failure is left (in flight until its visibility timeout)
    attributes = sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert attributes["ApproximateNumberOfMessages"] == "0"
    sqs.purge_queue(QueueUrl=queue.url)


def test_ttl_deletes_reach_the_stream_function_and_user_deletes_do_not(moto_aws):
    function, props = _source("DynamoDB")
    table = moto_aws.tables["SessionsTable"]
    dynamodb = moto_aws.client("dynamodb")
    stop = threading.Event()
    deletes = TtlDeletes()
    invoker = FakeInvoker()
    poller = StreamPoller(function, props, moto_aws, invoker, deletes, stop, poll_seconds=0.05)
    sweeper = TtlSweeper(table.name, "expires_at", ["checkout_id"], moto_aws, deletes, stop)
    poller.start()
    try:
        assert poller.wait_ready()
        past, future = int(time.time()) - 5, int(time.time()) + 600
        for key, expires in (("expired", past), ("live", future), ("user-deleted", future)):
            dynamodb.put_item(
                TableName=table.name,
                Item={"checkout_id": {"S": key}, "expires_at": {"N": str(expires)}},
            )
        dynamodb.delete_item(TableName=table.name, Key={"checkout_id": {"S": "user-deleted"}})
        assert sweeper.sweep(dynamodb) == 1
        assert invoker.called.wait(5)
        time.sleep(0.3)
    finally:
        stop.set()
        poller.join(5)
    records = [r for event in invoker.events for r in event["Records"]]
    assert len(records) == 1, records
    [record] = records
    assert record["eventName"] == "REMOVE"
    assert record["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert record["dynamodb"]["Keys"] == {"checkout_id": {"S": "expired"}}
    assert record["dynamodb"]["OldImage"]["expires_at"] == {"N": str(past)}
    assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)
    assert record["eventSource"] == "aws:dynamodb"
    assert record["eventVersion"] == "1.1"
    assert record["eventSourceARN"] == table.stream_arn
    remaining = dynamodb.scan(TableName=table.name)["Items"]
    assert sorted(i["checkout_id"]["S"] for i in remaining) == ["live"]


def test_stream_batches_retry_from_the_first_failure_then_give_up(moto_aws):
    function, props = _source("DynamoDB")
    prefix = f"r{uuid4().hex[:6]}-"
    props = {
        **props,
        # every INSERT of this test, from the start of the stream
        "FilterCriteria": {
            "Filters": [
                {
                    "Pattern": json.dumps(
                        {
                            "eventName": ["INSERT"],
                            "dynamodb": {"Keys": {"checkout_id": {"S": [{"prefix": prefix}]}}},
                        }
                    )
                }
            ]
        },
        "StartingPosition": "TRIM_HORIZON",
        "MaximumRetryAttempts": 1,
    }
    table = moto_aws.tables["SessionsTable"]
    dynamodb = moto_aws.client("dynamodb")
    for n in (1, 2, 3):
        dynamodb.put_item(TableName=table.name, Item={"checkout_id": {"S": f"{prefix}{n}"}})
    stop = threading.Event()
    seen: list[list[str]] = []

    def fail_the_second(event: dict[str, Any]) -> dict[str, Any]:
        keys = [r["dynamodb"]["Keys"]["checkout_id"]["S"] for r in event["Records"]]
        seen.append([k.removeprefix(prefix) for k in keys])
        failed = [
            r["dynamodb"]["SequenceNumber"]
            for r in event["Records"]
            if r["dynamodb"]["Keys"]["checkout_id"]["S"] == f"{prefix}2"
        ]
        return {"batchItemFailures": [{"itemIdentifier": s} for s in failed]}

    invoker = FakeInvoker(fail_the_second)
    poller = StreamPoller(function, props, moto_aws, invoker, TtlDeletes(), stop, poll_seconds=0.05)
    poller.start()
    try:
        wait_until(lambda: len(seen) >= 2, timeout=10, interval=0.05)
        dynamodb.put_item(TableName=table.name, Item={"checkout_id": {"S": f"{prefix}4"}})
        wait_until(lambda: len(seen) >= 3, timeout=10, interval=0.05)
    finally:
        stop.set()
        poller.join(5)
    # retried from the first failure; after the retries the batch is dropped; then onwards
    assert seen == [["1", "2", "3"], ["2", "3"], ["4"]]
    failures = moto_aws.queues["StreamFailureQueue"]
    [info] = moto_aws.client("sqs").receive_message(QueueUrl=failures.url)["Messages"]
    batch = json.loads(info["Body"])
    assert batch["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert batch["DDBStreamBatchInfo"]["batchSize"] == 2


def test_filter_patterns_match_like_event_filtering():
    [pattern] = [
        json.loads(f["Pattern"]) for f in _source("DynamoDB")[1]["FilterCriteria"]["Filters"]
    ]
    ttl = {
        "eventName": "REMOVE",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
    }
    assert matches(pattern, ttl)
    assert not matches(pattern, {"eventName": "REMOVE"})
    assert not matches(pattern, {**ttl, "eventName": "MODIFY"})
    assert not matches(pattern, {**ttl, "userIdentity": {"type": "User", "principalId": "x"}})
    assert matches({"a": [{"prefix": "ab"}]}, {"a": "abc"})
    assert matches({"a": [{"exists": False}]}, {})
    assert matches({"a": [{"anything-but": ["x"]}]}, {"a": "y"})
    assert matches({"a": ["x"]}, {"a": ["w", "x"]})


def test_schedules_fire_the_eventbridge_scheduled_event():
    assert parse_rate("rate(1 minute)") == 60
    assert parse_rate("rate(5 minutes)") == 300
    assert parse_rate("rate(2 hours)") == 7200
    assert parse_rate("cron(0 12 * * ? *)") is None
    [(function, props)] = template.events_of_type("Schedule")
    [name] = [n for n, e in function.events.items() if e.get("Type") == "Schedule"]
    stop = threading.Event()
    invoker = FakeInvoker(lambda event: {"ok": True})
    schedule = Schedule(function, name, props, invoker, stop, speedup=600)  # 60 s -> 0.1 s
    schedule.start()
    try:
        wait_until(lambda: len(invoker.events) >= 2, timeout=5, interval=0.05)
    finally:
        stop.set()
        schedule.join(2)
    event = invoker.events[0]
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["detail"] == {}
    assert event["resources"][0].startswith("arn:aws:events:us-east-1:")
    assert event["time"].endswith("Z")
