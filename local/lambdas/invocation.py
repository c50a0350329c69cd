"""What an invocation gives back, and who can invoke: the one interface the gateway, the
event sources and the stack see, whichever way the functions run (warm worker processes
here, or a Lambda API endpoint such as `sam local start-lambda`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from local.config import ACCOUNT_ID, REGION
from local.template import Function


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
