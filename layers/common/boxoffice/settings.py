"""Configuration from the environment, read once per container through pydantic-settings."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    # Postgres: a full URL locally; in AWS the RDS Proxy host plus a Secrets Manager secret.
    database_url: SecretStr | None = None
    db_host: str | None = None
    db_port: int = 5432
    db_name: str = "boxoffice"
    db_secret_arn: str | None = None
    db_connect_timeout_seconds: int = 5

    sessions_table: str = "boxoffice-sessions"
    admission_queue_url: str | None = None
    admission_dlq_url: str | None = None

    # In AWS the admin route is IAM-authorised by API Gateway; locally it takes x-api-key.
    admin_auth_mode: Literal["iam", "api_key"] = "api_key"
    admin_api_key: SecretStr = SecretStr("local-admin-key")

    # How long DynamoDB keeps a session after its hold ends, and after it is paid.
    session_retention_seconds: int = Field(default=86_400, ge=0)
    paid_session_retention_seconds: int = Field(default=30 * 86_400, ge=0)

    max_seats_per_checkout: int = Field(default=10, ge=1, le=100)
    max_seats_per_event: int = Field(default=20_000, ge=1)

    # Who takes the money: Stripe Checkout, or the built-in test provider (`/complete`).
    payment_provider: Literal["stripe", "test"] = "stripe"
    # Stripe's API key: in AWS from Secrets Manager (the ARN wins when set); the default is
    # the local stand-in's documented test value, not a real key.
    stripe_secret_key: SecretStr = SecretStr("sk_test_local_standin")
    stripe_secret_arn: str | None = None
    stripe_api_base: str = "https://api.stripe.com"
    # Per call to Stripe. A start of payment makes at most two calls, within the function's
    # 10 s; Stripe slower than this answers 503 payment_unavailable.
    stripe_timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    # Where Stripe's hosted page sends the fan back (the page's own origin). Unset: the
    # Origin of the page that starts the payment, when it is an HTTPS one.
    public_base_url: str | None = None

    # Stripe's webhook signing secret. In AWS it lives in Secrets Manager (the ARN wins when
    # set); the default is a local test value, not a real secret.
    stripe_webhook_secret: SecretStr = SecretStr("whsec_local_test_secret")
    stripe_webhook_secret_arn: str | None = None

    @field_validator(
        "database_url",
        "admission_queue_url",
        "admission_dlq_url",
        "stripe_secret_arn",
        "stripe_webhook_secret_arn",
        "public_base_url",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """The template declares local-only variables as empty so `sam local` can set them."""
        return None if value == "" else value

    @field_validator("stripe_secret_key", "stripe_webhook_secret", mode="before")
    @classmethod
    def _empty_is_default(cls, value: object, info: ValidationInfo) -> object:
        return cls.model_fields[str(info.field_name)].default if value == "" else value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
