"""The functions as the local stack deploys them: each one's environment (the template's,
its Refs resolved to the local tables and queues), how many instances it may have, and a
watcher that gives them fresh instances when their code changes."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from local import log, template
from local.aws import LocalAws
from local.config import REGION, Config
from local.lambdas import LambdaRuntime
from local.sources import EventSource
from local.template import Function

# The domain's own knobs a worker keeps, for a stack that should forget sessions sooner (tests).
DOMAIN_VARIABLES = ("SESSION_RETENTION_SECONDS", "PAID_SESSION_RETENTION_SECONDS")
# Environment variables a worker keeps from the stack's own environment.
_PASS_THROUGH = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TMPDIR",
    "SYSTEMROOT",
    *DOMAIN_VARIABLES,
)


@dataclass(frozen=True)
class Deployment:
    """What a function's instances are given: the stack's settings and backing services."""

    config: Config
    database_url: str
    aws: LocalAws
    stripe_api_base: str

    def environment(self, function: Function) -> dict[str, str]:
        """The function's environment: the template's (its Refs to tables and queues resolved
        to the local ones), with local values where it matters."""
        config = self.config
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
            ADMIN_API_KEY=config.admin_api_key,
            PAYMENT_PROVIDER=config.payment_provider,
            STRIPE_SECRET_KEY=config.stripe_secret_key,
            STRIPE_WEBHOOK_SECRET=config.stripe_webhook_secret,
            PUBLIC_BASE_URL=config.page_url,
            POWERTOOLS_TRACE_DISABLED="true",
            POWERTOOLS_METRICS_DISABLED="true",
            POWERTOOLS_LOG_LEVEL="WARNING",
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
            TZ="UTC",
        )
        return env

    def capacity(self, function: Function) -> int:
        """LAMBDA_CONCURRENCY instances, or more if an SQS mapping may invoke more at once."""
        pollers = [
            int((props.get("ScalingConfig") or {}).get("MaximumConcurrency", 0))
            for f, props in template.events_of_type("SQS")
            if f.logical_id == function.logical_id
        ]
        return max([self.config.lambda_concurrency, *pollers])

    def runtime(self, functions: Iterable[Function], tag: str) -> LambdaRuntime:
        """Pools of worker processes for `functions` (none started yet), marked with `tag`."""
        return LambdaRuntime(functions, self.environment, self.capacity, tag=tag)


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

    def __init__(
        self, recycle: Callable[[], None], stop: threading.Event, period: float = 1.0
    ) -> None:
        super().__init__(stop)
        self.recycle = recycle
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
                self.recycle()
                log.say("Code changed: the functions get fresh instances")
