"""The loaded DuckDB file against the simulator's truth, read by the venv that wrote it.

The fresh venvs may hold another DuckDB than this process (`dlt init`'s requirements let pip pick DuckDB 2, whose
files DuckDB 1.5 cannot open), so each query runs in the venv's own interpreter and comes back pickled: datetimes,
dates and JSON values as DuckDB's Python client returns them there, compared exactly as tests/integration does.
"""

from __future__ import annotations

import pickle
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

from kognitos_simulator import World

from ..integration.conftest import Query
from ..integration.truth import (
    loaded_events,
    loaded_runs,
    short,
    truth_days,
    truth_events,
    truth_outputs,
    truth_runs,
)
from .environments import Venv, clean_env

READ = """
import pickle, sys
import duckdb
with duckdb.connect(sys.argv[1], read_only=True) as connection:
    sys.stdout.buffer.write(pickle.dumps(connection.sql(sys.argv[2]).fetchall()))
"""


def venv_query(venv: Venv, database: Path) -> Query:
    """A `Query` over `database` that runs in `venv` (cwd: the file's folder, no repo on the path)."""

    def query(sql: str) -> list[tuple[Any, ...]]:
        result = subprocess.run([str(venv.python), "-c", READ, str(database), sql], cwd=database.parent,
                                env=clean_env(venv), capture_output=True, timeout=120, check=False)
        assert result.returncode == 0, f"{sql}\n{result.stderr.decode(errors='replace')}"
        rows: list[tuple[Any, ...]] = pickle.loads(result.stdout)  # our own child wrote it
        return rows

    return query


def truth_automation_totals(world: World) -> dict[tuple[str, str], tuple[int, int]]:
    return {(ws, short(entry["automation_id"])): (int(entry["stats"]["total_runs"]),
                                                 int(entry["stats"]["completed_runs"]))
            for ws in (short(w["name"]) for w in world.workspaces())
            for entry in world.automation_run_aggregates(ws)}


def assert_warehouse_equals_truth(query: Query, world: World) -> None:
    """Every table of a first load with the default options (UTC days) equals what the simulator holds."""
    workspaces = {short(w["name"]) for w in world.workspaces()}
    assert {row[0] for row in query("SELECT workspace_id FROM kognitos.workspaces")} == workspaces
    automations = {(ws, short(a["name"])) for ws in workspaces for a in world.automations(ws, True)}
    assert set(query("SELECT workspace_id, automation_id FROM kognitos.automations")) == automations

    runs = truth_runs(world)
    assert runs, "the simulator should hold runs"
    assert loaded_runs(query) == runs
    events = truth_events(world)
    assert loaded_events(query) == events != {}

    outputs = query("SELECT workspace_id, execution_id, output_name FROM kognitos.execution_outputs")
    assert len(outputs) == len(set(outputs)), "an output was loaded twice"
    assert set(outputs) == truth_outputs(world) != set()

    days = query("SELECT workspace_id, date, total_runs FROM kognitos.daily_run_aggregates "
                 "WHERE time_zone = 'UTC' AND automation_id = '*'")
    loaded_days: dict[tuple[str, date], int] = {(ws, day): total for ws, day, total in days}
    assert len(loaded_days) == len(days), "a day was loaded twice"
    assert loaded_days == truth_days(world, "UTC")
    assert query("SELECT count(*) FROM kognitos.daily_run_aggregates") == [(len(days),)], "only UTC, workspace-wide"

    totals = query("SELECT workspace_id, automation_id, total_runs, completed_runs FROM "
                   "kognitos.automation_run_aggregates")
    assert {(ws, auto): (total, done) for ws, auto, total, done in totals} == truth_automation_totals(world)
    assert len(totals) == len(truth_automation_totals(world))
