"""Admission pacing through the local stack, on the real clock.

Starts `python -m local` on free ports, creates an event admitting RATE fans per second,
puts FANS checkouts in line at once, and polls every checkout until all are admitted.
Prints the rate that `admitted_at` shows, its error against the configured rate, the
smallest gap, and how late each fan *saw* its admission (polling every POLL seconds).
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from itertools import pairwise
from typing import Any

from bench.stack_http import KEY, Stack, event_body
from local.postgres import throwaway_database

RATE = float(os.environ.get("BENCH_RATE", "5"))
FANS = int(os.environ.get("BENCH_FANS", "60"))
POLL = 0.05


def call(base: str, method: str, path: str, body: Any = None, **headers: str) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - loopback only
        base + path,
        data=data,
        method=method,
        headers={"content-type": "application/json", **headers},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        return json.loads(answer.read())


def main() -> None:
    with throwaway_database("bench_admission") as url:
        stack = Stack(url, None)
        base = f"http://127.0.0.1:{stack.port}"
        try:
            spec = event_body(FANS, RATE)
            seats = spec["seats"]
            event = call(base, "POST", "/events", spec, **{"x-api-key": KEY})
            with ThreadPoolExecutor(16) as pool:
                made = list(
                    pool.map(
                        lambda s: call(
                            base,
                            "POST",
                            f"/events/{event['id']}/checkouts",
                            {"seat_ids": [s["seat_id"]]},
                        ),
                        seats,
                    )
                )
            seen: dict[str, float] = {}
            admitted_at: dict[str, datetime] = {}
            deadline = time.monotonic() + FANS / RATE + 30
            while len(seen) < FANS and time.monotonic() < deadline:
                for checkout in made:
                    cid = checkout["checkout_id"]
                    if cid in seen:
                        continue
                    body = call(
                        base,
                        "GET",
                        f"/checkouts/{cid}",
                        authorization=f"Bearer {checkout['token']}",
                    )
                    if body["status"] == "admitted":
                        seen[cid] = time.time()
                        admitted_at[cid] = datetime.fromisoformat(body["admitted_at"])
                time.sleep(POLL)
        finally:
            stack.stop()
    times = sorted(t.timestamp() for t in admitted_at.values())
    gaps = [b - a for a, b in pairwise(times)]
    measured = (len(times) - 1) / (times[-1] - times[0])
    lateness = sorted(seen[c] - admitted_at[c].timestamp() for c in seen)
    print(f"admission: {len(times)} of {FANS} fans admitted at {RATE}/s")
    print(
        f"  admitted_at rate {measured:.4f}/s, error {100 * (measured - RATE) / RATE:+.3f}%,"
        f" smallest gap {min(gaps):.4f} s (1/rate = {1 / RATE:.4f} s)"
    )
    print(
        f"  seen by polling: median {lateness[len(lateness) // 2] * 1000:.0f} ms after the slot,"
        f" worst {lateness[-1] * 1000:.0f} ms ({FANS} fans polling every {POLL * 1000:.0f} ms)"
    )


if __name__ == "__main__":
    main()
