"""Helpers for end-to-end loads: simulator -> kognitos_source -> dlt -> DuckDB in the test's folder."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from kognitos_simulator import RunningSimulator, World
from pipelines.loading import LoadSummary, duckdb_destination, run_load

Loader = Callable[..., LoadSummary]
Query = Callable[[str], list[tuple[Any, ...]]]


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


@pytest.fixture
def load(simulator: RunningSimulator, database: Path) -> Loader:
    """Run one `kognitos-elt run`-equivalent load against the simulator; options go to kognitos_source."""

    def _load(**source_options: Any) -> LoadSummary:
        options = {"access_token": simulator.token, "base_url": simulator.base_url,
                   "organization_id": simulator.world.organization_id, **source_options}
        return run_load(destination=duckdb_destination("kognitos", str(database)), source_options=options)

    return _load


@pytest.fixture
def query(database: Path) -> Query:
    def _query(sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(database), read_only=True) as connection:
            return connection.sql(sql).fetchall()

    return _query


def instant(value: str) -> datetime:
    """An RFC 3339 string as the warehouse stores it: a tz-aware datetime truncated to microseconds.

    Written here on purpose rather than borrowed from the source, so the test checks the source's parsing.
    """
    head, _, tail = value.replace("z", "Z").partition(".")
    if tail:
        digits = "".join(ch for ch in tail if ch.isdigit())
        zone = tail[len(digits):]
        value = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def state_key(run: dict[str, Any]) -> str:
    return next(key for key in run["state"] if key != "update_time")


def truth_runs(world: World) -> dict[tuple[str, str, str], tuple[str, datetime]]:
    """Every run the simulator holds now, of live automations: key -> (state, update_time)."""
    truth = {}
    for workspace in world.workspaces():
        ws = workspace["name"].rsplit("/", 1)[-1]
        for automation in world.automations(ws):
            auto = automation["name"].rsplit("/", 1)[-1]
            for run in world.runs(ws, auto):
                truth[(ws, auto, run["name"].rsplit("/", 1)[-1])] = (state_key(run), instant(run["update_time"]))
    return truth


def loaded_runs(query: Query) -> dict[tuple[str, str, str], tuple[str, datetime]]:
    rows = query("SELECT workspace_id, automation_id, run_id, state, update_time FROM kognitos.runs")
    loaded = {(ws, auto, run): (state, updated) for ws, auto, run, state, updated in rows}
    assert len(loaded) == len(rows), "a run was loaded twice"
    return loaded
