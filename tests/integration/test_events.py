"""Run events and execution outputs: equal to the simulator's truth, appended exactly once as runs go on."""

from __future__ import annotations

from datetime import timedelta

from kognitos_simulator import RunningSimulator

from .conftest import Loader, Query
from .truth import live_runs, loaded_events, truth_events


def test_events_of_every_run_equal_truth_in_count_and_order(simulator: RunningSimulator, load: Loader,
                                                            query: Query) -> None:
    load()

    loaded = loaded_events(query)
    assert loaded == truth_events(simulator.world)
    assert max(index for *_, index in loaded) >= 1000, "runs with more than a 1000-event page are included"


def test_in_flight_runs_gain_new_events_without_duplicates_or_renumbering(
    simulator: RunningSimulator, load: Loader, query: Query
) -> None:
    load()
    first = loaded_events(query)
    simulator.world.advance(timedelta(hours=3))
    truth = truth_events(simulator.world)
    assert len(truth) > len(first), "three simulated hours should append events"

    load()

    loaded = loaded_events(query)
    assert loaded == truth
    assert {key: loaded[key] for key in first} == first


def test_a_load_with_nothing_new_requests_no_events_and_no_outputs(
    simulator: RunningSimulator, load: Loader
) -> None:
    load()
    simulator.requests.clear()

    load()

    assert simulator.requests.count(path_contains="/events") == 0
    assert simulator.requests.count(path_contains="/outputs") == 0


def test_outputs_of_every_completed_execution_are_loaded_once(
    simulator: RunningSimulator, load: Loader, query: Query
) -> None:
    load()
    world = simulator.world
    expected = set()
    for ws, auto, run in live_runs(world):
        for event in world.run_events(ws, auto, run):
            journal = event.get("execution_journal") or {}
            if "completed" in journal:
                outputs = world.execution_outputs(ws, journal["execution_id"])["outputs"]
                expected |= {(ws, journal["execution_id"], name) for name in outputs}
    assert expected, "the simulator should hold completed executions with outputs"

    rows = query("SELECT workspace_id, execution_id, output_name FROM kognitos.execution_outputs")

    assert len(rows) == len(set(rows))
    assert set(rows) == expected


def test_runs_with_more_than_a_page_of_events_and_a_fault_mid_pages_lose_nothing(
    simulator: RunningSimulator, load: Loader, query: Query
) -> None:
    simulator.faults.path_contains = "/events"
    simulator.faults.every_nth = {"unavailable": 6, "truncated_body": 11}
    load(page_size=5)
    simulator.faults.reset()

    assert loaded_events(query) == truth_events(simulator.world)
    assert max(index for *_, index in loaded_events(query)) >= 5
