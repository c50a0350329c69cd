"""The local stack as the tests run it: `python -m local` as a subprocess on free ports and a
database of its own, and HTTP to it."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from local.postgres import free_port

ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "test-stack-admin-key"
ADMIN = {"x-api-key": ADMIN_KEY}  # the header of the admin routes (POST /events)


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]
    raw: bytes


def http(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
    token: str | None = None,
    timeout: float = 30,
) -> Answer:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    sent = {"Content-Type": "application/json", **(headers or {})}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base + path, data=data, method=method, headers=sent)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            payload, status, got = answer.read(), answer.status, dict(answer.headers)
    except urllib.error.HTTPError as error:
        payload, status, got = error.read(), error.code, dict(error.headers)
    try:
        decoded = json.loads(payload) if payload else None
    except ValueError:
        decoded = None
    return Answer(status, decoded, got, payload)


class StackProcess:
    """`python -m local` with its output collected line by line."""

    def __init__(self, env: dict[str, str], args: tuple[str, ...] = ()) -> None:
        self.env = env
        self.args = args
        self.database_url = env.get("DATABASE_URL")
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.process: subprocess.Popen[str] | None = None
        self.port = int(env["PORT"])
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> StackProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local", *self.args],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        self.wait_for("ready", timeout)
        return self

    def _read(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_for(self, text: str | re.Pattern[str], timeout: float, start: int = 0) -> str:
        """The first output line (from line `start` on) containing `text` or matching it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines[start:]:
                    if text in line if isinstance(text, str) else text.search(line):
                        return line
                assert self.process is not None
                if self.process.poll() is not None:
                    raise AssertionError(f"the stack exited:\n{self.output_unlocked()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"no {text!r} within {timeout} s:\n{self.output_unlocked()}"
                    )
                self._changed.wait(min(remaining, 0.5))

    def output_unlocked(self) -> str:
        return "\n".join(self.lines)

    def stop(self, timeout: float = 30) -> int:
        """SIGINT, as Ctrl-C does; returns the exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"the stack did not stop:\n{self.output}") from None
        time.sleep(0.1)  # let the reader take the last lines
        return int(self.process.returncode)

    def worker_tag(self) -> str:
        assert self.process is not None
        return f"boxoffice-local-{self.process.pid}"

    def request(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Answer:
        return http(self.base, method, path, body, **kwargs)

    def create_event(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /events with the admin key; the created event (201 asserted)."""
        answer = self.request("POST", "/events", body, headers=ADMIN)
        assert answer.status == 201, answer.body
        return dict(answer.body)

    def hold(self, event_id: str, seat_ids: list[str]) -> Answer:
        """POST /events/{event_id}/checkouts, as a fan does."""
        return self.request("POST", f"/events/{event_id}/checkouts", {"seat_ids": seat_ids})

    def seat_statuses(self, event_id: str) -> dict[str, str]:
        """GET /events/{event_id}/seats as {seat_id: status}."""
        answer = self.request("GET", f"/events/{event_id}/seats")
        assert answer.status == 200, answer.body
        return {seat["seat_id"]: seat["status"] for seat in answer.body}


# An invocation line of the stack for an HTTP 5xx answer: `12:00:01 NameFunction 502 3 ms ...`.
SERVER_ERROR_LINE = re.compile(r"^\d\d:\d\d:\d\d \S+ 5\d\d \d+ ms ")


def processes_tagged(tag: str) -> list[int]:
    """Pids whose command line mentions `tag` (the stack's worker processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if tag in cmdline:
            found.append(int(entry.name))
    return found


def stack_env(**overrides: str) -> dict[str, str]:
    """The environment of a test stack: free ports, quick timers, a known admin key."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"DATABASE_URL", "PORT", "MOTO_PORT", "HOST", "BOXOFFICE_DATA_DIR", "PGPORT_LOCAL"}
    }
    env.update(
        PORT=str(free_port()),
        MOTO_PORT=str(free_port()),
        ADMIN_API_KEY=ADMIN_KEY,
        TTL_SWEEP_SECONDS="1",
        SESSION_RETENTION_SECONDS="2",
        STREAM_POLL_SECONDS="0.2",
        SCHEDULE_SPEEDUP="1",
        PYTHONUNBUFFERED="1",
        # The load tests fire hundreds of requests at once from 127.0.0.1: far past the
        # stage's 100/s (burst 200) per client. Tests of the throttling lower these again.
        GATEWAY_RATE_LIMIT="100000",
        GATEWAY_BURST_LIMIT="100000",
    )
    env.update(overrides)
    return env


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server of `server_url`, dropped afterwards."""
    name = f"boxoffice_stack_{uuid4().hex[:10]}"
    params = conninfo_to_dict(server_url)
    admin = make_conninfo("", **{**params, "dbname": "postgres"})
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo("", **{**params, "dbname": name})
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextlib.contextmanager
def running_stack(database_url: str, **env: str) -> Iterator[StackProcess]:
    """`python -m local` with `stack_env(**env)` on a fresh database of `database_url`'s
    server; stopped afterwards, and it must exit 0."""
    with fresh_database(database_url) as url:
        running = StackProcess(stack_env(DATABASE_URL=url, **env))
        try:
            running.start()
            yield running
        finally:
            code = running.stop()
        assert code == 0, running.output
