"""The stage's throttling, as the local gateway enforces it: a token bucket per client.

API Gateway throttles a stage by its `MethodSettings` (`ThrottlingRateLimit`: tokens a
second, `ThrottlingBurstLimit`: the bucket's size), the most specific entry for the
resource and method winning over `/*` `*`. Locally the buckets are kept per client
address (API Gateway's `sourceIp`; in AWS, WAF's rate rules do this per client), so one
client bursting past the limit is refused with 429 while every other client is served.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from local import template


@dataclass(frozen=True)
class MethodThrottle:
    """One `MethodSettings` entry: `resource_path` is the template's path (`/*` for all)."""

    resource_path: str
    http_method: str
    rate: float
    burst: int

    def specificity(self, resource: str, method: str) -> int | None:
        """How closely this entry matches (higher is closer), None if it does not."""
        path_exact = self.resource_path == resource
        if not path_exact and self.resource_path != "/*":
            return None
        method_exact = self.http_method.upper() == method.upper()
        if not method_exact and self.http_method != "*":
            return None
        return 2 * path_exact + method_exact


@dataclass(frozen=True)
class Refusal:
    retry_after: int  # whole seconds, at least 1
    limit: MethodThrottle


class _Bucket:
    __slots__ = ("tokens", "updated")

    def __init__(self, tokens: float, updated: float) -> None:
        self.tokens = tokens
        self.updated = updated


class Throttle:
    """Token buckets per (client, matching entry); thread-safe, memory bounded."""

    def __init__(
        self,
        settings: Iterable[MethodThrottle],
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 100_000,
    ) -> None:
        self.settings = [s for s in settings if s.rate > 0 and s.burst > 0]
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: dict[tuple[str, MethodThrottle], _Bucket] = {}
        self._lock = threading.Lock()

    def setting_for(self, resource: str, method: str) -> MethodThrottle | None:
        best: tuple[int, MethodThrottle] | None = None
        for setting in self.settings:
            score = setting.specificity(resource, method)
            if score is not None and (best is None or score > best[0]):
                best = (score, setting)
        return best[1] if best else None

    def take(self, client: str, resource: str, method: str) -> Refusal | None:
        """Spend one token of `client`'s bucket; a Refusal when it is empty."""
        setting = self.setting_for(resource, method)
        if setting is None:
            return None
        now = self._clock()
        key = (client, setting)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self._max_clients:
                    self._forget_full(now)
                bucket = self._buckets[key] = _Bucket(float(setting.burst), now)
            else:
                elapsed = max(0.0, now - bucket.updated)
                bucket.tokens = min(float(setting.burst), bucket.tokens + elapsed * setting.rate)
                bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            wait = (1.0 - bucket.tokens) / setting.rate
        return Refusal(max(1, math.ceil(wait)), setting)

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled (forgetting them changes nothing)."""
        for key, bucket in list(self._buckets.items()):
            setting = key[1]
            if bucket.tokens + (now - bucket.updated) * setting.rate >= setting.burst:
                del self._buckets[key]
        if len(self._buckets) >= self._max_clients:  # all busy: forget the oldest half
            ordered = sorted(self._buckets.items(), key=lambda item: item[1].updated)
            for key, _ in ordered[: len(ordered) // 2]:
                del self._buckets[key]


def stage_throttle(rate: float | None = None, burst: int | None = None) -> Throttle | None:
    """The stage's throttling as template.yaml sets it, `rate` and `burst` (when given)
    overriding every entry's; None if the template sets none."""
    settings = [
        MethodThrottle(resource, method, rate or default_rate, burst or default_burst)
        for resource, method, default_rate, default_burst in template.stage_throttling()
    ]
    return Throttle(settings) if settings else None
