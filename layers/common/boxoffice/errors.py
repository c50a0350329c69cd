"""Domain errors: a stable code and a message for people. They know nothing of HTTP."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class DomainError(Exception):
    code = "domain_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidRequest(DomainError):
    code = "invalid_request"


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class EventNotFound(DomainError):
    code = "event_not_found"

    def __init__(self, event_id: str) -> None:
        super().__init__(f"No event with id {event_id!r}.")


class SeatNotFound(DomainError):
    code = "seat_not_found"

    def __init__(self, seat_ids: Iterable[str]) -> None:
        ids = sorted(seat_ids)
        super().__init__(f"This event has no seat(s) {', '.join(ids)}.", seat_ids=ids)


class SeatsUnavailable(DomainError):
    """Some of the seats asked for are held or booked by someone else.

    `seats` are the taken seats as (seat_id, section, row, number); the message names
    them as a person reads them ("Floor, row D, seat 1 is already taken.").
    """

    code = "seats_unavailable"

    def __init__(self, seats: Iterable[tuple[str, str, str, int]]) -> None:
        taken = sorted(seats)
        ids = [seat_id for seat_id, *_ in taken]
        names = [f"{section}, row {row}, seat {number}" for _, section, row, number in taken]
        if len(names) == 1:
            text = f"{names[0]} is already taken."
        else:
            text = f"{'; '.join(names[:-1])} and {names[-1]} are already taken."
        super().__init__(text, seat_ids=ids)


class NoSeatsTogether(DomainError):
    """Best available found no block of the seats asked for."""

    code = "no_seats_together"


class HoldLimit(DomainError):
    """One client holds as many seats of this event as it may (seat spinning)."""

    code = "hold_limit"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"You already hold as many seats of this event as one buyer may ({limit})."
            " Pay for them or cancel a checkout to hold others.",
            max_held_per_client=limit,
        )


class SalesClosed(DomainError):
    code = "sales_closed"

    def __init__(self) -> None:
        super().__init__("This event has started: its seats are no longer on sale.")


class CheckoutNotFound(DomainError):
    code = "checkout_not_found"

    def __init__(self, checkout_id: str) -> None:
        super().__init__(f"No checkout with id {checkout_id!r}.")


class NotAdmitted(DomainError):
    code = "not_admitted"

    def __init__(self) -> None:
        super().__init__("This checkout is still waiting in line; it cannot be paid yet.")


class CheckoutExpired(DomainError):
    code = "checkout_expired"


class CheckoutCompleted(DomainError):
    code = "checkout_completed"

    def __init__(
        self, message: str = "This checkout is already paid and booked; it cannot be cancelled."
    ) -> None:
        super().__init__(message)


class PaymentMismatch(DomainError):
    """A provider says paid, but not the checkout's total: nothing is booked."""

    code = "amount_mismatch"


class InvalidSignature(DomainError):
    """A webhook whose signature is missing, wrong or stale."""

    code = "invalid_signature"


class InvalidPayload(DomainError):
    """A correctly signed webhook whose body is not an event we can read."""

    code = "invalid_payload"


class NotFound(DomainError):
    """A route that this deployment does not serve (the test provider's, under Stripe)."""

    code = "not_found"


class ServiceUnavailable(DomainError):
    """A backing service is down or too slow: try again after `retry_after` seconds.
    Nothing was changed on our side."""

    code = "service_unavailable"

    def __init__(self, message: str, retry_after: int = 2, **details: Any) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after


class PaymentUnavailable(ServiceUnavailable):
    """Stripe did not answer in time, or failed: the hold is untouched."""

    code = "payment_unavailable"


class PoisonMessage(DomainError):
    """An admission message that can never be processed: retried, then dead-lettered."""

    code = "poison_message"
