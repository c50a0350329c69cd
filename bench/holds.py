"""The hold through `SeatStore` against pgbench running the same statements.

Every hold takes one random seat of the event with a hold that lapses at once (held_until
just before `now`), so every attempt succeeds and the seat is free again for the next one:
the figures are the cost of a successful hold, for a 100-seat and a 100,000-seat event.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from uuid import UUID, uuid4

from psycopg_pool import ConnectionPool

from bench.measure import Run, measured, median, pgbench, set_baseline
from boxoffice.models.events import EventSpec, SeatSpec
from boxoffice.stores.events import EventStore, line_sequence
from boxoffice.stores.seats import HOLD, SeatStore

SECONDS = float(os.environ.get("BENCH_SECONDS", "2"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SIZES = (100, 100_000)
CLIENTS = (1, 8)

# The hold as it was before this change: five round trips.
OLD_TRANSACTION = """\\set n random(0, :seats - 1)
BEGIN;
SELECT seat_id FROM seats WHERE event_id = :event AND seat_id = ANY(ARRAY['S-' || (:n)::text]) ORDER BY seat_id FOR UPDATE;
UPDATE seats SET status = 'held', checkout_id = gen_random_uuid(), held_until = now() - interval '1 minute' WHERE event_id = :event AND seat_id = ANY(ARRAY['S-' || (:n)::text]) AND (status = 'available' OR (status = 'held' AND held_until <= now())) RETURNING seat_id, section, row_label AS row, number, price_cents;
SELECT nextval((:line)::regclass), admitted_seq, next_admission_at FROM events WHERE id = :event;
END;
"""  # noqa: E501

UPDATE_ONLY = """\\set n random(0, :seats - 1)
UPDATE seats SET status = 'held', checkout_id = gen_random_uuid(), held_until = now() - interval '1 minute' WHERE event_id = :event AND seat_id = ANY(ARRAY['S-' || (:n)::text]) AND (status = 'available' OR (status = 'held' AND held_until <= now())) RETURNING seat_id, section, row_label AS row, number, price_cents;
"""  # noqa: E501


def new_statement() -> str:
    """`SeatStore.HOLD` as a pgbench script: the same call, pgbench's variables."""
    text = (
        HOLD.replace("%(ids)s", "ARRAY['S-' || :n]")
        .replace("%(event)s", "(:event)::uuid")
        .replace("%(checkout)s", "gen_random_uuid()")
        .replace("%(until)s", "(now() - interval '1 minute')")
        .replace("%(now)s", "now()")
        .replace("%(line)s", "(:line)")
        .replace("%(client)s", "NULL")
        .replace("%(cap)s", "NULL")
    )
    return "\\set n random(0, :seats - 1)\n" + text + ";\n"


def make_event(events: EventStore, seats: int) -> UUID:
    spec = EventSpec.model_construct(
        name="bench",
        venue="bench",
        starts_at=datetime(2031, 1, 1, 20, tzinfo=UTC),
        hold_seconds=600,
        checkout_seconds=300,
        admission_per_second=1000,
        seats=[
            SeatSpec.model_construct(
                seat_id=f"S-{n}", section="Floor", row=str(n // 50), number=n, price_cents=100
            )
            for n in range(seats)
        ],
    )
    event_id = uuid4()
    events.create(event_id, spec)
    return event_id


def store_run(
    pool: ConnectionPool, event_id: UUID, seats: int, threads: int, capped: bool = False
) -> Run:
    """Each thread holds on a connection of its own, as pgbench's clients do. `capped`: each
    hold as a fan's (a client address each, within the event's cap), so it takes the
    client's advisory lock first, as the create-checkout handler's do."""
    counts = [0] * threads
    start = threading.Barrier(threads + 1)

    def fan(n: int) -> None:
        with pool.connection() as conn:
            holds(SeatStore(lambda: contextlib.nullcontext(conn)), n)

    def holds(store: SeatStore, n: int) -> None:
        rng = random.Random(n)
        start.wait()
        deadline = datetime.now(UTC) + timedelta(seconds=SECONDS)
        while True:
            now = datetime.now(UTC)
            if now >= deadline:
                return
            seat = f"S-{rng.randrange(seats)}"
            client = f"10.{n}.{counts[n] // 256 % 256}.{counts[n] % 256}" if capped else None
            store.hold(
                event_id,
                [seat],
                uuid4(),
                now - timedelta(minutes=1),
                now,
                client=client,
                max_held=20 if capped else None,
            )
            counts[n] += 1

    with ThreadPoolExecutor(threads) as workers:
        futures = [workers.submit(fan, n) for n in range(threads)]
        with measured(POSTMASTER[0]) as run:
            start.wait()
            for future in futures:
                future.result()
        run.count = sum(counts)
    return run


def pgbench_run(url: str, script: str, event_id: UUID, seats: int, clients: int) -> Run:
    variables = {"event": str(event_id), "seats": str(seats), "line": line_sequence(event_id)}
    with measured(POSTMASTER[0]) as run:
        count, seconds = pgbench(url, script, clients, SECONDS, variables)
    run.count, run.seconds = count, seconds
    return run


POSTMASTER: list[int | None] = [None]


@dataclass
class Figures:
    runs: dict[tuple[str, int, int], list[Run]] = field(default_factory=dict)

    def add(self, key: tuple[str, int, int], run: Run) -> None:
        self.runs.setdefault(key, []).append(run)

    def rate(self, kind: str, size: int, clients: int) -> float:
        return median([r.rate for r in self.runs[(kind, size, clients)]])

    def db_ms(self, kind: str, size: int, clients: int) -> float:
        return median([r.per(r.db_cpu) for r in self.runs[(kind, size, clients)]])

    def own_ms(self, kind: str, size: int, clients: int) -> float:
        return median([r.per(r.own_cpu) for r in self.runs[(kind, size, clients)]])


KINDS = {
    "pgbench-old": "pgbench, the old 5-round-trip hold transaction",
    "pgbench-update": "pgbench, the conditional UPDATE alone",
    "pgbench-hold": "pgbench, SeatStore's hold (one hold_seats call)",
    "SeatStore": "SeatStore.hold (psycopg, a connection per thread)",
    "SeatStore-capped": "SeatStore.hold as a fan's (+ the client's lock)",
}


def run_all(url: str, pool: ConnectionPool, postmaster: int) -> Figures:
    POSTMASTER[0] = postmaster
    set_baseline(postmaster)
    events = EventStore(pool.connection)
    targets = {size: make_event(events, size) for size in SIZES}
    with pool.connection() as conn:
        conn.execute("VACUUM ANALYZE seats")
    scripts = {
        "pgbench-old": OLD_TRANSACTION,
        "pgbench-update": UPDATE_ONLY,
        "pgbench-hold": new_statement(),
    }
    figures = Figures()

    def vacuumed(run: Callable[[], Run]) -> Run:
        with pool.connection() as conn:
            conn.execute("VACUUM seats")
        return run()

    with without_autovacuum(pool):
        for _ in range(ROUNDS):
            for size, event_id in targets.items():
                for clients in CLIENTS:
                    for kind, script in scripts.items():
                        run = vacuumed(partial(pgbench_run, url, script, event_id, size, clients))
                        figures.add((kind, size, clients), run)
                    figures.add(
                        ("SeatStore", size, clients),
                        vacuumed(partial(store_run, pool, event_id, size, clients)),
                    )
                    figures.add(
                        ("SeatStore-capped", size, clients),
                        vacuumed(partial(store_run, pool, event_id, size, clients, capped=True)),
                    )
    return figures


@contextmanager
def without_autovacuum(pool: ConnectionPool) -> Iterator[None]:
    """No autovacuum of the seats table while the runs go on: each run starts on a table
    just vacuumed (untimed), as pgbench vacuums before its own runs, so no run's Postgres
    CPU includes a vacuum of the rows an earlier run left dead."""
    with pool.connection() as conn:
        conn.execute("ALTER TABLE seats SET (autovacuum_enabled = false)")
    try:
        yield
    finally:
        with pool.connection() as conn:
            conn.execute("ALTER TABLE seats RESET (autovacuum_enabled)")


def report(figures: Figures) -> dict[str, float]:
    """Print the hold figures; return the ones later parts compare against."""
    print(f"\n== holds: SeatStore vs pgbench on the same statements (medians of {ROUNDS} rounds,")
    print(f"   {SECONDS:g} s each, interleaved; -M prepared; every hold succeeds; each run on")
    print("   a table just vacuumed, autovacuum off for it meanwhile)")
    print(f"{'path':<52} {'seats':>7} {'c':>2} {'holds/s':>9} {'DB ms/hold':>10}")
    for kind, label in KINDS.items():
        for size in SIZES:
            for clients in CLIENTS:
                print(
                    f"{label:<52} {size:>7} {clients:>2} {figures.rate(kind, size, clients):>9.0f}"
                    f" {figures.db_ms(kind, size, clients):>10.3f}"
                )
    print("  holds/s: successful holds per second, wall clock;")
    print("  DB ms/hold: CPU of every Postgres backend over the run, per hold.")
    print("ratios (target in brackets):")
    big, small = SIZES[-1], SIZES[0]
    for size in SIZES:
        store1 = figures.rate("SeatStore", size, 1)
        store8 = figures.rate("SeatStore", size, 8)
        capped1 = figures.rate("SeatStore-capped", size, 1)
        print(
            f"  {size:>7} seats: SeatStore c=1 / pgbench old c=1"
            f" {store1 / figures.rate('pgbench-old', size, 1):.2f} [>= 0.8];"
            f" / pgbench same statement c=1 {store1 / figures.rate('pgbench-hold', size, 1):.2f};"
            f" as a fan's / pgbench old c=1 {capped1 / figures.rate('pgbench-old', size, 1):.2f}"
        )
        print(
            f"  {size:>7} seats: SeatStore 8 threads / 1 connection {store8 / store1:.2f}"
            f" [>= 1.5]; c=8 / pgbench same statement c=8"
            f" {store8 / figures.rate('pgbench-hold', size, 8):.2f}"
        )
        print(
            f"  {size:>7} seats: DB CPU per hold, SeatStore / pgbench old transaction"
            f" {figures.db_ms('SeatStore', size, 1) / figures.db_ms('pgbench-old', size, 1):.2f}"
            f" (c=1), {figures.db_ms('SeatStore', size, 8) / figures.db_ms('pgbench-old', size, 8):.2f}"  # noqa: E501
            " (c=8) [<= 1.3]"
        )
        print(
            f"  {size:>7} seats: Python CPU per hold in SeatStore"
            f" {figures.own_ms('SeatStore', size, 1):.3f} ms (c=1),"
            f" {figures.own_ms('SeatStore', size, 8):.3f} ms (c=8)"
        )
    for clients in CLIENTS:
        rate = figures.rate("SeatStore", big, clients) / figures.rate("SeatStore", small, clients)
        db = figures.db_ms("SeatStore", big, clients) / figures.db_ms("SeatStore", small, clients)
        print(
            f"  scaling c={clients}: {big}-seat / {small}-seat event: holds/s {rate:.2f},"
            f" DB CPU per hold {db:.2f} [within 0.8-1.2]"
        )
    return {
        "store_ms": 1000 / figures.rate("SeatStore", big, 1),
        "capped_ms": 1000 / figures.rate("SeatStore-capped", big, 1),
        "store_cpu_ms": figures.own_ms("SeatStore", big, 1),
    }
