"""Run events and execution outputs: equal to the simulator's truth, appended exactly once as runs go on."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kognitos_simulator import RunningSimulator, World

from .conftest import Loader, Query

JOURNAL_COMMON = {"execution_id", "run_id", "event_time", "automation_id", "automation_phase_id", "code_hash",
                  "stage", "workspace_id", "organization_id", "extra_metadata"}


def short(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def describe(event: dict[str, Any]) -> tuple[str, str | None]:
    """(event_type, journal_type) of an API event, worked out independently of the source's records.py."""
    if "run_update" in event:
        return "run_update", None
    journal = event["execution_journal"]
    return "execution_journal", next(key for key in journal if key not in JOURNAL_COMMON)


def live_runs(world: World) -> list[tuple[str, str, str]]:
    return [(short(w["name"]), short(a["name"]), short(r["name"]))
            for w in world.workspaces() for a in world.automations(short(w["name"]))
            for r in world.runs(short(w["name"]), short(a["name"]))]


def truth_events(world: World) -> dict[tuple[str, str, str, int], tuple[str, str | None]]:
    return {(ws, auto, run, index): describe(event) for ws, auto, run in live_runs(world)
            for index, event in enumerate(world.run_events(ws, auto, run))}


def loaded_events(query: Query) -> dict[tuple[str, str, str, int], tuple[str, str | None]]:
    rows = query("SELECT workspace_id, automation_id, run_id, event_index, event_type, journal_type "
                 "FROM kognitos.run_events")
    loaded = {(ws, auto, run, index): (kind, journal) for ws, auto, run, index, kind, journal in rows}
    assert len(loaded) == len(rows), "an event was loaded twice"
    return loaded


def test_events_of_every_run_equal_truth_in_count_and_order(simulator: RunningSimulator, load: Loader,
                                                            query: Query) -> None:
    load()

    assert loaded_events(query) == truth_events(simulator.world)


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
    simulator.faults.every_nth = {"unavailable": 4, "truncated_body": 7}
    load(page_size=5)
    simulator.faults.reset()

    assert loaded_events(query) == truth_events(simulator.world)
    assert max(index for *_, index in loaded_events(query)) >= 5
