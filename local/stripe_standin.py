"""An offline Stripe: the part of its API this project calls, its hosted checkout page and
its signed webhooks, speaking Stripe's wire format (form-encoded requests, JSON answers,
`{"error": {...}}` errors, `Idempotency-Key` replay).

It behaves as Stripe does where it matters to the code under test:
- a key's first answer is kept and replayed (errors included, marked `Idempotent-Replayed`);
  the same key with other parameters is refused, and one still running answers 409;
- `expires_at` must lie 30 minutes to 24 hours ahead;
- only an open session can be expired; paying one sends a signed
  `checkout.session.completed` to the webhook URL (retried with backoff until it is
  answered 2xx) and sends the browser to `success_url`;
- a payment is refunded in full once; a second refund is refused (`charge_already_refunded`).

Tests steer it through `/_standin/...` (or the object itself): inject faults per endpoint
(`create_session`, `get_session`, `expire`, `create_refund`; `error`: the next calls answer
500; `hang`: they answer only after a delay), pay a session without a browser, read its state.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import requests
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

MIN_LIFETIME_SECONDS = 30 * 60
MAX_LIFETIME_SECONDS = 24 * 3600
IDEMPOTENCY_SECONDS = 24 * 3600
WEBHOOK_RETRY_SECONDS = (0.5, 1, 2, 4, 8, 16)


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's nested form encoding (`line_items[0][price_data][currency]=usd`) as JSON."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        *path, name = re.findall(r"[^\[\]]+", key) or [key]
        node = root
        for part in path:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[name] = value
    decoded: dict[str, Any] = _lists(root)
    return decoded


def _lists(node: Any) -> Any:
    """Objects whose keys are 0..n-1 are lists, as Stripe reads them."""
    if not isinstance(node, dict):
        return node
    converted = {k: _lists(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


class StripeError(Exception):
    def __init__(self, status: int, kind: str, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"error": {"type": kind, "message": message}}
        if code:
            self.body["error"]["code"] = code


def _invalid(message: str, param: str | None = None, code: str | None = None) -> StripeError:
    error = StripeError(400, "invalid_request_error", message, code)
    if param:
        error.body["error"]["param"] = param
    return error


@dataclass
class Fault:
    mode: str  # "error" (answer 500) or "hang" (answer after `seconds`)
    count: int
    seconds: float = 0.0


@dataclass
class _Kept:
    fingerprint: str
    status: int = 0  # 0 while the first request is still running
    body: dict[str, Any] = field(default_factory=dict)
    at: float = 0.0


def _new_id(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_hex(12)}"


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """Stripe's `Stripe-Signature` header: t=<unix time>,v1=<HMAC-SHA256 of "t.payload">."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


class StripeStandIn:
    """The WSGI app and its state. `webhook_url` is where events are delivered."""

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
        self._kept: dict[str, _Kept] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._url_map = Map(
            [
                Rule("/v1/checkout/sessions", methods=["POST"], endpoint="create_session"),
                Rule("/v1/checkout/sessions/<sid>", methods=["GET"], endpoint="get_session"),
                Rule("/v1/checkout/sessions/<sid>/expire", methods=["POST"], endpoint="expire"),
                Rule("/v1/refunds", methods=["POST"], endpoint="create_refund"),
                Rule("/pay/<sid>", methods=["GET"], endpoint="page"),
                Rule("/pay/<sid>", methods=["POST"], endpoint="page_action"),
                Rule("/_standin/faults", methods=["POST"], endpoint="set_faults"),
                Rule("/_standin/state", methods=["GET"], endpoint="state"),
                Rule("/_standin/sessions/<sid>/pay", methods=["POST"], endpoint="pay_now"),
            ]
        )

    # ------------------------------------------------------------------ the WSGI app
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        try:
            endpoint, args = self._url_map.bind_to_environ(environ).match()
            if str(endpoint).startswith(("page", "set_", "state", "pay_now")):
                response = getattr(self, f"_{endpoint}")(request, **args)
            else:
                response = self._api(request, str(endpoint), dict(args))
        except HTTPException as error:
            response = self._json(
                {"error": {"type": "invalid_request_error", "message": error.description}},
                error.code or 404,
            )
        return response(environ, start_response)

    @staticmethod
    def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return Response(json.dumps(body), status, headers, content_type="application/json")

    def _api(self, request: Request, endpoint: str, args: dict[str, str]) -> Response:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer sk_"):
            return self._json(
                {"error": {"type": "invalid_request_error", "message": "Invalid API Key."}}, 401
            )
        params = decode_form(request.get_data(as_text=True))
        key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
        self.calls.append({"endpoint": endpoint, "params": params, "key": key, **args})
        if not key:
            status, body = self._run(endpoint, params, args)
            return self._json(body, status)
        fingerprint = json.dumps([request.path, params], sort_keys=True)
        with self._lock:
            kept = self._kept.get(key)
            if kept and time.time() - kept.at > IDEMPOTENCY_SECONDS:
                kept = None
            if kept is not None:
                if kept.fingerprint != fingerprint:
                    error = StripeError(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same"
                        " parameters they were first used with.",
                    )
                    return self._json(error.body, error.status)
                if kept.status == 0:
                    error = StripeError(
                        409,
                        "idempotency_error",
                        "There is currently another in-progress request using this"
                        " Idempotent Key. Please try again later.",
                    )
                    return self._json(error.body, error.status)
                return self._json(kept.body, kept.status, {"Idempotent-Replayed": "true"})
            kept = _Kept(fingerprint=fingerprint, at=time.time())
            self._kept[key] = kept
        status, body = self._run(endpoint, params, args)
        with self._lock:
            kept.status, kept.body = status, body
        return self._json(body, status, {"Idempotency-Key": key})

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
            raise _invalid("This stand-in makes only mode=payment sessions.", "mode")
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            raise _invalid("line_items is required in payment mode.", "line_items")
        currencies, total = set(), 0
        for i, item in enumerate(items):
            price = item.get("price_data") if isinstance(item, dict) else None
            if not isinstance(price, dict):
                raise _invalid("Each line item needs price_data.", f"line_items[{i}]")
            try:
                amount, quantity = int(price["unit_amount"]), int(item.get("quantity", "1"))
            except (KeyError, ValueError):
                raise _invalid("unit_amount must be an integer.", f"line_items[{i}]") from None
            if amount < 0 or quantity < 1:
                raise _invalid("Invalid amount or quantity.", f"line_items[{i}]")
            if not (price.get("product_data") or {}).get("name"):
                raise _invalid("product_data.name is required.", f"line_items[{i}]")
            currencies.add(str(price.get("currency", "")).lower())
            total += amount * quantity
        if len(currencies) != 1 or not re.fullmatch(r"[a-z]{3}", next(iter(currencies))):
            raise _invalid("All line items need the same valid currency.", "line_items")
        try:
            expires_at = int(params.get("expires_at") or now + MAX_LIFETIME_SECONDS)
        except ValueError:
            raise _invalid("expires_at must be a Unix timestamp.", "expires_at") from None
        if expires_at < now + MIN_LIFETIME_SECONDS:
            raise _invalid(
                "The `expires_at` timestamp must be at least 30 minutes from Checkout"
                " Session creation.",
                "expires_at",
            )
        if expires_at > now + MAX_LIFETIME_SECONDS:
            raise _invalid("The `expires_at` timestamp must be less than 24 hours.", "expires_at")
        if not params.get("success_url"):
            raise _invalid("success_url is required.", "success_url")
        sid = _new_id("cs")
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
        return self._visible(session)

    @staticmethod
    def _visible(session: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in session.items() if k != "line_items"}

    def _session(self, sid: str) -> dict[str, Any]:
        with self._lock:
            session = self.sessions.get(sid)
            if session is None:
                raise StripeError(
                    404,
                    "invalid_request_error",
                    f"No such checkout.session: '{sid}'",
                    "resource_missing",
                )
            if session["status"] == "open" and session["expires_at"] <= time.time():
                self._end(session, "checkout.session.expired")
            return session

    def _end(self, session: dict[str, Any], event: str) -> None:
        session["status"] = "expired"
        session["url"] = None
        self._deliver_later(event, self._visible(session))

    def _do_get_session(self, params: dict[str, Any], sid: str) -> dict[str, Any]:
        return self._visible(self._session(sid))

    def _do_expire(self, params: dict[str, Any], sid: str) -> dict[str, Any]:
        with self._lock:
            session = self._session(sid)
            if session["status"] != "open":
                raise _invalid("Only Checkout Sessions with a status of `open` can be expired.")
            self._end(session, "checkout.session.expired")
            return self._visible(session)

    def _do_create_refund(self, params: dict[str, Any]) -> dict[str, Any]:
        intent_id = params.get("payment_intent")
        with self._lock:
            intent = self.intents.get(str(intent_id))
            if intent is None:
                raise StripeError(
                    404,
                    "invalid_request_error",
                    f"No such payment_intent: '{intent_id}'",
                    "resource_missing",
                )
            if intent["refunded"]:
                raise _invalid(
                    f"Charge for {intent_id} has already been refunded.",
                    code="charge_already_refunded",
                )
            intent["refunded"] = True
            refund = {
                "id": _new_id("re"),
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
        intent_id = _new_id("pi")
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
            session = self._session(sid)
            if session["status"] != "open":
                raise _invalid(f"This Checkout Session is {session['status']}.")
            intent_id = self.charge(session["amount_total"], session["currency"])
            session.update(
                status="complete", payment_status="paid", payment_intent=intent_id, url=None
            )
            visible = self._visible(session)
        delivered = self.deliver("checkout.session.completed", visible)
        if not delivered:
            self._deliver_later("checkout.session.completed", visible, first_delay=True)
        return visible

    def event(self, kind: str, obj: dict[str, Any]) -> str:
        return json.dumps(
            {
                "id": _new_id("evt"),
                "object": "event",
                "api_version": "2024-06-20",
                "created": int(time.time()),
                "livemode": False,
                "pending_webhooks": 1,
                "type": kind,
                "data": {"object": obj},
            }
        )

    def deliver(self, kind: str, obj: dict[str, Any], payload: str | None = None) -> bool:
        """One delivery of an event; True when the endpoint answered 2xx."""
        if not self.webhook_url:
            return True
        payload = payload or self.event(kind, obj)
        try:
            answer = requests.post(
                self.webhook_url,
                data=payload.encode(),
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "Stripe-Signature": sign(payload, self.webhook_secret),
                    "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                },
                timeout=15,
            )
            status = answer.status_code
        except requests.RequestException:
            status = 0
        with self._lock:
            self.deliveries.append({"type": kind, "status": status, "id": obj.get("id")})
        return 200 <= status < 300

    def _deliver_later(self, kind: str, obj: dict[str, Any], first_delay: bool = False) -> None:
        payload = self.event(kind, obj)

        def attempts() -> None:
            delays: Iterable[float] = (
                WEBHOOK_RETRY_SECONDS if first_delay else (0, *WEBHOOK_RETRY_SECONDS)
            )
            for delay in delays:
                if self._stop.wait(delay) or self.deliver(kind, obj, payload):
                    return

        threading.Thread(target=attempts, name="stripe-webhook", daemon=True).start()

    # --------------------------------------------------------- hosted page, control
    def _page(self, request: Request, sid: str) -> Response:
        try:
            session = self._session(sid)
        except StripeError:
            raise NotFound("No such checkout page.") from None
        items = "".join(
            f"<li>{html.escape(str(i['price_data']['product_data']['name']))}"
            f" <b>{int(i['price_data']['unit_amount']) / 100:.2f}</b></li>"
            for i in session["line_items"]
        )
        total = f"{session['amount_total'] / 100:.2f} {str(session['currency']).upper()}"
        if session["status"] == "open":
            actions = (
                f'<form method="post"><button name="action" value="pay" id="pay">Pay {total}'
                '</button> <button name="action" value="cancel" id="cancel">Cancel</button></form>'
            )
        else:
            actions = f'<p id="closed">This checkout session is {session["status"]}.</p>'
        body = (
            "<!doctype html><html lang=en><meta charset=utf-8><title>Stripe stand-in</title>"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<body style='font-family:sans-serif;max-width:30em;margin:2em auto;padding:0 1em'>"
            "<h1>Pay (offline Stripe stand-in)</h1>"
            f"<ul>{items}</ul><p>Total <b id=total>{total}</b></p>{actions}</body></html>"
        )
        return Response(body, content_type="text/html; charset=utf-8")

    def _page_action(self, request: Request, sid: str) -> Response:
        action = request.form.get("action")
        try:
            session = self._session(sid)
        except StripeError:
            raise NotFound("No such checkout page.") from None
        if action == "cancel":
            target = session.get("cancel_url") or session["success_url"]
        else:
            try:
                self.pay(sid)
            except StripeError:
                return self._page(request, sid)
            target = session["success_url"]
        target = str(target).replace("{CHECKOUT_SESSION_ID}", sid)
        return Response(status=303, headers={"Location": target})

    def _set_faults(self, request: Request) -> Response:
        given = json.loads(request.get_data(as_text=True) or "{}")
        with self._lock:
            for operation, spec in given.items():
                self.faults[operation] = Fault(
                    str(spec.get("mode", "error")),
                    int(spec.get("count", 1)),
                    float(spec.get("seconds", 0)),
                )
        return self._json({"faults": list(self.faults)})

    def _state(self, request: Request) -> Response:
        with self._lock:
            return self._json(
                {
                    "sessions": [self._visible(s) for s in self.sessions.values()],
                    "refunds": list(self.refunds.values()),
                    "deliveries": list(self.deliveries),
                    "calls": len(self.calls),
                }
            )

    def _pay_now(self, request: Request, sid: str) -> Response:
        try:
            return self._json(self.pay(sid))
        except StripeError as error:
            return self._json(error.body, error.status)

    def stop(self) -> None:
        self._stop.set()


class StripeServer:
    """The stand-in served on `host:port` (0: a free port) in a thread of its own."""

    def __init__(self, app: StripeStandIn, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        shown = "127.0.0.1" if host in {"0.0.0.0", ""} else host  # noqa: S104
        self.url = f"http://{shown}:{self._server.server_port}"
        app.public_url = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="stripe-standin", daemon=True
        )

    def start(self) -> StripeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.app.stop()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
