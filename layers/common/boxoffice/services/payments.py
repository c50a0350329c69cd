"""Stripe webhooks: check the signature over the raw body, then settle the checkout it names.

Stripe retries every answer that is not 2xx, so only a bad signature or an unreadable
payload is refused (400). A verdict that cannot be applied (an unknown checkout, a payment
for a hold that has ended) is logged and acknowledged: retrying would not change it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import stripe
from aws_lambda_powertools.utilities import parameters
from pydantic import BaseModel, SerializerFunctionWrapHandler, model_serializer

from boxoffice.errors import (
    CheckoutCompleted,
    CheckoutExpired,
    CheckoutNotFound,
    DomainError,
    NotAdmitted,
    PaymentMismatch,
)
from boxoffice.ids import parse_uuid
from boxoffice.models.checkouts import StoredStatus
from boxoffice.observability import MetricUnit, logger, metrics
from boxoffice.runtime import Dependencies
from boxoffice.services.checkouts import settle_payment
from boxoffice.settings import Settings

PROVIDER = "stripe"
# How long a warm container trusts the secret it read (a rotated secret is seen after this).
SECRET_MAX_AGE_SECONDS = 300

# Paid: book the seats (checkout.session.completed only once its payment_status is paid;
# a delayed payment method reports later with async_payment_succeeded or _failed).
PAID_EVENTS = frozenset({"checkout.session.completed", "checkout.session.async_payment_succeeded"})
# Not paid: release the seats. A declined card (payment_intent.payment_failed) is not one:
# Stripe Checkout lets the fan try another card until the session itself expires.
UNPAID_EVENTS = frozenset({"checkout.session.expired", "checkout.session.async_payment_failed"})


class InvalidSignature(DomainError):
    code = "invalid_signature"


class InvalidPayload(DomainError):
    code = "invalid_payload"


class WebhookReceipt(BaseModel):
    """The answer to Stripe: received, and whether it changed (or confirmed) a checkout."""

    received: bool = True
    handled: bool
    checkout_id: UUID | None = None
    status: StoredStatus | None = None
    reason: str | None = None

    @model_serializer(mode="wrap")
    def _without_unset(self, serialize: SerializerFunctionWrapHandler) -> dict[str, Any]:
        fields: dict[str, Any] = serialize(self)
        return {name: value for name, value in fields.items() if value is not None}


def signing_secret(settings: Settings) -> str:
    """The webhook signing secret: from Secrets Manager when its ARN is set (cached per
    container), else the plain setting (local runs and tests)."""
    arn = settings.stripe_webhook_secret_arn
    if arn:
        return parameters.get_secret(arn, max_age=SECRET_MAX_AGE_SECONDS).strip()
    return settings.stripe_webhook_secret.get_secret_value()


def verify(payload: str, signature: str | None, secret: str) -> dict[str, Any]:
    """The event, if `signature` is Stripe's for exactly these bytes and recent enough."""
    if not signature:
        raise InvalidSignature("The request has no Stripe-Signature header.")
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret)
    except stripe.SignatureVerificationError as error:
        raise InvalidSignature(f"The Stripe signature is not valid: {error.user_message}") from None
    except (ValueError, TypeError, AttributeError):
        # Signed, but not JSON, or JSON that is not a Stripe (snapshot) event.
        raise InvalidPayload("The request body is not a Stripe event.") from None
    verified: dict[str, Any] = event.to_dict()
    return verified


def _checkout_reference(stripe_object: dict[str, Any]) -> str | None:
    """Our checkout id, as the Checkout Session's client_reference_id or metadata."""
    metadata = stripe_object.get("metadata")
    for value in (
        stripe_object.get("client_reference_id"),
        metadata.get("checkout_id") if isinstance(metadata, dict) else None,
    ):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _not_applied(
    error: DomainError, checkout_id: UUID, *, paid: bool, log: dict[str, str]
) -> WebhookReceipt:
    """A verdict that cannot change the checkout: log it and acknowledge (no retry helps)."""
    extra = {**log, "reason": error.code}
    if paid:
        # The customer's money was taken but nothing was booked: someone must refund it.
        if isinstance(error, CheckoutExpired):
            metrics.add_metric(name="PaidAfterExpiry", unit=MetricUnit.Count, value=1)
        if isinstance(error, PaymentMismatch):
            metrics.add_metric(name="PaidAmountMismatch", unit=MetricUnit.Count, value=1)
        logger.error("stripe payment not applied; refund needed", extra=extra)
    else:
        logger.warning("stripe payment failure not applied", extra=extra)
    return WebhookReceipt(handled=False, checkout_id=checkout_id, reason=error.code)


def handle_stripe_webhook(
    deps: Dependencies, payload: str | None, signature: str | None
) -> WebhookReceipt:
    """Verify one Stripe event and settle the checkout it is about; idempotent."""
    event = verify(payload or "", signature, signing_secret(deps.settings))
    kind = str(event.get("type") or "")
    log = {"stripe_event_id": str(event.get("id") or ""), "stripe_event_type": kind}
    data = event.get("data")
    stripe_object = data.get("object") if isinstance(data, dict) else None
    if not isinstance(stripe_object, dict) or kind not in PAID_EVENTS | UNPAID_EVENTS:
        logger.info("stripe event ignored", extra=log)
        return WebhookReceipt(handled=False)

    paid = kind in PAID_EVENTS
    if paid and stripe_object.get("payment_status") != "paid":
        logger.info("stripe checkout not paid yet", extra=log)
        return WebhookReceipt(handled=False, reason="payment_pending")

    reference = _checkout_reference(stripe_object)
    if reference is None:
        logger.warning("stripe event names no checkout", extra=log)
        return WebhookReceipt(handled=False, reason="missing_checkout_id")
    log["checkout_id"] = reference
    checkout_id = parse_uuid(reference)
    if checkout_id is None:
        logger.warning("stripe event names no checkout of ours", extra=log)
        return WebhookReceipt(handled=False, reason=CheckoutNotFound.code)

    try:
        amount = stripe_object.get("amount_total")
        settled = settle_payment(
            deps,
            checkout_id,
            paid=paid,
            provider=PROVIDER,
            amount_cents=amount if isinstance(amount, int) else None,
        )
    except (
        CheckoutNotFound,
        NotAdmitted,
        CheckoutExpired,
        CheckoutCompleted,
        PaymentMismatch,
    ) as error:
        return _not_applied(error, checkout_id, paid=paid, log=log)
    logger.info("stripe event settled checkout", extra={**log, "status": settled.status})
    return WebhookReceipt(handled=True, checkout_id=settled.checkout_id, status=settled.status)
