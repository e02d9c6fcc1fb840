"""run_load runs dlt's steps itself (kognitos_elt.session._extract_then_load): state comes back from the destination
first, the extract's free memory is handed back before the load step, with the load's own settings in force."""

from __future__ import annotations

import ctypes
import gc
import shutil
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dlt
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
