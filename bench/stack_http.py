"""The local stack over HTTP: holds of distinct seats by 8 / 32 / 128 clients, 500 fans on
one seat, and the 20,000-seat map, with the machine's CPU per request.

Starts `python -m local` on free ports against the given database. Each client keeps one
HTTP/1.1 connection open, as a browser does. Machine CPU is all cores' busy time over the
run of the stack's processes (gateway, moto, workers), Postgres and the benchmark's own
HTTP clients (shown apart), so other work on the machine is not counted; admission is
included: after the clients stop, the run lasts until the admission queue is empty.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import Any

import psycopg

from bench.measure import children_cpu, median, percentile, self_cpu, tree_cpu
from boxoffice.stores.events import EventStore
from local.postgres import free_port

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-admin-key"
SECONDS = float(os.environ.get("BENCH_HTTP_SECONDS", "5"))
CLIENTS = tuple(int(c) for c in os.environ.get("BENCH_HTTP_CLIENTS", "8,32,128").split(","))
STORM = int(os.environ.get("BENCH_STORM_FANS", "500"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


class Stack:
    def __init__(self, database_url: str, postmaster: int | None) -> None:
        self.postmaster = postmaster
        self.database_url = database_url
        self._db: psycopg.Connection[tuple[Any, ...]] | None = None
        self.port = free_port()
        env = {
            **os.environ,
            "PORT": str(self.port),
            "DATABASE_URL": database_url,
            "ADMIN_API_KEY": KEY,
            "SEED_DEMO": "0",
            "LOCAL_RELOAD": "0",
            "LAMBDA_PREWARM": "0",  # instances start with the warm-up round instead
            "MAX_BODY_BYTES": str(8 * 1024 * 1024),  # a 20,000-seat event in one POST
            "PYTHONUNBUFFERED": "1",
            # the benchmarks measure the stack, not the stage's per-client throttling
            "GATEWAY_THROTTLING": "0",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local"],
            cwd=ROOT,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        self.moto = ""
        self.queue = ""
        for line in self.process.stdout:
            found = re.search(r"moto\s+(http://\S+)", line)
            if found:
                self.moto = found.group(1)
            if "queue" in line and "admission" in line and "dead" not in line.lower():
                self.queue = line.split()[-1]
            if "ready on" in line:
                break
        else:
            raise RuntimeError("the local stack did not start")
        # keep reading its log (one line per invocation), or it blocks on a full pipe
        threading.Thread(target=self.process.stdout.read, daemon=True).start()

    def cpu(self) -> float:
        """CPU seconds of the stack's processes (itself, moto, the workers) and Postgres."""
        return tree_cpu(self.process.pid) + (tree_cpu(self.postmaster) if self.postmaster else 0)

    def stop(self) -> None:
        if self._db is not None:
            self._db.close()
        self.process.terminate()
        self.process.wait(30)

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def admitted_all(self) -> bool:
        """Whether the admission consumer has passed every place handed out (read from
        Postgres, so that waiting adds no work to moto)."""
        if self._db is None or self._db.closed:
            self._db = psycopg.connect(self.database_url, autocommit=True)
        db = self._db
        lines = EventStore(lambda: contextlib.nullcontext(db)).line_ends()
        return all(dealt >= handed_out for dealt, handed_out in lines.values())

    def settle(self) -> None:
        """VACUUM ANALYZE the seats a new event added, so that autovacuum does not run (and
        count) inside a measurement."""
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE seats")

    def wait_drained(self, timeout: float = 120) -> float:
        began = time.perf_counter()
        while not self.admitted_all() and time.perf_counter() - began < timeout:
            time.sleep(0.1)
        return time.perf_counter() - began


def call(
    conn: http.client.HTTPConnection, method: str, path: str, body: Any = None, **headers: str
) -> tuple[int, Any]:
    data = json.dumps(body) if body is not None else None
    conn.request(method, path, body=data, headers={"content-type": "application/json", **headers})
    answer = conn.getresponse()
    payload = answer.read()
    return answer.status, json.loads(payload) if payload else None


def event_body(seats: int, admission_per_second: float) -> dict[str, Any]:
    """A bench event: seats S-0, S-1... at 100 each, no cap on what one client holds
    (every bench client is 127.0.0.1)."""
    return {
        "name": "bench",
        "venue": "bench",
        "starts_at": "2031-01-01T20:00:00Z",
        "max_held_per_client": 10_000,
        "admission_per_second": admission_per_second,
        "seats": [
            {
                "seat_id": f"S-{n}",
                "section": "Floor",
                "row": str(n // 50),
                "number": n,
                "price_cents": 100,
            }
            for n in range(seats)
        ],
    }


def make_event(stack: Stack, seats: int, admission_per_second: float = 1000) -> str:
    conn = stack.connection()
    status, event = call(
        conn, "POST", "/events", event_body(seats, admission_per_second), **{"x-api-key": KEY}
    )
    assert status == 201, event
    return str(event["id"])


BREAKDOWN: dict[int, list[dict[str, float]]] = {}


def holds(stack: Stack, event_id: str, clients: int, seats: count[int]) -> dict[str, float]:
    """Holds of distinct seats by `clients` in a closed loop, then the admission queue
    drained: the machine's CPU per hold counts both, by process."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def hold(conn: http.client.HTTPConnection, _: int) -> None:
        seat = f"S-{next(seats)}"
        began = time.perf_counter()
        status, _body = call(conn, "POST", f"/events/{event_id}/checkouts", {"seat_ids": [seat]})
        took = time.perf_counter() - began
        with lock:
            latencies.append(took)
            statuses[status] = statuses.get(status, 0) + 1

    stack0, own0, parts0 = stack.cpu(), self_cpu(), children_cpu(stack.process.pid)
    pg0 = tree_cpu(stack.postmaster) if stack.postmaster else 0.0
    run = closed_loop(stack, clients, hold)
    drain = stack.wait_drained()
    own = self_cpu() - own0
    machine = stack.cpu() - stack0 + own
    done = statuses.get(201, 0)
    parts = {k: v - parts0.get(k, 0.0) for k, v in children_cpu(stack.process.pid).items()}
    parts["Postgres"] = (tree_cpu(stack.postmaster) if stack.postmaster else 0.0) - pg0
    parts["benchmark clients"] = own
    BREAKDOWN.setdefault(clients, []).append(
        {k: 1000 * v / max(done, 1) for k, v in parts.items() if v > 0}
    )
    return {
        "rate": run["rate"] * done / max(len(latencies), 1),
        "p50": median(latencies),
        "p99": percentile(latencies, 0.99),
        "cpu": 1000 * machine / max(done, 1),
        "client_cpu": 1000 * own / max(done, 1),
        "drain": drain,
        "errors": sum(n for s, n in statuses.items() if s != 201),
    }


def storm(stack: Stack, fans: int) -> dict[str, float]:
    event_id = make_event(stack, 1)
    results: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(fans + 1)
    ended = [0.0]

    def fan() -> None:
        conn = stack.connection()
        conn.connect()
        start.wait()
        status, _ = call(conn, "POST", f"/events/{event_id}/checkouts", {"seat_ids": ["S-0"]})
        with lock:
            results.append(status)
            ended[0] = max(ended[0], time.perf_counter())
        conn.close()

    threads = [threading.Thread(target=fan, daemon=True) for _ in range(fans)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    return {
        "seconds": ended[0] - began,
        "won": results.count(201),
        "refused": results.count(409),
        "other": len(results) - results.count(201) - results.count(409),
    }


def closed_loop(
    stack: Stack, clients: int, request: Callable[[http.client.HTTPConnection, int], None]
) -> dict[str, float]:
    """`clients` threads, each on its own connection, repeating `request(conn, client)` for
    SECONDS: requests per second and machine CPU per request (stack, Postgres, clients)."""
    done = [0]
    lock = threading.Lock()
    deadline = [0.0]
    start = threading.Barrier(clients + 1)

    def client(index: int) -> None:
        conn = stack.connection()
        start.wait()
        while time.perf_counter() < deadline[0]:
            request(conn, index)
            with lock:
                done[0] += 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    cpu0 = stack.cpu() + self_cpu()
    began = time.perf_counter()
    deadline[0] = began + SECONDS
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    return {
        "rate": done[0] / elapsed,
        "cpu": 1000 * (stack.cpu() + self_cpu() - cpu0) / max(done[0], 1),
    }


def seat_map(
    stack: Stack, clients: int = 8, revalidate: bool = False, event_id: str | None = None
) -> dict[str, float]:
    """Polls of one 20,000-seat map; with `revalidate`, as a browser or the edge repeats
    them: If-None-Match with the ETag it has (304 while the map is unchanged)."""
    event_id = event_id or make_event(stack, 20_000)
    etags = [""] * clients
    size = [0]

    def poll(conn: http.client.HTTPConnection, client: int) -> None:
        sent = {"If-None-Match": etags[client]} if revalidate and etags[client] else {}
        conn.request("GET", f"/events/{event_id}/seats", headers=sent)
        answer = conn.getresponse()
        size[0] = len(answer.read())
        etags[client] = answer.getheader("ETag") or ""

    return {**closed_loop(stack, clients, poll), "mb": size[0] / 1e6}


def polls(stack: Stack, clients: int = 8, fans: int = 40) -> dict[str, float]:
    """The polling path: fans waiting in line (an event admitting one fan a minute) poll
    their checkout; the line state is read from Postgres at most once a second."""
    event_id = make_event(stack, fans, admission_per_second=1 / 60)
    conn = stack.connection()
    waiting = []
    for n in range(fans):
        status, body = call(conn, "POST", f"/events/{event_id}/checkouts", {"seat_ids": [f"S-{n}"]})
        assert status == 201, body
        waiting.append((body["checkout_id"], body["token"]))
    turn = count()

    def poll(conn: http.client.HTTPConnection, client: int) -> None:
        checkout_id, token = waiting[next(turn) % fans]
        call(conn, "GET", f"/checkouts/{checkout_id}", authorization=f"Bearer {token}")

    return closed_loop(stack, clients, poll)


def refusals(stack: Stack, fans: int = 4, bodies: int = 8) -> dict[str, float]:
    """Invariant 9: huge requests (60,000 seat ids, 575 KiB) refused while fans hold seats;
    the fans' latency with and without them beside."""
    event_id = make_event(stack, 5_000)
    seats = count()
    waits: dict[str, list[float]] = {"alone": [], "beside": []}
    stop = threading.Event()

    def fan(phase: str) -> None:
        conn = stack.connection()
        while not stop.is_set():
            began = time.perf_counter()
            call(conn, "POST", f"/events/{event_id}/checkouts", {"seat_ids": [f"S-{next(seats)}"]})
            waits[phase].append(time.perf_counter() - began)

    huge = {"seat_ids": [f"X-{n}" for n in range(60_000)]}
    refused: list[float] = []
    warm = stack.connection()
    for _ in range(2 * fans):  # start the function's instances first, as in holds()
        call(warm, "POST", f"/events/{event_id}/checkouts", {"seat_ids": [f"S-{next(seats)}"]})
    for phase in ("alone", "beside"):
        stop.clear()
        threads = [threading.Thread(target=fan, args=(phase,), daemon=True) for _ in range(fans)]
        for thread in threads:
            thread.start()
        if phase == "beside":
            for _ in range(bodies):
                began = time.perf_counter()
                status, _ = call(stack.connection(), "POST", f"/events/{event_id}/checkouts", huge)
                assert status == 400, status
                refused.append(time.perf_counter() - began)
        else:
            time.sleep(SECONDS / 2)
        stop.set()
        for thread in threads:
            thread.join()
    return {
        "refused_p50": median(refused),
        "refused_max": max(refused),
        "alone_p50": median(waits["alone"]),
        "alone_p99": percentile(waits["alone"], 0.99),
        "beside_p50": median(waits["beside"]),
        "beside_p99": percentile(waits["beside"], 0.99),
    }


def run(database_url: str, postmaster: int | None, handler_rate: float | None) -> None:
    stack = Stack(database_url, postmaster)
    try:
        event_id = make_event(stack, 20_000)
        seats = count()
        print("\n== the local stack over HTTP (one connection per client, distinct seats)")
        print(
            f"{'clients':>7} {'holds/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'CPU ms/hold':>11}"
            f" {'of it client':>12} {'drain s':>7} {'non-201':>7}  vs handler in process"
        )
        holds(stack, event_id, 8, seats)  # warm up: start the instances, as a sale's first fans do
        BREAKDOWN.clear()
        runs: dict[int, list[dict[str, float]]] = {clients: [] for clients in CLIENTS}
        for _ in range(ROUNDS):  # interleaved, as the holds' rounds are
            event_id, seats = make_event(stack, 20_000), count()  # within the client's cap
            stack.settle()
            for clients in CLIENTS:
                runs[clients].append(holds(stack, event_id, clients, seats))
        for clients in CLIENTS:
            got = {key: median([run[key] for run in runs[clients]]) for key in runs[clients][0]}
            cpus = [run["cpu"] for run in runs[clients]]
            errors = sum(run["errors"] for run in runs[clients])
            ratio = f"{got['rate'] / handler_rate:.2f}" if handler_rate else "-"
            print(
                f"{clients:>7} {got['rate']:>8.0f} {1000 * got['p50']:>7.0f}"
                f" {1000 * got['p99']:>7.0f} {got['cpu']:>11.1f} {got['client_cpu']:>12.1f}"
                f" {got['drain']:>7.1f} {errors:>7.0f}  {ratio}"
                f"   (CPU {min(cpus):.1f}-{max(cpus):.1f})"
            )
        print(f"  medians of {ROUNDS} interleaved rounds of {SECONDS:.0f} s; non-201: all rounds.")
        print("  holds/s: 201s per second; p50/p99: a client's wait; CPU ms/hold: stack + moto +")
        print("  workers + Postgres + clients, until the admission queue is empty [<= 20 at 32];")
        print("  of it client: this benchmark's own HTTP clients; drain s: admission catching up;")
        print("  vs handler in process: holds/s over the in-process handler's (one at a time).")
        print("  targets: >= 100 holds/s at 32 clients, p99 < 1 s")
        print("  where the CPU goes (ms per hold, by process, medians of the rounds):")
        for clients in CLIENTS:
            rounds = BREAKDOWN.get(clients, [])
            names = {name for parts in rounds for name in parts}
            parts = {name: median([r.get(name, 0.0) for r in rounds]) for name in names}
            shown = ", ".join(f"{k} {v:.1f}" for k, v in sorted(parts.items(), key=lambda i: -i[1]))
            print(f"    {clients:>3} clients: {shown}")
        got = storm(stack, STORM)
        print(
            f"\n== {STORM} fans on one seat at once: resolved in {got['seconds']:.2f} s [< 2 s],"
            f" {got['won']:.0f} winner, {got['refused']:.0f} x 409, {got['other']:.0f} other"
        )
        map_event = make_event(stack, 20_000)
        got = seat_map(stack, event_id=map_event)
        print(
            f"\n== seat map of 20,000 seats over HTTP, 8 clients: {got['rate']:.1f}/s,"
            f" {got['cpu']:.0f} ms CPU each (stack, Postgres, client), {got['mb']:.2f} MB"
        )
        again = seat_map(stack, revalidate=True, event_id=map_event)
        print(
            f"   revalidated (If-None-Match, 304): {again['rate']:.1f}/s,"
            f" {again['cpu']:.1f} ms CPU each = {again['cpu'] / got['cpu']:.2f} x a full read"
        )
        got = polls(stack)
        print(
            f"\n== queued fans polling GET /checkouts/{{id}}, 8 clients: {got['rate']:.0f}/s,"
            f" {got['cpu']:.1f} ms CPU each (the line read from Postgres at most once a second)"
        )
        got = refusals(stack)
        print(
            f"\n== 60,000-seat-id bodies refused beside 4 fans holding:"
            f" p50 {1000 * got['refused_p50']:.0f} ms,"
            f" worst {1000 * got['refused_max']:.0f} ms [< 100];"
            f" the fans' p50/p99 {1000 * got['beside_p50']:.0f}/{1000 * got['beside_p99']:.0f} ms"
            f" beside them, {1000 * got['alone_p50']:.0f}/{1000 * got['alone_p99']:.0f} ms alone"
        )
    finally:
        stack.stop()
