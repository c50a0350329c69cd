"""Per function, a pool of warm worker processes; and the runtime holding every pool.

A function gets new instances on demand, up to a cap; further callers wait for a free
one, and are throttled after a while. An invocation past the function's Timeout kills
its worker (the next caller gets a fresh one), as Lambda does with a timed-out sandbox;
a code change retires every instance (`recycle`).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from local.lambdas.invocation import Invocation, function_arn
from local.lambdas.worker import INIT_TIMEOUT_SECONDS, WorkerError, WorkerProcess
from local.template import Function

# How long a caller waits for a free instance before being throttled.
DEFAULT_ACQUIRE_SECONDS = 30.0


class Throttled(Exception):
    """No instance came free in time (Lambda: TooManyRequestsException)."""


class FunctionPool:
    """The instances of one function."""

    def __init__(self, function: Function, env: dict[str, str], capacity: int, tag: str) -> None:
        self.function = function
        self._env = env
        self.capacity = capacity
        self._tag = tag
        self._cond = threading.Condition()
        self._idle: list[WorkerProcess] = []
        self._busy: set[WorkerProcess] = set()
        self._starting: set[WorkerProcess] = set()
        self._count = 0  # live and starting instances
        self._closed = False
        # Bumped when the code changes: instances of an older generation are not reused.
        self._generation = 0

    @property
    def size(self) -> int:
        with self._cond:
            return self._count

    def pids(self) -> list[int]:
        with self._cond:
            return [w.pid for w in [*self._idle, *self._busy, *self._starting] if w.pid]

    def acquire(self, wait: float = DEFAULT_ACQUIRE_SECONDS) -> WorkerProcess:
        deadline = time.monotonic() + wait
        with self._cond:
            while True:
                if self._closed:
                    raise WorkerError("Runtime.Shutdown", "the local stack is stopping")
                if self._idle:
                    worker = self._idle.pop()  # the most recently used: the warmest
                    self._busy.add(worker)
                    return worker
                if self._count < self.capacity:
                    self._count += 1
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Throttled
                self._cond.wait(remaining)
            worker = WorkerProcess(self.function, self._env, self._tag)
            worker.generation = self._generation
            self._starting.add(worker)
        try:
            worker.start()
        except BaseException:
            self._start_ended(worker)
            raise
        with self._cond:
            if not self._closed:
                self._starting.discard(worker)
                self._busy.add(worker)
                return worker
        worker.kill()  # the pool closed while it started
        self._start_ended(worker)
        raise WorkerError("Runtime.Shutdown", "the local stack is stopping")

    def _start_ended(self, worker: WorkerProcess) -> None:
        """A start that failed, or whose worker was killed: its slot is free again."""
        with self._cond:
            self._starting.discard(worker)
            self._count -= 1
            self._cond.notify_all()

    def release(self, worker: WorkerProcess, healthy: bool) -> None:
        with self._cond:
            self._busy.discard(worker)
            keep = healthy and not self._closed and worker.generation == self._generation
            if keep:
                self._idle.append(worker)
            else:
                self._count -= 1
            self._cond.notify()
        if not keep:
            worker.kill()

    def prewarm(self) -> None:
        """Start one instance if there is none (an idle, warm one stays for later)."""
        with self._cond:
            if self._count or self._closed:
                return
        try:
            worker = self.acquire(wait=0)
        except (Throttled, WorkerError):
            return
        self.release(worker, healthy=True)

    def invoke(self, event: dict[str, Any], timeout: float | None = None) -> Invocation:
        name = self.function.logical_id
        request_id = str(uuid.uuid4())
        limit = float(timeout if timeout is not None else self.function.timeout)
        started = time.monotonic()

        def done(**fields: Any) -> Invocation:
            elapsed = (time.monotonic() - started) * 1000
            return Invocation(function=name, request_id=request_id, duration_ms=elapsed, **fields)

        try:
            worker = self.acquire()
        except Throttled:
            return done(
                ok=False,
                throttled=True,
                error_type="TooManyRequestsException",
                error_message="Rate Exceeded.",
            )
        except WorkerError as error:
            return done(ok=False, error_type=error.error_type, error_message=error.message)
        # The function's time (and its Timeout) starts once it has an initialised instance.
        context = {
            "function_name": name,
            "function_version": "$LATEST",
            "invoked_function_arn": function_arn(name),
            "memory_limit_in_mb": self.function.memory_size,
            "aws_request_id": request_id,
            "log_group_name": f"/aws/lambda/{name}",
            "log_stream_name": f"local/{worker.pid}",
            "deadline_ms": int(time.time() * 1000 + limit * 1000),
        }
        try:
            result = worker.call(event, context, limit)
        except TimeoutError:
            self.release(worker, healthy=False)
            return done(
                ok=False,
                timed_out=True,
                error_type="Sandbox.Timedout",
                error_message=f"Task timed out after {limit:.2f} seconds",
            )
        except WorkerError as error:
            # A handler's exception leaves a healthy worker; a dead or confused one goes.
            broken = error.error_type.startswith("Runtime.") and error.error_type not in {
                "Runtime.MarshalError"
            }
            self.release(worker, healthy=not broken)
            return done(ok=False, error_type=error.error_type, error_message=error.message)
        self.release(worker, healthy=True)
        return done(ok=True, result=result)

    def recycle(self) -> None:
        """Retire every instance (the code changed): idle ones now, busy ones when done."""
        with self._cond:
            self._generation += 1
            idle, self._idle = self._idle, []
            self._count -= len(idle)
            self._cond.notify_all()
        for worker in idle:
            worker.stop()
            if worker.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    worker.process.wait(timeout=2)

    def close(self) -> None:
        """End every instance, those still starting too: none outlives the stack."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            busy = list(self._busy)
            self._count -= len(idle)
            self._cond.notify_all()
        for worker in idle:
            worker.stop()
        for worker in busy:
            # Its caller sees the worker die and gives up; it releases the slot itself.
            if worker.process and worker.process.poll() is None:
                worker.process.kill()
        deadline = time.monotonic() + 2.0
        for worker in [*idle, *busy]:
            if worker.process is None:
                continue
            try:
                worker.process.wait(timeout=max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
        for worker in idle:
            worker.close_socket()
        self._end_starts()

    def _end_starts(self) -> None:
        """Kill each worker still starting as soon as its process exists (its `Popen` may
        not have returned yet), and wait for the starts to end: each then frees its slot."""
        deadline = time.monotonic() + INIT_TIMEOUT_SECONDS
        with self._cond:
            while self._starting and time.monotonic() < deadline:
                for worker in self._starting:
                    if worker.process is not None and worker.process.poll() is None:
                        worker.process.kill()
                self._cond.wait(0.02)


class LambdaRuntime:
    """Every function's pool; implements `Invoker`."""

    def __init__(
        self,
        functions: Iterable[Function],
        env_for: Callable[[Function], dict[str, str]],
        capacity: Callable[[Function], int],
        tag: str | None = None,
    ) -> None:
        self.tag = tag or f"boxoffice-local-{os.getpid()}"
        self._pools = {
            f.logical_id: FunctionPool(f, env_for(f), capacity(f), self.tag) for f in functions
        }

    def pool(self, logical_id: str) -> FunctionPool:
        return self._pools[logical_id]

    def invoke(
        self, function: Function, event: dict[str, Any], *, timeout: float | None = None
    ) -> Invocation:
        return self._pools[function.logical_id].invoke(event, timeout)

    def prewarm(self, logical_ids: Iterable[str], stop: threading.Event | None = None) -> None:
        for logical_id in logical_ids:
            if stop is not None and stop.is_set():
                return
            self._pools[logical_id].prewarm()

    def pids(self) -> list[int]:
        return [pid for pool in self._pools.values() for pid in pool.pids()]

    def recycle(self) -> None:
        for pool in self._pools.values():
            pool.recycle()

    def close(self) -> None:
        threads = [
            threading.Thread(target=pool.close, daemon=True) for pool in self._pools.values()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
