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
    max_body_bytes: int = 1024 * 1024
    seed_demo: bool = True
    # Replace the workers when the code under functions/ or layers/ changes.
    reload: bool = True
    # Send event-source invocations to a Lambda endpoint (`sam local start-lambda`).
    lambda_endpoint: str | None = None

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
            max_body_bytes=max(1, _int(env, "MAX_BODY_BYTES", 1024 * 1024)),
            seed_demo=_flag(env, "SEED_DEMO", True),
            reload=_flag(env, "LOCAL_RELOAD", True),
            lambda_endpoint=env.get("LAMBDA_ENDPOINT") or None,
        )

    @property
    def api_url(self) -> str:
        host = "127.0.0.1" if self.host in {"0.0.0.0", ""} else self.host  # noqa: S104
        return f"http://{host}:{self.port}"
