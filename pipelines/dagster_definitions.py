"""Dagster definitions for kognitos-elt: one asset per dlt resource, one partition (and one dlt pipeline) per workspace.

    dagster dev -m kognitos_elt.dagster_definitions        # needs `pip install "kognitos-elt[dagster]"`

Configuration is dlt's own (`.dlt/*.toml` or env vars under `sources.kognitos`), read when a run starts, never at
import. The destination is dlt's `destination_type` (default DuckDB, `kognitos_elt.duckdb` in the working
directory) and the dataset dlt's `dataset_name` (default `kognitos`): every workspace loads into the same
tables, keyed by `workspace_id`, through its own pipeline `kognitos_<workspace_id>` whose state is its own.

Partitions are dynamic: `kognitos_workspace_sensor` lists the workspaces the token can see (or the configured
`workspace_ids`) and adds new ones and removes vanished ones, so a new workspace is loaded without a redeploy
and loading the code location never calls the API. `kognitos_every_15_minutes` starts one run per workspace
whose previous run has finished.

The analytics models (the dbt project kognitos_analytics) are Dagster assets too, `kognitos_analytics/<model>`,
downstream of the tables they read (the dbt source `kognitos` maps onto the dlt assets). They read every
workspace, so they are not partitioned: an automation condition builds them once the partition loads of a
round have finished (`kognitos_models_after_loads`), in the same pool as the loads (DuckDB has one writer).
Their dbt manifest is parsed once per project version into dlt's data folder, without the network or a
warehouse; each build writes its dbt profile from the destination the loads use (kognitos_analytics.builder).
"""

# No `from __future__ import annotations`: Dagster reads the asset function's annotations at definition time.
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import dlt
from dagster import (
    AddDynamicPartitionsRequest,
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    AssetSpec,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    Backoff,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    DeleteDynamicPartitionsRequest,
    DynamicPartitionsDefinition,
    Failure,
    Jitter,
    MaterializeResult,
    RetryPolicy,
    RunRequest,
    RunsFilter,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    schedule,
    sensor,
)
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData
from dlt.extract.source import DltSource
from dlt.pipeline.exceptions import PipelineStepFailed

from kognitos_analytics import PROJECT_DIR
from kognitos_analytics.builder import (
    BUILD_INFO_TABLE,
    PROFILE_NAME,
    SOURCE_TABLES,
    _destination_facts,
    analytics_schema,
    dbt_profile,
    loaded_scope,
    model_variables,
)

from .destination import DEFAULT_DATASET_NAME, duckdb_destination, duckdb_file, wait_for_duckdb_file
from .kognitos import KognitosError, RetryableError, kognitos_source
from .kognitos.errors import find_in_chain
from .selection import resource_parents
from .session import load_session

PIPELINE_PREFIX = "kognitos_"
JOB_NAME = "kognitos_load"
SCHEDULE_CRON = "*/15 * * * *"
POOL = "kognitos_load"
"""The loads' and the models' Dagster pool: with DuckDB, `dagster instance concurrency set kognitos_load 1`."""
MODELS_PIPELINE = "kognitos_models"
"""The dlt pipeline the models are built through: it never loads; it names the destination and keeps dbt's files."""
MODELS_JOB_NAME = "kognitos_models"
DBT_SOURCE = "kognitos"
"""The dbt source (kognitos_analytics/models/sources.yml) whose tables are the dlt assets `kognitos/<table>`."""

PARTITIONS_NAME = "kognitos_workspaces"
workspace_partitions = DynamicPartitionsDefinition(name=PARTITIONS_NAME)

RETRY_POLICY = RetryPolicy(max_retries=3, delay=60, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)
"""On top of the client's own per-request retries: rides out longer outages and destination hiccups."""

_ACTIVE = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
           DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def pipeline_name(workspace_id: str) -> str:
    """A workspace's dlt pipeline name: its own name gives it its own state, locally and in the destination."""
    return f"{PIPELINE_PREFIX}{workspace_id}"


def workspace_pipeline(workspace_id: str) -> dlt.Pipeline:
    """The workspace's pipeline, into the shared dataset; destination and dataset come from dlt config."""
    return _configured_pipeline(pipeline_name(workspace_id))


def models_pipeline() -> dlt.Pipeline:
    """The pipeline the models are built through: the same destination and dataset as every workspace's."""
    return _configured_pipeline(MODELS_PIPELINE)


def _configured_pipeline(name: str) -> dlt.Pipeline:
    dataset_name = str(dlt.config.get("dataset_name") or DEFAULT_DATASET_NAME)
    configured: str | None = dlt.config.get("destination_type")
    destination = configured if configured and configured != "duckdb" else duckdb_destination(dataset_name)
    return dlt.pipeline(pipeline_name=name, destination=destination, dataset_name=dataset_name)


def discover_workspace_ids() -> list[str]:
    """Workspaces to load: the configured `workspace_ids`, else every workspace the token can see."""
    found: list[str] = []
    with ExitStack() as cleanup:
        for page in kognitos_source(cleanup=cleanup).with_resources("workspaces"):
            found.extend(page.column("workspace_id").to_pylist())
    return sorted(set(found))


def _spec_source() -> DltSource:
    """The source, only to list its resources for the asset specs: placeholders, so import needs no config.

    The runs build their own source per workspace from the real configuration; this one is never iterated (and
    a `.invalid` host could not be reached if it were).
    """
    return kognitos_source(access_token="not-a-token-asset-specs-only", organization_id="asset-specs",
                           base_url="https://asset-specs.invalid")


SPEC_SOURCE = _spec_source()
PARENTS: Mapping[str, str | None] = resource_parents(SPEC_SOURCE)


class KognitosTranslator(DagsterDltTranslator):
    """Asset keys `kognitos/<resource>`, lineage from the dlt resource tree, one group."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> AssetSpec:
        parent = PARENTS.get(data.resource.name)
        return super().get_asset_spec(data).replace_attributes(
            key=AssetKey(["kognitos", data.resource.name]),
            deps=[AssetKey(["kognitos", parent])] if parent else [],
            group_name="kognitos",
            kinds={"dlt", "kognitos"},
        )


def _failure(error: BaseException) -> Failure:
    """A Dagster failure saying what to fix; only errors a later attempt could get past are retried."""
    cause = find_in_chain(error, (KognitosError,)) or error
    permanent = isinstance(cause, KognitosError) and not isinstance(cause, RetryableError)
    return Failure(f"{type(cause).__name__}: {cause}", allow_retries=not permanent)


@dlt_assets(
    dlt_source=SPEC_SOURCE,
    # Specs need only the resources; the pipeline is per workspace and made at run time (one made here would
    # create a working folder at import).
    dlt_pipeline=cast(dlt.Pipeline, None),
    name="kognitos",
    dagster_dlt_translator=KognitosTranslator(),
    partitions_def=workspace_partitions,
    pool=POOL,
)
def kognitos_assets(context: AssetExecutionContext, dlt_resource: DagsterDltResource) -> Iterator[MaterializeResult]:
    """Load one workspace (the partition) through its own pipeline, by the load session `kognitos-elt run` uses
    (lock, finishing an interrupted load, settings, memory, errors; session.py); the dbt assets build the models.

    The pipeline's local folder is kept between runs (where DagsterDltResource would drop it), so that a package a
    killed run left is finished without doubling a row; state also comes back from the destination when it is lost.
    """
    workspace_id = context.partition_key
    pipeline = workspace_pipeline(workspace_id)
    chosen = {key.path[-1] for key in context.selected_asset_keys}
    selected = [name for name in SPEC_SOURCE.resources if name in chosen]  # parents first, as Dagster wants them
    try:
        summary = load_session(pipeline, resources=selected, source_options={"workspace_ids": [workspace_id]},
                               models=False)
    except (PipelineStepFailed, KognitosError) as error:
        raise _failure(error) from error
    if summary.resumed_packages:
        context.log.info("Finished %d load package(s) an interrupted run of %s left", summary.resumed_packages,
                         workspace_id)
    assert summary.load_info is not None  # load_session always returns the load's info
    for name in selected:
        metadata = dlt_resource.extract_resource_metadata(context, SPEC_SOURCE.resources[name], summary.load_info,
                                                          pipeline)
        yield MaterializeResult(asset_key=AssetKey(["kognitos", name]), metadata=metadata)


kognitos_job = define_asset_job(
    JOB_NAME, selection=AssetSelection.assets(kognitos_assets), op_retry_policy=RETRY_POLICY,
)


def dbt_manifest() -> Path:
    """The dbt project's manifest, which Dagster needs to define the model assets: `dbt parse` once per version of
    the project and of dbt, kept in dlt's data folder (DLT_DATA_DIR) for every later import.

    Parsing reads only the project's files: its profile is a placeholder DuckDB in memory (dbt parse opens no
    connection), so importing the definitions needs neither the network, nor the warehouse, nor its credentials.
    The manifest names the models and what they read; each build compiles them again for the real destination.
    """
    digest = hashlib.sha256(version("dbt-core").encode())
    for path in sorted(PROJECT_DIR.rglob("*")):
        if path.suffix in (".sql", ".yml"):
            digest.update(b"\0" + str(path.relative_to(PROJECT_DIR)).encode() + b"\0" + path.read_bytes())
    folder = Path(dlt.current.run_context().data_dir) / "kognitos_analytics"
    manifest = folder / f"manifest-{digest.hexdigest()[:16]}.json"
    if manifest.exists():
        return manifest
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="parse-", dir=folder) as scratch:
        placeholder = {"type": "duckdb", "path": ":memory:", "schema": DEFAULT_DATASET_NAME}
        Path(scratch, "profiles.yml").write_text(
            json.dumps({PROFILE_NAME: {"target": "parse", "outputs": {"parse": placeholder}}}))
        parsed = subprocess.run(
            [sys.executable, "-c", "from dbt.cli.main import cli; cli()", "parse", "--project-dir", str(PROJECT_DIR),
             "--profiles-dir", scratch, "--target-path", str(Path(scratch, "target")), "--log-path", scratch,
             "--no-partial-parse", "--no-use-colors", "--quiet"],
            env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}, capture_output=True, text=True, check=False,
        )
        if parsed.returncode != 0:
            raise RuntimeError(f"dbt parse of the analytics models failed (exit {parsed.returncode}):\n"
                               f"{parsed.stdout[-4000:]}{parsed.stderr[-4000:]}")
        os.replace(Path(scratch, "target", "manifest.json"), manifest)  # atomic: a concurrent import reads all or none
    return manifest


MODELS_CONDITION = AutomationCondition.eager().without(~AutomationCondition.any_deps_missing())
"""Build when a table the model reads (or a model it reads) was updated, once no load of any workspace is in
progress; not held back by a workspace that never loaded (a new one, or one that keeps failing)."""


class KognitosDbtTranslator(DagsterDbtTranslator):
    """The dbt source's tables are the dlt assets `kognitos/<table>`; models are `kognitos_analytics/<model>`."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source" and dbt_resource_props["source_name"] == DBT_SOURCE:
            return AssetKey(["kognitos", dbt_resource_props["name"]])
        return AssetKey(["kognitos_analytics", dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "kognitos_analytics"

    def get_automation_condition(self, dbt_resource_props: Mapping[str, Any]) -> AutomationCondition | None:
        return MODELS_CONDITION

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Any) -> AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if spec.key == AssetKey(["kognitos_analytics", BUILD_INFO_TABLE]):
            # It records what the models were built from, the loaded tables' schema among it: rebuilt with them, so
            # that a build's fingerprint is kept and the next build is not a full refresh again.
            return spec.merge_attributes(deps=[AssetKey(["kognitos", table]) for table in SOURCE_TABLES])
        return spec


@dataclass(frozen=True)
class _Dataset:
    """What `model_variables` reads of a pipeline, for the dataset every workspace's pipeline loads."""

    dataset_name: str
    default_schema: Any


@contextmanager
def _environment(variables: Mapping[str, str]) -> Iterator[None]:
    """DagsterDbtResource hands dbt this process's environment: the password's DBT_ENV_SECRET_ variable, meanwhile."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _dbt_executable() -> str:
    """The dbt of this interpreter's environment (the `analytics` extra's), found whether or not it is on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else "dbt"


@dbt_assets(manifest=dbt_manifest(), name="kognitos_analytics", dagster_dbt_translator=KognitosDbtTranslator(),
            pool=POOL)
def kognitos_models(context: AssetExecutionContext) -> Iterator[Any]:
    """`dbt build` (the models, then their tests as asset checks) into `<dataset>_analytics` of the destination the
    loads write, with the vars `kognitos-elt run` passes; a full refresh when what they are built from changed."""
    pipeline = models_pipeline()
    present, built_from = _destination_facts(pipeline)
    if missing := [table for table in SOURCE_TABLES if table not in present]:
        raise Failure(f"The models read the table(s) {', '.join(missing)}, not loaded into dataset "
                      f"{pipeline.dataset_name!r} yet: materialize the kognitos assets of a workspace first.",
                      allow_retries=False)
    with pipeline.destination_client() as client:
        stored = client.get_stored_schema(SPEC_SOURCE.schema.name)  # type: ignore[attr-defined]
    dataset = _Dataset(pipeline.dataset_name, SimpleNamespace(version_hash=stored.version_hash if stored else ""))
    variables = model_variables(cast(dlt.Pipeline, dataset), loaded_scope())
    target, secrets = dbt_profile(pipeline)
    wait_for_duckdb_file(duckdb_file(pipeline))
    arguments = ["build", "--vars", json.dumps(variables)]
    if built_from != variables["kognitos_build_fingerprint"]:
        arguments.append("--full-refresh")  # as `kognitos-elt run` does: the incremental node_timings from scratch
    target_path = Path(pipeline.working_dir) / "dbt" / "target" / context.run.run_id
    context.log.info("dbt %s into %s", " ".join(arguments[:1] + arguments[3:]), analytics_schema(pipeline.dataset_name))
    with tempfile.TemporaryDirectory(prefix="kognitos-dbt-") as profiles_dir, _environment(secrets):
        Path(profiles_dir, "profiles.yml").write_text(
            json.dumps({PROFILE_NAME: {"target": "kognitos", "outputs": {"kognitos": target}}}))  # JSON is YAML
        dbt = DbtCliResource(project_dir=os.fspath(PROJECT_DIR), profiles_dir=profiles_dir, profile=PROFILE_NAME,
                             target="kognitos", dbt_executable=_dbt_executable())
        yield from dbt.cli(arguments, context=context, target_path=target_path).stream()
    shutil.rmtree(target_path, ignore_errors=True)  # kept only when dbt failed: its logs and run results


kognitos_models_job = define_asset_job(MODELS_JOB_NAME, selection=AssetSelection.assets(kognitos_models))

kognitos_models_after_loads = AutomationConditionSensorDefinition(
    "kognitos_models_after_loads", target=AssetSelection.assets(kognitos_models),
    default_status=DefaultSensorStatus.RUNNING, minimum_interval_seconds=60,
)


@sensor(minimum_interval_seconds=15 * 60, default_status=DefaultSensorStatus.RUNNING)
def kognitos_workspace_sensor(context: SensorEvaluationContext) -> SensorResult:
    """Keep one partition per workspace: add new workspaces, remove those the token no longer sees."""
    found = set(discover_workspace_ids())
    known = set(context.instance.get_dynamic_partitions(PARTITIONS_NAME))
    requests: list[AddDynamicPartitionsRequest | DeleteDynamicPartitionsRequest] = []
    if found - known:
        requests.append(workspace_partitions.build_add_request(sorted(found - known)))
    if known - found:
        requests.append(workspace_partitions.build_delete_request(sorted(known - found)))
    return SensorResult(dynamic_partitions_requests=requests)


@schedule(job=kognitos_job, cron_schedule=SCHEDULE_CRON, default_status=DefaultScheduleStatus.RUNNING)
def kognitos_every_15_minutes(context: ScheduleEvaluationContext) -> list[RunRequest] | SkipReason:
    """One run per workspace, skipping a workspace whose previous run is still queued or running."""
    keys = context.instance.get_dynamic_partitions(PARTITIONS_NAME)
    if not keys:
        return SkipReason("No workspace partitions yet: kognitos_workspace_sensor adds them.")
    active = context.instance.get_runs(RunsFilter(job_name=JOB_NAME, statuses=_ACTIVE))
    busy = {run.tags.get("dagster/partition") for run in active}
    requests = [RunRequest(partition_key=key) for key in keys if key not in busy]
    return requests or SkipReason("Every workspace's previous run is still going.")


defs = Definitions(
    assets=[kognitos_assets, kognitos_models],
    jobs=[kognitos_job, kognitos_models_job],
    schedules=[kognitos_every_15_minutes],
    sensors=[kognitos_workspace_sensor, kognitos_models_after_loads],
    resources={"dlt_resource": DagsterDltResource()},
)
