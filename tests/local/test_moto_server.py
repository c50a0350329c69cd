"""The stack's own moto process (local/moto_server.py) keeps AWS's answers where it
computes less than moto does: queue attributes while sending, and stream records; and
like DynamoDB, it applies each conditional write whole, as the tests' in-process moto does."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local.aws import client, in_process_moto, start_moto
from local.template import ROOT


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server, url = start_moto("127.0.0.1", 0)
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def sqs(endpoint: str) -> Any:
    return client("sqs", endpoint)


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
    # received in order, in batches of at most 10, each once
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30)
    bodies = [m["Body"] for m in received["Messages"]]
    assert bodies == ["x"] * 3 + ["y"] * 4
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    after = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert after["ApproximateNumberOfMessagesNotVisible"] == "7"


ITEM = {
    "k": {"S": "one"},
    "n": {"N": "12.5"},
    "flag": {"BOOL": True},
    "nothing": {"NULL": True},
    "blob": {"B": b"\x00\x01bytes"},
    "tags": {"SS": ["a", "b"]},
    "seats": {"L": [{"M": {"seat_id": {"S": "A-1"}, "price": {"N": "100"}}}]},
}


def _stream_records(endpoint: str | None) -> list[dict[str, Any]]:
    """Put, update and delete one item; return its stream records as boto3 reads them."""
    dynamodb, streams = client("dynamodb", endpoint), client("dynamodbstreams", endpoint)
    table = dynamodb.create_table(
        TableName="records",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    arn = table["LatestStreamArn"]
    [shard] = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    dynamodb.put_item(TableName="records", Item=ITEM)
    dynamodb.update_item(
        TableName="records",
        Key={"k": {"S": "one"}},
        UpdateExpression="SET n = :n",
        ExpressionAttributeValues={":n": {"N": "13"}},
    )
    dynamodb.delete_item(TableName="records", Key={"k": {"S": "one"}})
    answer = streams.get_records(ShardIterator=iterator, Limit=1000)
    assert answer["NextShardIterator"]
    records: list[dict[str, Any]] = answer["Records"]
    return records


def test_stream_records_read_back_in_dynamodb_streams_wire_form(endpoint: str) -> None:
    inserted, modified, removed = _stream_records(endpoint)
    changed = {**ITEM, "n": {"N": "13"}}
    expected = [
        ("INSERT", {"NewImage": ITEM}),
        ("MODIFY", {"OldImage": ITEM, "NewImage": changed}),
        ("REMOVE", {"OldImage": changed}),
    ]
    sequence = []
    for record, (name, images) in zip((inserted, modified, removed), expected, strict=True):
        data = record["dynamodb"]
        assert record["eventName"] == name
        assert (record["eventSource"], record["awsRegion"]) == ("aws:dynamodb", "us-east-1")
        assert data["Keys"] == {"k": {"S": "one"}}
        assert data["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert isinstance(data["ApproximateCreationDateTime"], datetime)
        assert data["SizeBytes"] > 0
        assert {k: v for k, v in data.items() if k.endswith("Image")} == images
        sequence.append(int(data["SequenceNumber"]))
    assert sequence == sorted(sequence)


def _item_answers(endpoint: str | None) -> list[Any]:
    """Every item call the stack makes, and some it does not, as boto3 reads them."""
    dynamodb = client("dynamodb", endpoint)
    dynamodb.create_table(
        TableName="items",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    other = {**ITEM, "k": {"S": "two"}}
    key, missing = {"k": {"S": "one"}}, {"k": {"S": "none"}}
    answers: list[Any] = [
        dynamodb.put_item(TableName="items", Item=ITEM),
        dynamodb.put_item(TableName="items", Item=other, ReturnValues="ALL_OLD"),
        dynamodb.put_item(TableName="items", Item=other, ReturnValues="ALL_OLD"),
        dynamodb.get_item(TableName="items", Key=key, ConsistentRead=True),
        dynamodb.get_item(TableName="items", Key=missing),
        dynamodb.get_item(
            TableName="items",
            Key=key,
            ProjectionExpression="#b, seats",
            ExpressionAttributeNames={"#b": "blob"},
        ),
        dynamodb.update_item(
            TableName="items",
            Key=key,
            UpdateExpression="SET n = :n REMOVE nothing",
            ConditionExpression="attribute_exists(k) AND flag = :yes",
            ExpressionAttributeValues={":n": {"N": "13"}, ":yes": {"BOOL": True}},
            ReturnValues="ALL_NEW",
        ),
        dynamodb.update_item(
            TableName="items",
            Key=key,
            UpdateExpression="SET n = :n",
            ExpressionAttributeValues={":n": {"N": "14"}},
        ),
        dynamodb.update_item(  # the same expression again, another value
            TableName="items",
            Key=key,
            UpdateExpression="SET n = :n",
            ExpressionAttributeValues={":n": {"N": "15"}},
            ReturnValues="UPDATED_OLD",
        ),
        dynamodb.batch_get_item(
            RequestItems={"items": {"Keys": [key, missing, {"k": {"S": "two"}}]}}
        ),
        dynamodb.query(
            TableName="items",
            KeyConditionExpression="k = :k",
            ExpressionAttributeValues={":k": {"S": "one"}},
        ),
        dynamodb.scan(TableName="items", Limit=1),
        dynamodb.delete_item(TableName="items", Key={"k": {"S": "two"}}, ReturnValues="ALL_OLD"),
        dynamodb.delete_item(TableName="items", Key=missing),
    ]
    with pytest.raises(ClientError) as refused:
        dynamodb.put_item(
            TableName="items", Item=ITEM, ConditionExpression="attribute_not_exists(k)"
        )
    answers.append(refused.value.response["Error"])
    with pytest.raises(ClientError) as refused:  # a condition seen before, another value
        dynamodb.update_item(
            TableName="items",
            Key=key,
            UpdateExpression="SET n = :n",
            ConditionExpression="attribute_exists(k) AND flag = :yes",
            ExpressionAttributeValues={":n": {"N": "16"}, ":yes": {"BOOL": False}},
        )
    answers.append(refused.value.response["Error"])
    answers.append(dynamodb.get_item(TableName="items", Key=key)["Item"]["n"])
    for answer in answers:
        answer.pop("ResponseMetadata", None)
        for scanned in ("Items", "Responses"):  # unordered, as DynamoDB gives them
            if isinstance(answer.get(scanned), list):
                answer[scanned].sort(key=str)
        for items in answer.get("Responses", {}).values():
            items.sort(key=str)
    return answers


def test_item_answers_read_back_as_moto_gives_them_in_process(endpoint: str) -> None:
    with mock_aws():
        expected = _item_answers(None)
    answers = _item_answers(endpoint)
    assert answers == expected
    assert answers[3]["Item"] == ITEM  # and that is DynamoDB's wire form
    assert "Item" not in answers[4]
    assert answers[6]["Attributes"]["n"] == {"N": "13"}
    assert "nothing" not in answers[6]["Attributes"]
    assert answers[8]["Attributes"] == {"n": {"N": "14"}}
    assert answers[-3]["Code"] == answers[-2]["Code"] == "ConditionalCheckFailedException"
    assert answers[-1] == {"N": "15"}


CLAIMING_CLIENTS = 8
CLAIMED_ITEMS = 40
# Threads switch every 10 us instead of 5 ms, so that moto's steps interleave as they
# would, rarely, over a long on-sale: 3 items in 1,500 had two winners at the default.
OFTEN = 1e-5


def _claims(endpoint: str | None) -> Counter[int]:
    """For each of CLAIMED_ITEMS new items, CLAIMING_CLIENTS clients at once each claim it
    with a conditional write (`attribute_not_exists`): how many items had how many
    winners. DynamoDB gives every item exactly one."""
    clients = [client("dynamodb", endpoint) for _ in range(CLAIMING_CLIENTS)]
    clients[0].create_table(
        TableName="claims",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    winners: Counter[int] = Counter()
    with ThreadPoolExecutor(CLAIMING_CLIENTS) as pool:
        for item in range(CLAIMED_ITEMS):
            clients[0].put_item(TableName="claims", Item={"k": {"S": str(item)}})
            start = threading.Barrier(CLAIMING_CLIENTS)

            def claim(n: int, item: int = item, start: threading.Barrier = start) -> bool:
                start.wait()
                try:
                    clients[n].update_item(
                        TableName="claims",
                        Key={"k": {"S": str(item)}},
                        UpdateExpression="SET claimed_by = :me",
                        ConditionExpression="attribute_not_exists(claimed_by)",
                        ExpressionAttributeValues={":me": {"N": str(n)}},
                    )
                except clients[n].exceptions.ConditionalCheckFailedException:
                    return False
                return True

            winners[sum(pool.map(claim, range(CLAIMING_CLIENTS)))] += 1
    return winners


def test_concurrent_conditional_writes_to_one_item_have_one_winner() -> None:
    """The stack's moto process, its threads switching often: each item one winner."""
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import sys; sys.setswitchinterval({OFTEN}); from local.moto_server import main;"
            " sys.exit(main(sys.argv[1:]))",
            "127.0.0.1",
            "0",
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        ready = server.stdout.readline()
        assert ready.startswith("ready "), ready
        assert _claims(f"http://127.0.0.1:{ready.split()[1]}") == {1: CLAIMED_ITEMS}
    finally:
        server.kill()
        server.wait()
        for stream in (server.stdin, server.stdout):
            if stream is not None:
                stream.close()


def test_the_in_process_mock_of_the_tests_gives_one_winner_too() -> None:
    """The tests' in-process moto (the `aws` fixture), its threads switching often."""
    usual = sys.getswitchinterval()
    sys.setswitchinterval(OFTEN)
    try:
        with in_process_moto():
            assert _claims(None) == {1: CLAIMED_ITEMS}
    finally:
        sys.setswitchinterval(usual)
