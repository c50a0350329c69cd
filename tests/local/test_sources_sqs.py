"""The SQS event source against moto: records in Lambda's shape, and a partial batch
response leaves only the reported failures on the queue."""

from __future__ import annotations

import json
import threading
from typing import Any
from uuid import uuid4

from local.sources import SqsPoller, sqs_record
from tests.local.support import FakeInvoker, event_source


def test_sqs_records_have_lambdas_shape_and_partial_failures_stay(moto_aws):
    function, props = event_source("SQS")
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
