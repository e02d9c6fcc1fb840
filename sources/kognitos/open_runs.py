"""Which runs of one automation are new, which are still open, and how to refresh the open ones cheaply.

The API filters runs only on `create_time` (kognitos-api.md §3.2), but runs change state long after they
are created. So, per automation, we keep in dlt resource state:

- `cursor`: the newest `create_time` loaded (nanosecond key, timestamps.py) and `at_cursor`, the ids
  loaded at exactly that instant, so ties at the cursor are neither lost nor loaded twice;
- `open`: the runs last seen in a non-terminal state, with their `update_time` and an ordinal (their
  position in creation order) used to estimate what re-listing would cost;
- `count`: how many runs were loaded, the ordinal of the newest;
- `listed_total`, `listed_at`: the automation's all-time run total (automation_run_aggregates) and the service's
  time when it was last listed.

Each load lists `create_time >= cursor` (one page when nothing is new) and refreshes open runs either
by widening that listing back to an open run's `create_time`, or by one Get Run each: whichever takes
less time, chosen per automation. While an automation's run total has not changed since it was last listed
(`total_unchanged`), no new run is expected: the listing is no longer free, and the plan may be no listing at
all (a Get Run for each open run, or nothing when none is open), so a no-op costs requests per workspace and open
run, not per automation. Time, not requests: with fast requests, re-listing 1,000 runs (the
service renders them, the client decodes them) to save one Get Run is a loss; with slow ones a win. So
the plan weighs both with what this load observed (`RequestCosts`).
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from .schema import TERMINAL_RUN_STATES


class OpenRun(NamedTuple):
    """A run last seen in a non-terminal state (kept in state as a JSON list in this order)."""

    create_key: str
    ordinal: int
    """Its position in the automation's creation order: what re-listing back to it would cost."""
    update_key: str


class _NewOpenRun(NamedTuple):
    """A run this load saw for the first time, still open: it joins `open` when the load closes."""

    run_id: str
    create_key: str
    update_key: str
    accepted: int
    """How many new runs were accepted before it (newest first): what gives it its ordinal."""


PRIOR_SECONDS_PER_RUN = 50e-6
"""A listed run's cost before this load has measured one: rendering, transfer and decoding of a run (measured
against the simulator: docs/performance.md, "The refresh plan weighs time")."""
PRIOR_SECONDS_PER_REQUEST = 0.005
"""A request's cost before this load has timed one."""


@dataclass(frozen=True)
class RefreshCosts:
    """The cost model's prices on this connection, for this load."""

    seconds_per_request: float
    """A listing page beyond the first, whatever it holds."""
    seconds_per_run: float
    """Each run a listing page brings."""
    seconds_per_get_run: float
    """Each Get Run, several in flight at once: what a batch of them took, per run."""


def refresh_seconds(relisted_runs: int, get_runs: int, page_size: int, costs: RefreshCosts) -> float:
    """Estimated time to refresh open runs by listing `relisted_runs` more runs and one Get Run for `get_runs`.

    The first listing page goes out anyway when new runs may have come (it brings them), so re-listing costs its
    runs plus the pages beyond the first.
    """
    extra_pages = max(math.ceil(relisted_runs / page_size) - 1, 0)
    return (extra_pages * costs.seconds_per_request + relisted_runs * costs.seconds_per_run
            + get_runs * costs.seconds_per_get_run)


PAGES_FITTED = 100
"""The latest listing pages the per-page and per-run prices are fitted to: recent enough to follow a service that
slows down, few enough that fitting before each automation stays cheap."""


@dataclass
class RequestCosts:
    """The prices, observed on this load's own run requests.

    Listing pages are fitted to `seconds = per request + per run x runs` (least squares); until the runs per page
    vary, the slope cannot be told from the intercept, so the per-run price stays at its prior. Get Runs go out in
    batches, several in flight: their price is what the batches took per run.
    """

    fixed: RefreshCosts | None = None
    """Prices known in advance, given by `estimate` whatever is observed: for a caller that measured its service, or
    a test that needs a plan it can work out."""
    _pages: deque[tuple[int, float]] = field(default_factory=lambda: deque(maxlen=PAGES_FITTED))
    """(runs, seconds) of the latest listing pages."""
    _get_runs: int = 0
    _get_seconds: float = 0.0

    def add_page(self, seconds: float, runs: int) -> None:
        """A listing page that brought `runs` runs and took `seconds` (request, decoding and mapping)."""
        self._pages.append((runs, seconds))

    def add_get_runs(self, seconds: float, count: int) -> None:
        """`count` Get Runs, sent together, took `seconds` until the last was decoded and mapped."""
        self._get_runs += count
        self._get_seconds += seconds

    def estimate(self, seconds_per_request: float | None = None, concurrency: int = 1) -> RefreshCosts:
        """The prices so far. Before any listing page, `seconds_per_request` (the mean of the load's other requests)
        or a prior; before any Get Run, a request's time shared by `concurrency` in flight plus a run's: a guess
        that errs cheap, so Get Runs get tried, and timed, once."""
        if self.fixed is not None:
            return self.fixed
        per_run, per_request = PRIOR_SECONDS_PER_RUN, seconds_per_request or PRIOR_SECONDS_PER_REQUEST
        if self._pages:
            runs, seconds = zip(*self._pages, strict=True)
            if len(set(runs)) > 1:
                per_run = max(statistics.linear_regression(runs, seconds).slope, 0.0)
            per_request = max(statistics.fmean(seconds) - per_run * statistics.fmean(runs), 0.0)
        per_get_run = (self._get_seconds / self._get_runs if self._get_runs
                       else per_request / max(concurrency, 1) + per_run)
        return RefreshCosts(per_request, per_run, per_get_run)


@dataclass(frozen=True)
class RefreshPlan:
    list_from: str | None
    """Lower bound (inclusive, a timestamp key) of the listing, or None to list every run."""
    get_run_ids: tuple[str, ...]
    """Open runs older than the listing window: refreshed one Get Run each."""
    relisted_runs: int = 0
    """Runs listed again beyond the new ones (an estimate from the open runs' ordinals)."""
    seconds: float = 0.0
    """The cost model's estimate of the refresh; Get Runs for every open run would take `all_get_seconds`."""
    all_get_seconds: float = 0.0
    lists: bool = True
    """False: no listing at all (no new run is expected); every open run is in `get_run_ids`."""


@dataclass
class RunTracker:
    """The incremental state of one automation's runs, for one load.

    `cursor`/`at_cursor` are what previous loads committed and stay fixed during a load (runs arrive
    newest first, so a moving cursor would wrongly reject the older new runs); the new cursor is
    gathered aside and only takes over in `to_state`.
    """

    cursor: str | None = None
    at_cursor: set[str] = field(default_factory=set)
    count: int = 0
    open: dict[str, OpenRun] = field(default_factory=dict)
    """Runs last seen open, by run id."""
    listed_total: int | None = None
    """The automation's all-time run total, as the service counted it before it was last listed (None: unknown)."""
    listed_at: datetime | None = None
    """The service's time when it was last listed."""
    updated_count: int = 0
    """Open runs whose changed state this load re-loads."""
    _seen: dict[str, str] = field(default_factory=dict)
    _new_open: list[_NewOpenRun] = field(default_factory=list)
    _new_count: int = 0
    _newest: str | None = None
    _at_newest: set[str] = field(default_factory=set)

    @classmethod
    def from_state(cls, saved: Mapping[str, Any] | None) -> RunTracker:
        if not saved:
            return cls()
        return cls(
            cursor=saved.get("cursor"),
            at_cursor=set(saved.get("at_cursor", ())),
            count=int(saved.get("count", 0)),
            open={run_id: OpenRun(create_key, int(ordinal), update_key)
                  for run_id, (create_key, ordinal, update_key) in saved.get("open", {}).items()},
            listed_total=saved.get("listed_total"),
            listed_at=datetime.fromisoformat(saved["listed_at"]) if saved.get("listed_at") else None,
        )

    def total_unchanged(self, total: int | None, now: datetime, relist_after: timedelta) -> bool:
        """Whether no new run is expected: the service counts as many runs as it did before the last listing, which
        was less than `relist_after` ago (or ahead: `now` is the service's time, read from its `Date` header to the
        second, so a stopped clock, the simulator's, reads a little earlier).

        The reference does not say how current the counters are (kognitos-api.md §3.5), so the robust reading is
        that they may lag: a run the counter does not show yet is listed once it does, or by the listing that
        `relist_after` forces, whichever comes first. The total is read before the listing, so a run created
        between the two changes the next total and is listed again, never missed.
        """
        return (total is not None and total == self.listed_total and self.listed_at is not None
                and abs(now - self.listed_at) < relist_after)

    def listing(self, total: int | None, now: datetime) -> None:
        """The automation is being listed at `now`, when the service counted `total` runs (None: not known)."""
        self.listed_total, self.listed_at = total, now

    def new_runs_plan(self, start_key: str | None, *, new_runs_expected: bool = True) -> RefreshPlan:
        """With no open run there is nothing to refresh and nothing to price: list from the cursor, if new runs may
        have come."""
        return RefreshPlan(self.cursor if self.cursor is not None else start_key, (), lists=new_runs_expected)

    def plan(self, start_key: str | None, page_size: int, costs: RefreshCosts, *,
             new_runs_expected: bool = True) -> RefreshPlan:
        """Choose how far back to list so that listing plus Get Runs takes the least time at `costs`; with no new
        run expected, the first page costs a request too, and not listing at all is a choice."""
        lower = self.cursor if self.cursor is not None else start_key
        newest_first = sorted(self.open.items(), key=lambda item: item[1].ordinal, reverse=True)
        first_page = 0.0 if new_runs_expected else costs.seconds_per_request
        all_get = best_seconds = refresh_seconds(0, len(newest_first), page_size, costs)
        best_i = best_runs = 0
        for i, (_, run) in enumerate(newest_first, start=1):
            runs = self.count - run.ordinal + 1
            seconds = first_page + refresh_seconds(runs, len(newest_first) - i, page_size, costs)
            if seconds < best_seconds:
                best_seconds, best_i, best_runs = seconds, i, runs
        if best_i:
            oldest_listed = min(run.create_key for _, run in newest_first[:best_i])
            lower = oldest_listed if lower is None else min(lower, oldest_listed)
        elif not new_runs_expected:
            return RefreshPlan(lower, tuple(run_id for run_id, _ in newest_first), 0, all_get, all_get, lists=False)
        get_ids = tuple(run_id for run_id, run in newest_first if lower is None or run.create_key < lower)
        return RefreshPlan(lower, get_ids, best_runs, best_seconds, all_get)

    def accept(self, run_id: str, create_key: str, update_key: str, state: str | None) -> bool:
        """Record a run the API returned; True if its row must be loaded (new, or open and changed)."""
        is_new = self._is_new(run_id, create_key)
        if not is_new and run_id not in self.open:
            return False  # loaded before in a terminal state: it cannot have changed
        if run_id in self._seen:
            # Listed twice in one load (pages shift when runs arrive while paginating): load it once.
            # If it changed in between, remember the loaded version so the next load refreshes it.
            if self._seen[run_id] != update_key and run_id in self.open:
                self.open[run_id] = self.open[run_id]._replace(update_key=self._seen[run_id])
            return False
        self._seen[run_id] = update_key
        if is_new:
            if state not in TERMINAL_RUN_STATES:
                self._new_open.append(_NewOpenRun(run_id, create_key, update_key, self._new_count))
            self._new_count += 1
            if self._newest is None or create_key > self._newest:
                self._newest, self._at_newest = create_key, {run_id}
            elif create_key == self._newest:
                self._at_newest.add(run_id)
            return True
        if self.open[run_id].update_key == update_key:
            return False
        if state in TERMINAL_RUN_STATES:
            del self.open[run_id]
        else:
            self.open[run_id] = self.open[run_id]._replace(update_key=update_key)
        self.updated_count += 1
        return True

    def _is_new(self, run_id: str, create_key: str) -> bool:
        if self.cursor is None or create_key > self.cursor:
            return True
        return create_key == self.cursor and run_id not in self.at_cursor

    def unseen_open(self, plan: RefreshPlan) -> list[str]:
        """Open runs the listing should have returned but did not: refresh them by Get Run instead."""
        return [run_id for run_id, run in self.open.items()
                if run_id not in self._seen and run_id not in plan.get_run_ids
                and plan.list_from is not None and run.create_key >= plan.list_from]

    def forget(self, run_id: str) -> None:
        """The run no longer exists (404): stop tracking it."""
        self.open.pop(run_id, None)

    @property
    def new_count(self) -> int:
        """Runs this load loads for the first time."""
        return self._new_count

    def to_state(self) -> dict[str, Any]:
        """Close the load: advance the cursor, number the new runs in creation order, serialise for dlt."""
        if self._newest is not None:
            if self.cursor is None or self._newest > self.cursor:
                self.cursor, self.at_cursor = self._newest, self._at_newest
            elif self._newest == self.cursor:
                self.at_cursor |= self._at_newest
        # New runs were accepted newest first, so the k-th accepted is the (count + new - k)-th created.
        for run in self._new_open:
            self.open[run.run_id] = OpenRun(create_key=run.create_key, update_key=run.update_key,
                                            ordinal=self.count + self._new_count - run.accepted)
        self.count += self._new_count
        return {
            "cursor": self.cursor,
            "at_cursor": sorted(self.at_cursor),
            "count": self.count,
            "open": {run_id: list(v) for run_id, v in self.open.items()},
            "listed_total": self.listed_total,
            "listed_at": self.listed_at.isoformat() if self.listed_at is not None else None,
        }
