"""The Docker-free local stack: `make dev` / `python -m local`.

One foreground process: Postgres (a persistent cluster in .local/pgdata, or DATABASE_URL),
moto in server mode with the template's tables and queues, Lambda-like worker pools, the
template's event sources, and a local API gateway that also serves the fan page. Ctrl-C
(SIGINT) or SIGTERM stops all of it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time
from types import FrameType
from typing import Any

import psycopg
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from boxoffice.settings import Settings
from boxoffice.stores.events import EventStore
from boxoffice.stores.migrate import migrate
from boxoffice.stores.seats import SeatStore
from local import log, template
from local.aws import LocalAws, create_resources, start_moto
from local.config import (
    DATABASE_NAME,
    DEFAULT_SERVICES_MOTO_PORT,
    DEFAULT_SERVICES_STRIPE_PORT,
    REGION,
    Config,
)
from local.gateway import Gateway, GatewayServer, request_event
from local.lambdas import Invoker, LambdaRuntime, RemoteLambda
from local.postgres import PostgresCluster
from local.seed import DEMO_NAME, create_demo, demo_event
from local.sources import EventSource, Schedule, SqsPoller, StreamPoller, TtlDeletes, TtlSweeper
from local.stripe_standin import StripeServer, StripeStandIn
from local.supervisor import MotoSupervisor
from local.template import Function
from local.throttle import MethodThrottle, Throttle

READY = "Boxoffice local stack ready on"
SERVICES_READY = "Boxoffice local services ready"

# The domain's own knobs a worker keeps, for a stack that should forget sessions sooner (tests).
_DOMAIN = ("SESSION_RETENTION_SECONDS", "PAID_SESSION_RETENTION_SECONDS")
# Environment variables a worker keeps from the stack's own environment.
_PASS_THROUGH = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TMPDIR",
    "SYSTEMROOT",
    *_DOMAIN,
)
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class StackError(Exception):
    """The stack cannot start (a port taken, Postgres missing...): said in one line."""


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def reconcile(conn: psycopg.Connection[Any]) -> int:
    """Sessions and the admission queue live in moto, which starts empty: holds and places
    in line left in Postgres by an earlier run belong to nobody now. Give them back."""

    def connection() -> contextlib.AbstractContextManager[psycopg.Connection[Any]]:
        return contextlib.nullcontext(conn)

    released = SeatStore(connection).release_every_hold()
    EventStore(connection).pass_every_line_to_its_end()
    return released


def _code_snapshot() -> dict[str, float]:
    """Modification times of the code the workers import (functions and the layer)."""
    roots = [template.ROOT / "functions", template.ROOT / "layers" / "common" / "boxoffice"]
    found: dict[str, float] = {}
    for root in roots:
        for path in root.rglob("*"):
            if path.suffix in {".py", ".sql"}:
                with contextlib.suppress(OSError):
                    found[str(path)] = path.stat().st_mtime
    with contextlib.suppress(OSError):
        found[str(template.TEMPLATE)] = template.TEMPLATE.stat().st_mtime
    return found


class CodeWatcher(EventSource):
    """Like `sam local` without warm containers, code changes take effect without a
    restart: when a function's or the layer's code changes, instances are replaced."""

    name = "code watcher"

    def __init__(self, runtime: LambdaRuntime, stop: threading.Event, period: float = 1.0):
        super().__init__(stop)
        self.runtime = runtime
        self.period = period

    def start(self) -> None:
        self._spawn(self._run, "code-watcher")

    def _run(self) -> None:
        before = _code_snapshot()
        while not self.stop.wait(self.period):
            now = _code_snapshot()
            if now == before:
                continue
            changed = {p for p in before.keys() | now.keys() if before.get(p) != now.get(p)}
            before = now
            if str(template.TEMPLATE) in changed:
                log.say("template.yaml changed: restart the stack for new routes or events")
            if changed - {str(template.TEMPLATE)}:
                self.runtime.recycle()
                log.say("Code changed: the functions get fresh instances")


class Stack:
    def __init__(
        self,
        config: Config,
        *,
        services_only: bool = False,
        event_sources: bool = True,
    ) -> None:
        self.config = config
        self.services_only = services_only
        self.event_sources = event_sources
        self.cluster: PostgresCluster | None = None
        self.database_url = ""
        self.moto: Any = None
        self.moto_sqs: Any = None  # SQS's own moto process (not in --services-only mode)
        self.aws: LocalAws | None = None
        self.runtime: LambdaRuntime | None = None
        self.sources: list[EventSource] = []
        self.gateway: GatewayServer | None = None
        self.stripe: StripeServer | None = None
        self.stripe_api_base = config.stripe_api_base or ""
        # The template's parameters as this stack deploys it (its Conditions follow them).
        self.parameters = {"PaymentProvider": config.payment_provider}
        self.functions = template.functions(parameters=self.parameters)
        self._stop = threading.Event()
        self._stopped = False
        self.started = False

    # ------------------------------------------------------------------------- start
    def start(self) -> None:
        began = time.monotonic()
        self._start_database()
        self._start_aws()
        self._start_stripe()
        self._start_sources()
        if not self.services_only:
            self._start_gateway()
        self._seed()
        if self.runtime is not None and self.config.reload:
            watcher = CodeWatcher(self.runtime, self._stop)
            watcher.start()
            self.sources.append(watcher)
        self.started = True
        self._announce(time.monotonic() - began)
        if self.runtime is not None and self.config.prewarm and not self.services_only:
            api_functions = list(
                dict.fromkeys(
                    r.function.logical_id for r in template.api_routes(parameters=self.parameters)
                )
            )
            threading.Thread(
                target=self.runtime.prewarm,
                args=(api_functions, self._stop),
                name="prewarm",
                daemon=True,
            ).start()

    def _start_database(self) -> None:
        config = self.config
        if config.database_url:
            self.database_url = config.database_url
        else:
            config.data_dir.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                # The cluster belongs to the postgres user, who must reach its folder.
                os.chmod(config.data_dir, 0o755)  # noqa: S103
            exposed = config.services_host not in _LOOPBACK
            cluster = PostgresCluster(
                config.data_dir / "pgdata",
                port=config.pg_port,
                fsync=True,
                listen_addresses="*" if exposed else "127.0.0.1",
            )
            self.cluster = cluster
            fresh = not cluster.initialised()
            if not fresh and cluster.running():
                log.say("Stopping a Postgres left running by an earlier run...")
                cluster.stop()
            if not _port_free("127.0.0.1", config.pg_port):
                raise StackError(
                    f"Port {config.pg_port} is taken; set PGPORT_LOCAL to another port "
                    "(or DATABASE_URL to use a Postgres of your own)."
                )
            if fresh:
                log.say(f"Creating the Postgres cluster in {cluster.data_dir} (first start)...")
            try:
                cluster.init()
                if exposed:
                    cluster.allow_hosts("samenet")
                cluster.start()
            except RuntimeError as error:  # no Postgres binaries
                raise StackError(str(error)) from None
            except Exception as error:
                raise StackError(
                    f"Postgres did not start ({error}); see {cluster.log_file}"
                ) from None
            self.database_url = cluster.ensure_database(DATABASE_NAME)
        try:
            with psycopg.connect(self.database_url, autocommit=True, connect_timeout=10) as conn:
                applied = migrate(conn)
                released = reconcile(conn)
        except psycopg.OperationalError as error:
            raise StackError(f"Cannot reach Postgres at DATABASE_URL: {error}") from None
        if applied:
            log.say(f"Applied migrations: {', '.join(applied)}")
        if released:
            log.say(f"Released {released} seat hold(s) left by an earlier run")

    def _start_aws(self) -> None:
        config = self.config
        port = config.moto_port
        if port is None:
            port = DEFAULT_SERVICES_MOTO_PORT if self.services_only else 0
        if port and not _port_free(config.services_host, port):
            raise StackError(f"Port {port} is taken; set MOTO_PORT to another port.")
        self.moto, endpoint = start_moto(config.services_host, port)
        sqs_endpoint = None
        if not self.services_only:
            # As in AWS, SQS does not share a process with DynamoDB: neither waits on the
            # other's interpreter. (--services-only keeps one endpoint for local/env.json.)
            self.moto_sqs, sqs_endpoint = start_moto(config.services_host, 0)
        self.aws = create_resources(endpoint, sqs_endpoint)

    def _start_stripe(self) -> None:
        """The offline Stripe stand-in, unless STRIPE_API_BASE names a Stripe to use."""
        if self.config.stripe_api_base or self.config.payment_provider != "stripe":
            return
        app = StripeStandIn(
            self.config.stripe_webhook_secret, f"{self.config.api_url}/webhooks/stripe"
        )
        port = self.config.stripe_standin_port
        if not port and self.services_only:
            port = DEFAULT_SERVICES_STRIPE_PORT
        try:
            self.stripe = StripeServer(app, self.config.services_host, port).start()
        except OSError as error:
            raise StackError(
                f"Cannot start the Stripe stand-in ({error.strerror}); set STRIPE_STANDIN_PORT"
                " to another port."
            ) from None
        self.stripe_api_base = self.stripe.url

    def worker_env(self, function: Function) -> dict[str, str]:
        """The function's environment: the template's (its Refs to tables and queues resolved
        to the local ones), with local values where it matters."""
        assert self.aws is not None
        env = {name: os.environ[name] for name in _PASS_THROUGH if name in os.environ}
        for name, value in function.environment.items():
            if name.startswith("DB_"):
                continue  # the RDS proxy and its secret: DATABASE_URL replaces them
            resolved = self.aws.resolve(value)
            if resolved is not None:
                env[name] = resolved
        if self.stripe_api_base:
            env["STRIPE_API_BASE"] = self.stripe_api_base
        env.update(
            DATABASE_URL=self.database_url,
            AWS_ENDPOINT_URL=self.aws.endpoint or "",  # the stack always runs a moto server
            AWS_ENDPOINT_URL_SQS=self.aws.endpoint_of("sqs") or "",
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 - moto's
            AWS_DEFAULT_REGION=REGION,
            AWS_REGION=REGION,
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            AWS_LAMBDA_FUNCTION_NAME=function.logical_id,
            AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(function.memory_size),
            AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{function.logical_id}",
            ADMIN_AUTH_MODE="api_key",
            ADMIN_API_KEY=self.config.admin_api_key,
            PAYMENT_PROVIDER=self.config.payment_provider,
            STRIPE_SECRET_KEY=self.config.stripe_secret_key,
            STRIPE_WEBHOOK_SECRET=self.config.stripe_webhook_secret,
            PUBLIC_BASE_URL=self.config.page_url,
            POWERTOOLS_TRACE_DISABLED="true",
            POWERTOOLS_METRICS_DISABLED="true",
            POWERTOOLS_LOG_LEVEL="WARNING",
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
            TZ="UTC",
        )
        return env

    def _capacity(self, function: Function) -> int:
        pollers = [
            int((props.get("ScalingConfig") or {}).get("MaximumConcurrency", 0))
            for f, props in template.events_of_type("SQS")
            if f.logical_id == function.logical_id
        ]
        return max([self.config.lambda_concurrency, *pollers])

    def _ensure_runtime(self) -> LambdaRuntime:
        if self.runtime is None:
            self.runtime = LambdaRuntime(
                self.functions.values(),
                self.worker_env,
                self._capacity,
                tag=f"boxoffice-local-{os.getpid()}",
            )
        return self.runtime

    def _source_invoker(self) -> Invoker:
        if self.config.lambda_endpoint:
            return RemoteLambda(self.config.lambda_endpoint)
        return self._ensure_runtime()

    def _start_sources(self) -> None:
        assert self.aws is not None
        deletes = TtlDeletes()
        stop = self._stop
        for logical_id, table in self.aws.tables.items():
            attribute = template.ttl_attribute(logical_id)
            if attribute:
                keys = [
                    k["AttributeName"]
                    for k in template.resources("AWS::DynamoDB::Table")[logical_id]["KeySchema"]
                ]
                sweeper = TtlSweeper(
                    table.name,
                    attribute,
                    keys,
                    self.aws,
                    deletes,
                    stop,
                    period=self.config.ttl_sweep_seconds,
                )
                self.sources.append(sweeper)
        if self.event_sources:
            invoker = self._source_invoker()
            for function in self.functions.values():
                for event_name, event in function.events.items():
                    kind = event.get("Type")
                    props = event.get("Properties") or {}
                    if kind == "SQS":
                        self.sources.append(
                            SqsPoller(
                                function,
                                props,
                                self.aws,
                                invoker,
                                stop,
                                poll_seconds=self.config.sqs_poll_seconds,
                            )
                        )
                    elif kind == "DynamoDB":
                        self.sources.append(
                            StreamPoller(
                                function,
                                props,
                                self.aws,
                                invoker,
                                deletes,
                                stop,
                                poll_seconds=self.config.stream_poll_seconds,
                            )
                        )
                    elif kind == "Schedule":
                        self.sources.append(
                            Schedule(
                                function,
                                event_name,
                                props,
                                invoker,
                                stop,
                                speedup=self.config.schedule_speedup,
                            )
                        )
                    elif kind != "Api":
                        log.say(f"{function.logical_id}: {kind} events are not run locally")
        self.sources.append(
            MotoSupervisor(
                lambda: [p for p in (self.moto, self.moto_sqs) if p is not None],
                self._replace_moto,
                self.aws,
                self.database_url,
                self.sources,
                stop,
            )
        )
        for source in self.sources:
            source.start()
        for source in self.sources:
            if isinstance(source, StreamPoller) and not source.wait_ready(10):
                raise StackError(f"{source.name} did not start")

    def throttle(self) -> Throttle | None:
        """The stage's throttling (template.yaml), the config's numbers overriding it."""
        if not self.config.throttling:
            return None
        settings = [
            MethodThrottle(
                resource,
                method,
                self.config.rate_limit or rate,
                self.config.burst_limit or burst,
            )
            for resource, method, rate, burst in template.stage_throttling()
        ]
        return Throttle(settings) if settings else None

    def _replace_moto(self, moto: Any, moto_sqs: Any) -> None:
        self.moto, self.moto_sqs = moto, moto_sqs

    def _start_gateway(self) -> None:
        runtime = self._ensure_runtime()
        app = Gateway(
            template.api_routes(parameters=self.parameters),
            runtime,
            cors=template.api_cors(),
            gateway_headers=template.gateway_response_headers(),
            max_body_bytes=self.config.max_body_bytes,
            throttle=self.throttle(),
        )
        try:
            self.gateway = GatewayServer(app, self.config.host, self.config.port)
        except OSError as error:
            raise StackError(
                f"Cannot listen on {self.config.host}:{self.config.port} ({error.strerror});"
                " set PORT to another port."
            ) from None
        self.gateway.start()

    def _seed(self) -> None:
        if not self.config.seed_demo:
            return
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            row = conn.execute("SELECT EXISTS (SELECT 1 FROM events)").fetchone()
        if row and row[0]:
            return
        try:
            if self.gateway is not None:
                created = create_demo(self.config.api_url, self.config.admin_api_key)
            else:
                created = self._create_demo_directly()
        except Exception as error:
            log.say(f"Could not create the demo event: {error}")
            return
        log.say(f"Created the demo event {DEMO_NAME!r} ({created.get('seats_total')} seats)")

    def _create_demo_directly(self) -> dict[str, Any]:
        """Without the gateway: the API event of `POST /events`, given to the function."""
        [route] = [
            r
            for r in template.api_routes(parameters=self.parameters)
            if (r.method, r.path) == ("POST", "/events")
        ]
        body = json.dumps(demo_event()).encode()
        environ = EnvironBuilder(
            method="POST",
            path="/events",
            data=body,
            headers=[
                ("Content-Type", "application/json"),
                ("x-api-key", self.config.admin_api_key),
            ],
        ).get_environ()
        event = request_event(Request(environ), route.path, {}, body)
        invocation = self._ensure_runtime().invoke(route.function, event)
        result = invocation.result if invocation.ok else None
        if not isinstance(result, dict) or result.get("statusCode") != 201:
            raise RuntimeError(invocation.error or f"answer {result!r}")
        created: dict[str, Any] = json.loads(result["body"])
        return created

    def _payments_line(self) -> str:
        if self.config.payment_provider == "test":
            return "test provider (POST /checkouts/{id}/complete books without paying)"
        if self.stripe is not None:
            return f"Stripe stand-in {self.stripe.url}  (offline; its pay page sends the webhook)"
        return f"Stripe at {self.stripe_api_base}"

    def _announce(self, seconds: float) -> None:
        config = self.config
        assert self.aws is not None
        where = (
            f"{self.cluster.data_dir} (port {self.cluster.port})"
            if self.cluster
            else "DATABASE_URL"
        )
        lines = [
            f"  Postgres  {self.database_url}  [{where}]",
            f"  moto      {self.aws.endpoint}  (DynamoDB + streams"
            + (f"; SQS: {self.aws.sqs_endpoint})" if self.aws.sqs_endpoint else ", SQS)"),
            f"  payments  {self._payments_line()}",
        ]
        for table in self.aws.tables.values():
            lines.append(f"  table     {table.name}")
        for queue in self.aws.queues.values():
            lines.append(f"  queue     {queue.url}")
        if self.services_only:
            log.say("\n".join(lines))
            log.say(
                f"{SERVICES_READY} in {seconds:.1f} s; for `sam local start-api` see local/env.json"
            )
            return
        routes = template.api_routes(parameters=self.parameters)
        lines = [
            f"  API       {config.api_url}  ({len(routes)} routes from template.yaml)",
            f"  Page      {config.api_url}/",
            f"  Admin key {config.admin_api_key}  (header x-api-key)",
            *lines,
        ]
        log.say("\n".join(lines))
        log.say(f"{READY} {config.api_url} (started in {seconds:.1f} s; Ctrl-C stops it)")

    # -------------------------------------------------------------------------- stop
    def kill_workers(self) -> None:
        if self.runtime is not None:
            for pid in self.runtime.pids():
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        timings = os.environ.get("LOCAL_STOP_TIMINGS")
        mark = time.monotonic()

        def step(name: str) -> None:
            nonlocal mark
            if timings:
                log.say(f"  stop {name}: {time.monotonic() - mark:.2f} s")
            mark = time.monotonic()

        if self.gateway is not None:
            self.gateway.stop()
            step("gateway")
        if self.runtime is not None:
            self.runtime.close()
            step("workers")
        for source in self.sources:
            source.join(5)
        step("event sources")
        if self.stripe is not None:
            self.stripe.stop()
            step("stripe stand-in")
        for moto in (self.moto, self.moto_sqs):
            if moto is not None:
                try:
                    moto.stop()
                except Exception as error:
                    log.say(f"moto did not stop cleanly: {error}")
        step("moto")
        if self.cluster is not None:
            self.cluster.stop()
            step("postgres")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local",
        description="Run Boxoffice locally without Docker: Postgres, moto (DynamoDB, SQS),\n"
        "the functions of template.yaml behind a local API gateway, and their event sources.",
        epilog="Environment (unset or blank: the default):\n"
        + Config.described()
        + "\nPassed on to the functions as they are: "
        + ", ".join(f"{name} ({Settings.model_fields[name.lower()].default})" for name in _DOMAIN),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--services-only",
        action="store_true",
        help="only Postgres and moto (with tables, queues, TTL and the event sources): the"
        f" backing services for `sam local start-api`; moto on port {DEFAULT_SERVICES_MOTO_PORT}",
    )
    parser.add_argument(
        "--no-event-sources",
        action="store_true",
        help="do not poll SQS and the DynamoDB stream nor fire the schedules",
    )
    parser.add_argument(
        "--lambda-endpoint",
        metavar="URL",
        help="invoke event-source functions through this Lambda endpoint, e.g. the one of"
        " `sam local start-lambda` (http://127.0.0.1:3001), instead of local workers",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = Config.from_env()
    if args.lambda_endpoint:
        config = config.model_copy(update={"lambda_endpoint": args.lambda_endpoint})
    stack = Stack(config, services_only=args.services_only, event_sources=not args.no_event_sources)
    stopping = threading.Event()
    first_signal: list[float] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stopping.is_set():
            # A second Ctrl-C (not the same one delivered twice) stops without waiting.
            if first_signal and time.monotonic() - first_signal[0] > 1.0:
                log.say("Stopping now.")
                stack.kill_workers()
                if stack.cluster is not None:
                    stack.cluster.stop()
                os._exit(130)
            return
        stopping.set()
        first_signal.append(time.monotonic())
        if not stack.started:
            raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    code = 0
    try:
        stack.start()
        while not stopping.wait(3600):
            pass
    except KeyboardInterrupt:
        pass
    except StackError as error:
        log.say(f"error: {error}")
        code = 1
    finally:
        stopping.set()
        log.say("Stopping...")
        stack.stop()
        log.say("Stopped.")
    return code


if __name__ == "__main__":
    sys.exit(main())
