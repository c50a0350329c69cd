"""Checkouts: hold seats and join the line, read, cancel, and pay with the test provider."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import math
import secrets
import time
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from boxoffice.clock import from_ms
from boxoffice.dependencies import Dependencies
from boxoffice.errors import (
    CheckoutCompleted,
    CheckoutExpired,
    CheckoutNotFound,
    DomainError,
    Forbidden,
    InvalidRequest,
    NotAdmitted,
    NotFound,
    SalesClosed,
    Unauthorized,
)
from boxoffice.ids import parse_uuid
from boxoffice.models.admission import AdmissionMessage, Line
from boxoffice.models.checkouts import (
    LIVE_STATUSES,
    CheckoutCreated,
    CheckoutRequest,
    CheckoutView,
    Payment,
    Session,
    hold_end_ms,
    retain_until,
)
from boxoffice.observability import count_once, logger
from boxoffice.services.events import event_settings_or_404
from boxoffice.services.payment_sessions import expire_payment_session, open_payment_session
from boxoffice.stores.orders import Payment as OrderPayment

TEST_PROVIDER = "test"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _slots_before(moment: datetime, now: datetime, rate: float) -> int:
    """Admission slots (1/rate apart, the last at `moment - 1/rate`) still to come."""
    return max(0, math.ceil((moment - now).total_seconds() * rate) - 1)


def _place(session: Session, now: datetime, line: Line) -> tuple[int, int]:
    """(people ahead not yet admitted, seconds to wait) for a queued checkout.

    Someone ahead who has left the line counts until the consumer passes them, so the
    figures err long, never short.
    """
    rate = session.admission_per_second
    if session.admitted_at is not None:  # scheduled: the slots before its own
        slot = session.admitted_at
        return _slots_before(slot, now, rate), math.ceil((slot - now).total_seconds())
    next_free = max(now, line.next_admission_at or now)
    not_scheduled = max(0, session.seq - line.admitted_seq - 1)
    ahead = not_scheduled + _slots_before(next_free, now, rate)
    wait = (next_free - now).total_seconds() + not_scheduled / rate
    return ahead, math.ceil(wait)


def view(session: Session, now: datetime, line: Line | None = None) -> CheckoutView:
    return CheckoutView(**_view_fields(session, now, line))


def _view_fields(session: Session, now: datetime, line: Line | None) -> dict[str, Any]:
    status = session.status_at(now)
    position: int | None = None
    eta: int | None = None
    # While queued the hold is `hold_seconds` from creation (a scheduled admission renews it
    # ahead of time; that renewal shows from the slot on).
    expires_at = session.queue_hold_until if status == "queued" else session.hold_until
    if status == "queued":
        position, eta = _place(session, now, line or Line(0, None))
    elif status == "admitted":
        position, eta = 0, 0
    return {
        "checkout_id": session.checkout_id,
        "event_id": session.event_id,
        "status": status,
        "position": position,
        "eta_seconds": eta,
        "created_at": session.created_at,
        "admitted_at": session.admitted_at if session.admitted_by(now) else None,
        "expires_at": expires_at,
        "seat_ids": session.seat_ids,
        "seats": session.seats,
        "total_cents": session.total_cents,
        "currency": session.currency,
        "reference": session.reference,
    }


def create_checkout(
    deps: Dependencies, event_id: str, request: CheckoutRequest, client: str | None = None
) -> CheckoutCreated:
    """Hold the seats (all or none) and join the line. `client` (the caller's address)
    holds at most the event's `max_held_per_client` seats at once."""
    limit = deps.settings.max_seats_per_checkout
    if len(request.seat_ids) > limit:
        raise InvalidRequest(f"A checkout may hold at most {limit} seats.", max_seats=limit)
    event = event_settings_or_404(deps, event_id)
    now = deps.clock.now()
    checkout_id = uuid4()
    hold_until_ms = hold_end_ms(now, event.hold_seconds)
    if now >= event.starts_at:
        raise SalesClosed()
    try:
        hold = deps.seats.hold(
            event.id,
            request.seat_ids,
            checkout_id,
            from_ms(hold_until_ms),
            now,
            client=client,
            max_held=event.max_held_per_client,
        )
    except DomainError:
        raise
    except Exception:
        # The connection broke mid-hold (Postgres restarting): the hold may have committed
        # with nobody to know it. Take it back as soon as Postgres answers again.
        _release_uncertain_hold(deps, event.id, checkout_id)
        raise
    token = secrets.token_urlsafe(32)
    session = Session(
        checkout_id=checkout_id,
        event_id=event.id,
        seq=hold.seq,
        status="queued",
        token_hash=_hash(token),
        seats=hold.seats,
        created_at=now,
        hold_seconds=event.hold_seconds,
        hold_until_ms=hold_until_ms,
        expires_at=retain_until(hold_until_ms, deps.settings.session_retention_seconds),
        checkout_seconds=event.checkout_seconds,
        admission_per_second=event.admission_per_second,
        event_name=event.name,
        currency=event.currency,
    )
    try:
        deps.sessions.put_new(session)
        deps.queue.send(AdmissionMessage(checkout_id=checkout_id, event_id=event.id, seq=hold.seq))
    except Exception:
        # Nothing half-made survives: without a session and a place in line the hold goes
        # (Postgres first: a session left behind without seats only reads as expired later).
        logger.exception("checkout could not be queued", extra={"checkout_id": str(checkout_id)})
        deps.seats.release(event.id, checkout_id)
        with contextlib.suppress(Exception):
            deps.sessions.delete(checkout_id)
        raise
    count_once(
        "CheckoutsCreated", checkout_id=str(checkout_id), event_id=str(event.id), seq=hold.seq
    )
    return CheckoutCreated(**_view_fields(session, now, hold.line), token=token)


# How long a checkout whose hold's outcome is unknown keeps trying to give it back (well
# inside the function's timeout); past that the hold simply runs out at its time.
UNCERTAIN_HOLD_RETRY_SECONDS = 5.0


def _release_uncertain_hold(deps: Dependencies, event_id: UUID, checkout_id: UUID) -> None:
    deadline = time.monotonic() + UNCERTAIN_HOLD_RETRY_SECONDS
    pause = 0.1
    while True:
        try:
            released, _ = deps.seats.release(event_id, checkout_id)
        except Exception:
            if time.monotonic() + pause > deadline:
                logger.warning("uncertain hold left to run out", extra=_ids(checkout_id))
                return
            time.sleep(pause)
            pause = min(pause * 2, 1.0)
            continue
        if released:
            logger.info("uncertain hold given back", extra=_ids(checkout_id))
        return


def _ids(checkout_id: UUID) -> dict[str, str]:
    return {"checkout_id": str(checkout_id)}


def _authorised(deps: Dependencies, checkout_id: str, token: str | None) -> Session:
    if not token:
        raise Unauthorized("Send the checkout's token as 'Authorization: Bearer <token>'.")
    parsed = parse_uuid(checkout_id)
    session = deps.sessions.get(parsed) if parsed else None
    if session is None:
        raise CheckoutNotFound(checkout_id)
    if not hmac.compare_digest(session.token_hash, _hash(token)):
        raise Forbidden("This token does not belong to this checkout.")
    return session


def _current_view(deps: Dependencies, session: Session) -> CheckoutView:
    now = deps.clock.now()
    waiting = session.status_at(now) == "queued" and session.admitted_at is None
    return view(session, now, deps.events.line(session.event_id) if waiting else None)


def _reload(deps: Dependencies, checkout_id: UUID) -> Session:
    session = deps.sessions.get(checkout_id)
    if session is None:
        raise CheckoutNotFound(str(checkout_id))
    return session


def get_checkout(deps: Dependencies, checkout_id: str, token: str | None) -> CheckoutView:
    return _current_view(deps, _authorised(deps, checkout_id, token))


def _cancel(deps: Dependencies, session: Session) -> Session:
    """Release the seats and end a live session; raise CheckoutCompleted once it is paid."""
    if session.status == "completed":
        raise CheckoutCompleted()
    if session.status not in LIVE_STATUSES:
        return session
    _, booked = deps.seats.release(session.event_id, session.checkout_id)
    if booked:
        raise CheckoutCompleted()
    now = deps.clock.now()
    if deps.sessions.transition(session.checkout_id, "cancelled", LIVE_STATUSES, live_at=now):
        count_once("CheckoutsCancelled", checkout_id=str(session.checkout_id))
    session = _reload(deps, session.checkout_id)
    if session.status == "completed":
        raise CheckoutCompleted()
    # Nobody may pay for seats given back (if Stripe cannot be told now, the sweeper will).
    expire_payment_session(deps, session)
    return session


def cancel_checkout(deps: Dependencies, checkout_id: str, token: str | None) -> CheckoutView:
    """Release the seats and end the session; cancelling twice is harmless."""
    return _current_view(deps, _cancel(deps, _authorised(deps, checkout_id, token)))


def _payable(session: Session, now: datetime) -> None:
    """Raise unless the checkout is admitted and its hold still runs."""
    status = session.status_at(now)
    if status == "queued":
        raise NotAdmitted()
    if status == "completed":
        raise CheckoutCompleted("This checkout is already paid and booked.")
    if status != "admitted":
        raise CheckoutExpired(
            f"This checkout is {status}; it can no longer be paid.", checkout_status=status
        )


def start_payment(
    deps: Dependencies, checkout_id: str, token: str | None, origin: str | None = None
) -> Payment:
    """Where to pay for an admitted checkout: its Stripe Checkout Session, or the built-in
    test provider's `/complete`. `origin` is the asking page's (Stripe's way back)."""
    session = _authorised(deps, checkout_id, token)
    _payable(session, deps.clock.now())
    if deps.settings.payment_provider == "stripe":
        return open_payment_session(deps, session, origin)
    return Payment(
        checkout_id=session.checkout_id,
        status="admitted",
        provider=TEST_PROVIDER,
        payment_url=f"/checkouts/{session.checkout_id}/complete",
        amount_cents=session.total_cents,
        currency=session.currency,
        expires_at=session.hold_until,
        hold_expires_at=session.hold_until,
    )


def _complete(deps: Dependencies, session: Session) -> Session:
    """Book the seats of an admitted, live session; idempotent once completed."""
    now = deps.clock.now()
    if session.status_at(now) == "completed":
        return session
    _payable(session, now)
    payment = OrderPayment(
        provider=TEST_PROVIDER, amount_cents=session.total_cents, currency=session.currency
    )
    deps.seats.book(session.event_id, session.checkout_id, session.seat_ids, payment, now)
    order = deps.orders.get(session.checkout_id)
    mark_completed(deps, session.checkout_id, order.reference if order else None, now)
    return _reload(deps, session.checkout_id)


def mark_completed(
    deps: Dependencies, checkout_id: UUID, reference: str | None, now: datetime
) -> bool:
    """The seats are booked: the session says so (whatever it said before), with the
    booking's reference, and is kept for the paid retention."""
    retention = deps.settings.paid_session_retention_seconds
    done = deps.sessions.transition(
        checkout_id,
        "completed",
        {"queued", "admitted", "expired", "cancelled"},
        sets={
            "completed_at": now,
            "reference": reference,
            "expires_at": math.ceil(now.timestamp()) + retention,
        },
    )
    if done:
        count_once("CheckoutsCompleted", checkout_id=str(checkout_id))
    return done


def complete_checkout(deps: Dependencies, checkout_id: str, token: str | None) -> CheckoutView:
    """Pay with the built-in test provider and book the seats; idempotent. Served only
    where the provider is `test` (under Stripe the route is not even deployed)."""
    if deps.settings.payment_provider != TEST_PROVIDER:
        raise NotFound("Payments here go through Stripe; this route is not served.")
    session = _authorised(deps, checkout_id, token)
    return _current_view(deps, _complete(deps, session))


def release_unpaid(deps: Dependencies, checkout_id: UUID) -> CheckoutView:
    """The provider says the fan did not pay (the session expired or the payment failed):
    release the seats; a checkout already paid is left as it is (CheckoutCompleted)."""
    return _current_view(deps, _cancel(deps, _reload(deps, checkout_id)))
