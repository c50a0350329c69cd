"""The DynamoDB stream event source against moto: a batch with a failure is retried from it,
then given up and reported to the on-failure destination."""

from __future__ import annotations

import base64
import json
import threading
from typing import Any
from uuid import uuid4

from local.sources import StreamPoller, TtlDeletes
from tests.local.support import FakeInvoker, event_source, wait_until


def _from_the_start(pattern: dict[str, Any], **more: Any) -> tuple[Any, dict[str, Any]]:
    """The template's stream mapping, reading from the start of the stream, for the
    records `pattern` matches (one test's own, whatever else is in the stream)."""
    function, props = event_source("DynamoDB")
    filters = {"Filters": [{"Pattern": json.dumps(pattern)}]}
    return function, {
        **props,
        "FilterCriteria": filters,
        "StartingPosition": "TRIM_HORIZON",
        **more,
    }


def test_stream_batches_retry_from_the_first_failure_then_give_up(moto_aws):
    prefix = f"r{uuid4().hex[:6]}-"
    # every INSERT of this test
    function, props = _from_the_start(
        {
            "eventName": ["INSERT"],
            "dynamodb": {"Keys": {"checkout_id": {"S": [{"prefix": prefix}]}}},
        },
        MaximumRetryAttempts=1,
    )
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


def test_the_event_carries_the_records_in_dynamodb_streams_wire_form(moto_aws):
    key = f"w{uuid4().hex[:6]}"
    function, props = _from_the_start({"dynamodb": {"Keys": {"checkout_id": {"S": [key]}}}})
    image = {
        "checkout_id": {"S": key},
        "blob": {"B": b"\x00\xffraw"},
        "n": {"N": "12.5"},
        "seats": {"L": [{"M": {"seat_id": {"S": "A-1"}}}]},
    }
    table = moto_aws.tables["SessionsTable"]
    dynamodb = moto_aws.client("dynamodb")
    dynamodb.put_item(TableName=table.name, Item=image)
    dynamodb.delete_item(TableName=table.name, Key={"checkout_id": {"S": key}})
    stop = threading.Event()
    records: list[dict[str, Any]] = []

    def keep(event: dict[str, Any]) -> dict[str, Any]:
        records.extend(event["Records"])
        return {"batchItemFailures": []}

    poller = StreamPoller(
        function, props, moto_aws, FakeInvoker(keep), TtlDeletes(), stop, poll_seconds=0.05
    )
    poller.start()
    try:
        wait_until(lambda: len(records) >= 2, timeout=10, interval=0.05)
    finally:
        stop.set()
        poller.join(5)
    inserted, removed = records
    wire = {**image, "blob": {"B": base64.b64encode(b"\x00\xffraw").decode()}}
    assert (inserted["eventName"], removed["eventName"]) == ("INSERT", "REMOVE")
    assert inserted["dynamodb"]["NewImage"] == wire
    assert removed["dynamodb"]["OldImage"] == wire
    assert removed["dynamodb"]["Keys"] == {"checkout_id": {"S": key}}
    for record in records:
        assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)
        assert isinstance(record["dynamodb"]["SequenceNumber"], str)
        assert record["eventSourceARN"] == table.stream_arn
    json.dumps(records)  # what the function receives is JSON
