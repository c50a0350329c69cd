"""The local stack's console: one line per invocation, plus a few lines about itself."""

from __future__ import annotations

import sys
import threading
import time

_lock = threading.Lock()


def say(message: str) -> None:
    with _lock:
        sys.stdout.write(message + "\n")
        sys.stdout.flush()


def invocation(function: str, status: str | int, duration_ms: float, detail: str = "") -> None:
    """`12:00:01 CreateCheckoutFunction 201 35 ms POST /events/.../checkouts`."""
    stamp = time.strftime("%H:%M:%S")
    line = f"{stamp} {function} {status} {duration_ms:.0f} ms"
    say(f"{line} {detail}" if detail else line)
