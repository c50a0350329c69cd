"""Restart moto when its process dies, as AWS's own services are always there.

moto keeps everything in memory, so a restarted moto has lost the checkout sessions
(DynamoDB) and the admission queue (SQS): what was in them is gone, as at the stack's
start. The supervisor therefore brings the stack back to a state that is true again:

1. both moto processes go (the survivor too: sessions and the line are lost together);
2. new ones start *gated* on the same ports (see local/moto_server.py): the tables and
   queues are made on a private port, and the functions meet connection refused (503,
   nothing half-done) until then, never a moto without its table;
3. the stream pollers follow the new table's stream (the event sources' process is told
   before the new moto opens);
4. once open, and after a grace period for requests that were mid-flight, every hold
   taken before the crash whose session is not in the new moto is given back, and each
   event's line is passed up to the last place handed out before the crash (those
   messages are gone; nobody later waits behind them).

Fans whose sessions were lost must hold again (their checkout reads 404); paid bookings
live in Postgres and are untouched.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any
from uuid import UUID

import psycopg

from boxoffice.stores.events import EventStore
from boxoffice.stores.seats import SeatStore
from local import log, template
from local.aws import LocalAws, MotoProcess, create_resources
from local.sources import EventSource

# A request that met the dead moto may retry for a little while (botocore's retries):
# wait this long after reopening before deciding which holds lost their sessions.
GRACE_SECONDS = 3.0


class MotoSupervisor(EventSource):
    name = "moto supervisor"

    def __init__(
        self,
        processes: Callable[[], list[MotoProcess]],
        replace_processes: Callable[[MotoProcess, MotoProcess | None], None],
        aws: LocalAws,
        database_url: str,
        follow: Callable[[Mapping[str, str | None]], None],
        stop: threading.Event,
        period: float = 0.2,
    ) -> None:
        super().__init__(stop)
        self.processes = processes
        self.replace_processes = replace_processes
        self.aws = aws
        self.database_url = database_url
        self.follow = follow  # tells the stream pollers the new streams (by table)
        self.period = period
        self.restarts = 0

    def start(self) -> None:
        self._spawn(self._run, "moto-supervisor")

    def _run(self) -> None:
        while not self.stop.wait(self.period):
            dead = [p for p in self.processes() if not p.alive]
            if dead:
                self.restart(dead[0].process.returncode)

    def restart(self, code: int | None) -> None:
        began = time.monotonic()
        log.say(
            f"moto stopped (exit {code}): restarting it; the checkout sessions and the"
            " admission queue it held are lost"
        )
        lines = self._lines_handed_out()
        old = self.processes()
        for process in old:
            process.stop()
        dynamodb_port = old[0].port
        sqs_port = old[1].port if len(old) > 1 else None
        host = old[0].host
        dynamodb = self._start_gated(host, dynamodb_port)
        sqs = self._start_gated(host, sqs_port) if sqs_port is not None else None
        made = create_resources(
            f"http://127.0.0.1:{dynamodb.port}",
            f"http://127.0.0.1:{sqs.port}" if sqs is not None else None,
        )
        for logical_id, table in made.tables.items():
            self.aws.tables[logical_id] = replace(
                self.aws.tables[logical_id], stream_arn=table.stream_arn
            )
        self.follow({logical_id: table.stream_arn for logical_id, table in made.tables.items()})
        dynamodb.open()
        if sqs is not None:
            sqs.open()
        self.replace_processes(dynamodb, sqs)
        self.restarts += 1
        log.say(f"moto restarted in {time.monotonic() - began:.1f} s (empty, as at a start)")
        if self.stop.wait(GRACE_SECONDS):
            return
        released = self._give_back(lines)
        log.say(f"Released {released} seat hold(s) whose sessions moto lost")

    @staticmethod
    def _start_gated(host: str, port: int) -> MotoProcess:
        deadline = time.monotonic() + 10
        while True:
            try:
                return MotoProcess(host, port, gated=True)
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _connection(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.database_url, autocommit=True, connect_timeout=5)

    def _lines_handed_out(self) -> dict[UUID, tuple[int, set[UUID]]]:
        """Per event: the last place in line handed out, and the checkouts holding seats."""
        found: dict[UUID, tuple[int, set[UUID]]] = {}
        try:
            for event_id, (_, handed_out) in EventStore(self._connection).line_ends().items():
                found[event_id] = (handed_out, set())
            for event_id, holders in SeatStore(self._connection).holders().items():
                found.setdefault(event_id, (0, set()))[1].update(holders)
        except psycopg.OperationalError as error:
            log.say(f"moto supervisor: Postgres unreachable ({error}); holds kept as they are")
        return found

    def _give_back(self, lines: dict[UUID, tuple[int, set[UUID]]]) -> int:
        """Free the holds of checkouts whose sessions the old moto took with it, and pass
        every place handed out before the restart (their queue messages are gone too)."""
        sessions = self.aws.client("dynamodb")
        [table] = [t for t in self.aws.tables.values() if template.ttl_attribute(t.logical_id)]
        seats, events = SeatStore(self._connection), EventStore(self._connection)
        released = 0
        try:
            for event_id, (last, holders) in lines.items():
                for checkout_id in holders:
                    found = sessions.get_item(
                        TableName=table.name,
                        Key={"checkout_id": {"S": str(checkout_id)}},
                        ConsistentRead=True,
                    )
                    if "Item" not in found:
                        released += len(seats.release(event_id, checkout_id)[0])
                events.pass_in_line(event_id, last)
        except Exception as error:
            log.say(f"moto supervisor: could not give the lost holds back ({error})")
        return released
