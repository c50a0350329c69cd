"""The stack's own moto process keeps SQS's semantics where it computes less than moto
does (queue attributes while sending: local/moto_server.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local.aws import start_moto


@pytest.fixture(scope="module")
def sqs() -> Iterator[Any]:
    server, endpoint = start_moto("127.0.0.1", 0)
    try:
        yield boto3.client(
            "sqs",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
    finally:
        server.stop()


def _queue(sqs: Any, name: str, **attributes: str) -> str:
    url: str = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true", **attributes})[
        "QueueUrl"
    ]
    return url


def test_content_based_deduplication_still_drops_a_repeat(sqs: Any) -> None:
    url = _queue(sqs, "cbd.fifo", ContentBasedDeduplication="true")
    for _ in range(3):
        sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="other", MessageGroupId="g")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "2"
    assert attributes["ContentBasedDeduplication"] == "true"


def test_without_it_a_fifo_send_needs_a_deduplication_id(sqs: Any) -> None:
    url = _queue(sqs, "plain.fifo")
    with pytest.raises(ClientError) as refused:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    assert "MessageDeduplicationId" in str(refused.value)
    for n in range(5):
        sqs.send_message(
            QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId=f"d{n % 3}"
        )
    entries = [
        {"Id": str(n), "MessageBody": "y", "MessageGroupId": "g", "MessageDeduplicationId": f"b{n}"}
        for n in range(4)
    ]
    assert len(sqs.send_message_batch(QueueUrl=url, Entries=entries)["Successful"]) == 4
    counts = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "FifoQueue"]
    )["Attributes"]
    assert counts == {"ApproximateNumberOfMessages": "7", "FifoQueue": "true"}
