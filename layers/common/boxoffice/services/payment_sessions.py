"""Stripe Checkout Sessions: made once per checkout, and expired when the hold ends first.

Idempotency (DESIGN.md, "Payments"): Stripe replays a key's first answer for a day,
errors included. So each attempt has its own key, `<checkout id>-<attempt>`, kept on the
checkout session with the exact parameters it was sent with. A retry first replays the
current key: if Stripe had made the session, the replay finds it (never a second one);
if Stripe had answered with an error, the key is spent and the next attempt takes a new
one. A call that got no answer leaves the key to be replayed.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from boxoffice.clock import floor_ms
from boxoffice.dependencies import Dependencies
from boxoffice.errors import CheckoutExpired, PaymentUnavailable
from boxoffice.models.checkouts import Payment, Session
from boxoffice.observability import MetricUnit, logger, metrics
from boxoffice.stores.stripe_api import CheckoutSession, StripeRefused, StripeUnreachable

PROVIDER = "stripe"
# Stripe refuses a session that expires sooner than 30 minutes after it is made; a little
# margin covers the time the request takes and clocks that differ.
STRIPE_MIN_LIFETIME_SECONDS = 30 * 60
_LIFETIME_MARGIN_SECONDS = 10
STRIPE_MAX_LIFETIME_SECONDS = 24 * 3600 - 60
RETRY_AFTER_SECONDS = 2


def _unavailable(reason: str) -> PaymentUnavailable:
    metrics.add_metric(name="PaymentUnavailable", unit=MetricUnit.Count, value=1)
    return PaymentUnavailable(
        f"The payment provider is not answering ({reason}); your seats are still held."
        " Try again in a moment.",
        retry_after=RETRY_AFTER_SECONDS,
    )


def session_expires_at(session: Session, now: datetime) -> int:
    """The later of the hold's end and the soonest expiry Stripe accepts (epoch seconds)."""
    soonest = math.ceil(now.timestamp()) + STRIPE_MIN_LIFETIME_SECONDS + _LIFETIME_MARGIN_SECONDS
    latest = math.floor(now.timestamp()) + STRIPE_MAX_LIFETIME_SECONDS
    return min(max(math.ceil(session.hold_until_ms / 1000), soonest), latest)


def return_base(deps: Dependencies, origin: str | None) -> str:
    """Where Stripe sends the fan back: PUBLIC_BASE_URL, else the HTTPS page that asked."""
    if deps.settings.public_base_url:
        return deps.settings.public_base_url.rstrip("/")
    if origin and origin.startswith("https://") and "/" not in origin.removeprefix("https://"):
        return origin
    raise PaymentUnavailable(
        "Payments are not configured here (no PUBLIC_BASE_URL to send you back to).",
        retry_after=60,
    )


def _params(session: Session, expires_at: int, base: str) -> dict[str, Any]:
    checkout = str(session.checkout_id)
    title = session.event_name or "Tickets"
    return {
        "mode": "payment",
        "client_reference_id": checkout,
        "metadata": {"checkout_id": checkout, "event_id": str(session.event_id)},
        "payment_intent_data": {"metadata": {"checkout_id": checkout}},
        "expires_at": expires_at,
        "success_url": f"{base}/?checkout={checkout}&payment=success",
        "cancel_url": f"{base}/?checkout={checkout}&payment=cancelled",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": session.currency,
                    "unit_amount": seat.price_cents,
                    "product_data": {
                        "name": f"{title}: {seat.section}, row {seat.row}, seat {seat.number}",
                    },
                },
            }
            for seat in session.seats
        ],
    }


def _answer(session: Session, made: CheckoutSession | None = None) -> Payment:
    expires = made.expires_at if made else session.payment_expires_at
    return Payment(
        checkout_id=session.checkout_id,
        status="admitted",
        provider=PROVIDER,
        payment_url=made.url if made else session.payment_url or "",
        session_id=made.id if made else session.payment_session_id,
        amount_cents=session.total_cents,
        currency=session.currency,
        # Stripe's session lasts at least 30 minutes; the seats are held until hold_expires_at
        # (a payment after that is booked only if the seats are still free, else refunded).
        expires_at=datetime.fromtimestamp(expires, UTC) if expires else session.hold_until,
        hold_expires_at=session.hold_until,
    )


def _key(session: Session, attempt: int) -> str:
    return f"boxoffice-checkout-{session.checkout_id}-{attempt}"


def _keep(deps: Dependencies, session: Session, made: CheckoutSession) -> Payment:
    """Record the session on the checkout; if the hold ended meanwhile, expire it again."""
    kept = deps.sessions.update(
        session.checkout_id,
        {
            "payment_session_id": made.id,
            "payment_url": made.url,
            "payment_expires_at": made.expires_at,
            "payment_open": "1",
        },
        condition="attribute_not_exists(payment_session_id) OR payment_session_id = :id",
        values={":id": made.id},
    )
    if kept is None:  # a session made by an earlier attempt is on record: that one counts
        current = deps.sessions.get(session.checkout_id)
        if current is None or current.payment_session_id is None:
            raise _unavailable("the checkout changed meanwhile")
        return _answer(current)
    if kept.status_at(deps.clock.now()) != "admitted":
        expire_payment_session(deps, kept)
        raise CheckoutExpired(
            "This checkout ended before its payment could start; nothing will be charged.",
            checkout_status=kept.status_at(deps.clock.now()),
        )
    metrics.add_metric(name="PaymentSessionsCreated", unit=MetricUnit.Count, value=1)
    logger.info(
        "stripe checkout session made",
        extra={"checkout_id": str(session.checkout_id), "stripe_session_id": made.id},
    )
    return _answer(kept, made)


def _create(
    deps: Dependencies, session: Session, attempt: int, expires_at: int, base: str
) -> CheckoutSession:
    """One call to Stripe under the attempt's key. An error answer spends the key."""
    started = time.monotonic()
    try:
        return deps.stripe.create_checkout_session(
            _params(session, expires_at, base), _key(session, attempt)
        )
    except StripeUnreachable as error:
        logger.warning(
            "stripe unreachable",
            extra={
                "checkout_id": str(session.checkout_id),
                "attempt": attempt,
                "seconds": round(time.monotonic() - started, 3),
                "error": str(error),
            },
        )
        raise _unavailable("no answer") from None
    except StripeRefused as error:
        deps.sessions.update(
            session.checkout_id,
            {"payment_attempt_spent": True},
            condition="payment_attempt = :attempt",
            values={":attempt": attempt},
        )
        logger.warning(
            "stripe refused a checkout session",
            extra={
                "checkout_id": str(session.checkout_id),
                "attempt": attempt,
                "status": error.status,
                "code": error.code,
            },
        )
        raise _unavailable(f"error {error.status}") from None


def open_payment_session(deps: Dependencies, session: Session, origin: str | None) -> Payment:
    """The Stripe Checkout Session of an admitted checkout: the one on record, the one an
    earlier attempt made (replayed), or a new one. `origin` is the asking page's."""
    if session.payment_session_id:
        return _answer(session)
    base = return_base(deps, origin)
    attempt = session.payment_attempt
    if attempt and not session.payment_attempt_spent and session.payment_attempt_expires_at:
        try:
            return _keep(
                deps,
                session,
                _create(deps, session, attempt, session.payment_attempt_expires_at, base),
            )
        except PaymentUnavailable:
            session = deps.sessions.get(session.checkout_id) or session
            if not session.payment_attempt_spent:
                raise  # no answer: the same key must be replayed next time
    now = deps.clock.now()
    expires_at = session_expires_at(session, now)
    started = deps.sessions.update(
        session.checkout_id,
        {
            "payment_attempt": attempt + 1,
            "payment_attempt_expires_at": expires_at,
            "payment_attempt_spent": False,
        },
        condition="#status = :admitted AND attribute_not_exists(payment_session_id)"
        " AND (payment_attempt = :seen OR attribute_not_exists(payment_attempt))"
        " AND hold_until_ms > :now",
        values={":admitted": "admitted", ":seen": attempt, ":now": floor_ms(now)},
        names={"#status": "status"},
    )
    if started is None:
        # Another request began an attempt (or the checkout ended): answer as it stands.
        current = deps.sessions.get(session.checkout_id)
        if current is None or current.status_at(now) != "admitted":
            raise CheckoutExpired("This checkout can no longer be paid.")
        if current.payment_session_id:
            return _answer(current)
        raise _unavailable("another payment start is in progress")
    return _keep(deps, started, _create(deps, started, attempt + 1, expires_at, base))


def expire_stripe_session(deps: Dependencies, checkout_id: UUID, session_id: str) -> bool:
    """Expire one Stripe session so it cannot be paid; one already complete (paid) or
    expired is left alone. False when Stripe could not be told."""
    ids = {"checkout_id": str(checkout_id), "stripe_session_id": session_id}
    try:
        found = deps.stripe.expire_checkout_session(session_id)
    except (StripeUnreachable, StripeRefused) as error:
        logger.warning("stripe session not expired yet", extra={**ids, "error": str(error)})
        return False
    logger.info("stripe session closed", extra={**ids, "stripe_status": found.status})
    return True


def expire_payment_session(deps: Dependencies, session: Session) -> bool:
    """The hold ended first: expire the checkout's Stripe session, if it has an open one.
    Returns False when Stripe could not be told (the sweeper tries again)."""
    if not session.payment_session_id or not session.payment_open:
        return True
    if not expire_stripe_session(deps, session.checkout_id, session.payment_session_id):
        return False
    deps.sessions.update(session.checkout_id, {}, remove=("payment_open",))
    return True


def expire_ended_payment_sessions(deps: Dependencies, now: datetime, limit: int = 25) -> int:
    """The sweeper's share: expire open Stripe sessions whose hold has ended by `now`."""
    expired = 0
    for session in deps.sessions.open_payment_sessions(now, limit):
        if session.status in {"completed", "refunded"}:
            deps.sessions.update(session.checkout_id, {}, remove=("payment_open",))
        elif expire_payment_session(deps, session):
            expired += 1
    return expired
