"""Seat-hold throughput and latency on a real Postgres, under contention.

Figures, not assertions: how many holds per second the seat store decides, how long a fan
waits for an answer (p50/p99), and how a storm of fans on a single seat resolves.
Run with `make bench` (it starts a throwaway Postgres; `BENCH_DATABASE_URL` to use yours),
which then runs bench/admission.py: admission pacing through the local stack.
"""

from __future__ import annotations

import os
import random
import resource
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import psycopg
from psycopg_pool import ConnectionPool

from bench import admission
from boxoffice.errors import SeatsUnavailable
from boxoffice.models.events import EventSpec
from boxoffice.stores.events import EventStore
from boxoffice.stores.migrate import migrate
from boxoffice.stores.seats import SeatStore
from local.postgres import throwaway_database

THREADS = int(os.environ.get("BENCH_THREADS", "32"))
ATTEMPTS = int(os.environ.get("BENCH_ATTEMPTS", "4000"))


@contextmanager
def database() -> Iterator[str]:
    given = os.environ.get("BENCH_DATABASE_URL")
    if given:
        yield given
        return
    with throwaway_database("bench") as url:
        yield url


def make_event(events: EventStore, seats: int) -> tuple[object, list[str]]:
    ids = [f"S-{n}" for n in range(seats)]
    spec = EventSpec.model_validate(
        {
            "name": "bench",
            "venue": "bench",
            "starts_at": "2031-01-01T20:00:00Z",
            "seats": [
                {"seat_id": s, "section": "S", "row": str(n // 50), "number": n, "price_cents": 1}
                for n, s in enumerate(ids)
            ],
        }
    )
    event_id = uuid4()
    events.create(event_id, spec)
    return event_id, ids


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run(seats: SeatStore, event_id: object, choose, attempts: int, threads: int):
    latencies: list[float] = []
    outcomes = {"held": 0, "refused": 0}
    lock = threading.Lock()
    start = threading.Barrier(threads)
    now = datetime.now(UTC)
    until = now + timedelta(minutes=10)

    def fan(n: int) -> None:
        rng = random.Random(n)
        start.wait()
        for _ in range(attempts // threads):
            began = time.perf_counter()
            try:
                seats.hold(event_id, choose(rng), uuid4(), until, now)  # type: ignore[arg-type]
                result = "held"
            except SeatsUnavailable:
                result = "refused"
            took = time.perf_counter() - began
            with lock:
                latencies.append(took)
                outcomes[result] += 1

    began = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(fan, range(threads)))
    elapsed = time.perf_counter() - began
    return elapsed, latencies, outcomes


def report(name: str, elapsed: float, latencies: list[float], outcomes: dict[str, int]) -> None:
    total = len(latencies)
    print(
        f"{name:<34} {total:>6} holds in {elapsed:6.2f} s = {total / elapsed:8.0f}/s"
        f"  p50 {statistics.median(latencies) * 1000:6.2f} ms"
        f"  p99 {percentile(latencies, 0.99) * 1000:7.2f} ms"
        f"  held {outcomes['held']:>5}  refused {outcomes['refused']:>5}"
    )


def main() -> None:
    with database() as url:
        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn)
        with ConnectionPool(
            url, min_size=THREADS, max_size=THREADS, kwargs={"autocommit": True}
        ) as pool:
            events, seats = EventStore(pool.connection), SeatStore(pool.connection)
            print(f"threads {THREADS}, attempts per scenario {ATTEMPTS}")

            event_id, ids = make_event(events, 20_000)
            report(
                "spread: 2 random of 20,000 seats",
                *run(seats, event_id, lambda r: r.sample(ids, 2), ATTEMPTS, THREADS),
            )
            event_id, ids = make_event(events, 200)
            report(
                "hot: 1-4 of 200 seats",
                *run(seats, event_id, lambda r: r.sample(ids, r.randint(1, 4)), ATTEMPTS, THREADS),
            )
            event_id, ids = make_event(events, 1)
            report(
                "storm: every fan on one seat",
                *run(seats, event_id, lambda r: ids, ATTEMPTS, THREADS),
            )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the benchmark process: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
    admission.main()
