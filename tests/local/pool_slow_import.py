"""A handler module whose import takes seconds, as a cold start under load can
(tests/local/test_worker_pool.py)."""

from __future__ import annotations

import time
from typing import Any

time.sleep(5)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {}
