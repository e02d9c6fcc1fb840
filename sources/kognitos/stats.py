"""Counters a load reports in its summary (runs new and updated); thread-safe for concurrent fetches."""

from __future__ import annotations

import threading
from collections import Counter


class LoadStats:
    """What one extraction did, beyond row counts: dlt knows rows, only the source knows why."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)
