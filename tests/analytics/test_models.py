"""The analytics models on a real simulator load: each equals what the simulator's truth says it must hold."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dlt
import duckdb
import psycopg2
import pytest

from kognitos_analytics import PROJECT_DIR
from kognitos_analytics.builder import ModelsError, analytics_schema
from kognitos_elt.destination import duckdb_destination
from kognitos_elt.session import LoadSummary, build_models, run_load
from kognitos_simulator import RunningSimulator

from . import truth

ZONES = ("UTC", "Asia/Kolkata")  # Kolkata is UTC+05:30: local days that no whole-hour shift gives
Query = Callable[[str], list[tuple[Any, ...]]]


@pytest.fixture(autouse=True)
def models_after_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loads build the models here, as `kognitos-elt run` does by default."""
    monkeypatch.delenv("ANALYTICS__BUILD_AFTER_LOAD")


def source_options(simulator: RunningSimulator, **options: Any) -> dict[str, Any]:
    return {"access_token": simulator.token, "base_url": simulator.base_url,
            "organization_id": simulator.world.organization_id, "time_zones": list(ZONES), **options}


def duckdb_query(database: Path) -> Query:
    def query(sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(database), read_only=True) as connection:
            return connection.sql(sql).fetchall()

    return query


def assert_same(loaded: dict[Any, tuple[Any, ...]], expected: dict[Any, tuple[Any, ...]]) -> None:
    """Equal keys, and equal values: floats (durations, rates, percentiles) to a microsecond's precision."""
    assert sorted(loaded) == sorted(expected)
    differing = {key: (loaded[key], expected[key]) for key in expected
                 if len(loaded[key]) != len(expected[key])
                 or not all(_same(a, b) for a, b in zip(loaded[key], expected[key], strict=True))}
    assert not differing, f"{len(differing)} row(s) differ (loaded, expected): {list(differing.items())[:3]}"


def _same(loaded: Any, expected: Any) -> bool:
    if isinstance(loaded, bool) or isinstance(expected, bool):
        return loaded is expected
    if isinstance(loaded, int | float) and isinstance(expected, int | float):
        return math.isclose(loaded, expected, rel_tol=1e-9, abs_tol=1e-6)
    return bool(loaded == expected)


def assert_models_hold_the_truth(query: Query, dataset: str, simulator: RunningSimulator) -> datetime:
    """run_facts, daily_runs (two zones), open_runs and node_timings equal the truth; returns the models' clock."""
    schema = analytics_schema(dataset)
    ((as_of,),) = query(f"SELECT as_of FROM {schema}.service_clock")
    # The service's clock (its Date header, whole seconds, plus the time since): not this machine's.
    assert timedelta(0) <= as_of - simulator.world.now < timedelta(seconds=5)
    world = simulator.world

    facts = query(f"SELECT workspace_id, automation_id, run_id, state, is_terminal, create_time, end_time, "
                  f"duration_seconds, awaiting_guidance_seconds, error_description, exception_description "
                  f"FROM {schema}.run_facts")
    assert len(facts) == len({tuple(row[:3]) for row in facts})
    assert_same({tuple(row[:3]): tuple(row[3:]) for row in facts}, truth.run_facts(world, as_of))

    daily = query(f"SELECT workspace_id, automation_id, time_zone, date, runs, completed, failed, stopped, "
                  f"awaiting_guidance, open, success_rate, median_duration_seconds, p95_duration_seconds "
                  f"FROM {schema}.daily_runs")
    assert_same({tuple(row[:4]): tuple(row[4:]) for row in daily}, truth.daily_runs(world, ZONES))

    open_runs = query(f"SELECT workspace_id, automation_id, run_id, state, waits_for_human, age_seconds "
                      f"FROM {schema}.open_runs")
    assert_same({tuple(row[:3]): tuple(row[3:]) for row in open_runs}, truth.open_runs(world, as_of))

    nodes = query(f"SELECT workspace_id, automation_id, run_id, execution_id, node_id, is_patched, occurrence, "
                  f"node_kind, function_name, duration_ms FROM {schema}.node_timings")
    assert_same({tuple(row[:7]): tuple(row[7:]) for row in nodes}, truth.node_timings(world))
    return as_of


def test_duckdb_models_equal_the_truth_and_their_dbt_tests_pass(simulator: RunningSimulator, tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    options = source_options(simulator, daily_aggregates_per_automation=True)

    def load() -> LoadSummary:
        return run_load(destination=duckdb_destination("kognitos", str(database)), source_options=options)

    first = load()

    assert first.models is not None and first.models.built, first.models
    assert_models_hold_the_truth(duckdb_query(database), "kognitos", simulator)
    tested = build_models(destination=duckdb_destination("kognitos", str(database)))
    assert tested.results["daily_runs_match_api_aggregates"] == "pass"
    assert {name: status for name, status in tested.results.items() if status not in ("success", "pass")} == {}
    assert len(tested.results) == 56  # 18 models and 38 tests


def test_a_load_that_changes_nothing_runs_no_dbt_and_new_events_update_only_node_timings(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    database = tmp_path / "warehouse.duckdb"
    query = duckdb_query(database)

    def load() -> LoadSummary:
        return run_load(destination=duckdb_destination("kognitos", str(database)),
                        source_options=source_options(simulator))

    load()
    built_at = query("SELECT built_at FROM kognitos_analytics.build_info")
    unchanged = load()
    simulator.world.advance(timedelta(hours=6))
    with_new_runs = load()

    assert unchanged.models is not None and not unchanged.models.built, unchanged.models
    assert "nothing to rebuild" in unchanged.models.line()
    # The views show the new rows by themselves; the one table is brought up to date, nothing else is rebuilt.
    assert with_new_runs.models is not None and with_new_runs.models.results == {"node_timings": "success"}
    assert query("SELECT built_at FROM kognitos_analytics.build_info") == built_at
    assert_models_hold_the_truth(query, "kognitos", simulator)


def test_the_reconciliation_test_fails_when_runs_and_the_api_counts_disagree(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    database = tmp_path / "warehouse.duckdb"
    run_load(destination=duckdb_destination("kognitos", str(database)), source_options=source_options(simulator))
    with duckdb.connect(str(database)) as connection:  # one run of a past day goes missing
        connection.execute("DELETE FROM kognitos.runs WHERE run_id = (SELECT min(run_id) FROM kognitos.runs "
                           "WHERE create_time < TIMESTAMPTZ '2025-11-10 00:00:00+00')")

    with pytest.raises(ModelsError, match="daily_runs_match_api_aggregates") as failed:
        build_models(destination=duckdb_destination("kognitos", str(database)))

    assert "the load itself is committed" in str(failed.value)


def test_postgres_models_equal_the_truth_survive_a_refresh_and_never_write_the_password(
    simulator: RunningSimulator, postgres_role: tuple[str, str], tmp_path: Path
) -> None:
    dsn, dataset = postgres_role

    def query(sql: str) -> list[tuple[Any, ...]]:
        with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()

    def load(refresh: bool = False) -> LoadSummary:
        return run_load(destination=dlt.destinations.postgres(credentials=dsn), dataset_name=dataset,
                        source_options=source_options(simulator), refresh=refresh)

    load()
    build_models(destination=dlt.destinations.postgres(credentials=dsn), dataset_name=dataset)
    # PostgreSQL refuses to drop tables that views read: --refresh drops the models first, then rebuilds them.
    refreshed = load(refresh=True)

    assert refreshed.models is not None and refreshed.models.built, refreshed.models
    assert_models_hold_the_truth(query, dataset, simulator)
    # dbt's logs, compiled SQL and run results, and dlt's own files: the password is in none of them.
    password = urlsplit(dsn).password or ""
    assert [path for path in tmp_path.rglob("*") if path.is_file() and password.encode() in path.read_bytes()] == []


def test_models_say_what_they_wait_for_instead_of_failing(simulator: RunningSimulator, tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    destination = duckdb_destination("kognitos", str(database))

    with pytest.raises(ModelsError, match="Nothing loaded yet by pipeline 'kognitos_elt'"):
        build_models(destination=destination)
    partial = run_load(destination=destination, source_options=source_options(simulator),
                       resources=["workspaces", "automations", "runs"])
    parquet = run_load(destination=dlt.destinations.filesystem(bucket_url=str(tmp_path / "lake")),
                       pipeline_name="lake", source_options=source_options(simulator))

    assert partial.models is not None and partial.models.line() == (
        "Analytics models: not built yet: they need the table(s) run_events, daily_run_aggregates, "
        "automation_run_aggregates, not loaded so far.")
    with pytest.raises(ModelsError, match="run_events, daily_run_aggregates, automation_run_aggregates"):
        build_models(destination=destination)
    assert parquet.models is not None and parquet.models.line().startswith(
        "Analytics models: not built on filesystem (built on duckdb and postgres; elsewhere add the dbt package")


def test_a_dbt_project_of_your_own_builds_the_models_as_a_package(simulator: RunningSimulator, tmp_path: Path) -> None:
    """As the README shows: the package from a path (a git URL works the same), its vars, your own profile."""
    database = tmp_path / "warehouse.duckdb"
    run_load(destination=duckdb_destination("raw_kognitos", str(database)), dataset_name="raw_kognitos",
             source_options=source_options(simulator), models=False)
    project = tmp_path / "my_dbt_project"
    project.mkdir()
    (project / "dbt_project.yml").write_text(
        "name: my_warehouse\nversion: '1.0'\nconfig-version: 2\nprofile: my_warehouse\n"
        "vars:\n  kognitos_analytics:\n    kognitos_schema: raw_kognitos\n"
        "    kognitos_time_zones: ['UTC', 'Asia/Kolkata']\n")
    (project / "packages.yml").write_text(f"packages:\n  - local: {PROJECT_DIR}\n")
    (project / "profiles.yml").write_text(
        f"my_warehouse:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: {database}\n"
        "      schema: prod\n")
    environment = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_PROFILES_DIR": str(project)}

    for command in (["deps"], ["build", "--select", "kognitos_analytics"]):
        finished = subprocess.run([sys.executable, "-c", "from dbt.cli.main import cli; cli()", *command],
                                  cwd=project, env=environment, capture_output=True, text=True, check=False)
        assert finished.returncode == 0, finished.stdout[-3000:]

    query = duckdb_query(database)
    assert query("SELECT count(*) FROM prod_analytics.run_facts") == [(len(truth.all_runs(simulator.world)),)]
    assert {zone for (zone,) in query("SELECT DISTINCT time_zone FROM prod_analytics.daily_runs")} == set(ZONES)
