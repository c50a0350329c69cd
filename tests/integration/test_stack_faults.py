"""Faults against the whole local stack: its Postgres stopped and started again, its moto
killed and restarted, while fans hold seats from many threads and wait in line.

Each answers 503 (never another 5xx) while the service is away and recovers by itself; the
figures are printed: how many 503s, the time from the service's return to the first 2xx,
and the invariants afterwards (every held seat is held by a live session and every live
session holds its seats; every booked seat has an order; the line is admitted in order,
once each).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest

from boxoffice.models.checkouts import LIVE_STATUSES, Session
from boxoffice.stores.sessions import from_item
from local import aws as local_aws
from local import template
from local.postgres import PostgresCluster, free_port
from tests.local.stack import ADMIN_KEY, StackProcess, http, processes_tagged, stack_env

THREADS = 6
# Slow enough that fans are still waiting in line when the service goes away.
ADMISSION_PER_SECOND = 20


@dataclass
class Load:
    """Fans holding one seat each from `THREADS` threads until stopped (bounded)."""

    base: str
    event_id: str
    seats: list[str]
    max_requests: int = 3000
    results: list[tuple[float, int, str]] = field(default_factory=list)  # (when, status, code)
    # (sent, answered, the 201's body) of every checkout made
    created: list[tuple[float, float, dict[str, Any]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Load:
        self._next = iter(self.seats)
        for _ in range(THREADS):
            thread = threading.Thread(target=self._run, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _take(self) -> str | None:
        with self._lock:
            if len(self.results) >= self.max_requests:
                return None
            return next(self._next, None)

    def _run(self) -> None:
        while not self._stop.is_set():
            seat = self._take()
            if seat is None:
                return
            sent = time.monotonic()
            answer = http(
                self.base,
                "POST",
                f"/events/{self.event_id}/checkouts",
                {"seat_ids": [seat]},
                timeout=35,
            )
            code = answer.body.get("error", "") if isinstance(answer.body, dict) else ""
            with self._lock:
                self.results.append((time.monotonic(), answer.status, code))
                if answer.status == 201:
                    self.created.append((sent, time.monotonic(), answer.body))
            if answer.status == 503:
                assert answer.headers.get("Retry-After"), answer.headers
            time.sleep(0.02)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(40)

    def statuses(self) -> Counter[int]:
        with self._lock:
            return Counter(status for _, status, _ in self.results)

    def first_success_after(self, moment: float, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = [t for t, status, _ in self.results if t >= moment and status < 300]
            if found:
                return min(found) - moment
            time.sleep(0.05)
        raise AssertionError("no 2xx after the service came back")


@dataclass
class FaultStack:
    stack: StackProcess
    cluster: PostgresCluster
    database_url: str

    @property
    def base(self) -> str:
        return self.stack.base

    def moto_endpoint(self) -> str:
        line = self.stack.wait_for(re.compile(r"^\s+moto\s+http://"), 5)
        return line.split()[1]

    def sessions(self) -> list[Session]:
        [logical_id] = [
            name
            for name, props in template.resources("AWS::DynamoDB::Table").items()
            if props.get("TimeToLiveSpecification")
        ]
        dynamodb = local_aws.client("dynamodb", self.moto_endpoint())
        found: list[Session] = []
        for page in dynamodb.get_paginator("scan").paginate(
            TableName=local_aws.table_name(logical_id), ConsistentRead=True
        ):
            found.extend(from_item(item) for item in page["Items"])
        return found

    def create_event(self, seats: int) -> tuple[str, list[str]]:
        seat_ids = [f"A-{n // 50}-{n % 50 + 1}" for n in range(seats)]
        spec = {
            "name": "Fault night",
            "venue": "Hall",
            "starts_at": "2099-01-01T20:00:00Z",
            "hold_seconds": 600,
            "checkout_seconds": 600,
            "admission_per_second": ADMISSION_PER_SECOND,
            # every fan of this test is 127.0.0.1: no cap on what one client holds
            "max_held_per_client": 10_000,
            "seats": [
                {
                    "seat_id": seat_id,
                    "section": "A",
                    "row": seat_id.split("-")[1],
                    "number": int(seat_id.split("-")[2]),
                    "price_cents": 1000,
                }
                for seat_id in seat_ids
            ],
        }
        answer = http(self.base, "POST", "/events", spec, headers={"x-api-key": ADMIN_KEY})
        assert answer.status == 201, answer.raw[:300]
        return answer.body["id"], seat_ids

    def check_invariants(self, event_id: str) -> dict[str, int]:
        """Held seats <-> live sessions, booked seats -> orders; returns the counts."""
        now = datetime.now(UTC)
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT s.seat_id, s.status, s.checkout_id, s.held_until, o.checkout_id"
                " FROM seats s LEFT JOIN orders o ON o.checkout_id = s.checkout_id"
                " AND s.seat_id = ANY(o.seat_ids) WHERE s.event_id = %s",
                (event_id,),
            ).fetchall()
        held = {
            (seat, checkout)
            for seat, status, checkout, until, _ in rows
            if status == "held" and until > now
        }
        booked_without_order = [seat for seat, status, _, _, order in rows if status == "booked"]
        booked_without_order = [
            seat for seat, status, _, _, order in rows if status == "booked" and order is None
        ]
        sessions = [s for s in self.sessions() if str(s.event_id) == event_id]
        live = [s for s in sessions if s.status_at(now) in LIVE_STATUSES]
        by_sessions = {(seat, s.checkout_id) for s in live for seat in s.seat_ids}
        assert held - by_sessions == set(), "seats held without a live session"
        assert by_sessions - held == set(), "live sessions whose seats are not held"
        assert booked_without_order == []
        return {"held": len(held), "live sessions": len(live), "sessions": len(sessions)}


@pytest.fixture
def fault_stack() -> Iterator[FaultStack]:
    """A stack on a Postgres cluster of its own (BOXOFFICE_DATA_DIR, PGPORT_LOCAL), so the
    test can stop and start it."""
    folder = tempfile.mkdtemp(prefix="boxoffice-faults-")
    os.chmod(folder, 0o755)  # noqa: S103 - the postgres user must reach its data dir
    port = free_port()
    env = stack_env(
        BOXOFFICE_DATA_DIR=folder,
        PGPORT_LOCAL=str(port),
        SEED_DEMO="0",
        PAYMENT_PROVIDER="test",
        LAMBDA_CONCURRENCY="4",
        TTL_SWEEP_SECONDS="1",
        SESSION_RETENTION_SECONDS="600",
    )
    stack = StackProcess(env)
    cluster = PostgresCluster(Path(folder) / "pgdata", port=port)
    try:
        stack.start()
        yield FaultStack(stack, cluster, cluster.url("boxoffice"))
    finally:
        if stack.process is not None:
            stack.stop()
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _await(condition: Callable[[], bool], timeout: float, what: str) -> float:
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"not {what} within {timeout} s")
        time.sleep(0.2)
    return time.monotonic() - began


def _admissions(faults: FaultStack, load: Load) -> dict[UUID, Session]:
    ids = {UUID(body["checkout_id"]) for _, _, body in load.created}
    return {s.checkout_id: s for s in faults.sessions() if s.checkout_id in ids}


def _all_admitted(faults: FaultStack, load: Load) -> bool:
    sessions = _admissions(faults, load)
    return len(sessions) == len(load.created) and all(
        s.admitted_at is not None for s in sessions.values()
    )


def _assert_admitted_in_order_once_each(load: Load, sessions: dict[UUID, Session]) -> None:
    """Every checkout admitted, each at a slot of its own at least 1/rate from the next;
    a checkout whose 201 came before another was even asked for is admitted first (two
    asked at the same time have no order of their own)."""
    assert all(s.admitted_at is not None for s in sessions.values())
    slots = sorted(s.admitted_at for s in sessions.values() if s.admitted_at is not None)
    assert len(set(slots)) == len(slots), "two checkouts shared a slot"
    gap = 1 / ADMISSION_PER_SECOND - 0.0015  # slots are stored to the millisecond
    assert all((b - a).total_seconds() >= gap for a, b in itertools.pairwise(slots))
    slot_of = {
        checkout: session.admitted_at
        for checkout, session in sessions.items()
        if session.admitted_at is not None
    }
    by_answer = sorted(load.created, key=lambda made: made[1])
    by_sending = sorted(load.created, key=lambda made: made[0])
    latest = None  # the latest slot among checkouts answered before this one was sent
    latest_id = None
    done = 0
    for sent, _, body in by_sending:
        while done < len(by_answer) and by_answer[done][1] < sent:
            slot = slot_of[UUID(by_answer[done][2]["checkout_id"])]
            if latest is None or slot > latest:
                latest, latest_id = slot, UUID(by_answer[done][2]["checkout_id"])
            done += 1
        mine = slot_of[UUID(body["checkout_id"])]
        assert latest is None or mine > latest, (
            "admitted before a checkout made earlier",
            sessions[UUID(body["checkout_id"])],
            sessions[latest_id] if latest_id else None,
        )


def _five_hundreds(load: Load) -> Counter[int]:
    return Counter(s for s in load.statuses().elements() if s >= 500 and s != 503)


def test_postgres_stopped_mid_load_then_started_again(fault_stack: FaultStack):
    faults = fault_stack
    event_id, seats = faults.create_event(1500)
    load = Load(faults.base, event_id, seats).start()
    try:
        load.first_success_after(0)  # the functions are warm
        time.sleep(1.5)
        stopped_at, stopped_wall = time.monotonic(), datetime.now(UTC)
        faults.cluster.stop()
        time.sleep(2.0)
        faults.cluster.start()
        back_at = time.monotonic()
        recovery = load.first_success_after(back_at)
        time.sleep(2.0)
    finally:
        load.stop()
    statuses = load.statuses()
    codes = Counter(code for _, status, code in load.results if status == 503)
    assert _five_hundreds(load) == Counter(), statuses
    assert set(statuses) <= {201, 503}, statuses
    assert statuses[503] > 0, "the outage was not seen"
    # the fans in line before, during and after the outage: all admitted, in order, once
    took = _await(lambda: _all_admitted(faults, load), 45, "all admitted")
    admitted = _admissions(faults, load)
    _assert_admitted_in_order_once_each(load, admitted)
    waiting = sum(1 for s in admitted.values() if s.admitted_at and s.admitted_at > stopped_wall)
    made_before = sum(1 for sent, _, _ in load.created if sent < stopped_at)
    assert waiting > 0, "nobody was waiting in line during the outage"
    counts = faults.check_invariants(event_id)
    assert counts["held"] == len(load.created) == len(admitted)
    print(
        f"\nPostgres down {back_at - stopped_at:.1f} s under {THREADS} threads of holds:"
        f" {sum(statuses.values())} requests, {statuses[201]} x 201, {statuses[503]} x 503"
        f" ({dict(codes)}), 0 other 5xx; first 201 {recovery:.2f} s after Postgres was back;"
        f" all {len(admitted)} queued checkouts ({waiting} admitted after Postgres stopped,"
        f" of {made_before} made before) admitted once each in order"
        f" ({took:.1f} s after the load); invariants hold: {counts}"
    )


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


def _children(parent: int, tag: str) -> list[int]:
    """The processes started by `parent` whose command line mentions `tag`."""
    return [pid for pid in processes_tagged(tag) if _parent(pid) == parent]


def _moto_pids(stack: StackProcess) -> list[int]:
    """The stack's own moto processes (children running local.moto_server)."""
    assert stack.process is not None
    return _children(stack.process.pid, "local.moto_server")


def test_moto_killed_mid_load_is_restarted_and_the_stack_recovers(fault_stack: FaultStack):
    faults = fault_stack
    event_id, seats = faults.create_event(1500)
    pids = _moto_pids(faults.stack)
    assert len(pids) == 2  # DynamoDB (+ its stream) and SQS
    mark = len(faults.stack.lines)
    load = Load(faults.base, event_id, seats).start()
    try:
        load.first_success_after(0)
        time.sleep(1.5)
        killed_at = time.monotonic()
        os.kill(min(pids), signal.SIGKILL)  # the first started: DynamoDB, the sessions
        faults.stack.wait_for("moto restarted", 20, mark)
        back_at = time.monotonic()
        recovery = load.first_success_after(back_at)
        time.sleep(2.0)
    finally:
        load.stop()
    released_line = faults.stack.wait_for("whose sessions moto lost", 20, mark)
    statuses = load.statuses()
    codes = Counter(code for _, status, code in load.results if status == 503)
    assert _five_hundreds(load) == Counter(), statuses
    assert set(statuses) <= {201, 503}, statuses
    assert statuses[503] > 0, "the outage was not seen"
    assert sorted(_moto_pids(faults.stack)) != sorted(pids)
    assert len(_moto_pids(faults.stack)) == 2
    # the checkouts made before the crash are gone with moto; those made after it are kept
    # and admitted once each, in order
    kept = _admissions(faults, load)
    after = [body for sent, _, body in load.created if sent > back_at]
    assert after, "nothing was made after the restart"
    assert {UUID(body["checkout_id"]) for body in after} <= set(kept)
    survivors = Load(faults.base, event_id, [])
    survivors.created = [made for made in load.created if UUID(made[2]["checkout_id"]) in kept]
    took = _await(lambda: _all_admitted(faults, survivors), 45, "all admitted")
    _assert_admitted_in_order_once_each(survivors, _admissions(faults, survivors))
    counts = faults.check_invariants(event_id)
    assert counts["held"] == len(survivors.created)
    lost = len(load.created) - len(survivors.created)
    lost_answer = http(
        faults.base,
        "GET",
        f"/checkouts/{load.created[0][2]['checkout_id']}",
        token=load.created[0][2]["token"],
    )
    assert lost_answer.status == 404  # a fan whose session was lost is told so, plainly
    print(
        f"\nmoto killed under {THREADS} threads of holds, back in {back_at - killed_at:.1f} s:"
        f" {sum(statuses.values())} requests, {statuses[201]} x 201, {statuses[503]} x 503"
        f" ({dict(codes)}), 0 other 5xx; first 201 {recovery:.2f} s after moto was back;"
        f" {lost} checkouts lost with moto ({released_line.strip()!r});"
        f" the {len(survivors.created)} kept all admitted once each in order ({took:.1f} s);"
        f" invariants hold: {counts}"
    )


def test_event_sources_killed_are_started_again_and_the_line_moves(fault_stack: FaultStack):
    faults = fault_stack
    assert faults.stack.process is not None
    event_id, seats = faults.create_event(200)
    [sources] = _children(faults.stack.process.pid, "local.event_sources")
    warm = Load(faults.base, event_id, seats[:10]).start()  # the pollers' workers started
    warm.stop()
    _await(lambda: _all_admitted(faults, warm), 30, "the first fans admitted")
    workers = _children(sources, "lambda_worker")
    assert workers, "the event sources had no workers to leave behind"
    mark = len(faults.stack.lines)
    killed_at = time.monotonic()
    os.kill(sources, signal.SIGKILL)
    faults.stack.wait_for("event sources restarted", 30, mark)
    back = time.monotonic() - killed_at
    [again] = _children(faults.stack.process.pid, "local.event_sources")
    assert again != sources
    # the dead process's workers went with it (their parent's pipe closed)
    _await(lambda: not set(workers) & set(processes_tagged("lambda_worker")), 15, "gone")
    load = Load(faults.base, event_id, seats[10:70]).start()
    time.sleep(1.5)
    load.stop()
    assert load.statuses()[201] == len(load.created) > 0, load.statuses()
    took = _await(lambda: _all_admitted(faults, load), 45, "all admitted")
    _assert_admitted_in_order_once_each(load, _admissions(faults, load))
    counts = faults.check_invariants(event_id)
    print(
        f"\nevent sources killed, running again in {back:.1f} s; {len(load.created)} fans"
        f" after it all admitted once each in order ({took:.1f} s); invariants hold: {counts}"
    )
