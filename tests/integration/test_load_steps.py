"""run_load runs dlt's steps itself (kognitos_elt.session._extract_then_load): state comes back from the destination
first, the extract's free memory is handed back before the load step, with the load's own settings in force."""

from __future__ import annotations

import ctypes
import gc
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dlt
import duckdb
import pyarrow as pa
import pytest

from kognitos_elt import memory
from kognitos_elt.memory import LOAD_GC_GENERATION0_THRESHOLD
from kognitos_simulator import RunningSimulator

from .conftest import Loader, Query
from .truth import loaded_runs, truth_runs


def test_a_wiped_working_folder_gets_its_state_back_from_the_destination_before_extracting(
    simulator: RunningSimulator, load: Loader, query: Query, tmp_path: Path
) -> None:
    load()
    before = truth_runs(simulator.world)
    shutil.rmtree(tmp_path / "dlt_data")  # a fresh container: only the destination remembers
    simulator.world.advance(timedelta(hours=2))
    after = truth_runs(simulator.world)
    assert after.keys() > before.keys(), "two simulated hours should add runs"

    summary = load()

    assert summary.stats["runs_new"] == len(after) - len(before), "only the runs of the last two hours are new"
    assert summary.stats["runs_updated"] == sum(before[key] != after[key] for key in before)
    assert loaded_runs(query) == after


def test_free_memory_is_handed_back_between_extract_and_load_with_the_load_settings_in_force(
    load: Loader, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What release_free_memory must do, where its effect (the process's RSS) cannot be measured reliably: ask Arrow's
    pool and glibc to release what they keep, once, after the extract and before the load step."""
    seen: list[tuple[str, Any, dict[str, Any]]] = []

    def moment() -> dict[str, Any]:
        pipeline = dlt.current.pipeline()
        return {"extracted": len(pipeline.list_extracted_load_packages()),
                "normalized": len(pipeline.list_normalized_load_packages()),
                "gc_young": gc.get_threshold()[0], "load_workers": dlt.config.get("load.workers", int),
                "next_item_mode": dlt.config.get("extract.next_item_mode")}

    class ObservedPool:
        def release_unused(self) -> None:
            seen.append(("arrow pool release_unused", None, moment()))
            pa.default_memory_pool().release_unused()

    class ObservedLibc:
        def __init__(self, name: str) -> None:
            self.library = ctypes.CDLL(name)
            self.name = name

        def malloc_trim(self, pad: int) -> int:
            seen.append((f"{self.name} malloc_trim", pad, moment()))
            return int(self.library.malloc_trim(pad))

    # memory.py's own references only: dlt's use of pyarrow and ctypes stays untouched.
    monkeypatch.setattr(memory, "pa", SimpleNamespace(default_memory_pool=ObservedPool))
    monkeypatch.setattr(memory, "ctypes", SimpleNamespace(CDLL=ObservedLibc))
    young_before = gc.get_threshold()[0]

    summary = load()

    at_release = {"extracted": 1, "normalized": 0, "gc_young": max(young_before, LOAD_GC_GENERATION0_THRESHOLD),
                  "load_workers": 1, "next_item_mode": "fifo"}
    assert seen == [("arrow pool release_unused", None, at_release), ("libc.so.6 malloc_trim", 0, at_release)]
    assert summary.rows.get("runs"), "the package extracted before the release was loaded after it"
    assert gc.get_threshold()[0] == young_before and dlt.config.get("load.workers") is None


def test_the_load_step_opens_the_duckdb_file_once_and_lets_it_go_when_it_ends(
    simulator: RunningSimulator, load: Loader, query: Query, database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dlt would open and close the file for every job of the load step (each close a checkpoint): the session lends
    it one connection instead, opened before the step and closed after it, so another process can open the file."""
    opened: list[str] = []
    in_load_step = False
    connect, dlt_load = duckdb.connect, dlt.Pipeline.load

    def counted_connect(database: Any = ":memory:", *args: Any, **kwargs: Any) -> duckdb.DuckDBPyConnection:
        opened.append("load step" if in_load_step else "before or after it")
        return connect(database, *args, **kwargs)

    def observed_load(pipeline: dlt.Pipeline, *args: Any, **kwargs: Any) -> Any:
        nonlocal in_load_step
        in_load_step = True
        try:
            return dlt_load(pipeline, *args, **kwargs)
        finally:
            in_load_step = False

    monkeypatch.setattr(duckdb, "connect", counted_connect)
    monkeypatch.setattr(dlt.Pipeline, "load", observed_load)

    summary = load()

    assert summary.rows["runs"] > 0 and "load step" not in opened and opened
    monkeypatch.undo()
    assert loaded_runs(query) == truth_runs(simulator.world)
    other_process = subprocess.run([sys.executable, "-c", f"import duckdb; duckdb.connect({str(database)!r}).close()"],
                                   capture_output=True, text=True, check=False)
    assert other_process.returncode == 0, other_process.stderr
