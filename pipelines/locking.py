"""One load of a pipeline at a time: an overlapping cron run exits at once instead of loading twice."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .kognitos import ExitCode, KognitosError


class PipelineLockedError(KognitosError):
    """Another process is loading the same pipeline (an overlapping cron run)."""

    exit_code = ExitCode.LOCKED


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
