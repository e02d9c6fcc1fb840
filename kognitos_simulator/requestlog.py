"""The request log: what clients asked for, so tests can assert on request counts and parameters."""

from __future__ import annotations

import threading
from collections import deque
from typing import NamedTuple

# Status recorded for a request whose connection was dropped before any response was sent.
NO_RESPONSE = 0


class LoggedRequest(NamedTuple):
    """One request as the server saw it: `query` keeps the last value of each parameter."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    received: float = 0.0
    """`time.monotonic()` when the request arrived: for tests of waits and rates."""
    delay: float = 0.0
    """Seconds the answer was held back on purpose (latency_seconds, the latency distribution's draw, a slow
    fault), as drawn: compare these, not wall times, to check the latency distribution."""


class RequestLog:
    """Thread-safe record of every request; `max_entries` bounds memory for long benchmarks."""

    def __init__(self, max_entries: int | None = None) -> None:
        self._entries: deque[LoggedRequest] = deque(maxlen=max_entries)
        self._lock = threading.Lock()

    def record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    @property
    def entries(self) -> list[LoggedRequest]:
        """A snapshot of the retained entries, oldest first."""
        with self._lock:
            return list(self._entries)

    def count(self, path_contains: str | None = None, method: str | None = None) -> int:
        """How many retained requests match the path substring and the method (None matches all)."""
        return sum(
            1
            for entry in self.entries
            if (path_contains is None or path_contains in entry.path)
            and (method is None or entry.method == method.upper())
        )

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
