"""The Dagster integration, in-process: workspace partitions discovered from the simulator, each loaded by
Dagster's own `materialize` through its own dlt pipeline, rows checked against the simulator's truth."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    ExecuteInProcessResult,
    RunRequest,
    SensorResult,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
    materialize,
)
from dagster_dlt import DagsterDltResource

from kognitos_elt import dagster_definitions as dd
from kognitos_elt.kognitos import AuthError, ConfigError
from kognitos_elt.kognitos.errors import ServerError
from kognitos_elt.kognitos.state import RUN_TRACKERS
from kognitos_simulator import RunningSimulator, World

from ..integration.truth import truth_runs as run_states

RunKeys = set[tuple[str, str, str]]


def short(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def truth_runs(world: World, workspace_id: str) -> RunKeys:
    """Runs of the workspace's automations, deleted ones included."""
    return {(workspace_id, short(a["name"]), short(run["name"]))
            for a in world.automations(workspace_id, show_deleted=True)
            for run in world.runs(workspace_id, short(a["name"]))}


@pytest.fixture
def warehouse(tmp_path: Path, simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Configure the source and the DuckDB destination the dlt way, through environment variables."""
    database = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("SOURCES__KOGNITOS__ACCESS_TOKEN", simulator.token)
    monkeypatch.setenv("SOURCES__KOGNITOS__ORGANIZATION_ID", simulator.world.organization_id)
    monkeypatch.setenv("SOURCES__KOGNITOS__BASE_URL", simulator.base_url)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(database))
    return database


def query(database: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(sql, list(params)).fetchall()


def loaded_runs(database: Path, workspace_id: str) -> RunKeys:
    rows = query(database, "SELECT workspace_id, automation_id, run_id FROM kognitos.runs WHERE workspace_id = ?",
                 workspace_id)
    assert len(rows) == len(set(rows)), "a run was loaded twice"
    return set(rows)


def load_partition(instance: DagsterInstance, workspace_id: str) -> ExecuteInProcessResult:
    result = materialize([dd.kognitos_assets], partition_key=workspace_id, instance=instance,
                         resources={"dlt_resource": DagsterDltResource()})
    assert result.success
    return result


def rows_loaded(result: ExecuteInProcessResult, resource: str) -> int:
    (event,) = [e for e in result.get_asset_materialization_events()
                if e.asset_key == AssetKey(["kognitos", resource])]
    return int(event.materialization.metadata["rows_loaded"].value)  # type: ignore[arg-type]


def discover_partitions(instance: DagsterInstance) -> list[str]:
    """Run the discovery sensor once and apply its requests, as the Dagster daemon would."""
    result = dd.kognitos_workspace_sensor(build_sensor_context(instance=instance))
    assert isinstance(result, SensorResult)
    (request,) = result.dynamic_partitions_requests or []
    keys = list(request.partition_keys)
    instance.add_dynamic_partitions(dd.PARTITIONS_NAME, keys)
    return keys


def test_two_workspace_partitions_load_their_own_rows_with_their_own_state(
    simulator: RunningSimulator, warehouse: Path
) -> None:
    world = simulator.world
    instance = DagsterInstance.ephemeral()
    first, second = discover_partitions(instance)
    assert {first, second} == {short(w["name"]) for w in world.workspaces()}

    result = load_partition(instance, first)
    assert loaded_runs(warehouse, first) == truth_runs(world, first)
    assert rows_loaded(result, "runs") == len(truth_runs(world, first))
    assert {p.partition for p in result.get_asset_materialization_events()} == {first}
    assert query(warehouse, "SELECT count(*) FROM kognitos.runs WHERE workspace_id <> ?", first) == [(0,)]

    load_partition(instance, second)
    assert loaded_runs(warehouse, second) == truth_runs(world, second)
    assert loaded_runs(warehouse, first) == truth_runs(world, first)

    # Separate state: one pipeline per workspace, each tracking only its own workspace's runs.
    names = {name for (name,) in query(warehouse, "SELECT DISTINCT pipeline_name FROM kognitos._dlt_pipeline_state")}
    assert names == {dd.pipeline_name(first), dd.pipeline_name(second)}
    for workspace_id in (first, second):
        state = dlt.attach(dd.pipeline_name(workspace_id)).state["sources"]["kognitos"]["resources"]
        cursors = state["runs"][RUN_TRACKERS]
        assert cursors and all(key.startswith(f"{workspace_id}/") for key in cursors)

    # A later run of one partition moves only that workspace, incrementally from its restored state: it loads
    # exactly the runs that are new or whose state moved.
    before_second = truth_runs(world, second)
    before = {key: value for key, value in run_states(world).items() if key[0] == first}
    world.advance(timedelta(hours=6))
    result = load_partition(instance, first)
    assert loaded_runs(warehouse, first) == truth_runs(world, first)
    moved = {key for key, value in run_states(world).items() if key[0] == first and before.get(key) != value}
    assert 0 < rows_loaded(result, "runs") == len(moved) < len(truth_runs(world, first))
    assert loaded_runs(warehouse, second) == before_second != truth_runs(world, second)


def test_partitions_are_discovered_and_loaded_with_organization_id_unset(
    simulator: RunningSimulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sensor and each partition's run find the token's only organization themselves."""
    monkeypatch.delenv("SOURCES__KOGNITOS__ORGANIZATION_ID")
    world = simulator.world
    instance = DagsterInstance.ephemeral()
    keys = discover_partitions(instance)
    assert set(keys) == {short(w["name"]) for w in world.workspaces()}

    load_partition(instance, keys[0])

    assert loaded_runs(warehouse, keys[0]) == truth_runs(world, keys[0])
    assert query(warehouse, "SELECT DISTINCT organization_id FROM kognitos.runs") == [(world.organization_id,)]


def test_schedule_requests_one_run_per_workspace_partition(simulator: RunningSimulator, warehouse: Path) -> None:
    with instance_for_test() as instance:  # a schedule's context needs an instance it can reference
        assert not isinstance(dd.kognitos_every_15_minutes(build_schedule_context(instance=instance)), list)
        keys = discover_partitions(instance)

        requests = dd.kognitos_every_15_minutes(build_schedule_context(instance=instance))

    assert isinstance(requests, list) and all(isinstance(r, RunRequest) for r in requests)
    assert sorted(r.partition_key or "" for r in requests) == sorted(keys)
    assert dd.kognitos_every_15_minutes.cron_schedule == "*/15 * * * *"
    job = dd.defs.resolve_job_def(dd.JOB_NAME)
    assert job.partitions_def == dd.workspace_partitions
    assert job.op_retry_policy == dd.RETRY_POLICY


def test_load_first_finishes_a_package_an_interrupted_run_left(simulator: RunningSimulator, warehouse: Path) -> None:
    instance = DagsterInstance.ephemeral()
    workspace_id = discover_partitions(instance)[0]
    load_partition(instance, workspace_id)
    simulator.world.advance(timedelta(hours=6))
    pipeline = dd.workspace_pipeline(workspace_id)  # a run killed after extracting and normalizing its package
    pipeline.extract(dd.kognitos_source(workspace_ids=[workspace_id]))
    pipeline.normalize()
    assert pipeline.has_pending_data

    load_partition(instance, workspace_id)

    # The left package was loaded (not dropped with the local folder), then a new load ran from its state.
    assert query(warehouse, "SELECT count(*) FROM kognitos._dlt_loads WHERE status = 0") == [(3,)]
    assert loaded_runs(warehouse, workspace_id) == truth_runs(simulator.world, workspace_id)
    events = query(warehouse, "SELECT count(*), count(DISTINCT (automation_id, run_id, event_index)) "
                              "FROM kognitos.run_events")
    assert events[0][0] == events[0][1] > 0, "an event was loaded twice"


def test_a_child_selected_without_its_parents_is_refused(simulator: RunningSimulator, warehouse: Path) -> None:
    instance = DagsterInstance.ephemeral()
    workspace_id = discover_partitions(instance)[0]

    result = materialize([dd.kognitos_assets], partition_key=workspace_id, instance=instance,
                         resources={"dlt_resource": DagsterDltResource()}, selection=[AssetKey(["kognitos", "runs"])],
                         raise_on_error=False)

    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert "without their parent resource(s) ['automations', 'workspaces']" in failure.event_specific_data.error.message
    assert not warehouse.exists()


def test_only_errors_a_retry_could_get_past_are_retried() -> None:
    assert not dd._failure(ConfigError("organization_id", "no organization id is set", "Set it.")).allow_retries
    assert dd._failure(ServerError(method="GET", url="https://x.invalid/api/v1/runs", status=503)).allow_retries
    assert not dd._failure(AuthError(method="GET", url="https://x.invalid/api/v1/runs", status=401)).allow_retries
    assert dd._failure(OSError("disk full")).allow_retries
