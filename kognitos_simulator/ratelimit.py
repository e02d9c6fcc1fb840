"""The service's rate limit: a token bucket per bearer token (`SimulatorSettings.rate_limit` and `burst`).

Each credential a request carries has its own bucket. A bucket starts full with `burst` tokens and refills
continuously at `rate` tokens per second (never above `burst`). A request takes one token; with less than one
token left it is refused (429 RESOURCE_EXHAUSTED) and takes nothing, so a client that keeps asking while refused
does not push its next admission further away. Time is the monotonic clock (real time, not the simulated world
clock). The limiter is live and thread-safe: tests change `rate` and `burst` while the server runs, and
`reset()` fills every bucket again.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


def check_rate_limit(rate: float | None, burst: int | None) -> None:
    """ValueError unless `rate` is None or a positive finite number and `burst` is None or at least 1."""
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"the rate limit must be a positive number of requests per second, got {rate}")
    if burst is not None and burst < 1:
        raise ValueError(f"the burst must be at least 1 request, got {burst}")


def default_burst(rate: float) -> int:
    """The bucket size when none is given: one second's worth of requests, at least 1."""
    return max(1, math.ceil(rate))


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets keyed by bearer token; `rate` None means no limit (the default)."""

    def __init__(self, rate: float | None = None, burst: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        check_rate_limit(rate, burst)
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @property
    def rate(self) -> float | None:
        """Tokens added to each bucket per second; None: every request is admitted."""
        return self._rate

    @rate.setter
    def rate(self, rate: float | None) -> None:
        check_rate_limit(rate, None)
        with self._lock:
            self._rate = rate

    @property
    def burst(self) -> int | None:
        """The bucket size as configured; None: `default_burst(rate)`."""
        return self._burst

    @burst.setter
    def burst(self, burst: int | None) -> None:
        check_rate_limit(None, burst)
        with self._lock:
            self._burst = burst

    @property
    def capacity(self) -> int:
        """The bucket size in effect."""
        rate, burst = self._rate, self._burst
        if burst is not None:
            return burst
        return default_burst(rate) if rate is not None else 1

    def reset(self) -> None:
        """Forget every bucket: each credential starts again with a full one."""
        with self._lock:
            self._buckets.clear()

    def tokens(self, key: str) -> float:
        """The tokens `key`'s bucket holds now (a full bucket for a credential not seen yet)."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None or self._rate is None:
                return float(self.capacity)
            return min(float(self.capacity), bucket.tokens + (self._clock() - bucket.updated) * self._rate)

    def take(self, key: str) -> int | None:
        """Admit one request carrying `key` (None), or refuse it without taking anything and say how many whole
        seconds remain until a token is available (rounded up, at least 1: the `Retry-After` to send)."""
        with self._lock:
            rate = self._rate
            if rate is None:
                return None
            capacity = float(self.capacity)
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(capacity, now)
            else:
                bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate)
                bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return None
            return max(1, math.ceil((1 - bucket.tokens) / rate))
