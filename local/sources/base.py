"""What every local event source shares: threads that stop together and outlive their
errors, and (for SQS and stream mappings) the function, invoker and batch-response rules."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from local import log
from local.aws import LocalAws
from local.lambdas import Invocation, Invoker
from local.template import Function


class EventSource:
    """A background activity with threads that stop when `stop` is set."""

    name = "source"

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.threads: list[threading.Thread] = []

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=self._guard(target), name=name, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _guard(self, target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            while not self.stop.is_set():
                try:
                    target()
                    return
                except Exception as error:  # keep the source alive, as the Lambda service does
                    if self.stop.is_set():
                        return
                    log.say(f"{self.name}: {type(error).__name__}: {error} (retrying)")
                    self.stop.wait(1.0)

        return run

    def start(self) -> None:
        raise NotImplementedError

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class MappedSource(EventSource):
    """An event source mapping (SQS queue or DynamoDB stream) feeding one function."""

    def __init__(
        self,
        function: Function,
        props: dict[str, Any],
        aws: LocalAws,
        invoker: Invoker,
        stop: threading.Event,
        poll_seconds: float,
    ) -> None:
        super().__init__(stop)
        self.function = function
        self.invoker = invoker
        self.aws = aws
        self.poll_seconds = poll_seconds
        self.partial = "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or [])
        self.enabled = props.get("Enabled", True) is not False

    @staticmethod
    def target(value: Any) -> str:
        """The logical id (or ARN, or URL) a mapping's Queue / Stream property points at."""
        return str(value["Fn::GetAtt"][0]) if isinstance(value, dict) else str(value)


def batch_failures(records: list[str], result: Any) -> set[str] | None:
    """Identifiers a partial batch response reports as failed; None if the response is
    invalid (then the Lambda service treats the whole batch as failed)."""
    if result is None or result == {}:
        return set()
    if not isinstance(result, dict):
        return set()  # not a partial batch response: success for the whole batch
    items = result.get("batchItemFailures")
    if items is None:
        return set()
    if not isinstance(items, list):
        return None
    failed: set[str] = set()
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in records:
            return None
        failed.add(identifier)
    return failed


def invocation_detail(invocation: Invocation, detail: str) -> str:
    return f"{detail} ({invocation.error})" if invocation.error else detail
