"""The analytics models on a real simulator load: each equals what the simulator's truth says it must hold."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import dlt
import duckdb
import psycopg2
import pytest
from dlt.common.configuration.container import Container
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

from kognitos_analytics import PROJECT_DIR, builder
from kognitos_analytics.builder import ModelsError, ModelsOutcome, analytics_schema
from kognitos_elt.destination import duckdb_destination
from kognitos_elt.kognitos import schema as source_schema
from kognitos_elt.session import LoadSummary, build_models, run_load
from kognitos_simulator import RunningSimulator, Scale, SimulatorSettings, World, running_simulator

from ..conftest import isolate, require_postgres, role_of_its_own
from ..integration.truth import short
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


def postgres_query(dsn: str) -> Query:
    def query(sql: str) -> list[tuple[Any, ...]]:
        with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()

    return query


RUN_KEY = ("workspace_id", "automation_id", "run_id")
MODELS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "run_facts": (RUN_KEY, truth.RUN_FACTS),
    "daily_runs": (("workspace_id", "automation_id", "time_zone", "date"), truth.DAILY_RUNS),
    "node_timings": ((*RUN_KEY, "execution_id", "node_id", "is_patched", "occurrence"), truth.NODE_TIMINGS),
    "open_runs": (RUN_KEY, truth.OPEN_RUNS),
    "failure_reasons": (("workspace_id", "automation_id", "error_description"), truth.FAILURE_REASONS),
    "automation_health": (("workspace_id", "automation_id"), truth.AUTOMATION_HEALTH),
}
"""Each model's key and the documented columns compared with the truth (README, "Analytics models")."""


def expected(model: str, world: World, as_of: datetime) -> dict[Any, tuple[Any, ...]]:
    """The model's rows as the simulator's world says they must be, aged at the models' clock."""
    if model == "daily_runs":
        return truth.daily_runs(world, ZONES)
    if model == "node_timings":
        return truth.node_timings(world)
    if model == "failure_reasons":
        return truth.failure_reasons(world)
    rows: Callable[[World, datetime], dict[Any, tuple[Any, ...]]] = getattr(truth, model)
    return rows(world, as_of)


def assert_same(loaded: dict[Any, tuple[Any, ...]], expected: dict[Any, tuple[Any, ...]],
                columns: tuple[str, ...] = ()) -> None:
    """Equal keys, and equal values (floats: see `_same`); a difference names its row and columns."""
    assert sorted(loaded) == sorted(expected)
    differing = {key: [(columns[i] if columns else i, a, b)
                       for i, (a, b) in enumerate(zip(loaded[key], expected[key], strict=True)) if not _same(a, b)]
                 for key in expected}
    differing = {key: columns for key, columns in differing.items() if columns}
    assert not differing, f"{len(differing)} row(s) differ (column, loaded, expected): {list(differing.items())[:3]}"


def _same(loaded: Any, expected: Any) -> bool:
    """Floats (durations, rates, percentiles, sums of waits) to a nanosecond or 1e-12 relative: far below the data's
    microsecond resolution, so any real difference fails; the slack covers only rounding where the warehouse and
    Python add or interpolate in another order. Everything else equal, of a comparable type (a bool is no int)."""
    if isinstance(loaded, bool) or isinstance(expected, bool):
        return loaded is expected
    if isinstance(loaded, float) or isinstance(expected, float):
        return (isinstance(loaded, int | float) and isinstance(expected, int | float)
                and math.isclose(loaded, expected, rel_tol=1e-12, abs_tol=1e-9))
    return type(loaded) is type(expected) and bool(loaded == expected)


def service_clock(query: Query, schema: str, world: World) -> datetime:
    """The models' clock: the service's (its Date header, whole seconds, plus the time since), not this machine's."""
    ((as_of,),) = query(f"SELECT as_of FROM {schema}.service_clock")
    assert timedelta(0) <= as_of - world.now < timedelta(seconds=5)
    return cast(datetime, as_of)


def assert_model_holds_the_truth(query: Query, schema: str, model: str, world: World, as_of: datetime) -> None:
    key, columns = MODELS[model]
    rows = query(f"SELECT {', '.join((*key, *columns))} FROM {schema}.{model}")
    loaded = {tuple(row[:len(key)]): tuple(row[len(key):]) for row in rows}
    assert len(loaded) == len(rows), f"{model}: a key twice"
    assert_same(loaded, expected(model, world, as_of), columns)


def assert_api_totals_are_of_the_last_load(query: Query, schema: str, world: World, as_of: datetime) -> None:
    """`automation_health.api_totals_time` is the service's clock when the last load asked for the totals: after the
    world's instant, no later than the models' clock (the newest such time). Its sub-second part is this machine's
    time since the service's Date header, so it has no exact truth."""
    times = query(f"SELECT api_totals_time FROM {schema}.automation_health")
    assert times and all(world.now <= time <= as_of for (time,) in times), (times, as_of)


def assert_models_hold_the_truth(query: Query, dataset: str, simulator: RunningSimulator) -> datetime:
    """Every model equals the truth, every documented column; returns the models' clock."""
    schema = analytics_schema(dataset)
    as_of = service_clock(query, schema, simulator.world)
    for model in MODELS:
        assert_model_holds_the_truth(query, schema, model, simulator.world, as_of)
    assert_api_totals_are_of_the_last_load(query, schema, simulator.world, as_of)
    return as_of


WIDE_SCALE = Scale(workspaces=2, automations_per_workspace=2, runs_per_automation=45, events_per_run=8,
                   days_of_history=40, deleted_automations_per_workspace=1)
"""Wider than the suite's: runs older than 30 days and some 7 to 8 days old, so the "last 7 and 30 days" windows are
checked at their edges; with failures, waits for a human, stops, patched nodes, node errors and a deleted automation."""


@dataclass(frozen=True)
class Warehouse:
    """One load of the wide world with its models built, shared by a module's tests (a load and a dbt build cost
    seconds each)."""

    query: Query
    dataset: str
    destination: Any
    directory: Path
    simulator: RunningSimulator
    loaded: LoadSummary

    def build_and_test(self) -> ModelsOutcome:
        """`kognitos-elt models` where the load ran (the same pipelines folder)."""
        with pytest.MonkeyPatch.context() as monkeypatch:
            isolate(monkeypatch, self.directory)
            return build_models(destination=self.destination, dataset_name=self.dataset)


@pytest.fixture(scope="module")
def wide_simulator() -> Iterator[RunningSimulator]:
    with running_simulator(SimulatorSettings(seed=11, scale=WIDE_SCALE)) as running:
        yield running


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest, wide_simulator: RunningSimulator,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    directory = tmp_path_factory.mktemp(request.param)
    with ExitStack() as stack:
        if request.param == "duckdb":
            dataset, database = "kognitos", directory / "warehouse.duckdb"
            destination, query = duckdb_destination(dataset, str(database)), duckdb_query(database)
        else:
            dsn, dataset = stack.enter_context(role_of_its_own(require_postgres()))
            destination, query = dlt.destinations.postgres(credentials=dsn), postgres_query(dsn)
        with pytest.MonkeyPatch.context() as monkeypatch:
            isolate(monkeypatch, directory)
            monkeypatch.delenv("ANALYTICS__BUILD_AFTER_LOAD")
            loaded = run_load(destination=destination, dataset_name=dataset,
                              source_options=source_options(wide_simulator, daily_aggregates_per_automation=True))
        yield Warehouse(query, dataset, destination, directory, wide_simulator, loaded)


@pytest.mark.parametrize("model", MODELS)
def test_each_model_equals_the_truth(warehouse: Warehouse, model: str) -> None:
    assert warehouse.loaded.models is not None and warehouse.loaded.models.built, warehouse.loaded.models
    schema = analytics_schema(warehouse.dataset)
    as_of = service_clock(warehouse.query, schema, warehouse.simulator.world)
    assert_model_holds_the_truth(warehouse.query, schema, model, warehouse.simulator.world, as_of)


def test_automation_health_api_totals_are_of_the_load(warehouse: Warehouse) -> None:
    schema = analytics_schema(warehouse.dataset)
    as_of = service_clock(warehouse.query, schema, warehouse.simulator.world)
    assert_api_totals_are_of_the_last_load(warehouse.query, schema, warehouse.simulator.world, as_of)


def test_the_models_dbt_tests_pass(warehouse: Warehouse) -> None:
    tested = warehouse.build_and_test()

    assert tested.results["daily_runs_match_api_aggregates"] == "pass"
    assert {name: status for name, status in tested.results.items() if status not in ("success", "pass")} == {}
    assert len(tested.results) == 56  # 18 models and 38 tests


@pytest.fixture
def dbt_invocations(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Every dbt invocation of the loads (the builder's `run_dbt`: the one place it starts dbt), by its arguments."""
    invocations: list[tuple[Any, ...]] = []
    run_dbt = builder.run_dbt

    def counted(pipeline: dlt.Pipeline, *arguments: Any) -> ModelsOutcome:
        invocations.append(arguments)
        return run_dbt(pipeline, *arguments)

    monkeypatch.setattr(builder, "run_dbt", counted)
    return invocations


MODEL_NAMES = {path.stem for path in (PROJECT_DIR / "models").rglob("*.sql")}


def rebuilt_everything(outcome: ModelsOutcome | None) -> bool:
    return outcome is not None and outcome.built and outcome.results == dict.fromkeys(MODEL_NAMES, "success")


def test_a_load_that_changes_nothing_runs_no_dbt_and_new_events_update_only_node_timings(
    simulator: RunningSimulator, tmp_path: Path, dbt_invocations: list[tuple[Any, ...]]
) -> None:
    database = tmp_path / "warehouse.duckdb"
    query = duckdb_query(database)

    def load() -> LoadSummary:
        return run_load(destination=duckdb_destination("kognitos", str(database)),
                        source_options=source_options(simulator))

    first = load()
    built_at = query("SELECT built_at FROM kognitos_analytics.build_info")
    unchanged = load()
    invoked_by_then = len(dbt_invocations)
    simulator.world.advance(timedelta(hours=9))  # past midnight UTC: the API's totals get a second day's snapshot
    with_new_runs = load()

    assert rebuilt_everything(first.models), first.models
    assert invoked_by_then == 1, dbt_invocations
    assert unchanged.models is not None and not unchanged.models.built, unchanged.models
    assert "nothing to rebuild" in unchanged.models.line()
    # The views show the new rows by themselves; the one table is brought up to date, nothing else is rebuilt.
    assert with_new_runs.models is not None and with_new_runs.models.results == {"node_timings": "success"}
    assert query("SELECT built_at FROM kognitos_analytics.build_info") == built_at
    assert_models_hold_the_truth(query, "kognitos", simulator)


def test_the_models_are_rebuilt_when_what_they_are_built_from_changes(
    simulator: RunningSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    dbt_invocations: list[tuple[Any, ...]]
) -> None:
    """README: dbt runs only when the project's files, its vars or the loaded tables' columns changed (the
    fingerprint in build_info). The project is a copy here, so a model file can change."""
    database = tmp_path / "warehouse.duckdb"
    project = tmp_path / "kognitos_analytics"
    shutil.copytree(PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    monkeypatch.setattr(builder, "PROJECT_DIR", project)
    query = duckdb_query(database)

    def load(**options: Any) -> ModelsOutcome | None:
        return run_load(destination=duckdb_destination("kognitos", str(database)),
                        source_options=source_options(simulator, **options)).models

    def fingerprint() -> str:
        return str(query("SELECT fingerprint FROM kognitos_analytics.build_info")[0][0])

    assert rebuilt_everything(load())
    fingerprints = [fingerprint()]
    open_runs = project / "models" / "marts" / "open_runs.sql"  # a model file: a column more
    open_runs.write_text(open_runs.read_text().replace("facts.exception_description\n",
                                                       "facts.exception_description,\n    1 as probe\n"))
    assert rebuilt_everything(load())
    assert query("SELECT count(*) = count(probe) FROM kognitos_analytics.open_runs") == [(True,)]
    fingerprints.append(fingerprint())
    # A loaded table's columns: a new version of the source that loads one more column.
    workspaces = source_schema.WORKSPACES
    monkeypatch.setattr(source_schema, "WORKSPACES",
                        replace(workspaces, types={**workspaces.types, "region": "text"}))
    assert rebuilt_everything(load())
    fingerprints.append(fingerprint())
    # A var: `kognitos_all_automations` is false when the source loads only some automations.
    some = [short(simulator.world.automations(short(simulator.world.workspaces()[0]["name"]))[0]["name"])]
    assert rebuilt_everything(load(automation_ids=some))
    fingerprints.append(fingerprint())
    invoked = len(dbt_invocations)
    unchanged = load(automation_ids=some)

    assert unchanged is not None and not unchanged.built and len(dbt_invocations) == invoked, dbt_invocations
    assert len(set(fingerprints)) == len(fingerprints) == 4


def test_with_automation_ids_only_the_per_automation_series_are_compared(
    simulator: RunningSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`daily_runs_match_api_aggregates` with `automation_ids` set: the workspace totals (of every automation) are
    left out, each loaded automation's own series is still compared."""
    database = tmp_path / "warehouse.duckdb"
    world = simulator.world
    workspace = short(world.workspaces()[0]["name"])
    automation = short(world.automations(workspace)[0]["name"])
    run_load(destination=duckdb_destination("kognitos", str(database)), models=False,
             source_options=source_options(simulator, automation_ids=[automation],
                                           daily_aggregates_per_automation=True))

    def build() -> ModelsOutcome:
        return build_models(destination=duckdb_destination("kognitos", str(database)))

    with pytest.raises(ModelsError, match="daily_runs_match_api_aggregates"):
        build()  # configured as loading every automation: its workspace totals cannot match
    monkeypatch.setenv("SOURCES__KOGNITOS__AUTOMATION_IDS", json.dumps([automation]))
    assert build().results["daily_runs_match_api_aggregates"] == "pass"
    with duckdb.connect(str(database)) as connection:  # the last run of a past day, not the first, goes missing
        connection.execute("DELETE FROM kognitos.runs WHERE create_time = (SELECT max(create_time) FROM kognitos.runs "
                           "WHERE create_time < TIMESTAMPTZ '2025-11-13 00:00:00+00')")
    with pytest.raises(ModelsError, match="daily_runs_match_api_aggregates"):
        build()


def test_build_after_load_in_config_toml(simulator: RunningSimulator, tmp_path: Path) -> None:
    """`[analytics] build_after_load` in .dlt/config.toml of the folder `run` runs in (the tests' working folder)."""
    database = tmp_path / "warehouse.duckdb"
    config = tmp_path / ".dlt" / "config.toml"
    config.parent.mkdir()

    def load(build_after_load: str) -> LoadSummary:
        config.write_text(f"[analytics]\nbuild_after_load = {build_after_load}\n")
        Container()[PluggableRunContext].reload_providers()  # dlt reads its toml files once, as a process starts
        return run_load(destination=duckdb_destination("kognitos", str(database)),
                        source_options=source_options(simulator))

    try:
        skipped = load("false")
        schemas = duckdb_query(database)("SELECT schema_name FROM information_schema.schemata")
        built = load("true")
    finally:
        config.unlink()
        Container()[PluggableRunContext].reload_providers()

    assert skipped.models is None and ("kognitos_analytics",) not in schemas, schemas
    assert rebuilt_everything(built.models), built.models


def test_the_reconciliation_test_fails_when_runs_and_the_api_counts_disagree(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    database = tmp_path / "warehouse.duckdb"
    run_load(destination=duckdb_destination("kognitos", str(database)), source_options=source_options(simulator),
             models=False)  # `models` builds them below (dbt build: run, then test)
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
    query = postgres_query(dsn)

    def load(refresh: bool = False, models: bool = True) -> LoadSummary:
        return run_load(destination=dlt.destinations.postgres(credentials=dsn), dataset_name=dataset,
                        source_options=source_options(simulator), refresh=refresh, models=models)

    load(models=False)  # `models` builds them next (dbt build: run, then test)
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

    assert_models_hold_the_truth(duckdb_query(database), "prod", simulator)
