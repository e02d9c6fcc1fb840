"""A load that died after extracting is finished by the next run, which then also loads what is new."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import dlt
import duckdb

from kognitos_elt.destination import DEFAULT_PIPELINE_NAME, duckdb_destination
from kognitos_elt.kognitos import kognitos_source
from kognitos_simulator import RunningSimulator

from .conftest import Loader, Query
from .truth import loaded_events, loaded_runs, truth_events, truth_runs


def test_next_run_finishes_an_interrupted_load_then_loads_new_runs(
    simulator: RunningSimulator, load: Loader, query: Query, database: Path
) -> None:
    load()
    simulator.world.advance(timedelta(hours=2))
    pipeline = dlt.pipeline(DEFAULT_PIPELINE_NAME, destination=duckdb_destination("kognitos", str(database)),
                            dataset_name="kognitos")
    pipeline.extract(kognitos_source(access_token=simulator.token, base_url=simulator.base_url,
                                     organization_id=simulator.world.organization_id))
    assert pipeline.has_pending_data, "the extracted package is left pending, as after a crash"
    extracted = truth_runs(simulator.world)
    simulator.world.advance(timedelta(hours=2))
    now = truth_runs(simulator.world)
    assert now.keys() > extracted.keys(), "two simulated hours should add runs"

    summary = load()

    assert summary.resumed_packages == 1
    # The pending package's state is the start: only what changed since its extract is new or updated.
    assert summary.stats["runs_new"] == len(now) - len(extracted)
    assert summary.stats["runs_updated"] == sum(extracted[key] != now[key] for key in extracted)
    assert loaded_runs(query) == now


def test_a_load_redone_from_lost_state_duplicates_no_event(
    simulator: RunningSimulator, load: Loader, query: Query, database: Path, tmp_path: Path
) -> None:
    load()
    with duckdb.connect(str(database)) as connection:  # as if the state of the last load never committed
        connection.execute("DELETE FROM kognitos._dlt_pipeline_state")
    shutil.rmtree(tmp_path / "dlt_data")  # and the working folder was wiped (a fresh container)

    summary = load()

    assert summary.stats["runs_new"] == len(truth_runs(simulator.world)), "everything was extracted again"
    assert loaded_events(query) == truth_events(simulator.world)
    assert loaded_runs(query) == truth_runs(simulator.world)
