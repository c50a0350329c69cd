"""The local stack's console: one line per invocation, plus a few lines about itself.

The console is only a console: when whoever read it has gone (`make dev | head`, a closed
terminal), the stack and its functions go on without it instead of failing on the next
line; what they write goes to /dev/null from then on.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO

_lock = threading.Lock()


def say(message: str) -> None:
    with _lock:
        write(sys.stdout, message + "\n")


def write(stream: TextIO, text: str = "") -> None:
    """Write `text` to `stream` and flush it; a stream whose reader has gone is pointed at
    /dev/null (its file descriptor, so processes started later inherit that too)."""
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


def invocation(function: str, status: str | int, duration_ms: float, detail: str = "") -> None:
    """`12:00:01 CreateCheckoutFunction 201 35 ms POST /events/.../checkouts`."""
    stamp = time.strftime("%H:%M:%S")
    line = f"{stamp} {function} {status} {duration_ms:.0f} ms"
    say(f"{line} {detail}" if detail else line)
