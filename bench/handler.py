"""The create-checkout handler in process (moto in process), and the cost of the big reads.

The handler runs as Lambda runs it (an API Gateway event in, a proxy response out) against
the real Postgres; DynamoDB and SQS are moto's in-process mock. The time and CPU spent in
AWS calls (boto3 and moto) are measured on their own and taken out of the handler's
figures, which are then its own work: parsing, the hold, the session, the response.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TextIO, cast
from uuid import UUID, uuid4

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from psycopg_pool import ConnectionPool

from bench.holds import make_event
from bench.measure import measured, median, tree_cpu
from boxoffice import runtime
from boxoffice.settings import Settings
from boxoffice.stores.database import LazyConnection
from local.aws import create_resources, in_process_moto

HOLDS = int(os.environ.get("BENCH_HANDLER_HOLDS", "300"))
MAP_CALLS = int(os.environ.get("BENCH_MAP_CALLS", "10"))
WARM_UP = 20  # untimed holds per event before the timed ones
SIZES = (20_000, 100_000)


class ShortQueues:
    """Short queues, as the admission consumer keeps them: a new one every 100 sends
    (moto in process costs more per send the deeper its queue). Not timed."""

    def __init__(self, first: str) -> None:
        self._sqs = boto3.client("sqs")
        self._url = first

    def current(self) -> str:
        return self._url

    def url(self, n: int, kind: str) -> str:
        if n and n % 100 == 0:
            self._url = self._sqs.create_queue(
                QueueName=f"bench-{kind}-{n}.fifo", Attributes={"FifoQueue": "true"}
            )["QueueUrl"]
        return self._url


class HoldTimer:
    """Wall time of the `SeatStore.hold` calls the handler makes (inside its own time)."""

    def __init__(self, hold: Callable[..., Any]) -> None:
        self.wall = 0.0
        self._hold = hold

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return self._hold(*args, **kwargs)
        finally:
            self.wall += time.perf_counter() - began


class AwsTimer:
    """Wall time and thread CPU spent inside boto3 calls (moto's, in process)."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0
        self._local = threading.local()

    def attach(self, client: Any) -> Any:
        client.meta.events.register("provide-client-params.*.*", self._start)
        client.meta.events.register("after-call.*.*", self._stop)
        return client

    def _start(self, **_: Any) -> None:
        self._local.began = (time.perf_counter(), time.thread_time())

    def _stop(self, **_: Any) -> None:
        wall, cpu = self._local.began
        self.wall += time.perf_counter() - wall
        self.cpu += time.thread_time() - cpu


def api_event(
    method: str,
    resource: str,
    path: str,
    params: dict[str, str],
    body: Any,
    source_ip: str = "127.0.0.1",
) -> Any:
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": params,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": path,
            "stage": "bench",
            "requestId": "bench",
            "identity": {"sourceIp": source_ip, "userAgent": "bench"},
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


class _Context:
    function_name = "bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "00000000-0000-4000-8000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def context() -> LambdaContext:
    """The fields of Lambda's context object that Powertools reads."""
    return cast(LambdaContext, _Context())


@contextmanager
def in_process(url: str) -> Iterator[tuple[runtime.Dependencies, AwsTimer]]:
    """The functions' dependencies as Lambda's runtime builds them (one connection of their
    own, `LazyConnection`), with DynamoDB and SQS in moto's in-process mock."""
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 - moto's
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="WARNING",
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with in_process_moto():
        made = create_resources(None)
        settings = Settings(
            database_url=url,
            sessions_table=made.tables["SessionsTable"].name,
            admission_queue_url=made.queues["AdmissionQueue"].url,
            admission_dlq_url=made.queues["AdmissionDeadLetterQueue"].url,
        )
        deps = runtime.build(settings, connection=LazyConnection(lambda: url))
        timer = AwsTimer()
        dynamodb = timer.attach(boto3.client("dynamodb"))
        sqs = timer.attach(boto3.client("sqs"))
        deps.sessions._client = lambda: dynamodb
        deps.queue._client = lambda: sqs
        runtime.use(deps)
        try:
            yield deps, timer
        finally:
            runtime.use(None)


@contextmanager
def observed_as_deployed() -> Iterator[TextIO]:
    """Logs at INFO and EMF metrics on, as template.yaml deploys the functions, both written
    to /dev/null (the file yielded), as Lambda writes them to its log pipe. X-Ray stays
    off: there is no daemon here."""
    from boxoffice.observability import logger

    handler = cast(logging.StreamHandler[TextIO], logger.registered_handler)
    level, metrics_off = logger.log_level, os.environ.get("POWERTOOLS_METRICS_DISABLED")
    with open(os.devnull, "w") as devnull:
        stream = handler.setStream(devnull)
        logger.setLevel(logging.INFO)
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "false"
        try:
            yield devnull
        finally:
            os.environ.pop("POWERTOOLS_METRICS_DISABLED")
            if metrics_off is not None:
                os.environ["POWERTOOLS_METRICS_DISABLED"] = metrics_off
            logger.setLevel(level)
            if stream is not None:
                handler.setStream(stream)


def anchor_hold(
    deps: runtime.Dependencies,
    hold: Callable[..., Any],
    event_id: UUID,
    seat: int,
    queue_url: str,
    pause: float = 0.0,
) -> float:
    """Wall time of one `SeatStore.hold` (a fan's, of seat S-`seat`), after `pause` seconds
    of sleep, followed, untimed, by the two AWS calls the handler makes (a PutItem, a
    SendMessage): the hold in the conditions it meets inside the handler, where Postgres
    and this process sit idle in between. With a pause as long as the handler's AWS calls,
    the hold meets that idle time without moto's work before it: what the pause alone
    costs the next hold on this machine."""
    dynamodb, sqs = deps.sessions._client(), deps.queue._client()
    if pause:
        time.sleep(pause)
    now = datetime.now(UTC)
    began = time.perf_counter()
    hold(
        event_id,
        [f"S-{seat}"],
        uuid4(),
        now + timedelta(minutes=10),
        now,
        client=f"10.2.{seat // 256 % 256}.{seat % 256}",
        max_held=20,  # as the capped anchor holds (bench/holds.py)
    )
    took = time.perf_counter() - began
    dynamodb.put_item(
        TableName=deps.settings.sessions_table, Item={"checkout_id": {"S": str(uuid4())}}
    )
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody="{}",
        MessageGroupId=str(event_id),
        MessageDeduplicationId=f"anchor-{seat}",
    )
    return took


def _hold_once(
    create_checkout: Callable[[Any, LambdaContext], Any],
    event_id: UUID,
    sink: TextIO,
    seat: int,
    source_ip: str,
) -> tuple[float, float]:
    """One fan's hold of seat S-`seat` through the handler: its wall time and thread CPU."""
    path = f"/events/{event_id}/checkouts"
    event = api_event(
        "POST",
        "/events/{event_id}/checkouts",
        path,
        {"event_id": str(event_id)},
        {"seat_ids": [f"S-{seat}"]},
        source_ip=source_ip,
    )
    began, began_cpu = time.perf_counter(), time.thread_time()
    with contextlib.redirect_stdout(sink):
        answer = create_checkout(event, context())
    took, took_cpu = time.perf_counter() - began, time.thread_time() - began_cpu
    assert answer["statusCode"] == 201, answer
    return took, took_cpu


def run(url: str, pool: ConnectionPool, postmaster: int, store_ms: float) -> float:
    """Print the figures; return the handler's holds per second on the 20,000-seat event.

    `store_ms`: `SeatStore.hold` as the handler calls it (a fan's, with the client's
    lock), one connection, in ms per hold."""
    from boxoffice.stores.events import EventStore
    from functions.best_available.app import lambda_handler as best_available
    from functions.create_checkout.app import lambda_handler as create_checkout
    from functions.get_event.app import lambda_handler as get_event
    from functions.list_seats.app import lambda_handler as list_seats

    print("\n== the create-checkout handler in process (moto in process), one at a time")
    print(
        f"{'seats':>7} {'holds/s':>8} {'own ms':>7} {'own CPU ms':>10} {'AWS ms':>7}"
        f" {'DB ms':>6} {'hold ms':>7}  own ms / SeatStore.hold ms"
    )
    rates: list[float] = []
    with in_process(url) as (deps, timer), observed_as_deployed() as sink:
        events = EventStore(pool.connection)
        queues = ShortQueues(deps.settings.admission_queue_url or "")
        deps.queue._queue_url = queues.current
        holds = HoldTimer(deps.seats.hold)
        deps.seats.hold = holds  # type: ignore[method-assign]
        for size in SIZES:
            event_id: UUID = make_event(events, size)
            with pool.connection() as conn:
                conn.execute("VACUUM ANALYZE seats")  # no autovacuum in the middle of a run
            hold = partial(_hold_once, create_checkout, event_id, sink)
            for n in range(WARM_UP):  # the container warm, as on-sale traffic finds it
                hold(2 * HOLDS + n, f"10.4.0.{n}")
            timer.wall = timer.cpu = holds.wall = 0.0
            wall = cpu = between = paused = 0.0
            with measured(postmaster) as figures:
                for n in range(HOLDS):
                    queue = queues.url(n, f"handler-{size}")
                    # every hold is another fan's, each within its per-client cap
                    aws_began = timer.wall
                    took, took_cpu = hold(n, f"10.1.{n // 256}.{n % 256}")
                    its_aws = timer.wall - aws_began
                    wall += took
                    cpu += took_cpu
                    # the anchor's hold, interleaved so that both meet the same machine
                    aws_before = timer.wall, timer.cpu
                    between += anchor_hold(deps, holds._hold, event_id, HOLDS + n, queue)
                    # and one after a sleep as long as the handler's AWS calls took
                    paused += anchor_hold(
                        deps, holds._hold, event_id, 3 * HOLDS + WARM_UP + n, queue, its_aws
                    )
                    timer.wall, timer.cpu = aws_before
                figures.count = 3 * HOLDS  # the handler's holds and the two anchors'
            own = 1000 * (wall - timer.wall) / HOLDS
            rates.append(HOLDS / wall)
            own_cpu = 1000 * (cpu - timer.cpu) / HOLDS
            between = 1000 * between / HOLDS
            paused = 1000 * paused / HOLDS
            in_handler = 1000 * holds.wall / HOLDS
            print(
                f"{size:>7} {HOLDS / wall:>8.0f} {own:>7.2f} {own_cpu:>10.2f}"
                f" {1000 * timer.wall / HOLDS:>7.2f} {figures.per(figures.db_cpu):>6.2f}"
                f" {1000 * holds.wall / HOLDS:>7.2f}  {own / store_ms:.2f} [<= 2; own CPU <= 3 ms]"
            )
            print(
                f"{'':>7} SeatStore.hold between the same AWS calls {between:.2f} ms;"
                f" own ms / that {own / between:.2f}"
            )
            print(
                f"{'':>7} SeatStore.hold after sleeping as long {paused:.2f} ms ="
                f" {paused / store_ms:.2f} x back to back; the hold in the handler"
                f" {in_handler / store_ms:.2f} x; own ms / that {own / paused:.2f}"
            )
        print("  own ms: the handler's wall time per hold without its AWS calls; own CPU ms:")
        print("  its Python CPU without them; AWS ms: boto3 + moto per hold (put + send);")
        print("  DB ms: Postgres CPU per hold; SeatStore.hold ms: 1 / its rate on a connection")
        print("  of its own, back to back, as a fan's (with the client's lock), as the handler")
        print("  holds; hold ms: that same call inside the handler (part of own ms); the hold")
        print("  between the same AWS calls: SeatStore.hold alone, each followed (untimed) by a")
        print("  PutItem and a SendMessage, so Postgres and this process idle as in the")
        print("  handler, one for one with the handler's holds; the hold after sleeping as long:")
        print("  the same, the hold after a sleep as long as the handler's AWS calls took, with")
        print("  no moto work before it. The pause alone makes a hold dearer than back-to-back")
        print("  ones: a ratio of 2 to those is under that floor. 20 untimed holds first.")

        print("\n== the seat map, the event detail and a best-available block, in process")
        event_id = make_event(events, 20_000)
        with pool.connection() as conn:
            conn.execute("VACUUM ANALYZE seats")
        best = "/events/{event_id}/best-available"

        def read(name: str, handler: Any, method: str, resource: str, body: Any) -> None:
            path = resource.replace("{event_id}", str(event_id))
            times, cpus, size = [], [], 0
            db0 = tree_cpu(postmaster)
            for _ in range(MAP_CALLS):
                began, began_cpu = time.perf_counter(), time.thread_time()
                with contextlib.redirect_stdout(sink):
                    answer = handler(
                        api_event(method, resource, path, {"event_id": str(event_id)}, body),
                        context(),
                    )
                times.append(time.perf_counter() - began)
                cpus.append(time.thread_time() - began_cpu)
                size = len(answer["body"])
                assert answer["statusCode"] == 200
            db = (tree_cpu(postmaster) - db0) / MAP_CALLS
            print(
                f"  {name:<26} {1000 * median(times):6.1f} ms wall,"
                f" {1000 * median(cpus):6.1f} ms Python CPU, {1000 * db:5.1f} ms DB CPU,"
                f" {size / 1e6:.2f} MB  ({1 / median(times):.0f}/s one at a time)"
            )

        read("seat map, 20,000 seats", list_seats, "GET", "/events/{event_id}/seats", None)
        read("detail, 20,000 seats", get_event, "GET", "/events/{event_id}", None)
        read("best-available, 20,000", best_available, "POST", best, {"count": 6})
        with pool.connection() as conn:  # the front 200 of its 400 rows sold
            conn.execute(
                "UPDATE seats SET status = 'booked', checkout_id = gen_random_uuid()"
                " WHERE event_id = %s AND row_label::integer < 200",
                (event_id,),
            )
            conn.execute("VACUUM ANALYZE seats")
        read("  the same, front half sold", best_available, "POST", best, {"count": 6})
        print("  best-available reads rows best first and stops at the first with a block:")
        print("  its cost grows with the rows it passes, up to the whole venue's.")
    return rates[0]
