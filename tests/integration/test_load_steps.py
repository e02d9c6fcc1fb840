"""run_load runs dlt's steps itself (kognitos_elt.session._extract_then_load): state comes back from the destination
first, the extract's free memory is handed back before the load step, with the load's own settings in force."""

from __future__ import annotations

import gc
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import dlt
import pytest

from kognitos_elt import session
from kognitos_elt.memory import LOAD_GC_GENERATION0_THRESHOLD
from kognitos_simulator import RunningSimulator

from .conftest import Loader, Query
from .truth import loaded_runs, truth_runs


def test_a_wiped_working_folder_gets_its_state_back_from_the_destination_before_extracting(
    simulator: RunningSimulator, load: Loader, query: Query, tmp_path: Path
) -> None:
    first = load()
    shutil.rmtree(tmp_path / "dlt_data")  # a fresh container: only the destination remembers
    simulator.world.advance(timedelta(hours=2))

    summary = load()

    assert 0 < summary.stats["runs_new"] < first.stats["runs_new"], "the second load started over from scratch"
    assert loaded_runs(query) == truth_runs(simulator.world)


def test_free_memory_is_handed_back_between_extract_and_load_with_the_load_settings_in_force(
    load: Loader, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []
    release = session.release_free_memory

    def observed_release() -> None:
        pipeline = dlt.current.pipeline()
        seen.append({"extracted": len(pipeline.list_extracted_load_packages()),
                     "gc_young": gc.get_threshold()[0], "load_workers": dlt.config.get("load.workers", int),
                     "next_item_mode": dlt.config.get("extract.next_item_mode")})
        release()

    monkeypatch.setattr(session, "release_free_memory", observed_release)
    young_before = gc.get_threshold()[0]

    summary = load()

    assert seen == [{"extracted": 1, "gc_young": max(young_before, LOAD_GC_GENERATION0_THRESHOLD),
                     "load_workers": 1, "next_item_mode": "fifo"}]
    assert summary.rows.get("runs"), "the package extracted before the release was loaded after it"
    assert gc.get_threshold()[0] == young_before and dlt.config.get("load.workers") is None
