"""The Docker-free local stack: `make dev` / `python -m local`.

One foreground process tree: Postgres (a persistent cluster in .local/pgdata, or
DATABASE_URL), moto in server mode with the template's tables and queues (processes of its
own), Lambda-like worker pools, the template's event sources (a process of their own,
local/event_sources.py), and a local API gateway that also serves the fan page (in this
process). Ctrl-C (SIGINT) or SIGTERM stops all of it.

Each part, once started, registers its own stop; they stop in the reverse order.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

from boxoffice.stores.events import EventStore
from boxoffice.stores.migrate import migrate
from boxoffice.stores.seats import SeatStore
from local import log, template
from local.aws import LocalAws, MotoProcess, create_resources, start_moto
from local.config import (
    DATABASE_NAME,
    DEFAULT_SERVICES_MOTO_PORT,
    DEFAULT_SERVICES_STRIPE_PORT,
    Config,
)
from local.event_sources import SourcesProcess, SourcesSupervisor
from local.gateway import Gateway, GatewayServer
from local.lambdas import LambdaRuntime
from local.postgres import PostgresCluster
from local.seed import DEMO_NAME, create_demo, create_demo_directly
from local.stripe_standin import StripeServer, StripeStandIn
from local.supervisor import MotoSupervisor
from local.throttle import stage_throttle
from local.workers import CodeWatcher, Deployment

READY = "Boxoffice local stack ready on"
SERVICES_READY = "Boxoffice local services ready"

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


class Stack:
    """The local stack's parts, started in order by `start()` and stopped by `stop()`."""

    def __init__(
        self, config: Config, *, services_only: bool = False, event_sources: bool = True
    ) -> None:
        self.config = config
        self.services_only = services_only
        self.event_sources = event_sources
        # The template's parameters as this stack deploys it (its Conditions follow them).
        self.parameters = {"PaymentProvider": config.payment_provider}
        self.functions = template.functions(parameters=self.parameters)
        self.routes = template.api_routes(parameters=self.parameters)
        self.tag = f"boxoffice-local-{os.getpid()}"  # marks the stack's worker processes
        self.cluster: PostgresCluster | None = None  # the stack's own, unless DATABASE_URL
        self.runtime: LambdaRuntime | None = None  # the API functions' workers, once needed
        self.sources: SourcesProcess | None = None
        self.started = False
        self._stop = threading.Event()
        self._exits = contextlib.ExitStack()

    # ------------------------------------------------------------------------- start
    def start(self) -> None:
        began = time.monotonic()
        database_url = self._start_database()
        motos, aws = self._start_aws()
        stripe = self._start_stripe()
        stripe_api_base = stripe.url if stripe else self.config.stripe_api_base or ""
        deployment = Deployment(self.config, database_url, aws, stripe_api_base)
        sources = self._start_sources(deployment)

        def replace_motos(dynamodb: MotoProcess, sqs: MotoProcess | None) -> None:
            motos[:] = [dynamodb] if sqs is None else [dynamodb, sqs]

        supervisor = MotoSupervisor(
            lambda: list(motos), replace_motos, aws, database_url, sources.follow, self._stop
        )
        supervisor.start()
        self._on_stop("moto supervisor", lambda: supervisor.join(5))
        if not self.services_only:
            self._start_gateway(deployment)
        problem = sources.wait_ready()  # the stream pollers read from now on
        if problem:
            raise StackError(problem)
        sources_supervisor = SourcesSupervisor(sources, self._stop)
        sources_supervisor.start()
        self._on_stop("event sources supervisor", lambda: sources_supervisor.join(5))
        self._seed(deployment)
        if self.config.reload:
            watcher = CodeWatcher(self._recycle, self._stop)
            watcher.start()
            self._on_stop("code watcher", lambda: watcher.join(5))
        self.started = True
        self._announce(deployment, stripe, time.monotonic() - began)
        if self.config.prewarm and not self.services_only:
            api_functions = list(dict.fromkeys(r.function.logical_id for r in self.routes))
            threading.Thread(
                target=self._workers(deployment).prewarm,
                args=(api_functions, self._stop),
                name="prewarm",
                daemon=True,
            ).start()

    def _on_stop(self, name: str, stop: Callable[[], object]) -> None:
        """Register a started part's stop: `stop()` runs them in the reverse order."""
        timings = os.environ.get("LOCAL_STOP_TIMINGS")

        def run() -> None:
            began = time.monotonic()
            try:
                stop()
            except Exception as error:
                log.say(f"{name} did not stop cleanly: {error}")
            if timings:
                log.say(f"  stop {name}: {time.monotonic() - began:.2f} s")

        self._exits.callback(run)

    def _start_database(self) -> str:
        config = self.config
        database_url = config.database_url or ""
        if not database_url:
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
            self.cluster = cluster
            self._on_stop("postgres", cluster.stop)
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
            database_url = cluster.ensure_database(DATABASE_NAME)
        try:
            with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as conn:
                applied = migrate(conn)
                released = reconcile(conn)
        except psycopg.OperationalError as error:
            raise StackError(f"Cannot reach Postgres at DATABASE_URL: {error}") from None
        if applied:
            log.say(f"Applied migrations: {', '.join(applied)}")
        if released:
            log.say(f"Released {released} seat hold(s) left by an earlier run")
        return database_url

    def _start_aws(self) -> tuple[list[MotoProcess], LocalAws]:
        """moto's processes (the supervisor replaces them if they die) and its resources."""
        host, port = self.config.services_host, self.config.moto_port
        if port is None:
            port = DEFAULT_SERVICES_MOTO_PORT if self.services_only else 0
        if port and not _port_free(host, port):
            raise StackError(f"Port {port} is taken; set MOTO_PORT to another port.")
        motos: list[MotoProcess] = []

        def stop_motos() -> None:
            for moto in motos:
                moto.stop()

        self._on_stop("moto", stop_motos)
        moto, endpoint = start_moto(host, port)
        motos.append(moto)
        sqs_endpoint = None
        if not self.services_only:
            # As in AWS, SQS does not share a process with DynamoDB: neither waits on the
            # other's interpreter. (--services-only keeps one endpoint for local/env.json.)
            moto_sqs, sqs_endpoint = start_moto(host, 0)
            motos.append(moto_sqs)
        return motos, create_resources(endpoint, sqs_endpoint)

    def _start_stripe(self) -> StripeServer | None:
        """The offline Stripe stand-in, unless STRIPE_API_BASE names a Stripe to use."""
        config = self.config
        if config.stripe_api_base or config.payment_provider != "stripe":
            return None
        app = StripeStandIn(config.stripe_webhook_secret, f"{config.api_url}/webhooks/stripe")
        port = config.stripe_standin_port
        if not port and self.services_only:
            port = DEFAULT_SERVICES_STRIPE_PORT
        try:
            stripe = StripeServer(app, config.services_host, port).start()
        except OSError as error:
            raise StackError(
                f"Cannot start the Stripe stand-in ({error.strerror}); set STRIPE_STANDIN_PORT"
                " to another port."
            ) from None
        self._on_stop("stripe stand-in", stripe.stop)
        return stripe

    def _start_sources(self, deployment: Deployment) -> SourcesProcess:
        """The event sources' process (local/event_sources.py), starting while the rest
        does; `wait_ready` tells when its stream pollers are reading."""
        sources = SourcesProcess(deployment, self.parameters, self.tag, mapped=self.event_sources)
        self.sources = sources
        self._on_stop("event sources", sources.close)
        return sources

    def _workers(self, deployment: Deployment) -> LambdaRuntime:
        """The API functions' workers (the event sources have their own)."""
        if self.runtime is None:
            self.runtime = deployment.runtime(self.functions.values(), self.tag)
            self._on_stop("workers", self.runtime.close)
        return self.runtime

    def _recycle(self) -> None:
        if self.runtime is not None:
            self.runtime.recycle()
        if self.sources is not None:
            self.sources.recycle()

    def _start_gateway(self, deployment: Deployment) -> None:
        config = self.config
        app = Gateway(
            self.routes,
            self._workers(deployment),
            cors=template.api_cors(),
            gateway_headers=template.gateway_response_headers(),
            max_body_bytes=config.max_body_bytes,
            throttle=stage_throttle(config.rate_limit, config.burst_limit)
            if config.throttling
            else None,
        )
        try:
            gateway = GatewayServer(app, config.host, config.port)
        except OSError as error:
            raise StackError(
                f"Cannot listen on {config.host}:{config.port} ({error.strerror});"
                " set PORT to another port."
            ) from None
        gateway.start()
        self._on_stop("gateway", gateway.stop)

    def _seed(self, deployment: Deployment) -> None:
        config = self.config
        if not config.seed_demo:
            return
        with psycopg.connect(deployment.database_url, autocommit=True) as conn:
            row = conn.execute("SELECT EXISTS (SELECT 1 FROM events)").fetchone()
        if row and row[0]:
            return
        try:
            if self.services_only:
                workers = self._workers(deployment)
                created = create_demo_directly(self.routes, workers, config.admin_api_key)
            else:
                created = create_demo(config.api_url, config.admin_api_key)
        except Exception as error:
            log.say(f"Could not create the demo event: {error}")
            return
        log.say(f"Created the demo event {DEMO_NAME!r} ({created.get('seats_total')} seats)")

    def _announce(self, deployment: Deployment, stripe: StripeServer | None, took: float) -> None:
        config, aws, cluster = self.config, deployment.aws, self.cluster
        if config.payment_provider == "test":
            payments = "test provider (POST /checkouts/{id}/complete books without paying)"
        elif stripe is not None:
            payments = f"Stripe stand-in {stripe.url}  (offline; its pay page sends the webhook)"
        else:
            payments = f"Stripe at {deployment.stripe_api_base}"
        where = f"{cluster.data_dir} (port {cluster.port})" if cluster else "DATABASE_URL"
        lines = [
            f"  Postgres  {deployment.database_url}  [{where}]",
            f"  moto      {aws.endpoint}  (DynamoDB + streams"
            + (f"; SQS: {aws.sqs_endpoint})" if aws.sqs_endpoint else ", SQS)"),
            f"  payments  {payments}",
            *(f"  table     {table.name}" for table in aws.tables.values()),
            *(f"  queue     {queue.url}" for queue in aws.queues.values()),
        ]
        if self.services_only:
            log.say("\n".join(lines))
            log.say(
                f"{SERVICES_READY} in {took:.1f} s; for `sam local start-api` see local/env.json"
            )
            return
        lines = [
            f"  API       {config.api_url}  ({len(self.routes)} routes from template.yaml)",
            f"  Page      {config.api_url}/",
            f"  Admin key {config.admin_api_key}  (header x-api-key)",
            *lines,
        ]
        log.say("\n".join(lines))
        log.say(f"{READY} {config.api_url} (started in {took:.1f} s; Ctrl-C stops it)")

    # -------------------------------------------------------------------------- stop
    def kill_workers(self) -> None:
        """The API functions' workers, at once (the event sources' process ends its own when
        the stack's end closes its stdin)."""
        for pid in self.runtime.pids() if self.runtime is not None else []:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        """Stop every part started, the last first (again: nothing more to do)."""
        self._stop.set()
        self._exits.close()
