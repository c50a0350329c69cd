"""`make demo`: the README's quick start in Python, against a running local stack.

Finds the demo event, asks for the best two seats together, holds them, waits in line,
pays (the test provider's /complete, or the Pay button of the local Stripe stand-in's
hosted page; against a real Stripe it prints the payment page to open and waits), then
holds two more seats and cancels that checkout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from local.seed import DEMO_NAME

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class DemoError(Exception):
    pass


def press_pay(page_url: str) -> None:
    """Submit the offline Stripe stand-in's hosted checkout form, as its Pay button does."""
    form = urllib.parse.urlencode({"action": "pay"}).encode()
    request = urllib.request.Request(page_url, data=form, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30):  # noqa: S310 - local stand-in
            pass  # it sends the browser on to the page's success URL
    except urllib.error.URLError as error:
        raise DemoError(f"The payment page {page_url} did not answer ({error})") from None


class Client:
    def __init__(self, api: str) -> None:
        self.api = api.rstrip("/")

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - the local API
            self.api + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")
        except urllib.error.URLError as error:
            raise DemoError(
                f"Cannot reach {self.api} ({error.reason}): is `make dev` running?"
            ) from None

    def ok(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        status, answer = self.call(method, path, body, token)
        if status >= 400:
            raise DemoError(f"{method} {path} answered {status}: {answer}")
        return answer


def say(step: str, detail: Any = "") -> None:
    text = detail if isinstance(detail, str) else json.dumps(detail)
    print(f"{step:<12} {text}", flush=True)


def wait_for(client: Client, checkout: str, token: str, wanted: set[str], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        view = client.ok("GET", f"/checkouts/{checkout}", token=token)
        if view["status"] in wanted:
            return view
        if view["status"] in {"expired", "cancelled", "refunded"}:
            raise DemoError(f"checkout {checkout} ended {view['status']}")
        if time.monotonic() > deadline:
            raise DemoError(f"checkout {checkout} still {view['status']} after {timeout:.0f} s")
        say("waiting", f"{view['status']}, {view.get('position')} ahead")
        time.sleep(1)


def hold_best(client: Client, event: str, count: int) -> tuple[str, str, list[str]]:
    best = client.ok("POST", f"/events/{event}/best-available", {"count": count})
    say("suggested", f"{best['section']}, row {best['row']}: {', '.join(best['seat_ids'])}")
    held = client.ok("POST", f"/events/{event}/checkouts", {"seat_ids": best["seat_ids"]})
    say("held", f"checkout {held['checkout_id']} ({held['status']})")
    return held["checkout_id"], held["token"], best["seat_ids"]


def run(api: str, pay_timeout: float) -> None:
    client = Client(api)
    events = client.ok("GET", "/events")
    demo = next((e for e in events if e["name"] == DEMO_NAME), None)
    if demo is None:
        raise DemoError(f"No event named {DEMO_NAME!r} at {api}")
    event = demo["id"]
    say("event", f"{DEMO_NAME} {event} ({demo['seats_available']} seats free)")

    checkout, token, _ = hold_best(client, event, 2)
    wait_for(client, checkout, token, {"admitted"}, 120)
    payment = client.ok("POST", f"/checkouts/{checkout}/payment", token=token)
    say("payment", {k: payment.get(k) for k in ("provider", "amount_cents", "payment_url")})
    if payment["provider"] == "test":
        client.ok("POST", f"/checkouts/{checkout}/complete", token=token)
    elif urllib.parse.urlsplit(payment["payment_url"]).hostname in LOCAL_HOSTS:
        press_pay(payment["payment_url"])
        say("paid", "pressed Pay on the Stripe stand-in's hosted page")
    else:
        say("pay", f"open {payment['payment_url']} in a browser and pay; waiting...")
    booked = wait_for(client, checkout, token, {"completed"}, pay_timeout)
    say("booked", f"reference {booked.get('reference') or '(none yet)'}, {booked['seat_ids']}")

    checkout, token, _ = hold_best(client, event, 2)
    cancelled = client.ok("DELETE", f"/checkouts/{checkout}", token=token)
    say("cancelled", f"checkout {checkout} ({(cancelled or {}).get('status', 'cancelled')})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", default="http://127.0.0.1:3000", help="the local API")
    parser.add_argument(
        "--pay-timeout", type=float, default=300, help="seconds to wait for a payment"
    )
    args = parser.parse_args(argv)
    try:
        run(args.api, args.pay_timeout)
    except DemoError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
