"""Measuring helpers: CPU of processes from /proc, pgbench runs, percentiles, medians."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from local.postgres import _binary

TICK = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from the 3rd (state) on


def _children(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields and int(fields[1]) == parent:
                found.append(int(entry))
    return found


def _descendants(root: int) -> list[int]:
    """Every live process under `root` (children, their children...), from one /proc scan."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def tree_cpu(root: int) -> float:
    """CPU seconds used by `root` and every process under it, live or exited (reaped): for
    the postmaster, every backend's; for the stack, the event sources' workers too."""
    total = 0
    for pid in [root, *_descendants(root)]:
        fields = _stat(pid)
        if fields:
            # utime, stime, cutime, cstime are fields 14-17 (index 11-14 from the state field)
            total += sum(int(v) for v in fields[11:15])
    return total / TICK


def children_cpu(root: int) -> dict[str, float]:
    """CPU seconds of `root` and of each live process under it, by what it runs (moto, the
    event sources, a function...)."""
    found: dict[str, float] = {}

    def add(pid: int, name: str) -> None:
        fields = _stat(pid)
        if fields:
            found[name] = found.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / TICK

    add(root, "gateway (stack process)")
    for child in _descendants(root):
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [a.decode(errors="replace") for a in argv if a]
        if "local.moto_server" in words:
            add(child, "moto")
        elif "local.event_sources" in words:
            add(child, "event-source pollers (their process)")
        elif "local.lambda_worker" in words:
            module = words[words.index("local.lambda_worker") + 2]
            add(child, module.removeprefix("functions.").removesuffix(".app"))
        else:
            add(child, " ".join(words[1:3]))
    return found


def machine_cpu() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in first]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / TICK


def self_cpu() -> float:
    times = os.times()
    return times.user + times.system


def postmaster_pid(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        fields = _stat(int(row[0]))  # while the backend lives: it exits with the connection
    assert fields is not None
    return int(fields[1])


@dataclass
class Run:
    """One measured run: how many holds (or calls) in how long, and the CPU they used."""

    count: int
    seconds: float
    db_cpu: float = 0.0  # CPU seconds of Postgres (all backends)
    own_cpu: float = 0.0  # CPU seconds of this process
    machine_cpu: float = 0.0  # CPU seconds of the whole machine
    latencies: list[float] | None = None

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def per(self, cpu: float) -> float:
        """`cpu` seconds as milliseconds per hold."""
        return 1000 * cpu / self.count if self.count else float("nan")


@contextmanager
def measured(postmaster: int | None) -> Iterator[Run]:
    """Fill a Run's seconds and CPU figures over the block (the block sets `count`)."""
    run = Run(0, 0.0)
    if postmaster:
        settle(postmaster)
    db0 = tree_cpu(postmaster) if postmaster else 0.0
    own0, machine0, began = self_cpu(), machine_cpu(), time.perf_counter()
    yield run
    run.seconds = time.perf_counter() - began
    run.own_cpu = self_cpu() - own0
    run.machine_cpu = machine_cpu() - machine0
    if postmaster:
        settle(postmaster)
        run.db_cpu = tree_cpu(postmaster) - db0


def settle(postmaster: int, timeout: float = 3.0) -> None:
    """Wait until backends of clients that left have ended and been reaped, so that their
    CPU is counted in the run that used them (as the postmaster's children's time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = [(_stat(pid) or ["X"])[0] for pid in _children(postmaster)]
        if "Z" not in states and len(states) <= _BASELINE.get(postmaster, len(states)):
            return
        time.sleep(0.02)


_BASELINE: dict[int, int] = {}


def set_baseline(postmaster: int) -> None:
    """The postmaster's children when no benchmark client is connected but the pool."""
    _BASELINE[postmaster] = len(_children(postmaster))


_DONE = re.compile(r"number of transactions actually processed: (\d+)")
_TPS = re.compile(r"tps = ([0-9.]+) \(without initial connection time\)")


def pgbench(
    url: str, script: str, clients: int, seconds: float, variables: dict[str, str]
) -> tuple[int, float]:
    """Run pgbench (prepared statements) with `script`; return (transactions, seconds of
    work, its connection set-up left out, as pgbench reports its tps)."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as handle:
        handle.write(script)
        path = handle.name
    try:
        os.chmod(path, 0o644)
        command = [
            _binary("pgbench"),
            "-n",
            "-M",
            "prepared",
            "-c",
            str(clients),
            "-j",
            str(min(clients, 2)),
            "-T",
            str(max(1, round(seconds))),
            "-f",
            path,
            *[arg for name, value in variables.items() for arg in ("-D", f"{name}={value}")],
            url,
        ]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
    finally:
        os.unlink(path)
    count, tps = _DONE.search(done.stdout), _TPS.search(done.stdout)
    if not (count and tps):
        raise RuntimeError(f"pgbench said: {done.stdout}\n{done.stderr}")
    return int(count.group(1)), int(count.group(1)) / float(tps.group(1))


def loop_for(seconds: float, body: Callable[[], None]) -> int:
    """Call `body` until `seconds` have passed; return how many times it ran."""
    deadline = time.perf_counter() + seconds
    count = 0
    while time.perf_counter() < deadline:
        body()
        count += 1
    return count
