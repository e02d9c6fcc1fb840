"""Counters a load reports in its summary (runs new and updated), and how long requests take; thread-safe."""

from __future__ import annotations

import threading
from collections import Counter


class LoadStats:
    """What one extraction did, beyond row counts: dlt knows rows, only the source knows why."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._timed_requests = 0
        self._request_seconds = 0.0
        self._notes: list[str] = []

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def note(self, text: str) -> None:
        """Something the load decided that its summary should say (e.g. which organization it chose)."""
        with self._lock:
            self._notes.append(text)

    def notes(self) -> list[str]:
        with self._lock:
            return list(self._notes)

    def time_request(self, seconds: float) -> None:
        """A request answered after `seconds` (sent to body read): the observed latency plans weigh."""
        with self._lock:
            self._timed_requests += 1
            self._request_seconds += seconds

    def mean_request_seconds(self) -> float | None:
        """Mean time a request took so far in this load, None before the first answer."""
        with self._lock:
            return self._request_seconds / self._timed_requests if self._timed_requests else None
