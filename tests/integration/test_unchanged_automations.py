"""Automations whose run total did not change are not listed: a load's run listings follow the simulator's counters
exactly (at prices where a Get Run beats any listing, so the plans are known), and a run a lagging (or stuck) counter
hides still arrives, once the counter shows it or at the forced listing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest

from kognitos_elt.kognitos.open_runs import RefreshCosts
from kognitos_simulator import RunningSimulator, SimulatorSettings, running_simulator

from ..conftest import TEST_SCALE
from .conftest import CostsOfEachLoad, Loader, Query
from .truth import instant, loaded_runs, short, truth_runs

TERMINAL = ("completed", "failed")
"""The states a run never leaves (the reference's: `stopped` runs can be continued)."""


@pytest.fixture
def simulator(request: pytest.FixtureRequest) -> Iterator[RunningSimulator]:
    """The tests' world, its counters lagging by the test's parameter (seconds; none without one)."""
    lag = getattr(request, "param", 0.0)
    with running_simulator(SimulatorSettings(seed=11, scale=TEST_SCALE, run_counts_lag_seconds=lag)) as running:
        yield running


def run_totals(simulator: RunningSimulator) -> dict[str, int]:
    """Each automation's all-time run total, as the service's counters say now."""
    return {short(entry["automation_id"]): int(entry["stats"].get("total_runs", 0))
            for workspace in simulator.world.workspaces()
            for entry in simulator.world.automation_run_aggregates(short(workspace["name"]))}


def open_runs(simulator: RunningSimulator) -> dict[str, set[str]]:
    """The runs not in a terminal state now, by automation."""
    found: dict[str, set[str]] = {}
    for (_, automation, run), (state, _) in truth_runs(simulator.world).items():
        if state not in TERMINAL:
            found.setdefault(automation, set()).add(run)
    return found


def listed(simulator: RunningSimulator) -> set[str]:
    """The automations whose runs were listed since the request log was cleared."""
    return {request.path.split("/automations/")[1].removesuffix("/runs")
            for request in simulator.requests.entries if request.path.endswith("/runs")}


GET_RUNS_FREE = RefreshCosts(seconds_per_request=0.02, seconds_per_run=50e-6, seconds_per_get_run=1e-9)
"""Prices at which fetching open runs one by one always beats listing: with no new run expected, nothing is listed."""


@pytest.fixture(autouse=True)
def get_runs_free(costs: CostsOfEachLoad) -> None:
    """Every load plans at GET_RUNS_FREE."""
    costs.prices = GET_RUNS_FREE


def test_a_load_lists_only_the_automations_whose_run_total_changed_and_fetches_the_others_open_runs(
    simulator: RunningSimulator, load: Loader, query: Query
) -> None:
    load()
    totals, open_before = run_totals(simulator), open_runs(simulator)
    simulator.world.advance(timedelta(hours=4))
    changed = {automation for automation, total in run_totals(simulator).items() if total != totals[automation]}
    assert changed - set(open_before), "the four hours should bring a run to an automation with no open run"
    assert set(open_before) - changed, "an automation with open runs should have no new one"
    assert set(totals) - set(open_before) - changed, "some automation should have neither open runs nor new ones"
    simulator.requests.clear()

    summary = load()

    assert listed(simulator) == changed
    fetched = {(request.path.split("/automations/")[1].split("/")[0], request.path.rsplit("/", 1)[1])
               for request in simulator.requests.entries if re.search(r"/runs/[^/]+$", request.path)}  # Get Run
    assert {(automation, run) for automation, run in fetched if automation not in changed} \
        == {(automation, run) for automation, runs in open_before.items() if automation not in changed for run in runs}
    assert summary.stats["automations_not_listed"] == len(totals) - len(changed)
    assert loaded_runs(query) == truth_runs(simulator.world)
    assert f"({len(totals) - len(changed)} automations not listed" in "\n".join(summary.lines())

    simulator.requests.clear()
    load(list_unchanged_automations_every_hours=0)
    assert listed(simulator) == set(totals)


@pytest.mark.parametrize("simulator", [timedelta(hours=1).total_seconds()], indirect=True)
def test_a_run_the_counter_does_not_show_yet_arrives_with_the_first_load_after_it_does(
    simulator: RunningSimulator, load: Loader, query: Query
) -> None:
    lag = timedelta(hours=1)
    load(list_unchanged_automations_every_hours=24)
    before = truth_runs(simulator.world)
    # An automation with no open run and no run created within the lag: the total it was listed at counts them all.
    newest = {automation: max(run["create_time"] for run in simulator.world.runs(ws, automation))
              for ws, automation, _ in before}
    now = simulator.world.now
    quiet = {automation for automation in newest if automation not in open_runs(simulator)
             and now - lag > instant(newest[automation])}
    for _ in range(6 * 24):  # until one of them has a new run (each gets about one a day)
        simulator.world.advance(timedelta(minutes=10))
        arrived = {key for key in truth_runs(simulator.world).keys() - before.keys() if key[1] in quiet}
        if arrived:
            break
    assert arrived, "a quiet automation should get a run within a day"
    (workspace, automation, run), *_ = arrived
    simulator.requests.clear()

    load(list_unchanged_automations_every_hours=24)  # the counter is an hour behind: the new run is not counted yet

    assert automation not in listed(simulator)
    assert (workspace, automation, run) not in loaded_runs(query)
    simulator.world.advance(lag)
    simulator.requests.clear()

    load(list_unchanged_automations_every_hours=24)

    assert automation in listed(simulator)
    truth = truth_runs(simulator.world)
    assert {key: value for key, value in loaded_runs(query).items() if key[1] == automation} \
        == {key: value for key, value in truth.items() if key[1] == automation}


@pytest.mark.parametrize("simulator", [timedelta(days=3650).total_seconds()], indirect=True)
def test_a_counter_that_never_moves_delays_new_runs_no_longer_than_the_forced_listing(
    simulator: RunningSimulator, load: Loader, query: Query
) -> None:
    assert set(run_totals(simulator).values()) == {0}, "ten years behind, the counters show no run at all"
    load(list_unchanged_automations_every_hours=1)
    simulator.world.advance(timedelta(minutes=50))
    simulator.requests.clear()

    load(list_unchanged_automations_every_hours=1)

    assert listed(simulator) == set()
    simulator.world.advance(timedelta(minutes=15))
    simulator.requests.clear()

    load(list_unchanged_automations_every_hours=1)  # an hour and five minutes after the first listing

    assert listed(simulator) == set(run_totals(simulator))
    assert loaded_runs(query) == truth_runs(simulator.world)
