"""The stand-in's Stripe: checkout sessions, payments and refunds, and their rules.

No HTTP here (see `app`): the state and how it may change, as Stripe lets it:
- `expires_at` must lie 30 minutes to 24 hours ahead;
- only an open session can be expired; paying one sends a signed
  `checkout.session.completed` to the webhook URL (retried until it is answered 2xx);
- a payment is refunded in full once; a second refund is refused (`charge_already_refunded`);
- injected faults per operation (`create_session`, `get_session`, `expire`,
  `create_refund`): `error` answers 500, `hang` answers only after a delay.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from local.stripe_standin.idempotency import IdempotencyKeys
from local.stripe_standin.webhooks import event_payload, post_event, retry_in_background
from local.stripe_standin.wire import StripeError, invalid, missing, new_id

MIN_LIFETIME_SECONDS = 30 * 60
MAX_LIFETIME_SECONDS = 24 * 3600


@dataclass
class Fault:
    mode: str  # "error" (answer 500) or "hang" (answer after `seconds`)
    count: int
    seconds: float = 0.0


def visible(session: dict[str, Any]) -> dict[str, Any]:
    """A session as the API shows it (its line items are kept for the pay page only)."""
    return {k: v for k, v in session.items() if k != "line_items"}


class StandInApi:
    """The state. `webhook_url` is where events are delivered (None: nowhere)."""

    def __init__(self, webhook_secret: str, webhook_url: str | None = None) -> None:
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.public_url = ""  # set by the server once it listens
        self.sessions: dict[str, dict[str, Any]] = {}
        self.intents: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.calls: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []
        self.faults: dict[str, Fault] = {}
        self._keys = IdempotencyKeys()
        self._lock = threading.RLock()
        self._stop = threading.Event()

    def call(
        self,
        endpoint: str,
        path: str,
        params: dict[str, Any],
        args: dict[str, str],
        key: str | None,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """One API request: (status, body, headers), replayed when its key was seen."""
        self.calls.append({"endpoint": endpoint, "params": params, "key": key, **args})
        if not key:
            status, body = self._run(endpoint, params, args)
            return status, body, {}
        fingerprint = json.dumps([path, params], sort_keys=True)
        return self._keys.answer(key, fingerprint, lambda: self._run(endpoint, params, args))

    def _run(
        self, endpoint: str, params: dict[str, Any], args: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        try:
            self._fault(endpoint)
            result: dict[str, Any] = getattr(self, f"_do_{endpoint}")(params, **args)
            return 200, result
        except StripeError as error:
            return error.status, error.body

    def _fault(self, operation: str) -> None:
        with self._lock:
            fault = self.faults.get(operation)
            if fault is None or fault.count <= 0:
                return
            fault.count -= 1
        if fault.mode == "hang":
            self._stop.wait(fault.seconds)
            return
        raise StripeError(500, "api_error", "An unknown error occurred (injected).")

    # --------------------------------------------------------------------- the API
    def _do_create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        now = int(time.time())
        if params.get("mode") != "payment":
            raise invalid("This stand-in makes only mode=payment sessions.", "mode")
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            raise invalid("line_items is required in payment mode.", "line_items")
        currencies, total = set(), 0
        for i, item in enumerate(items):
            price = item.get("price_data") if isinstance(item, dict) else None
            if not isinstance(price, dict):
                raise invalid("Each line item needs price_data.", f"line_items[{i}]")
            try:
                amount, quantity = int(price["unit_amount"]), int(item.get("quantity", "1"))
            except (KeyError, ValueError):
                raise invalid("unit_amount must be an integer.", f"line_items[{i}]") from None
            if amount < 0 or quantity < 1:
                raise invalid("Invalid amount or quantity.", f"line_items[{i}]")
            if not (price.get("product_data") or {}).get("name"):
                raise invalid("product_data.name is required.", f"line_items[{i}]")
            currencies.add(str(price.get("currency", "")).lower())
            total += amount * quantity
        if len(currencies) != 1 or not re.fullmatch(r"[a-z]{3}", next(iter(currencies))):
            raise invalid("All line items need the same valid currency.", "line_items")
        try:
            expires_at = int(params.get("expires_at") or now + MAX_LIFETIME_SECONDS)
        except ValueError:
            raise invalid("expires_at must be a Unix timestamp.", "expires_at") from None
        if expires_at < now + MIN_LIFETIME_SECONDS:
            raise invalid(
                "The `expires_at` timestamp must be at least 30 minutes from Checkout"
                " Session creation.",
                "expires_at",
            )
        if expires_at > now + MAX_LIFETIME_SECONDS:
            raise invalid("The `expires_at` timestamp must be less than 24 hours.", "expires_at")
        if not params.get("success_url"):
            raise invalid("success_url is required.", "success_url")
        sid = new_id("cs")
        session = {
            "id": sid,
            "object": "checkout.session",
            "mode": "payment",
            "status": "open",
            "payment_status": "unpaid",
            "amount_subtotal": total,
            "amount_total": total,
            "currency": next(iter(currencies)),
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata") or {},
            "line_items": items,
            "payment_intent": None,
            "success_url": params["success_url"],
            "cancel_url": params.get("cancel_url"),
            "url": f"{self.public_url}/pay/{sid}",
            "expires_at": expires_at,
            "created": now,
            "livemode": False,
        }
        with self._lock:
            self.sessions[sid] = session
        return visible(session)

    def session(self, sid: str) -> dict[str, Any]:
        """The session `sid` (expired first if its time is up); StripeError 404 if none."""
        with self._lock:
            session = self.sessions.get(sid)
            if session is None:
                raise missing("checkout.session", sid)
            if session["status"] == "open" and session["expires_at"] <= time.time():
                self._end(session, "checkout.session.expired")
            return session

    def _end(self, session: dict[str, Any], event: str) -> None:
        session["status"] = "expired"
        session["url"] = None
        self._deliver_later(event, visible(session))

    def _do_get_session(self, params: dict[str, Any], sid: str) -> dict[str, Any]:
        return visible(self.session(sid))

    def _do_expire(self, params: dict[str, Any], sid: str) -> dict[str, Any]:
        with self._lock:
            session = self.session(sid)
            if session["status"] != "open":
                raise invalid("Only Checkout Sessions with a status of `open` can be expired.")
            self._end(session, "checkout.session.expired")
            return visible(session)

    def _do_create_refund(self, params: dict[str, Any]) -> dict[str, Any]:
        intent_id = params.get("payment_intent")
        with self._lock:
            intent = self.intents.get(str(intent_id))
            if intent is None:
                raise missing("payment_intent", intent_id)
            if intent["refunded"]:
                raise invalid(
                    f"Charge for {intent_id} has already been refunded.",
                    code="charge_already_refunded",
                )
            intent["refunded"] = True
            refund = {
                "id": new_id("re"),
                "object": "refund",
                "amount": intent["amount"],
                "currency": intent["currency"],
                "payment_intent": intent_id,
                "status": "succeeded",
                "reason": params.get("reason"),
                "created": int(time.time()),
            }
            self.refunds[refund["id"]] = refund
        return refund

    # ------------------------------------------------------------ paying, webhooks
    def charge(self, amount: int, currency: str) -> str:
        """Money taken: a succeeded PaymentIntent; returns its id."""
        intent_id = new_id("pi")
        with self._lock:
            self.intents[intent_id] = {
                "id": intent_id,
                "amount": amount,
                "currency": currency,
                "refunded": False,
            }
        return intent_id

    def pay(self, sid: str) -> dict[str, Any]:
        """The fan pressed Pay: the session completes and the webhook goes out."""
        with self._lock:
            session = self.session(sid)
            if session["status"] != "open":
                raise invalid(f"This Checkout Session is {session['status']}.")
            intent_id = self.charge(session["amount_total"], session["currency"])
            session.update(
                status="complete", payment_status="paid", payment_intent=intent_id, url=None
            )
            shown = visible(session)
        delivered = self.deliver("checkout.session.completed", shown)
        if not delivered:
            self._deliver_later("checkout.session.completed", shown, first_delay=True)
        return shown

    def event(self, kind: str, obj: dict[str, Any]) -> str:
        return event_payload(kind, obj)

    def deliver(self, kind: str, obj: dict[str, Any], payload: str | None = None) -> bool:
        """One delivery of an event; True when the endpoint answered 2xx."""
        if not self.webhook_url:
            return True
        status = post_event(self.webhook_url, self.webhook_secret, payload or self.event(kind, obj))
        with self._lock:
            self.deliveries.append({"type": kind, "status": status, "id": obj.get("id")})
        return 200 <= status < 300

    def _deliver_later(self, kind: str, obj: dict[str, Any], first_delay: bool = False) -> None:
        payload = self.event(kind, obj)
        retry_in_background(
            lambda: self.deliver(kind, obj, payload), self._stop, first_delay=first_delay
        )

    def stop(self) -> None:
        """End the pending redeliveries and hanging faults."""
        self._stop.set()
