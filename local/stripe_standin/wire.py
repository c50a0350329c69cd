"""Stripe's wire format, as far as the stand-in speaks it: nested form-encoded requests,
`{"error": {...}}` answers, `Stripe-Signature` webhook signatures and object ids.

Kept free of state so that tests can sign a webhook or read a request body exactly as
Stripe and its client library do.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl


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
    """An answer in Stripe's error shape: `status` and `{"error": {"type", "message"}}`."""

    def __init__(self, status: int, kind: str, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"error": {"type": kind, "message": message}}
        if code:
            self.body["error"]["code"] = code


def invalid(message: str, param: str | None = None, code: str | None = None) -> StripeError:
    """Stripe's 400 `invalid_request_error`, naming the parameter at fault if any."""
    error = StripeError(400, "invalid_request_error", message, code)
    if param:
        error.body["error"]["param"] = param
    return error


def missing(kind: str, object_id: object) -> StripeError:
    """Stripe's 404 for an id it does not know (`resource_missing`)."""
    return StripeError(
        404, "invalid_request_error", f"No such {kind}: '{object_id}'", "resource_missing"
    )


def new_id(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_hex(12)}"


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """Stripe's `Stripe-Signature` header: t=<unix time>,v1=<HMAC-SHA256 of "t.payload">."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"
