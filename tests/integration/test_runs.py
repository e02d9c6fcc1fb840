"""Runs: a first load equals the simulator's truth; later loads add new runs and update changed states."""

from __future__ import annotations

import logging
import math
import re
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from kognitos_elt.destination import duckdb_destination
from kognitos_elt.kognitos import ConfigError, NotFoundError
from kognitos_elt.kognitos.records import short_id
from kognitos_elt.session import run_load
from kognitos_simulator import RunningSimulator, SimulatorSettings, running_simulator

from .conftest import Loader, Query
from .truth import loaded_runs, truth_runs


def test_first_load_equals_truth_when_loading_everything(simulator: RunningSimulator, load: Loader,
                                                          query: Query) -> None:
    summary = load()

    truth = truth_runs(simulator.world)
    assert loaded_runs(query) == truth
    assert summary.stats["runs_new"] == len(truth)
    assert summary.rows["runs"] == len(truth)
    workspaces = {w["name"].rsplit("/", 1)[-1] for w in simulator.world.workspaces()}
    assert {row[0] for row in query("SELECT workspace_id FROM kognitos.workspaces")} == workspaces
    automations = {
        (ws, a["name"].rsplit("/", 1)[-1]) for ws in workspaces for a in simulator.world.automations(ws, True)
    }
    assert set(query("SELECT workspace_id, automation_id FROM kognitos.automations")) == automations


def test_second_load_adds_new_runs_and_updates_states_when_clock_advances(
    simulator: RunningSimulator, load: Loader, query: Query
) -> None:
    load()
    before = truth_runs(simulator.world)
    simulator.world.advance(timedelta(hours=6))
    after = truth_runs(simulator.world)
    changed = {key for key in before if before[key] != after[key]}
    added = after.keys() - before.keys()
    assert changed and added, "the simulated six hours should change states and add runs"

    summary = load()

    assert loaded_runs(query) == after
    assert summary.stats["runs_new"] == len(added)
    assert summary.stats["runs_updated"] == len(changed)


def test_old_stuck_runs_show_their_new_state_when_they_finish_weeks_later(
    simulator: RunningSimulator, load: Loader, query: Query
) -> None:
    load()
    stuck = {key for key, (state, _) in truth_runs(simulator.world).items()
             if state in ("awaiting_guidance", "stopped")}
    assert stuck, "the simulator should hold runs stuck in awaiting_guidance or stopped"
    simulator.world.advance(timedelta(days=40))

    load()

    truth = truth_runs(simulator.world)
    assert loaded_runs(query) == truth
    assert any(truth[key][0] != "awaiting_guidance" and truth[key][0] != "stopped" for key in stuck)


def test_small_pages_and_runs_arriving_while_paginating_lose_and_duplicate_nothing(
    simulator: RunningSimulator, load: Loader, query: Query
) -> None:
    simulator.faults.insert_runs_while_paginating = 2
    load(page_size=7)
    simulator.faults.insert_runs_while_paginating = 0
    first = truth_runs(simulator.world)
    loaded = loaded_runs(query)
    assert loaded.items() <= first.items()

    simulator.world.advance(timedelta(minutes=30))
    load(page_size=7)

    assert loaded_runs(query) == truth_runs(simulator.world)


def test_a_backfill_lists_the_runs_of_every_automation_at_once(simulator: RunningSimulator, database: Path,
                                                                 query: Query) -> None:
    """No automation has open runs yet, so no listing waits for the one before it: each automation's first page is
    asked for before any automation's second (one after another, the first automation's pages would all come
    first). A quarter of a second per answer leaves the threads ample time to send together."""
    simulator.faults.latency_seconds = 0.25
    run_load(destination=duckdb_destination("kognitos", str(database)), resources=["workspaces", "automations", "runs"],
             source_options={"access_token": simulator.token, "base_url": simulator.base_url,
                             "organization_id": simulator.world.organization_id, "page_size": 10})

    listings: dict[str, list[float]] = {}
    for request in simulator.requests.entries:
        if request.path.endswith("/runs"):
            listings.setdefault(request.path.split("/automations/")[1], []).append(request.received)
    world = simulator.world
    assert {automation: len(pages) for automation, pages in listings.items()} == {
        f"{short_id(a['name'])}/runs": math.ceil(len(world.runs(short_id(w["name"]), short_id(a["name"]))) / 10)
        for w in world.workspaces() for a in world.automations(short_id(w["name"]), True)}
    assert max(pages[0] for pages in listings.values()) < min(pages[1] for pages in listings.values() if pages[1:])
    assert loaded_runs(query) == truth_runs(simulator.world)


def test_an_unknown_automation_id_fails_naming_it_and_loads_nothing(
    simulator: RunningSimulator, load: Loader, database: Path
) -> None:
    with pytest.raises(ConfigError, match="'no-such-automation'"):
        load(automation_ids=["no-such-automation"])

    assert not database.exists() or not duckdb.connect(str(database)).execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'runs'").fetchall()[0][0]


def test_automation_ids_load_only_those_runs_even_when_their_workspace_is_on_a_later_page(
    simulator: RunningSimulator, load: Loader, query: Query
) -> None:
    workspaces = [short_id(w["name"]) for w in simulator.world.workspaces()]
    assert len(workspaces) == 2
    chosen = short_id(simulator.world.automations(workspaces[-1])[0]["name"])
    simulator.requests.clear()

    load(automation_ids=[chosen], page_size=1)  # one workspace per page: the chosen one is on the second

    user_workspace_pages = [e for e in simulator.requests.entries if e[1].endswith("/workspaces")]
    assert len(user_workspace_pages) == 2
    truth = {key: value for key, value in truth_runs(simulator.world).items() if key[1] == chosen}
    assert truth and loaded_runs(query) == truth


def test_an_unknown_workspace_id_fails_naming_it(simulator: RunningSimulator, load: Loader) -> None:
    expected = re.escape("Workspace 'no-such-workspace' (from workspace_ids) was not found")
    with pytest.raises(NotFoundError, match=expected):
        load(workspace_ids=["no-such-workspace"])


def test_runs_of_deleted_automations_are_loaded_and_kept_when_the_service_stops_listing_them(
    simulator: RunningSimulator, load: Loader, query: Query, database: Path, caplog: pytest.LogCaptureFixture
) -> None:
    truth = truth_runs(simulator.world)
    deleted = {(short_id(w["name"]), short_id(a["name"])) for w in simulator.world.workspaces()
               for a in simulator.world.automations(short_id(w["name"]), show_deleted=True) if a.get("delete_time")}
    assert deleted and any((ws, auto) in deleted for ws, auto, _ in truth)
    load()
    assert loaded_runs(query) == truth

    # The same organization, served by a service that answers NOT_FOUND for a deleted automation's runs.
    hiding = SimulatorSettings(seed=simulator.world.settings.seed, scale=simulator.world.settings.scale,
                               deleted_automation_runs_found=False)
    with running_simulator(hiding) as service, caplog.at_level(logging.WARNING):
        summary = run_load(destination=duckdb_destination("kognitos", str(database)), source_options={
            "access_token": service.token, "base_url": service.base_url,
            "organization_id": service.world.organization_id,
            "list_unchanged_automations_every_hours": 0})  # every automation listed, though no total changed

    assert loaded_runs(query) == truth
    said = [r.getMessage() for r in caplog.records if "no longer lists its runs" in r.getMessage()]
    assert sorted(said) == sorted(f"Automation {auto} of workspace {ws} was deleted and the service no longer lists "
                                  "its runs; the runs loaded before stay as they were." for ws, auto in deleted)
    assert summary.stats.get("runs_new", 0) == 0


def test_a_run_created_at_the_saved_cursors_instant_arriving_in_a_later_load_is_loaded_once(
    simulator: RunningSimulator, load: Loader, query: Query
) -> None:
    workspace = short_id(simulator.world.workspaces()[0]["name"])
    automation = short_id(simulator.world.automations(workspace)[0]["name"])
    (first,) = simulator.world.insert_runs(workspace, automation)  # the newest run: the cursor is its instant
    load()
    assert (workspace, automation, first) in loaded_runs(query)

    (tie,) = simulator.world.insert_runs(workspace, automation)  # the clock has not moved: the same instant
    created = {short_id(run["name"]): run["create_time"] for run in simulator.world.runs(workspace, automation)}
    assert created[tie] == created[first]
    summary = load()

    assert summary.stats["runs_new"] == 1
    assert loaded_runs(query) == truth_runs(simulator.world)
