"""SIGKILL at any point of a load, then a normal run: the warehouse equals the truth, nothing lost or doubled.

Kills during extract come from the simulator's request log. Kills during the load step come from dlt's own job
bookkeeping (tests/cli/kill_at.py): a first load is recorded event by event, then each event gets its own load,
killed there and made whole by the next run. The same again one level deeper: a load killed in the gap between a
job's commit and dlt's record of it, whose resume is killed at every event of its own. `make test` kills at a
representative share of the events (`kill_points`), `make test-all` at every one.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
import pytest

from kognitos_elt.cli import main
from kognitos_elt.kognitos import ExitCode
from kognitos_elt.kognitos.tables import TABLES as DECLARED
from kognitos_simulator import RunningSimulator

from ..integration.truth import truth_events, truth_runs
from .kill_at import run_in_fork

TABLES = tuple(table.spec for table in DECLARED)
DATABASE = "kognitos_elt.duckdb"
PARALLEL_LOADS = 3
"""Kill-point loads run side by side, each in its own folder: each is mostly a fresh interpreter's start."""
EVERY_EVENT_TIMEOUT_SECONDS = 900
"""About 70 kill-point loads and as many resumes (4 to 5 minutes on 2 cores): pytest's 300 s hang guard is too short."""
REPRESENTATIVE_JOBS = frozenset({"runs", "run_events", "_dlt_pipeline_state"})
"""`make test` kills at every event of these tables' jobs, and at the load step's first and last event, instead of at
all of them (`make test-all`): each table's jobs go through the same steps of dlt's load, and these are the parent,
its child and dlt's state, whose cursors decide what the next run extracts again."""


def kill_points(events: list[str], every: bool) -> list[str]:
    """The events a test kills at: all of them, or those of the representative jobs and the first and last."""
    if every:
        return events
    return [event for index, event in enumerate(events)
            if index in (0, len(events) - 1) or event.split("/")[1].split(".")[0] in REPRESENTATIVE_JOBS]


def start_load(tmp_path: Path) -> subprocess.Popen[bytes]:
    """`kognitos-elt run` in its own process, configured by the env the `configured` fixture set."""
    return subprocess.Popen([sys.executable, "-m", "kognitos_elt", "run"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and process.poll() is None:
        assert time.monotonic() < deadline, "the load never reached the point to kill it at"
        time.sleep(0.01)


class Folder:
    """One load's own working directory, dlt folder and warehouse (a DuckDB file, or a PostgreSQL dataset)."""

    def __init__(self, path: Path, postgres_dsn: str | None = None) -> None:
        self.path, self.postgres_dsn = path, postgres_dsn
        self.env = {**os.environ, "DLT_DATA_DIR": str(path / "dlt_data"),
                    "DESTINATION__DUCKDB__CREDENTIALS": str(path / DATABASE)}
        self.dataset, self.arguments = "kognitos", [] if postgres_dsn is None else ["--destination", "postgres"]
        if postgres_dsn is not None:
            self.dataset = f"kognitos_crash_{uuid.uuid4().hex[:8]}"
            self.env["DESTINATION__POSTGRES__CREDENTIALS"] = postgres_dsn
            self.arguments += ["--dataset-name", self.dataset]

    def run(self, *, kill_at: str | None = None, record_to: Path | None = None) -> int | None:
        """`kognitos-elt run` (killing itself at `kill_at`, or recording every event); its exit code."""
        self.path.mkdir(parents=True, exist_ok=True)
        return run_in_fork(self.path, self.env, self.arguments, kill_at=kill_at, record_to=record_to)

    def record(self) -> list[tuple[str, str]]:
        """Load to the end, recording the load step's events: (event, load id), in order."""
        record = self.path / "events.tsv"
        assert self.run(record_to=record) == ExitCode.OK
        return [tuple(line.split("\t")) for line in record.read_text().splitlines()]  # type: ignore[misc]

    def copy(self, to: Path) -> Folder:
        """The same dlt folder and DuckDB file, elsewhere; the copy loads into its own file (its env says which)."""
        assert self.postgres_dsn is None, "a PostgreSQL dataset is not copied with the folder"
        shutil.copytree(self.path, to)
        return Folder(to)

    def drop_dataset(self) -> None:
        """Remove a PostgreSQL dataset of this folder's own (and dlt's staging schema beside it)."""
        assert self.postgres_dsn is not None
        with psycopg2.connect(self.postgres_dsn) as connection, connection.cursor() as cursor:
            for schema in (self.dataset, f"{self.dataset}_staging"):
                cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        sql = sql.replace("FROM kognitos.", f"FROM {self.dataset}.")
        if self.postgres_dsn is None:
            with duckdb.connect(str(self.path / DATABASE), read_only=True) as connection:
                return connection.execute(sql).fetchall()
        with psycopg2.connect(self.postgres_dsn) as connection, connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()


def assert_warehouse_equals_truth(simulator: RunningSimulator, folder: Folder) -> None:
    runs = folder.query("SELECT workspace_id, automation_id, run_id, state, update_time FROM kognitos.runs")
    events = folder.query("SELECT workspace_id, automation_id, run_id, event_index FROM kognitos.run_events")
    assert {(ws, a, r): (state, updated) for ws, a, r, state, updated in runs} == truth_runs(simulator.world)
    assert len(runs) == len(truth_runs(simulator.world))
    assert sorted(events) == sorted(truth_events(simulator.world))


def warehouse(folder: Folder) -> dict[str, Counter[tuple[Any, ...]]]:
    """Every data table's rows, each with how many times it is there (JSON as text).

    dlt's own columns are left out, and so is `snapshot_time`: the instant the service answered, which moves
    between loads (the row of the day is the latest snapshot's).
    """
    def column(name: str, kind: str) -> str:
        return f"CAST({name} AS TEXT)" if kind == "json" else name

    return {table.name: Counter(folder.query(
        f"SELECT {', '.join(column(n, k) for n, k in table.types.items() if n != 'snapshot_time')} "
        f"FROM kognitos.{table.name}")) for table in TABLES}


def duplicated_keys(folder: Folder) -> dict[str, int]:
    """Rows beyond the first of each key, per table: ours, and dlt's state and load records."""
    keys = {**{table.name: table.key for table in TABLES}, "_dlt_pipeline_state": ("_dlt_id",),
            "_dlt_loads": ("load_id",)}
    counts = {name: folder.query(f"SELECT count(*) - count(DISTINCT ({', '.join(key)})) FROM kognitos.{name}")[0][0]
              for name, key in keys.items()}
    return {name: count for name, count in counts.items() if count}


def killed_then_resumed(folder: Folder, event: str, expected: dict[str, Counter[tuple[Any, ...]]]) -> str | None:
    """Kill a load at `event`, run again; what went wrong, or None."""
    if (code := folder.run(kill_at=event)) != -signal.SIGKILL:
        return f"{event}: the load never reached it (exit code {code})"
    if (code := folder.run()) != ExitCode.OK:
        return f"{event}: the next run failed with exit code {code}"
    if duplicates := duplicated_keys(folder):
        return f"{event}: rows loaded twice: {duplicates}"
    if (content := warehouse(folder)) != expected:
        differing = [name for name in expected if content[name] != expected[name]]
        return f"{event}: tables differ from an uninterrupted load: {differing}"
    return None


def each_side_by_side(check: Callable[[str], str | None], events: Iterable[str]) -> list[str]:
    with ThreadPoolExecutor(PARALLEL_LOADS) as pool:
        return [failure for failure in pool.map(check, events) if failure]


@pytest.mark.slow
@pytest.mark.parametrize("kill_point", ["after 5 requests", "after 60 requests"])
def test_an_extract_killed_with_sigkill_is_made_whole_by_the_next_run(
    configured: RunningSimulator, tmp_path: Path, kill_point: str
) -> None:
    simulator = configured
    simulator.faults.latency_seconds = 0.01
    process = start_load(tmp_path)
    wanted = int(kill_point.split()[1])
    wait_for(lambda: len(simulator.requests.entries) >= wanted, process)
    assert process.poll() is None, "the load finished before it could be killed"
    process.kill()
    process.wait()
    simulator.faults.latency_seconds = 0.0

    assert main(["run"]) == ExitCode.OK

    assert_warehouse_equals_truth(simulator, Folder(tmp_path))


@pytest.fixture
def uninterrupted(configured: RunningSimulator, tmp_path: Path) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """A load that nobody kills: its events, and its warehouse, which equals the simulator's truth."""
    reference = Folder(tmp_path / "uninterrupted")
    events = reference.record()
    assert_warehouse_equals_truth(configured, reference)
    assert not duplicated_keys(reference)
    return events, warehouse(reference)


EVERY_EVENT = [pytest.param(False, id="representative"),
               pytest.param(True, id="every", marks=[pytest.mark.exhaustive,
                                                     pytest.mark.timeout(EVERY_EVENT_TIMEOUT_SECONDS)])]


@pytest.mark.slow
@pytest.mark.parametrize("every", EVERY_EVENT)
def test_a_load_killed_at_any_event_of_its_load_step_is_made_whole_by_the_next_run(
    uninterrupted: tuple[list[tuple[str, str]], dict[str, Any]], tmp_path: Path, every: bool
) -> None:
    events, expected = uninterrupted
    # Every job's start, commit, marker and completion: a file per table and dlt's state, a merge statement per table.
    assert len(events) == (len(TABLES) + 1) * 4 + len(TABLES) * 5, events

    failures = each_side_by_side(
        lambda event: killed_then_resumed(Folder(tmp_path / event.replace("/", "_")), event, expected),
        kill_points([event for event, _ in events], every))

    assert not failures, "\n".join(failures)


@pytest.mark.slow
@pytest.mark.parametrize("every", EVERY_EVENT)
def test_a_resume_killed_at_any_event_is_made_whole_by_the_run_after_it(
    uninterrupted: tuple[list[tuple[str, str]], dict[str, Any]], tmp_path: Path, every: bool
) -> None:
    """Killed where the runs job committed unrecorded (other jobs in flight), then the resume killed at each event
    of the package it finishes. One first kill point: each costs about 60 loads."""
    _, expected = uninterrupted
    first_kill = "committed/runs.parquet#1"
    interrupted = Folder(tmp_path / "interrupted")
    assert interrupted.run(kill_at=first_kill) == -signal.SIGKILL
    # The package the kill left (a temporary file a killed write left may lie beside it).
    (package,) = [path.name for path in (interrupted.path / "dlt_data").glob("pipelines/*/load/normalized/*")
                  if path.is_dir()]
    recorded = interrupted.copy(tmp_path / "recorded").record()
    resume_events = [event for event, load_id in recorded if load_id == package]
    assert resume_events, f"the resume recorded nothing of package {package}: {recorded}"

    failures = each_side_by_side(
        lambda event: killed_then_resumed(interrupted.copy(tmp_path / event.replace("/", "_")), event, expected),
        kill_points(resume_events, every))

    assert not failures, "\n".join(failures)
    # The resume staged the uncertain table again: its file went back to new_jobs, and was killed there too.
    assert f"new_jobs/{first_kill.split('/')[1]}" in resume_events, resume_events


def test_sigterm_stops_with_a_message_and_a_non_zero_exit_and_the_next_run_resumes(
    configured: RunningSimulator, tmp_path: Path
) -> None:
    simulator = configured
    simulator.faults.latency_seconds = 0.01
    process = start_load(tmp_path)
    wait_for(lambda: len(simulator.requests.entries) >= 20, process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == ExitCode.INTERRUPTED
    assert b"Interrupted" in stderr and b"Traceback" not in stderr
    simulator.faults.latency_seconds = 0.0
    assert main(["run"]) == ExitCode.OK
    assert_warehouse_equals_truth(simulator, Folder(tmp_path))


@pytest.mark.slow
def test_a_postgres_load_killed_where_a_job_committed_unrecorded_is_made_whole_by_the_next_run(
    configured: RunningSimulator, postgres_dsn: str, tmp_path: Path
) -> None:
    """PostgreSQL stages through its own SQL: each copy job's commit gap, the one point where rows could double."""
    folders = [Folder(tmp_path / "uninterrupted", postgres_dsn)]
    try:
        reference = folders[0]
        commit_gaps = [event for event, _ in reference.record()
                       if event.startswith("committed/") and not event.endswith(".sql#1")]
        assert_warehouse_equals_truth(configured, reference)
        expected = warehouse(reference)
        assert len(commit_gaps) == len(TABLES) + 1, commit_gaps  # each table's copy job and dlt's state
        folders += [Folder(tmp_path / event.replace("/", "_"), postgres_dsn) for event in commit_gaps]
        by_event = dict(zip(commit_gaps, folders[1:], strict=True))

        failures = each_side_by_side(lambda event: killed_then_resumed(by_event[event], event, expected), commit_gaps)

        assert not failures, "\n".join(failures)
    finally:
        for folder in folders:
            folder.drop_dataset()
