"""One load of the Kognitos source, as cron and analysts need it: locked, resumable, summarised, then the models."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo
from dlt.extract.source import DltSource
from dlt.pipeline.exceptions import PipelineStepFailed

from kognitos_analytics.builder import (
    ModelsError,
    ModelsOutcome,
    build_after_load,
    build_and_test,
    drop_models,
    loaded_scope,
    refresh_after_load,
)

from .destination import (
    DEFAULT_DATASET_NAME,
    DEFAULT_PIPELINE_NAME,
    DuckDBBusyError,
    DuckDBMemoryError,
    duckdb_file,
    lock_conflict,
    make_pipeline,
    one_duckdb_connection,
    wait_for_duckdb_file,
    where_duckdb_is,
)
from .dlt_settings import load_defaults, unless_configured
from .kognitos import ExitCode, KognitosError, LoadStats, finish_interrupted_loads, kognitos_source
from .kognitos.errors import find_in_chain
from .locking import pipeline_lock
from .memory import rarer_garbage_collection, release_free_memory
from .progress import LIVE_PROGRESS, LoadProgress
from .selection import check_selection

logger = logging.getLogger(__name__)


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
        counts = self.stats.get
        unlisted = counts("automations_not_listed", 0)
        out.append(
            f"Runs new: {counts('runs_new', 0)}, runs updated: {counts('runs_updated', 0)}"
            f"{f' ({unlisted} automations not listed: their run totals had not changed)' if unlisted else ''}, "
            f"exceptions new: {counts('exceptions_new', 0)}, exceptions updated: {counts('exceptions_updated', 0)}, "
            f"API requests: {counts('requests', 0)}."
        )
        if self.models:
            out.append(self.models.line())
        return out


@contextmanager
def _actionable_errors() -> Iterator[None]:
    """Raise the error that says what to fix, keeping dlt's wrapper as its cause."""
    try:
        yield
    except KognitosError:
        raise
    except Exception as failed:
        if (conflict := lock_conflict(failed)) is not None:  # opened by another process since we waited for it
            raise DuckDBBusyError(*conflict, 0.0, writing=True) from failed
        if not isinstance(failed, PipelineStepFailed):
            raise
        if (cause := find_in_chain(failed, (KognitosError,))) is not None:
            raise cause from failed
        # dlt keeps a failed load job's error as text only; this is DuckDB's wording.
        if "Out of Memory Error" in str(failed):
            raise DuckDBMemoryError() from failed
        raise


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
    """`kognitos-elt run` from Python: the pipeline `run` makes (name, folder, destination, dataset), loaded by
    `load_session`. `progress` is "live" (progress.py, for a terminal) or the name of one of dlt's displays."""
    stats = LoadStats()
    live = LoadProgress(stats) if progress == LIVE_PROGRESS else None
    pipeline = make_pipeline(destination=destination, dataset_name=dataset_name, pipeline_name=pipeline_name,
                             pipelines_dir=pipelines_dir, progress=live or progress)
    return load_session(pipeline, resources=resources, refresh=refresh, source_options=source_options,
                        loader_file_format=loader_file_format, models=models, stats=stats, live=live)


def load_session(
    pipeline: dlt.Pipeline,
    *,
    resources: Sequence[str] = (),
    refresh: bool = False,
    source_options: dict[str, Any] | None = None,
    loader_file_format: str | None = None,
    models: bool | None = None,
    stats: LoadStats | None = None,
    live: LoadProgress | None = None,
) -> LoadSummary:
    """One load of the Kognitos source into `pipeline`, the same for every runner (the CLI, Dagster, a script or
    DAG of one's own): under the pipeline's lock, once the DuckDB file is free, finish what an interrupted load
    left without doubling a row, then, with the load's dlt settings and rarer garbage collection, extract, hand the
    extract's free memory back, load, close the source's client, and bring the analytics models up to date. Every
    failure is raised as the error that says what to fix. `models` None means the `[analytics] build_after_load`
    setting (on by default; off for a data engineer who builds the dbt package in their own project).
    """
    started = time.monotonic()
    stats = stats or LoadStats()
    with (pipeline_lock(pipeline.pipelines_dir, pipeline.pipeline_name), _actionable_errors(),
          unless_configured(load_defaults(pipeline)), rarer_garbage_collection(), ExitStack() as cleanup):
        wait_for_duckdb_file(duckdb_file(pipeline))  # an analyst's open DuckDB session: wait, or exit 3 saying so
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
                wait_for_duckdb_file(duckdb_file(pipeline))  # opened by another process since the load began?
                outcome = refresh_after_load(pipeline, scope=loaded_scope(source_options),
                                             events_loaded=bool(rows.get("run_events")))
            except Exception as error:
                failure = _models_failure(error)
    for table in sorted(source.selected_resources):
        logger.info("%s: %d row(s) loaded into %s.%s", table, rows.get(table, 0), pipeline.dataset_name, table)
    destination = str(info.destination_displayable_credentials or info.destination_name)
    return LoadSummary(
        rows=rows, stats=stats.as_dict(), seconds=time.monotonic() - started, resumed_packages=resumed,
        destination=destination, dataset_name=pipeline.dataset_name, load_info=info,
        notes=[*stats.notes(), *where_duckdb_is(destination)], models=outcome, models_failure=failure,
    )


class ModelsBusyError(ModelsError):
    """The load is committed, but another process opened the DuckDB file before the models could be built."""

    exit_code = ExitCode.LOCKED

    def __init__(self, path: str, holder: str) -> None:
        super().__init__(
            f"The load is committed, but the analytics models were not built: the DuckDB file {path} is open in "
            f"another process ({holder}), opened after the load began, and DuckDB lets no other process write it. "
            "Once that session is closed (in DuckDB's shell: .exit), `kognitos-elt models` or the next run builds "
            "them."
        )


def _models_failure(error: Exception) -> ModelsError:
    """What to report of a models build that failed after a committed load: the file another process holds (exit 3),
    wherever the build met it, else dbt's failure (exit 7); anything else is raised."""
    if (conflict := lock_conflict(error)) is not None:
        return ModelsBusyError(*conflict)
    if isinstance(error, ModelsError):
        return error
    raise error


def _extract_then_load(
    pipeline: dlt.Pipeline, source: DltSource, refresh: bool, loader_file_format: str | None
) -> LoadInfo:
    """dlt's `run()` in its steps, to hand the memory the extract freed back before DuckDB takes its own (the load
    step is the process's peak: docs/design.md, "DuckDB's memory while loading")."""
    pipeline.run()  # nothing pending (finished before): syncs state with the destination as run() does first
    pipeline.extract(source, refresh="drop_sources" if refresh else None,  # type: ignore[arg-type]
                     loader_file_format=loader_file_format)  # type: ignore[arg-type]
    release_free_memory()
    with one_duckdb_connection(pipeline):
        info = pipeline.run()  # normalizes and loads the package just extracted
    if info is None:
        raise RuntimeError("dlt extracted no load package, so nothing was loaded (dlt's behaviour changed?)")
    return info


def _rows_written(pipeline: dlt.Pipeline) -> dict[str, int]:
    """Rows per table of the load that just ran (dlt's normalize step counted them); dlt's own tables left out."""
    trace = pipeline.last_trace
    normalize = trace.last_normalize_info if trace else None
    return {t: n for t, n in (normalize.row_counts if normalize else {}).items() if not t.startswith("_dlt")}


def build_models(
    *, destination: Any, dataset_name: str = DEFAULT_DATASET_NAME, pipeline_name: str = DEFAULT_PIPELINE_NAME,
    pipelines_dir: str | None = None,
) -> ModelsOutcome:
    """`kognitos-elt models`: build and test the models where `run` loads, holding the pipeline's lock."""
    pipeline = make_pipeline(destination=destination, dataset_name=dataset_name, pipeline_name=pipeline_name,
                             pipelines_dir=pipelines_dir)
    with pipeline_lock(pipeline.pipelines_dir, pipeline_name), _actionable_errors():
        wait_for_duckdb_file(duckdb_file(pipeline))
        return build_and_test(pipeline)
