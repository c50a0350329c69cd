"""The DynamoDB stream event source mapping: a shard poller with FilterCriteria, batches,
partial batch responses, retries, bisection and the on-failure destination."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from local import log
from local.aws import LocalAws
from local.config import ACCOUNT_ID, REGION
from local.lambdas import Invoker
from local.sources.base import MappedSource, batch_failures, invocation_detail
from local.sources.filters import filter_patterns, matches
from local.sources.ttl import TTL_IDENTITY, TtlDeletes
from local.template import Function

WIRE_RECORDS = "WireRecords"


def keep_records_in_wire_form(client: Any) -> Any:
    """Make `client` (dynamodbstreams) hand GetRecords' records over as the JSON they came
    in, under `WIRE_RECORDS` instead of `Records`. A Lambda stream event carries records in
    that very form, while botocore's parser walks every typed attribute value of every
    record (to turn binary values into bytes and times into datetimes) only for
    `stream_record` to turn them back: 40% of the pollers' process's CPU (py-spy). The
    hook is botocore's own for a handler that parses a part of an answer itself."""

    def take_records(
        response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
    ) -> None:
        if response_dict.get("status_code") != 200:
            return
        answer = json.loads(response_dict["body"] or b"{}")
        customized_response_dict[WIRE_RECORDS] = answer.pop("Records", [])
        response_dict["body"] = json.dumps(answer).encode()

    client.meta.events.register("before-parse.dynamodb-streams.GetRecords", take_records)
    return client


def stream_record(
    raw: dict[str, Any], stream_arn: str, ttl_delete: bool, view_type: str
) -> dict[str, Any]:
    """A GetRecords record in its wire form (`keep_records_in_wire_form`) as the record of
    Lambda's DynamoDB stream event, whose images are in that same form."""
    data = raw.get("dynamodb", {})
    created = float(data.get("ApproximateCreationDateTime") or time.time())
    dynamodb: dict[str, Any] = {"ApproximateCreationDateTime": int(created)}
    for name in ("Keys", "NewImage", "OldImage"):
        if name in data:
            dynamodb[name] = data[name]
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
        streams = keep_records_in_wire_form(self.aws.client("dynamodbstreams"))
        iterators = self._iterators(streams)
        self.deletes.reading(self.table.name)
        self._ready.set()
        pending: list[dict[str, Any]] = []
        while not self.stop.is_set():
            for shard_id, iterator in list(iterators.items()):
                answer = streams.get_records(ShardIterator=iterator, Limit=1000)
                iterators[shard_id] = answer.get("NextShardIterator") or iterator
                for raw in answer.get(WIRE_RECORDS, []):
                    self.deletes.saw(self.table.name, raw)
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
            self.table.name, raw.get("dynamodb", {}).get("Keys", {})
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
                failed = batch_failures(sequence, invocation.result)
            else:
                failed = set()
            detail = f"stream {len(records)} record(s)"
            if failed:
                detail += f", {len(failed)} failed"
            log.invocation(
                self.function.logical_id,
                invocation.status,
                invocation.duration_ms,
                invocation_detail(invocation, detail),
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
