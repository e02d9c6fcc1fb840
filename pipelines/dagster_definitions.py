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
"""

# No `from __future__ import annotations`: Dagster reads the asset function's annotations at definition time.
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from typing import cast

import dlt
from dagster import (
    AddDynamicPartitionsRequest,
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    AssetSpec,
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
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData
from dlt.extract.source import DltSource
from dlt.pipeline.exceptions import PipelineStepFailed

from .destination import DEFAULT_DATASET_NAME, duckdb_destination
from .kognitos import KognitosError, RetryableError, kognitos_source
from .kognitos.errors import find_in_chain
from .selection import resource_parents
from .session import load_session

PIPELINE_PREFIX = "kognitos_"
JOB_NAME = "kognitos_load"
SCHEDULE_CRON = "*/15 * * * *"

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
    dataset_name = str(dlt.config.get("dataset_name") or DEFAULT_DATASET_NAME)
    configured: str | None = dlt.config.get("destination_type")
    destination = configured if configured and configured != "duckdb" else duckdb_destination(dataset_name)
    return dlt.pipeline(pipeline_name=pipeline_name(workspace_id), destination=destination,
                        dataset_name=dataset_name)


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
    pool="kognitos_load",
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
    for name in selected:
        metadata = dlt_resource.extract_resource_metadata(context, SPEC_SOURCE.resources[name], summary.load_info,
                                                          pipeline)
        yield MaterializeResult(asset_key=AssetKey(["kognitos", name]), metadata=metadata)


kognitos_job = define_asset_job(
    JOB_NAME, selection=AssetSelection.assets(kognitos_assets), op_retry_policy=RETRY_POLICY,
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
    assets=[kognitos_assets],
    jobs=[kognitos_job],
    schedules=[kognitos_every_15_minutes],
    sensors=[kognitos_workspace_sensor],
    resources={"dlt_resource": DagsterDltResource()},
)
