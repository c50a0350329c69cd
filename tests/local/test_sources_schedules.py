"""Schedule events: rates parsed, EventBridge's scheduled event delivered at the rate."""

from __future__ import annotations

import threading

from local import template
from local.sources import Schedule, parse_rate
from tests.local.support import FakeInvoker, wait_until


def test_schedules_fire_the_eventbridge_scheduled_event():
    assert parse_rate("rate(1 minute)") == 60
    assert parse_rate("rate(5 minutes)") == 300
    assert parse_rate("rate(2 hours)") == 7200
    assert parse_rate("cron(0 12 * * ? *)") is None
    [(function, props)] = template.events_of_type("Schedule")
    [name] = [n for n, e in function.events.items() if e.get("Type") == "Schedule"]
    stop = threading.Event()
    invoker = FakeInvoker(lambda event: {"ok": True})
    schedule = Schedule(function, name, props, invoker, stop, speedup=600)  # 60 s -> 0.1 s
    schedule.start()
    try:
        wait_until(lambda: len(invoker.events) >= 2, timeout=5, interval=0.05)
    finally:
        stop.set()
        schedule.join(2)
    event = invoker.events[0]
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["detail"] == {}
    assert event["resources"][0].startswith("arn:aws:events:us-east-1:")
    assert event["time"].endswith("Z")
