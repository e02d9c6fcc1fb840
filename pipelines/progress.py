"""A live progress line for a load run in a terminal: runs out of those expected, events, requests, time left."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from dlt.common.runtime.collector_base import Collector

from .kognitos import LoadStats

LIVE_PROGRESS = "live"
"""The `--progress` value of this display; the default in a terminal."""
STEP_COUNTERS = ("Files", "Items", "Jobs")
"""What dlt counts while it normalizes and loads, worth showing beside the elapsed time."""


class LoadProgress(Collector):
    """dlt's progress hook (a `Collector`), shown as one line per step that rewrites itself while the step runs.

    dlt says which step runs (extract, normalize, load) and counts files and jobs; the source's `LoadStats` say
    what a person wants during the extract: runs out of the runs expected (the automation run aggregates give
    them before the first run is listed, see `resources.automation_run_aggregates`), events and requests. A
    thread redraws the line, so it stays live while a long request or a merge gives dlt nothing to count.
    """

    def __init__(self, stats: LoadStats, stream: TextIO | None = None, interval: float = 0.25) -> None:
        self.stats = stats
        self.runs_counter = "runs_with_events"
        """Runs count once their events are in (listing runs is quick, their events are the load's bulk); a load
        without run_events counts runs listed instead."""
        self.stream = stream or sys.stderr
        self.interval = interval
        self.started = time.monotonic()
        self.step = ""
        self._step_started = self.started
        self._counters: dict[str, tuple[int, int | None]] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._ticker: threading.Thread | None = None
        self._shown: set[str] = set()

    def update(self, name: str, inc: int = 1, total: int | None = None, inc_total: int | None = None,
               message: str | None = None, label: str | None = None) -> None:
        if label or name not in STEP_COUNTERS:
            return
        with self._lock:
            count, known_total = self._counters.get(name, (0, None))
            if inc_total:
                known_total = (known_total or 0) + inc_total
            self._counters[name] = (count + inc, total if total is not None else known_total)

    def _start(self, step: str) -> None:
        self._ticker = None
        if step in self._shown:  # dlt extracts the pipeline's state as a second "Extract" of the same source
            return
        self._step_started = time.monotonic()
        self._counters = {}
        self._stopped.clear()
        self._ticker = threading.Thread(target=self._tick, name="kognitos-elt-progress", daemon=True)
        self._ticker.start()

    def _stop(self) -> None:
        if self._ticker is None:
            return
        self._stopped.set()
        self._ticker.join()
        self._draw(end="\n")
        self._shown.add(self.step)

    def _tick(self) -> None:
        while not self._stopped.wait(self.interval):
            self._draw()

    def _draw(self, end: str = "") -> None:
        self.stream.write(f"\r{self.line()}\x1b[K{end}")
        self.stream.flush()

    def line(self) -> str:
        """What the load is doing now, e.g. `Extract: runs 1,200 of ~3,000 (40%) · events 25,000 · ...`."""
        now = time.monotonic()
        step = self.step.split(" ", 1)[0] or "Load"
        left = None
        if step == "Extract":
            stats = self.stats.as_dict()
            runs, expected = stats.get(self.runs_counter, 0), stats.get("runs_expected", 0)
            # Expected runs are the new runs the API's totals announce; a start_date, open runs that changed, or runs
            # arriving meanwhile make them approximate, hence "~" and a share that stops at 100%.
            share = f" of ~{expected:,} ({min(runs / expected, 1):.0%})" if expected else ""
            parts = [f"runs {runs:,}{share}", f"events {stats.get('events', 0):,}",
                     f"requests {stats.get('requests', 0):,}"]
            if expected and 0 < runs < expected:
                left = (now - self._step_started) * (expected - runs) / runs
        else:
            with self._lock:
                parts = [f"{name.lower()} {count:,}" + (f"/{total:,}" if total else "")
                         for name, (count, total) in self._counters.items()]
        parts.append(f"{_clock(now - self.started)} elapsed")
        if left is not None:
            parts.append(f"~{_clock(left)} left")
        return f"{step}: " + " · ".join(parts)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
