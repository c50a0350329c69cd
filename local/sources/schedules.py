"""Schedules: `rate(...)` rules fire the EventBridge "Scheduled Event"."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from local import log
from local.config import ACCOUNT_ID, REGION, STACK_NAME
from local.lambdas import Invocation, Invoker
from local.sources.base import EventSource, invocation_detail
from local.template import Function

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(second|minute|hour|day)s?\s*\)$", re.IGNORECASE)
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def parse_rate(expression: str) -> float | None:
    """Seconds between runs of `rate(N unit)`; None for anything else (cron)."""
    found = _RATE.match(expression.strip())
    if not found:
        return None
    count = int(found.group(1))
    if count <= 0:
        raise ValueError(f"invalid schedule {expression!r}")
    return float(count * _UNIT_SECONDS[found.group(2).lower()])


def scheduled_event(rule_name: str, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule_name}"],
        "detail": {},
    }


class Schedule(EventSource):
    """An EventBridge rule with a rate: fires (asynchronously) every period / speedup."""

    def __init__(
        self,
        function: Function,
        event_name: str,
        props: dict[str, Any],
        invoker: Invoker,
        stop: threading.Event,
        speedup: float = 1.0,
    ) -> None:
        super().__init__(stop)
        self.function = function
        self.invoker = invoker
        self.expression = str(props.get("Schedule", ""))
        rate = parse_rate(self.expression)
        self.period = rate / speedup if rate else None
        self.enabled = (
            props.get("Enabled", True) is not False
            and str(props.get("State", "ENABLED")).upper() != "DISABLED"
        )
        self.input = props.get("Input")
        self.rule = f"{STACK_NAME}-{function.logical_id}{event_name}"
        self.name = f"{function.logical_id} <- {self.expression}"

    def start(self) -> None:
        if not self.enabled:
            return
        if self.period is None:
            log.say(f"{self.name}: only rate(...) schedules run locally; not scheduled")
            return
        self._spawn(self._run, f"schedule-{self.function.logical_id}")

    def _run(self) -> None:
        assert self.period is not None
        next_at = time.monotonic() + self.period
        while not self.stop.wait(max(0.0, next_at - time.monotonic())):
            next_at += self.period
            # Asynchronous invocation: a slow run does not hold the next one back.
            threading.Thread(target=self.fire, name=f"run-{self.rule}", daemon=True).start()

    def fire(self) -> Invocation:
        event = json.loads(self.input) if isinstance(self.input, str) else None
        if event is None:
            event = scheduled_event(self.rule)
        invocation = self.invoker.invoke(self.function, event)
        if not self.stop.is_set():
            log.invocation(
                self.function.logical_id,
                invocation.status,
                invocation.duration_ms,
                invocation_detail(invocation, f"schedule {self.expression}"),
            )
        return invocation
