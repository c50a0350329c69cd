"""The stack's event sources, in a process of their own: `python -m local.event_sources`.

As in AWS, where the Lambda service's pollers are not the API's process, the SQS pollers,
the DynamoDB stream pollers, the TTL sweeper and the schedules do not share the gateway's
interpreter (nor its GIL). Each event of template.yaml's functions is made into its
poller from a table of kinds; DynamoDB's TTL runs for the tables that have it, in the same
process as the stream pollers, which mark the REMOVE records its deletes cause.

The process invokes its functions in worker processes of its own (a `LambdaRuntime`, or
RemoteLambda at LAMBDA_ENDPOINT) rather than through the stack's: an invocation then never
crosses the gateway's interpreter, there is no second protocol to keep in step with
local/lambdas.py, and the functions fed by event sources are not API functions, so no
instance is duplicated. Its parent (local/stack.py, `SourcesProcess`) talks to it over:

- stdin, JSON lines: first what it runs (the stack's settings as environment variables,
  Postgres, moto's endpoints and resources, the stripe base, the worker tag), then
  `{"follow": {table: stream ARN}}` after moto was restarted, `{"recycle": true}` when the
  code changed. At EOF (the stack stopping, or gone) it stops its sources and workers, and
  exits: it never outlives the stack;
- a pipe (`--ready-fd`): one line, `ready` once every stream poller holds its iterators,
  or `error <what>`;
- stdout and stderr, the stack's own: one line per invocation, as local/log.py writes it
  (a line is one write, so the two processes' lines never tear each other).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from local import log, template
from local.aws import LocalAws, Queue, Table
from local.config import Config
from local.lambdas import Invoker, LambdaRuntime, RemoteLambda
from local.sources import EventSource, Schedule, SqsPoller, StreamPoller, TtlDeletes, TtlSweeper
from local.template import Function
from local.workers import Deployment

# How long the stack waits for the process to say it is ready (its start, its pollers').
READY_SECONDS = 30.0
# How long it waits for the process to stop its sources and workers before killing it.
STOP_SECONDS = 10.0
# The longest pause between two attempts to start a process that keeps dying.
MAX_RESTART_PAUSE_SECONDS = 30.0


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

    def wait_ready(self, timeout: float = 10.0) -> str | None:
        """None once every stream poller holds its iterators (each record written from now
        on reaches its function); else what did not start within `timeout`."""
        deadline = time.monotonic() + timeout
        for source in self.sources:
            ready = not isinstance(source, StreamPoller) or source.wait_ready(
                max(0.0, deadline - time.monotonic())
            )
            if not ready:
                return f"{source.name} did not start"
        return None

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

    def close(self, timeout: float = 5.0) -> None:
        """Stop the sources: their invocations end with the workers, then their threads."""
        self.stop.set()
        if self.runtime is not None:
            self.runtime.close()
        deadline = time.monotonic() + timeout
        for source in self.sources:
            source.join(max(0.0, deadline - time.monotonic()))


class SourcesProcess:
    """The stack's side of `python -m local.event_sources`: it starts the process, waits
    for it to be ready, passes on what it must follow, starts it again if it dies
    (`SourcesSupervisor`), and stops it."""

    def __init__(
        self,
        deployment: Deployment,
        parameters: Mapping[str, str],
        tag: str,
        *,
        mapped: bool = True,
    ) -> None:
        self._spec = {
            "env": deployment.config.as_env(),
            "database_url": deployment.database_url,
            "stripe_api_base": deployment.stripe_api_base,
            "aws": asdict(deployment.aws),
            "parameters": dict(parameters),
            "mapped": mapped,
        }
        self._tag = tag
        self._streams: dict[str, str | None] = {}  # followed since the start (moto restarts)
        self._lock = threading.RLock()
        self._closed = False
        self._launch()

    def _launch(self) -> None:
        ready, ready_child = os.pipe()
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "local.event_sources",
                    "--ready-fd",
                    str(ready_child),
                    "--stack-tag",  # marks the process as the stack's, as its workers are
                    self._tag,
                ],
                pass_fds=(ready_child,),
                cwd=template.ROOT,
                stdin=subprocess.PIPE,
                text=True,
                start_new_session=True,  # Ctrl-C reaches the stack, which stops it
            )
        finally:
            os.close(ready_child)
        self._ready = os.fdopen(ready, "r")
        self._send(self._spec)
        if self._streams:
            self._send({"follow": dict(self._streams)})

    def _send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        with self._lock:
            try:
                self.process.stdin.write(json.dumps(message) + "\n")
                self.process.stdin.flush()
            except (BrokenPipeError, ValueError):  # it exited (its supervisor starts another)
                return

    def wait_ready(self, timeout: float = READY_SECONDS) -> str | None:
        """None once the process's stream pollers are ready; else what went wrong."""
        answered, _, _ = select.select([self._ready], [], [], timeout)
        line = self._ready.readline().strip() if answered else ""
        self._ready.close()
        if line == "ready":
            return None
        if line.startswith("error "):
            return line.removeprefix("error ")
        code = self.process.poll()
        if code is not None:
            return f"the event sources exited (status {code})"
        return f"the event sources were not ready within {timeout:.0f} s"

    def exited(self) -> int | None:
        """The status of a process that ended before the stack stopped it, else None."""
        with self._lock:
            return None if self._closed else self.process.poll()

    def relaunch(self) -> str | None:
        """Start the process again (it died): None once it is ready, else what went wrong."""
        with self._lock:
            if self._closed:
                return None
            self.process.wait()
            with contextlib.suppress(OSError):
                self._ready.close()
            if self.process.stdin is not None:
                with contextlib.suppress(OSError):
                    self.process.stdin.close()
            self._launch()
        return self.wait_ready()

    def follow(self, stream_arns: Mapping[str, str | None]) -> None:
        with self._lock:
            self._streams.update(stream_arns)
            self._send({"follow": dict(stream_arns)})

    def recycle(self) -> None:
        self._send({"recycle": True})

    def close(self) -> None:
        """Stop the process: at EOF it stops its sources and workers, then exits."""
        with self._lock:
            self._closed = True
            gone = self.process.poll()
            for pipe in (self._ready, self.process.stdin):
                with contextlib.suppress(BrokenPipeError):
                    if pipe is not None:
                        pipe.close()
        if gone:  # it was killed, or failed, before the stack stopped it
            raise RuntimeError(f"the process had exited (status {gone})")
        try:
            self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"not stopped after {STOP_SECONDS:.0f} s: killed") from None


class SourcesSupervisor(EventSource):
    """Start the event sources' process again when it dies, as the Lambda service's pollers
    are always there.

    What the dead process had received from a queue and not yet deleted comes back once
    the queue's visibility timeout has passed, as in AWS when a poller fails: a FIFO
    queue's group (an event's line) waits until then, nothing is lost. Records written to
    a stream meanwhile are not read (the new pollers start at its end); the sweeper's
    schedule gives back the holds they would have.
    """

    name = "event sources supervisor"

    def __init__(self, sources: SourcesProcess, stop: threading.Event, period: float = 0.5) -> None:
        super().__init__(stop)
        self.sources = sources
        self.period = period

    def start(self) -> None:
        self._spawn(self._run, "sources-supervisor")

    def _run(self) -> None:
        pause = 1.0
        while not self.stop.wait(self.period):
            code = self.sources.exited()
            if code is None:
                continue
            log.say(f"the event sources stopped (exit {code}): starting them again")
            began = time.monotonic()
            problem = self.sources.relaunch()
            if problem is None:
                log.say(f"event sources restarted in {time.monotonic() - began:.1f} s")
                pause = 1.0
                continue
            log.say(f"the event sources did not start again ({problem}); retrying")
            self.stop.wait(pause)  # a process that dies at once is not restarted in a loop
            pause = min(2 * pause, MAX_RESTART_PAUSE_SECONDS)


def _deployment(spec: dict[str, Any]) -> Deployment:
    """The stack's deployment from the first line the stack sent."""
    aws = dict(spec["aws"])
    aws["tables"] = {k: Table(**v) for k, v in aws["tables"].items()}
    aws["queues"] = {k: Queue(**v) for k, v in aws["queues"].items()}
    config = Config.from_env(spec["env"])
    return Deployment(config, spec["database_url"], LocalAws(**aws), spec["stripe_api_base"])


def main(argv: list[str]) -> int:
    """`python -m local.event_sources --ready-fd FD --stack-tag TAG`, started by the stack."""
    ready = os.fdopen(int(argv[argv.index("--ready-fd") + 1]), "w")
    tag = argv[argv.index("--stack-tag") + 1]
    spec = json.loads(sys.stdin.readline() or "null")
    if spec is None:
        return 0  # the stack went away before saying what to run
    stop = threading.Event()
    sources: EventSources | None = None
    try:
        functions = template.functions(parameters=spec["parameters"]).values()
        sources = EventSources(_deployment(spec), functions, tag, stop, mapped=spec["mapped"])
        sources.start()
        problem = sources.wait_ready()
    except (Exception, SystemExit) as error:  # SystemExit: a setting Config refuses
        problem = f"{type(error).__name__}: {error}"
    with contextlib.suppress(BrokenPipeError), ready:  # the stack may be gone already
        ready.write(f"error {problem}\n" if problem else "ready\n")
    if sources is not None and problem is None:
        for line in sys.stdin:  # until the stack closes the pipe, or is gone
            command = json.loads(line)
            if "follow" in command:
                sources.follow(command["follow"])
            if command.get("recycle"):
                sources.recycle()
    if sources is not None:
        sources.close()
    log.write(sys.stdout)
    # Not an interpreter shutdown: the sources' daemon threads may still be writing a line.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
