"""When runs are created: one automation's run create times, sorted, generated lazily day by day.

`runs_per_automation` runs are spread over the history window before the start instant; after it,
runs keep arriving as a Poisson process at the same average rate, one day-sized chunk at a time and
only when the clock gets there, so a world can run forever in constant memory per run (three int64s).

Each run has a *key*: its index in generation order (history first, then chunk by chunk), or
INSERTED + n for the n-th run inserted at runtime. Run ids, seeds and overrides are keyed by it.
Create times are exact nanoseconds, truncated to a per-run precision (whole seconds, ms, µs or ns),
and about 6% of runs share their create time with the run before them (ties).
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Callable

from kognitos_simulator import timestamps
from kognitos_simulator.entities import Automation
from kognitos_simulator.ids import mix64
from kognitos_simulator.seeds import derive_seed, rng_for
from kognitos_simulator.settings import Scale
from kognitos_simulator.timestamps import NS_PER_DAY, NS_PER_MINUTE, NS_PER_SECOND

INSERTED = 1 << 40
KEY_LIMIT = 1 << 41
TIE_PROBABILITY = 0.06
_PRECISIONS = (NS_PER_SECOND,) * 2 + (timestamps.NS_PER_MILLISECOND,) * 9 + (timestamps.NS_PER_MICROSECOND,) * 4 + (
    1,
) * 5
# Ages, at the start instant, of the showcase automation's three newest runs (pending, stopping and a
# long executing run right now; see plans.py).
SHOWCASE_AGES = (15 * NS_PER_MINUTE, 3 * NS_PER_MINUTE, 20 * NS_PER_SECOND)
SHOWCASE_MIN_RUNS = 10


class RunIndex:
    """Sorted create times of one automation's runs, with the key of the run at each position."""

    def __init__(self, seed: int, automation: Automation, scale: Scale, start_ns: int) -> None:
        self.automation = automation
        self._seed = seed
        self._salt = derive_seed(seed, "precision", automation.id)
        self.times = array("q")  # ascending create times
        self.keys = array("q")  # the key of the run at each position
        self._by_key = array("q")  # create time of base key k
        self._inserted = array("q")  # create time of inserted run n
        self._rate_per_ns = scale.runs_per_automation / (scale.days_of_history * NS_PER_DAY)
        # Day chunks start at the start instant's whole second; the history ends there.
        self._origin = timestamps.floor(start_ns, NS_PER_SECOND)
        self._end = automation.runs_until_ns
        self._next_chunk = 0
        self._add_history(start_ns - scale.days_of_history * NS_PER_DAY, start_ns)

    def precision(self, key: int) -> int:
        """The precision a run's instants are truncated to (1 s, 1 ms, 1 µs or 1 ns).

        Inserted runs keep the exact instant they were created at.
        """
        if key >= INSERTED:
            return 1
        return _PRECISIONS[mix64((self._salt + key) & 0xFFFFFFFFFFFFFFFF) % len(_PRECISIONS)]

    def _add_history(self, begin: int, start_ns: int) -> None:
        rng = rng_for(self._seed, "history", self.automation.id)
        end = min(self._origin, self._end) if self._end is not None else self._origin
        count = self.automation.history_runs
        recent: list[int] = []
        if self.automation.showcase and count >= SHOWCASE_MIN_RUNS:
            recent = [start_ns - age for age in SHOWCASE_AGES]
            count -= len(recent)
            end = min(end, start_ns - 20 * NS_PER_MINUTE)
        if end <= begin:
            recent = []
        else:
            self._add(sorted(rng.randrange(begin, end) for _ in range(count)), rng.random)
        self._add(recent, None)

    def _add(self, raw_times: list[int], draw: Callable[[], float] | None) -> None:
        """Append runs with these (sorted, untruncated) create times under the next base keys.

        `draw` decides ties; None means no ties (the showcase runs need their exact ages).
        """
        first_key = len(self._by_key)
        created: list[int] = []
        for offset, raw in enumerate(raw_times):
            if created and draw is not None and draw() < TIE_PROBABILITY:
                created.append(created[-1])
            else:
                created.append(timestamps.floor(raw, self.precision(first_key + offset)))
        self._by_key.extend(created)
        for time_ns, key in sorted(zip(created, range(first_key, first_key + len(created)), strict=True)):
            self.times.append(time_ns)
            self.keys.append(key)

    def ensure(self, until_ns: int) -> None:
        """Generate the day chunks needed to know every run created at or before `until_ns`."""
        while True:
            chunk_start = self._origin + self._next_chunk * NS_PER_DAY
            if chunk_start > until_ns or (self._end is not None and chunk_start >= self._end):
                return
            chunk_end = chunk_start + NS_PER_DAY
            if self._end is not None:
                chunk_end = min(chunk_end, self._end)
            rng = rng_for(self._seed, "arrivals", self.automation.id, self._next_chunk)
            self._next_chunk += 1
            raw: list[int] = []
            if self._rate_per_ns > 0:
                moment = chunk_start + rng.expovariate(self._rate_per_ns)
                while moment < chunk_end:
                    raw.append(int(moment))
                    moment += rng.expovariate(self._rate_per_ns)
            self._add(raw, rng.random)

    def insert(self, now_ns: int) -> int:
        """A new run created at `now_ns` (after ensure(now_ns)); returns its key."""
        key = INSERTED + len(self._inserted)
        self._inserted.append(now_ns)
        position = bisect.bisect_right(self.times, now_ns)
        self.times.insert(position, now_ns)
        self.keys.insert(position, key)
        return key

    def create_ns(self, key: int) -> int | None:
        """Create time of a run key, or None if no such run was generated yet."""
        if key < INSERTED:
            return self._by_key[key] if 0 <= key < len(self._by_key) else None
        index = key - INSERTED
        return self._inserted[index] if index < len(self._inserted) else None

    def visible(self, now_ns: int) -> int:
        """How many runs exist at `now_ns` (they are positions 0 .. n-1)."""
        self.ensure(now_ns)
        return bisect.bisect_right(self.times, now_ns)

    def ranges(self, intervals: tuple[tuple[int, int], ...], limit: int) -> list[tuple[int, int]]:
        """Position ranges [low, high) of the first `limit` runs whose create time is in `intervals`."""
        result = []
        for low, high in intervals:
            first = bisect.bisect_left(self.times, low, 0, limit)
            last = bisect.bisect_left(self.times, high, 0, limit)
            if first < last:
                result.append((first, last))
        return result
