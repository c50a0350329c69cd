"""The SQS event source mapping: batches, partial batch responses, FIFO groups one batch
at a time, up to MaximumConcurrency invocations at once."""

from __future__ import annotations

import base64
import threading
from collections import Counter
from typing import Any

from local import log
from local.aws import LocalAws
from local.config import REGION
from local.lambdas import Invoker
from local.sources.base import MappedSource, batch_failures, invocation_detail
from local.template import Function

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
                args=(sqs, records, groups),
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

    def _run_batch(self, sqs: Any, records: list[dict[str, Any]], groups: set[str]) -> None:
        """Deliver one batch, on the receiver's client (boto3's clients are thread-safe; a
        new one per batch cost the pollers' process 7% of its CPU)."""
        try:
            self.deliver(sqs, records)
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
            failed = batch_failures(ids, invocation.result)
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
            invocation_detail(invocation, detail),
        )
