"""A handler the worker-pool tests load as a Lambda function (tests/local/test_worker_pool.py)."""

from __future__ import annotations

import os
import time
from typing import Any

_calls = 0


def counting_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Module state survives between invocations of one warm instance."""
    global _calls
    _calls += 1
    time.sleep(float(event.get("sleep", 0)))
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {
        "calls": _calls,
        "pid": os.getpid(),
        "function": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "request_id": context.aws_request_id,
        "env": {k: os.environ.get(k) for k in event.get("env", [])},
    }
