"""Where a load goes: the dlt pipeline kognitos-elt loads with and reads from, and DuckDB's file and settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from .kognitos import ExitCode, KognitosError

DEFAULT_PIPELINE_NAME = "kognitos_elt"
DEFAULT_DATASET_NAME = "kognitos"
DEFAULT_DUCKDB_FILE = "kognitos_elt.duckdb"
"""Not `kognitos.duckdb`: a DuckDB file named like its dataset fails at load time with an ambiguous
catalog/schema error (dlt 1.31, DuckDB 2.0)."""
DUCKDB_SETTINGS: dict[str, Any] = {"preserve_insertion_order": False, "memory_limit": "128MB"}
"""DuckDB's settings while loading: no insertion order, and a memory cap (docs/design.md, "DuckDB's memory while
loading"). A load that does not fit fails with `DuckDBMemoryError`; `[destination.duckdb] memory_limit` raises it."""
DUCKDB_MEMORY_LIMIT_KEY = "destination.duckdb.memory_limit"


class DuckDBPathError(KognitosError, ValueError):
    """The DuckDB file would be named like the dataset, which DuckDB cannot tell apart."""

    exit_code = ExitCode.CONFIG


class DuckDBMemoryError(KognitosError):
    """DuckDB ran out of its memory cap while loading; the package stays pending for the next run."""

    exit_code = ExitCode.CONFIG

    def __init__(self) -> None:
        super().__init__(
            "DuckDB ran out of memory while loading (its cap is [destination.duckdb] memory_limit, default "
            f"{DUCKDB_SETTINGS['memory_limit']}). Raise it, e.g. DESTINATION__DUCKDB__MEMORY_LIMIT=1GB, and run "
            "again: the next run finishes this load from what was already extracted, nothing is fetched twice."
        )


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


def make_pipeline(
    *, destination: Any, dataset_name: str = DEFAULT_DATASET_NAME, pipeline_name: str = DEFAULT_PIPELINE_NAME,
    pipelines_dir: str | None = None, progress: Any = None,
) -> dlt.Pipeline:
    """The dlt pipeline `run` loads with and `models` and `report` read: same name, folder, destination, dataset."""
    options: dict[str, Any] = {"pipelines_dir": pipelines_dir} if pipelines_dir else {}
    if progress:
        options["progress"] = progress
    return dlt.pipeline(pipeline_name=pipeline_name, destination=destination, dataset_name=dataset_name, **options)


def where_duckdb_is(destination: str) -> list[str]:
    """A DuckDB file outside the current folder surprises: dlt pins a relative path to the pipeline's first folder."""
    if not destination.startswith("duckdb:///"):
        return []
    folder = Path(destination.removeprefix("duckdb:///")).parent
    if folder == Path.cwd():
        return []
    return [f"The DuckDB file is in {folder}, not in this folder: dlt resolves a relative path against the folder "
            "where the pipeline first ran. Set DESTINATION__DUCKDB__CREDENTIALS to an absolute path to choose."]
