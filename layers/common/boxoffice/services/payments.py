"""Stripe webhooks: check the signature over the raw body, then settle the checkout it names.

Stripe retries every answer that is not 2xx, so only a bad signature or an unreadable
payload is refused (400), and a refund Stripe has not carried out yet answers 503 (the
retry tries again: money taken is never left as neither a booking nor a refund). A
verdict that cannot be applied (an unknown checkout) is logged and acknowledged.
"""

from __future__ import annotations

import math
from typing import Any
from uuid import UUID

import stripe
from aws_lambda_powertools.utilities import parameters
from pydantic import BaseModel, SerializerFunctionWrapHandler, model_serializer

from boxoffice.dependencies import Dependencies
from boxoffice.errors import (
    CheckoutCompleted,
    CheckoutNotFound,
    InvalidPayload,
    InvalidSignature,
    PaymentMismatch,
    PaymentUnavailable,
)
from boxoffice.ids import parse_uuid
from boxoffice.models.checkouts import StoredStatus
from boxoffice.observability import MetricUnit, logger, metrics
from boxoffice.services.checkouts import mark_completed, release_unpaid
from boxoffice.settings import Settings
from boxoffice.stores.orders import Order
from boxoffice.stores.orders import Payment as OrderPayment
from boxoffice.stores.stripe_api import ALREADY_REFUNDED, StripeRefused, StripeUnreachable

PROVIDER = "stripe"
# How long a warm container trusts the secret it read (a rotated secret is seen after this).
SECRET_MAX_AGE_SECONDS = 300

# Paid: book the seats (checkout.session.completed only once its payment_status is paid;
# a delayed payment method reports later with async_payment_succeeded or _failed).
PAID_EVENTS = frozenset({"checkout.session.completed", "checkout.session.async_payment_succeeded"})
# Not paid: release the seats. A declined card (payment_intent.payment_failed) is not one:
# Stripe Checkout lets the fan try another card until the session itself expires.
UNPAID_EVENTS = frozenset({"checkout.session.expired", "checkout.session.async_payment_failed"})


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


def _refund(deps: Dependencies, order: Order, log: dict[str, str]) -> None:
    """Return the money of an order that could not be booked; raise PaymentUnavailable
    (so the webhook answers 503 and Stripe delivers it again) until Stripe has done it."""
    if order.payment_intent is None:
        logger.error("paid checkout without a payment intent: refund it by hand", extra=log)
        metrics.add_metric(name="RefundsFailed", unit=MetricUnit.Count, value=1)
        raise PaymentUnavailable("The payment cannot be refunded yet.", retry_after=60)
    attempt = deps.orders.refund_attempt(order.checkout_id)
    if attempt == 0:
        return  # refunded meanwhile by a duplicate delivery
    key = f"boxoffice-refund-{order.checkout_id}-{attempt}"
    refund_id: str | None
    try:
        refund_id = deps.stripe.refund(order.payment_intent, key)
    except StripeRefused as error:
        if error.code != ALREADY_REFUNDED:
            deps.orders.spend_refund_key(order.checkout_id, attempt)
            logger.error(
                "stripe refused a refund; it is retried",
                extra={**log, "code": str(error.code), "status": str(error.status)},
            )
            raise PaymentUnavailable("The refund did not go through yet.") from None
        refund_id = None
    except StripeUnreachable:
        logger.error("stripe unreachable for a refund; it is retried", extra=log)
        raise PaymentUnavailable("The refund did not go through yet.") from None
    deps.orders.mark_refunded(order.checkout_id, refund_id, deps.clock.now())
    metrics.add_metric(name="RefundsIssued", unit=MetricUnit.Count, value=1)
    logger.warning("payment refunded in full", extra={**log, "refund_id": str(refund_id)})


def settle_paid(
    deps: Dependencies, checkout_id: UUID, stripe_object: dict[str, Any], log: dict[str, str]
) -> WebhookReceipt:
    """Money was taken: book the checkout's seats (late, if they are all still free), or
    refund it in full. Money taken always ends as one of the two, exactly once."""
    session = deps.sessions.get(checkout_id)
    if session is None:
        # Not ours, or long gone: we cannot book it, and the money is not ours to keep.
        intent = stripe_object.get("payment_intent")
        logger.error("payment for an unknown checkout: refund it by hand", extra=log)
        metrics.add_metric(name="PaidUnknownCheckout", unit=MetricUnit.Count, value=1)
        return WebhookReceipt(handled=False, reason=CheckoutNotFound.code, checkout_id=checkout_id)
    now = deps.clock.now()
    amount = stripe_object.get("amount_total")
    currency = str(stripe_object.get("currency") or session.currency).lower()
    intent = stripe_object.get("payment_intent")
    payment = OrderPayment(
        provider=PROVIDER,
        amount_cents=amount if isinstance(amount, int) else 0,
        currency=currency,
        session_id=str(stripe_object.get("id") or "") or None,
        payment_intent=intent if isinstance(intent, str) and intent else None,
    )
    mismatch = payment.amount_cents != session.total_cents or currency != session.currency
    late = session.status_at(now) != "admitted"
    order = deps.seats.settle_paid(
        session.event_id,
        checkout_id,
        session.seat_ids,
        payment,
        now,
        refund_reason=PaymentMismatch.code if mismatch else None,
    )
    if order.status == "booked":
        first = mark_completed(deps, checkout_id, order.reference, now)
        deps.sessions.update(checkout_id, {}, remove=("payment_open",))
        if first and late:
            metrics.add_metric(name="PaidAfterExpiry", unit=MetricUnit.Count, value=1)
            logger.warning("payment after the hold ended: the seats were still free", extra=log)
        return WebhookReceipt(handled=True, checkout_id=checkout_id, status="completed")
    if order.status == "refund_pending":
        _refund(deps, order, log)
    retention = deps.settings.paid_session_retention_seconds
    if (
        deps.sessions.transition(
            checkout_id,
            "refunded",
            {"queued", "admitted", "expired", "cancelled"},
            sets={"expires_at": math.ceil(now.timestamp()) + retention},
            remove=("payment_open",),
        )
        and late
    ):
        metrics.add_metric(name="PaidAfterExpiry", unit=MetricUnit.Count, value=1)
    return WebhookReceipt(handled=True, checkout_id=checkout_id, status="refunded")


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

    if paid:
        return settle_paid(deps, checkout_id, stripe_object, log)
    try:
        settled = release_unpaid(deps, checkout_id)
    except (CheckoutNotFound, CheckoutCompleted) as error:
        logger.warning("stripe payment failure not applied", extra={**log, "reason": error.code})
        return WebhookReceipt(handled=False, checkout_id=checkout_id, reason=error.code)
    logger.info("stripe event settled checkout", extra={**log, "status": settled.status})
    return WebhookReceipt(handled=True, checkout_id=settled.checkout_id, status=settled.status)
