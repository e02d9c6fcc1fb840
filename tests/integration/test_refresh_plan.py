"""The open-run refresh plan end to end: with the prices fixed, each automation's listing filter and Get Runs are
worked out from the simulator's world and read back from its request log, and the prices the plan weighs are fed
by every listing page and every batch of Get Runs."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from itertools import product
from typing import Any

from kognitos_elt.kognitos.open_runs import RefreshCosts
from kognitos_simulator import RunningSimulator, World
from kognitos_simulator.requestlog import LoggedRequest

from .conftest import CostsOfEachLoad, Loader
from .truth import short, state_key

PAGE_SIZE = 20
"""Pages smaller than an automation's runs: listing back to an old open run may cost a page more."""
OPEN_STATES = ("pending", "executing", "stopping", "stopped", "awaiting_guidance")
"""The states README says a load refreshes."""

WITH_LATENCY = RefreshCosts(seconds_per_request=0.0203, seconds_per_run=47e-6, seconds_per_get_run=0.0197)
"""About what a 20 ms link costs, Get Runs one after the other: a Get Run is worth a page."""
WITHOUT_LATENCY = RefreshCosts(seconds_per_request=0.00061, seconds_per_run=53e-6, seconds_per_get_run=0.00043)
"""About what a link without latency costs: a Get Run is worth fewer than ten listed runs."""


Automation = tuple[str, str]


@dataclass(frozen=True)
class Plan:
    """What one automation's refresh must request: the listing's lower bound (None: no listing), the runs fetched
    one by one, and how many runs the listing brings."""

    list_from: str | None
    get_runs: frozenset[str]
    listed: int

    def pages(self) -> list[int]:
        """The runs of each listing page."""
        if self.list_from is None:
            return []
        return [min(PAGE_SIZE, self.listed - start) for start in range(0, self.listed, PAGE_SIZE)] or [0]

    def requests(self) -> tuple[tuple[datetime, int] | None, frozenset[str], int]:
        """As `requested` reads them from the request log."""
        return nanos(self.list_from) if self.list_from else None, self.get_runs, len(self.pages())


def nanos(value: str) -> tuple[datetime, int]:
    """An RFC 3339 instant to the nanosecond, written here rather than borrowed from the source."""
    head, _, tail = value.removesuffix("Z").partition(".")
    return datetime.fromisoformat(head), int(tail.ljust(9, "0")) if tail else 0


def runs_newest_first(world: World) -> dict[Automation, list[dict[str, Any]]]:
    return {(short(w["name"]), short(a["name"])): sorted(world.runs(short(w["name"]), short(a["name"])),
                                                         key=lambda run: nanos(run["create_time"]), reverse=True)
            for w in world.workspaces() for a in world.automations(short(w["name"]), show_deleted=True)}


def expected_plans(world: World, prices: RefreshCosts, *, new_runs_expected: bool) -> dict[Automation, Plan]:
    """Per automation, the refresh that takes the least time at `prices` (README: by time; docs/design.md: each page
    beyond the first, each listed run and each Get Run priced), worked out from the world's runs: list back to the
    j-th newest open run (its depth in the newest-first listing is what that re-lists) and fetch the older ones. With
    no new run expected (README: a run total unchanged since the last listing) the first page is priced too, and
    fetching every open run without listing is a choice; an automation with nothing to request is left out."""
    plans = {}
    first_page = 0.0 if new_runs_expected else prices.seconds_per_request
    for automation, runs in runs_newest_first(world).items():
        depth = {short(run["name"]): index for index, run in enumerate(runs, start=1)}
        open_runs = [run for run in runs if state_key(run) in OPEN_STATES]

        def seconds(relisted: int, gets: int) -> float:
            pages = max(math.ceil(relisted / PAGE_SIZE) - 1, 0)
            return (pages * prices.seconds_per_request + relisted * prices.seconds_per_run
                    + gets * prices.seconds_per_get_run)

        options = [(seconds(0, len(open_runs)), 0)]
        options += [(first_page + seconds(depth[short(run["name"])], len(open_runs) - j), j)
                    for j, run in enumerate(open_runs, 1)]
        _, best = min(options)
        if not best and not new_runs_expected:
            if open_runs:
                plans[automation] = Plan(None, frozenset(short(run["name"]) for run in open_runs), 0)
            continue
        lower = min((run["create_time"] for run in (runs[0], *open_runs[best - 1:best])), key=nanos)
        plans[automation] = Plan(lower, frozenset(short(run["name"]) for run in open_runs
                                                  if nanos(run["create_time"]) < nanos(lower)),
                                 sum(nanos(run["create_time"]) >= nanos(lower) for run in runs))
    return plans


def requested(entries: list[LoggedRequest]
              ) -> dict[Automation, tuple[tuple[datetime, int] | None, frozenset[str], int]]:
    """Per automation with run requests, from the request log: the listing filter's lower bound (None: not listed),
    the runs fetched one by one, the listing's pages."""

    def automation(path: str) -> Automation:
        parts = path.split("/")
        return parts[parts.index("workspaces") + 1], parts[parts.index("automations") + 1]

    listings = [entry for entry in entries if entry.path.endswith("/runs")]
    fetched = [(automation(entry.path), short(entry.path)) for entry in entries if "/runs/" in entry.path]
    bounds = {}
    for first in (entry for entry in listings if "page_token" not in entry.query):
        bound = re.fullmatch(r'create_time >= "(.+)"', first.query["filter"])
        assert bound, first.query
        bounds[automation(first.path)] = nanos(bound[1])
    return {owner: (bounds.get(owner), frozenset(run for other, run in fetched if other == owner),
                    sum(automation(entry.path) == owner for entry in listings))
            for owner in {*bounds, *(owner for owner, _ in fetched)}}


def priced_after(world: World, plans: dict[Automation, Plan]) -> list[tuple[int, int]]:
    """Each automation with open runs is priced at its turn, after every listing page and every batch of Get Runs of
    the automations before it (in the order the service lists them); the others are not priced at all."""
    after, pages, batches = [], 0, 0
    for automation, runs in runs_newest_first(world).items():
        if any(state_key(run) in OPEN_STATES for run in runs):
            after.append((pages, batches))
        if plan := plans.get(automation):
            pages, batches = pages + len(plan.pages()), batches + bool(plan.get_runs)
    return after


def test_a_load_over_a_slow_link_relists_where_one_over_a_fast_link_fetches_and_each_requests_its_plan_exactly(
    simulator: RunningSimulator, load: Loader, costs: CostsOfEachLoad
) -> None:
    world = simulator.world
    load(page_size=PAGE_SIZE)
    first = costs.made[-1]
    fetched = {}
    # Each link twice: with every automation listed (`0`: new runs may always have come), then as by default, the
    # clock standing still, with no new run expected anywhere (each run total is what it was at the last listing).
    for prices, new_runs_expected in product((WITH_LATENCY, WITHOUT_LATENCY), (True, False)):
        costs.prices = prices
        simulator.requests.clear()

        summary = load(page_size=PAGE_SIZE, list_unchanged_automations_every_hours=0 if new_runs_expected else 6)

        entries = simulator.requests.entries
        plans = expected_plans(world, prices, new_runs_expected=new_runs_expected)
        assert requested(entries) == {automation: plan.requests() for automation, plan in plans.items()}
        assert summary.stats.get("automations_not_listed", 0) == len(runs_newest_first(world)) - sum(
            plan.list_from is not None for plan in plans.values())
        assert summary.stats.get("runs_new", 0) == summary.stats.get("runs_updated", 0) == 0
        run_requests = [entry for entry in entries if "/runs" in entry.path and "/events" not in entry.path]
        assert len(run_requests) == sum(len(plan.get_runs) + len(plan.pages()) for plan in plans.values())
        assert summary.stats["requests"] == len(entries)
        # Every listing page and every batch of Get Runs is timed for the prices (here fixed, so the plan is known).
        assert sorted(runs for _, runs in costs.made[-1].pages) == sorted(
            runs for plan in plans.values() for runs in plan.pages())
        assert sorted(count for _, count in costs.made[-1].get_runs) == sorted(
            len(plan.get_runs) for plan in plans.values() if plan.get_runs)
        assert costs.made[-1].estimated_after == priced_after(world, plans)
        fetched[prices, new_runs_expected] = sum(len(plan.get_runs) for plan in plans.values())
    for new_runs_expected in (True, False):
        assert fetched[WITHOUT_LATENCY, new_runs_expected] > fetched[WITH_LATENCY, new_runs_expected], \
            "the two links must choose differently"
    listed_first = {automation: Plan(runs[0]["create_time"], frozenset(), len(runs))
                    for automation, runs in runs_newest_first(world).items()}
    assert sorted(runs for _, runs in first.pages) == sorted(
        runs for plan in listed_first.values() for runs in plan.pages())
    assert all(seconds > 0 for _, seconds in [*first.pages, *costs.made[-1].pages, *costs.made[-1].get_runs])
