"""`kognitos-elt run` that SIGKILLs itself at one event of dlt's load step, or records every event.

`run_in_fork(...)` runs the CLI in a process forked from a server that has already imported it (stdlib
multiprocessing's forkserver): a real process, killed for real, without a fresh interpreter's second or two of
imports for each of the many loads the crash tests run.

An event is what the load package's folder sees, named by table and format rather than by the random file id,
so that one load's events name the same points in another load of the same data:
`started_jobs/runs.parquet#1` is the first time a runs parquet job appeared in `started_jobs/`. Besides job
files moving between `new_jobs/`, `started_jobs/` and `completed_jobs/`, it records the markers dlt writes
into `.pending_transitions/` (`marked/...`) and, just before each, the moment the destination has committed the
job but nothing on disk says so yet (`committed/...`): the gap that dlt cannot close (dlt-hub/dlt#3767).

The process kills itself from inside, at the event, instead of being killed from outside when a watcher
notices a file: a watcher would race the load's threads and could never hit the commit gap on purpose.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from dlt.common.storages.file_storage import FileStorage
from dlt.common.storages.load_package import PackageStorage, ParsedLoadJobFileName

from kognitos_elt.cli import main as kognitos_elt

JOB_FOLDERS = frozenset({"new_jobs", "started_jobs", "completed_jobs", "failed_jobs"})


class LoadStepEvents:
    """Counts the events of the load step; records them to a file and kills the process at the chosen one."""

    def __init__(self, kill_at: str | None, record_to: Path | None) -> None:
        self.kill_at, self.record_to = kill_at, record_to
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()

    def happened(self, kind: str, path: str) -> None:
        job = ParsedLoadJobFileName.parse(Path(path).name)
        load_id = next(part for part in reversed(Path(path).parts) if part.replace(".", "").isdigit())
        name = f"{kind}/{job.table_name}.{job.file_format}"
        with self.lock:  # load jobs run in parallel threads
            self.seen[name] += 1
            event = f"{name}#{self.seen[name]}"
            if self.record_to is not None:
                with self.record_to.open("a") as record:
                    record.write(f"{event}\t{load_id}\n")
            if event == self.kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    def install(self) -> None:
        """Wrap the three places where dlt's load step changes a package's job files."""
        events = self
        rename, import_file, save_marker = (FileStorage.atomic_rename, FileStorage.atomic_import,
                                            PackageStorage.save_pending_transition)

        def atomic_rename(storage: FileStorage, from_path: str, to_path: str) -> None:
            rename(storage, from_path, to_path)
            folder = Path(to_path).parent.name
            if folder in JOB_FOLDERS and "normalized" in Path(storage.make_full_path(to_path)).parts:
                events.happened(folder, to_path)

        def atomic_import(storage: FileStorage, external: str, to_folder: str, new_name: str | None = None) -> str:
            path = import_file(storage, external, to_folder, new_name)
            if Path(to_folder).name in JOB_FOLDERS:
                events.happened(Path(to_folder).name, path)
            return path

        def save_pending_transition(packages: PackageStorage, load_id: str, file_name: str, *args: Any) -> None:
            events.happened("committed", f"{load_id}/{file_name}")
            save_marker(packages, load_id, file_name, *args)
            events.happened("marked", f"{load_id}/{file_name}")

        FileStorage.atomic_rename = atomic_rename  # type: ignore[method-assign]
        FileStorage.atomic_import = atomic_import  # type: ignore[method-assign]
        PackageStorage.save_pending_transition = save_pending_transition  # type: ignore[method-assign]


LOADS = multiprocessing.get_context("forkserver")
LOADS.set_forkserver_preload(["kognitos_elt.cli", "dlt.extract", "dlt.normalize", "dlt.load", "pyarrow.parquet",
                              "dlt.destinations.impl.duckdb.duck", "dlt.destinations.impl.postgres.postgres",
                              "dlt.__plugins__", "dlt._workspace._plugins", "httpx", "requests", "sqlalchemy"])
"""What a load imports, imported once by the server (from the installed packages: Python 3.11's forkserver imports
these before it takes the caller's sys.path, so not this module)."""


def run_in_fork(cwd: Path, env: dict[str, str], arguments: list[str], *, kill_at: str | None = None,
                record_to: Path | None = None, timeout: float = 120) -> int | None:
    """`kognitos-elt run ARGUMENTS` in `cwd` with exactly `env`, output discarded; its exit code (negative: the
    signal that ended it), or None when it outlived `timeout` seconds (then it is killed)."""
    process = LOADS.Process(target=_run, args=(cwd, env, arguments, kill_at, record_to))
    process.start()
    process.join(timeout)
    if process.exitcode is None:
        process.kill()
        process.join()
        return None
    return process.exitcode


def _run(cwd: Path, env: dict[str, str], arguments: list[str], kill_at: str | None, record_to: Path | None) -> None:
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    devnull = os.open(os.devnull, os.O_RDWR)
    for stream in (0, 1, 2):
        os.dup2(devnull, stream)
    if kill_at is not None or record_to is not None:
        LoadStepEvents(kill_at, record_to).install()
    sys.exit(kognitos_elt(["run", *arguments]))
