"""TTL emulation against moto: the sweeper's deletes of expired items reach the stream
function as the service's REMOVE records; a user's delete does not."""

from __future__ import annotations

import threading
import time

from local.sources import StreamPoller, TtlDeletes, TtlSweeper
from tests.local.support import FakeInvoker, event_source


def test_ttl_deletes_reach_the_stream_function_and_user_deletes_do_not(moto_aws):
    function, props = event_source("DynamoDB")
    table = moto_aws.tables["SessionsTable"]
    dynamodb = moto_aws.client("dynamodb")
    stop = threading.Event()
    deletes = TtlDeletes()
    invoker = FakeInvoker(lambda event: None)
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
