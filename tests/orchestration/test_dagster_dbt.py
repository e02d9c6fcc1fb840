"""The analytics models as Dagster assets (dagster-dbt), in-process against the simulator: downstream of the dlt
assets of the tables they read, requested by their automation condition once the workspace partitions have loaded,
built into the destination those partitions loaded, and equal to the simulator's truth (tests/analytics/truth.py)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from dagster import AssetKey, AssetSelection, DagsterInstance, evaluate_automation_conditions, materialize
from dagster_dlt import DagsterDltResource

from kognitos_analytics import PROJECT_DIR
from kognitos_analytics.builder import PASSWORD_VARIABLE, SOURCE_TABLES
from kognitos_elt import dagster_definitions as dd
from kognitos_simulator import RunningSimulator

from ..analytics.test_models import ZONES, assert_models_hold_the_truth, duckdb_query
from .test_dagster import discover_partitions

MODELS = {path.stem for path in (PROJECT_DIR / "models").rglob("*.sql")}


def model_key(name: str) -> AssetKey:
    return AssetKey(["kognitos_analytics", name])


@pytest.fixture
def source_configured(simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch) -> RunningSimulator:
    """The source configured the dlt way (env), with the two zones the truth of daily_runs counts days in."""
    monkeypatch.setenv("SOURCES__KOGNITOS__ACCESS_TOKEN", simulator.token)
    monkeypatch.setenv("SOURCES__KOGNITOS__ORGANIZATION_ID", simulator.world.organization_id)
    monkeypatch.setenv("SOURCES__KOGNITOS__BASE_URL", simulator.base_url)
    monkeypatch.setenv("SOURCES__KOGNITOS__TIME_ZONES", json.dumps(list(ZONES)))
    return simulator


class AutomationTicks:
    """The models' automation sensor, one evaluation at a time, its cursor kept between them as the daemon keeps it."""

    def __init__(self, instance: DagsterInstance) -> None:
        self.instance = instance
        self.cursor: Any = None

    def requested(self) -> set[AssetKey]:
        result = evaluate_automation_conditions(defs=dd.defs, instance=self.instance, cursor=self.cursor,
                                                asset_selection=AssetSelection.assets(dd.kognitos_models))
        self.cursor = result.cursor
        return {key for key in dd.kognitos_models.keys if result.get_requested_partitions(key)}


def load_then_build_models(instance: DagsterInstance) -> None:
    """Both workspace partitions load, the automation condition asks for every model, and they build once."""
    ticks = AutomationTicks(instance)
    workspaces = discover_partitions(instance)
    assert len(workspaces) == 2
    assert ticks.requested() == set(), "the models were requested before anything loaded"
    for workspace_id in workspaces:
        loaded = materialize([dd.kognitos_assets], partition_key=workspace_id, instance=instance,
                             resources={"dlt_resource": DagsterDltResource()})
        assert loaded.success

    assert ticks.requested() == {model_key(name) for name in MODELS}

    built = materialize([dd.kognitos_models], instance=instance)

    assert built.success
    assert {event.asset_key for event in built.get_asset_materialization_events()} == dd.kognitos_models.keys
    checks = built.get_asset_check_evaluations()  # the models' dbt tests, run by `dbt build`
    assert len(checks) == len(dd.kognitos_models.check_keys) > 0
    assert [check.asset_check_key for check in checks if not check.passed] == []
    assert PASSWORD_VARIABLE not in os.environ
    assert ticks.requested() == set(), "built models are requested again with nothing new loaded"


def test_each_model_asset_depends_on_the_dlt_assets_of_the_tables_it_reads() -> None:
    graph = dd.defs.resolve_asset_graph()
    table_keys = {AssetKey(["kognitos", table]) for table in dd.SPEC_SOURCE.resources}
    assert dd.kognitos_models.keys == {model_key(name) for name in MODELS}
    for path in (PROJECT_DIR / "models").rglob("*.sql"):
        name, sql = path.stem, path.read_text()
        reads = {AssetKey(["kognitos", table]) for table in re.findall(r"source\('kognitos', '(\w+)'\)", sql)}
        refs = {model_key(model) for model in re.findall(r"ref\('(\w+)'\)", sql)}
        parents = graph.get(model_key(name)).parent_keys
        assert reads | refs <= parents, name
        assert reads <= table_keys  # the dlt assets themselves, not stand-ins of their own
    assert graph.get(model_key("build_info")).parent_keys == {AssetKey(["kognitos", t]) for t in SOURCE_TABLES}
    # Only the staging models read the tables; every other model reads models.
    assert graph.get(model_key("stg_kognitos__runs")).parent_keys == {AssetKey(["kognitos", "runs"])}
    assert graph.get(model_key("stg_kognitos__exceptions")).parent_keys == {AssetKey(["kognitos", "exceptions"])}
    assert {model_key("stg_kognitos__runs"), model_key("int_run_guidance_waits")} <= graph.get(
        model_key("run_facts")).parent_keys
    for table in table_keys:
        assert graph.get(table).is_materializable and graph.get(table).partitions_def == dd.workspace_partitions
    # Not partitioned (they read every workspace), triggered by their condition, never beside a load.
    assert dd.kognitos_models.partitions_def is None
    assert {dd.kognitos_models.specs_by_key[key].automation_condition for key in dd.kognitos_models.keys} == {
        dd.MODELS_CONDITION}
    assert dd.kognitos_models.op.pool == dd.kognitos_assets.op.pool == dd.POOL
    assert dd.defs.resolve_sensor_def("kognitos_models_after_loads").asset_selection is not None
    assert dd.defs.resolve_job_def(dd.MODELS_JOB_NAME).asset_layer.selected_asset_keys == dd.kognitos_models.keys


def test_duckdb_models_built_after_two_workspace_partitions_equal_the_truth(
    source_configured: RunningSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(database))

    load_then_build_models(DagsterInstance.ephemeral())

    assert_models_hold_the_truth(duckdb_query(database), "kognitos", source_configured)


def test_postgres_models_built_after_two_workspace_partitions_equal_the_truth(
    source_configured: RunningSimulator, postgres_role: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn, dataset = postgres_role
    monkeypatch.setenv("DESTINATION_TYPE", "postgres")
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", dsn)
    monkeypatch.setenv("DATASET_NAME", dataset)

    def query(sql: str) -> list[tuple[Any, ...]]:
        with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()

    load_then_build_models(DagsterInstance.ephemeral())

    assert query(f"SELECT count(DISTINCT workspace_id) FROM {dataset}.runs") == [(2,)]
    assert_models_hold_the_truth(query, dataset, source_configured)
