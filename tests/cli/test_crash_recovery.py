"""SIGKILL at any point of a load, then a normal run: the warehouse equals the truth, nothing lost or doubled."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from kognitos_simulator import RunningSimulator
from pipelines.kognitos_pipeline import EXIT_INTERRUPTED, EXIT_OK, main

from ..integration.truth import truth_events, truth_runs


def start_load(tmp_path: Path) -> subprocess.Popen[bytes]:
    """`kognitos-elt run` in its own process, configured by the env the `configured` fixture set."""
    return subprocess.Popen([sys.executable, "-m", "pipelines.kognitos_pipeline", "run"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and process.poll() is None:
        assert time.monotonic() < deadline, "the load never reached the point to kill it at"
        time.sleep(0.01)


def extract_finished(simulator: RunningSimulator) -> Callable[[], bool]:
    """True once requests stop for a while: the load is normalising or loading."""
    last = {"count": -1, "since": time.monotonic()}

    def check() -> bool:
        count = len(simulator.requests.entries)
        if count != last["count"]:
            last.update(count=count, since=time.monotonic())
        return count > 0 and time.monotonic() - last["since"] > 0.3

    return check


def assert_warehouse_equals_truth(simulator: RunningSimulator, database: Path) -> None:
    with duckdb.connect(str(database), read_only=True) as connection:
        runs = connection.execute("SELECT workspace_id, automation_id, run_id, state, update_time "
                                  "FROM kognitos.runs").fetchall()
        events = connection.execute("SELECT workspace_id, automation_id, run_id, event_index "
                                    "FROM kognitos.run_events").fetchall()
    assert {(ws, a, r): (state, updated) for ws, a, r, state, updated in runs} == truth_runs(simulator.world)
    assert len(runs) == len(truth_runs(simulator.world))
    assert sorted(events) == sorted(truth_events(simulator.world))


@pytest.mark.slow
@pytest.mark.parametrize("kill_point", ["after 5 requests", "after 60 requests", "after extract"])
def test_a_load_killed_with_sigkill_is_made_whole_by_the_next_run(
    configured: RunningSimulator, tmp_path: Path, kill_point: str
) -> None:
    simulator = configured
    simulator.faults.latency_seconds = 0.01
    process = start_load(tmp_path)
    if kill_point == "after extract":
        wait_for(extract_finished(simulator), process)
    else:
        wanted = int(kill_point.split()[1])
        wait_for(lambda: len(simulator.requests.entries) >= wanted, process)
    assert process.poll() is None, "the load finished before it could be killed"
    process.kill()
    process.wait()
    simulator.faults.latency_seconds = 0.0

    assert main(["run"]) == EXIT_OK

    assert_warehouse_equals_truth(simulator, tmp_path / "kognitos_elt.duckdb")


def test_sigterm_stops_with_a_message_and_a_non_zero_exit_and_the_next_run_resumes(
    configured: RunningSimulator, tmp_path: Path
) -> None:
    simulator = configured
    simulator.faults.latency_seconds = 0.01
    process = start_load(tmp_path)
    wait_for(lambda: len(simulator.requests.entries) >= 20, process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == EXIT_INTERRUPTED
    assert b"Interrupted" in stderr and b"Traceback" not in stderr
    simulator.faults.latency_seconds = 0.0
    assert main(["run"]) == EXIT_OK
    assert_warehouse_equals_truth(simulator, tmp_path / "kognitos_elt.duckdb")
