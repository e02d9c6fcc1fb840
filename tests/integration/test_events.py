"""Run events and execution outputs: equal to the simulator's truth, appended exactly once as runs go on."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from kognitos_elt.destination import duckdb_destination
from kognitos_elt.kognitos import ConfigError, resources
from kognitos_elt.kognitos.client import KognitosClient
from kognitos_elt.kognitos.config import resolve_source_config
from kognitos_elt.session import run_load
from kognitos_simulator import RunningSimulator

from .conftest import Loader, Query
from .truth import live_runs, loaded_events, truth_events, truth_output_values, truth_outputs


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
    expected = truth_outputs(simulator.world)
    assert expected, "the simulator should hold completed executions with outputs"

    rows = query("SELECT workspace_id, execution_id, output_name FROM kognitos.execution_outputs")

    assert len(rows) == len(set(rows))
    assert set(rows) == expected


@pytest.mark.parametrize("value_types", ["inferred", "declared"])
def test_an_execution_reported_completed_twice_in_one_page_has_its_outputs_emitted_once(
    simulator: RunningSimulator, value_types: str
) -> None:
    """The outputs table merges without deduplicating what was staged, so the source must not emit them twice."""
    world = simulator.world
    completed, outputs = next(
        ({"organization_id": world.organization_id, "workspace_id": ws, "automation_id": auto, "run_id": run,
          "execution_id": event["execution_journal"]["execution_id"], "journal_type": "completed"},
         event["execution_journal"]["completed"].get("outputs", {}))
        for ws, auto, run in live_runs(world) for event in world.run_events(ws, auto, run)
        if "completed" in (event.get("execution_journal") or {})
    )
    journal = resources.JournalOutputs(value_types=value_types, keeping=True)
    journal.keep(completed["workspace_id"], {completed["execution_id"]: outputs})

    config = resolve_source_config({"access_token": simulator.token, "base_url": simulator.base_url})
    with KognitosClient(simulator.base_url, simulator.token) as client:
        load = resources.Load(client, config, journal=journal)
        pages = list(resources.execution_outputs(pa.Table.from_pylist([completed, completed]), load))

    declared = world.execution_outputs(completed["workspace_id"], completed["execution_id"])["outputs"]
    assert sorted(pa.concat_tables(pages)["output_name"].to_pylist()) == sorted(declared)
    assert simulator.requests.count(path_contains="/outputs") == (1 if value_types == "declared" else 0)
    assert journal.take(completed["workspace_id"], completed["execution_id"]) == {}, "nothing left waiting"


def test_runs_with_more_than_a_page_of_events_and_a_fault_mid_pages_lose_nothing(
    simulator: RunningSimulator, load: Loader, query: Query
) -> None:
    simulator.faults.path_contains = "/events"
    simulator.faults.every_nth = {"unavailable": 6, "truncated_body": 11}
    load(page_size=5)
    simulator.faults.reset()

    assert loaded_events(query) == truth_events(simulator.world)
    assert max(index for *_, index in loaded_events(query)) >= 5


def test_node_kinds_keeps_those_node_events_and_every_event_without_a_node_and_loses_no_output(
    simulator: RunningSimulator, load: Loader, query: Query
) -> None:
    load(node_kinds=["FunctionCall"])

    filtered = loaded_events(query)
    assert filtered == truth_events(simulator.world, node_kinds=("FunctionCall",))
    assert {event.node_kind for event in filtered.values()} == {None, "FunctionCall"}
    assert len(filtered) < len(truth_events(simulator.world)), "other kinds were left out"
    outputs = query("SELECT workspace_id, execution_id, output_name, value FROM kognitos.execution_outputs")
    assert {(ws, ex, name): json.loads(value) for ws, ex, name, value in outputs} == truth_output_values(
        simulator.world) != {}
    assert len(outputs) == len({row[:3] for row in outputs})


def test_changing_node_kinds_is_refused_without_a_change_until_the_events_are_reloaded(
    simulator: RunningSimulator, load: Loader, query: Query, database: Path
) -> None:
    load(node_kinds=["FunctionCall"])
    simulator.world.advance(timedelta(hours=6))
    before = query("SELECT count(*) FROM kognitos.run_events UNION ALL SELECT count(*) FROM kognitos.runs")

    with pytest.raises(ConfigError, match=r"node_kinds.*changed from \['FunctionCall'\] to \['Assignment'\]"):
        load(node_kinds=["Assignment"])
    refused = query("SELECT count(*) FROM kognitos.run_events UNION ALL SELECT count(*) FROM kognitos.runs")
    run_load(destination=duckdb_destination("kognitos", str(database)), refresh=True,
             source_options={"access_token": simulator.token, "base_url": simulator.base_url,
                             "organization_id": simulator.world.organization_id, "node_kinds": ["Assignment"]})

    assert refused == before  # nothing of the refused load reached the tables
    kinds = {kind for (kind,) in query("SELECT DISTINCT node_kind FROM kognitos.run_events")}
    assert kinds == {None, "Assignment"}
