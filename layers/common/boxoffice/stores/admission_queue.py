"""The SQS FIFO admission queue: one message group per event, deduplicated per checkout."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from boxoffice.models.admission import AdmissionMessage

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

# SQS allows a message to stay invisible for at most 12 hours.
MAX_VISIBILITY_SECONDS = 43_200


class AdmissionQueue:
    def __init__(
        self,
        queue_url: Callable[[], str],
        dead_letter_url: Callable[[], str],
        client: Callable[[], SQSClient],
    ) -> None:
        self._queue_url = queue_url
        self._dead_letter_url = dead_letter_url
        self._client = client

    def send(self, message: AdmissionMessage) -> None:
        self._client().send_message(
            QueueUrl=self._queue_url(),
            MessageBody=message.model_dump_json(),
            MessageGroupId=str(message.event_id),
            MessageDeduplicationId=str(message.checkout_id),
        )

    def come_back_in(self, receipt_handle: str, seconds: int) -> None:
        """Make a received message visible again after `seconds`."""
        self._client().change_message_visibility(
            QueueUrl=self._queue_url(),
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=max(0, min(seconds, MAX_VISIBILITY_SECONDS)),
        )

    def dead_letter(self, body: str, group_id: str, message_id: str, reason: str) -> None:
        """Move a message that can never succeed to the DLQ now, instead of retrying it."""
        self._client().send_message(
            QueueUrl=self._dead_letter_url(),
            MessageBody=body,
            MessageGroupId=group_id or "poison",
            MessageDeduplicationId=message_id,
            MessageAttributes={
                "source_message_id": {"DataType": "String", "StringValue": message_id},
                "reason": {"DataType": "String", "StringValue": reason[:256]},
            },
        )
