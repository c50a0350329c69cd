"""Checkout sessions in DynamoDB, one item per checkout, removed by TTL on `expires_at`.

Every status change is a conditional update, so a duplicate or late request changes
state at most once and never revives a session that ended.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from boxoffice.clock import floor_ms
from boxoffice.models.checkouts import Session, StoredStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# The sparse index of sessions whose Stripe Checkout Session is still open (template.yaml).
OPEN_PAYMENTS_INDEX = "open-payments"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _is_condition_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def to_item(session: Session) -> dict[str, Any]:
    """The session in DynamoDB's attribute-value form."""
    plain = session.model_dump(mode="json", exclude_none=True)
    return {name: _attribute(value) for name, value in plain.items()}


def _attribute(value: Any) -> dict[str, Any]:
    """A JSON value (as `model_dump(mode="json")` gives) as the attribute value boto3's
    TypeSerializer makes of it, a number as its Decimal's text. Written out because the
    serializer's type checks cost 25 us of the 34 a session took, on every hold."""
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, float):
        return {"N": str(Decimal(repr(value)))}
    if isinstance(value, list):
        return {"L": [_attribute(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {k: _attribute(v) for k, v in value.items()}}
    if value is None:
        return {"NULL": True}
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def from_item(item: dict[str, Any]) -> Session:
    return Session.model_validate({k: _deserializer.deserialize(v) for k, v in item.items()})


class SessionStore:
    def __init__(self, table_name: str, client: Callable[[], DynamoDBClient]) -> None:
        self._table_name = table_name
        self._client = client

    def _key(self, checkout_id: UUID) -> dict[str, Any]:
        return {"checkout_id": {"S": str(checkout_id)}}

    def put_new(self, session: Session) -> None:
        self._client().put_item(
            TableName=self._table_name,
            Item=to_item(session),
            ConditionExpression="attribute_not_exists(checkout_id)",
        )

    def get(self, checkout_id: UUID) -> Session | None:
        found = self._client().get_item(
            TableName=self._table_name, Key=self._key(checkout_id), ConsistentRead=True
        )
        return from_item(found["Item"]) if "Item" in found else None

    def get_many(self, checkout_ids: Iterable[UUID]) -> dict[UUID, Session]:
        """The sessions of these checkouts that exist, read consistently in one
        BatchGetItem per 100 (the admission consumer reads a whole batch at once)."""
        wanted = list(dict.fromkeys(checkout_ids))
        found: dict[UUID, Session] = {}
        for start in range(0, len(wanted), 100):
            keys = [self._key(c) for c in wanted[start : start + 100]]
            answer = self._client().batch_get_item(
                RequestItems={self._table_name: {"Keys": keys, "ConsistentRead": True}}
            )
            for item in answer.get("Responses", {}).get(self._table_name, []):
                session = from_item(item)
                found[session.checkout_id] = session
            # Keys DynamoDB did not get to (throttled): read one at a time, no busy loop.
            unprocessed = answer.get("UnprocessedKeys", {}).get(self._table_name)
            for key in unprocessed["Keys"] if unprocessed else []:
                alone = self.get(UUID(key["checkout_id"]["S"]))
                if alone is not None:
                    found[alone.checkout_id] = alone
        return found

    def delete(self, checkout_id: UUID) -> None:
        self._client().delete_item(TableName=self._table_name, Key=self._key(checkout_id))

    def update(
        self,
        checkout_id: UUID,
        sets: dict[str, Any],
        *,
        remove: Iterable[str] = (),
        condition: str = "",
        values: dict[str, Any] | None = None,
        names: dict[str, str] | None = None,
    ) -> Session | None:
        """Set (and remove) fields of an existing session if `condition` (over `values` and
        `names`) holds; return the session as it is now, or None when the condition failed."""
        answer = self._write(
            checkout_id, sets, remove, condition, values, names, returned="ALL_NEW"
        )
        return from_item(answer["Attributes"]) if answer is not None else None

    def _write(
        self,
        checkout_id: UUID,
        sets: dict[str, Any],
        remove: Iterable[str],
        condition: str,
        values: dict[str, Any] | None,
        names: dict[str, str] | None,
        *,
        returned: str,
    ) -> dict[str, Any] | None:
        """The conditional UpdateItem; DynamoDB's answer (the item as `returned` asks), or
        None when the condition failed."""
        names = dict(names or {})
        bound: dict[str, Any] = dict(values or {})
        updates = []
        for i, (name, value) in enumerate(sets.items()):
            names[f"#s{i}"] = name
            bound[f":s{i}"] = value.isoformat() if isinstance(value, datetime) else value
            updates.append(f"#s{i} = :s{i}")
        expression = "SET " + ", ".join(updates) if updates else ""
        dropped = []
        for i, name in enumerate(remove):
            names[f"#r{i}"] = name
            dropped.append(f"#r{i}")
        if dropped:
            expression += " REMOVE " + ", ".join(dropped)
        check = "attribute_exists(checkout_id)" + (f" AND ({condition})" if condition else "")
        arguments: dict[str, Any] = {
            "TableName": self._table_name,
            "Key": self._key(checkout_id),
            "UpdateExpression": expression.strip(),
            "ConditionExpression": check,
            "ReturnValues": returned,
        }
        if names:
            arguments["ExpressionAttributeNames"] = names
        if bound:
            arguments["ExpressionAttributeValues"] = {
                k: _serializer.serialize(v) for k, v in bound.items()
            }
        try:
            answer: dict[str, Any] = dict(self._client().update_item(**arguments))
        except ClientError as error:
            if _is_condition_failure(error):
                return None
            raise
        return answer

    def open_payment_sessions(self, ended_by: datetime, limit: int) -> list[Session]:
        """Sessions with a Stripe session still open whose hold has ended by `ended_by`."""
        answer = self._client().query(
            TableName=self._table_name,
            IndexName=OPEN_PAYMENTS_INDEX,
            KeyConditionExpression="payment_open = :open AND hold_until_ms <= :now",
            ExpressionAttributeValues={":open": {"S": "1"}, ":now": {"N": str(floor_ms(ended_by))}},
            Limit=limit,
        )
        return [from_item(item) for item in answer.get("Items", [])]

    def transition(
        self,
        checkout_id: UUID,
        to: StoredStatus,
        from_statuses: Iterable[StoredStatus],
        *,
        live_at: datetime | None = None,
        ended_by: datetime | None = None,
        sets: dict[str, Any] | None = None,
        remove: Iterable[str] = (),
    ) -> bool:
        """Move the session to `to` if its status is one of `from_statuses`.

        `live_at` also requires its hold to last beyond that moment; `ended_by` requires
        the hold to have ended by then. Returns False, changing nothing, when the
        condition does not hold.
        """
        values: dict[str, Any] = {}
        allowed = []
        for i, status in enumerate(sorted(set(from_statuses))):
            values[f":from{i}"] = status
            allowed.append(f":from{i}")
        condition = f"#status IN ({', '.join(allowed)})"
        if live_at is not None:
            values[":now"] = floor_ms(live_at)
            condition += " AND hold_until_ms > :now"
        if ended_by is not None:
            values[":now"] = floor_ms(ended_by)
            condition += " AND hold_until_ms <= :now"
        # Only whether it moved: the item is not sent back (nor read and parsed).
        changed = self._write(
            checkout_id,
            {"status": to, **(sets or {})},
            remove,
            condition,
            values,
            {"#status": "status"},
            returned="NONE",
        )
        return changed is not None
