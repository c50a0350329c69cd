"""Event sources of template.yaml, run locally the way the Lambda service runs them.

- SQS: an event source mapping (batches, partial batch responses, up to
  MaximumConcurrency invocations at once, FIFO message groups one batch at a time).
- DynamoDB streams: a shard poller with FilterCriteria, batches, partial batch responses,
  retries, bisection and the on-failure destination.
- TTL: moto never expires items, so a sweeper deletes items past their TTL attribute and
  marks the REMOVE stream records it causes as the DynamoDB service's own, as AWS does.
- Schedules: `rate(...)` rules fire the EventBridge "Scheduled Event".
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from local import log
from local.aws import LocalAws
from local.config import ACCOUNT_ID, REGION, STACK_NAME
from local.lambdas import Invocation, Invoker
from local.template import Function

# The system attributes Lambda puts in an SQS record, in AWS's order.
SQS_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "AWSTraceHeader",
    "SentTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "SenderId",
    "MessageDeduplicationId",
    "ApproximateFirstReceiveTimestamp",
    "DeadLetterQueueSourceArn",
)

TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


class EventSource:
    """A background activity with threads that stop when `stop` is set."""

    name = "source"

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.threads: list[threading.Thread] = []

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=self._guard(target), name=name, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _guard(self, target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            while not self.stop.is_set():
                try:
                    target()
                    return
                except Exception as error:  # keep the source alive, as the Lambda service does
                    if self.stop.is_set():
                        return
                    log.say(f"{self.name}: {type(error).__name__}: {error} (retrying)")
                    self.stop.wait(1.0)

        return run

    def start(self) -> None:
        raise NotImplementedError

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class MappedSource(EventSource):
    """An event source mapping (SQS queue or DynamoDB stream) feeding one function."""

    def __init__(
        self,
        function: Function,
        props: dict[str, Any],
        aws: LocalAws,
        invoker: Invoker,
        stop: threading.Event,
        poll_seconds: float,
    ) -> None:
        super().__init__(stop)
        self.function = function
        self.invoker = invoker
        self.aws = aws
        self.poll_seconds = poll_seconds
        self.partial = "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or [])
        self.enabled = props.get("Enabled", True) is not False

    @staticmethod
    def target(value: Any) -> str:
        """The logical id (or ARN, or URL) a mapping's Queue / Stream property points at."""
        return str(value["Fn::GetAtt"][0]) if isinstance(value, dict) else str(value)


def _batch_failures(records: list[str], result: Any) -> set[str] | None:
    """Identifiers a partial batch response reports as failed; None if the response is
    invalid (then the Lambda service treats the whole batch as failed)."""
    if result is None or result == {}:
        return set()
    if not isinstance(result, dict):
        return set()  # not a partial batch response: success for the whole batch
    items = result.get("batchItemFailures")
    if items is None:
        return set()
    if not isinstance(items, list):
        return None
    failed: set[str] = set()
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in records:
            return None
        failed.add(identifier)
    return failed


def _invocation_detail(invocation: Invocation, detail: str) -> str:
    return f"{detail} ({invocation.error})" if invocation.error else detail


# ---------------------------------------------------------------------------------- SQS
def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """A message from ReceiveMessage as the record Lambda's SQS event carries."""
    attributes = message.get("Attributes", {})
    record_attributes = {name: attributes[name] for name in SQS_ATTRIBUTES if name in attributes}
    message_attributes = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        converted: dict[str, Any] = {
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType", "String"),
        }
        if "StringValue" in value:
            converted["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            raw = value["BinaryValue"]
            converted["binaryValue"] = (
                base64.b64encode(raw).decode() if isinstance(raw, bytes) else raw
            )
        message_attributes[name] = converted
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": record_attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody", ""),
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update(eventSource="aws:sqs", eventSourceARN=queue_arn, awsRegion=REGION)
    return record


class SqsPoller(MappedSource):
    """An SQS event source mapping: batches of up to BatchSize, at most MaximumConcurrency
    invocations at once, partial batch responses honoured.

    One thread receives, the invocations run on their own threads. Receives are never
    concurrent and never long polls, because moto's FIFO group lock is only right for a
    receive that starts after the previous one returned: a long poll (or a concurrent
    receive) keeps the in-flight groups it saw at its start, and would hand out the next
    message of a group whose batch is still being processed. A long poll on a FIFO queue
    whose visible messages are all group-locked also spins in moto. So the receiver
    short-polls, a few times a second, and on top of that refuses to start a batch for a
    message group that already has one in flight.
    """

    def __init__(
        self,
        function: Function,
        props: dict[str, Any],
        aws: LocalAws,
        invoker: Invoker,
        stop: threading.Event,
        poll_seconds: float = 0.25,
    ) -> None:
        super().__init__(function, props, aws, invoker, stop, poll_seconds)
        logical_id = self.target(props["Queue"])
        self.queue = next(
            q for q in aws.queues.values() if logical_id in {q.logical_id, q.arn, q.url}
        )
        self.batch_size = max(1, min(int(props.get("BatchSize", 10)), 10))
        scaling = props.get("ScalingConfig") or {}
        self.concurrency = max(2, int(scaling.get("MaximumConcurrency", 5)))
        self.name = f"{function.logical_id} <- {self.queue.name}"
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._groups_lock = threading.Condition()
        self._groups_in_flight: Counter[str] = Counter()
        # Set when a batch ends: its group's next messages are receivable at once, so the
        # receiver looks again now instead of after its poll interval (as Lambda's poller,
        # which long-polls, would see them at once). Keeps a busy event's queue drained.
        self._batch_done = threading.Event()

    def start(self) -> None:
        if self.enabled:
            self._spawn(self._receive_loop, f"sqs-{self.function.logical_id}")

    def _receive_loop(self) -> None:
        sqs = self.aws.client("sqs")
        while not self.stop.is_set():
            if not self._slots.acquire(timeout=0.5):
                continue  # every allowed invocation is running
            try:
                messages = (
                    sqs.receive_message(
                        QueueUrl=self.queue.url,
                        MaxNumberOfMessages=self.batch_size,
                        WaitTimeSeconds=0,
                        MessageSystemAttributeNames=["All"],
                        MessageAttributeNames=["All"],
                    ).get("Messages")
                    or []
                )
            except BaseException:
                self._slots.release()
                raise
            if not messages or self.stop.is_set():
                self._slots.release()
                self._batch_done.wait(self.poll_seconds)
                self._batch_done.clear()
                continue
            records = [sqs_record(m, self.queue.arn) for m in messages]
            groups = self._claim_groups(records)
            thread = threading.Thread(
                target=self._run_batch,
                args=(records, groups),
                name=f"sqs-batch-{self.function.logical_id}",
                daemon=True,
            )
            thread.start()

    def _claim_groups(self, records: list[dict[str, Any]]) -> set[str]:
        groups = {
            r["attributes"]["MessageGroupId"]
            for r in records
            if r["attributes"].get("MessageGroupId")
        }
        with self._groups_lock:
            while any(self._groups_in_flight[g] for g in groups) and not self.stop.is_set():
                self._groups_lock.wait(0.5)
            self._groups_in_flight.update(groups)
        return groups

    def _run_batch(self, records: list[dict[str, Any]], groups: set[str]) -> None:
        try:
            self.deliver(self.aws.client("sqs"), records)
        except Exception as error:
            if not self.stop.is_set():
                log.say(f"{self.name}: {type(error).__name__}: {error}")
        finally:
            with self._groups_lock:
                self._groups_in_flight.subtract(groups)
                self._groups_in_flight += Counter()  # drop the zeros
                self._groups_lock.notify_all()
            self._slots.release()
            self._batch_done.set()

    def deliver(self, sqs: Any, records: list[dict[str, Any]]) -> None:
        invocation = self.invoker.invoke(self.function, {"Records": records})
        if self.stop.is_set() and not invocation.ok:
            return  # stopped mid-invocation: the messages come back after their timeout
        ids = [r["messageId"] for r in records]
        if not invocation.ok:
            failed: set[str] | None = None  # an error: none are deleted
        elif self.partial:
            failed = _batch_failures(ids, invocation.result)
        else:
            failed = set()
        done = [] if failed is None else [r for r in records if r["messageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            sqs.delete_message_batch(
                QueueUrl=self.queue.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)
                ],
            )
        detail = f"sqs {len(records)} record(s)"
        if failed is None:
            detail += ", all returned to the queue"
        elif failed:
            detail += f", {len(failed)} failed"
        log.invocation(
            self.function.logical_id,
            invocation.status,
            invocation.duration_ms,
            _invocation_detail(invocation, detail),
        )


# ------------------------------------------------------------------------ DynamoDB TTL
class TtlDeletes:
    """Keys the TTL sweeper deleted, so that their REMOVE records get the service identity."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: Counter[str] = Counter()

    @staticmethod
    def _id(table: str, keys: dict[str, Any]) -> str:
        return json.dumps([table, keys], sort_keys=True, default=str)

    def add(self, table: str, keys: dict[str, Any]) -> None:
        with self._lock:
            self._keys[self._id(table, keys)] += 1

    def discard(self, table: str, keys: dict[str, Any]) -> None:
        self.take(table, keys)

    def take(self, table: str, keys: dict[str, Any]) -> bool:
        """Whether `keys` was deleted by TTL (each delete answers once)."""
        with self._lock:
            key = self._id(table, keys)
            if self._keys.get(key, 0) <= 0:
                return False
            self._keys[key] -= 1
            if self._keys[key] <= 0:
                del self._keys[key]
            return True


class TtlSweeper(EventSource):
    """DynamoDB's TTL process: deletes items whose TTL attribute (epoch seconds) has passed."""

    def __init__(
        self,
        table: str,
        attribute: str,
        key_names: list[str],
        aws: LocalAws,
        deletes: TtlDeletes,
        stop: threading.Event,
        period: float = 5.0,
    ) -> None:
        super().__init__(stop)
        self.table = table
        self.attribute = attribute
        self.key_names = key_names
        self.aws = aws
        self.deletes = deletes
        self.period = period
        self.name = f"TTL {table}.{attribute}"

    def start(self) -> None:
        self._spawn(self._run, f"ttl-{self.table}")

    def _run(self) -> None:
        dynamodb = self.aws.client("dynamodb")
        while not self.stop.wait(self.period):
            self.sweep(dynamodb)

    def sweep(self, dynamodb: Any) -> int:
        now = int(time.time())
        names = {"#ttl": self.attribute}
        names.update({f"#k{i}": key for i, key in enumerate(self.key_names)})
        values = {":now": {"N": str(now)}}
        deleted = 0
        start: dict[str, Any] | None = None
        while not self.stop.is_set():
            scan: dict[str, Any] = {
                "TableName": self.table,
                "FilterExpression": "#ttl <= :now",
                "ProjectionExpression": ", ".join(["#ttl", *names.keys() - {"#ttl"}]),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
            if start:
                scan["ExclusiveStartKey"] = start
            page = dynamodb.scan(**scan)
            for item in page.get("Items", []):
                keys = {name: item[name] for name in self.key_names if name in item}
                self.deletes.add(self.table, keys)
                try:
                    dynamodb.delete_item(
                        TableName=self.table,
                        Key=keys,
                        # As TTL does: an item whose TTL moved into the future is kept.
                        ConditionExpression="#ttl <= :now",
                        ExpressionAttributeNames={"#ttl": self.attribute},
                        ExpressionAttributeValues=values,
                    )
                    deleted += 1
                except dynamodb.exceptions.ConditionalCheckFailedException:
                    self.deletes.discard(self.table, keys)
                except Exception:
                    self.deletes.discard(self.table, keys)
                    raise
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        return deleted


# --------------------------------------------------------------------- DynamoDB streams
def _matches_value(pattern: Any, value: Any, present: bool) -> bool:
    """One EventBridge-style pattern list against a record value."""
    if not isinstance(pattern, list):
        raise ValueError(f"filter pattern values must be lists, not {pattern!r}")
    candidates = value if isinstance(value, list) else [value]
    for rule in pattern:
        if isinstance(rule, dict):
            if "exists" in rule:
                if bool(rule["exists"]) == present:
                    return True
                continue
            if not present:
                continue
            if "prefix" in rule:
                if any(isinstance(c, str) and c.startswith(rule["prefix"]) for c in candidates):
                    return True
            elif "anything-but" in rule:
                banned = rule["anything-but"]
                banned = banned if isinstance(banned, list) else [banned]
                if all(c not in banned for c in candidates):
                    return True
            else:
                raise ValueError(f"unsupported filter rule {rule!r}")
        elif present and rule in candidates:
            return True
    return False


def matches(pattern: dict[str, Any], record: Any) -> bool:
    """Whether `record` matches a Lambda event filter pattern (EventBridge pattern syntax;
    exact values, prefix, exists and anything-but)."""
    if not isinstance(record, dict):
        return False
    for key, wanted in pattern.items():
        present = key in record
        value = record.get(key)
        if isinstance(wanted, dict):
            if not (present and matches(wanted, value)):
                return False
        elif not _matches_value(wanted, value, present):
            return False
    return True


def filter_patterns(props: dict[str, Any]) -> list[dict[str, Any]]:
    filters = ((props.get("FilterCriteria") or {}).get("Filters")) or []
    patterns = []
    for item in filters:
        raw = item.get("Pattern")
        patterns.append(json.loads(raw) if isinstance(raw, str) else dict(raw))
    return patterns


def _plain_attribute(value: Any) -> Any:
    """A DynamoDB attribute value from boto3 back to its JSON wire form (bytes -> base64)."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {k: _plain_attribute(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain_attribute(v) for v in value]
    return value


def stream_record(
    raw: dict[str, Any], stream_arn: str, ttl_delete: bool, view_type: str
) -> dict[str, Any]:
    """A GetRecords record as the record of Lambda's DynamoDB stream event."""
    data = raw.get("dynamodb", {})
    created = data.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        epoch: float = created.timestamp()
    else:
        epoch = float(created or time.time())
    dynamodb: dict[str, Any] = {"ApproximateCreationDateTime": int(epoch)}
    for name in ("Keys", "NewImage", "OldImage"):
        if name in data:
            dynamodb[name] = _plain_attribute(data[name])
    dynamodb["SequenceNumber"] = str(data["SequenceNumber"])
    dynamodb["SizeBytes"] = int(data.get("SizeBytes", 0))
    dynamodb["StreamViewType"] = data.get("StreamViewType", view_type)
    record: dict[str, Any] = {
        "eventID": raw.get("eventID") or uuid.uuid4().hex,
        "eventName": raw["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
    if ttl_delete:
        record["userIdentity"] = dict(TTL_IDENTITY)
    return record


class StreamPoller(MappedSource):
    def __init__(
        self,
        function: Function,
        props: dict[str, Any],
        aws: LocalAws,
        invoker: Invoker,
        deletes: TtlDeletes,
        stop: threading.Event,
        poll_seconds: float = 0.5,
    ) -> None:
        super().__init__(function, props, aws, invoker, stop, poll_seconds)
        self.deletes = deletes
        logical_id = self.target(props["Stream"])
        self.table = next(
            t for t in aws.tables.values() if logical_id in {t.logical_id, t.stream_arn}
        )
        if not self.table.stream_arn:
            raise ValueError(f"table {self.table.logical_id} has no stream")
        self.stream_arn: str = self.table.stream_arn
        self.batch_size = max(1, int(props.get("BatchSize", 100)))
        retries = props.get("MaximumRetryAttempts", -1)
        self.max_retries = None if int(retries) < 0 else int(retries)
        self.bisect = bool(props.get("BisectBatchOnFunctionError", False))
        self.latest = str(props.get("StartingPosition", "LATEST")).upper() == "LATEST"
        self.patterns = filter_patterns(props)
        destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
            "Destination"
        )
        self.on_failure = aws.resolve(destination) if destination else None
        self.name = f"{function.logical_id} <- {self.table.name} stream"
        self._ready = threading.Event()

    def start(self) -> None:
        if not self.enabled:
            return
        self._spawn(self._run, f"stream-{self.function.logical_id}")

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """True once the poller holds its iterators (records written after are seen)."""
        return self._ready.wait(timeout)

    def _iterators(self, streams: Any) -> dict[str, str]:
        shards = streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        kind = "LATEST" if self.latest else "TRIM_HORIZON"
        return {
            shard["ShardId"]: streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType=kind
            )["ShardIterator"]
            for shard in shards
        }

    def _run(self) -> None:
        streams = self.aws.client("dynamodbstreams")
        iterators = self._iterators(streams)
        self._ready.set()
        pending: list[dict[str, Any]] = []
        while not self.stop.is_set():
            for shard_id, iterator in list(iterators.items()):
                answer = streams.get_records(ShardIterator=iterator, Limit=1000)
                iterators[shard_id] = answer.get("NextShardIterator") or iterator
                for raw in answer.get("Records", []):
                    record = self._record(raw)
                    if not self.patterns or any(matches(p, record) for p in self.patterns):
                        pending.append(record)
            while pending and not self.stop.is_set():
                batch = pending[: self.batch_size]
                handled = self._deliver(batch)
                pending = pending[handled:]
            self.stop.wait(self.poll_seconds)

    def _record(self, raw: dict[str, Any]) -> dict[str, Any]:
        ttl = raw.get("eventName") == "REMOVE" and self.deletes.take(
            self.table.name, _plain_attribute(raw.get("dynamodb", {}).get("Keys", {}))
        )
        return stream_record(raw, self.stream_arn, ttl, "NEW_AND_OLD_IMAGES")

    def _deliver(self, batch: list[dict[str, Any]]) -> int:
        """Invoke with `batch` (retrying as the Lambda service does); return how many of its
        records are done with (processed, or dropped after the retries)."""
        attempts = 0
        records = batch
        offset = 0  # records of `batch` before `records`, already checkpointed
        while not self.stop.is_set():
            invocation = self.invoker.invoke(self.function, {"Records": records})
            sequence = [r["dynamodb"]["SequenceNumber"] for r in records]
            failed: set[str] | None
            if not invocation.ok:
                failed = None
            elif self.partial:
                failed = _batch_failures(sequence, invocation.result)
            else:
                failed = set()
            detail = f"stream {len(records)} record(s)"
            if failed:
                detail += f", {len(failed)} failed"
            log.invocation(
                self.function.logical_id,
                invocation.status,
                invocation.duration_ms,
                _invocation_detail(invocation, detail),
            )
            if failed == set():
                return offset + len(records)
            if failed is None and self.bisect and len(records) > 1 and not invocation.timed_out:
                # Bisection does not count against the retries: retry the first half.
                records = records[: len(records) // 2]
                continue
            if failed:
                # Checkpoint before the first failed record; retry from there.
                first = min(sequence.index(s) for s in failed)
                offset += first
                records = records[first:]
            attempts += 1
            if self.max_retries is not None and attempts > self.max_retries:
                self._give_up(records, attempts)
                return offset + len(records)
            self.stop.wait(min(0.5 * 2 ** (attempts - 1), 5.0))
        return 0

    def _give_up(self, records: list[dict[str, Any]], attempts: int) -> None:
        log.say(
            f"{self.function.logical_id}: dropped {len(records)} stream record(s) after"
            f" {attempts - 1} retries"
            + (f"; batch info sent to {self.on_failure}" if self.on_failure else "")
        )
        if not self.on_failure:
            return
        queue = next((q for q in self.aws.queues.values() if q.arn == self.on_failure), None)
        if queue is None:
            return
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        info = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:"
                f"{self.function.logical_id}",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
            "version": "1.0",
            "timestamp": now,
            "DDBStreamBatchInfo": {
                "shardId": "local",
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": first["ApproximateCreationDateTime"],
                "approximateArrivalOfLastRecord": last["ApproximateCreationDateTime"],
                "batchSize": len(records),
                "streamArn": self.stream_arn,
            },
        }
        self.aws.client("sqs").send_message(QueueUrl=queue.url, MessageBody=json.dumps(info))


# ------------------------------------------------------------------------------ schedules
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(second|minute|hour|day)s?\s*\)$", re.IGNORECASE)
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def parse_rate(expression: str) -> float | None:
    """Seconds between runs of `rate(N unit)`; None for anything else (cron)."""
    found = _RATE.match(expression.strip())
    if not found:
        return None
    count = int(found.group(1))
    if count <= 0:
        raise ValueError(f"invalid schedule {expression!r}")
    return float(count * _UNIT_SECONDS[found.group(2).lower()])


def scheduled_event(rule_name: str, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule_name}"],
        "detail": {},
    }


class Schedule(EventSource):
    """An EventBridge rule with a rate: fires (asynchronously) every period / speedup."""

    def __init__(
        self,
        function: Function,
        event_name: str,
        props: dict[str, Any],
        invoker: Invoker,
        stop: threading.Event,
        speedup: float = 1.0,
    ) -> None:
        super().__init__(stop)
        self.function = function
        self.invoker = invoker
        self.expression = str(props.get("Schedule", ""))
        rate = parse_rate(self.expression)
        self.period = rate / speedup if rate else None
        self.enabled = (
            props.get("Enabled", True) is not False
            and str(props.get("State", "ENABLED")).upper() != "DISABLED"
        )
        self.input = props.get("Input")
        self.rule = f"{STACK_NAME}-{function.logical_id}{event_name}"
        self.name = f"{function.logical_id} <- {self.expression}"

    def start(self) -> None:
        if not self.enabled:
            return
        if self.period is None:
            log.say(f"{self.name}: only rate(...) schedules run locally; not scheduled")
            return
        self._spawn(self._run, f"schedule-{self.function.logical_id}")

    def _run(self) -> None:
        assert self.period is not None
        next_at = time.monotonic() + self.period
        while not self.stop.wait(max(0.0, next_at - time.monotonic())):
            next_at += self.period
            # Asynchronous invocation: a slow run does not hold the next one back.
            threading.Thread(target=self.fire, name=f"run-{self.rule}", daemon=True).start()

    def fire(self) -> Invocation:
        event = json.loads(self.input) if isinstance(self.input, str) else None
        if event is None:
            event = scheduled_event(self.rule)
        invocation = self.invoker.invoke(self.function, event)
        if not self.stop.is_set():
            log.invocation(
                self.function.logical_id,
                invocation.status,
                invocation.duration_ms,
                _invocation_detail(invocation, f"schedule {self.expression}"),
            )
        return invocation
