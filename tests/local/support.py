"""Helpers of the local stack's tests: a stand-in for the worker pools, the gateway built
from template.yaml in process, the template's event sources, and waiting for a condition."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from local import template
from local.gateway import Gateway
from local.lambdas import Invocation
from local.template import Function
from tests.support import event_spec


class FakeInvoker:
    """Stands in for the worker pools behind the gateway and the event sources.

    Remembers every (function logical id, event) it is asked to invoke and answers with
    `respond(event)`: by default a proxy result naming the function; a `respond` that
    raises is the function's error. Given `failure` (Invocation's error fields), every
    invocation fails so."""

    def __init__(self, respond: Callable[[dict[str, Any]], Any] | None = None, **failure: Any):
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.respond = respond
        self.failure = failure
        self.called = threading.Event()
        self._lock = threading.Lock()

    @property
    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [event for _, event in self.calls]

    def invoke(
        self, function: Function, event: dict[str, Any], *, timeout: float | None = None
    ) -> Invocation:
        name = function.logical_id
        with self._lock:
            self.calls.append((name, event))
        self.called.set()
        if self.failure:
            return Invocation(name, "req", ok=False, **self.failure)
        if self.respond is None:
            result = {
                "statusCode": 200,
                "headers": {"Content-Type": "application/json"},
                "body": json.dumps({"function": name}),
            }
            return Invocation(name, "req", ok=True, result=result)
        try:
            result = self.respond(event)
        except Exception as error:
            return Invocation(
                name, "req", ok=False, error_type=type(error).__name__, error_message=str(error)
            )
        return Invocation(name, "req", ok=True, result=result)


def gateway(invoker: Any, **kwargs: Any) -> Gateway:
    """The gateway of the local stack, with template.yaml's routes, CORS and gateway
    response headers, invoking through `invoker`."""
    return Gateway(
        template.api_routes(),
        invoker,
        cors=template.api_cors(),
        gateway_headers=template.gateway_response_headers(),
        on_invocation=lambda *args: None,
        **kwargs,
    )


def body(answer: Any) -> Any:
    """The JSON body of a werkzeug test client's answer."""
    return json.loads(answer.get_data())


def wait_until(check: Callable[[], Any], timeout: float, interval: float = 0.2) -> Any:
    """Call `check` until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(interval)


def event_body(**overrides: Any) -> dict[str, Any]:
    """tests.support.event_spec's event (12 seats, A-1-1 to A-2-6) as the JSON of
    POST /events, with `overrides` laid over it as they are (valid or not)."""
    return event_spec().model_dump(mode="json", exclude_none=True) | overrides


def event_source(kind: str) -> tuple[Function, dict[str, Any]]:
    """The template's one function with an event of type `kind`, and that event's properties."""
    [(function, props)] = template.events_of_type(kind)
    return function, props
