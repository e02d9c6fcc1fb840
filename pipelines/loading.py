"""One load of the Kognitos source, as cron and analysts need it: locked, resumable, summarised."""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials
from dlt.extract.source import DltSource
from dlt.pipeline.exceptions import PipelineStepFailed

from sources.kognitos import KognitosError, LoadStats, kognitos_source
from sources.kognitos.errors import error_chain

from .interrupted import finish_interrupted_loads
from .memory import rarer_garbage_collection, release_free_memory
from .models import (
    ModelsError,
    ModelsOutcome,
    build_after_load,
    build_and_test,
    drop_models,
    loads_every_automation,
    refresh_after_load,
)
from .progress import LIVE_PROGRESS, LoadProgress

logger = logging.getLogger(__name__)

DEFAULT_PIPELINE_NAME = "kognitos_elt"
DEFAULT_DATASET_NAME = "kognitos"
DEFAULT_DUCKDB_FILE = "kognitos_elt.duckdb"
"""Not `kognitos.duckdb`: a DuckDB file named like its dataset fails at load time with an ambiguous
catalog/schema error (dlt 1.31, DuckDB 2.0)."""
DUCKDB_SETTINGS: dict[str, Any] = {"preserve_insertion_order": False, "memory_limit": "128MB"}
"""DuckDB's settings while loading: no insertion order, and a memory cap (docs/design.md, "DuckDB's memory while
loading"). A load that does not fit fails with `DuckDBMemoryError`; `[destination.duckdb] memory_limit` raises it."""
DUCKDB_MEMORY_LIMIT_KEY = "destination.duckdb.memory_limit"
EXTRACT_ORDER_SETTING = "extract.next_item_mode"
LOAD_WORKERS_SETTING = "load.workers"


class PipelineLockedError(RuntimeError):
    """Another process is loading the same pipeline (an overlapping cron run)."""


class ResourceSelectionError(ValueError):
    """A child resource was selected without its parent."""


def resource_parents(source: DltSource) -> dict[str, str | None]:
    """Each resource's parent resource: dlt reads a child's parents even when only the child is selected."""
    return {name: (resource._pipe.parent.name if resource.is_transformer else None)  # noqa: SLF001
            for name, resource in source.resources.items()}


def check_selection(source: DltSource, selected: Sequence[str]) -> None:
    """Refuse a child without its parents: the parents' cursors would advance without their rows loaded."""
    parents = resource_parents(source)
    unknown = sorted(set(selected) - parents.keys())
    missing = sorted({ancestor for name in selected for ancestor in _ancestors(parents, name)} - set(selected))
    if unknown:
        raise ResourceSelectionError(f"Unknown resource(s) {unknown}; choose from {sorted(parents)}.")
    if missing:
        raise ResourceSelectionError(
            f"Selected {sorted(selected)} without their parent resource(s) {missing}: dlt would read the parents "
            "and advance their incremental state without loading their rows. Select the parents too."
        )


def _ancestors(parents: dict[str, str | None], name: str) -> Iterator[str]:
    """A resource's parent, the parent's parent, and so on: the whole fix, not one step of it."""
    while (name := parents.get(name) or ""):
        yield name


class DuckDBPathError(ValueError):
    """The DuckDB file would be named like the dataset, which DuckDB cannot tell apart."""


class DuckDBMemoryError(RuntimeError):
    """DuckDB ran out of its memory cap while loading; the package stays pending for the next run."""

    def __init__(self) -> None:
        super().__init__(
            "DuckDB ran out of memory while loading (its cap is [destination.duckdb] memory_limit, default "
            f"{DUCKDB_SETTINGS['memory_limit']}). Raise it, e.g. DESTINATION__DUCKDB__MEMORY_LIMIT=1GB, and run "
            "again: the next run finishes this load from what was already extracted, nothing is fetched twice."
        )


@dataclass
class LoadSummary:
    """What a load did, for the one-screen summary."""

    rows: dict[str, int]
    stats: dict[str, int]
    seconds: float
    resumed_packages: int
    destination: str
    dataset_name: str
    load_info: LoadInfo | None = field(default=None, repr=False)
    notes: list[str] = field(default_factory=list)
    models: ModelsOutcome | None = None
    models_failure: ModelsError | None = None
    """The models could not be built after a load that is committed: the caller reports it after the summary."""

    def lines(self) -> list[str]:
        out = [f"Loaded into {self.destination}, dataset {self.dataset_name!r} in {self.seconds:.1f}s.", *self.notes]
        if self.resumed_packages:
            out.append(f"First finished {self.resumed_packages} package(s) left by an interrupted load.")
        if self.rows:
            out.append("Rows written: " + ", ".join(f"{t} {n}" for t, n in sorted(self.rows.items())))
        else:
            out.append("Rows written: none (nothing new).")
        out.append(
            f"Runs new: {self.stats.get('runs_new', 0)}, runs updated: {self.stats.get('runs_updated', 0)}, "
            f"API requests: {self.stats.get('requests', 0)}."
        )
        if self.models:
            out.append(self.models.line())
        return out


def find_in_chain(error: BaseException, kinds: tuple[type[BaseException], ...]) -> BaseException | None:
    """The first exception of one of `kinds` in an error's chain: dlt wraps source errors in its own."""
    return next((cause for cause in error_chain(error) if isinstance(cause, kinds)), None)


@contextmanager
def pipeline_lock(pipelines_dir: str, pipeline_name: str) -> Iterator[None]:
    """Hold an exclusive lock for the pipeline; the OS drops it when its holder dies, so stale locks vanish."""
    Path(pipelines_dir).mkdir(parents=True, exist_ok=True)
    path = Path(pipelines_dir) / f"{pipeline_name}.lock"
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise PipelineLockedError(
                f"Another kognitos-elt load of pipeline {pipeline_name!r} is running (pid {holder}, lock "
                f"{path}). This run did nothing; the next scheduled run will catch up."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def load_defaults(pipeline: dlt.Pipeline) -> dict[str, Any]:
    """dlt settings kognitos-elt's loads use unless the user configured them (docs/design.md, "One worker pool per
    client, depth-first extraction" and "DuckDB's memory while loading"):

    - depth-first extraction (`fifo`), which holds one page per table where dlt's `round_robin` holds up to 20;
    - into DuckDB, load jobs one at a time: DuckDB spreads each job over its threads, and four jobs at once took as
      long and ~60 MB more at medium.
    """
    defaults: dict[str, Any] = {EXTRACT_ORDER_SETTING: "fifo"}
    if isinstance(pipeline.destination, dlt.destinations.duckdb):
        defaults[LOAD_WORKERS_SETTING] = 1
    return defaults


@contextmanager
def unless_configured(settings: dict[str, Any]) -> Iterator[None]:
    """Apply dlt settings for one load where the user set nothing; they are process-wide (a Dagster process runs
    other pipelines too), so they are put back when the load ends. Building a source changes no setting."""
    chosen = {key: value for key, value in settings.items() if dlt.config.get(key) is None}
    for key, value in chosen.items():
        dlt.config[key] = value
    try:
        yield
    finally:
        for key in chosen:
            dlt.config[key] = None


@contextmanager
def _actionable_step_errors() -> Iterator[None]:
    """Raise the error that says what to fix, keeping dlt's wrapper as its cause."""
    try:
        yield
    except PipelineStepFailed as failed:
        if (cause := find_in_chain(failed, (KognitosError,))) is not None:
            raise cause from failed
        # dlt keeps a failed load job's error as text only; this is DuckDB's wording.
        if "Out of Memory Error" in str(failed):
            raise DuckDBMemoryError() from failed
        raise


def duckdb_destination(dataset_name: str, path: str | None = None) -> Any:
    """DuckDB in the working directory by default; `destination.duckdb.credentials` config moves it."""
    configured = path or dlt.config.get("destination.duckdb.credentials")
    target = str(configured) if configured else DEFAULT_DUCKDB_FILE
    if target.endswith(".duckdb") and Path(target).stem == dataset_name:
        raise DuckDBPathError(
            f"The DuckDB file {target!r} is named like the dataset {dataset_name!r}; DuckDB would fail at the "
            "load step with an ambiguous catalog/schema error. Name the file differently "
            f"(e.g. {DEFAULT_DUCKDB_FILE!r}) or pick another --dataset-name."
        )
    settings = dict(DUCKDB_SETTINGS)
    memory_limit: str | None = dlt.config.get(DUCKDB_MEMORY_LIMIT_KEY)
    if memory_limit:
        settings["memory_limit"] = memory_limit
    credentials = DuckDbCredentials(target, global_config=settings)
    return dlt.destinations.duckdb(credentials=credentials)


def kognitos_pipeline(
    *, destination: Any, dataset_name: str = DEFAULT_DATASET_NAME, pipeline_name: str = DEFAULT_PIPELINE_NAME,
    pipelines_dir: str | None = None, progress: Any = None,
) -> dlt.Pipeline:
    """The pipeline `run` loads with and `models` and `report` read: same name, folder, destination and dataset."""
    options: dict[str, Any] = {"pipelines_dir": pipelines_dir} if pipelines_dir else {}
    if progress:
        options["progress"] = progress
    return dlt.pipeline(pipeline_name=pipeline_name, destination=destination, dataset_name=dataset_name, **options)


def run_load(
    *,
    destination: Any,
    dataset_name: str = DEFAULT_DATASET_NAME,
    pipeline_name: str = DEFAULT_PIPELINE_NAME,
    pipelines_dir: str | None = None,
    resources: Sequence[str] = (),
    refresh: bool = False,
    progress: str | None = None,
    source_options: dict[str, Any] | None = None,
    loader_file_format: str | None = None,
    models: bool | None = None,
) -> LoadSummary:
    """Finish what an interrupted load left, load what is new, then bring the analytics models up to date,
    holding the pipeline's lock throughout. `models` None means the `[analytics] build_after_load` setting (on
    by default; off for a data engineer who builds the dbt package in their own project).

    `progress` is "live" (pipelines/progress.py, for a terminal) or the name of one of dlt's displays.
    """
    started = time.monotonic()
    stats = LoadStats()
    live = LoadProgress(stats) if progress == LIVE_PROGRESS else None
    pipeline = kognitos_pipeline(destination=destination, dataset_name=dataset_name, pipeline_name=pipeline_name,
                                 pipelines_dir=pipelines_dir, progress=live or progress)
    with (pipeline_lock(pipeline.pipelines_dir, pipeline_name), _actionable_step_errors(),
          unless_configured(load_defaults(pipeline)), rarer_garbage_collection(), ExitStack() as cleanup):
        # dlt's run() would only finish these and extract nothing: finish them, then load what is new.
        resumed = finish_interrupted_loads(pipeline)
        source = kognitos_source(stats=stats, cleanup=cleanup, **(source_options or {}))
        if resources:
            check_selection(source, resources)
            source = source.with_resources(*resources)
        if live and "run_events" not in source.selected_resources:
            live.runs_counter = "runs_listed"
        if refresh:
            drop_models(pipeline)
        info = _extract_then_load(pipeline, source, refresh, loader_file_format)
        rows = _rows_written(pipeline)
        outcome, failure = None, None
        if models if models is not None else build_after_load():
            try:
                outcome = refresh_after_load(pipeline, all_automations=loads_every_automation(source_options),
                                             events_loaded=bool(rows.get("run_events")))
            except ModelsError as error:
                failure = error
    for table in sorted(source.selected_resources):
        logger.info("%s: %d row(s) loaded into %s.%s", table, rows.get(table, 0), dataset_name, table)
    destination = str(info.destination_displayable_credentials or info.destination_name)
    return LoadSummary(
        rows=rows, stats=stats.as_dict(), seconds=time.monotonic() - started, resumed_packages=resumed,
        destination=destination, dataset_name=dataset_name, load_info=info, notes=_where_duckdb_is(destination),
        models=outcome, models_failure=failure,
    )


def _extract_then_load(
    pipeline: dlt.Pipeline, source: DltSource, refresh: bool, loader_file_format: str | None
) -> LoadInfo:
    """dlt's `run()` in its steps, to hand the memory the extract freed back before DuckDB takes its own (the load
    step is the process's peak: docs/design.md, "DuckDB's memory while loading")."""
    pipeline.run()  # nothing pending (finished before): syncs state with the destination as run() does first
    pipeline.extract(source, refresh="drop_sources" if refresh else None,  # type: ignore[arg-type]
                     loader_file_format=loader_file_format)  # type: ignore[arg-type]
    release_free_memory()
    info = pipeline.run()  # normalizes and loads the package just extracted
    if info is None:
        raise RuntimeError("dlt extracted no load package, so nothing was loaded (dlt's behaviour changed?)")
    return info


def _rows_written(pipeline: dlt.Pipeline) -> dict[str, int]:
    """Rows per table of the load that just ran (dlt's normalize step counted them); dlt's own tables left out."""
    trace = pipeline.last_trace
    normalize = trace.last_normalize_info if trace else None
    return {t: n for t, n in (normalize.row_counts if normalize else {}).items() if not t.startswith("_dlt")}


def _where_duckdb_is(destination: str) -> list[str]:
    """A DuckDB file outside the current folder surprises: dlt pins a relative path to the pipeline's first folder."""
    if not destination.startswith("duckdb:///"):
        return []
    folder = Path(destination.removeprefix("duckdb:///")).parent
    if folder == Path.cwd():
        return []
    return [f"The DuckDB file is in {folder}, not in this folder: dlt resolves a relative path against the folder "
            "where the pipeline first ran. Set DESTINATION__DUCKDB__CREDENTIALS to an absolute path to choose."]


def build_models(
    *, destination: Any, dataset_name: str = DEFAULT_DATASET_NAME, pipeline_name: str = DEFAULT_PIPELINE_NAME,
    pipelines_dir: str | None = None,
) -> ModelsOutcome:
    """`kognitos-elt models`: build and test the models where `run` loads, holding the pipeline's lock."""
    pipeline = kognitos_pipeline(destination=destination, dataset_name=dataset_name, pipeline_name=pipeline_name,
                                 pipelines_dir=pipelines_dir)
    with pipeline_lock(pipeline.pipelines_dir, pipeline_name):
        return build_and_test(pipeline)
