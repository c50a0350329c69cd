"""DynamoDB TTL, which moto never runs: a sweeper deletes items past their TTL attribute and
marks the REMOVE stream records it causes as the DynamoDB service's own, as AWS does."""

from __future__ import annotations

import heapq
import json
import threading
import time
from collections import Counter
from typing import Any

from local.aws import LocalAws
from local.sources.base import EventSource

TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


class TtlDeletes:
    """What the TTL sweeper and the stream pollers share.

    The keys the sweeper deleted, so that their REMOVE records get the service identity;
    and, for each table a poller reads, every item's TTL as its stream records show it
    (the latest INSERT or MODIFY, until its REMOVE). With those the sweeper deletes what is
    due without scanning the table: a scan costs moto time in proportion to the table, on
    every sweep, which grew with every checkout of an on-sale.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: Counter[str] = Counter()
        self._attributes: dict[str, str] = {}  # table -> its TTL attribute
        self._fed: set[str] = set()  # tables whose stream a poller reads
        self._due: dict[str, list[tuple[int, str]]] = {}  # table -> heap of (ttl, key id)
        self._ttl: dict[str, dict[str, int]] = {}  # table -> key id -> its latest TTL
        self._key_of: dict[str, dict[str, Any]] = {}  # key id -> the key

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

    def watch(self, table: str, attribute: str) -> None:
        """The table has TTL on `attribute` (the sweeper says so when it is made)."""
        with self._lock:
            self._attributes[table] = attribute
            self._due.setdefault(table, [])
            self._ttl.setdefault(table, {})

    def reading(self, table: str) -> None:
        """A poller reads the table's stream from now on: it will show every change."""
        with self._lock:
            if table in self._attributes:
                self._fed.add(table)

    def fed(self, table: str) -> bool:
        with self._lock:
            return table in self._fed

    def saw(self, table: str, raw: dict[str, Any]) -> None:
        """A stream record of `table` (GetRecords' form): note the item's TTL, or its end."""
        attribute = self._attributes.get(table)
        if attribute is None:
            return
        data = raw.get("dynamodb", {})
        if "NEW" not in str(data.get("StreamViewType", "NEW_AND_OLD_IMAGES")):
            with self._lock:  # its records show no TTL values: the sweeper must scan
                self._fed.discard(table)
            return
        keys = data.get("Keys") or {}
        key = self._id(table, keys)
        value = (data.get("NewImage") or {}).get(attribute, {}).get("N")
        with self._lock:
            known = self._ttl[table]
            if raw.get("eventName") == "REMOVE" or value is None:
                known.pop(key, None)
                self._key_of.pop(key, None)
                return
            ttl = int(float(value))
            if known.get(key) != ttl:
                known[key] = ttl
                self._key_of[key] = keys
                heapq.heappush(self._due[table], (ttl, key))

    def due(self, table: str, now: int) -> list[dict[str, Any]]:
        """The keys whose latest known TTL has passed (each given once)."""
        found = []
        with self._lock:
            heap, known = self._due.get(table, []), self._ttl.get(table, {})
            while heap and heap[0][0] <= now:
                ttl, key = heapq.heappop(heap)
                if known.get(key) == ttl:  # else superseded by a later TTL, or removed
                    del known[key]
                    found.append(self._key_of.pop(key))
        return found


class TtlSweeper(EventSource):
    """DynamoDB's TTL process: deletes items whose TTL attribute (epoch seconds) has passed.

    Where a stream poller reads the table, the sweeper deletes the items its records show
    are due (`TtlDeletes`), and scans the whole table only every `scan_seconds`, in case a
    change was missed; elsewhere it scans every `period`.
    """

    def __init__(
        self,
        table: str,
        attribute: str,
        key_names: list[str],
        aws: LocalAws,
        deletes: TtlDeletes,
        stop: threading.Event,
        period: float = 5.0,
        scan_seconds: float = 300.0,
    ) -> None:
        super().__init__(stop)
        self.table = table
        self.attribute = attribute
        self.key_names = key_names
        self.aws = aws
        self.deletes = deletes
        self.period = period
        self.scan_seconds = scan_seconds
        self.name = f"TTL {table}.{attribute}"
        deletes.watch(table, attribute)

    def start(self) -> None:
        self._spawn(self._run, f"ttl-{self.table}")

    def _run(self) -> None:
        dynamodb = self.aws.client("dynamodb")
        scanned = time.monotonic()
        while not self.stop.wait(self.period):
            if self.deletes.fed(self.table) and time.monotonic() - scanned < self.scan_seconds:
                self.sweep_due(dynamodb)
            else:
                self.sweep(dynamodb)
                scanned = time.monotonic()

    def sweep_due(self, dynamodb: Any) -> int:
        """Delete the items the stream showed are due; return how many were deleted."""
        now = int(time.time())
        return sum(self._delete(dynamodb, keys, now) for keys in self.deletes.due(self.table, now))

    def sweep(self, dynamodb: Any) -> int:
        """Scan the table for items past their TTL and delete them; return how many."""
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
                deleted += self._delete(dynamodb, keys, now)
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        return deleted

    def _delete(self, dynamodb: Any, keys: dict[str, Any], now: int) -> int:
        self.deletes.add(self.table, keys)
        try:
            dynamodb.delete_item(
                TableName=self.table,
                Key=keys,
                # As TTL does: an item whose TTL moved into the future is kept.
                ConditionExpression="#ttl <= :now",
                ExpressionAttributeNames={"#ttl": self.attribute},
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            self.deletes.discard(self.table, keys)
            return 0
        except Exception:
            self.deletes.discard(self.table, keys)
            raise
        return 1
