"""Per-API-key rate limiting: a token bucket per key, in each server process.

A key may spend `per_minute` requests a minute, in bursts of up to a tenth of that (at least 10).
Past it the request gets a 429 whose Retry-After says, in whole seconds, when one more request will
be allowed; the public client waits that long and retries. Buckets are per process: with N API
processes behind a balancer a key gets up to N times the rate (docs/security.md).
"""

from __future__ import annotations

import math
import time
from threading import Lock

from civica.services.errors import ServiceError


class TooManyRequests(ServiceError):
    status_code = 429
    error = "too_many_requests"

    def __init__(self, description: str, retry_after: int) -> None:
        super().__init__(description)
        self.retry_after = retry_after


class RateLimiter:
    MAX_KEYS = 100_000

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(max(10, per_minute // 10))
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = Lock()
        self._now = time.monotonic

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def check(self, key: str) -> None:
        """Spend one request of `key`'s bucket, or raise TooManyRequests."""
        if not self.enabled:
            return
        now = self._now()
        with self._lock:
            tokens, at = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                if len(self._buckets) >= self.MAX_KEYS and key not in self._buckets:
                    self._forget_full(now)
                self._buckets[key] = (tokens - 1.0, now)
                return
            self._buckets[key] = (tokens, now)
        wait = max(1, math.ceil((1.0 - tokens) / self.rate))
        raise TooManyRequests(
            f"too many requests with this API key (limit {round(self.rate * 60)} a minute): "
            f"retry after {wait} s",
            retry_after=wait,
        )

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled (they hold no information); all if none has."""
        full = [
            k
            for k, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self.rate >= self.capacity
        ]
        for k in full or list(self._buckets):
            del self._buckets[k]
