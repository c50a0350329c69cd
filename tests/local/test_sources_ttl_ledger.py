"""The local TTL process deletes what the table's stream shows is due, without scanning
the table (local/sources/ttl.py), and its deletes still reach the stream function as the
DynamoDB service's own."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from local import template
from local.aws import LocalAws
from local.sources import StreamPoller, TtlDeletes, TtlSweeper
from tests.local.support import FakeInvoker, wait_until


def test_due_items_are_deleted_from_what_the_stream_showed_without_a_scan(
    moto_aws: LocalAws,
) -> None:
    aws = moto_aws
    [(function, props)] = template.events_of_type("DynamoDB")
    table = aws.tables["SessionsTable"]
    dynamodb = aws.client("dynamodb")
    stop = threading.Event()
    deletes = TtlDeletes()
    recorder = FakeInvoker()
    poller = StreamPoller(function, props, aws, recorder, deletes, stop, poll_seconds=0.02)
    sweeper = TtlSweeper(table.name, "expires_at", ["checkout_id"], aws, deletes, stop)
    calls: list[str] = []
    sweeper_client = aws.client("dynamodb")
    sweeper_client.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: calls.append(model.name)
    )
    poller.start()
    try:
        assert poller.wait_ready()
        assert deletes.fed(table.name)
        past, future = int(time.time()) - 5, int(time.time()) + 600

        def put(key: str, expires: int) -> None:
            dynamodb.put_item(
                TableName=table.name,
                Item={"checkout_id": {"S": key}, "expires_at": {"N": str(expires)}},
            )

        put("expired", past)
        put("live", future)
        put("extended", past)
        dynamodb.update_item(  # its TTL moved into the future before the sweep
            TableName=table.name,
            Key={"checkout_id": {"S": "extended"}},
            UpdateExpression="SET expires_at = :t",
            ExpressionAttributeValues={":t": {"N": str(future)}},
        )
        put("gone", past)
        dynamodb.delete_item(TableName=table.name, Key={"checkout_id": {"S": "gone"}})
        # the poller has seen every change, the update and the user's delete included
        expected = {"expired": past, "live": future, "extended": future}
        wait_until(lambda: _known(deletes, table.name) == expected, timeout=10, interval=0.02)
        assert sweeper.sweep_due(sweeper_client) == 1
        assert sweeper.sweep_due(sweeper_client) == 0  # each due item is deleted once
        wait_until(recorder.called.is_set, timeout=10, interval=0.02)
    finally:
        stop.set()
        poller.join(5)
    assert "Scan" not in calls
    assert calls == ["DeleteItem"]
    # the function's filter lets only TTL's own deletes through, not the user's
    [record] = [r for event in recorder.events for r in event["Records"]]
    assert (_key(record), record["eventName"]) == ("expired", "REMOVE")
    assert record["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    remaining = dynamodb.scan(TableName=table.name)["Items"]
    assert sorted(i["checkout_id"]["S"] for i in remaining) == ["extended", "live"]


def _key(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["Keys"]["checkout_id"]["S"])


def _known(deletes: TtlDeletes, table: str) -> dict[str, int]:
    """The TTL the ledger knows for each item (a test-only peek)."""
    known = dict(deletes._ttl[table])
    return {json.loads(key)[1]["checkout_id"]["S"]: ttl for key, ttl in known.items()}
