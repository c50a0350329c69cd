"""The stack's event sources: each event of template.yaml's functions made into its poller
(a table of kinds), and DynamoDB's TTL for the tables that have it.

They invoke their functions in workers of their own (or at LAMBDA_ENDPOINT), as the Lambda
service's pollers are not the API's."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from local import log, template
from local.aws import LocalAws
from local.config import Config
from local.lambdas import Invoker, LambdaRuntime, RemoteLambda
from local.sources import EventSource, Schedule, SqsPoller, StreamPoller, TtlDeletes, TtlSweeper
from local.template import Function
from local.workers import Deployment


@dataclass(frozen=True)
class Wiring:
    """What a poller is given besides its function and its event's properties."""

    aws: LocalAws
    invoker: Invoker
    deletes: TtlDeletes  # the TTL sweepers' deletes, which the stream pollers mark
    stop: threading.Event
    config: Config


SourceFactory = Callable[[Wiring, Function, str, dict[str, Any]], EventSource]


def _sqs(wiring: Wiring, function: Function, name: str, props: dict[str, Any]) -> EventSource:
    poll = wiring.config.sqs_poll_seconds
    return SqsPoller(function, props, wiring.aws, wiring.invoker, wiring.stop, poll_seconds=poll)


def _stream(wiring: Wiring, function: Function, name: str, props: dict[str, Any]) -> EventSource:
    return StreamPoller(
        function,
        props,
        wiring.aws,
        wiring.invoker,
        wiring.deletes,
        wiring.stop,
        poll_seconds=wiring.config.stream_poll_seconds,
    )


def _schedule(wiring: Wiring, function: Function, name: str, props: dict[str, Any]) -> EventSource:
    speedup = wiring.config.schedule_speedup
    return Schedule(function, name, props, wiring.invoker, wiring.stop, speedup=speedup)


# The event types the local stack runs, by their `Type` in the template (Api: the gateway's).
FACTORIES: dict[str, SourceFactory] = {"SQS": _sqs, "DynamoDB": _stream, "Schedule": _schedule}


class EventSources:
    """The TTL sweepers and, if `mapped`, every SQS, stream and schedule event source, with
    the workers they invoke (marked with `tag`)."""

    def __init__(
        self,
        deployment: Deployment,
        functions: Iterable[Function],
        tag: str,
        stop: threading.Event,
        *,
        mapped: bool = True,
    ) -> None:
        aws, config = deployment.aws, deployment.config
        functions = list(functions)
        self.runtime: LambdaRuntime | None = None
        invoker: Invoker
        if config.lambda_endpoint:
            invoker = RemoteLambda(config.lambda_endpoint)
        else:
            invoker = self.runtime = deployment.runtime(functions, tag)
        wiring = Wiring(aws, invoker, TtlDeletes(), stop, config)
        self.aws = aws
        self.stop = stop
        self.sources: list[EventSource] = []
        for logical_id, table in aws.tables.items():
            attribute = template.ttl_attribute(logical_id)
            if attribute:
                schema = template.resources("AWS::DynamoDB::Table")[logical_id]["KeySchema"]
                keys = [key["AttributeName"] for key in schema]
                period = config.ttl_sweep_seconds
                sweeper = TtlSweeper(table.name, attribute, keys, aws, wiring.deletes, stop, period)
                self.sources.append(sweeper)
        for function in functions if mapped else ():
            for event_name, event in function.events.items():
                kind = event.get("Type")
                factory = FACTORIES.get(str(kind))
                if factory is not None:
                    props = event.get("Properties") or {}
                    self.sources.append(factory(wiring, function, event_name, props))
                elif kind != "Api":
                    log.say(f"{function.logical_id}: {kind} events are not run locally")

    def start(self) -> None:
        for source in self.sources:
            source.start()

    def not_ready(self, timeout: float = 10.0) -> list[str]:
        """The stream pollers that do not hold their iterators within `timeout` (none: every
        record written from now on reaches its function)."""
        deadline = time.monotonic() + timeout
        return [
            source.name
            for source in self.sources
            if isinstance(source, StreamPoller)
            and not source.wait_ready(max(0.0, deadline - time.monotonic()))
        ]

    def follow(self, stream_arns: Mapping[str, str | None]) -> None:
        """moto was restarted: read the new streams of these tables (by logical id)."""
        for logical_id, arn in stream_arns.items():
            if logical_id in self.aws.tables:
                self.aws.tables[logical_id] = replace(self.aws.tables[logical_id], stream_arn=arn)
        for source in self.sources:
            if isinstance(source, StreamPoller) and source.table.logical_id in stream_arns:
                source.table = self.aws.tables[source.table.logical_id]
                source.stream_arn = source.table.stream_arn or source.stream_arn

    def recycle(self) -> None:
        """The code changed: the functions get fresh instances."""
        if self.runtime is not None:
            self.runtime.recycle()

    def pids(self) -> list[int]:
        return self.runtime.pids() if self.runtime is not None else []

    def close(self, timeout: float = 5.0) -> None:
        """Stop the sources: their invocations end with the workers, then their threads."""
        self.stop.set()
        if self.runtime is not None:
            self.runtime.close()
        deadline = time.monotonic() + timeout
        for source in self.sources:
            source.join(max(0.0, deadline - time.monotonic()))
