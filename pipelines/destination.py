"""Where a load goes: the dlt pipeline kognitos-elt loads with and reads from, and DuckDB's file and settings."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import dlt
import duckdb
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from .kognitos import ExitCode, KognitosError
from .kognitos.errors import error_chain

DEFAULT_PIPELINE_NAME = "kognitos_elt"
DEFAULT_DATASET_NAME = "kognitos"
DEFAULT_DUCKDB_FILE = "kognitos_elt.duckdb"
"""Not `kognitos.duckdb`: a DuckDB file named like its dataset fails at load time with an ambiguous
catalog/schema error (dlt 1.31, DuckDB 2.0)."""
DUCKDB_SETTINGS: dict[str, Any] = {"preserve_insertion_order": False, "memory_limit": "128MB"}
"""DuckDB's settings while loading: no insertion order, and a memory cap (docs/design.md, "DuckDB's memory while
loading"). A load that does not fit fails with `DuckDBMemoryError`; `[destination.duckdb] memory_limit` raises it."""
DUCKDB_MEMORY_LIMIT_KEY = "destination.duckdb.memory_limit"
DUCKDB_LOCK_WAIT_KEY = "destination.duckdb.lock_wait_seconds"
DEFAULT_DUCKDB_LOCK_WAIT_SECONDS = 10.0
"""How long a command waits for a DuckDB file another process has open before it gives up (exit 3)."""
_LOCK_CONFLICT = re.compile(r'Could not set lock on file "(?P<path>[^"]*)": Conflicting lock is held in '
                            r"(?P<program>.*?) \(PID (?P<pid>\d+)\)")
"""DuckDB's words (1.5) when another process has the file open: a writer excludes every other process, readers
exclude writers."""


class DuckDBPathError(KognitosError, ValueError):
    """The DuckDB file would be named like the dataset, which DuckDB cannot tell apart."""

    exit_code = ExitCode.CONFIG


class DuckDBBusyError(KognitosError):
    """Another process has the DuckDB file open, so this one cannot open it as it needs; nothing was changed."""

    exit_code = ExitCode.LOCKED

    def __init__(self, path: str, holder: str, waited: float, *, writing: bool) -> None:
        self.path = path
        self.holder = holder
        need = "write it" if writing else "read it while that process writes it"
        super().__init__(
            f"The DuckDB file {path} is open in another process ({holder}), and DuckDB lets no other process "
            f"{need}. Waited {waited:.0f} s ([destination.duckdb] lock_wait_seconds); this run changed nothing "
            "and lost nothing: the next run loads everything new. To read beside the loads, close that session "
            "when done (in DuckDB's shell: .exit), or read with `kognitos-elt status` / `kognitos-elt report`, "
            "which open the file read-only for a moment, or load PostgreSQL, which serves many readers at once."
        )


def lock_conflict(error: BaseException) -> tuple[str, str] | None:
    """(file, "PID n, program") when DuckDB refused a file another process holds, in `error` or behind it."""
    for cause in error_chain(error):
        if found := _LOCK_CONFLICT.search(str(cause)):
            return found["path"], f"PID {found['pid']}, {found['program']}"
    return None


def wait_for_duckdb_file(path: str | None, *, read_only: bool = False) -> None:
    """Wait until this process can open the DuckDB file (read-only or to write), for up to `[destination.duckdb]
    lock_wait_seconds`; then `DuckDBBusyError`. A file that does not exist yet is free."""
    if not path or not Path(path).exists():
        return
    wait = float(dlt.config.get(DUCKDB_LOCK_WAIT_KEY) or DEFAULT_DUCKDB_LOCK_WAIT_SECONDS)
    started = time.monotonic()
    while True:
        try:
            duckdb.connect(path, read_only=read_only).close()
            return
        except duckdb.IOException as error:
            conflict = lock_conflict(error)
            waited = time.monotonic() - started
            if conflict is None:
                raise
            if waited >= wait:
                raise DuckDBBusyError(path, conflict[1], waited, writing=not read_only) from error
            time.sleep(min(0.5, wait - waited))


def duckdb_credentials(pipeline: dlt.Pipeline) -> DuckDbCredentials | None:
    """The DuckDB credentials a pipeline loads with (file, settings), None for another destination (opens no
    connection)."""
    if not isinstance(pipeline.destination, dlt.destinations.duckdb):
        return None
    return cast(DuckDbCredentials, pipeline.destination_client().config.credentials)  # type: ignore[attr-defined]


def duckdb_file(pipeline: dlt.Pipeline) -> str | None:
    """The DuckDB file a pipeline loads into or reads, None for another destination (opens no connection)."""
    credentials = duckdb_credentials(pipeline)
    return None if credentials is None else str(credentials.database)


@contextmanager
def one_duckdb_connection(pipeline: dlt.Pipeline) -> Iterator[None]:
    """The DuckDB file opened once for what runs inside (the load step), other destinations as they are.

    dlt opens the file for each job of a load and closes it when the job ends, each close a checkpoint. Its own
    connection is lent to every job instead (dlt never closes a connection it was given), with the same settings
    (the memory cap), and closed after (docs/design.md)."""
    if (configured := duckdb_credentials(pipeline)) is None:
        yield
        return
    connection = duckdb.connect(str(configured.database))
    own: Any = pipeline.destination
    pipeline.destination = dlt.destinations.duckdb(  # type: ignore[assignment]  # a Destination, typed narrower
        credentials=DuckDbCredentials(connection, global_config=configured.global_config))
    try:
        yield
    finally:
        pipeline.destination = own
        connection.close()


def opened_read_only(pipeline: dlt.Pipeline) -> dlt.Pipeline:
    """The same pipeline reading its DuckDB file read-only (beside other readers), once the file is free to read;
    other destinations as they are."""
    if (path := duckdb_file(pipeline)) is None:
        return pipeline
    wait_for_duckdb_file(path, read_only=True)
    pipeline.destination = dlt.destinations.duckdb(  # type: ignore[assignment]  # a Destination, typed narrower
        credentials=DuckDbCredentials(path, read_only=True))
    return pipeline


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
