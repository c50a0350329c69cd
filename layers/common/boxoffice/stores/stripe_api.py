"""Stripe's API through its own SDK: Checkout Sessions and refunds, nothing retried in secret.

What matters to the callers is whether Stripe *answered*: an answer (even an error) is
stored by Stripe under the request's idempotency key and replayed for a day, so the next
try needs a new key (`StripeRefused`); no answer (a timeout, a connection error, a request
still running under that key) means the key may have done its work, so the next try must
replay it (`StripeUnreachable`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import stripe

# Stripe's error code for refunding a payment that is already refunded in full.
ALREADY_REFUNDED = "charge_already_refunded"


class StripeUnreachable(Exception):
    """No answer from Stripe: the request may or may not have been carried out."""


class StripeRefused(Exception):
    """Stripe answered with an error (kept under the idempotency key)."""

    def __init__(self, message: str, code: str | None, status: int | None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str
    status: str
    expires_at: int


def _plain(found: Any) -> dict[str, Any]:
    plain: dict[str, Any] = found.to_dict() if hasattr(found, "to_dict") else dict(found)
    return plain


def _session(answer: Any) -> CheckoutSession:
    found = _plain(answer)
    return CheckoutSession(
        id=str(found["id"]),
        url=str(found.get("url") or ""),
        status=str(found.get("status") or ""),
        expires_at=int(found.get("expires_at") or 0),
    )


class StripeApi:
    """A `StripeClient` made on first use with the key current at that moment."""

    def __init__(self, api_key: Callable[[], str], api_base: str, timeout: float) -> None:
        self._api_key = api_key
        self._api_base = api_base.rstrip("/")
        self._timeout = timeout
        self._client: tuple[str, stripe.StripeClient] | None = None

    def _stripe(self) -> stripe.StripeClient:
        key = self._api_key()
        if self._client is None or self._client[0] != key:
            client = stripe.StripeClient(
                key,
                base_addresses={"api": self._api_base},
                # One try per call, bounded: the caller decides what a failure means.
                max_network_retries=0,
                http_client=stripe.RequestsClient(timeout=self._timeout),
            )
            self._client = (key, client)
        return self._client[1]

    def _call(self, request: Callable[[stripe.StripeClient], Any]) -> Any:
        try:
            return request(self._stripe())
        except stripe.APIConnectionError as error:
            raise StripeUnreachable(f"Stripe did not answer: {error.user_message}") from None
        except stripe.IdempotencyError as error:
            # The same key is still being processed (or was sent with other parameters):
            # nothing is known yet, so the key stays the one to replay.
            raise StripeUnreachable(f"Stripe is busy with this key: {error.user_message}") from None
        except stripe.StripeError as error:
            raise StripeRefused(
                error.user_message or str(error), error.code, error.http_status
            ) from None

    def create_checkout_session(
        self, params: dict[str, Any], idempotency_key: str
    ) -> CheckoutSession:
        found = self._call(
            lambda client: client.v1.checkout.sessions.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        )
        return _session(found)

    def expire_checkout_session(self, session_id: str) -> CheckoutSession:
        """Expire an open session; one that is no longer open is returned as it is."""
        try:
            found = self._call(lambda client: client.v1.checkout.sessions.expire(session_id))
        except StripeRefused:
            found = self._call(lambda client: client.v1.checkout.sessions.retrieve(session_id))
        return _session(found)

    def refund(self, payment_intent: str, idempotency_key: str) -> str:
        """Refund a payment in full; return the refund's id."""
        refund = self._call(
            lambda client: client.v1.refunds.create(
                params={"payment_intent": payment_intent, "reason": "requested_by_customer"},
                options={"idempotency_key": idempotency_key},
            )
        )
        return str(_plain(refund)["id"])
