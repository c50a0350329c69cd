"""The stand-in over HTTP: Stripe's API paths, its hosted checkout page, the test controls.

API requests are checked (a `sk_` key) and decoded as Stripe does, then answered by the
state (`api`); errors of any kind answer in Stripe's JSON. The hosted page at `url` lets a
browser pay or cancel a session, then sends it to `success_url` or `cancel_url`. Tests
steer it through `/_standin/...`: inject faults, read its state, pay without a browser.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from local.stripe_standin.api import Fault, StandInApi, visible
from local.stripe_standin.wire import StripeError, decode_form

_URLS = Map(
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


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status, headers, content_type="application/json")


def _page_html(session: dict[str, Any]) -> str:
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
    return (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Stripe stand-in</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<body style='font-family:sans-serif;max-width:30em;margin:2em auto;padding:0 1em'>"
        "<h1>Pay (offline Stripe stand-in)</h1>"
        f"<ul>{items}</ul><p>Total <b id=total>{total}</b></p>{actions}</body></html>"
    )


class StripeStandIn(StandInApi):
    """The WSGI app and its state. `webhook_url` is where events are delivered."""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        try:
            endpoint, args = _URLS.bind_to_environ(environ).match()
            if str(endpoint).startswith(("page", "set_", "state", "pay_now")):
                response = getattr(self, f"_{endpoint}")(request, **args)
            else:
                response = self._api(request, str(endpoint), dict(args))
        except HTTPException as error:
            response = _json(
                {"error": {"type": "invalid_request_error", "message": error.description}},
                error.code or 404,
            )
        return response(environ, start_response)

    def _api(self, request: Request, endpoint: str, args: dict[str, str]) -> Response:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer sk_"):
            return _json(
                {"error": {"type": "invalid_request_error", "message": "Invalid API Key."}}, 401
            )
        params = decode_form(request.get_data(as_text=True))
        key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
        status, body, headers = self.call(endpoint, request.path, params, args, key)
        return _json(body, status, headers)

    # ----------------------------------------------------------------- hosted page
    def _page(self, request: Request, sid: str) -> Response:
        try:
            session = self.session(sid)
        except StripeError:
            raise NotFound("No such checkout page.") from None
        return Response(_page_html(session), content_type="text/html; charset=utf-8")

    def _page_action(self, request: Request, sid: str) -> Response:
        action = request.form.get("action")
        try:
            session = self.session(sid)
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

    # ---------------------------------------------------------------- test controls
    def _set_faults(self, request: Request) -> Response:
        given = json.loads(request.get_data(as_text=True) or "{}")
        with self._lock:
            for operation, spec in given.items():
                self.faults[operation] = Fault(
                    str(spec.get("mode", "error")),
                    int(spec.get("count", 1)),
                    float(spec.get("seconds", 0)),
                )
        return _json({"faults": list(self.faults)})

    def _state(self, request: Request) -> Response:
        with self._lock:
            return _json(
                {
                    "sessions": [visible(s) for s in self.sessions.values()],
                    "refunds": list(self.refunds.values()),
                    "deliveries": list(self.deliveries),
                    "calls": len(self.calls),
                }
            )

    def _pay_now(self, request: Request, sid: str) -> Response:
        try:
            return _json(self.pay(sid))
        except StripeError as error:
            return _json(error.body, error.status)
