"""Injected failures: what a real network and a loaded service do to a client.

A `Faults` object is live: the server asks it once per request which fault (if any) to apply, so tests
change it at runtime. Three ways to ask for a fault, checked in this order:

1. `inject(kind, count)`: the next `count` requests get `kind` (deterministic, for tests);
2. `every_nth[kind] = n`: every n-th request gets `kind` (deterministic);
3. `<kind>_rate`: a per-request probability (seeded, so a single-threaded client sees the same sequence).

Only requests whose path contains `path_contains` (when set) are considered or counted. Error faults
and dropped connections answer before the request reaches the world, so they never change its state;
a truncated body is cut after the request was handled, like a connection lost on the way back.

Latency is not a fault: every request (whatever `path_contains` says) waits `latency_seconds` plus, when
`latency_median_seconds` is set, a lognormal draw with that median and `latency_p99_seconds` as its 99th
percentile, from its own seeded generator (the same seed and request order give the same delays, and turning
latency on does not change which faults are drawn).
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from statistics import NormalDist
from typing import Literal, get_args

from kognitos_simulator.seeds import derive_seed

FaultKind = Literal[
    "rate_limit",  # 429 RESOURCE_EXHAUSTED with Retry-After (unless rate_limit_retry_after is False)
    "internal_error",  # 500 INTERNAL
    "unavailable",  # 503 UNAVAILABLE
    "deadline_exceeded",  # 504 DEADLINE_EXCEEDED
    "drop_connection",  # the connection is closed without any response
    "truncated_body",  # a 200 whose body stops mid-JSON (Content-Length promises more)
    "slow",  # the response is delayed by `slow_seconds`
]
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
# The standard normal's 99th percentile: a lognormal's p99 is median * exp(sigma * Z99).
Z99 = NormalDist().inv_cdf(0.99)


def lognormal_sigma(median: float, p99: float) -> float:
    """The log-space standard deviation of the lognormal with this median and 99th percentile (0: no spread)."""
    return math.log(p99 / median) / Z99 if p99 > median > 0 else 0.0


def lognormal_delay(rng: random.Random, median: float, p99: float) -> float:
    """One delay in seconds from the lognormal with this median and 99th percentile; p99 at or below the
    median means no spread (always the median); a median of 0 or less means no delay."""
    if median <= 0:
        return 0.0
    return median * math.exp(lognormal_sigma(median, p99) * rng.gauss(0.0, 1.0))


@dataclass
class Faults:
    """Fault configuration; everything is off by default."""

    rate_limit_rate: float = 0.0
    internal_error_rate: float = 0.0
    unavailable_rate: float = 0.0
    deadline_exceeded_rate: float = 0.0
    drop_connection_rate: float = 0.0
    truncated_body_rate: float = 0.0
    slow_rate: float = 0.0
    every_nth: dict[FaultKind, int] = field(default_factory=dict)
    path_contains: str | None = None
    retry_after_seconds: int = 1
    # False: every 429 (the rate_limit fault's and the rate limiter's) has neither a Retry-After header nor a
    # RetryInfo detail, so the client must pick its own wait.
    rate_limit_retry_after: bool = True
    latency_seconds: float = 0.0
    # A lognormal latency on every request, added to latency_seconds: its median and 99th percentile (0: the
    # median on every request). Off while the median is 0.
    latency_median_seconds: float = 0.0
    latency_p99_seconds: float = 0.0
    slow_seconds: float = 2.0
    # On a List Runs request that carries a page_token, this many new runs are created first (with
    # create_time = now), the way runs arrive while a client pages through a busy automation.
    insert_runs_while_paginating: int = 0
    # On a List Exceptions request that carries a page_token, the simulated clock first moves this many seconds,
    # so exceptions are raised (and change state) between a client's pages, as they do over a slow load.
    advance_clock_while_paginating_exceptions: float = 0.0
    seed: int = 0
    _queued: list[FaultKind] = field(default_factory=list, init=False, repr=False, compare=False)
    _counter: int = field(default=0, init=False, repr=False, compare=False)
    _rng: random.Random = field(init=False, repr=False, compare=False)
    _latency_rng: random.Random = field(init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    _open: threading.Event = field(default_factory=threading.Event, init=False, repr=False, compare=False)
    _waiting: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.retry_after_seconds, bool) or not isinstance(self.retry_after_seconds, int) or (
            self.retry_after_seconds < 0
        ):
            raise ValueError(f"Faults.retry_after_seconds must be a whole number of seconds >= 0, "
                             f"got {self.retry_after_seconds!r}")
        for name in ("latency_seconds", "latency_median_seconds", "latency_p99_seconds", "slow_seconds",
                     "advance_clock_while_paginating_exceptions"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"Faults.{name} must be a number of seconds >= 0, got {value}")
        if self.latency_p99_seconds and self.latency_p99_seconds < self.latency_median_seconds:
            raise ValueError(f"Faults.latency_p99_seconds ({self.latency_p99_seconds}) is below "
                             f"latency_median_seconds ({self.latency_median_seconds})")
        if self.latency_p99_seconds and not self.latency_median_seconds:
            raise ValueError("Faults.latency_p99_seconds needs latency_median_seconds")
        self._rng = random.Random(self.seed)
        self._latency_rng = random.Random(derive_seed(self.seed, "latency"))
        self._open.set()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold every request at the door until the block ends, then serve them: a service that stops answering
        for a while, or a test that needs a client to be mid-load for as long as it takes (no timing involved)."""
        self._open.clear()
        try:
            yield
        finally:
            self._open.set()

    def waiting(self) -> int:
        """How many requests are held at the door right now."""
        with self._lock:
            return self._waiting

    async def pass_the_door(self) -> None:
        """Return at once, or, while `held`, once the door opens again."""
        if self._open.is_set():
            return
        with self._lock:
            self._waiting += 1
        try:
            while not self._open.is_set():
                await asyncio.sleep(0.01)
        finally:
            with self._lock:
                self._waiting -= 1

    def inject(self, kind: FaultKind, count: int = 1) -> None:
        """Make the next `count` (matching) requests fail with `kind`."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        with self._lock:
            self._queued.extend([kind] * count)

    def reset(self) -> None:
        """Turn every fault off again, keeping this object (the server holds a reference to it)."""
        with self._lock:
            for spec in fields(self):
                if spec.init:
                    default = spec.default_factory() if callable(spec.default_factory) else spec.default
                    setattr(self, spec.name, default)
            self._queued.clear()
            self._counter = 0
            self._rng = random.Random(self.seed)
            self._latency_rng = random.Random(derive_seed(self.seed, "latency"))
        self._open.set()

    def rate(self, kind: FaultKind) -> float:
        """The per-request probability configured for `kind`."""
        value: float = getattr(self, f"{kind}_rate")
        return value

    def draw(self, path: str) -> FaultKind | None:
        """Decide the fault for one request to `path` (None: serve it normally)."""
        if self.path_contains is not None and self.path_contains not in path:
            return None
        with self._lock:
            self._counter += 1
            if self._queued:
                return self._queued.pop(0)
            for kind, every in self.every_nth.items():
                if every > 0 and self._counter % every == 0:
                    return kind
            draw = self._rng.random()
            for kind in FAULT_KINDS:
                draw -= self.rate(kind)
                if draw < 0:
                    return kind
        return None

    def delay(self, fault: FaultKind | None) -> float:
        """Seconds to hold back the answer to one request that drew `fault`: `latency_seconds`, a draw from the
        latency distribution (when its median is set) and `slow_seconds` for a slow fault."""
        delay = self.latency_seconds
        if self.latency_median_seconds > 0:
            with self._lock:
                delay += lognormal_delay(self._latency_rng, self.latency_median_seconds, self.latency_p99_seconds)
        if fault == "slow":
            delay += self.slow_seconds
        return delay
