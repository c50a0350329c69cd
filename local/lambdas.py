"""Lambda-like execution: per function, a pool of warm worker processes.

Each worker (local/lambda_worker.py) imports its function's module once and runs one
invocation at a time. A function gets new instances on demand, up to a cap; further
callers wait for a free one. An invocation past the function's Timeout kills its worker
(the next caller gets a fresh one), as Lambda does with a timed-out sandbox.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from local.config import ACCOUNT_ID, REGION
from local.template import ROOT, Function

# Lambda's init phase may take 10 s; a busy laptop starting several workers needs more.
INIT_TIMEOUT_SECONDS = 30.0
# How long a caller waits for a free instance before being throttled.
DEFAULT_ACQUIRE_SECONDS = 30.0


@dataclass(frozen=True)
class Invocation:
    function: str
    request_id: str
    ok: bool
    result: Any = None
    error_type: str | None = None
    error_message: str | None = None
    timed_out: bool = False
    throttled: bool = False
    duration_ms: float = 0.0

    @property
    def status(self) -> str:
        if self.ok:
            return "ok"
        if self.timed_out:
            return "timeout"
        if self.throttled:
            return "throttled"
        return "error"

    @property
    def error(self) -> str:
        return f"{self.error_type}: {self.error_message}" if self.error_type else ""


class Invoker(Protocol):
    def invoke(
        self, function: Function, event: dict[str, Any], *, timeout: float | None = None
    ) -> Invocation: ...


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"


class WorkerError(Exception):
    """The worker process failed: it could not start, died, or broke the protocol."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


class Throttled(Exception):
    pass


class WorkerProcess:
    """One execution environment: a child process and the socket to talk to it."""

    def __init__(self, function: Function, env: dict[str, str], tag: str) -> None:
        self.function = function
        self._env = env
        self._tag = tag
        self._buffer = bytearray()
        self._sock: socket.socket | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.generation = 0

    def start(self) -> None:
        parent, child = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "local.lambda_worker",
                    str(child.fileno()),
                    self.function.module,
                    self.function.attribute,
                    "--stack-tag",
                    self._tag,
                ],
                pass_fds=(child.fileno(),),
                env=self._env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                # Its own session: Ctrl-C in the terminal reaches the stack, which stops
                # the workers itself, instead of interrupting handlers mid-invocation.
                start_new_session=True,
            )
        finally:
            child.close()
        self._sock = parent
        try:
            hello = self._receive(time.monotonic() + INIT_TIMEOUT_SECONDS)
        except TimeoutError:
            self.kill()
            raise WorkerError("Runtime.InitTimeout", "the module took too long to import") from None
        except WorkerError:
            self.kill()
            raise
        if not hello.get("ready"):
            self.kill()
            raise WorkerError(
                "Runtime.ImportModuleError",
                f"{hello.get('errorType')}: {hello.get('errorMessage')}",
            )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def _receive(self, deadline: float) -> dict[str, Any]:
        assert self._sock is not None
        searched = 0  # the buffer before this holds no newline: look only at what is new
        while (index := self._buffer.find(b"\n", searched)) < 0:
            searched = len(self._buffer)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            try:
                ready, _, _ = select.select([self._sock], [], [], remaining)
            except (OSError, ValueError):
                raise WorkerError("Runtime.ExitError", "the worker went away") from None
            if not ready:
                raise TimeoutError
            try:
                chunk = self._sock.recv(1 << 20)
            except OSError:
                chunk = b""
            if not chunk:
                code = self.process.poll() if self.process else None
                raise WorkerError("Runtime.ExitError", f"the worker exited (status {code})")
            self._buffer += chunk
        line = bytes(self._buffer[:index])
        del self._buffer[: index + 1]
        try:
            message: dict[str, Any] = json.loads(line)
        except ValueError:
            raise WorkerError("Runtime.InvalidResponse", "unreadable worker answer") from None
        return message

    def call(self, event: dict[str, Any], context: dict[str, Any], timeout: float) -> Any:
        """Run one invocation; returns the handler's result or raises WorkerError/TimeoutError.

        A handler's exception comes back as WorkerError with the exception's type.
        """
        assert self._sock is not None
        payload = json.dumps({"event": event, "context": context}).encode() + b"\n"
        deadline = time.monotonic() + timeout
        try:
            self._sock.sendall(payload)
        except OSError:
            raise WorkerError("Runtime.ExitError", "the worker went away") from None
        answer = self._receive(deadline)
        if answer.get("ok"):
            return answer.get("result")
        raise WorkerError(str(answer.get("errorType")), str(answer.get("errorMessage")))

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
        if self.process:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
        self.close_socket()

    def close_socket(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
            self._sock = None

    def stop(self) -> None:
        """End an idle worker, as Lambda ends a sandbox: no clean-up inside is waited for."""
        self.close_socket()
        if self.process and self.process.poll() is None:
            self.process.terminate()


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
            return [w.pid for w in [*self._idle, *self._busy] if w.pid]

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
        try:
            worker.start()
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise
        with self._cond:
            if not self._closed:
                self._busy.add(worker)
                return worker
            self._count -= 1
        worker.kill()
        raise WorkerError("Runtime.Shutdown", "the local stack is stopping")

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


class RemoteLambda:
    """Invoke through a Lambda API endpoint, e.g. `sam local start-lambda` (Docker path)."""

    def __init__(self, endpoint: str) -> None:
        self._endpoint = endpoint
        self._local = threading.local()

    def _client(self, timeout: float) -> Any:
        import boto3
        from botocore.config import Config as BotoConfig

        cached = getattr(self._local, "clients", {})
        if timeout not in cached:
            cached[timeout] = boto3.client(
                "lambda",
                endpoint_url=self._endpoint,
                region_name=REGION,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",  # noqa: S106 - a local endpoint
                config=BotoConfig(read_timeout=timeout + 60, retries={"max_attempts": 0}),
            )
            self._local.clients = cached
        return cached[timeout]

    def invoke(
        self, function: Function, event: dict[str, Any], *, timeout: float | None = None
    ) -> Invocation:
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        limit = float(timeout if timeout is not None else function.timeout)
        try:
            answer = self._client(limit).invoke(
                FunctionName=function.logical_id, Payload=json.dumps(event).encode()
            )
            payload = json.loads(answer["Payload"].read() or b"null")
        except Exception as error:
            elapsed = (time.monotonic() - started) * 1000
            return Invocation(
                function.logical_id,
                request_id,
                ok=False,
                error_type=type(error).__name__,
                error_message=str(error),
                duration_ms=elapsed,
            )
        elapsed = (time.monotonic() - started) * 1000
        if answer.get("FunctionError"):
            details = payload if isinstance(payload, dict) else {}
            return Invocation(
                function.logical_id,
                request_id,
                ok=False,
                error_type=str(details.get("errorType", "Unhandled")),
                error_message=str(details.get("errorMessage", "")),
                duration_ms=elapsed,
            )
        return Invocation(
            function.logical_id, request_id, ok=True, result=payload, duration_ms=elapsed
        )
