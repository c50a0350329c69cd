"""DynamoDB TTL, which moto never runs: a sweeper deletes items past their TTL attribute and
marks the REMOVE stream records it causes as the DynamoDB service's own, as AWS does."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

from local.aws import LocalAws
from local.sources.base import EventSource

TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


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
