"""The benchmark end to end on the `tiny` scale: every contender sees all the data, the table is complete.

`small` takes minutes on a 2-core machine, so the smoke run uses the simulator's `tiny` world, without
latency. No timing is asserted: only that the contenders did the same work the simulator holds.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from benchmarks.run import COLUMNS, CONTENDERS, format_case, run_case, write_results
from kognitos_elt.kognitos.schema import TERMINAL_RUN_STATES
from kognitos_simulator import SCALES, SimulatorSettings, World

SCALE = "tiny"
SEED = 0


def _truth() -> tuple[int, int, int, int]:
    """Runs, events, open runs and automations with open runs (deleted ones too), as the benchmark's simulator (same
    seed and scale) holds them."""
    world = World(SimulatorSettings(seed=SEED, scale=SCALES[SCALE]))
    runs = events = open_runs = open_automations = 0
    for workspace in world.workspaces():
        workspace_id = workspace["name"].rsplit("/", 1)[-1]
        for automation in world.automations(workspace_id, show_deleted=True):
            automation_id = automation["name"].rsplit("/", 1)[-1]
            open_before = open_runs
            for run in world.runs(workspace_id, automation_id):
                runs += 1
                events += len(world.run_events(workspace_id, automation_id, run["name"].rsplit("/", 1)[-1]))
                open_runs += not TERMINAL_RUN_STATES & run["state"].keys()
            open_automations += open_runs > open_before
    return runs, events, open_runs, open_automations


@pytest.mark.slow
def test_every_contender_loads_what_the_simulator_holds(tmp_path: Path) -> None:
    case = run_case(SCALE, 0.0, seed=SEED, workdir=tmp_path / "bench")

    runs, events, open_runs, open_automations = _truth()
    assert runs > 0 and events > runs and open_runs > 0
    measured = {m.contender: m for m in case.measurements}
    assert list(measured) == [name for name, _ in CONTENDERS]
    for name in ("kognitos-elt", "limit", "peer"):
        assert (measured[name].runs, measured[name].events) == (runs, events), name
    assert (measured["noop"].runs, measured["noop"].events) == (0, 0)
    # The models are built on the backfill's file and read whole: one run_facts row per run loaded.
    assert measured["models"].rows["run_facts"] == runs
    assert measured["models"].seconds["build"] > 0 and set(measured["models"].seconds) > set(measured["models"].rows)
    # The limit requests exactly the pages kognitos-elt requests; the no-op re-lists far less.
    assert measured["limit"].requests == measured["kognitos-elt"].requests
    assert measured["limit"].by_endpoint == measured["kognitos-elt"].by_endpoint
    for name in ("kognitos-elt", "limit", "peer"):  # what each HTTP library sent, by endpoint: every request
        assert sum(measured[name].by_endpoint.values()) == measured[name].requests, name
        assert measured[name].by_endpoint["List Run Events"] >= runs and measured[name].refused == 0, name
    # Nothing new (the benchmark's clock stands still): the workspaces page, each workspace's automations, two
    # aggregates and one page of new exceptions (and one of those not resolved, where some are). No run total changed,
    # so no automation without open runs is listed; the others' open runs are re-listed or fetched one by one, which
    # is the cost model's choice, from the times this load observed.
    workspaces = len(World(SimulatorSettings(seed=SEED, scale=SCALES[SCALE])).workspaces())
    noop = measured["noop"].by_endpoint
    assert noop.get("List Runs", 0) <= open_automations and noop.get("Get Run", 0) <= open_runs
    assert noop.get("List Runs", 0) + noop.get("Get Run", 0) >= open_automations
    per_workspace = ("List Automations", "Automation Run Aggregates", "Daily Run Aggregates")
    assert noop["List Workspaces"] == 1 and all(noop[endpoint] == workspaces for endpoint in per_workspace)
    assert workspaces <= noop["other"] <= 2 * workspaces  # List Exceptions: new ones, and the unresolved
    assert sum(noop.values()) == measured["noop"].requests
    assert all(m.peak_rss_bytes > 0 and m.wall_seconds > 0 for m in case.measurements)
    assert case.disagreements() == []

    table = format_case(case, seed=SEED, concurrency=8, simulator_workers=1)
    header = next(line for line in table.splitlines() if line.startswith("contender"))
    assert all(column in header for column in COLUMNS)
    assert f"run_facts {runs:,} rows" in table
    assert all(any(line.startswith(label) for line in table.splitlines()) for _, label in CONTENDERS)
    assert "kognitos-elt / limit" in table and "peer / kognitos-elt" in table
    assert "kognitos-elt's requests by endpoint" in table and "floor" not in table

    path = write_results([case], tmp_path / "results" / "tiny.json", scale=SCALE)
    document = orjson.loads(path.read_bytes())
    assert [m["contender"] for m in document["cases"][0]["measurements"]] == [name for name, _ in CONTENDERS]
