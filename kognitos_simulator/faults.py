"""Injected failures: what a real network and a loaded service do to a client.

A `Faults` object is live: the server asks it once per request which fault (if any) to apply, so tests
change it at runtime. Three ways to ask for a fault, checked in this order:

1. `inject(kind, count)`: the next `count` requests get `kind` (deterministic, for tests);
2. `every_nth[kind] = n`: every n-th request gets `kind` (deterministic);
3. `<kind>_rate`: a per-request probability (seeded, so a single-threaded client sees the same sequence).

Only requests whose path contains `path_contains` (when set) are considered or counted. Error faults
and dropped connections answer before the request reaches the world, so they never change its state;
a truncated body is cut after the request was handled, like a connection lost on the way back.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Literal, get_args

FaultKind = Literal[
    "rate_limit",  # 429 RESOURCE_EXHAUSTED with Retry-After
    "internal_error",  # 500 INTERNAL
    "unavailable",  # 503 UNAVAILABLE
    "deadline_exceeded",  # 504 DEADLINE_EXCEEDED
    "drop_connection",  # the connection is closed without any response
    "truncated_body",  # a 200 whose body stops mid-JSON (Content-Length promises more)
    "slow",  # the response is delayed by `slow_seconds`
]
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)


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
    latency_seconds: float = 0.0
    slow_seconds: float = 2.0
    # On a List Runs request that carries a page_token, this many new runs are created first (with
    # create_time = now), the way runs arrive while a client pages through a busy automation.
    insert_runs_while_paginating: int = 0
    seed: int = 0
    _queued: list[FaultKind] = field(default_factory=list, init=False, repr=False, compare=False)
    _counter: int = field(default=0, init=False, repr=False, compare=False)
    _rng: random.Random = field(init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    _open: threading.Event = field(default_factory=threading.Event, init=False, repr=False, compare=False)
    _waiting: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
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
