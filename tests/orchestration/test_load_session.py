"""The CLI and the Dagster asset load through one session (kognitos_elt.session.load_session): the same steps in the
same order, each observed where it happens. Removing a step from the session, or a runner going its own way, fails.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dlt
import pytest
from dagster import DagsterInstance, materialize
from dagster_dlt import DagsterDltResource

from kognitos_elt import dagster_definitions as dd
from kognitos_elt import session
from kognitos_elt.cli import main
from kognitos_elt.kognitos import ExitCode, KognitosClient
from kognitos_elt.memory import LOAD_GC_GENERATION0_THRESHOLD
from kognitos_simulator import RunningSimulator

Steps = list[tuple[str, Any]]


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> Steps:
    """Every step of the session, recorded in order as it happens, with what it must find at that moment."""
    seen: Steps = []

    def entered(name: str, manager: Callable[..., Any]) -> Callable[..., Any]:
        @contextmanager
        def recorded(*args: Any, **kwargs: Any) -> Iterator[Any]:
            seen.append((name, None))
            with manager(*args, **kwargs) as value:
                yield value
        return recorded

    def called(name: str, function: Callable[..., Any], observe: Callable[[], Any] = lambda: None
               ) -> Callable[..., Any]:
        def recorded(*args: Any, **kwargs: Any) -> Any:
            seen.append((name, observe()))
            return function(*args, **kwargs)
        return recorded

    def at_release() -> dict[str, Any]:
        pipeline = dlt.current.pipeline()
        return {"extracted": len(pipeline.list_extracted_load_packages()), "gc_young": gc.get_threshold()[0],
                "load_workers": dlt.config.get("load.workers", int),
                "next_item_mode": dlt.config.get("extract.next_item_mode")}

    for name in ("pipeline_lock", "_actionable_errors", "unless_configured", "rarer_garbage_collection"):
        monkeypatch.setattr(session, name, entered(name, getattr(session, name)))
    for name in ("wait_for_duckdb_file", "finish_interrupted_loads", "refresh_after_load"):
        monkeypatch.setattr(session, name, called(name, getattr(session, name)))
    monkeypatch.setattr(session, "release_free_memory", called("release_free_memory", session.release_free_memory,
                                                                at_release))
    monkeypatch.setattr(KognitosClient, "close", called("client closed", KognitosClient.close))
    return seen


SESSION = [
    ("pipeline_lock", None), ("_actionable_errors", None), ("unless_configured", None),
    ("rarer_garbage_collection", None), ("wait_for_duckdb_file", None), ("finish_interrupted_loads", None),
    ("release_free_memory", {"extracted": 1, "gc_young": max(gc.get_threshold()[0], LOAD_GC_GENERATION0_THRESHOLD),
                             "load_workers": 1, "next_item_mode": "fifo"}),
]


def test_the_command_loads_through_the_session(configured: RunningSimulator, steps: Steps,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANALYTICS__BUILD_AFTER_LOAD", "true")

    assert main(["run", "--progress", "none"]) == ExitCode.OK

    # The file is waited for again before the models: another process may have opened it since the load began.
    assert steps == [*SESSION, ("wait_for_duckdb_file", None), ("refresh_after_load", None), ("client closed", None)]


def test_the_dagster_asset_loads_through_the_same_session_and_leaves_the_models_to_dbt(
    configured: RunningSimulator, steps: Steps, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "warehouse.duckdb"))
    workspace_id = dd.discover_workspace_ids()[0]
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(dd.PARTITIONS_NAME, [workspace_id])
    steps.clear()

    result = materialize([dd.kognitos_assets], partition_key=workspace_id, instance=instance,
                         resources={"dlt_resource": DagsterDltResource()})

    assert result.success
    assert steps == [*SESSION, ("client closed", None)]
