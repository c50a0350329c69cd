"""Stripe's webhooks: the event envelope, one signed delivery, and redelivery.

Stripe retries an event until the endpoint answers 2xx, with growing delays; the
stand-in does the same (over a minute at most) in a background thread, so that a
webhook handler that fails or is down is tried again as in production.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import requests

from local.stripe_standin.wire import new_id, sign

WEBHOOK_RETRY_SECONDS = (0.5, 1, 2, 4, 8, 16)


def event_payload(kind: str, obj: dict[str, Any]) -> str:
    """The JSON of a Stripe event of type `kind` about `obj`."""
    return json.dumps(
        {
            "id": new_id("evt"),
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "livemode": False,
            "pending_webhooks": 1,
            "type": kind,
            "data": {"object": obj},
        }
    )


def post_event(url: str, secret: str, payload: str) -> int:
    """One signed delivery; the endpoint's status, 0 if it could not be reached."""
    try:
        answer = requests.post(
            url,
            data=payload.encode(),
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": sign(payload, secret),
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            },
            timeout=15,
        )
    except requests.RequestException:
        return 0
    return answer.status_code


def retry_in_background(
    attempt: Callable[[], bool], stop: threading.Event, *, first_delay: bool = False
) -> None:
    """Call `attempt` until it returns True, after each of Stripe's delays, until `stop`.

    The first attempt is at once unless `first_delay` (one was just made and failed).
    """

    def attempts() -> None:
        delays: Iterable[float] = (
            WEBHOOK_RETRY_SECONDS if first_delay else (0, *WEBHOOK_RETRY_SECONDS)
        )
        for delay in delays:
            if stop.wait(delay) or attempt():
                return

    threading.Thread(target=attempts, name="stripe-webhook", daemon=True).start()
