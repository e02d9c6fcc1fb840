"""The same source into other destinations: a real PostgreSQL server (see `postgres_dsn` in tests/conftest.py)
and a parquet data-lake folder."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import dlt
import duckdb
import psycopg2
import pytest

from kognitos_elt.destination import (
    DEFAULT_DATASET_NAME,
    DEFAULT_PIPELINE_NAME,
    DUCKDB_SETTINGS,
    DuckDBMemoryError,
    duckdb_destination,
)
from kognitos_elt.session import run_load
from kognitos_simulator import RunningSimulator

from .truth import truth_days, truth_events, truth_runs


def source_options(simulator: RunningSimulator) -> dict[str, Any]:
    return {"access_token": simulator.token, "base_url": simulator.base_url,
            "organization_id": simulator.world.organization_id}


def test_postgres_holds_the_truth_with_its_types_after_two_loads(
    simulator: RunningSimulator, postgres_dsn: str
) -> None:

    dataset = f"kognitos_test_{uuid.uuid4().hex[:8]}"
    destination = dlt.destinations.postgres(credentials=postgres_dsn)
    run_load(destination=destination, dataset_name=dataset, source_options=source_options(simulator))
    simulator.world.advance(timedelta(hours=6))

    run_load(destination=destination, dataset_name=dataset, source_options=source_options(simulator))

    with psycopg2.connect(postgres_dsn) as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT workspace_id, automation_id, run_id, state, update_time FROM {dataset}.runs")
        rows = cursor.fetchall()
        cursor.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                       "WHERE table_schema = %s", (dataset,))
        types = {(table, column): kind for table, column, kind in cursor.fetchall()}
        cursor.execute(f"SELECT workspace_id, automation_id, run_id, event_index FROM {dataset}.run_events")
        events = cursor.fetchall()
        cursor.execute(f"SELECT workspace_id, date, total_runs FROM {dataset}.daily_run_aggregates "
                       "WHERE time_zone = 'UTC' AND automation_id = '*'")
        days = {(ws, day): total for ws, day, total in cursor.fetchall()}
        cursor.execute(f"DROP SCHEMA {dataset} CASCADE")
        cursor.execute(f"DROP SCHEMA IF EXISTS {dataset}_staging CASCADE")
    assert {(ws, auto, run): (state, updated) for ws, auto, run, state, updated in rows} == truth_runs(simulator.world)
    assert len(rows) == len(truth_runs(simulator.world))
    assert sorted(events) == sorted(truth_events(simulator.world))
    assert days == truth_days(simulator.world, "UTC")
    assert types[("runs", "create_time")] == "timestamp with time zone"
    assert types[("runs", "location_start_byte")] == "bigint"
    assert types[("runs", "outputs")] == "jsonb"
    assert types[("run_events", "payload")] == "jsonb"
    assert types[("daily_run_aggregates", "date")] == "date"


def test_a_parquet_lake_keeps_every_version_and_its_latest_equals_the_truth(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    destination = dlt.destinations.filesystem(bucket_url=lake.as_uri())
    run_load(destination=destination, source_options=source_options(simulator), loader_file_format="parquet")
    simulator.world.advance(timedelta(hours=6))

    run_load(destination=destination, source_options=source_options(simulator), loader_file_format="parquet")

    # The filesystem destination appends (no table format): readers take each run's latest load.
    files = list((lake / "kognitos" / "runs").glob("*.parquet"))
    assert files, "runs should be written as parquet files"
    latest = duckdb.sql(
        f"SELECT workspace_id, automation_id, run_id, state, update_time FROM read_parquet({[str(f) for f in files]}, "
        "filename = true) QUALIFY row_number() OVER (PARTITION BY workspace_id, automation_id, run_id "
        "ORDER BY filename DESC) = 1"
    ).fetchall()
    truth = truth_runs(simulator.world)
    assert {(ws, auto, run): (state, updated) for ws, auto, run, state, updated in latest} == truth
    # Events are only ever appended once each, across both loads.
    events = duckdb.sql(f"SELECT workspace_id, automation_id, run_id, event_index FROM read_parquet("
                        f"{[str(f) for f in (lake / 'kognitos' / 'run_events').glob('*.parquet')]})").fetchall()
    assert sorted(events) == sorted(truth_events(simulator.world))
    # Daily aggregates: the later load re-sends its lookback days; each day's latest row equals the truth.
    days = duckdb.sql(
        f"SELECT workspace_id, date, total_runs FROM read_parquet("
        f"{[str(f) for f in (lake / 'kognitos' / 'daily_run_aggregates').glob('*.parquet')]}, filename = true) "
        "WHERE time_zone = 'UTC' AND automation_id = '*' QUALIFY row_number() OVER "
        "(PARTITION BY workspace_id, date ORDER BY filename DESC) = 1"
    ).fetchall()
    assert {(ws, day): total for ws, day, total in days} == truth_days(simulator.world, "UTC")


def _duckdb_settings(destination: Any) -> tuple[str, bool]:
    pipeline = dlt.pipeline(DEFAULT_PIPELINE_NAME, destination=destination, dataset_name=DEFAULT_DATASET_NAME)
    with pipeline.sql_client() as client:
        (limit, ordered), = client.execute_sql(
            "SELECT current_setting('memory_limit'), current_setting('preserve_insertion_order')")
    return limit, ordered


def _mebibytes(setting: str) -> float:
    amount, unit = setting.split()
    assert unit == "MiB", setting
    return float(amount)


def _loaded_runs(destination: Any) -> list[tuple[str, str, str]]:
    pipeline = dlt.pipeline(DEFAULT_PIPELINE_NAME, destination=destination, dataset_name=DEFAULT_DATASET_NAME)
    with pipeline.sql_client() as client:
        return [tuple(row) for row in client.execute_sql("SELECT workspace_id, automation_id, run_id FROM runs")]


def test_duckdb_destination_caps_memory_by_default(tmp_path: Path) -> None:
    """By default DuckDB loads under a 128 MB cap, without insertion order."""
    limit, ordered = _duckdb_settings(duckdb_destination("kognitos", str(tmp_path / "default.duckdb")))
    assert abs(_mebibytes(limit) * 2**20 - 128e6) < 2**20 / 10, limit
    assert ordered is False


def test_duckdb_destination_takes_a_configured_memory_cap(
    simulator: RunningSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`[destination.duckdb] memory_limit` caps DuckDB while loading, and the load still holds every run."""
    monkeypatch.setenv("DESTINATION__DUCKDB__MEMORY_LIMIT", "300MB")
    destination = duckdb_destination("kognitos", str(tmp_path / "capped.duckdb"))
    run_load(destination=destination, source_options=source_options(simulator))

    limit, ordered = _duckdb_settings(destination)
    assert abs(_mebibytes(limit) * 2**20 - 300e6) < 2**20 / 10, limit
    assert ordered is DUCKDB_SETTINGS["preserve_insertion_order"]
    assert len(_loaded_runs(destination)) == len(truth_runs(simulator.world))


def test_a_load_out_of_duckdb_memory_says_how_to_fix_it_and_the_next_run_finishes_it(
    simulator: RunningSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cap too small fails the load with the setting to raise; raised, the next run loads every run once."""
    path = str(tmp_path / "small_cap.duckdb")
    monkeypatch.setenv("DESTINATION__DUCKDB__MEMORY_LIMIT", "1MB")
    with pytest.raises(DuckDBMemoryError, match="DESTINATION__DUCKDB__MEMORY_LIMIT"):
        run_load(destination=duckdb_destination("kognitos", path), source_options=source_options(simulator))

    monkeypatch.setenv("DESTINATION__DUCKDB__MEMORY_LIMIT", "256MB")
    destination = duckdb_destination("kognitos", path)
    summary = run_load(destination=destination, source_options=source_options(simulator))
    assert summary.resumed_packages == 1
    runs = _loaded_runs(destination)
    assert len(runs) == len(set(runs)) == len(truth_runs(simulator.world))
