"""Stripe's `Idempotency-Key`: a key's first answer is kept and replayed.

The code under test retries its Stripe calls under one key, so the stand-in keeps what
Stripe keeps: the first answer (an error included) is replayed for 24 hours, marked
`Idempotent-Replayed`; the same key with other parameters is refused (400), and a key
whose first request is still running answers 409.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.stripe_standin.wire import StripeError

IDEMPOTENCY_SECONDS = 24 * 3600

Answer = tuple[int, dict[str, Any]]


@dataclass
class _Kept:
    fingerprint: str
    status: int = 0  # 0 while the first request is still running
    body: dict[str, Any] = field(default_factory=dict)
    at: float = 0.0


class IdempotencyKeys:
    """The kept answers by key."""

    def __init__(self) -> None:
        self._kept: dict[str, _Kept] = {}
        self._lock = threading.Lock()

    def answer(
        self, key: str, fingerprint: str, run: Callable[[], Answer]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """(status, body, headers) for a request under `key`: `run()`'s, or a replay.

        `fingerprint` stands for the request's parameters: a key is bound to the first.
        """
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
                    return error.status, error.body, {}
                if kept.status == 0:
                    error = StripeError(
                        409,
                        "idempotency_error",
                        "There is currently another in-progress request using this"
                        " Idempotent Key. Please try again later.",
                    )
                    return error.status, error.body, {}
                return kept.status, kept.body, {"Idempotent-Replayed": "true"}
            kept = _Kept(fingerprint=fingerprint, at=time.time())
            self._kept[key] = kept
        status, body = run()
        with self._lock:
            kept.status, kept.body = status, body
        return status, body, {"Idempotency-Key": key}
