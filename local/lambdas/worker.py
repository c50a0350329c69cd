"""One execution environment: a child process (`python -m local.lambda_worker`) and the
socket to it.

The child imports the function's module once and then runs one invocation at a time;
parent and child exchange JSON lines (the protocol is described in local/lambda_worker.py).
A handler's exception comes back as a `WorkerError` named after it; anything wrong with
the process itself (it cannot start, dies, or answers nonsense) is one of Lambda's
`Runtime.*` kinds; an invocation past its time is a `TimeoutError`.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import subprocess
import sys
import time
from typing import Any

from local.template import ROOT, Function

# Lambda's init phase may take 10 s; a busy laptop starting several workers needs more.
INIT_TIMEOUT_SECONDS = 30.0


class WorkerError(Exception):
    """The worker process failed: it could not start, died, or broke the protocol."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


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
