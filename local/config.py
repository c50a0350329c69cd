"""Settings of the local stack, read from the environment (see `python -m local --help`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from local.template import ROOT

# The Lambda-like execution environment of the local stack.
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
# Stands in for ${AWS::StackName} (samconfig.toml's stack_name) when naming local resources.
STACK_NAME = "boxoffice"
DATABASE_NAME = "boxoffice"

DEFAULT_PG_PORT = 54329
# Port of moto in `--services-only` mode, fixed so that local/env.json can name it.
DEFAULT_SERVICES_MOTO_PORT = 54330
# Port of the Stripe stand-in in `--services-only` mode (local/env.json names it too).
DEFAULT_SERVICES_STRIPE_PORT = 54331
# API Gateway REST's payload quota: 10 MB (10,485,760 bytes); a bigger body is a 413.
API_GATEWAY_MAX_PAYLOAD_BYTES = 10 * 1024 * 1024


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    try:
        return int(raw) if raw else default
    except ValueError:
        raise SystemExit(f"{name} must be an integer, not {raw!r}") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise SystemExit(f"{name} must be a number, not {raw!r}") from None
    if value <= 0:
        raise SystemExit(f"{name} must be positive, not {raw!r}")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    return raw not in {"0", "false", "no", "off"}


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip().lower() or allowed[0]
    if raw not in allowed:
        raise SystemExit(f"{name} must be one of {', '.join(allowed)}, not {raw!r}")
    return raw


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 3000
    # None: a free port (the full stack); services-only mode defaults to a fixed one.
    moto_port: int | None = None
    # Where moto (and, if not loopback, Postgres) listen: 0.0.0.0 lets Docker reach them.
    services_host: str = "127.0.0.1"
    database_url: str | None = None
    data_dir: Path = ROOT / ".local"
    pg_port: int = DEFAULT_PG_PORT
    admin_api_key: str = "local-admin-key"
    # Instances per function (Lambda's concurrency, scaled down to a laptop).
    lambda_concurrency: int = 4
    # Start one instance of every API function in the background once ready.
    prewarm: bool = True
    ttl_sweep_seconds: float = 5.0
    # Schedules fire this many times faster than their rate says (tests).
    schedule_speedup: float = 1.0
    stream_poll_seconds: float = 0.25
    sqs_poll_seconds: float = 0.25
    max_body_bytes: int = API_GATEWAY_MAX_PAYLOAD_BYTES
    # The stage's throttling (template.yaml's MethodSettings) per client address; these
    # override every entry's rate (tokens a second) and burst (bucket size) when set.
    throttling: bool = True
    rate_limit: float | None = None
    burst_limit: int | None = None
    seed_demo: bool = True
    # Replace the workers when the code under functions/ or layers/ changes.
    reload: bool = True
    # Send event-source invocations to a Lambda endpoint (`sam local start-lambda`).
    lambda_endpoint: str | None = None
    # Payments: Stripe (the stack's own offline stand-in unless STRIPE_API_BASE is set) or
    # the built-in test provider. The keys are the stand-in's documented test values.
    payment_provider: str = "stripe"
    stripe_api_base: str | None = None
    stripe_standin_port: int = 0
    stripe_secret_key: str = "sk_test_local_standin"  # noqa: S105 - a documented test value
    stripe_webhook_secret: str = "whsec_local_test_secret"  # noqa: S105 - a documented test value
    public_base_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        data_dir = Path(env.get("BOXOFFICE_DATA_DIR") or ROOT / ".local")
        if not data_dir.is_absolute():
            data_dir = ROOT / data_dir
        moto_port = env.get("MOTO_PORT", "").strip()
        return cls(
            host=env.get("HOST") or "127.0.0.1",
            port=_int(env, "PORT", 3000),
            moto_port=_int(env, "MOTO_PORT", 0) if moto_port else None,
            services_host=env.get("SERVICES_HOST") or "127.0.0.1",
            database_url=env.get("DATABASE_URL") or None,
            data_dir=data_dir,
            pg_port=_int(env, "PGPORT_LOCAL", DEFAULT_PG_PORT),
            admin_api_key=env.get("ADMIN_API_KEY") or "local-admin-key",
            lambda_concurrency=max(1, _int(env, "LAMBDA_CONCURRENCY", 4)),
            prewarm=_flag(env, "LAMBDA_PREWARM", True),
            ttl_sweep_seconds=_float(env, "TTL_SWEEP_SECONDS", 5.0),
            schedule_speedup=_float(env, "SCHEDULE_SPEEDUP", 1.0),
            stream_poll_seconds=_float(env, "STREAM_POLL_SECONDS", 0.25),
            sqs_poll_seconds=_float(env, "SQS_POLL_SECONDS", 0.25),
            max_body_bytes=max(1, _int(env, "MAX_BODY_BYTES", API_GATEWAY_MAX_PAYLOAD_BYTES)),
            throttling=_flag(env, "GATEWAY_THROTTLING", True),
            rate_limit=_float(env, "GATEWAY_RATE_LIMIT", 0)
            if env.get("GATEWAY_RATE_LIMIT", "").strip()
            else None,
            burst_limit=max(1, _int(env, "GATEWAY_BURST_LIMIT", 1))
            if env.get("GATEWAY_BURST_LIMIT", "").strip()
            else None,
            seed_demo=_flag(env, "SEED_DEMO", True),
            reload=_flag(env, "LOCAL_RELOAD", True),
            lambda_endpoint=env.get("LAMBDA_ENDPOINT") or None,
            payment_provider=_choice(env, "PAYMENT_PROVIDER", ("stripe", "test")),
            stripe_api_base=env.get("STRIPE_API_BASE") or None,
            stripe_standin_port=_int(env, "STRIPE_STANDIN_PORT", 0),
            stripe_secret_key=env.get("STRIPE_SECRET_KEY") or cls.stripe_secret_key,
            stripe_webhook_secret=env.get("STRIPE_WEBHOOK_SECRET") or cls.stripe_webhook_secret,
            public_base_url=env.get("PUBLIC_BASE_URL") or None,
        )

    @property
    def page_url(self) -> str:
        """Where Stripe sends the fan back: the page, on the gateway unless told otherwise."""
        return (self.public_base_url or self.api_url).rstrip("/")

    @property
    def api_url(self) -> str:
        host = "127.0.0.1" if self.host in {"0.0.0.0", ""} else self.host  # noqa: S104
        return f"http://{host}:{self.port}"
