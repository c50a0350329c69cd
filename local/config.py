"""Settings of the local stack, read from the environment (see `python -m local --help`).

`Config` is a pydantic-settings model: each field names its environment variable (its
alias), its type, its default and what it is for; `python -m local --help` lists them from
here. A variable that is unset or blank means the default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

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

_OFF = {"0", "false", "no", "off"}


def _flag(value: object) -> object:
    """Anything but 0, false, no or off (any case) turns a flag on."""
    return value if isinstance(value, bool) else str(value).strip().lower() not in _OFF


# A switch (1 / 0); a count of at least one (less is taken as one); a positive number.
Flag = Annotated[bool, BeforeValidator(_flag)]
AtLeastOne = Annotated[int, AfterValidator(lambda value: max(1, value))]
Positive = Annotated[float, Field(gt=0)]


class _Environment(PydanticBaseSettingsSource):
    """The fields' variables in `environ`, stripped; a blank one is unset."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        name = field.alias or field_name
        value = self.environ.get(name, "").strip()
        return value or None, name, False

    def __call__(self) -> dict[str, Any]:
        found = {}
        for field_name, field in self.settings_cls.model_fields.items():
            value, name, _ = self.get_field_value(field, field_name)
            if value is not None:
                found[name] = value
        return found


class Config(BaseSettings):
    """The local stack's settings; `Config.from_env()` reads them (os.environ or a mapping)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", validate_by_name=True)

    host: str = Field("127.0.0.1", alias="HOST", description="the gateway's address")
    port: int = Field(3000, alias="PORT", description="the gateway's port")
    moto_port: int | None = Field(
        None,
        alias="MOTO_PORT",
        description=f"moto's port (default: a free one; {DEFAULT_SERVICES_MOTO_PORT} with"
        " --services-only)",
    )
    services_host: str = Field(
        "127.0.0.1",
        alias="SERVICES_HOST",
        description="where moto (and, if not loopback, Postgres) listen: 0.0.0.0 lets Docker"
        " reach them",
    )
    database_url: str | None = Field(
        None, alias="DATABASE_URL", description="a Postgres of your own instead of the stack's"
    )
    data_dir: Path = Field(
        Path(".local"),
        alias="BOXOFFICE_DATA_DIR",
        validate_default=True,
        description="where the stack's Postgres cluster lives (relative to the project)",
    )
    pg_port: int = Field(
        DEFAULT_PG_PORT, alias="PGPORT_LOCAL", description="the stack's Postgres port"
    )
    admin_api_key: str = Field(
        "local-admin-key", alias="ADMIN_API_KEY", description="the admin routes' x-api-key"
    )
    lambda_concurrency: AtLeastOne = Field(
        4,
        alias="LAMBDA_CONCURRENCY",
        description="instances per function (Lambda's concurrency, scaled down to a laptop)",
    )
    prewarm: Flag = Field(
        True,
        alias="LAMBDA_PREWARM",
        description="start one instance of every API function in the background once ready",
    )
    ttl_sweep_seconds: Positive = Field(
        5.0, alias="TTL_SWEEP_SECONDS", description="how often DynamoDB's TTL is emulated"
    )
    schedule_speedup: Positive = Field(
        1.0,
        alias="SCHEDULE_SPEEDUP",
        description="schedules fire this many times faster than their rate says (tests)",
    )
    stream_poll_seconds: Positive = Field(
        0.25, alias="STREAM_POLL_SECONDS", description="how often the DynamoDB stream is read"
    )
    sqs_poll_seconds: Positive = Field(
        0.25, alias="SQS_POLL_SECONDS", description="how often an idle SQS queue is polled"
    )
    max_body_bytes: AtLeastOne = Field(
        API_GATEWAY_MAX_PAYLOAD_BYTES,
        alias="MAX_BODY_BYTES",
        description="the largest request body (API Gateway's quota); a bigger one is a 413",
    )
    throttling: Flag = Field(
        True,
        alias="GATEWAY_THROTTLING",
        description="the stage's throttling (template.yaml's MethodSettings) per client address",
    )
    rate_limit: Positive | None = Field(
        None,
        alias="GATEWAY_RATE_LIMIT",
        description="requests a second per client, for every route (default: the stage's)",
    )
    burst_limit: AtLeastOne | None = Field(
        None,
        alias="GATEWAY_BURST_LIMIT",
        description="the throttle's bucket size, for every route (default: the stage's)",
    )
    seed_demo: Flag = Field(
        True, alias="SEED_DEMO", description="create the demo event in an empty database"
    )
    reload: Flag = Field(
        True,
        alias="LOCAL_RELOAD",
        description="replace the workers when the code under functions/ or layers/ changes",
    )
    lambda_endpoint: str | None = Field(
        None,
        alias="LAMBDA_ENDPOINT",
        description="invoke event-source functions at this Lambda endpoint (--lambda-endpoint)",
    )
    payment_provider: Annotated[
        Literal["stripe", "test"], BeforeValidator(lambda value: str(value).lower())
    ] = Field(
        "stripe",
        alias="PAYMENT_PROVIDER",
        description="stripe (the stand-in unless STRIPE_API_BASE is set) or test (/complete)",
    )
    stripe_api_base: str | None = Field(
        None,
        alias="STRIPE_API_BASE",
        description="a Stripe to use (default: the stack's offline stand-in)",
    )
    stripe_standin_port: int = Field(
        0, alias="STRIPE_STANDIN_PORT", description="the stand-in's port (default: a free one)"
    )
    stripe_secret_key: str = Field(
        "sk_test_local_standin",
        alias="STRIPE_SECRET_KEY",
        description="Stripe's API key (the stand-in's documented test value)",
    )
    stripe_webhook_secret: str = Field(
        "whsec_local_test_secret",
        alias="STRIPE_WEBHOOK_SECRET",
        description="the webhooks' signing secret (the stand-in's documented test value)",
    )
    public_base_url: str | None = Field(
        None,
        alias="PUBLIC_BASE_URL",
        description="where Stripe sends the fan back (default: the gateway's page)",
    )

    @field_validator("data_dir")
    @classmethod
    def _from_the_project(cls, value: Path) -> Path:
        return value if value.is_absolute() else ROOT / value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _Environment(settings_cls, os.environ)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        """The settings in `env` (os.environ by default); SystemExit says what is wrong."""
        source = _Environment(cls, os.environ if env is None else env)
        try:
            return cls(_build_sources=((source,), {}))
        except ValidationError as error:
            raise SystemExit("\n".join(_complaint(e) for e in error.errors())) from None

    def as_env(self) -> dict[str, str]:
        """These settings as the environment that `from_env` reads them back from."""
        found = {}
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if value is not None:
                shown = ("1" if value else "0") if isinstance(value, bool) else str(value)
                found[field.alias or name] = shown
        return found

    @classmethod
    def described(cls) -> str:
        """One line per variable: its name, default and description (for --help)."""
        lines = []
        for field in cls.model_fields.values():
            default = field.default
            shown = str(field.alias)
            if default is not None:
                shown += f" ({int(default) if isinstance(default, bool) else default})"
            if len(shown) > 28:
                lines.append(f"  {shown}")
                shown = ""
            lines.append(f"  {shown:<28} {field.description}")
        return "\n".join(lines)

    @property
    def page_url(self) -> str:
        """Where Stripe sends the fan back: the page, on the gateway unless told otherwise."""
        return (self.public_base_url or self.api_url).rstrip("/")

    @property
    def api_url(self) -> str:
        host = "127.0.0.1" if self.host in {"0.0.0.0", ""} else self.host  # noqa: S104
        return f"http://{host}:{self.port}"


_WANTED = {
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_parsing": "must be a number",
    "greater_than": "must be positive",
}


def _complaint(error: Any) -> str:
    """`PORT must be an integer, not 'x'`: one line for one ValidationError entry."""
    if error["type"] == "literal_error":
        allowed = str(error["ctx"]["expected"]).replace("'", "").replace(" or ", ", ")
        wanted = f"must be one of {allowed}"
    else:
        wanted = _WANTED.get(error["type"], str(error["msg"]).lower())
    return f"{error['loc'][0]} {wanted}, not {error['input']!r}"
